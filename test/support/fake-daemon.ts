/**
 * The real Daemon (src/daemon) on fake ports and a virtual clock, without root: a
 * netlink whose address changes and an nft whose runs complete when the test says so,
 * VRRP sockets that record what is sent and let the test deliver packets, frame senders
 * that record every gratuitous ARP / NA with the virtual time it left, and a scheduler
 * that fires on the virtual clock. Only what cannot run here is faked: the kernel's
 * addresses and nftables.
 */
import { ip, sameAddress, type AddressFamily, type IpAddress } from '../../src/net/address.js';
import { parseMac, type MacAddress } from '../../src/net/mac.js';
import { encodeAdvert, type Advert } from '../../src/vrrp/codec.js';
import { parseConfig, formatIssue } from '../../src/config/load.js';
import type { VigilConfig, VirtualIp } from '../../src/config/types.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { memoryLogger } from '../../src/daemon/logger.js';
import type { AddressEvent, ChannelPacketMeta, FrameSender, LinkState, NetworkPorts, SocketPorts, VrrpChannel, VrrpChannelOptions } from '../../src/daemon/ports.js';
import type { NftPort } from '../../src/daemon/accept-filter.js';
import type { Scheduler } from '../../src/daemon/scheduler.js';
import { EventStream } from '../../src/events/stream.js';

/** A virtual monotonic clock (ms). */
export class VirtualClock {
  constructor(public nowMs = 1_000_000) {}
  readonly now = (): number => this.nowMs;
}

/**
 * The Scheduler interface on the virtual clock: `advance` fires what falls due, in deadline
 * order; each wake-up (at the earliest deadline) also fires the entries whose `from` has
 * come, as the TimerfdScheduler does.
 */
export class VirtualScheduler implements Scheduler {
  private readonly entries = new Map<object, { deadline: number; from: number; fire: (now: number) => void }>();
  closed = false;
  constructor(private readonly clock: VirtualClock) {}
  set(key: object, deadline: number | undefined, fire: (now: number) => void, from = deadline): void {
    if (deadline === undefined || this.closed) this.entries.delete(key);
    else this.entries.set(key, { deadline, from: Math.min(from ?? deadline, deadline), fire });
  }
  close(): void {
    this.closed = true;
    this.entries.clear();
  }
  /** The earliest armed deadline. */
  next(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) if (min === undefined || e.deadline < min) min = e.deadline;
    return min;
  }
  /** Fires the earliest timer (moving the clock to its deadline); false when none is armed. */
  fireNext(): boolean {
    const at = this.next();
    if (at === undefined) return false;
    if (at > this.clock.nowMs) this.clock.nowMs = at;
    for (const [key, e] of [...this.entries].sort(([, x], [, y]) => x.deadline - y.deadline)) {
      if (e.from <= this.clock.nowMs && this.entries.get(key) === e) {
        this.entries.delete(key);
        e.fire(this.clock.nowMs);
      }
    }
    return true;
  }
  /** Moves the clock forward by `ms`, firing every timer due on the way. */
  advance(ms: number): void {
    const until = this.clock.nowMs + ms;
    for (let at = this.next(); at !== undefined && at <= until; at = this.next()) this.fireNext();
    this.clock.nowMs = until;
  }
}

/** An operation of a fake port that completes when the test says so (or at once when `auto`). */
export interface Pending {
  readonly what: string;
  complete(): void;
}

export class Completions {
  readonly pending: Pending[] = [];
  /** Complete at once instead of waiting for the test. */
  auto = true;
  hold<T>(what: string, effect: () => T): Promise<T> {
    if (this.auto) return Promise.resolve().then(effect);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({
        what,
        complete: () => {
          try {
            resolve(effect());
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
      });
    });
  }
  /** Completes the `i`-th pending operation. */
  completeAt(i: number): void {
    const [p] = this.pending.splice(i, 1);
    p?.complete();
  }
}

