/**
 * Quorum in the lab (section "quorum" of `npm run bench`; also `node dist/bench/quorum.js`):
 *
 * 1. Peer loss: a two_node pair (tie_breaker ping to the client, the recommended setup),
 *    multicast heartbeats every 50 ms with a 200 ms timeout, VRRP adverts every 100 ms;
 *    b is master. b's loss — SIGKILL of its vigil, or its link cut with nftables (b's
 *    namespace only) — and then, on the survivor a: the membership change (member-left,
 *    log line), the tie-breaker's win (a may hold the VIPs again), a's state change to
 *    master (log line), and the VIP's move (a's gratuitous ARP on the client's capture).
 *    Times from the moment of the loss (the test process's clock, in CLOCK_REALTIME as
 *    the capture) and from b's last packet on the wire (heartbeat or advert, captured).
 *    Median [min–max] over VIGIL_BENCH_RUNS runs (default 5).
 * 2. Heartbeat CPU: CPU time (the schedstat of each of its threads, ns) over a window
 *    (VIGIL_BENCH_QUORUM_SECONDS, default 10) of idle pairs, each node with one VRRP
 *    instance (advert 1 s): without a quorum section, with heartbeats every 200 ms (the
 *    default), every 50 ms and every 20 ms. The window opens after a warm-up
 *    (VIGIL_BENCH_QUORUM_WARMUP seconds, default 60): V8's memory reducer runs its
 *    full GCs in the first ~10 s after start, and at 5 to 50 heartbeats a second V8 is
 *    still compiling the heartbeat path with TurboFan 15–40 s after start (2–8 ms of
 *    compile a second, seen with --trace-opt), which a 15 s settle counted as heartbeat
 *    CPU. Per heartbeat: the CPU over the no-quorum pair divided by the heartbeats each
 *    node sends (and receives from its peer) per second, so one heartbeat sent plus one
 *    received. Everything runs at once in one lab, so the pairs see the same machine load,
 *    beside a bare Node process woken by a no-op timer every 20 ms: the CPU of one wake-up
 *    on this machine, the floor under a heartbeat's two (its send, the peer's arrival).
 * 3. The floor, in the same lab and window: the same exchange without vigil, a pair of
 *    processes in their own namespaces each sending a 68-byte UDP datagram to the other
 *    every 50 ms and every 20 ms and reading the other's: bench/hb-ref.c (compiled here
 *    with the system cc, with OpenSSL's HMAC-SHA256 on send and receipt when libcrypto's
 *    headers are there) and a bare Node process on node:dgram. Their CPU per heartbeat
 *    sent+received is the kernel's and the VM's part (the sender's sendto runs the
 *    veth → bridge → peer receive path); vigil's own part is its figure minus the C one.
 */
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, gratuitousArps, vrrpAdverts, type Frame } from '../src/lab/capture.js';
import { VigilProcess, configYaml, instanceYaml, type LogEvent } from '../src/lab/vigil.js';
import { writeKeyFile } from '../src/quorum/io/authkey.js';
import { cpuSecondsPrecise, envNumber, fmtSummary, printTable, summarize } from './lab-daemons.js';
import { errorText } from '../src/base/error-text.js';
import { sleep, until } from '../src/lab/wait.js';

const VIP = '10.213.0.100';
type LossMode = 'sigkill' | 'linkcut';
const MODE_LABEL: Record<LossMode, string> = { sigkill: 'SIGKILL of vigil', linkcut: 'link cut (nft)' };

interface LossRun {
  /** ms from the loss action. */
  readonly memberLeft: number;
  readonly tieBreakerWon: number;
  readonly master: number;
  readonly garp: number;
  /** ms of the GARP after b's last packet on the wire. */
  readonly garpFromLastPacket: number;
  readonly memberLeftFromLastPacket: number;
}

/** performance.now() as CLOCK_REALTIME ms (the capture's clock). */
function realtime(perfMs: number): number {
  return performance.timeOrigin + perfMs;
}

function quorumYaml(lab: Lab, keyFile: string, o: { cluster: string; port: number; nodes: readonly string[]; intervalMs: number; timeoutMs: number; extra?: readonly string[] }): string {
  return [
    'quorum:',
    `  cluster_name: ${o.cluster}`,
    `  key_file: ${keyFile}`,
    `  port: ${o.port}`,
    `  heartbeat_interval: ${o.intervalMs}ms`,
    `  heartbeat_timeout: ${o.timeoutMs}ms`,
    '  two_node: true',
    ...(o.extra ?? []).map((l) => `  ${l}`),
    '  nodes:',
    ...o.nodes.map((h, i) => `    - { id: ${i + 1}, name: ${h}, address: ${lab.host(h).ipv4} }`),
    '',
  ].join('\n');
}

