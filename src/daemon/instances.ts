/**
 * The lifecycle of the daemon's VRRP instances: created from the config (interface,
 * primary address, VMAC, socket, pipeline, router in the VRRP node), started, reloaded in
 * place or recreated, destroyed. Packets, link changes and timers reach the routers
 * through the node (src/vrrp/node.ts); the node's actions come back here and go to each
 * instance's effect pipeline.
 */
import { sameAddress, type IpAddress } from '../net/address.js';
import { vrrpGroup } from '../vrrp/multicast.js';
import { vrrpVirtualMac } from '../net/mac.js';
import { interfaceTrackerName } from '../config/router-config.js';
import type { InstanceConfig, VigilConfig } from '../config/types.js';
import type { RouterConfig, RouterEvent } from '../vrrp/router.js';
import { NodeError, VrrpNode } from '../vrrp/node.js';
import { PRIORITY_OWNER } from '../vrrp/types.js';
import type { EventStream } from '../events/stream.js';
import type { AcceptFilter } from './accept-filter.js';
import { EffectPipeline } from './effect-pipeline.js';
import { errorText } from '../base/error-text.js';
import { DaemonError } from './errors.js';
import { nodeInstanceConfig, VrrpInstance } from './instance.js';
import { LinkTable } from './links.js';
import type { Logger } from './logger.js';
import type { ChannelPacketMeta, FrameSender, LinkState, NetworkPorts, SocketPorts, VrrpChannel } from './ports.js';
import { instanceChange, type InstanceChange } from './reload.js';
import type { Scheduler } from './scheduler.js';
import { SocketPool } from './socket-pool.js';

/** The tick every due timer delivers (one object, not one per advert). */
const TICK: RouterEvent = { type: 'tick' };

/**
 * At most this long before it is handled may a packet's kernel receive time stand as the
 * time it was received (advertReceiveTime). Well under the shortest Master_Down_Interval
 * (3 × 10 ms + Skew_Time, RFC 5798 §6.1): an advert taken in after a stall still leaves
 * its Master_Down_Timer running.
 */
export const MAX_RECEIVE_LAG_MS = 5;

/**
 * The time an advert counts as received, given to the router with it. RFC 5798 §6.4.2
 * (485)-(505): "If an ADVERTISEMENT is received, then: ... Reset the Master_Down_Timer to
 * Master_Down_Interval" — received by this host, which is when the kernel took it off the
 * wire (SO_TIMESTAMPNS, `receivedAt`), not when the event loop got to it: the loop's
 * wake-up and the work before it would otherwise push every takeover later by as much.
 * Never later than `handledAt` (a realtime step backwards between the receive and the
 * read), and never more than MAX_RECEIVE_LAG_MS earlier: a backup stopped for a while
 * (SIGSTOP, a long GC pause, a starved CPU) finds its master's adverts queued, possibly
 * old ones only (the buffer filled and the newest were dropped); those show the master is
 * alive (issue 10 §1), so they must reset the timer to a deadline still ahead, as when
 * they are handled. The anchor is never before the advert's arrival, so the timer never
 * fires before Master_Down_Interval after it (no early takeover; only a forward step of
 * the realtime clock in the microseconds between the kernel's stamp and the read could
 * move it earlier, by that step and at most MAX_RECEIVE_LAG_MS); without a timestamp
 * (the simulator, a kernel without one) the advert counts from `handledAt`.
 */
export function advertReceiveTime(receivedAt: number | undefined, handledAt: number): number {
  if (receivedAt === undefined || !(receivedAt <= handledAt)) return handledAt;
  return receivedAt > handledAt - MAX_RECEIVE_LAG_MS ? receivedAt : handledAt - MAX_RECEIVE_LAG_MS;
}

export interface Runtime {
  readonly instance: VrrpInstance;
  readonly ifindex: number;
  /** Where the VIPs go: the VMAC interface, or the instance's interface. */
  readonly vipIfindex: number;
  readonly vipIfname: string;
  readonly channelKey: string;
  readonly channel: VrrpChannel;
  readonly frames: FrameSender;
  readonly vmacIndex: number | undefined;
  /** The one owner of this instance's VIPs, Accept_Mode filter and announcements. */
  readonly pipeline: EffectPipeline;
}

