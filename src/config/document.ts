/**
 * The config document after ajv: the shape of schema/vigil.schema.json as TypeScript
 * types, so that the section resolvers read `doc.instances[0].vrid` as a number rather
 * than re-checking `typeof raw['vrid']`.
 *
 * The loader reports every problem at once, so it resolves a document that the schema
 * refused in part. `checkedDocument` (schema.ts) therefore replaces every value the schema
 * refused by REFUSED, and the types here say what is left: a key is absent (not written,
 * or a required key that is missing: its error is reported) or REFUSED (its error is
 * reported) or of the schema's type, within the schema's ranges, enumerations and patterns.
 * A resolver treats REFUSED as "unknown": no default stands in for it, and nothing that
 * depends on it is checked, so one mistake is reported once.
 *
 * Keep these types equal to the schema (test/config.test.ts compares their key lists).
 */

/** A value the schema refused (its error is already reported). */
export const REFUSED: unique symbol = Symbol('refused by the schema');
export type Refused = typeof REFUSED;

/** A value as the resolvers see it: absent, refused, or valid by the schema. */
export type Checked<T> = T | Refused | undefined;

/** The value, or undefined if it is absent or was refused. */
export function given<T>(value: Checked<T>): T | undefined {
  return value === REFUSED ? undefined : value;
}

/** The value, the default if it is absent, or undefined if the schema refused it. */
export function orDefault<T>(value: Checked<T>, fallback: T): T | undefined {
  if (value === REFUSED) return undefined;
  return value ?? fallback;
}

/** A list's entries (absent or refused: none). */
export function entries<T>(value: Checked<readonly Checked<T>[]>): readonly Checked<T>[] {
  return value === REFUSED || value === undefined ? [] : value;
}

/** Seconds (a number) or a decimal with a unit ("200ms", "1.5s"); see units.ts. */
export type DurationText = number | string;

export interface VigilDocument {
  readonly global?: Checked<GlobalDocument>;
  readonly instances?: Checked<readonly Checked<InstanceDocument>[]>;
  readonly sync_groups?: Checked<readonly Checked<SyncGroupDocument>[]>;
  readonly quorum?: Checked<QuorumDocument>;
  readonly resources?: Checked<readonly Checked<ResourceDocument>[]>;
  readonly groups?: Checked<readonly Checked<GroupDocument>[]>;
  readonly health_checks?: Checked<readonly Checked<HealthCheckDocument>[]>;
  readonly notifiers?: Checked<NotifiersDocument>;
}

export interface GlobalDocument {
  readonly runtime_dir?: Checked<string>;
  readonly log_format?: Checked<'text' | 'json'>;
  readonly nonlocal_bind?: Checked<boolean | { readonly ipv4?: Checked<boolean>; readonly ipv6?: Checked<boolean> }>;
  readonly realtime_priority?: Checked<number>;
  readonly state_dir?: Checked<string>;
}

export interface VipDocument {
  readonly address?: Checked<string>;
  readonly dev?: Checked<string>;
  readonly label?: Checked<string>;
  readonly scope?: Checked<'global' | 'site' | 'link' | 'host'>;
}

/** A virtual address: "10.213.0.100/24", or the mapping. */
export type VipEntry = string | VipDocument;

export interface GarpDocument {
  readonly master_delay?: Checked<DurationText>;
  readonly master_repeat?: Checked<number>;
  readonly master_refresh?: Checked<DurationText>;
  readonly master_refresh_repeat?: Checked<number>;
  readonly lower_prio_repeat?: Checked<number>;
  readonly lower_prio_delay?: Checked<DurationText>;
  readonly interval?: Checked<DurationText>;
}