/** Source IPv4 of frames that are b's heartbeats (UDP to `port`) or adverts. */
function lastPacketFrom(frames: readonly Frame[], src: string, port: number, before: number): number | undefined {
  let last: number | undefined;
  for (const f of frames) {
    const b = f.bytes;
    if (f.timeMs > before || b.length < 34 || b.readUInt16BE(12) !== 0x0800) continue;
    if (`${b[26]}.${b[27]}.${b[28]}.${b[29]}` !== src) continue;
    const proto = b[23];
    const ihl = ((b[14] as number) & 0x0f) * 4;
    const isHeartbeat = proto === 17 && b.length >= 14 + ihl + 4 && b.readUInt16BE(14 + ihl + 2) === port;
    if (isHeartbeat || proto === 112) last = f.timeMs;
  }
  return last;
}

async function lossBench(runs: number): Promise<Map<LossMode, { runs: LossRun[]; errors: string[] }>> {
  const out = new Map<LossMode, { runs: LossRun[]; errors: string[] }>([
    ['sigkill', { runs: [], errors: [] }],
    ['linkcut', { runs: [], errors: [] }],
  ]);
  const keyDir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-qkey-'));
  const port = 5406;
  try {
    const keyFile = path.join(keyDir, 'authkey');
    await writeKeyFile(keyFile);
    await withLab({ hosts: ['a', 'b', 'client'], prefix: 'vqb' }, async (lab) => {
      const yaml = (priority: number): string =>
        configYaml(instanceYaml({ vrid: 81, priority, vips: [`${VIP}/24`] })) +
        quorumYaml(lab, keyFile, {
          cluster: 'bench',
          port,
          nodes: ['a', 'b'],
          intervalMs: 50,
          timeoutMs: 200,
          extra: ['transport: multicast', 'interface: eth0', `tie_breaker: { ping: ${lab.host('client').ipv4}, timeout: 100ms, interval: 500ms }`],
        });
      let a: VigilProcess | undefined;
      let b: VigilProcess | undefined;
      const state = async (p: VigilProcess): Promise<string | undefined> => (await p.status()).instances[0]?.state;
      /** Both running and quorate, b master, a backup. */
      const ready = async (): Promise<void> => {
        if (!a || a.exited) {
          await a?.stop();
          a = await VigilProcess.start(lab, 'a', yaml(100));
        }
        if (!b || b.exited) {
          await b?.stop();
          b = await VigilProcess.start(lab, 'b', yaml(200));
        }
        const pa = a;
        const pb = b;
        const deadline = performance.now() + 15000;
        for (;;) {
          const [sa, sb, qa, qb] = await Promise.all([state(pa), state(pb), pa.status(), pb.status()]);
          if (sa === 'backup' && sb === 'master' && qa.quorum?.members.length === 2 && qb.quorum?.members.length === 2) break;
          if (performance.now() > deadline) throw new Error(`pair not ready: a ${sa}, b ${sb}`);
          await sleep(50);
        }
        await sleep(300);
      };
      try {
        for (const mode of ['sigkill', 'linkcut'] as const) {
          const bucket = out.get(mode) as { runs: LossRun[]; errors: string[] };
          for (let r = 0; r < runs; r++) {
            let cap: Capture | undefined;
            try {
              await ready();
              const pa = a as VigilProcess;
              const pb = b as VigilProcess;
              cap = await Capture.start(lab, 'client', `vrrp or arp or udp port ${port}`);
              await sleep(250);
              const mark = pa.events.length;
              const t0 = performance.now();
              if (mode === 'sigkill') pb.signal('SIGKILL');
              else await lab.cut('b');
              const after = (pred: (e: LogEvent) => boolean, what: string): Promise<LogEvent> => pa.waitFor(pred, what, 5000, mark);
              const left = await after((e) => e.event === 'member-left' && e['node'] === 2, 'member-left');
              const won = await after((e) => e.event === 'tie-breaker' && e['result'] === 'won', 'tie-breaker won');
              const master = await after((e) => e.event === 'state-change' && e['to'] === 'master', 'master');
              const aMac = lab.host('a').mac;
              const c = cap;
              await until(() => gratuitousArps(c.frames()).some((g) => g.ip === VIP && g.senderMac === aMac && g.timeMs >= realtime(t0)), "a's GARP on the client", 3000, 10);
              const frames = await cap.stop();
              cap = undefined;
              const t0r = realtime(t0);
              const garp = gratuitousArps(frames).find((g) => g.ip === VIP && g.senderMac === aMac && g.timeMs >= t0r);
              const lastB = lastPacketFrom(frames, lab.host('b').ipv4, port, t0r + 1000);
              if (!garp || lastB === undefined) throw new Error('capture incomplete');
              if (vrrpAdverts(frames).some((x) => x.src.text === lab.host('b').ipv4 && x.timeMs > garp.timeMs)) throw new Error('b still advertised on the wire after the move');
              bucket.runs.push({
                memberLeft: left.receivedAt - t0,
                tieBreakerWon: won.receivedAt - t0,
                master: master.receivedAt - t0,
                garp: garp.timeMs - t0r,
                garpFromLastPacket: garp.timeMs - lastB,
                memberLeftFromLastPacket: realtime(left.receivedAt) - lastB,
              });
            } catch (e) {
              bucket.errors.push(errorText(e));
              if (cap) await cap.stop().catch(() => undefined);
            } finally {
              // Back to a pair: b returns (a restart after SIGKILL, the link healed), preempts.
              await lab.heal('b');
              if (mode === 'sigkill' && b) {
                await b.stop();
                b = undefined;
              }
            }
          }
        }
      } finally {
        await lab.heal('b');
        await Promise.all([a?.stop(), b?.stop()]);
      }
    });
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
  return out;
}

interface CpuResult {
  readonly label: string;
  readonly heartbeatMs: number;
  readonly msPerSecond: number[];
}

/** A bare Node process woken every WAKE_MS by a no-op timer: what one wake-up costs on this machine. */
const WAKE_MS = 20;

/** The reference pairs' heartbeat intervals (ms). */
const REF_INTERVALS = [50, 20] as const;

interface RefResult {
  readonly label: string;
  readonly heartbeatMs: number;
  readonly msPerSecond: number[];
}

/** The same exchange on node:dgram: a 68-byte datagram to the peer every interval, the peer's read and dropped. */
const NODE_REF = [
  "const dgram = require('node:dgram');",
  'const [local, peer, port, ms] = process.argv.slice(1);',
  "const s = dgram.createSocket('udp4');",
  'const b = Buffer.alloc(68);',
  "s.on('message', () => {});",
  's.bind(Number(port), local, () => setInterval(() => s.send(b, Number(port), peer), Number(ms)));',
].join('\n');

/** bench/hb-ref.c compiled into `dir` (with OpenSSL's HMAC if it links); its path and whether it signs. */
function buildReference(dir: string): { readonly binary: string; readonly hmac: boolean } {
  const source = fileURLToPath(new URL('../../bench/hb-ref.c', import.meta.url));
  const binary = path.join(dir, 'hb-ref');
  try {
    execFileSync('cc', ['-O2', '-DHB_HMAC', '-o', binary, source, '-lcrypto'], { stdio: 'pipe' });
    return { binary, hmac: true };
  } catch {
    execFileSync('cc', ['-O2', '-o', binary, source], { stdio: 'pipe' });
    return { binary, hmac: false };
  }
}

async function cpuBench(
  seconds: number,
  warmupSeconds: number,
): Promise<{ readonly results: CpuResult[]; readonly wakeUs: number; readonly refs: RefResult[]; readonly refHmac: boolean }> {
  const keyDir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-qkey-'));
  const reference = buildReference(keyDir);
  const variants = [
    { label: 'no quorum', heartbeatMs: 0 },
    { label: 'quorum, heartbeat 200 ms', heartbeatMs: 200 },
    { label: 'quorum, heartbeat 50 ms', heartbeatMs: 50 },
    { label: 'quorum, heartbeat 20 ms', heartbeatMs: 20 },
  ];
  try {
    const keyFile = path.join(keyDir, 'authkey');
    await writeKeyFile(keyFile);
    const refs = REF_INTERVALS.flatMap((ms, k) => [
      { label: `C${reference.hmac ? ' + OpenSSL HMAC' : ''}, every ${ms} ms`, heartbeatMs: ms, pair: [`ca${k}`, `cb${k}`], c: true },
      { label: `Node dgram, every ${ms} ms`, heartbeatMs: ms, pair: [`na${k}`, `nb${k}`], c: false },
    ]);
    const hosts = [...variants.flatMap((_, i) => [`a${i}`, `b${i}`]), ...refs.flatMap((r) => r.pair)];
    return await withLab({ hosts, prefix: 'vqc' }, async (lab) => {
      const procs: VigilProcess[][] = [];
      const refProcs: ChildProcess[] = [];
      const waker = spawn(process.execPath, ['-e', `setInterval(() => {}, ${WAKE_MS})`], { stdio: 'ignore' });
      try {
        for (const [k, r] of refs.entries()) {
          for (const [j, h] of r.pair.entries()) {
            const peer = lab.host(r.pair[1 - j] as string).ipv4;
            const args = [lab.host(h).ipv4, peer, String(5420 + k), String(r.heartbeatMs)];
            refProcs.push(r.c ? lab.spawn(h, reference.binary, args, { stdio: 'ignore' }) : lab.spawn(h, process.execPath, ['-e', NODE_REF, ...args], { stdio: 'ignore' }));
          }
        }
        for (const [i, v] of variants.entries()) {
          const pair = [`a${i}`, `b${i}`];
          const yaml = (priority: number): string =>
            configYaml(instanceYaml({ vrid: 90 + i, priority, interval: '1s', vips: [`10.213.0.${200 + i}/24`] })) +
            (v.heartbeatMs > 0
              ? quorumYaml(lab, keyFile, { cluster: `cpu${i}`, port: 5410 + i, nodes: pair, intervalMs: v.heartbeatMs, timeoutMs: v.heartbeatMs * 5 })
              : '');
          procs.push(await Promise.all(pair.map((h, j) => VigilProcess.start(lab, h, yaml(j === 0 ? 200 : 100)))));
        }
        // Settle: elections over, quorum formed, the start-up GCs done.
        await sleep(warmupSeconds * 1000);
        const all = procs.flat();
        const refPid = (c: ChildProcess): number => {
          if (c.pid === undefined || c.exitCode !== null) throw new Error('a reference heartbeat process exited');
          return c.pid;
        };
        const before = all.map((p) => cpuSecondsPrecise(p.pid));
        const refBefore = refProcs.map((c) => cpuSecondsPrecise(refPid(c)));
        const wake0 = cpuSecondsPrecise(waker.pid as number);
        const t0 = performance.now();
        await sleep(seconds * 1000);
        const elapsed = (performance.now() - t0) / 1000;
        const after = all.map((p) => cpuSecondsPrecise(p.pid));
        const refAfter = refProcs.map((c) => cpuSecondsPrecise(refPid(c)));
        const wake1 = cpuSecondsPrecise(waker.pid as number);
        return {
          refHmac: reference.hmac,
          refs: refs.map((r, k) => ({
            label: r.label,
            heartbeatMs: r.heartbeatMs,
            msPerSecond: [0, 1].map((j) => (((refAfter[k * 2 + j] as number) - (refBefore[k * 2 + j] as number)) * 1000) / elapsed),
          })),
          results: variants.map((v, i) => ({
            label: v.label,
            heartbeatMs: v.heartbeatMs,
            msPerSecond: [0, 1].map((j) => (((after[i * 2 + j] as number) - (before[i * 2 + j] as number)) * 1000) / elapsed),
          })),
          wakeUs: ((wake1 - wake0) * 1e6) / ((elapsed * 1000) / WAKE_MS),
        };
      } finally {
        for (const c of refProcs) c.kill('SIGKILL');
        waker.kill('SIGKILL');
        await Promise.all(procs.flat().map((p) => p.stop()));
      }
    });
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
}

async function lossSection(runs: number): Promise<void> {
  console.log(`\nquorum: peer loss on a two_node pair (heartbeat 50 ms / timeout 200 ms, adverts 100 ms, tie_breaker ping 100 ms), ${runs} runs per mode`);
  console.log('ms from the loss (test clock) to each step on the survivor; median [min–max]');
  const t = performance.now();
  const loss = await lossBench(runs);
  const rows: string[][] = [];
  for (const [mode, r] of loss) {
    const pick = (f: (x: LossRun) => number): string => fmtSummary(r.runs.length > 0 ? summarize(r.runs.map(f)) : undefined);
    rows.push([
      MODE_LABEL[mode],
      `${r.runs.length}/${r.runs.length + r.errors.length}`,
      pick((x) => x.memberLeft),
      pick((x) => x.tieBreakerWon),
      pick((x) => x.master),
      pick((x) => x.garp),
      pick((x) => x.memberLeftFromLastPacket),
      pick((x) => x.garpFromLastPacket),
    ]);
  }
  printTable(['loss', 'runs', 'member-left', 'tie-breaker won', 'master', 'VIP moved (GARP)', 'member-left from last pkt', 'GARP from last pkt'], rows);
  for (const [mode, r] of loss) for (const e of r.errors) console.log(`  ${mode} error: ${e}`);
  process.stderr.write(`  [quorum loss: ${((performance.now() - t) / 1000).toFixed(1)} s]\n`);
}

/** Runs when the sections (VIGIL_BENCH_SECTIONS) name "quorum", or when they are not set. */
export async function runQuorumBench(sections?: ReadonlySet<string>): Promise<void> {
  if (sections !== undefined && process.env['VIGIL_BENCH_SECTIONS'] !== undefined && !sections.has('quorum')) return;
  const runs = Math.max(0, Math.round(envNumber('VIGIL_BENCH_RUNS', 5)));
  const seconds = envNumber('VIGIL_BENCH_QUORUM_SECONDS', 10);
  if (runs > 0) await lossSection(runs);
  if (seconds > 0) {
    const t2 = performance.now();
    const warmup = envNumber('VIGIL_BENCH_QUORUM_WARMUP', 60);
    const { results: cpu, wakeUs, refs } = await cpuBench(seconds, warmup);
    console.log(`\nquorum: CPU of idle nodes (one VRRP instance, adverts 1 s), schedstat over ${seconds} s after ${warmup} s, ms of CPU per second`);
    const base = cpu[0];
    printTable(
      ['pair', 'node a (master)', 'node b (backup)', 'mean', 'over no quorum', 'per heartbeat sent+received'],
      cpu.map((c) => {
        const mean = (c.msPerSecond[0]! + c.msPerSecond[1]!) / 2;
        const baseMean = base ? (base.msPerSecond[0]! + base.msPerSecond[1]!) / 2 : mean;
        const extra = mean - baseMean;
        // Each node sends 1000 / heartbeatMs heartbeats a second and receives as many from its peer.
        const perBeat = c.heartbeatMs > 0 ? `${((extra * 1000) / (1000 / c.heartbeatMs)).toFixed(1)} µs` : '-';
        return [c.label, c.msPerSecond[0]!.toFixed(3), c.msPerSecond[1]!.toFixed(3), mean.toFixed(3), c === base ? '-' : `${extra >= 0 ? '+' : ''}${extra.toFixed(3)}`, perBeat];
      }),
    );
    console.log(`A bare Node process woken by a no-op timer every ${WAKE_MS} ms, in the same window: ${wakeUs.toFixed(1)} µs of CPU per wake-up (a heartbeat sent and one received are two wake-ups)`);
    console.log('\nquorum: the floor, the same exchange without vigil in the same window (68-byte UDP datagram to the peer every interval, the peer\'s read), per node');
    const perBeatOf = (label: string, ms: number): number | undefined => {
      const r = refs.find((x) => x.heartbeatMs === ms && x.label.startsWith(label));
      return r ? ((r.msPerSecond[0]! + r.msPerSecond[1]!) / 2) * ms : undefined;
    };
    printTable(
      ['pair', 'node a ms/s', 'node b ms/s', 'per heartbeat sent+received', 'vigil at this interval', 'vigil minus C'],
      refs.map((r) => {
        const perBeat = ((r.msPerSecond[0]! + r.msPerSecond[1]!) / 2) * r.heartbeatMs;
        const v = cpu.find((c) => c.heartbeatMs === r.heartbeatMs);
        const vBeat = v && base ? (((v.msPerSecond[0]! + v.msPerSecond[1]!) / 2 - (base.msPerSecond[0]! + base.msPerSecond[1]!) / 2) * 1000) / (1000 / v.heartbeatMs) : undefined;
        const cBeat = perBeatOf('C', r.heartbeatMs);
        return [
          r.label,
          r.msPerSecond[0]!.toFixed(3),
          r.msPerSecond[1]!.toFixed(3),
          `${perBeat.toFixed(1)} µs`,
          vBeat !== undefined ? `${vBeat.toFixed(1)} µs` : '-',
          vBeat !== undefined && cBeat !== undefined && r.label.startsWith('C') ? `${(vBeat - cBeat).toFixed(1)} µs` : '-',
        ];
      }),
    );
    process.stderr.write(`  [quorum cpu: ${((performance.now() - t2) / 1000).toFixed(1)} s]\n`);
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runQuorumBench().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}

