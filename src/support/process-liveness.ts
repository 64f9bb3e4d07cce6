/**
 * What /proc says of a process (its state, group, start time, CPU time and memory) and whether it is alive.
 *
 * Whether a process is alive, on any POSIX system: signal 0 tests that the pid exists (EPERM: it does, owned by
 * someone else) without delivering anything. A zombie (exited, not yet reaped by its parent) still answers it, so
 * on Linux its state in /proc counts it as dead; where there is no /proc it counts as alive, the safe side for
 * callers that clean up after dead processes.
 */
import { readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat this project reads (Linux). */
export interface ProcStat {
  /** R, S, Z, ... */
  state: string;
  pgrp: number;
  /** Field 22, the start time: distinguishes a process from a later one that reuses its pid. */
  startTime: string;
  /** Fields 14 and 15, user plus system CPU time so far, in seconds (the kernel counts in ticks of 1/100 s). */
  cpuSeconds: number;
}

/** /proc/<pid>/stat, or undefined where there is no such file (no such process, or not Linux). */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return {
      state: rest[0],
      pgrp: Number(rest[2]),
      startTime: rest[19],
      cpuSeconds: (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A memory figure of /proc/<pid>/status in MB: `VmRSS` (resident now) or `VmHWM` (the highest it has been), or
 * undefined where there is no such process or no /proc.
 */
export function readProcMemoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function isProcessAlive(pid: number): boolean {
  // 0 and negative pids address process groups, not a process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return readProcStat(pid)?.state !== 'Z';
}
