/**
 * After a stack restart moto is empty while Kafka keeps its topics and offsets: reconcileStores (run by `npm start`
 * before provisioning) drops what is derived from orders.events, so the pipeline rebuilds it instead of resuming
 * past data that no longer exists. Real Kafka and moto; names scoped to this test.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka } from 'kafkajs';
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients';
import { newRunId, runScopedConfig } from '../../src/cli/main-job/run-scope';
import { configToEnv, loadConfig, withOverrides, type Config } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { reconcileStores } from '../../src/local/store-reconcile';
import { ensureOrdersTable } from '../../src/resources/dynamodb-tables';
import { ensureTopics, pipelineTopics } from '../../src/resources/kafka-topics';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { dynamoSinkGroupId } from '../../src/streaming/dynamo-sink/dynamo-sink';

const base = runScopedConfig(loadConfig(), `reconcile${newRunId()}${process.pid}`);
const aws = createAwsClients(base);
let kafka: Kafka;
let admin: Admin;
const created: Config[] = [];

/** Names of their own for each test (a deleted topic's name is not reusable at once), with Kafka's data in place. */
async function seeded(name: string): Promise<Config> {
  const config = runScopedConfig(base, name);
  created.push(config);
  await ensureTopics(kafka.admin(), pipelineTopics(config));
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: config.topics.events,
    messages: ['a', 'b', 'c'].map((value) => ({ key: value, value, partition: 0 })),
  });
  await producer.send({ topic: config.topics.cdc, messages: [{ key: 'a', value: 'change', partition: 0 }] });
  await producer.disconnect();
  await admin.setOffsets({
    groupId: dynamoSinkGroupId(config),
    topic: config.topics.events,
    partitions: [{ partition: 0, offset: '3' }],
  });
  return config;
}

beforeAll(async () => {
  kafka = createKafka(base, 'reconcile-test');
  admin = kafka.admin();
  await admin.connect();
  await ensureBucket(aws.s3, base);
});

afterAll(async () => {
  const topics = new Set(await admin.listTopics());
  const groups = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
  for (const config of created) {
    const ours = pipelineTopics(config)
      .map((t) => t.topic)
      .filter((t) => topics.has(t));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
    if (groups.has(dynamoSinkGroupId(config))) await admin.deleteGroups([dynamoSinkGroupId(config)]);
    await aws.dynamodb
      .send(new DeleteTableCommand({ TableName: config.dynamodb.ordersTable }))
      .catch(() => undefined);
  }
  await admin.disconnect();
  destroyAwsClients(aws);
});

it('rebuilds from orders.events when DynamoDB lost its data while Kafka kept offsets and derived topics', async () => {
  const config = await seeded('lost');
  const outcome = await reconcileStores({ config, aws, kafka });

  expect(outcome.line).toContain(`from the 3 events in ${config.topics.events}`);
  const topics = await admin.listTopics();
  expect(topics).toContain(config.topics.events);
  expect(topics).not.toContain(config.topics.cdc);
  expect(topics).not.toContain(config.topics.eventsDlq);
  expect(topics).not.toContain(config.topics.cdcDlq);
  expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(dynamoSinkGroupId(config));
});

it('leaves the stores alone when DynamoDB still has its table', async () => {
  const config = await seeded('kept');
  await ensureOrdersTable(aws.dynamodb, config);

  expect(await reconcileStores({ config, aws, kafka })).toEqual({});
  expect(await admin.listTopics()).toContain(config.topics.cdc);
  expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(dynamoSinkGroupId(config));
});

/**
 * A consumer of the group in a process of its own, as the DynamoDB sink runs; `crash()` kills it with SIGKILL, so
 * it never leaves the group: it stays a member until its session times out, as after a `kill -9` of the stack.
 */
async function groupMember(config: Config): Promise<{ crash(): void; stop(): Promise<void> }> {
  const script = `
    const { createKafka } = require('./src/kafka/client');
    const { loadConfig } = require('./src/config');
    const config = loadConfig();
    const consumer = createKafka(config, 'stale-member').consumer({
      groupId: process.argv[1],
      sessionTimeout: config.kafka.sessionTimeoutMs,
      heartbeatInterval: 1000,
    });
    consumer.on(consumer.events.GROUP_JOIN, () => console.log('joined'));
    process.on('SIGTERM', () => consumer.disconnect().then(() => process.exit(0)));
    consumer.connect()
      .then(() => consumer.subscribe({ topic: process.argv[2], fromBeginning: false }))
      .then(() => consumer.run({ autoCommit: false, eachMessage: async () => undefined }));
  `;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', script, dynamoSinkGroupId(config), config.topics.events],
    {
      cwd: join(__dirname, '../..'),
      env: { ...process.env, ...configToEnv(config) },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('joined') && resolve());
    child.once('exit', (code) => reject(new Error(`the group member exited (${code}) before joining`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    crash: () => child.kill('SIGKILL'),
    // Leaves the group on its way out, so afterAll can delete it.
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('consumers of the lost stores', () => {
  const short = (name: string) =>
    seeded(name).then((c) => withOverrides(c, { kafka: { sessionTimeoutMs: 6000 } }));

  it('waits for a consumer killed without leaving its group (kill -9) to time out, then rebuilds', async () => {
    const config = await short('stale');
    const member = await groupMember(config);
    member.crash();
    const lines: string[] = [];

    const outcome = await reconcileStores({ config, aws, kafka, report: (line) => lines.push(line) });

    expect(lines).toEqual([
      expect.stringContaining(`for the sessions of ${dynamoSinkGroupId(config)} to time out`),
    ]);
    expect(outcome.line).toContain(`from the 3 events in ${config.topics.events}`);
  }, 60_000);

  it('refuses to rebuild under a consumer that is still running', async () => {
    const config = await short('live');
    const member = await groupMember(config);
    try {
      await expect(reconcileStores({ config, aws, kafka })).rejects.toThrow(
        `consumers of ${dynamoSinkGroupId(config)} are still running`,
      );
    } finally {
      await member.stop();
    }
  }, 60_000);
});
