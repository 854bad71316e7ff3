/**
 * Failover in the lab, measured from packet-capture timestamps on the client namespace
 * (tcpdump, nanosecond kernel timestamps; the bridge floods the adverts to every port).
 *
 * Two daemons of one kind (vigil or keepalived) on hosts a and b, both at priority 100
 * with one instance (VRID 51, one VIP), VRRPv3 over IPv4 multicast. Equal priorities
 * let the roles alternate: after a run the old master comes back (restarted, or its link
 * up again) as the backup, since an advert of equal priority resets its
 * Master_Down_Timer; so every run measures a backup of priority 100:
 *
 *   Master_Down_Interval = 3 × I + (256 − 100) × I / 256,  Skew_Time = (256 − 100) × I / 256
 *
 * Modes: SIGKILL of the master (keepalived: of its VRRP child, the process that sends
 * the adverts; started with -R so it is not respawned), the master's eth0 set down in
 * its namespace, and SIGTERM (priority-0 advert, graceful handover).
 *
 * Figures per run: crash modes, from the old master's last advert to the new master's
 * first advert, and to its first gratuitous ARP for the VIP; SIGTERM, from the
 * priority-0 advert to the new master's first advert.
 *
 * The gap part: a master (priority 200) and a backup (100) at 10 ms with 8 CPU hogs,
 * the worst interval between two adverts of the master over a window.
 */
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, gratuitousArps, vrrpAdverts, type Frame } from '../src/lab/capture.js';
import {
  BENCH_CAPTURE,
  CpuHogs,
  fmtSummary,
  printTable,
  startDaemon,
  summarize,
  type BenchDaemon,
  type DaemonKind,
  type DaemonOptions,
  type InstanceSpec,
  type Summary,
} from './lab-daemons.js';
import { errorText } from '../src/base/error-text.js';
import { sleep, until } from '../src/lab/wait.js';

export type Mode = 'sigkill' | 'linkdown' | 'sigterm';
const MODE_LABEL: Record<Mode, string> = { sigkill: 'SIGKILL', linkdown: 'link down', sigterm: 'SIGTERM' };

const VIP = '10.213.0.100';
const INSTANCE = 'gw';
const BACKUP_PRIORITY = 100;
const VERBOSE = process.env['VIGIL_BENCH_VERBOSE'] === '1';

export function masterDownMs(intervalMs: number, priority: number): number {
  return 3 * intervalMs + skewMs(intervalMs, priority);
}

export function skewMs(intervalMs: number, priority: number): number {
  return ((256 - priority) * intervalMs) / 256;
}

interface RunResult {
  readonly advertMs: number;
  /** Crash modes only. */
  readonly garpMs: number | undefined;
}

export interface ModeResults {
  readonly results: RunResult[];
  readonly errors: string[];
}

type Hosts = 'a' | 'b';

function spec(intervalMs: number, priority = BACKUP_PRIORITY): InstanceSpec {
  return { name: INSTANCE, vrid: 51, priority, intervalMs, vips: [`${VIP}/24`] };
}

function other(h: Hosts): Hosts {
  return h === 'a' ? 'b' : 'a';
}

/** Exactly one master and one backup among the two, without change for `holdMs`. */
async function waitStable(nodes: Record<Hosts, BenchDaemon>, holdMs: number, timeoutMs: number): Promise<Hosts> {
  const deadline = performance.now() + timeoutMs;
  let since: number | undefined;
  let master: Hosts | undefined;
  for (;;) {
    const sa = nodes.a.state(INSTANCE);
    const sb = nodes.b.state(INSTANCE);
    const m: Hosts | undefined = sa === 'master' && sb === 'backup' ? 'a' : sb === 'master' && sa === 'backup' ? 'b' : undefined;
    const now = performance.now();
    if (m !== master) {
      master = m;
      since = now;
    }
    if (master !== undefined && since !== undefined && now - since >= holdMs) return master;
    if (now > deadline) throw new Error(`no stable master/backup pair within ${timeoutMs} ms (a ${sa}, b ${sb})`);
    await sleep(5);
  }
}

