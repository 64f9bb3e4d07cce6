/**
 * The compact workflow on the real stack (Temporal, moto S3, the local Glue + Athena endpoint): row count and
 * content kept, hours locked by workflow id, late data visible at once and folded in later, the crawler leaves
 * compacted partitions alone, kill -9 of the worker at several points, and bad input.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { AwsClients } from '../../src/aws/clients';
import type { Config } from '../../src/config';
import { compactProgressQuery } from '../../src/contract/definitions';
import { cdcTableRoot, objectKey } from '../../src/lake-format/cdc-layout';
import { keyPrefixOf, sinkHourFolder } from '../../src/lake-format/compaction-layout';
import { withOverrides } from '../../src/config';
import { createLakeFormat, formatForExtension, type LakeFormatName } from '../../src/lake-format/formats';
import { encodeJsonLines } from '../../src/lake-format/formats/jsonl';
import { encodeParquet } from '../../src/lake-format/formats/parquet';
import { CDC_LAKE_COLUMNS, ORDER_V2_COLUMNS } from '../../src/lake-format/lake-schema';
import { createLakeReader, type LakeRecord, readLakeRecords } from '../../src/lake-format/lake-reader';
import { toLakeRow } from '../../src/lake-format/lake-row';
import { createS3Storage } from '../../src/lake-format/storage';
import { createLogger } from '../../src/observability/logger';
import { cdcPartitionFolder, registerCdcPartitions } from '../../src/resources/cdc-catalog';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { ensureLakeCrawler } from '../../src/resources/glue';
import { createPartitionRegistrar } from '../../src/streaming/s3-sink/partition-registrar';
import * as workflows from '../../src/workflows';
import {
  cleanupAws,
  controlConfig,
  listKeys,
  spawnWorker,
  startHarness,
  startLake,
  waitFor,
  type ControlPlaneHarness,
  type LakeEndpoint,
  type WorkerProcess,
} from '../control/support';
import { uniqueSuffix } from '../support/fresh-config';
import { makeCdcEvents } from '../streaming/s3-sink-support';
import {
  athenaCount,
  athenaRows,
  cdcPartitions,
  dropCatalog,
  provisionCatalog,
  tableNames,
} from './lake-catalog-support';

const HOUR_PATH = 'dt=2024-05-01/hour=09';
const OBJECTS = 12;
const ROWS_PER_OBJECT = 50;
const ROWS = OBJECTS * ROWS_PER_OBJECT;
/**
 * How far the worker's RSS may rise while it merges 400,000 changes: measured 189 MB with a 96 MB DuckDB
 * buffer pool, 304 MB with the 256 MB one (DuckDB uses what it may before it spills). Read into JavaScript rows, they rose it by over 400 MB (the heap limit the test
 * sets stops such a worker first).
 */
const MERGE_RSS_GROWTH_MB = 400;

/** A /proc/<pid>/status figure of the worker, in kB (VmRSS now, VmHWM its peak). */
const vmKb = (worker: WorkerProcess, field: 'VmRSS' | 'VmHWM') =>
  Number(
    new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${worker.child.pid}/status`, 'utf8'))?.[1],
  );

let lake: LakeEndpoint;
let harness: ControlPlaneHarness;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  lake = await startLake();
});

afterAll(async () => {
  await lake.close();
});

afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.kill9();
  if (!harness) return;
  await dropCatalog(harness.aws, harness.config);
  await cleanupAws(harness.aws, harness.config);
  await harness.close();
});

/** Writes `objects` sink objects of 50 changes each into the hour, as the sink would, and registers the hour. */
async function writeSinkObjects(
  aws: AwsClients,
  config: Config,
  objects: number,
  firstOffset = 0,
): Promise<void> {
  const storage = createS3Storage({
    s3: aws.s3,
    bucket: config.lake.bucket,
    logger: createLogger('test', config),
  });
  const format = createLakeFormat(config);
  const events = makeCdcEvents(objects * ROWS_PER_OBJECT, {
    start: new Date(Date.UTC(2024, 4, 1, 9, 0, 0) + firstOffset * 1000),
    spacingMs: 1000,
    orders: 40,
    sequenceBase: 100000000000000000000n + BigInt(firstOffset),
  });
  for (let i = 0; i < objects; i++) {
    const rows = events.slice(i * ROWS_PER_OBJECT, (i + 1) * ROWS_PER_OBJECT).map(toLakeRow);
    const key = objectKey(cdcTableRoot(config), {
      partitionPath: HOUR_PATH,
      topic: config.topics.cdc,
      kafkaPartition: i % 3,
      startOffset: firstOffset + i * ROWS_PER_OBJECT,
      extension: format.extension,
    });
    await storage.put(key, format.encode(rows), format.contentType);
  }
  await registerCdcPartitions(aws.glue, config, [
    { partitionPath: HOUR_PATH, location: `s3://${config.lake.bucket}/${sinkHourFolder(config, HOUR_PATH)}` },
  ]);
  format.close();
}

