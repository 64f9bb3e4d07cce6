/**
 * The supervisor on real processes, on alternate ports and a temporary data dir so it never touches the
 * development stack: up, status, up again, down (no orphans), up again; a taken port; a service that dies.
 * moto is the real service used (the lightest); the generic node process service runs a small fixture.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/aws/clients';
import { configToEnv, loadConfig, withOverrides, type Config } from '../../src/config';
import {
  createNodeProcessService,
  installStack,
  PortInUseError,
  PROJECT_ROOT,
  ServiceDiedError,
  stackStatus,
  StackStartError,
  startStack,
  stopStack,
  type ServiceContext,
  type StackEvent,
} from '../../src/local';
import { groupMembers, isPortListening } from '../../src/local/os-processes';
import { freePort } from '../../src/support/net';
import { isProcessAlive } from '../../src/support/process-liveness';

const dirs: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stack-test-'));
  dirs.push(dir);
  return dir;
}

/** The default config with moto moved to `port` and a private data dir; the shared install dir is kept. */
function alternateConfig(motoPort: number, dataDir = tempDataDir()): Config {
  const url = `http://127.0.0.1:${motoPort}`;
  return withOverrides(loadConfig(), {
    aws: { endpoints: { s3: url, dynamodb: url, dynamodbStreams: url } },
    dataDir,
    logLevel: 'warn',
  });
}

function fixtureService(port: number, mode: 'serve' | 'crash') {
  return (ctx: ServiceContext) => [
    createNodeProcessService(
      ctx,
      { name: 'fixture', entry: 'test/local/fixtures/fixture-service.ts', args: [mode, String(port)] },
      { endpoint: { host: '127.0.0.1', port, local: true }, healthPath: '/health', stopGraceMs: 5000 },
    ),
  ];
}

/**
 * Starts a service on a port the OS just said was free. Another process may take it before the service binds it
 * (the supervisor needs the port up front, so it cannot bind 0): a start that lost that race, refused by the
 * supervisor's port check or by the service's own bind, tries again on a new port.
 */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (error) {
      const lostRace =
        error instanceof StackStartError &&
        error.failures.some(
          ({ error: cause }) =>
            (cause instanceof PortInUseError && cause.port === port) ||
            (cause instanceof ServiceDiedError && /EADDRINUSE|Address already in use/.test(cause.logTail)),
        );
      if (!lostRace || attempt === 3) throw error;
    }
  }
}

function runCli(config: Config, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'src/cli/stack.ts'), ...args],
      { cwd: PROJECT_ROOT, env: { ...process.env, ...configToEnv(config) }, timeout: 60_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
    );
  });
}

beforeAll(async () => {
  // Shared install dir: a no-op when installed, a one-time pip install otherwise.
  await installStack(loadConfig(), ['moto']);
}, 600_000);

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('local stack supervisor', () => {
  it('starts, reports, tolerates a second up, stops without orphans, and starts again', async () => {
    const events: StackEvent[] = [];
    const options = { owner: 'supervisor-test', report: (e: StackEvent) => events.push(e) };
    const { config, first } = await onFreePort(async (port) => {
      const config = alternateConfig(port);
      cleanups.push(() => stopStack(config, ['moto']));
      return { config, first: await startStack(config, ['moto'], options) };
    });
    expect(first.started).toEqual(['moto']);
    const [running] = await stackStatus(config, ['moto']);
    expect(running).toMatchObject({ name: 'moto', state: 'running', owner: 'supervisor-test' });
    const pid = running.pid as number;
    const s3 = createS3Client(config);
    await s3.send(new CreateBucketCommand({ Bucket: 'supervisor-test' }));
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toContain(
      'supervisor-test',
    );

    // up twice: nothing new started, the same process keeps serving.
    const second = await startStack(config, ['moto'], options);
    expect(second.started).toEqual([]);
    expect(second.services[0]).toMatchObject({ state: 'running', pid });
    expect(events.some((e) => e.service === 'moto' && e.message.startsWith('already running (pid'))).toBe(
      true,
    );

    // The CLI sees the same stack through its pid files.
    const cli = await runCli(config, ['status', 'moto']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`moto\\s+running pid ${pid}, started by supervisor-test`));

    // A stack on another data dir sees it as external and never stops it.
    const other = withOverrides(config, { dataDir: tempDataDir() });
    expect((await stackStatus(other, ['moto']))[0]).toMatchObject({ state: 'external', pid });
    await stopStack(other, ['moto']);
    expect(isProcessAlive(pid)).toBe(true);

    const [stopped] = await stopStack(config, ['moto']);
    expect(stopped.state).toBe('stopped');
    expect(groupMembers(pid)).toEqual([]);
    expect(isPortListening(Number(new URL(config.aws.endpoints.s3 as string).port))).toBe(false);

    const third = await startStack(config, ['moto'], options);
    expect(third.started).toEqual(['moto']);
    expect(third.services[0].pid).not.toBe(pid);
    expect((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]); // moto keeps data in memory
    s3.destroy();
    await stopStack(config, ['moto']);
  }, 120_000);

  it('refuses to start on a taken port and names the port and the process holding it', async () => {
    // Reads (and drops) what it gets, so close() is not held up by a probe's half-closed connection.
    const blocker: Server = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const config = alternateConfig(port);
      const error = await startStack(config, ['moto'], { report: () => undefined }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StackStartError);
      const [failure] = (error as StackStartError).failures;
      expect(failure.error).toBeInstanceOf(PortInUseError);
      expect(failure.error).toMatchObject({ port, owner: { pid: process.pid } });
      expect((error as Error).message).toContain(`port ${port}`);
      expect((error as Error).message).toContain(`pid ${process.pid}`);
      expect((await stackStatus(config, ['moto']))[0]).toMatchObject({ state: 'blocked', pid: process.pid });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('supervises a node process service and stops its whole process group', async () => {
    // moto is not started here: its port only completes the config.
    const config = alternateConfig(await freePort());
    const { port, stack } = await onFreePort(async (port) => {
      const extraServices = fixtureService(port, 'serve');
      cleanups.push(() => stopStack(config, ['fixture'], { extraServices }));
      return {
        port,
        stack: await startStack(config, ['fixture'], { extraServices, report: () => undefined }),
      };
    });
    expect(stack.started).toEqual(['fixture']);
    const body = await (await fetch(`http://127.0.0.1:${port}/health`)).text();
    const helperPid = Number(body.split(' ')[1]);
    const leader = stack.services[0].pid as number;
    // tsx's esbuild service may be in the group too; what matters is that the helper is.
    expect(groupMembers(leader)).toEqual(expect.arrayContaining([leader, helperPid]));

    await stack.stopStarted();
    expect(isProcessAlive(helperPid)).toBe(false);
    expect(groupMembers(leader)).toEqual([]);
  }, 60_000);

  it('reports a service that dies while starting with the tail of its log', async () => {
    // Neither port is bound: the fixture crashes before it listens and moto is not started.
    const config = alternateConfig(await freePort());
    const extraServices = fixtureService(await freePort(), 'crash');
    const error = await startStack(config, ['fixture'], { extraServices, report: () => undefined }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StackStartError);
    const died = (error as StackStartError).failures[0].error;
    expect(died).toBeInstanceOf(ServiceDiedError);
    expect(died).toMatchObject({ service: 'fixture', exitCode: 3 });
    expect(died.message).toContain('deliberate crash');
    expect((await stackStatus(config, ['fixture'], { extraServices }))[0].state).toBe('stopped');
  }, 60_000);
});
