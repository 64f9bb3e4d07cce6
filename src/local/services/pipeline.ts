/**
 * The pipeline's own long-running processes (worker, streaming consumers) as supervised services, so that
 * `npm start` runs them and `npm run stack -- down|status` sees and stops them like the rest of the stack.
 */
import { join } from 'node:path';
import { STREAMING_PROCESSES, WORKER_PROCESS, type PipelineProcess } from '../pipeline-processes';
import { isRecordAlive, readPidFile } from '../os-processes';
import type { ServiceContext, StackService } from '../service';
import { createNodeProcessService } from './node-process';

export const PIPELINE_PROCESSES: PipelineProcess[] = [WORKER_PROCESS, ...STREAMING_PROCESSES];

/**
 * @param metricsPorts Prometheus port per process (startPipelineProcesses picks free ones); a process with a port is ready
 *   when its /metrics answers, one without is ready while the process this stack started is alive.
 */
export function createPipelineServices(
  ctx: ServiceContext,
  processes: PipelineProcess[] = PIPELINE_PROCESSES,
  metricsPorts: Map<string, number> = new Map(),
): StackService[] {
  return processes.map((proc) => {
    const port = metricsPorts.get(proc.name);
    const pidFile = join(ctx.paths.pidDir, `${proc.name}.pid`);
    return createNodeProcessService(ctx, proc, {
      ...(port !== undefined
        ? { endpoint: { host: '127.0.0.1', port, local: true }, healthPath: '/metrics' }
        : {
            // No port to probe: ready while the process we started is alive (so never mistaken for "external").
            isReady: async () => {
              const record = readPidFile(pidFile);
              return record !== undefined && isRecordAlive(record);
            },
          }),
      env: { METRICS_PORT: port !== undefined ? String(port) : '-1' },
    });
  });
}
