/**
 * One real `vigil run` (dist/src/cli/main.js) on a lab host, as `vigil demo` runs it: its
 * own config file and runtime directory, `--log-format json`, every log line kept as an
 * event with the time it arrived, and the process ended only by its PID (through the
 * Lab, which also ends it on teardown). test/lab/vigil.ts is the tests' richer
 * equivalent (control socket, address helpers).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './netns.js';

/** dist/src/cli/main.js, from dist/src/lab/vigil.js. */
export const VIGIL_MAIN_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export interface NodeEvent {
  readonly event: string;
  readonly [key: string]: unknown;
  /** performance.now() when the line arrived. */
  readonly receivedAt: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class VigilNode {
  readonly events: NodeEvent[] = [];
  stderr = '';
  private buffer = '';
  private readonly waiters = new Set<() => void>();
  readonly child: ChildProcess;

  constructor(
    readonly lab: Lab,
    readonly host: string,
    readonly configPath: string,
    readonly runtimeDir: string,
  ) {
    this.child = lab.spawn(host, process.execPath, [VIGIL_MAIN_JS, 'run', '-c', configPath, '--runtime-dir', runtimeDir, '--log-format', 'json']);
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line.trim() === '') continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          parsed = undefined;
        }
        const receivedAt = performance.now();
        if (isRecord(parsed) && typeof parsed['event'] === 'string') this.events.push({ ...parsed, event: parsed['event'], receivedAt });
        else this.events.push({ event: 'raw', line, receivedAt });
      }
      this.wake();
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (d: string) => (this.stderr += d));
    this.child.once('exit', () => this.wake());
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The exit code, or the signal's name. */
  get exitStatus(): number | string | undefined {
    return this.child.exitCode ?? this.child.signalCode ?? undefined;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The first event from index `from` on matching `pred`, or rejects after `timeoutMs` or when the process ends. */
  waitFor(pred: (e: NodeEvent) => boolean, what: string, timeoutMs: number, from = 0): Promise<NodeEvent> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.waiters.delete(check);
        clearTimeout(timer);
      };
      const check = (): void => {
        const found = this.events.slice(from).find(pred);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.exited) {
          done();
          reject(new Error(`vigil on ${this.host} exited (${String(this.exitStatus)}) before ${what}; stderr: ${this.stderr.trim()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`vigil on ${this.host}: no ${what} within ${timeoutMs} ms; events: ${this.events.map((e) => e.event).join(', ')}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  waitState(instance: string, state: string, timeoutMs: number, from = 0): Promise<NodeEvent> {
    return this.waitFor((e) => e.event === 'state-change' && e['instance'] === instance && e['to'] === state, `${instance} -> ${state}`, timeoutMs, from);
  }

  stateChanges(): NodeEvent[] {
    return this.events.filter((e) => e.event === 'state-change');
  }

  /** The state of the last state change, or undefined before the first. */
  state(): string | undefined {
    const last = this.stateChanges().at(-1);
    return typeof last?.['to'] === 'string' ? last['to'] : undefined;
  }

  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid !== undefined && !this.exited) process.kill(pid, signal);
  }

  /** Resolves to the exit code (or signal name) once the process ended; rejects after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<number | string> {
    return new Promise((resolve, reject) => {
      if (this.exited) {
        resolve(this.exitStatus ?? -1);
        return;
      }
      const timer = setTimeout(() => reject(new Error(`vigil on ${this.host} did not exit within ${timeoutMs} ms`)), timeoutMs);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve(this.exitStatus ?? -1);
      });
    });
  }
}
