/**
 * quorum.provider corosync beside vigil's own heartbeats (section "corosync" of
 * `npm run bench`; also `node dist/bench/corosync.js`). Same lab for both: three nodes
 * a, b, c (VRRP priorities 200, 100, 50, adverts every 100 ms: Master_Down_Interval about
 * 360 ms at b) and a client that captures the segment.
 *
 * - vigil heartbeats: quorum over the three nodes, heartbeat 50 ms, timeout 200 ms.
 * - corosync: a real corosync 3 per node (knet, token 500 ms, consensus 600 ms,
 *   token_coefficient 0; src/lab/corosync.ts), vigil with provider corosync.
 *
 * Per provider, VIGIL_BENCH_RUNS runs (default 3) of two losses of the master a:
 *   1. node death: a's vigil and (corosync) a's corosync SIGKILLed → b's first advert and
 *      gratuitous ARP on the client's capture, ms after the kill;
 *   2. a cut off at the bridge (nftables in the switch namespace) → b's first advert as in 1, and when the
 *      isolated a stepped down (its state-change log line): the window in which two
 *      nodes hold the VIP is the step-down minus b's takeover (negative: none).
 * Then the idle CPU (utime+stime from /proc over VIGIL_BENCH_COROSYNC_SECONDS, default
 * 10 s) of each node's vigil, and of its corosync.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, gratuitousArps, vrrpAdverts } from '../src/lab/capture.js';
import { sleep, until } from '../src/lab/wait.js';
import { VigilProcess, configYaml, instanceYaml } from '../src/lab/vigil.js';
import { CorosyncCluster, healPartition, partition } from '../src/lab/corosync.js';
import { writeKeyFile } from '../src/quorum/io/authkey.js';
import { CLK_TCK, cpuSeconds, envNumber, fmtSummary, printTable, summarize } from './lab-daemons.js';
import { errorText } from '../src/base/error-text.js';

type Provider = 'vigil' | 'corosync';
const VIP = '10.213.0.100';
const NODES = ['a', 'b', 'c'] as const;
const PRIORITY: Record<string, number> = { a: 200, b: 100, c: 50 };

interface ProviderResult {
  readonly deathAdvert: number[];
  readonly deathGarp: number[];
  readonly cutAdvert: number[];
  readonly cutStepDown: number[];
  readonly errors: string[];
  readonly vigilCpu: number[];
  readonly corosyncCpu: number[];
}

function realtime(perfMs: number): number {
  return performance.timeOrigin + perfMs;
}

/** a's switch port cut off from everyone (a bridge-level partition: nothing fails locally on a). */
async function cut(lab: Lab): Promise<void> {
  await partition(lab, ['a'], ['b', 'c', 'client']);
}

async function heal(lab: Lab): Promise<void> {
  await healPartition(lab).catch(() => undefined);
}

