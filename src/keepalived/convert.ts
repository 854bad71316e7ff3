/**
 * keepalived.conf → vigil.yaml. Reads the statements of parse.ts and writes vigil's keys
 * (docs/config.md): `global`, `instances` (instance.ts), `sync_groups`, `health_checks`
 * (from vrrp_script and vrrp_track_process) and `notifiers` (notify FIFO, D-Bus, SNMP, the
 * script user). Every keyword the output cannot express is a YAML comment where it
 * would have gone and a warning `FILE:LINE: keyword: why`; docs/migrating-from-keepalived.md
 * lists them all.
 */
import type { KaStatement } from './parse.js';
import { ImportContext, readBool, readDuration, readInt, secondsToMs, splitScript, vigilName, type KaWarning } from './context.js';
import { convertInstance, GARP_KEYS, NOTIFY_KEYS, notifyScript, scriptCommand } from './instance.js';
import { emitYaml, YMap, YSeq } from './yaml-out.js';

export interface ConvertResult {
  readonly yaml: string;
  /** The document before it was written out (for tests). */
  readonly document: YMap;
  readonly warnings: readonly KaWarning[];
  /** Instances written. */
  readonly instances: number;
}

/** Top-level blocks vigil does not have, and why. */
export const TOP_UNSUPPORTED: Readonly<Record<string, string>> = {
  virtual_server: 'vigil has no LVS (IPVS) load balancing: keep keepalived (or ipvsadm) for virtual servers, or run haproxy/nginx as an exec resource',
  virtual_server_group: 'vigil has no LVS (IPVS) load balancing',
  static_ipaddress: 'vigil adds no static addresses; configure them with the system (ifupdown, networkd)',
  static_routes: 'vigil adds no static routes; configure them with the system',
  static_rules: 'vigil adds no static policy rules; configure them with the system',
  vrrp_track_file: 'vigil has no track_file; a script health check that reads the file can do it',
  track_file: 'vigil has no track_file; a script health check that reads the file can do it',
  garp_group: 'vigil has no gratuitous-ARP groups; each instance has its own garp settings',
  linkbeat_interfaces: 'vigil follows link state from netlink events',
  bfd_instance: 'vigil has no BFD',
  net_namespace: 'run vigil itself in the namespace (ip netns exec NAME vigil run)',
  net_namespace_ipvs: 'vigil has no LVS (IPVS) support',
  track_group: 'vigil has no track groups',
};

