/**
 * SNMP (issue 11 §5): an AgentX subagent (RFC 2741) of net-snmp's snmpd, through the npm
 * `net-snmp` package, which speaks AgentX over TCP only: snmpd needs `master agentx` and
 * `agentXSocket tcp:127.0.0.1:705` (docs/monitoring.md).
 *
 * - VRRPv3-MIB (RFC 6527, mib-2 207): vrrpv3OperationsTable, vrrpv3AssociatedIpAddrTable,
 *   vrrpv3StatisticsTable, the global error counters, notifications vrrpv3NewMaster and
 *   vrrpv3ProtoError.
 * - VRRP-MIB (RFC 2787, mib-2 68) for the VRRPv2 instances: vrrpOperTable,
 *   vrrpAssoIpAddrTable, vrrpRouterStatsTable, the global error counters, notification
 *   vrrpTrapNewMaster.
 * - KEEPALIVED-MIB subset (enterprises.9586.100.5): vrrpSyncGroupTable name/state,
 *   vrrpInstanceTable name/VRID/state/priorities/VIP status/interface/interval/preempt/
 *   sync group/accept/version, routerId, traps vrrpSyncGroupStateChange and
 *   vrrpInstanceStateChange; so NMS templates for keepalived keep working.
 *
 * The MIB is rebuilt from `DaemonStatus` before answering a request when an event came in or
 * the last build is older than vrrpv3StatisticsRefreshRate (1 s), so a walk reads current
 * values. When snmpd goes away (restart, crash) the subagent reconnects with a backoff and
 * registers again; nothing of it can throw into the daemon (keepalived's subagent crashed
 * on reload: keepalived issues #1580, #2086).
 */
import { hostname } from 'node:os';
import snmp from 'net-snmp';
import type { SnmpNotifierConfig } from '../config/notifier-types.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import type { Logger } from '../daemon/logger.js';
import type { EventOf, StampedEvent } from '../events/types.js';
import type { RejectReason } from '../vrrp/rejection.js';
import { NEW_MASTER_REASON, PROTO_ERR_REASON, interfaceIndex, keepalivedMibState, protoErrReason, type MonitorCounters, type MonitorHost, type ProtoErrReason } from './common.js';
import { errorText } from '../base/error-text.js';
import {
  KA_INSTANCE_ENTRY,
  KA_INSTANCE_STATE_CHANGE,
  KA_ROUTER_ID,
  KA_SYNC_ENTRY,
  KA_SYNC_GROUP_STATE_CHANGE,
  OPS_ENTRY,
  REFRESH_RATE_MS,
  STATS_ENTRY,
  VRRPV3_NEW_MASTER,
  VRRPV3_PROTO_ERROR,
  VRRP_TRAP_NEW_MASTER,
  V2_OPER_ENTRY,
  buildMib,
  inetAddress,
  initialState,
  ipv4Text,
  isRfc2787Row,
  providers,
  rowIndex,
  type SnmpRow,
} from './snmp-mib.js';

export { KEEPALIVED_MIB, VRRPV3_MIB, VRRP_MIB } from './snmp-mib.js';

/** AgentX PDU type Close (RFC 2741 §6.1): the master ends the session (snmpd stopping). */
const AGENTX_CLOSE = 2;
const AGENTX_HEADER = 20;
const AGENTX_NETWORK_BYTE_ORDER = 0x10;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

/**
 * net-snmp 3.x writes an AgentX octet string (RFC 2741 §5.3: a 4-byte length, the octets,
 * padding to 4 bytes) with the length of a JavaScript string and its UTF-8 bytes: a Buffer
 * (an InetAddress, a MacAddress) fails, and a non-ASCII name gets a wrong length. Written
 * here from bytes instead.
 */
snmp.AgentXPdu.writeOctetString = (buffer, value) => {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  buffer.writeUInt32BE(bytes.length);
  buffer.writeBuffer(bytes);
  for (let i = 0; i < (4 - (bytes.length % 4)) % 4; i++) buffer.writeUInt8(0);
};

/**
 * net-snmp 3.x writes an AgentX IpAddress varbind (RFC 2741 §5.4: an octet string of 4
 * bytes) by calling a method its buffer does not have, so any IpAddress in a response or a
 * notification throws (RFC 2787's vrrpOperMasterIpAddr, vrrpTrapNewMaster). Written here.
 */
