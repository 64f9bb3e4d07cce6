/**
 * The endpoint's S3 object cache is no side door: a query reads only the objects of the tables it names, never
 * the cache by path (so neither other databases' nor other buckets' data, nor objects since deleted from S3),
 * and DuckDB's file and settings functions fail as Athena fails unknown functions. The cache also keeps to its
 * size cap, evicting least recently used files, while a query that needs more than the cap still runs.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateCrawlerCommand, CreateDatabaseCommand } from '@aws-sdk/client-glue';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import {
  crawl,
  emptyBucket,
  type LakeHarness,
  orderRows,
  parquetOf,
  put,
  runQuery,
  select,
  startHarness,
  suffix,
} from './lake-support';

const HOURS = ['00', '01', '02', '03', '04', '05', '06', '07'];
const ROWS_PER_OBJECT = 3000;
const objectBytes = parquetOf(orderRows(ROWS_PER_OBJECT, 'size')).length;
/** Room for two and a half objects: reading all eight must evict. */
const CACHE_CAP = Math.floor(objectBytes * 2.5);

let h: LakeHarness;
const dbOpen = `cache_open_${suffix()}`;
const dbSecret = `cache_secret_${suffix()}`;
const otherBucket = `lake-test-other-${suffix()}`;

const cacheDir = () => join(h.dataDir, 'lake', 'cache');
const cacheFiles = (): { path: string; size: number }[] =>
  (readdirSync(cacheDir(), { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { path, size: statSync(path).size };
    });
const cacheBytes = () => cacheFiles().reduce((n, f) => n + f.size, 0);

async function crawlInto(database: string, path: string) {
  const name = `cache-${suffix()}`;
  await h.aws.glue.send(
    new CreateCrawlerCommand({
      Name: name,
      Role: 'role',
      DatabaseName: database,
      Targets: { S3Targets: [{ Path: path }] },
    }),
  );
  const crawled = await crawl(h.aws.glue, name);
  if (crawled.LastCrawl?.Status !== 'SUCCEEDED')
    throw new Error(`crawl failed: ${crawled.LastCrawl?.ErrorMessage}`);
}

async function failure(sql: string, database = dbOpen): Promise<string | undefined> {
  const q = await runQuery(h, sql, database);
  expect({ sql, state: q.Status?.State }).toEqual({ sql, state: 'FAILED' });
  return q.Status?.StateChangeReason;
}

beforeAll(async () => {
  h = await startHarness({ objectCacheBytes: CACHE_CAP });
  await h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: dbOpen } }));
  await h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: dbSecret } }));
  await h.aws.s3.send(new CreateBucketCommand({ Bucket: otherBucket }));
  for (const hour of HOURS)
    await put(
      h.aws.s3,
      h.bucket,
      `open/events/hour=${hour}/part-0.parquet`,
      parquetOf(orderRows(ROWS_PER_OBJECT, `h${hour}`)),
    );
  await put(h.aws.s3, otherBucket, 'secret/payroll/part-0.parquet', parquetOf(orderRows(7, 'secret')));
  await crawlInto(dbOpen, `s3://${h.bucket}/open/`);
  await crawlInto(dbSecret, `s3://${otherBucket}/secret/`);
});

afterAll(async () => {
  await emptyBucket(h.aws.s3, otherBucket).catch(() => undefined);
  await h.aws.s3.send(new DeleteBucketCommand({ Bucket: otherBucket })).catch(() => undefined);
  await h?.close();
});

describe('the object cache', () => {
  test("a query cannot find or read the cache, another database's or bucket's objects, or deleted ones", async () => {
    expect(await select(h, 'SELECT count(*) FROM payroll', dbSecret)).toEqual([['7']]);
    const [secretFile] = cacheFiles();
    expect(secretFile).toBeDefined();

    expect(await failure("SELECT current_setting('allowed_directories')")).toBe(
      "FUNCTION_NOT_FOUND: line 1:8: Function 'current_setting' not registered",
    );
    expect(await failure(`SELECT count(*) FROM read_parquet('${cacheDir()}/**/*.parquet')`)).toBe(
      "FUNCTION_NOT_FOUND: line 1:22: Function 'read_parquet' not registered",
    );
    expect(await failure(`SELECT count(*) FROM "read_parquet"('${secretFile.path}')`)).toBe(
      "FUNCTION_NOT_FOUND: line 1:22: Function 'read_parquet' not registered",
    );
    // DuckDB's replacement scan (a file path as a table) meets the lock-down itself, even beside a real table.
    for (const sql of [
      `SELECT count(*) FROM '${cacheDir()}/**/*.parquet'`,
      `SELECT count(*) FROM '${secretFile.path}'`,
      `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM '${secretFile.path}')`,
    ])
      expect(await failure(sql)).toMatch(
        /^PERMISSION_DENIED: the local Athena endpoint reads only the tables a query names through the Glue catalog, not files by path \(Permission Error: /,
      );

    // Deleted from S3: gone from the table, and its cached copy stays unreadable.
    await h.aws.s3.send(
      new DeleteObjectCommand({ Bucket: otherBucket, Key: 'secret/payroll/part-0.parquet' }),
    );
    expect(await select(h, 'SELECT count(*) FROM payroll', dbSecret)).toEqual([['0']]);
    expect(await failure(`SELECT count(*) FROM '${secretFile.path}'`, dbSecret)).toMatch(
      /^PERMISSION_DENIED: /,
    );
  });

  test('stays under its size cap after reading more than the cap, least recently used files first', async () => {
    for (const hour of HOURS)
      expect(await select(h, `SELECT count(*) FROM events WHERE hour = '${hour}'`, dbOpen)).toEqual([
        [String(ROWS_PER_OBJECT)],
      ]);
    expect(objectBytes * HOURS.length).toBeGreaterThan(CACHE_CAP);
    expect(cacheBytes()).toBeLessThanOrEqual(CACHE_CAP);
    // The two most recent hours are still cached; the first is not.
    const names = cacheFiles().map((f) => f.path);
    expect(names).toHaveLength(2);

    // One query over every object needs more than the cap: it runs, and the cache shrinks back after it.
    expect(await select(h, 'SELECT count(*) FROM events', dbOpen)).toEqual([
      [String(ROWS_PER_OBJECT * HOURS.length)],
    ]);
    expect(cacheBytes()).toBeLessThanOrEqual(CACHE_CAP);
  });
});