/** global_defs keywords vigil does not have, and why. */
export const GLOBAL_UNSUPPORTED: Readonly<Record<string, string>> = {
  notification_email: 'vigil sends no e-mail; use a notify script or an alert agent (notifiers.alerts)',
  notification_email_from: 'vigil sends no e-mail',
  smtp_server: 'vigil sends no e-mail',
  smtp_helo_name: 'vigil sends no e-mail',
  smtp_connect_timeout: 'vigil sends no e-mail',
  smtp_alert: 'vigil sends no e-mail',
  smtp_alert_vrrp: 'vigil sends no e-mail',
  smtp_alert_checker: 'vigil sends no e-mail',
  no_email_faults: 'vigil sends no e-mail',
  vrrp_mcast_group4: 'vigil sends to 224.0.0.18 only',
  vrrp_mcast_group6: 'vigil sends to ff02::12 only',
  vrrp_startup_delay: 'not available in vigil (quorum.wait_for_all holds a booting node back instead)',
  vrrp_delay_after_boot: 'not available in vigil',
  vrrp_garp_lower_prio_delay: 'vigil sends the lower-priority burst at once (garp.lower_prio_repeat)',
  vrrp_garp_extra_if: 'vigil sends no periodic gratuitous ARP on other interfaces',
  vrrp_min_garp: 'vigil has no such shortcut; set garp.master_delay: 0 and garp.master_repeat: 1',
  vrrp_down_timer_adverts: "vigil uses RFC 5798's Master_Down_Interval",
  vrrp_iptables: 'vigil filters with nftables only (accept: false)',
  vrrp_ipsets: 'vigil filters with nftables only (accept: false)',
  nftables: 'vigil always uses its own nftables table (inet vigil) for accept: false',
  nftables_priority: 'vigil uses priority filter (0)',
  nftables_ifindex: 'not available in vigil',
  nftables_counters: 'vigil\'s table always has counters',
  vrrp_check_unicast_src: 'not available in vigil',
  vrrp_skip_check_adv_addr: "vigil's address_list_check: log (its default) accepts adverts whose addresses differ",
  vrrp_priority: 'vigil has no nice level setting; use the unit (Nice=)',
  vrrp_no_swap: 'vigil does not lock its memory (V8 re-protects its heap as it runs, which mlockall breaks)',
  vrrp_cpu_affinity: 'use the unit (CPUAffinity=)',
  vrrp_rlimit_rttime: 'not available in vigil',
  vrrp_rlimit_rtime: 'not available in vigil',
  lvs_notify_fifo: 'vigil has no LVS',
  lvs_notify_fifo_script: 'vigil has no LVS',
  dynamic_interfaces: 'not available in vigil',
  default_interface: 'every vigil instance names its interface',
  disable_local_igmp: 'not available in vigil',
  lvs_timeouts: 'vigil has no LVS',
  lvs_flush: 'vigil has no LVS',
  lvs_flush_on_stop: 'vigil has no LVS',
  lvs_flush_onstop: 'vigil has no LVS',
  lvs_sync_daemon: 'vigil has no LVS',
  enable_snmp_checker: 'vigil has no LVS checker',
  snmp_vs_stats_update_interval: 'vigil has no LVS',
  snmp_rs_stats_update_interval: 'vigil has no LVS',
  dbus_no_interface_name: 'not available in vigil',
  checker_priority: 'vigil has no LVS checker',
  checker_no_swap: 'vigil has no LVS checker',
  checker_rt_priority: 'vigil has no LVS checker',
  checker_cpu_affinity: 'vigil has no LVS checker',
  bfd_priority: 'vigil has no BFD',
  bfd_rt_priority: 'vigil has no BFD',
  vmac_prefix: 'vigil names VMACs vrrp.VRID unless use_vmac names them',
  vmac_addr_prefix: 'not available in vigil',
  log_unknown_vrids: 'vigil always counts adverts for unknown VRIDs (vigil status --json, socketRejects)',
  vrrp_owner_ignore_adverts: 'not available in vigil',
  startup_script: 'not available in vigil; use ExecStartPre= in the unit',
  shutdown_script: 'not available in vigil; use ExecStopPost= in the unit',
  vrrp_rx_bufs_policy: 'not available in vigil',
  vrrp_rx_bufs_multiplier: 'not available in vigil',
  vrrp_netlink_cmd_rcv_bufs: 'not available in vigil',
  vrrp_netlink_monitor_rcv_bufs: 'not available in vigil',
  state_dump_file: 'vigil status --json gives the state',
  stats_dump_file: 'vigil status --json gives the counters',
  json_dump_file: 'vigil status --json gives the state',
  instance: 'conditional lines are decided by import-keepalived -i',
  ...same(['net_namespace', 'net_namespace_ipvs', 'namespace_with_ipsets'], 'run vigil itself in the namespace (ip netns exec NAME vigil run)'),
  ...same(['process_name', 'vrrp_process_name', 'checker_process_name', 'lvs_process_name', 'bfd_process_name'], 'vigil is one process (the unit is vigil.service)'),
  ...same(['child_wait_time', 'startup_script_timeout', 'shutdown_script_timeout'], 'vigil has no child processes of its own to wait for (see the unit\'s TimeoutStopSec=)'),
  ...same(['use_symlink_paths', 'set_supplementary_groups'], 'vigil checks and runs scripts by their path as given'),
  linkbeat_use_polling: 'vigil follows link state from netlink events',
  vrrp_vmac_garp_intvl: 'not available in vigil',
  ...same(['nftables_ipvs', 'nftables_ipvs_priority', 'nftables_ipvs_start_fwmark'], 'vigil has no LVS'),
  ...same(['checker_rlimit_rttime', 'checker_rlimit_rtime', 'checker_log_all_failures', 'rs_init_notifies', 'no_checker_emails', 'lvs_netlink_cmd_rcv_bufs', 'lvs_netlink_cmd_rcv_bufs_force', 'lvs_netlink_monitor_rcv_bufs', 'lvs_netlink_monitor_rcv_bufs_force'], 'vigil has no LVS checker'),
  ...same(['bfd_no_swap', 'bfd_cpu_affinity', 'bfd_rlimit_rttime', 'bfd_rlimit_rtime'], 'vigil has no BFD'),
  ...same(['vrrp_netlink_cmd_rcv_bufs_force', 'vrrp_netlink_monitor_rcv_bufs_force', 'process_monitor_rcv_bufs', 'process_monitor_rcv_bufs_force'], 'not available in vigil'),
  umask: 'vigil creates its files with fixed modes (sockets 0600, directories 0700)',
  random_seed: 'not available in vigil',
  ...same(['reload_check_config', 'reload_time_file', 'reload_repeat', 'reload_file'], 'vigil checks a config before it reloads (a bad one is refused, the running one stays); no timed reloads'),
  ...same(['include_check', 'config_save_dir', 'tmp_config_directory'], 'vigil reads one YAML file; includes are resolved by this import'),
  ...same(['data_use_instance', 'json_version'], 'vigil status --json has its own format'),
  ...same(['iproute_usr_dir', 'iproute_etc_dir'], 'vigil takes scope names as words (global, site, link, host), no rt_* tables'),
};

