/**
 * The backfill progress bar: polls the workflow's `progress` query (every 500 ms) until the run ends.
 * The total is the table's ItemCount at the start (approximate on AWS), so the bar can end slightly off 100 %.
 */
import { SingleBar, Presets } from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import { backfillProgressQuery } from '../../contract/definitions';
import type { BackfillProgress, BackfillResult } from '../../contract/types';
import { sleep } from '../../support/timing';
import type { backfill } from '../../workflows';

export async function followBackfill(
  handle: WorkflowHandle<typeof backfill>,
  options: { bar: boolean },
): Promise<BackfillResult> {
  const result = handle.result();
  if (!options.bar) return result;
  const bar = new SingleBar(
    {
      format:
        'backfill {bar} {percentage}% | {value}/{total} rows | {parts} parts | segments done {segmentsDone}/{segments} | run {runs}',
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  let started = false;
  let finished = false;
  const update = (p: BackfillProgress) => {
    const total = Math.max(p.estimatedItems, p.rows, 1);
    const payload = {
      parts: p.parts,
      segments: p.segments.length,
      segmentsDone: p.segments.filter((s) => s.done).length,
      runs: p.runs + 1,
    };
    if (!started) {
      bar.start(total, p.rows, payload);
      started = true;
    } else {
      bar.setTotal(total);
      bar.update(p.rows, payload);
    }
  };
  const poll = async () => {
    while (!finished) {
      try {
        update(await handle.query(backfillProgressQuery));
      } catch {
        // Between continue-as-new runs, or before the first workflow task: try again shortly.
      }
      await sleep(500);
    }
  };
  const polling = poll();
  try {
    const value = await result;
    finished = true;
    await polling;
    if (started) {
      bar.setTotal(value.rows);
      bar.update(value.rows, {
        parts: value.parts,
        segmentsDone: value.segments.length,
        segments: value.segments.length,
        runs: value.runs + 1,
      });
    }
    return value;
  } finally {
    finished = true;
    await polling;
    if (started) bar.stop();
  }
}
