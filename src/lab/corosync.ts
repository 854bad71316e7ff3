/**
 * Real corosync 3 daemons (Debian's corosync package) on lab hosts, one per network
 * namespace, for quorum.provider corosync.
 *
 * Why namespaces, not containers: libqb's IPC (how libvotequorum and libcmap reach
 * corosync) is an abstract Unix socket, and abstract sockets belong to the network
 * namespace, so each host's vigil reaches exactly its own corosync. Everything else a
 * corosync needs is given per node: its own corosync.conf (`-c`), its own state_dir
 * (system.state_dir, for the ring id file), and a private mount namespace with a tmpfs on
 * /run for its pid file (/run/corosync.pid, which would otherwise be shared by all
 * nodes and refuse the second). /dev/shm stays shared: the IPC ring buffers are named
 * after the server's pid, and the client must see them. knet over the lab bridge, no
 * crypto (a test cluster on a private bridge), token times short enough for tests.
 *
 * Each corosync is ended by its own PID (`ip netns exec`, `unshare` and `sh -c exec`
 * all exec in place, so the spawned PID is corosync's).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { errorText } from '../base/error-text.js';
import { corosyncBinding } from '../native/corosync.js';
import { sleep } from './wait.js';
import { labSkipReason, run, type Lab } from './netns.js';

/**
 * Why a corosync lab cannot run here, or false: the lab's own reasons, then each of
 * `files` (programs and agents the test runs, named with the packages that bring them),
 * then vigil's corosync client addon.
 */
export function corosyncSkipReason(files: readonly string[] = [], packages = 'corosync'): string | false {
  const lab = labSkipReason();
  if (lab) return lab;
  for (const file of files) if (!existsSync(file)) return `${file} is not installed (apt-get install ${packages})`;
  try {
    corosyncBinding();
  } catch (e) {
    return errorText(e);
  }
  return false;
}

export interface CorosyncClusterOptions {
  /** Lab host names; node id = index + 1, name = host name, ring0_addr = the host's IPv4. */
  readonly hosts: readonly string[];
  /** totem.token in ms (default 500). Failure detection takes about token + consensus (1.2 × token). */
  readonly tokenMs?: number;
  /** quorum { } options, e.g. { wait_for_all: 1 }. */
  readonly quorum?: Readonly<Record<string, number | string>>;
}

export function corosyncConf(lab: Lab, dir: string, host: string, o: CorosyncClusterOptions): string {
  const token = o.tokenMs ?? 500;
  const lines = [
    'totem {',
    '  version: 2',
    '  cluster_name: vigillab',
    '  transport: knet',
    '  crypto_cipher: none',
    '  crypto_hash: none',
    `  token: ${token}`,
    // The default coefficient adds 650 ms per node above two: keep the timeout as given.
    '  token_coefficient: 0',
    '}',
    'logging {',
    '  to_stderr: yes',
    '  to_syslog: no',
    '  to_logfile: no',
    '  timestamp: hires',
    '}',
    'quorum {',
    '  provider: corosync_votequorum',
    ...Object.entries(o.quorum ?? {}).map(([k, v]) => `  ${k}: ${v}`),
    '}',
    'nodelist {',
    ...o.hosts.flatMap((h, i) => ['  node {', `    ring0_addr: ${lab.host(h).ipv4}`, `    name: ${h}`, `    nodeid: ${i + 1}`, '  }']),
    '}',
    'system {',
    `  state_dir: ${path.join(dir, `state-${host}`)}`,
    '}',
    '',
  ];
  return lines.join('\n');
}

export class CorosyncNode {
  private child: ChildProcess | undefined;
  log = '';
  private exited = true;

  constructor(
    readonly lab: Lab,
    readonly host: string,
    readonly confPath: string,
  ) {}