function same(keys: readonly string[], why: string): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, why]));
}

/** global_defs keywords that need nothing in vigil: a comment, no warning. */
const GLOBAL_NOTES: Readonly<Record<string, string>> = {
  router_id: 'vigil has no router_id: its logs and status name the host',
  enable_script_security: 'vigil always refuses scripts that a non-root user could change',
  process_names: 'vigil is one process',
  use_pid_dir: 'vigil keeps its files under global.runtime_dir',
};

const GLOBAL_DEFAULT_BOOL: Readonly<Record<string, 'higherPrioSendAdvert' | 'lowerPrioNoAdvert'>> = {
  vrrp_higher_prio_send_advert: 'higherPrioSendAdvert',
  vrrp_lower_prio_no_advert: 'lowerPrioNoAdvert',
};

/** Converts the statements read from keepalived.conf. */
export function convertKeepalived(statements: readonly KaStatement[], header: readonly string[] = []): ConvertResult {
  const ctx = new ImportContext();
  const doc = new YMap();
  const global = new YMap();
  const notifiers = new YMap();
  const instances = new YSeq();
  const syncGroups = new YSeq();
  const checks = new YSeq();
  const scripts = new Map<string, KaStatement>();
  const processes = new Map<string, KaStatement>();
  const groups: KaStatement[] = [];

  // global_defs first: its defaults apply to every vrrp_instance wherever it stands.
  for (const s of statements) if (s.keyword === 'global_defs') convertGlobal(s, ctx, global, notifiers);
  for (const s of statements) {
    switch (s.keyword) {
      case 'global_defs':
        break;
      case 'vrrp_instance':
        convertInstance(s, ctx, instances);
        break;
      case 'vrrp_script':
        scripts.set(s.args[0] ?? '', s);
        break;
      case 'vrrp_track_process':
        processes.set(s.args[0] ?? '', s);
        break;
      case 'vrrp_sync_group':
        groups.push(s);
        break;
      default: {
        const why = TOP_UNSUPPORTED[s.keyword];
        ctx.warn(s, why !== undefined ? `not supported: ${why}` : 'not a keepalived top-level keyword vigil knows; left out', doc);
      }
    }
  }
  for (const g of groups) convertSyncGroup(g, ctx, syncGroups);
  convertChecks(scripts, processes, ctx, checks);

  // global_defs lines that became no key are comments at the top, not an empty `global: {}`.
  const globalComments = [global, notifiers].flatMap((m) => (m.size === 0 ? m.parts.filter((p) => p.kind === 'comment') : []));
  if (global.size > 0) doc.set('global', global);
  doc.set('instances', instances);
  if (syncGroups.parts.length > 0) doc.set('sync_groups', syncGroups);
  if (checks.parts.length > 0) doc.set('health_checks', checks);
  if (notifiers.size > 0) doc.set('notifiers', notifiers);
  // Top-level comments (unsupported blocks) go to the end, after the keys.
  const comments = doc.parts.filter((p) => p.kind === 'comment');
  const entries = doc.parts.filter((p) => p.kind === 'entry');
  doc.parts.splice(0, doc.parts.length, ...globalComments, ...entries, ...comments);
  const count = instances.items.length;
  return { yaml: emitYaml(doc, header), document: doc, warnings: ctx.warnings, instances: count };
}

