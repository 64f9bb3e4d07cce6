/**
 * The pipeline's own processes under the supervisor, as `npm start` runs them: each started as a stack service
 * (each with its metrics on a free port) and started again when it exits. A consumer exits
 * non-zero when kafkajs gives up for good; started again it resumes from its committed offsets, so nothing is lost.
 *
 * @example
 *   const streaming = await startPipelineProcesses(config, STREAMING_PROCESSES, { owner: 'main' });
 *   const stopRestarts = superviseProcesses([streaming], { onRestarted, onError });
 */
import type { Config } from '../config';
import { freePort } from '../support/net';
import type { PipelineProcess } from './pipeline-processes';
import { createPipelineServices } from './services/pipeline';
import { stackStatus, startStack, type StackHandle, type StackOptions } from './supervisor';

export interface PipelineProcessGroup {
  handle: StackHandle;
  /** Where each process serves its Prometheus metrics, /healthz and /readyz. */
  endpoints: { name: string; metricsUrl: string }[];
  /** Starts again, on the same metrics port, each process of the group that exited; returns their names. */
  restartExited(): Promise<string[]>;
}

export async function startPipelineProcesses(
  config: Config,
  processes: PipelineProcess[],
  options: Pick<StackOptions, 'owner' | 'report'>,
): Promise<PipelineProcessGroup> {
  const ports = new Map<string, number>();
  for (const proc of processes) ports.set(proc.name, await freePort());
  const names = processes.map((p) => p.name);
  const stackOptions: StackOptions = {
    ...options,
    extraServices: (ctx) => createPipelineServices(ctx, processes, ports),
  };
  const handle = await startStack(config, names, stackOptions);
  const endpoints = [...ports].map(([name, port]) => ({
    name,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
  }));
  const restartExited = async () => {
    const exited = (await stackStatus(config, names, stackOptions))
      .filter((s) => s.state === 'stopped')
      .map((s) => s.name);
    if (exited.length > 0) await startStack(config, exited, stackOptions);
    return exited;
  };
  return { handle, endpoints, restartExited };
}

export interface RestartPolicy {
  /** How often to look for processes that exited (default 5 s). */
  intervalMs?: number;
  onRestarted: (name: string) => void;
  /** A failed round is tried again at the next interval. */
  onError: (error: Error) => void;
}

/**
 * Keeps the groups' processes up: every interval, starts again each one that exited (one round at a time).
 * Returns the function that ends the supervision; call it before stopping the processes.
 */
export function superviseProcesses(groups: PipelineProcessGroup[], policy: RestartPolicy): () => void {
  let restarting = false;
  const timer = setInterval(() => {
    if (restarting) return;
    restarting = true;
    Promise.all(groups.map((group) => group.restartExited()))
      .then((exited) => {
        for (const name of exited.flat()) policy.onRestarted(name);
      })
      .catch(policy.onError)
      .finally(() => (restarting = false));
  }, policy.intervalMs ?? 5_000);
  // Supervision alone must not keep the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
