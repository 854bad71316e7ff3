/**
 * The lab chaos runner (issue 10 §4): real `vigil run` daemons in lab namespaces on one
 * bridge, with a client host, put through seeded random fault schedules (src/lab/faults.ts)
 * and audited after every heal:
 * - exactly one master (each daemon's status over its control socket);
 * - the VIP on exactly one node (the addresses in each namespace), and that node the master;
 * - the client's neighbour entry for the VIP on the master's MAC (the client pings the VIP
 *   all along, so its entry is in use, as a real client's is);
 * - pings from the client answered;
 * - no daemon ended by itself;
 * - two-node mode: an inquorate node never adds the VIP nor becomes master (its own log,
 *   in order), and a node cold-booted cut off never holds the VIP until healed (the
 *   kernel's address events).
 * The time two nodes held the VIP at once after each heal is measured from the kernel's
 * address events (src/lab/address-watch.ts); the worst is reported.
 *
 * Three-node mode: a, b, c at priorities 150/100/50 (preempt), 100 ms adverts, VRRP only.
 * Two-node mode: a, b at 200/100 with `quorum:` two_node (wait_for_all follows it),
 * heartbeats every 50 ms, timeout 200 ms; no tie-breaker, so a cut leaves both masters
 * while it lasts (as corosync two_node does): only the state after the heal is audited.
 *
 * Every schedule starts from the same healthy cluster: after a failed one the runner heals
 * the network, restarts every daemon and waits for it, so `--seed N --only` (one schedule,
 * fresh lab) replays the failure from where it started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { withLab, type Lab } from './netns.js';
import { VigilProcess, configYaml, holders, instanceYaml } from './vigil.js';
import { AddressWatch, wallNow } from './address-watch.js';
import { FrameDelay, healDelay } from './delay.js';
import { DELAY_MS, cutPair, describeFault, describeSchedule, generateSchedule, healNetwork, healPairs, startLoss, stopLoss, type ChaosMode, type Fault, type FaultKind, type Schedule } from './faults.js';
import { sleep } from './wait.js';
import { onLines } from './lines.js';
import { errorText } from '../base/error-text.js';
import { writeKeyFile } from '../quorum/io/authkey.js';

export const CHAOS_VIP = '10.213.0.100';
const INSTANCE = 'gw';
const VRID = 51;

export interface ChaosOptions {
  readonly mode: ChaosMode;
  /** The first schedule's seed; schedule i has seed + i. */
  readonly seed: number;
  readonly schedules: number;
  /** Steps per schedule, [min, max] (default [3, 6]). */
  readonly steps?: readonly [number, number];
  /** The fault kinds to draw from (default: all of the mode's). */
  readonly kinds?: readonly FaultKind[];
  /** Progress lines (one per schedule, and failures). */
  readonly log?: (line: string) => void;
  /** Also a line per step, with the time its fault, settling and audits took. */
  readonly verbose?: boolean;
}

export interface ScheduleResult {
  readonly seed: number;
  readonly mode: ChaosMode;
  /** The steps range it was drawn with (part of the replay command). */
  readonly steps: readonly [number, number];
  readonly schedule: string;
  readonly faults: number;
  /** Audit rounds (one after each step's heal) and the checks made in them. */
  readonly rounds: number;
  readonly audits: number;
  /** What failed, each with its step; empty when all held. */
  readonly failures: readonly string[];
  /** The longest time two nodes held the VIP at once after one of this schedule's heals. */
  readonly worstDualMs: number;
}

export interface ChaosReport {
  readonly mode: ChaosMode;
  readonly results: readonly ScheduleResult[];
  readonly faults: number;
  readonly rounds: number;
  readonly audits: number;
  readonly failed: readonly ScheduleResult[];
  readonly worstDualMs: number;
  readonly worstDualSeed: number | undefined;
  /** Pings of the client's continuous ping (every 100 ms, faults included) sent and answered. */
  readonly pingsSent: number;
  readonly pingsAnswered: number;
  /** The delays the `delay` fault applied, in ms (its relay runs on this process's loop), and the frames relayed. */
  readonly delay: { readonly minMs: number; readonly maxMs: number; readonly frames: number };
  readonly elapsedMs: number;
}

