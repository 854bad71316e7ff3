/**
 * Resources of an idle daemon in the lab: RSS (VmRSS of /proc/PID/status) and CPU
 * (time on the CPU from /proc/PID/task/TID/schedstat, all threads, ns precise) over a
 * measured window, with 1, 50 and 200 instances (VIGIL_BENCH_RES_COUNTS, e.g. 200,1000).
 * Host a runs every instance as master (priority 200), host b as backup (priority 100);
 * both are measured in the same window. The adverts a sent (and b received) are counted
 * in the client's capture over that window, which gives the CPU per advert, and beside
 * it the share of the adverts due that went out (a daemon that cannot keep up sends
 * fewer) and the backups that became master during the window (it must be none). The
 * wake-ups are schedstat's third field (times a thread was put on a CPU), per advert.
 * keepalived figures are its parent and VRRP child together. With several runs per
 * count (VIGIL_BENCH_RES_RUNS) vigil and keepalived alternate and medians are printed.
 */
import { withLab } from '../src/lab/netns.js';
import { Capture, vrrpAdverts } from '../src/lab/capture.js';
import {
  BENCH_CAPTURE,
  median,
  printTable,
  rssKiB,
  startDaemon,
  type BenchDaemon,
  type DaemonKind,
  type InstanceSpec,
} from './lab-daemons.js';
import { errorText } from '../src/base/error-text.js';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { sleep, until } from '../src/lab/wait.js';

export interface ResourceResult {
  readonly kind: DaemonKind;
  readonly instances: number;
  readonly role: 'master' | 'backup';
  readonly rssMiB: number;
  readonly cpuPercent: number;
  readonly adverts: number;
  readonly cpuPerAdvertUs: number;
  /** Adverts sent in the window over the adverts due (instances × window / interval). */
  readonly sentShare: number;
  /** Thread wake-ups (schedstat pcount) per advert. */
  readonly wakeupsPerAdvert: number;
  /** Backups on b that were master at any sample during the window (b only; 0 on a). */
  readonly backupFlaps: number;
}

function specs(count: number, priority: number, intervalMs: number): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  for (let i = 1; i <= count; i++) {
    out.push({ name: `gw${i}`, vrid: i, priority, intervalMs, vips: [`10.213.${1 + Math.floor((i - 1) / 250)}.${((i - 1) % 250) + 1}/32`] });
  }
  return out;
}

interface Sample {
  /** Seconds on the CPU, all threads (schedstat). */
  readonly cpu: number;
  /** Times a thread was put on a CPU (schedstat's third field), all threads. */
  readonly wakeups: number;
  readonly rssKiB: number;
}

/** schedstat of every thread of `pid`: [ns on the CPU, times run]. Threads that end between two readings drop out (the window's thread set is steady). */
function schedstat(pid: number): [number, number] {
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
      const f = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      ns += Number(f[0]);
      runs += Number(f[2]);
    } catch {
      // The thread ended while we read.
    }
  }
  return [ns, runs];
}

function sample(d: BenchDaemon): Sample {
  let cpu = 0;
  let wakeups = 0;
  let rss = 0;
  for (const pid of d.pids()) {
    const [ns, runs] = schedstat(pid);
    cpu += ns / 1e9;
    wakeups += runs;
    rss += rssKiB(pid);
  }
  return { cpu, wakeups, rssKiB: rss };
}

