/**
 * A simulated Ethernet segment of VRRP nodes on a virtual clock. Each node runs the VRRP
 * node the daemon runs (src/vrrp/node.ts: VRID lookup, decode, receive checks, sync
 * groups, encoding) around the real state machines: every advert is encoded to bytes,
 * carried with per-link delay and loss (or dropped by a partition), and handed to the
 * receiving node as the daemon's socket hands it.
 * Everything is deterministic for a given seed.
 */
import { ip, type IpAddress } from '../net/address.js';
import { VRRP_IPV4_GROUP } from '../vrrp/multicast.js';
import {
  DEFAULT_ANNOUNCE,
  type AnnounceReason,
  type RouterAction,
  type RouterConfig,
  type RouterEvent,
  type TransitionReason,
  type VirtualRouter,
} from '../vrrp/router.js';
import { VrrpNode } from '../vrrp/node.js';
import { toV2Interval, toV3Interval, toVrid, type Priority, type RouterState, type V3Ipv4ChecksumMode, type Vrid } from '../vrrp/types.js';

/** A small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Transition {
  readonly at: number;
  readonly node: string;
  readonly vrid: Vrid;
  readonly from: RouterState;
  readonly to: RouterState;
  readonly reason: TransitionReason;
}

export interface Delivery {
  readonly at: number;
  readonly from: string;
  readonly to: string;
  readonly vrid: Vrid;
  readonly priority: number;
}

export interface AnnounceRecord {
  readonly at: number;
  readonly node: string;
  readonly vrid: Vrid;
  readonly reason: AnnounceReason;
  readonly repeat: number;
}

export interface LinkModel {
  /** One-way delay, uniformly drawn per packet from [min, max] ms. */
  delayMinMs: number;
  delayMaxMs: number;
  /** Probability that a packet is lost. */
  loss: number;
}

interface QueuedEvent {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

/** A binary min-heap on (at, seq). */
class EventQueue {
  private heap: QueuedEvent[] = [];
  get size(): number {
    return this.heap.length;
  }
  push(e: QueuedEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i] as QueuedEvent, h[p] as QueuedEvent)) break;
      [h[i], h[p]] = [h[p] as QueuedEvent, h[i] as QueuedEvent];
      i = p;
    }
  }
  peek(): QueuedEvent | undefined {
    return this.heap[0];
  }
  pop(): QueuedEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l] as QueuedEvent, h[m] as QueuedEvent)) m = l;
        if (r < h.length && before(h[r] as QueuedEvent, h[m] as QueuedEvent)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as QueuedEvent, h[i] as QueuedEvent];
        i = m;
      }
    }
    return top;
  }
}
function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export interface NodeSpec {
  readonly name: string;
  /** The node's own address on the segment (10.213.0.0/16). */
  readonly address: string;
  readonly routers: readonly RouterSpec[];
  /** Sync groups, as lists of VRIDs on this node. */
  readonly syncGroups?: readonly (readonly number[])[];
}

export interface RouterSpec {
  readonly vrid: number;
  readonly priority: number;
  readonly intervalCs: number;
  readonly preempt?: boolean;
  readonly preemptDelayMs?: number;
  readonly tracked?: RouterConfig['tracked'];
  readonly lowerPriorityRepeat?: number;
  readonly higherPrioritySendAdvert?: boolean;
  readonly vips?: readonly string[];
  /** VRRP version (default 3); v2 intervals are whole seconds (multiples of 100 cs). */
  readonly version?: 2 | 3;
  /** IPv4 VRRPv3 checksum form (default rfc5798). */
  readonly checksum?: V3Ipv4ChecksumMode;
}

export class SimNode {
  alive = false;
  interfaceUp = true;
  routers = new Map<Vrid, VirtualRouter>();
  /** The VRRP node the daemon runs too (src/vrrp/node.ts): VRID lookup, decode, checks, sync groups, encoding. */
  node: VrrpNode;
  /** VRIDs whose VIPs this node holds (add-vips without remove-vips since). */
  readonly holding = new Set<Vrid>();
  readonly address: IpAddress;
  private readonly timerTokens = new Map<string, number>();

  constructor(
    readonly sim: Segment,
    readonly spec: NodeSpec,
  ) {
    this.address = ip(spec.address);
    this.node = this.newNode();
  }

