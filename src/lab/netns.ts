/**
 * The lab: hosts as network namespaces on one bridge, built for one run (a test, a
 * benchmark, or `vigil demo`) and torn down afterwards, also when the run fails or the
 * process is interrupted. The rest of src/lab runs vigil, keepalived, tcpdump and web
 * servers on its hosts.
 *
 * Safety rules (DEVELOPERS.md): every namespace is created here with a per-run prefix
 * and deleted by this run; the bridge lives in a namespace of its own, so nothing is
 * added to the machine's own interfaces; addresses come only from 10.213.0.0/16 and
 * fd13::/16; processes are ended only by the PIDs this run started.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants } from 'node:fs';
import { promisify } from 'node:util';
import { errorText } from '../base/error-text.js';
import { native } from '../native/index.js';

const execFileAsync = promisify(execFile);

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface LabOptions {
  /** Host names, e.g. ['a', 'b']; host i gets 10.213.0.(i+1) and fd13::(i+1). */
  readonly hosts: readonly string[];
  /**
   * The start of the namespace names (default "vgt", for tests); a per-run suffix is
   * always added. At most 5 characters of [a-z0-9].
   */
  readonly prefix?: string;
}

export interface LabHost {
  readonly name: string;
  /** The namespace's full name. */
  readonly ns: string;
  readonly ipv4: string;
  readonly ipv6: string;
  readonly ipv6LinkLocal: string;
  readonly mac: string;
  readonly index: number;
}

/** Namespaces and PIDs of every lab alive in this process, for the exit handler. */
const live = new Set<Lab>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = (): void => {
    for (const lab of live) lab.destroySync();
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
}

