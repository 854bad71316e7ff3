/**
 * A long-running command as a resource (haproxy -db -f CFG, nginx -g 'daemon off;' -c
 * CFG): vigil starts it, watches it and stops it.
 *
 * - start: the command is spawned detached, the leader of a process group (and session)
 *   of its own, so that it survives a restart of the daemon (Pacemaker's Reattach); its
 *   stdout and stderr are appended to STATE/NAME.log, its pid and start time written to
 *   STATE/NAME.pid. The start succeeds once the process is still alive after the settle
 *   time (500 ms by default); a process that exits before fails it with ERR_GENERIC,
 *   naming the exit status or signal and the last line it wrote to the log. A command
 *   that cannot be run at all is ERR_INSTALLED (not found) or ERR_PERM (not permitted).
 *   Starting a running resource is a success (idempotent).
 * - stop: SIGTERM to the process group; SIGKILL to the group when it has not gone by the
 *   end of the grace period (the stop timeout less a margin of up to 1 s, so the result
 *   still comes within the timeout). The stop is done when no process of the group is
 *   left (zombies aside). Stopping a stopped resource is a success.
 * - monitor, from /proc alone (no fork): SUCCESS while the process exists, is not a
 *   zombie, has the start time recorded at spawn (a reused PID has another) and its
 *   cmdline still matches the command; NOT_RUNNING when it was never started here or was
 *   stopped cleanly; ERR_GENERIC when it died (or was replaced) without a stop — an
 *   unexpected death is a failure.
 * - At construction the agent ADOPTS the process in the pid file when it is alive and
 *   matches (same start time when the file has one, and the same cmdline), so that a
 *   restarted daemon reattaches instead of restarting it. A pid file naming a dead or an
 *   unrelated process is ignored (the resource counts as not running; a probe is then
 *   NOT_RUNNING, not a failure) and replaced by the next start.
 *
 * The cmdline matches when it is the command's argv exactly, or when it contains the
 * command's words joined by spaces: nginx rewrites its argv into
 * "nginx: master process /usr/sbin/nginx -g daemon off; -c CFG".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { OCF, type OperationResult, type ResourceAgent, type ResourceSpec } from '../types.js';
import { formatMs, guarded, lastLine, now, result } from './common.js';
import type { ExecOptions } from './context.js';
import { errorText } from '../../base/error-text.js';
import { describeExit, killGroup } from '../../os/process-group.js';

export type ExecSpec = Extract<ResourceSpec, { type: 'exec' }>;

export const DEFAULT_SETTLE_MS = 500;

/** What /proc/PID/stat says that matters here. */
export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  /** R, S, D, Z, T, X… */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** Clock ticks after boot (field 22): with the pid, names one process for the life of the machine. */
  readonly startTime: string;
}

/** /proc/PID/stat parsed, or undefined when there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // "PID (COMM) STATE PPID PGRP …": COMM may hold spaces and parentheses; it ends at the last ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  const startTime = rest[19];
  if (state === undefined || startTime === undefined || !Number.isInteger(ppid) || !Number.isInteger(pgrp)) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, pgrp, startTime };
}

/** /proc/PID/cmdline as argv, or undefined when unreadable. */
export function readCmdline(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  const argv = text.split('\0');
  if (argv.length > 0 && argv[argv.length - 1] === '') argv.pop();
  return argv;
}

/** Whether a process's argv is (still) the command's: see the module comment. */
export function cmdlineMatches(argv: readonly string[], command: readonly string[]): boolean {
  if (argv.length === command.length && argv.every((a, i) => a === command[i])) return true;
  const joined = command.join(' ');
  return joined.length > 0 && argv.join(' ').includes(joined);
}

