/**
 * Debian's snmpd as AgentX master and snmptrapd, on loopback ports the kernel hands out (so
 * no clash with another snmpd), each with its own config (-C: no system config) and
 * persistent directory. Ended by PID.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run, type ExecResult, type Lab } from '../../src/lab/netns.js';

export const COMMUNITY = 'vigiltest';

export function snmpSkipReason(): string | false {
  for (const tool of ['snmpd', 'snmptrapd', 'snmpwalk']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (r.status !== 0) return `${tool} is not installed (Debian packages snmpd, snmptrapd, snmp)`;
  }
  return false;
}

export async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  if (!a || typeof a !== 'object') throw new Error('no port');
  return a.port;
}

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

export class SnmpLab {
  snmpd: ChildProcess | undefined;
  trapd: ChildProcess | undefined;
  traps = '';
  snmpdLog = '';

  private constructor(
    readonly dir: string,
    readonly agentxPort: number,
    readonly snmpPort: number,
    readonly trapPort: number,
    /** Where snmpd, snmptrapd and snmpwalk run: a lab host's namespace, or this one. */
    private readonly where?: { readonly lab: Lab; readonly host: string },
  ) {}

  /** On this namespace's loopback, on ports the kernel hands out (the bench). */
  static async create(): Promise<SnmpLab> {
    return SnmpLab.setUp(mkdtempSync(path.join(tmpdir(), 'vigil-snmp-')), await freeTcpPort(), await freeUdpPort(), await freeUdpPort());
  }

  /** Inside a lab host's namespace: its own loopback, so snmpd's standard ports (705, 161, 162). */
  static async createIn(lab: Lab, host: string): Promise<SnmpLab> {
    return SnmpLab.setUp(mkdtempSync(path.join(tmpdir(), 'vigil-snmp-')), 705, 161, 162, { lab, host });
  }

  private spawnCmd(cmd: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    return this.where ? this.where.lab.spawn(this.where.host, cmd, args, options) : spawn(cmd, [...args], options);
  }

  private runCmd(cmd: string, args: readonly string[]): Promise<ExecResult> {
    return this.where ? this.where.lab.exec(this.where.host, cmd, args, true) : run(cmd, args, true);
  }

  private static async setUp(dir: string, agentxPort: number, snmpPort: number, trapPort: number, where?: { readonly lab: Lab; readonly host: string }): Promise<SnmpLab> {
    const lab = new SnmpLab(dir, agentxPort, snmpPort, trapPort, where);
    writeFileSync(
      path.join(dir, 'snmpd.conf'),
      [
        'master agentx',
        `agentXSocket tcp:127.0.0.1:${lab.agentxPort}`,
        `agentaddress udp:127.0.0.1:${lab.snmpPort}`,
        `rocommunity ${COMMUNITY} 127.0.0.1`,
        `trap2sink 127.0.0.1:${lab.trapPort} ${COMMUNITY}`,
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'snmptrapd.conf'), 'disableAuthorization yes\ndonotlogtraps no\n');
    return lab;
  }

  async startTrapd(): Promise<void> {
    const child = this.spawnCmd('snmptrapd', ['-f', '-C', '-c', path.join(this.dir, 'snmptrapd.conf'), '-Lo', '-On', '-m', '', `udp:127.0.0.1:${this.trapPort}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SNMP_PERSISTENT_DIR: path.join(this.dir, 'trapd') },
    });
    child.stdout?.on('data', (d: Buffer) => (this.traps += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.traps += d.toString()));
    this.trapd = child;
    await this.waitFor(() => this.traps.includes('NET-SNMP version'), 'snmptrapd to start', () => this.traps);
  }

  async startSnmpd(): Promise<void> {
    const child = this.spawnCmd('snmpd', ['-f', '-C', '-c', path.join(this.dir, 'snmpd.conf'), '-Lo', '-m', ''], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SNMP_PERSISTENT_DIR: path.join(this.dir, 'snmpd') },
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => ((out += d.toString()), (this.snmpdLog += d.toString())));
    child.stderr?.on('data', (d: Buffer) => ((out += d.toString()), (this.snmpdLog += d.toString())));
    this.snmpd = child;
    await this.waitFor(() => out.includes('NET-SNMP version'), 'snmpd to start', () => out);
  }

  async stopSnmpd(): Promise<void> {
    if (this.snmpd) await stopChild(this.snmpd);
    this.snmpd = undefined;
  }

  /**
   * snmpwalk with numeric OIDs and no MIB loaded; returns OID -> "TYPE: value". Never
   * synchronous: the subagent that answers runs on this process's event loop.
   */
  async walk(oid: string, extra: readonly string[] = []): Promise<Map<string, string>> {
    const r = await this.runCmd('snmpwalk', ['-v2c', '-c', COMMUNITY, '-On', '-m', '', '-t', '2', '-r', '1', ...extra, `127.0.0.1:${this.snmpPort}`, oid]);
    const out = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf(' = ');
      if (i > 0) out.set(line.slice(0, i), line.slice(i + 3));
    }
    return out;
  }

  /** snmpwalk's raw output with the given MIBs loaded (name checks). */
  async walkText(oid: string, mibs: string): Promise<string> {
    return (await this.runCmd('snmpwalk', ['-v2c', '-c', COMMUNITY, '-m', mibs, '-t', '2', '-r', '1', `127.0.0.1:${this.snmpPort}`, oid])).stdout;
  }

  /** Waits until `check` holds, calling `poll` (when given) before each look. */
  async waitFor(check: () => boolean, what: string, detail: () => string, timeoutMs = 10_000, poll?: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await poll?.(), !check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${detail()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async destroy(): Promise<void> {
    if (this.snmpd) await stopChild(this.snmpd);
    if (this.trapd) await stopChild(this.trapd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
