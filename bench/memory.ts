/**
 * Memory of a running daemon, vigil beside keepalived, at 1 and 200 instances (host a all
 * masters, host b all backups, 100 ms adverts), read from /proc/PID/smaps_rollup:
 *   - private: Anonymous (heap, stacks, malloc: what the daemon itself costs),
 *   - file: Rss − Anonymous (mostly the shared, file-backed Node or keepalived binary
 *     and libraries, shared with every other process that maps them),
 *   - growth: private at the end minus private 5 s after start, over the window;
 * and, for vigil, where its private memory is, from /proc/PID/smaps mapping by mapping
 * (smapsBreakdown below).
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

/** A vigil daemon's private memory (smaps Anonymous, KiB) by the kind of mapping it sits in. */
export interface SmapsBreakdown {
  /** glibc's main arena, the brk heap ([heap]). */
  readonly brk: number;
  /** Other malloc arenas: 64 MiB-aligned anonymous mappings followed by their reserve (---p). */
  readonly arenas: number;
  /** Thread stacks: anonymous mappings of 1 MiB or more right after a 4 KiB guard page. */
  readonly stacks: number;
  /** Executable anonymous mappings: V8's generated code. */
  readonly code: number;
  /** The rest of the anonymous mappings: V8's heap pages (256 KiB each) and malloc's mmap'd chunks. */
  readonly heap: number;
  /** Copy-on-write pages of file mappings (relocations, .data, .bss), the main stack, the rest. */
  readonly other: number;
}

/** /proc/PID/smaps mapping by mapping, sorted into SmapsBreakdown (heuristics for glibc on x86_64). */
export function smapsBreakdown(pid: number): SmapsBreakdown {
  interface Mapping { start: bigint; end: bigint; perms: string; name: string; anonKiB: number }
  const maps: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) {
      maps.push({ start: BigInt(`0x${m[1] ?? ''}`), end: BigInt(`0x${m[2] ?? ''}`), perms: m[3] ?? '', name: m[4] ?? '', anonKiB: 0 });
      continue;
    }
    const a = /^Anonymous:\s+(\d+) kB/.exec(line);
    const last = maps[maps.length - 1];
    if (a && last) last.anonKiB = Number(a[1]);
  }
  const ARENA_ALIGN = 64n << 20n;
  const out = { brk: 0, arenas: 0, stacks: 0, code: 0, heap: 0, other: 0 };
  maps.forEach((m, i) => {
    const prev = maps[i - 1];
    const next = maps[i + 1];
    if (m.name === '[heap]') out.brk += m.anonKiB;
    else if (m.name !== '' || m.perms === '---p') out.other += m.anonKiB;
    else if (m.start % ARENA_ALIGN === 0n && next?.perms === '---p' && next.start === m.end) out.arenas += m.anonKiB;
    else if (m.perms.includes('x')) out.code += m.anonKiB;
    else if (prev?.perms === '---p' && prev.end === m.start && prev.end - prev.start === 4096n && m.end - m.start >= 1n << 20n) out.stacks += m.anonKiB;
    else out.heap += m.anonKiB;
  });
  return out;
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
  /** vigil only (one process). */
  readonly breakdown?: SmapsBreakdown;
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
      const breakdown = (d: BenchDaemon): { breakdown?: SmapsBreakdown } => {
        const pid = d.pids()[0];
        return kind === 'vigil' && pid !== undefined ? { breakdown: smapsBreakdown(pid) } : {};
      };
      return [
        { kind, count, role: 'master', first: firstA, last: total(a), ...breakdown(a) },
        { kind, count, role: 'backup', first: firstB, last: total(b), ...breakdown(b) },
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
  const breakdowns: string[][] = [];
  for (const count of o.counts) {
    for (const kind of o.kinds) {
      for (const r of await memoryLab(kind, count, 100, o.seconds)) {
        rows.push([`${r.kind} ${r.count} × ${r.role}`, mib(r.last.anonKiB), mib(r.last.rssKiB - r.last.anonKiB), mib(r.last.rssKiB), `${r.last.anonKiB >= r.first.anonKiB ? '+' : ''}${mib(r.last.anonKiB - r.first.anonKiB)}`]);
        const b = r.breakdown;
        if (b) breakdowns.push([`${r.kind} ${r.count} × ${r.role}`, mib(b.heap), mib(b.code), mib(b.brk), mib(b.arenas), mib(b.stacks), mib(b.other)]);
      }
    }
  }
  printTable(['daemon', 'private', 'file', 'RSS', `private growth over ${o.seconds - 5} s`], rows);
  if (breakdowns.length > 0) {
    console.log('\nvigil\'s private memory by mapping (MiB, /proc/PID/smaps, at the end of the window)');
    printTable(['daemon', 'V8 heap + mmap chunks', 'V8 code', 'malloc brk', 'other arenas', 'thread stacks', 'other'], breakdowns);
  }
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