export interface InstanceDocument {
  readonly name?: Checked<string>;
  readonly interface?: Checked<string>;
  readonly vrid?: Checked<number>;
  readonly version?: Checked<2 | 3>;
  readonly priority?: Checked<number>;
  readonly advert_interval?: Checked<DurationText>;
  readonly preempt?: Checked<boolean>;
  readonly preempt_delay?: Checked<DurationText>;
  readonly managed_by?: Checked<'vigil' | 'pacemaker'>;
  readonly accept?: Checked<boolean>;
  readonly virtual_ips?: Checked<readonly Checked<VipEntry>[]>;
  readonly excluded_ips?: Checked<readonly Checked<VipEntry>[]>;
  readonly unicast?: Checked<{ readonly source?: Checked<string>; readonly peers?: Checked<readonly Checked<string>[]> }>;
  readonly authentication?: Checked<{ readonly type?: Checked<'none' | 'pass'>; readonly password?: Checked<string> }>;
  readonly vmac?: Checked<boolean | { readonly name?: Checked<string> }>;
  readonly garp?: Checked<GarpDocument>;
  readonly track_interfaces?: Checked<readonly Checked<string | { readonly name?: Checked<string>; readonly weight?: Checked<number> }>[]>;
  readonly checksum?: Checked<'rfc5798' | 'rfc9568' | 'either'>;
  readonly higher_prio_send_advert?: Checked<boolean>;
  readonly lower_prio_no_advert?: Checked<boolean>;
  readonly address_list_check?: Checked<'log' | 'drop'>;
  readonly notify?: Checked<NotifyDocument>;
}

export interface SyncGroupDocument {
  readonly name?: Checked<string>;
  readonly instances?: Checked<readonly Checked<string>[]>;
  readonly notify?: Checked<NotifyDocument>;
}

/** An instance's or a sync group's notify scripts (a group has no master_rx_lower_pri). */
export interface NotifyDocument {
  readonly master?: Checked<string>;
  readonly backup?: Checked<string>;
  readonly fault?: Checked<string>;
  readonly stop?: Checked<string>;
  readonly deleted?: Checked<string>;
  readonly master_rx_lower_pri?: Checked<string>;
  readonly any?: Checked<string>;
}

export interface FifoDocument {
  readonly path?: Checked<string>;
  readonly script?: Checked<string>;
  readonly format?: Checked<'keepalived' | 'json'>;
  readonly priority_changes?: Checked<boolean>;
  readonly write_states_on_reload?: Checked<boolean>;
  readonly buffer_lines?: Checked<number>;
}

export interface DbusDocument {
  readonly bus?: Checked<string>;
  readonly name?: Checked<string>;
}

export interface SnmpDocument {
  readonly agentx?: Checked<string>;
  readonly traps?: Checked<boolean>;
  readonly keepalived_mib?: Checked<boolean>;
}

export interface PrometheusDocument {
  readonly listen?: Checked<string>;
  readonly textfile?: Checked<string>;
  readonly textfile_interval?: Checked<DurationText>;
}

export interface AlertDocument {
  readonly path?: Checked<string>;
  readonly recipient?: Checked<string>;
  readonly timeout?: Checked<DurationText>;
  readonly kinds?: Checked<readonly Checked<'node' | 'resource' | 'attribute' | 'fencing'>[]>;
}

export interface NotifiersDocument {
  readonly script_user?: Checked<string>;
  readonly script_timeout?: Checked<DurationText>;
  readonly fifo?: Checked<FifoDocument>;
  readonly dbus?: Checked<DbusDocument>;
  readonly snmp?: Checked<SnmpDocument>;
  readonly prometheus?: Checked<PrometheusDocument>;
  readonly alerts?: Checked<readonly Checked<AlertDocument>[]>;
}

export interface QuorumNodeDocument {
  readonly id?: Checked<number>;
  readonly name?: Checked<string>;
  readonly address?: Checked<string>;
  readonly votes?: Checked<number>;
}

export interface TieBreakerDocument {
  readonly ping?: Checked<string>;
  readonly tcp?: Checked<string>;
  readonly fence?: Checked<string>;
  readonly timeout?: Checked<DurationText>;
  readonly interval?: Checked<DurationText>;
}

export interface QuorumDocument {
  readonly provider?: Checked<'vigil' | 'corosync'>;
  readonly nodes?: Checked<readonly Checked<QuorumNodeDocument>[]>;
  readonly cluster_name?: Checked<string>;
  readonly node_id?: Checked<number>;
  readonly transport?: Checked<'unicast' | 'multicast'>;
  readonly multicast_group?: Checked<string>;
  readonly interface?: Checked<string>;
  readonly port?: Checked<number>;
  readonly heartbeat_interval?: Checked<DurationText>;
  readonly heartbeat_timeout?: Checked<DurationText>;
  readonly key_file?: Checked<string>;
  readonly expected_votes?: Checked<number>;
  readonly two_node?: Checked<boolean>;
  readonly wait_for_all?: Checked<boolean>;
  readonly last_man_standing?: Checked<boolean>;
  readonly last_man_standing_window?: Checked<DurationText>;
  readonly auto_tie_breaker?: Checked<boolean>;
  readonly auto_tie_breaker_node?: Checked<'lowest' | 'highest' | readonly Checked<number>[]>;
  readonly no_quorum_policy?: Checked<'stop' | 'freeze' | 'ignore'>;
  readonly tie_breaker?: Checked<TieBreakerDocument>;
}