/** How to replay one schedule. */
export function replayCommand(mode: ChaosMode, seed: number, steps: readonly [number, number]): string {
  return `npm run chaos -- --mode ${mode} --seed ${seed} --steps ${steps[0]}-${steps[1]} --only`;
}

interface NodeSpec {
  readonly host: string;
  readonly priority: number;
}

const NODES: Readonly<Record<ChaosMode, readonly NodeSpec[]>> = {
  'three-node': [
    { host: 'a', priority: 150 },
    { host: 'b', priority: 100 },
    { host: 'c', priority: 50 },
  ],
  'two-node': [
    { host: 'a', priority: 200 },
    { host: 'b', priority: 100 },
  ],
};

interface Member {
  readonly spec: NodeSpec;
  proc: VigilProcess;
}

/** Per daemon process: how far its log was checked for the quorum rule, and its quorum then. */
interface QuorumScan {
  index: number;
  quorate: boolean;
}

/** The daemons of one chaos lab, the client's ping and the address watch; the audits and the faults. */
export class ChaosCluster {
  readonly members = new Map<string, Member>();
  readonly nodes: readonly string[];
  private readonly scans = new WeakMap<VigilProcess, QuorumScan>();
  private readonly allProcs: VigilProcess[] = [];
  private stepFailures: string[] = [];
  watch!: AddressWatch;
  ping!: ChildProcess;

  constructor(
    readonly lab: Lab,
    readonly mode: ChaosMode,
    private readonly dir: string,
    private readonly keyFile: string | undefined,
  ) {
    this.nodes = NODES[mode].map((n) => n.host);
  }

  yaml(spec: NodeSpec, priority = spec.priority): string {
    const head = `global:\n  state_dir: ${path.join(this.dir, `state-${spec.host}`)}\n`;
    const body = configYaml(instanceYaml({ name: INSTANCE, vrid: VRID, priority, vips: [`${CHAOS_VIP}/24`] }));
    if (this.mode !== 'two-node' || this.keyFile === undefined) return head + body;
    const quorum = [
      'quorum:',
      '  cluster_name: chaos',
      `  key_file: ${this.keyFile}`,
      '  heartbeat_interval: 50ms',
      '  heartbeat_timeout: 200ms',
      '  two_node: true',
      '  wait_for_all: true',
      '  nodes:',
      ...NODES['two-node'].map((n, i) => `    - { id: ${i + 1}, name: ${n.host}, address: ${this.lab.host(n.host).ipv4} }`),
      '',
    ].join('\n');
    return head + body + quorum;
  }

  private spec(host: string): NodeSpec {
    const s = NODES[this.mode].find((n) => n.host === host);
    if (!s) throw new Error(`chaos: no node ${host} in ${this.mode} mode`);
    return s;
  }

  member(host: string): Member {
    const m = this.members.get(host);
    if (!m) throw new Error(`chaos: no member ${host}`);
    return m;
  }

  async startNode(host: string): Promise<void> {
    const spec = this.spec(host);
    const old = this.members.get(host);
    if (old) {
      this.scanQuorum(old.proc);
      await old.proc.stop();
    }
    const proc = await VigilProcess.start(this.lab, host, this.yaml(spec), { stateDir: path.join(this.dir, `state-${host}`) });
    this.allProcs.push(proc);
    this.members.set(host, { spec, proc });
  }

  async start(): Promise<void> {
    await Promise.all(this.nodes.map((h) => this.startNode(h)));
    this.watch = await AddressWatch.start(this.lab, this.nodes, CHAOS_VIP);
    this.ping = this.lab.spawn('client', 'ping', ['-n', '-i', '0.1', '-W', '1', CHAOS_VIP]);
    onLines(this.ping.stdout, (line) => {
      const seq = /icmp_seq=(\d+)/.exec(line)?.[1];
      if (seq === undefined) return;
      this.pingsAnswered++;
      this.pingsSent = Math.max(this.pingsSent, Number(seq));
    });
  }

  pingsAnswered = 0;
  /** The highest sequence number answered (the pings sent up to the last answer). */
  pingsSent = 0;
  /** The delays the `delay` relay applied (ms), and the frames it relayed. */
  delayApplied = { min: Infinity, max: 0, frames: 0 };

