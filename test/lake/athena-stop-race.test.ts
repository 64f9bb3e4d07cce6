/**
 * StopQueryExecution takes effect whenever it arrives (issue 16 j): on an endpoint process, queries that would
 * run for hours are stopped at varied moments — while queued, right as they turn RUNNING, during planning
 * (listing, cache, views) and while DuckDB executes — and every one ends CANCELLED without a result.
 */
import {
  GetQueryExecutionCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { CreateDatabaseCommand } from '@aws-sdk/client-glue';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { mapWithConcurrency } from '../../src/support/concurrency';
import { sleep, waitFor } from '../../src/support/timing';
import {
  crawlPrefix,
  type LakeHarness,
  orderRows,
  parquetOf,
  put,
  select,
  startHarness,
  suffix,
  waitForQuery,
} from './lake-support';

/** Many small files make planning (footers read, views created) long: the window the lost stop fell into. */
const FILES = 40;
const ROWS_PER_FILE = 3;
/** 120 rows × 10^11: hours of work, so only a stop can end it. */
const ENDLESS =
  'SELECT sum(hash(r.range + length(t.order_id))) FROM events t CROSS JOIN range(100000000000) r';
/** After RUNNING is seen: at once, then later into planning and execution. */
const DELAYS_MS = [0, 0, 2, 5, 10, 20, 35, 50, 80, 120, 200, 400];

let h: LakeHarness;
const db = `stop_race_${suffix()}`;

beforeAll(async () => {
  h = await startHarness({ lakeProcess: { args: ['--query-concurrency', '2'] } });
  await h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } }));
  for (let i = 0; i < FILES; i++)
    await put(
      h.aws.s3,
      h.bucket,
      `stop/events/part-${i}.parquet`,
      parquetOf(orderRows(ROWS_PER_FILE, `f${i}`)),
    );
  await crawlPrefix(h, db, 'stop');
});

afterAll(async () => {
  await h?.close();
});

async function start(): Promise<string> {
  const { QueryExecutionId = '' } = await h.aws.athena.send(
    new StartQueryExecutionCommand({
      QueryString: ENDLESS,
      QueryExecutionContext: { Database: db },
      ResultConfiguration: { OutputLocation: `s3://${h.bucket}/stop-results/` },
    }),
  );
  return QueryExecutionId;
}

const stateOf = async (id: string) =>
  (await h.aws.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution?.Status
    ?.State;

test('a stop sent at any moment of a query ends it CANCELLED, never SUCCEEDED', async () => {
  const cases = [...DELAYS_MS, ...DELAYS_MS, ...DELAYS_MS];
  const ended = await mapWithConcurrency(cases, 3, async (delayMs, i) => {
    const id = await start();
    // Every third one is stopped while possibly still queued; the others once RUNNING is seen.
    if (i % 3 !== 0)
      await waitFor(`query ${id} to run`, async () => (await stateOf(id)) !== 'QUEUED', { intervalMs: 2 });
    if (delayMs > 0) await sleep(delayMs);
    await h.aws.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
    const q = await waitForQuery(h.aws.athena, id, 60_000);
    const result = await h.aws.s3
      .send(new HeadObjectCommand({ Bucket: h.bucket, Key: `stop-results/${id}.csv` }))
      .then(
        () => 'written',
        () => 'none',
      );
    return { delayMs, state: q.Status?.State, reason: q.Status?.StateChangeReason, result };
  });
  expect(ended).toEqual(
    cases.map((delayMs) => ({
      delayMs,
      state: 'CANCELLED',
      reason: 'Query was cancelled by user (StopQueryExecution)',
      result: 'none',
    })),
  );
  // The slots were freed: a normal query still runs.
  expect(await select(h, 'SELECT count(*) FROM events', db)).toEqual([[String(FILES * ROWS_PER_FILE)]]);
}, 600_000);
