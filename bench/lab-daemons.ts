/**
 * Bench helpers for the lab: one interface over a vigil daemon and a keepalived daemon
 * (Debian's keepalived, foreground, config and pid files in a temp dir of its own), a
 * packet capture that reports kernel drops, CPU hogs, and /proc readings.
 *
 * Safety: processes are started here or by the lab and ended only by their PID (a
 * keepalived VRRP child, which the lab does not know, only after checking that its
 * /proc start time is still the one recorded when it was found as our child).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Lab } from '../test/lab/netns.js';
import { parsePcap, sleep, type Frame } from '../test/lab/capture.js';
import { VigilProcess, configYaml, instanceYaml } from '../test/lab/vigil.js';

export type DaemonKind = 'vigil' | 'keepalived';
export type VrrpState = 'init' | 'backup' | 'master' | 'fault';

export interface InstanceSpec {
  readonly name: string;
  readonly vrid: number;
  readonly priority: number;
  readonly intervalMs: number;
  /** "address/prefix" */
  readonly vips: readonly string[];
}

export interface DaemonOptions {
  /** vigil only: global.realtime_priority (SCHED_RR). */
  readonly realtimePriority?: number;
}

export interface BenchDaemon {
  readonly kind: DaemonKind;
  readonly host: string;
  /** The last state each instance logged. */
  state(instance: string): VrrpState | undefined;
  /** How many instances last logged `state`. */
  count(state: VrrpState): number;
  /** How many times `instance` entered `state` since start. */
  entered(instance: string, state: VrrpState): number;
  /** The processes that make up the daemon (vigil: one; keepalived: parent and VRRP child). */
  pids(): number[];
  readonly exited: boolean;
  /** SIGKILL of the process that sends the adverts (a crash). */
  crash(): Promise<void>;
  /** SIGTERM (graceful stop); resolves at once, see waitExit. */
  terminate(): void;
  waitExit(timeoutMs: number): Promise<void>;
  /** Ends everything left and removes its files. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Processes we started that the lab does not know (keepalived's VRRP child, CPU hogs):
// ended by PID on exit, only while their identity still holds.

interface Owned {
  readonly pid: number;
  readonly startTime: string | undefined;
}
const owned = new Set<Owned>();
let hookInstalled = false;

function installHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const o of owned) killOwned(o, 'SIGKILL');
  });
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined if gone. */
export function procStartTime(pid: number): string | undefined {
  const s = procStat(pid);
  return s?.[19];
}

/** /proc/PID/stat fields after the command (index 0 = field 3, "state"). */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
  } catch {
    return undefined;
  }
}

export function procParent(pid: number): number | undefined {
  const s = procStat(pid);
  return s ? Number(s[1]) : undefined;
}

function alive(o: Owned): boolean {
  const st = procStartTime(o.pid);
  return st !== undefined && st === o.startTime;
}

function killOwned(o: Owned, signal: NodeJS.Signals): void {
  if (!alive(o)) return;
  try {
    process.kill(o.pid, signal);
  } catch {
    // already gone
  }
}

function own(pid: number): Owned {
  installHook();
  const o = { pid, startTime: procStartTime(pid) };
  owned.add(o);
  return o;
}

export async function waitUntil(pred: () => boolean, what: string, timeoutMs: number, stepMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

// ---------------------------------------------------------------------------------------
// /proc readings

export const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of the whole process (all threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const s = procStat(pid);
  if (!s) throw new Error(`process ${pid} is gone`);
  return (Number(s[11]) + Number(s[12])) / CLK_TCK;
}

/**
 * CPU time of the whole process (every thread) in seconds, in nanoseconds' precision:
 * the sum of the first field (time on the CPU, ns) of /proc/PID/task/TID/schedstat.
 * utime+stime count in clock ticks (10 ms at CLK_TCK 100), too coarse for an idle daemon:
 * 0.1 % of a core over 60 s is 6 ticks. Threads that ended between two readings drop out
 * of the sum, so read it only across windows where the thread set is steady.
 */
export function cpuSecondsPrecise(pid: number): number {
  let ns = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    throw new Error(`process ${pid} is gone`);
  }
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended while we read.
    }
  }
  return ns / 1e9;
}