  async stop(): Promise<void> {
    if (this.ping?.pid !== undefined && this.ping.exitCode === null) process.kill(this.ping.pid, 'SIGINT');
    this.watch?.stop();
    await Promise.all([...this.members.values()].map((m) => m.proc.stop()));
  }

  /** The daemons' states, by host ('down' where the control socket does not answer). */
  async states(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const states = await Promise.all(
      this.nodes.map(async (h) => {
        const p = this.member(h).proc;
        if (p.exited) return 'down';
        try {
          return (await p.instance(INSTANCE)).state;
        } catch {
          return 'down';
        }
      }),
    );
    // In the nodes' order, whatever order the answers came in.
    this.nodes.forEach((h, i) => out.set(h, states[i] ?? 'down'));
    return out;
  }

  /** Waits until one master holds the VIP alone and that lasts 600 ms (> Master_Down_Interval), or 10 s pass. */
  async settle(): Promise<void> {
    const deadline = performance.now() + 10_000;
    let last = '';
    let since = performance.now();
    while (performance.now() < deadline) {
      const states = await this.states();
      const held = await holders(this.lab, this.nodes, CHAOS_VIP);
      const masters = [...states].filter(([, s]) => s === 'master').map(([h]) => h);
      const key = `${[...states].map(([h, s]) => `${h}=${s}`).join(',')} vip=${held.join(',')}`;
      const good = masters.length === 1 && held.length === 1 && held[0] === masters[0];
      if (key !== last) {
        last = key;
        since = performance.now();
      } else if (good && performance.now() - since >= 600) {
        return;
      }
      await sleep(100);
    }
  }

  /** What the daemons logged since `sinceMs` (wall clock) about states, addresses, announcements and quorum, in time order. */
  journal(sinceMs: number): string[] {
    const names = new Set(['started', 'state-change', 'vips-added', 'vips-removed', 'announced', 'master-rx-lower-priority', 'quorum-change', 'member-joined', 'member-left', 'stale-vip-removed', 'reloaded']);
    const lines: { at: number; text: string }[] = [];
    for (const p of this.allProcs) {
      for (const e of p.events) {
        const at = Date.parse(e.time);
        if (!(at >= sinceMs) || !names.has(e.event)) continue;
        const fields = Object.entries(e).filter(([k]) => !['time', 'level', 'event', 'receivedAt'].includes(k));
        lines.push({ at, text: `    ${e.time} ${p.host} ${e.event} ${JSON.stringify(Object.fromEntries(fields))}` });
      }
    }
    return lines.sort((x, y) => x.at - y.at).map((l) => l.text);
  }

  fail(what: string): void {
    this.stepFailures.push(what);
  }

  takeFailures(): string[] {
    const f = this.stepFailures;
    this.stepFailures = [];
    return f;
  }

  /**
   * Two-node mode: walks each daemon's log from where it was left; quorate is false from
   * the start (wait_for_all) until a quorum-change says otherwise. Adding the VIP or
   * becoming master while inquorate is a failure.
   */
  scanQuorum(proc: VigilProcess): void {
    if (this.mode !== 'two-node') return;
    const scan = this.scans.get(proc) ?? { index: 0, quorate: false };
    for (; scan.index < proc.events.length; scan.index++) {
      const e = proc.events[scan.index];
      if (!e) continue;
      if (e.event === 'quorum-change') scan.quorate = e['quorate'] === true;
      else if (!scan.quorate && e.event === 'vips-added') this.fail(`${proc.host} added the VIP while inquorate (at ${e.time})`);
      else if (!scan.quorate && e.event === 'state-change' && e['to'] === 'master') this.fail(`${proc.host} became master while inquorate (at ${e.time})`);
    }
    this.scans.set(proc, scan);
  }

