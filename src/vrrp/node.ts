/**
 * A VRRP node: the virtual routers of one host between the pure cores (router.ts,
 * sync-group.ts, codec.ts, acceptance.ts) and the ports, in the manner of etcd raft's
 * `RawNode`. Packets, link and tracker events and the clock go in; encoded adverts, the
 * routers' other actions (for the effect pipeline), rejections, observations and timer
 * deadlines come out through `NodeOutput`, synchronously and in order. It owns no socket,
 * no timer and no address, so the daemon (src/daemon) and the simulator (src/sim) run the
 * same glue: VRID lookup per channel, decode, the receive checks, sync-group dispatch and
 * advert encoding.
 */
import { AddressCache, type IpAddress } from '../net/address.js';
import { decodeAdvert, encodeAdvertInto, type Advert, type DecodeOptions, type PacketMeta } from './codec.js';
import { acceptAdvert, type AcceptancePolicy, type V2Authentication } from './acceptance.js';
import { emptyRejectCounts, type RejectCounts, type RejectReason } from './rejection.js';
import { VirtualRouter, type RouterAction, type RouterConfig, type RouterEvent } from './router.js';
import { SyncGroup } from './sync-group.js';
import { AUTH_DATA_LENGTH, AUTH_NONE, AUTH_SIMPLE_TEXT, PRIORITY_OWNER, type Priority, type RouterState, type V3Ipv4ChecksumMode } from './types.js';

/** One virtual router of the node, as configured. */
export interface NodeInstanceConfig {
  readonly name: string;
  /** The socket it sends and receives on ("eth0/ipv4/multicast"): VRIDs are unique per channel. */
  readonly channel: string;
  readonly router: RouterConfig;
  /** The advertised addresses, in order. */
  readonly virtualAddresses: readonly IpAddress[];
  /** VRRPv2 only; { type: 'none' } for v3. */
  readonly authentication: V2Authentication;
  readonly addressListCheck: 'log' | 'drop';
  /** IPv4 VRRPv3 checksum mode (RFC 5798 §5.2.8 vs RFC 9568). */
  readonly checksum: V3Ipv4ChecksumMode;
  /** Where adverts go: the multicast group, or the unicast peers. */
  readonly destinations: readonly IpAddress[];
}

/** What the node observed besides the routers' actions (for the event stream). */
export type NodeObservation =
  | { readonly kind: 'priority-changed'; readonly instance: string; readonly from: number; readonly to: number; readonly basePriority: number }
  | { readonly kind: 'master-rx-lower-priority'; readonly instance: string; readonly from: string; readonly priority: number; readonly ownPriority: number }
  | { readonly kind: 'group-state'; readonly group: string; readonly from: RouterState; readonly to: RouterState; readonly instances: readonly string[] };

export interface NodeOutput {
  /**
   * An encoded advert of `instance` for `dst` (the transport adds the IP header, TTL 255);
   * the buffer is reused after the call unless `soon`. `soon`: the advert of a tick that
   * does nothing else (the Adver_Timer alone, RFC 5798 §6.4.3 (625)), in a buffer that
   * stays as it is: it may go out with the others of this wake-up at the end of it. Any
   * other advert (on becoming master, §6.4.2 (375): "before anything else") goes at once.
   */
  send(instance: string, payload: Uint8Array, dst: IpAddress, soon?: boolean): void;
  /** The router's actions of one step, adverts already sent (RFC 5798 §6.4.2 (375): the advert before anything else). */
  perform(instance: string, actions: readonly RouterAction[], now: number): void;
  /** A packet dropped by the codec or the receive checks; `instance` undefined when no VRID matched. */
  rejected(instance: string | undefined, channel: string, reason: RejectReason, detail: string, src: IpAddress): void;
  /** An advert accepted with a warning (address list mismatch, logged and counted). */
  warned(instance: string, reason: RejectReason, detail: string, src: IpAddress): void;
  /**
   * The instance's next timer deadline (undefined: none), and `from`, the earliest time the
   * tick may be delivered (VirtualRouter.tickFrom: before `at` only for the Adver_Timer).
   */
  deadline(instance: string, at: number | undefined, from?: number): void;
  observed(observation: NodeObservation): void;
}

