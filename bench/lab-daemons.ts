/**
 * Bench helpers for the lab: one interface over a vigil daemon and a keepalived daemon
 * (both from src/lab, as the tests run them), the capture settings for long runs, CPU
 * hogs, and /proc readings.
 *
 * Safety: processes are started here or by the lab and ended only by their PID (a CPU
 * hog only while its /proc start time is still the one recorded when it was started).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { CaptureOptions } from '../src/lab/capture.js';
import { Keepalived, keepalivedConf } from '../src/lab/keepalived.js';
import type { Lab } from '../src/lab/netns.js';
import { OwnedProcess, procCpuTicks } from '../src/lab/proc.js';
import { VigilProcess, configYaml, instanceYaml } from '../src/lab/vigil.js';
import { until } from '../src/lab/wait.js';

export type DaemonKind = 'vigil' | 'keepalived';
export type { VrrpState } from '../src/lab/vigil.js';

export interface InstanceSpec {
  readonly name: string;
  readonly vrid: number;
  readonly priority: number;
  readonly intervalMs: number;
  /** "address/prefix" */
  readonly vips: readonly string[];
  /** eth0 when not given (a VLAN interface for more than 255 VRIDs). */
  readonly interface?: string;
}



export interface DaemonOptions {
  /** vigil only: global.realtime_priority (SCHED_RR). */
  readonly realtimePriority?: number;
  /** vigil only: more keys for every instance (4-space indented YAML lines). */
  readonly vigilInstanceExtra?: string;
}

/** vigil or keepalived in the lab: state per instance, PIDs, crash, graceful stop. */
export type BenchDaemon = VigilProcess | Keepalived;

/** Captures for the benchmarks: headers only, and a large kernel buffer (drops are counted). */
export const BENCH_CAPTURE: CaptureOptions = { snaplen: 128, bufferKiB: 8192 };

/** Starts `kind` on `host` with these instances; resolves once every instance has a state. */
export async function startDaemon(kind: DaemonKind, lab: Lab, host: string, specs: readonly InstanceSpec[], options: DaemonOptions = {}): Promise<BenchDaemon> {
  if (kind === 'vigil') {
    let yaml = configYaml(...specs.map((s) => instanceYaml({ name: s.name, vrid: s.vrid, priority: s.priority, interval: `${s.intervalMs}ms`, vips: s.vips, ...(s.interface ? { interface: s.interface } : {}), ...(options.vigilInstanceExtra ? { extra: options.vigilInstanceExtra } : {}) })));
    if (options.realtimePriority) yaml = `global:\n  realtime_priority: ${options.realtimePriority}\n${yaml}`;
    return VigilProcess.start(lab, host, yaml);
  }
  const k = await Keepalived.start(lab, host, keepalivedConf(`bench_${host}`, ...specs.map((s) => ({ name: s.name, vrid: s.vrid, priority: s.priority, version: 3 as const, advertInt: s.intervalMs / 1000, vips: s.vips, ...(s.interface ? { interface: s.interface } : {}) }))));
  try {
    await until(() => k.exited || k.count('backup') + k.count('master') + k.count('fault') >= specs.length, () => `keepalived on ${host} to start its instances`, 15000, 5);
    if (k.exited) throw new Error(`keepalived on ${host} exited: ${k.output}`);
  } catch (e) {
    await k.stop();
    throw e;
  }
  return k;
}

// ---------------------------------------------------------------------------------------
// /proc readings

export const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of the whole process (all threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const ticks = procCpuTicks(pid);
  if (ticks === undefined) throw new Error(`process ${pid} is gone`);
  return ticks / CLK_TCK;
}

/**
 * CPU time of the whole process (every thread) in seconds, in nanoseconds' precision:
 * the sum of the first field (time on the CPU, ns) of /proc/PID/task/TID/schedstat.
 * utime+stime count in clock ticks (10 ms at CLK_TCK 100), too coarse for an idle daemon:
 * 0.1 % of a core over 60 s is 6 ticks. Threads that ended between two readings drop out
 * of the sum, so read it only across windows where the thread set is steady.
 */
export function cpuSecondsPrecise(pid: number): number {
  return threadTotals(pid, false)[0] / 1e9;
}

/**
 * Every thread of `pid`: [ns on the CPU (schedstat), voluntary context switches, read only
 * when `switches`]. Threads that end between two readings drop out (the window's thread set
 * is steady).
 */
export function threadTotals(pid: number, switches: boolean): [number, number] {
  let ns = 0;
  let runs = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    throw new Error(`process ${pid} is gone`);
  }
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (switches) {
        const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
        runs += Number(m?.[1] ?? 0);
      }
    } catch {
      // The thread ended while we read.
    }
  }
  return [ns, runs];
}

/** VmRSS in KiB. */
export function rssKiB(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(text);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------
// CPU hogs: ended by PID when stopped, and on exit should the bench die first.

const hogsRunning = new Set<OwnedProcess>();
let exitHook = false;

export class CpuHogs {
  private readonly hogs: { child: ChildProcess; owned: OwnedProcess }[] = [];

  static start(n: number): CpuHogs {
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const o of hogsRunning) o.kill('SIGKILL');
      });
    }
    const h = new CpuHogs();
    for (let i = 0; i < n; i++) {
      const child = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
      if (child.pid !== undefined) {
        const owned = new OwnedProcess(child.pid);
        hogsRunning.add(owned);
        h.hogs.push({ child, owned });
      }
    }
    return h;
  }

  async stop(): Promise<void> {
    for (const { owned } of this.hogs) owned.kill('SIGKILL');
    await Promise.all(
      this.hogs.map(({ child }) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise<void>((r) => child.once('exit', () => r())))),
    );
    for (const { owned } of this.hogs) hogsRunning.delete(owned);
    this.hogs.length = 0;
  }
}

// ---------------------------------------------------------------------------------------
// Statistics and tables

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(xs: readonly number[]): Summary {
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** "3612.1 [3610.0–3620.4]" with `digits` decimals. */
export function fmtSummary(s: Summary | undefined, digits = 1): string {
  if (!s || s.n === 0) return 'n/a';
  return `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`;
}

export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

export function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v} is not a number`);
  return n;
}
