/**
 * `vigil quorum status|unblock|expected`: the running daemon's quorum, as
 * corosync-quorumtool shows it, and the two operator commands of votequorum.
 *
 *   vigil quorum status [--json]          exit 0 quorate, 2 not (as corosync-quorumtool -s)
 *   vigil quorum unblock --force          cancel wait_for_all (pcs quorum unblock)
 *   vigil quorum expected N               set the expected votes (corosync-quorumtool -e N)
 */
import { parseArgs } from 'node:util';
import { controlRequest, type ControlResponse } from '../daemon/control.js';
import type { QuorumServiceStatus } from '../daemon/quorum-service.js';
import type { CorosyncQuorumStatus } from '../daemon/corosync-quorum.js';
import { formatQuorumStatus } from '../quorum/engine.js';
import type { CliCommand, CliIo } from './main.js';
import { DEFAULT_RUNTIME_DIR } from './status.js';
import { errorText } from '../base/error-text.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INQUORATE = 2;

const HELP = `Usage: vigil quorum status [--json] [--runtime-dir DIR]
       vigil quorum unblock --force [--runtime-dir DIR]
       vigil quorum expected VOTES [--runtime-dir DIR]

status    this node's quorum, as corosync-quorumtool -s shows it, plus the tie-breaker
          and the heartbeats; exits 0 when quorate and 2 when not.
unblock   cancels wait_for_all on this node, so it may become quorate without having
          seen every node. Only when you know the other nodes are down and will stay
          down (otherwise both halves may hold the virtual addresses): needs --force.
expected  sets the expected votes (refused below the votes present, or when it would
          make this node inquorate).
`;

/** The verdict and extras, after corosync's fields. */
export function formatQuorumServiceStatus(s: QuorumServiceStatus | CorosyncQuorumStatus): string {
  if ('provider' in s && s.provider === 'corosync') return formatCorosyncStatus(s);
  const lines = [formatQuorumStatus(s).trimEnd(), '', 'vigil', '-----'];
  const verdict =
    s.verdict === 'hold' ? 'may be master' : s.verdict === 'keep' ? 'no takeover (masters stay)' : 'may not be master (masters step down)';
  lines.push(`${'Verdict:'.padEnd(18)}${verdict}`);
  lines.push(`${'No-quorum policy:'.padEnd(18)}${s.noQuorumPolicy}`);
  lines.push(`${'Wait for all:'.padEnd(18)}${s.waitingForAll ? 'waiting (vigil quorum unblock --force to cancel)' : s.flags.waitForAll ? 'satisfied' : 'off'}`);
  if (s.tieBreaker) {
    const checks = s.tieBreaker.lastChecks.map((c) => `${c.check} ${c.ok ? 'ok' : 'failed'}: ${c.detail}`).join('; ');
    lines.push(`${'Tie-breaker:'.padEnd(18)}${s.tieBreaker.split ? `split, ${s.tieBreaker.state}` : 'peer reachable'}${s.tieBreaker.fenced ? ', peer fenced' : ''}${checks ? ` (${checks})` : ''}`);
  }
  lines.push(
    `${'Heartbeats:'.padEnd(18)}sent ${s.heartbeats.sent}, accepted ${s.heartbeats.accepted}` +
      (Object.keys(s.heartbeats.rejected).length > 0 ? `, dropped ${Object.entries(s.heartbeats.rejected).map(([r, n]) => `${r} ${n}`).join(', ')}` : ''),
  );
  lines.push('', `${'Peer'.padEnd(12)} ${'Address'.padEnd(16)} Member  Last heard`);
  for (const p of s.peers) {
    lines.push(`${`${p.id} ${p.name}`.padEnd(12)} ${p.address.padEnd(16)} ${(p.member ? 'yes' : 'no').padEnd(7)} ${p.lastHeardMsAgo === null ? '-' : `${p.lastHeardMsAgo} ms ago`}`);
  }
  for (const w of s.warnings) lines.push(`WARNING: ${w}`);
  return `${lines.join('\n')}\n`;
}