const writeVarBind = snmp.AgentXPdu.writeVarBind;
snmp.AgentXPdu.writeVarBind = (buffer, varbind) => {
  if (varbind.type !== snmp.ObjectType.IpAddress || !varbind.oid) {
    writeVarBind(buffer, varbind);
    return;
  }
  const bytes = String(varbind.value).split('.').map(Number);
  if (bytes.length !== 4 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) throw new Error(`AgentX varbind ${varbind.oid}: invalid IpAddress ${String(varbind.value)}`);
  buffer.writeUInt16BE(varbind.type);
  buffer.writeUInt16BE(0); // reserved
  snmp.AgentXPdu.writeOid(buffer, varbind.oid);
  snmp.AgentXPdu.writeOctetString(buffer, Buffer.from(bytes));
};

export class SnmpMonitor {
  readonly counters: MonitorCounters = { sent: 0, failed: 0, reconnects: 0 };
  private agent: snmp.Subagent | undefined;
  private registered = false;
  private dirty = true;
  private builtAt = 0;
  private stopped = false;
  private retryMs = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  /** Per instance: the protocol-error counters last seen, and the last reason (RFC 6527 ProtoErrReason). */
  private readonly protoSeen = new Map<string, Record<ProtoErrReason, number>>();
  private readonly protoErr = new Map<string, ProtoErrReason>();
  /** Daemon uptime (cs) when each instance left initialize: vrrpv3OperationsUpTime. */
  private readonly upSince = new Map<string, number>();
  /** Resolves when the subagent is registered (tests and the bench wait on it). */
  private readyWaiters: (() => void)[] = [];

  private constructor(
    private readonly config: SnmpNotifierConfig,
    private readonly host: MonitorHost,
    private readonly log: Logger,
  ) {
    // When each instance left initialize (vrrpv3OperationsUpTime), from the events before we came.
    for (const e of host.events.since()) if (e.kind === 'instance-state') this.trackUpTime(e);
    this.unsubscribe = host.events.subscribe((e) => this.onEvent(e));
    // Protocol errors are seen in the counters: look at them once per refresh period.
    this.pollTimer = setInterval(() => this.checkProtocolErrors(true), REFRESH_RATE_MS);
    this.pollTimer.unref();
    this.checkProtocolErrors(false);
  }

  /** Starts connecting; never fails because snmpd is not there (it may come later). */
  static start(config: SnmpNotifierConfig, host: MonitorHost, log: Logger): SnmpMonitor {
    const m = new SnmpMonitor(config, host, log);
    m.connect();
    return m;
  }

  get connected(): boolean {
    return this.registered;
  }

  /** Resolves once registered with the master agent (at once when it is). */
  ready(): Promise<void> {
    return this.registered ? Promise.resolve() : new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private connect(): void {
    if (this.stopped) return;
    const { host, port } = this.config.agentx;
    // The providers go into an empty MIB as they are registered; the MIB with the rows
    // replaces it once all are (and again whenever the status changed, before a request).
    const empty = snmp.createMib();
    for (const p of providers(false).filter((p) => p.name === 'ifTable')) empty.registerProvider(p);
    const agent = snmp.createSubagent({ master: host, masterPort: port, timeout: 0, description: 'vigil VRRP subagent (VRRPv3-MIB, VRRP-MIB, KEEPALIVED-MIB)', mib: empty });
    this.agent = agent;
    this.registered = false;
    // A malformed PDU, a Close from snmpd, or a response the library did not expect must not
    // throw out of the socket's data handler (which would end the daemon): the library's
    // handler is replaced by one that catches, and refreshes the MIB before a request.
    const handle = agent.onMsg.bind(agent);
    const onPdu = (pdu: Buffer): void => {
      try {
        if (pdu[1] === AGENTX_CLOSE) {
          agent.socket?.destroy();
          return;
        }
        if (this.registered && (this.dirty || Date.now() - this.builtAt >= REFRESH_RATE_MS)) agent.mib = this.mib();
        handle(pdu);
      } catch (e) {
        this.counters.failed++;
        this.log.log('warn', 'snmp-agentx-error', { detail: errorText(e) });
      }
    };
    // The library parses one PDU per 'data' chunk; TCP may carry several in one chunk (the
    // responses to our Register PDUs do) or one in several: frame them here (RFC 2741 §6.1:
    // a 20-byte header whose last field is the payload length, in network byte order when
    // the NETWORK_BYTE_ORDER flag is set).
    let pending: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= AGENTX_HEADER) {
        const bigEndian = ((pending[2] ?? 0) & AGENTX_NETWORK_BYTE_ORDER) !== 0;
        const length = AGENTX_HEADER + (bigEndian ? pending.readUInt32BE(16) : pending.readUInt32LE(16));
        if (pending.length < length) break;
        const pdu = pending.subarray(0, length);
        pending = pending.subarray(length);
        onPdu(pdu);
      }
    };
    agent.socket?.removeAllListeners('data');
    agent.socket?.on('data', onData);
    agent.on('error', (e: unknown) => {
      if (this.registered || this.retryMs === RECONNECT_MIN_MS) this.log.log('warn', 'snmp-agentx-error', { master: `${host}:${port}`, detail: errorText(e) });
    });
    agent.on('close', () => {
      if (this.agent !== agent) return;
      const was = this.registered;
      this.registered = false;
      if (this.stopped) return;
      if (was) this.log.log('warn', 'snmp-agentx-closed', { master: `${host}:${port}`, detail: 'the master agent went away; reconnecting' });
      this.retryTimer = setTimeout(() => {
        this.counters.reconnects++;
        this.connect();
      }, this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
    });
    agent.open((error) => {
      if (error) {
        this.log.log('warn', 'snmp-agentx-open-failed', { master: `${host}:${port}`, detail: errorText(error) });
        return;
      }
      const list = providers(this.config.keepalivedMib).filter((p) => p.name !== 'ifTable');
      let pending = list.length;
      for (const p of list) {
        agent.registerProvider(p, (e) => {
          if (e) this.log.log('warn', 'snmp-register-failed', { oid: p.oid, detail: errorText(e) });
          if (--pending === 0 && this.agent === agent) {
            agent.mib = this.mib();
            this.registered = true;
            this.retryMs = RECONNECT_MIN_MS;
            this.log.log('info', 'snmp-registered', { master: `${host}:${port}`, keepalivedMib: this.config.keepalivedMib });
            for (const w of this.readyWaiters.splice(0)) w();
          }
        });
      }
    });
  }

