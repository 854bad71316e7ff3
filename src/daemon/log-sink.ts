/**
 * Where the daemon's log lines go, without ever blocking the engine or growing memory
 * without bound.
 *
 * stdout: Node writes a pipe asynchronously and keeps whatever the reader has not taken
 * (a reader at 1 KB/s grew the daemon to 185 MB in 40 s). BoundedWriter hands a line to
 * stdout only while stdout's own buffer is below its high-water mark, keeps at most
 * `maxBytes` waiting, and when that is full drops the oldest ordinary line first, a state
 * change or an error only when nothing else is left. What was dropped is counted (status)
 * and said in one line once the reader has caught up.
 *
 * The journal (systemd.journal-fields(7), "Native Journal Protocol"): one datagram per
 * line to /run/systemd/journal/socket, `KEY=value` lines, a value with a newline as
 * `KEY\n` + its length (64-bit little endian) + the value + `\n`. Field names are upper
 * case letters, digits and `_`, not starting with `_`. The socket is non-blocking: a full
 * journal drops the datagram (counted), the engine never waits.
 */
import { fstatSync, statSync } from 'node:fs';
import { AF_UNIX } from '../net/af.js';
import { SOCK_DGRAM, native } from '../native/index.js';
import { sockaddrUn } from '../net/sockaddr.js';
import { formatRecord, type LogLevel, type LogRecord, type LogSink } from './logger.js';
import { errorText } from '../base/error-text.js';

/** What BoundedWriter needs of a stream (process.stdout is one). */
export interface WritableLike {
  write(chunk: string): boolean;
  readonly writableNeedDrain: boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export interface SinkStats {
  readonly target: 'stdout' | 'journal';
  /** Lines dropped because the reader (or the journal) did not keep up. */
  readonly dropped: number;
  /** Of those, state changes and errors. */
  readonly droppedPriority: number;
  /** Bytes waiting for the reader now. */
  readonly queuedBytes: number;
}

/** Bytes of lines that may wait for a slow stdout reader (beyond stdout's own 16 KB). */
export const LOG_QUEUE_BYTES = 1024 * 1024;

class Fifo {
  private items: string[] = [];
  private seqs: number[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(line: string, seq: number): void {
    this.items.push(line);
    this.seqs.push(seq);
  }
  peekSeq(): number {
    return this.seqs[this.head] as number;
  }
  shift(): string {
    const line = this.items[this.head] as string;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
    return line;
  }
}

export class BoundedWriter implements LogSink {
  private readonly high = new Fifo();
  private readonly low = new Fifo();
  private seq = 0;
  private queuedBytes = 0;
  private waiting = false;
  private dropped = 0;
  private droppedPriority = 0;
  private droppedReported = 0;

  constructor(
    private readonly out: WritableLike,
    private readonly format: 'text' | 'json',
    private readonly maxBytes: number = LOG_QUEUE_BYTES,
  ) {}

  write(record: LogRecord): void {
    this.line(formatRecord(this.format, record), record.priority);
  }

  stats(): SinkStats {
    return { target: 'stdout', dropped: this.dropped, droppedPriority: this.droppedPriority, queuedBytes: this.queuedBytes };
  }

  private line(line: string, priority: boolean): void {
    if (!this.waiting && this.high.size + this.low.size === 0 && !this.out.writableNeedDrain) {
      this.out.write(line);
      return;
    }
    (priority ? this.high : this.low).push(line, this.seq++);
    this.queuedBytes += line.length;
    while (this.queuedBytes > this.maxBytes) {
      const from = this.low.size > 0 ? this.low : this.high;
      if (from === this.high) this.droppedPriority++;
      this.dropped++;
      this.queuedBytes -= from.shift().length;
    }
    this.wait();
  }

  private wait(): void {
    if (this.waiting) return;
    this.waiting = true;
    this.out.once('drain', () => {
      this.waiting = false;
      this.pump();
    });
  }

