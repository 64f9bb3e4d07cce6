/**
 * The S3 sink registers each hour's partition in the Glue catalog as it writes the hour's first object, before it
 * commits the offsets: the rows are visible to Athena with no crawl. Real Kafka, moto S3, the local Glue + Athena
 * endpoint.
 */
import type { Kafka } from 'kafkajs';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/aws/clients';
import type { Config } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { hourlyPartitionPath } from '../../src/lake-format/cdc-layout';
import { createLogger } from '../../src/observability/logger';
import { ensureTopics, pipelineTopics } from '../../src/resources/kafka-topics';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { createS3Sink, s3SinkGroupId, type S3Sink } from '../../src/streaming/s3-sink/s3-sink';
import { waitFor } from '../../src/support/timing';
import { deletePipelineTopics, emptyBucket } from '../support/cleanup';
import { freshConfig } from '../support/fresh-config';
import { athenaCount, cdcPartitions, dropCatalog, provisionCatalog } from '../lake/lake-catalog-support';
import { cdcMessage, makeCdcEvents, produceMessages, waitForCommittedToEnd } from './s3-sink-support';

const sinks: S3Sink[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.stop().catch(() => undefined);
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function setup(label: string): Promise<{ config: Config; kafka: Kafka; aws: AwsClients }> {
  const config = freshConfig(label, {
    kafka: { sessionTimeoutMs: 6000 },
    s3Sink: { flushRecords: 400, rotateMs: 1000 },
  });
  const kafka = createKafka(config, 'test');
  const aws = createAwsClients(config);
  await ensureTopics(kafka.admin(), pipelineTopics(config));
  await ensureBucket(aws.s3, config);
  await provisionCatalog(aws, config);
  cleanups.push(async () => {
    await deletePipelineTopics(kafka, config);
    await emptyBucket(aws.s3, config.lake.bucket, { deleteBucket: true });
    await dropCatalog(aws, config);
    destroyAwsClients(aws);
  });
  return { config, kafka, aws };
}

async function committedOffsets(kafka: Kafka, config: Config): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [topic] = await admin.fetchOffsets({ groupId: s3SinkGroupId(config), topics: [config.topics.cdc] });
    return topic.partitions.map((p) => Number(p.offset));
  } finally {
    await admin.disconnect();
  }
}

describe('S3 sink partition registration', () => {
  it('makes the first objects of a new hour visible to an Athena count(*) on their partition with no crawl', async () => {
    const { config, kafka, aws } = await setup('partreg-visible');
    // Change times in the current hour (open), so the sink registers the hour as new.
    const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const events = makeCdcEvents(300, { start: new Date(hourStart), spacingMs: 10, orders: 60 });
    const path = hourlyPartitionPath(new Date(hourStart));
    const [dt, hour] = path.split('/').map((p) => p.split('=')[1]);
    const sink = createS3Sink({ config, logger: createLogger('partreg', config) });
    sinks.push(sink);
    await sink.start();
    await produceMessages(kafka, config.topics.cdc, events.map(cdcMessage));
    await waitForCommittedToEnd(kafka, s3SinkGroupId(config), config.topics.cdc);

    const partitions = await cdcPartitions(aws, config);
    expect(partitions).toEqual([
      {
        values: [dt, hour],
        location: `s3://${config.lake.bucket}/${config.lake.prefix}/orders_cdc/${path}/`,
      },
    ]);
    expect(await athenaCount(aws, config, `dt = '${dt}' AND hour = '${hour}'`)).toBe(300);
  });

  it('commits no offset of an object until its partition is registered', async () => {
    const { config, kafka, aws } = await setup('partreg-order');
    const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const events = makeCdcEvents(50, { start: new Date(hourStart), spacingMs: 10, orders: 10 });
    let glueDown = true;
    let refused = 0;
    // The catalog refuses BatchCreatePartition until the test lets it through.
    aws.glue.middlewareStack.add(
      (next, context) => async (args) => {
        if (glueDown && context.commandName === 'BatchCreatePartitionCommand') {
          refused++;
          throw Object.assign(new Error('catalog unavailable (test)'), { name: 'InternalServiceException' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'refuseBatchCreatePartition' },
    );
    const sink = createS3Sink({ config, logger: createLogger('partreg', config), glue: aws.glue });
    sinks.push(sink);
    await sink.start();
    await produceMessages(kafka, config.topics.cdc, events.map(cdcMessage));
    // The objects are in S3 and the registration was tried (and retried)...
    await waitFor('registration refused twice', async () => (refused >= 2 ? true : undefined), {
      timeoutMs: 60_000,
    });
    // ...but no record is committed as done while its partition is not registered: at most the segment's intent,
    // which commits the segment's first offset (0), never past it.
    expect((await committedOffsets(kafka, config)).every((offset) => offset <= 0)).toBe(true);
    glueDown = false;
    await waitForCommittedToEnd(kafka, s3SinkGroupId(config), config.topics.cdc);
    expect(await athenaCount(aws, config)).toBe(50);
  });
});