  get running(): boolean {
    return !this.exited;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.running) throw new Error(`corosync on ${this.host} is already running`);
    const script = `mount -t tmpfs tmpfs /run && exec corosync -f -c '${this.confPath}'`;
    const child = this.lab.spawn(this.host, 'unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]);
    this.child = child;
    this.exited = false;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => (this.log += d));
    child.stderr?.on('data', (d: string) => (this.log += d));
    child.once('exit', () => {
      this.exited = true;
      removeShm(child.pid);
    });
  }

  /** Waits until corosync answers on its IPC (corosync-quorumtool in the node's namespace). */
  async waitReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`corosync on ${this.host} exited: ${this.log.trim().split('\n').slice(-5).join(' | ')}`);
      const r = await this.lab.exec(this.host, 'corosync-quorumtool', ['-p'], true);
      // 0 quorate, 2 not quorate (waiting): both mean corosync answers.
      if (r.code === 0 || r.code === 2) return;
      if (Date.now() > deadline) throw new Error(`corosync on ${this.host} not answering after ${timeoutMs} ms: ${r.stderr.trim()}; log: ${this.log.trim().split('\n').slice(-5).join(' | ')}`);
      await sleep(100);
    }
  }

  /** Ends corosync by its PID; SIGKILL (a crash) or SIGTERM (a clean leave), and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running || child.pid === undefined) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, signal);
    const timer = sleep(timeoutMs).then(() => {
      if (this.running && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    });
    await Promise.race([done, timer]);
    await done;
  }
}

/** corosync's IPC ring buffers in /dev/shm are named after its PID; a killed corosync leaves them behind. */
function removeShm(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    for (const f of readdirSync('/dev/shm')) if (f.startsWith('qb-') && f.includes(`-${pid}-`)) rmSync(path.join('/dev/shm', f), { recursive: true, force: true });
  } catch {
    // nothing to tidy
  }
}

export class CorosyncCluster {
  readonly nodes = new Map<string, CorosyncNode>();

  private constructor(
    readonly lab: Lab,
    readonly dir: string,
  ) {}

  /** Writes every node's config; starts none (`start`). */
  static create(lab: Lab, options: CorosyncClusterOptions): CorosyncCluster {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-corosync-'));
    const cluster = new CorosyncCluster(lab, dir);
    for (const h of options.hosts) {
      mkdirSync(path.join(dir, `state-${h}`));
      const conf = path.join(dir, `corosync-${h}.conf`);
      writeFileSync(conf, corosyncConf(lab, dir, h, options));
      cluster.nodes.set(h, new CorosyncNode(lab, h, conf));
    }
    return cluster;
  }

  node(host: string): CorosyncNode {
    const n = this.nodes.get(host);
    if (!n) throw new Error(`no corosync node ${host}`);
    return n;
  }

  async start(hosts: readonly string[] = [...this.nodes.keys()]): Promise<void> {
    for (const h of hosts) this.node(h).start();
    await Promise.all(hosts.map((h) => this.node(h).waitReady()));
  }

  /** Stops every corosync (SIGTERM) and removes the configs and state. */
  async destroy(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop('SIGTERM').catch(() => undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A partition on the lab bridge: frames between `sideA` and `sideB` are dropped in the
 * switch namespace (nftables bridge family, forward hook: per output port, so floods and
 * multicast are cut too); each side still talks within itself.
 */
export async function partition(lab: Lab, sideA: readonly string[], sideB: readonly string[]): Promise<void> {
  const ports = (hosts: readonly string[]): string => `{ ${hosts.map((h) => `"p${lab.host(h).index}"`).join(', ')} }`;
  const nft = (args: string): Promise<unknown> => run('ip', ['netns', 'exec', lab.switchNs, 'nft', args]);
  await nft('add table bridge vigilpart');
  await nft('add chain bridge vigilpart cut { type filter hook forward priority 0 ; policy accept ; }');
  await nft(`add rule bridge vigilpart cut iifname ${ports(sideA)} oifname ${ports(sideB)} drop`);
  await nft(`add rule bridge vigilpart cut iifname ${ports(sideB)} oifname ${ports(sideA)} drop`);
}

export async function healPartition(lab: Lab): Promise<void> {
  await run('ip', ['netns', 'exec', lab.switchNs, 'nft', 'delete table bridge vigilpart']);
}
