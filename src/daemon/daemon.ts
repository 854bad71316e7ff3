/**
 * The running daemon: instances from the config, their sockets, VIPs, VMACs, link
 * tracking, the control socket, reload and shutdown.
 */
import { ip, sameAddress, type IpAddress } from '../net/address.js';
import { vrrpVirtualMac } from '../net/mac.js';
import { gratuitousArpFrame, unsolicitedNeighborAdvertFrame } from '../vrrp/announce-frames.js';
import { instanceToRouterConfig, interfaceTrackerName } from '../config/router-config.js';
import type { InstanceConfig, VigilConfig, VirtualIp } from '../config/types.js';
import { emptyRejectCounts, type RejectCounts, type RejectReason } from '../vrrp/rejection.js';
import { PRIORITY_OWNER } from '../vrrp/types.js';
import { decodeAdvert, type PacketMeta } from '../vrrp/codec.js';
import { monotonicMs } from './clock.js';
import { Engine } from './engine.js';
import { VrrpInstance, type InstanceStatus } from './instance.js';
import type { Logger } from './logger.js';
import type { FrameSender, LinkState, NetworkPorts, SocketPorts, VrrpChannel } from './ports.js';
import { AcceptFilter, AcceptFilterError, type AcceptFilterStatus, type NftPort } from './accept-filter.js';
import type { Scheduler } from './scheduler.js';
import { instanceChange, type InstanceChange } from './reload.js';
import type { QuorumServiceStatus, QuorumVerdict } from './quorum-service.js';
import { PROMOTION_TRACKER, type PromotionControl } from './promotion.js';
import { ResourceService, checkTrackerName, type ResourceServiceStatus, type VrrpView } from './resource-service.js';
import type { MasterGate } from '../vrrp/router.js';
import type { RouterConfig } from '../vrrp/router.js';
import { EventStream } from '../events/stream.js';

/**
 * The tracker through which quorum reaches every instance: weight 0, so an instance is in
 * FAULT while the node may not hold resources (no_quorum_policy stop); entering FAULT
 * from master sends priority 0 and removes the VIPs (RFC 5798 §6.4.3 shutdown behaviour).
 */
export const QUORUM_TRACKER = 'quorum';

/** Node standby (`vigil node standby`): every instance in FAULT, so the VIPs move off with the resources. */
export const STANDBY_TRACKER = 'standby';

/** What the daemon needs of the quorum service. */
export interface QuorumProvider {
  readonly verdict: QuorumVerdict;
  status(): QuorumServiceStatus;
}

/** How often a backup held back by quorum looks again (the gate has no wake-up of its own). */
const QUORUM_GATE_RECHECK_MS = 20;

interface ChannelEntry {
  readonly key: string;
  readonly channel: VrrpChannel;
  readonly byVrid: Map<number, VrrpInstance>;
  readonly rejects: RejectCounts;
}

interface Runtime {
  instance: VrrpInstance;
  readonly ifindex: number;
  /** Where the VIPs go: the VMAC interface, or the instance's interface. */
  readonly vipIfindex: number;
  readonly vipIfname: string;
  readonly channelKey: string;
  readonly frames: FrameSender;
  readonly vmacIndex: number | undefined;
}

export interface DaemonStatus {
  readonly pid: number;
  readonly configPath: string;
  readonly startedAt: string;
  readonly uptimeMs: number;
  readonly reloads: number;
  readonly instances: readonly InstanceStatus[];
  /** Absent when the config has no quorum section. */
  readonly quorum?: QuorumServiceStatus;
  /** Absent when the config has no resources or health checks. */
  readonly resources?: ResourceServiceStatus;
  /** Adverts dropped before an instance was known (per socket): bad version, checksum, unknown VRID... */
  readonly socketRejects: Readonly<Record<string, Partial<Record<RejectReason, number>>>>;
  /**
   * Per socket, what the transport saw: packets passed on, adverts sent, packets it
   * dropped itself (malformed IP header, truncated, missing IPv6 metadata) and receive errors.
   */
  readonly sockets: Readonly<Record<string, { readonly received: number; readonly sent: number; readonly malformed: number; readonly receiveErrors: number }>>;
  /** The Accept_Mode false packet filter (accept-filter.ts), once it was used or failed. */
  readonly acceptFilter?: AcceptFilterStatus;
}

