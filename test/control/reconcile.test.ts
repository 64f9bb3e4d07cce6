/**
 * The reconcile workflow against the dev server, moto and the local Glue + Athena endpoint: DynamoDB items and
 * their changes in the lake layout (older versions too, so the view has to pick the latest), the orders_current
 * view created through Athena as provisioning does.
 * - a clean table and lake pass, every order compared and matching (and `npm start`'s status line shows it);
 * - drift behind the pipeline's back is found and named: an item deleted from DynamoDB (extra), a lake object
 *   removed (missing), an item changed (different, with the field), and a change made while the workflow waits
 *   for the freshness bound is in flight, not drift;
 * - a scan segment retried with the heartbeat of an earlier attempt rewrites the same runs, never a duplicate;
 * - the last result is exported as gauges; provisioning's schedule runs it hourly, overlap SKIP;
 * - `npm run pipeline -- reconcile` prints it and exits 1 on drift;
 * - a read throttle paces the scan;
 * - bad arguments fail at once, naming the field.
 */
import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ScheduleOverlapPolicy, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMetricsRegistry } from '../../src/observability/metrics';
import { CDC_TABLE_FOLDER, withOverrides } from '../../src/config';
import {
  createReconcileActivities,
  runKey,
  type ScanSegmentProgress,
} from '../../src/activities/reconcile-activities';
import { encodeParquet } from '../../src/lake-format/formats/parquet';
import type { LakeRow } from '../../src/lake-format/lake-row';
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureCdcTable, registerCdcPartitions } from '../../src/resources/cdc-catalog';
import { ensureGlueDatabase } from '../../src/resources/glue';
import { controlSchedules, ensureSchedule, scheduleIds } from '../../src/resources/schedules';
import { ensureOrdersCurrentView } from '../../src/resources/orders-current-view';
import { createLogger } from '../../src/observability/logger';
import * as workflows from '../../src/workflows';
import type { ReconcileResult } from '../../src/contract/types';
import { uniqueSuffix } from '../support/fresh-config';
import { lastReconcile } from '../../src/cli/main-job/live-status';
import { describeReconcile } from '../../src/cli/shared/output';
import {
  cleanupAws,
  controlConfig,
  createTableAndBucket,
  getObject,
  listKeys,
  orderItem,
  runCli,
  seedOrders,
  startHarness,
  startLake,
  waitFor,
  type ControlPlaneHarness,
  type LakeEndpoint,
} from './support';

const ORDERS = 120;
const PER_GROUP = 10;
const BASE = Date.UTC(2024, 4, 1, 10);

/** The lake rows of order i: every version up to the item's, the last one equal to the item. */
function lakeRows(i: number): LakeRow[] {
  const item = orderItem(i);
  const group = Math.floor(i / PER_GROUP);
  return Array.from({ length: item.version }, (_, k) => {
    const version = k + 1;
    const at = new Date(BASE + group * 3_600_000 + (i % PER_GROUP) * 60_000 + version * 1000);
    const latest = version === item.version;
    return {
      order_id: item.orderId,
      customer_id: item.customerId,
      status: latest ? item.status : 'CREATED',
      version: BigInt(version),
      amount: item.amount,
      currency: item.currency,
      region: item.region,
      item_count: BigInt(item.itemCount),
      created_at: new Date(item.createdAt),
      updated_at: latest ? new Date(item.updatedAt) : new Date(item.createdAt),
      last_event_type: latest ? item.lastEventType : 'ORDER_CREATED',
      last_event_id: latest ? item.lastEventId : `e-${i}-${version}`,
      op: version === 1 ? 'INSERT' : 'MODIFY',
      change_time: at,
      sequence_number: String(1_000_000 + i * 10 + version),
    };
  });
}

const orderId = (i: number) => orderItem(i).orderId;

