/**
 * Prometheus metrics (issue 11 §6): the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), served over HTTP at
 * /metrics and/or written to a node_exporter textfile-collector file.
 *
 * Written by hand, not with prom-client: every value is read from `DaemonStatus` at scrape
 * time (nothing to keep in sync), the format is small, and prom-client costs memory for
 * nothing used here (docs/monitoring.md gives the measured figures).
 *
 * Names follow Prometheus' conventions (base units, `_total` only on counters) and,
 * where they port, mehdy/keepalived-exporter's (labels `iname`, `intf`, `vrid`): its
 * `keepalived_vrrp_state` is `vigil_vrrp_state` with the same numbers (keepalived's
 * init 0, backup 1, master 2, fault 3). No counter carries a state label, so no series
 * starts or ends at a failover (gen2brain/keepalived_exporter's counters do).
 */
import { createServer, type Server } from 'node:http';
import { rename, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import type { PrometheusNotifierConfig } from '../config/notifier-types.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import type { Logger } from '../daemon/logger.js';
import { INFINITY } from '../resources/types.js';
import { REJECT_REASONS } from '../vrrp/rejection.js';
import { errorText } from '../base/error-text.js';
import { countEvents, dbusState, type EventCounters, type MonitorCounters, type MonitorHost, type NotifierStats } from './common.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type MetricType = 'gauge' | 'counter';
type Labels = Readonly<Record<string, string | number>>;

/** Collects samples per metric family, then prints them grouped (HELP and TYPE once each). */
class Exposition {
  private readonly families = new Map<string, { help: string; type: MetricType; samples: string[] }>();

  add(name: string, type: MetricType, help: string, labels: Labels, value: number): void {
    let f = this.families.get(name);
    if (!f) {
      f = { help, type, samples: [] };
      this.families.set(name, f);
    }
    const keys = Object.keys(labels);
    const l = keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escapeLabel(String(labels[k]))}"`).join(',')}}`;
    f.samples.push(`${name}${l} ${formatValue(value)}`);
  }

  /** A family with no sample yet still gets its HELP and TYPE (dashboards see it exists). */
  declare(name: string, type: MetricType, help: string): void {
    if (!this.families.has(name)) this.families.set(name, { help, type, samples: [] });
  }

  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${f.type}`, ...f.samples);
    }
    return `${out.join('\n')}\n`;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

// EventCounters and countEvents live in common.ts: the monitor set counts from the start
// without loading this module (node:http) when no Prometheus endpoint is configured.
export { EventCounters, countEvents } from './common.js';

export interface RenderInput {
  readonly status: DaemonStatus;
  readonly counters: EventCounters;
  readonly notifiers: readonly NotifierStats[];
  readonly monitors: Readonly<Record<string, MonitorCounters>>;
  /** Process metrics (absent in tests that want a fixed output). */
  readonly process?: ProcessSample;
}

export interface ProcessSample {
  readonly cpuSeconds: number;
  readonly residentBytes: number;
  readonly heapBytes: number;
  readonly startTimeSeconds: number;
  readonly openFds: number;
}

export function sampleProcess(): ProcessSample {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  let openFds = 0;
  try {
    openFds = readdirSync('/proc/self/fd').length;
  } catch {
    // not Linux: left at 0
  }
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    residentBytes: mem.rss,
    heapBytes: mem.heapUsed,
    startTimeSeconds: processStartSeconds(),
    openFds,
  };
}

let startSeconds: number | undefined;
function processStartSeconds(): number {
  if (startSeconds === undefined) {
    // /proc/self/stat field 22 is in clock ticks since boot; the uptime gives it a date.
    try {
      const stat = readFileSync('/proc/self/stat', 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[19]);
      const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
      startSeconds = Math.round((Date.now() / 1000 - uptime + ticks / 100) * 100) / 100;
    } catch {
      startSeconds = Math.round(Date.now() / 1000 - process.uptime());
    }
  }
  return startSeconds;
}

/** The exposition of one status. */
export function renderMetrics(input: RenderInput): string {
  const { status, counters } = input;
  const x = new Exposition();
  const now = Date.now();
  x.add('vigil_up', 'gauge', 'Whether the vigil daemon runs (always 1 when scraped).', {}, 1);
  x.add('vigil_start_time_seconds', 'gauge', 'When the daemon started, seconds since the epoch.', {}, Date.parse(status.startedAt) / 1000);
  x.add('vigil_reloads_total', 'counter', 'Config reloads applied.', {}, status.reloads);
  x.add('vigil_events_total', 'counter', 'Events on the daemon event stream since start.', {}, counters.events);

  const declareVrrp: [string, MetricType, string][] = [
    ['vigil_vrrp_state', 'gauge', "Instance state in keepalived's numbers: 0 init, 1 backup, 2 master, 3 fault (keepalived_vrrp_state)."],
    ['vigil_vrrp_instance_state', 'gauge', 'Instance state as a state set: 1 for the current state, 0 for the others.'],
    ['vigil_vrrp_priority', 'gauge', 'Effective priority (after tracking and health checks).'],
    ['vigil_vrrp_base_priority', 'gauge', 'Configured priority.'],
  ];
  for (const [n, t, h] of declareVrrp) x.declare(n, t, h);
  for (const i of status.instances) {
    const l = { iname: i.name, intf: i.interface, vrid: i.vrid, family: i.family };
    x.add('vigil_vrrp_state', 'gauge', declareVrrp[0]![2], l, dbusState(i.state)[0]);
    for (const s of ['initialize', 'backup', 'master', 'fault'] as const) {
      x.add('vigil_vrrp_instance_state', 'gauge', declareVrrp[1]![2], { ...l, state: s }, i.state === s ? 1 : 0);
    }
    x.add('vigil_vrrp_priority', 'gauge', declareVrrp[2]![2], l, i.effectivePriority);
    x.add('vigil_vrrp_base_priority', 'gauge', declareVrrp[3]![2], l, i.basePriority);
    x.add('vigil_vrrp_advert_interval_seconds', 'gauge', 'Configured advertisement interval.', l, i.advertIntervalMs / 1000);
    x.add('vigil_vrrp_vips_installed', 'gauge', 'Whether the virtual addresses are on the interface (1) or not (0).', l, i.vipsInstalled ? 1 : 0);
    x.add('vigil_vrrp_vips', 'gauge', 'Virtual addresses configured.', l, i.virtualIps.length);
    x.add('vigil_vrrp_advertisements_received_total', 'counter', 'Adverts accepted (RFC 6527 vrrpv3StatisticsRcvdAdvertisements; keepalived_advert_rcvd_total).', l, i.stats.advertsReceived);
    x.add('vigil_vrrp_advertisements_sent_total', 'counter', 'Adverts sent (keepalived_advert_sent_total).', l, i.stats.advertsSent);
    x.add('vigil_vrrp_master_transitions_total', 'counter', 'Transitions to master (RFC 6527 vrrpv3StatisticsMasterTransitions; keepalived_become_master_total).', l, i.stats.masterTransitions);
    x.add('vigil_vrrp_master_releases_total', 'counter', 'Transitions out of master seen since the daemon started (keepalived_release_master_total).', l, counters.releasedMaster.get(i.name) ?? 0);
    x.add('vigil_vrrp_priority_zero_received_total', 'counter', 'Priority-0 adverts received (keepalived_pri_zero_rcvd_total).', l, i.stats.priorityZeroReceived);
    x.add('vigil_vrrp_priority_zero_sent_total', 'counter', 'Priority-0 adverts sent (keepalived_pri_zero_sent_total).', l, i.stats.priorityZeroSent);
    x.add('vigil_vrrp_gratuitous_announcements_total', 'counter', 'Gratuitous ARP / unsolicited NA rounds sent.', l, counters.announcements.get(i.name) ?? 0);
    x.add('vigil_vrrp_master_rx_lower_priority_total', 'counter', 'Adverts of lower priority heard while master.', l, counters.masterRxLowerPriority.get(i.name) ?? 0);
    for (const reason of REJECT_REASONS) {
      x.add('vigil_vrrp_adverts_dropped_total', 'counter', 'Adverts dropped by this instance, by reason (RFC 6527 counters; see docs/monitoring.md).', { ...l, reason }, i.rejected[reason] ?? 0);
    }
    const t = counters.lastTransition.get(i.name);
    if (t !== undefined) x.add('vigil_vrrp_last_transition_timestamp_seconds', 'gauge', 'When the instance last changed state, seconds since the epoch.', l, t / 1000);
    x.add('vigil_vrrp_master_priority', 'gauge', 'Priority of the current master as last heard (-1: no master known).', l, i.master?.priority ?? -1);
  }
  for (const [socket, counts] of Object.entries(status.socketRejects)) {
    for (const reason of REJECT_REASONS) {
      x.add('vigil_vrrp_socket_adverts_dropped_total', 'counter', 'Adverts dropped before an instance was known (bad version, checksum, unknown VRID...), by socket and reason.', { socket, reason }, counts[reason] ?? 0);
    }
  }
  for (const [socket, c] of Object.entries(status.sockets)) {
    x.add('vigil_vrrp_socket_packets_received_total', 'counter', 'Packets the VRRP socket passed on.', { socket }, c.received);
    x.add('vigil_vrrp_socket_packets_sent_total', 'counter', 'Packets the VRRP socket sent.', { socket }, c.sent);
    x.add('vigil_vrrp_socket_malformed_total', 'counter', 'Packets the VRRP socket dropped as malformed.', { socket }, c.malformed);
    x.add('vigil_vrrp_socket_receive_errors_total', 'counter', 'Receive errors on the VRRP socket.', { socket }, c.receiveErrors);
  }

  const q = status.quorum;
  if (q) {
    x.add('vigil_quorum_quorate', 'gauge', 'Whether this node is quorate.', {}, q.quorate ? 1 : 0);
    x.add('vigil_quorum_votes', 'gauge', 'Votes of the current partition (corosync Total votes).', {}, q.totalVotes);
    x.add('vigil_quorum_expected_votes', 'gauge', 'Expected votes.', {}, q.expectedVotes);
    x.add('vigil_quorum_needed_votes', 'gauge', 'Votes needed for quorum (corosync Quorum).', {}, q.quorum);
    x.add('vigil_quorum_members', 'gauge', 'Members of the current partition.', {}, q.members.length);
    x.add('vigil_quorum_heartbeats_sent_total', 'counter', 'Quorum heartbeats sent.', {}, q.heartbeats.sent);
    x.add('vigil_quorum_heartbeats_accepted_total', 'counter', 'Quorum heartbeats accepted.', {}, q.heartbeats.accepted);
    for (const [reason, n] of Object.entries(q.heartbeats.rejected)) {
      x.add('vigil_quorum_heartbeats_rejected_total', 'counter', 'Quorum heartbeats rejected, by reason.', { reason }, n ?? 0);
    }
    for (const p of q.peers) {
      x.add('vigil_quorum_peer_member', 'gauge', 'Whether the peer is in this node\'s partition.', { node: p.name, node_id: p.id }, p.member ? 1 : 0);
    }
  }

  const r = status.resources;
  if (r) {
    x.add('vigil_node_standby', 'gauge', 'Whether the node is in standby.', {}, r.node.standby ? 1 : 0);
    x.add('vigil_node_maintenance', 'gauge', 'Whether the node is in maintenance.', {}, r.node.maintenance ? 1 : 0);
    for (const res of r.resources) {
      const l = { resource: res.name, group: res.group ?? '' };
      x.add('vigil_resource_running', 'gauge', 'Whether the resource runs here (state started).', l, res.state === 'started' ? 1 : 0);
      x.add('vigil_resource_fail_count', 'gauge', 'Unexpired failures (Pacemaker fail-count; +Inf after a fatal failure).', l, res.failCount >= INFINITY ? Infinity : res.failCount);
      x.add('vigil_resource_banned', 'gauge', 'Whether the resource\'s group is banned on this node.', l, res.banned ? 1 : 0);
      if (res.lastFailure) {
        x.add('vigil_resource_last_failure_timestamp_seconds', 'gauge', 'When the resource last failed, seconds since the epoch.', l, Math.round((now - res.lastFailure.agoMs) / 10) / 100);
      }
    }
    for (const h of r.healthChecks) {
      x.add('vigil_health_check_up', 'gauge', 'Whether the health check passes (its last result).', { check: h.name }, h.lastResult?.ok === true ? 1 : 0);
      x.add('vigil_health_check_transitions_total', 'counter', 'Health check state changes seen since the daemon started.', { check: h.name }, counters.healthTransitions.get(h.name) ?? 0);
    }
  }

  for (const n of input.notifiers) {
    const l = { notifier: n.notifier };
    x.add('vigil_notify_backlog', 'gauge', 'Events waiting in a notifier (scripts, FIFO).', l, n.backlog);
    x.add('vigil_notify_delivered_total', 'counter', 'Events a notifier delivered.', l, n.delivered);
    x.add('vigil_notify_lost_total', 'counter', 'Events a notifier lost (its bound was hit).', l, n.lost);
    x.add('vigil_notify_failures_total', 'counter', 'Notifier failures (script exit status, timeout, write error).', l, n.failures);
  }
  for (const [monitor, c] of Object.entries(input.monitors)) {
    x.add('vigil_monitor_sent_total', 'counter', 'Signals (D-Bus) and notifications (SNMP) sent.', { monitor }, c.sent);
    x.add('vigil_monitor_failed_total', 'counter', 'Signals and notifications that could not be sent.', { monitor }, c.failed);
    x.add('vigil_monitor_reconnects_total', 'counter', 'Reconnections to the bus or the SNMP master agent.', { monitor }, c.reconnects);
  }

  const p = input.process;
  if (p) {
    x.add('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', {}, p.cpuSeconds);
    x.add('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', {}, p.residentBytes);
    x.add('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', {}, p.startTimeSeconds);
    x.add('process_open_fds', 'gauge', 'Number of open file descriptors.', {}, p.openFds);
    x.add('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, bytes.', {}, p.heapBytes);
  }
  return x.text();
}

/** The HTTP endpoint and/or the textfile writer. */
export class PrometheusMonitor {
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  readonly counters: EventCounters;
  private readonly unsubscribe: () => void;
  scrapes = 0;
  textfileWrites = 0;
  textfileErrors = 0;

  private constructor(
    private readonly config: PrometheusNotifierConfig,
    private readonly host: MonitorHost,
    private readonly log: Logger,
    private readonly monitors: () => Readonly<Record<string, MonitorCounters>>,
    counters: EventCounters | undefined,
  ) {
    if (counters) {
      this.counters = counters;
      this.unsubscribe = () => undefined;
    } else {
      const own = countEvents(host);
      this.counters = own.counters;
      this.unsubscribe = own.stop;
    }
  }

  /** `counters`: the monitor set's event counts (kept across reloads); absent: this endpoint counts its own. */
  static async start(
    config: PrometheusNotifierConfig,
    host: MonitorHost,
    log: Logger,
    monitors: () => Readonly<Record<string, MonitorCounters>> = () => ({}),
    counters?: EventCounters,
  ): Promise<PrometheusMonitor> {
    const m = new PrometheusMonitor(config, host, log, monitors, counters);
    try {
      if (config.listen) await m.listen(config.listen.host, config.listen.port);
      if (config.textfile !== undefined) {
        await m.writeTextfile();
        m.timer = setInterval(() => void m.writeTextfile(), config.textfileIntervalMs);
        m.timer.unref();
      }
    } catch (e) {
      await m.stop();
      throw e;
    }
    return m;
  }

  render(): string {
    return renderMetrics({ status: this.host.status(), counters: this.counters, notifiers: this.host.notifierStats?.() ?? [], monitors: this.monitors(), process: sampleProcess() });
  }

  /** The bound address (port 0 in the config: the one the kernel chose). */
  get address(): { host: string; port: number } | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  private listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        let body: string;
        try {
          body = this.render();
        } catch (e) {
          res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`vigil metrics: ${errorText(e)}\n`);
          return;
        }
        this.scrapes++;
        res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      if (path === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body><a href="/metrics">vigil metrics</a></body></html>\n');
        return;
      }
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; the metrics are at /metrics\n');
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`prometheus: cannot listen on ${host}:${port}: ${errorText(e)}`)));
      server.listen(port, host, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.log.log('warn', 'prometheus-error', { detail: errorText(e) }));
        this.log.log('info', 'prometheus-listening', { address: `${host}:${this.address?.port ?? port}` });
        resolve();
      });
    });
  }

  /**
   * node_exporter's textfile collector reads *.prom files: the file is written beside its
   * final name and renamed over it, so the collector never reads half a file.
   */
  writeTextfile(): Promise<void> {
    const path = this.config.textfile;
    if (path === undefined) return Promise.resolve();
    if (this.writing) return this.writing;
    const tmp = `${path}.${process.pid}.tmp`;
    this.writing = (async () => {
      try {
        await writeFile(tmp, this.render(), { mode: 0o644 });
        await rename(tmp, path);
        this.textfileWrites++;
      } catch (e) {
        this.textfileErrors++;
        if (this.textfileErrors === 1 || this.textfileErrors % 100 === 0) this.log.log('warn', 'prometheus-textfile-failed', { path, errors: this.textfileErrors, detail: errorText(e) });
      } finally {
        this.writing = undefined;
      }
    })();
    return this.writing;
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
