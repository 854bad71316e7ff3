/**
 * keepalived's notify FIFO (vrrp_notify_fifo): one line per notification, exactly as
 * keepalived writes them (`INSTANCE "VI_1" MASTER 100`, `GROUP "G1" BACKUP 0`,
 * `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100`, and with priority_changes
 * `INSTANCE "VI_1" MASTER_PRIORITY 90`), or one JSON event per line.
 *
 * - The FIFO is made with mode 0600 when absent. Something at the path that is not a FIFO
 *   owned by this process's user (a file, a symlink, another user's FIFO) is refused, as
 *   keepalived refuses it.
 * - It is opened O_RDWR|O_NONBLOCK|O_NOFOLLOW, as keepalived opens it: the open never waits
 *   for a reader and a write never blocks the daemon.
 * - Better than keepalived, which drops a line whose write fails with EAGAIN: a line that
 *   does not fit in the pipe waits in memory (bounded by buffer_lines) and is written, in
 *   order, when the reader catches up. Only past the bound are lines lost, and then they
 *   are counted, logged and shown in status.
 * - The fifo script is started with the FIFO's path as its last argument and gets SIGTERM
 *   at exit (its process group SIGKILL after a grace), as keepalived does.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, lstatSync, openSync, rmSync, writeSync } from 'node:fs';
import type { Logger } from '../daemon/logger.js';
import { killGroup } from '../os/process-group.js';
import { scriptWords } from '../config/notifiers.js';
import { scriptCheck } from '../os/script-safety.js';

export interface FifoWriterOptions {
  readonly path: string;
  /** Lines kept in memory while the pipe is full. */
  readonly bufferLines: number;
  /** The fifo script ("PATH [ARGS]"), started with the path appended. */
  readonly script?: string;
  readonly user?: { readonly uid: number; readonly gid: number };
  /** How often a full pipe is tried again. */
  readonly retryMs?: number;
}

export interface FifoStatus {
  readonly path: string;
  readonly written: number;
  /** Lines waiting in memory for the reader. */
  readonly backlog: number;
  readonly maxBacklog: number;
  /** Lines lost because the backlog was full (never silently: each loss is logged). */
  readonly lost: number;
  readonly scriptPid: number | null;
}

/** At most this many bytes per write: a pipe write up to PIPE_BUF (4096) is atomic, so no line is torn. */
const PIPE_BUF = 4096;

export class FifoWriter {
  private fd: number | undefined;
  private created = false;
  private readonly queue: Buffer[] = [];
  /** The unwritten rest of a line a write took in part. */
  private partial: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private written = 0;
  private lost = 0;
  private lostReported = 0;
  private maxBacklog = 0;
  private script: ChildProcess | undefined;
  private flushWaiters: (() => void)[] = [];
  /** Called when a line has gone into the pipe (the bench measures it). */
  onWritten: ((line: string) => void) | undefined;

  private constructor(
    private readonly options: FifoWriterOptions,
    private readonly log: Logger,
  ) {}

  /** Makes or checks the FIFO, opens it and starts the fifo script. Throws naming the path and the problem. */
  static open(options: FifoWriterOptions, log: Logger): FifoWriter {
    const w = new FifoWriter(options, log);
    w.prepare();
    w.startScript();
    return w;
  }