export class DaemonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DaemonError';
  }
}

export class Daemon {
  /** The daemon's one ordered event stream (src/events): the log, status and notifiers read it. */
  readonly events: EventStream;
  private config: VigilConfig;
  private readonly engine: Engine;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly links = new Map<number, LinkState>();
  private stopWatching: (() => void) | undefined;
  private readonly startedAt = new Date();
  private readonly startedMono = monotonicMs();
  private reloads = 0;
  private stopping = false;
  private quorum: QuorumProvider | undefined;
  private resources: ResourceService | undefined;
  private promotion: PromotionControl | undefined;
  /** Held back from becoming master unless quorum says 'hold' (no_quorum_policy freeze, a tie-breaker deciding). */
  private readonly quorumGate: MasterGate = {
    mayBecomeMaster: (router, now) => {
      if (this.quorum === undefined) return true;
      if (this.quorum.verdict !== 'hold') return now + QUORUM_GATE_RECHECK_MS;
      // Quorum came back with the peers: a backup held back meanwhile has not heard the
      // master for a while only because it was cut off too, so it listens for one whole
      // Master_Down_Interval before it may take over (else it would preempt a live master
      // on the heartbeat that arrives before the next advert).
      const listenUntil = this.quorumRegainedAt === undefined ? undefined : this.quorumRegainedAt + router.status(now).masterDownIntervalMs;
      return listenUntil !== undefined && now < listenUntil ? listenUntil : true;
    },
  };
  /** When the verdict last became 'hold' because the membership came back (not by a tie-breaker win). */
  private quorumRegainedAt: number | undefined;

  constructor(
    config: VigilConfig,
    private readonly net: NetworkPorts,
    private readonly sockets: SocketPorts,
    private readonly scheduler: Scheduler,
    private readonly log: Logger,
    nft?: NftPort,
    events: EventStream = new EventStream(),
  ) {
    this.events = events;
    this.config = config;
    this.engine = new Engine(scheduler, monotonicMs);
    this.acceptFilter = nft ? new AcceptFilter(nft, log) : undefined;
  }

  /** Drops packets to the VIPs of masters whose accept is false; absent without an nft port. */
  private readonly acceptFilter: AcceptFilter | undefined;

  /** The instances that need the Accept_Mode filter: accept false and not the address owner. */
  private static filtered(config: VigilConfig): string[] {
    return config.instances.filter((ic) => !ic.acceptMode && ic.priority !== PRIORITY_OWNER).map((ic) => ic.name);
  }

  get currentConfig(): VigilConfig {
    return this.config;
  }

  /** Puts the instances under quorum; call before start(). */
  attachQuorum(provider: QuorumProvider): void {
    this.quorum = provider;
  }

  /** The quorum service's verdict changed: every instance hears it through its quorum tracker. */
  onQuorumVerdict(verdict: QuorumVerdict, why: string = 'quorum'): void {
    this.quorumRegainedAt = verdict === 'hold' && why === 'quorum' ? monotonicMs() : undefined;
    for (const rt of this.runtimes.values()) this.engine.dispatch(rt.instance, { type: 'tracker', name: QUORUM_TRACKER, up: verdict !== 'release' });
    this.resources?.placementChanged();
  }

  /** Node standby went on or off: the instances follow (FAULT while in standby). */
  standbyChanged(on: boolean): void {
    for (const rt of this.runtimes.values()) this.engine.dispatch(rt.instance, { type: 'tracker', name: STANDBY_TRACKER, up: !on });
  }

