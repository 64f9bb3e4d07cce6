/**
 * Clean-up of what a test or benchmark created on the shared stack: its bucket's objects, its topics, its
 * consumer groups.
 */
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import type { Config } from '../../src/config';
import { pipelineTopics } from '../../src/resources/kafka-topics';

/** Deletes every object of the bucket (page by page), and the bucket too with `deleteBucket`. */
export async function emptyBucket(
  s3: S3Client,
  bucket: string,
  { deleteBucket = false } = {},
): Promise<void> {
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket })) {
    const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (objects.length > 0)
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
  }
  if (deleteBucket) await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** Deletes those of the config's pipeline topics that exist. */
export async function deletePipelineTopics(kafka: Kafka, config: Config): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = pipelineTopics(config)
      .map((t) => t.topic)
      .filter((t) => existing.has(t));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the config's consumer groups: all of them (sinks, readers, checkpoint groups) start with its client id. */
export async function deleteConsumerGroups(kafka: Kafka, config: Config): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((id) => id.startsWith(config.kafka.clientId));
    if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
