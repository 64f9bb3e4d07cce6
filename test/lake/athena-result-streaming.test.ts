/**
 * Query results larger than the endpoint's heap: an endpoint process started with a 96 MB heap streams a
 * ~122 MB result to its output location in S3 (a multipart CSV, as Athena writes it) and GetQueryResults pages
 * through it from there, every row in order, while the process's memory stays within a fixed bound.
 */
import { GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import pidusage from 'pidusage';
import { type LakeHarness, type LakeProcess, startHarness, waitForQuery } from './lake-support';

const HEAP_MB = 96;
const ROWS = 120_000;
const PAD = 'x'.repeat(1000);
const RSS_BOUND_BYTES = 512 * 1024 * 1024;

let h: LakeHarness;

beforeAll(async () => {
  h = await startHarness({ lakeProcess: { nodeArgs: [`--max-old-space-size=${HEAP_MB}`] } });
});

afterAll(async () => {
  await h?.close();
});

test('a result larger than the heap is written to S3 and paged from there with bounded memory', async () => {
  const pid = (h.lake as LakeProcess).child.pid ?? 0;
  let peakRss = 0;
  const sampler = setInterval(() => {
    pidusage(pid)
      .then((usage) => {
        peakRss = Math.max(peakRss, usage.memory);
      })
      .catch(() => undefined);
  }, 200);
  try {
    const { QueryExecutionId: id = '' } = await h.aws.athena.send(
      new StartQueryExecutionCommand({
        QueryString: `SELECT i AS n, '${PAD}' || CAST(i AS VARCHAR) AS label FROM range(${ROWS}) t(i)`,
        ResultConfiguration: { OutputLocation: `s3://${h.bucket}/athena-results/` },
      }),
    );
    const q = await waitForQuery(h.aws.athena, id, 300_000);
    expect({ state: q.Status?.State, reason: q.Status?.StateChangeReason }).toEqual({
      state: 'SUCCEEDED',
      reason: undefined,
    });
    const head = await h.aws.s3.send(
      new HeadObjectCommand({ Bucket: h.bucket, Key: `athena-results/${id}.csv` }),
    );
    const csvBytes = head.ContentLength ?? 0;
    expect(csvBytes).toBeGreaterThan(HEAP_MB * 1024 * 1024);

    let token: string | undefined;
    let pages = 0;
    let next = 0;
    let firstPage: (string | undefined)[][] = [];
    let lastPage: (string | undefined)[][] = [];
    do {
      const page = await h.aws.athena.send(
        new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: 1000 }),
      );
      const rows = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue));
      if (pages === 0) {
        firstPage = rows;
        expect(page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => [c.Name, c.Type])).toEqual([
          ['n', 'bigint'],
          ['label', 'varchar'],
        ]);
      }
      // Every data row, in order (the header row heads the first page).
      for (const row of pages === 0 ? rows.slice(1) : rows) {
        if (row[0] !== String(next) || row[1] !== `${PAD}${next}`)
          throw new Error(`row ${next} of the result reads ${JSON.stringify(row)}`);
        next++;
      }
      lastPage = rows;
      token = page.NextToken;
      pages++;
    } while (token);

    expect(firstPage[0]).toEqual(['n', 'label']);
    expect(firstPage).toHaveLength(1000);
    expect(firstPage[1]).toEqual(['0', `${PAD}0`]);
    expect(next).toBe(ROWS);
    expect(pages).toBe(Math.ceil((ROWS + 1) / 1000));
    expect(lastPage).toEqual([[String(ROWS - 1), `${PAD}${ROWS - 1}`]]);
    // Holding the result would have needed its whole size on the heap (several times over, as JS rows);
    // the process's memory stays within a fixed bound instead (about 330 MB measured, DuckDB included).
    expect(peakRss).toBeGreaterThan(0);
    expect(peakRss).toBeLessThan(RSS_BOUND_BYTES);
    expect((h.lake as LakeProcess).child.exitCode).toBeNull();
  } finally {
    clearInterval(sampler);
  }
}, 900_000);