/** Where a resource or group runs: everywhere, with an instance's master, or with a sync group's. */
export type RunsOnDocument = 'everywhere' | { readonly master?: Checked<string> } | { readonly sync_group?: Checked<string> };

export type ResourceType = 'vip' | 'exec' | 'systemd' | 'ocf';

export interface ResourceDocument {
  readonly name?: Checked<string>;
  readonly type?: Checked<ResourceType>;
  readonly address?: Checked<string>;
  readonly interface?: Checked<string>;
  readonly label?: Checked<string>;
  readonly command?: Checked<readonly Checked<string>[]>;
  readonly env?: Checked<Readonly<Record<string, Checked<string>>>>;
  readonly cwd?: Checked<string>;
  readonly unit?: Checked<string>;
  readonly agent?: Checked<string>;
  readonly params?: Checked<Readonly<Record<string, Checked<string | number | boolean>>>>;
  readonly start_timeout?: Checked<DurationText>;
  readonly stop_timeout?: Checked<DurationText>;
  readonly monitor_timeout?: Checked<DurationText>;
  readonly monitor_interval?: Checked<DurationText>;
  readonly on_fail?: Checked<'restart' | 'ignore' | 'block' | 'stop' | 'standby'>;
  readonly migration_threshold?: Checked<number | 'infinity'>;
  readonly failure_timeout?: Checked<DurationText>;
  readonly target_role?: Checked<'started' | 'stopped'>;
  readonly runs_on?: Checked<RunsOnDocument>;
}

export interface GroupDocument {
  readonly name?: Checked<string>;
  readonly resources?: Checked<readonly Checked<string>[]>;
  readonly runs_on?: Checked<RunsOnDocument>;
}

export type HealthCheckType = 'http' | 'https' | 'tcp' | 'process' | 'script';

export interface HealthCheckDocument {
  readonly name?: Checked<string>;
  readonly type?: Checked<HealthCheckType>;
  readonly url?: Checked<string>;
  readonly expect_status?: Checked<number>;
  readonly body?: Checked<string>;
  readonly insecure?: Checked<boolean>;
  readonly address?: Checked<string>;
  readonly process?: Checked<string>;
  readonly min_count?: Checked<number>;
  readonly script?: Checked<readonly Checked<string>[]>;
  readonly interval?: Checked<DurationText>;
  readonly timeout?: Checked<DurationText>;
  readonly rise?: Checked<number>;
  readonly fall?: Checked<number>;
  readonly weight?: Checked<number>;
  readonly instances?: Checked<readonly Checked<string>[]>;
  readonly resource?: Checked<string>;
}

/**
 * The keys of each mapping above, for the test that keeps these types equal to the schema
 * (a key added to the schema but not here would be invisible to the resolvers).
 */