function convertGlobal(block: KaStatement, ctx: ImportContext, global: YMap, notifiers: YMap): void {
  const d = ctx.defaults;
  for (const s of block.block ?? []) {
    const k = s.keyword;
    const garpName = k.startsWith('vrrp_') ? k.slice('vrrp_'.length) : '';
    const garp = GARP_KEYS[garpName];
    if (garp !== undefined) {
      const v = garp.kind === 'duration' ? readDuration(s, ctx, global) : readInt(s, ctx, garp.min, 255, global);
      if (v !== undefined) d.garp.set(garp.key, v);
      continue;
    }
    const boolKey = GLOBAL_DEFAULT_BOOL[k];
    if (boolKey !== undefined) {
      const v = readBool(s, ctx, global);
      if (v !== undefined) d[boolKey] = v;
      continue;
    }
    const note = GLOBAL_NOTES[k];
    if (note !== undefined) {
      ctx.note(s, note, global);
      continue;
    }
    switch (k) {
      case 'vrrp_version': {
        const v = readInt(s, ctx, 2, 3, global);
        if (v === 2 || v === 3) d.version = v;
        break;
      }
      case 'vrrp_strict':
        d.strict = true;
        ctx.note(s, 'every instance gets accept: false (vigil drops traffic to the VIPs as master); the other strict checks are not made', global);
        break;
      case 'v3_checksum_as_v2':
        d.checksumAsV2 = readBool(s, ctx, global) ?? d.checksumAsV2;
        break;
      case 'vrrp_rt_priority':
      case 'max_auto_priority': {
        const v = s.args[0] === undefined && k === 'max_auto_priority' ? 99 : readInt(s, ctx, 0, 99, global);
        if (v !== undefined) global.set('realtime_priority', v);
        break;
      }
      case 'min_auto_priority_delay':
        ctx.warn(s, 'not supported: vigil runs at realtime_priority from the start', global);
        break;
      case 'script_user': {
        const user = s.args[0];
        const group = s.args[1];
        if (user !== undefined && (user !== 'root' || (group !== undefined && group !== 'root'))) {
          const g = group?.replace(/^:/, '') ?? '';
          notifiers.set('script_user', g !== '' ? `${user}:${g}` : user);
          if (group?.startsWith(':') === true) ctx.warn(s, 'the supplementary groups (":GROUP") are not set: vigil sets the user and the group', notifiers);
          ctx.scriptUser = { user, where: s };
        } else if (user === 'root') ctx.note(s, 'vigil runs scripts as root unless notifiers.script_user is set', global);
        break;
      }
      case 'notify_fifo':
      case 'vrrp_notify_fifo': {
        const fifo = notifiers.map('fifo');
        if (s.args[0] !== undefined) fifo.set('path', s.args[0]);
        if (s.args.length > 1) ctx.warn(s, `the FIFO's owner ${s.args.slice(1).join(':')}: vigil creates it owned by its own user, mode 0600`, notifiers);
        if (fifo.get('format') === undefined) fifo.set('format', 'keepalived');
        break;
      }
      case 'notify_fifo_script':
      case 'vrrp_notify_fifo_script': {
        const command = scriptCommand(s, ctx, notifiers, 'FIFO');
        if (command !== undefined) notifiers.map('fifo').set('script', command);
        break;
      }
      case 'vrrp_notify_priority_changes':
        notifiers.map('fifo').set('priority_changes', readBool(s, ctx, global) ?? true);
        break;
      case 'fifo_write_vrrp_states_on_reload':
        notifiers.map('fifo').set('write_states_on_reload', readBool(s, ctx, global) ?? true);
        break;
      case 'enable_dbus': {
        const dbus = notifiers.map('dbus');
        if (dbus.get('bus') === undefined) dbus.set('bus', 'system');
        break;
      }
      case 'dbus_service_name':
        if (s.args[0] !== undefined) notifiers.map('dbus').set('name', s.args[0]);
        break;
      case 'enable_snmp_vrrp':
      case 'enable_snmp_keepalived':
        notifiers.map('snmp').set('keepalived_mib', true);
        break;
      case 'enable_snmp_rfc':
      case 'enable_snmp_rfcv2':
      case 'enable_snmp_rfcv3':
        notifiers.map('snmp');
        break;
      case 'enable_traps':
        notifiers.map('snmp').set('traps', true);
        break;
      case 'snmp_socket': {
        const v = s.args[0] ?? '';
        const m = /^(?:tcp:)?([^:/]+):([0-9]+)$/.exec(v);
        if (m) notifiers.map('snmp').set('agentx', `tcp:${m[1] ?? ''}:${m[2] ?? ''}`);
        else ctx.warn(s, 'vigil speaks AgentX over TCP only (tcp:HOST:PORT); left out', notifiers);
        break;
      }
      default: {
        const why = GLOBAL_UNSUPPORTED[k];
        ctx.warn(s, why !== undefined ? `not supported: ${why}` : 'not a global_defs keyword vigil knows; left out', global);
      }
    }
  }
}

