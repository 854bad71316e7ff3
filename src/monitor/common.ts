/**
 * What the monitoring notifiers (D-Bus, SNMP AgentX, Prometheus) share: the host interface
 * they read the daemon through, and every mapping of vigil's states and counters to the
 * numbers of the outside interfaces (keepalived's D-Bus and MIB, RFC 6527), each in one
 * place.
 */
import { readFileSync } from 'node:fs';
import type { VigilConfig } from '../config/types.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import type { EventSource } from '../events/stream.js';
import type { StampedEvent } from '../events/types.js';
import { REJECT_COUNTER, type RejectReason } from '../vrrp/rejection.js';
import type { RouterState } from '../vrrp/types.js';

/**
 * What the monitors need of the daemon. `vigil run` builds it from its Daemon; tests build
 * it from a real VirtualRouter's status and a real EventStream.
 */
export interface MonitorHost {
  status(): DaemonStatus;
  readonly events: EventSource;
  /** The running config (instance settings the status does not carry: preempt, accept, sync groups). */
  config(): VigilConfig;
  /** D-Bus ReloadConfig: as SIGHUP. Rejects with the reasons when the new config is refused. */
  reload(): Promise<void>;
  /**
   * D-Bus SendGarp: one round of gratuitous ARP / unsolicited NA for the instance. Absent
   * where the daemon cannot do it (SendGarp then answers an error saying so).
   */
  sendGarp?(instance: string): void;
  /** Backlog and losses of the other notifiers (scripts, FIFO), for the metrics; absent: none. */
  notifierStats?(): readonly NotifierStats[];
}

export interface NotifierStats {
  readonly notifier: string;
  /** Events waiting. */
  readonly backlog: number;
  /** Events delivered, and lost (a bound hit). */
  readonly delivered: number;
  readonly lost: number;
  /** Failures (script exit != 0, timeouts, write errors). */
  readonly failures: number;
}

/** A monitor's own counters, for the metrics and `vigil status`. */
export interface MonitorCounters {
  sent: number;
  failed: number;
  reconnects: number;
}

/** The states a D-Bus / MIB client can see, beyond the router's four. */
export type ExternalState = RouterState | 'stop' | 'deleted';

/**
 * keepalived's D-Bus State property `(us)` and VrrpStatusChange(u): vrrp_dbus.c uses the
 * VRRP_STATE_* numbers of vrrp.h: INIT 0, BACK 1, MAST 2, FAULT 3, DELETED 97, STOP 98.
 */
export function dbusState(state: ExternalState): readonly [number, string] {
  switch (state) {
    case 'initialize':
      return [0, 'Init'];
    case 'backup':
      return [1, 'Backup'];
    case 'master':
      return [2, 'Master'];
    case 'fault':
      return [3, 'Fault'];
    case 'deleted':
      return [97, 'Deleted'];
    case 'stop':
      return [98, 'Stop'];
  }
}

/**
 * KEEPALIVED-MIB VrrpState textual convention: "init(0), backup(1), master(2), fault(3),
 * unknown(4), shutdown(5), deleted(6)" (not the D-Bus numbers).
 */
export function keepalivedMibState(state: ExternalState): number {
  switch (state) {
    case 'initialize':
      return 0;
    case 'backup':
      return 1;
    case 'master':
      return 2;
    case 'fault':
      return 3;
    case 'stop':
      return 5;
    case 'deleted':
      return 6;
  }
}

/**
 * RFC 6527 vrrpv3OperationsStatus: "initialize(1), backup(2), master(3)". VRRP itself has
 * no fault state: a faulted router does not take part, which RFC 5798 §6.4.1 calls
 * Initialize, so fault reads as initialize(1).
 */
export function rfc6527Status(state: RouterState): number {
  return state === 'master' ? 3 : state === 'backup' ? 2 : 1;
}

/** RFC 6527 vrrpv3StatisticsNewMasterReason: notMaster(0), priority(1), preempted(2), masterNoResponse(3). */
export const NEW_MASTER_REASON = { notMaster: 0, priority: 1, preempted: 2, masterNoResponse: 3 } as const;

/** RFC 6527 vrrpv3StatisticsProtoErrReason: noError(0), ipTtlError(1), versionError(2), checksumError(3), vrIdError(4). */
export const PROTO_ERR_REASON = { noError: 0, ipTtlError: 1, versionError: 2, checksumError: 3, vrIdError: 4 } as const;
export type ProtoErrReason = keyof typeof PROTO_ERR_REASON;

