/**
 * One structured line per event on stdout (journald adds the timestamp under systemd):
 * `text` is `event key=value ...`, `json` is one JSON object per line; or, under systemd,
 * one datagram per event to the journal with the fields as journal fields (log-sink.ts).
 *
 * Two rules of the log live here and nowhere else:
 * - Repeated lines are rate-limited per (event, instance, reason, ...) (`rateKey`): at most
 *   `burst` lines of one key per window, then one summary line of the same event with
 *   `suppressed=N`. The counters behind the lines (status, stats) are not touched: they
 *   stay exact. Warnings and errors are limited, and the info lines that repeat with the
 *   traffic (`REPEATING_INFO_EVENTS`); state changes (`STATE_EVENTS`) never are.
 * - State changes and errors are the lines kept first when the sink has to drop
 *   (`priority`, see BoundedWriter in log-sink.ts).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined | readonly string[]>>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

/** One line on its way to a sink. */
export interface LogRecord {
  readonly time: Date;
  readonly level: LogLevel;
  readonly event: string;
  /** Only the defined fields, in order. */
  readonly fields: readonly (readonly [string, Exclude<LogFields[string], undefined>])[];
  /** A state change or an error: kept over the other lines when the sink is full. */
  readonly priority: boolean;
}

/** Where records go: stdout (through a bounded buffer), the journal, or a test's array. */
export interface LogSink {
  write(record: LogRecord): void;
}

/** The events that say what state the daemon, its instances and its resources are in. */
/**
 * Info lines that repeat with what the network sends (a master hears every lower-priority
 * advert of a split's other side: 100 a second at 10 ms adverts): rate-limited as warnings are.
 */
export const REPEATING_INFO_EVENTS: ReadonlySet<string> = new Set(['master-rx-lower-priority']);

export const STATE_EVENTS: ReadonlySet<string> = new Set([
  'state-change',
  'group-state',
  'quorum-change',
  'quorum-verdict',
  'member-joined',
  'member-left',
  'corosync-connected',
  'corosync-disconnected',
  'tie-breaker',
  'resource-state',
  'group-banned',
  'group-unbanned',
  'node-standby',
  'maintenance-mode',
  'started',
  'stopping',
  'stopped',
  'reloaded',
  'reload-section',
  'reload-section-refused',
  'log-lines-dropped',
]);

/** The fields that tell one repeated warning from another; the others (src, detail...) vary per line. */
const RATE_KEY_FIELDS = ['instance', 'reason', 'socket', 'peer', 'group', 'resource', 'check', 'fifo', 'agent', 'action'] as const;

export interface RateLimit {
  /** Lines of one key logged per window before the rest are counted instead. */
  readonly burst: number;
  readonly windowMs: number;
  /** Keys tracked at once; beyond, new keys share one (a flood of distinct keys stays bounded). */
  readonly maxKeys: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { burst: 5, windowMs: 10_000, maxKeys: 1024 };

export interface LoggerStats {
  /** Lines not logged because of the rate limit (each one is in a summary line). */
  readonly suppressed: number;
}

export function textValue(v: unknown): string {
  const s = Array.isArray(v) ? v.join(',') : String(v);
  return /^[A-Za-z0-9_.:\/@+-]*$/.test(s) && s.length > 0 ? s : JSON.stringify(s);
}

/** The line of a record in `format`, with its newline. */
export function formatRecord(format: 'text' | 'json', r: LogRecord): string {
  if (format === 'json') {
    return `${JSON.stringify({ time: r.time.toISOString(), level: r.level, event: r.event, ...Object.fromEntries(r.fields) })}\n`;
  }
  const parts = r.fields.map(([k, v]) => `${k}=${textValue(v)}`);
  return `${r.level.toUpperCase().padEnd(5)} ${r.event}${parts.length > 0 ? ` ${parts.join(' ')}` : ''}\n`;
}

/** A sink writing formatted lines to `write` (as is, unbounded: for tests and the CLI). */
export function lineSink(format: 'text' | 'json', write: (line: string) => void): LogSink {
  return { write: (r) => write(formatRecord(format, r)) };
}

interface RateEntry {
  start: number;
  logged: number;
  suppressed: number;
  level: LogLevel;
  event: string;
  keyFields: [string, Exclude<LogFields[string], undefined>][];
}

export interface DaemonLogOptions {
  /** Off with `false` (every line is written). */
  readonly rateLimit?: RateLimit | false;
  readonly now?: () => number;
}

/** The daemon's logger: rate limit, then the sink. */
export class DaemonLog implements Logger {
  private readonly limit: RateLimit | false;
  private readonly now: () => number;
  private readonly entries = new Map<string, RateEntry>();
  private timer: NodeJS.Timeout | undefined;
  private suppressedTotal = 0;