function analyse(lab: Lab, frames: readonly Frame[], mode: Mode, oldHost: Hosts, newHost: Hosts): RunResult {
  const oldIp = lab.host(oldHost).ipv4;
  const newIp = lab.host(newHost).ipv4;
  const adverts = vrrpAdverts(frames).filter((x) => x.vrid === 51);
  const firstNew = adverts.find((x) => x.src.text === newIp);
  if (!firstNew) throw new Error('no advert from the new master captured');
  let from: number;
  if (mode === 'sigterm') {
    const zero = adverts.find((x) => x.src.text === oldIp && x.priority === 0);
    if (!zero) throw new Error('no priority-0 advert captured');
    if (zero.timeMs > firstNew.timeMs) throw new Error('the new master advertised before the priority-0 advert');
    from = zero.timeMs;
  } else {
    const before = adverts.filter((x) => x.src.text === oldIp && x.timeMs < firstNew.timeMs);
    const last = before.at(-1);
    if (!last) throw new Error('no advert from the old master captured');
    if (before.some((x) => x.priority === 0)) throw new Error('the crashed master sent priority 0');
    from = last.timeMs;
  }
  const newMac = lab.host(newHost).mac;
  const garp = gratuitousArps(frames).find((g) => g.ip === VIP && g.senderMac === newMac && g.timeMs >= from);
  if (mode !== 'sigterm' && !garp) throw new Error('no gratuitous ARP from the new master captured');
  return { advertMs: firstNew.timeMs - from, garpMs: mode === 'sigterm' || !garp ? undefined : garp.timeMs - from };
}

/** One daemon kind at one interval: `runs` runs of each mode in one lab. */
export async function failoverLab(kind: DaemonKind, intervalMs: number, runs: number, modes: readonly Mode[]): Promise<Map<Mode, ModeResults>> {
  const out = new Map<Mode, ModeResults>(modes.map((m) => [m, { results: [], errors: [] }]));
  const down = masterDownMs(intervalMs, BACKUP_PRIORITY);
  const hold = Math.min(down, 400) + 50;
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const nodes = {} as Record<Hosts, BenchDaemon>;
    const start = async (h: Hosts): Promise<void> => {
      nodes[h] = await startDaemon(kind, lab, h, [spec(intervalMs)]);
    };
    /** Brings the pair back to one master, one backup: restarts whatever is not running. */
    const recover = async (): Promise<Hosts> => {
      for (const h of ['a', 'b'] as const) {
        await lab.link(h, true);
        if (nodes[h].exited) {
          await nodes[h].stop();
          await start(h);
        }
      }
      return waitStable(nodes, hold, down * 3 + 15000);
    };
    try {
      await start('a');
      await start('b');
      let master = await waitStable(nodes, hold, down * 3 + 15000);
      for (const mode of modes) {
        const bucket = out.get(mode) as ModeResults;
        for (let r = 0; r < runs; r++) {
          const backup = other(master);
          let cap: Capture | undefined;
          try {
            cap = await Capture.start(lab, 'client', 'vrrp or arp', BENCH_CAPTURE);
            // At least one advert of the master in the capture before the event.
            await sleep(Math.max(1.5 * intervalMs, 100));
            const node = nodes[master];
            if (mode === 'sigkill') await node.crash();
            else if (mode === 'linkdown') await lab.link(master, false);
            else node.terminate();
            await until(() => nodes[backup].state(INSTANCE) === 'master', `${backup} to become master`, down * 3 + 5000, 5);
            const newIp = lab.host(backup).ipv4;
            const newMac = lab.host(backup).mac;
            const c = cap;
            await until(() => {
              const f = c.frames();
              return vrrpAdverts(f).some((x) => x.src.text === newIp) && (mode === 'sigterm' || gratuitousArps(f).some((g) => g.ip === VIP && g.senderMac === newMac));
            }, 'the new master\'s advert and gratuitous ARP in the capture', 3000, 10);
            const frames = await cap.stop();
            cap = undefined;
            const result = analyse(lab, frames, mode, master, backup);
            bucket.results.push(result);
            if (VERBOSE) process.stderr.write(`    ${kind} ${intervalLabel(intervalMs)} ${MODE_LABEL[mode]} ${master}→${backup}: advert ${result.advertMs.toFixed(2)} GARP ${result.garpMs?.toFixed(2) ?? '-'}\n`);
            // Back to a pair: the old master returns as the backup.
            if (mode === 'linkdown') {
              await lab.link(master, true);
            } else {
              if (mode === 'sigterm') await node.waitExit(10000);
              await node.stop();
              await start(master);
            }
            master = await waitStable(nodes, hold, down * 3 + 15000);
          } catch (e) {
            bucket.errors.push(errorText(e));
            if (cap) await cap.stop().catch(() => undefined);
            master = await recover();
          }
        }
      }
    } finally {
      for (const h of ['a', 'b'] as const) if (nodes[h]) await nodes[h].stop().catch(() => undefined);
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Worst advert gap under CPU load

export interface GapResult {
  readonly label: string;
  readonly adverts: number;
  readonly worstMs: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly over15: number;
  readonly overDown: number;
  readonly backupAdverts: number;
  readonly backupTakeovers: number;
  readonly dropped: number;
}

export async function gapLab(kind: DaemonKind, label: string, intervalMs: number, seconds: number, hogCount: number, options: DaemonOptions = {}): Promise<GapResult> {
  return withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    let a: BenchDaemon | undefined;
    let b: BenchDaemon | undefined;
    let hogs: CpuHogs | undefined;
    let cap: Capture | undefined;
    try {
      a = await startDaemon(kind, lab, 'a', [spec(intervalMs, 200)], options);
      b = await startDaemon(kind, lab, 'b', [spec(intervalMs, BACKUP_PRIORITY)], options);
      const aa = a;
      const bb = b;
      await until(() => aa.state(INSTANCE) === 'master' && bb.state(INSTANCE) === 'backup', 'a master, b backup', 20000, 5);
      await sleep(300);
      hogs = CpuHogs.start(hogCount);
      await sleep(500);
      const takeoversBefore = b.entered(INSTANCE, 'master');
      cap = await Capture.start(lab, 'client', 'vrrp or arp', BENCH_CAPTURE);
      await sleep(seconds * 1000);
      const frames = await cap.stop();
      const dropped = cap.dropped;
      cap = undefined;
      const takeovers = b.entered(INSTANCE, 'master') - takeoversBefore;
      await hogs.stop();
      hogs = undefined;
      const adverts = vrrpAdverts(frames).filter((x) => x.vrid === 51);
      const fromA = adverts.filter((x) => x.src.text === lab.host('a').ipv4).map((x) => x.timeMs);
      const gaps: number[] = [];
      for (let i = 1; i < fromA.length; i++) gaps.push((fromA[i] as number) - (fromA[i - 1] as number));
      gaps.sort((x, y) => x - y);
      const q = (p: number): number => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))] ?? NaN;
      const down = masterDownMs(intervalMs, BACKUP_PRIORITY);
      return {
        label,
        adverts: fromA.length,
        worstMs: gaps.at(-1) ?? NaN,
        p99Ms: q(0.99),
        p999Ms: q(0.999),
        over15: gaps.filter((g) => g > 15).length,
        overDown: gaps.filter((g) => g > down).length,
        backupAdverts: adverts.filter((x) => x.src.text === lab.host('b').ipv4).length,
        backupTakeovers: takeovers,
        dropped,
      };
    } finally {
      if (cap) await cap.stop().catch(() => undefined);
      if (hogs) await hogs.stop();
      if (b) await b.stop().catch(() => undefined);
      if (a) await a.stop().catch(() => undefined);
    }
  });
}