function convertSyncGroup(s: KaStatement, ctx: ImportContext, out: YSeq): void {
  const name = vigilName(s.args[0] ?? '');
  if (out.items.some((g) => g instanceof YMap && g.get('name') === name)) {
    ctx.warn(s, `sync group left out: another sync group is named "${name}"`, out);
    return;
  }
  const m = new YMap().set('name', name);
  if (name !== (s.args[0] ?? '')) ctx.warn(s, `the name has characters vigil does not allow: written as "${name}"`, m);
  const members = new YSeq();
  const notify = new YMap();
  for (const line of s.block ?? []) {
    const notifyKey = NOTIFY_KEYS[line.keyword];
    if (line.keyword === 'group') {
      for (const member of (line.block ?? []).flatMap((x) => [x.keyword, ...x.args])) {
        const vigil = ctx.instanceNames.get(member);
        if (vigil === undefined) ctx.warn(line, `${member} is not an instance in the output; left out of the group`, m);
        else if (members.items.includes(vigil)) ctx.warn(line, `${member} twice; listed once`, m);
        else if (ctx.grouped.has(vigil)) ctx.warn(line, `${member} is already in sync group ${ctx.grouped.get(vigil) ?? ''}: an instance can be in one group only; left out of this one`, m);
        else {
          members.push(vigil);
          ctx.grouped.set(vigil, name);
        }
      }
    } else if (notifyKey !== undefined && notifyKey !== 'master_rx_lower_pri') {
      notifyScript(line, notifyKey, ctx, notify, m);
    } else if (line.keyword === 'global_tracking' || line.keyword === 'sync_group_tracking_weight') {
      ctx.warn(line, 'not supported: in vigil a member goes to FAULT only through its own tracking', m);
    } else if (line.keyword === 'track_interface' || line.keyword === 'track_script' || line.keyword === 'track_process' || line.keyword === 'track_file' || line.keyword === 'track_bfd') {
      ctx.warn(line, 'not supported on a sync group: add the tracking to each member instance', m);
    } else if (line.keyword === 'smtp_alert') {
      ctx.warn(line, 'not supported: vigil sends no e-mail', m);
    } else if (line.keyword === 'notify_priority_changes') {
      ctx.warn(line, 'not supported per sync group: notifiers.fifo.priority_changes applies to the FIFO', m);
    } else {
      ctx.warn(line, 'not a vrrp_sync_group keyword vigil knows (members go in group { ... }); left out', m);
    }
  }
  if (members.items.length === 0) {
    ctx.warn(s, 'sync group left out: it has no member in the output', out);
    return;
  }
  m.set('instances', members);
  if (notify.size > 0) m.set('notify', notify);
  out.push(m);
}

