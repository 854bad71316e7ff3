/**
 * A pristine Debian 13 booted with systemd as PID 1 under systemd-nspawn, for the install
 * test of the packages (test/packaging-systemd.test.ts). The host needs no systemd.
 *
 * - The root comes from scripts/debian-root.sh (debootstrap --variant=minbase with
 *   systemd, systemd-sysv and dbus, cached per day) and is copied, so the cache stays
 *   pristine.
 * - `nspawnRun` runs a command in it without booting, on the host's network: that is
 *   how apt inside reaches Debian's mirror, as the host does. Services are kept from
 *   starting there (policy-rc.d), so nothing listens on the host's network.
 * - `boot` boots it inside a lab network namespace (src/lab/netns.ts: addresses only in
 *   10.213.0.0/16, a per-run name, deleted afterwards): the container's network is that
 *   namespace and nothing else, with CAP_NET_ADMIN inside it (nspawn drops it unless the
 *   network is private; it is, but nspawn does not see it so with a namespace path).
 *   Commands run inside through nsenter on the container's PID 1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type ExecResult } from '../../src/lab/netns.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Why containers cannot run here, or false. */
export function containerSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'booting a container needs root';
  for (const tool of ['systemd-nspawn', 'debootstrap', 'nsenter', 'dpkg-deb', 'ip', 'curl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/setup test installs it)`;
  }
  if (!existsSync(path.join(REPO, 'build', 'Release', 'vigil_native.node'))) return 'the native addon is not built';
  return false;
}

/** The cached pristine root (made on first use of the day), or why there is none. */
export async function debianRoot(suite = 'trixie'): Promise<{ root: string } | { error: string }> {
  const r = await run('bash', [path.join(REPO, 'scripts', 'debian-root.sh'), suite], true);
  if (r.code !== 0) return { error: `scripts/debian-root.sh ${suite} failed: ${r.stderr.trim().split('\n').slice(-5).join(' / ')}` };
  return { root: r.stdout.trim() };
}

/** Runs `script` with sh in `root`, not booted, on the host's network (for apt). */
export function nspawnRun(root: string, script: string, allowFailure = false): Promise<ExecResult> {
  const env = ['http_proxy', 'https_proxy', 'no_proxy'].flatMap((k) => (process.env[k] ? [`--setenv=${k}=${process.env[k]}`] : []));
  return run('systemd-nspawn', ['-q', '--pipe', '-D', root, '--register=no', '--keep-unit', '--setenv=DEBIAN_FRONTEND=noninteractive', ...env, 'sh', '-c', script], allowFailure);
}

export class Container {
  private log = '';
  private exited = false;

  private constructor(
    readonly name: string,
    private readonly nspawn: ChildProcess,
    /** The container's PID 1 (systemd), as the host sees it. */
    readonly leader: number,
  ) {}

  /** Boots `root` in the network namespace at `netnsPath`; resolves once systemd runs, or rejects with the boot log. */
  static async boot(root: string, name: string, netnsPath: string, timeoutMs = 90_000): Promise<Container> {
    const child = spawn(
      'systemd-nspawn',
      ['-D', root, '-M', name, '--register=no', '--keep-unit', '-b', `--network-namespace-path=${netnsPath}`, '--capability=CAP_NET_ADMIN'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SYSTEMD_COLORS: '0' } },
    );
    let log = '';
    let exited = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    child.once('exit', () => (exited = true));
    const kill = (): void => void child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.removeListener('exit', kill));
    const deadline = Date.now() + timeoutMs;
    let leader = 0;
    let state = '';
    while (Date.now() < deadline && !exited) {
      if (leader === 0 && child.pid !== undefined) {
        const kids = await run('pgrep', ['-P', String(child.pid)], true);
        const pid = Number(kids.stdout.trim().split('\n')[0]);
        if (pid > 0) leader = pid;
      }
      if (leader !== 0) {
        const r = await run('nsenter', ['-t', String(leader), '-a', 'env', '-i', PATH, 'systemctl', 'is-system-running'], true);
        state = r.stdout.trim();
        if (state === 'running' || state === 'degraded') {
          const c = new Container(name, child, leader);
          c.log = log;
          child.stdout.on('data', (d: string) => (c.log += d));
          child.stderr.on('data', (d: string) => (c.log += d));
          child.once('exit', () => (c.exited = true));
          return c;
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    child.kill('SIGKILL');
    throw new Error(`the container did not boot within ${timeoutMs} ms (exited: ${exited}, state: "${state}"); the end of its console:\n${log.split('\n').slice(-15).join('\n')}`);
  }

  /** Runs `cmd` inside (all namespaces of PID 1), with a clean environment. */
  exec(cmd: string, args: readonly string[] = [], allowFailure = false): Promise<ExecResult> {
    return run('nsenter', ['-t', String(this.leader), '-a', 'env', '-i', PATH, 'LANG=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive', cmd, ...args], allowFailure);
  }

  sh(script: string, allowFailure = false): Promise<ExecResult> {
    return this.exec('sh', ['-c', script], allowFailure);
  }

  /** `systemctl show -p KEY --value UNIT`. */
  async show(unit: string, key: string): Promise<string> {
    return (await this.exec('systemctl', ['show', '-p', key, '--value', unit])).stdout.trim();
  }

  /** Powers it off (SIGTERM to nspawn: a clean shutdown), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.nspawn.once('exit', () => resolve()));
    this.nspawn.kill('SIGTERM');
    const timer = setTimeout(() => this.nspawn.kill('SIGKILL'), timeoutMs);
    await done;
    clearTimeout(timer);
  }

  get console(): string {
    return this.log;
  }
}