export const DOCUMENT_KEYS = {
  root: ['global', 'instances', 'sync_groups', 'quorum', 'resources', 'groups', 'health_checks', 'notifiers'],
  global: ['runtime_dir', 'log_format', 'nonlocal_bind', 'realtime_priority', 'state_dir'],
  instance: [
    'name', 'interface', 'vrid', 'version', 'priority', 'advert_interval', 'preempt', 'preempt_delay', 'managed_by', 'accept', 'virtual_ips',
    'excluded_ips', 'unicast', 'authentication', 'vmac', 'garp', 'track_interfaces', 'checksum', 'higher_prio_send_advert',
    'lower_prio_no_advert', 'address_list_check', 'notify',
  ],
  vip: ['address', 'dev', 'label', 'scope'],
  garp: ['master_delay', 'master_repeat', 'master_refresh', 'master_refresh_repeat', 'lower_prio_repeat', 'lower_prio_delay', 'interval'],
  syncGroup: ['name', 'instances', 'notify'],
  notify: ['master', 'backup', 'fault', 'stop', 'deleted', 'master_rx_lower_pri', 'any'],
  notifiers: ['script_user', 'script_timeout', 'fifo', 'dbus', 'snmp', 'prometheus', 'alerts'],
  fifo: ['path', 'script', 'format', 'priority_changes', 'write_states_on_reload', 'buffer_lines'],
  dbus: ['bus', 'name'],
  snmp: ['agentx', 'traps', 'keepalived_mib'],
  prometheus: ['listen', 'textfile', 'textfile_interval'],
  alert: ['path', 'recipient', 'timeout', 'kinds'],
  quorum: [
    'provider', 'nodes', 'cluster_name', 'node_id', 'transport', 'multicast_group', 'interface', 'port', 'heartbeat_interval', 'heartbeat_timeout',
    'key_file', 'expected_votes', 'two_node', 'wait_for_all', 'last_man_standing', 'last_man_standing_window', 'auto_tie_breaker',
    'auto_tie_breaker_node', 'no_quorum_policy', 'tie_breaker',
  ],
  quorumNode: ['id', 'name', 'address', 'votes'],
  tieBreaker: ['ping', 'tcp', 'fence', 'timeout', 'interval'],
  resource: [
    'name', 'type', 'address', 'interface', 'label', 'command', 'env', 'cwd', 'unit', 'agent', 'params', 'start_timeout', 'stop_timeout',
    'monitor_timeout', 'monitor_interval', 'on_fail', 'migration_threshold', 'failure_timeout', 'target_role', 'runs_on',
  ],
  group: ['name', 'resources', 'runs_on'],
  healthCheck: [
    'name', 'type', 'url', 'expect_status', 'body', 'insecure', 'address', 'process', 'min_count', 'script', 'interval', 'timeout',
    'rise', 'fall', 'weight', 'instances', 'resource',
  ],
} as const satisfies Record<string, readonly string[]>;

// The key lists above are the types' keys, no more and no fewer (checked by the compiler).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Keys<T> = Exclude<keyof T, symbol | number>;
const keysMatchTypes: [
  Same<(typeof DOCUMENT_KEYS.root)[number], Keys<VigilDocument>>,
  Same<(typeof DOCUMENT_KEYS.global)[number], Keys<GlobalDocument>>,
  Same<(typeof DOCUMENT_KEYS.instance)[number], Keys<InstanceDocument>>,
  Same<(typeof DOCUMENT_KEYS.vip)[number], Keys<VipDocument>>,
  Same<(typeof DOCUMENT_KEYS.garp)[number], Keys<GarpDocument>>,
  Same<(typeof DOCUMENT_KEYS.syncGroup)[number], Keys<SyncGroupDocument>>,
  Same<(typeof DOCUMENT_KEYS.notify)[number], Keys<NotifyDocument>>,
  Same<(typeof DOCUMENT_KEYS.notifiers)[number], Keys<NotifiersDocument>>,
  Same<(typeof DOCUMENT_KEYS.fifo)[number], Keys<FifoDocument>>,
  Same<(typeof DOCUMENT_KEYS.dbus)[number], Keys<DbusDocument>>,
  Same<(typeof DOCUMENT_KEYS.snmp)[number], Keys<SnmpDocument>>,
  Same<(typeof DOCUMENT_KEYS.prometheus)[number], Keys<PrometheusDocument>>,
  Same<(typeof DOCUMENT_KEYS.alert)[number], Keys<AlertDocument>>,
  Same<(typeof DOCUMENT_KEYS.quorum)[number], Keys<QuorumDocument>>,
  Same<(typeof DOCUMENT_KEYS.quorumNode)[number], Keys<QuorumNodeDocument>>,
  Same<(typeof DOCUMENT_KEYS.tieBreaker)[number], Keys<TieBreakerDocument>>,
  Same<(typeof DOCUMENT_KEYS.resource)[number], Keys<ResourceDocument>>,
  Same<(typeof DOCUMENT_KEYS.group)[number], Keys<GroupDocument>>,
  Same<(typeof DOCUMENT_KEYS.healthCheck)[number], Keys<HealthCheckDocument>>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void keysMatchTypes;