  routerConfig(r: RouterSpec): RouterConfig {
    return {
      name: instanceName(r.vrid),
      version: r.version ?? 3,
      family: 'ipv4',
      vrid: toVrid(r.vrid),
      priority: r.priority as Priority,
      advertInterval: (r.version ?? 3) === 2 ? toV2Interval(r.intervalCs / 100) : toV3Interval(r.intervalCs),
      preempt: r.preempt ?? true,
      preemptDelayMs: r.preemptDelayMs ?? 0,
      acceptMode: false,
      primaryAddress: this.address,
      tracked: r.tracked ?? [],
      announce: { ...DEFAULT_ANNOUNCE, lowerPriorityRepeat: r.lowerPriorityRepeat ?? DEFAULT_ANNOUNCE.lowerPriorityRepeat },
      higherPrioritySendAdvert: r.higherPrioritySendAdvert ?? true,
      lowerPriorityNoAdvert: false,
    };
  }

  vips(r: RouterSpec): IpAddress[] {
    return (r.vips ?? [`10.213.100.${r.vrid}`]).map((v) => ip(v));
  }

  private newNode(): VrrpNode {
    return new VrrpNode({
      send: (_name, payload, dst) => this.sim.transmit(this, Uint8Array.from(payload), payload[1] as Vrid, payload[2] as number, dst),
      perform: (name, actions) => {
        const vrid = toVrid(vridOf(name));
        for (const action of actions) this.perform(vrid, action);
      },
      rejected: (_name, _channel, reason) => {
        this.sim.rejected.push(reason);
      },
      warned: () => undefined,
      deadline: (name, at) => this.armTimer(name, at),
      observed: () => undefined,
    });
  }

  /** Boots the node: fresh state machines, as a restarted daemon has. */
  boot(initialTrackers: Readonly<Record<string, boolean>> = {}): void {
    this.alive = true;
    this.routers = new Map();
    this.timerTokens.clear();
    this.holding.clear();
    this.node = this.newNode();
    for (const r of this.spec.routers) {
      const router = this.node.add({
        name: instanceName(r.vrid),
        channel: SEGMENT,
        router: this.routerConfig(r),
        virtualAddresses: this.vips(r),
        authentication: { type: 'none' },
        addressListCheck: 'log',
        checksum: r.checksum ?? 'rfc5798',
        destinations: [MULTICAST],
      });
      this.routers.set(toVrid(r.vrid), router);
    }
    this.node.setSyncGroups((this.spec.syncGroups ?? []).map((vrids, i) => ({ name: `${this.spec.name}-g${i}`, instances: vrids.map(instanceName) })));
    for (const router of this.routers.values()) {
      for (const [name, up] of Object.entries(initialTrackers)) {
        if (router.config.tracked.some((t) => t.name === name)) this.dispatch(router, { type: 'tracker', name, up });
      }
      if (!this.interfaceUp) this.dispatch(router, { type: 'interface', up: false });
    }
    for (const router of this.routers.values()) this.dispatch(router, { type: 'startup' });
  }

  /** kill -9: no more packets, no more timers, nothing released cleanly. */
  crash(): void {
    this.alive = false;
    this.holding.clear();
    this.timerTokens.clear();
  }

  /** SIGTERM: every router shuts down (masters send priority 0), then the node stops. */
  stop(): void {
    for (const router of this.routers.values()) this.dispatch(router, { type: 'shutdown' });
    this.alive = false;
    this.timerTokens.clear();
  }

  setInterface(up: boolean): void {
    this.interfaceUp = up;
    if (!this.alive) return;
    for (const router of this.routers.values()) this.dispatch(router, { type: 'interface', up });
  }

  setTracker(name: string, up: boolean): void {
    if (!this.alive) return;
    for (const router of this.routers.values()) {
      if (router.config.tracked.some((t) => t.name === name)) this.dispatch(router, { type: 'tracker', name, up });
    }
  }

  dispatch(router: VirtualRouter, event: RouterEvent): void {
    if (!this.alive) return;
    this.node.dispatch(instanceName(router.config.vrid), event, this.sim.now);
  }

  private perform(vrid: Vrid, action: RouterAction): void {
    switch (action.type) {
      case 'state-change':
        this.sim.transitions.push({
          at: this.sim.now,
          node: this.spec.name,
          vrid,
          from: action.from,
          to: action.to,
          reason: action.reason,
        });
        break;
      case 'add-vips':
        this.holding.add(vrid);
        break;
      case 'remove-vips':
        this.holding.delete(vrid);
        break;
      case 'announce':
        this.sim.announces.push({ at: this.sim.now, node: this.spec.name, vrid, reason: action.reason, repeat: action.repeat });
        break;
      case 'send-advert':
        break;
    }
  }

