/**
 * `npm start -- --duration N` for real, on the running stack (its own run-scoped names; a private data dir for its
 * pid files and a fresh task queue for its worker): it exits 0 with every row of the check table agreeing even
 * after a streaming process was killed and restarted, and deletes what it created; an order written behind the
 * pipeline's back makes it exit 1 naming the row; a killed run's leftovers are listed by `pipeline cleanup-runs`
 * and deleted by `cleanup-runs --delete`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients';
import { deleteRun, findRuns } from '../../src/cli/main-job/run-cleanup';
import { runScopedConfig } from '../../src/cli/main-job/run-scope';
import { configToEnv, loadConfig, withOverrides } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { STREAMING_PROCESSES, WORKER_PROCESS } from '../../src/local/pipeline-processes';
import { isProcessAlive } from '../../src/support/process-liveness';
import { uniqueSuffix } from '../support/fresh-config';
import { orderItem, ROOT, waitFor } from './support';

const dataDir = mkdtempSync(join(tmpdir(), 'bounded-run-'));
// Shared topics, tables and bucket as a user has them; the run scopes its own names. Private pid files and task queue.
const config = withOverrides(loadConfig(), {
  dataDir,
  temporal: { taskQueue: `bounded-run-${uniqueSuffix()}` },
  logLevel: 'warn',
});
const aws = createAwsClients(config);
const kafka = createKafka(config, 'bounded-run-test');
const runIds: string[] = [];

afterAll(async () => {
  // A run that failed half-way, or the killed one, may have left processes and resources.
  killRunProcesses();
  for (const runId of runIds) await deleteRun({ aws, kafka }, config, runId).catch(() => undefined);
  destroyAwsClients(aws);
  rmSync(dataDir, { recursive: true, force: true });
});

interface RunningCli {
  output(): string;
  exited: Promise<number | null>;
  kill9(): void;
}

function runCli(entry: string, args: string[]): RunningCli {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...configToEnv(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: () => output, exited, kill9: () => child.kill('SIGKILL') };
}

function startBoundedRun(args: string[]): RunningCli & { runId: Promise<string> } {
  const run = runCli('src/cli/main.ts', ['--rate', '20', '--status-interval', '60', ...args]);
  const runId = waitFor('the run id', async () => {
    const id = /bounded run (\d{8}t\d{6})/.exec(run.output())?.[1];
    if (id && !runIds.includes(id)) runIds.push(id);
    return id;
  });
  return { ...run, runId };
}

/** The pid of a process the run supervises (its pid file in the private data dir). */
function supervisedPid(name: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(dataDir, 'stack', `${name}.pid`), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

function killRunProcesses(): void {
  for (const { name } of [WORKER_PROCESS, ...STREAMING_PROCESSES]) {
    const pid = supervisedPid(name);
    if (pid && isProcessAlive(pid)) process.kill(-pid, 'SIGKILL');
  }
}

/** The rows of the printed check table: [check, expected, actual, verdict]. */
function checkRows(output: string): string[][] {
  return output
    .split('\n')
    .map((line) => line.split('│').map((cell) => cell.trim()))
    .filter((cells) => cells.length === 6 && /^(ok|MISMATCH)$/.test(cells[4]))
    .map((cells) => cells.slice(1, 5));
}

/** Waits for `text` in the run's output; a timeout shows the output's tail (what the run did instead). */
async function waitForOutput(run: RunningCli, text: string, timeoutMs: number): Promise<void> {
  await waitFor(`"${text}" in the output`, async () => run.output().includes(text), { timeoutMs }).catch(
    (error: Error) => {
      throw new Error(`${error.message}; the output ends with:\n${run.output().slice(-6000)}`);
    },
  );
}

async function leftovers(runId: string) {
  return (await findRuns({ aws, kafka }, config)).find((r) => r.runId === runId);
}

const tableExists = (table: string) => () =>
  aws.dynamodb.send(new DescribeTableCommand({ TableName: table })).then(
    () => true,
    () => false,
  );

describe('npm start -- --duration (bounded run)', () => {
  it('restarts a killed streaming process, exits 0 with every check agreeing, and deletes what it created', async () => {
    const run = startBoundedRun(['--duration', '20']);
    const runId = await run.runId;
    // Killed once the streaming processes are up (the run prints where to look right after starting them and
    // the generator), while the generator still sends: the DynamoDB sink's drain needs the restarted process. A
    // process that dies before it is ready fails the run's start instead (a start failure, not a restart).
    await waitForOutput(run, 'Ad-hoc query', 300_000);
    const firstPid = supervisedPid('dynamo-sink')!;
    process.kill(-firstPid, 'SIGKILL');
    await waitForOutput(run, 'dynamo-sink had exited: started again', 120_000);
    expect(supervisedPid('dynamo-sink')).not.toBe(firstPid);

    // The run's output in the failure message: it says which stage disagreed or failed.
    expect({ code: await run.exited, output: run.output().slice(-6000) }).toMatchObject({ code: 0 });
    const rows = checkRows(run.output());
    expect(rows.length).toBeGreaterThanOrEqual(9);
    expect(rows.filter((row) => row[3] !== 'ok')).toEqual([]);
    // Counts agree exactly; a bound ("< 6" objects after compaction) is met when its verdict is ok.
    const counts = rows.filter(([, expected]) => /^\d+$/.test(expected));
    expect(counts.length).toBeGreaterThanOrEqual(9);
    for (const [check, expected, actual] of counts)
      expect({ check, actual }).toEqual({ check, actual: expected });
    expect(run.output()).toContain('All counts agree.');
    expect(run.output()).toContain(`Deleting what run ${runId} created`);
    expect(await leftovers(runId)).toBeUndefined();
  }, 900_000);

  it("exits 1 naming the row when an order is written behind the pipeline's back", async () => {
    const run = startBoundedRun(['--duration', '5']);
    const runId = await run.runId;
    const table = runScopedConfig(config, runId).dynamodb.ordersTable;
    await waitFor("the run's orders table", tableExists(table), { timeoutMs: 300_000 });
    // A complete, valid order no event ever created: the relay and the S3 sink carry it like any other.
    await aws.dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: marshall({ ...orderItem(0), orderId: 'behind-its-back' }),
      }),
    );

    expect({ code: await run.exited, output: run.output().slice(-6000) }).toMatchObject({ code: 1 });
    expect(run.output()).toContain('Counts DO NOT agree');
    const rows = checkRows(run.output());
    expect(rows.filter((row) => row[3] === 'MISMATCH').map((row) => row[0])).toEqual([
      'DynamoDB orders = orders generated',
    ]);
    const [, expected, actual] = rows.find((row) => row[0] === 'DynamoDB orders = orders generated')!;
    expect(Number(actual)).toBe(Number(expected) + 1);
    expect(run.output()).toContain('Counts DO NOT agree');
  }, 900_000);

  it('leaves a killed run to cleanup-runs, which lists it without --delete and deletes it with', async () => {
    const run = startBoundedRun(['--duration', '600']);
    const runId = await run.runId;
    const scoped = runScopedConfig(config, runId);
    await waitFor("the run's orders table", tableExists(scoped.dynamodb.ordersTable), { timeoutMs: 300_000 });
    await waitFor('the streaming processes', async () => run.output().includes('Ad-hoc query'), {
      timeoutMs: 300_000,
    });
    run.kill9();
    await run.exited;
    killRunProcesses();

    const listed = runCli('src/cli/pipeline.ts', ['cleanup-runs', '--run', runId]);
    expect({ code: await listed.exited, output: listed.output() }).toMatchObject({ code: 0 });
    expect(listed.output()).toContain(runId);
    expect(listed.output()).toContain('leftover');
    expect(listed.output()).toContain(scoped.topics.events);
    const found = await leftovers(runId);
    expect(found?.live).toBe(false);
    expect(found?.resources).toEqual(
      expect.arrayContaining([
        { kind: 'topic', name: scoped.topics.events },
        { kind: 'DynamoDB table', name: scoped.dynamodb.ordersTable },
        { kind: 'Glue database', name: scoped.glue.database },
        { kind: 'crawler', name: scoped.glue.crawler },
      ]),
    );

    const deleted = runCli('src/cli/pipeline.ts', ['cleanup-runs', '--delete', '--run', runId]);
    expect({ code: await deleted.exited, output: deleted.output() }).toMatchObject({ code: 0 });
    expect(deleted.output()).toContain('deleted');
    expect(await leftovers(runId)).toBeUndefined();
    expect(await tableExists(scoped.dynamodb.ordersTable)()).toBe(false);
  }, 900_000);
});