  /** Lets Pacemaker's agent set each instance's role (src/daemon/promotion.ts); call before start(). */
  attachPromotion(promotion: PromotionControl): void {
    this.promotion = promotion;
  }

  /** Puts the resources under this daemon's VRRP mastership; call before start(). */
  attachResources(resources: ResourceService): void {
    this.resources = resources;
  }

  /** The VRRP side as the resource manager sees it. */
  readonly vrrpView: VrrpView = {
    isMaster: (instance) => this.runtimes.get(instance)?.instance.router.state === 'master',
    syncGroupMembers: (group) => this.config.syncGroups.find((g) => g.name === group)?.instances ?? [],
    setTracker: (instance, tracker, up) => {
      const rt = this.runtimes.get(instance);
      if (rt) this.engine.dispatch(rt.instance, { type: 'tracker', name: tracker, up });
    },
    mayRunResources: () => this.quorum === undefined || this.quorum.verdict !== 'release',
    standbyChanged: (on) => this.standbyChanged(on),
  };

  /** The router config of an instance, with the quorum tracker when quorum governs it. */
  private routerConfig(ic: InstanceConfig, primary: IpAddress): RouterConfig {
    const base = instanceToRouterConfig(ic, primary);
    const tracked = [
      ...base.tracked,
      ...(this.quorum ? [{ name: QUORUM_TRACKER, weight: 0 }] : []),
      ...(this.resources ? [{ name: STANDBY_TRACKER, weight: 0 }] : []),
      ...(this.promotion ? [{ name: PROMOTION_TRACKER, weight: 0 }] : []),
      ...ResourceService.trackersOf(this.config, ic.name),
    ];
    return { ...base, tracked };
  }

  async start(): Promise<void> {
    await this.applyGlobalSysctls(this.config);
    const needing = Daemon.filtered(this.config);
    if (!this.acceptFilter && needing.length > 0) throw new DaemonError(`instance ${needing.join(', ')}: accept: false needs nftables, which this daemon was started without`);
    try {
      await this.acceptFilter?.start(needing);
    } catch (e) {
      throw e instanceof AcceptFilterError ? new DaemonError(e.message) : e;
    }
    this.stopWatching = await this.net.watch(
      (link) => this.onLink(link),
      (event) => {
        if (event.type === 'removed') this.onAddressRemoved(event.ifindex, event.address);
      },
      (message) => this.log.log('warn', 'netlink-trouble', { detail: message }),
    );
    for (const ic of this.config.instances) await this.createInstance(ic);
    this.engine.setSyncGroups(this.config.syncGroups);
    for (const rt of this.runtimes.values()) this.startInstance(rt);
    this.events.emit({ kind: 'daemon-started', pid: process.pid, config: this.config.path, instances: this.config.instances.map((i) => i.name) });
  }

  private async applyGlobalSysctls(config: VigilConfig): Promise<void> {
    const { ipv4, ipv6 } = config.global.nonlocalBind;
    if (ipv4) await this.net.writeSysctl('net.ipv4.ip_nonlocal_bind', '1');
    if (ipv6) await this.net.writeSysctl('net.ipv6.ip_nonlocal_bind', '1');
  }

  private async requireLink(name: string, what: string): Promise<LinkState> {
    const link = await this.net.link(name);
    if (!link) throw new DaemonError(`${what}: interface ${name} does not exist`);
    this.links.set(link.index, link);
    return link;
  }

