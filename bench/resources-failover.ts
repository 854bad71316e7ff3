/**
 * Web failover in the lab: the VIP plus haproxy, when haproxy dies (kill -9) on the master.
 *
 * Hosts a (priority 150) and b (100) run vigil, VRRP instance gw (VRID 61, VIP
 * 10.213.0.100/24, advert_interval 100ms, VRRPv3 multicast) and haproxy as an exec
 * resource; two nginx backends (web1, web2) in their own namespaces; a client sends a GET
 * to the VIP every 10 ms (a new connection each) and records which node's haproxy
 * answered (each haproxy config adds `X-Node: a|b` to its responses).
 *
 * Configurations (VIGIL_BENCH_WEB_CONFIGS, comma separated; default all three, about 20 s
 * each at 10 runs; `check-w0` is the one to use — the fastest, see the table's last line):
 *   check-w0     haproxy runs_on everywhere (warm on the backup, bound to the VIP through
 *                nonlocal bind); health check type process on this node's haproxy, interval
 *                100ms, fall 1, weight 0 (FAULT while unhealthy), instances [gw]
 *   check-w-100  the same with weight -100 (priority 150 → 50)
 *   group-mt1    a group [haproxy] runs_on { master: gw }, migration_threshold 1,
 *                monitor_interval 100ms: haproxy runs on the master only (cold on the peer)
 *
 * The process check names this node's haproxy by its config path (a command-line
 * substring), not `haproxy`: the lab's hosts are network namespaces of one machine, so
 * /proc shows every host's haproxy, and a bare name would stay healthy on a while b's
 * haproxy lives.
 *
 * Per run, T = just before kill -9 of a's haproxy (CLOCK_MONOTONIC of this process; the
 * client stamps its requests with the same clock, and the capture's CLOCK_REALTIME is
 * mapped to it through an offset measured at a Date.now() edge):
 *   - a's first advert after T (priority 0 for FAULT, or the lowered priority);
 *   - b's first advert (as master) and first gratuitous ARP for the VIP, captured on the client;
 *   - the first HTTP answer through b (its end, at the client);
 *   - the client's error window (errorWindow of src/lab/web.ts: the longest run of failed
 *     requests, by start time) and the failed requests around the failover.
 * Restore: `vigil resource cleanup haproxy` on a (through the control socket); a's
 * haproxy starts again, the check turns healthy, a preempts back and serves.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, gratuitousArps, vrrpAdverts, type Frame } from '../src/lab/capture.js';
import { VigilProcess, configYaml, instanceYaml } from '../src/lab/vigil.js';
import { errorWindow, startNginx, writeHaproxyConfig, type HttpResult, type NginxBackend } from '../src/lab/web.js';
import { controlRequest } from '../src/daemon/control.js';
import { BENCH_CAPTURE, fmtSummary, printTable, summarize, type Summary } from './lab-daemons.js';
import { errorText } from '../src/base/error-text.js';
import { sleep, until } from '../src/lab/wait.js';
import type { ResourceManagerStatus } from '../src/resources/types.js';
import { onLines } from '../src/lab/lines.js';
import { procRunning } from '../src/lab/proc.js';

export type WebConfig = 'check-w0' | 'check-w-100' | 'group-mt1';
export const WEB_CONFIGS: readonly WebConfig[] = ['check-w0', 'check-w-100', 'group-mt1'];

const VIP = '10.213.0.100';
const VRID = 61;
const INSTANCE = 'gw';
const PRIORITY = { a: 150, b: 100 } as const;
const VERBOSE = process.env['VIGIL_BENCH_VERBOSE'] === '1';

type Node = 'a' | 'b';

/** CLOCK_MONOTONIC in ms (shared by every process of the machine, whatever the namespace). */
function mono(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** CLOCK_REALTIME − CLOCK_MONOTONIC in ms, measured at the edge of a Date.now() millisecond (µs-accurate). */
function realtimeOffset(): number {
  const d0 = Date.now();
  let d = d0;
  while (d === d0) d = Date.now();
  return d - mono();
}

// ---------------------------------------------------------------------------------------
// haproxy config and the client loop

/** haproxy on the VIP, marking its answers with the node it runs on. */
function writeHaproxy(dir: string, node: Node, backends: readonly string[]): string {
  return writeHaproxyConfig({ dir, vip: VIP, backends, frontendLines: [`http-response set-header X-Node ${node}`] });
}

/** One request: start and end in CLOCK_MONOTONIC ms, and which node's haproxy answered. */
interface Req {
  readonly s: number;
  readonly e: number;
  readonly ok: boolean;
  readonly node?: string;
  readonly err?: string;
}

/** The client: a GET every `every` ms on a new connection; one JSON line per request. argv: url every timeout. */
const LOOP = `
const http = require('node:http');
const [url, every, timeout] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const agent = new http.Agent({ keepAlive: false });
const now = () => Number(process.hrtime.bigint()) / 1e6;
let sending = true;
function one() {
  const s = now(); let done = false;
  const fin = (r) => { if (done) return; done = true; process.stdout.write(JSON.stringify({ s, e: now(), ...r }) + '\\n'); };
  const req = http.get(url, { agent, timeout }, (res) => {
    res.resume();
    res.on('end', () => fin({ ok: res.statusCode === 200, node: res.headers['x-node'] }));
    res.on('error', (e) => fin({ ok: false, err: String(e.code || e) }));
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
  req.on('error', (e) => fin({ ok: false, err: String(e.code || e) }));
}
let next = now();
function tick() { if (!sending) return; one(); next += every; setTimeout(tick, Math.max(0, next - now())); }
tick();
process.on('SIGTERM', () => { sending = false; setTimeout(() => process.exit(0), timeout + 100); });
`;

class ClientLoop {
  readonly results: Req[] = [];
  private constructor(readonly child: ChildProcess) {
    onLines(child.stdout, (line) => this.results.push(JSON.parse(line) as Req));
  }

  static start(lab: Lab, host: string, url: string, everyMs: number, timeoutMs: number): ClientLoop {
    return new ClientLoop(lab.spawn(host, process.execPath, ['-e', LOOP, url, String(everyMs), String(timeoutMs)]));
  }

  /** Requests started in [from, to). */
  between(from: number, to: number): Req[] {
    return this.results.filter((r) => r.s >= from && r.s < to).sort((x, y) => x.s - y.s);
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
    process.kill(c.pid, 'SIGTERM');
    await until(() => c.exitCode !== null || c.signalCode !== null, 'the client loop to exit', 3000, 5).catch(() => {
      if (c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
    });
  }
}

// ---------------------------------------------------------------------------------------
// vigil configs

function vigilYaml(config: WebConfig, node: Node, stateDir: string, haproxyCfg: string): string {
  const command = `[/usr/sbin/haproxy, -db, -f, ${haproxyCfg}]`;
  const global = `global: { state_dir: ${stateDir}, nonlocal_bind: true }\n`;
  const instances = configYaml(instanceYaml({ name: INSTANCE, vrid: VRID, priority: PRIORITY[node], interval: '100ms', vips: [`${VIP}/24`] }));
  if (config === 'group-mt1') {
    return (
      global +
      instances +
      'resources:\n' +
      `  - { name: haproxy, type: exec, command: ${command}, monitor_interval: 100ms, migration_threshold: 1 }\n` +
      'groups:\n' +
      `  - { name: lb, resources: [haproxy], runs_on: { master: ${INSTANCE} } }\n`
    );
  }
  const weight = config === 'check-w0' ? 0 : -100;
  return (
    global +
    instances +
    'resources:\n' +
    // The exec monitor itself stays slow: the health check is what moves the VIP, and the
    // restore (cleanup) restarts haproxy, not a monitor in the middle of the measure.
    `  - { name: haproxy, type: exec, command: ${command}, monitor_interval: 30s, runs_on: everywhere }\n` +
    'health_checks:\n' +
    `  - { name: haproxy-alive, type: process, process: "${haproxyCfg}", interval: 100ms, timeout: 100ms, fall: 1, rise: 1, weight: ${weight}, instances: [${INSTANCE}] }\n`
  );
}

// ---------------------------------------------------------------------------------------
// One configuration in one lab

interface RunMarks {
  /** T in CLOCK_MONOTONIC ms, and in CLOCK_REALTIME ms (the capture's clock). */
  readonly t: number;
  readonly tReal: number;
  /** End of the measured window (before the restore), monotonic. */
  readonly end: number;
}

export interface WebRunResult {
  /** a's first advert after T (priority 0 or the lowered priority); undefined when none (group: FAULT also sends priority 0). */
  readonly reactMs: number | undefined;
  readonly advertMs: number;
  readonly garpMs: number;
  readonly httpMs: number;
  readonly errorWindowMs: number;
  readonly failures: number;
}

export interface WebConfigResult {
  readonly config: WebConfig;
  readonly results: WebRunResult[];
  readonly errors: string[];
}

function lastState(v: VigilProcess): string | undefined {
  const changes = v.stateChanges(INSTANCE);
  return changes.at(-1)?.['to'] as string | undefined;
}

function execPid(stateDir: string): number {
  const file = JSON.parse(readFileSync(path.join(stateDir, 'exec', 'haproxy.pid'), 'utf8')) as { pid: number };
  return file.pid;
}

function analyse(lab: Lab, frames: readonly Frame[], loop: ClientLoop, m: RunMarks): WebRunResult {
  const aIp = lab.host('a').ipv4;
  const bIp = lab.host('b').ipv4;
  const endReal = m.tReal + (m.end - m.t);
  const adverts = vrrpAdverts(frames).filter((x) => x.vrid === VRID && x.timeMs >= m.tReal && x.timeMs <= endReal);
  const react = adverts.find((x) => x.src.text === aIp && x.priority !== PRIORITY.a);
  const firstB = adverts.find((x) => x.src.text === bIp);
  if (!firstB) throw new Error('no advert from b after T in the capture');
  const garp = gratuitousArps(frames).find((g) => g.ip === VIP && g.senderMac === lab.host('b').mac && g.timeMs >= m.tReal && g.timeMs <= endReal);
  if (!garp) throw new Error('no gratuitous ARP from b after T in the capture');
  const reqs = loop.between(m.t - 200, m.end);
  const viaB = reqs.filter((r) => r.ok && r.node === 'b' && r.e >= m.t).sort((x, y) => x.e - y.e)[0];
  if (!viaB) throw new Error('no HTTP answer through b');
  const asHttp: HttpResult[] = reqs.map((r) => ({ t: r.s - m.t, ms: r.e - r.s, ok: r.ok }));
  const w = errorWindow(asHttp);
  return {
    reactMs: react ? react.timeMs - m.tReal : undefined,
    advertMs: firstB.timeMs - m.tReal,
    garpMs: garp.timeMs - m.tReal,
    httpMs: viaB.e - m.t,
    errorWindowMs: w.ms,
    failures: w.totalFailures,
  };
}

export async function webFailoverLab(config: WebConfig, runs: number): Promise<WebConfigResult> {
  const out: WebConfigResult = { config, results: [], errors: [] };
  await withLab({ hosts: ['a', 'b', 'client', 'web1', 'web2'], prefix: 'vgw' }, async (lab) => {
    const dirs: string[] = [];
    const backends: NginxBackend[] = [];
    const nodes = {} as Record<Node, VigilProcess>;
    const stateDirs = {} as Record<Node, string>;
    let cap: Capture | undefined;
    let loop: ClientLoop | undefined;
    try {
      backends.push(await startNginx(lab, 'web1'), await startNginx(lab, 'web2'));
      for (const node of ['a', 'b'] as const) {
        const dir = mkdtempSync(path.join(tmpdir(), `vigil-bench-web-${node}-`));
        dirs.push(dir);
        stateDirs[node] = path.join(dir, 'state');
        const cfg = writeHaproxy(dir, node, backends.map((b) => b.address));
        nodes[node] = await VigilProcess.start(lab, node, vigilYaml(config, node, stateDirs[node], cfg));
      }
      const a = nodes.a;
      const b = nodes.b;
      cap = await Capture.start(lab, 'client', 'vrrp or arp', BENCH_CAPTURE);
      loop = ClientLoop.start(lab, 'client', `http://${VIP}/`, 10, 500);
      const l = loop;
      /** a master, b backup, and the last `n` requests answered through a. */
      const servedByA = (n: number): boolean => {
        const done = [...l.results].sort((x, y) => x.s - y.s).slice(-n);
        return done.length === n && done.every((r) => r.ok && r.node === 'a');
      };
      const stable = async (timeoutMs: number): Promise<void> => {
        await until(() => lastState(a) === 'master' && lastState(b) === 'backup' && servedByA(20), 'a master, b backup, HTTP through a', timeoutMs, 10);
        // haproxy answers before its start op ends (the exec settle time, 500 ms): a kill
        // before that would be a failed start, not a failed monitor.
        await waitStarted(a, timeoutMs);
        if (config !== 'group-mt1') await waitStarted(b, timeoutMs);
      };
      await stable(20000);
      for (let r = 0; r < runs; r++) {
        try {
          const pid = execPid(stateDirs.a);
          if (!procRunning(pid)) throw new Error(`a's haproxy (pid ${pid}) is not running before the kill`);
          const fromA = a.events.length;
          const fromB = b.events.length;
          // A random phase against the 100 ms check / monitor period.
          await sleep(Math.random() * 100);
          const offset = realtimeOffset();
          const tPerf = performance.now();
          const t = mono();
          process.kill(pid, 'SIGKILL');
          await b.waitState(INSTANCE, 'master', 5000, fromB);
          await until(() => l.results.some((x) => x.ok && x.node === 'b' && x.e >= t), 'an HTTP answer through b', 5000, 5);
          await sleep(300);
          const end = mono();
          // Every request started before `end` has finished (or timed out, 500 ms): a SYN sent
          // while the VIP is on neither node is dropped and only ends at its timeout.
          await sleep(600);
          const result = analyse(lab, cap.frames(), l, { t, tReal: t + offset, end });
          out.results.push(result);
          if (VERBOSE) {
            const evs = a.events.slice(fromA).filter((e) => e.event !== 'raw').slice(0, 5).map((e) => `${e.event}${e['op'] ? `:${String(e['op'])}` : ''}@${(e.receivedAt - tPerf).toFixed(1)}`);
            process.stderr.write(`    a after T: ${evs.join(' ')}\n`);
            if (process.env['VIGIL_BENCH_WEB_DUMP'] === '1') {
              const rs = l.between(t - 30, end).map((x) => `${(x.s - t).toFixed(0)}:${x.ok ? (x.node ?? '?') : (x.err ?? 'x')}@${(x.e - t).toFixed(0)}`);
              process.stderr.write(`    requests: ${rs.join(' ')}\n`);
            }
            process.stderr.write(
              `    web ${config} run ${r + 1}: react ${result.reactMs?.toFixed(1) ?? '-'} advert ${result.advertMs.toFixed(1)} GARP ${result.garpMs.toFixed(1)} HTTP ${result.httpMs.toFixed(1)} window ${result.errorWindowMs.toFixed(0)} (${result.failures} failed); a: ${a.stateChanges(INSTANCE).slice(-1).map((e) => `${String(e['to'])} (${String(e['reason'])})`).join('')}\n`,
            );
          }
        } catch (e) {
          out.errors.push(`run ${r + 1}: ${errorText(e)}`);
        }
        // Restore: forget a's failure; its haproxy starts again and a preempts back.
        const res = await controlRequest(a.runtimeDir, { command: 'resource-command', args: { command: 'cleanup', resource: 'haproxy' } });
        if (!res.ok) out.errors.push(`cleanup on a: ${res.error}`);
        const restoreFrom = mono();
        await stable(15000);
        if (VERBOSE) process.stderr.write(`    web ${config} run ${r + 1}: restored in ${(mono() - restoreFrom).toFixed(0)} ms\n`);
        await sleep(100);
      }
    } finally {
      if (loop) await loop.stop();
      if (cap) await cap.stop().catch(() => undefined);
      for (const node of ['a', 'b'] as const) if (nodes[node]) await nodes[node].stop().catch(() => undefined);
      for (const be of backends) await be.stop().catch(() => undefined);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
  return out;
}

/** Until the daemon's haproxy resource is `started` with no operation in flight (and not banned). */
async function waitStarted(v: VigilProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await controlRequest(v.runtimeDir, { command: 'resource-status' });
    if (r.ok) {
      const st = r.result as ResourceManagerStatus;
      const h = st.resources.find((x) => x.name === 'haproxy');
      last = h ? `${h.state}${h.inFlight ? ` (${h.inFlight.op} in flight)` : ''}` : 'absent';
      if (h && h.state === 'started' && h.inFlight === null && !h.banned) return;
    } else last = r.error;
    if (performance.now() > deadline) throw new Error(`haproxy on ${v.host} not started within ${timeoutMs} ms: ${last}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------
// The section as printed by `npm run bench`

const LABEL: Record<WebConfig, string> = {
  'check-w0': 'process check, weight 0 (FAULT)',
  'check-w-100': 'process check, weight -100',
  'group-mt1': 'group on master, migration_threshold 1',
};

export interface WebBenchOptions {
  readonly runs: number;
  readonly configs: readonly WebConfig[];
}

export function webConfigsFromEnv(): WebConfig[] {
  const raw = (process.env['VIGIL_BENCH_WEB_CONFIGS'] ?? WEB_CONFIGS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const bad = raw.filter((c) => !(WEB_CONFIGS as readonly string[]).includes(c));
  if (bad.length) throw new Error(`VIGIL_BENCH_WEB_CONFIGS: unknown ${bad.join(', ')} (known: ${WEB_CONFIGS.join(', ')})`);
  return raw as WebConfig[];
}

export async function runWebFailoverBench(o: WebBenchOptions): Promise<void> {
  const all: WebConfigResult[] = [];
  for (const config of o.configs) {
    const t0 = performance.now();
    try {
      all.push(await webFailoverLab(config, o.runs));
    } catch (e) {
      all.push({ config, results: [], errors: [errorText(e)] });
    }
    process.stderr.write(`  [web ${config}: ${((performance.now() - t0) / 1000).toFixed(1)} s]\n`);
  }
  const s = (xs: readonly (number | undefined)[]): Summary | undefined => {
    const ys = xs.filter((x): x is number => x !== undefined);
    return ys.length ? summarize(ys) : undefined;
  };
  console.log('');
  console.log('Web failover: kill -9 of haproxy on the master (T) → the peer serves (two vigil, haproxy exec resource, two nginx backends)');
  console.log(`ms from T, median [min–max] of ${o.runs} runs; advert_interval 100ms, priorities 150/100; client GET every 10 ms, new connection each, timeout 500 ms`);
  printTable(
    ['configuration', 'runs', 'a reacts (advert)', 'b 1st advert', 'b 1st GARP', '1st HTTP via b', 'error window', 'failed reqs'],
    all.map((c) => [
      LABEL[c.config],
      String(c.results.length),
      fmtSummary(s(c.results.map((x) => x.reactMs))),
      fmtSummary(s(c.results.map((x) => x.advertMs))),
      fmtSummary(s(c.results.map((x) => x.garpMs))),
      fmtSummary(s(c.results.map((x) => x.httpMs))),
      fmtSummary(s(c.results.map((x) => x.errorWindowMs)), 0),
      fmtSummary(s(c.results.map((x) => x.failures)), 0),
    ]),
  );
  console.log('a reacts: a\'s first advert after T with another priority than 150 (0 = FAULT, 50 = weight -100); error window: longest run of failed requests (start of the first failure → start of the next success)');
  console.log(
    'chosen: process check with weight 0 — FAULT sends priority 0 and the peer takes over after Skew_Time; weight -100 only lowers the priority, which a preempting backup ignores until Master_Down_Interval; the group moves the VIP as fast (a ban is FAULT too) but haproxy starts cold on the peer',
  );
  for (const c of all) for (const e of c.errors) console.log(`  ${c.config}: ${e}`);
}
