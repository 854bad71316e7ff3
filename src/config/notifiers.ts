/**
 * Resolving the top-level `notifiers:` section and the per-instance / per-sync-group
 * `notify:` mappings into NotifiersConfig (notifier-types.ts gives the YAML shape). The
 * JSON Schema has already checked the types, the enums and the absolute paths; this adds
 * what a schema cannot say: every script is safe to run as root (keepalived's
 * enable_script_security, always on: script-safety.ts), script_user exists, the AgentX and
 * listen addresses parse, names refer to configured instances. Every problem is reported
 * at its key (FILE:LINE:COLUMN through the loader's locator).
 */
import { readFileSync } from 'node:fs';
import { scriptCheck } from '../daemon/script-safety.js';
import type { AlertAgentConfig, AlertKind, FifoNotifierConfig, NotifiersConfig, NotifyScripts } from './notifier-types.js';

type KeyPath = readonly (string | number)[];

/** What the resolver needs from the loader: where to report, and its duration rule. */
export interface NotifierResolveContext {
  error(p: KeyPath, message: string): void;
  /** A duration in whole milliseconds (undefined when absent or after an error). */
  durationMs(value: unknown, p: KeyPath): number | undefined;
}

export const NOTIFIER_DEFAULTS = {
  scriptTimeoutMs: 30_000,
  fifoFormat: 'keepalived',
  fifoBufferLines: 10_000,
  dbusBus: 'system',
  dbusName: 'org.keepalived.Vrrp1',
  snmpAgentx: 'tcp:127.0.0.1:705',
  textfileIntervalMs: 15_000,
  alertTimeoutMs: 30_000,
  alertKinds: ['node', 'resource', 'attribute', 'fencing'] as readonly AlertKind[],
} as const;

/** The `notify:` keys and their NotifyScripts fields (keepalived: notify_<key>, `any` = notify). */
const SCRIPT_KEYS: readonly (readonly [string, keyof NotifyScripts])[] = [
  ['master', 'master'],
  ['backup', 'backup'],
  ['fault', 'fault'],
  ['stop', 'stop'],
  ['deleted', 'deleted'],
  ['master_rx_lower_pri', 'masterRxLowerPri'],
  ['any', 'any'],
];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** "PATH [ARG ...]": the words of a notify script setting (keepalived splits on blanks too). */
export function scriptWords(command: string): string[] {
  return command.trim().split(/\s+/).filter((w) => w !== '');
}