/** Every row of the table as Athena returns it, as one sorted list of lines: the content checksum. */
async function tableContent(aws: AwsClients, config: Config): Promise<string[]> {
  const rows = await athenaRows(
    aws,
    config,
    'SELECT order_id, status, version, amount, op, change_time, sequence_number FROM orders_cdc',
  );
  return rows.map((r) => r.join('|')).sort();
}

/** Every column of every row, as Athena returns them: v2 columns NULL where an object predates them. */
async function fullContent(aws: AwsClients, config: Config): Promise<string[]> {
  const rows = await athenaRows(
    aws,
    config,
    `SELECT ${CDC_LAKE_COLUMNS.map((c) => c.name).join(', ')} FROM orders_cdc`,
  );
  return rows.map((r) => r.join('|')).sort();
}

/** A sink object written before order schema v2: its rows have no v2 columns at all. */
async function writePreV2Object(aws: AwsClients, config: Config, startOffset: number): Promise<void> {
  const storage = createS3Storage({
    s3: aws.s3,
    bucket: config.lake.bucket,
    logger: createLogger('t', config),
  });
  const events = makeCdcEvents(ROWS_PER_OBJECT, {
    start: new Date(Date.UTC(2024, 4, 1, 9, 30, 0)),
    orders: 10,
    sequenceBase: 200000000000000000000n,
  });
  const rows = events.map(toLakeRow);
  const v1 = CDC_LAKE_COLUMNS.filter((c) => !ORDER_V2_COLUMNS.includes(c));
  const v2 = new Set(ORDER_V2_COLUMNS.map((c) => c.name));
  const body =
    config.lake.format === 'parquet'
      ? encodeParquet(rows, { columns: v1 })
      : Buffer.from(
          encodeJsonLines(rows)
            .trimEnd()
            .split('\n')
            .map((line) =>
              JSON.stringify(
                Object.fromEntries(Object.entries(JSON.parse(line)).filter(([k]) => !v2.has(k))),
              ),
            )
            .join('\n') + '\n',
        );
  const format = createLakeFormat(config);
  const key = objectKey(cdcTableRoot(config), {
    partitionPath: HOUR_PATH,
    topic: config.topics.cdc,
    kafkaPartition: 0,
    startOffset,
    extension: format.extension,
  });
  await storage.put(key, body, format.contentType);
  format.close();
}

async function setup(
  label: string,
  inProcessWorker = true,
  format: LakeFormatName = 'parquet',
): Promise<Config> {
  const config = withOverrides(controlConfig(label, lake.url), { lake: { format } });
  harness = await startHarness(config);
  if (!inProcessWorker) await harness.stopWorker();
  await ensureBucket(harness.aws.s3, config);
  await provisionCatalog(harness.aws, config);
  return config;
}

const compact = (config: Config, args: Record<string, unknown>, id = `compact-${uniqueSuffix()}`) =>
  harness.client.workflow.start(workflows.compact, {
    taskQueue: config.temporal.taskQueue,
    workflowId: id,
    args: [args],
  });

