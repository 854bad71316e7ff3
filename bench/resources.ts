/**
 * Resources of an idle daemon in the lab: RSS (VmRSS of /proc/PID/status) and CPU
 * (utime + stime of /proc/PID/stat, all threads) over a measured window, with 1, 50 and
 * 200 instances. Host a runs every instance as master (priority 200), host b as backup
 * (priority 100); both are measured in the same window. The adverts a sent (and b
 * received) are counted in the client's capture over that window, which gives the CPU
 * per advert. keepalived figures are its parent and VRRP child together.
 */
import { withLab } from '../src/lab/netns.js';
import { Capture, vrrpAdverts } from '../src/lab/capture.js';
import {
  BENCH_CAPTURE,
  CLK_TCK,
  cpuSeconds,
  printTable,
  rssKiB,
  startDaemon,
  type BenchDaemon,
  type DaemonKind,
  type InstanceSpec,
} from './lab-daemons.js';
import { errorText } from '../src/base/error-text.js';
import { sleep, until } from '../src/lab/wait.js';

export interface ResourceResult {
  readonly kind: DaemonKind;
  readonly instances: number;
  readonly role: 'master' | 'backup';
  readonly rssMiB: number;
  readonly cpuPercent: number;
  readonly adverts: number;
  readonly cpuPerAdvertUs: number;
}

function specs(count: number, priority: number, intervalMs: number): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  for (let i = 1; i <= count; i++) {
    out.push({ name: `gw${i}`, vrid: i, priority, intervalMs, vips: [`10.213.${1 + Math.floor((i - 1) / 250)}.${((i - 1) % 250) + 1}/32`] });
  }
  return out;
}

function sample(d: BenchDaemon): { cpu: number; rssKiB: number } {
  let cpu = 0;
  let rss = 0;
  for (const pid of d.pids()) {
    cpu += cpuSeconds(pid);
    rss += rssKiB(pid);
  }
  return { cpu, rssKiB: rss };
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
      await sleep(seconds * 1000);
      const sa1 = sample(a);
      const sb1 = sample(b);
      const elapsed = (performance.now() - t0) / 1000;
      const wall1 = Date.now();
      await sleep(100);
      const frames = await cap.stop();
      cap = undefined;
      const srcA = lab.host('a').ipv4;
      const sent = vrrpAdverts(frames).filter((x) => x.src.text === srcA && x.timeMs >= wall0 && x.timeMs <= wall1).length;
      const row = (role: 'master' | 'backup', s0: { cpu: number }, s1: { cpu: number; rssKiB: number }): ResourceResult => {
        const cpu = s1.cpu - s0.cpu;
        return {
          kind,
          instances: count,
          role,
          rssMiB: s1.rssKiB / 1024,
          cpuPercent: (100 * cpu) / elapsed,
          adverts: sent,
          cpuPerAdvertUs: sent > 0 ? (cpu * 1e6) / sent : NaN,
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
}

export async function runResourceBench(o: ResourceBenchOptions): Promise<void> {
  const results: ResourceResult[] = [];
  const errors: string[] = [];
  for (const count of o.counts) {
    for (const kind of o.kinds) {
      const t0 = performance.now();
      try {
        results.push(...(await resourceLab(kind, count, o.intervalMs, o.seconds)));
      } catch (e) {
        errors.push(`${kind} × ${count}: ${errorText(e)}`);
      }
      process.stderr.write(`  [resources ${kind} × ${count}: ${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
    }
  }
  console.log('');
  console.log(`Idle resources: ${o.seconds} s window, advert interval ${o.intervalMs} ms, CPU = Δ(utime+stime) of /proc/PID/stat (CLK_TCK ${CLK_TCK}, so ±${(100 / CLK_TCK / o.seconds).toFixed(2)} % resolution)`);
  console.log('master: host a holds every instance at priority 200; backup: host b at 100, same window; CPU per advert: per advert sent (master) / received (backup), counted in the client capture');
  printTable(
    ['daemon', 'instances', 'role', 'RSS MiB', 'CPU %', 'adverts', 'CPU µs/advert'],
    results.map((r) => [r.kind, String(r.instances), r.role, r.rssMiB.toFixed(1), r.cpuPercent.toFixed(2), String(r.adverts), Number.isFinite(r.cpuPerAdvertUs) ? r.cpuPerAdvertUs.toFixed(1) : 'n/a']),
  );
  for (const e of errors) console.log(`  failed: ${e}`);
}
