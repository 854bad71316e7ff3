/**
 * The running daemon: wires the instances (instances.ts: lifecycle and reload, with the
 * VRRP node, the socket pool, link tracking and one effect pipeline per instance) to the
 * quorum and resource services, the control socket's requests, reload and shutdown, and
 * reports status. Everything it does is told on its event stream (src/events), from
 * which the log lines of those events come (event-log.ts).
 */
import type { IpAddress } from '../net/address.js';
import { instanceToRouterConfig } from '../config/router-config.js';
import type { InstanceConfig, VigilConfig } from '../config/types.js';
import type { RejectReason } from '../vrrp/rejection.js';
import { PRIORITY_OWNER } from '../vrrp/types.js';
import type { MasterGate, RouterConfig } from '../vrrp/router.js';
import { monotonicMs } from './clock.js';
import type { InstanceLastChange, InstanceStatus } from './instance.js';
import type { Logger } from './logger.js';
import type { NetworkPorts, SocketPorts } from './ports.js';
import { AcceptFilter, AcceptFilterError, type AcceptFilterStatus, type NftPort } from './accept-filter.js';
import type { Scheduler } from './scheduler.js';
import { DaemonError } from './errors.js';
import { Instances } from './instances.js';
import { logEvents } from './event-log.js';
import { canonical, type InstanceChange } from './reload.js';
import type { QuorumServiceStatus, QuorumVerdict } from './quorum-service.js';
import { PROMOTION_TRACKER, type PromotionControl } from './promotion.js';
import { ResourceService, checkTrackerName, type ResourceServiceStatus, type VrrpView } from './resource-service.js';
import { EventStream } from '../events/stream.js';

export { DaemonError } from './errors.js';

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
  /** The sequence number of the last event on the daemon's stream (`vigil events` continues from here). */
  readonly lastEventSeq: number;
  /** The Accept_Mode false packet filter (accept-filter.ts), once it was used or failed. */
  readonly acceptFilter?: AcceptFilterStatus;
}

