/**
 * /healthz, /readyz and /metrics on real pipeline processes (src/observability/health.ts has the semantics):
 * alive at once, ready only once started and assigned, with the reasons when not.
 */
import { readFileSync } from 'node:fs';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients';
import { withOverrides, type Config } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { watchConsumers } from '../../src/kafka/health';
import { createReadiness } from '../../src/observability/health';
import { startPipelineProcesses } from '../../src/local';
import { findPortOwner } from '../../src/local/os-processes';
import { WORKER_PROCESS } from '../../src/local/pipeline-processes';
import { freePort } from '../../src/support/net';
import { waitFor } from '../../src/support/timing';
import { deletePipelineTopics } from '../support/cleanup';
import { freshConfig } from '../support/fresh-config';
import { spawnWorker, type WorkerProcess } from '../control/support';
import { spawnProcess, type ChildHandle } from '../streaming/helpers';

jest.setTimeout(120_000);

interface Answer {
  status: number;
  body: string;
}

async function get(url: string): Promise<Answer | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}

const answered = (url: string, status: number) =>
  waitFor(
    `${url} answering ${status}`,
    async () => {
      const answer = await get(url);
      return answer?.status === status ? answer : undefined;
    },
    { timeoutMs: 90_000 },
  );

const configs: Config[] = [];
const children: (ChildHandle | WorkerProcess)[] = [];

/** A fresh config whose topics and tables are deleted after the tests. */
function config(label: string, port: number, overrides: Partial<Config> = {}): Config {
  const fresh = withOverrides(freshConfig(label), { metricsPort: port, ...overrides });
  configs.push(fresh);
  return fresh;
}

afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.kill9()));
});

afterAll(async () => {
  const aws = createAwsClients(configs[0]);
  for (const c of configs) {
    await deletePipelineTopics(createKafka(c), c);
    for (const table of [c.dynamodb.ordersTable, c.dynamodb.checkpointTable])
      await aws.dynamodb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  }
  destroyAwsClients(aws);
});

describe('health endpoints of the streaming processes', () => {
  it('dynamo sink: alive at once, ready once its consumer joined its group, on METRICS_HOST', async () => {
    const port = await freePort('127.0.0.2');
    const c = config('health-sink', port, { metricsHost: '127.0.0.2' });
    const child = spawnProcess('dynamo-sink', 'src/streaming/dynamo-sink/main.ts', c, {
      env: { METRICS_PORT: String(port) },
    });
    children.push(child);
    const base = `http://127.0.0.2:${port}`;
    expect(JSON.parse((await answered(`${base}/healthz`, 200)).body)).toEqual({ status: 'alive' });
    expect(JSON.parse((await answered(`${base}/readyz`, 200)).body)).toEqual({ status: 'ready' });
    expect((await get(`${base}/metrics`))?.body).toContain('dynamo_sink_');
    // Bound to METRICS_HOST only: nothing answers on 127.0.0.1 at that port.
    expect(await get(`http://127.0.0.1:${port}/healthz`)).toBeUndefined();
  });

  it('says why it is not ready while it cannot reach Kafka, and stays alive', async () => {
    const port = await freePort();
    const deadBroker = await freePort();
    // Creates nothing: its broker does not exist.
    const c = withOverrides(freshConfig('health-nokafka'), {
      metricsPort: port,
      kafka: { brokers: [`127.0.0.1:${deadBroker}`] },
    });
    const child = spawnProcess('dynamo-sink', 'src/streaming/dynamo-sink/main.ts', c, {
      env: { METRICS_PORT: String(port) },
    });
    children.push(child);
    await answered(`http://127.0.0.1:${port}/healthz`, 200);
    const notReady = await answered(`http://127.0.0.1:${port}/readyz`, 503);
    expect(JSON.parse(notReady.body)).toEqual({ status: 'not ready', reasons: { process: 'starting' } });
  });

  it('CDC relay: ready once a lease round succeeded', async () => {
    const port = await freePort();
    const c = config('health-relay', port);
    const child = spawnProcess('cdc-relay', 'src/streaming/cdc-relay/main.ts', c, {
      env: { METRICS_PORT: String(port) },
    });
    children.push(child);
    expect(JSON.parse((await answered(`http://127.0.0.1:${port}/readyz`, 200)).body)).toEqual({
      status: 'ready',
    });
  });
});

