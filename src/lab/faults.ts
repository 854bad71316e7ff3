/**
 * Faults for the lab's chaos runner (src/lab/chaos.ts): a seeded generator of fault
 * schedules, and the network faults themselves, made with nftables inside the lab's
 * namespaces (a host's, or the switch's; never on the machine's own interfaces).
 *
 * The process faults (kill, term, freeze, reload) and cold boots are applied by the runner,
 * which owns the daemons; link down/up and isolation use the Lab's own `link` and `cut`.
 *
 * Delay: this kernel has neither sch_netem nor the nftables queue expression (`queue num
 * N` fails with ENOENT), so the delay is a userspace relay on the switch (src/lab/delay.ts).
 */
import { run, type Lab } from './netns.js';

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same schedule everywhere. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('Rng.pick: no items');
    return item;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

export type ChaosMode = 'three-node' | 'two-node';

export type FaultKind =
  /** SIGKILL, restart after the hold. */
  | 'kill'
  /** SIGTERM (graceful stop), restart after the hold. */
  | 'term'
  /** SIGSTOP for the hold (0.2–3 s), then SIGCONT. */
  | 'freeze'
  /** eth0 down for the hold, then up. */
  | 'link'
  /** Everything between `node` and `peer` dropped (both ways), then healed. */
  | 'cut'
  /** Everything in and out of `node`'s eth0 dropped, then healed. */
  | 'isolate'
  /** 30 % of `node`'s frames dropped, both ways (nftables numgen), then healed. */
  | 'loss'
  /** SIGHUP, with `priority` written first when given; healed by reloading the original config. */
  | 'reload'
  /** Every frame to and from `node` held DELAY_MS (a relay on the switch), then healed. */
  | 'delay'
  /** Two-node mode: both daemons stopped and started together, `node` isolated from the start (when `cutAtBoot`) until the heal. */
  | 'coldboot';

export interface Fault {
  readonly kind: FaultKind;
  readonly node: string;
  /** The other end of a cut. */
  readonly peer?: string;
  /** How long the fault lasts before it is healed. */
  readonly holdMs: number;
  /** reload: the priority written before the SIGHUP (absent: the config unchanged). */
  readonly priority?: number;
  /** coldboot: whether `node` boots cut off. */
  readonly cutAtBoot?: boolean;
}

/** One step of a schedule: faults applied together, each healed after its hold, then the audits. */
export type Step = readonly Fault[];

export interface Schedule {
  readonly seed: number;
  readonly mode: ChaosMode;
  readonly steps: readonly Step[];
}

/** The loss rate of the `loss` fault, in percent. */
export const LOSS_PERCENT = 30;

/** The one-way delay of the `delay` fault, in ms. */
export const DELAY_MS = 20;

export const FAULT_KINDS: Readonly<Record<ChaosMode, readonly FaultKind[]>> = {
  'three-node': ['kill', 'term', 'freeze', 'link', 'cut', 'isolate', 'loss', 'delay', 'reload'],
  'two-node': ['coldboot', 'kill', 'term', 'freeze', 'cut', 'isolate', 'loss', 'delay'],
};

export function describeFault(f: Fault): string {
  const hold = `${f.holdMs}ms`;
  switch (f.kind) {
    case 'cut':
      return `cut(${f.node}|${f.peer ?? '?'}, ${hold})`;
    case 'reload':
      return `reload(${f.node}${f.priority === undefined ? '' : `, priority ${f.priority}`}, ${hold})`;
    case 'coldboot':
      return `coldboot(${f.cutAtBoot === true ? `${f.node} cut` : 'no cut'}, ${hold})`;
    default:
      return `${f.kind}(${f.node}, ${hold})`;
  }
}

export function describeSchedule(s: Schedule): string {
  return s.steps.map((step) => step.map(describeFault).join(' + ')).join('; ');
}

function fault(rng: Rng, kind: FaultKind, nodes: readonly string[], node: string): Fault {
  const holdMs = kind === 'freeze' ? rng.int(200, 3000) : rng.int(300, 2500);
  switch (kind) {
    case 'cut':
      return { kind, node, peer: rng.pick(nodes.filter((n) => n !== node)), holdMs };
    case 'reload':
      return rng.chance(0.5) ? { kind, node, holdMs, priority: rng.int(1, 254) } : { kind, node, holdMs };
    case 'coldboot':
      return { kind, node, holdMs: rng.int(800, 2500), cutAtBoot: rng.chance(0.8) };
    default:
      return { kind, node, holdMs };
  }
}