  /** Delivers a received packet to the node, as the daemon's socket does. */
  receive(packet: Uint8Array, src: IpAddress, dst: IpAddress = MULTICAST): void {
    if (!this.alive || !this.interfaceUp) return;
    this.node.receive(SEGMENT, packet, { src, dst, ttl: 255 }, this.sim.now);
  }

  private armTimer(name: string, deadline: number | undefined): void {
    if (deadline === undefined) {
      this.timerTokens.delete(name);
      return;
    }
    const token = (this.timerTokens.get(name) ?? 0) + 1;
    this.timerTokens.set(name, token);
    this.sim.at(Math.max(deadline, this.sim.now), () => {
      if (this.timerTokens.get(name) !== token || !this.alive) return;
      this.node.dispatch(name, { type: 'tick' }, this.sim.now);
    });
  }
}

/** The one channel of a simulated segment (the daemon's is "eth0/ipv4/multicast"). */
const SEGMENT = 'segment/ipv4/multicast';

function instanceName(vrid: number): string {
  return `vrid${vrid}`;
}

function vridOf(name: string): number {
  return Number(name.slice(4));
}

/** The simulated segment carries IPv4 multicast adverts (RFC 5798 §5.1.1.2). */
const MULTICAST = VRRP_IPV4_GROUP;

export class Segment {
  now = 0;
  private seq = 0;
  private readonly queue = new EventQueue();
  readonly nodes: SimNode[];
  readonly transitions: Transition[] = [];
  readonly deliveries: Delivery[] = [];
  readonly announces: AnnounceRecord[] = [];
  readonly rejected: string[] = [];
  /** Pairs of node names that cannot reach each other ("a|b", both orders). */
  private readonly cut = new Set<string>();
  private readonly lastArrival = new Map<string, number>();
  private readonly random: () => number;

  constructor(
    specs: readonly NodeSpec[],
    readonly link: LinkModel,
    seed: number,
  ) {
    this.random = prng(seed);
    this.nodes = specs.map((s) => new SimNode(this, s));
  }

  node(name: string): SimNode {
    const n = this.nodes.find((x) => x.spec.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  at(time: number, run: () => void): void {
    this.queue.push({ at: time, seq: this.seq++, run });
  }

  /** Runs every event up to and including `time`, then sets the clock to it. */
  runUntil(time: number): void {
    for (;;) {
      const next = this.queue.peek();
      if (!next || next.at > time) break;
      this.queue.pop();
      this.now = next.at;
      next.run();
    }
    this.now = time;
  }

  partition(sides: readonly (readonly string[])[]): void {
    this.cut.clear();
    for (let i = 0; i < sides.length; i++) {
      for (let j = 0; j < sides.length; j++) {
        if (i === j) continue;
        for (const a of sides[i] as readonly string[]) for (const b of sides[j] as readonly string[]) this.cut.add(`${a}|${b}`);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  transmit(from: SimNode, packet: Uint8Array, vrid: Vrid, priority: number, dst: IpAddress = MULTICAST): void {
    if (!from.interfaceUp) return;
    const unicast = dst.text !== MULTICAST.text;
    for (const to of this.nodes) {
      if (to === from) continue;
      if (unicast && to.address.text !== dst.text) continue;
      if (this.cut.has(`${from.spec.name}|${to.spec.name}`)) continue;
      if (this.link.loss > 0 && this.random() < this.link.loss) continue;
      const delay = this.link.delayMinMs + (this.link.delayMaxMs - this.link.delayMinMs) * this.random();
      // An Ethernet segment does not reorder frames between two hosts: FIFO per pair.
      const pair = `${from.spec.name}|${to.spec.name}`;
      const arrival = Math.max(this.now + delay, this.lastArrival.get(pair) ?? 0);
      this.lastArrival.set(pair, arrival);
      const copy = Uint8Array.from(packet);
      this.at(arrival, () => {
        if (!to.alive || !to.interfaceUp) return;
        this.deliveries.push({ at: this.now, from: from.spec.name, to: to.spec.name, vrid, priority });
        to.receive(copy, from.address, dst);
      });
    }
  }

  /** Nodes whose router for `vrid` is master now. */
  masters(vrid: number): string[] {
    return this.nodes
      .filter((n) => n.alive && n.routers.get(vrid as Vrid)?.state === 'master')
      .map((n) => n.spec.name);
  }

  /** Nodes holding the VIPs of `vrid` now. */
  holders(vrid: number): string[] {
    return this.nodes.filter((n) => n.alive && n.holding.has(vrid as Vrid)).map((n) => n.spec.name);
  }
}

