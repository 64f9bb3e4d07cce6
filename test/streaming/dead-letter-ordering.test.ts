/**
 * When dead letters go out, against the real broker and moto: with the commit past the work they belong to, so a
 * restart before that commit publishes each letter once (on the replay) and a restart after it publishes none.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/aws/clients';
import { createS3Storage, type LakeStorage } from '../../src/lake-format/storage';
import { createLogger } from '../../src/observability/logger';
import { DLQ_HEADERS } from '../../src/streaming/dlq';
import { createS3Sink, s3SinkGroupId, type S3Sink } from '../../src/streaming/s3-sink/s3-sink';
import { freshConfig } from '../support/fresh-config';
import { provision, readTopic, waitFor, type StreamingEnv } from './helpers';
import {
  cdcMessage,
  makeCdcEvents,
  produceMessages,
  waitForCommittedToEnd,
  waitForLakeRows,
} from './s3-sink-support';

describe('dead letters of the S3 sink', () => {
  let env: StreamingEnv;
  let s3: S3Client;
  const sinks: S3Sink[] = [];

  beforeAll(async () => {
    env = await provision(
      freshConfig('dlq-order', {
        topics: { partitions: 1 },
        s3Sink: { flushRecords: 1000, rotateMs: 500, rotateRecordMs: 0 },
      }),
      { tables: false, bucket: true },
    );
    s3 = createS3Client(env.config);
  }, 60_000);

  afterAll(async () => {
    for (const sink of sinks) await sink.stop().catch(() => undefined);
    s3?.destroy();
    await env?.cleanup();
  });

  it('publishes a letter once across a restart before its segment is committed, and not again after', async () => {
    const { config, kafka } = env;
    const logger = createLogger('test-dlq-order', config);
    const events = makeCdcEvents(10);
    // One malformed message between valid ones, all in the one partition: offset 5.
    await produceMessages(kafka, config.topics.cdc, [
      ...events.slice(0, 5).map(cdcMessage),
      { key: 'order-bad', value: '{"not": "a change"' },
      ...events.slice(5).map(cdcMessage),
    ]);
    const real = createS3Storage({ s3, bucket: config.lake.bucket, logger });
    let failedPuts = 0;
    // S3 refuses every upload: the segment holding the malformed message is never durable, never committed.
    const down: LakeStorage = {
      ...real,
      put: async () => {
        failedPuts += 1;
        throw new Error('S3 is down');
      },
    };
    const first = createS3Sink({ config, logger, s3, storage: down, flushCheckIntervalMs: 100 });
    sinks.push(first);
    await first.start();
    await waitFor('an upload attempt of the first sink', async () => failedPuts >= 2, { timeoutMs: 60_000 });
    await first.stop();

    const second = createS3Sink({ config, logger, s3, flushCheckIntervalMs: 100 });
    sinks.push(second);
    await second.start();
    await waitForLakeRows(s3, config, 10);
    await waitForCommittedToEnd(kafka, s3SinkGroupId(config), config.topics.cdc);
    await second.stop();

    // A restart after the commit: it takes a new change, and replays nothing before it.
    const third = createS3Sink({ config, logger, s3, flushCheckIntervalMs: 100 });
    sinks.push(third);
    await third.start();
    await produceMessages(
      kafka,
      config.topics.cdc,
      makeCdcEvents(1, { sequenceBase: 200000000000000000000n, orders: 1 }).map(cdcMessage),
    );
    await waitForLakeRows(s3, config, 11);
    await waitForCommittedToEnd(kafka, s3SinkGroupId(config), config.topics.cdc);
    await third.stop();

    const letters = await readTopic(kafka, config.topics.cdcDlq, { expected: 1 });
    expect(letters).toHaveLength(1);
    expect(letters[0].key).toBe('order-bad');
    expect(letters[0].headers[DLQ_HEADERS.sourceOffset]).toBe('5');
    expect(letters[0].value?.toString()).toBe('{"not": "a change"');
  }, 180_000);
});