export async function resourceLab(kind: DaemonKind, count: number, intervalMs: number, seconds: number): Promise<ResourceResult[]> {
  return withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    let a: BenchDaemon | undefined;
    let b: BenchDaemon | undefined;
    let cap: Capture | undefined;
    try {
      a = await startDaemon(kind, lab, 'a', specs(count, 200, intervalMs));
      b = await startDaemon(kind, lab, 'b', specs(count, 100, intervalMs));
      const aa = a;
      const bb = b;
      await until(() => aa.count('master') === count && bb.count('backup') === count && bb.count('master') === 0, `${count} masters on a, ${count} backups on b`, 30000, 20);
      await sleep(1000); // past the start-up work (VIPs, gratuitous ARP)
      cap = await Capture.start(lab, 'client', 'vrrp', BENCH_CAPTURE);
      await sleep(200);
      const t0 = performance.now();
      const wall0 = Date.now();
      const sa0 = sample(a);
      const sb0 = sample(b);
      let flaps = 0;
      const windowEnd = performance.now() + seconds * 1000;
      while (performance.now() < windowEnd) {
        await sleep(Math.min(500, Math.max(0, windowEnd - performance.now())));
        flaps = Math.max(flaps, bb.count('master'));
      }
      const sa1 = sample(a);
      const sb1 = sample(b);
      const elapsed = (performance.now() - t0) / 1000;
      const wall1 = Date.now();
      await sleep(100);
      const frames = await cap.stop();
      cap = undefined;
      const srcA = lab.host('a').ipv4;
      const sent = vrrpAdverts(frames).filter((x) => x.src.text === srcA && x.timeMs >= wall0 && x.timeMs <= wall1).length;
      const due = (count * elapsed * 1000) / intervalMs;
      const row = (role: 'master' | 'backup', s0: Sample, s1: Sample): ResourceResult => {
        const cpu = s1.cpu - s0.cpu;
        return {
          kind,
          instances: count,
          role,
          rssMiB: s1.rssKiB / 1024,
          cpuPercent: (100 * cpu) / elapsed,
          adverts: sent,
          cpuPerAdvertUs: sent > 0 ? (cpu * 1e6) / sent : NaN,
          sentShare: sent / due,
          wakeupsPerAdvert: sent > 0 ? (s1.wakeups - s0.wakeups) / sent : NaN,
          backupFlaps: role === 'backup' ? flaps : 0,
        };
      };
      return [row('master', sa0, sa1), row('backup', sb0, sb1)];
    } finally {
      if (cap) await cap.stop().catch(() => undefined);
      if (b) await b.stop().catch(() => undefined);
      if (a) await a.stop().catch(() => undefined);
    }
  });
}

export interface ResourceBenchOptions {
  readonly counts: readonly number[];
  readonly kinds: readonly DaemonKind[];
  readonly intervalMs: number;
  readonly seconds: number;
  /** Runs per count and daemon, vigil and keepalived alternating (medians printed). */
  readonly runs: number;
}

export async function runResourceBench(o: ResourceBenchOptions): Promise<void> {
  const results: ResourceResult[] = [];
  const errors: string[] = [];
  const loads: number[] = [];
  for (const count of o.counts) {
    for (let run = 0; run < o.runs; run++) {
      for (const kind of o.kinds) {
        const t0 = performance.now();
        try {
          results.push(...(await resourceLab(kind, count, o.intervalMs, o.seconds)));
          loads.push(loadavg()[0] ?? NaN);
        } catch (e) {
          errors.push(`${kind} × ${count}: ${errorText(e)}`);
        }
        process.stderr.write(`  [resources ${kind} × ${count} run ${run + 1}: ${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
      }
    }
  }
  console.log('');
  console.log(`Idle resources: ${o.seconds} s window, advert interval ${o.intervalMs} ms, CPU = Δ time on the CPU of /proc/PID/task/*/schedstat; medians of ${o.runs} run(s) per row, vigil and keepalived alternating; 1-min load average ${median(loads).toFixed(2)} (median at the runs' ends)`);
  console.log('master: host a holds every instance at priority 200; backup: host b at 100, same window; CPU per advert: per advert sent (master) / received (backup), counted in the client capture;');
  console.log('sent %: adverts captured over adverts due; wake-ups: schedstat run count per advert; flaps: backups seen as master during the window');
  const rows: string[][] = [];
  for (const count of o.counts) {
    for (const kind of o.kinds) {
      for (const role of ['master', 'backup'] as const) {
        const rs = results.filter((r) => r.instances === count && r.kind === kind && r.role === role);
        if (rs.length === 0) continue;
        const m = (f: (r: ResourceResult) => number): number => median(rs.map(f));
        const perAdvert = m((r) => r.cpuPerAdvertUs);
        const wake = m((r) => r.wakeupsPerAdvert);
        rows.push([
          kind,
          String(count),
          role,
          String(rs.length),
          m((r) => r.rssMiB).toFixed(1),
          m((r) => r.cpuPercent).toFixed(2),
          String(Math.round(m((r) => r.adverts))),
          (100 * m((r) => r.sentShare)).toFixed(1),
          Number.isFinite(perAdvert) ? perAdvert.toFixed(1) : 'n/a',
          Number.isFinite(wake) ? wake.toFixed(3) : 'n/a',
          role === 'backup' ? String(Math.max(...rs.map((r) => r.backupFlaps))) : '',
        ]);
      }
    }
  }
  printTable(['daemon', 'instances', 'role', 'runs', 'RSS MiB', 'CPU %', 'adverts', 'sent %', 'CPU µs/advert', 'wake-ups/advert', 'flaps'], rows);
  for (const e of errors) console.log(`  failed: ${e}`);
}
