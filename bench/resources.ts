/**
 * Resources of an idle daemon in the lab: RSS (VmRSS of /proc/PID/status) and CPU
 * (time on the CPU from /proc/PID/task/TID/schedstat, all threads, ns precise) over a
 * measured window, with 1, 50 and 200 instances (VIGIL_BENCH_RES_COUNTS, e.g. 200,1000:
 * over 255 instances, each 250 go on a segment of their own, as a VRID is unique per
 * segment only). vigil runs without the second gratuitous ARP burst
 * 5 s after becoming master, as keepalived is configured here (vrrp_garp_master_delay 0).
 * Host a runs every instance as master (priority 200), host b as backup (priority 100);
 * both are measured in the same window. The adverts a sent (and b received) are counted
 * in the client's capture over that window, which gives the CPU per advert, and beside
 * it the share of the adverts due that went out (a daemon that cannot keep up sends
 * fewer) and the backups that became master during the window (it must be none). The
 * wake-ups are the threads' voluntary context switches (each a sleep ended by a wake-up;
 * /proc/PID/task/TID/status), per advert; preemptions on this shared machine are not counted.
 * keepalived figures are its parent and VRRP child together. With several runs per
 * count (VIGIL_BENCH_RES_RUNS) vigil and keepalived alternate and medians are printed.
 */
import { run, withLab, type Lab } from '../src/lab/netns.js';
import { Capture, vrrpAdverts } from '../src/lab/capture.js';
import {
  BENCH_CAPTURE,
  median,
  printTable,
  rssKiB,
  startDaemon,
  threadTotals,
  type BenchDaemon,
  type DaemonKind,
  type InstanceSpec,
} from './lab-daemons.js';
import { errorText } from '../src/base/error-text.js';
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
  /** Thread wake-ups (voluntary context switches) per advert. */
  readonly wakeupsPerAdvert: number;
  /** Backups on b that were master at any sample during the window (b only; 0 on a). */
  readonly backupFlaps: number;
}

/** Instances per segment when there are more than a VRID's 255 (a VRID is unique per segment only). */
const PER_SEGMENT = 250;

function segments(count: number): number {
  return count > 255 ? Math.ceil(count / PER_SEGMENT) : 1;
}

function specs(count: number, priority: number, intervalMs: number): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  const many = segments(count) > 1;
  for (let i = 1; i <= count; i++) {
    const g = Math.floor((i - 1) / PER_SEGMENT);
    out.push({
      name: `gw${i}`,
      vrid: many ? ((i - 1) % PER_SEGMENT) + 1 : i,
      priority,
      intervalMs,
      vips: [`10.213.${1 + g}.${((i - 1) % 250) + 1}/32`],
      ...(many ? { interface: `eth${g}` } : {}),
    });
  }
  return out;
}

/**
 * Segments 1..n-1 beside the lab's own (eth0 on br0): a bridge brG in the switch namespace
 * and a veth pair per host, ethG in the host with 10.213.(100+G).(its octet)/24. Inside the
 * lab's namespaces only (this kernel has no 8021q module for VLANs).
 */
async function addSegments(lab: Lab, hosts: readonly string[], count: number): Promise<void> {
  const sw = lab.switchNs;
  for (let g = 1; g < segments(count); g++) {
    await run('ip', ['-n', sw, 'link', 'add', `br${g}`, 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0']);
    await run('ip', ['-n', sw, 'link', 'set', `br${g}`, 'up']);
    for (const name of hosts) {
      const h = lab.host(name);
      const octet = h.ipv4.split('.')[3] as string;
      await run('ip', ['-n', sw, 'link', 'add', `p${h.index}s${g}`, 'type', 'veth', 'peer', 'name', `eth${g}`, 'netns', h.ns]);
      await run('ip', ['-n', sw, 'link', 'set', `p${h.index}s${g}`, 'master', `br${g}`, 'up']);
      await run('ip', ['-n', h.ns, 'addr', 'add', `10.213.${100 + g}.${octet}/24`, 'dev', `eth${g}`]);
      await run('ip', ['-n', h.ns, 'link', 'set', `eth${g}`, 'up']);
    }
  }
}

/** The addresses `host` sends its adverts from, one per segment. */
function advertSources(lab: Lab, host: string, count: number): Set<string> {
  const h = lab.host(host);
  const octet = h.ipv4.split('.')[3] as string;
  const out = new Set([h.ipv4]);
  for (let g = 1; g < segments(count); g++) out.add(`10.213.${100 + g}.${octet}`);
  return out;
}

interface Sample {
  /** Seconds on the CPU, all threads (schedstat). */
  readonly cpu: number;
  /** Voluntary context switches, all threads. */
  readonly wakeups: number;
  readonly rssKiB: number;
}

function sample(d: BenchDaemon): Sample {
  let cpu = 0;
  let wakeups = 0;
  let rss = 0;
  for (const pid of d.pids()) {
    const [ns, runs] = threadTotals(pid, true);
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
    let caps: Capture[] = [];
    try {
      await addSegments(lab, ['a', 'b', 'client'], count);
      // No second burst of gratuitous ARPs 5 s after becoming master, as keepalived is configured (src/lab/keepalived.ts).
      const options = { vigilInstanceExtra: '    garp: { master_delay: 0s }' };
      a = await startDaemon(kind, lab, 'a', specs(count, 200, intervalMs), options);
      b = await startDaemon(kind, lab, 'b', specs(count, 100, intervalMs), options);
      const aa = a;
      const bb = b;
      await until(() => aa.count('master') === count && bb.count('backup') === count && bb.count('master') === 0, () => `${count} masters on a (${aa.count('master')}), ${count} backups on b (${bb.count('backup')})`, 60000, 50);
      await sleep(1000); // past the start-up work (VIPs, gratuitous ARP)
      for (let g = 0; g < segments(count); g++) caps.push(await Capture.start(lab, 'client', 'vrrp', { ...BENCH_CAPTURE, iface: `eth${g}` }));
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
      const sources = advertSources(lab, 'a', count);
      let sent = 0;
      for (const c of caps) sent += vrrpAdverts(await c.stop()).filter((x) => sources.has(x.src.text) && x.timeMs >= wall0 && x.timeMs <= wall1).length;
      caps = [];
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
      for (const c of caps) await c.stop().catch(() => undefined);
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
  console.log('sent %: adverts captured over adverts due; wake-ups: voluntary context switches (all threads) per advert; flaps: backups seen as master during the window');
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