interface Member {
  config: NodeInstanceConfig;
  readonly router: VirtualRouter;
  readonly rejects: RejectCounts;
  policy: AcceptancePolicy;
  template: Advert;
  /**
   * The encoded adverts, one per destination (the v3 checksum covers the destination), for
   * `builtPriority`: the steady-state send path writes nothing and allocates nothing. Rebuilt
   * when the priority changes; reconfigure() (addresses, interval) drops them.
   */
  built: Uint8Array[];
  builtPriority: Priority | undefined;
  /** Its decode options, made once: its checksum mode, and the node's address cache. */
  decodeOptions: DecodeOptions;
}

/** keepalived's group state: FAULT if any member is, else MASTER if any is, else the first member's. */
function groupStateOf(group: SyncGroup): RouterState {
  const states = group.members.map((m) => m.state);
  if (states.includes('fault')) return 'fault';
  if (states.includes('master')) return 'master';
  return states[0] ?? 'initialize';
}

export class NodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeError';
  }
}

export class VrrpNode {
  private readonly members = new Map<string, Member>();
  private readonly byRouter = new Map<VirtualRouter, Member>();
  private readonly channels = new Map<string, Map<number, Member>>();
  private readonly channelRejects = new Map<string, RejectCounts>();
  private groups: SyncGroup[] = [];
  private readonly sendBuffer = new Uint8Array(1500);
  /** The advertised addresses of received adverts: the same few, so decoding allocates no new address objects for them. */
  private readonly addressCache = new AddressCache(1024);

  constructor(private readonly output: NodeOutput) {}

  /** Adds a virtual router; throws NodeError when its VRID is taken on its channel. */
  add(config: NodeInstanceConfig): VirtualRouter {
    if (this.members.has(config.name)) throw new NodeError(`instance ${config.name} exists already`);
    const byVrid = this.channels.get(config.channel) ?? new Map<number, Member>();
    const existing = byVrid.get(config.router.vrid);
    if (existing) throw new NodeError(`VRID ${config.router.vrid} is already used by instance ${existing.config.name} on ${config.channel}`);
    const member: Member = { config, router: new VirtualRouter(config.router), rejects: emptyRejectCounts(), policy: policyOf(config), template: templateOf(config), built: [], builtPriority: undefined, decodeOptions: this.decodeOptionsOf(config) };
    byVrid.set(config.router.vrid, member);
    this.channels.set(config.channel, byVrid);
    if (!this.channelRejects.has(config.channel)) this.channelRejects.set(config.channel, emptyRejectCounts());
    this.members.set(config.name, member);
    this.byRouter.set(member.router, member);
    // Build the adverts now, so a backup's first takeover neither compiles the encoder nor allocates.
    this.advertsOf(member, config.router.priority);
    return member.router;
  }

  /** Removes a virtual router (and its timer); its channel goes when it was the last one there. Returns whether the channel is now empty. */
  remove(name: string): boolean {
    const member = this.members.get(name);
    if (!member) return false;
    this.members.delete(name);
    this.byRouter.delete(member.router);
    this.groups = this.groups.filter((g) => !g.has(member.router));
    this.output.deadline(name, undefined);
    const byVrid = this.channels.get(member.config.channel);
    byVrid?.delete(member.config.router.vrid);
    if (byVrid && byVrid.size === 0) {
      this.channels.delete(member.config.channel);
      this.channelRejects.delete(member.config.channel);
      return true;
    }
    return false;
  }

  /** A reloaded config with the same wire identity (channel, VRID, family, version): the router keeps its state. */
  reconfigure(config: NodeInstanceConfig): void {
    const member = this.members.get(config.name);
    if (!member) throw new NodeError(`reconfigure: no instance ${config.name}`);
    member.config = config;
    member.router.reconfigure(config.router);
    member.policy = policyOf(config);
    member.template = templateOf(config);
    member.builtPriority = undefined;
    member.decodeOptions = this.decodeOptionsOf(config);
    this.advertsOf(member, config.router.priority);
  }

