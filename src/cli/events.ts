/**
 * `vigil events [--json] [--follow] [--since SEQ] [--runtime-dir DIR]`: the daemon's event
 * stream from its control socket, as `journalctl -f` or crm_mon's live view: the events
 * the daemon still keeps (its ring; or those after SEQ), then with --follow every new one
 * as it happens, until Ctrl-C. Text: one line per event (time, sequence number, kind, the
 * fields that matter); --json: the events as the daemon has them, one per line.
 */
import { parseArgs } from 'node:util';
import { controlStream, type StreamLine } from '../daemon/control.js';
import type { StampedEvent } from '../events/types.js';
import { DEFAULT_RUNTIME_DIR } from './status.js';
import type { CliCommand, CliIo } from './main.js';
import { errorText } from '../base/error-text.js';

const USAGE = `usage: vigil events [--json] [--follow] [--since SEQ] [--runtime-dir DIR]

Prints the running daemon's recent events (state changes, priorities, quorum, resources,
health checks, reloads), oldest first; --follow keeps printing new ones until Ctrl-C.
  --json         one JSON event per line
  -f, --follow   keep going
  --since SEQ    only events after sequence number SEQ
  --runtime-dir  selects the daemon (default ${DEFAULT_RUNTIME_DIR})`;

function time(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** The fields that say what happened, as `key=value`. */
function what(e: StampedEvent): string {
  switch (e.kind) {
    case 'instance-state':
      return `${e.instance}: ${e.from.toUpperCase()} -> ${e.to.toUpperCase()} (${e.reason}) prio ${e.priority}${e.priority !== e.basePriority ? `/${e.basePriority}` : ''} master ${e.master ?? '-'} [${e.interface} vrid ${e.vrid} ${e.family}]${e.detail ? ` ${e.detail}` : ''}`;
    case 'group-state':
      return `${e.group}: ${e.from.toUpperCase()} -> ${e.to.toUpperCase()} (${e.instances.join(', ')})`;
    case 'priority-changed':
      return `${e.instance}: priority ${e.from} -> ${e.to} (base ${e.basePriority})`;
    case 'master-rx-lower-priority':
      return `${e.instance}: advert from ${e.from} with priority ${e.priority} < ${e.ownPriority}`;
    case 'daemon-started':
      return `pid ${e.pid} config ${e.config} instances ${e.instances.join(', ') || '-'}`;
    case 'daemon-stopping':
      return e.reason;
    case 'daemon-stopped':
      return '';
    case 'reloaded':
      return `${e.config}: ${e.changes.filter((c) => c.change !== 'unchanged').map((c) => `${c.instance} ${c.change}`).join(', ') || 'no instance changed'}`;
    case 'reload-failed':
      return `${e.config}: ${e.detail}`;
    case 'section-reloaded':
      return `${e.section}: ${e.changes.map((c) => `${c.name} ${c.change}${c.detail ? ` (${c.detail})` : ''}`).join(', ') || 'nothing changed'}${e.refused === undefined ? '' : `; refused: ${e.refused}`}`;
    case 'resource-op':
      return `${e.resource}: ${e.op} ${e.ok ? 'ok' : 'FAILED'} rc=${e.rc} ${Math.round(e.durationMs)}ms fail-count ${e.failCount}${e.detail ? ` ${e.detail}` : ''}`;
    case 'resource-state':
      return `${e.resource}: ${e.from} -> ${e.to} (${e.reason})`;
    case 'health-check':
      return `${e.check}: ${e.from} -> ${e.to} (${e.reason})`;
    default: {
      const { kind: _k, seq: _s, time: _t, mono: _m, ...rest } = e;
      return Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
    }
  }
}

export function formatEvent(e: StampedEvent): string {
  return `${time(e.time)} #${e.seq} ${e.kind}${(() => {
    const w = what(e);
    return w ? ` ${w}` : '';
  })()}`;
}

export const eventsCommand: CliCommand = {
  name: 'events',
  summary: "Print the running daemon's events; --follow to watch them happen",
  async run(argv: string[], io: CliIo): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          json: { type: 'boolean' },
          follow: { type: 'boolean', short: 'f' },
          since: { type: 'string' },
          'runtime-dir': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        allowPositionals: false,
      }));
    } catch (e) {
      io.stderr(`vigil events: ${errorText(e)}\n${USAGE}\n`);
      return 2;
    }
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    const since = values.since === undefined ? undefined : Number(values.since);
    if (since !== undefined && (!Number.isInteger(since) || since < 0)) {
      io.stderr(`vigil events: --since needs a sequence number (0 or more), not "${values.since}"\n`);
      return 2;
    }
    let failed: string | undefined;
    const s = controlStream(values['runtime-dir'] ?? DEFAULT_RUNTIME_DIR, { command: 'events', args: { follow: values.follow === true, ...(since !== undefined ? { since } : {}) } }, (line: StreamLine) => {
      if ('item' in line) {
        const e = line.item as StampedEvent;
        io.stdout(values.json ? `${JSON.stringify(e)}\n` : `${formatEvent(e)}\n`);
      } else if ('end' in line) {
        if (line.end === 'overflow') failed = `the daemon dropped this connection: ${line.detail ?? `${line.lost ?? '?'} events lost`}`;
      } else if (!line.ok) failed = line.error;
    });
    const onSignal = (): void => s.close();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await s.done;
    } catch (e) {
      io.stderr(`vigil events: ${errorText(e)}\n`);
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (failed !== undefined) {
      io.stderr(`vigil events: ${failed}\n`);
      return 1;
    }
    return 0;
  },
};