/** VmRSS in KiB. */
export function rssKiB(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(text);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------
// vigil

class VigilDaemon implements BenchDaemon {
  readonly kind = 'vigil';
  private constructor(private readonly p: VigilProcess) {}

  static async start(lab: Lab, host: string, specs: readonly InstanceSpec[], options: DaemonOptions): Promise<VigilDaemon> {
    let yaml = configYaml(
      ...specs.map((s) => instanceYaml({ name: s.name, vrid: s.vrid, priority: s.priority, interval: `${s.intervalMs}ms`, vips: s.vips })),
    );
    if (options.realtimePriority) yaml = `global:\n  realtime_priority: ${options.realtimePriority}\n${yaml}`;
    return new VigilDaemon(await VigilProcess.start(lab, host, yaml));
  }

  get host(): string {
    return this.p.host;
  }

  get exited(): boolean {
    return this.p.exited;
  }

  private lastStates(): Map<string, VrrpState> {
    const m = new Map<string, VrrpState>();
    for (const e of this.p.events) if (e.event === 'state-change') m.set(String(e['instance']), e['to'] as VrrpState);
    return m;
  }

  state(instance: string): VrrpState | undefined {
    return this.lastStates().get(instance);
  }

  count(state: VrrpState): number {
    let n = 0;
    for (const s of this.lastStates().values()) if (s === state) n++;
    return n;
  }

  entered(instance: string, state: VrrpState): number {
    return this.p.events.filter((e) => e.event === 'state-change' && e['instance'] === instance && e['to'] === state).length;
  }

  pids(): number[] {
    return [this.p.pid];
  }

  async crash(): Promise<void> {
    this.p.signal('SIGKILL');
    await this.p.waitExit(5000);
  }

  terminate(): void {
    this.p.signal('SIGTERM');
  }

  async waitExit(timeoutMs: number): Promise<void> {
    await this.p.waitExit(timeoutMs);
  }

  async stop(): Promise<void> {
    await this.p.stop();
  }
}

// ---------------------------------------------------------------------------------------
// keepalived

function keepalivedConfig(host: string, specs: readonly InstanceSpec[]): string {
  const lines = ['global_defs {', `  router_id bench_${host}`, '  vrrp_version 3', '}'];
  for (const s of specs) {
    lines.push(
      `vrrp_instance ${s.name} {`,
      '  state BACKUP',
      '  interface eth0',
      `  virtual_router_id ${s.vrid}`,
      `  priority ${s.priority}`,
      `  advert_int ${s.intervalMs / 1000}`,
      '  virtual_ipaddress {',
      ...s.vips.map((v) => `    ${v}`),
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

const KEEPALIVED_STATE = /\((\S+)\) Entering (MASTER|BACKUP|FAULT) STATE/;

class KeepalivedDaemon implements BenchDaemon {
  readonly kind = 'keepalived';
  private readonly states = new Map<string, VrrpState>();
  private readonly entries = new Map<string, number>();
  private buffer = '';
  log = '';
  private vrrpChild: Owned | undefined;
  private stopped = false;

  private constructor(
    readonly host: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly instances: number,
  ) {
    const onData = (d: string): void => {
      this.buffer += d;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (this.log.length < 200_000) this.log += `${line}\n`;
        const m = KEEPALIVED_STATE.exec(line);
        if (m) {
          const name = m[1] as string;
          const st = (m[2] as string).toLowerCase() as VrrpState;
          this.states.set(name, st);
          this.entries.set(`${name}/${st}`, (this.entries.get(`${name}/${st}`) ?? 0) + 1);
        }
      }
    };
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  static async start(lab: Lab, host: string, specs: readonly InstanceSpec[]): Promise<KeepalivedDaemon> {
    const dir = mkdtempSync(path.join(tmpdir(), `vigil-bench-keepalived-${host}-`));
    const conf = path.join(dir, 'keepalived.conf');
    writeFileSync(conf, keepalivedConfig(host, specs));
    // -n foreground, -l/-D/-G log details to the console only, -P VRRP only, -R no respawn.
    const child = lab.spawn(host, 'keepalived', [
      '-n', '-l', '-D', '-G', '-P', '-R',
      '-f', conf,
      '-p', path.join(dir, 'keepalived.pid'),
      '-r', path.join(dir, 'vrrp.pid'),
      '-c', path.join(dir, 'checkers.pid'),
      '-b', path.join(dir, 'bfd.pid'),
    ]);
    const k = new KeepalivedDaemon(host, child, dir, specs.length);
    try {
      await waitUntil(() => k.exited || k.states.size >= specs.length, `keepalived on ${host} to start its instances`, 15000);
      if (k.exited) throw new Error(`keepalived on ${host} exited: ${k.log}`);
      await k.findChild();
    } catch (e) {
      await k.stop();
      throw e;
    }
    return k;
  }

  /** The VRRP child: the PID in its pid file, checked to be our parent's child. */
  private async findChild(): Promise<void> {
    const file = path.join(this.dir, 'vrrp.pid');
    const parent = this.child.pid;
    await waitUntil(() => {
      if (!existsSync(file)) return false;
      const pid = Number(readFileSync(file, 'utf8').trim());
      return pid > 0 && procParent(pid) === parent;
    }, `keepalived VRRP child on ${this.host}`, 5000);
    this.vrrpChild = own(Number(readFileSync(file, 'utf8').trim()));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  state(instance: string): VrrpState | undefined {
    return this.states.get(instance);
  }

  count(state: VrrpState): number {
    let n = 0;
    for (const s of this.states.values()) if (s === state) n++;
    return n;
  }

  entered(instance: string, state: VrrpState): number {
    return this.entries.get(`${instance}/${state}`) ?? 0;
  }

  pids(): number[] {
    const out: number[] = [];
    if (this.child.pid !== undefined && !this.exited) out.push(this.child.pid);
    if (this.vrrpChild && alive(this.vrrpChild)) out.push(this.vrrpChild.pid);
    return out;
  }

  async crash(): Promise<void> {
    // The VRRP child sends the adverts; without respawn (-R) the parent then exits too.
    const c = this.vrrpChild;
    if (!c) throw new Error('no keepalived VRRP child');
    killOwned(c, 'SIGKILL');
    await waitUntil(() => !alive(c), 'keepalived VRRP child to die', 5000);
  }

  terminate(): void {
    if (!this.exited && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGTERM');
  }

  async waitExit(timeoutMs: number): Promise<void> {
    await waitUntil(() => this.exited && !(this.vrrpChild && alive(this.vrrpChild)), `keepalived on ${this.host} to exit`, timeoutMs);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.exited) {
      this.terminate();
      try {
        await this.waitExit(5000);
      } catch {
        if (this.child.pid !== undefined && !this.exited) process.kill(this.child.pid, 'SIGKILL');
      }
    }
    if (this.vrrpChild) {
      const c = this.vrrpChild;
      if (alive(c)) {
        killOwned(c, 'SIGTERM');
        await waitUntil(() => !alive(c), 'keepalived VRRP child to exit', 3000).catch(() => killOwned(c, 'SIGKILL'));
      }
      owned.delete(c);
    }
    await waitUntil(() => this.exited, 'keepalived parent to exit', 3000).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startDaemon(kind: DaemonKind, lab: Lab, host: string, specs: readonly InstanceSpec[], options: DaemonOptions = {}): Promise<BenchDaemon> {
  return kind === 'vigil' ? VigilDaemon.start(lab, host, specs, options) : KeepalivedDaemon.start(lab, host, specs);
}

export function keepalivedAvailable(): boolean {
  try {
    execFileSync('keepalived', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Capture with kernel drop counts

export class BenchCapture {
  private stderr = '';
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly file: string,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.stderr += d));
  }

  static async start(lab: Lab, host: string, filter = 'vrrp or arp'): Promise<BenchCapture> {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-cap-'));
    const file = path.join(dir, `${host}.pcap`);
    const child = lab.spawn(host, 'tcpdump', ['-i', 'eth0', '-U', '--immediate-mode', '-n', '-B', '8192', '--time-stamp-precision=nano', '-s', '128', '-w', file, filter]);
    const cap = new BenchCapture(child, dir, file);
    try {
      await waitUntil(() => cap.stderr.includes('listening on') || child.exitCode !== null, `tcpdump in ${host}`, 5000);
    } catch (e) {
      await cap.stop();
      throw e;
    }
    if (child.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`tcpdump did not start in ${host}: ${cap.stderr.trim()}`);
    }
    return cap;
  }

  frames(): Frame[] {
    if (!existsSync(this.file) || statSync(this.file).size < 24) return [];
    return parsePcap(readFileSync(this.file));
  }

  /** Stops tcpdump; the frames and how many packets the kernel dropped (tcpdump's own count). */
  async stop(): Promise<{ frames: Frame[]; dropped: number }> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      process.kill(this.child.pid, 'SIGINT');
      await waitUntil(() => this.child.exitCode !== null || this.child.signalCode !== null, 'tcpdump to exit', 3000).catch(() => {
        if (this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
      });
    }
    const frames = this.frames();
    rmSync(this.dir, { recursive: true, force: true });
    const m = /(\d+) packets? dropped by kernel/.exec(this.stderr);
    return { frames, dropped: m ? Number(m[1]) : 0 };
  }
}

// ---------------------------------------------------------------------------------------
// CPU hogs

export class CpuHogs {
  private readonly hogs: { child: ChildProcess; owned: Owned }[] = [];

  static start(n: number): CpuHogs {
    const h = new CpuHogs();
    for (let i = 0; i < n; i++) {
      const child = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
      if (child.pid !== undefined) h.hogs.push({ child, owned: own(child.pid) });
    }
    return h;
  }

  async stop(): Promise<void> {
    for (const { owned: o } of this.hogs) killOwned(o, 'SIGKILL');
    await Promise.all(
      this.hogs.map(({ child }) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise<void>((r) => child.once('exit', () => r())))),
    );
    for (const { owned: o } of this.hogs) owned.delete(o);
    this.hogs.length = 0;
  }
}

// ---------------------------------------------------------------------------------------
// Statistics and tables

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(xs: readonly number[]): Summary {
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** "3612.1 [3610.0–3620.4]" with `digits` decimals. */
export function fmtSummary(s: Summary | undefined, digits = 1): string {
  if (!s || s.n === 0) return 'n/a';
  return `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`;
}

export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

export function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v} is not a number`);
  return n;
}