/**
 * The schedule of `seed`: `steps` steps (a [min, max] range drawn from the seed), each one
 * fault or, in three-node mode, sometimes two on different nodes (never two cuts: a cut
 * spans two nodes already), drawn from `kinds` (default: all of the mode's). The same
 * seed and options always give the same schedule.
 */
export function generateSchedule(seed: number, mode: ChaosMode, nodes: readonly string[], steps: readonly [number, number], kinds: readonly FaultKind[] = FAULT_KINDS[mode]): Schedule {
  const rng = new Rng(seed);
  const count = rng.int(steps[0], steps[1]);
  const out: Step[] = [];
  for (let i = 0; i < count; i++) {
    const first = fault(rng, rng.pick(kinds), nodes, rng.pick(nodes));
    if (mode === 'three-node' && first.kind !== 'cut' && rng.chance(0.25)) {
      const node = rng.pick(nodes.filter((n) => n !== first.node));
      const second = fault(rng, rng.pick(kinds.filter((k) => k !== 'cut')), nodes, node);
      out.push([first, second]);
    } else {
      out.push([first]);
    }
  }
  return { seed, mode, steps: out };
}

// ---- network faults (nftables netdev tables inside the lab's namespaces) ---------------

const PAIR_TABLE = 'chaospair';
const LOSS_TABLE = 'chaosloss';

/**
 * Cuts `x` and `y` apart on the switch: the bridge drops every frame from one's port to
 * the other's (both ways; unicast and each flooded copy pass the bridge's forward hook per
 * output port), and both still reach the rest of the segment. One table in the switch's
 * namespace, so the heal restores both directions at once: a heal that is one-way for a
 * moment is a different fault.
 */
export async function cutPair(lab: Lab, x: string, y: string): Promise<void> {
  const px = `p${lab.host(x).index}`;
  const py = `p${lab.host(y).index}`;
  await run('ip', [
    'netns',
    'exec',
    lab.switchNs,
    'nft',
    `add table bridge ${PAIR_TABLE}; add chain bridge ${PAIR_TABLE} pairs { type filter hook forward priority 0 ; }; ` +
      `add rule bridge ${PAIR_TABLE} pairs iifname ${px} oifname ${py} drop; add rule bridge ${PAIR_TABLE} pairs iifname ${py} oifname ${px} drop`,
  ]);
}

/** Undoes cutPair(), both directions at once; nothing happens when there is no cut. */
export async function healPairs(lab: Lab): Promise<void> {
  await run('ip', ['netns', 'exec', lab.switchNs, 'nft', 'delete', 'table', 'bridge', PAIR_TABLE], true);
}

/** Drops LOSS_PERCENT % of `host`'s frames at random, in and out (`numgen random mod 100 < N drop`: no sch_netem here). */
export async function startLoss(lab: Lab, host: string, percent = LOSS_PERCENT): Promise<void> {
  const rule = `numgen random mod 100 < ${percent} drop`;
  await lab.exec(host, 'nft', [
    `add table netdev ${LOSS_TABLE}; ` +
      `add chain netdev ${LOSS_TABLE} in { type filter hook ingress device eth0 priority 0 ; }; add rule netdev ${LOSS_TABLE} in ${rule}; ` +
      `add chain netdev ${LOSS_TABLE} out { type filter hook egress device eth0 priority 0 ; }; add rule netdev ${LOSS_TABLE} out ${rule}`,
  ]);
}

/** Undoes startLoss(); nothing happens when there is none. */
export async function stopLoss(lab: Lab, host: string): Promise<void> {
  await lab.exec(host, 'nft', ['delete', 'table', 'netdev', LOSS_TABLE], true);
}

/** Undoes every network fault on `host` (cuts, loss, isolation, link down). */
export async function healNetwork(lab: Lab, host: string): Promise<void> {
  await healPairs(lab);
  await stopLoss(lab, host);
  await lab.heal(host);
  await lab.link(host, true);
}