  router(name: string): VirtualRouter | undefined {
    return this.members.get(name)?.router;
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  rejectsOf(name: string): RejectCounts | undefined {
    return this.members.get(name)?.rejects;
  }

  /** Per channel: packets dropped before an instance was known (bad version, checksum, unknown VRID...). */
  channelRejectCounts(): ReadonlyMap<string, RejectCounts> {
    return this.channelRejects;
  }

  setSyncGroups(groups: readonly { readonly name: string; readonly instances: readonly string[] }[]): void {
    for (const g of this.groups) for (const m of g.members) m.removeGate(g);
    this.groups = groups.map((g) => new SyncGroup(g.name, g.instances.map((n) => this.members.get(n)?.router).filter((r): r is VirtualRouter => r !== undefined)));
  }

  groupOf(name: string): SyncGroup | undefined {
    const router = this.members.get(name)?.router;
    return router ? this.groups.find((g) => g.has(router)) : undefined;
  }

  /**
   * A packet arrived on `channel`. RFC 5798 §7.1 checks the packet itself (TTL, version,
   * length, checksum) before the VRID; the VRID (the second octet) picks the router whose
   * checksum mode and receive checks apply.
   */
  receive(channel: string, payload: Uint8Array, meta: PacketMeta, now: number): void {
    const member = payload.length >= 2 ? this.channels.get(channel)?.get(payload[1] as number) : undefined;
    if (!member) {
      const decoded = decodeAdvert(payload, meta, { v3Ipv4Checksum: 'either' });
      const reason: RejectReason = decoded.ok ? 'unknown-vrid' : decoded.reason;
      const counts = this.channelRejects.get(channel);
      if (counts) counts[reason]++;
      this.output.rejected(undefined, channel, reason, decoded.ok ? `no instance with VRID ${decoded.advert.vrid} on ${channel}` : decoded.detail, meta.src);
      return;
    }
    const name = member.config.name;
    const decoded = decodeAdvert(payload, meta, member.decodeOptions);
    if (!decoded.ok) {
      member.rejects[decoded.reason]++;
      this.output.rejected(name, channel, decoded.reason, decoded.detail, meta.src);
      return;
    }
    const accepted = acceptAdvert(decoded.advert, member.policy);
    if (!accepted.ok) {
      member.rejects[accepted.reason]++;
      this.output.rejected(name, channel, accepted.reason, accepted.detail, meta.src);
      return;
    }
    if (accepted.warning) {
      member.rejects[accepted.warning.reason]++;
      this.output.warned(name, accepted.warning.reason, accepted.warning.detail, meta.src);
    }
    const router = member.router;
    const priority = accepted.advert.priority;
    // keepalived's MASTER_RX_LOWER_PRI: a master hears a lower (non-zero) priority.
    // Not for our own address: the router ignores that advert (VirtualRouter.isOwnAddress), so
    // it was not heard from a lower-priority router (found by the fuzzer: a forged IPv6 advert
    // with the master's link-local source set off notify_master_rx_lower_pri).
    if (router.state === 'master' && priority > 0 && priority < router.effectivePriority && !router.isOwnAddress(meta.src)) {
      this.output.observed({ kind: 'master-rx-lower-priority', instance: name, from: meta.src.text, priority, ownPriority: router.effectivePriority });
    }
    this.dispatch(name, { type: 'advert', advert: accepted.advert, src: meta.src }, now);
  }

  /** Delivers one event to an instance (through its sync group) and carries out the consequences. */
  dispatch(name: string, event: RouterEvent, now: number): void {
    const member = this.members.get(name);
    if (!member) return;
    const group = this.groups.length === 0 ? undefined : this.groups.find((g) => g.has(member.router));
    if (!group) {
      this.dispatchAlone(member, event, now);
      return;
    }
    const groupBefore = group ? groupStateOf(group) : undefined;
    const before = new Map<Member, Priority>();
    const all = group ? group.members.map((r) => this.byRouter.get(r)).filter((m): m is Member => m !== undefined) : [member];
    for (const m of all) before.set(m, m.router.effectivePriority);
    const results = group ? group.handle(member.router, event, now) : [{ router: member.router, actions: member.router.handle(event, now) }];
    for (const { router, actions } of results) {
      const owner = this.byRouter.get(router);
      if (!owner || actions.length === 0) continue;
      // RFC 5798 §6.4.2 (375): on becoming master, send an ADVERTISEMENT before anything else.
      for (const a of actions) if (a.type === 'send-advert') this.sendAdvert(owner, a.priority, a.to);
      this.output.perform(owner.config.name, actions, now);
    }
    for (const m of all) {
      const from = before.get(m);
      if (from !== undefined && from !== m.router.effectivePriority) {
        this.output.observed({ kind: 'priority-changed', instance: m.config.name, from, to: m.router.effectivePriority, basePriority: m.config.router.priority });
      }
    }
    if (group && groupBefore !== undefined) {
      const after = groupStateOf(group);
      if (after !== groupBefore) {
        this.output.observed({ kind: 'group-state', group: group.name, from: groupBefore, to: after, instances: all.map((m) => m.config.name) });
      }
    }
    for (const m of all) this.output.deadline(m.config.name, m.router.nextDeadline(), m.router.tickFrom());
  }

  /**
   * dispatch() for an instance in no sync group, the steady-state advert path: the same
   * steps in the same order, without the group's bookkeeping (no map, no arrays beyond the
   * router's actions).
   */
  private dispatchAlone(member: Member, event: RouterEvent, now: number): void {
    const router = member.router;
    const name = member.config.name;
    const from = router.effectivePriority;
    const actions = router.handle(event, now);
    if (actions.length > 0) {
      // A tick whose one action is the advert: the Adver_Timer alone fired (sent with the others due in this wake-up).
      const soon = event.type === 'tick' && actions.length === 1;
      // RFC 5798 §6.4.2 (375): on becoming master, send an ADVERTISEMENT before anything else.
      for (let i = 0; i < actions.length; i++) {
        const a = actions[i] as RouterAction;
        if (a.type === 'send-advert') this.sendAdvert(member, a.priority, a.to, soon);
      }
      this.output.perform(name, actions, now);
    }
    if (from !== router.effectivePriority) {
      this.output.observed({ kind: 'priority-changed', instance: name, from, to: router.effectivePriority, basePriority: member.config.router.priority });
    }
    this.output.deadline(name, router.nextDeadline(), router.tickFrom());
  }

  private sendAdvert(member: Member, priority: Priority, to: IpAddress | undefined, soon = false): void {
    if (to !== undefined) {
      // To one router (a step-down repeat: rare, so encoded on the spot). The checksum's
      // pseudo-header names that destination (RFC 5798 §5.2.8).
      const advert: Advert = { ...member.template, priority };
      const length = encodeAdvertInto(this.sendBuffer, advert, { src: member.config.router.primaryAddress, dst: to }, { v3Ipv4Checksum: member.config.checksum });
      this.output.send(member.config.name, this.sendBuffer.subarray(0, length), to);
      return;
    }
    const adverts = this.advertsOf(member, priority);
    const destinations = member.config.destinations;
    // The prebuilt adverts stay as they are (a priority change builds new buffers): they may be sent `soon`.
    for (let i = 0; i < destinations.length; i++) this.output.send(member.config.name, adverts[i] as Uint8Array, destinations[i] as IpAddress, soon);
  }

  private decodeOptionsOf(config: NodeInstanceConfig): DecodeOptions {
    return { v3Ipv4Checksum: config.checksum, addresses: this.addressCache };
  }

  /** The member's encoded adverts at `priority`, one per destination: built once per priority (and config). */
  private advertsOf(member: Member, priority: Priority): readonly Uint8Array[] {
    if (member.builtPriority === priority) return member.built;
    const advert: Advert = { ...member.template, priority };
    const pseudoSrc = member.config.router.primaryAddress;
    member.built = member.config.destinations.map((dst) => {
      const length = encodeAdvertInto(this.sendBuffer, advert, { src: pseudoSrc, dst }, { v3Ipv4Checksum: member.config.checksum });
      return this.sendBuffer.slice(0, length);
    });
    member.builtPriority = priority;
    return member.built;
  }
}

function policyOf(c: NodeInstanceConfig): AcceptancePolicy {
  return {
    version: c.router.version,
    family: c.router.family,
    vrid: c.router.vrid,
    isAddressOwner: c.router.priority === PRIORITY_OWNER,
    advertInterval: c.router.advertInterval,
    authentication: c.authentication,
    virtualAddresses: c.virtualAddresses,
    addressListCheck: c.addressListCheck,
  };
}

function templateOf(c: NodeInstanceConfig): Advert {
  const r = c.router;
  return r.version === 3
    ? { version: 3, family: r.family, vrid: r.vrid, priority: r.priority, maxAdverInt: r.advertInterval, reserved: 0, addresses: c.virtualAddresses }
    : {
        version: 2,
        family: 'ipv4',
        vrid: r.vrid,
        priority: r.priority,
        adverIntSeconds: r.advertInterval / 100,
        authType: c.authentication.type === 'pass' ? AUTH_SIMPLE_TEXT : AUTH_NONE,
        authData: c.authentication.type === 'pass' ? c.authentication.password : new Uint8Array(AUTH_DATA_LENGTH),
        addresses: c.virtualAddresses,
      };
}
