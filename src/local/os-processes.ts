/**
 * Process management for the local stack on Linux: detached process groups, pid files that survive the
 * CLI, liveness that is not fooled by pid reuse, stopping a whole group, and finding who listens on a port.
 *
 * Every service runs as the leader of its own process group (spawned detached), so stopping it signals the
 * group and catches any helper processes it started: `down` leaves no orphans.
 */
import { execFile, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { connect } from 'node:net';
import { readProcStat } from '../support/process-liveness';
import { sleep } from '../support/timing';
import { StackError, type PortOwner } from './errors';

/** What a pid file records: enough to recognise the same process later (pid + kernel start time). */
export interface PidRecord {
  service: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: distinguishes our process from a later one that reuses the pid. */
  startTime: string;
  command: string;
  /** Who started it (e.g. `cli`, `test`, `main`), so a caller can stop only what it started. */
  owner: string;
  startedAt: string;
  logFile: string;
}

export function processStartTime(pid: number): string | undefined {
  return readProcStat(pid)?.startTime;
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '?';
  }
}

/** True when the recorded process is still the same live (non-zombie) process. */
export function isRecordAlive(record: PidRecord): boolean {
  const stat = readProcStat(record.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === record.startTime;
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') members.push(Number(entry));
  }
  return members;
}

export function readPidFile(file: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

export function writePidFile(file: string, record: PidRecord): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
}

export function removePidFile(file: string): void {
  rmSync(file, { force: true });
}

export interface SpawnedProcess {
  pid: number;
  /** Resolves with the exit code when the process exits (only observable by the process that spawned it). */
  exited: Promise<number | null>;
}

/**
 * Starts a detached process group writing stdout and stderr to `logFile` (appended, with a header line), and
 * lets the caller exit without waiting for it.
 */
export function spawnDetached(spec: {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
}): SpawnedProcess {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  writeFileSync(
    spec.logFile,
    `\n--- ${new Date().toISOString()} starting: ${spec.command} ${spec.args.join(' ')}\n`,
    {
      flag: 'a',
    },
  );
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
      child.once('error', () => resolve(null));
    });
    child.unref();
    if (child.pid === undefined) {
      // The reason (ENOENT, EACCES) only arrives asynchronously; the command is what the user needs to check.
      child.once('error', () => undefined);
      throw new StackError(`could not start ${spec.command}: not found or not executable`);
    }
    return { pid: child.pid, exited };
  } finally {
    closeSync(fd);
  }
}

/**
 * Stops a process group: SIGTERM, then SIGKILL to whatever is left after `graceMs`. Resolves once no live
 * member remains.
 */
export async function stopGroup(
  pgid: number,
  graceMs = 15_000,
): Promise<'stopped' | 'killed' | 'not-running'> {
  if (groupMembers(pgid).length === 0) return 'not-running';
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(100);
    if (groupMembers(pgid).length === 0) return 'stopped';
  }
  signalGroup(pgid, 'SIGKILL');
  for (let i = 0; i < 50 && groupMembers(pgid).length > 0; i++) await sleep(100);
  return 'killed';
}

/** Signals every process of a group; a group already gone (all exited and reaped) is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** The last `lines` lines of a log file (empty string when there is none). */
export function logTail(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log file)';
  const text = readFileSync(file, 'utf8');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Socket inodes in LISTEN state on `port`, any local address, IPv4 and IPv6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = LISTEN
      const localPort = parseInt(cols[1].split(':')[1], 16);
      if (localPort === port) inodes.add(cols[9]);
    }
  }
  return inodes;
}

/** True when something listens on the TCP port (on any local address). */
export function isPortListening(port: number): boolean {
  return listeningInodes(port).size > 0;
}

/**
 * Which process listens on `port`: /proc first (needs permission to read the owner's fds), then `ss -ltnp`.
 */
export async function findPortOwner(port: number): Promise<PortOwner | undefined> {
  const inodes = listeningInodes(port);
  if (inodes.size > 0) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${entry}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let target: string;
        try {
          target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        } catch {
          continue;
        }
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match && inodes.has(match[1])) return { pid: Number(entry), command: commandLine(Number(entry)) };
      }
    }
  }
  return ssPortOwner(port);
}

function ssPortOwner(port: number): Promise<PortOwner | undefined> {
  return new Promise((resolve) => {
    execFile('ss', ['-Hltnp', `sport = :${port}`], { timeout: 5000 }, (error, stdout) => {
      const match = error ? null : /pid=(\d+)/.exec(stdout);
      resolve(match ? { pid: Number(match[1]), command: commandLine(Number(match[1])) } : undefined);
    });
  });
}

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