describe('health endpoints of the worker', () => {
  it('is ready once running and connected, and serves the Temporal SDK metrics on the same /metrics', async () => {
    const port = await freePort();
    const worker = spawnWorker(config('health-worker', port));
    children.push(worker);
    await worker.ready;
    await answered(`http://127.0.0.1:${port}/healthz`, 200);
    expect(JSON.parse((await answered(`http://127.0.0.1:${port}/readyz`, 200)).body)).toEqual({
      status: 'ready',
    });
    const metrics = await waitFor('temporal_* metrics', async () => {
      const body = (await get(`http://127.0.0.1:${port}/metrics`))?.body ?? '';
      return /^temporal_\w+/m.test(body) ? body : undefined;
    });
    expect(metrics).toMatch(/^temporal_worker_start\b|^temporal_request\b|^temporal_long_request\b/m);
    expect(metrics).toContain('nodejs_heap_size_total_bytes');
  });
});

describe('health endpoints under the supervisor (what npm start runs)', () => {
  it('gives the worker a metrics endpoint like every other process, and its runtime environment', async () => {
    const group = await startPipelineProcesses(config('health-supervised', 0), [WORKER_PROCESS], {
      owner: 'health-test',
    });
    try {
      expect(group.endpoints.map((e) => e.name)).toEqual([WORKER_PROCESS.name]);
      const { metricsUrl } = group.endpoints[0];
      const metrics = await waitFor('the worker SDK metrics', async () => {
        const body = (await get(metricsUrl))?.body ?? '';
        return /^temporal_\w+/m.test(body) ? body : undefined;
      });
      expect(metrics).toContain('nodejs_heap_size_total_bytes');
      await answered(metricsUrl.replace(/\/metrics$/, '/readyz'), 200);
      // glibc reads its malloc settings from the process's own environment (WORKER_MALLOC_ENV).
      const owner = await findPortOwner(Number(new URL(metricsUrl).port));
      const environ = readFileSync(`/proc/${owner!.pid}/environ`, 'utf8').split('\0');
      expect(Object.keys(WORKER_PROCESS.env ?? {})).toContain('MALLOC_ARENA_MAX');
      for (const [name, value] of Object.entries(WORKER_PROCESS.env ?? {}))
        expect(environ).toContain(`${name}=${value}`);
    } finally {
      await group.handle.stopStarted();
    }
  });
});

describe('consumer readiness (kafkajs events on the real broker)', () => {
  it('is not ready until its group assignment, then ready; stalled after the silence limit; stopped', async () => {
    const c = config('health-consumer', -1);
    const readiness = createReadiness();
    let clock = Date.now();
    const kafka = watchConsumers(createKafka(c), readiness, 30_000, () => clock);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: c.topics.events, numPartitions: 1 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: `${c.kafka.clientId}-g` });
    const name = `kafka-consumer:${c.kafka.clientId}-g`;
    expect(readiness.state()).toEqual({ ready: false, reasons: { [name]: 'connecting' } });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: c.topics.events, fromBeginning: true });
      await consumer.run({ eachMessage: async () => undefined });
      await waitFor('consumer ready', async () => readiness.state().ready);
      clock += 31_000;
      expect(readiness.state().reasons[name]).toMatch(/^stalled: no heartbeat or fetch for 3\d s$/);
      await consumer.stop();
      expect(readiness.state().reasons[name]).toBe('stopped');
    } finally {
      await consumer.disconnect();
    }
    expect(readiness.state().reasons[name]).toBe('disconnected');
  });
});