  private rows(status: DaemonStatus): SnmpRow[] {
    const order = new Map(this.host.config().instances.map((i, n) => [i.name, n + 1]));
    return status.instances.map((i) => {
      const ifIndex = interfaceIndex(i.interface);
      return { name: i.name, kaIndex: order.get(i.name) ?? 0, ifIndex, index: rowIndex(ifIndex, i.vrid, i.family), status: i, protoErr: this.protoErr.get(i.name) ?? 'noError' };
    });
  }

  private mib(): snmp.Mib {
    const status = this.host.status();
    this.dirty = false;
    this.builtAt = Date.now();
    return buildMib(status, this.host.config(), this.rows(status), { keepalivedMib: this.config.keepalivedMib, traps: this.config.traps }, (name) => this.upSince.get(name) ?? 0);
  }

  private onEvent(e: StampedEvent): void {
    if (this.stopped) return;
    this.dirty = true;
    if (e.kind === 'instance-state') {
      this.trackUpTime(e);
      if (!this.config.traps) return;
      const status = this.host.status();
      const row = this.rows(status).find((r) => r.name === e.instance);
      if (!row) return;
      if (e.to === 'master') {
        // RFC 6527 vrrpv3NewMaster: "the sending agent has transitioned to master state",
        // OBJECTS { vrrpv3OperationsMasterIpAddr, vrrpv3StatisticsNewMasterReason }.
        this.trap(VRRPV3_NEW_MASTER, [
          { oid: `${OPS_ENTRY}.3.${row.index}`, type: snmp.ObjectType.OctetString, value: inetAddress(e.master ?? row.status.primaryAddress) },
          { oid: `${STATS_ENTRY}.2.${row.index}`, type: snmp.ObjectType.Integer, value: NEW_MASTER_REASON[row.status.stats.newMasterReason] },
        ]);
      }
      if (e.to === 'master' && isRfc2787Row(row)) {
        // RFC 2787 vrrpTrapNewMaster: "generated when the agent has transitioned to
        // 'Master'", OBJECTS { vrrpOperMasterIpAddr } (index ifIndex.VrId).
        this.trap(VRRP_TRAP_NEW_MASTER, [{ oid: `${V2_OPER_ENTRY}.7.${row.ifIndex}.${row.status.vrid}`, type: snmp.ObjectType.IpAddress, value: ipv4Text(e.master ?? row.status.primaryAddress) }]);
      }
      if (this.config.keepalivedMib) {
        // KEEPALIVED-MIB vrrpInstanceStateChange: OBJECTS { vrrpInstanceName, vrrpInstanceState, vrrpInstanceInitialState, routerId }.
        this.trap(KA_INSTANCE_STATE_CHANGE, [
          { oid: `${KA_INSTANCE_ENTRY}.2.${row.kaIndex}`, type: snmp.ObjectType.OctetString, value: e.instance },
          { oid: `${KA_INSTANCE_ENTRY}.4.${row.kaIndex}`, type: snmp.ObjectType.Integer, value: keepalivedMibState(e.to) },
          { oid: `${KA_INSTANCE_ENTRY}.5.${row.kaIndex}`, type: snmp.ObjectType.Integer, value: initialState(e.basePriority) },
          { oid: `${KA_ROUTER_ID}.0`, type: snmp.ObjectType.OctetString, value: hostname() },
        ]);
      }
    } else if (e.kind === 'group-state' && this.config.traps && this.config.keepalivedMib) {
      const config = this.host.config();
      const n = config.syncGroups.findIndex((g) => g.name === e.group);
      if (n < 0) return;
      // KEEPALIVED-MIB vrrpSyncGroupStateChange: OBJECTS { vrrpSyncGroupName, vrrpSyncGroupState, routerId }.
      this.trap(KA_SYNC_GROUP_STATE_CHANGE, [
        { oid: `${KA_SYNC_ENTRY}.2.${n + 1}`, type: snmp.ObjectType.OctetString, value: e.group },
        { oid: `${KA_SYNC_ENTRY}.3.${n + 1}`, type: snmp.ObjectType.Integer, value: keepalivedMibState(e.to) },
        { oid: `${KA_ROUTER_ID}.0`, type: snmp.ObjectType.OctetString, value: hostname() },
      ]);
    }
  }