  private async primaryAddress(ic: InstanceConfig, link: LinkState): Promise<IpAddress> {
    if (ic.unicast?.source) return ic.unicast.source;
    const addresses = await this.net.addresses(link.index, ic.family);
    const vips = [...ic.virtualIps, ...ic.excludedIps].map((v) => v.address);
    const own = addresses.filter((a) => !vips.some((v) => sameAddress(v, a.address)));
    // RFC 5798 §5.1.2.1: IPv6 adverts are sent from the interface's link-local address.
    const pick =
      ic.family === 'ipv6'
        ? own.find((a) => a.address.bytes[0] === 0xfe && ((a.address.bytes[1] ?? 0) & 0xc0) === 0x80)
        : (own.find((a) => !a.secondary) ?? own[0]);
    if (!pick) {
      throw new DaemonError(
        `instance ${ic.name}: interface ${link.name} has no ${ic.family === 'ipv6' ? 'IPv6 link-local' : 'IPv4'} address to send adverts from`,
      );
    }
    return pick.address;
  }

  private async createInstance(ic: InstanceConfig): Promise<Runtime> {
    const where = `${ic.location.file}:${ic.location.line}:${ic.location.column}: instance ${ic.name}`;
    const link = await this.requireLink(ic.interface, where);
    const primary = await this.primaryAddress(ic, link);
    for (const t of ic.trackInterfaces) {
      const tracked = await this.net.link(t.name);
      if (tracked) this.links.set(tracked.index, tracked);
      else this.log.log('warn', 'tracked-interface-missing', { instance: ic.name, interface: t.name });
    }
    let vipIfindex = link.index;
    let vipIfname = link.name;
    let vmacIndex: number | undefined;
    if (ic.vmac) {
      const vmac = await this.net.ensureVmac(ic.vmac.name, link.index, vrrpVirtualMac(ic.family, ic.vrid), ic.family);
      this.links.set(vmac.index, vmac);
      vipIfindex = vmac.index;
      vipIfname = vmac.name;
      vmacIndex = vmac.index;
    }
    // A VMAC instance sends and receives its adverts on the VMAC (keepalived does the same
    // unless vmac_xmit_base): RFC 5798 §7.2 "The source MAC address of a VRRP advertisement
    // MUST be the virtual router MAC address", and the kernel hands a frame from that MAC to
    // the local macvlan of the same MAC, never to the parent. An IPv6 VMAC carries the
    // parent's link-local address, the adverts' source (ensureVmac).
    const advertIf = ic.vmac ? { name: vipIfname, index: vipIfindex } : { name: link.name, index: link.index };
    const channelKey = `${advertIf.name}/${ic.family}/${ic.unicast ? 'unicast' : 'multicast'}`;
    let entry = this.channels.get(channelKey);
    if (!entry) {
      const byVrid = new Map<number, VrrpInstance>();
      const rejects = emptyRejectCounts();
      const key = channelKey;
      const channel = this.sockets.openVrrp(
        { family: ic.family, ifname: advertIf.name, ifindex: advertIf.index, source: primary, multicast: !ic.unicast },
        (payload, meta) => this.onPacket(key, payload, meta),
        (message) => this.log.log('warn', 'socket-error', { socket: key, detail: message }),
      );
      entry = { key, channel, byVrid, rejects };
      this.channels.set(channelKey, entry);
    }
    const existing = entry.byVrid.get(ic.vrid);
    if (existing) throw new DaemonError(`${where}: VRID ${ic.vrid} is already used by instance ${existing.name} on ${channelKey}`);
    // With VMAC the announcements leave from the virtual MAC (keepalived does the same).
    const frames = this.sockets.openFrames(vipIfname);
    const sender = entry.channel;
    const instance = new VrrpInstance(ic, primary, this.routerConfig(ic, primary), {
      sender,
      vips: {
        add: (vips, accept) => this.track(this.filterVips(ic.name, vips, accept).then(() => this.addVips(ic.name, vipIfindex, vips))),
        remove: (vips) => this.track(this.removeVips(ic.name, vipIfindex, vips).then(() => this.acceptFilter?.unblock(ic.name))),
      },
      announcer: {
        announce: (vips, repeat, intervalMs) => this.announce(ic.name, frames, vipIfindex, ic, vips, repeat, intervalMs),
      },
      log: this.log,
      events: this.events,
      stateChanged: () => this.resources?.placementChanged(),
    }, ip(VrrpInstance.multicastGroupText(ic.family)));
    entry.byVrid.set(ic.vrid, instance);
    instance.warmUp();
    const rt: Runtime = { instance, ifindex: link.index, vipIfindex, vipIfname, channelKey, frames, vmacIndex };
    this.runtimes.set(ic.name, rt);
    this.engine.add(instance);
    await this.removeStaleVips(ic, vipIfindex);
    this.log.log('info', 'instance-created', {
      instance: ic.name,
      interface: ic.interface,
      vrid: ic.vrid,
      family: ic.family,
      version: ic.version,
      priority: ic.priority,
      source: primary.text,
      vmac: ic.vmac?.name,
    });
    return rt;
  }