function isDead(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/** The pids of the live (not zombie) processes in process group `pgid`: a scan of /proc, for stops only. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readProcStat(Number(entry));
    if (st && st.pgrp === pgid && !isDead(st.state)) out.push(st.pid);
  }
  return out;
}

interface PidFile {
  readonly pid: number;
  readonly startTime?: string;
}

function parsePidFile(text: string): PidFile | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const v = JSON.parse(trimmed) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const pid = (v as { pid?: unknown }).pid;
    const startTime = (v as { startTime?: unknown }).startTime;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1) return undefined;
    return { pid, ...(typeof startTime === 'string' ? { startTime } : {}) };
  } catch {
    return undefined;
  }
}

/** A file-name-safe stem for a resource name. */
export function fileStem(name: string): string {
  const stem = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
  return stem.length > 0 ? stem : '_';
}

interface Tracked {
  readonly pid: number;
  readonly pgid: number;
  readonly startTime: string;
  readonly adopted: boolean;
  /** Our own child (not after an adoption): its exit status. */
  readonly child?: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

export class ExecAgent implements ResourceAgent {
  readonly pidFile: string;
  readonly logFile: string;
  private readonly settleMs: number;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private tracked: Tracked | undefined;
  /** Whether the process is meant to run (started or adopted, not stopped since). */
  private expected = false;
  private setupError: string | undefined;
  /** Why the pid file found at construction was not adopted. */
  readonly ignoredPidFile: string | undefined;

  constructor(
    readonly name: string,
    readonly spec: ExecSpec,
    readonly stateDir: string,
    options: ExecOptions = {},
  ) {
    const stem = fileStem(name);
    this.pidFile = path.join(stateDir, `${stem}.pid`);
    this.logFile = path.join(stateDir, `${stem}.log`);
    this.settleMs = Math.max(0, spec.settleMs ?? options.settleMs ?? DEFAULT_SETTLE_MS);
    this.baseEnv = options.baseEnv ?? process.env;
    if (spec.command.length === 0 || spec.command[0] === '') this.setupError = 'the command is empty';
    try {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      this.setupError = `state directory ${stateDir}: ${errorText(e)}`;
    }
    this.ignoredPidFile = this.adopt();
  }

  /** The pid of the process being supervised (started or adopted), if any. */
  get pid(): number | undefined {
    return this.tracked?.pid;
  }

  /** Whether the process was adopted from the pid file rather than started by this agent. */
  get adopted(): boolean {
    return this.tracked?.adopted ?? false;
  }

  /** Reads the pid file and adopts its process if alive and matching; else why not. */
  private adopt(): string | undefined {
    let text: string;
    try {
      text = readFileSync(this.pidFile, 'utf8');
    } catch {
      return undefined;
    }
    const file = parsePidFile(text);
    if (!file) return `${this.pidFile}: not a pid file`;
    const why = this.identity(file.pid, file.startTime);
    if (why !== undefined) return `${this.pidFile}: pid ${file.pid} ${why}; not adopted`;
    const st = readProcStat(file.pid);
    if (!st) return `${this.pidFile}: pid ${file.pid} is gone; not adopted`;
    // Our own spawns lead their process group; anything else is signalled alone.
    this.tracked = { pid: file.pid, pgid: st.pgrp === file.pid ? file.pid : 0, startTime: st.startTime, adopted: true };
    this.expected = true;
    return undefined;
  }

  /** Why `pid` is not (or no longer) our command's process; undefined when it is. */
  private identity(pid: number, startTime: string | undefined): string | undefined {
    const st = readProcStat(pid);
    if (!st) return 'is not running';
    if (isDead(st.state)) return 'is a zombie (exited)';
    if (startTime !== undefined && st.startTime !== startTime) return `is another process (started at tick ${st.startTime}, not ${startTime})`;
    const argv = readCmdline(pid);
    if (argv === undefined) return 'is not running';
    if (!cmdlineMatches(argv, this.spec.command)) return `runs another command (${JSON.stringify(argv.join(' ').slice(0, 120))})`;
    return undefined;
  }

  private describeDeath(t: Tracked, why: string): string {
    if (t.exit) return `pid ${t.pid} ${describeExit(t.exit)}${this.logTail(0)}`;
    return `pid ${t.pid} ${why}`;
  }

  /** " (LAST LINE)" of the log from `offset` on, or "". */
  private logTail(offset: number): string {
    try {
      const fd = openSync(this.logFile, 'r');
      try {
        const size = fstatSync(fd).size;
        const from = Math.max(offset, size - 16 * 1024);
        const buffer = Buffer.alloc(Math.max(0, size - from));
        readSync(fd, buffer, 0, buffer.length, from);
        // Only what the process wrote since vigil's own "--- vigil ...: starting" marker:
        // a process killed before it wrote anything has no last line of its own.
        const lines = buffer.toString('utf8').split('\n');
        let i = lines.length;
        while (i > 0 && !(lines[i - 1] ?? '').startsWith('--- vigil ')) i--;
        const line = lastLine(lines.slice(i).join('\n'));
        return line === undefined ? '' : `: ${line}`;
      } finally {
        closeSync(fd);
      }
    } catch {
      return '';
    }
  }

  private writePidFile(t: Tracked): void {
    const tmp = `${this.pidFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ pid: t.pid, startTime: t.startTime, command: this.spec.command })}\n`, { mode: 0o600 });
    renameSync(tmp, this.pidFile);
  }

  private removePidFile(): void {
    rmSync(this.pidFile, { force: true });
  }

  private get commandText(): string {
    return this.spec.command.join(' ');
  }

  start(timeoutMs: number): Promise<OperationResult> {
    return guarded(`start ${this.name}`, timeoutMs, async (start) => {
      if (this.setupError !== undefined) return result(OCF.ERR_GENERIC, `start ${this.name}: ${this.setupError}`, start);
      if (this.tracked && this.identity(this.tracked.pid, this.tracked.startTime) === undefined) {
        this.expected = true;
        return result(OCF.SUCCESS, `${this.name} already running (pid ${this.tracked.pid}${this.tracked.adopted ? ', adopted' : ''})`, start);
      }
      this.tracked = undefined;
      const cwd = this.spec.cwd;
      if (cwd !== undefined && !(existsSync(cwd) && statSync(cwd).isDirectory())) {
        return result(OCF.ERR_INSTALLED, `start ${this.name}: working directory ${cwd} does not exist`, start);
      }
      const logFd = openSync(this.logFile, 'a', 0o600);
      let offset: number;
      let child: ChildProcess;
      try {
        writeSync(logFd, `--- vigil ${new Date().toISOString()}: starting ${this.commandText}\n`);
        offset = fstatSync(logFd).size;
        const [file, ...args] = this.spec.command as [string, ...string[]];
        child = spawn(file, args, {
          detached: true,
          stdio: ['ignore', logFd, logFd],
          env: { ...this.baseEnv, ...(this.spec.env ?? {}) },
          ...(cwd === undefined ? {} : { cwd }),
        });
      } finally {
        closeSync(logFd);
      }
      const spawned = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        child.once('spawn', () => resolve(undefined));
        child.once('error', (e: NodeJS.ErrnoException) => resolve(e));
      });
      if (spawned !== undefined) {
        const rc = spawned.code === 'ENOENT' ? OCF.ERR_INSTALLED : spawned.code === 'EACCES' || spawned.code === 'EPERM' ? OCF.ERR_PERM : OCF.ERR_GENERIC;
        return result(rc, `start ${this.name}: cannot run ${this.spec.command[0] ?? ''}: ${spawned.code ?? spawned.message}`, start);
      }
      const pid = child.pid;
      if (pid === undefined) return result(OCF.ERR_GENERIC, `start ${this.name}: spawn gave no pid`, start);
      child.unref();
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
        child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      const st = readProcStat(pid);
      const tracked: Tracked = { pid, pgid: pid, startTime: st?.startTime ?? '', adopted: false, child };
      void exited.then((exit) => (tracked.exit = exit));
      this.tracked = tracked;
      this.expected = true;
      if (st) this.writePidFile(tracked);
      // Settle, but leave room in the timeout for the answer.
      const settle = Math.min(this.settleMs, Math.max(0, timeoutMs - Math.min(1000, timeoutMs * 0.2)));
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        exited,
        new Promise<'settled'>((resolve) => {
          timer = setTimeout(() => resolve('settled'), settle);
        }),
      ]);
      clearTimeout(timer);
      if (outcome !== 'settled' || this.identity(pid, tracked.startTime || undefined) !== undefined) {
        const exit = outcome === 'settled' ? tracked.exit : outcome;
        this.tracked = undefined;
        this.expected = false;
        this.removePidFile();
        // A leftover of its group (a child it forked) must not outlive the failed start.
        killGroup(pid, 'SIGKILL');
        const how = exit ? describeExit(exit) : 'is not running';
        return result(OCF.ERR_GENERIC, `start ${this.name}: ${this.commandText}: ${how} within ${formatMs(settle)}${this.logTail(offset)}`, start);
      }
      return result(OCF.SUCCESS, `started ${this.name} (pid ${pid}; up after ${formatMs(settle)})`, start);
    });
  }

  stop(timeoutMs: number): Promise<OperationResult> {
    return guarded(`stop ${this.name}`, timeoutMs, async (start) => {
      const t = this.tracked;
      if (!t) {
        this.expected = false;
        return result(OCF.SUCCESS, `${this.name} not running`, start);
      }
      const alive = (): boolean => {
        if (this.identity(t.pid, t.startTime || undefined) === undefined) return true;
        return t.pgid > 0 && groupMembers(t.pgid).length > 0;
      };
      if (!alive()) {
        this.finishStop();
        return result(OCF.SUCCESS, `${this.name} not running (${this.describeDeath(t, 'had exited')})`, start);
      }
      const signal = (sig: NodeJS.Signals): void => {
        if (t.pgid > 0) killGroup(t.pgid, sig);
        else if (this.identity(t.pid, t.startTime || undefined) === undefined) {
          try {
            process.kill(t.pid, sig);
          } catch {
            // gone meanwhile
          }
        }
      };
      const margin = Math.min(1000, Math.max(50, timeoutMs * 0.2));
      const killAt = Math.max(0, timeoutMs - margin);
      const giveUpAt = Math.max(0, timeoutMs - 25);
      signal('SIGTERM');
      let killed = false;
      for (;;) {
        await new Promise((r) => setTimeout(r, 20));
        const elapsed = Number(now() - start) / 1e6;
        if (!alive()) break;
        if (!killed && elapsed >= killAt) {
          killed = true;
          signal('SIGKILL');
        } else if (elapsed >= giveUpAt) {
          return result(OCF.ERR_GENERIC, `stop ${this.name}: pid ${t.pid} still alive ${formatMs(timeoutMs)} after SIGTERM${killed ? ' and SIGKILL' : ''}`, start, true);
        }
      }
      this.finishStop();
      const how = killed ? `did not exit on SIGTERM within ${formatMs(killAt)}; killed with SIGKILL` : 'exited on SIGTERM';
      return result(OCF.SUCCESS, `stopped ${this.name} (pid ${t.pid} ${how})`, start);
    });
  }

  private finishStop(): void {
    this.tracked = undefined;
    this.expected = false;
    this.removePidFile();
  }

  monitor(timeoutMs: number): Promise<OperationResult> {
    return guarded(`monitor ${this.name}`, timeoutMs, async (start) => {
      const t = this.tracked;
      if (!t || !this.expected) {
        const note = this.ignoredPidFile !== undefined && !t ? ` (${this.ignoredPidFile})` : '';
        return result(OCF.NOT_RUNNING, `${this.name} not running${note}`, start);
      }
      const why = this.identity(t.pid, t.startTime || undefined);
      if (why === undefined) return result(OCF.SUCCESS, `${this.name} running (pid ${t.pid}${t.adopted ? ', adopted' : ''})`, start);
      return result(OCF.ERR_GENERIC, `${this.name} died unexpectedly: ${this.describeDeath(t, why)}`, start);
    });
  }

  close(): void {
    // Nothing to release: the process is meant to outlive the agent (and the daemon).
  }
}
