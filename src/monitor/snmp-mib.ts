/**
 * The MIB objects vigil's AgentX subagent serves (src/monitor/snmp.ts), built from
 * `DaemonStatus`: VRRPv3-MIB (RFC 6527), VRRP-MIB (RFC 2787: the VRRPv2 IPv4 instances)
 * and the KEEPALIVED-MIB subset. Pure: status in, a net-snmp MIB out.
 */
import { hostname } from 'node:os';
import snmp from 'net-snmp';
import type { VigilConfig } from '../config/types.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import { parseIp } from '../net/address.js';
import { NEW_MASTER_REASON, PROTO_ERR_REASON, allRejects, counterSum, keepalivedMibState, rfc6527Status, syncGroupOf, virtualMac, type ProtoErrReason } from './common.js';

const { ObjectType: T, MibProviderType: P, MaxAccess: A } = snmp;
const RO = A['read-only'];
const NA = A['not-accessible'];

export const VRRPV3_MIB = '1.3.6.1.2.1.207';
export const OPS_ENTRY = `${VRRPV3_MIB}.1.1.1.1`;
export const ASSOC_ENTRY = `${VRRPV3_MIB}.1.1.2.1`;
export const STATS = `${VRRPV3_MIB}.1.2`;
export const STATS_ENTRY = `${STATS}.5.1`;
export const VRRPV3_NEW_MASTER = `${VRRPV3_MIB}.0.1`;
export const VRRPV3_PROTO_ERROR = `${VRRPV3_MIB}.0.2`;
/** RFC 2787 VRRP-MIB, mib-2 68: "vrrpMIB MODULE-IDENTITY ... ::= { mib-2 68 }". */
export const VRRP_MIB = '1.3.6.1.2.1.68';
export const V2_OPER_ENTRY = `${VRRP_MIB}.1.3.1`;
export const V2_ASSO_ENTRY = `${VRRP_MIB}.1.4.1`;
export const V2_STATS = `${VRRP_MIB}.2`;
export const V2_STATS_ENTRY = `${V2_STATS}.4.1`;
/** RFC 2787 vrrpTrapNewMaster, OBJECTS { vrrpOperMasterIpAddr }: { vrrpNotifications 1 }, vrrpNotifications ::= { vrrpMIB 0 }. */
export const VRRP_TRAP_NEW_MASTER = `${VRRP_MIB}.0.1`;
export const KEEPALIVED_MIB = '1.3.6.1.4.1.9586.100.5';
export const KA_ROUTER_ID = `${KEEPALIVED_MIB}.1.2`;
export const KA_SYNC_ENTRY = `${KEEPALIVED_MIB}.2.1.1`;
export const KA_INSTANCE_ENTRY = `${KEEPALIVED_MIB}.2.3.1`;
export const KA_SYNC_GROUP_STATE_CHANGE = `${KEEPALIVED_MIB}.2.10.0.1`;
export const KA_INSTANCE_STATE_CHANGE = `${KEEPALIVED_MIB}.2.10.0.2`;

/** RFC 6527 vrrpv3StatisticsRefreshRate: the least time between two polls that see new values (ms). */
export const REFRESH_RATE_MS = 1000;

/** INET-ADDRESS-MIB InetAddressType: ipv4(1), ipv6(2). */
function inetType(family: 'ipv4' | 'ipv6'): number {
  return family === 'ipv4' ? 1 : 2;
}

export function inetAddress(text: string | undefined): Buffer {
  if (text === undefined) return Buffer.alloc(0);
  const a = parseIp(text.split('/')[0] ?? '');
  return a instanceof Error ? Buffer.alloc(0) : Buffer.from(a.bytes);
}

/** The index of a VRRPv3-MIB row as OID components: ifIndex.VrId.InetAddrType. */
export function rowIndex(ifIndex: number, vrid: number, family: 'ipv4' | 'ipv6'): string {
  return `${ifIndex}.${vrid}.${inetType(family)}`;
}

/** One instance as the MIBs see it. */
export interface SnmpRow {
  readonly name: string;
  /** 1-based, in config order (KEEPALIVED-MIB vrrpInstanceIndex). */
  readonly kaIndex: number;
  readonly ifIndex: number;
  readonly index: string;
  readonly status: DaemonStatus['instances'][number];
  readonly protoErr: ProtoErrReason;
}

