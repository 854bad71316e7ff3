/**
 * Notifiers in the lab (section "notify" of `npm run bench`; also `node dist/bench/notify.js`):
 *
 * 1. Delay from a state change to the notify script's start and to the FIFO line: one
 *    vigil (advert 100 ms) with a master/backup/fault script and the FIFO (JSON lines, so a
 *    line is matched to its event by sequence number; the keepalived format goes through
 *    the same writer); its link is cut and restored VIGIL_BENCH_RUNS times (default 10),
 *    each time FAULT, then BACKUP, then MASTER. The state change's time is the event's
 *    wall-clock time (`vigil events --json`, ms); the script writes `date +%s%N` first
 *    thing; the FIFO reader (this process) stamps each line as it reads it.
 * 2. The cost on the advert path: the worst gap between 10 ms adverts (captured on the
 *    peer's side) over VIGIL_BENCH_NOTIFY_SECONDS (default 10), a master with a notify
 *    script that sleeps through the window plus the FIFO, vs the same master without
 *    notifiers; and the RSS each adds.
 */
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, vrrpAdverts } from '../src/lab/capture.js';
import { sleep, until } from '../src/lab/wait.js';
import { VIGIL_MAIN, VigilProcess, configYaml, instanceYaml } from '../src/lab/vigil.js';
import type { StampedEvent } from '../src/events/types.js';
import { envNumber, fmtSummary, printTable, rssKiB, summarize } from './lab-daemons.js';

const execFileAsync = promisify(execFile);
const VIP = '10.213.0.100';

function script(dir: string, name: string, body: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

async function delays(lab: Lab, dir: string, runs: number): Promise<void> {
  const starts = path.join(dir, 'starts');
  const s = script(dir, 'n.sh', `echo "$(date +%s%N) $VIGIL_SEQUENCE" >> ${starts}`);
  const fifo = path.join(dir, 'bench.fifo');
  const a = await VigilProcess.start(
    lab,
    'a',
    configYaml(instanceYaml({ vrid: 81, priority: 200, vips: [`${VIP}/24`], extra: `    notify: { master: ${s}, backup: ${s}, fault: ${s} }` })) + `notifiers:\n  fifo: { path: ${fifo}, format: json }\n`,
  );
  const fifoSeen = new Map<number, number>();
  const reader = createInterface({ input: createReadStream(fifo) });
  reader.on('line', (line) => {
    const at = performance.timeOrigin + performance.now();
    const e = JSON.parse(line) as StampedEvent;
    fifoSeen.set(e.seq, at);
  });
  try {
    await a.waitState('gw', 'master');
    for (let i = 0; i < runs; i++) {
      const mark = a.events.length;
      await lab.link('a', false);
      await a.waitState('gw', 'fault', 5000, mark);
      await lab.link('a', true);
      await a.waitState('gw', 'master', 10_000, mark);
      await sleep(200);
    }
    const ev = await execFileAsync(process.execPath, [VIGIL_MAIN, 'events', '--json', '--runtime-dir', a.runtimeDir]);
    const changes = ev.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as StampedEvent)
      .filter((e) => e.kind === 'instance-state');
    await until(() => existsSync(starts) && readFileSync(starts, 'utf8').trim().split('\n').length >= changes.length, 'every script started', 10_000, 20);
    const started = new Map(
      readFileSync(starts, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' '))
        .map(([ns, seq]) => [Number(seq), Number(BigInt(ns ?? '0') / 1000n) / 1000] as const),
    );
    const toScript = changes.flatMap((e) => (started.has(e.seq) ? [(started.get(e.seq) as number) - e.time] : []));
    const toFifo = changes.flatMap((e) => (fifoSeen.has(e.seq) ? [(fifoSeen.get(e.seq) as number) - e.time] : []));
    console.log(`\nnotify: delay from a state change to its notification (ms; ${changes.length} state changes, event time has ms resolution)`);
    printTable(
      ['notification', 'median [min–max]'],
      [
        ['script start', fmtSummary(summarize(toScript))],
        ['FIFO line read', fmtSummary(summarize(toFifo))],
      ],
    );
  } finally {
    reader.close();
    await a.stop();
  }
}

async function worstGap(lab: Lab, dir: string, seconds: number, withNotifiers: boolean): Promise<{ gap: number; adverts: number; rss: number }> {
  const slow = script(dir, 'slow.sh', `sleep ${seconds + 20}`);
  const extra = withNotifiers ? `    notify: { master: ${slow}, any: ${slow} }` : undefined;
  const notifiers = withNotifiers ? `notifiers:\n  script_timeout: ${seconds + 30}s\n  fifo: { path: ${path.join(dir, 'gap.fifo')} }\n` : '';
  const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 82, priority: 200, interval: '10ms', vips: [`${VIP}/24`], ...(extra ? { extra } : {}) })) + notifiers);
  try {
    await a.waitState('gw', 'master');
    await sleep(500);
    const cap = await Capture.start(lab, 'b', 'vrrp');
    await sleep(seconds * 1000);
    const frames = await cap.stop();
    const times = vrrpAdverts(frames).map((x) => x.timeMs);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, (times[i] ?? 0) - (times[i - 1] ?? 0));
    return { gap, adverts: times.length, rss: rssKiB(a.pid) };
  } finally {
    await a.stop();
  }
}

export async function runNotifyBench(): Promise<void> {
  const runs = Math.max(1, Math.round(envNumber('VIGIL_BENCH_RUNS', 10)));
  const seconds = envNumber('VIGIL_BENCH_NOTIFY_SECONDS', 10);
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-notify-'));
  try {
    await withLab({ hosts: ['a', 'b'], prefix: 'vbn' }, async (lab) => {
      await delays(lab, dir, runs);
      if (seconds > 0) {
        const off = await worstGap(lab, dir, seconds, false);
        const on = await worstGap(lab, dir, seconds, true);
        console.log(`\nnotify: worst gap between 10 ms adverts over ${seconds} s (captured at the peer), and the daemon's RSS`);
        printTable(
          ['notifiers', 'adverts', 'worst gap ms', 'RSS KiB'],
          [
            ['off', String(off.adverts), off.gap.toFixed(1), String(off.rss)],
            ['scripts (sleeping) + FIFO', String(on.adverts), on.gap.toFixed(1), String(on.rss)],
          ],
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
