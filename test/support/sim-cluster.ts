/**
 * A simulated cluster of real daemons: N `Daemon`s (src/daemon) on the fake ports of
 * fake-daemon.ts, one shared virtual clock, and a simulated L2 segment that carries their
 * adverts, gratuitous ARPs / NAs and quorum heartbeats, with the faults of a chaos
 * schedule (sim-chaos.ts): kill, term, freeze, link down, one- or two-way cuts,
 * isolation, loss, delay and jitter. A client on the segment keeps a neighbour cache,
 * updated by the announcements it receives.
 *
 * Only what cannot run here is faked: the kernel's addresses and links (FakeNetwork, one
 * per member, which outlives its daemons as a kernel does), nftables, the sockets. Every
 * byte between the daemons is the real encoding, and every timer is the daemon's own.
 *
 * The world runs one event at a time in virtual time; after each one it lets every promise
 * chain move on (the port calls complete at once), then calls `afterEvent` (the audits
 * that are cheap enough to run continuously).
 */
import { ip, sameAddress, type IpAddress } from '../../src/net/address.js';
import type { VigilConfig } from '../../src/config/types.js';
import type { PacketMeta } from '../../src/vrrp/codec.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { memoryLogger } from '../../src/daemon/logger.js';
import type { AddressEvent, LinkState, NetworkPorts } from '../../src/daemon/ports.js';
import type { Scheduler } from '../../src/daemon/scheduler.js';
import { QuorumService, type HeartbeatPort, type QuorumServicePorts } from '../../src/daemon/quorum-service.js';
import { toNodeId } from '../../src/quorum/types.js';
import { EventStream } from '../../src/events/stream.js';
import { Completions, FakeNetwork, FakeNft, FakeSockets, VirtualClock, type SentFrame } from './fake-daemon.js';

/** What the quorum service gives its heartbeat transport (the receive callback among them). */
type HeartbeatTransportOptions = Parameters<NonNullable<QuorumServicePorts['openTransport']>>[0];

/** A small, fast, seedable PRNG (mulberry32); the same as src/sim/segment.ts's. */
export { prng } from '../../src/sim/segment.js';

/** An event; `false` when it found nothing to do (a timer re-armed since), so nothing needs to settle. */
type Run = () => void | false | Promise<void>;

interface Timed {
  readonly at: number;
  readonly seq: number;
  readonly run: Run;
}

