/**
 * Idempotently ensures the pipeline's Kafka topics: creates missing ones, adds partitions when the
 * configured count grew, and keeps retention (and the dead-letter topics' larger message size) as configured.
 */
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import type { Config } from '../config';
import { kafkaErrorOfType } from '../kafka/errors';
import type { EnsureOutcome } from '../contract/outcome';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  retentionMs: number;
  /** The topic's max.message.bytes (default: the broker's message.max.bytes). */
  maxMessageBytes?: number;
}

/**
 * max.message.bytes of the dead-letter topics. A dead letter is a source message (at most the broker's default
 * message.max.bytes, 1 MiB + 12 bytes) plus the dlq-* headers (a reason of up to 2,000 characters): with the
 * default limit, a source message near it could never be dead-lettered, and its partition would stall.
 */
export const DLQ_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

/** The topic configs this module manages, as the broker spells them. */
function topicConfigs(spec: TopicSpec): Record<string, string> {
  return {
    'retention.ms': String(spec.retentionMs),
    ...(spec.maxMessageBytes !== undefined ? { 'max.message.bytes': String(spec.maxMessageBytes) } : {}),
  };
}

/** The topics of the pipeline, from config: the two data topics and their dead-letter topics. */
export function pipelineTopics(config: Config): TopicSpec[] {
  const retentionMs = config.topics.retentionHours * 3_600_000;
  const { partitions } = config.topics;
  return [
    { topic: config.topics.events, numPartitions: partitions, retentionMs },
    { topic: config.topics.cdc, numPartitions: partitions, retentionMs },
    // Dead letters are few and read by people: one partition, kept as long as the data.
    { topic: config.topics.eventsDlq, numPartitions: 1, retentionMs, maxMessageBytes: DLQ_MAX_MESSAGE_BYTES },
    { topic: config.topics.cdcDlq, numPartitions: 1, retentionMs, maxMessageBytes: DLQ_MAX_MESSAGE_BYTES },
  ];
}

/**
 * @example
 *   const outcomes = await ensureTopics(kafka.admin(), pipelineTopics(config));
 */
export async function ensureTopics(
  admin: Admin,
  specs: TopicSpec[],
  replicationFactor = -1,
): Promise<EnsureOutcome[]> {
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        // kafkajs' own wait gives up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers for a moment
        // after creating a topic (its metadata cache lags the controller): waitForTopics below retries it.
        waitForLeaders: false,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.numPartitions,
          // -1 = the broker's default.replication.factor (1 locally, 3 on MSK)
          replicationFactor,
          configEntries: configEntries(s),
        })),
      });
    }
    if (missing.length > 0) await waitForTopics(admin, missing);
    const outcomes: EnsureOutcome[] = missing.map((s) => ({
      kind: 'kafka-topic',
      name: s.topic,
      action: 'created',
    }));
    const present = specs.filter((s) => existing.has(s.topic));
    if (present.length === 0) return outcomes;

    const metadata = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
    const drifts = await configDrift(admin, present);
    for (const spec of present) {
      const changes: string[] = [];
      const current = metadata.topics.find((t) => t.name === spec.topic)?.partitions.length ?? 0;
      if (current < spec.numPartitions) {
        await admin.createPartitions({ topicPartitions: [{ topic: spec.topic, count: spec.numPartitions }] });
        changes.push(`partitions ${current} -> ${spec.numPartitions}`);
      }
      const drift = drifts.get(spec.topic) ?? [];
      if (drift.length > 0) {
        // AlterConfigs sets the whole set of a topic's overrides: every managed config goes in at once.
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: spec.topic,
              configEntries: configEntries(spec),
            },
          ],
        });
        await waitForConfigs(admin, spec);
        changes.push(...drift);
      }
      outcomes.push({
        kind: 'kafka-topic',
        name: spec.topic,
        action: changes.length > 0 ? 'updated' : 'exists',
        ...(changes.length > 0 ? { detail: changes.join(', ') } : {}),
      });
    }
    return outcomes;
  } finally {
    await admin.disconnect();
  }
}

/** The managed configs of a topic as kafkajs takes them. */
function configEntries(spec: TopicSpec): { name: string; value: string }[] {
  return Object.entries(topicConfigs(spec)).map(([name, value]) => ({ name, value }));
}

/** Per topic, each managed config whose value on the broker is not the spec's, as `name current -> wanted`. */
async function configDrift(admin: Admin, specs: TopicSpec[]): Promise<Map<string, string[]>> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: specs.map((s) => ({
      type: ConfigResourceTypes.TOPIC,
      name: s.topic,
      configNames: Object.keys(topicConfigs(s)),
    })),
  });
  return new Map(
    specs.map((spec) => {
      const entries = described.resources.find((r) => r.resourceName === spec.topic)?.configEntries ?? [];
      const drift = Object.entries(topicConfigs(spec)).flatMap(([name, value]) => {
        const current = entries.find((e) => e.configName === name)?.configValue;
        return current === value ? [] : [`${name} ${current} -> ${value}`];
      });
      return [spec.topic, drift];
    }),
  );
}

/**
 * Waits until the broker describes the topic with the configs just altered: a KRaft broker applies them from the
 * controller's log a moment later, and a provisioning run right after must not see the old values as drift.
 */
async function waitForConfigs(admin: Admin, spec: TopicSpec, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const drift = (await configDrift(admin, [spec])).get(spec.topic) ?? [];
    if (drift.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `configs of ${spec.topic} altered but not applied after ${timeoutMs} ms: ${drift.join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Errors a broker answers for a topic it has just created, until its metadata catches up. */
const NOT_YET_VISIBLE = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/** Waits until every partition of the new topics has a leader (what producers and consumers need). */
async function waitForTopics(admin: Admin, specs: TopicSpec[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let reason: string;
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
      const notReady = specs.filter((spec) => {
        const partitions = topics.find((t) => t.name === spec.topic)?.partitions ?? [];
        return partitions.length < spec.numPartitions || partitions.some((p) => p.leader < 0);
      });
      if (notReady.length === 0) return;
      reason = `no leader yet for ${notReady.map((s) => s.topic).join(', ')}`;
    } catch (error) {
      if (!kafkaErrorOfType(error, NOT_YET_VISIBLE)) throw error;
      reason = (error as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`topics created but not ready after ${timeoutMs} ms: ${reason}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