  /** Oldest first across both queues, while stdout takes more. */
  private pump(): void {
    while (this.high.size + this.low.size > 0) {
      if (this.out.writableNeedDrain) return this.wait();
      const from = this.low.size === 0 || (this.high.size > 0 && this.high.peekSeq() < this.low.peekSeq()) ? this.high : this.low;
      const line = from.shift();
      this.queuedBytes -= line.length;
      this.out.write(line);
    }
    if (this.dropped > this.droppedReported) {
      const lost = this.dropped - this.droppedReported;
      this.droppedReported = this.dropped;
      this.write({
        time: new Date(),
        level: 'warn',
        event: 'log-lines-dropped',
        fields: [
          ['dropped', lost],
          ['dropped_total', this.dropped],
          ['state_changes_dropped', this.droppedPriority],
          ['detail', `stdout was read too slowly: ${lost} log lines were dropped (the oldest warnings first)`],
        ],
        priority: true,
      });
    }
  }
}

/** syslog(3) priorities, the journal's PRIORITY=. */
const PRIORITY: Readonly<Record<LogLevel, number>> = { error: 3, warn: 4, info: 6, debug: 7 };

/** The journal field of a log field: `instance` → INSTANCE, `tie-breaker` → TIE_BREAKER. */
function journalKey(key: string): string {
  const k = key.toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^_+/, '');
  return k.length === 0 ? 'FIELD' : /^[0-9]/.test(k) ? `F_${k}` : k;
}

function field(key: string, value: string): Buffer {
  if (!value.includes('\n')) return Buffer.from(`${key}=${value}\n`, 'utf8');
  const v = Buffer.from(value, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(v.length));
  return Buffer.concat([Buffer.from(`${key}\n`, 'utf8'), len, v, Buffer.from('\n')]);
}

/** The native-protocol datagram of a record. */
export function journalDatagram(record: LogRecord, identifier = 'vigil'): Buffer {
  const parts: Buffer[] = [
    field('MESSAGE', formatRecord('text', record).slice(0, -1)),
    field('PRIORITY', String(PRIORITY[record.level])),
    field('SYSLOG_IDENTIFIER', identifier),
    field('VIGIL_EVENT', record.event),
  ];
  for (const [k, v] of record.fields) {
    parts.push(field(journalKey(k), Array.isArray(v) ? v.join(',') : String(v)));
  }
  // STATE= for the lines that say where something went (a state change's `to`).
  const to = record.fields.find(([k]) => k === 'to');
  if (to && !record.fields.some(([k]) => k === 'state')) parts.push(field('STATE', String(to[1])));
  return Buffer.concat(parts);
}

export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

export class JournalSink implements LogSink {
  private dropped = 0;
  private droppedPriority = 0;
  private lastError: string | undefined;

  private constructor(
    private readonly fd: number,
    private readonly address: Uint8Array,
    readonly socketPath: string,
  ) {}

  static open(socketPath: string = JOURNAL_SOCKET): JournalSink {
    const fd = native().socket(AF_UNIX, SOCK_DGRAM, 0);
    return new JournalSink(fd, sockaddrUn(socketPath), socketPath);
  }

  write(record: LogRecord): void {
    try {
      native().sendto(this.fd, journalDatagram(record), this.address);
    } catch (e) {
      // EAGAIN (the journal is behind), ECONNREFUSED (it restarts): dropped, counted.
      this.dropped++;
      if (record.priority) this.droppedPriority++;
      this.lastError = errorText(e);
    }
  }

  stats(): SinkStats & { readonly lastError?: string } {
    return { target: 'journal', dropped: this.dropped, droppedPriority: this.droppedPriority, queuedBytes: 0, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  close(): void {
    native().close(this.fd);
  }
}

/**
 * True when stdout is the journal's stream (systemd.exec(5): JOURNAL_STREAM is
 * "device:inode" of it, "compare with the st_dev and st_ino of stdout") and the journal's
 * native socket is there: then the native protocol carries the structured fields.
 */
export function stdoutIsJournal(env: Readonly<Record<string, string | undefined>> = process.env, socketPath: string = JOURNAL_SOCKET): boolean {
  const stream = env['JOURNAL_STREAM'];
  if (!stream || !/^\d+:\d+$/.test(stream)) return false;
  try {
    const st = fstatSync(1, { bigint: true });
    if (`${st.dev}:${st.ino}` !== stream) return false;
    return statSync(socketPath).isSocket();
  } catch {
    return false;
  }
}
