/**
 * `vigil status [--json] [--runtime-dir DIR]`: asks the running daemon over its control
 * socket and prints each instance's state, priorities, master, timers and the per-reason
 * counters of dropped adverts.
 */
import type { SinkStats } from '../daemon/log-sink.js';
import type { LoggerStats } from '../daemon/logger.js';
import type { ControlStats } from '../daemon/control.js';
import { parseArgs } from 'node:util';
import { controlRequest } from '../daemon/control.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import type { InstanceStatus } from '../daemon/instance.js';
import { REJECT_COUNTER, type RejectReason } from '../vrrp/rejection.js';
import { formatResourceStatus } from './resource.js';
import type { NotifiersStatus } from '../notify/notifiers.js';
import type { CliCommand, CliIo } from './main.js';
import { errorText } from '../base/error-text.js';

export const DEFAULT_RUNTIME_DIR = '/run/vigil';

const USAGE = `usage: vigil status [--json] [--runtime-dir DIR]

Shows the running daemon's instances. --runtime-dir selects the daemon (default
${DEFAULT_RUNTIME_DIR}, or global.runtime_dir of its config).`;

function ms(v: number | null): string {
  return v === null ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n');
}

export function formatStatus(status: DaemonStatus): string {
  const lines: string[] = [];
  lines.push(`vigil pid ${status.pid}, up ${ms(status.uptimeMs)}, config ${status.configPath}, reloads ${status.reloads}`);
  const q = status.quorum;
  if (q !== undefined) {
    const members = q.members.map((m) => m.name).join(', ');
    lines.push(
      `quorum: ${q.quorate ? 'quorate' : 'NOT quorate (activity blocked)'}, ${q.totalVotes}/${q.expectedVotes} votes (quorum ${q.quorum}), members ${members}` +
        `${q.waitingForAll ? ', waiting for all' : ''}, verdict ${q.verdict}${q.tieBreaker?.split ? `, two-node split: tie-breaker ${q.tieBreaker.state}` : ''}`,
    );
    for (const w of q.warnings) lines.push(`WARNING: ${w}`);
  }
  const rows: string[][] = [['INSTANCE', 'IF', 'VRID', 'FAMILY', 'V', 'STATE', 'PRIO', 'MASTER', 'ADVERT', 'DOWN-INT', 'TIMER', 'VIPS']];
  for (const i of status.instances) {
    rows.push([
      i.name,
      i.interface,
      String(i.vrid),
      i.family,
      String(i.version),
      i.state.toUpperCase() + (i.faults.length > 0 ? ` (${i.faults.join(', ')})` : ''),
      i.basePriority === i.effectivePriority ? String(i.basePriority) : `${i.effectivePriority} (base ${i.basePriority})`,
      i.master ? `${i.master.address}@${i.master.priority}` : '-',
      ms(i.advertIntervalMs),
      ms(i.masterDownIntervalMs),
      i.state === 'master' ? `advert in ${ms(i.advertInMs)}` : i.state === 'backup' ? `down in ${ms(i.masterDownInMs)}` : '-',
      `${i.virtualIps.join(',')}${i.vipsInstalled ? ' (held)' : ''}`,
    ]);
  }
  lines.push(table(rows));
  const changes = status.instances.flatMap((i) =>
    i.lastChange ? [`  ${i.name}: ${i.lastChange.from} -> ${i.lastChange.to} (${i.lastChange.reason}: ${i.lastChange.detail}) at ${i.lastChange.at}, event #${i.lastChange.seq}`] : [],
  );
  if (changes.length > 0) lines.push(`last state change:\n${changes.join('\n')}`);
  const drops: string[] = [];
  const describe = (where: string, counts: Partial<Record<RejectReason, number>>): void => {
    for (const [reason, n] of Object.entries(counts) as [RejectReason, number][]) {
      drops.push(`  ${where}: ${reason} ${n} (${REJECT_COUNTER[reason]})`);
    }
  };
  for (const i of status.instances) describe(i.name, i.rejected);
  for (const [socket, counts] of Object.entries(status.socketRejects)) describe(`socket ${socket}`, counts);
  lines.push(drops.length > 0 ? `dropped adverts:\n${drops.join('\n')}` : 'dropped adverts: none');
  const stats = status.instances.map(
    (i: InstanceStatus) =>
      `  ${i.name}: sent ${i.stats.advertsSent}, received ${i.stats.advertsReceived}, became master ${i.stats.masterTransitions}x (last reason ${i.stats.newMasterReason}), priority-0 sent ${i.stats.priorityZeroSent} received ${i.stats.priorityZeroReceived}`,
  );
  lines.push(`counters:\n${stats.join('\n')}`);
  if (status.resources !== undefined) lines.push('', formatResourceStatus(status.resources).trimEnd());
  const sockets = Object.entries(status.sockets).map(
    ([key, c]) => `  socket ${key}: received ${c.received}, sent ${c.sent}, malformed ${c.malformed}, receive errors ${c.receiveErrors}`,
  );
  if (sockets.length > 0) lines.push(`sockets:\n${sockets.join('\n')}`);
  const n = (status as DaemonStatus & { readonly notifiers?: NotifiersStatus }).notifiers;
  if (n !== undefined) lines.push(formatNotifiers(n));
  const extra = status as DaemonStatus & { readonly log?: SinkStats & LoggerStats; readonly control?: ControlStats };
  if (extra.log !== undefined) {
    const l = extra.log;
    lines.push(`log: to ${l.target}, ${l.suppressed} repeated lines suppressed (counted above), ${l.dropped} dropped by a slow reader (${l.droppedPriority} of them state changes or errors), ${l.queuedBytes} bytes waiting`);
  }
  if (extra.control !== undefined) {
    const c = extra.control;
    lines.push(`control socket: ${c.pending} waiting for a request, ${c.streams} streams; closed ${c.timedOut} idle, ${c.evicted} for newer ones; ${c.streamsRefused} streams refused; refused requests: ${Object.entries(c.rejected ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The notifiers' backlog, losses and timeouts (none of them is ever silent). */
export function formatNotifiers(n: NotifiersStatus): string {
  const s = n.scripts;
  const out = [
    `notifiers:`,
    `  scripts: ${s.running} running, ${s.backlog} waiting (most ${s.maxBacklog}), ${s.started} started, ${s.failed} failed, ${s.timedOut} timed out, ${s.refused} refused${s.abandoned > 0 ? `, ${s.abandoned} abandoned` : ''}`,
  ];
  if (n.fifo) out.push(`  fifo ${n.fifo.path}: ${n.fifo.written} lines written, ${n.fifo.backlog} waiting for the reader (most ${n.fifo.maxBacklog}), ${n.fifo.lost} lost`);
  const a = n.alerts;
  if (a.started + a.backlog + a.refused > 0) out.push(`  alert agents: ${a.backlog} waiting, ${a.started} started, ${a.failed} failed, ${a.timedOut} timed out, ${a.refused} refused`);
  return out.join('\n');
}

export const statusCommand: CliCommand = {
  name: 'status',
  summary: "show the running daemon's instances and counters",
  async run(argv: string[], io: CliIo): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          json: { type: 'boolean', default: false },
          'runtime-dir': { type: 'string', default: DEFAULT_RUNTIME_DIR },
          help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (e) {
      io.stderr(`vigil status: ${errorText(e)}\n${USAGE}\n`);
      return 2;
    }
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    try {
      const response = await controlRequest(values['runtime-dir'], { command: 'status' });
      if (!response.ok) {
        io.stderr(`vigil status: ${response.error}\n`);
        return 1;
      }
      const status = response.result as DaemonStatus;
      io.stdout(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      return 0;
    } catch (e) {
      io.stderr(`vigil status: ${errorText(e)}\n`);
      return 1;
    }
  },
};