export function run(cmd: string, args: readonly string[], allowFailure = false): Promise<ExecResult> {
  return execFileAsync(cmd, [...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ stdout: r.stdout, stderr: r.stderr, code: 0 }),
    (e: unknown) => {
      const err = e as { stdout?: string; stderr?: string; code?: number | string; message?: string };
      const result = { stdout: err.stdout ?? '', stderr: err.stderr ?? String(err.message), code: typeof err.code === 'number' ? err.code : 1 };
      if (allowFailure) return result;
      throw new Error(`${cmd} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
    },
  );
}

export class Lab {
  readonly prefix: string;
  readonly switchNs: string;
  readonly hosts: ReadonlyMap<string, LabHost>;
  private readonly children = new Set<ChildProcess>();
  private readonly namespaces: string[] = [];
  private destroyed = false;

  private constructor(options: LabOptions) {
    // Short and unique per run: namespace names also appear in interface names nowhere.
    const stem = options.prefix ?? 'vgt';
    if (!/^[a-z0-9]{1,5}$/.test(stem)) throw new RangeError(`lab prefix ${JSON.stringify(stem)}: expected 1 to 5 of [a-z0-9]`);
    this.prefix = `${stem}${process.pid.toString(36)}${randomBytes(2).toString('hex')}-`;
    this.switchNs = `${this.prefix}sw`;
    const hosts = new Map<string, LabHost>();
    options.hosts.forEach((name, i) => {
      const n = i + 1;
      const hex = n.toString(16).padStart(2, '0');
      hosts.set(name, {
        name,
        ns: `${this.prefix}${name}`,
        ipv4: `10.213.0.${n}`,
        ipv6: `fd13::${n.toString(16)}`,
        ipv6LinkLocal: `fe80::13:ff:fe00:${n.toString(16)}`,
        mac: `02:13:00:00:00:${hex}`,
        index: n,
      });
    });
    this.hosts = hosts;
  }

  static async create(options: LabOptions): Promise<Lab> {
    installExitHook();
    const lab = new Lab(options);
    live.add(lab);
    try {
      await lab.build();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  private async addNamespace(ns: string): Promise<void> {
    await run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private async build(): Promise<void> {
    await this.addNamespace(this.switchNs);
    await run('ip', ['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0']);
    await run('ip', ['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    for (const h of this.hosts.values()) {
      await this.addNamespace(h.ns);
      // The pair is made inside the switch namespace and one end moved to the host:
      // the machine's own namespace never sees either end.
      await run('ip', ['-n', this.switchNs, 'link', 'add', `p${h.index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
      await run('ip', ['-n', this.switchNs, 'link', 'set', `p${h.index}`, 'master', 'br0', 'up']);
      await this.sysctl(h.name, 'net.ipv6.conf.all.accept_dad', '0');
      await this.sysctl(h.name, 'net.ipv6.conf.default.accept_dad', '0');
      await run('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'address', h.mac]);
      await this.sysctl(h.name, 'net.ipv6.conf.eth0.accept_dad', '0');
      await run('ip', ['-n', h.ns, 'addr', 'add', `${h.ipv4}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', h.ns, 'addr', 'add', `${h.ipv6}/64`, 'dev', 'eth0', 'nodad']);
      await run('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up']);
    }
    // Wait until every host has its link-local address (no DAD, but the link must be up).
    for (const h of this.hosts.values()) {
      for (let i = 0; i < 100; i++) {
        const out = await run('ip', ['-n', h.ns, '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
        if (out.stdout.includes('fe80::') && !out.stdout.includes('tentative')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Sets a sysctl inside a host's namespace (never the machine's own). */
  async sysctl(host: string, key: string, value: string): Promise<void> {
    await run('ip', ['netns', 'exec', this.host(host).ns, 'sysctl', '-q', '-w', `${key}=${value}`]);
  }

  /** Runs a command inside a host's namespace and waits for it. */
  exec(host: string, cmd: string, args: readonly string[], allowFailure = false): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.host(host).ns, cmd, ...args], allowFailure);
  }

  /** Starts a long-running process inside a host's namespace; it is ended (by PID) on destroy. */
  spawn(host: string, cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.host(host).ns, cmd, ...args], { stdio: 'pipe', ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Sets the host's eth0 down or up (carrier loss as the daemon sees it). */
  async link(host: string, up: boolean): Promise<void> {
    await run('ip', ['-n', this.host(host).ns, 'link', 'set', 'eth0', up ? 'up' : 'down']);
  }

  /**
   * Cuts `host` off: everything in and out of its eth0 dropped (nftables netdev ingress
   * and egress: IP, ARP, packet sockets), which is a partition as the daemon sees it
   * (never `ip link set down`: docs/reference/quorum.md, "pain points"). Needs nft.
   */
  async cut(host: string): Promise<void> {
    await this.exec(host, 'nft', ['add', 'table', 'netdev', 'vigilcut']);
    await this.exec(host, 'nft', ['add', 'chain', 'netdev', 'vigilcut', 'in', '{ type filter hook ingress device eth0 priority 0 ; policy drop ; }']);
    await this.exec(host, 'nft', ['add', 'chain', 'netdev', 'vigilcut', 'out', '{ type filter hook egress device eth0 priority 0 ; policy drop ; }']);
  }

  /** Undoes cut(); nothing happens when `host` is not cut. */
  async heal(host: string): Promise<void> {
    await this.exec(host, 'nft', ['delete', 'table', 'netdev', 'vigilcut'], true);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await this.stopChildren();
    this.destroySync();
  }

  private async stopChildren(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const child of this.children) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            if (child.pid !== undefined) killPid(child.pid, 'SIGKILL');
            resolve();
          }, 3000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (child.pid !== undefined) killPid(child.pid, 'SIGTERM');
        }),
      );
    }
    await Promise.all(waits);
  }

  /** Synchronous teardown for exit handlers: kill our children, delete our namespaces. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const child of this.children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) killPid(child.pid, 'SIGKILL');
    }
    for (const ns of [...this.namespaces].reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
}

/**
 * `ip netns exec` execs the command in place, so the child's PID is the command's own.
 * Ends only that PID.
 */
function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already exited
  }
}

/** Builds a lab, runs `body`, and always tears the lab down. */
export async function withLab<T>(options: LabOptions, body: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.create(options);
  try {
    return await body(lab);
  } finally {
    await lab.destroy();
  }
}

/** Whether this process may build labs (root with iproute2); tests skip with a reason otherwise. */
export function labAvailable(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'the lab needs root (network namespaces)' };
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return { ok: false, reason: 'iproute2 (ip) is not installed' };
  }
  return { ok: true };
}

/**
 * Why a lab test or benchmark cannot run here (not root, no iproute2, the native addon
 * not built, one of `tools` not installed), or false when it can: the `skip` option of
 * every lab test.
 */
export function labSkipReason(tools: readonly string[] = []): string | false {
  const lab = labAvailable();
  if (!lab.ok) return lab.reason;
  try {
    native();
  } catch (e) {
    return errorText(e);
  }
  for (const tool of tools) {
    const found = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((dir) => {
      try {
        accessSync(`${dir}/${tool}`, fsConstants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) return `${tool} is not installed`;
  }
  return false;
}
