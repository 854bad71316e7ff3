/**
 * Resolving the top-level `notifiers:` section and the per-instance / per-sync-group
 * `notify:` mappings into NotifiersConfig (notifier-types.ts gives the YAML shape). The
 * JSON Schema has already checked the types, the enums and the absolute paths; this adds
 * what a schema cannot say: every script is safe to run as root (keepalived's
 * enable_script_security, always on: src/os/script-safety.ts), script_user exists, the AgentX and
 * listen addresses parse, names refer to configured instances. Every problem is reported
 * at its key (FILE:LINE:COLUMN through the loader's locator).
 */
import { readFileSync } from 'node:fs';
import { scriptCheck } from '../os/script-safety.js';
import type { AlertAgentConfig, AlertKind, FifoNotifierConfig, NotifiersConfig, NotifyScripts } from './notifier-types.js';
import type { ResolveContext } from './context.js';
import { entries, given, type Checked, type NotifiersDocument, type NotifyDocument, type VigilDocument } from './document.js';
import type { KeyPath } from './locate.js';
import { parseHostPort } from './units.js';


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
const SCRIPT_KEYS: readonly (readonly [keyof NotifyDocument, keyof NotifyScripts])[] = [
  ['master', 'master'],
  ['backup', 'backup'],
  ['fault', 'fault'],
  ['stop', 'stop'],
  ['deleted', 'deleted'],
  ['master_rx_lower_pri', 'masterRxLowerPri'],
  ['any', 'any'],
];


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

