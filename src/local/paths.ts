/**
 * Where the local stack keeps things. Installed tools live in `config.stackDir` (shareable between stacks,
 * e.g. a second stack on other ports for tests); everything a running stack writes lives in `config.dataDir`:
 * pid files in `<dataDir>/stack/`, logs in `<dataDir>/logs/`, service data in `<dataDir>/<service>/`.
 * Relative directories are resolved against the project root, so the result does not depend on the cwd.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../config';

/** The repository root (this file is `src/local/paths.ts`). */
export const PROJECT_ROOT = resolve(__dirname, '..', '..');

export interface StackPaths {
  /** Installed tools: `venv/` (temporal, temporal-test-server, moto_server), `kafka/` (pom + jars), `bin/` (fallbacks). */
  stackDir: string;
  venvDir: string;
  binDir: string;
  kafkaHome: string;
  dataDir: string;
  pidDir: string;
  logDir: string;
}

const fromRoot = (dir: string) => (isAbsolute(dir) ? dir : resolve(PROJECT_ROOT, dir));

export function stackPaths(config: Pick<Config, 'stackDir' | 'dataDir'>): StackPaths {
  const stackDir = fromRoot(config.stackDir);
  const dataDir = fromRoot(config.dataDir);
  return {
    stackDir,
    venvDir: join(stackDir, 'venv'),
    binDir: join(stackDir, 'bin'),
    kafkaHome: join(stackDir, 'kafka'),
    dataDir,
    pidDir: join(dataDir, 'stack'),
    logDir: join(dataDir, 'logs'),
  };
}

/**
 * How to run one of the project's TypeScript entry points as a single node process: `node --import tsx <entry>`.
 * Not the tsx CLI: it runs the script in a second process and relays a signal to it only if the script
 * acknowledges it within 30 ms, else SIGKILLs it; on a loaded machine a SIGTERM then kills instead of draining.
 */
export function typeScriptEntry(
  entry: string,
  args: readonly string[] = [],
): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', 'tsx', fromRoot(entry), ...args] };
}
