/**
 * `vigil check-config [-c|--config PATH]`: loads the config as the daemon would and
 * explains it.
 *
 *   valid:   a summary of each instance and sync group on stdout, warnings on stderr
 *            (as `warning: FILE:LINE:COL: KEY: MESSAGE`), exit 0;
 *   invalid: every issue, one per line (`FILE:LINE:COL: KEY: MESSAGE`), on stderr, exit 1.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, formatCentiseconds, formatIssue, loadConfig } from '../config/load.js';
import type { InstanceConfig, VigilConfig, VirtualIp } from '../config/types.js';
import type { CliCommand, CliIo } from './main.js';

// Kept local (not imported from main.ts) so this module has no runtime import of main.
const EXIT_OK = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

const USAGE = 'vigil check-config [-c|--config PATH]';

const HELP = `Usage: ${USAGE}

Checks a vigil configuration file: YAML syntax, the schema (unknown keys are errors)
and the rules between keys (address families, VRRP version limits, duplicate VRIDs,
sync groups, resources, and the quorum engine's own rules, as \`vigil run\` applies
them). Prints a summary and any warnings and exits 0 if it is valid; otherwise
prints every problem as FILE:LINE:COLUMN: KEY: MESSAGE and exits 1.

  -c, --config PATH   the file to check (default ${DEFAULT_CONFIG_PATH})
  -h, --help          show this help
`;

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function formatVip(v: VirtualIp, instance: InstanceConfig): string {
  const extras = [
    v.dev !== undefined && v.dev !== instance.interface ? `dev ${v.dev}` : undefined,
    v.label !== undefined ? `label ${v.label}` : undefined,
    v.scope !== 'global' ? `scope ${v.scope}` : undefined,
  ].filter((x): x is string => x !== undefined);
  const text = `${v.address.text}/${v.prefixLength}`;
  return extras.length > 0 ? `${text} (${extras.join(', ')})` : text;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The human summary of a valid config. */