  constructor(
    private readonly sink: LogSink,
    options: DaemonLogOptions = {},
  ) {
    this.limit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.now = options.now ?? (() => performance.now());
  }

  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    const defined = Object.entries(fields).filter((e): e is [string, Exclude<LogFields[string], undefined>] => e[1] !== undefined);
    const priority = STATE_EVENTS.has(event) || level === 'error';
    const limited = !STATE_EVENTS.has(event) && (level !== 'info' || REPEATING_INFO_EVENTS.has(event));
    if (this.limit !== false && limited && this.suppress(level, event, defined)) return;
    this.sink.write({ time: new Date(), level, event, fields: defined, priority });
  }

  stats(): LoggerStats {
    return { suppressed: this.suppressedTotal };
  }

  /** Writes the summaries of the windows still open (at stop). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [key, e] of this.entries) {
      this.entries.delete(key);
      if (e.suppressed > 0) this.summary(e);
    }
  }

  /** True when this line is one too many of its key in the current window (it is counted). */
  private suppress(level: LogLevel, event: string, fields: readonly (readonly [string, unknown])[]): boolean {
    const limit = this.limit as RateLimit;
    const keyFields = fields.filter(([k]) => (RATE_KEY_FIELDS as readonly string[]).includes(k)) as [string, Exclude<LogFields[string], undefined>][];
    let key = `${event}\u0000${keyFields.map(([k, v]) => `${k}=${String(v)}`).join('\u0000')}`;
    const now = this.now();
    let e = this.entries.get(key);
    if (e && now - e.start >= limit.windowMs) {
      this.entries.delete(key);
      if (e.suppressed > 0) this.summary(e);
      e = undefined;
    }
    if (!e) {
      if (this.entries.size >= limit.maxKeys) {
        this.sweep(now);
        if (this.entries.size >= limit.maxKeys) key = '\u0000other';
      }
      e = this.entries.get(key);
      if (!e) {
        e = { start: now, logged: 0, suppressed: 0, level, event: key === '\u0000other' ? 'log-lines-suppressed' : event, keyFields: key === '\u0000other' ? [] : keyFields };
        this.entries.set(key, e);
      }
    }
    if (key !== '\u0000other' && e.logged < limit.burst) {
      e.logged++;
      return false;
    }
    e.suppressed++;
    this.suppressedTotal++;
    if (!this.timer) this.arm(limit.windowMs);
    return true;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sweep(this.now());
      let next = Infinity;
      for (const e of this.entries.values()) if (e.suppressed > 0) next = Math.min(next, e.start + (this.limit as RateLimit).windowMs - this.now());
      if (next !== Infinity) this.arm(Math.max(1, next));
    }, ms);
    this.timer.unref();
  }

  /** Ends the windows that are over, with their summaries. */
  private sweep(now: number): void {
    const windowMs = (this.limit as RateLimit).windowMs;
    for (const [key, e] of this.entries) {
      if (now - e.start < windowMs) continue;
      this.entries.delete(key);
      if (e.suppressed > 0) this.summary(e);
    }
  }

  private summary(e: RateEntry): void {
    const windowMs = (this.limit as RateLimit).windowMs;
    const detail =
      e.event === 'log-lines-suppressed'
        ? `${e.suppressed} lines of too many distinct kinds were not logged`
        : `${e.suppressed} more lines like this were not logged within ${windowMs} ms (the counters have them all)`;
    this.sink.write({ time: new Date(), level: e.level, event: e.event, fields: [...e.keyFields, ['suppressed', e.suppressed], ['detail', detail]], priority: false });
  }
}

/** A logger writing every line (no rate limit) as `format` to `write`: for the CLI and tests. */
export function createLogger(format: 'text' | 'json', write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  return new DaemonLog(lineSink(format, write), { rateLimit: false });
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(): Logger & { readonly lines: { level: LogLevel; event: string; fields: LogFields }[] } {
  const lines: { level: LogLevel; event: string; fields: LogFields }[] = [];
  return { lines, log: (level, event, fields = {}) => lines.push({ level, event, fields }) };
}