/** A binary min-heap on (at, seq). */
class Heap {
  private readonly h: Timed[] = [];
  get size(): number {
    return this.h.length;
  }
  peek(): Timed | undefined {
    return this.h[0];
  }
  push(e: Timed): void {
    const h = this.h;
    h.push(e);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!earlier(h[i] as Timed, h[p] as Timed)) break;
      [h[i], h[p]] = [h[p] as Timed, h[i] as Timed];
      i = p;
    }
  }
  pop(): Timed | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && earlier(h[l] as Timed, h[m] as Timed)) m = l;
        if (r < h.length && earlier(h[r] as Timed, h[m] as Timed)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Timed, h[i] as Timed];
        i = m;
      }
    }
    return top;
  }
}
function earlier(a: Timed, b: Timed): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every promise chain that can move on move on (one macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class World {
  readonly clock = new VirtualClock(1_000_000);
  private readonly heap = new Heap();
  private seq = 0;
  events = 0;
  /** Called after every event, once its promise chains have settled. */
  afterEvent: (() => void) | undefined;

  get now(): number {
    return this.clock.nowMs;
  }

  at(time: number, run: Run): void {
    this.heap.push({ at: Math.max(time, this.clock.nowMs), seq: this.seq++, run });
  }

  /** Runs every event due up to `time` (a thrown error ends the run: the caller reports it), then moves the clock there. */
  async runUntil(time: number): Promise<void> {
    for (let next = this.heap.peek(); next !== undefined && next.at <= time; next = this.heap.peek()) {
      this.heap.pop();
      this.clock.nowMs = next.at;
      const r = next.run();
      if (r === false) continue;
      this.events++;
      if (r) await r;
      await settle();
      this.afterEvent?.();
    }
    this.clock.nowMs = Math.max(this.clock.nowMs, time);
  }
}

/** The Scheduler of one daemon incarnation on the world's clock: held while frozen, dead once killed. */
class SimScheduler implements Scheduler {
  private readonly entries = new Map<object, { readonly deadline: number; readonly fire: (now: number) => void }>();
  closed = false;
  constructor(
    private readonly world: World,
    private readonly inc: Incarnation,
  ) {}
  set(key: object, deadline: number | undefined, fire: (now: number) => void): void {
    if (deadline === undefined || this.closed) {
      this.entries.delete(key);
      return;
    }
    const entry = { deadline, fire };
    this.entries.set(key, entry);
    this.world.at(deadline, () => {
      if (this.entries.get(key) !== entry || !this.inc.alive) return false;
      if (this.inc.member.frozen) {
        this.inc.member.deferred.push(() => {
          if (this.entries.get(key) !== entry || !this.inc.alive) return;
          this.entries.delete(key);
          entry.fire(this.world.now);
        });
        return false;
      }
      this.entries.delete(key);
      entry.fire(this.world.now);
      return undefined;
    });
  }
  close(): void {
    this.closed = true;
    this.entries.clear();
  }
}

/**
 * The kernel's rtnetlink as one incarnation of the daemon sees it: the member's FakeNetwork
 * (the kernel's state, which outlives the process), with the change notifications going
 * only to a live, unfrozen incarnation (queued while it is frozen).
 */
class IncarnationNetwork implements NetworkPorts {
  onLink: ((link: LinkState) => void) | undefined;
  onAddress: ((event: AddressEvent) => void) | undefined;
  constructor(private readonly kernel: FakeNetwork) {}
  link(name: string): Promise<LinkState | undefined> {
    return this.kernel.link(name);
  }
  addresses(...a: Parameters<NetworkPorts['addresses']>): ReturnType<NetworkPorts['addresses']> {
    return this.kernel.addresses(...a);
  }
  addAddress(...a: Parameters<NetworkPorts['addAddress']>): Promise<void> {
    return this.kernel.addAddress(...a);
  }
  removeAddress(...a: Parameters<NetworkPorts['removeAddress']>): Promise<void> {
    return this.kernel.removeAddress(...a);
  }
  watch(onLink: (link: LinkState) => void, onAddress: (event: AddressEvent) => void): Promise<() => void> {
    this.onLink = onLink;
    this.onAddress = onAddress;
    return Promise.resolve(() => {
      this.onLink = undefined;
      this.onAddress = undefined;
    });
  }
  writeSysctl(): Promise<void> {
    return Promise.resolve();
  }
  ensureVmac(...a: Parameters<NetworkPorts['ensureVmac']>): Promise<LinkState> {
    return this.kernel.ensureVmac(a[0], a[1], a[2]);
  }
  deleteLink(index: number): Promise<void> {
    return this.kernel.deleteLink(index);
  }
  setProtoDown(index: number, on: boolean): void {
    this.kernel.setProtoDown(index, on);
  }
  close(): void {}
}

/** One run of the daemon on a member, from its start to its kill or stop. */
export class Incarnation {
  alive = true;
  readonly sockets: FakeSockets;
  readonly scheduler: SimScheduler;
  readonly log = memoryLogger();
  readonly events: EventStream;
  readonly netView: IncarnationNetwork;
  readonly daemon: Daemon;
  quorum: QuorumService | undefined;
  /** The state of each instance, from the event stream (cheaper than status()). */
  readonly states = new Map<string, string>();
  heartbeats: ((bytes: Buffer, from: string) => void) | undefined;

  constructor(
    readonly member: Member,
    readonly config: VigilConfig,
  ) {
    const world = member.cluster.world;
    this.sockets = new FakeSockets(world.clock);
    this.scheduler = new SimScheduler(world, this);
    this.events = new EventStream({ monotonic: world.clock.now });
    this.netView = new IncarnationNetwork(member.kernel);
    this.daemon = new Daemon(config, this.netView, this.sockets, this.scheduler, this.log, member.nft, this.events, world.clock.now);
    this.sockets.onAdvert = (socket, payload, dst) => {
      if (this.alive) member.cluster.segment.advert(member, socket, payload, dst);
    };
    this.sockets.onFrame = (frame) => {
      if (this.alive) member.cluster.segment.frame(member, frame);
    };
    this.events.subscribe((e) => {
      if (e.kind !== 'instance-state') return;
      this.states.set(e.instance, e.to);
      if (e.to !== 'master') return;
      member.masterSince = world.now;
      if (member.thawing) member.tookOverAtThaw = true;
    });
    member.cluster.onIncarnation?.(member, this);
  }

  /** The state of the instance `name` (undefined when the daemon has none), as the event stream reported it. */
  state(name: string): string | undefined {
    return this.states.get(name);
  }

  /**
   * The router's state now: a takeover's state-change event follows its first gratuitous
   * ARP (effect-pipeline.ts), so what is checked at the moment of a frame is read here.
   */
  routerState(name: string): string | undefined {
    return this.daemon.status().instances.find((i) => i.name === name)?.state;
  }

  /**
   * A frame sent by a master whose takeover is not reported yet (its state-change event
   * follows the first announcement, in the same turn): the member has been master since now.
   */
  noteUnreportedTakeover(): void {
    if (this.daemon.status().instances.some((i) => i.state === 'master' && this.states.get(i.name) !== 'master')) this.member.masterSince = this.member.cluster.world.now;
  }
}

export class Member {
  readonly ops = new Completions();
  /** The kernel: links and addresses, kept across daemon restarts. */
  readonly kernel = new FakeNetwork(this.ops);
  readonly nft = new FakeNft(this.ops);
  inc: Incarnation | undefined;
  linkUp = true;
  frozen = false;
  /** Timers that fell due while frozen, in order, and what arrived meanwhile. */
  deferred: (() => void)[] = [];
  private arrived: (() => void)[] = [];
  incarnations = 0;
  /** When this member last became master. */
  masterSince: number | undefined;
  /** When this member's socket last got an advert of priority > 0 from each other member (by name). */
  readonly heard = new Map<string, number>();
  /** When a frame of this member's last failed to reach the client (cut, loss, link down). */
  lostToClient: number | undefined;
  /** The priorities of the adverts that waited on the socket while frozen (for the thaw audit). */
  queuedPriorities: number[] = [];
  thawing = false;
  /** Became master while taking in what waited at its thaw. */
  tookOverAtThaw = false;

  constructor(
    readonly cluster: Cluster,
    /** 1-based. */
    readonly id: number,
    public config: VigilConfig,
  ) {
    this.kernel.addLink(2, 'eth0', this.mac, [`${this.address}/24`, `${this.linkLocal}/64`]);
  }

  get name(): string {
    return `n${this.id}`;
  }
  get address(): string {
    return `10.213.0.${this.id}`;
  }
  /** The IPv6 adverts' source (RFC 5798 §5.1.2.1). */
  get linkLocal(): string {
    return `fe80::${this.id}`;
  }
  get mac(): string {
    return `02:00:00:00:00:${this.id.toString(16).padStart(2, '0')}`;
  }
  get alive(): boolean {
    return this.inc?.alive === true;
  }

  /** Error lines of the daemons gone (killed or stopped) not yet taken by newErrors(). */
  private pastErrors: string[] = [];
  private errorsTaken = 0;

  /** The error lines logged since the last call, by this member's daemons, the ones gone included. */
  newErrors(): string[] {
    const lines = (this.inc?.log.lines ?? []).filter((l) => l.level === 'error').map((l) => `${l.event} ${JSON.stringify(l.fields)}`);
    const out = [...this.pastErrors, ...lines.slice(this.errorsTaken)];
    this.pastErrors = [];
    this.errorsTaken = lines.length;
    return out;
  }

  /** Starts a new daemon from the member's config (with the quorum service when it has a quorum section). */
  async start(): Promise<void> {
    if (this.alive) return;
    this.pastErrors.push(...this.newErrors());
    this.errorsTaken = 0;
    this.incarnations++;
    const inc = new Incarnation(this, this.config);
    this.inc = inc;
    this.frozen = false;
    this.deferred = [];
    this.arrived = [];
    const q = this.config.quorum;
    if (q && q.provider !== 'corosync') {
      const world = this.cluster.world;
      inc.quorum = await QuorumService.open(
        q,
        toNodeId(this.id),
        this.cluster.key,
        inc.scheduler,
        world.clock.now,
        inc.log,
        (verdict, why) => {
          if (inc.alive) inc.daemon.onQuorumVerdict(verdict, why);
        },
        inc.events,
        undefined,
        {
          // The boot epoch grows with the virtual clock, as the wall clock does between real restarts.
          epoch: (BigInt(Math.floor(world.now)) << 16n) | BigInt(this.incarnations & 0xffff),
          openTransport: (options) => Promise.resolve(this.heartbeatPort(inc, options)),
        },
      );
      inc.daemon.attachQuorum(inc.quorum);
    }
    await inc.daemon.start();
  }

  private heartbeatPort(inc: Incarnation, options: HeartbeatTransportOptions): HeartbeatPort {
    // Heartbeats are handed over as they are read (age 0); what a frozen daemon has not read
    // yet comes after its expired timers, as with node:dgram (drain() takes in nothing: the
    // kernel receive timestamps and the drain of the real transport are not simulated).
    inc.heartbeats = (bytes, from) => options.onMessage(bytes, { address: from, port: 5406, family: 'ipv4' }, 0);
    let peers: readonly string[] = options.destination.kind === 'unicast' ? options.destination.peers : [options.destination.group ?? 'multicast'];
    return {
      localAddress: options.localAddress ?? '',
      port: options.port ?? 5405,
      get destinations() {
        return peers;
      },
      setPeers: (next) => {
        peers = [...next];
      },
      drain: () => 0,
      send: (bytes) => {
        if (!inc.alive) return Promise.resolve({ sent: 0, failed: 1 });
        this.cluster.segment.heartbeat(this, Uint8Array.from(bytes));
        return Promise.resolve({ sent: 1, failed: 0 });
      },
      close: () => {
        inc.heartbeats = undefined;
        return Promise.resolve();
      },
    };
  }

  /** SIGKILL: nothing more runs; the kernel keeps what it had (the VIPs too). */
  kill(): void {
    if (!this.inc) return;
    this.termPending = false;
    this.inc.alive = false;
    this.inc.scheduler.close();
    this.frozen = false;
    this.deferred = [];
    this.arrived = [];
  }

  /** A SIGTERM sent while frozen, handled once the process runs again (call term() after the thaw). */
  termPending = false;

  /**
   * SIGTERM: the daemon stops (masters send priority 0, the VIPs go), then the quorum
   * service. A frozen process only gets it when it resumes: it is kept for then.
   */
  async term(): Promise<void> {
    const inc = this.inc;
    if (!inc?.alive) return;
    if (this.frozen) {
      this.termPending = true;
      return;
    }
    this.termPending = false;
    await inc.daemon.stop();
    await inc.quorum?.close();
    inc.alive = false;
  }

  /** SIGSTOP. */
  freeze(): void {
    if (!this.alive) return;
    this.frozen = true;
    this.queuedPriorities = [];
  }

  /**
   * SIGCONT: the timers that fell due fire first (libuv runs expired timers before it polls),
   * then everything that arrived meanwhile is read, in order.
   */
  thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    const due = this.deferred;
    const arrived = this.arrived;
    this.deferred = [];
    this.arrived = [];
    this.thawing = true;
    this.tookOverAtThaw = false;
    try {
      for (const fire of due) if (this.alive) fire();
      for (const socket of this.inc?.sockets.openSockets() ?? []) if (this.alive) this.inc?.sockets.pollQueued(socket);
      for (const run of arrived) if (this.alive) run();
    } finally {
      this.thawing = false;
    }
  }

  /** Something for the process arrived (a netlink event, a heartbeat): now, or at the thaw. */
  private toProcess(run: () => void): void {
    if (!this.alive) return;
    if (this.frozen) this.arrived.push(run);
    else run();
  }

  setLink(up: boolean): void {
    this.linkUp = up;
    this.kernel.setLink(2, up);
    const link = this.kernel.links.get(2);
    const inc = this.inc;
    if (link && inc) this.toProcess(() => inc.netView.onLink?.(link));
  }

  /** A VRRP packet reached this member's interface. */
  receiveAdvert(socket: string, payload: Uint8Array, meta: PacketMeta): void {
    const inc = this.inc;
    if (!inc?.alive || !this.linkUp) return;
    if ((payload[2] ?? 0) > 0) this.heard.set(`n${(meta.src.bytes[meta.src.bytes.length - 1] ?? 0).toString()}`, this.cluster.world.now);
    const target = inc.sockets.openSockets().find((s) => s === socket) ?? inc.sockets.openSockets().find((s) => s.endsWith(socket.slice(socket.indexOf('/'))));
    if (target === undefined) return;
    const ifname = target.slice(0, target.indexOf('/'));
    const ifindex = [...this.kernel.links.values()].find((l) => l.name === ifname)?.index ?? 2;
    if (this.frozen) {
      this.queuedPriorities.push(payload[2] ?? 0);
      inc.sockets.enqueue(target, payload, { ...meta, ifindex });
    } else inc.sockets.deliver(target, payload, { ...meta, ifindex });
  }

  receiveHeartbeat(bytes: Uint8Array, from: string): void {
    const inc = this.inc;
    if (!inc?.alive || !this.linkUp) return;
    this.toProcess(() => inc.heartbeats?.(Buffer.from(bytes), from));
  }

  /** Whether any interface of this member's kernel holds `address` (a killed daemon's VIPs stay there). */
  holds(address: IpAddress): boolean {
    for (const list of this.kernel.addrs.values()) if (list.some((a) => sameAddress(a.address, address))) return true;
    return false;
  }
}

