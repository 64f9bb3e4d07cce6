/**
 * What every `pipeline` command shares: config, a Temporal client, starting pipeline workflows with meaningful
 * ids plus memo/search attributes, the optional in-process worker (`--with-worker`) and the check that some
 * worker polls the task queue (otherwise a started workflow would wait forever).
 */
import { randomBytes } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { loadConfig, type Config } from '../../config';
import { hasPipelineSearchAttributes } from '../../resources/search-attributes';
import { pipelineMemo, pipelineSearchAttributes } from '../../contract/definitions';
import type { WorkflowKind } from '../../contract/types';
import { connectClient, connectWorkerConnection, type TemporalClient } from '../../temporal/connection';
import { CliError } from './cli-error';
import * as workflows from '../../workflows';

/** The workflow of each kind: started through it, a run's result has the workflow's return type. */
const pipelineWorkflows = workflows satisfies Record<WorkflowKind, Workflow>;
export type PipelineWorkflows = typeof pipelineWorkflows;

export { CliError };

export interface SessionOptions {
  withWorker?: boolean;
  config?: Config;
}

export interface Session {
  config: Config;
  client: Client;
  start<K extends WorkflowKind>(
    kind: K,
    target: string,
    args: unknown,
    workflowId: string,
  ): Promise<WorkflowHandle<PipelineWorkflows[K]>>;
  close(): Promise<void>;
}

/** `20240501T140000Z` */
export function compactTime(date = new Date()): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** `<kind>-<target>-<time>-<4 hex>`: readable in the Web UI, unique per start. */
export function workflowIdFor(kind: WorkflowKind, target: string, date = new Date()): string {
  return `${kind}-${target}-${compactTime(date)}-${randomBytes(2).toString('hex')}`;
}

async function pollerCount(client: Client, config: Config): Promise<number> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: {
      name: config.temporal.taskQueue,
      kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL,
    },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return response.pollers?.length ?? 0;
}

export async function openSession(options: SessionOptions = {}): Promise<Session> {
  const config = options.config ?? loadConfig();
  let temporalClient: TemporalClient;
  try {
    temporalClient = await connectClient(config, { connectTimeout: '5 seconds' });
  } catch (error) {
    throw new CliError(
      `cannot reach Temporal at ${config.temporal.address}: ${(error as Error).message} (local stack: npm run stack -- up)`,
      3,
    );
  }
  const { client, connection } = temporalClient;
  const cleanups: (() => Promise<void>)[] = [temporalClient.close];
  if (options.withWorker) {
    // Loaded only here: the worker (native core, webpack) costs seconds that other commands should not pay.
    const { DefaultLogger, Runtime } = await import('@temporalio/worker');
    const { createControlPlaneWorker } = await import('../../workers/control-plane-worker');
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // installed already
    }
    const native = await connectWorkerConnection(config);
    const { worker, close } = await createControlPlaneWorker({ config, connection: native, client });
    const running = worker.run();
    cleanups.unshift(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await close();
      await native.close();
    });
  }
  const searchAttributes = await hasPipelineSearchAttributes(connection, config.temporal.namespace);
  let workerChecked = Boolean(options.withWorker);

  return {
    config,
    client,
    async start(kind, target, args, workflowId) {
      if (!workerChecked) {
        workerChecked = true;
        if ((await pollerCount(client, config)) === 0) {
          throw new CliError(
            `no worker polls task queue "${config.temporal.taskQueue}": start one with \`npx tsx src/workers/control-plane-worker.ts\` (or \`npm start\`), or pass --with-worker`,
            3,
          );
        }
      }
      const workflow: Workflow = pipelineWorkflows[kind];
      const handle = await client.workflow.start(workflow, {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        args: [args],
        memo: pipelineMemo(kind, target),
        ...(searchAttributes ? { typedSearchAttributes: pipelineSearchAttributes(kind, target) } : {}),
      });
      // A run of pipelineWorkflows[kind]: the compiler cannot narrow the lookup by the generic kind.
      return handle as WorkflowHandle<PipelineWorkflows[typeof kind]>;
    },
    async close() {
      for (const cleanup of cleanups) await cleanup();
    },
  };
}
