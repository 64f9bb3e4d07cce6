/**
 * Restarts keep the stores consistent, on a stack of this test's own (its own ports and data dir, so killing it
 * leaves the shared test stack alone), with the continuous `npm start` as a user runs it:
 *
 * 1. The stack is up on its own (`npm run stack -- up`): `npm start`, Ctrl-C, `npm start` again, Ctrl-C. The
 *    stack kept its data, so nothing is rebuilt, and the pipeline resumes where it stopped.
 * 2. `kill -9` of the whole stack and of `npm start` with its processes, then `npm start` again: moto comes back
 *    empty while Kafka, the catalog and Temporal kept theirs; `npm start` says so in one line and rebuilds.
 *
 * After each, `npm run soak -- check` drains and checks every store exactly, the events of every run included:
 * DynamoDB items at the seq of their order's latest event on orders.events, CDC records = the stream's changes,
 * S3 records = CDC records without duplicates, Athena count(*) = S3 records.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { topicMessageCount } from '../../src/cli/main-job/drain';
import { loadConfig } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { signalGroup } from '../../src/local/os-processes';
import { freePort, freePortPair } from '../../src/support/net';
import { waitFor } from '../../src/support/timing';

const ROOT = join(__dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'restart-'));
let env: NodeJS.ProcessEnv;
let kafka: Kafka;

interface Cli {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Throws, with the output, if the process has exited: a wait on its effects fails at once. */
  runningOrFail(): void;
}

function cli(entry: string, args: string[]): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    runningOrFail: () => {
      if (exitCode !== undefined) throw new Error(`${entry} exited (${exitCode}) early:\n${output}`);
    },
  };
}

/**
 * Events on orders.events (0 before the topic exists), asked until the broker answers: right after `stack up` a
 * restarted broker can refuse offsets for a moment, and reading that as 0 events made `npm start` look done at
 * once (a connection per call: the broker gets killed).
 */
async function eventsOnTopic(): Promise<number> {
  return waitFor(
    'the offsets of orders.events',
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        if (!(await admin.listTopics()).includes('orders.events')) return 0;
        return await topicMessageCount(admin, 'orders.events');
      } finally {
        await admin.disconnect();
      }
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

async function stackUp(): Promise<void> {
  const up = cli('src/cli/stack.ts', ['up']);
  const code = await up.exited;
  // Its output in the failure: a matcher would print only the exit code.
  if (code !== 0) throw new Error(`stack up exited with ${code}:\n${up.output()}`);
}

/** `npm start` until `moreEvents` more events are on orders.events, then Ctrl-C; its output. */
async function runThenCtrlC(moreEvents: number): Promise<string> {
  const before = await eventsOnTopic();
  const main = cli('src/cli/main.ts', ['--rate', '40', '--status-interval', '30']);
  await waitFor(
    `${moreEvents} more events from npm start`,
    async () => (await eventsOnTopic()) >= before + moreEvents,
    {
      timeoutMs: 240_000,
      intervalMs: 1000,
    },
  );
  signalGroup(main.child.pid!, 'SIGINT');
  const code = await main.exited;
  expect({ code, output: main.output() }).toEqual({ code: 0, output: expect.stringContaining('Stopping') });
  return main.output();
}

/** `npm run soak -- check`: exit 0 and its table, every row agreeing. */
async function checkStores(): Promise<string> {
  const check = cli('src/cli/soak.ts', ['check']);
  const code = await check.exited;
  expect({ code, output: check.output() }).toEqual({
    code: 0,
    output: expect.stringContaining('Every store agrees.'),
  });
  expect(check.output()).not.toContain('MISMATCH');
  expect(check.output()).toMatch(/DynamoDB orders = orders in orders\.events\s*│\s*\d+\s*│\s*\d+\s*│ ok/);
  return check.output();
}

/** Every process the stack and `npm start` recorded in the private data dir, killed with SIGKILL. */
function killEverything(): void {
  const pidDir = join(dataDir, 'stack');
  for (const file of readdirSync(pidDir).filter((f) => f.endsWith('.pid'))) {
    const { pid } = JSON.parse(readFileSync(join(pidDir, file), 'utf8')) as { pid: number };
    signalGroup(pid, 'SIGKILL');
  }
}

beforeAll(async () => {
  const [temporal, broker, moto, lake] = [
    await freePort(),
    await freePortPair(),
    await freePort(),
    await freePort(),
  ];
  env = {
    ...process.env,
    DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
    TEMPORAL_UI_URL: `http://127.0.0.1:${await freePort()}`,
    KAFKA_BROKERS: `127.0.0.1:${broker}`,
    AWS_ENDPOINT_URL: `http://127.0.0.1:${moto}`,
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${moto}`,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: `http://127.0.0.1:${moto}`,
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${moto}`,
    AWS_ENDPOINT_URL_GLUE: `http://127.0.0.1:${lake}`,
    AWS_ENDPOINT_URL_ATHENA: `http://127.0.0.1:${lake}`,
    LOG_LEVEL: 'warn',
  };
  kafka = createKafka(loadConfig(env), 'restart-test');
  // Up on its own, as `npm run stack -- up` leaves it: Ctrl-C of `npm start` then stops only the pipeline.
  await stackUp();
}, 300_000);

afterAll(async () => {
  await cli('src/cli/stack.ts', ['down']).exited;
  rmSync(dataDir, { recursive: true, force: true });
});

it('Ctrl-C and npm start again: the pipeline resumes on the stores it left, and every store agrees', async () => {
  const first = await runThenCtrlC(800);
  const second = await runThenCtrlC(800);
  for (const output of [first, second]) expect(output).not.toContain('rebuilding');
  await checkStores();
}, 900_000);

it('kill -9 of the whole stack and npm start again: moto is rebuilt from orders.events, and every store agrees', async () => {
  const main = cli('src/cli/main.ts', ['--rate', '40', '--status-interval', '30']);
  const before = await eventsOnTopic();
  await waitFor(
    'events from npm start',
    async () => {
      main.runningOrFail();
      return (await eventsOnTopic()) >= before + 800;
    },
    {
      retryErrors: false,
      timeoutMs: 240_000,
      intervalMs: 1000,
    },
  );
  killEverything();
  signalGroup(main.child.pid!, 'SIGKILL');
  await main.exited;

  await stackUp();
  const retained = await eventsOnTopic();
  const restarted = await runThenCtrlC(400);
  expect(restarted).toContain(
    'moto started empty while Kafka and the catalog kept their data: rebuilding DynamoDB, orders.cdc, ' +
      `the lake and the catalog from the ${retained} events in orders.events`,
  );
  await checkStores();
}, 900_000);