/** The client on the segment: its neighbour cache, as announcements update it. */
export interface NeighbourEntry {
  readonly mac: string;
  /** When it was last set, and when it last changed to another MAC. */
  readonly at: number;
  readonly changedAt: number;
  /** The member whose announcement set it, and since when that member was master. */
  readonly from: string;
  readonly since: number | undefined;
}

export class Client {
  readonly cache = new Map<string, NeighbourEntry>();
  static readonly NAME = 'client';
}

/**
 * The L2 segment with its faults. Frames between one pair arrive in the order they were
 * sent (FIFO, as on Ethernet); each is dropped with probability `loss` and delayed by a
 * uniform draw from [delayMinMs, delayMaxMs].
 */
export class SimSegment {
  /** Directed cuts "a>b": nothing from a reaches b. */
  readonly cuts = new Set<string>();
  loss = 0;
  delayMinMs = 0;
  delayMaxMs = 0;
  private readonly lastArrival = new Map<string, number>();
  counts = { adverts: 0, frames: 0, heartbeats: 0, dropped: 0 };

  constructor(
    private readonly cluster: Cluster,
    private readonly random: () => number,
  ) {}

  heal(): void {
    this.cuts.clear();
    this.loss = 0;
    this.delayMinMs = 0;
    this.delayMaxMs = 0;
  }

