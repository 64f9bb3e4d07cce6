/**
 * backfill workflow against the dev server and moto: a run whose worker is killed with -9 mid-export and
 * resumed on a new worker writes exactly the objects (keys and bytes) and rows an uninterrupted run writes;
 * the progress query and continue-as-new work; bad arguments fail at once naming the field.
 */
import { parquetReadObjects } from 'hyparquet';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { backfillProgressQuery } from '../../src/contract/definitions';
import { connectClient } from '../../src/temporal/connection';
import * as workflows from '../../src/workflows';
import {
  cleanupAws,
  controlConfig,
  createTableAndBucket,
  listKeys,
  readObjects,
  seedOrders,
  spawnWorker,
  startHarness,
  waitFor,
  type ControlPlaneHarness,
} from './support';
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients';
import { uniqueSuffix } from '../support/fresh-config';
import { GetTableCommand } from '@aws-sdk/client-glue';
import {
  SNAPSHOT_PARTITION_KEYS,
  snapshotFolder,
  snapshotManifestKey,
  snapshotTableName,
} from '../../src/lake-format/snapshot-layout';
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureGlueDatabase, ensureLakeCrawler } from '../../src/resources/glue';
import { encodeParquet } from '../../src/lake-format/formats/parquet';
import { ORDER_COLUMNS } from '../../src/lake-format/lake-schema';
import type { LakeRow } from '../../src/lake-format/lake-row';

/** moto scans at well under 1,000 items/s on this machine: enough to show the mechanics, small enough to be quick. */
const ITEMS = 2000;
/** Well above one Scan page of 50 of these items, well below the table: parts of a few pages. */
const SMALL_TARGET_BYTES = 8 * 1024;