/** Lets every promise chain that can move on move on. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface FakeAddress {
  readonly address: IpAddress;
  readonly prefixLength: number;
  readonly secondary: boolean;
}

export class FakeNetwork implements NetworkPorts {
  readonly links = new Map<number, LinkState>();
  readonly addrs = new Map<number, FakeAddress[]>();
  /** Every netlink address change, in the order it took effect. */
  readonly journal: string[] = [];
  private onLink: ((link: LinkState) => void) | undefined;
  private onAddress: ((event: AddressEvent) => void) | undefined;

  constructor(readonly ops: Completions) {}

  addLink(index: number, name: string, mac: string, addresses: readonly string[]): void {
    this.links.set(index, { index, name, up: true, carrier: true, mac: parseMac(mac) as MacAddress });
    this.addrs.set(
      index,
      addresses.map((a, i) => {
        const [text, len] = a.split('/');
        return { address: ip(text as string), prefixLength: Number(len), secondary: i > 0 };
      }),
    );
  }
  link(name: string): Promise<LinkState | undefined> {
    return Promise.resolve([...this.links.values()].find((l) => l.name === name));
  }
  addresses(ifindex: number, family: AddressFamily): Promise<readonly FakeAddress[]> {
    return Promise.resolve((this.addrs.get(ifindex) ?? []).filter((a) => a.address.family === family));
  }
  has(ifindex: number, address: IpAddress): boolean {
    return (this.addrs.get(ifindex) ?? []).some((a) => sameAddress(a.address, address));
  }
  /** The VIPs whose requests were built ahead, "ifindex address/prefix", in order. */
  readonly prepared: string[] = [];
  prepareAddresses(ifindex: number, vips: readonly VirtualIp[]): void {
    for (const v of vips) this.prepared.push(`${ifindex} ${v.address.text}/${v.prefixLength}`);
  }
  addAddress(ifindex: number, vip: VirtualIp): Promise<void> {
    return this.ops.hold(`add ${vip.address.text}`, () => {
      const list = this.addrs.get(ifindex) ?? [];
      if (list.some((a) => sameAddress(a.address, vip.address))) throw new Error(`RTM_NEWADDR ${vip.address.text}: File exists`);
      list.push({ address: vip.address, prefixLength: vip.prefixLength, secondary: true });
      this.addrs.set(ifindex, list);
      this.journal.push(`add ${vip.address.text}`);
    });
  }
  removeAddress(ifindex: number, vip: VirtualIp): Promise<void> {
    return this.ops.hold(`remove ${vip.address.text}`, () => {
      const list = this.addrs.get(ifindex) ?? [];
      const i = list.findIndex((a) => sameAddress(a.address, vip.address));
      if (i < 0) throw new Error(`RTM_DELADDR ${vip.address.text}: Cannot assign requested address`);
      list.splice(i, 1);
      this.journal.push(`remove ${vip.address.text}`);
    });
  }
  /** Someone else (an admin, another program) removes an address: the watcher hears it. */
  removeExternally(ifindex: number, address: IpAddress): void {
    const list = this.addrs.get(ifindex) ?? [];
    const i = list.findIndex((a) => sameAddress(a.address, address));
    if (i < 0) return;
    const [gone] = list.splice(i, 1);
    this.journal.push(`external-remove ${address.text}`);
    this.onAddress?.({ type: 'removed', ifindex, address, prefixLength: gone?.prefixLength ?? 32 });
  }
  watch(onLink: (link: LinkState) => void, onAddress: (event: AddressEvent) => void): Promise<() => void> {
    this.onLink = onLink;
    this.onAddress = onAddress;
    return Promise.resolve(() => {
      this.onLink = undefined;
      this.onAddress = undefined;
    });
  }
  setLink(index: number, up: boolean): void {
    const l = this.links.get(index);
    if (!l) return;
    const next = { ...l, up, carrier: up };
    this.links.set(index, next);
    this.onLink?.(next);
  }
  writeSysctl(): Promise<void> {
    return Promise.resolve();
  }
  /** protodown on/off by ifindex, in order. */
  readonly protoDown: { index: number; on: boolean }[] = [];
  setProtoDown(index: number, on: boolean): void {
    this.protoDown.push({ index, on });
    this.journal.push(`protodown ${on ? 'on' : 'off'} ${index}`);
  }
  /**
   * VMACs made by ensureVmac get ifindex 100, 101...; in protodown from the start, as the
   * real one. One that exists already (left by a daemon killed before it could delete it)
   * is found by name, with its addresses, as the real one is.
   */
  private nextVmacIndex = 100;
  ensureVmac(name: string, _parentIndex: number, mac: MacAddress): Promise<LinkState> {
    const existing = [...this.links.values()].find((l) => l.name === name);
    if (existing) return Promise.resolve(existing);
    const index = this.nextVmacIndex++;
    this.addLink(index, name, mac.text, []);
    this.setProtoDown(index, true);
    const link = this.links.get(index);
    return link ? Promise.resolve(link) : Promise.reject(new Error(`VMAC ${name} not created`));
  }
  /** The link goes, and its addresses with it (as in the kernel). */
  deleteLink(index: number): Promise<void> {
    this.links.delete(index);
    this.addrs.delete(index);
    return Promise.resolve();
  }
  close(): void {}
}