export interface InstancesDeps {
  readonly net: NetworkPorts;
  readonly sockets: SocketPorts;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  readonly events: EventStream;
  readonly clock: () => number;
  readonly acceptFilter: AcceptFilter | undefined;
  /** The router config of an instance, with the daemon's trackers (quorum, standby, checks). */
  readonly routerConfig: (ic: InstanceConfig, primary: IpAddress) => RouterConfig;
  /** The events an instance hears before its startup (trackers of the services around it). */
  readonly beforeStartup: (instance: VrrpInstance, dispatch: (event: RouterEvent) => void) => void;
  /** Told after every state change (the resource manager follows mastership). */
  readonly stateChanged: () => void;
}

export class Instances {
  readonly node: VrrpNode;
  readonly links = new LinkTable();
  private readonly runtimes = new Map<string, Runtime>();
  private readonly pool: SocketPool;
  private readonly timers = new Map<string, { readonly fire: (now: number) => void }>();

  constructor(private readonly deps: InstancesDeps) {
    this.pool = new SocketPool(deps.sockets, deps.log, (key, payload, meta) => this.onPacket(key, payload, meta));
    this.node = new VrrpNode({
      send: (name, payload, dst, soon) => {
        const rt = this.runtimes.get(name);
        if (!rt) return;
        rt.pipeline.beforeAdvert();
        if (soon === true && rt.channel.sendSoon) rt.channel.sendSoon(payload, dst);
        else rt.channel.send(payload, dst);
      },
      perform: (name, actions, now) => this.runtimes.get(name)?.instance.perform(actions, now),
      rejected: (name, _channel, reason, detail, src) => {
        // Packets no instance claims are only counted (per socket): a busy segment carries other VRIDs.
        if (name !== undefined) this.runtimes.get(name)?.instance.logRejection(reason, detail, src);
      },
      warned: (name, _reason, detail, src) => deps.log.log('warn', 'advert-address-list', { instance: name, src: src.text, detail }),
      deadline: (name, at, from) => {
        // One key and one callback per instance, made once: this runs after every advert.
        let timer = this.timers.get(name);
        if (!timer) this.timers.set(name, (timer = { fire: (now: number) => this.onDeadline(name, now) }));
        deps.scheduler.set(timer, at, timer.fire, from);
      },
      observed: (o) => deps.events.emit(o),
    });
  }

  get(name: string): Runtime | undefined {
    return this.runtimes.get(name);
  }

  all(): Runtime[] {
    return [...this.runtimes.values()];
  }

  dispatch(name: string, event: RouterEvent): void {
    this.node.dispatch(name, event, this.deps.clock());
  }

  dispatchAll(event: RouterEvent): void {
    for (const name of this.runtimes.keys()) this.dispatch(name, event);
  }

  /**
   * An instance's timer fell due. A backup's due timer is the Master_Down_Timer. RFC 5798
   * §6.4.2 (445)-(505): "If an ADVERTISEMENT is received, then: ... Reset the
   * Master_Down_Timer"; only "If the Master_Down_Timer fires" (365) does it become master.
   * An advert that reached the socket before the deadline has been received: after a stall
   * of the process (SIGSTOP, a GC pause, a starved CPU) the loop runs expired timers before
   * it polls the sockets, so the queue is taken in first (the node dispatches each advert,
   * which resets the timer and re-arms it here), and the tick is delivered only if the
   * timer is still due. A queued advert that arrived after the deadline also counts: the
   * master is alive either way, and a takeover would only misdirect the clients (issue 10
   * §1). The router stays pure: the shell only decides the order, drain then tick.
   */
  private onDeadline(name: string, now: number): void {
    const rt = this.runtimes.get(name);
    if (rt && rt.instance.router.state === 'backup' && this.pool.drain(rt.channelKey) > 0) {
      const next = this.node.router(name)?.nextDeadline();
      if (next === undefined || next > now) return;
    }
    this.node.dispatch(name, TICK, now);
  }

  /** A packet from socket `key`, with the time it was received (advertReceiveTime) as the router's clock reading. */
  private onPacket(key: string, payload: Uint8Array, meta: ChannelPacketMeta): void {
    this.node.receive(key, payload, meta, advertReceiveTime(meta.receivedAt, this.deps.clock()));
  }