export function resolveNotifiers(doc: VigilDocument, ctx: ResolveContext): NotifiersConfig {
  const checkScript = (command: Checked<string>, p: KeyPath): string | undefined => {
    const text = given(command);
    if (text === undefined) return undefined;
    const program = scriptWords(text)[0];
    // Not absolute: the schema has said so.
    if (program === undefined || !program.startsWith('/')) return undefined;
    const problem = scriptCheck(program);
    if (problem !== undefined) {
      ctx.error(p, `${problem.kind === 'unsafe' ? 'unsafe script' : 'cannot run'}: ${problem.message.replace(/; refused$/, '')} (a notify script runs as root: it must be root-owned and writable by root only, along its whole path)`);
      return undefined;
    }
    return text;
  };

  const scriptsOf = (raw: Checked<NotifyDocument>, p: KeyPath): NotifyScripts | undefined => {
    const notify = given(raw);
    if (notify === undefined) return undefined;
    const out: { -readonly [K in keyof NotifyScripts]: string } = {};
    for (const [key, field] of SCRIPT_KEYS) {
      const ok = checkScript(notify[key], [...p, key]);
      if (ok !== undefined) out[field] = ok;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  };

  const instanceScripts: Record<string, NotifyScripts> = {};
  entries(doc.instances).forEach((raw, i) => {
    const inst = given(raw);
    const name = given(inst?.name);
    if (inst === undefined || name === undefined) return;
    const s = scriptsOf(inst.notify, ['instances', i, 'notify']);
    if (s) instanceScripts[name] = s;
  });
  const groupScripts: Record<string, NotifyScripts> = {};
  entries(doc.sync_groups).forEach((raw, i) => {
    const group = given(raw);
    const name = given(group?.name);
    if (group === undefined || name === undefined) return;
    const s = scriptsOf(group.notify, ['sync_groups', i, 'notify']);
    if (s) groupScripts[name] = s;
  });

  const raw: NotifiersDocument = given(doc.notifiers) ?? {};
  const p: KeyPath = ['notifiers'];

  const scriptUser = given(raw.script_user);
  if (scriptUser !== undefined) {
    const found = lookupUser(scriptUser);
    if ('error' in found) ctx.error([...p, 'script_user'], found.error);
  }
  const scriptTimeoutMs = ctx.durationMs(given(raw.script_timeout), [...p, 'script_timeout']) ?? NOTIFIER_DEFAULTS.scriptTimeoutMs;

  let fifo: FifoNotifierConfig | undefined;
  const f = given(raw.fifo);
  const fifoPath = given(f?.path);
  if (f !== undefined && fifoPath !== undefined) {
    const fp: KeyPath = [...p, 'fifo'];
    const script = checkScript(f.script, [...fp, 'script']);
    fifo = {
      path: fifoPath,
      ...(script !== undefined ? { script } : {}),
      format: given(f.format) ?? NOTIFIER_DEFAULTS.fifoFormat,
      priorityChanges: given(f.priority_changes) === true,
      writeStatesOnReload: given(f.write_states_on_reload) === true,
      bufferLines: given(f.buffer_lines) ?? NOTIFIER_DEFAULTS.fifoBufferLines,
    };
  }

  let dbus: NotifiersConfig['dbus'];
  const d = given(raw.dbus);
  if (d !== undefined) dbus = { bus: given(d.bus) ?? NOTIFIER_DEFAULTS.dbusBus, name: given(d.name) ?? NOTIFIER_DEFAULTS.dbusName };

  let snmp: NotifiersConfig['snmp'];
  const sn = given(raw.snmp);
  if (sn !== undefined) {
    const text = given(sn.agentx) ?? NOTIFIER_DEFAULTS.snmpAgentx;
    const agentx = text.startsWith('tcp:') ? hostPort(text.slice('tcp:'.length)) : undefined;
    if (agentx === undefined) {
      ctx.error([...p, 'snmp', 'agentx'], `${JSON.stringify(text)} is not tcp:ADDRESS:PORT (the AgentX subagent speaks TCP only; snmpd needs "agentXSocket ${NOTIFIER_DEFAULTS.snmpAgentx}")`);
    } else {
      snmp = { agentx, traps: given(sn.traps) !== false, keepalivedMib: given(sn.keepalived_mib) !== false };
    }
  }

  let prometheus: NotifiersConfig['prometheus'];
  const m = given(raw.prometheus);
  if (m !== undefined) {
    const pp: KeyPath = [...p, 'prometheus'];
    const listenText = given(m.listen);
    const listen = listenText === undefined ? undefined : hostPort(listenText);
    // The schema checks the shape; this the address and the port's range.
    if (listenText !== undefined && listen === undefined) ctx.error([...pp, 'listen'], `${JSON.stringify(listenText)} is not ADDRESS:PORT (e.g. "127.0.0.1:9650", "[::1]:9650")`);
    const textfile = given(m.textfile);
    if (m.listen === undefined && textfile === undefined) ctx.error(pp, 'prometheus needs listen, textfile or both');
    prometheus = {
      ...(listen ? { listen } : {}),
      ...(textfile !== undefined ? { textfile } : {}),
      textfileIntervalMs: ctx.durationMs(given(m.textfile_interval), [...pp, 'textfile_interval']) ?? NOTIFIER_DEFAULTS.textfileIntervalMs,
    };
  }

  const alerts: AlertAgentConfig[] = [];
  entries(raw.alerts).forEach((rawAlert, i) => {
    const a = given(rawAlert);
    if (a === undefined) return;
    const ap: KeyPath = [...p, 'alerts', i];
    const path = checkScript(a.path, [...ap, 'path']);
    if (path === undefined) return;
    if (scriptWords(path).length > 1) {
      ctx.error([...ap, 'path'], 'an alert agent is a path without arguments (Pacemaker passes everything in CRM_alert_* variables)');
      return;
    }
    const kinds = given(a.kinds) === undefined ? [...NOTIFIER_DEFAULTS.alertKinds] : entries(a.kinds).flatMap((k) => (given(k) === undefined ? [] : [given(k) as AlertKind]));
    alerts.push({
      path,
      recipient: given(a.recipient) ?? '',
      timeoutMs: ctx.durationMs(given(a.timeout), [...ap, 'timeout']) ?? NOTIFIER_DEFAULTS.alertTimeoutMs,
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

/** "ADDRESS:PORT" or "[V6]:PORT" (port 1..65535) as notifiers keep it, or undefined (units.ts parses it). */
function hostPort(text: string): { host: string; port: number } | undefined {
  const parsed = parseHostPort(text);
  return parsed === undefined ? undefined : { host: parsed.address.text, port: parsed.port };
}
