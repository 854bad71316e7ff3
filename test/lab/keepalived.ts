/**
 * keepalived (the Debian package) as a real peer on a lab host: a config file, pid files
 * and TMPDIR (where SIGUSR1 writes keepalived.data) in a temporary directory of its own,
 * so nothing under /etc/keepalived, /run or /tmp is shared; run in the foreground
 * (-n, VRRP only, console log) and ended by its PID (and its VRRP child's, should that
 * outlive the parent).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { sleep } from './capture.js';
import type { Lab } from './netns.js';

export interface KeepalivedInstance {
  readonly name?: string;
  readonly vrid: number;
  readonly priority: number;
  readonly version: 2 | 3;
  /** keepalived's advert_int: seconds, fractional for v3 (0.1 = 100 ms). */
  readonly advertInt: number;
  readonly vips: readonly string[];
  readonly password?: string;
  /** Default BACKUP (MASTER cancels nopreempt in keepalived). */
  readonly state?: 'MASTER' | 'BACKUP';
  readonly nopreempt?: boolean;
}

/** A keepalived.conf with one vrrp_instance; vrrp_strict stays off (its default). */
export function keepalivedConf(routerId: string, i: KeepalivedInstance): string {
  return [
    'global_defs {',
    `  router_id ${routerId}`,
    // No scripts run; naming the user keeps keepalived from looking for keepalived_script.
    '  script_user root',
    '  enable_script_security',
    // One burst of gratuitous ARP on becoming master, no second one 5 s later.
    '  vrrp_garp_master_delay 0',
    '}',
    `vrrp_instance ${i.name ?? 'VI_1'} {`,
    `  state ${i.state ?? 'BACKUP'}`,
    '  interface eth0',
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
    '',
  ].join('\n');
}

export interface KeepalivedDump {
  readonly state: string;
  readonly masterRouter: string | undefined;
  readonly masterPriority: number | undefined;
  readonly raw: string;
}

export class Keepalived {
  output = '';
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly lab: Lab,
    readonly host: string,
    readonly child: ChildProcess,
    readonly dir: string,
  ) {
    const take = (d: string): void => {
      this.output += d;
      for (const w of [...this.waiters]) w();
    };
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.once('exit', () => take(''));
  }

  static available(): boolean {
    try {
      execFileSync('keepalived', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  /** Starts keepalived on `host` with `conf`; resolves once it logged "Startup complete". */
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
    ];
    const child = lab.spawn(host, 'keepalived', args, { env: { ...process.env, TMPDIR: dir } });
    const k = new Keepalived(lab, host, child, dir);
    await k.waitLog(/Startup complete/, 'startup', 10000);
    return k;
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

  /** SIGTERM to the parent (by PID), then SIGKILL to whatever of it is left; removes the directory. */
  async stop(): Promise<void> {
    const vrrp = this.vrrpPid();
    const kill = (pid: number | undefined, signal: NodeJS.Signals): void => {
      if (pid === undefined) return;
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    };
    if (!this.exited) {
      kill(this.child.pid, 'SIGTERM');
      for (let i = 0; i < 250 && !this.exited; i++) await sleep(20);
      if (!this.exited) kill(this.child.pid, 'SIGKILL');
      for (let i = 0; i < 100 && !this.exited; i++) await sleep(20);
    }
    // The VRRP child is ours too (started by the parent we started); it ends with the parent.
    if (vrrp !== undefined) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${vrrp}/comm`, 'utf8').trim();
      } catch {
        // gone with its parent
      }
      if (comm === 'keepalived') kill(vrrp, 'SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
