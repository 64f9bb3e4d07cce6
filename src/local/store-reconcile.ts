/**
 * At start-up, before provisioning: do the stores still belong together?
 *
 * moto keeps DynamoDB (with its stream and the relay's checkpoints) and S3 in memory, while Kafka (topics and
 * consumer offsets), the Glue catalog and Temporal keep theirs on disk. After a restart of the stack, moto is
 * empty: the DynamoDB sink would resume past events whose effects are gone, the S3 sink past changes whose objects
 * are gone, and the catalog would point at missing objects.
 *
 * orders.events is the source of everything downstream, and Kafka keeps it. So when moto lost its data while
 * Kafka kept the pipeline's, everything derived from orders.events is dropped and built again from it: the
 * consumer groups' offsets (the sinks read orders.events and orders.cdc from the start), the derived topics
 * (orders.cdc and both dead-letter topics, so nothing is counted twice) and the catalog's tables. Provisioning
 * then recreates the table, the bucket and the topics, and the running pipeline refills them, exactly as the
 * first time: the sink's writes are idempotent, so DynamoDB ends at the same final states.
 */
import { DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { BatchDeleteTableCommand, EntityNotFoundException, GetTablesCommand } from '@aws-sdk/client-glue';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import type { Admin, Kafka } from 'kafkajs';
import type { AwsClients } from '../aws/clients';
import { isS3NotFound } from '../aws/errors';
import type { Config } from '../config';
import { dynamoSinkGroupId } from '../streaming/dynamo-sink/dynamo-sink';
import { s3SinkGroupId } from '../streaming/s3-sink/s3-sink';
import { waitFor } from '../support/timing';
import { StackError } from './errors';

export interface ReconcileDeps {
  config: Config;
  aws: Pick<AwsClients, 'dynamodb' | 's3' | 'glue'>;
  /** Progress lines for the user (a wait of up to a minute, say). */
  report?: (line: string) => void;
  kafka: Kafka;
}

export interface ReconcileOutcome {
  /** What was done, in one line for people; undefined when the stores were consistent. */
  line?: string;
  /** Events of orders.events the rebuild starts from (present after a rebuild). */
  retainedEvents?: number;
}

async function lostAwsData({ config, aws }: ReconcileDeps): Promise<boolean> {
  const tableGone = await aws.dynamodb
    .send(new DescribeTableCommand({ TableName: config.dynamodb.ordersTable }))
    .then(() => false)
    .catch((error: unknown) => {
      if (error instanceof ResourceNotFoundException) return true;
      throw error;
    });
  if (tableGone) return true;
  return aws.s3
    .send(new HeadBucketCommand({ Bucket: config.lake.bucket }))
    .then(() => false)
    .catch((error: unknown) => {
      if (isS3NotFound(error)) return true;
      throw error;
    });
}

/** Groups of `ids` that committed an offset (they would resume past what moto lost). */
async function groupsWithOffsets(admin: Admin, ids: string[]): Promise<string[]> {
  const existing = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
  return ids.filter((id) => existing.has(id));
}

async function catalogTables({ config, aws }: ReconcileDeps): Promise<string[]> {
  try {
    const page = await aws.glue.send(new GetTablesCommand({ DatabaseName: config.glue.database }));
    return (page.TableList ?? []).flatMap((t) => (t.Name ? [t.Name] : []));
  } catch (error) {
    if (error instanceof EntityNotFoundException) return [];
    throw error;
  }
}

/**
 * Detects stores that lost their data while others kept theirs, and brings them back to one state.
 *
 * @example
 *   const { line } = await reconcileStores({ config, aws, kafka });
 *   if (line) console.log(line);
 */
export async function reconcileStores(deps: ReconcileDeps): Promise<ReconcileOutcome> {
  const { config, kafka } = deps;
  if (!(await lostAwsData(deps))) return {};
  const admin = kafka.admin();
  await admin.connect();
  try {
    const groups = await groupsWithOffsets(admin, [dynamoSinkGroupId(config), s3SinkGroupId(config)]);
    const topics = new Set(await admin.listTopics());
    const derivedTopics = [config.topics.cdc, config.topics.cdcDlq, config.topics.eventsDlq].filter((t) =>
      topics.has(t),
    );
    const tables = await catalogTables(deps);
    if (groups.length === 0 && derivedTopics.length === 0 && tables.length === 0) return {};

    const activeGroups = async () =>
      (await admin.describeGroups(groups)).groups.filter((g) => g.members.length > 0).map((g) => g.groupId);
    // A consumer killed along with the broker (`kill -9` of the whole stack) is still a member when the broker
    // comes back, until its session times out: only a member that outlives that is a running consumer.
    let active = await activeGroups();
    if (active.length > 0) {
      deps.report?.(
        `waiting up to ${Math.round((2 * config.kafka.sessionTimeoutMs) / 1000)} s for the sessions of ` +
          `${active.join(', ')} to time out (their consumers were stopped with the stack)...`,
      );
      await waitFor(
        'the consumers of the lost stores to leave',
        async () => (await activeGroups()).length === 0,
        {
          timeoutMs: 2 * config.kafka.sessionTimeoutMs,
          intervalMs: 1000,
        },
      ).catch(() => undefined);
      active = await activeGroups();
    }
    if (active.length > 0)
      throw new StackError(
        `moto lost its data, but consumers of ${active.join(', ')} are still running: stop them ` +
          '(`npm run stack -- down`) and start again, so the stores can be rebuilt from orders.events',
      );
    if (groups.length > 0) await admin.deleteGroups(groups);
    if (derivedTopics.length > 0) {
      await admin.deleteTopics({ topics: derivedTopics, timeout: 30_000 });
      // Deletion completes in the background; provisioning creates the topics again right after this.
      await waitFor(
        'the deletion of the derived topics',
        async () => {
          const left = new Set(await admin.listTopics());
          return derivedTopics.every((t) => !left.has(t));
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    }
    if (tables.length > 0)
      await deps.aws.glue.send(
        new BatchDeleteTableCommand({ DatabaseName: config.glue.database, TablesToDelete: tables }),
      );

    const offsets = topics.has(config.topics.events)
      ? await admin.fetchTopicOffsets(config.topics.events)
      : [];
    const retainedEvents = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    const expired = offsets.some((p) => Number(p.low) > 0);
    return {
      retainedEvents,
      line:
        `moto started empty while Kafka and the catalog kept their data: rebuilding DynamoDB, ${config.topics.cdc}, ` +
        `the lake and the catalog from the ${retainedEvents} events in ${config.topics.events}` +
        (expired ? ' (older events are past the topic retention and not rebuilt)' : ''),
    };
  } finally {
    await admin.disconnect();
  }
}
