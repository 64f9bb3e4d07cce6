/**
 * The supervisor: installs what is missing, starts services as detached process groups, waits for each to be
 * ready, reports status, and stops what it started. State lives in pid files under `<dataDir>/stack/`, so the
 * CLI (`npm run stack -- up|down|status`), `npm start` and `npm test` all see the same stack.
 *
 * A service that answers on its port without a pid file of ours is "external" (say, a stack started by hand or
 * from another data dir): it is used as is and never stopped.
 *
 * @example
 *   const stack = await startStack(loadConfig(), ['moto', 'kafka'], { owner: 'test' });
 *   try { ... } finally { await stack.stopStarted(); }
 */
import { join } from 'node:path';
import { configToEnv, type Config } from '../config';
import { createLogger } from '../observability/logger';
import { sleep } from '../support/timing';
import {
  PortInUseError,
  ServiceDiedError,
  ServiceStartTimeoutError,
  StackError,
  StackStartError,
} from './errors';
import { installComponents, type Component, type InstallOptions } from './installer';
import { withLock } from './lock';
import { stackPaths } from './paths';
import { stackEndpoints } from './ports';
import {
  findPortOwner,
  groupMembers,
  isPortListening,
  isRecordAlive,
  logTail,
  processStartTime,
  readPidFile,
  removePidFile,
  spawnDetached,
  stopGroup,
  writePidFile,
  type PidRecord,
} from './os-processes';
import type { ServiceContext, StackService } from './service';
import { createStackServices, STACK_SERVICE_NAMES } from './services';

export type ServiceState =
  /** Started by this stack (pid file) and ready. */
  | 'running'
  /** Started by this stack, alive, not (yet) ready. */
  | 'not-ready'
  /** Ready on its port, but not started by this stack: used, never stopped. */
  | 'external'
  /** Its port is taken by something that is not this service. */
  | 'blocked'
  | 'stopped'
  /** Not part of this stack (entry point missing, remote endpoint). */
  | 'unavailable';

export interface ServiceStatus {
  name: string;
  state: ServiceState;
  pid?: number;
  /** Who started it (`cli`, `test`, `main`, ...), for services with a pid file. */
  owner?: string;
  addresses: string[];
  /** Why unavailable or blocked. */
  detail?: string;
  logFile: string;
}

export interface StackEvent {
  service: string;
  message: string;
}

export interface StackOptions {
  /** Recorded in pid files; `stopStack(..., { owner })` stops only services with this owner. */
  owner?: string;
  /** Temporal without the Web UI (tests). */
  headless?: boolean;
  /** Base environment of the child processes (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Progress for people; default: structured logs of the `local-stack` logger. */
  report?: (event: StackEvent) => void;
  /** More services to run the same way, e.g. the pipeline's own processes (createNodeProcessService). */
  extraServices?: (ctx: ServiceContext) => StackService[];
  /** Passed to the installer (tests of the fallbacks). */
  install?: Pick<InstallOptions, 'forceFallbacks'>;
}

export interface StackHandle {
  config: Config;
  /** Status of every requested service after start. */
  services: ServiceStatus[];
  /** Names of the services this call started (not the already-running or external ones). */
  started: string[];
  timings: { installMs: number; startMs: number };
  /** Stops only what this call started. */
  stopStarted(): Promise<void>;
}

interface Resolved {
  ctx: ServiceContext;
  services: StackService[];
  report: (event: StackEvent) => void;
}

function resolveServices(config: Config, names: string[] | undefined, options: StackOptions): Resolved {
  const paths = stackPaths(config);
  const ctx: ServiceContext = {
    config,
    paths,
    endpoints: stackEndpoints(config),
    env: { ...(options.env ?? process.env), ...configToEnv(config) },
    headless: options.headless ?? false,
  };
  const all = [...Object.values(createStackServices(ctx)), ...(options.extraServices?.(ctx) ?? [])];
  const wanted = names && names.length > 0 ? names : all.map((s) => s.name);
  const unknown = wanted.filter((name) => !all.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new StackError(
      `unknown service(s): ${unknown.join(', ')} (known: ${all.map((s) => s.name).join(', ')})`,
    );
  }
  const logger = createLogger('local-stack', config);
  const report =
    options.report ?? ((event: StackEvent) => logger.info({ service: event.service }, event.message));
  return { ctx, services: all.filter((s) => wanted.includes(s.name)), report };
}

