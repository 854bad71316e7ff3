/**
 * Seeded chaos schedules through the real daemon glue (issue 10 §4): a simulated cluster
 * (sim-cluster.ts) of 2–4 real `Daemon`s, a random fault schedule drawn from one seed, and
 * the audits of the lab campaign.
 *
 * A schedule: the nodes boot (staggered), settle, are audited; then 1–3 rounds of 1–4
 * faults (kill, term, freeze, link down, one- or two-way cut, isolate, loss, delay and
 * jitter, reload with the same or another priority, restart, and in quorum mode cold
 * boots), each round ended by a heal (everything undone, the dead restarted from config),
 * a settle time and an audit:
 * - exactly one master among the running daemons;
 * - the VIP in exactly one kernel (the fake netlink's addresses, killed nodes included),
 *   the master's;
 * - the client's neighbour entry for the VIP on the master's MAC (the virtual MAC with vmac);
 * - in quorum mode, the master quorate;
 * - no daemon logged an error, and none threw.
 * Continuously: every gratuitous ARP / NA leaves a master that holds the address; in quorum
 * mode a node whose verdict is 'release' (inquorate) holds no VIP, after every event; a
 * backup resumed from a freeze with a live master's adverts waiting on its socket does not
 * become master (§1); and the time two kernels hold the VIP after a heal is measured (the
 * worst is reported) and bounded. A wrong client entry the master could not have
 * corrected is counted apart (see leftOver).
 *
 * Everything depends on the seed alone: `runSchedule(seed)` replays one schedule.
 */
import { ip } from '../../src/net/address.js';
import type { VigilConfig } from '../../src/config/types.js';
import { configFrom, type SentFrame } from './fake-daemon.js';
import { Cluster, prng, type Member, type NeighbourEntry } from './sim-cluster.js';

export const VIP4 = '10.213.0.100';
/** The VIP of the IPv6 schedules (announced by unsolicited NAs). */
export const VIP6 = 'fd13::100';
const VRID = 51;
const INSTANCE = 'gw';
/** The virtual MACs of VRID 51 (RFC 5798 §7.3: 00-00-5E-00-01-{VRID}, IPv6 00-00-5E-00-02-{VRID}). */
const VMAC = { ipv4: '00:00:5e:00:01:33', ipv6: '00:00:5e:00:02:33' } as const;
const ADVERT_MS = 100;
/** After a heal: longer than any Master_Down_Interval (3 × 100 ms + skew), a quorum rejoin and a burst. */
export const SETTLE_MS = 3000;

/**
 * Two masters after a heal: each sends an advert every Advertisement_Interval, and the
 * one that hears a higher priority steps down at once (RFC 5798 §6.4.3), so two kernels
 * hold the VIP for at most one interval plus the longest delay drawn before the heal.
 */
const DUAL_BOUND_MS = ADVERT_MS + 50;

export type Mode = 'vrrp' | 'quorum';

/** Every fifth seed is a quorum schedule (two_node + wait_for_all, or three nodes). */
export function modeOf(seed: number): Mode {
  return seed % 5 === 0 ? 'quorum' : 'vrrp';
}

interface Setup {
  readonly mode: Mode;
  readonly family: 'ipv4' | 'ipv6';
  readonly nodes: number;
  readonly priorities: number[];
  readonly preempt: boolean;
  readonly vmac: boolean;
  readonly accept: boolean;
  readonly garpIntervalMs: number;
}

type Action =
  | { readonly op: 'start' | 'kill' | 'term' | 'freeze' | 'thaw' | 'link-down' | 'link-up' | 'isolate'; readonly node: number }
  | { readonly op: 'cut'; readonly a: number; readonly b: number; readonly oneWay: boolean }
  | { readonly op: 'loss'; readonly pct: number }
  | { readonly op: 'delay'; readonly minMs: number; readonly maxMs: number }
  | { readonly op: 'reload'; readonly node: number; readonly priority: number }
  | { readonly op: 'heal' }
  | { readonly op: 'audit'; readonly what: string };

interface Timed {
  readonly at: number;
  readonly action: Action;
}

function describe(a: Action): string {
  switch (a.op) {
    case 'cut':
      return `cut n${a.a}${a.oneWay ? '->' : '<->'}n${a.b}`;
    case 'loss':
      return `loss ${a.pct}%`;
    case 'delay':
      return `delay ${a.minMs.toFixed(1)}-${a.maxMs.toFixed(1)}ms`;
    case 'reload':
      return `reload n${a.node} priority ${a.priority}`;
    case 'heal':
      return 'heal';
    case 'audit':
      return `audit (${a.what})`;
    default:
      return `${a.op} n${a.node}`;
  }
}