export function summarizeConfig(config: VigilConfig): string {
  const lines: string[] = [
    `${config.path}: valid: ${plural(config.instances.length, 'instance', 'instances')}, ${plural(config.syncGroups.length, 'sync group', 'sync groups')}`,
  ];
  for (const i of config.instances) {
    const preempt = !i.preempt ? 'no preempt' : i.preemptDelayMs > 0 ? `preempt after ${formatMs(i.preemptDelayMs)}` : 'preempt';
    const owner = i.priority === 255 ? ' (address owner)' : '';
    lines.push(
      `instance ${i.name}: ${i.interface}, ${i.family === 'ipv4' ? 'IPv4' : 'IPv6'}, VRRPv${i.version}, VRID ${i.vrid}, ` +
        `priority ${i.priority}${owner}, interval ${formatCentiseconds(i.advertInterval)}, ${preempt}`,
    );
    lines.push(`  virtual IPs: ${i.virtualIps.map((v) => formatVip(v, i)).join(', ')}`);
    if (i.excludedIps.length > 0) lines.push(`  excluded IPs: ${i.excludedIps.map((v) => formatVip(v, i)).join(', ')}`);
    if (i.unicast !== undefined) {
      const source = i.unicast.source !== undefined ? ` (source ${i.unicast.source.text})` : '';
      lines.push(`  unicast peers: ${i.unicast.peers.map((a) => a.text).join(', ')}${source}`);
    } else {
      lines.push(`  multicast`);
    }
    if (i.trackInterfaces.length > 0) {
      const tracked = i.trackInterfaces.map((t) => (t.weight === 0 ? t.name : `${t.name} (weight ${t.weight > 0 ? '+' : ''}${t.weight})`));
      lines.push(`  tracking: ${tracked.join(', ')}`);
    }
    if (i.vmac !== undefined) lines.push(`  vmac: ${i.vmac.name}`);
    if (i.authentication.type === 'pass') lines.push('  authentication: password');
    const scripts = config.notifiers.instanceScripts[i.name];
    if (scripts !== undefined) lines.push(`  notify: ${Object.keys(scripts).join(', ')}`);
  }
  for (const g of config.syncGroups) {
    const scripts = config.notifiers.groupScripts[g.name];
    lines.push(`sync group ${g.name}: ${g.instances.join(', ')}${scripts !== undefined ? `; notify: ${Object.keys(scripts).join(', ')}` : ''}`);
  }
  const r = config.resources;
  const where = (g: (typeof r.groups)[number]): string =>
    g.placement.kind === 'master' ? `where ${g.placement.instance} is master` : g.placement.kind === 'master-of-sync-group' ? `where sync group ${g.placement.group} is master` : 'on every node';
  for (const res of r.resources) {
    const what =
      res.spec.type === 'vip'
        ? `vip ${res.spec.address.text}/${res.spec.prefixLength} on ${res.spec.interface}`
        : res.spec.type === 'exec'
          ? `exec ${res.spec.command.join(' ')}`
          : res.spec.type === 'systemd'
            ? `systemd ${res.spec.unit}`
            : `ocf ${res.spec.agent}`;
    const threshold = Number.isFinite(res.migrationThreshold) ? `, migration after ${res.migrationThreshold} failures` : '';
    lines.push(`resource ${res.name}: ${what}, monitor every ${formatMs(res.monitorIntervalMs)}, on_fail ${res.onFail}${threshold}${res.targetRole === 'stopped' ? ', stopped' : ''}`);
  }
  for (const g of r.groups) lines.push(`group ${g.name}: ${g.resources.join(', ')} ${where(g)}`);
  for (const c of r.healthChecks) {
    const effect = [
      c.instances.length > 0 ? (c.weight === 0 ? `FAULT of ${c.instances.join(', ')} while unhealthy` : `priority ${c.weight > 0 ? '+' : ''}${c.weight} on ${c.instances.join(', ')}`) : undefined,
      c.resource !== undefined ? `recovery of ${c.resource}` : undefined,
    ].filter((x): x is string => x !== undefined);
    lines.push(`health check ${c.name}: ${c.spec.type} every ${formatMs(c.intervalMs)} (rise ${c.rise}, fall ${c.fall})${effect.length > 0 ? `: ${effect.join('; ')}` : ''}`);
  }
  const q = config.quorum;
  if (q?.provider === 'corosync') {
    lines.push(`quorum: from the local corosync (votequorum; corosync.conf decides membership and votes), no_quorum_policy ${q.noQuorumPolicy}`);
  } else if (q !== undefined) {
    const options = [
      q.twoNode ? 'two_node' : undefined,
      q.waitForAll ? 'wait_for_all' : undefined,
      q.lastManStanding ? `last_man_standing (${formatMs(q.lastManStandingWindowMs)})` : undefined,
      q.autoTieBreaker ? `auto_tie_breaker (${Array.isArray(q.autoTieBreakerNode) ? q.autoTieBreakerNode.join(',') : String(q.autoTieBreakerNode)})` : undefined,
    ].filter((x): x is string => x !== undefined);
    lines.push(
      `quorum: ${plural(q.nodes.length, 'node', 'nodes')} (${q.nodes.map((n) => `${n.id} ${n.name} ${n.address.text}${n.votes === 1 ? '' : ` ${n.votes} votes`}`).join(', ')}), ` +
        `${q.transport} heartbeats every ${formatMs(q.heartbeatIntervalMs)} (timeout ${formatMs(q.heartbeatTimeoutMs)}) on UDP ${q.port}, no_quorum_policy ${q.noQuorumPolicy}` +
        (options.length > 0 ? `, ${options.join(', ')}` : ''),
    );
    const tb = q.tieBreaker;
    if (tb !== undefined) {
      const checks = [tb.ping ? `ping ${tb.ping.text}` : undefined, tb.tcp ? `tcp ${tb.tcp.address.text}:${tb.tcp.port}` : undefined, tb.fence ? `fence ${tb.fence}` : undefined];
      lines.push(`  tie-breaker: ${checks.filter((x): x is string => x !== undefined).join(', ')} (timeout ${formatMs(tb.timeoutMs)})`);
    }
  }
  const n = config.notifiers;
  const fifo = n.fifo;
  if (fifo !== undefined) lines.push(`notify FIFO ${fifo.path}: ${fifo.format} lines${fifo.script !== undefined ? `, read by ${fifo.script}` : ''}`);
  for (const a of n.alerts) lines.push(`alert agent ${a.path}: ${a.kinds.join(', ')} to "${a.recipient}"`);
  if (Object.keys(n.instanceScripts).length + Object.keys(n.groupScripts).length + n.alerts.length > 0 || fifo !== undefined) {
    lines.push(`scripts run as ${n.scriptUser ?? 'root'}, at most ${formatMs(n.scriptTimeoutMs)} each`);
  }
  return `${lines.join('\n')}\n`;
}

function isParseArgsError(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  const code: unknown = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

export const checkConfigCommand: CliCommand = {
  name: 'check-config',
  summary: 'Check a configuration file and summarize it',
  async run(argv: string[], io: CliIo): Promise<number> {
    let file: string;
    try {
      const { values } = parseArgs({
        args: argv,
        options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
        allowPositionals: false,
      });
      if (values.help === true) {
        io.stdout(HELP);
        return EXIT_OK;
      }
      file = values.config ?? DEFAULT_CONFIG_PATH;
    } catch (e) {
      if (!isParseArgsError(e)) throw e;
      io.stderr(`vigil check-config: ${e.message}\nUsage: ${USAGE}\n`);
      return EXIT_USAGE;
    }
    const result = await loadConfig(file);
    if (!result.ok) {
      io.stderr(result.errors.map((issue) => `${formatIssue(issue)}\n`).join(''));
      return EXIT_INVALID;
    }
    io.stdout(summarizeConfig(result.config));
    if (result.warnings.length > 0) io.stderr(result.warnings.map((w) => `warning: ${formatIssue(w)}\n`).join(''));
    return EXIT_OK;
  },
};
