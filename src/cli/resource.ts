/**
 * The resource manager's command line, in the manner of Pacemaker's tools:
 *
 *   vigil resource status [--json]                    as crm_mon shows it
 *   vigil resource start|stop|restart|cleanup NAME    target-role, restart, forget failures
 *   vigil node standby|online                         move everything off this node, or back
 *   vigil maintenance on|off                          leave every resource exactly as it is
 */
import { parseArgs } from 'node:util';
import { controlRequest } from '../daemon/control.js';
import type { ResourceServiceStatus } from '../daemon/resource-service.js';
import type { CliCommand, CliIo } from './main.js';
import { DEFAULT_RUNTIME_DIR } from './status.js';
import { errorText } from '../base/error-text.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function ago(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)}m ago` : `${(ms / 1000).toFixed(1)}s ago`;
}

function stateWord(state: string): string {
  return state.charAt(0).toUpperCase() + state.slice(1);
}

/** crm_mon's "Full List of Resources", for one node. */
export function formatResourceStatus(s: ResourceServiceStatus): string {
  const lines: string[] = [];
  lines.push(`Node: ${s.node.standby ? 'standby' : 'online'}${s.node.maintenance ? ', MAINTENANCE (resources are not managed)' : ''}`);
  lines.push('', 'Full List of Resources:');
  const byName = new Map(s.resources.map((r) => [r.name, r]));
  for (const g of s.groups) {
    const where =
      g.placement.kind === 'master' ? `where ${g.placement.instance} is master` : g.placement.kind === 'master-of-sync-group' ? `where sync group ${g.placement.group} is master` : 'on every node';
    const here = g.banned ? `banned here: ${g.banReason ?? ''}` : g.allowedHere ? 'runs here' : 'not here';
    const indent = g.standalone ? '  ' : '    ';
    if (!g.standalone) lines.push(`  * Resource Group: ${g.name} (${where}; ${here}):`);
    for (const name of g.members) {
      const r = byName.get(name);
      if (!r) continue;
      const parts = [stateWord(r.state)];
      if (g.standalone) parts.push(`${where}; ${here}`);
      if (r.targetRole === 'stopped') parts.push('target-role stopped');
      if (r.failCount > 0) parts.push(`fail count ${r.failCount >= 1_000_000 ? 'INFINITY' : r.failCount}/${r.migrationThreshold >= 1_000_000 ? 'INFINITY' : r.migrationThreshold}`);
      if (r.blocked) parts.push(`blocked: ${r.blocked}`);
      if (r.inFlight) parts.push(`${r.inFlight.probe ? 'probe' : r.inFlight.op} running ${(r.inFlight.elapsedMs / 1000).toFixed(1)}s`);
      lines.push(`${indent}* ${r.name}: ${parts.join(', ')}`);
      if (r.lastFailure) lines.push(`${indent}    last failure: ${r.lastFailure.op} rc ${r.lastFailure.rc}${r.lastFailure.timedOut ? ' (timed out)' : ''} ${ago(r.lastFailure.agoMs)}: ${r.lastFailure.detail}`);
    }
  }
  if (s.healthChecks.length > 0) {
    lines.push('', 'Health checks:');
    for (const c of s.healthChecks) lines.push(`  * ${c.name}: ${c.state}${c.lastResult ? ` (last: ${c.lastResult.ok ? 'ok' : 'failed'}, ${c.lastResult.detail})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

interface Parsed {
  readonly positionals: string[];
  readonly json: boolean;
  readonly runtimeDir: string;
}

function parse(argv: string[], io: CliIo, usage: string): Parsed | number {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        'runtime-dir': { type: 'string', default: DEFAULT_RUNTIME_DIR },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(usage);
      return EXIT_OK;
    }
    return { positionals, json: values.json, runtimeDir: values['runtime-dir'] };
  } catch (e) {
    io.stderr(`${errorText(e)}\n\n${usage}`);
    return EXIT_USAGE;
  }
}

/** Sends one request and prints the resource status it answers with. */
async function send(io: CliIo, who: string, p: Parsed, command: string, args?: Record<string, unknown>): Promise<number> {
  try {
    const r = await controlRequest(p.runtimeDir, args === undefined ? { command } : { command, args });
    if (!r.ok) {
      io.stderr(`${who}: ${r.error}\n`);
      return EXIT_FAILED;
    }
    const status = r.result as ResourceServiceStatus;
    io.stdout(p.json ? `${JSON.stringify(status, null, 2)}\n` : formatResourceStatus(status));
    return EXIT_OK;
  } catch (e) {
    io.stderr(`${who}: ${errorText(e)}\n`);
    return EXIT_FAILED;
  }
}

const RESOURCE_USAGE = `Usage: vigil resource status [--json] [--runtime-dir DIR]
       vigil resource start|stop|restart|cleanup NAME [--runtime-dir DIR]

status    every resource and group as crm_mon shows them: state, fail count, last failure
start     target-role started; stop: target-role stopped (stays stopped)
restart   stop, then start in place
cleanup   forget the fail count and failures, lift a ban, probe again
`;

export const resourceCommand: CliCommand = {
  name: 'resource',
  summary: 'Show resources as crm_mon does; start, stop, restart or clean up one',
  async run(argv, io) {
    const p = parse(argv, io, RESOURCE_USAGE);
    if (typeof p === 'number') return p;
    const [sub, name] = p.positionals;
    if (sub === 'status') return send(io, 'vigil resource status', p, 'resource-status');
    if (sub === 'start' || sub === 'stop' || sub === 'restart' || sub === 'cleanup') {
      if (name === undefined) {
        io.stderr(`vigil resource ${sub}: a resource name is needed\n\n${RESOURCE_USAGE}`);
        return EXIT_USAGE;
      }
      return send(io, `vigil resource ${sub}`, p, 'resource-command', { command: sub, resource: name });
    }
    io.stderr(`vigil resource: ${sub === undefined ? 'a subcommand is needed' : `unknown subcommand "${sub}"`}\n\n${RESOURCE_USAGE}`);
    return EXIT_USAGE;
  },
};

const NODE_USAGE = `Usage: vigil node standby|online [--runtime-dir DIR]

standby   this node runs nothing: its VRRP instances go to FAULT (the VIPs move to a peer)
          and its resources stop; kept across restarts
online    back again
`;

export const nodeCommand: CliCommand = {
  name: 'node',
  summary: 'Put this node in standby (everything moves off) or back online',
  async run(argv, io) {
    const p = parse(argv, io, NODE_USAGE);
    if (typeof p === 'number') return p;
    const [sub] = p.positionals;
    if (sub === 'standby' || sub === 'online') return send(io, `vigil node ${sub}`, p, 'node-standby', { on: sub === 'standby' });
    io.stderr(`vigil node: ${sub === undefined ? 'standby or online is needed' : `unknown subcommand "${sub}"`}\n\n${NODE_USAGE}`);
    return EXIT_USAGE;
  },
};

const MAINTENANCE_USAGE = `Usage: vigil maintenance on|off [--runtime-dir DIR]

on    vigil starts, stops and monitors no resource; they are left exactly as they are,
      also through a restart of vigil (Pacemaker's maintenance-mode); VRRP goes on
off   probe every resource and manage them again
`;

export const maintenanceCommand: CliCommand = {
  name: 'maintenance',
  summary: 'Leave every resource as it is (on), or manage them again (off)',
  async run(argv, io) {
    const p = parse(argv, io, MAINTENANCE_USAGE);
    if (typeof p === 'number') return p;
    const [sub] = p.positionals;
    if (sub === 'on' || sub === 'off') return send(io, `vigil maintenance ${sub}`, p, 'maintenance', { on: sub === 'on' });
    io.stderr(`vigil maintenance: ${sub === undefined ? 'on or off is needed' : `unknown subcommand "${sub}"`}\n\n${MAINTENANCE_USAGE}`);
    return EXIT_USAGE;
  },
};