  /**
   * Every instance starts as backup (or initialize), which must not hold the VIPs; a
   * previous run that died without cleaning up (kill -9, a crash, OOM) may have left them
   * on the interface, and a backup holding them answers ARP for them beside the master.
   * Remove them, as keepalived does at start. An address owner (priority 255) is left
   * alone: the addresses are its own and it becomes master at once.
   */
  private async removeStaleVips(ic: InstanceConfig, vipIfindex: number): Promise<void> {
    if (ic.priority === PRIORITY_OWNER) return;
    for (const vip of [...ic.virtualIps, ...ic.excludedIps]) {
      try {
        const ifindex = vip.dev ? ((await this.net.link(vip.dev))?.index ?? vipIfindex) : vipIfindex;
        const present = await this.net.addresses(ifindex, vip.address.family);
        if (!present.some((a) => sameAddress(a.address, vip.address))) continue;
        this.log.log('warn', 'stale-vip-removed', { instance: ic.name, address: `${vip.address.text}/${vip.prefixLength}`, detail: 'left over from an earlier run' });
        await this.net.removeAddress(ifindex, vip);
      } catch (e) {
        this.log.log('error', 'vip-remove-failed', { instance: ic.name, address: `${vip.address.text}/${vip.prefixLength}`, detail: errorText(e) });
      }
    }
  }

  private startInstance(rt: Runtime): void {
    const { instance } = rt;
    const link = this.links.get(rt.ifindex);
    if (link && !(link.up && link.carrier)) this.engine.dispatch(instance, { type: 'interface', up: false });
    for (const t of instance.config.trackInterfaces) {
      const tracked = [...this.links.values()].find((l) => l.name === t.name);
      // A tracked interface that does not exist counts as down.
      this.engine.dispatch(instance, { type: 'tracker', name: interfaceTrackerName(t.name), up: tracked !== undefined && tracked.up && tracked.carrier });
    }
    if (this.resources?.standby) this.engine.dispatch(instance, { type: 'tracker', name: STANDBY_TRACKER, up: false });
    // A health check counts as unhealthy until its first `rise` successes (keepalived's init_fail).
    for (const c of this.config.resources.healthChecks) {
      if (c.instances.includes(instance.name)) this.engine.dispatch(instance, { type: 'tracker', name: checkTrackerName(c.name), up: false });
    }
    if (this.promotion) {
      instance.router.addGate(this.promotion.gate);
      if (this.promotion.role(instance.name) === 'stopped') this.engine.dispatch(instance, { type: 'tracker', name: PROMOTION_TRACKER, up: false });
    }
    if (this.quorum) {
      instance.router.addGate(this.quorumGate);
      this.engine.dispatch(instance, { type: 'tracker', name: QUORUM_TRACKER, up: this.quorum.verdict !== 'release' });
    }
    this.engine.dispatch(instance, { type: 'startup' });
  }

