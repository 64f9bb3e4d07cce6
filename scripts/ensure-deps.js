#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs the npm dependencies when they are missing or stale,
// so the two quick-start commands work on a fresh clone. Plain JavaScript: it runs before tsx exists.
'use strict';
const { execSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { join } = require('node:path');

const root = join(__dirname, '..');
const lock = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.orders-pipeline-lock-hash');

const hash = existsSync(lock) ? createHash('sha256').update(readFileSync(lock)).digest('hex') : 'no-lock';
const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
if (installed === hash && existsSync(join(root, 'node_modules', '.bin', 'tsx'))) process.exit(0);

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`Node.js >= 20.19 is required (found ${process.versions.node}).`);
  process.exit(1);
}
console.log('Installing npm dependencies (first run or package-lock.json changed)...');
execSync(existsSync(lock) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund', {
  cwd: root,
  stdio: 'inherit',
});
require('node:fs').writeFileSync(stamp, hash + '\n');
