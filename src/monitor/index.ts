/**
 * The monitoring notifiers of `notifiers:` (D-Bus, SNMP AgentX, Prometheus), started and
 * reloaded together. Each reads the daemon through a MonitorHost only; a notifier that
 * fails to start is logged and left out, the daemon runs on (the VRRP service matters more
 * than its monitoring). A reload restarts a notifier only when its own settings changed.
 * The D-Bus, SNMP and Prometheus modules, with their libraries (dbus-next, net-snmp,
 * node:http), are loaded only when configured: a daemon without them does not carry them
 * (megabytes of heap; bench/notify.ts, RSS).
 */
import type { NotifiersConfig } from '../config/notifier-types.js';
import type { Logger } from '../daemon/logger.js';
import { countEvents, type MonitorCounters, type MonitorHost } from './common.js';
import { errorText } from '../base/error-text.js';
import type { DbusMonitor } from './dbus.js';
import type { PrometheusMonitor } from './prometheus.js';
import type { SnmpMonitor } from './snmp.js';

export type { MonitorHost, NotifierStats } from './common.js';

export interface Monitors {
  readonly dbus: DbusMonitor | undefined;
  readonly snmp: SnmpMonitor | undefined;
  readonly prometheus: PrometheusMonitor | undefined;
  /** Sent/failed/reconnect counts per monitor (also in the metrics). */
  counters(): Record<string, MonitorCounters>;
  reload(next: NotifiersConfig): Promise<void>;
  stop(): Promise<void>;
}

class MonitorSet implements Monitors {
  dbus: DbusMonitor | undefined;
  snmp: SnmpMonitor | undefined;
  prometheus: PrometheusMonitor | undefined;
  private config: NotifiersConfig;
  /** Event counts for the metrics, for the daemon's whole life (an endpoint restarted by a reload keeps them). */
  private readonly events: ReturnType<typeof countEvents>;

  constructor(
    config: NotifiersConfig,
    private readonly host: MonitorHost,
    private readonly log: Logger,
  ) {
    this.config = config;
    this.events = countEvents(host);
  }

  counters(): Record<string, MonitorCounters> {
    const out: Record<string, MonitorCounters> = {};
    if (this.dbus) out['dbus'] = this.dbus.counters;
    if (this.snmp) out['snmp'] = this.snmp.counters;
    return out;
  }

  async startDbus(): Promise<void> {
    const c = this.config.dbus;
    if (!c) return;
    try {
      const { DbusMonitor } = await import('./dbus.js');
      this.dbus = await DbusMonitor.start(c, this.host, this.log);
    } catch (e) {
      this.log.log('error', 'dbus-not-started', { bus: c.bus, name: c.name, detail: errorText(e) });
    }
  }

  async startSnmp(): Promise<void> {
    const c = this.config.snmp;
    if (!c) return;
    try {
      const { SnmpMonitor } = await import('./snmp.js');
      this.snmp = SnmpMonitor.start(c, this.host, this.log);
    } catch (e) {
      this.log.log('error', 'snmp-not-started', { agentx: `${c.agentx.host}:${c.agentx.port}`, detail: errorText(e) });
    }
  }

  async startPrometheus(): Promise<void> {
    const c = this.config.prometheus;
    if (!c) return;
    try {
      const { PrometheusMonitor } = await import('./prometheus.js');
      this.prometheus = await PrometheusMonitor.start(c, this.host, this.log, () => this.counters(), this.events.counters);
    } catch (e) {
      this.log.log('error', 'prometheus-not-started', { detail: errorText(e) });
    }
  }

  async reload(next: NotifiersConfig): Promise<void> {
    const before = this.config;
    this.config = next;
    if (JSON.stringify(before.dbus) !== JSON.stringify(next.dbus)) {
      await this.dbus?.stop();
      this.dbus = undefined;
      await this.startDbus();
    }
    if (JSON.stringify(before.snmp) !== JSON.stringify(next.snmp)) {
      await this.snmp?.stop();
      this.snmp = undefined;
      await this.startSnmp();
    }
    if (JSON.stringify(before.prometheus) !== JSON.stringify(next.prometheus)) {
      await this.prometheus?.stop();
      this.prometheus = undefined;
      await this.startPrometheus();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.dbus?.stop(), this.snmp?.stop(), this.prometheus?.stop()]);
    this.events.stop();
    this.dbus = undefined;
    this.snmp = undefined;
    this.prometheus = undefined;
  }
}

/** Starts the configured monitors (none configured: an empty set whose stop and reload work). */
export async function startMonitors(config: NotifiersConfig, host: MonitorHost, log: Logger): Promise<Monitors> {
  const set = new MonitorSet(config, host, log);
  await set.startDbus();
  await set.startSnmp();
  await set.startPrometheus();
  return set;
}
