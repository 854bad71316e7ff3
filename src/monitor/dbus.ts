/**
 * D-Bus (issue 11 §4): keepalived's service, so its clients work unchanged, plus vigil's
 * own interfaces with what keepalived lacks.
 *
 * keepalived-compatible (names and types from keepalived's introspection XML,
 * keepalived/dbus/org.keepalived.Vrrp1.Vrrp.xml_template and org.keepalived.Vrrp1.Instance.xml):
 * - bus name org.keepalived.Vrrp1 (configurable);
 * - /org/keepalived/Vrrp1/Vrrp, interface org.keepalived.Vrrp1.Vrrp: methods PrintData,
 *   PrintStats, PrintStatsClear, ReloadConfig; signals VrrpStarted, VrrpReloaded, VrrpStopped;
 * - /org/keepalived/Vrrp1/Instance/IFNAME/VRID/IPv4|IPv6, interface
 *   org.keepalived.Vrrp1.Instance: read-only properties Name `(s)` and State `(us)`,
 *   method SendGarp, signal VrrpStatusChange(u).
 *
 * vigil's own (org.vigil.Instance1 on each instance object, org.vigil.Daemon1 on the Vrrp
 * object): priorities, the master's address, the last transition and its reason, quorum
 * and resources, each change announced by org.freedesktop.DBus.Properties.PropertiesChanged.
 *
 * Who may do what is the bus's business: packaging/dbus/org.keepalived.Vrrp1.conf lets root
 * own the name and call methods, everyone else only introspect and read properties.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import dbus from 'dbus-next';
import type { DbusNotifierConfig } from '../config/notifier-types.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import type { InstanceStatus } from '../daemon/instance.js';
import type { Logger } from '../daemon/logger.js';
import type { StampedEvent } from '../events/types.js';
import { dbusState, instanceObjectPath, type ExternalState, type MonitorCounters, type MonitorHost } from './common.js';
import { errorText } from '../base/error-text.js';

export const VRRP_PATH = '/org/keepalived/Vrrp1/Vrrp';
export const VRRP_INTERFACE = 'org.keepalived.Vrrp1.Vrrp';
export const INSTANCE_INTERFACE = 'org.keepalived.Vrrp1.Instance';
export const VIGIL_INSTANCE_INTERFACE = 'org.vigil.Instance1';
export const VIGIL_DAEMON_INTERFACE = 'org.vigil.Daemon1';

const { Interface } = dbus.interface;

/** Methods of the Vrrp object, bound to the monitor. */
interface VrrpActions {
  printData(): Promise<void>;
  printStats(clear: boolean): Promise<void>;
  reload(): Promise<void>;
}

/** Calls from the bus become DBusErrors with the reason, never a crash of the daemon. */
function failed(what: string, e: unknown): dbus.DBusError {
  return new dbus.DBusError('org.keepalived.Vrrp1.Error', `${what}: ${errorText(e)}`);
}

class VrrpObject extends Interface {
  constructor(private readonly actions: VrrpActions) {
    super(VRRP_INTERFACE);
  }
  async PrintData(): Promise<void> {
    await this.actions.printData().catch((e: unknown) => {
      throw failed('PrintData', e);
    });
  }
  async PrintStats(): Promise<void> {
    await this.actions.printStats(false).catch((e: unknown) => {
      throw failed('PrintStats', e);
    });
  }
  /** vigil's counters cannot be cleared (RFC 6527 counters only increase): as PrintStats. */
  async PrintStatsClear(): Promise<void> {
    await this.actions.printStats(true).catch((e: unknown) => {
      throw failed('PrintStatsClear', e);
    });
  }
  async ReloadConfig(): Promise<void> {
    await this.actions.reload().catch((e: unknown) => {
      throw failed('ReloadConfig', e);
    });
  }
  VrrpStarted(): void {}
  VrrpReloaded(): void {}
  VrrpStopped(): void {}
}
VrrpObject.configureMembers({
  methods: { PrintData: {}, PrintStats: {}, PrintStatsClear: {}, ReloadConfig: {} },
  signals: { VrrpStarted: { signature: '' }, VrrpReloaded: { signature: '' }, VrrpStopped: { signature: '' } },
});