  private onPacket(key: string, payload: Uint8Array, meta: PacketMeta & { readonly ifindex: number }): void {
    const entry = this.channels.get(key);
    if (!entry) return;
    const vrid = payload.length >= 2 ? (payload[1] as number) : 0;
    const instance = entry.byVrid.get(vrid);
    if (!instance) {
      // RFC 5798 §7.1 checks the packet itself (TTL, version, length, checksum) before the
      // VRID: a packet too short to carry a VRID, or damaged, is counted as what it is.
      const decoded = decodeAdvert(payload, meta, { v3Ipv4Checksum: 'either' });
      entry.rejects[decoded.ok ? 'unknown-vrid' : decoded.reason]++;
      return;
    }
    this.engine.deliver(instance, payload, meta);
  }

  private onLink(link: LinkState): void {
    const before = this.links.get(link.index);
    this.links.set(link.index, link);
    const operational = link.up && link.carrier;
    const was = before ? before.up && before.carrier : undefined;
    if (was === operational) return;
    this.log.log(operational ? 'info' : 'warn', 'link-change', { interface: link.name, ifindex: link.index, up: link.up, carrier: link.carrier });
    for (const rt of this.runtimes.values()) {
      const inst = rt.instance;
      if (rt.ifindex === link.index) this.engine.dispatch(inst, { type: 'interface', up: operational });
      if (inst.config.trackInterfaces.some((t) => t.name === link.name)) {
        this.engine.dispatch(inst, { type: 'tracker', name: interfaceTrackerName(link.name), up: operational });
      }
    }
  }

  /** An address was removed: if it is a VIP of a master, put it back (and say so). */
  private onAddressRemoved(ifindex: number, address: IpAddress): void {
    if (this.stopping) return;
    for (const rt of this.runtimes.values()) {
      if (rt.vipIfindex !== ifindex || rt.instance.router.state !== 'master' || !rt.instance.vipsInstalled) continue;
      const vip = rt.instance.allVips().find((v) => sameAddress(v.address, address));
      if (!vip) continue;
      this.log.log('warn', 'vip-removed-externally', { instance: rt.instance.name, address: address.text, interface: rt.vipIfname, action: 'restoring' });
      void this.addVips(rt.instance.name, ifindex, [vip]);
    }
  }

  private addVips(instance: string, ifindex: number, vips: readonly VirtualIp[]): Promise<void> {
    return this.changeVips('add', instance, ifindex, vips);
  }

  private removeVips(instance: string, ifindex: number, vips: readonly VirtualIp[]): Promise<void> {
    return this.changeVips('remove', instance, ifindex, vips);
  }

  /** Adds or removes each VIP on its `dev` (or the instance's VIP interface); a failure is logged and the rest go on. */
  private async changeVips(op: 'add' | 'remove', instance: string, ifindex: number, vips: readonly VirtualIp[]): Promise<void> {
    for (const vip of vips) {
      try {
        const on = vip.dev ? ((await this.net.link(vip.dev))?.index ?? ifindex) : ifindex;
        await (op === 'add' ? this.net.addAddress(on, vip) : this.net.removeAddress(on, vip));
      } catch (e) {
        this.log.log('error', `vip-${op}-failed`, { instance, address: `${vip.address.text}/${vip.prefixLength}`, detail: errorText(e) });
      }
    }
  }

  /**
   * RFC 5798 §6.4.3 (650): before a master that is neither the owner nor in Accept_Mode
   * installs its VIPs, packets addressed to them are dropped (accept-filter.ts); with
   * accept, whatever it blocked before is let through again. Never throws.
   */
  private async filterVips(instance: string, vips: readonly VirtualIp[], accept: boolean): Promise<void> {
    if (accept) {
      await this.acceptFilter?.unblock(instance);
      return;
    }
    if (!this.acceptFilter) {
      this.log.log('error', 'accept-filter-failed', { instance, detail: 'accept: false needs nftables; packets to the VIPs are accepted' });
      return;
    }
    await this.acceptFilter.block(instance, vips.map((v) => v.address));
  }

