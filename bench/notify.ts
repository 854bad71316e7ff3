/**
 * Notifiers in a real `vigil run` in the lab (section "notify" of `npm run bench`; also
 * `node dist/bench/notify.js`; root, with dbus-daemon and snmpd installed). What each
 * variant turns on, and the workload every variant runs: bench/notify-setup.ts.
 *
 * 1. Delay from a state change to the notify script's start, to the FIFO line, to the
 *    D-Bus VrrpStatusChange signal and to the SNMP trap: one vigil (advert 100 ms) with
 *    all four on; its link is cut and restored VIGIL_BENCH_RUNS times (default 10), each
 *    time FAULT, then BACKUP, then MASTER. The state change's time is the event's
 *    wall-clock time (`vigil events --json`, ms resolution); the script writes
 *    `date +%s%N` first thing; this process stamps each FIFO line (JSON lines, matched to
 *    its event by sequence number) and each VrrpStatusChange as its bus client receives
 *    it; a UDP listener in the daemon's namespace, on the port snmpd sends its traps to,
 *    stamps each trap. A signal or trap is matched to the first state change before it.
 * 2. The cost on the advert path: the worst gap between 10 ms adverts (captured on the
 *    peer's side) over VIGIL_BENCH_NOTIFY_SECONDS (default 10): no notifiers; each
 *    notifier alone (the scripts sleeping through the window, the FIFO read, SNMP walked
 *    every second, Prometheus scraped every second, an alert agent); all of them.
 *    VIGIL_BENCH_NOTIFY_VARIANTS=off,snmp,... picks variants; VIGIL_BENCH_NOTIFY_RT=1 runs
 *    the daemon with realtime_priority 10 (SCHED_RR), so that the other processes of a busy
 *    machine do not hide what the daemon's own work costs.
 * 3. The RSS each notifier adds to the daemon: one daemon per variant (none, each alone,
 *    all) with the same workload, its VmRSS after 4 s as master; the median of
 *    VIGIL_BENCH_RSS_RUNS (default 3) daemons per variant.
 */
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import dbus from 'dbus-next';
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, vrrpAdverts } from '../src/lab/capture.js';
import { sleep, until } from '../src/lab/wait.js';
import { VIGIL_MAIN, VigilProcess, configYaml, instanceYaml } from '../src/lab/vigil.js';
import { onLines } from '../src/lab/lines.js';
import { INSTANCE_INTERFACE } from '../src/monitor/dbus.js';
import type { StampedEvent } from '../src/events/types.js';
import { envNumber, fmtSummary, median, printTable, rssKiB, summarize } from './lab-daemons.js';
import { NOTIFIERS, setUpNotifiers, type Notifier } from './notify-setup.js';

const execFileAsync = promisify(execFile);
const VIP = '10.213.0.100';

