/**
 * A query's memory is capped (`--query-memory-mb`): an endpoint process given 64 MB per query counts 8 million
 * distinct values by spilling to its data dir, its peak RSS far below what the same count takes uncapped (about
 * 580 MB), and a query whose state cannot spill (one list of 30 million values) fails as Athena fails it, "Query
 * exhausted resources at this scale factor" (ErrorCategory 1, ErrorType 1, not retryable), leaving the endpoint
 * answering and no spill file behind.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { readProcMemoryMb } from '../../src/support/process-liveness';
import { type LakeHarness, type LakeProcess, startHarness, waitForQuery } from './lake-support';

const QUERY_MEMORY_MB = 64;
/** The process's peak RSS after the spilling count: about 300 MB measured with the cap, 720 without it. */
const PEAK_RSS_BOUND_MB = 400;

let h: LakeHarness;

beforeAll(async () => {
  h = await startHarness({ lakeProcess: { args: ['--query-memory-mb', String(QUERY_MEMORY_MB)] } });
});

afterAll(async () => {
  await h?.close();
});

/** The highest RSS the process ever had (the kernel's VmHWM), in MB. */
const peakRssMb = () => {
  const pid = (h.lake as LakeProcess).child.pid ?? 0;
  return readProcMemoryMb(pid, 'VmHWM')!;
};

const run = async (sql: string) => {
  const { QueryExecutionId: id = '' } = await h.aws.athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      ResultConfiguration: { OutputLocation: `s3://${h.bucket}/athena-results/` },
    }),
  );
  return { id, query: await waitForQuery(h.aws.athena, id, 300_000) };
};

const spillFiles = () => {
  try {
    return readdirSync(join(h.dataDir, 'lake', 'spill'), { recursive: true });
  } catch {
    return [];
  }
};

test('a query past its memory spills to disk and answers, within a bounded RSS', async () => {
  const { id, query } = await run(
    'SELECT count(DISTINCT x) AS n FROM (SELECT i AS x FROM range(8000000) t(i))',
  );
  expect({ state: query.Status?.State, reason: query.Status?.StateChangeReason }).toEqual({
    state: 'SUCCEEDED',
    reason: undefined,
  });
  const page = await h.aws.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
  expect(page.ResultSet?.Rows?.map((r) => r.Data?.map((d) => d.VarCharValue))).toEqual([['n'], ['8000000']]);
  expect(peakRssMb()).toBeLessThan(PEAK_RSS_BOUND_MB);
  expect(spillFiles()).toEqual([]);
}, 600_000);

test('a query whose state cannot spill fails as "Query exhausted resources at this scale factor"', async () => {
  const { query } = await run('SELECT cardinality(array_agg(i)) FROM range(30000000) t(i)');
  expect(query.Status?.State).toBe('FAILED');
  expect(query.Status?.StateChangeReason).toBe(
    `Query exhausted resources at this scale factor (the local endpoint gives a query ${QUERY_MEMORY_MB} MB: --query-memory-mb)`,
  );
  expect(query.Status?.AthenaError).toMatchObject({ ErrorCategory: 1, ErrorType: 1, Retryable: false });
  expect(spillFiles()).toEqual([]);

  // The endpoint goes on answering.
  const { query: next } = await run('SELECT 1');
  expect(next.Status?.State).toBe('SUCCEEDED');
  expect((h.lake as LakeProcess).child.exitCode).toBeNull();
}, 600_000);