/** What an instance object shows; updated from events and the status. */
interface InstanceView {
  name: string;
  state: ExternalState;
  priority: number;
  basePriority: number;
  master: string;
  vipsInstalled: boolean;
  lastTransitionMs: number;
  reason: string;
  vrid: number;
  family: 'ipv4' | 'ipv6';
  ifname: string;
}

class KeepalivedInstance extends Interface {
  constructor(
    readonly view: InstanceView,
    private readonly garp: () => void,
  ) {
    super(INSTANCE_INTERFACE);
  }
  /** keepalived ≥ 2.2.8 types Name `(s)` (its XML and vrrp_dbus.c agree); 2.2.7's XML said `s`. */
  get Name(): [string] {
    return [this.view.name];
  }
  get State(): [number, string] {
    const [n, s] = dbusState(this.view.state);
    return [n, s];
  }
  SendGarp(): void {
    try {
      this.garp();
    } catch (e) {
      throw failed('SendGarp', e);
    }
  }
  VrrpStatusChange(status: number): number {
    return status;
  }
}
KeepalivedInstance.configureMembers({
  properties: { Name: { signature: '(s)', access: 'read' }, State: { signature: '(us)', access: 'read' } },
  methods: { SendGarp: {} },
  signals: { VrrpStatusChange: { signature: 'u' } },
});

class VigilInstance extends Interface {
  constructor(readonly view: InstanceView) {
    super(VIGIL_INSTANCE_INTERFACE);
  }
  get Name(): string {
    return this.view.name;
  }
  /** vigil's names: initialize, backup, master, fault, stop, deleted. */
  get State(): string {
    return this.view.state;
  }
  get Priority(): number {
    return this.view.priority;
  }
  get BasePriority(): number {
    return this.view.basePriority;
  }
  /** The master's address as this node knows it (its own when master), '' when none. */
  get MasterAddress(): string {
    return this.view.master;
  }
  get VipsInstalled(): boolean {
    return this.view.vipsInstalled;
  }
  /** Wall-clock milliseconds since the epoch; 0 before the first change. */
  get LastTransition(): bigint {
    return BigInt(Math.round(this.view.lastTransitionMs));
  }
  get Reason(): string {
    return this.view.reason;
  }
  get Vrid(): number {
    return this.view.vrid;
  }
  get Family(): string {
    return this.view.family;
  }
  get Interface(): string {
    return this.view.ifname;
  }
}
VigilInstance.configureMembers({
  properties: {
    Name: { signature: 's', access: 'read' },
    State: { signature: 's', access: 'read' },
    Priority: { signature: 'u', access: 'read' },
    BasePriority: { signature: 'u', access: 'read' },
    MasterAddress: { signature: 's', access: 'read' },
    VipsInstalled: { signature: 'b', access: 'read' },
    LastTransition: { signature: 't', access: 'read' },
    Reason: { signature: 's', access: 'read' },
    Vrid: { signature: 'u', access: 'read' },
    Family: { signature: 's', access: 'read' },
    Interface: { signature: 's', access: 'read' },
  },
});

/** The daemon's quorum and resources. */
interface DaemonView {
  quorumConfigured: boolean;
  quorate: boolean;
  votes: number;
  expectedVotes: number;
  /** (name, group, state, fail count, banned) per resource. */
  resources: [string, string, string, number, boolean][];
}

class VigilDaemon extends Interface {
  constructor(readonly view: DaemonView) {
    super(VIGIL_DAEMON_INTERFACE);
  }
  get QuorumConfigured(): boolean {
    return this.view.quorumConfigured;
  }
  get Quorate(): boolean {
    return this.view.quorate;
  }
  get Votes(): number {
    return this.view.votes;
  }
  get ExpectedVotes(): number {
    return this.view.expectedVotes;
  }
  get Resources(): [string, string, string, number, boolean][] {
    return this.view.resources;
  }
}
VigilDaemon.configureMembers({
  properties: {
    QuorumConfigured: { signature: 'b', access: 'read' },
    Quorate: { signature: 'b', access: 'read' },
    Votes: { signature: 'u', access: 'read' },
    ExpectedVotes: { signature: 'u', access: 'read' },
    Resources: { signature: 'a(sssub)', access: 'read' },
  },
});