interface CheckUse {
  readonly instance: string;
  readonly weight: number;
}

/** vrrp_script / vrrp_track_process blocks → health checks, one per (script, weight) in use. */
function convertChecks(scripts: ReadonlyMap<string, KaStatement>, processes: ReadonlyMap<string, KaStatement>, ctx: ImportContext, out: YSeq): void {
  const used = new Set<string>();
  const convertKind = (kind: 'script' | 'process', defs: ReadonlyMap<string, KaStatement>, refs: ReadonlyMap<string, { script: string; weight?: number; where: KaStatement }[]>): void => {
    const uses = new Map<string, CheckUse[]>();
    for (const [instance, list] of refs) {
      if (![...ctx.instanceNames.values()].includes(instance)) continue;
      for (const ref of list) {
        const def = defs.get(ref.script);
        if (def === undefined) {
          ctx.warn(ref.where, `no ${kind === 'script' ? 'vrrp_script' : 'vrrp_track_process'} is named ${ref.script}; keepalived ignores it too`);
          continue;
        }
        const weight = ref.weight ?? defaultWeight(def);
        const l = uses.get(ref.script) ?? [];
        l.push({ instance, weight });
        uses.set(ref.script, l);
      }
    }
    for (const [name, def] of defs) {
      const list = uses.get(name);
      if (list === undefined) {
        ctx.note(def, 'tracked by no instance in the output: keepalived does not run it either; left out', out);
        continue;
      }
      const weights = [...new Set(list.map((u) => u.weight))];
      for (const w of weights) {
        let checkName = vigilName(name);
        if (weights.length > 1) checkName = vigilName(`${name}.w${w}`);
        while (used.has(checkName)) checkName = `${checkName}_`;
        used.add(checkName);
        if (w !== weights[0]) ctx.repeating++;
        const m = kind === 'script' ? scriptCheck(def, ctx) : processCheck(def, ctx);
        if (w !== weights[0]) ctx.repeating--;
        if (m === undefined) continue;
        m.parts.unshift({ kind: 'entry', key: 'name', value: checkName });
        if (weights.length > 1) ctx.note(def, `tracked with weight ${w}: one check per weight (vigil's weight is per check)`, m);
        m.set('weight', w);
        m.set('instances', list.filter((u) => u.weight === w).reduce((s, u) => (s.items.includes(u.instance) ? s : s.push(u.instance)), new YSeq()));
        out.push(m);
      }
    }
  };
  convertKind('script', scripts, ctx.tracked);
  convertKind('process', processes, ctx.trackedProcesses);
}

function defaultWeight(def: KaStatement): number {
  const w = def.block?.find((s) => s.keyword === 'weight')?.args[0];
  return w !== undefined && /^-?[0-9]+$/.test(w) ? Math.max(-254, Math.min(254, Number(w))) : 0;
}