/** nftables: the blocked set as the table would hold it, from the scripts run. */
export class FakeNft implements NftPort {
  readonly scripts: string[] = [];
  readonly blocked = new Set<string>();
  constructor(readonly ops: Completions) {}
  run(script: string): Promise<void> {
    return this.ops.hold('nft', () => {
      this.scripts.push(script);
      if (/delete table|flush table/.test(script) || /^table /m.test(script)) this.blocked.clear();
      for (const m of script.matchAll(/(add|delete) element inet vigil \S+ \{ ([^}]*) \}/g)) {
        for (const a of (m[2] as string).split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
          if (m[1] === 'add') this.blocked.add(a);
          else this.blocked.delete(a);
        }
      }
      for (const m of script.matchAll(/elements = \{ ([^}]*) \}/g)) {
        for (const a of (m[1] as string).split(',').map((s) => s.trim()).filter((s) => s.length > 0)) this.blocked.add(a);
      }
    });
  }
}

export interface SentFrame {
  readonly at: number;
  readonly ifname: string;
  /** The address announced (ARP sender / NA target). */
  readonly address: string;
  /** The Ethernet source address: where the neighbours' entries for `address` will point. */
  readonly mac: string;
}

/** The Ethernet source address of a frame, as aa:bb:cc:dd:ee:ff. */
export function frameSource(frame: Uint8Array): string {
  return [...frame.subarray(6, 12)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The address a gratuitous ARP or unsolicited NA frame announces. */
export function announcedAddress(frame: Uint8Array): string {
  const ethertype = ((frame[12] ?? 0) << 8) | (frame[13] ?? 0);
  if (ethertype === 0x0806) return [...frame.subarray(28, 32)].join('.');
  const target = frame.subarray(62, 78);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((target[i] ?? 0) << 8) | (target[i + 1] ?? 0)).toString(16));
  return ip(groups.join(':')).text;
}

export class FakeSockets implements SocketPorts {
  readonly adverts: { at: number; socket: string; payload: Uint8Array; dst: string }[] = [];
  readonly frames: SentFrame[] = [];
  private readonly receivers = new Map<string, (payload: Uint8Array, meta: ChannelPacketMeta) => void>();
  private readonly queued = new Map<string, { payload: Uint8Array; meta: ChannelPacketMeta }[]>();
  /** Every drain() the daemon made: when, on which socket, how many packets it took in. */
  readonly drains: { at: number; socket: string; packets: number }[] = [];
  /** Called for each advert as it is sent, with its socket ("vrrp.51/ipv4"), its bytes and destination. */
  onAdvert: ((socket: string, payload: Uint8Array, dst: IpAddress) => void) | undefined;
  /** Called for each frame as it is sent (a test checks its invariant at that moment). */
  onFrame: ((frame: SentFrame) => void) | undefined;

  constructor(private readonly clock: VirtualClock) {}

  openVrrp(options: VrrpChannelOptions, onPacket: (payload: Uint8Array, meta: ChannelPacketMeta) => void): VrrpChannel {
    const socket = `${options.ifname}/${options.family}`;
    this.receivers.set(socket, onPacket);
    let sent = 0;
    return {
      send: (payload, dst) => {
        sent++;
        this.adverts.push({ at: this.clock.nowMs, socket, payload: Uint8Array.from(payload), dst: dst.text });
        this.onAdvert?.(socket, payload, dst);
      },
      drain: () => {
        const queued = this.queued.get(socket) ?? [];
        this.queued.delete(socket);
        this.drains.push({ at: this.clock.nowMs, socket, packets: queued.length });
        for (const q of queued) onPacket(q.payload, q.meta);
        return queued.length;
      },
      close: () => {
        this.receivers.delete(socket);
        this.queued.delete(socket);
      },
      counters: () => ({ received: 0, sent, malformed: 0, receiveErrors: 0 }),
    };
  }
  openFrames(ifname: string): FrameSender {
    return {
      send: (frame) => {
        const f = { at: this.clock.nowMs, ifname, address: announcedAddress(frame), mac: frameSource(frame) };
        this.frames.push(f);
        this.onFrame?.(f);
      },
      close: () => undefined,
    };
  }
  /**
   * Puts a packet in `socket`'s receive queue without waking the daemon, as if it arrived
   * while the process was stalled: it is read by the next drain() or by `pollQueued`.
   */
  enqueue(socket: string, payload: Uint8Array, meta: ChannelPacketMeta): void {
    const q = this.queued.get(socket) ?? [];
    q.push({ payload: Uint8Array.from(payload), meta });
    this.queued.set(socket, q);
  }