/** quorum.provider corosync: corosync's view (as corosync-quorumtool -s), then the connection and vigil's verdict. */
function formatCorosyncStatus(s: CorosyncQuorumStatus): string {
  const lines = [formatQuorumStatus(s, { provider: 'corosync_votequorum' }).trimEnd(), '', 'vigil', '-----'];
  const c = s.corosync;
  const since = `${(c.sinceMsAgo / 1000).toFixed(1)} s`;
  lines.push(`${'Corosync:'.padEnd(18)}${c.connected ? `connected for ${since}, ring ${c.ringId ?? '-'}` : `NOT CONNECTED for ${since}, counted as inquorate (${c.lastError ?? 'connecting'}); reconnecting`}`);
  if (c.disconnects > 0) lines.push(`${'Disconnects:'.padEnd(18)}${c.disconnects}`);
  if (c.qdevice) lines.push(`${'Quorum device:'.padEnd(18)}${c.qdevice.name}, ${c.qdevice.votes} votes, ${c.qdevice.alive ? 'alive' : 'not alive'}${c.qdevice.castVote ? ', casting its vote' : ''}`);
  const verdict = s.verdict === 'hold' ? 'may be master' : s.verdict === 'keep' ? 'no takeover (masters stay)' : 'may not be master (masters step down)';
  lines.push(`${'Verdict:'.padEnd(18)}${verdict}`);
  lines.push(`${'No-quorum policy:'.padEnd(18)}${s.noQuorumPolicy}`);
  lines.push(`${'Wait for all:'.padEnd(18)}${s.waitingForAll ? 'waiting (vigil quorum unblock --force to cancel)' : s.flags.waitForAll ? 'satisfied' : 'off'}`);
  const away = s.peers.filter((p) => !p.member);
  if (away.length > 0) lines.push(`${'Not members:'.padEnd(18)}${away.map((p) => `${p.id} ${p.name}`).join(', ')}`);
  for (const w of s.warnings) lines.push(`WARNING: ${w}`);
  return `${lines.join('\n')}\n`;
}

async function ask(io: CliIo, runtimeDir: string, command: string, args?: Record<string, unknown>): Promise<ControlResponse | undefined> {
  try {
    return await controlRequest(runtimeDir, args === undefined ? { command } : { command, args });
  } catch (e) {
    io.stderr(`vigil quorum: ${errorText(e)}\n`);
    return undefined;
  }
}

export const quorumCommand: CliCommand = {
  name: 'quorum',
  summary: "Show the running daemon's quorum; unblock wait_for_all; set expected votes",
  async run(argv: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          json: { type: 'boolean', default: false },
          force: { type: 'boolean', default: false },
          'runtime-dir': { type: 'string', default: DEFAULT_RUNTIME_DIR },
          help: { type: 'boolean', short: 'h', default: false },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (e) {
      io.stderr(`vigil quorum: ${errorText(e)}\n\n${HELP}`);
      return EXIT_USAGE;
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout(HELP);
      return EXIT_OK;
    }
    const [sub, ...rest] = positionals;
    const runtimeDir = values['runtime-dir'];
    switch (sub) {
      case 'status': {
        const r = await ask(io, runtimeDir, 'quorum-status');
        if (!r) return EXIT_FAILED;
        if (!r.ok) {
          io.stderr(`vigil quorum status: ${r.error}\n`);
          return EXIT_FAILED;
        }
        const status = r.result as QuorumServiceStatus;
        io.stdout(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatQuorumServiceStatus(status));
        return status.quorate ? EXIT_OK : EXIT_INQUORATE;
      }
      case 'unblock': {
        if (!values.force) {
          io.stderr(
            'vigil quorum unblock: this lets this node become quorate without having seen the other nodes.\n' +
              'If they are up but unreachable, both sides may hold the virtual addresses. Add --force if you are sure.\n',
          );
          return EXIT_USAGE;
        }
        const r = await ask(io, runtimeDir, 'quorum-unblock');
        if (!r) return EXIT_FAILED;
        if (!r.ok) {
          io.stderr(`vigil quorum unblock: refused: ${r.error}\n`);
          return EXIT_FAILED;
        }
        io.stdout(formatQuorumServiceStatus(r.result as QuorumServiceStatus));
        return EXIT_OK;
      }
      case 'expected': {
        const text = rest[0];
        if (text === undefined || !/^[1-9][0-9]*$/.test(text)) {
          io.stderr(`vigil quorum expected: a positive whole number of votes is needed\n\n${HELP}`);
          return EXIT_USAGE;
        }
        const r = await ask(io, runtimeDir, 'quorum-expected', { votes: Number(text) });
        if (!r) return EXIT_FAILED;
        if (!r.ok) {
          io.stderr(`vigil quorum expected: refused: ${r.error}\n`);
          return EXIT_FAILED;
        }
        io.stdout(formatQuorumServiceStatus(r.result as QuorumServiceStatus));
        return EXIT_OK;
      }
      default:
        io.stderr(`vigil quorum: ${sub === undefined ? 'a subcommand is needed' : `unknown subcommand "${sub}"`}\n\n${HELP}`);
        return EXIT_USAGE;
    }
  },
};