/** Wall-clock ms with sub-ms resolution. */
function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Prints one wall-clock stamp per datagram received on 127.0.0.1:162 (snmpd's trap2sink). */
const TRAP_SINK = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', () => console.log((performance.timeOrigin + performance.now()).toFixed(3)));
s.bind(162, '127.0.0.1', () => console.log('listening'));
`;

/** For each state change (in order), the delay to the first arrival at or after it (ms-resolution event times: 1 ms of slack). */
function matchArrivals(changes: readonly StampedEvent[], arrivals: readonly number[]): number[] {
  const sorted = [...arrivals].sort((x, y) => x - y);
  const out: number[] = [];
  let i = 0;
  for (const e of changes) {
    while (i < sorted.length && (sorted[i] as number) < e.time - 1) i++;
    if (i < sorted.length && (sorted[i] as number) - e.time < 2000) out.push((sorted[i++] as number) - e.time);
  }
  return out;
}

async function delays(lab: Lab, dir: string, runs: number): Promise<void> {
  const starts = path.join(dir, 'starts');
  const setup = await setUpNotifiers(lab, dir, new Set<Notifier>(['scripts', 'fifo', 'dbus', 'snmp']), 'delay', {
    sleepSeconds: 0,
    trapd: false,
    fifoFormat: 'json',
    ownFifoReader: true,
    workload: false,
    scriptBody: `echo "$(date +%s%N) $VIGIL_SEQUENCE" >> ${starts}`,
  });
  const traps: number[] = [];
  const sink = lab.spawn('a', process.execPath, ['-e', TRAP_SINK]);
  let sinkReady: () => void = () => undefined;
  const listening = new Promise<void>((r) => (sinkReady = r));
  onLines(sink.stdout, (line) => (line === 'listening' ? sinkReady() : traps.push(Number(line))));
  let a: VigilProcess | undefined;
  let client: dbus.MessageBus | undefined;
  const fifoSeen = new Map<number, number>();
  let reader: ReturnType<typeof createInterface> | undefined;
  try {
    await listening;
    a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 81, priority: 200, vips: [`${VIP}/24`], extra: setup.instanceExtra })) + setup.sections);
    const fifo = path.join(dir, 'delay.fifo');
    reader = createInterface({ input: createReadStream(fifo) });
    reader.on('line', (line) => {
      const at = wallNow();
      fifoSeen.set((JSON.parse(line) as StampedEvent).seq, at);
    });
    await a.waitState('gw', 'master');
    const signals: number[] = [];
    client = dbus.sessionBus({ busAddress: setup.bus?.address ?? '' });
    const obj = await client.getProxyObject('org.keepalived.Vrrp1', '/org/keepalived/Vrrp1/Instance/eth0/81/IPv4');
    obj.getInterface(INSTANCE_INTERFACE).on('VrrpStatusChange', () => signals.push(wallNow()));
    await sleep(500);
    const from = Date.now();
    for (let i = 0; i < runs; i++) {
      const mark = a.events.length;
      await lab.link('a', false);
      await a.waitState('gw', 'fault', 5000, mark);
      await lab.link('a', true);
      await a.waitState('gw', 'master', 10_000, mark);
      await sleep(200);
    }
    await sleep(500);
    const ev = await execFileAsync(process.execPath, [VIGIL_MAIN, 'events', '--json', '--runtime-dir', a.runtimeDir]);
    const changes = ev.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as StampedEvent)
      .filter((e) => e.kind === 'instance-state' && e.time >= from);
    await until(() => existsSync(starts) && readFileSync(starts, 'utf8').trim().split('\n').length >= changes.length, 'every script started', 10_000, 20);
    const started = new Map<number, number>();
    for (const [ns, seq] of readFileSync(starts, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))) {
      // The specific script's start (the generic one runs after it).
      if (!started.has(Number(seq))) started.set(Number(seq), Number(BigInt(ns ?? '0') / 1000n) / 1000);
    }
    const toScript = changes.flatMap((e) => (started.has(e.seq) ? [(started.get(e.seq) as number) - e.time] : []));
    const toFifo = changes.flatMap((e) => (fifoSeen.has(e.seq) ? [(fifoSeen.get(e.seq) as number) - e.time] : []));
    const toDbus = matchArrivals(changes, signals);
    const toTrap = matchArrivals(changes, traps);
    console.log(`\nnotify: delay from a state change to its notification (ms; ${changes.length} state changes, scripts, FIFO, D-Bus and SNMP all on; event time has ms resolution)`);
    printTable(
      ['notification', 'n', 'median [min–max]'],
      [
        ['script start', String(toScript.length), fmtSummary(summarize(toScript))],
        ['FIFO line read', String(toFifo.length), fmtSummary(summarize(toFifo))],
        ['D-Bus VrrpStatusChange at a bus client', String(toDbus.length), fmtSummary(summarize(toDbus))],
        ['SNMP trap at the trap sink (via snmpd)', String(toTrap.length), fmtSummary(summarize(toTrap))],
      ],
    );
  } finally {
    reader?.close();
    client?.disconnect();
    await a?.stop();
    if (sink.pid !== undefined && sink.exitCode === null) process.kill(sink.pid, 'SIGTERM');
    await setup.stop();
  }
}

/** One daemon with `on`; calls `measure` once it is master with its readers running, then stops it. */
async function withDaemon<T>(lab: Lab, dir: string, on: ReadonlySet<Notifier>, tag: string, sleepSeconds: number, measure: (a: VigilProcess) => Promise<T>): Promise<T> {
  const setup = await setUpNotifiers(lab, dir, on, tag, { sleepSeconds });
  let a: VigilProcess | undefined;
  try {
    const rt = process.env['VIGIL_BENCH_NOTIFY_RT'] === '1' ? 'global:\n  realtime_priority: 10\n' : '';
    a = await VigilProcess.start(lab, 'a', rt + configYaml(instanceYaml({ vrid: 82, priority: 200, interval: '10ms', vips: [`${VIP}/24`], extra: setup.instanceExtra })) + setup.sections);
    await a.waitState('gw', 'master');
    await setup.readers();
    await a.waitFor((e) => e.event === 'resource-op-result' && e['resource'] === 'svc' && e['op'] === 'start', 'svc started', 10_000);
    return await measure(a);
  } finally {
    await a?.stop();
    await setup.stop();
  }
}

interface GapResult {
  readonly adverts: number;
  readonly gap: number;
  /** The 99th percentile of the gaps. */
  readonly p99: number;
  /** Gaps over 20 ms: at least one advert late by a whole interval. */
  readonly late: number;
  readonly rss: number;
}

async function worstGap(lab: Lab, dir: string, seconds: number, on: ReadonlySet<Notifier>, tag: string): Promise<GapResult> {
  return withDaemon(lab, dir, on, tag, seconds + 20, async (a) => {
    await sleep(500);
    const cap = await Capture.start(lab, 'b', 'vrrp');
    await sleep(seconds * 1000);
    const frames = await cap.stop();
    const times = vrrpAdverts(frames).map((x) => x.timeMs);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t)).sort((x, y) => x - y);
    return {
      adverts: times.length,
      gap: gaps.at(-1) ?? NaN,
      p99: gaps[Math.min(gaps.length - 1, Math.floor(0.99 * gaps.length))] ?? NaN,
      late: gaps.filter((g) => g > 20).length,
      rss: rssKiB(a.pid),
    };
  });
}

async function rssOf(lab: Lab, dir: string, on: ReadonlySet<Notifier>, tag: string): Promise<number> {
  return withDaemon(lab, dir, on, tag, 30, async (a) => {
    await sleep(4000);
    return rssKiB(a.pid);
  });
}

export async function runNotifyBench(): Promise<void> {
  const runs = Math.max(1, Math.round(envNumber('VIGIL_BENCH_RUNS', 10)));
  const seconds = envNumber('VIGIL_BENCH_NOTIFY_SECONDS', 10);
  const rssRuns = Math.max(0, Math.round(envNumber('VIGIL_BENCH_RSS_RUNS', 3)));
  const delayRuns = Math.max(0, Math.round(envNumber('VIGIL_BENCH_RUNS', 10)));
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-notify-'));
  try {
    await withLab({ hosts: ['a', 'b'], prefix: 'vbn' }, async (lab) => {
      if (delayRuns > 0) await delays(lab, dir, runs);
      if (seconds > 0) {
        const only = process.env['VIGIL_BENCH_NOTIFY_VARIANTS']?.split(',');
        const variants = ([['off', new Set()], ...NOTIFIERS.map((n): [string, Set<Notifier>] => [n, new Set([n])]), ['all', new Set<Notifier>(NOTIFIERS)]] as [string, Set<Notifier>][]).filter(
          ([name]) => only === undefined || only.includes(name),
        );
        const rows: string[][] = [];
        for (const [name, on] of variants) {
          const r = await worstGap(lab, dir, seconds, on, `gap${rows.length}`);
          rows.push([name, String(r.adverts), r.gap.toFixed(1), r.p99.toFixed(1), String(r.late), String(r.rss)]);
        }
        const rtNote = process.env['VIGIL_BENCH_NOTIFY_RT'] === '1' ? '; the daemon in SCHED_RR (realtime_priority 10)' : '';
        console.log(`\nnotify: worst gap between 10 ms adverts over ${seconds} s (captured at the peer; every variant with the flapping health checks and resource${rtNote}), and the daemon's RSS`);
        printTable(['notifiers', 'adverts', 'worst gap ms', 'p99 gap ms', 'gaps > 20 ms', 'RSS KiB'], rows);
      }
      if (rssRuns > 0) {
        const variants: [string, Set<Notifier>][] = [['none', new Set()], ...NOTIFIERS.map((n): [string, Set<Notifier>] => [n, new Set([n])]), ['all', new Set<Notifier>(NOTIFIERS)]];
        const rss = new Map<string, number>();
        for (const [name, on] of variants) {
          const xs: number[] = [];
          for (let i = 0; i < rssRuns; i++) xs.push(await rssOf(lab, dir, on, `rss-${name}-${i}`));
          rss.set(name, median(xs));
        }
        const base = rss.get('none') ?? 0;
        console.log(`\nnotify: the daemon's RSS after 4 s as master, median of ${rssRuns} daemons per variant (KiB)`);
        printTable(
          ['notifiers', 'RSS KiB', 'added KiB'],
          variants.map(([name]) => [name, String(Math.round(rss.get(name) ?? 0)), name === 'none' ? '' : `${Math.round((rss.get(name) ?? 0) - base)}`]),
        );
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runNotifyBench().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