/** The status of one service, from its pid file, its readiness probe and its ports. */
async function serviceStatus(service: StackService): Promise<ServiceStatus> {
  const base = { name: service.name, addresses: service.addresses(), logFile: service.logFile };
  const availability = service.availability();
  if (!availability.available)
    return { ...base, addresses: [], state: 'unavailable', detail: availability.reason };
  const record = readPidFile(service.pidFile);
  if (record && isRecordAlive(record)) {
    const ready = await service.isReady();
    return { ...base, state: ready ? 'running' : 'not-ready', pid: record.pid, owner: record.owner };
  }
  if (await service.isReady()) {
    const owner = service.ports()[0] ? await findPortOwner(service.ports()[0].port) : undefined;
    return {
      ...base,
      state: 'external',
      pid: owner?.pid,
      detail: 'not started by this stack: used, never stopped',
    };
  }
  for (const { port, label } of service.ports()) {
    if (isPortListening(port)) {
      const owner = await findPortOwner(port);
      return {
        ...base,
        state: 'blocked',
        pid: owner?.pid,
        detail: new PortInUseError(service.name, port, label, owner).message,
      };
    }
  }
  return { ...base, state: 'stopped' };
}

/**
 * Status of the stack's services (all by default).
 *
 * @example
 *   for (const s of await stackStatus(loadConfig())) console.log(s.name, s.state);
 */
export async function stackStatus(
  config: Config,
  names?: string[],
  options: StackOptions = {},
): Promise<ServiceStatus[]> {
  const { services } = resolveServices(config, names, options);
  return Promise.all(services.map(serviceStatus));
}

/** Installs what the (available) services need, without starting anything. */
export async function installStack(
  config: Config,
  names?: string[],
  options: StackOptions = {},
): Promise<Component[]> {
  const { ctx, services, report } = resolveServices(config, names, options);
  const components = services.filter((s) => s.availability().available).flatMap((s) => s.components);
  return installComponents(ctx.paths, components, {
    ...options.install,
    report: (message) => report({ service: 'install', message }),
  });
}