/**
 * The lake as the soak's and the main job's checks read it: every change once, compacted hours included. Whole
 * (`read`), row by row (`scan`) and counted (`count`) alike.
 */
async function lakeReaderKeys(config: Config): Promise<string[]> {
  const reader = createLakeReader(harness.aws.s3, config, {
    currentFolder: (partitionPath) => cdcPartitionFolder(harness.aws.glue, config, partitionPath),
  });
  const changeOf = (r: LakeRecord) => `${String(r.order_id)}@${String(r.sequence_number)}`;
  const keys = (await reader.read()).map(changeOf).sort();
  // Objects a few at a time, and (scanAloneBytes 0) each object alone, as compacted hours are scanned and counted.
  for (const scanAloneBytes of [undefined, 0]) {
    const scanned: string[] = [];
    const scanner = createLakeReader(harness.aws.s3, config, {
      currentFolder: (partitionPath) => cdcPartitionFolder(harness.aws.glue, config, partitionPath),
      scanAloneBytes,
    });
    // Hour by hour: every row between two ends of hours is of the hour that ends (the soak counts duplicates so).
    const hours: string[] = [];
    let hoursOfRows = new Set<string>();
    const visit = (r: LakeRecord) => {
      scanned.push(changeOf(r));
      hoursOfRows.add(`dt=${String(r.dt)}/hour=${String(r.hour)}`);
    };
    const endOfHour = (hour: string) => {
      expect([...hoursOfRows]).toEqual([hour]);
      hours.push(hour);
      hoursOfRows = new Set();
    };
    expect(await scanner.scan(visit, endOfHour)).toBe(keys.length);
    expect(hours).toEqual([...new Set(hours)].sort());
    expect(hours.length).toBeGreaterThan(0);
    expect(scanned.sort()).toEqual(keys);
    expect(await scanner.count()).toBe(keys.length);
  }
  expect(await reader.count()).toBe(keys.length);
  return keys;
}

async function partitionFolder(config: Config): Promise<string | undefined> {
  const [partition] = await cdcPartitions(harness.aws, config);
  return keyPrefixOf(config.lake.bucket, partition?.location);
}

