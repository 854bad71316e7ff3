/**
 * Processes the lab started that it knows only by PID (keepalived's VRRP child, CPU hogs
 * in the benchmarks): ended by PID, and only while their /proc start time is still the
 * one recorded when they were found, so a reused PID is never signalled.
 */
import { readFileSync } from 'node:fs';

/** /proc/PID/stat fields after the command (index 0 = field 3, "state"), or undefined if gone. */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined if gone. */
export function procStartTime(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

/** The parent's PID (field 4), or undefined if gone. */
export function procParent(pid: number): number | undefined {
  const s = procStat(pid);
  return s ? Number(s[1]) : undefined;
}

/** Whether `pid` runs: it exists and is not a zombie. */
export function procRunning(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** utime + stime of the whole process (all threads), in clock ticks. */
export function procCpuTicks(pid: number): number | undefined {
  const s = procStat(pid);
  return s ? Number(s[11]) + Number(s[12]) : undefined;
}

/** A process identified by PID and start time. */
export class OwnedProcess {
  readonly startTime: string | undefined;
  constructor(readonly pid: number) {
    this.startTime = procStartTime(pid);
  }

  get alive(): boolean {
    const st = procStartTime(this.pid);
    return st !== undefined && st === this.startTime;
  }

  /** Sends `signal` if it is still the process that was found; false if it is gone. */
  kill(signal: NodeJS.Signals): boolean {
    if (!this.alive) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}
