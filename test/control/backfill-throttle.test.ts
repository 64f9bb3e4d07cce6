/**
 * The backfill's read throttle against the dev server and moto: a throttle wait far longer than the heartbeat
 * timeout keeps the attempt alive (it heartbeats while it waits), and a throttle too slow for one activity to
 * finish within its timeout is refused at argument validation, naming the field.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { backfillArgsSchema, describeArgsError } from '../../src/contract/args';
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients';
import * as workflows from '../../src/workflows';
import { uniqueSuffix } from '../support/fresh-config';
import {
  cleanupAws,
  controlConfig,
  createTableAndBucket,
  seedOrders,
  startHarness,
  type ControlPlaneHarness,
} from './support';

const ITEMS = 10;

describe('backfill throttle', () => {
  const config = controlConfig('ctl-throttle');
  const aws = createAwsClients(config);
  let harness: ControlPlaneHarness;

  beforeAll(async () => {
    await createTableAndBucket(aws, config);
    await seedOrders(aws.dynamodb, config.dynamodb.ordersTable, ITEMS);
    harness = await startHarness(config);
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
    await cleanupAws(aws, config);
    destroyAwsClients(aws);
  });

  it('heartbeats through a throttle wait longer than the heartbeat timeout, so no attempt times out', async () => {
    const result = await harness.client.workflow.execute(workflows.backfill, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `backfill-throttled-${uniqueSuffix()}`,
      // Without heartbeats during the wait every attempt would time out: fail the run instead of retrying forever.
      workflowExecutionTimeout: '90 seconds',
      // 5 items per page at 1 item/s: a 5 s wait after each page, against a 2 s heartbeat timeout.
      args: [
        {
          snapshotId: 'throttled',
          segments: 1,
          pageSize: 5,
          pagesPerPart: 1,
          partsPerActivity: 3,
          maxItemsPerSecond: 1,
          heartbeatTimeoutSeconds: 2,
        },
      ],
    });
    expect(result.rows).toBe(ITEMS);
    expect(result.resumes).toBe(0);
  }, 120_000);

  it('refuses a throttle too slow for one activity to finish, naming maxItemsPerSecond', async () => {
    // 1e-9 items/s: a wait far past setTimeout's limit, which Node would shorten to 1 ms (no throttle at all).
    const error = await harness.client.workflow
      .execute(workflows.backfill, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `backfill-too-slow-${uniqueSuffix()}`,
        args: [{ maxItemsPerSecond: 1e-9 }],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('InvalidArgument');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toContain('"maxItemsPerSecond": too low');

    // The bound counts the activity's items: the defaults (4 segments, 50,000 items per activity) need ≥ 55.556/s.
    const slow = backfillArgsSchema.safeParse({ maxItemsPerSecond: 55 });
    expect(describeArgsError(slow.error!)).toMatch(/^maxItemsPerSecond: too low: .* use at least 55\.556 /);
    expect(backfillArgsSchema.safeParse({ maxItemsPerSecond: 55.556 }).success).toBe(true);
    expect(backfillArgsSchema.safeParse({ maxItemsPerSecond: 55, partsPerActivity: 1 }).success).toBe(true);
  }, 60_000);
});
