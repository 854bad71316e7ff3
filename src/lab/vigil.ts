/**
 * Runs the real `vigil run` (dist/src/cli/main.js) on a lab host, for the tests, the
 * benchmarks and `vigil demo`: a config file and a runtime directory of its own, JSON log
 * lines collected as events with the time they arrived, the control socket reached
 * directly (a Unix path socket is not bound to a network namespace), and the process
 * ended by its PID (the Lab also ends it on teardown). VIGIL_PROF=DIR runs it with
 * --cpu-prof into DIR (for profiling). The daemon gets the Node flags the launcher passes
 * (RUN_NODE_FLAGS) and environment (RUN_ENVIRONMENT); VIGIL_NODE_FLAGS="--flag ..." replaces
 * the flags (to weigh memory levers in bench/; VIGIL_NODE_FLAGS=" " for none).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { RUN_ENVIRONMENT, RUN_NODE_FLAGS } from '../daemon/node-flags.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { controlRequest } from '../daemon/control.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import type { InstanceStatus } from '../daemon/instance.js';
import type { Lab } from './netns.js';
import { sleep } from './wait.js';
import { onLines } from './lines.js';

/** dist/src/cli/main.js, from dist/src/lab/vigil.js. */
export const VIGIL_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export interface LogEvent {
  readonly time: string;
  readonly level: string;
  readonly event: string;
  readonly [key: string]: unknown;
  /** When the line arrived, performance.now() of the test process. */
  readonly receivedAt: number;
}

/** VRRP states as the lab's daemons report them. */
export type VrrpState = 'init' | 'backup' | 'master' | 'fault';

