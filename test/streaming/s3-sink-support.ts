/**
 * Shared helpers of the S3 sink tests and benchmark: realistic CdcEvents, producing them to a fresh topic,
 * and waiting for the lake to hold what was sent.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka, Message } from 'kafkajs';
import type { Config } from '../../src/config';
import type { CdcEvent } from '../../src/lake-format/lake-schema';
import { ORDER_LIFECYCLES, STATUS_AFTER, type OrderState } from '../../src/domain/order-event';
import { readLakeRecords, type LakeRecord } from '../../src/lake-format/lake-reader';
import { waitFor } from '../../src/support/timing';

export interface CdcEventOptions {
  /** First change time; changes are spread `spacingMs` apart from there. */
  start?: Date;
  spacingMs?: number;
  orders?: number;
  shardId?: string;
  /** Sequence numbers start after this (keeps them unique across calls). */
  sequenceBase?: bigint;
}

const EVENT_TYPES = ORDER_LIFECYCLES.complete;

/** n changes over `orders` orders: INSERT for the first version, MODIFY after, every 7th order removed at the end. */
export function makeCdcEvents(n: number, options: CdcEventOptions = {}): CdcEvent[] {
  const start = (options.start ?? new Date('2024-05-01T09:40:00.000Z')).getTime();
  const spacing = options.spacingMs ?? 1000;
  const orders = options.orders ?? Math.max(1, Math.ceil(n / 4));
  const shardId = options.shardId ?? 'shardId-00000001700000000000-aaaaaaaa';
  const base = options.sequenceBase ?? 100000000000000000000n;
  const versions = new Map<string, OrderState>();
  const events: CdcEvent[] = [];
  for (let i = 0; i < n; i++) {
    const orderId = `order-${String(i % orders).padStart(6, '0')}`;
    const changeTime = new Date(start + i * spacing).toISOString();
    const previous = versions.get(orderId);
    const version = (previous?.version ?? 0) + 1;
    const remove = previous !== undefined && version > 4 && (i % orders) % 7 === 0;
    const state: OrderState = {
      orderId,
      customerId: `customer-${(i % orders) % 97}`,
      status: STATUS_AFTER[EVENT_TYPES[Math.min(version, 4) - 1]],
      version,
      amount: Math.round(((i % orders) * 13.37 + 5) * 100) / 100,
      currency: 'EUR',
      region: 'eu-west',
      itemCount: 1 + ((i % orders) % 5),
      createdAt: new Date(start + (i % orders) * spacing).toISOString(),
      updatedAt: changeTime,
      lastEventId: `event-${i}`,
      lastEventType: EVENT_TYPES[Math.min(version, 4) - 1],
    };
    events.push({
      op: remove ? 'REMOVE' : previous ? 'MODIFY' : 'INSERT',
      orderId,
      sequenceNumber: String(base + BigInt(i)),
      changeTime,
      shardId,
      eventId: `${shardId.slice(-8)}-${(base + BigInt(i)).toString(16)}`,
      newImage: remove ? null : (state as unknown as Record<string, unknown>),
      oldImage: previous ? (previous as unknown as Record<string, unknown>) : null,
    });
    if (remove) versions.delete(orderId);
    else versions.set(orderId, state);
  }
  return events;
}

export function cdcMessage(event: CdcEvent): Message {
  return { key: event.orderId, value: JSON.stringify(event) };
}

/** Produces messages keyed as the relay does, in chunks (acks from all replicas). */
export async function produceMessages(
  kafka: Kafka,
  topic: string,
  messages: Message[],
  chunk = 2000,
): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + chunk) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Waits until the lake holds at least `count` rows, then returns them (a count above it is returned too). */
export async function waitForLakeRows(
  s3: S3Client,
  config: Config,
  count: number,
  timeoutMs = 60_000,
): Promise<LakeRecord[]> {
  return waitFor(
    `${count} rows in s3://${config.lake.bucket}`,
    async () => {
      const rows = await readLakeRecords(s3, config);
      return rows.length >= count ? rows : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** Waits until the group has committed every partition of the topic up to its end (nothing left to replay). */
export async function waitForCommittedToEnd(
  kafka: Kafka,
  groupId: string,
  topic: string,
  timeoutMs = 60_000,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      `group ${groupId} committed to the end of ${topic}`,
      async () => {
        const [ends, committed] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        const byPartition = new Map(committed[0].partitions.map((p) => [p.partition, Number(p.offset)]));
        const behind = ends.filter(
          (end) => Number(end.high) > 0 && byPartition.get(end.partition) !== Number(end.high),
        );
        return behind.length === 0 ? true : undefined;
      },
      { timeoutMs },
    );
  } finally {
    await admin.disconnect();
  }
}

/** The expected lake row of a change, normalized as readLakeRecords returns it. */
export function expectedRecord(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]));
}