  /** When a frame from `from` to `to` arrives, or undefined when it is lost. */
  private arrival(from: Member, to: string): number | undefined {
    if (!from.linkUp || this.cuts.has(`${from.name}>${to}`)) return undefined;
    if (this.loss > 0 && this.random() < this.loss) {
      this.counts.dropped++;
      return undefined;
    }
    const world = this.cluster.world;
    const delay = this.delayMinMs + (this.delayMaxMs - this.delayMinMs) * this.random();
    const pair = `${from.name}>${to}`;
    const at = Math.max(world.now + delay, this.lastArrival.get(pair) ?? 0);
    this.lastArrival.set(pair, at);
    return at;
  }

  private toMembers(from: Member, deliver: (to: Member) => void): void {
    for (const to of this.cluster.members) {
      if (to === from) continue;
      const at = this.arrival(from, to.name);
      if (at !== undefined) this.cluster.world.at(at, () => deliver(to));
    }
  }

  advert(from: Member, socket: string, payload: Uint8Array, dst: IpAddress): void {
    this.counts.adverts++;
    const copy = Uint8Array.from(payload);
    const meta: PacketMeta = { src: ip(dst.family === 'ipv6' ? from.linkLocal : from.address), dst, ttl: 255 };
    this.toMembers(from, (to) => to.receiveAdvert(socket, copy, meta));
  }