  /** The audits after a heal; returns how many were made. */
  async audit(step: string): Promise<number> {
    let audits = 0;
    const check = (ok: boolean, what: string): void => {
      audits++;
      if (!ok) this.fail(`${step}: ${what}`);
    };
    for (const h of this.nodes) {
      const m = this.member(h);
      check(!m.proc.exited, `the daemon on ${h} ended by itself (${String(m.proc.exitStatus)}); stderr: ${m.proc.stderr.slice(-500)}`);
    }
    const states = await this.states();
    const masters = [...states].filter(([, s]) => s === 'master').map(([h]) => h);
    const stateText = [...states].map(([h, s]) => `${h}=${s}`).join(' ');
    check(masters.length === 1, `${masters.length} masters (${stateText})`);
    const held = await holders(this.lab, this.nodes, CHAOS_VIP);
    check(held.length === 1, `the VIP held by [${held.join(', ')}] (${stateText})`);
    const master = masters[0];
    if (master !== undefined) {
      check(held.length === 1 && held[0] === master, `the VIP on [${held.join(', ')}], the master is ${master}`);
      const mac = await neighbourMac(this.lab, 'client', CHAOS_VIP);
      const want = this.lab.host(master).mac;
      check(mac === want, `the client's neighbour entry for the VIP is ${mac ?? 'absent'}, the master ${master} is ${want}`);
    }
    const ping = await this.lab.exec('client', 'ping', ['-n', '-c', '3', '-i', '0.2', '-W', '1', CHAOS_VIP], true);
    const received = Number(/(\d+) received/.exec(ping.stdout)?.[1] ?? 0);
    check(received === 3, `pings from the client: ${received} of 3 answered`);
    for (const p of this.allProcs) this.scanQuorum(p);
    return audits;
  }

  /** Back to the healthy start: no network fault, every daemon (re)started with its own config, settled. */
  async reset(): Promise<void> {
    for (const h of [...this.nodes, 'client']) {
      await healDelay(this.lab, h);
      await healNetwork(this.lab, h);
    }
    for (const h of this.nodes) this.member(h).proc.signal('SIGCONT');
    for (const h of this.nodes) await this.startNode(h);
    await this.settle();
  }

  /** Whether the cluster is as every schedule starts: the top priority node master, alone with the VIP. */
  async healthy(): Promise<boolean> {
    const top = NODES[this.mode][0]?.host;
    const states = await this.states();
    const held = await holders(this.lab, this.nodes, CHAOS_VIP);
    const masters = [...states].filter(([, s]) => s === 'master').map(([h]) => h);
    return masters.length === 1 && masters[0] === top && held.length === 1 && held[0] === top && [...this.members.values()].every((m) => !m.proc.exited);
  }

  // ---- applying faults ----------------------------------------------------------------

  /** Applies `f`, holds it, heals it. */
  async run(f: Fault): Promise<void> {
    const m = this.member(f.node);
    switch (f.kind) {
      case 'kill':
      case 'term': {
        m.proc.signal(f.kind === 'kill' ? 'SIGKILL' : 'SIGTERM');
        await m.proc.waitExit(10_000);
        await sleep(f.holdMs);
        await this.startNode(f.node);
        return;
      }
      case 'freeze':
        m.proc.signal('SIGSTOP');
        await sleep(f.holdMs);
        m.proc.signal('SIGCONT');
        return;
      case 'link':
        await this.lab.link(f.node, false);
        await sleep(f.holdMs);
        await this.lab.link(f.node, true);
        return;
      case 'cut': {
        const peer = f.peer ?? this.nodes.find((n) => n !== f.node) ?? f.node;
        await cutPair(this.lab, f.node, peer);
        await sleep(f.holdMs);
        await healPairs(this.lab);
        return;
      }
      case 'isolate':
        await this.lab.cut(f.node);
        await sleep(f.holdMs);
        await this.lab.heal(f.node);
        return;
      case 'loss':
        await startLoss(this.lab, f.node);
        await sleep(f.holdMs);
        await stopLoss(this.lab, f.node);
        return;
      case 'delay': {
        const relay = await FrameDelay.start(this.lab, f.node, DELAY_MS);
        await sleep(f.holdMs);
        const st = await relay.stop();
        if (st.frames > 0) this.delayApplied = { min: Math.min(this.delayApplied.min, st.minMs), max: Math.max(this.delayApplied.max, st.maxMs), frames: this.delayApplied.frames + st.frames };
        return;
      }
      case 'reload':
        await this.reload(m, f.priority === undefined ? undefined : this.yaml(m.spec, f.priority));
        await sleep(f.holdMs);
        if (f.priority !== undefined) await this.reload(m, this.yaml(m.spec));
        return;
      case 'coldboot':
        await this.coldBoot(f);
        return;
    }
  }