  /**
   * RFC 6527 vrrpv3OperationsUpTime: "the value of the sysUpTime object when this virtual
   * router (i.e., the 'status') transitioned out of 'initialized'"; kept as the daemon's
   * uptime at that moment (the subagent does not know snmpd's sysUpTime).
   */
  private trackUpTime(e: EventOf<'instance-state'>): void {
    if (e.to === 'initialize' || e.to === 'fault') {
      this.upSince.delete(e.instance);
    } else if (!this.upSince.has(e.instance)) {
      const uptimeAtEvent = this.host.status().uptimeMs - (performance.now() - e.mono);
      this.upSince.set(e.instance, Math.max(0, Math.round(uptimeAtEvent / 10)));
    }
  }

  /**
   * RFC 6527 vrrpv3StatisticsProtoErrReason: "the last protocol error" of the row; a rise
   * of a TTL, version, checksum or VRID error counter sets it and sends vrrpv3ProtoError.
   * Version, checksum and VRID errors are counted per socket (before an instance is known):
   * they go to every row on that socket's interface and family.
   */
  private checkProtocolErrors(notify: boolean): void {
    if (this.stopped) return;
    let status: DaemonStatus;
    try {
      status = this.host.status();
    } catch {
      return;
    }
    for (const i of status.instances) {
      const counts: Record<ProtoErrReason, number> = { noError: 0, ipTtlError: 0, versionError: 0, checksumError: 0, vrIdError: 0 };
      const add = (rej: Partial<Record<RejectReason, number>>): void => {
        for (const [reason, n] of Object.entries(rej) as [RejectReason, number][]) {
          const p = protoErrReason(reason);
          if (p) counts[p] += n;
        }
      };
      add(i.rejected);
      for (const [key, rej] of Object.entries(status.socketRejects)) if (key.startsWith(`${i.interface}/${i.family}/`)) add(rej);
      const before = this.protoSeen.get(i.name);
      this.protoSeen.set(i.name, counts);
      if (!before) continue;
      for (const reason of ['ipTtlError', 'versionError', 'checksumError', 'vrIdError'] as const) {
        if (counts[reason] <= before[reason]) continue;
        this.protoErr.set(i.name, reason);
        this.dirty = true;
        if (!notify || !this.config.traps) continue;
        const row = this.rows(status).find((r) => r.name === i.name);
        if (row) this.trap(VRRPV3_PROTO_ERROR, [{ oid: `${STATS_ENTRY}.6.${row.index}`, type: snmp.ObjectType.Integer, value: PROTO_ERR_REASON[reason] }]);
      }
    }
  }

  private trap(oid: string, varbinds: snmp.Varbind[]): void {
    const agent = this.agent;
    if (!agent || !this.registered) {
      this.counters.failed++;
      this.log.log('warn', 'snmp-trap-not-sent', { trap: oid, detail: 'not connected to the master agent' });
      return;
    }
    try {
      agent.notify(oid, varbinds, (e) => {
        if (e) {
          this.counters.failed++;
          this.log.log('warn', 'snmp-trap-failed', { trap: oid, detail: errorText(e) });
        }
      });
      this.counters.sent++;
    } catch (e) {
      this.counters.failed++;
      this.log.log('warn', 'snmp-trap-failed', { trap: oid, detail: errorText(e) });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    clearInterval(this.pollTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const agent = this.agent;
    this.agent = undefined;
    if (!agent) return;
    if (this.registered) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        try {
          agent.close(() => {
            clearTimeout(timer);
            resolve();
          });
        } catch {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    agent.socket?.destroy();
  }
}
