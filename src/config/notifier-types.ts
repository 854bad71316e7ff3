/**
 * The notifier settings as the daemon consumes them (parsed by the config loader from the
 * top-level `notifiers:` section and the per-instance / per-sync-group `notify:` mappings).
 * docs/config.md gives every key with its keepalived name.
 *
 * YAML shape:
 *
 *   instances:
 *     - name: gw
 *       notify:                      # keepalived: notify_master, notify_backup, ...
 *         master: /etc/vigil/master.sh
 *         backup: /etc/vigil/backup.sh
 *         fault: /etc/vigil/fault.sh
 *         stop: /etc/vigil/stop.sh
 *         deleted: /etc/vigil/deleted.sh
 *         master_rx_lower_pri: /etc/vigil/lower.sh
 *         any: /etc/vigil/notify.sh  # keepalived's generic `notify` (4 extra arguments)
 *   sync_groups:
 *     - name: g
 *       notify: { master: ..., any: ... }   # same keys but master_rx_lower_pri
 *   notifiers:
 *     script_user: nobody            # keepalived: script_user (global_defs); default root
 *     script_timeout: 30s            # each script's limit, killed as a process group
 *     fifo:                          # keepalived: notify_fifo / vrrp_notify_fifo
 *       path: /run/vigil/notify.fifo
 *       script: /usr/local/bin/fifo-reader   # started with the FIFO's path as last argument
 *       format: keepalived           # or json (one event per line)
 *       priority_changes: false      # MASTER_PRIORITY / BACKUP_PRIORITY lines
 *       write_states_on_reload: false
 *       buffer_lines: 10000          # bound of the in-memory backlog while the reader is slow
 *     dbus:                          # keepalived: enable_dbus
 *       bus: system                  # or session, or a bus address (unix:path=...)
 *       name: org.keepalived.Vrrp1   # keepalived's bus name; vigil's own interface beside it
 *     snmp:                          # keepalived: enable_snmp_vrrp / enable_traps
 *       agentx: tcp:127.0.0.1:705    # snmpd's agentXSocket
 *       traps: true
 *       keepalived_mib: true         # KEEPALIVED-MIB subset beside VRRPv3-MIB
 *     prometheus:
 *       listen: 127.0.0.1:9650       # HTTP /metrics; absent = no endpoint
 *       textfile: /var/lib/prometheus/node-exporter/vigil.prom   # absent = none
 *       textfile_interval: 15s
 *     alerts:                        # Pacemaker alert agents (CRM_alert_* environment)
 *       - path: /usr/share/pacemaker/alerts/alert_file.sh.sample
 *         recipient: /var/log/vigil-alerts.log
 *         timeout: 30s
 *         kinds: [node, resource, attribute]   # default: all
 */
import type { SourceLocation } from './types.js';

/** Which script runs for which event: keepalived's notify_* names without the prefix. */
export interface NotifyScripts {
  readonly master?: string;
  readonly backup?: string;
  readonly fault?: string;
  readonly stop?: string;
  readonly deleted?: string;
  /** Instances only. */
  readonly masterRxLowerPri?: string;
  /** keepalived's generic `notify`: runs after the specific one with TYPE NAME STATE PRIORITY. */
  readonly any?: string;
}

export interface FifoNotifierConfig {
  readonly path: string;
  readonly script?: string;
  readonly format: 'keepalived' | 'json';
  readonly priorityChanges: boolean;
  readonly writeStatesOnReload: boolean;
  readonly bufferLines: number;
}

export interface DbusNotifierConfig {
  /** 'system', 'session', or a D-Bus address. */
  readonly bus: string;
  readonly name: string;
}

export interface SnmpNotifierConfig {
  /** tcp:HOST:PORT (the net-snmp library speaks AgentX over TCP only). */
  readonly agentx: { readonly host: string; readonly port: number };
  readonly traps: boolean;
  readonly keepalivedMib: boolean;
}

export interface PrometheusNotifierConfig {
  /** Absent: no HTTP endpoint. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Absent: no textfile. Written atomically (temp file + rename). */
  readonly textfile?: string;
  readonly textfileIntervalMs: number;
}

export type AlertKind = 'node' | 'resource' | 'attribute' | 'fencing';

export interface AlertAgentConfig {
  readonly path: string;
  readonly recipient: string;
  readonly timeoutMs: number;
  readonly kinds: readonly AlertKind[];
}

export interface NotifiersConfig {
  /** Absent: scripts run as root (the daemon's user). */
  readonly scriptUser?: string;
  readonly scriptTimeoutMs: number;
  readonly fifo?: FifoNotifierConfig;
  readonly dbus?: DbusNotifierConfig;
  readonly snmp?: SnmpNotifierConfig;
  readonly prometheus?: PrometheusNotifierConfig;
  readonly alerts: readonly AlertAgentConfig[];
  /** Per instance name / sync group name; absent when none is configured. */
  readonly instanceScripts: Readonly<Record<string, NotifyScripts>>;
  readonly groupScripts: Readonly<Record<string, NotifyScripts>>;
  readonly location?: SourceLocation;
}

/** Nothing configured: what a config without `notifiers:` and `notify:` resolves to. */
export const NO_NOTIFIERS: NotifiersConfig = { scriptTimeoutMs: 30_000, alerts: [], instanceScripts: {}, groupScripts: {} };
