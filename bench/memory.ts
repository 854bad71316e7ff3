/**
 * Memory of a running daemon, vigil beside keepalived, at 1 and 200 instances (host a all
 * masters, host b all backups, 100 ms adverts), read from /proc/PID/smaps_rollup:
 *   - private: Anonymous (heap, stacks, malloc: what the daemon itself costs),
 *   - file: Rss − Anonymous (mostly the shared, file-backed Node or keepalived binary
 *     and libraries, shared with every other process that maps them),
 *   - growth: private at the end minus private 5 s after start, over the window.
 * keepalived is its parent and VRRP child together. Then the idle CPU of one instance at
 * 1 s adverts (target < 0.1 % of a core), from the schedstat of every thread (ns; utime+stime
 * count 10 ms ticks, 6 of them in 60 s at 0.1 %), over a window that opens after a warm-up:
 * V8's memory reducer runs a few full GCs in the first ~10 s of a Node process, which the
 * steady state does not have (the first seconds are reported apart).
 * Environment: VIGIL_BENCH_MEM_SECONDS (window, default 120), VIGIL_BENCH_IDLE_SECONDS (default 60),
 * VIGIL_BENCH_IDLE_WARMUP (seconds after the election, default 15).
 */
import { readFileSync } from 'node:fs';
import { withLab } from '../src/lab/netns.js';
import { sleep, until } from '../src/lab/wait.js';
import { cpuSecondsPrecise, printTable, startDaemon, type BenchDaemon, type DaemonKind, type InstanceSpec } from './lab-daemons.js';

export interface Smaps {
  readonly rssKiB: number;
  readonly anonKiB: number;
}

/** Rss and Anonymous of /proc/PID/smaps_rollup, in KiB. */
export function smapsRollup(pid: number): Smaps {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/${pid}/smaps_rollup has no ${name} line`);
    return Number(m[1]);
  };
  return { rssKiB: field('Rss'), anonKiB: field('Anonymous') };
}

function total(d: BenchDaemon): Smaps {
  let rssKiB = 0;
  let anonKiB = 0;
  for (const pid of d.pids()) {
    const s = smapsRollup(pid);
    rssKiB += s.rssKiB;
    anonKiB += s.anonKiB;
  }
  return { rssKiB, anonKiB };
}

function specs(count: number, priority: number, intervalMs: number): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  for (let i = 1; i <= count; i++) {
    out.push({ name: `gw${i}`, vrid: i, priority, intervalMs, vips: [`10.213.${1 + Math.floor((i - 1) / 250)}.${((i - 1) % 250) + 1}/32`] });
  }
  return out;
}

interface MemoryRow {
  readonly kind: DaemonKind;
  readonly count: number;
  readonly role: 'master' | 'backup';
  readonly first: Smaps;
  readonly last: Smaps;
}

async function memoryLab(kind: DaemonKind, count: number, intervalMs: number, seconds: number): Promise<MemoryRow[]> {
  return withLab({ hosts: ['a', 'b'] }, async (lab) => {
    let a: BenchDaemon | undefined;
    let b: BenchDaemon | undefined;
    try {
      a = await startDaemon(kind, lab, 'a', specs(count, 200, intervalMs));
      b = await startDaemon(kind, lab, 'b', specs(count, 100, intervalMs));
      const aa = a;
      const bb = b;
      await until(() => aa.count('master') === count && bb.count('backup') === count, `${count} masters on a, ${count} backups on b`, 30000, 20);
      await sleep(5000);
      const firstA = total(a);
      const firstB = total(b);
      await sleep(Math.max(0, seconds * 1000 - 5000));
      return [
        { kind, count, role: 'master', first: firstA, last: total(a) },
        { kind, count, role: 'backup', first: firstB, last: total(b) },
      ];
    } finally {
      if (b) await b.stop().catch(() => undefined);
      if (a) await a.stop().catch(() => undefined);
    }
  });
}

/** % of a core over the first `warmup` seconds after the election, then over `seconds` after that. */
async function idleCpu(kind: DaemonKind, seconds: number, warmup: number): Promise<{ readonly early: number; readonly steady: number }> {
  return withLab({ hosts: ['a'] }, async (lab) => {
    const a = await startDaemon(kind, lab, 'a', specs(1, 200, 1000));
    try {
      await until(() => a.count('master') === 1, 'master on a', 30000, 20);
      const cpu = (): number => a.pids().reduce((s, pid) => s + cpuSecondsPrecise(pid), 0);
      const cpuA = cpu();
      const tA = performance.now();
      await sleep(warmup * 1000);
      const cpu0 = cpu();
      const t0 = performance.now();
      await sleep(seconds * 1000);
      const cpu1 = cpu();
      return { early: (100 * (cpu0 - cpuA)) / ((t0 - tA) / 1000), steady: (100 * (cpu1 - cpu0)) / ((performance.now() - t0) / 1000) };
    } finally {
      await a.stop().catch(() => undefined);
    }
  });
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);

export async function runMemoryBench(o: { kinds: readonly DaemonKind[]; counts: readonly number[]; seconds: number; idleSeconds: number; idleWarmup?: number }): Promise<void> {
  console.log(`\nMemory (MiB, /proc/PID/smaps_rollup), 100 ms adverts, after ${o.seconds} s; file = Rss − Anonymous (shared binary and libraries)`);
  const rows: string[][] = [];
  for (const count of o.counts) {
    for (const kind of o.kinds) {
      for (const r of await memoryLab(kind, count, 100, o.seconds)) {
        rows.push([`${r.kind} ${r.count} × ${r.role}`, mib(r.last.anonKiB), mib(r.last.rssKiB - r.last.anonKiB), mib(r.last.rssKiB), `${r.last.anonKiB >= r.first.anonKiB ? '+' : ''}${mib(r.last.anonKiB - r.first.anonKiB)}`]);
      }
    }
  }
  printTable(['daemon', 'private', 'file', 'RSS', `private growth over ${o.seconds - 5} s`], rows);
  if (o.idleSeconds > 0) {
    const warmup = o.idleWarmup ?? 15;
    console.log(`\nIdle CPU, 1 instance at 1 s adverts (master): the first ${warmup} s after the election, then over ${o.idleSeconds} s (schedstat)`);
    const idle: string[][] = [];
    for (const kind of o.kinds) {
      const r = await idleCpu(kind, o.idleSeconds, warmup);
      idle.push([kind, `${r.steady.toFixed(3)} %`, `${r.early.toFixed(3)} %`]);
    }
    printTable(['daemon', 'CPU, steady (% of a core)', `first ${warmup} s`], idle);
  }
}