  private announce(
    instance: string,
    frames: FrameSender,
    ifindex: number,
    ic: InstanceConfig,
    vips: readonly VirtualIp[],
    repeat: number,
    intervalMs: number,
  ): void {
    const link = this.links.get(ifindex);
    const mac = ic.vmac ? vrrpVirtualMac(ic.family, ic.vrid) : link?.mac;
    if (!mac) {
      this.log.log('warn', 'announce-skipped', { instance, detail: `no MAC address known for ifindex ${ifindex}` });
      return;
    }
    const packets: Uint8Array[] = [];
    for (const vip of vips) {
      if (vip.address.family === 'ipv4') packets.push(gratuitousArpFrame(vip.address, mac));
      else packets.push(unsolicitedNeighborAdvertFrame(vip.address, mac, { router: false }));
    }
    const sendBurst = (): void => {
      for (const p of packets) {
        try {
          frames.send(p);
        } catch (e) {
          this.log.log('warn', 'announce-failed', { instance, detail: errorText(e) });
          return;
        }
      }
    };
    if (intervalMs <= 0) {
      for (let i = 0; i < repeat; i++) sendBurst();
      return;
    }
    sendBurst();
    let sent = 1;
    const timer = setInterval(() => {
      if (sent >= repeat || this.stopping) {
        clearInterval(timer);
        return;
      }
      sendBurst();
      sent++;
    }, intervalMs);
    timer.unref();
  }

  status(): DaemonStatus {
    const now = monotonicMs();
    const socketRejects: Record<string, Partial<Record<RejectReason, number>>> = {};
    for (const entry of this.channels.values()) {
      const counts: Partial<Record<RejectReason, number>> = {};
      for (const [reason, n] of Object.entries(entry.rejects) as [RejectReason, number][]) if (n > 0) counts[reason] = n;
      socketRejects[entry.key] = counts;
    }
    const sockets: Record<string, DaemonStatus['sockets'][string]> = {};
    for (const entry of this.channels.values()) {
      const c = entry.channel.counters();
      sockets[entry.key] = { received: c.received, sent: c.sent, malformed: c.malformed, receiveErrors: c.receiveErrors };
    }
    return {
      pid: process.pid,
      configPath: this.config.path,
      startedAt: this.startedAt.toISOString(),
      uptimeMs: Math.round(now - this.startedMono),
      reloads: this.reloads,
      instances: this.engine.all().map((i) => i.status(now)),
      ...(this.quorum ? { quorum: this.quorum.status() } : {}),
      ...(this.resources && !this.resources.empty ? { resources: this.resources.status() } : {}),
      socketRejects,
      sockets,
      ...(this.acceptFilter && (this.acceptFilter.status().active || this.acceptFilter.status().errors > 0) ? { acceptFilter: this.acceptFilter.status() } : {}),
    };
  }