/** A shell construct keepalived hands to /bin/sh (it execs directly only what is executable). */
const SHELL_CHARS = /[<>|&;$`*?(){}\[\]~]/;

function scriptCheck(def: KaStatement, ctx: ImportContext): YMap | undefined {
  const m = new YMap();
  let interval = '1s';
  let timeout: string | undefined;
  for (const s of def.block ?? []) {
    switch (s.keyword) {
      case 'script': {
        const text = s.args.length === 1 ? (s.args[0] ?? '') : s.args.join(' ');
        const tcp = /^<\s*\/dev\/tcp\/([^/\s]+)\/([0-9]+)$/.exec(text.trim());
        const argv = splitScript(text);
        const proc = /^(?:killall -0|pidof|pgrep(?: -x)?)\s+([A-Za-z0-9_.-]+)$/.exec(text.trim());
        if (tcp) {
          const host = tcp[1] ?? '';
          m.set('type', 'tcp').set('address', host.includes(':') ? `[${host}]:${tcp[2] ?? ''}` : `${host}:${tcp[2] ?? ''}`);
          ctx.note(s, 'a bash /dev/tcp connect: written as a tcp check (no shell)', m);
        } else if (proc) {
          m.set('type', 'process').set('process', proc[1] ?? '');
          ctx.note(s, 'a process check, read from /proc without forking', m);
        } else if (SHELL_CHARS.test(text) || !(argv[0] ?? '').startsWith('/')) {
          m.set('type', 'script').set('script', new YSeq().push('/bin/sh').push('-c').push(text));
          ctx.note(s, 'run through /bin/sh -c (a relative program or shell syntax; keepalived searches PATH or uses the shell likewise)', m);
        } else {
          const seq = new YSeq();
          for (const a of argv) seq.push(a);
          m.set('type', 'script').set('script', seq);
        }
        break;
      }
      case 'interval': {
        const v = readDuration(s, ctx, m);
        if (v !== undefined && secondsToMs(s.args[0] ?? '') < 10) {
          ctx.warn(s, 'vigil runs checks at most every 10ms: written as 10ms', m);
          interval = '10ms';
        } else interval = v ?? interval;
        break;
      }
      case 'timeout':
        timeout = readDuration(s, ctx, m);
        break;
      case 'rise': {
        const v = readInt(s, ctx, 1, 1_000_000, m);
        if (v !== undefined) m.set('rise', v);
        break;
      }
      case 'fall': {
        const v = readInt(s, ctx, 1, 1_000_000, m);
        if (v !== undefined) m.set('fall', v);
        break;
      }
      case 'weight':
        if (s.args.includes('reverse')) ctx.warn(s, 'reverse is not supported: the weight applies as written', m);
        break;
      case 'user':
        if (s.args[0] !== 'root') ctx.warn(s, `vigil runs health-check scripts as root; ${s.args.join(':')} is not used`, m);
        break;
      case 'init_fail':
        ctx.note(s, 'what vigil always does: a check counts as failed until `rise` successes in a row', m);
        break;
      default:
        ctx.warn(s, 'not a vrrp_script keyword vigil knows; left out', m);
    }
  }
  if (m.get('type') === undefined) {
    ctx.warn(def, 'no script: left out', undefined);
    return undefined;
  }
  if (ctx.scriptUser !== undefined && m.get('type') === 'script') {
    ctx.warn(def, `keepalived runs it as ${ctx.scriptUser.user} (script_user); vigil runs health-check scripts as root`, m);
  }
  m.set('interval', interval);
  // keepalived: a timeout of 0 (its default) means the interval.
  m.set('timeout', timeout ?? interval);
  reorderCheck(m);
  return m;
}

function processCheck(def: KaStatement, ctx: ImportContext): YMap | undefined {
  const m = new YMap().set('type', 'process');
  for (const s of def.block ?? []) {
    switch (s.keyword) {
      case 'process':
        if (s.args[0] !== undefined) m.set('process', s.args[0]);
        if (s.args.length > 1) ctx.warn(s, 'the process arguments are not matched: vigil matches a name or a command-line substring', m);
        break;
      case 'quorum': {
        const v = readInt(s, ctx, 1, 65535, m);
        if (v !== undefined) m.set('min_count', v);
        break;
      }
      case 'weight':
        if (s.args.includes('reverse')) ctx.warn(s, 'reverse is not supported: the weight applies as written', m);
        break;
      case 'full_command':
        ctx.note(s, 'vigil matches the name or a substring of the command line', m);
        break;
      default:
        ctx.warn(s, 'not supported for a vigil process check (it reads /proc every interval)', m);
    }
  }
  if (m.get('process') === undefined) {
    ctx.warn(def, 'no process named: left out', undefined);
    return undefined;
  }
  ctx.note(def, 'keepalived follows process events; vigil reads /proc every interval (1s here)', m);
  m.set('interval', '1s');
  return m;
}

function reorderCheck(m: YMap): void {
  const order = ['type', 'script', 'address', 'process', 'interval', 'timeout', 'rise', 'fall'];
  const entries = m.parts.filter((p) => p.kind === 'entry');
  const comments = m.parts.filter((p) => p.kind === 'comment');
  entries.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
  m.parts.splice(0, m.parts.length, ...comments, ...entries);
}