/** A uid and gid for `user` or `user:group` from /etc/passwd and /etc/group, or an error text. */
export function lookupUser(spec: string, passwd = '/etc/passwd', group = '/etc/group'): { uid: number; gid: number } | { error: string } {
  const [userName = '', groupName] = spec.split(':', 2);
  let passwdText: string;
  let groupText: string;
  try {
    passwdText = readFileSync(passwd, 'utf8');
    groupText = groupName === undefined ? '' : readFileSync(group, 'utf8');
  } catch (e) {
    return { error: `cannot read the user database: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  const entry = passwdText.split('\n').map((l) => l.split(':')).find((f) => f[0] === userName);
  if (entry === undefined) return { error: `no user "${userName}" in ${passwd}` };
  const uid = Number(entry[2]);
  let gid = Number(entry[3]);
  if (groupName !== undefined) {
    const g = groupText.split('\n').map((l) => l.split(':')).find((f) => f[0] === groupName);
    if (g === undefined) return { error: `no group "${groupName}" in ${group}` };
    gid = Number(g[2]);
  }
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return { error: `the entry of "${spec}" has no numeric uid/gid` };
  return { uid, gid };
}

export function resolveNotifiers(root: Record<string, unknown>, ctx: NotifierResolveContext): NotifiersConfig {
  const checkScript = (command: unknown, p: KeyPath): string | undefined => {
    if (typeof command !== 'string') return undefined;
    const program = scriptWords(command)[0];
    // Not absolute: the schema has said so.
    if (program === undefined || !program.startsWith('/')) return undefined;
    const problem = scriptCheck(program);
    if (problem !== undefined) {
      ctx.error(p, `${problem.kind === 'unsafe' ? 'unsafe script' : 'cannot run'}: ${problem.message.replace(/; refused$/, '')} (a notify script runs as root: it must be root-owned and writable by root only, along its whole path)`);
      return undefined;
    }
    return command;
  };

  const scriptsOf = (raw: unknown, p: KeyPath): NotifyScripts | undefined => {
    if (!isRecord(raw)) return undefined;
    const out: Record<string, string> = {};
    for (const [key, field] of SCRIPT_KEYS) {
      const ok = checkScript(raw[key], [...p, key]);
      if (ok !== undefined) out[field] = ok;
    }
    return Object.keys(out).length > 0 ? (out as NotifyScripts) : undefined;
  };

  const instanceScripts: Record<string, NotifyScripts> = {};
  const rawInstances = Array.isArray(root['instances']) ? root['instances'] : [];
  rawInstances.forEach((raw, i) => {
    if (!isRecord(raw) || typeof raw['name'] !== 'string') return;
    const s = scriptsOf(raw['notify'], ['instances', i, 'notify']);
    if (s) instanceScripts[raw['name']] = s;
  });
  const groupScripts: Record<string, NotifyScripts> = {};
  const rawGroups = Array.isArray(root['sync_groups']) ? root['sync_groups'] : [];
  rawGroups.forEach((raw, i) => {
    if (!isRecord(raw) || typeof raw['name'] !== 'string') return;
    const s = scriptsOf(raw['notify'], ['sync_groups', i, 'notify']);
    if (s) groupScripts[raw['name']] = s;
  });

  const raw = isRecord(root['notifiers']) ? root['notifiers'] : {};
  const p: KeyPath = ['notifiers'];

  const scriptUser = typeof raw['script_user'] === 'string' ? raw['script_user'] : undefined;
  if (scriptUser !== undefined) {
    const found = lookupUser(scriptUser);
    if ('error' in found) ctx.error([...p, 'script_user'], found.error);
  }
  const scriptTimeoutMs = ctx.durationMs(raw['script_timeout'], [...p, 'script_timeout']) ?? NOTIFIER_DEFAULTS.scriptTimeoutMs;

  let fifo: FifoNotifierConfig | undefined;
  if (isRecord(raw['fifo']) && typeof raw['fifo']['path'] === 'string') {
    const f = raw['fifo'];
    const fp: KeyPath = [...p, 'fifo'];
    const script = checkScript(f['script'], [...fp, 'script']);
    fifo = {
      path: f['path'] as string,
      ...(script !== undefined ? { script } : {}),
      format: f['format'] === 'json' ? 'json' : 'keepalived',
      priorityChanges: f['priority_changes'] === true,
      writeStatesOnReload: f['write_states_on_reload'] === true,
      bufferLines: typeof f['buffer_lines'] === 'number' ? f['buffer_lines'] : NOTIFIER_DEFAULTS.fifoBufferLines,
    };
  }

  let dbus: NotifiersConfig['dbus'];
  if (isRecord(raw['dbus'])) {
    const d = raw['dbus'];
    dbus = {
      bus: typeof d['bus'] === 'string' ? d['bus'] : NOTIFIER_DEFAULTS.dbusBus,
      name: typeof d['name'] === 'string' ? d['name'] : NOTIFIER_DEFAULTS.dbusName,
    };
  }

  let snmp: NotifiersConfig['snmp'];
  if (isRecord(raw['snmp'])) {
    const s = raw['snmp'];
    const text = typeof s['agentx'] === 'string' ? s['agentx'] : NOTIFIER_DEFAULTS.snmpAgentx;
    const agentx = hostPort(text.replace(/^tcp:/, ''));
    if (!text.startsWith('tcp:') || agentx === undefined) {
      ctx.error([...p, 'snmp', 'agentx'], `${JSON.stringify(text)} is not tcp:HOST:PORT (the AgentX subagent speaks TCP only; snmpd needs "agentXSocket ${NOTIFIER_DEFAULTS.snmpAgentx}")`);
    } else {
      snmp = { agentx, traps: s['traps'] !== false, keepalivedMib: s['keepalived_mib'] !== false };
    }
  }

  let prometheus: NotifiersConfig['prometheus'];
  if (isRecord(raw['prometheus'])) {
    const m = raw['prometheus'];
    const pp: KeyPath = [...p, 'prometheus'];
    const listen = typeof m['listen'] === 'string' ? hostPort(m['listen']) : undefined;
    // The schema checks the shape; this the port's range.
    if (typeof m['listen'] === 'string' && listen === undefined && /:[0-9]{1,5}$/.test(m['listen'])) ctx.error([...pp, 'listen'], `${JSON.stringify(m['listen'])} is not HOST:PORT (e.g. "127.0.0.1:9650", "[::1]:9650")`);
    const textfile = typeof m['textfile'] === 'string' ? m['textfile'] : undefined;
    if (m['listen'] === undefined && textfile === undefined) ctx.error(pp, 'prometheus needs listen, textfile or both');
    prometheus = {
      ...(listen ? { listen } : {}),
      ...(textfile !== undefined ? { textfile } : {}),
      textfileIntervalMs: ctx.durationMs(m['textfile_interval'], [...pp, 'textfile_interval']) ?? NOTIFIER_DEFAULTS.textfileIntervalMs,
    };
  }

  const alerts: AlertAgentConfig[] = [];
  const rawAlerts = Array.isArray(raw['alerts']) ? raw['alerts'] : [];
  rawAlerts.forEach((a, i) => {
    if (!isRecord(a)) return;
    const ap: KeyPath = [...p, 'alerts', i];
    const path = checkScript(a['path'], [...ap, 'path']);
    if (path === undefined) return;
    if (scriptWords(path).length > 1) {
      ctx.error([...ap, 'path'], 'an alert agent is a path without arguments (Pacemaker passes everything in CRM_alert_* variables)');
      return;
    }
    const kinds = Array.isArray(a['kinds']) ? (a['kinds'].filter((k): k is AlertKind => typeof k === 'string') as AlertKind[]) : [...NOTIFIER_DEFAULTS.alertKinds];
    alerts.push({
      path,
      recipient: typeof a['recipient'] === 'string' ? a['recipient'] : '',
      timeoutMs: ctx.durationMs(a['timeout'], [...ap, 'timeout']) ?? NOTIFIER_DEFAULTS.alertTimeoutMs,
      kinds: [...new Set(kinds)],
    });
  });

  return {
    ...(scriptUser !== undefined ? { scriptUser } : {}),
    scriptTimeoutMs,
    ...(fifo ? { fifo } : {}),
    ...(dbus ? { dbus } : {}),
    ...(snmp ? { snmp } : {}),
    ...(prometheus ? { prometheus } : {}),
    alerts,
    instanceScripts,
    groupScripts,
  };
}

/** "HOST:PORT" or "[V6]:PORT" (port 1..65535), or undefined. */
function hostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}