function columns(list: readonly [number, string, number, number?][]): snmp.TableColumn[] {
  return list.map(([number, name, type, access]) => ({ number, name, type, maxAccess: access ?? RO }));
}

/** The provider definitions (fresh objects each time: net-snmp's registerProvider fills them in). */
export function providers(keepalivedMib: boolean): snmp.ProviderDefinition[] {
  const list: snmp.ProviderDefinition[] = [
    // IF-MIB's ifIndex, so the VRRPv3 tables can use it as their first index (never registered with snmpd).
    { name: 'ifTable', type: P.Table, oid: '1.3.6.1.2.1.2.2.1', maxAccess: NA, tableColumns: columns([[1, 'ifIndex', T.Integer]]), tableIndex: [{ columnName: 'ifIndex' }] },
    {
      name: 'vrrpv3OperationsTable',
      type: P.Table,
      oid: OPS_ENTRY,
      maxAccess: NA,
      tableColumns: columns([
        [1, 'vrrpv3OperationsVrId', T.Integer, NA],
        [2, 'vrrpv3OperationsInetAddrType', T.Integer, NA],
        [3, 'vrrpv3OperationsMasterIpAddr', T.OctetString],
        [4, 'vrrpv3OperationsPrimaryIpAddr', T.OctetString],
        [5, 'vrrpv3OperationsVirtualMacAddr', T.OctetString],
        [6, 'vrrpv3OperationsStatus', T.Integer],
        [7, 'vrrpv3OperationsPriority', T.Unsigned32],
        [8, 'vrrpv3OperationsAddrCount', T.Integer],
        [9, 'vrrpv3OperationsAdvInterval', T.Integer],
        [10, 'vrrpv3OperationsPreemptMode', T.Integer],
        [11, 'vrrpv3OperationsAcceptMode', T.Integer],
        [12, 'vrrpv3OperationsUpTime', T.TimeTicks],
        [13, 'vrrpv3OperationsRowStatus', T.Integer],
      ]),
      tableIndex: [{ columnName: 'ifIndex', foreign: 'ifTable' }, { columnName: 'vrrpv3OperationsVrId' }, { columnName: 'vrrpv3OperationsInetAddrType' }],
    },
    {
      name: 'vrrpv3AssociatedIpAddrTable',
      type: P.Table,
      oid: ASSOC_ENTRY,
      maxAccess: NA,
      tableColumns: columns([
        [1, 'vrrpv3AssociatedIpAddrAddress', T.OctetString, NA],
        [2, 'vrrpv3AssociatedIpAddrRowStatus', T.Integer],
      ]),
      tableIndex: [
        { columnName: 'ifIndex', foreign: 'ifTable' },
        { columnName: 'vrrpv3OperationsVrId', foreign: 'vrrpv3OperationsTable' },
        { columnName: 'vrrpv3OperationsInetAddrType', foreign: 'vrrpv3OperationsTable' },
        { columnName: 'vrrpv3AssociatedIpAddrAddress' },
      ],
    },
    { name: 'vrrpv3RouterChecksumErrors', type: P.Scalar, oid: `${STATS}.1`, scalarType: T.Counter64, maxAccess: RO },
    { name: 'vrrpv3RouterVersionErrors', type: P.Scalar, oid: `${STATS}.2`, scalarType: T.Counter64, maxAccess: RO },
    { name: 'vrrpv3RouterVrIdErrors', type: P.Scalar, oid: `${STATS}.3`, scalarType: T.Counter64, maxAccess: RO },
    { name: 'vrrpv3GlobalStatisticsDiscontinuityTime', type: P.Scalar, oid: `${STATS}.4`, scalarType: T.TimeTicks, maxAccess: RO },
    {
      name: 'vrrpv3StatisticsTable',
      type: P.Table,
      oid: STATS_ENTRY,
      maxAccess: NA,
      tableColumns: columns([
        [1, 'vrrpv3StatisticsMasterTransitions', T.Counter32],
        [2, 'vrrpv3StatisticsNewMasterReason', T.Integer],
        [3, 'vrrpv3StatisticsRcvdAdvertisements', T.Counter64],
        [4, 'vrrpv3StatisticsAdvIntervalErrors', T.Counter64],
        [5, 'vrrpv3StatisticsIpTtlErrors', T.Counter64],
        [6, 'vrrpv3StatisticsProtoErrReason', T.Integer],
        [7, 'vrrpv3StatisticsRcvdPriZeroPackets', T.Counter64],
        [8, 'vrrpv3StatisticsSentPriZeroPackets', T.Counter64],
        [9, 'vrrpv3StatisticsRcvdInvalidTypePackets', T.Counter64],
        [10, 'vrrpv3StatisticsAddressListErrors', T.Counter64],
        [11, 'vrrpv3StatisticsPacketLengthErrors', T.Counter64],
        [12, 'vrrpv3StatisticsRowDiscontinuityTime', T.TimeTicks],
        [13, 'vrrpv3StatisticsRefreshRate', T.Unsigned32],
      ]),
      tableIndex: [
        { columnName: 'ifIndex', foreign: 'ifTable' },
        { columnName: 'vrrpv3OperationsVrId', foreign: 'vrrpv3OperationsTable' },
        { columnName: 'vrrpv3OperationsInetAddrType', foreign: 'vrrpv3OperationsTable' },
      ],
    },
  ];
  list.push(...rfc2787Providers());
  if (!keepalivedMib) return list;
  list.push(
    { name: 'routerId', type: P.Scalar, oid: KA_ROUTER_ID, scalarType: T.OctetString, maxAccess: RO },
    {
      name: 'vrrpSyncGroupTable',
      type: P.Table,
      oid: KA_SYNC_ENTRY,
      maxAccess: NA,
      tableColumns: columns([
        [1, 'vrrpSyncGroupIndex', T.Integer, NA],
        [2, 'vrrpSyncGroupName', T.OctetString],
        [3, 'vrrpSyncGroupState', T.Integer],
      ]),
      tableIndex: [{ columnName: 'vrrpSyncGroupIndex' }],
    },
    {
      name: 'vrrpInstanceTable',
      type: P.Table,
      oid: KA_INSTANCE_ENTRY,
      maxAccess: NA,
      tableColumns: columns([
        [1, 'vrrpInstanceIndex', T.Integer, NA],
        [2, 'vrrpInstanceName', T.OctetString],
        [3, 'vrrpInstanceVirtualRouterId', T.Unsigned32],
        [4, 'vrrpInstanceState', T.Integer],
        [5, 'vrrpInstanceInitialState', T.Integer],
        [6, 'vrrpInstanceWantedState', T.Integer],
        [7, 'vrrpInstanceBasePriority', T.Integer],
        [8, 'vrrpInstanceEffectivePriority', T.Integer],
        [9, 'vrrpInstanceVipsStatus', T.Integer],
        [10, 'vrrpInstancePrimaryInterface', T.OctetString],
        [12, 'vrrpInstanceAdvertisementsInt', T.Unsigned32],
        [13, 'vrrpInstancePreempt', T.Integer],
        [18, 'vrrpInstanceSyncGroup', T.OctetString],
        [27, 'vrrpInstanceAccept', T.Integer],
        [30, 'vrrpInstanceVrrpVersion', T.Integer],
      ]),
      tableIndex: [{ columnName: 'vrrpInstanceIndex' }],
    },
  );
  return list;
}