  private async requireLink(name: string, what: string): Promise<LinkState> {
    const link = await this.deps.net.link(name);
    if (!link) throw new DaemonError(`${what}: interface ${name} does not exist`);
    this.links.set(link);
    return link;
  }

  private async primaryAddress(ic: InstanceConfig, link: LinkState): Promise<IpAddress> {
    if (ic.unicast?.source) return ic.unicast.source;
    const addresses = await this.deps.net.addresses(link.index, ic.family);
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

  async create(ic: InstanceConfig): Promise<Runtime> {
    const { net, log } = this.deps;
    const where = `${ic.location.file}:${ic.location.line}:${ic.location.column}: instance ${ic.name}`;
    const link = await this.requireLink(ic.interface, where);
    const primary = await this.primaryAddress(ic, link);
    for (const t of ic.trackInterfaces) {
      const tracked = await net.link(t.name);
      if (tracked) this.links.set(tracked);
      else log.log('warn', 'tracked-interface-missing', { instance: ic.name, interface: t.name });
    }
    let vipIfindex = link.index;
    let vipIfname = link.name;
    let vmacIndex: number | undefined;
    if (ic.vmac) {
      const vmac = await net.ensureVmac(ic.vmac.name, link.index, vrrpVirtualMac(ic.family, ic.vrid), ic.family);
      this.links.set(vmac);
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
    const { key: channelKey, channel } = this.pool.acquire(ic.name, { family: ic.family, ifname: advertIf.name, ifindex: advertIf.index, source: primary, multicast: !ic.unicast });
    const routerConfig = this.deps.routerConfig(ic, primary);
    let router;
    try {
      router = this.node.add(nodeInstanceConfig(ic, channelKey, routerConfig, vrrpGroup(ic.family)));
    } catch (e) {
      this.pool.release(channelKey, ic.name);
      throw e instanceof NodeError ? new DaemonError(`${where}: ${e.message}`) : e;
    }
    // With VMAC the announcements leave from the virtual MAC (keepalived does the same).
    const frames = this.deps.sockets.openFrames(vipIfname);
    const vmacMac = ic.vmac ? vrrpVirtualMac(ic.family, ic.vrid) : undefined;
    const pipeline = new EffectPipeline(
      { instance: ic.name, ifindex: vipIfindex, ifname: vipIfname, ...(vmacIndex === undefined ? {} : { silentIndex: vmacIndex }) },
      {
        net,
        filter: this.deps.acceptFilter,
        frames,
        scheduler: this.deps.scheduler,
        clock: this.deps.clock,
        events: this.deps.events,
        log,
        mac: () => vmacMac ?? this.links.get(vipIfindex)?.mac,
      },
      [...ic.virtualIps, ...ic.excludedIps],
      ic.garpIntervalMs,
    );
    const rejects = this.node.rejectsOf(ic.name);
    if (!rejects) throw new DaemonError(`${where}: not in the VRRP node after adding it`);
    const instance = new VrrpInstance(ic, primary, router, rejects, {
      effects: pipeline,
      log,
      events: this.deps.events,
      stateChanged: this.deps.stateChanged,
    });
    const rt: Runtime = { instance, ifindex: link.index, vipIfindex, vipIfname, channelKey, channel, frames, vmacIndex, pipeline };
    this.runtimes.set(ic.name, rt);
    await pipeline.removeStale(ic.priority === PRIORITY_OWNER);
    log.log('info', 'instance-created', {
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

  start(rt: Runtime): void {
    const { instance } = rt;
    const dispatch = (event: RouterEvent): void => this.dispatch(instance.name, event);
    const link = this.links.get(rt.ifindex);
    if (link && !LinkTable.operational(link)) dispatch({ type: 'interface', up: false });
    for (const t of instance.config.trackInterfaces) {
      const tracked = this.links.byName(t.name);
      // A tracked interface that does not exist counts as down.
      dispatch({ type: 'tracker', name: interfaceTrackerName(t.name), up: tracked !== undefined && LinkTable.operational(tracked) });
    }
    this.deps.beforeStartup(instance, dispatch);
    dispatch({ type: 'startup' });
  }

  onLink(link: LinkState): void {
    const operational = this.links.update(link);
    if (operational === undefined) return;
    this.deps.log.log(operational ? 'info' : 'warn', 'link-change', { interface: link.name, ifindex: link.index, up: link.up, carrier: link.carrier });
    for (const rt of this.runtimes.values()) {
      const inst = rt.instance;
      if (rt.ifindex === link.index) this.dispatch(inst.name, { type: 'interface', up: operational });
      if (inst.config.trackInterfaces.some((t) => t.name === link.name)) {
        this.dispatch(inst.name, { type: 'tracker', name: interfaceTrackerName(link.name), up: operational });
      }
    }
  }

  /** An address was removed: if it is a VIP of a master, its pipeline puts it back (and says so). */
  onAddressRemoved(ifindex: number, address: IpAddress): void {
    for (const rt of this.runtimes.values()) rt.pipeline.addressRemoved(ifindex, address);
  }

  /**
   * SIGHUP: instances that did not change keep their state and their VIPs without a single
   * address removal; changed ones change minimally (their pipeline moves the VIPs);
   * removed ones stop; new ones start.
   */
  async reload(current: VigilConfig, next: VigilConfig): Promise<{ instance: string; change: InstanceChange }[]> {
    const changes: { instance: string; change: InstanceChange }[] = [];
    const oldByName = new Map(current.instances.map((i) => [i.name, i]));
    const newByName = new Map(next.instances.map((i) => [i.name, i]));
    for (const name of oldByName.keys()) {
      if (!newByName.has(name)) {
        changes.push({ instance: name, change: 'removed' });
        await this.destroy(name);
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
        await this.destroy(name);
        continue;
      }
      // In place: the state machine keeps its state; a master's pipeline moves its VIPs and
      // the Accept_Mode filter to the new config (old and new VIPs blocked while they change).
      rt.instance.reconfigure(ic);
      this.node.reconfigure(nodeInstanceConfig(ic, rt.channelKey, this.deps.routerConfig(ic, rt.instance.primaryAddress), vrrpGroup(ic.family)));
      rt.pipeline.reconfigure(rt.instance.allVips(), ic.acceptMode || ic.priority === PRIORITY_OWNER, ic.garpIntervalMs);
      await rt.pipeline.settled();
      this.dispatch(name, { type: 'set-priority', priority: ic.priority });
    }
    return changes;
  }

  /** The router config of an unchanged instance again (the daemon's trackers changed): same state, priority recomputed. */
  retrack(ic: InstanceConfig): void {
    const rt = this.runtimes.get(ic.name);
    if (!rt) return;
    this.node.reconfigure(nodeInstanceConfig(ic, rt.channelKey, this.deps.routerConfig(ic, rt.instance.primaryAddress), vrrpGroup(ic.family)));
    this.dispatch(ic.name, { type: 'set-priority', priority: ic.priority });
  }

  async destroy(name: string): Promise<void> {
    const rt = this.runtimes.get(name);
    if (!rt) return;
    this.dispatch(name, { type: 'shutdown' });
    // Let the remove-vips of a master finish before the interface may go away.
    await rt.pipeline.settled();
    rt.pipeline.close();
    await this.deps.acceptFilter?.unblock(name);
    this.node.remove(name);
    this.timers.delete(name);
    this.runtimes.delete(name);
    this.pool.release(rt.channelKey, name);
    rt.frames.close();
    await this.deleteVmac(rt);
  }

  /** SIGTERM: masters send priority 0 and their pipelines remove the VIPs; waits for that. */
  async shutdownAll(): Promise<void> {
    this.dispatchAll({ type: 'shutdown' });
    for (const rt of this.runtimes.values()) await rt.pipeline.settled();
    for (const rt of this.runtimes.values()) rt.pipeline.close();
  }

  /** After shutdownAll: frames, VMACs and sockets go. */
  async closeAll(): Promise<void> {
    for (const rt of this.runtimes.values()) {
      rt.frames.close();
      await this.deleteVmac(rt);
    }
    this.pool.closeAll();
  }

  private async deleteVmac(rt: Runtime): Promise<void> {
    if (rt.vmacIndex === undefined) return;
    try {
      await this.deps.net.deleteLink(rt.vmacIndex);
    } catch (e) {
      this.deps.log.log('warn', 'vmac-delete-failed', { instance: rt.instance.name, detail: errorText(e) });
    }
  }

  socketCounters(): ReturnType<SocketPool['counters']> {
    return this.pool.counters();
  }
}
