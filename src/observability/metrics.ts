/**
 * Prometheus metrics: one registry per process, served on /metrics beside /healthz and /readyz (see ./health for
 * their exact semantics).
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Readiness } from './health';

export function createMetricsRegistry(component: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface ServeMetricsOptions {
  /** METRICS_HOST: 127.0.0.1 locally, 0.0.0.0 in a container. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Checks behind /readyz; without them the process is ready as soon as it serves. */
  readiness?: Readiness;
  /** More Prometheus text appended to the registry's (the Temporal SDK's metrics in the worker). */
  extraMetrics?: () => Promise<string>;
}

export interface MetricsServer {
  server: Server;
  port: number;
  /** The /metrics URL as a local client reaches it (a wildcard host is reached on 127.0.0.1). */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves /metrics, /healthz and /readyz on host:port. Resolves with the bound port.
 *
 * @example
 *   const metrics = await serveMetrics(registry, { host: '127.0.0.1', port: 0, readiness });
 *   await fetch(`http://127.0.0.1:${metrics.port}/readyz`);
 */
export async function serveMetrics(registry: Registry, options: ServeMetricsOptions): Promise<MetricsServer> {
  const metricsText = async () => {
    const own = await registry.metrics();
    return options.extraMetrics ? `${own}\n${await options.extraMetrics()}` : own;
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz' || path === '/readyz') {
      const { ready, reasons } =
        path === '/readyz' && options.readiness ? options.readiness.state() : { ready: true, reasons: {} };
      const body =
        path === '/healthz'
          ? { status: 'alive' }
          : ready
            ? { status: 'ready' }
            : { status: 'not ready', reasons };
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metricsText()
      .then((body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body))
      .catch((error: Error) => res.writeHead(500).end(error.message));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const reachableHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    server,
    port,
    url: `http://${reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