  /** The readiness callback of `socket` runs: its queued packets are delivered. */
  pollQueued(socket: string): number {
    const queued = this.queued.get(socket) ?? [];
    this.queued.delete(socket);
    for (const q of queued) this.deliver(socket, q.payload, q.meta);
    return queued.length;
  }

  /** The VRRP sockets open now ("eth0/ipv4", "vrrp.51/ipv4"). */
  openSockets(): string[] {
    return [...this.receivers.keys()];
  }

  /** Delivers a packet as if it arrived on `socket` ("eth0/ipv4"). */
  deliver(socket: string, payload: Uint8Array, meta: ChannelPacketMeta): void {
    const r = this.receivers.get(socket);
    if (!r) throw new Error(`no VRRP socket ${socket} is open`);
    r(payload, meta);
  }
}

export function configFrom(yaml: string): VigilConfig {
  const r = parseConfig(yaml, 'vigil.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  return r.config;
}

/** A daemon on eth0 (ifindex 2, 10.213.0.1/24) with its fake ports. */
export class FakeHost {
  readonly clock = new VirtualClock();
  readonly scheduler = new VirtualScheduler(this.clock);
  readonly ops = new Completions();
  readonly net = new FakeNetwork(this.ops);
  readonly nft = new FakeNft(this.ops);
  readonly sockets = new FakeSockets(this.clock);
  readonly log = memoryLogger();
  readonly events = new EventStream({ monotonic: this.clock.now });
  readonly daemon: Daemon;

  constructor(readonly config: VigilConfig) {
    this.net.addLink(2, 'eth0', '02:00:00:00:00:01', ['10.213.0.1/24']);
    this.daemon = new Daemon(config, this.net, this.sockets, this.scheduler, this.log, this.nft, this.events, this.clock.now);
  }

  /** A VRRPv3 IPv4 advert from `src` for `vrid`, on eth0 (or on `socket`, e.g. a VMAC's "vrrp.51/ipv4"). */
  advertFrom(src: string, vrid: number, priority: number, addresses: readonly string[], intervalCs = 100, socket = 'eth0/ipv4'): void {
    const advert: Advert = { version: 3, family: 'ipv4', vrid, priority, maxAdverInt: intervalCs, reserved: 0, addresses: addresses.map((a) => ip(a)) } as unknown as Advert;
    const meta = { src: ip(src), dst: ip('224.0.0.18'), ttl: 255 };
    this.sockets.deliver(socket, encodeAdvert(advert, meta), { ...meta, ifindex: 2 });
  }

  /** advertFrom with the kernel's receive time (SO_TIMESTAMPNS, on the monotonic clock) in its metadata. */
  advertReceivedAt(receivedAt: number, src: string, vrid: number, priority: number, addresses: readonly string[], intervalCs = 100): void {
    const advert: Advert = { version: 3, family: 'ipv4', vrid, priority, maxAdverInt: intervalCs, reserved: 0, addresses: addresses.map((a) => ip(a)) } as unknown as Advert;
    const meta = { src: ip(src), dst: ip('224.0.0.18'), ttl: 255 };
    this.sockets.deliver('eth0/ipv4', encodeAdvert(advert, meta), { ...meta, ifindex: 2, receivedAt });
  }

  /** The same advert, left in eth0's receive queue (arrived while the daemon was stalled). */
  queueAdvertFrom(src: string, vrid: number, priority: number, addresses: readonly string[], intervalCs = 100): void {
    const advert: Advert = { version: 3, family: 'ipv4', vrid, priority, maxAdverInt: intervalCs, reserved: 0, addresses: addresses.map((a) => ip(a)) } as unknown as Advert;
    const meta = { src: ip(src), dst: ip('224.0.0.18'), ttl: 255 };
    this.sockets.enqueue('eth0/ipv4', encodeAdvert(advert, meta), { ...meta, ifindex: 2 });
  }

  /** Stops the daemon, its port operations completing at once from now on. */
  async stop(): Promise<void> {
    this.ops.auto = true;
    await this.drain();
    await this.daemon.stop();
  }

  /** Completes every pending port operation (in order) until none is left. */
  async drain(): Promise<void> {
    await flush();
    while (this.ops.pending.length > 0) {
      this.ops.completeAt(0);
      await flush();
    }
    await flush();
  }
}