describe('reconcile workflow', () => {
  let lake: LakeEndpoint;
  let harness: ControlPlaneHarness;
  /** The lake object of each group of PER_GROUP orders (one hour partition each). */
  const objectKeys: string[] = [];

  const execute = (args: unknown, id = `reconcile-${uniqueSuffix()}`) =>
    harness.client.workflow.execute(workflows.reconcile, {
      taskQueue: harness.config.temporal.taskQueue,
      workflowId: id,
      args: [args],
    });

  beforeAll(async () => {
    lake = await startLake();
    harness = await startHarness(
      withOverrides(controlConfig('ctl-recon', lake.url), { schedules: { reconcileFreshnessSeconds: 7 } }),
    );
    const { aws, config } = harness;
    await createTableAndBucket(aws, config);
    await ensureGlueDatabase(aws.glue, config);
    await ensureCdcTable(aws.glue, config);
    await ensureWorkgroup(aws.athena, config);
    await ensureOrdersCurrentView(aws.athena, aws.glue, config);
    await seedOrders(aws.dynamodb, config.dynamodb.ordersTable, ORDERS);
    const partitions = [];
    for (let group = 0; group * PER_GROUP < ORDERS; group++) {
      const rows = Array.from({ length: PER_GROUP }, (_, j) => lakeRows(group * PER_GROUP + j)).flat();
      const iso = (rows[0].change_time as Date).toISOString();
      const partitionPath = `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
      const folder = `${config.lake.prefix}/${CDC_TABLE_FOLDER}/${partitionPath}/`;
      const key = `${folder}fixture+0+${String(group).padStart(10, '0')}.parquet`;
      await aws.s3.send(
        new PutObjectCommand({ Bucket: config.lake.bucket, Key: key, Body: encodeParquet(rows) }),
      );
      objectKeys.push(key);
      partitions.push({ partitionPath, location: `s3://${config.lake.bucket}/${folder}` });
    }
    await registerCdcPartitions(aws.glue, config, partitions);
  }, 180_000);

  afterAll(async () => {
    await cleanupAws(harness.aws, harness.config);
    await harness.close();
    await lake.close();
  });

  it('passes on a clean table and lake: every order compared, field by field, and matching', async () => {
    const result = await execute({ segments: 3, runSize: 25, pageSize: 10 });
    expect(result).toMatchObject({
      // Left out: the worker's RECONCILE_FRESHNESS_SECONDS (nothing differs, so nothing waits for it).
      freshnessSeconds: 7,
      table: harness.config.dynamodb.ordersTable,
      view: `${harness.config.glue.database}.orders_current`,
      compared: ORDERS,
      matching: ORDERS,
      missing: 0,
      extra: 0,
      different: 0,
      inFlight: 0,
      rechecked: 0,
      samples: { missing: [], extra: [], different: [] },
      passed: true,
    });
    // npm start's status line shows the newest completed run's result.
    const line = describeReconcile(result).split('\n')[0];
    await waitFor(
      'the status line to show the run',
      async () =>
        (await lastReconcile(harness.client, harness.config)).startsWith(`${line} (at `) || undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // The sorted runs and candidates are deleted when the run is done.
    expect(
      await listKeys(
        harness.aws.s3,
        harness.config.lake.bucket,
        `${harness.config.lake.reportsPrefix}/reconcile/`,
      ),
    ).toEqual([]);
  }, 180_000);

  it('throttles its scan to maxItemsPerSecond over all segments, with the same result', async () => {
    const started = Date.now();
    // 120 items at 60 a second over 2 segments (30 each): about 2 s of scanning, pages of 10.
    const result = await execute({ segments: 2, pageSize: 10, maxItemsPerSecond: 60 });
    const elapsedMs = Date.now() - started;
    expect(result).toMatchObject({ compared: ORDERS, matching: ORDERS, passed: true });
    // Each segment waits until its items fit its share of the rate: the last page's wait ends at 60/30 s.
    expect(elapsedMs).toBeGreaterThanOrEqual(((ORDERS / 2) * 1000) / 30 - 100);
  });

  it('names drift injected behind the pipeline: a deleted item, a removed lake object, a changed item; a change during the wait is in flight', async () => {
    const { aws, config } = harness;
    const table = config.dynamodb.ordersTable;
    // Extra: in the lake, gone from DynamoDB.
    await aws.dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { orderId: { S: orderId(5) } } }));
    // Missing: the lake object of orders 20-29 removed.
    await aws.s3.send(new DeleteObjectCommand({ Bucket: config.lake.bucket, Key: objectKeys[2] }));
    // Different: the amount changed in DynamoDB alone, same version.
    await aws.dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { orderId: { S: orderId(7) } },
        UpdateExpression: 'SET amount = :a',
        ExpressionAttributeValues: { ':a': { N: '4242.5' } },
      }),
    );
    // In flight: differs at the scan, and its version moves on before the recheck.
    await aws.dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { orderId: { S: orderId(8) } },
        UpdateExpression: 'SET customerId = :c',
        ExpressionAttributeValues: { ':c': { S: 'c-changed' } },
      }),
    );
    const handle = await harness.client.workflow.start(workflows.reconcile, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `reconcile-drift-${uniqueSuffix()}`,
      args: [{ segments: 2, runSize: 30, freshnessSeconds: 15 }],
    });
    await waitFor(
      'the reconcile workflow to wait for the freshness bound',
      async () => ((await handle.query('progress')) as { phase: string }).phase === 'waiting' || undefined,
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    const version = orderItem(8).version + 1;
    await aws.dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { orderId: { S: orderId(8) } },
        UpdateExpression: 'SET version = :v',
        ExpressionAttributeValues: { ':v': { N: String(version) } },
      }),
    );
    const result: ReconcileResult = await handle.result();
    const missing = Array.from({ length: PER_GROUP }, (_, j) => orderId(2 * PER_GROUP + j));
    expect(result).toMatchObject({
      compared: ORDERS,
      missing: PER_GROUP,
      extra: 1,
      different: 1,
      inFlight: 1,
      rechecked: PER_GROUP + 3,
      matching: ORDERS - PER_GROUP - 3,
      samples: { missing, extra: [orderId(5)], different: [{ orderId: orderId(7), fields: ['amount'] }] },
      passed: false,
    });
  }, 240_000);

  it("a scan segment retried with an earlier attempt's heartbeat rewrites the same runs, never a duplicate row", async () => {
    const { aws, config } = harness;
    const activities = createReconcileActivities({
      dynamodb: aws.dynamodb,
      s3: aws.s3,
      athena: aws.athena,
      config,
      logger: createLogger('reconcile-test', config),
    });
    const prefix = `${config.lake.reportsPrefix}/reconcile/retry-${uniqueSuffix()}`;
    const input = {
      table: config.dynamodb.ordersTable,
      bucket: config.lake.bucket,
      prefix,
      segment: 0,
      totalSegments: 1,
      pageSize: 7,
      runSize: 20,
    };
    const first = new MockActivityEnvironment();
    const heartbeats: ScanSegmentProgress[] = [];
    first.on('heartbeat', (details: unknown) => heartbeats.push(details as ScanSegmentProgress));
    const done = (await first.run(activities.scanSegment, input)) as ScanSegmentProgress;
    const runBodies = async (runs: number) =>
      Promise.all(
        Array.from({ length: runs }, async (_, run) =>
          (await getObject(aws.s3, config.lake.bucket, runKey(prefix, 0, run))).toString('utf8'),
        ),
      );
    const before = await runBodies(done.runs);
    // The crash came after the second run was in S3: the retry starts from that heartbeat.
    const afterSecondRun = heartbeats.find((h) => h.runs === 2)!;
    expect(afterSecondRun.startKey).not.toBeNull();
    const retry = new MockActivityEnvironment({ heartbeatDetails: afterSecondRun, attempt: 2 });
    const resumed = (await retry.run(activities.scanSegment, input)) as ScanSegmentProgress;
    expect(resumed).toMatchObject({ runs: done.runs, items: done.items, done: true, resumedFromRun: 2 });
    const after = await runBodies(resumed.runs);
    expect(after).toEqual(before);
    const ids = after.flatMap((body) =>
      body
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { order_id: string }).order_id),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(done.items);
    expect(await listKeys(aws.s3, config.lake.bucket, `${prefix}/`)).toEqual(
      Array.from({ length: done.runs }, (_, run) => runKey(prefix, 0, run)).sort(),
    );
  }, 120_000);

  it('exports the last result as the reconcile_last_* gauges of the worker registry', async () => {
    const { aws, config } = harness;
    const metrics = createMetricsRegistry('reconcile-test');
    const activities = createReconcileActivities({
      dynamodb: aws.dynamodb,
      s3: aws.s3,
      athena: aws.athena,
      config,
      logger: createLogger('reconcile-test', config),
      metrics,
    });
    const result: ReconcileResult = {
      table: 't',
      view: 'db.orders_current',
      scanStartedAt: new Date().toISOString(),
      freshnessSeconds: 60,
      compared: 10,
      matching: 7,
      missing: 1,
      extra: 1,
      different: 1,
      inFlight: 0,
      rechecked: 3,
      samples: { missing: ['a'], extra: ['b'], different: [{ orderId: 'c', fields: ['amount'] }] },
      passed: false,
    };
    await new MockActivityEnvironment().run(activities.recordReconcileResult, result);
    const text = await metrics.metrics();
    expect(text).toMatch(/^reconcile_last_passed\{[^}]*\} 0$/m);
    expect(text).toMatch(/^reconcile_last_orders\{outcome="missing"[^}]*\} 1$/m);
    expect(text).toMatch(/^reconcile_last_orders\{outcome="compared"[^}]*\} 10$/m);
  });

  it("has provisioning's hourly schedule, overlap SKIP, starting reconcile with {}", async () => {
    const { client, config } = harness;
    const wanted = controlSchedules(config, { searchAttributes: false }).find(
      (schedule) => schedule.scheduleId === scheduleIds(config).reconcile,
    )!;
    const handle = client.schedule.getHandle(wanted.scheduleId);
    try {
      expect(await ensureSchedule(client, wanted)).toMatchObject({ action: 'created' });
      const schedule = await handle.describe();
      expect(schedule.spec.intervals).toEqual([expect.objectContaining({ every: 3_600_000 })]);
      expect(schedule.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      expect(schedule.action).toMatchObject({
        workflowType: 'reconcile',
        taskQueue: config.temporal.taskQueue,
        args: [{}],
      });
      expect(await ensureSchedule(client, wanted)).toMatchObject({ action: 'exists' });
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });

  it('npm run pipeline -- reconcile: prints the result, exits 1 on drift naming the ids, 2 on a bad argument', async () => {
    const { aws, config } = harness;
    await aws.dynamodb.send(
      new DeleteItemCommand({ TableName: config.dynamodb.ordersTable, Key: { orderId: { S: orderId(11) } } }),
    );
    const run = await runCli(config, ['--json', 'reconcile', '--freshness-seconds', '0', '--segments', '2']);
    expect({ code: run.code, stderr: run.stderr.slice(-2000) }).toMatchObject({ code: 1 });
    const result = JSON.parse(run.stdout) as ReconcileResult;
    expect(result.passed).toBe(false);
    expect(result.samples.extra).toContain(orderId(11));
    const text = await runCli(config, ['reconcile', '--freshness-seconds', '0']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^FAILED: /m);
    expect(text.stdout).toMatch(new RegExp(`^  extra: .*${orderId(11)}`, 'm'));
    const bad = await runCli(config, ['reconcile', '--segments', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('reconcile: invalid argument segments:');
  }, 180_000);

  it('rejects bad arguments at once, naming the field', async () => {
    for (const [args, field] of [
      [{ segments: 0 }, 'segments'],
      [{ freshnessSeconds: -1 }, 'freshnessSeconds'],
      [{ runSize: 1.5 }, 'runSize'],
      [{ maxItemsPerSecond: 0 }, 'maxItemsPerSecond'],
      [{ segmnts: 2 }, 'segmnts'],
    ] as const) {
      const error = await execute(args).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause).toMatchObject({ type: 'InvalidArgument', nonRetryable: true });
      expect((cause as ApplicationFailure).message).toContain(`"${field}"`);
    }
  }, 60_000);
});