/**
 * RFC 2787 VRRP-MIB (VRRP for IPv4, i.e. VRRPv2: RFC 2338/3768), read-only here as every
 * object vigil serves. vrrpOperTable and vrrpRouterStatsTable are indexed by
 * { ifIndex, vrrpOperVrId }, vrrpAssoIpAddrTable by { ifIndex, vrrpOperVrId, vrrpAssoIpAddr }.
 */
function rfc2787Providers(): snmp.ProviderDefinition[] {
  const ifIndex = { columnName: 'ifIndex', foreign: 'ifTable' };
  const vrId = { columnName: 'vrrpOperVrId', foreign: 'vrrpOperTable' };
  return [
    { name: 'vrrpNodeVersion', type: P.Scalar, oid: `${VRRP_MIB}.1.1`, scalarType: T.Integer, maxAccess: RO },
    { name: 'vrrpNotificationCntl', type: P.Scalar, oid: `${VRRP_MIB}.1.2`, scalarType: T.Integer, maxAccess: RO },
    {
      name: 'vrrpOperTable',
      type: P.Table,
      oid: V2_OPER_ENTRY,
      maxAccess: NA,
      tableColumns: columns([
        [1, 'vrrpOperVrId', T.Integer, NA],
        [2, 'vrrpOperVirtualMacAddr', T.OctetString],
        [3, 'vrrpOperState', T.Integer],
        [4, 'vrrpOperAdminState', T.Integer],
        [5, 'vrrpOperPriority', T.Integer],
        [6, 'vrrpOperIpAddrCount', T.Integer],
        [7, 'vrrpOperMasterIpAddr', T.IpAddress],
        [8, 'vrrpOperPrimaryIpAddr', T.IpAddress],
        [9, 'vrrpOperAuthType', T.Integer],
        [10, 'vrrpOperAuthKey', T.OctetString],
        [11, 'vrrpOperAdvertisementInterval', T.Integer],
        [12, 'vrrpOperPreemptMode', T.Integer],
        [13, 'vrrpOperVirtualRouterUpTime', T.TimeTicks],
        [14, 'vrrpOperProtocol', T.Integer],
        [15, 'vrrpOperRowStatus', T.Integer],
      ]),
      tableIndex: [ifIndex, { columnName: 'vrrpOperVrId' }],
    },
    {
      name: 'vrrpAssoIpAddrTable',
      type: P.Table,
      oid: V2_ASSO_ENTRY,
      maxAccess: NA,
      tableColumns: columns([
        [1, 'vrrpAssoIpAddr', T.IpAddress, NA],
        [2, 'vrrpAssoIpAddrRowStatus', T.Integer],
      ]),
      tableIndex: [ifIndex, vrId, { columnName: 'vrrpAssoIpAddr' }],
    },
    { name: 'vrrpRouterChecksumErrors', type: P.Scalar, oid: `${V2_STATS}.1`, scalarType: T.Counter32, maxAccess: RO },
    { name: 'vrrpRouterVersionErrors', type: P.Scalar, oid: `${V2_STATS}.2`, scalarType: T.Counter32, maxAccess: RO },
    { name: 'vrrpRouterVrIdErrors', type: P.Scalar, oid: `${V2_STATS}.3`, scalarType: T.Counter32, maxAccess: RO },
    {
      name: 'vrrpRouterStatsTable',
      type: P.Table,
      oid: V2_STATS_ENTRY,
      maxAccess: NA,
      tableColumns: columns([
        [1, 'vrrpStatsBecomeMaster', T.Counter32],
        [2, 'vrrpStatsAdvertiseRcvd', T.Counter32],
        [3, 'vrrpStatsAdvertiseIntervalErrors', T.Counter32],
        [4, 'vrrpStatsAuthFailures', T.Counter32],
        [5, 'vrrpStatsIpTtlErrors', T.Counter32],
        [6, 'vrrpStatsPriorityZeroPktsRcvd', T.Counter32],
        [7, 'vrrpStatsPriorityZeroPktsSent', T.Counter32],
        [8, 'vrrpStatsInvalidTypePktsRcvd', T.Counter32],
        [9, 'vrrpStatsAddressListErrors', T.Counter32],
        [10, 'vrrpStatsInvalidAuthType', T.Counter32],
        [11, 'vrrpStatsAuthTypeMismatch', T.Counter32],
        [12, 'vrrpStatsPacketLengthErrors', T.Counter32],
      ]),
      tableIndex: [ifIndex, vrId],
    },
  ];
}

