#!/usr/bin/env node
// Container health probe without curl or wget in the image: `node scripts/http-probe.js <url>` exits 0 when the URL
// answers 2xx within 3 s, 1 otherwise. The default URL is the process's liveness endpoint on METRICS_PORT.
'use strict';

const url = process.argv[2] ?? `http://127.0.0.1:${process.env.METRICS_PORT}/healthz`;
fetch(url, { signal: AbortSignal.timeout(3000) }).then(
  (response) => process.exit(response.ok ? 0 : 1),
  (error) => {
    console.error(`${url}: ${error.message}`);
    process.exit(1);
  },
);