  /**
   * SIGHUP: instances that did not change keep their state and their VIPs without a single
   * address removal; changed ones change minimally; removed ones stop; new ones start.
   */
  async reload(next: VigilConfig): Promise<{ readonly changes: readonly { instance: string; change: InstanceChange }[] }> {
    const changes: { instance: string; change: InstanceChange }[] = [];
    const oldByName = new Map(this.config.instances.map((i) => [i.name, i]));
    const newByName = new Map(next.instances.map((i) => [i.name, i]));
    await this.applyGlobalSysctls(next);
    for (const [name, old] of oldByName) {
      if (!newByName.has(name)) {
        changes.push({ instance: name, change: 'removed' });
        await this.destroyInstance(name, old);
      }
    }
    for (const [name, ic] of newByName) {
      const old = oldByName.get(name);
      if (!old) {
        changes.push({ instance: name, change: 'added' });
        continue;
      }
      const change = instanceChange(old, ic);
      changes.push({ instance: name, change });
      const rt = this.runtimes.get(name);
      if (!rt || change === 'unchanged') continue;
      if (change === 'recreate') {
        await this.destroyInstance(name, old);
        continue;
      }
      // In place: the state machine keeps its state; the instance diffs its VIPs.
      const before = rt.instance.allVips();
      const actions = rt.instance.reconfigure(ic, this.routerConfig(ic, rt.instance.primaryAddress), monotonicMs());
      // Accept_Mode or the VIPs changed while master: the filter follows (old and new VIPs
      // blocked while they change, then the new ones only).
      const accept = ic.acceptMode || ic.priority === PRIORITY_OWNER;
      if (rt.instance.vipsInstalled) await this.filterVips(name, [...before, ...rt.instance.allVips()], accept);
      if (actions.added.length > 0) await this.addVips(name, rt.vipIfindex, actions.added);
      if (actions.removed.length > 0) await this.removeVips(name, rt.vipIfindex, actions.removed);
      if (rt.instance.vipsInstalled && !accept) await this.filterVips(name, rt.instance.allVips(), accept);
      this.engine.dispatch(rt.instance, { type: 'set-priority', priority: ic.priority });
    }
    this.config = next;
    const created: Runtime[] = [];
    for (const { instance, change } of changes) {
      if (change !== 'added' && change !== 'recreate') continue;
      const ic = newByName.get(instance);
      if (ic) created.push(await this.createInstance(ic));
    }
    this.engine.setSyncGroups(next.syncGroups);
    for (const rt of created) this.startInstance(rt);
    this.reloads++;
    for (const c of changes) if (c.change !== 'unchanged') this.log.log('info', 'reload-instance', { instance: c.instance, change: c.change });
    this.log.log('info', 'reloaded', { config: next.path, instances: next.instances.length });
    this.events.emit({ kind: 'reloaded', config: next.path, changes: changes.map((c) => ({ instance: c.instance, change: c.change })) });
    return { changes };
  }

  private async destroyInstance(name: string, ic: InstanceConfig): Promise<void> {
    const rt = this.runtimes.get(name);
    if (!rt) return;
    this.engine.dispatch(rt.instance, { type: 'shutdown' });
    // Let the remove-vips of a master finish before the interface may go away.
    await this.settle();
    await this.acceptFilter?.unblock(name);
    this.engine.remove(rt.instance);
    this.runtimes.delete(name);
    const entry = this.channels.get(rt.channelKey);
    if (entry) {
      entry.byVrid.delete(ic.vrid);
      if (entry.byVrid.size === 0) {
        entry.channel.close();
        this.channels.delete(rt.channelKey);
      }
    }
    rt.frames.close();
    if (rt.vmacIndex !== undefined) {
      try {
        await this.net.deleteLink(rt.vmacIndex);
      } catch (e) {
        this.log.log('warn', 'vmac-delete-failed', { instance: name, detail: errorText(e) });
      }
    }
  }

  /** SIGTERM: masters send priority 0 and remove their VIPs; then everything closes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.events.emit({ kind: 'daemon-stopping', reason: 'stop' });
    for (const rt of this.runtimes.values()) this.engine.dispatch(rt.instance, { type: 'shutdown' });
    // The VIP removals the shutdown actions started are in flight: wait for them.
    await this.settle();
    // No VIP is held any more: vigil's nftables table goes.
    await this.acceptFilter?.stop();
    this.stopWatching?.();
    for (const [name, rt] of this.runtimes) {
      rt.frames.close();
      if (rt.vmacIndex !== undefined) {
        try {
          await this.net.deleteLink(rt.vmacIndex);
        } catch (e) {
          this.log.log('warn', 'vmac-delete-failed', { instance: name, detail: errorText(e) });
        }
      }
    }
    for (const entry of this.channels.values()) entry.channel.close();
    this.channels.clear();
    this.scheduler.close();
    this.net.close();
    this.events.emit({ kind: 'daemon-stopped' });
  }

  private readonly inFlight = new Set<Promise<void>>();

  /** Remembers an address change in flight, so that stop() can wait for it. */
  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

