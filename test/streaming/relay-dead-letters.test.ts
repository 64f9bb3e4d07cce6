/**
 * The CDC relay against the real local stack (moto's DynamoDB Streams, Kafka) with a stream record it cannot
 * convert: the record goes to the CDC dead-letter topic with its reason, shard and sequence number, in the page's
 * transaction, and the shard moves on past it instead of retrying it forever.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { withOverrides, type Config } from '../../src/config';
import type { CdcEvent } from '../../src/lake-format/lake-schema';
import { createLogger } from '../../src/observability/logger';
import { ordersStreamArn } from '../../src/resources/dynamodb-tables';
import { createCdcRelay, listStreamShards, type CdcRelay } from '../../src/streaming/cdc-relay/cdc-relay';
import { createLeaseTable } from '../../src/streaming/cdc-relay/lease-table';
import { DLQ_HEADERS } from '../../src/streaming/dlq';
import { freshConfig } from '../support/fresh-config';
import { provision, readStream, readTopic, waitForRelayCheckpoint, type StreamingEnv } from './helpers';

const logger = createLogger('test-relay-dlq', { logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error' });

/** A valid DynamoDB number with more digits than a JSON number holds exactly (util-dynamodb makes it a BigInt). */
const UNSAFE_NUMBER = '123456789012345678901234567890';

function relayConfig(label: string): Config {
  return withOverrides(freshConfig(label), {
    cdcRelay: { leaseDurationMs: 2_000, pollIntervalMs: 50, workerId: '' },
  });
}

describe('CDC relay dead letters', () => {
  let env: StreamingEnv;
  let relay: CdcRelay | undefined;

  afterAll(async () => {
    await relay?.stop();
    await env?.cleanup();
  }, 60_000);

  it('sends an unconvertible stream record to the CDC dead-letter topic and relays the changes after it', async () => {
    env = await provision(relayConfig('relay-dlq'), { checkpoints: true });
    const { config, aws, kafka } = env;
    const TableName = config.dynamodb.ordersTable;
    await aws.dynamodb.send(
      new PutItemCommand({
        TableName,
        Item: marshall({ orderId: 'good-1', status: 'CREATED', amount: 12.5 }),
      }),
    );
    await aws.dynamodb.send(
      new PutItemCommand({
        TableName,
        Item: { orderId: { S: 'bad-1' }, status: { S: 'CREATED' }, amount: { N: UNSAFE_NUMBER } },
      }),
    );
    await aws.dynamodb.send(
      new PutItemCommand({ TableName, Item: marshall({ orderId: 'good-2', status: 'CREATED', amount: 7 }) }),
    );
    const records = await readStream(aws, config);
    expect(records.map((r) => r.dynamodb?.Keys?.orderId?.S)).toEqual(['good-1', 'bad-1', 'good-2']);
    const bad = records[1];
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    const [shard] = await listStreamShards(aws.dynamodbStreams, streamArn);

    relay = createCdcRelay({
      config,
      kafka,
      dynamodb: aws.dynamodb,
      dynamodbStreams: aws.dynamodbStreams,
      logger,
    });
    await relay.start();

    // The checkpoint passes the bad record (the last record is after it): the shard did not stall on it.
    await waitForRelayCheckpoint(aws, config, records, 60_000);
    const [lease] = await createLeaseTable(aws.dynamodb, config.dynamodb.checkpointTable).list(streamArn);
    expect(BigInt(lease.checkpoint)).toBeGreaterThan(BigInt(bad.dynamodb!.SequenceNumber!));

    const changes = await readTopic(kafka, config.topics.cdc, { expected: 2 });
    expect(changes.map((m) => (JSON.parse(m.value!.toString()) as CdcEvent).orderId).sort()).toEqual([
      'good-1',
      'good-2',
    ]);

    const letters = await readTopic(kafka, config.topics.cdcDlq, { expected: 1 });
    expect(letters).toHaveLength(1);
    const [letter] = letters;
    expect(letter.key).toBe('bad-1');
    expect(letter.headers[DLQ_HEADERS.reason]).toMatch(
      /^unconvertible-record: the new image of stream record \d+ cannot be converted: number 123456789012345678901234567890 is beyond what a JSON number holds exactly/,
    );
    expect(letter.headers[DLQ_HEADERS.sourceStream]).toBe(streamArn);
    expect(letter.headers[DLQ_HEADERS.sourceShard]).toBe(shard.shardId);
    expect(letter.headers[DLQ_HEADERS.sourceSequenceNumber]).toBe(bad.dynamodb!.SequenceNumber);
    const served = JSON.parse(letter.value!.toString()) as typeof bad;
    expect(served.eventID).toBe(bad.eventID);
    expect(served.dynamodb?.NewImage?.amount).toEqual({ N: UNSAFE_NUMBER });
    expect(relay.stats().deadLetters).toBe(1);
  }, 120_000);
});
