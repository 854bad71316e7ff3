/**
 * keepalived (the Debian package) as a real peer on a lab host, for the interop tests and
 * the benchmarks: a config file, pid files and TMPDIR (where SIGUSR1 writes
 * keepalived.data) in a temporary directory of its own, so nothing under
 * /etc/keepalived, /run or /tmp is shared; run in the foreground (VRRP only, console log,
 * no respawn) and ended by its PID, and its VRRP child's by PID only while that child's
 * /proc start time is still the one recorded when it was found as our child.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import type { Lab } from './netns.js';
import { OwnedProcess, procParent } from './proc.js';
import type { VrrpState } from './vigil.js';
import { sleep, until } from './wait.js';

export interface KeepalivedInstance {
  /** VI_1 when not given. */
  readonly name?: string;
  readonly vrid: number;
  readonly priority: number;
  readonly version: 2 | 3;
  /** keepalived's advert_int: seconds, fractional for v3 (0.1 = 100 ms). */
  readonly advertInt: number;
  /** Each a virtual_ipaddress line ("10.213.0.100/24 dev eth0"). */
  readonly vips: readonly string[];
  readonly password?: string;
  /** The initial state keepalived is told: BACKUP when not given (MASTER cancels nopreempt in keepalived). */
  readonly state?: 'MASTER' | 'BACKUP';
  readonly nopreempt?: boolean;
  /** eth0 when not given. */
  readonly interface?: string;
}

/** A keepalived.conf with these vrrp_instances; vrrp_strict stays off (its default). */
export function keepalivedConf(routerId: string, ...instances: readonly KeepalivedInstance[]): string {
  const instance = (i: KeepalivedInstance): string[] => [
    `vrrp_instance ${i.name ?? 'VI_1'} {`,
    `  state ${i.state ?? 'BACKUP'}`,
    `  interface ${i.interface ?? 'eth0'}`,
    `  virtual_router_id ${i.vrid}`,
    `  priority ${i.priority}`,
    ...(i.nopreempt === true ? ['  nopreempt'] : []),
    `  advert_int ${i.advertInt}`,
    `  version ${i.version}`,
    ...(i.password !== undefined ? ['  authentication {', '    auth_type PASS', `    auth_pass ${i.password}`, '  }'] : []),
    '  virtual_ipaddress {',
    ...i.vips.map((v) => `    ${v}`),
    '  }',
    '}',
  ];
  return [
    'global_defs {',
    `  router_id ${routerId}`,
    // No scripts run; naming the user keeps keepalived from looking for keepalived_script.
    '  script_user root',
    '  enable_script_security',
    // One burst of gratuitous ARP on becoming master, no second one 5 s later.
    '  vrrp_garp_master_delay 0',
    '}',
    ...instances.flatMap(instance),
    '',
  ].join('\n');
}

export interface KeepalivedDump {
  readonly state: string;
  readonly masterRouter: string | undefined;
  readonly masterPriority: number | undefined;
  readonly raw: string;
}

const ENTERING = /\((\S+)\) Entering (MASTER|BACKUP|FAULT) STATE/g;

export class Keepalived {
  readonly kind = 'keepalived';
  output = '';
  private readonly waiters = new Set<() => void>();
  private readonly states = new Map<string, VrrpState>();
  private readonly entries = new Map<string, number>();
  private scanned = 0;
  private vrrpChild: OwnedProcess | undefined;
  private stopped = false;

  private constructor(
    readonly lab: Lab,
    readonly host: string,
    readonly child: ChildProcess,
    readonly dir: string,
  ) {
    const take = (d: string): void => {
      this.output += d;
      this.scan();
      for (const w of [...this.waiters]) w();
    };
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.once('exit', () => take(''));
  }

  /** Reads the state changes of the complete lines that arrived since the last scan. */
  private scan(): void {
    const end = this.output.lastIndexOf('\n') + 1;
    if (end <= this.scanned) return;
    for (const m of this.output.slice(this.scanned, end).matchAll(ENTERING)) {
      const name = m[1] ?? '';
      const state = (m[2] ?? '').toLowerCase() as VrrpState;
      this.states.set(name, state);
      this.entries.set(`${name}/${state}`, (this.entries.get(`${name}/${state}`) ?? 0) + 1);
    }
    this.scanned = end;
  }