async function waitReady(
  service: StackService,
  record: PidRecord,
  exited?: Promise<number | null>,
): Promise<void> {
  let exitCode: number | null | undefined;
  void exited?.then((code) => (exitCode = code));
  const deadline = Date.now() + service.readyTimeoutMs;
  let delay = 100;
  for (;;) {
    if (await service.isReady()) return;
    if (exitCode !== undefined || !isRecordAlive(record)) {
      // Let the last lines reach the log file before reading its tail.
      await sleep(200);
      throw new ServiceDiedError(service.name, exitCode ?? null, service.logFile, logTail(service.logFile));
    }
    if (Date.now() > deadline) {
      const tail = logTail(service.logFile);
      await stopGroup(record.pid, service.stopGraceMs);
      removePidFile(service.pidFile);
      throw new ServiceStartTimeoutError(service.name, service.readyTimeoutMs, service.logFile, tail);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
}

type StartOutcome = 'started' | 'already-running' | 'external' | 'unavailable';

/** What `up` does with a service. Planning every service first means a port conflict starts nothing. */
type Plan = { action: 'skip' | 'external' | 'start' } | { action: 'wait'; record: PidRecord };

const isBuiltIn = (service: StackService) =>
  (STACK_SERVICE_NAMES as readonly string[]).includes(service.name);

async function planService(service: StackService, report: Resolved['report']): Promise<Plan> {
  const say = (message: string) => report({ service: service.name, message });
  const availability = service.availability();
  if (!availability.available) {
    say(`skipped: ${availability.reason}`);
    return { action: 'skip' };
  }
  const previous = readPidFile(service.pidFile);
  if (previous && isRecordAlive(previous)) return { action: 'wait', record: previous };
  if (previous) {
    say(`previous process (pid ${previous.pid}) is gone; its log: ${service.logFile}`);
    await stopOrphans(previous, service.stopGraceMs);
    removePidFile(service.pidFile);
  }
  if (await service.isReady()) {
    const owner = service.ports()[0] ? await findPortOwner(service.ports()[0].port) : undefined;
    say(
      `already running outside this stack${owner ? ` (pid ${owner.pid})` : ''}: using it, will not stop it`,
    );
    return { action: 'external' };
  }
  for (const { port, label } of service.ports()) {
    if (isPortListening(port)) throw new PortInUseError(service.name, port, label, await findPortOwner(port));
  }
  return { action: 'start' };
}

async function executePlan(
  ctx: ServiceContext,
  service: StackService,
  plan: Plan,
  owner: string,
  report: Resolved['report'],
): Promise<StartOutcome> {
  const say = (message: string) => report({ service: service.name, message });
  if (plan.action === 'skip') return 'unavailable';
  if (plan.action === 'external') {
    await service.afterReady?.();
    return 'external';
  }
  if (plan.action === 'wait') {
    await waitReady(service, plan.record);
    say(`already running (pid ${plan.record.pid}, started by ${plan.record.owner})`);
    await service.afterReady?.();
    return 'already-running';
  }
  await service.prepare?.();
  const spec = service.launch();
  const child = spawnDetached({
    command: spec.command,
    args: spec.args,
    cwd: spec.cwd,
    env: { ...ctx.env, ...spec.env },
    logFile: service.logFile,
  });
  const record: PidRecord = {
    service: service.name,
    pid: child.pid,
    startTime: processStartTime(child.pid) ?? '',
    command: [spec.command, ...spec.args].join(' '),
    owner,
    startedAt: new Date().toISOString(),
    logFile: service.logFile,
  };
  writePidFile(service.pidFile, record);
  say(`starting (pid ${child.pid}, log ${service.logFile})`);
  try {
    await waitReady(service, record, child.exited);
    await service.afterReady?.();
  } catch (error) {
    await stopGroup(child.pid, 2000);
    removePidFile(service.pidFile);
    throw error;
  }
  return 'started';
}

/**
 * Plans then starts one phase of services concurrently. A planning failure (port conflict) starts nothing in
 * the phase; returns the outcome per service name.
 */
async function startPhase(
  ctx: ServiceContext,
  phase: StackService[],
  owner: string,
  report: Resolved['report'],
): Promise<Map<string, PromiseSettledResult<StartOutcome>>> {
  const outcomes = new Map<string, PromiseSettledResult<StartOutcome>>();
  const plans = await Promise.allSettled(phase.map((service) => planService(service, report)));
  if (plans.some((p) => p.status === 'rejected')) {
    phase.forEach((service, i) => {
      const plan = plans[i];
      if (plan.status === 'rejected') outcomes.set(service.name, plan);
    });
    return outcomes;
  }
  const results = await Promise.allSettled(
    phase.map((service, i) =>
      executePlan(ctx, service, (plans[i] as PromiseFulfilledResult<Plan>).value, owner, report),
    ),
  );
  phase.forEach((service, i) => outcomes.set(service.name, results[i]));
  return outcomes;
}

/** Kills what is left of a dead leader's group: members that started after it (its children). */
async function stopOrphans(record: PidRecord, graceMs: number): Promise<void> {
  const leftovers = groupMembers(record.pid).filter(
    (pid) => Number(processStartTime(pid)) >= Number(record.startTime),
  );
  if (leftovers.length > 0) await stopGroup(record.pid, graceMs);
}

/**
 * Installs what is missing, starts the requested services (all by default) that are not already up, and waits
 * until each is ready. If any fails, what this call started is stopped again and a StackStartError lists every
 * failure. Calling it when the stack is up is harmless and quick.
 */
export async function startStack(
  config: Config,
  names?: string[],
  options: StackOptions = {},
): Promise<StackHandle> {
  const resolved = resolveServices(config, names, options);
  const { ctx, services, report } = resolved;
  const owner = options.owner ?? 'api';

  const installStarted = Date.now();
  const needed = services.filter((s) => s.availability().available).flatMap((s) => s.components);
  const installed = await installComponents(ctx.paths, needed, {
    ...options.install,
    report: (message) => report({ service: 'install', message }),
  });
  const installMs = Date.now() - installStarted;
  if (installed.length > 0)
    report({
      service: 'install',
      message: `installed ${installed.join(', ')} in ${(installMs / 1000).toFixed(1)} s`,
    });

  const startStarted = Date.now();
  // One `up` at a time per data dir, so two callers never spawn the same service twice. The servers start
  // concurrently; the pipeline's own processes (extra services) only once every server is up.
  const outcomes = await withLock(join(ctx.paths.pidDir, '.supervisor.lock'), async () => {
    const servers = await startPhase(ctx, services.filter(isBuiltIn), owner, report);
    if ([...servers.values()].some((o) => o.status === 'rejected')) return servers;
    const extras = await startPhase(
      ctx,
      services.filter((s) => !isBuiltIn(s)),
      owner,
      report,
    );
    return new Map([...servers, ...extras]);
  });
  const startMs = Date.now() - startStarted;

  const started = services
    .filter((s) => {
      const outcome = outcomes.get(s.name);
      return outcome?.status === 'fulfilled' && outcome.value === 'started';
    })
    .map((s) => s.name);
  const stopStarted = async () => {
    if (started.length > 0) await stopStack(config, started, { ...options, owner });
  };
  const failures = services.flatMap((service) => {
    const outcome = outcomes.get(service.name);
    return outcome?.status === 'rejected' ? [{ service: service.name, error: outcome.reason as Error }] : [];
  });
  if (failures.length > 0) {
    await stopStarted();
    throw new StackStartError(failures);
  }
  const statuses = await Promise.all(services.map(serviceStatus));
  for (const status of statuses) {
    if (status.state === 'running' || status.state === 'external') {
      for (const address of status.addresses) report({ service: status.name, message: `ready: ${address}` });
    }
  }
  if (started.length > 0)
    report({
      service: 'stack',
      message: `started ${started.join(', ')} in ${(startMs / 1000).toFixed(1)} s`,
    });
  return { config, services: statuses, started, timings: { installMs, startMs }, stopStarted };
}

/** Alias of startStack for callers that only need the stack up (benchmarks, the main job). */
export const ensureStackUp = startStack;

/**
 * Stops the requested services (all by default) that this stack started, whole process groups, and removes
 * their pid files. External services are left alone. With `owner`, only services started by that owner stop.
 */
export async function stopStack(
  config: Config,
  names?: string[],
  options: Pick<StackOptions, 'owner' | 'report' | 'extraServices'> = {},
): Promise<ServiceStatus[]> {
  const { services, report } = resolveServices(config, names, options);
  const stopOne = async (service: StackService) => {
    const say = (message: string) => report({ service: service.name, message });
    const record = readPidFile(service.pidFile);
    if (!record) {
      if (service.availability().available && (await service.isReady()))
        say('running outside this stack: left running');
      return;
    }
    if (options.owner && record.owner !== options.owner) {
      say(`started by ${record.owner}, not ${options.owner}: left running`);
      return;
    }
    if (isRecordAlive(record)) {
      const how = await stopGroup(record.pid, service.stopGraceMs);
      say(
        how === 'killed'
          ? `killed (pid ${record.pid}) after ${service.stopGraceMs / 1000} s`
          : `stopped (pid ${record.pid})`,
      );
    } else {
      await stopOrphans(record, service.stopGraceMs);
      say(`was not running (stale pid file removed)`);
    }
    removePidFile(service.pidFile);
  };
  // Reverse start order: the pipeline's own processes first (they commit offsets to Kafka as they stop).
  await Promise.all(services.filter((s) => !isBuiltIn(s)).map(stopOne));
  await Promise.all(services.filter(isBuiltIn).map(stopOne));
  return Promise.all(services.map(serviceStatus));
}

export { STACK_SERVICE_NAMES };