  heartbeat(from: Member, bytes: Uint8Array): void {
    this.counts.heartbeats++;
    this.toMembers(from, (to) => to.receiveHeartbeat(bytes, from.address));
  }

  /** A gratuitous ARP / unsolicited NA: the client's cache takes its source MAC. */
  frame(from: Member, frame: SentFrame): void {
    this.counts.frames++;
    this.cluster.framesSent(from, frame);
    const at = this.arrival(from, Client.NAME);
    if (at === undefined) {
      from.lostToClient = this.cluster.world.now;
      return;
    }
    from.inc?.noteUnreportedTakeover();
    const since = from.masterSince;
    this.cluster.world.at(at, () => {
      const cache = this.cluster.client.cache;
      const now = this.cluster.world.now;
      const old = cache.get(frame.address);
      cache.set(frame.address, { mac: frame.mac, at: now, changedAt: old?.mac === frame.mac ? old.changedAt : now, from: from.name, since });
    });
  }
}

export class Cluster {
  readonly world = new World();
  readonly members: Member[];
  readonly client = new Client();
  readonly segment: SimSegment;
  /** The heartbeats' shared key. */
  readonly key = Buffer.alloc(32, 7);
  /** Every frame sent, to the audit (set by the runner). */
  onFrame: ((from: Member, frame: SentFrame) => void) | undefined;
  /** Each new daemon, before it starts (a trace subscribes to its events). */
  onIncarnation: ((member: Member, inc: Incarnation) => void) | undefined;

  constructor(configs: readonly VigilConfig[], random: () => number) {
    this.members = configs.map((c, i) => new Member(this, i + 1, c));
    this.segment = new SimSegment(this, random);
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name} in the simulated cluster`);
    return m;
  }

  framesSent(from: Member, frame: SentFrame): void {
    this.onFrame?.(from, frame);
  }
}