  static available(): boolean {
    try {
      execFileSync('keepalived', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Starts keepalived on `host` with `conf`; resolves once it logged "Startup complete"
   * and its VRRP child is known.
   */
  static async start(lab: Lab, host: string, conf: string): Promise<Keepalived> {
    const dir = mkdtempSync(path.join(tmpdir(), `vigil-ka-${host}-`));
    const confPath = path.join(dir, 'keepalived.conf');
    writeFileSync(confPath, conf);
    const args = [
      '--dont-fork',
      '--log-console',
      '--log-detail',
      '--no-syslog',
      '--vrrp',
      '--dont-respawn',
      `--use-file=${confPath}`,
      `--pid=${path.join(dir, 'keepalived.pid')}`,
      `--vrrp_pid=${path.join(dir, 'vrrp.pid')}`,
      `--checkers_pid=${path.join(dir, 'checkers.pid')}`,
      `--bfd_pid=${path.join(dir, 'bfd.pid')}`,
    ];
    const child = lab.spawn(host, 'keepalived', args, { env: { ...process.env, TMPDIR: dir } });
    const k = new Keepalived(lab, host, child, dir);
    try {
      await k.waitLog(/Startup complete/, 'startup', 15000);
      await until(() => k.findChild(), () => `keepalived VRRP child on ${host}`, 5000, 10);
    } catch (e) {
      await k.stop();
      throw e;
    }
    return k;
  }

  /** The VRRP child: the PID in its pid file, checked to be our process's child. */
  private findChild(): boolean {
    const pid = this.vrrpPid();
    if (pid === undefined || procParent(pid) !== this.child.pid) return false;
    this.vrrpChild = new OwnedProcess(pid);
    return true;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Resolves once the output matches `re` (searching from character `from`). */
  waitLog(re: RegExp, what: string, timeoutMs = 10000, from = 0): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (re.test(this.output.slice(from))) {
          done();
          resolve();
        } else if (this.exited) {
          done();
          reject(new Error(`keepalived on ${this.host} exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}:\n${this.output}`));
        }
      };
      const done = (): void => {
        this.waiters.delete(check);
        clearTimeout(timer);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`keepalived on ${this.host}: no ${what} within ${timeoutMs} ms:\n${this.output}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for "(NAME) Entering STATE STATE" after output position `from`. */
  waitState(state: 'MASTER' | 'BACKUP', timeoutMs = 10000, from = 0, name = 'VI_1'): Promise<void> {
    return this.waitLog(new RegExp(`\\(${name}\\) Entering ${state} STATE`), `${name} ${state}`, timeoutMs, from);
  }

  /** The "Entering ... STATE" lines so far. */
  transitions(name = 'VI_1'): string[] {
    return [...this.output.matchAll(new RegExp(`\\(${name}\\) Entering (\\w+) STATE`, 'g'))].map((m) => m[1] ?? '');
  }

  private vrrpPid(): number | undefined {
    const file = path.join(this.dir, 'vrrp.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** SIGUSR1 to the VRRP process; parses the instance's state and master from keepalived.data. */
  async dump(name = 'VI_1'): Promise<KeepalivedDump> {
    const pid = this.vrrpPid();
    if (pid === undefined) throw new Error(`keepalived on ${this.host}: no VRRP pid file`);
    const file = path.join(this.dir, 'keepalived.data');
    rmSync(file, { force: true });
    process.kill(pid, 'SIGUSR1');
    let previous = -1;
    for (let i = 0; i < 200; i++) {
      await sleep(20);
      if (!existsSync(file)) continue;
      const raw = readFileSync(file, 'utf8');
      // Written with stdio: read it once it stopped growing.
      const grown = raw.length !== previous;
      previous = raw.length;
      if (grown) continue;
      const start = raw.indexOf(`VRRP Instance = ${name}`);
      if (start < 0) continue;
      const section = raw.slice(start);
      const field = (key: string): string | undefined => new RegExp(`^\\s*${key} = (.*)$`, 'm').exec(section)?.[1]?.trim();
      const state = field('State');
      if (state === undefined) continue;
      const prio = field('Master priority');
      return { state, masterRouter: field('Master router'), masterPriority: prio === undefined ? undefined : Number(prio), raw: section };
    }
    throw new Error(`keepalived on ${this.host}: no data dump for ${name}`);
  }

  /** The state `instance` last entered, in vigil's names. */
  state(instance = 'VI_1'): VrrpState | undefined {
    return this.states.get(instance);
  }

  /** How many instances are in `state` now. */
  count(state: VrrpState): number {
    let n = 0;
    for (const st of this.states.values()) if (st === state) n++;
    return n;
  }

  /** How many times `instance` entered `state` since start. */
  entered(instance: string, state: VrrpState): number {
    return this.entries.get(`${instance}/${state}`) ?? 0;
  }

  /** The processes that make up the daemon: the parent and its VRRP child, while they run. */
  pids(): number[] {
    const out: number[] = [];
    if (this.child.pid !== undefined && !this.exited) out.push(this.child.pid);
    if (this.vrrpChild?.alive === true) out.push(this.vrrpChild.pid);
    return out;
  }

  /** SIGKILL to the VRRP child, which sends the adverts (a crash); without respawn the parent then exits too. */
  async crash(): Promise<void> {
    const c = this.vrrpChild;
    if (c === undefined) throw new Error(`keepalived on ${this.host}: no VRRP child`);
    c.kill('SIGKILL');
    await until(() => !c.alive, () => `keepalived VRRP child on ${this.host} to die`, 5000, 5);
  }

  /** SIGTERM to the parent (graceful stop); resolves at once, see waitExit. */
  terminate(): void {
    if (!this.exited && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGTERM');
  }

  /** Resolves once the parent and the VRRP child have ended. */
  async waitExit(timeoutMs = 10000): Promise<void> {
    await until(() => this.exited && this.vrrpChild?.alive !== true, () => `keepalived on ${this.host} to exit`, timeoutMs, 5);
  }

  /** SIGTERM to the parent (by PID), then SIGKILL to whatever of it is left; removes the directory. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.exited && this.child.pid !== undefined) {
      this.terminate();
      await until(() => this.exited, () => 'keepalived to exit', 5000, 20).catch(() => {
        if (this.child.pid !== undefined && !this.exited) process.kill(this.child.pid, 'SIGKILL');
      });
      await until(() => this.exited, () => 'keepalived to exit after SIGKILL', 2000, 20).catch(() => undefined);
    }
    // The VRRP child is ours too (started by the parent we started); it ends with the parent.
    const c = this.vrrpChild;
    if (c?.alive === true) {
      c.kill('SIGTERM');
      await until(() => !c.alive, () => 'keepalived VRRP child to exit', 3000, 20).catch(() => c.kill('SIGKILL'));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