  /**
   * Writes `yaml` (when given), sends SIGHUP and waits until the daemon says how the reload
   * went (it checks the config in a worker first: the change is not in force at the signal).
   */
  private async reload(m: Member, yaml: string | undefined): Promise<void> {
    const mark = m.proc.events.length;
    if (yaml !== undefined) m.proc.writeConfig(yaml);
    m.proc.signal('SIGHUP');
    const done = await m.proc.waitFor((e) => ['reloaded', 'reload-refused', 'reload-failed'].includes(e.event), `${m.spec.host}'s reload`, 10_000, mark);
    if (done.event !== 'reloaded') this.fail(`the reload of ${m.spec.host} went wrong: ${done.event} ${String(done['detail'])}`);
  }

  /** Both daemons stopped; `f.node` cut off (when cutAtBoot); both started together; held; healed. */
  private async coldBoot(f: Fault): Promise<void> {
    await Promise.all(this.nodes.map(async (h) => this.member(h).proc.stop()));
    if (f.cutAtBoot === true) await this.lab.cut(f.node);
    const from = wallNow();
    await Promise.all(this.nodes.map((h) => this.startNode(h)));
    await sleep(f.holdMs);
    const to = wallNow();
    if (f.cutAtBoot === true) {
      // Alone since boot: never quorate (wait_for_all), so never the VIP.
      if (this.watch.heldDuring(f.node, from, to)) this.fail(`${describeFault(f)}: ${f.node}, booted cut off, held the VIP`);
      const p = this.member(f.node).proc;
      if (p.stateChanges(INSTANCE).some((e) => e['to'] === 'master')) this.fail(`${describeFault(f)}: ${f.node}, booted cut off, became master`);
      await this.lab.heal(f.node);
    }
  }
}

async function neighbourMac(lab: Lab, host: string, address: string): Promise<string | undefined> {
  const r = await lab.exec(host, 'ip', ['-j', 'neigh', 'show', address], true);
  if (r.code !== 0 || !r.stdout.trim()) return undefined;
  const entries = JSON.parse(r.stdout) as { dst: string; lladdr?: string }[];
  return entries.find((e) => e.dst === address)?.lladdr?.toLowerCase();
}

/** Runs one schedule: `stepLog` gets a line per step (verbose), `failLog` what the daemons logged during a failed step. */
async function runSchedule(cluster: ChaosCluster, schedule: Schedule, steps: readonly [number, number], stepLog: ((line: string) => void) | undefined, failLog: (line: string) => void): Promise<ScheduleResult> {
  let audits = 0;
  let rounds = 0;
  let faults = 0;
  let worstDualMs = 0;
  const failures: string[] = [];
  if (!(await cluster.healthy())) await cluster.reset();
  for (const [i, step] of schedule.steps.entries()) {
    const name = `step ${i + 1} ${step.map(describeFault).join(' + ')}`;
    const t0 = performance.now();
    const stepStart = Date.now();
    try {
      await Promise.all(step.map((f) => cluster.run(f)));
    } catch (e) {
      cluster.fail(`${name}: applying it failed: ${errorText(e)}`);
    }
    faults += step.length;
    const healedAt = wallNow();
    const t1 = performance.now();
    await cluster.settle();
    const t2 = performance.now();
    audits += await cluster.audit(name);
    rounds++;
    // The kernel's address events lag the audit by a few ms at most.
    await sleep(50);
    const dual = cluster.watch.dualHeld(healedAt, wallNow()).longestMs;
    worstDualMs = Math.max(worstDualMs, dual);
    stepLog?.(`  seed ${schedule.seed} ${name}: fault ${(t1 - t0).toFixed(0)} ms, settle ${(t2 - t1).toFixed(0)} ms, audit ${(performance.now() - t2).toFixed(0)} ms, dual holder after the heal ${dual.toFixed(1)} ms`);
    const f = cluster.takeFailures();
    if (f.length > 0) for (const line of [`  seed ${schedule.seed} ${name}: the daemons' log since the step began:`, ...cluster.journal(stepStart)]) failLog(line);
    if (f.length > 0) {
      failures.push(...f);
      break;
    }
  }
  return { seed: schedule.seed, mode: schedule.mode, steps, schedule: describeSchedule(schedule), faults, rounds, audits, failures, worstDualMs };
}

