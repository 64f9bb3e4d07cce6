/**
 * compact: merges the small objects of every closed hour of the CDC table (older than `graceMinutes`, more than
 * one object) into objects of `targetBytes`, sorted by order id and change time, and switches Athena to them
 * atomically. Each hour is a child workflow `compactHour` whose id names the hour: Temporal runs one workflow per
 * id at a time, so a scheduled and a manual compaction of the same hour never run at once (the second reports
 * the hour `locked`).
 *
 * An hour: merge into a new versioned folder (activity; the manifest written last) → UpdatePartition to it →
 * copy in the objects the sink wrote meanwhile → durable timer (`readerGraceSeconds`, queries that started before
 * the switch keep their objects) → delete what was replaced. A kill -9 of the worker at any point resumes at the
 * step it was in; every step can run twice (compaction-activities.ts).
 *
 * Start: `temporal workflow start --task-queue orders-control-plane --type compact --input '{}'`
 */
import { proxyActivities, setHandler, sleep, startChild } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { CompactionActivities } from '../activities/compaction-activities';
import { compactArgsSchema, compactHourArgsSchema, DEFAULT_COMPACT_TARGET_BYTES } from '../contract/args';
import { compactProgressQuery } from '../contract/definitions';
import { FailureType } from '../contract/failure-types';
import type { CompactProgress, CompactResult, HourCompaction } from '../contract/types';
import { tagRun, workerDefaults } from './defaults';
import { parseWorkflowArgs } from './validation';

const nonRetryableErrorTypes = [
  FailureType.CompactionConflict,
  FailureType.AccessDenied,
  FailureType.InvalidRequest,
  FailureType.AwsClientError,
  FailureType.BucketNotFound,
];

const lake = proxyActivities<CompactionActivities>({
  // Listings and single catalog calls: seconds.
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes,
  },
});

const merge = proxyActivities<CompactionActivities>({
  // Reads and writes an hour of data (up to a few GiB on a busy table); heartbeats per object.
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes,
  },
});

const DEFAULT_GRACE_MINUTES = 15;
const DEFAULT_READER_GRACE_SECONDS = 300;

export async function compact(input?: unknown): Promise<CompactResult> {
  const args = parseWorkflowArgs('compact', compactArgsSchema, input);
  const defaults = await workerDefaults();
  tagRun('compact', `${defaults.database}.${defaults.cdcTable}`, defaults);
  const asOfMs = args.asOf ? Date.parse(args.asOf) : Date.now();
  const graceMinutes = args.graceMinutes ?? DEFAULT_GRACE_MINUTES;
  const targetBytes = args.targetBytes ?? DEFAULT_COMPACT_TARGET_BYTES;
  const readerGraceSeconds = args.readerGraceSeconds ?? DEFAULT_READER_GRACE_SECONDS;
  const progress: CompactProgress = { asOf: new Date(asOfMs).toISOString(), hours: [], done: [] };
  setHandler(compactProgressQuery, () => progress);

  const candidates = await lake.listCompactionCandidates({ asOfMs, graceMinutes, hours: args.hours });
  progress.hours = candidates.map((c) => c.partitionPath);
  for (const candidate of candidates) {
    progress.current = candidate.partitionPath;
    let outcome: HourCompaction;
    try {
      const child = await startChild(compactHour, {
        workflowId: candidate.lockId,
        args: [{ partitionPath: candidate.partitionPath, targetBytes, readerGraceSeconds }],
      });
      outcome = await child.result();
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      outcome = {
        hour: candidate.partitionPath,
        outcome: 'locked',
        objectsBefore: 0,
        objectsAfter: 0,
        rows: 0,
        bytesBefore: 0,
        bytesAfter: 0,
        lateObjects: 0,
        deletedObjects: 0,
      };
    }
    progress.done.push(outcome);
  }
  progress.current = undefined;
  const sum = (field: 'objectsBefore' | 'objectsAfter' | 'rows' | 'bytesBefore' | 'bytesAfter') =>
    progress.done.reduce((n, h) => n + h[field], 0);
  return {
    asOf: progress.asOf,
    graceMinutes,
    targetBytes,
    hours: progress.done,
    objectsBefore: sum('objectsBefore'),
    objectsAfter: sum('objectsAfter'),
    rows: sum('rows'),
    bytesBefore: sum('bytesBefore'),
    bytesAfter: sum('bytesAfter'),
  };
}

/** One hour, under the lock its workflow id is. Started by `compact`. */
export async function compactHour(input?: unknown): Promise<HourCompaction> {
  const args = parseWorkflowArgs('compactHour', compactHourArgsSchema, input);
  const { partitionPath } = args;
  const merged = await merge.mergeHour({ partitionPath, targetBytes: args.targetBytes });
  let lateObjects = 0;
  if (merged.merged) {
    await lake.switchHour({ partitionPath, from: merged.from, to: merged.to });
    lateObjects = await lake.copyLateObjects({ partitionPath, to: merged.to });
  }
  let deletedObjects = 0;
  if (merged.merged || merged.leftovers > 0) {
    // Queries that listed the replaced objects before the switch still read them meanwhile.
    await sleep(args.readerGraceSeconds * 1000);
    deletedObjects = await lake.deleteReplaced({ partitionPath, keep: merged.to });
  }
  return {
    hour: partitionPath,
    outcome: merged.merged ? 'compacted' : 'unchanged',
    location: merged.to,
    objectsBefore: merged.objectsBefore,
    objectsAfter: merged.objectsAfter,
    rows: merged.rows,
    bytesBefore: merged.bytesBefore,
    bytesAfter: merged.bytesAfter,
    lateObjects,
    deletedObjects,
  };
}
