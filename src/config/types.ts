/**
 * The configuration as the daemon consumes it: parsed from /etc/vigil/vigil.yaml by
 * load.ts, checked against schema/vigil.schema.json and the semantic rules, with every
 * default applied. Nothing here is optional that has a default; the optional keys are
 * the ones whose absence means something (no unicast = multicast, no vmac, a VIP on the
 * instance's own interface).
 *
 * The reference for every key, its default and its keepalived equivalent is docs/config.md.
 */
import type { AddressFamily, IpAddress } from '../net/address.js';
import type { V2Authentication } from '../vrrp/acceptance.js';
import type { AnnounceConfig } from '../vrrp/router.js';
import type { Centiseconds, Priority, V3Ipv4ChecksumMode, Vrid, VrrpVersion } from '../vrrp/types.js';
import type { NodeId, TieBreakerNode, Votes } from '../quorum/types.js';
import type { GroupConfig, HealthCheckConfig, ResourceConfig } from '../resources/types.js';
import type { NotifiersConfig } from './notifier-types.js';

/** managed_by: VRRP alone decides (vigil), or Pacemaker's ocf:vigil:vrrp agent governs the instance as a promotable clone. */
export type InstanceManager = 'vigil' | 'pacemaker';

/** Where something was written: `file` is the path as given to the loader; line and column are 1-based. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface VigilConfig {
  /** The config file's path, as given to the loader. */
  readonly path: string;
  readonly global: GlobalConfig;
  /** In the order of the file. */
  readonly instances: readonly InstanceConfig[];
  readonly syncGroups: readonly SyncGroupConfig[];
  /** Absent: no quorum; every instance may become master (keepalived's behaviour). */
  readonly quorum?: QuorumConfig;
  readonly resources: ResourcesConfig;
  /** Notify scripts, FIFO, D-Bus, SNMP, Prometheus, alert agents (notifier-types.ts); NO_NOTIFIERS when none. */
  readonly notifiers: NotifiersConfig;
}

export interface ResourcesConfig {
  readonly resources: readonly ResourceConfig[];
  /** The configured groups, then one group per resource outside any group (named after it). */
  readonly groups: readonly GroupConfig[];
  readonly healthChecks: readonly HealthCheckConfig[];
}

export interface QuorumNodeConfig {
  readonly id: NodeId;
  readonly name: string;
  readonly address: IpAddress;
  readonly votes: Votes;
}

export interface TieBreakerConfig {
  /** Must answer ICMP echo (e.g. the default gateway). */
  readonly ping?: IpAddress;
  /** A witness that must accept a TCP connection. */
  readonly tcp?: { readonly address: IpAddress; readonly port: number };
  /** A fencing script whose success is required before taking over from an unreachable peer. */
  readonly fence?: string;
  readonly timeoutMs: number;
  readonly intervalMs: number;
}

export interface QuorumConfig {
  /**
   * vigil: heartbeats between `nodes`, votequorum's rules in vigil. corosync: the local
   * corosync's votequorum decides; only noQuorumPolicy applies (the loader refuses the
   * other keys), and the fields below keep their defaults (nodes empty).
   */
  readonly provider: 'vigil' | 'corosync';
  readonly nodes: readonly QuorumNodeConfig[];
  /** In every heartbeat, so clusters sharing a segment ignore each other. */
  readonly clusterName: string;
  /** Absent: the node whose address is on one of this machine's interfaces. */
  readonly nodeId?: NodeId;
  readonly transport: 'unicast' | 'multicast';
  readonly multicastGroup: IpAddress;
  /** Required with multicast. */
  readonly interface?: string;
  readonly port: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly keyFile: string;
  readonly expectedVotes?: number;
  readonly twoNode: boolean;
  /** Resolved: two_node's value unless set. */
  readonly waitForAll: boolean;
  readonly lastManStanding: boolean;
  readonly lastManStandingWindowMs: number;
  readonly autoTieBreaker: boolean;
  readonly autoTieBreakerNode: TieBreakerNode;
  readonly noQuorumPolicy: 'stop' | 'freeze' | 'ignore';
  /** Absent: none (a two_node split leaves both halves quorate). */
  readonly tieBreaker?: TieBreakerConfig;
  readonly location: SourceLocation;
}

export interface GlobalConfig {
  /** Absolute; the control socket lives here. Default /run/vigil. */
  readonly runtimeDir: string;
  /** Default text. */
  readonly logFormat: 'text' | 'json';
  /** net.ipv4.ip_nonlocal_bind / net.ipv6.ip_nonlocal_bind to set at start (false = leave the sysctl alone). */
  readonly nonlocalBind: { readonly ipv4: boolean; readonly ipv6: boolean };
  /** 0 = normal scheduling; 1..99 = SCHED_RR at that priority. */
  readonly realtimePriority: number;
  /** Absolute; node standby / maintenance and exec resources' pid files and logs. Default /var/lib/vigil. */
  readonly stateDir: string;
}

export interface VirtualIp {
  readonly address: IpAddress;
  /** 0..32 (IPv4) or 0..128 (IPv6); a bare address in the file means 32 / 128. */
  readonly prefixLength: number;
  /** Absent: the instance's interface. */
  readonly dev?: string;
  /** IPv4 only; already checked to be the device name or start with "device:". */
  readonly label?: string;
  readonly scope: 'global' | 'site' | 'link' | 'host';
}

export interface InstanceConfig {
  readonly name: string;
  readonly interface: string;
  readonly vrid: Vrid;
  /** The family of virtual_ips (all of one family). */
  readonly family: AddressFamily;
  readonly version: VrrpVersion;
  readonly priority: Priority;
  /** VRRPv2: a multiple of 100. */
  readonly advertInterval: Centiseconds;
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  /** Who decides whether the instance may run and become master (managed_by): VRRP alone, or Pacemaker's agent (src/daemon/promotion.ts). */
  readonly managedBy: InstanceManager;
  readonly acceptMode: boolean;
  /** At least one, all of `family`, in the order of the file: the order they are advertised in. */
  readonly virtualIps: readonly VirtualIp[];
  /** Managed with the VIPs but not advertised; may be of either family. */
  readonly excludedIps: readonly VirtualIp[];
  /** Absent: multicast. Peers (and the source) are of `family`. */
  readonly unicast?: { readonly source?: IpAddress; readonly peers: readonly IpAddress[] };
  /** Always { type: 'none' } for VRRPv3. */
  readonly authentication: V2Authentication;
  /** Absent: no VMAC interface. */
  readonly vmac?: { readonly name: string };
  readonly announce: AnnounceConfig;
  /** Spacing between the copies of one gratuitous ARP / NA burst; 0 = back to back. */
  readonly garpIntervalMs: number;
  /** Plain interface names; weight 0 = FAULT while down. */
  readonly trackInterfaces: readonly { readonly name: string; readonly weight: number }[];
  /** Only meaningful for IPv4 VRRPv3. */
  readonly checksum: V3Ipv4ChecksumMode;
  readonly higherPrioritySendAdvert: boolean;
  readonly lowerPriorityNoAdvert: boolean;
  readonly addressListCheck: 'log' | 'drop';
  /** The start of the instance's mapping in the file. */
  readonly location: SourceLocation;
}

export interface SyncGroupConfig {
  readonly name: string;
  /** Names of instances, each existing and in no other group. */
  readonly instances: readonly string[];
  readonly location: SourceLocation;
}