async function runProvider(provider: Provider, runs: number, cpuWindowS: number, keyFile: string): Promise<ProviderResult> {
  const result: ProviderResult = { deathAdvert: [], deathGarp: [], cutAdvert: [], cutStepDown: [], errors: [], vigilCpu: [], corosyncCpu: [] };
  await withLab({ hosts: [...NODES, 'client'], prefix: 'vcb' }, async (lab) => {
    const cluster = provider === 'corosync' ? CorosyncCluster.create(lab, { hosts: NODES, tokenMs: 500 }) : undefined;
    const vigils = new Map<string, VigilProcess>();
    const yaml = (h: string): string =>
      configYaml(instanceYaml({ vrid: 97, priority: PRIORITY[h] ?? 1, vips: [`${VIP}/24`] })) +
      (provider === 'corosync'
        ? 'quorum:\n  provider: corosync\n'
        : [
            'quorum:',
            '  cluster_name: bench',
            `  key_file: ${keyFile}`,
            '  heartbeat_interval: 50ms',
            '  heartbeat_timeout: 200ms',
            '  nodes:',
            ...NODES.map((n, i) => `    - { id: ${i + 1}, name: ${n}, address: ${lab.host(n).ipv4} }`),
            '',
          ].join('\n'));
    /** Everything up, a master and everyone quorate. */
    const ready = async (): Promise<void> => {
      await heal(lab);
      if (cluster) for (const h of NODES) if (!cluster.node(h).running) await cluster.start([h]);
      for (const h of NODES) {
        const p = vigils.get(h);
        if (!p || p.exited) {
          await p?.stop();
          vigils.set(h, await VigilProcess.start(lab, h, yaml(h)));
        }
      }
      const deadline = performance.now() + 30_000;
      for (;;) {
        const st = await Promise.all(NODES.map(async (h) => (vigils.get(h) as VigilProcess).status()));
        if (st[0]?.instances[0]?.state === 'master' && st.slice(1).every((s) => s.instances[0]?.state === 'backup') && st.every((s) => s.quorum?.quorate && s.quorum.members.length === 3)) break;
        if (performance.now() > deadline) throw new Error(`${provider}: cluster not ready: ${st.map((s) => s.instances[0]?.state).join(', ')}`);
        await sleep(100);
      }
      await sleep(500);
    };
    try {
      for (const mode of ['death', 'cut'] as const) {
        for (let r = 0; r < runs; r++) {
          let cap: Capture | undefined;
          try {
            await ready();
            const a = vigils.get('a') as VigilProcess;
            cap = await Capture.start(lab, 'client', 'vrrp or arp');
            await sleep(300);
            const markA = a.events.length;
            const t0 = performance.now();
            if (mode === 'death') {
              a.signal('SIGKILL');
              if (cluster) process.kill(cluster.node('a').pid as number, 'SIGKILL');
            } else {
              await cut(lab);
            }
            const bIp = lab.host('b').ipv4;
            const bMac = lab.host('b').mac;
            const c = cap;
            await until(() => gratuitousArps(c.frames()).some((g) => g.ip === VIP && g.senderMac === bMac && g.timeMs >= realtime(t0)), "b's gratuitous ARP", 10_000, 10);
            let stepDown: number | undefined;
            if (mode === 'cut') {
              const e = await a.waitFor((ev) => ev.event === 'state-change' && ev['from'] === 'master', 'a steps down', 10_000, markA);
              stepDown = e.receivedAt - t0;
            }
            const frames = await cap.stop();
            cap = undefined;
            const t0r = realtime(t0);
            const advert = vrrpAdverts(frames).find((x) => x.src.text === bIp && x.timeMs >= t0r);
            const garp = gratuitousArps(frames).find((g) => g.ip === VIP && g.senderMac === bMac && g.timeMs >= t0r);
            if (!advert || !garp) throw new Error('capture incomplete');
            if (mode === 'death') {
              result.deathAdvert.push(advert.timeMs - t0r);
              result.deathGarp.push(garp.timeMs - t0r);
              if (cluster) await cluster.node('a').stop('SIGKILL');
            } else {
              result.cutAdvert.push(advert.timeMs - t0r);
              result.cutStepDown.push((stepDown as number) - (advert.timeMs - t0r));
            }
          } catch (e) {
            result.errors.push(`${mode}: ${errorText(e)}`);
            if (cap) await cap.stop().catch(() => undefined);
          }
        }
      }
      // Idle CPU of the whole cluster.
      await ready();
      await sleep(2000);
      const vPids = NODES.map((h) => (vigils.get(h) as VigilProcess).pid);
      const cPids = cluster ? NODES.map((h) => cluster.node(h).pid as number) : [];
      const v0 = vPids.map(cpuSeconds);
      const c0 = cPids.map(cpuSeconds);
      const t = performance.now();
      await sleep(cpuWindowS * 1000);
      const elapsed = (performance.now() - t) / 1000;
      vPids.forEach((p, i) => result.vigilCpu.push(((cpuSeconds(p) - (v0[i] as number)) * 1000) / elapsed));
      cPids.forEach((p, i) => result.corosyncCpu.push(((cpuSeconds(p) - (c0[i] as number)) * 1000) / elapsed));
    } finally {
      await heal(lab);
      await Promise.all([...vigils.values()].map((p) => p.stop()));
      await cluster?.destroy();
    }
  });
  return result;
}

/** Runs when VIGIL_BENCH_SECTIONS names "corosync" (it needs corosync and its client libraries). */
export async function runCorosyncBench(sections?: ReadonlySet<string>): Promise<void> {
  if (sections !== undefined && !sections.has('corosync')) return;
  const runs = Math.max(1, Math.round(envNumber('VIGIL_BENCH_RUNS', 3)));
  const seconds = envNumber('VIGIL_BENCH_COROSYNC_SECONDS', 10);
  const keyDir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-ckey-'));
  try {
    const keyFile = path.join(keyDir, 'authkey');
    await writeKeyFile(keyFile);
    const results = new Map<Provider, ProviderResult>();
    for (const p of ['vigil', 'corosync'] as const) {
      const t = performance.now();
      results.set(p, await runProvider(p, runs, seconds, keyFile));
      process.stderr.write(`  [corosync bench, ${p}: ${((performance.now() - t) / 1000).toFixed(1)} s]\n`);
    }
    console.log(`\ncorosync vs vigil heartbeats: 3 nodes, adverts 100 ms (Master_Down_Interval ~360 ms), ${runs} runs; ms, median [min–max]`);
    console.log('heartbeats 50 ms / timeout 200 ms; corosync token 500 ms, consensus 600 ms');
    const f = (xs: readonly number[]): string => fmtSummary(xs.length > 0 ? summarize(xs) : undefined);
    printTable(
      ['provider', 'death: first advert', 'death: GARP', 'link cut: first advert', 'link cut: isolated master steps down − takeover'],
      [...results].map(([p, r]) => [p, f(r.deathAdvert), f(r.deathGarp), f(r.cutAdvert), f(r.cutStepDown)]),
    );
    console.log(`\nidle CPU over ${seconds} s (CLK_TCK ${CLK_TCK}), ms of CPU per second, mean of the 3 nodes`);
    const mean = (xs: readonly number[]): string => (xs.length > 0 ? (xs.reduce((s, x) => s + x, 0) / xs.length).toFixed(2) : '-');
    printTable(
      ['provider', 'vigil', 'corosync', 'total per node'],
      [...results].map(([p, r]) => [p, mean(r.vigilCpu), p === 'corosync' ? mean(r.corosyncCpu) : '-', mean(r.vigilCpu.map((v, i) => v + (r.corosyncCpu[i] ?? 0)))]),
    );
    for (const [p, r] of results) for (const e of r.errors) console.log(`  ${p} error: ${e}`);
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCorosyncBench().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
