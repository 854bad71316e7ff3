/**
 * Running a short-lived program (an OCF agent, systemctl, a health-check script) in a
 * process group of its own that a timeout kills whole, with the tail of its output.
 */
import { spawn } from 'node:child_process';
import { since } from './elapsed.js';

export interface RunOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly cwd?: string;
  /** Output kept per stream (the end of it); 64 KiB. */
  readonly maxOutput?: number;
  /** Run as this user and group (spawn's setuid/setgid); absent: the daemon's own. */
  readonly uid?: number;
  readonly gid?: number;
}

export interface RunResult {
  /** The exit status, or null when killed by a signal or not started. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** The spawn failed (ENOENT, EACCES): the program never ran. */
  readonly spawnError?: NodeJS.ErrnoException;
  readonly elapsedMs: number;
}

/** Sends `signal` to the process group `pgid`; false if it is gone. */
export function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a program to completion in a process group of its own (setsid: it is the group
 * leader, its pgid is its pid). At the timeout the whole group gets SIGKILL and the result
 * says timedOut. Resolves when the program exits, not when its output closes: a daemon it
 * leaves behind holding the pipes does not hold the result back. Never rejects.
 */
export function runProgram(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const start = process.hrtime.bigint();
  const max = options.maxOutput ?? 64 * 1024;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let done = false;
    const keep = (text: string, chunk: string): string => {
      const joined = text + chunk;
      return joined.length > max ? joined.slice(joined.length - max) : joined;
    };
    let child;
    try {
      child = spawn(file, [...args], { env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.uid === undefined ? {} : { uid: options.uid }),
        ...(options.gid === undefined ? {} : { gid: options.gid }),
      });
    } catch (e) {
      resolve({ code: null, signal: null, stdout, stderr, timedOut, spawnError: e as NodeJS.ErrnoException, elapsedMs: since(start) });
      return;
    }
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (stdout = keep(stdout, d)));
    child.stderr.on('data', (d: string) => (stderr = keep(stderr, d)));
    // A pipe error (EPIPE, a reset) must not become an uncaught exception.
    child.stdout.on('error', () => undefined);
    child.stderr.on('error', () => undefined);
    const pid = child.pid;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
    }, Math.max(0, options.timeoutMs));
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: NodeJS.ErrnoException): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Output already written is read in a moment; a pipe still held open by a leftover
      // process (a daemon the agent started) is then let go.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code, signal, stdout, stderr, timedOut, ...(spawnError === undefined ? {} : { spawnError }), elapsedMs: since(start) });
      }, 20);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      // 'error' without a pid: the spawn failed; with one, a kill failed (ignored).
      if (child.pid === undefined) finish(null, null, e);
    });
    child.once('exit', (code, signal) => finish(code, signal));
  });
}

/** "exit 3", "killed by SIGKILL", "timed out after 20 s". */
export function describeExit(r: { readonly code: number | null; readonly signal: NodeJS.Signals | null }): string {
  if (r.code !== null) return `exit ${r.code}`;
  if (r.signal !== null) return `killed by ${r.signal}`;
  return 'ended';
}