describe('compact workflow', () => {
  it('merges a closed hour into target-size objects, keeping the row count and content, and deletes the replaced objects', async () => {
    const config = await setup('compact-merge');
    await writeSinkObjects(harness.aws, config, OBJECTS);
    const before = await tableContent(harness.aws, config);
    expect(before).toHaveLength(ROWS);

    // About a third of the hour's bytes a part: several parts, far fewer than the sink's objects.
    const sinkBytes = (
      await createS3Storage({
        s3: harness.aws.s3,
        bucket: config.lake.bucket,
        logger: createLogger('t', config),
      }).list(sinkHourFolder(config, HOUR_PATH))
    ).reduce((n, o) => n + o.size, 0);
    const handle = await compact(config, { readerGraceSeconds: 0, targetBytes: Math.ceil(sinkBytes / 3) });
    const result = await handle.result();

    expect(result.hours).toHaveLength(1);
    expect(result.hours[0]).toMatchObject({
      hour: HOUR_PATH,
      outcome: 'compacted',
      objectsBefore: OBJECTS,
      rows: ROWS,
    });
    expect(result.objectsAfter).toBeGreaterThan(1);
    expect(result.objectsAfter).toBeLessThan(OBJECTS);
    expect(result).toMatchObject({ objectsBefore: OBJECTS, rows: ROWS, bytesBefore: sinkBytes });
    expect(await handle.query(compactProgressQuery)).toMatchObject({
      hours: [HOUR_PATH],
      done: [{ hour: HOUR_PATH }],
    });

    expect(await tableContent(harness.aws, config)).toEqual(before);
    expect(await athenaCount(harness.aws, config, `dt = '2024-05-01' AND hour = '09'`)).toBe(ROWS);
    // The sink's objects are gone; the partition reads the version.
    expect(await listKeys(harness.aws.s3, config.lake.bucket, sinkHourFolder(config, HOUR_PATH))).toEqual([]);
    expect(await partitionFolder(config)).toBe(result.hours[0].location);

    // Again: nothing new to fold.
    const again = await (await compact(config, { readerGraceSeconds: 0 })).result();
    expect(again.hours).toEqual([]);
  });

  it('leaves an open hour, an hour inside the grace period and a single-object hour as they are', async () => {
    const config = await setup('compact-skip');
    await writeSinkObjects(harness.aws, config, 3);
    // As of 09:59 the hour is open; as of 10:10 with 15 minutes of grace it is not closed yet.
    for (const asOf of ['2024-05-01T09:59:00Z', '2024-05-01T10:10:00Z']) {
      const result = await (await compact(config, { asOf, readerGraceSeconds: 0 })).result();
      expect(result.hours).toEqual([]);
    }
    const closed = await (
      await compact(config, { asOf: '2024-05-01T10:15:00Z', readerGraceSeconds: 0 })
    ).result();
    expect(closed.hours.map((h) => h.outcome)).toEqual(['compacted']);
    expect(closed.objectsAfter).toBe(1);
  });

  it('lets one compaction of an hour run at a time: a second one reports the hour locked', async () => {
    const config = await setup('compact-lock');
    await writeSinkObjects(harness.aws, config, 4);
    // The first holds the hour through its reader grace.
    const first = await compact(config, { readerGraceSeconds: 20 });
    await waitFor('the first compaction switched the hour', async () =>
      (await partitionFolder(config))?.includes('/v=') ? true : undefined,
    );
    const second = await (await compact(config, { readerGraceSeconds: 0 })).result();
    expect(second.hours).toEqual([expect.objectContaining({ hour: HOUR_PATH, outcome: 'locked' })]);
    const done = await first.result();
    expect(done.hours[0]).toMatchObject({ outcome: 'compacted', rows: 4 * ROWS_PER_OBJECT });
    expect(await athenaCount(harness.aws, config)).toBe(4 * ROWS_PER_OBJECT);
  });

  it('shows late objects of a compacted hour at once, and folds them in on the next compaction', async () => {
    const config = await setup('compact-late');
    await writeSinkObjects(harness.aws, config, 4);
    await (await compact(config, { readerGraceSeconds: 0 })).result();
    const content = await tableContent(harness.aws, config);
    const compactedKeys = await lakeReaderKeys(config);
    expect(compactedKeys).toHaveLength(4 * ROWS_PER_OBJECT);
    expect(new Set(compactedKeys).size).toBe(compactedKeys.length);
    // The sink's folder is empty now: a reader of it alone sees nothing.
    expect(await readLakeRecords(harness.aws.s3, config)).toHaveLength(0);

    // A late change arrives: the sink writes its object and the registrar runs, as after every PUT.
    await writeSinkObjects(harness.aws, config, 1, 10_000);
    // Before the registrar copies it into the version, the reader counts it once, from the sink's folder.
    const withPending = await lakeReaderKeys(config);
    expect(withPending).toHaveLength(5 * ROWS_PER_OBJECT);
    expect(withPending).toEqual(expect.arrayContaining(compactedKeys));
    const registrar = createPartitionRegistrar({
      glue: harness.aws.glue,
      s3: harness.aws.s3,
      config,
      logger: createLogger('t', config),
    });
    const [lateKey] = await listKeys(harness.aws.s3, config.lake.bucket, sinkHourFolder(config, HOUR_PATH));
    await registrar.objectWritten(lateKey);
    expect(await athenaCount(harness.aws, config)).toBe(5 * ROWS_PER_OBJECT);
    // Copied: the same changes, still once each.
    expect(await lakeReaderKeys(config)).toEqual(withPending);
    const withLate = await tableContent(harness.aws, config);
    expect(withLate).toEqual(expect.arrayContaining(content));

    const next = await (await compact(config, { readerGraceSeconds: 0 })).result();
    expect(next.hours[0]).toMatchObject({
      outcome: 'compacted',
      objectsBefore: 2,
      objectsAfter: 1,
      rows: 5 * ROWS_PER_OBJECT,
    });
    expect(await tableContent(harness.aws, config)).toEqual(withLate);
    expect(await lakeReaderKeys(config)).toEqual(withPending);
    expect(await listKeys(harness.aws.s3, config.lake.bucket, sinkHourFolder(config, HOUR_PATH))).toEqual([]);
  });

  it('is left alone by the crawler: no new table, no duplicate partition, the compacted location kept', async () => {
    const config = await setup('compact-crawl');
    await writeSinkObjects(harness.aws, config, 4);
    // The reader grace keeps the sink's objects in place during the crawl: the crawler sees both layouts.
    const handle = await compact(config, { readerGraceSeconds: 600 });
    await waitFor('the hour switched', async () =>
      (await partitionFolder(config))?.includes('/v=') ? true : undefined,
    );
    const partitions = await cdcPartitions(harness.aws, config);
    await ensureLakeCrawler(harness.aws.glue, config);
    await harness.client.workflow.execute(workflows.crawl, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `crawl-${uniqueSuffix()}`,
      args: [{ pollIntervalSeconds: 1 }],
    });
    expect(await tableNames(harness.aws, config)).toEqual(['orders_cdc']);
    expect(await cdcPartitions(harness.aws, config)).toEqual(partitions);
    expect(await athenaCount(harness.aws, config)).toBe(4 * ROWS_PER_OBJECT);
    await handle.terminate();
  });

  it.each<LakeFormatName>(['parquet', 'jsonl'])(
    'merges %s objects of two schema versions (the older read with NULL v2 columns), each part sorted by order and change',
    async (formatName) => {
      const config = await setup(`compact-${formatName}`, true, formatName);
      await writeSinkObjects(harness.aws, config, 3);
      await writePreV2Object(harness.aws, config, 5_000);
      const before = await fullContent(harness.aws, config);
      expect(before).toHaveLength(4 * ROWS_PER_OBJECT);

      const result = await (await compact(config, { readerGraceSeconds: 0, targetBytes: 4_000 })).result();
      expect(result.hours[0]).toMatchObject({
        outcome: 'compacted',
        objectsBefore: 4,
        rows: 4 * ROWS_PER_OBJECT,
      });
      expect(result.objectsAfter).toBeGreaterThan(1);
      expect(await fullContent(harness.aws, config)).toEqual(before);

      const storage = createS3Storage({
        s3: harness.aws.s3,
        bucket: config.lake.bucket,
        logger: createLogger('t', config),
      });
      const parts = await storage.list(result.hours[0].location!);
      const dataParts = parts.filter((o) => /part-\d+\./.test(o.key));
      expect(dataParts.map((o) => o.key.split('.').slice(1).join('.'))).toEqual(
        dataParts.map(() => createLakeFormat(config).extension),
      );
      const sortKey = (row: Record<string, unknown>) =>
        `${String(row.order_id)}|${(row.change_time as Date).toISOString()}|${String(row.sequence_number).padStart(30, '0')}`;
      let previous = '';
      for (const part of dataParts) {
        const rows = await formatForExtension(createLakeFormat(config).extension)!.decode(
          await storage.get(part.key),
        );
        // Sorted within the part, and parts in order: the whole hour is one sorted run.
        for (const row of rows) {
          const key = sortKey(row);
          expect(key >= previous).toBe(true);
          previous = key;
        }
      }
    },
  );

  it('merges an hour far larger than the worker heap could hold as rows, in bounded memory', async () => {
    const config = await setup('compact-large', false);
    const storage = createS3Storage({
      s3: harness.aws.s3,
      bucket: config.lake.bucket,
      logger: createLogger('t', config),
    });
    const objects = 40;
    const rowsPerObject = 10_000;
    for (let i = 0; i < objects; i++) {
      const events = makeCdcEvents(rowsPerObject, {
        start: new Date(Date.UTC(2024, 4, 1, 9, 0, 0) + i * 80_000),
        spacingMs: 8,
        orders: 2_500,
        sequenceBase: 300000000000000000000n + BigInt(i * rowsPerObject),
      });
      const key = objectKey(cdcTableRoot(config), {
        partitionPath: HOUR_PATH,
        topic: config.topics.cdc,
        kafkaPartition: i % 3,
        startOffset: i * rowsPerObject,
        extension: 'parquet',
      });
      await storage.put(key, encodeParquet(events.map(toLakeRow)), 'application/vnd.apache.parquet');
    }
    await registerCdcPartitions(harness.aws.glue, config, [
      {
        partitionPath: HOUR_PATH,
        location: `s3://${config.lake.bucket}/${sinkHourFolder(config, HOUR_PATH)}`,
      },
    ]);
    // 400,000 changes read into JavaScript rows take about 1 KB of heap each: far more than this worker may have.
    const worker = spawnWorker(config, { NODE_OPTIONS: '--max-old-space-size=160' });
    workers.push(worker);
    await worker.ready;
    const startKb = vmKb(worker, 'VmRSS');
    const handle = await compact(config, { readerGraceSeconds: 0 });
    const died = worker.child.exitCode !== null ? Promise.resolve() : once(worker.child, 'exit');
    const outcome = await Promise.race([
      handle.result(),
      died.then(() => {
        throw new Error(`the worker died while merging:\n${worker.output().slice(-2000)}`);
      }),
    ]);
    expect(outcome.hours[0]).toMatchObject({ outcome: 'compacted', rows: objects * rowsPerObject });
    const growthMb = (vmKb(worker, 'VmHWM') - startKb) / 1024;
    console.log(
      `compaction of ${objects * rowsPerObject} changes: the worker's peak RSS rose ${growthMb.toFixed(0)} MB`,
    );
    expect(growthMb).toBeLessThan(MERGE_RSS_GROWTH_MB);
    expect(await athenaCount(harness.aws, config)).toBe(objects * rowsPerObject);
  }, 300_000);

  it('survives kill -9 of the worker while merging and during the reader grace: Athena never sees a row twice or misses one', async () => {
    const config = await setup('compact-kill', false);
    await writeSinkObjects(harness.aws, config, OBJECTS);
    const content = await tableContent(harness.aws, config);
    const handle = await compact(config, { readerGraceSeconds: 5, targetBytes: 20_000 });

    // Point 1: once the merge has written its first part (mid-merge).
    const start = () => {
      const spawned = spawnWorker(config);
      workers.push(spawned);
      return spawned;
    };
    let worker = start();
    await worker.ready;
    const versionRoot = `${config.lake.prefix}-compacted/`;
    await waitFor(
      'a first compacted part',
      async () =>
        (await listKeys(harness.aws.s3, config.lake.bucket, versionRoot)).length > 0 ? true : undefined,
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    await worker.kill9();
    expect(await tableContent(harness.aws, config)).toEqual(content);

    // Point 2: after the switch, during the reader grace, before the deletes.
    worker = start();
    await worker.ready;
    await waitFor(
      'the switch',
      async () => ((await partitionFolder(config))?.includes('/v=') ? true : undefined),
      {
        timeoutMs: 120_000,
        intervalMs: 50,
      },
    );
    await worker.kill9();
    expect(await tableContent(harness.aws, config)).toEqual(content);

    worker = start();
    await worker.ready;
    const result = await handle.result();
    await worker.terminate();
    expect(result.hours[0]).toMatchObject({ outcome: 'compacted', objectsBefore: OBJECTS, rows: ROWS });
    expect(await tableContent(harness.aws, config)).toEqual(content);
    expect(await listKeys(harness.aws.s3, config.lake.bucket, sinkHourFolder(config, HOUR_PATH))).toEqual([]);
  }, 480_000);

  it.each([
    [{ hours: 'yesterday' }, 'hours'],
    [{ graceMinutes: -1 }, 'graceMinutes'],
    [{ targetBytes: 0 }, 'targetBytes'],
  ])('fails at once on %j, naming the field', async (args, field) => {
    const config = await setup('compact-bad');
    const error = await (await compact(config, args)).result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidArgument');
    expect((cause as ApplicationFailure).message).toContain(`"${field}"`);
  });
});