/** Counter32 (RFC 2578 §7.1.6): wraps at 2^32. */
function counter32(n: number): number {
  return n % 2 ** 32;
}

/** An IpAddress value (dotted quad); 0.0.0.0 when there is none. */
export function ipv4Text(text: string | undefined | null): string {
  const a = text === undefined || text === null ? undefined : parseIp(text.split('/')[0] ?? '');
  return a === undefined || a instanceof Error || a.bytes.length !== 4 ? '0.0.0.0' : [...a.bytes].join('.');
}

/** RFC 2787 rows: the VRRPv2 instances (VRRPv2 is IPv4 only), by ifIndex and VrId. */
export function isRfc2787Row(r: SnmpRow): boolean {
  return r.status.version === 2 && r.status.family === 'ipv4';
}

function addRfc2787(mib: snmp.Mib, status: DaemonStatus, config: VigilConfig, rows: readonly SnmpRow[], traps: boolean, upTimeCs: (name: string) => number): void {
  const settings = new Map(config.instances.map((i) => [i.name, i]));
  const all = allRejects(status);
  mib.setScalarValue('vrrpNodeVersion', 2); // "This value MUST be set to 2"
  mib.setScalarValue('vrrpNotificationCntl', traps ? 1 : 2); // enabled(1), disabled(2)
  mib.setScalarValue('vrrpRouterChecksumErrors', counter32(counterSum(all, 'vrrpv3GlobalStatisticsChecksumErrors')));
  mib.setScalarValue('vrrpRouterVersionErrors', counter32(counterSum(all, 'vrrpv3GlobalStatisticsVersionErrors')));
  mib.setScalarValue('vrrpRouterVrIdErrors', counter32(counterSum(all, 'vrrpv3GlobalStatisticsVrIdErrors')));
  const v2 = rows.filter(isRfc2787Row).sort((a, b) => a.ifIndex - b.ifIndex || a.status.vrid - b.status.vrid);
  for (const r of v2) {
    const i = r.status;
    const cfg = settings.get(i.name);
    mib.addTableRow('vrrpOperTable', [
      r.ifIndex,
      i.vrid,
      virtualMac(i.vrid, 'ipv4'),
      rfc6527Status(i.state), // initialize(1), backup(2), master(3): the same numbers as RFC 6527
      1, // vrrpOperAdminState up(1): an instance vigil runs is enabled
      i.effectivePriority,
      i.virtualIps.length,
      ipv4Text(i.master?.address),
      ipv4Text(i.primaryAddress),
      cfg?.authentication.type === 'pass' ? 2 : 1, // simpleTextPassword(2), noAuthentication(1)
      '', // vrrpOperAuthKey: "when read, vrrpOperAuthKey always returns an Octet String of length zero"
      Math.min(255, Math.max(1, Math.round(i.advertIntervalMs / 1000))), // seconds
      truth(cfg?.preempt ?? true),
      upTimeCs(i.name),
      1, // vrrpOperProtocol ip(1)
      1, // RowStatus active(1)
    ]);
    for (const vip of i.virtualIps) mib.addTableRow('vrrpAssoIpAddrTable', [r.ifIndex, i.vrid, ipv4Text(vip), 1]);
    const rej = i.rejected;
    mib.addTableRow('vrrpRouterStatsTable', [
      r.ifIndex,
      i.vrid,
      counter32(i.stats.masterTransitions),
      counter32(i.stats.advertsReceived),
      counter32(counterSum(rej, 'vrrpv3StatisticsAdvIntervalErrors')),
      counter32(counterSum(rej, 'vrrpStatsAuthFailures')),
      counter32(counterSum(rej, 'vrrpv3StatisticsIpTtlErrors')),
      counter32(i.stats.priorityZeroReceived),
      counter32(i.stats.priorityZeroSent),
      counter32(counterSum(rej, 'vrrpv3StatisticsRcvdInvalidTypePackets')),
      counter32(counterSum(rej, 'vrrpv3StatisticsAddressListErrors')),
      counter32(counterSum(rej, 'vrrpStatsInvalidAuthType')),
      counter32(counterSum(rej, 'vrrpStatsAuthTypeMismatch')),
      counter32(counterSum(rej, 'vrrpv3StatisticsPacketLengthErrors')),
    ]);
  }
}

