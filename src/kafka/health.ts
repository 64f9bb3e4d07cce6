/**
 * Readiness of the consumers a Kafka client creates, from kafkajs's instrumentation events (see
 * src/observability/health.ts for what /readyz promises).
 */
import type { Consumer, ConsumerConfig, Kafka } from 'kafkajs';
import type { Readiness } from '../observability/health';

/**
 * Makes every consumer `kafka` creates from now on report to `readiness` as `kafka-consumer:<group>`: ready once
 * it joined its group, until it rebalances, crashes, stops, or goes `stallMs` without a heartbeat or fetch.
 *
 * @example
 *   const kafka = watchConsumers(createKafka(config, 'dynamo-sink'), readiness, config.kafka.sessionTimeoutMs);
 */
export function watchConsumers(kafka: Kafka, readiness: Readiness, stallMs: number, now = Date.now): Kafka {
  const create = kafka.consumer.bind(kafka);
  kafka.consumer = (config: ConsumerConfig): Consumer => {
    const consumer = create(config);
    let state = 'connecting';
    let lastSignOfLife = now();
    const alive = () => {
      lastSignOfLife = now();
    };
    const { events } = consumer;
    consumer.on(events.CONNECT, () => {
      state = 'joining its group';
      alive();
    });
    consumer.on(events.GROUP_JOIN, () => {
      state = 'assigned';
      alive();
    });
    consumer.on(events.HEARTBEAT, alive);
    consumer.on(events.FETCH_START, alive);
    consumer.on(events.REBALANCING, () => {
      state = 'rebalancing';
    });
    consumer.on(events.CRASH, ({ payload }) => {
      state = `crashed: ${payload.error.message}${payload.restart ? ' (restarting)' : ''}`;
    });
    consumer.on(events.DISCONNECT, () => {
      state = 'disconnected';
    });
    consumer.on(events.STOP, () => {
      state = 'stopped';
    });
    readiness.add(`kafka-consumer:${config.groupId}`, () => {
      if (state !== 'assigned') return state;
      const silentMs = now() - lastSignOfLife;
      return silentMs > stallMs
        ? `stalled: no heartbeat or fetch for ${Math.round(silentMs / 1000)} s`
        : undefined;
    });
    return consumer;
  };
  return kafka;
}
