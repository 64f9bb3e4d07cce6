/**
 * The bounded run's compaction: once every stage has drained, the run's lake no longer changes, so each of its
 * hours counts as closed (`asOf` the end of its last hour, no grace). Compacts them through the compact workflow,
 * then checks that Athena still counts every S3 record and that fewer objects back the table.
 */
import type { Client } from '@temporalio/client';
import { CDC_TABLE_FOLDER, type Config } from '../../config';
import type { CompactResult } from '../../contract/types';
import { hourEndMs } from '../../lake-format/compaction-layout';
import * as workflows from '../../workflows';

export interface CompactionCheck {
  stage: string;
  expected: number | string;
  actual: number | string;
  ok: boolean;
}

export async function compactRunHours(
  deps: { config: Config; client: Client; say: (line: string) => void },
  lake: { records: number; hourPaths: Iterable<string> },
): Promise<CompactionCheck[]> {
  const { config, client, say } = deps;
  const paths = [...new Set(lake.hourPaths)].sort();
  if (paths.length === 0) return [];
  const asOf = new Date(Math.max(...paths.map(hourEndMs))).toISOString();
  say(`Compacting the run's ${paths.length} hour(s) (compact workflow, as of ${asOf})...`);
  const result: CompactResult = await client.workflow.execute(workflows.compact, {
    taskQueue: config.temporal.taskQueue,
    workflowId: `compact-${config.glue.crawler}-${Date.now()}`,
    args: [{ asOf, graceMinutes: 0, readerGraceSeconds: 0 }],
  });
  say(
    `  ${result.hours.length} hour(s): ${result.objectsBefore} → ${result.objectsAfter} objects, ${result.rows} rows`,
  );
  const athena = await client.workflow.execute(workflows.query, {
    taskQueue: config.temporal.taskQueue,
    workflowId: `query-${config.glue.crawler}-${Date.now()}`,
    args: [{ sql: `SELECT count(*) FROM ${CDC_TABLE_FOLDER}`, database: config.glue.database }],
  });
  const count = Number(athena.rows[0]?.[0]);
  return [
    {
      stage: 'Athena count(*) after compaction = S3 records',
      expected: lake.records,
      actual: count,
      ok: count === lake.records,
    },
    {
      stage: 'objects after compaction < objects before',
      expected: `< ${result.objectsBefore}`,
      actual: result.objectsAfter,
      ok: result.hours.length > 0 && result.objectsAfter < result.objectsBefore,
    },
  ];
}