/** TruthValue (SNMPv2-TC): true(1), false(2); keepalived's enabled/preempt enums use the same numbers. */
function truth(b: boolean): number {
  return b ? 1 : 2;
}

/** keepalived's vrrpInstanceInitialState: vigil starts every instance in backup, an address owner in master (RFC 5798 §6.4.1). */
export function initialState(basePriority: number): number {
  return keepalivedMibState(basePriority === 255 ? 'master' : 'backup');
}

/** Builds a fresh MIB of the current status. */
export function buildMib(
  status: DaemonStatus,
  config: VigilConfig,
  rows: readonly SnmpRow[],
  options: { readonly keepalivedMib: boolean; readonly traps: boolean },
  upTimeCs: (name: string) => number,
): snmp.Mib {
  const { keepalivedMib } = options;
  const mib = snmp.createMib();
  for (const p of providers(keepalivedMib)) mib.registerProvider(p);
  const settings = new Map(config.instances.map((i) => [i.name, i]));
  const all = allRejects(status);
  mib.setScalarValue('vrrpv3RouterChecksumErrors', counterSum(all, 'vrrpv3GlobalStatisticsChecksumErrors'));
  mib.setScalarValue('vrrpv3RouterVersionErrors', counterSum(all, 'vrrpv3GlobalStatisticsVersionErrors'));
  mib.setScalarValue('vrrpv3RouterVrIdErrors', counterSum(all, 'vrrpv3GlobalStatisticsVrIdErrors'));
  mib.setScalarValue('vrrpv3GlobalStatisticsDiscontinuityTime', 0);
  const sorted = [...rows].sort((a, b) => a.ifIndex - b.ifIndex || a.status.vrid - b.status.vrid || inetType(a.status.family) - inetType(b.status.family));
  for (const r of sorted) {
    const i = r.status;
    const cfg = settings.get(i.name);
    const idx = [r.ifIndex, i.vrid, inetType(i.family)] as const;
    mib.addTableRow('vrrpv3OperationsTable', [
      r.ifIndex,
      i.vrid,
      inetType(i.family),
      inetAddress(i.master?.address),
      inetAddress(i.primaryAddress),
      virtualMac(i.vrid, i.family),
      rfc6527Status(i.state),
      i.effectivePriority,
      i.virtualIps.length,
      Math.round(i.advertIntervalMs / 10),
      truth(cfg?.preempt ?? true),
      truth(cfg?.acceptMode ?? false),
      upTimeCs(i.name),
      1, // RowStatus active(1)
    ]);
    for (const vip of i.virtualIps) mib.addTableRow('vrrpv3AssociatedIpAddrTable', [...idx, inetAddress(vip), 1]);
    const rej = i.rejected;
    mib.addTableRow('vrrpv3StatisticsTable', [
      ...idx,
      i.stats.masterTransitions,
      NEW_MASTER_REASON[i.stats.newMasterReason],
      i.stats.advertsReceived,
      counterSum(rej, 'vrrpv3StatisticsAdvIntervalErrors'),
      counterSum(rej, 'vrrpv3StatisticsIpTtlErrors'),
      PROTO_ERR_REASON[r.protoErr],
      i.stats.priorityZeroReceived,
      i.stats.priorityZeroSent,
      counterSum(rej, 'vrrpv3StatisticsRcvdInvalidTypePackets'),
      counterSum(rej, 'vrrpv3StatisticsAddressListErrors'),
      counterSum(rej, 'vrrpv3StatisticsPacketLengthErrors'),
      0,
      REFRESH_RATE_MS,
    ]);
  }
  addRfc2787(mib, status, config, rows, options.traps, upTimeCs);
  if (keepalivedMib) {
    mib.setScalarValue('routerId', hostname());
    const byName = new Map(status.instances.map((i) => [i.name, i]));
    config.syncGroups.forEach((g, n) => {
      const states = g.instances.map((name) => byName.get(name)?.state ?? 'initialize');
      mib.addTableRow('vrrpSyncGroupTable', [n + 1, g.name, keepalivedMibState(groupState(states))]);
    });
    for (const r of [...rows].sort((a, b) => a.kaIndex - b.kaIndex)) {
      const i = r.status;
      const cfg = settings.get(i.name);
      mib.addTableRow('vrrpInstanceTable', [
        r.kaIndex,
        i.name,
        i.vrid,
        keepalivedMibState(i.state),
        initialState(i.basePriority),
        keepalivedMibState(i.state === 'master' || i.state === 'backup' ? i.state : 'backup'),
        i.basePriority,
        i.effectivePriority,
        i.vipsInstalled ? 1 : 2,
        i.interface,
        // "seconds(VRRPv2) / centiseconds(VRRPv3)"
        i.version === 2 ? Math.round(i.advertIntervalMs / 1000) : Math.round(i.advertIntervalMs / 10),
        truth(cfg?.preempt ?? true),
        syncGroupOf(config, i.name) ?? '',
        truth(cfg?.acceptMode ?? false),
        i.version,
      ]);
    }
  }
  return mib;
}

/** keepalived: a sync group is in the worst state of its members (fault > backup > master). */
function groupState(states: readonly string[]): 'fault' | 'backup' | 'master' | 'initialize' {
  if (states.includes('fault')) return 'fault';
  if (states.includes('initialize')) return 'initialize';
  if (states.includes('backup')) return 'backup';
  return 'master';
}