/**
 * Builds the lab of `mode` (its nodes and a client), starts the daemons and the client's
 * ping, waits for them to settle, runs `body`, and always tears everything down.
 */
export async function withChaosCluster<T>(mode: ChaosMode, body: (cluster: ChaosCluster) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-chaos-'));
  const hosts = [...NODES[mode].map((n) => n.host), 'client'];
  try {
    return await withLab({ hosts, prefix: 'chaos' }, async (lab) => {
      let keyFile: string | undefined;
      if (mode === 'two-node') {
        keyFile = path.join(dir, 'authkey');
        await writeKeyFile(keyFile);
      }
      const cluster = new ChaosCluster(lab, mode, dir, keyFile);
      try {
        await cluster.start();
        await cluster.settle();
        return await body(cluster);
      } finally {
        await cluster.stop();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `options.schedules` schedules in one lab; never throws for a failed audit (see the report's `failed`). */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const steps = options.steps ?? [3, 6];
  const started = performance.now();
  return withChaosCluster(options.mode, async (cluster) => {
    const results: ScheduleResult[] = [];
    for (let i = 0; i < options.schedules; i++) {
      const schedule = generateSchedule(options.seed + i, options.mode, cluster.nodes, steps, options.kinds);
      const r = await runSchedule(cluster, schedule, steps, options.verbose === true ? log : undefined, log);
      results.push(r);
      log(`${r.failures.length === 0 ? 'ok  ' : 'FAIL'} ${options.mode} seed ${r.seed}: ${r.faults} faults, ${r.rounds} audit rounds, worst dual holder after a heal ${r.worstDualMs.toFixed(1)} ms: ${r.schedule}`);
      for (const f of r.failures) log(`     ${f}`);
      if (r.failures.length > 0) {
        log(`     replay: ${replayCommand(options.mode, r.seed, steps)}`);
        await cluster.reset();
      }
    }
    const worst = results.reduce<ScheduleResult | undefined>((w, r) => (w === undefined || r.worstDualMs > w.worstDualMs ? r : w), undefined);
    return {
      mode: options.mode,
      results,
      faults: results.reduce((n, r) => n + r.faults, 0),
      rounds: results.reduce((n, r) => n + r.rounds, 0),
      audits: results.reduce((n, r) => n + r.audits, 0),
      failed: results.filter((r) => r.failures.length > 0),
      worstDualMs: worst?.worstDualMs ?? 0,
      worstDualSeed: worst?.seed,
      pingsSent: cluster.pingsSent,
      pingsAnswered: cluster.pingsAnswered,
      delay: { minMs: cluster.delayApplied.frames === 0 ? 0 : cluster.delayApplied.min, maxMs: cluster.delayApplied.max, frames: cluster.delayApplied.frames },
      elapsedMs: performance.now() - started,
    };
  });
}

/** The report as text: the figures, then each failed schedule with its seed, faults and replay command. */
export function formatReport(r: ChaosReport): string {
  const lines = [
    `${r.mode}: ${r.results.length} schedules, ${r.faults} faults, ${r.rounds} audit rounds (${r.audits} checks), ${r.failed.length} failed; worst dual-holder time after a heal ${r.worstDualMs.toFixed(1)} ms${r.worstDualSeed === undefined ? '' : ` (seed ${r.worstDualSeed})`}; client pings answered ${r.pingsAnswered} of ${r.pingsSent} (faults included); delay applied ${r.delay.minMs.toFixed(1)}–${r.delay.maxMs.toFixed(1)} ms (${r.delay.frames} frames); ${(r.elapsedMs / 1000).toFixed(0)} s`,
  ];
  for (const f of r.failed) {
    lines.push(`  FAILED seed ${f.seed}: ${f.schedule}`);
    for (const x of f.failures) lines.push(`    ${x}`);
    lines.push(`    replay: ${replayCommand(f.mode, f.seed, f.steps)}`);
  }
  return lines.join('\n');
}