/** Which drop reasons make a protocol error, and which (REJECT_COUNTER decides the counter). */
export function protoErrReason(reason: RejectReason): ProtoErrReason | undefined {
  switch (REJECT_COUNTER[reason]) {
    case 'vrrpv3StatisticsIpTtlErrors':
      return 'ipTtlError';
    case 'vrrpv3GlobalStatisticsVersionErrors':
      return 'versionError';
    case 'vrrpv3GlobalStatisticsChecksumErrors':
      return 'checksumError';
    case 'vrrpv3GlobalStatisticsVrIdErrors':
      return 'vrIdError';
    default:
      return undefined;
  }
}

/** The sum of the drop counts whose RFC 6527 / RFC 2787 counter is `counter` (REJECT_COUNTER is the one mapping). */
export function counterSum(rejected: Partial<Record<RejectReason, number>>, counter: string): number {
  let n = 0;
  for (const [reason, count] of Object.entries(rejected) as [RejectReason, number][]) if (REJECT_COUNTER[reason] === counter) n += count;
  return n;
}

/** Drop counts of the whole daemon: every socket and every instance. */
export function allRejects(status: DaemonStatus): Partial<Record<RejectReason, number>> {
  const total: Partial<Record<RejectReason, number>> = {};
  const add = (counts: Partial<Record<RejectReason, number>>): void => {
    for (const [reason, n] of Object.entries(counts) as [RejectReason, number][]) total[reason] = (total[reason] ?? 0) + n;
  };
  for (const counts of Object.values(status.socketRejects)) add(counts);
  for (const i of status.instances) add(i.rejected);
  return total;
}

/**
 * keepalived's object path of an instance: /org/keepalived/Vrrp1/Instance/IFNAME/VRID/IPv4|IPv6.
 * A path element allows only [A-Za-z0-9_] (D-Bus specification, "Valid Object Paths"), so
 * other characters of an interface name (eth0.100, br-lan) become '_', as keepalived's
 * set_valid_path does.
 */
export function instanceObjectPath(ifname: string, vrid: number, family: 'ipv4' | 'ipv6'): string {
  return `/org/keepalived/Vrrp1/Instance/${ifname.replace(/[^A-Za-z0-9_]/g, '_')}/${vrid}/${family === 'ipv4' ? 'IPv4' : 'IPv6'}`;
}

/** RFC 5798 §7.3: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6. */
export function virtualMac(vrid: number, family: 'ipv4' | 'ipv6'): Buffer {
  return Buffer.from([0x00, 0x00, 0x5e, 0x00, family === 'ipv4' ? 0x01 : 0x02, vrid]);
}

/** The kernel's index of an interface (the MIBs' ifIndex), or 0 when it is gone. */
export function interfaceIndex(ifname: string): number {
  try {
    return Number.parseInt(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8').trim(), 10) || 0;
  } catch {
    return 0;
  }
}

/** The sync group an instance is in, or undefined. */
export function syncGroupOf(config: VigilConfig, instance: string): string | undefined {
  return config.syncGroups.find((g) => g.instances.includes(instance))?.name;
}

/** What the metrics count from the event stream (the status has no such counter). */
export class EventCounters {
  /** Per instance: gratuitous ARP / NA rounds sent, when it last changed state (wall clock). */
  readonly announcements = new Map<string, number>();
  readonly lastTransition = new Map<string, number>();
  readonly releasedMaster = new Map<string, number>();
  readonly masterRxLowerPriority = new Map<string, number>();
  readonly healthTransitions = new Map<string, number>();
  events = 0;

  observe(e: StampedEvent): void {
    this.events++;
    switch (e.kind) {
      case 'instance-state':
        this.lastTransition.set(e.instance, e.time);
        if (e.from === 'master') bump(this.releasedMaster, e.instance);
        break;
      case 'announced':
        bump(this.announcements, e.instance);
        break;
      case 'master-rx-lower-priority':
        bump(this.masterRxLowerPriority, e.instance);
        break;
      case 'health-check':
        bump(this.healthTransitions, e.check);
        break;
      default:
        break;
    }
  }
}

/**
 * Counts a host's events for as long as the daemon runs: the events already kept by the
 * stream first, then every new one. Owned by the monitor set, not by one endpoint, so a
 * reload that restarts the endpoint does not restart the counters.
 */
export function countEvents(host: MonitorHost): { readonly counters: EventCounters; readonly stop: () => void } {
  const counters = new EventCounters();
  for (const e of host.events.since()) counters.observe(e);
  const after = host.events.lastSeq;
  const stop = host.events.subscribe((e) => {
    if (e.seq > after) counters.observe(e);
  });
  return { counters, stop };
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}