describe('backfill workflow', () => {
  const config = controlConfig('ctl-backfill');
  const aws = createAwsClients(config);
  /** The key prefix of every object of a snapshot. */
  const objectsOf = (snapshotId: string) => `${snapshotFolder(config.lake.snapshotPrefix, snapshotId)}/`;
  let harness: ControlPlaneHarness | undefined;

  beforeAll(async () => {
    await createTableAndBucket(aws, config);
    await seedOrders(aws.dynamodb, config.dynamodb.ordersTable, ITEMS);
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
    await cleanupAws(aws, config);
    destroyAwsClients(aws);
  });

  it('gives the same objects and rows after a worker is killed mid-run and another takes over', async () => {
    const { client, connection } = await connectClient(config);
    const worker = spawnWorker(config);
    try {
      await worker.ready;
      const killedId = `backfill-killed-${uniqueSuffix()}`;
      const killed = await client.workflow.start(workflows.backfill, {
        taskQueue: config.temporal.taskQueue,
        workflowId: killedId,
        args: [
          {
            snapshotId: 'killed',
            segments: 3,
            pageSize: 50,
            pagesPerPart: 4,
            // Parts end at the page limit or at the target size, whichever comes first: both kinds of end resumed.
            targetBytes: SMALL_TARGET_BYTES,
            // One activity per segment: the resume can only come from its heartbeat.
            partsPerActivity: 1000,
            // ≥ 5 s for the whole table: time to kill the worker in the middle.
            maxItemsPerSecond: 400,
            heartbeatTimeoutSeconds: 4,
          },
        ],
      });
      const prefix = objectsOf('killed');
      // Parts exist in S3 and the (throttled) heartbeats of several parts have reached the server.
      await waitFor(
        'a few parts of the killed run',
        async () => (await listKeys(aws.s3, config.lake.bucket, prefix)).length >= 3,
        {
          timeoutMs: 60_000,
          intervalMs: 100,
        },
      );
      const before = await listKeys(aws.s3, config.lake.bucket, prefix);
      await worker.kill9();

      harness = await startHarness(config);
      const resumed = await killed.result();
      expect(resumed.rows).toBe(ITEMS);
      expect(resumed.resumes).toBeGreaterThanOrEqual(1);

      const reference = await client.workflow.execute(workflows.backfill, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `backfill-reference-${uniqueSuffix()}`,
        // Different chunking into activities, same layout parameters: the objects must not depend on chunking.
        args: [
          {
            snapshotId: 'reference',
            segments: 3,
            pageSize: 50,
            pagesPerPart: 4,
            targetBytes: SMALL_TARGET_BYTES,
            partsPerActivity: 2,
          },
        ],
      });
      expect(reference.rows).toBe(ITEMS);
      expect(reference.resumes).toBe(0);

      const killedObjects = await readObjects(aws.s3, config.lake.bucket, objectsOf('killed'));
      const referenceObjects = await readObjects(aws.s3, config.lake.bucket, objectsOf('reference'));
      const strip = (key: string, id: string) => key.slice(objectsOf(id).length);
      expect(killedObjects.map((o) => strip(o.key, 'killed'))).toEqual(
        referenceObjects.map((o) => strip(o.key, 'reference')),
      );
      const parts = referenceObjects.filter((o) => o.key.endsWith('.parquet'));
      expect(parts.length).toBe(reference.parts);
      expect(before.length).toBeLessThan(parts.length); // really interrupted
      // Every part byte-identical.
      for (let i = 0; i < killedObjects.length; i++) {
        if (killedObjects[i].key.endsWith('.parquet'))
          expect(killedObjects[i].sha256).toBe(referenceObjects[i].sha256);
      }
      // The manifests differ only in the snapshot id.
      const manifest = (objects: typeof killedObjects) =>
        JSON.parse(objects.find((o) => o.key.endsWith('_manifest.json'))!.body.toString()) as Record<
          string,
          unknown
        >;
      expect({ ...manifest(killedObjects), snapshotId: 'x' }).toEqual({
        ...manifest(referenceObjects),
        snapshotId: 'x',
      });

      // The rows are the table's items, each exactly once, with the lake's typed columns.
      const ids: string[] = [];
      for (const part of parts) {
        const file = part.body.buffer.slice(
          part.body.byteOffset,
          part.body.byteOffset + part.body.byteLength,
        ) as ArrayBuffer;
        const rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
        ids.push(...rows.map((r) => String(r.order_id)));
        expect(typeof rows[0].version).toBe('bigint');
        expect(rows[0].created_at).toBeInstanceOf(Date);
      }
      expect(ids.length).toBe(ITEMS);
      expect(new Set(ids).size).toBe(ITEMS);

      const progress = await client.workflow.getHandle(killedId).query(backfillProgressQuery);
      expect(progress).toMatchObject({ done: true, rows: ITEMS, snapshotId: 'killed' });
    } finally {
      await worker.kill9();
      await connection.close();
    }
  }, 240_000);

  it('continues as new before the history grows past its limit, and reports progress while running', async () => {
    harness ??= await startHarness(config);
    const handle = await harness.client.workflow.start(workflows.backfill, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `backfill-can-${uniqueSuffix()}`,
      // 1 part per activity and a 50-event history limit: several continue-as-new generations.
      args: [
        {
          snapshotId: 'can',
          segments: 2,
          pageSize: 100,
          pagesPerPart: 1,
          partsPerActivity: 1,
          historyEventLimit: 50,
        },
      ],
    });
    const seen = await waitFor(
      'progress with rows',
      async () => {
        const p = await handle.query(backfillProgressQuery);
        return p.rows > 0 && !p.done ? p : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(seen.snapshotId).toBe('can');
    expect(seen.estimatedItems).toBe(ITEMS);
    const result = await handle.result();
    expect(result.rows).toBe(ITEMS);
    expect(result.runs).toBeGreaterThanOrEqual(1);
    const keys = await listKeys(aws.s3, config.lake.bucket, objectsOf('can'));
    expect(keys.filter((k) => k.endsWith('.parquet'))).toHaveLength(result.parts);
    expect(keys).toContain(snapshotManifestKey(snapshotFolder(config.lake.snapshotPrefix, 'can')));
  }, 120_000);

  it('writes each segment in as few objects as the target size allows, every row exactly once', async () => {
    harness ??= await startHarness(config);
    const targetBytes = SMALL_TARGET_BYTES;
    const pageSize = 50;
    const result = await harness.client.workflow.execute(workflows.backfill, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `backfill-sized-${uniqueSuffix()}`,
      args: [{ snapshotId: 'sized', segments: 2, pageSize, targetBytes, partsPerActivity: 2 }],
    });
    expect(result.rows).toBe(ITEMS);
    const parts = (await readObjects(aws.s3, config.lake.bucket, objectsOf('sized'))).filter((o) =>
      o.key.endsWith('.parquet'),
    );
    expect(parts).toHaveLength(result.parts);
    const rowsOf = async (body: Buffer) =>
      (await parquetReadObjects({
        file: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
      })) as LakeRow[];
    const encode = (rows: LakeRow[]) =>
      encodeParquet(rows, {
        columns: ORDER_COLUMNS,
        createdBy: 'orders-pipeline backfill',
        stringStatistics: true,
      });
    const ids: string[] = [];
    for (const segment of [0, 1]) {
      const inSegment = parts.filter((p) => p.key.includes(`/segment=${segment}/`));
      // Many rows over several objects: the bound at work, not one object holding everything.
      expect(inSegment.length).toBeGreaterThanOrEqual(3);
      const segmentRows = await Promise.all(inSegment.map((p) => rowsOf(p.body)));
      for (let i = 0; i < inSegment.length; i++) {
        // A page of this table is far below the target: every object fits it.
        expect(inSegment[i].size).toBeLessThanOrEqual(targetBytes);
        // Re-encoding the rows gives the object's size: the check below measures what the backfill measured.
        expect(encode(segmentRows[i]).length).toBe(inSegment[i].size);
        ids.push(...segmentRows[i].map((row) => String(row.order_id)));
        // Fewest objects: the next object's first page would not have fit into this one.
        if (i + 1 < inSegment.length)
          expect(
            encode([...segmentRows[i], ...segmentRows[i + 1].slice(0, pageSize)]).length,
          ).toBeGreaterThan(targetBytes);
      }
    }
    expect(ids).toHaveLength(ITEMS);
    expect(new Set(ids).size).toBe(ITEMS);
  }, 120_000);

  it('catalogs the snapshot when asked to crawl: one table, partitioned by snapshot and segment, that Athena reads', async () => {
    harness ??= await startHarness(config);
    await ensureGlueDatabase(aws.glue, config);
    await ensureLakeCrawler(aws.glue, config);
    await ensureWorkgroup(aws.athena, config);
    const execute = <R>(workflow: (input?: unknown) => Promise<R>, args: unknown) =>
      harness!.client.workflow.execute(workflow, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `${workflow.name}-crawled-${uniqueSuffix()}`,
        args: [args],
      });
    const result = await execute(workflows.backfill, {
      snapshotId: 'crawled',
      segments: 2,
      pageSize: 500,
      crawl: true,
    });
    expect(result.crawl).toMatchObject({ crawler: config.glue.crawler, status: 'SUCCEEDED' });

    const name = snapshotTableName(config.lake.snapshotPrefix);
    const table = (
      await aws.glue.send(new GetTableCommand({ DatabaseName: config.glue.database, Name: name }))
    ).Table;
    expect(table?.PartitionKeys?.map((k) => k.Name)).toEqual([...SNAPSHOT_PARTITION_KEYS]);
    expect(table?.StorageDescriptor?.Columns?.map((c) => c.Name)).toEqual(
      expect.arrayContaining(['order_id', 'status', 'version']),
    );

    const counted = await execute(workflows.query, {
      sql: `SELECT count(*) AS items, count(DISTINCT order_id) AS orders FROM ${name} WHERE snapshot_id = 'crawled'`,
      database: config.glue.database,
    });
    expect(counted.rows).toEqual([[String(ITEMS), String(ITEMS)]]);
  }, 180_000);

  it('rejects bad arguments at once, naming the field, and a missing table as TableNotFound', async () => {
    harness ??= await startHarness(config);
    const bad = harness.client.workflow.execute(workflows.backfill, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `backfill-bad-${uniqueSuffix()}`,
      args: [{ segments: 0, pagesPerPart: 'ten' }],
    });
    const error = await bad.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('InvalidArgument');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toContain('"segments"');
    expect(cause.message).toContain('"pagesPerPart"');

    const missing = await harness.client.workflow
      .execute(workflows.backfill, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `backfill-missing-${uniqueSuffix()}`,
        args: [{ table: 'no-such-table-here' }],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(missing).toBeInstanceOf(WorkflowFailedError);
    const root = (missing as WorkflowFailedError).cause?.cause as ApplicationFailure;
    expect(root).toBeInstanceOf(ApplicationFailure);
    expect(root.type).toBe('TableNotFound');
    expect(root.message).toContain('no-such-table-here');
  }, 60_000);
});