const PRIORITIES = [50, 100, 150, 200];

function drawSetup(seed: number, r: () => number): Setup {
  const mode = modeOf(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const nodes = mode === 'quorum' ? (r() < 0.75 ? 2 : 3) : r() < 0.15 ? 4 : r() < 0.55 ? 3 : 2;
  // Equal priorities now and then: the address decides (RFC 5798 §6.4.3).
  const same = r() < 0.2;
  const base = pick(PRIORITIES);
  return {
    mode,
    // A fifth of the VRRP schedules are IPv6 (adverts from the link-local address, NAs).
    family: mode === 'vrrp' && prng(seed ^ 0x6666)() < 0.2 ? 'ipv6' : 'ipv4',
    nodes,
    priorities: Array.from({ length: nodes }, () => (same ? base : pick(PRIORITIES))),
    preempt: r() < 0.8,
    vmac: r() < 0.25,
    accept: r() < 0.5,
    garpIntervalMs: pick([0, 0, 20]),
  };
}

/** The schedule of `seed`: its setup and timed actions (ms from the start). */
export function drawSchedule(seed: number): { setup: Setup; actions: Timed[] } {
  const r = prng(seed);
  const setup = drawSetup(seed, r);
  const n = setup.nodes;
  const node = (): number => 1 + Math.floor(r() * n);
  const actions: Timed[] = [];
  const addAt = (at: number, action: Action): void => {
    actions.push({ at: Math.round(at * 10) / 10, action });
  };
  const add = addAt;
  // Boot, staggered; in quorum mode a node may boot alone behind a cut (wait_for_all).
  if (setup.mode === 'quorum' && r() < 0.3) add(0, { op: 'isolate', node: node() });
  for (let i = 1; i <= n; i++) add(r() * 400, { op: 'start', node: i });
  let t = 400 + SETTLE_MS;
  add(t, { op: 'heal' });
  t += SETTLE_MS;
  add(t, { op: 'audit', what: 'boot' });
  const rounds = 1 + Math.floor(r() * 3);
  for (let round = 1; round <= rounds; round++) {
    const window = 300 + r() * 2700;
    const healAt = t + window + 1 + r() * 500;
    const faults = 1 + Math.floor(r() * 4);
    // What the heal undoes anyway (a restart, a thaw, a link up) is not scheduled after it.
    const add = (at: number, action: Action): void => {
      if (at < healAt) addAt(at, action);
    };
    for (let f = 0; f < faults; f++) {
      const at = t + 1 + r() * window;
      const k = r();
      const x = node();
      if (k < 0.12) {
        add(at, { op: 'kill', node: x });
        if (r() < 0.5) add(at + r() * window, { op: 'start', node: x });
      } else if (k < 0.22) {
        add(at, { op: 'term', node: x });
        if (r() < 0.5) add(at + r() * window, { op: 'start', node: x });
      } else if (k < 0.38) {
        // §1: a stall past Master_Down_Interval (about 0.36 s here), up to several.
        add(at, { op: 'freeze', node: x });
        add(at + 100 + r() * 1400, { op: 'thaw', node: x });
      } else if (k < 0.48) {
        add(at, { op: 'link-down', node: x });
        if (r() < 0.5) add(at + r() * window, { op: 'link-up', node: x });
      } else if (k < 0.6) {
        const y = 1 + ((x - 1 + 1 + Math.floor(r() * (n - 1))) % n);
        add(at, { op: 'cut', a: x, b: y, oneWay: r() < 0.5 });
      } else if (k < 0.68) {
        add(at, { op: 'isolate', node: x });
      } else if (k < 0.76) {
        add(at, { op: 'loss', pct: [10, 30, 60][Math.floor(r() * 3)] as number });
      } else if (k < 0.84) {
        const min = r() * 20;
        add(at, { op: 'delay', minMs: min, maxMs: min + r() * 30 });
      } else if (k < 0.94 || setup.mode !== 'quorum') {
        add(at, { op: 'reload', node: x, priority: r() < 0.5 ? (setup.priorities[x - 1] as number) : (PRIORITIES[Math.floor(r() * PRIORITIES.length)] as number) });
      } else {
        // A cold boot of the whole cluster, the nodes coming back one by one.
        for (let i = 1; i <= n; i++) add(at, { op: 'kill', node: i });
        for (let i = 1; i <= n; i++) add(at + 50 + r() * window, { op: 'start', node: i });
      }
    }
    t = healAt;
    addAt(t, { op: 'heal' });
    t += SETTLE_MS;
    addAt(t, { op: 'audit', what: `round ${round}` });
  }
  actions.sort((a, b) => a.at - b.at);
  return { setup, actions };
}

const configCache = new Map<string, VigilConfig>();

function yamlOf(setup: Setup, id: number, priority: number): string {
  const lines = [
    'instances:',
    `  - name: ${INSTANCE}`,
    '    interface: eth0',
    `    vrid: ${VRID}`,
    `    priority: ${priority}`,
    `    advert_interval: ${ADVERT_MS}ms`,
    `    preempt: ${setup.preempt}`,
    `    accept: ${setup.accept}`,
    `    virtual_ips: [${setup.family === 'ipv6' ? `${VIP6}/64` : `${VIP4}/24`}]`,
    `    garp: { interval: ${setup.garpIntervalMs}ms }`,
    ...(setup.vmac ? ['    vmac: true'] : []),
  ];
  if (setup.mode === 'quorum') {
    lines.push(
      'quorum:',
      '  cluster_name: sim',
      `  node_id: ${id}`,
      '  nodes:',
      ...Array.from({ length: setup.nodes }, (_, i) => `    - { id: ${i + 1}, name: n${i + 1}, address: 10.213.0.${i + 1} }`),
      ...(setup.nodes === 2 ? ['  two_node: true', '  wait_for_all: true'] : []),
      '  heartbeat_interval: 50ms',
      '  heartbeat_timeout: 200ms',
    );
  }
  return `${lines.join('\n')}\n`;
}

function configOf(setup: Setup, id: number, priority: number): VigilConfig {
  const yaml = yamlOf(setup, id, priority);
  let c = configCache.get(yaml);
  if (!c) configCache.set(yaml, (c = configFrom(yaml)));
  return c;
}

export interface ScheduleResult {
  readonly seed: number;
  readonly mode: Mode;
  readonly family: 'ipv4' | 'ipv6';
  readonly nodes: number;
  readonly faults: number;
  readonly audits: number;
  readonly failures: readonly string[];
  /** Wrong client entries left over from a split or from lost announcements (see leftOver): not failures. */
  readonly leftovers: readonly string[];
  /** The longest time two kernels held the VIP after a heal (ms). */
  readonly worstDualMs: number;
  /** The latest the client's entry changed after a heal, to its final value (ms). */
  readonly worstClientMs: number;
  readonly thaws: number;
  readonly events: number;
  /** The setup and the timed actions, for a failure report. */
  readonly script: string;
  /** With `trace`: what happened, line by line. */
  readonly trace: readonly string[];
}

export interface RunOptions {
  /** Record what happened, line by line (a replay). */
  readonly trace?: boolean;
  /** Called just before each audit: a test of the audits breaks something here. */
  readonly tamper?: (cluster: Cluster, audit: string) => void;
}

export async function runSchedule(seed: number, options: RunOptions = {}): Promise<ScheduleResult> {
  const trace = options.trace === true;
  const { setup, actions } = drawSchedule(seed);
  const VIP = setup.family === 'ipv6' ? VIP6 : VIP4;
  const vip = ip(VIP);
  const priorities = [...setup.priorities];
  const cluster = new Cluster(
    priorities.map((p, i) => configOf(setup, i + 1, p)),
    prng(seed ^ 0x5eed),
  );
  const world = cluster.world;
  const start = world.now;
  const failures: string[] = [];
  const lines: string[] = [];
  const rel = (): string => `+${(world.now - start).toFixed(1)}ms`;
  const fail = (what: string): void => {
    if (failures.length < 20) failures.push(`${rel()} ${what}`);
  };
  let audits = 0;
  const leftovers: string[] = [];
  /**
   * A wrong client entry the master could not have corrected: the member that set it
   * became master where the master, being master, never heard it afterwards (a split whose other side
   * stopped or stepped down unseen: terminated, killed, its link down), or the master's
   * own announcements since were lost on the way to the client. A real client would find
   * the VIP again by ARP once its entry goes stale (15–45 s with Linux's defaults); this
   * simplified client learns only from announcements. Any other wrong entry is a failure:
   * the master heard the other side as master after it took over, and should have left
   * the client pointing at itself (issue 10 §1).
   */
  const leftOver = (master: Member, entry: NeighbourEntry | undefined): boolean => {
    const lost = master.lostToClient;
    if (entry === undefined) return lost !== undefined;
    // Since the other member took over and the master is master: from then on, an advert
    // heard from the other tells the master there is a rival to correct.
    const since = Math.max(entry.since ?? -Infinity, master.masterSince ?? -Infinity);
    const heard = master.heard.get(entry.from);
    return heard === undefined || heard < since || (lost !== undefined && lost >= since);
  };
  let worstDualMs = 0;
  let worstClientMs = 0;
  let thaws = 0;
  let healAt: number | undefined;
  let dualSince: number | undefined;
  const masters = (): Member[] => cluster.members.filter((m) => m.alive && m.inc?.state(INSTANCE) === 'master');
  const holders = (): Member[] => cluster.members.filter((m) => m.holds(vip));

  cluster.onFrame = (from: Member, frame: SentFrame) => {
    if (frame.address !== VIP) fail(`${from.name} announced ${frame.address}, not the VIP`);
    else if (!from.holds(vip)) fail(`${from.name} announced ${VIP}, which its kernel does not hold`);
    else if (from.inc?.routerState(INSTANCE) !== 'master') fail(`${from.name} announced ${VIP} while ${from.inc?.routerState(INSTANCE)}`);
  };
  world.afterEvent = () => {
    if (setup.mode === 'quorum') {
      for (const m of cluster.members) {
        if (m.alive && !m.frozen && m.inc?.quorum?.verdict === 'release' && m.holds(vip)) fail(`${m.name} holds ${VIP} while inquorate (verdict release)`);
      }
    }
    if (healAt === undefined) return;
    const dual = holders().length >= 2;
    if (dual && dualSince === undefined) dualSince = world.now;
    if (!dual && dualSince !== undefined) {
      const ms = world.now - Math.max(dualSince, healAt);
      worstDualMs = Math.max(worstDualMs, ms);
      if (ms > DUAL_BOUND_MS) fail(`two kernels held ${VIP} for ${ms.toFixed(1)} ms after the heal (bound ${DUAL_BOUND_MS} ms)`);
      dualSince = undefined;
    }
  };
  if (trace) {
    // State changes, VIP changes and announcements of every daemon, as they happen.
    cluster.onIncarnation = (m, inc) => {
      inc.events.subscribe((e) => {
        if (e.kind === 'instance-state') lines.push(`${rel()} ${m.name} ${e.from} -> ${e.to} (${e.reason})`);
        else if (e.kind === 'quorum-verdict') lines.push(`${rel()} ${m.name} quorum ${e.from} -> ${e.to}`);
        else if (e.kind === 'vips-added' || e.kind === 'vips-removed') lines.push(`${rel()} ${m.name} ${e.kind} ${e.addresses.join(',')}`);
        else if (e.kind === 'announced') lines.push(`${rel()} ${m.name} announced ${e.round}/${e.of} (${e.reason})`);
      });
    };
  }

  /**
   * Issue 10 §1: a backup that resumes with adverts waiting on its socket takes them in
   * before its expired Master_Down_Timer, so one that would reset the timer (RFC 5798
   * §6.4.2: priority >= its own, or any non-zero priority without preempt) keeps it from
   * becoming master at the thaw.
   */
  const thawAudit = (m: Member): void => {
    if (!m.tookOverAtThaw) return;
    const own = priorities[m.id - 1] ?? 0;
    const resetting = m.queuedPriorities.filter((p) => p > 0 && (!setup.preempt || p >= own));
    if (resetting.length > 0) fail(`${m.name} (priority ${own}) became master at its thaw although adverts of priority ${resetting.join(', ')} waited on its socket`);
  };

  const audit = (what: string): void => {
    audits++;
    const ms = masters();
    const hs = holders();
    if (ms.length !== 1) fail(`audit ${what}: ${ms.length} masters (${ms.map((m) => m.name).join(', ') || 'none'}), states ${cluster.members.map((m) => `${m.name}=${m.alive ? m.inc?.state(INSTANCE) : 'dead'}`).join(' ')}`);
    const master = ms[0];
    if (hs.length !== 1 || (master && hs[0] !== master)) fail(`audit ${what}: the VIP is in the kernel of ${hs.map((m) => m.name).join(', ') || 'nobody'}, the master is ${master?.name ?? 'none'}`);
    const entry = cluster.client.cache.get(VIP);
    if (master) {
      const want = setup.vmac ? VMAC[setup.family] : master.mac;
      if (entry?.mac !== want) {
        const text = `audit ${what}: the client's entry for ${VIP} is ${entry ? `${entry.mac} (from ${entry.from} at +${(entry.at - start).toFixed(1)}ms)` : 'missing'}, the master ${master.name} is ${want}`;
        if (leftOver(master, entry)) leftovers.push(text);
        else fail(text);
      }
      if (setup.mode === 'quorum' && master.inc?.quorum?.verdict !== 'hold') fail(`audit ${what}: the master ${master.name} has quorum verdict ${master.inc?.quorum?.verdict}`);
    }
    if (entry && healAt !== undefined) worstClientMs = Math.max(worstClientMs, entry.changedAt - healAt);
    if (dualSince !== undefined) fail(`audit ${what}: two kernels hold the VIP since +${(dualSince - start).toFixed(1)}ms`);
    // The measure after a heal ends here: the next faults may make two holders legitimately.
    healAt = undefined;
    dualSince = undefined;
    for (const m of cluster.members) {
      const errors = m.newErrors();
      if (errors.length > 0) fail(`audit ${what}: ${m.name} logged ${errors.join('; ')}`);
    }
  };

  const apply = async (a: Action): Promise<void> => {
    const m = 'node' in a ? cluster.members[a.node - 1] : undefined;
    switch (a.op) {
      case 'start':
        await m?.start();
        break;
      case 'kill':
        m?.kill();
        break;
      case 'term':
        await m?.term();
        break;
      case 'freeze':
        m?.freeze();
        break;
      case 'thaw':
        if (m?.frozen) {
          thaws++;
          m.thaw();
          thawAudit(m);
          if (m.termPending) await m.term();
        }
        break;
      case 'link-down':
        if (m?.linkUp) m.setLink(false);
        break;
      case 'link-up':
        if (m && !m.linkUp) m.setLink(true);
        break;
      case 'isolate':
        for (const o of cluster.members) {
          if (o === m || !m) continue;
          cluster.segment.cuts.add(`${m.name}>${o.name}`).add(`${o.name}>${m.name}`);
        }
        if (m) cluster.segment.cuts.add(`${m.name}>client`);
        break;
      case 'cut':
        cluster.segment.cuts.add(`n${a.a}>n${a.b}`);
        if (!a.oneWay) cluster.segment.cuts.add(`n${a.b}>n${a.a}`);
        break;
      case 'loss':
        cluster.segment.loss = a.pct / 100;
        break;
      case 'delay':
        cluster.segment.delayMinMs = a.minMs;
        cluster.segment.delayMaxMs = a.maxMs;
        break;
      case 'reload': {
        const target = cluster.members[a.node - 1];
        // A frozen daemon cannot take a SIGHUP until it runs again: not drawn.
        if (!target || target.frozen) break;
        priorities[a.node - 1] = a.priority;
        target.config = configOf(setup, a.node, a.priority);
        if (target.alive && !target.frozen) await target.inc?.daemon.reload(target.config);
        break;
      }
      case 'heal':
        cluster.segment.heal();
        for (const x of cluster.members) {
          if (x.frozen) {
            thaws++;
            x.thaw();
            thawAudit(x);
          }
          if (x.termPending) await x.term();
          if (!x.linkUp) x.setLink(true);
        }
        for (const x of cluster.members) await x.start();
        healAt = world.now;
        dualSince = holders().length >= 2 ? world.now : undefined;
        break;
      case 'audit':
        options.tamper?.(cluster, a.what);
        audit(a.what);
        break;
    }
  };

  for (const { at, action } of actions) {
    world.at(start + at, async () => {
      if (trace) lines.push(`${rel()} ${describe(action)}`);
      try {
        await apply(action);
      } catch (e) {
        fail(`${describe(action)} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    });
  }
  const end = start + (actions.at(-1)?.at ?? 0);
  try {
    await world.runUntil(end);
  } catch (e) {
    fail(`the simulation threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  const script = [
    `seed ${seed}: ${setup.mode}, ${setup.family}, ${setup.nodes} nodes, priorities ${setup.priorities.join('/')}, preempt ${setup.preempt}, vmac ${setup.vmac}, accept ${setup.accept}, garp interval ${setup.garpIntervalMs}ms, adverts ${ADVERT_MS}ms`,
    ...actions.map(({ at, action }) => `  +${at}ms ${describe(action)}`),
  ].join('\n');
  return {
    seed,
    mode: setup.mode,
    family: setup.family,
    nodes: setup.nodes,
    faults: actions.filter((a) => a.action.op !== 'audit' && a.action.op !== 'heal' && a.action.op !== 'start').length,
    audits,
    failures,
    leftovers,
    worstDualMs,
    worstClientMs,
    thaws,
    events: world.events,
    script,
    trace: lines,
  };
}
