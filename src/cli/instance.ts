/**
 * `vigil instance role NAME ROLE`: what Pacemaker's agent (ocf:vigil:vrrp) sets for an
 * instance (src/daemon/promotion.ts): free, stopped, unpromoted or promoted.
 *
 *   vigil instance role NAME                  prints the role
 *   vigil instance role NAME ROLE             sets it
 */
import { parseArgs } from 'node:util';
import { controlRequest } from '../daemon/control.js';
import { PROMOTION_ROLES } from '../daemon/promotion.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import type { CliCommand, CliIo } from './main.js';
import { DEFAULT_RUNTIME_DIR } from './status.js';
import { errorText } from '../base/error-text.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_NO_INSTANCE = 3;

const HELP = `Usage: vigil instance role NAME [ROLE] [--runtime-dir DIR]
       vigil instance status NAME [--runtime-dir DIR]

status prints one line, "ROLE STATE PRIORITY" (the effective priority; FAULT's reasons
follow), from the daemon's status, as vigil status shows it; exit 3 when NAME is not an instance.

Prints or sets the role Pacemaker gives the VRRP instance NAME (ocf:vigil:vrrp):
  free        not under Pacemaker: VRRP alone decides (every instance when vigil starts,
              but for the roles a previous run left in the runtime directory: stopped
              stays stopped, unpromoted and promoted come back unpromoted)
  stopped     FAULT: no adverts, no VIP
  unpromoted  backup that may not become master; a master steps down (sends priority 0)
  promoted    may become master
`;

/** One line for the OCF agent: role, VRRP state, effective priority, and FAULT's reasons. */
async function printStatus(io: CliIo, runtimeDir: string, name: string): Promise<number> {
  try {
    const r = await controlRequest(runtimeDir, { command: 'status' });
    if (!r.ok) throw new Error(r.error);
    const status = r.result as DaemonStatus & { promotion?: Record<string, string> };
    const instance = status.instances.find((i) => i.name === name);
    if (!instance) {
      io.stderr(`vigil instance status: no instance is named "${name}"\n`);
      return EXIT_NO_INSTANCE;
    }
    io.stdout(`${status.promotion?.[name] ?? 'free'} ${instance.state} ${instance.effectivePriority}${instance.faults.length > 0 ? ` ${instance.faults.join(', ')}` : ''}\n`);
    return EXIT_OK;
  } catch (e) {
    io.stderr(`vigil instance status: ${errorText(e)}\n`);
    return EXIT_FAILED;
  }
}

export const instanceCommand: CliCommand = {
  name: 'instance',
  summary: "Set an instance's role as Pacemaker's agent does: free, stopped, unpromoted, promoted",
  async run(argv, io) {
    let values: { 'runtime-dir': string; help: boolean };
    let positionals: string[];
    try {
      const parsed = parseArgs({
        args: argv,
        options: { 'runtime-dir': { type: 'string', default: DEFAULT_RUNTIME_DIR }, help: { type: 'boolean', short: 'h', default: false } },
        allowPositionals: true,
        strict: true,
      });
      values = parsed.values;
      positionals = parsed.positionals;
    } catch (e) {
      io.stderr(`vigil instance: ${errorText(e)}\n\n${HELP}`);
      return EXIT_USAGE;
    }
    if (values.help) {
      io.stdout(HELP);
      return EXIT_OK;
    }
    const [sub, name, role] = positionals;
    if (sub === 'status' && name !== undefined && positionals.length === 2) return printStatus(io, values['runtime-dir'], name);
    if (sub !== 'role' || name === undefined || positionals.length > 3 || (role !== undefined && !PROMOTION_ROLES.some((r) => r === role))) {
      io.stderr(`vigil instance: expected "role NAME [${PROMOTION_ROLES.join('|')}]"\n\n${HELP}`);
      return EXIT_USAGE;
    }
    try {
      if (role === undefined) {
        const r = await controlRequest(values['runtime-dir'], { command: 'status' });
        if (!r.ok) throw new Error(r.error);
        const roles = (r.result as { promotion?: Record<string, string> }).promotion ?? {};
        io.stdout(`${roles[name] ?? 'free'}\n`);
        return EXIT_OK;
      }
      const r = await controlRequest(values['runtime-dir'], { command: 'instance-role', args: { instance: name, role } });
      if (!r.ok) {
        io.stderr(`vigil instance role: ${r.error}\n`);
        return EXIT_FAILED;
      }
      io.stdout(`${name}: ${role}\n`);
      return EXIT_OK;
    } catch (e) {
      io.stderr(`vigil instance role: ${errorText(e)}\n`);
      return EXIT_FAILED;
    }
  },
};