// ---------------------------------------------------------------------------------------
// The section as printed by `npm run bench`

function intervalLabel(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

function ratio(a: Summary | undefined, b: Summary | undefined): string {
  if (!a || !b || a.n === 0 || b.n === 0) return 'n/a';
  return (a.median / b.median).toFixed(3);
}

export interface FailoverBenchOptions {
  readonly runs: number;
  readonly intervalsMs: readonly number[];
  readonly kinds: readonly DaemonKind[];
  readonly gapSeconds: number;
  readonly gapHogs: number;
}

export async function runFailoverBench(o: FailoverBenchOptions): Promise<void> {
  const modes: Mode[] = ['sigkill', 'linkdown', 'sigterm'];
  const all = new Map<string, Map<Mode, ModeResults>>();
  const errors: string[] = [];
  for (const interval of o.intervalsMs) {
    for (const kind of o.kinds) {
      const t0 = performance.now();
      try {
        all.set(`${kind}/${interval}`, await failoverLab(kind, interval, o.runs, modes));
      } catch (e) {
        errors.push(`${kind} at ${intervalLabel(interval)}: ${errorText(e)}`);
      }
      process.stderr.write(`  [failover ${kind} ${intervalLabel(interval)}: ${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
    }
  }
  const get = (kind: DaemonKind, interval: number, mode: Mode): ModeResults | undefined => all.get(`${kind}/${interval}`)?.get(mode);
  const sum = (kind: DaemonKind, interval: number, mode: Mode, which: 'advertMs' | 'garpMs'): Summary | undefined => {
    const r = get(kind, interval, mode);
    if (!r) return undefined;
    const xs = r.results.map((x) => x[which]).filter((x): x is number => x !== undefined);
    return xs.length ? summarize(xs) : undefined;
  };
  const hasK = o.kinds.includes('keepalived');

  console.log('');
  console.log(`Crash failover, client capture: last advert of the old master → first advert / first gratuitous ARP of the new one`);
  console.log(`ms, median [min–max] of ${o.runs} runs; backup priority ${BACKUP_PRIORITY}; VRRPv3 IPv4 multicast, one instance, one VIP`);
  const crashRows: string[][] = [];
  for (const interval of o.intervalsMs) {
    for (const mode of ['sigkill', 'linkdown'] as const) {
      const row = [intervalLabel(interval), MODE_LABEL[mode], masterDownMs(interval, BACKUP_PRIORITY).toFixed(1)];
      row.push(fmtSummary(sum('vigil', interval, mode, 'advertMs')), fmtSummary(sum('vigil', interval, mode, 'garpMs')));
      if (hasK) {
        row.push(fmtSummary(sum('keepalived', interval, mode, 'advertMs')), fmtSummary(sum('keepalived', interval, mode, 'garpMs')));
        row.push(ratio(sum('vigil', interval, mode, 'advertMs'), sum('keepalived', interval, mode, 'advertMs')));
        row.push(ratio(sum('vigil', interval, mode, 'garpMs'), sum('keepalived', interval, mode, 'garpMs')));
      }
      crashRows.push(row);
    }
  }
  printTable(
    ['interval', 'event', 'Master_Down', 'vigil advert', 'vigil GARP', ...(hasK ? ['keepalived advert', 'keepalived GARP', 'ratio adv', 'ratio GARP'] : [])],
    crashRows,
  );

  console.log('');
  console.log(`Graceful handover (SIGTERM of the master): priority-0 advert → first advert of the new master`);
  console.log(`ms, median [min–max] of ${o.runs} runs; backup priority ${BACKUP_PRIORITY}`);
  printTable(
    ['interval', 'Skew_Time', 'vigil', ...(hasK ? ['keepalived', 'ratio'] : [])],
    o.intervalsMs.map((interval) => [
      intervalLabel(interval),
      skewMs(interval, BACKUP_PRIORITY).toFixed(1),
      fmtSummary(sum('vigil', interval, 'sigterm', 'advertMs')),
      ...(hasK ? [fmtSummary(sum('keepalived', interval, 'sigterm', 'advertMs')), ratio(sum('vigil', interval, 'sigterm', 'advertMs'), sum('keepalived', interval, 'sigterm', 'advertMs'))] : []),
    ]),
  );
  for (const [key, modesMap] of all) {
    for (const [mode, r] of modesMap) {
      for (const e of r.errors) errors.push(`${key} ${MODE_LABEL[mode]}: ${e}`);
    }
  }
  if (errors.length) {
    console.log(`failed runs (${errors.length}), not in the figures:`);
    for (const e of errors) console.log(`  ${e}`);
  }

  if (o.gapSeconds > 0) {
    const gapResults: GapResult[] = [];
    const gapErrors: string[] = [];
    const variants: { kind: DaemonKind; label: string; options: DaemonOptions }[] = [{ kind: 'vigil', label: 'vigil', options: {} }];
    if (hasK) variants.push({ kind: 'keepalived', label: 'keepalived', options: {} });
    if (process.env['VIGIL_BENCH_GAP_RT'] === '1') variants.push({ kind: 'vigil', label: 'vigil realtime_priority 10', options: { realtimePriority: 10 } });
    for (const v of variants) {
      const t0 = performance.now();
      try {
        gapResults.push(await gapLab(v.kind, v.label, 10, o.gapSeconds, o.gapHogs, v.options));
      } catch (e) {
        gapErrors.push(`${v.label}: ${errorText(e)}`);
      }
      process.stderr.write(`  [gap ${v.label}: ${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
    }
    console.log('');
    console.log(`Advert gaps at 10 ms under load: ${o.gapHogs} CPU hogs (node -e 'for(;;){}', nice 0) on ${(await import('node:os')).cpus().length} cores, ${o.gapSeconds} s window, master priority 200, backup ${BACKUP_PRIORITY}`);
    console.log(`gaps between consecutive adverts of the master (client capture), ms; takeover = backup became master (Master_Down_Interval ${masterDownMs(10, BACKUP_PRIORITY).toFixed(1)} ms)`);
    printTable(
      ['daemon', 'adverts', 'worst', 'p99.9', 'p99', '>15 ms', '>Master_Down', 'backup adverts', 'takeovers', 'capture drops'],
      gapResults.map((g) => [g.label, String(g.adverts), g.worstMs.toFixed(2), g.p999Ms.toFixed(2), g.p99Ms.toFixed(2), String(g.over15), String(g.overDown), String(g.backupAdverts), String(g.backupTakeovers), String(g.dropped)]),
    );
    for (const e of gapErrors) console.log(`  failed: ${e}`);
  }
}
