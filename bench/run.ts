/**
 * `npm run bench`: prints every benchmark's figures.
 *
 * The lab parts (failover, advert gaps under load, idle resources) need root, iproute2,
 * tcpdump and the native addon; keepalived (Debian's) is measured beside vigil when
 * installed. Environment:
 *   VIGIL_BENCH_RUNS          runs per failover figure (default 10; 1–3 for a fast pass)
 *   VIGIL_BENCH_GAP_SECONDS   window of the advert-gap measure (default 20; the target is 120; 0 skips)
 *   VIGIL_BENCH_RES_SECONDS   window of the resource measure (default 10)
 *   VIGIL_BENCH_RES_INTERVAL  advert interval of the resource measure in ms (default 100)
 *   VIGIL_BENCH_RES_COUNTS    instance counts of the resource measure (default 1,50,200; 1000 is the large row)
 *   VIGIL_BENCH_RES_RUNS      runs per count of the resource measure, vigil and keepalived alternating (default 1)
 *   VIGIL_BENCH_INTERVALS     failover intervals in ms (default 1000,100,10)
 *   VIGIL_BENCH_SECTIONS      any of core,timers,failover,resources,memory,quorum,web,notify,corosync,monitor (default core,timers,failover,resources,memory)
 *   VIGIL_BENCH_NOTIFY_SECONDS  window of the notify advert-gap measure (bench/notify.ts; default 10; 0 skips)
 *   VIGIL_BENCH_NOTIFY_VARIANTS notify: gap variants (off,scripts,fifo,dbus,snmp,prometheus,alerts,all; default all of them)
 *   VIGIL_BENCH_RSS_RUNS      notify: daemons per RSS variant (default 3; 0 skips)
 *   VIGIL_BENCH_NOTIFY_RT=1   notify: the gap variants' daemon in SCHED_RR (realtime_priority 10)
 *   VIGIL_BENCH_MEM_SECONDS / VIGIL_BENCH_IDLE_SECONDS  memory: window at 1 and 200 instances (default 120), idle CPU window (default 60; 0 skips)
 *   VIGIL_BENCH_IDLE_WARMUP   idle CPU: seconds after the election before the window (default 15)
 *   VIGIL_BENCH_TIMER_SECONDS / VIGIL_BENCH_TIMER_PERIOD  timers: seconds per scheduler (default 10), period in ms (default 10)
 *   VIGIL_BENCH_WEB_CONFIGS   web: check-w0 (default), check-w-100, group-mt1 (bench/resources-failover.ts)
 *   VIGIL_BENCH_QUORUM_SECONDS / VIGIL_BENCH_QUORUM_WARMUP  window of the heartbeat CPU measure (bench/quorum.ts), and the warm-up before it (default 15)
 *   VIGIL_BENCH_COROSYNC_SECONDS  window of the idle CPU measure of bench/corosync.ts
 *   VIGIL_BENCH_KEEPALIVED=0  vigil only
 *   VIGIL_BENCH_GAP_RT=1      also a gap run of vigil with realtime_priority 10
 */
import { runCoreBench } from './vrrp-core.js';
import { runFailoverBench } from './failover.js';
import { runResourceBench } from './resources.js';
import { runTimerBench } from './timer-precision.js';
import { runMemoryBench } from './memory.js';
import { runQuorumBench } from './quorum.js';
import { runCorosyncBench } from './corosync.js';
import { runMonitorBench } from './monitor.js';
import { runWebFailoverBench, webConfigsFromEnv } from './resources-failover.js';
import { runNotifyBench } from './notify.js';
import { envNumber, type DaemonKind } from './lab-daemons.js';
import { labSkipReason } from '../src/lab/netns.js';
import { Keepalived } from '../src/lab/keepalived.js';

const sections = new Set((process.env['VIGIL_BENCH_SECTIONS'] ?? 'core,timers,failover,resources,memory').split(',').map((s) => s.trim()));


async function main(): Promise<void> {
  if (sections.has('core')) runCoreBench();
  if (sections.has('monitor')) {
    // D-Bus and SNMP delays and the RSS of each notifier (bench/monitor.ts): root, dbus-daemon, snmpd.
    if (process.getuid?.() !== 0) console.log('\n## Monitoring notifiers: skipped (needs root)');
    else await runMonitorBench();
  }
  if (sections.has('timers')) await runTimerBench(envNumber('VIGIL_BENCH_TIMER_SECONDS', 10), envNumber('VIGIL_BENCH_TIMER_PERIOD', 10));
  if (!sections.has('failover') && !sections.has('resources') && !sections.has('memory') && !sections.has('quorum') && !sections.has('web') && !sections.has('notify') && !sections.has('corosync')) return;
  const skip = labSkipReason(['tcpdump']) || undefined;
  if (skip) {
    console.log(`\nlab benchmarks skipped: ${skip}`);
    return;
  }
  const kinds: DaemonKind[] = ['vigil'];
  if (process.env['VIGIL_BENCH_KEEPALIVED'] !== '0') {
    if (Keepalived.available()) kinds.push('keepalived');
    else console.log('\nkeepalived is not installed: vigil figures only');
  }
  const started = performance.now();
  if (sections.has('failover')) {
    await runFailoverBench({
      runs: Math.max(1, Math.round(envNumber('VIGIL_BENCH_RUNS', 10))),
      intervalsMs: (process.env['VIGIL_BENCH_INTERVALS'] ?? '1000,100,10').split(',').map((s) => Number(s.trim())),
      kinds,
      gapSeconds: envNumber('VIGIL_BENCH_GAP_SECONDS', 20),
      gapHogs: 8,
    });
  }
  if (sections.has('resources')) {
    await runResourceBench({
      counts: (process.env['VIGIL_BENCH_RES_COUNTS'] ?? '1,50,200').split(',').map((x) => Number(x.trim())),
      runs: Math.max(1, Math.round(envNumber('VIGIL_BENCH_RES_RUNS', 1))),
      kinds,
      intervalMs: envNumber('VIGIL_BENCH_RES_INTERVAL', 100),
      seconds: envNumber('VIGIL_BENCH_RES_SECONDS', 10),
    });
  }
  if (sections.has('memory')) {
    await runMemoryBench({ kinds, counts: [1, 200], seconds: envNumber('VIGIL_BENCH_MEM_SECONDS', 120), idleSeconds: envNumber('VIGIL_BENCH_IDLE_SECONDS', 60), idleWarmup: envNumber('VIGIL_BENCH_IDLE_WARMUP', 15) });
  }
  await runQuorumBench(sections);
  await runCorosyncBench(sections);
  if (sections.has('web')) await runWebFailoverBench({ runs: Math.max(1, Math.round(envNumber('VIGIL_BENCH_RUNS', 10))), configs: webConfigsFromEnv() });
  if (sections.has('notify')) await runNotifyBench();
  console.log(`\nlab benchmarks took ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