export class Daemon {
  /** The daemon's one ordered event stream (src/events): the log, status and notifiers read it. */
  readonly events: EventStream;
  private config: VigilConfig;
  private readonly instances: Instances;
  private readonly lastChange = new Map<string, InstanceLastChange>();
  private stopWatching: (() => void) | undefined;
  private readonly startedAt = new Date();
  private readonly startedMono: number;
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
    sockets: SocketPorts,
    private readonly scheduler: Scheduler,
    private readonly log: Logger,
    nft?: NftPort,
    events: EventStream = new EventStream(),
    /** The monotonic clock (ms) of the protocol timers; a test passes a virtual one. */
    private readonly clock: () => number = monotonicMs,
  ) {
    this.events = events;
    this.config = config;
    this.startedMono = clock();
    this.acceptFilter = nft ? new AcceptFilter(nft, log) : undefined;
    // The one log subscriber: the log lines of the events come from it (it stays for the
    // stream's life: the services around the daemon still emit while they stop).
    logEvents(events, log);
    // Status takes the last state change of each instance from the stream.
    events.subscribe((e) => {
      if (e.kind === 'instance-state') {
        this.lastChange.set(e.instance, { seq: e.seq, at: new Date(e.time).toISOString(), from: e.from, to: e.to, reason: e.reason, detail: e.detail });
      }
    });
    this.instances = new Instances({
      net,
      sockets,
      scheduler,
      log,
      events,
      clock,
      acceptFilter: this.acceptFilter,
      routerConfig: (ic, primary) => this.routerConfig(ic, primary),
      beforeStartup: (instance, dispatch) => {
        if (this.resources?.standby) dispatch({ type: 'tracker', name: STANDBY_TRACKER, up: false });
        // A health check counts as unhealthy until its first `rise` successes (keepalived's init_fail).
        for (const c of this.config.resources.healthChecks) {
          if (c.instances.includes(instance.name)) dispatch({ type: 'tracker', name: checkTrackerName(c.name), up: false });
        }
        if (this.promotion) {
          instance.router.addGate(this.promotion.gate);
          if (this.promotion.role(instance.name) === 'stopped') dispatch({ type: 'tracker', name: PROMOTION_TRACKER, up: false });
        }
        if (this.quorum) {
          instance.router.addGate(this.quorumGate);
          dispatch({ type: 'tracker', name: QUORUM_TRACKER, up: this.quorum.verdict !== 'release' });
        }
      },
      stateChanged: () => this.resources?.placementChanged(),
    });
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
    this.quorumRegainedAt = verdict === 'hold' && why === 'quorum' ? this.clock() : undefined;
    this.instances.dispatchAll({ type: 'tracker', name: QUORUM_TRACKER, up: verdict !== 'release' });
    this.resources?.placementChanged();
  }

  /** Node standby went on or off: the instances follow (FAULT while in standby). */
  standbyChanged(on: boolean): void {
    this.instances.dispatchAll({ type: 'tracker', name: STANDBY_TRACKER, up: !on });
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
    isMaster: (instance) => this.instances.get(instance)?.instance.router.state === 'master',
    syncGroupMembers: (group) => this.config.syncGroups.find((g) => g.name === group)?.instances ?? [],
    setTracker: (instance, tracker, up) => {
      this.instances.dispatch(instance, { type: 'tracker', name: tracker, up });
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
      (link) => this.instances.onLink(link),
      (event) => {
        if (event.type === 'removed' && !this.stopping) this.instances.onAddressRemoved(event.ifindex, event.address);
      },
      (message) => this.log.log('warn', 'netlink-trouble', { detail: message }),
    );
    for (const ic of this.config.instances) await this.instances.create(ic);
    this.instances.node.setSyncGroups(this.config.syncGroups);
    for (const rt of this.instances.all()) this.instances.start(rt);
    this.events.emit({ kind: 'daemon-started', pid: process.pid, config: this.config.path, instances: this.config.instances.map((i) => i.name) });
  }

  private async applyGlobalSysctls(config: VigilConfig): Promise<void> {
    const { ipv4, ipv6 } = config.global.nonlocalBind;
    if (ipv4) await this.net.writeSysctl('net.ipv4.ip_nonlocal_bind', '1');
    if (ipv6) await this.net.writeSysctl('net.ipv6.ip_nonlocal_bind', '1');
  }

  /**
   * Re-announces a master's VIPs (gratuitous ARP / unsolicited NA, `garp.master_repeat`
   * copies) through its pipeline; D-Bus SendGarp. Throws DaemonError for an unknown
   * instance or one that is not master (it holds no VIP to announce).
   */
  sendGarp(instanceName: string): void {
    const rt = this.instances.get(instanceName);
    if (!rt) throw new DaemonError(`sendGarp: no instance ${instanceName}`);
    const state = rt.instance.router.state;
    if (state !== 'master' || !rt.pipeline.announce(rt.instance.config.announce.masterRepeat, 'requested')) {
      throw new DaemonError(`sendGarp: instance ${instanceName} is ${state}, not master: it holds no virtual address to announce`);
    }
  }

  status(): DaemonStatus {
    const now = this.clock();
    const socketRejects: Record<string, Partial<Record<RejectReason, number>>> = {};
    for (const [key, rejects] of this.instances.node.channelRejectCounts()) {
      const counts: Partial<Record<RejectReason, number>> = {};
      for (const [reason, n] of Object.entries(rejects) as [RejectReason, number][]) if (n > 0) counts[reason] = n;
      socketRejects[key] = counts;
    }
    return {
      pid: process.pid,
      configPath: this.config.path,
      startedAt: this.startedAt.toISOString(),
      uptimeMs: Math.round(now - this.startedMono),
      reloads: this.reloads,
      instances: this.instances.all().map((rt) => {
        const last = this.lastChange.get(rt.instance.name);
        return { ...rt.instance.status(now), ...(last ? { lastChange: last } : {}) };
      }),
      lastEventSeq: this.events.lastSeq,
      ...(this.quorum ? { quorum: this.quorum.status() } : {}),
      ...(this.resources && !this.resources.empty ? { resources: this.resources.status() } : {}),
      socketRejects,
      sockets: this.instances.socketCounters(),
      ...(this.acceptFilter && (this.acceptFilter.status().active || this.acceptFilter.status().errors > 0) ? { acceptFilter: this.acceptFilter.status() } : {}),
    };
  }

  /**
   * SIGHUP: instances that did not change keep their state and their VIPs without a single
   * address removal; changed ones change minimally; removed ones stop; new ones start.
   */
  async reload(next: VigilConfig): Promise<{ readonly changes: readonly { instance: string; change: InstanceChange }[] }> {
    await this.applyGlobalSysctls(next);
    const current = this.config;
    // A health check new in this config adds nothing to a priority before it has risen
    // (weight > 0); weight 0 or < 0, it moves nothing before it has failed (its tracker
    // unset counts as up). Told before any router config carries its tracker.
    for (const c of next.resources.healthChecks) {
      if (c.weight <= 0 || current.resources.healthChecks.some((o) => o.name === c.name)) continue;
      for (const instance of c.instances) if (this.instances.get(instance)) this.instances.dispatch(instance, { type: 'tracker', name: checkTrackerName(c.name), up: false });
    }
    // The new config first: the router configs made from here on carry its trackers (the
    // groups placed on an instance, the health checks moving it).
    this.config = next;
    let changes;
    try {
      changes = await this.instances.reload(current, next);
    } catch (e) {
      this.config = current;
      throw e;
    }
    // An instance whose own config did not change may still gain or lose a tracker of the
    // resources section: its router config follows in place (no state change).
    for (const { instance, change } of changes) {
      if (change !== 'unchanged') continue;
      const ic = next.instances.find((i) => i.name === instance);
      if (ic && canonical(ResourceService.trackersOf(current, instance)) !== canonical(ResourceService.trackersOf(next, instance))) this.instances.retrack(ic);
    }
    const created = [];
    const newByName = new Map(next.instances.map((i) => [i.name, i]));
    for (const { instance, change } of changes) {
      if (change !== 'added' && change !== 'recreate') continue;
      const ic = newByName.get(instance);
      if (ic) created.push(await this.instances.create(ic));
    }
    this.instances.node.setSyncGroups(next.syncGroups);
    for (const rt of created) this.instances.start(rt);
    this.reloads++;
    this.events.emit({ kind: 'reloaded', config: next.path, changes: changes.map((c) => ({ instance: c.instance, change: c.change })), instances: next.instances.length });
    return { changes };
  }

  /** SIGTERM: masters send priority 0 and remove their VIPs; then everything closes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.events.emit({ kind: 'daemon-stopping', reason: 'stop' });
    // Masters send priority 0; the VIP removals the shutdown actions started are waited for.
    await this.instances.shutdownAll();
    // No VIP is held any more: vigil's nftables table goes.
    await this.acceptFilter?.stop();
    this.stopWatching?.();
    await this.instances.closeAll();
    this.scheduler.close();
    this.net.close();
    this.events.emit({ kind: 'daemon-stopped' });
  }
}
