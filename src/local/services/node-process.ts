/**
 * A service that is one of the project's own TypeScript entry points, run with tsx (`node --import tsx`,
 * one process, so the pid file names the real server): the lake endpoint, and the pipeline's worker and
 * streaming processes (src/local/pipeline-processes.ts) that `npm start` supervises.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PipelineProcess } from '../pipeline-processes';
import { PROJECT_ROOT, typeScriptEntry } from '../paths';
import type { Endpoint } from '../ports';
import { httpOk } from '../probes';
import { canConnect } from '../os-processes';
import type { ServiceContext, StackService } from '../service';

export interface NodeProcessOptions {
  /** The port it serves (checked for conflicts, probed for readiness). */
  endpoint?: Endpoint;
  /** With `endpoint`: ready when GET <path> answers 200; without a path, when the port accepts connections. */
  healthPath?: string;
  /** Custom readiness probe; the default is the endpoint probe, or "still running" without an endpoint. */
  isReady?: () => Promise<boolean>;
  /** Printed address lines. */
  addresses?: string[];
  readyTimeoutMs?: number;
  stopGraceMs?: number;
  /** Extra environment on top of the stack's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * @example
 *   createNodeProcessService(ctx, { name: 'dynamo-sink', entry: 'src/streaming/dynamo-sink/main.ts' });
 */
export function createNodeProcessService(
  ctx: ServiceContext,
  proc: PipelineProcess,
  options: NodeProcessOptions = {},
): StackService {
  const entry = resolve(PROJECT_ROOT, proc.entry);
  const { endpoint, healthPath } = options;
  const probe =
    options.isReady ??
    (endpoint
      ? healthPath
        ? () => httpOk(endpoint.host, endpoint.port, healthPath)
        : () => canConnect(endpoint.host, endpoint.port)
      : async () => true);
  return {
    name: proc.name,
    components: [],
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    stopGraceMs: options.stopGraceMs ?? 30_000,
    logFile: join(ctx.paths.logDir, `${proc.name}.log`),
    pidFile: join(ctx.paths.pidDir, `${proc.name}.pid`),
    availability: () => {
      if (!existsSync(entry)) return { available: false, reason: `${proc.entry} does not exist yet` };
      if (endpoint && !endpoint.local)
        return { available: false, reason: `${endpoint.host}:${endpoint.port} is not local` };
      return { available: true };
    },
    ports: () => (endpoint ? [{ port: endpoint.port, label: `${proc.name} HTTP` }] : []),
    addresses: () =>
      options.addresses ?? (endpoint ? [`${proc.name} http://${endpoint.host}:${endpoint.port}`] : []),
    launch: () => ({
      // One process (not the tsx CLI): the pid file names the real server and signals reach it directly.
      ...typeScriptEntry(entry, proc.args),
      cwd: PROJECT_ROOT,
      env: { ...proc.env, ...options.env },
    }),
    isReady: probe,
  };
}