  private prepare(): void {
    const p = this.options.path;
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`notify FIFO ${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    if (st === undefined) {
      try {
        execFileSync('mkfifo', ['-m', '0600', p], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
        throw new Error(`notify FIFO ${p}: cannot create it: ${stderr || String(e)}`);
      }
      this.created = true;
    } else {
      if (st.isSymbolicLink()) throw new Error(`notify FIFO ${p}: is a symbolic link; refused`);
      if (!st.isFIFO()) throw new Error(`notify FIFO ${p}: something that is not a FIFO is there; refused (remove it or choose another path)`);
      const uid = process.getuid?.() ?? 0;
      if (st.uid !== uid) throw new Error(`notify FIFO ${p}: the FIFO there is owned by uid ${st.uid}, not ${uid}; refused`);
      if ((st.mode & 0o002) !== 0) throw new Error(`notify FIFO ${p}: the FIFO there is writable by others (mode ${(st.mode & 0o777).toString(8)}); refused`);
    }
    this.fd = openSync(p, fsConstants.O_RDWR | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
  }

  private startScript(): void {
    if (this.options.script === undefined) return;
    const [file, ...args] = scriptWords(this.options.script);
    if (file === undefined) return;
    const problem = scriptCheck(file);
    if (problem !== undefined) throw new Error(`notify FIFO script ${file}: ${problem.message}`);
    const user = this.options.user;
    const child = spawn(file, [...args, this.options.path], {
      detached: true,
      stdio: 'ignore',
      cwd: '/',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    child.once('error', (e: NodeJS.ErrnoException) => this.log.log('error', 'fifo-script-failed', { script: file, detail: e.code ?? e.message }));
    child.once('exit', (code, signal) => {
      if (this.script === child) this.script = undefined;
      this.log.log(code === 0 || signal === 'SIGTERM' ? 'info' : 'warn', 'fifo-script-exited', { script: file, code, signal });
    });
    this.script = child;
    this.log.log('info', 'fifo-script-started', { script: file, pid: child.pid ?? null, fifo: this.options.path });
  }

  /** Writes `line` (without its newline) now if the pipe takes it, or keeps it for later. */
  write(line: string): void {
    if (this.fd === undefined) return;
    if (this.queue.length >= this.options.bufferLines) {
      this.lost++;
      if (this.lost === this.lostReported + 1) {
        this.log.log('error', 'fifo-lines-lost', { fifo: this.options.path, lost: this.lost, detail: `the reader of ${this.options.path} is behind by ${this.queue.length} lines (buffer_lines); lines are being lost` });
      }
      return;
    }
    this.queue.push(Buffer.from(`${line}\n`, 'utf8'));
    if (this.queue.length > this.maxBacklog) this.maxBacklog = this.queue.length;
    if (this.timer === undefined) this.flush();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.fd === undefined) return;
    for (;;) {
      let chunk: Buffer;
      let lines = 0;
      if (this.partial) chunk = this.partial;
      else {
        const parts: Buffer[] = [];
        let size = 0;
        while (lines < this.queue.length) {
          const next = this.queue[lines] as Buffer;
          if (lines > 0 && size + next.length > PIPE_BUF) break;
          parts.push(next);
          size += next.length;
          lines++;
        }
        if (lines === 0) break;
        chunk = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
      }
      let n: number;
      try {
        n = writeSync(this.fd, chunk);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          this.timer = setTimeout(() => this.flush(), this.options.retryMs ?? 20);
          return;
        }
        this.log.log('error', 'fifo-write-failed', { fifo: this.options.path, detail: code ?? String(e) });
        this.timer = setTimeout(() => this.flush(), 1000);
        return;
      }
      if (this.partial) {
        this.partial = n < chunk.length ? chunk.subarray(n) : undefined;
        if (this.partial) continue;
        // the rest of a line written: that line is done
        const done = this.queue.shift();
        this.afterWrite([done]);
        continue;
      }
      // Whole lines written, and perhaps part of the next one (a chunk over PIPE_BUF is one long line).
      let left = n;
      const done: (Buffer | undefined)[] = [];
      while (left > 0 && this.queue.length > 0) {
        const head = this.queue[0] as Buffer;
        if (left >= head.length) {
          left -= head.length;
          done.push(this.queue.shift());
        } else {
          this.partial = head.subarray(left);
          left = 0;
        }
      }
      this.afterWrite(done);
    }
    if (this.lost > this.lostReported) {
      this.log.log('warn', 'fifo-caught-up', { fifo: this.options.path, lost: this.lost, detail: `the reader caught up; ${this.lost - this.lostReported} lines were lost while it was behind` });
      this.lostReported = this.lost;
    }
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
  }

  private afterWrite(done: readonly (Buffer | undefined)[]): void {
    for (const b of done) {
      if (!b) continue;
      this.written++;
      this.onWritten?.(b.toString('utf8', 0, b.length - 1));
    }
  }

  status(): FifoStatus {
    return { path: this.options.path, written: this.written, backlog: this.queue.length, maxBacklog: this.maxBacklog, lost: this.lost, scriptPid: this.script?.pid ?? null };
  }

  /** Waits until every queued line is in the pipe, at most `timeoutMs`. */
  async flushed(timeoutMs: number): Promise<boolean> {
    if (this.queue.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      new Promise<boolean>((resolve) => this.flushWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    if (timer) clearTimeout(timer);
    return ok;
  }

  /**
   * Writes what it can within `flushMs`, stops the fifo script (SIGTERM, then SIGKILL to its
   * group after `graceMs`), closes and, if it made it, removes the FIFO.
   */
  async close(flushMs = 2000, graceMs = 2000): Promise<void> {
    if (this.fd === undefined) return;
    const ok = await this.flushed(flushMs);
    if (!ok) {
      this.log.log('error', 'fifo-lines-lost', { fifo: this.options.path, lost: this.queue.length, detail: `${this.queue.length} lines not read by the reader within ${flushMs} ms of the stop` });
      this.lost += this.queue.length;
    }
    const child = this.script;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      if (timer) clearTimeout(timer);
      killGroup(child.pid, 'SIGKILL');
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    closeSync(this.fd);
    this.fd = undefined;
    if (this.created) rmSync(this.options.path, { force: true });
  }
}