interface Exported {
  readonly path: string;
  readonly keepalived: KeepalivedInstance;
  readonly vigil: VigilInstance;
}

function viewOf(i: InstanceStatus, previous?: InstanceView): InstanceView {
  return {
    name: i.name,
    state: i.state,
    priority: i.effectivePriority,
    basePriority: i.basePriority,
    master: i.master?.address ?? '',
    vipsInstalled: i.vipsInstalled,
    lastTransitionMs: previous?.lastTransitionMs ?? 0,
    reason: previous?.reason ?? '',
    vrid: i.vrid,
    family: i.family,
    ifname: i.interface,
  };
}

function daemonView(status: DaemonStatus): DaemonView {
  const q = status.quorum;
  return {
    quorumConfigured: q !== undefined,
    quorate: q?.quorate ?? true,
    votes: q?.totalVotes ?? 0,
    expectedVotes: q?.expectedVotes ?? 0,
    resources: (status.resources?.resources ?? []).map((r) => [r.name, r.group ?? '', r.state, Math.min(r.failCount, 0xffffffff), r.banned]),
  };
}

/** Opens the bus the config names: 'system', 'session', or an address (unix:path=...). */
function openBus(bus: string): dbus.MessageBus {
  if (bus === 'system') return dbus.systemBus();
  if (bus === 'session') return dbus.sessionBus();
  return dbus.sessionBus({ busAddress: bus });
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;
/** How long stop() waits for the bus to release the name. */
const RELEASE_TIMEOUT_MS = 500;

export class DbusMonitor {
  readonly counters: MonitorCounters = { sent: 0, failed: 0, reconnects: 0 };
  private readonly exported = new Map<string, Exported>();
  private readonly vrrp: VrrpObject;
  private readonly daemon: VigilDaemon;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  /** The connection with the name taken; undefined while the bus is away. */
  private bus: dbus.MessageBus | undefined;
  private retryMs = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly config: DbusNotifierConfig,
    private readonly host: MonitorHost,
    private readonly log: Logger,
  ) {
    this.vrrp = new VrrpObject({
      printData: () => this.printFile('vigil.data', JSON.stringify(this.host.status(), null, 2)),
      printStats: (clear) => this.printFile('vigil.stats', this.statsText(clear)),
      reload: () => this.host.reload(),
    });
    this.daemon = new VigilDaemon(daemonView(host.status()));
  }

  /**
   * Connects, exports every object, then takes the bus name (so a client that sees the name
   * finds the objects), and emits VrrpStarted as keepalived does once on the bus. Fails when
   * the first connection fails (a wrong address, the name refused by the policy); a bus lost
   * later (dbus-daemon restarted) is reconnected with a backoff.
   */
  static async start(config: DbusNotifierConfig, host: MonitorHost, log: Logger): Promise<DbusMonitor> {
    const m = new DbusMonitor(config, host, log);
    m.sync(host.status());
    await m.connect();
    m.unsubscribe = host.events.subscribe((e) => m.onEvent(e));
    return m;
  }

  get connected(): boolean {
    return this.bus !== undefined;
  }

  private objects(): [string, dbus.interface.Interface][] {
    const list: [string, dbus.interface.Interface][] = [
      [VRRP_PATH, this.vrrp],
      [VRRP_PATH, this.daemon],
    ];
    for (const e of this.exported.values()) list.push([e.path, e.keepalived], [e.path, e.vigil]);
    return list;
  }

  private async connect(): Promise<void> {
    const bus = openBus(this.config.bus);
    bus.on('error', (e: unknown) => this.lost(bus, e));
    // dbus-next (0.10) reports a closed connection only at the next write; its connection
    // object's 'end' tells at once, so the service is back on a restarted bus without
    // waiting for a state change. (Without it, the write error above still triggers.)
    const connection = (bus as unknown as { _connection?: { on(event: 'end', listener: () => void): void } })._connection;
    connection?.on('end', () => this.lost(bus, new Error('the bus closed the connection')));
    try {
      for (const [p, iface] of this.objects()) bus.export(p, iface);
      const reply = await bus.requestName(this.config.name, dbus.NameFlag.DO_NOT_QUEUE);
      if (reply !== dbus.RequestNameReply.PRIMARY_OWNER && reply !== dbus.RequestNameReply.ALREADY_OWNER) {
        throw new Error(`the name ${this.config.name} is owned by another connection`);
      }
    } catch (e) {
      this.drop(bus);
      throw new Error(`dbus: cannot take ${this.config.name} on the ${this.config.bus} bus: ${errorText(e)}`);
    }
    if (this.stopped) {
      this.drop(bus);
      return;
    }
    this.bus = bus;
    this.retryMs = RECONNECT_MIN_MS;
    this.signal(() => this.vrrp.VrrpStarted());
    this.log.log('info', 'dbus-ready', { bus: this.config.bus, name: this.config.name, instances: this.exported.size });
  }

  /** Unexports everything from a connection (its listeners on our objects) and closes it. */
  private drop(bus: dbus.MessageBus): void {
    for (const [p, iface] of this.objects()) {
      try {
        bus.unexport(p, iface);
      } catch {
        // not exported there
      }
    }
    try {
      bus.disconnect();
    } catch {
      // already closed
    }
  }

  /** An error on the connection: it is dropped and made again (signals meanwhile are counted as failed). */
  private lost(bus: dbus.MessageBus, e: unknown): void {
    if (bus !== this.bus) return;
    this.counters.failed++;
    this.bus = undefined;
    this.drop(bus);
    if (this.stopped) return;
    this.log.log('warn', 'dbus-lost', { bus: this.config.bus, detail: errorText(e) });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.counters.reconnects++;
      this.connect().catch((e: unknown) => {
        if (this.retryMs >= RECONNECT_MAX_MS) this.log.log('warn', 'dbus-reconnect-failed', { bus: this.config.bus, detail: errorText(e) });
        this.scheduleReconnect();
      });
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
  }

  /** Exports objects for new instances, unexports those gone (VrrpStatusChange Deleted first), refreshes the views. */
  private sync(status: DaemonStatus): void {
    const seen = new Set<string>();
    for (const i of status.instances) {
      seen.add(i.name);
      const current = this.exported.get(i.name);
      if (current) {
        Object.assign(current.keepalived.view, viewOf(i, current.keepalived.view));
        continue;
      }
      const view = viewOf(i);
      const e: Exported = { path: instanceObjectPath(i.interface, i.vrid, i.family), keepalived: new KeepalivedInstance(view, () => this.garp(i.name)), vigil: new VigilInstance(view) };
      this.bus?.export(e.path, e.keepalived);
      this.bus?.export(e.path, e.vigil);
      this.exported.set(i.name, e);
    }
    for (const [name, e] of this.exported) {
      if (seen.has(name)) continue;
      e.keepalived.view.state = 'deleted';
      this.signal(() => e.keepalived.VrrpStatusChange(dbusState('deleted')[0]));
      this.bus?.unexport(e.path, e.keepalived);
      this.bus?.unexport(e.path, e.vigil);
      this.exported.delete(name);
    }
    this.daemon.view.resources = daemonView(status).resources;
  }

  private onEvent(e: StampedEvent): void {
    if (this.stopped) return;
    switch (e.kind) {
      case 'instance-state': {
        const x = this.exported.get(e.instance);
        if (!x) return;
        const v = x.keepalived.view;
        v.state = e.to;
        v.priority = e.priority;
        v.basePriority = e.basePriority;
        v.master = e.master ?? '';
        v.lastTransitionMs = e.time;
        v.reason = e.reason;
        // keepalived's signal first: its clients react to it; then the properties.
        this.signal(() => x.keepalived.VrrpStatusChange(dbusState(e.to)[0]));
        this.signal(() => Interface.emitPropertiesChanged(x.keepalived, { State: x.keepalived.State }, []));
        this.signal(() =>
          Interface.emitPropertiesChanged(
            x.vigil,
            { State: v.state, Priority: v.priority, BasePriority: v.basePriority, MasterAddress: v.master, LastTransition: x.vigil.LastTransition, Reason: v.reason },
            [],
          ),
        );
        return;
      }
      case 'priority-changed': {
        const x = this.exported.get(e.instance);
        if (!x) return;
        x.vigil.view.priority = e.to;
        x.vigil.view.basePriority = e.basePriority;
        this.signal(() => Interface.emitPropertiesChanged(x.vigil, { Priority: e.to, BasePriority: e.basePriority }, []));
        return;
      }
      case 'vips-added':
      case 'vips-removed': {
        const x = this.exported.get(e.instance);
        if (!x) return;
        x.vigil.view.vipsInstalled = e.kind === 'vips-added' && e.failed.length === 0;
        this.signal(() => Interface.emitPropertiesChanged(x.vigil, { VipsInstalled: x.vigil.view.vipsInstalled }, []));
        return;
      }
      case 'quorum-changed': {
        const d = this.daemon.view;
        d.quorumConfigured = true;
        d.quorate = e.quorate;
        d.votes = e.votes;
        d.expectedVotes = e.expectedVotes;
        this.signal(() => Interface.emitPropertiesChanged(this.daemon, { QuorumConfigured: true, Quorate: e.quorate, Votes: e.votes, ExpectedVotes: e.expectedVotes }, []));
        return;
      }
      case 'resource-state':
      case 'resource-op':
      case 'group-ban': {
        this.daemon.view.resources = daemonView(this.host.status()).resources;
        this.signal(() => Interface.emitPropertiesChanged(this.daemon, { Resources: this.daemon.view.resources }, []));
        return;
      }
      case 'reloaded':
        this.sync(this.host.status());
        this.signal(() => this.vrrp.VrrpReloaded());
        return;
      case 'daemon-stopping':
        // keepalived: every instance goes to Stop (98) as the daemon ends.
        for (const x of this.exported.values()) {
          x.keepalived.view.state = 'stop';
          this.signal(() => x.keepalived.VrrpStatusChange(dbusState('stop')[0]));
        }
        return;
      default:
        return;
    }
  }

  private garp(instance: string): void {
    if (!this.host.sendGarp) throw new Error('this daemon cannot send gratuitous ARP on request');
    this.host.sendGarp(instance);
  }

  /** Emits a signal; a failure is counted and logged, never thrown into the event stream. */
  private signal(send: () => void): void {
    if (!this.bus) {
      this.counters.failed++;
      return;
    }
    try {
      send();
      this.counters.sent++;
    } catch (e) {
      this.counters.failed++;
      this.log.log('warn', 'dbus-signal-failed', { detail: errorText(e) });
    }
  }

  /** keepalived writes /tmp/keepalived.data and .stats; vigil writes into its runtime directory (root only), not /tmp. */
  private async printFile(name: string, text: string): Promise<void> {
    const file = path.join(this.host.config().global.runtimeDir, name);
    await writeFile(file, `${text}\n`, { mode: 0o600 });
    this.log.log('info', 'dbus-printed', { file });
  }

  private statsText(clear: boolean): string {
    const lines: string[] = [];
    for (const i of this.host.status().instances) {
      lines.push(`VRRP Instance: ${i.name}`, `  State: ${i.state}`, `  Advertisements:`, `    Received: ${i.stats.advertsReceived}`, `    Sent: ${i.stats.advertsSent}`);
      lines.push(`  Became master: ${i.stats.masterTransitions}`, `  Priority Zero:`, `    Received: ${i.stats.priorityZeroReceived}`, `    Sent: ${i.stats.priorityZeroSent}`);
      for (const [reason, n] of Object.entries(i.rejected)) lines.push(`  Dropped ${reason}: ${n}`);
    }
    if (clear) lines.push('(vigil does not clear its counters: RFC 6527 counters only increase)');
    return lines.join('\n');
  }


  async stop(): Promise<void> {
    if (this.stopped) return;
    this.unsubscribe?.();
    this.signal(() => this.vrrp.VrrpStopped());
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const bus = this.bus;
    this.bus = undefined;
    if (!bus) return;
    // A bus that went away answers nothing: the daemon's exit must not wait on it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([bus.releaseName(this.config.name).catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, RELEASE_TIMEOUT_MS)))]);
    clearTimeout(timer);
    this.drop(bus);
  }
}