export class VigilProcess {
  readonly kind = 'vigil';
  readonly events: LogEvent[] = [];
  stderr = '';
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly lab: Lab,
    readonly host: string,
    readonly child: ChildProcess,
    /** The temporary directory start() made (removed by stop()); undefined for a config the caller wrote. */
    readonly dir: string | undefined,
    readonly configPath: string,
    readonly runtimeDir: string,
  ) {
    onLines(
      child.stdout,
      (line) => {
        try {
          this.events.push({ ...(JSON.parse(line) as { time: string; level: string; event: string }), receivedAt: performance.now() });
        } catch {
          this.events.push({ time: '', level: 'raw', event: 'raw', line, receivedAt: performance.now() });
        }
      },
      () => this.wake(),
    );
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.stderr += d));
    child.once('exit', () => this.wake());
  }

  /**
   * Starts vigil on `host` with `yaml` (its `global.runtime_dir` and `log_format` are set
   * here: a per-process directory, JSON lines). Resolves once it logged "started".
   */
  static async start(
    lab: Lab,
    host: string,
    yaml: string,
    options: { readonly waitStarted?: boolean; readonly stateDir?: string; readonly env?: Readonly<Record<string, string>> } = {},
  ): Promise<VigilProcess> {
    const dir = mkdtempSync(path.join(tmpdir(), `vigil-${host}-`));
    const configPath = path.join(dir, 'vigil.yaml');
    // A state_dir of its own (never the machine's /var/lib/vigil), unless the config names one.
    const stateDir = options.stateDir ?? path.join(dir, 'state');
    const withState = /^\s+state_dir:/m.test(yaml)
      ? yaml
      : /^global:\n/m.test(yaml)
        ? yaml.replace(/^global:\n/m, `global:\n  state_dir: ${stateDir}\n`)
        : `global:\n  state_dir: ${stateDir}\n${yaml}`;
    writeFileSync(configPath, withState);
    const p = VigilProcess.spawn(lab, host, configPath, path.join(dir, 'run'), dir, options.env);
    if (options.waitStarted !== false) await p.waitFor((e) => e.event === 'started', 'started', 10000);
    return p;
  }

  /**
   * Runs vigil on `host` with a config file already written; returns at once (wait for
   * "started" with waitFor). `env` adds to the daemon's environment (e.g. OCF_ROOT).
   */
  static spawn(lab: Lab, host: string, configPath: string, runtimeDir: string, dir?: string, env?: Readonly<Record<string, string>>): VigilProcess {
    const prof = process.env['VIGIL_PROF'];
    const nodeFlags = process.env['VIGIL_NODE_FLAGS']?.split(' ').filter(Boolean) ?? RUN_NODE_FLAGS;
    // The launcher's environment (RUN_ENVIRONMENT); a value already in this process's
    // environment wins (MALLOC_ARENA_MAX=8 to weigh the lever in bench/).
    const child = lab.spawn(host, process.execPath, [...nodeFlags, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), VIGIL_MAIN, 'run', '-c', configPath, '--runtime-dir', runtimeDir, '--log-format', 'json'], { env: { ...RUN_ENVIRONMENT, ...process.env, ...env } });
    return new VigilProcess(lab, host, child, dir, configPath, runtimeDir);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('vigil has no pid');
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The exit code, or the signal's name; undefined while it runs. */
  get exitStatus(): number | string | undefined {
    return this.child.exitCode ?? this.child.signalCode ?? undefined;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The first event matching `pred` (already logged or to come), or rejects after `timeoutMs`. */
  waitFor(pred: (e: LogEvent) => boolean, what: string, timeoutMs = 10000, from = 0): Promise<LogEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.slice(from).find(pred);
        if (found) {
          done();
          resolve(found);
        } else if (this.exited) {
          done();
          reject(new Error(`vigil on ${this.host} exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; stderr: ${this.stderr}; log: ${this.logText()}`));
        }
      };
      const done = (): void => {
        this.waiters.delete(check);
        clearTimeout(timer);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`vigil on ${this.host}: no ${what} within ${timeoutMs} ms; log: ${this.logText()}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Waits until `instance` logs a state change to `state` (after event index `from`). */
  waitState(instance: string, state: string, timeoutMs = 10000, from = 0): Promise<LogEvent> {
    return this.waitFor((e) => e.event === 'state-change' && e['instance'] === instance && e['to'] === state, `${instance} -> ${state}`, timeoutMs, from);
  }

  stateChanges(instance?: string): LogEvent[] {
    return this.events.filter((e) => e.event === 'state-change' && (instance === undefined || e['instance'] === instance));
  }

  /** The last state each instance logged. */
  private lastStates(): Map<string, VrrpState> {
    const m = new Map<string, VrrpState>();
    for (const e of this.stateChanges()) m.set(String(e['instance']), e['to'] as VrrpState);
    return m;
  }

  /** The state `instance` last logged (of the last state change of any instance when not named), or undefined before the first. */
  state(instance?: string): VrrpState | undefined {
    if (instance !== undefined) return this.lastStates().get(instance);
    const last = this.stateChanges().at(-1);
    return last === undefined ? undefined : (last['to'] as VrrpState);
  }

  /** How many instances last logged `state`. */
  count(state: VrrpState): number {
    let n = 0;
    for (const st of this.lastStates().values()) if (st === state) n++;
    return n;
  }

  /** How many times `instance` entered `state` since start. */
  entered(instance: string, state: VrrpState): number {
    return this.stateChanges(instance).filter((e) => e['to'] === state).length;
  }

  /** The processes that make up the daemon: one. */
  pids(): number[] {
    return [this.pid];
  }

  /** SIGKILL, and wait for the end. */
  async crash(): Promise<void> {
    this.signal('SIGKILL');
    await this.waitExit(5000);
  }

  /** SIGTERM (graceful stop); resolves at once, see waitExit. */
  terminate(): void {
    this.signal('SIGTERM');
  }

  logText(): string {
    return this.events.map((e) => `\n  ${e.event} ${JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => !['time', 'event', 'receivedAt'].includes(k))))}`).join('');
  }

  async status(): Promise<DaemonStatus> {
    const r = await controlRequest(this.runtimeDir, { command: 'status' });
    if (!r.ok) throw new Error(`status from ${this.host}: ${r.error}`);
    return r.result as DaemonStatus;
  }

  async instance(name: string): Promise<InstanceStatus> {
    const s = await this.status();
    const i = s.instances.find((x) => x.name === name);
    if (!i) throw new Error(`no instance ${name} on ${this.host}`);
    return i;
  }

  /** Rewrites the config file (for a SIGHUP reload). */
  writeConfig(yaml: string): void {
    writeFileSync(this.configPath, yaml);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.exited) process.kill(this.pid, signal);
  }

  /** Resolves to the exit code (or signal name) once the process ended. */
  async waitExit(timeoutMs = 10000): Promise<number | string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exited) {
      if (Date.now() > deadline) throw new Error(`vigil on ${this.host} did not exit within ${timeoutMs} ms`);
      await sleep(10);
    }
    return this.exitStatus ?? -1;
  }

  /** SIGTERM and wait; SIGKILL if it does not end. Removes the temporary directory start() made. */
  async stop(): Promise<void> {
    if (!this.exited) {
      this.signal('SIGTERM');
      try {
        await this.waitExit(5000);
      } catch {
        this.signal('SIGKILL');
        await this.waitExit(2000).catch(() => undefined);
      }
    }
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
  }
}

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** The addresses on `host` (all interfaces), as "address/prefix" per interface. */
export async function addressesOn(lab: Lab, host: string): Promise<Map<string, string[]>> {
  const r = await lab.exec(host, 'ip', ['-j', 'addr', 'show']);
  const out = new Map<string, string[]>();
  for (const link of JSON.parse(r.stdout) as IpAddrJson[]) out.set(link.ifname, (link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
  return out;
}

/** The hosts among `hosts` holding `address` (on any interface). */
export async function holders(lab: Lab, hosts: readonly string[], address: string): Promise<string[]> {
  const found: string[] = [];
  for (const h of hosts) {
    const addrs = await addressesOn(lab, h);
    if ([...addrs.values()].some((list) => list.some((a) => a.split('/')[0] === address))) found.push(h);
  }
  return found;
}

/** Polls until `holders` equals `expected` (sorted), or throws with what it saw. */
export async function waitHolders(lab: Lab, hosts: readonly string[], address: string, expected: readonly string[], timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await holders(lab, hosts, address);
    if (seen.slice().sort().join(',') === expected.slice().sort().join(',')) return;
    await sleep(50);
  }
  throw new Error(`${address}: held by [${seen.join(', ')}], expected [${expected.join(', ')}]`);
}

/** A minimal instance config in YAML; `extra` is more keys of the instance, indented by the caller's convention (4 spaces). */
export function instanceYaml(fields: {
  readonly name?: string;
  readonly vrid: number;
  readonly priority: number;
  readonly interval?: string;
  readonly vips: readonly string[];
  readonly extra?: string;
  /** eth0 when not given. */
  readonly interface?: string;
}): string {
  return [
    `  - name: ${fields.name ?? 'gw'}`,
    `    interface: ${fields.interface ?? 'eth0'}`,
    `    vrid: ${fields.vrid}`,
    `    priority: ${fields.priority}`,
    `    advert_interval: ${fields.interval ?? '100ms'}`,
    `    virtual_ips: [${fields.vips.join(', ')}]`,
    ...(fields.extra ? [fields.extra.replace(/\n$/, '')] : []),
  ].join('\n');
}

/** A whole config with these instances. */
export function configYaml(...instances: string[]): string {
  return `instances:\n${instances.join('\n')}\n`;
}

/** Runs `vigil ARGS` (the CLI, outside the namespaces: the control socket is a path); never rejects. */
export async function vigilCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [VIGIL_MAIN, ...args], { encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
