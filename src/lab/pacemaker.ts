/**
 * Real Pacemaker (Debian's pacemaker 2.1) on lab hosts, beside the lab's corosync
 * (src/lab/corosync.ts), one per network namespace, in a mount and UTS namespace of its
 * own. Why namespaces, not containers:
 *
 * - every Pacemaker daemon talks to corosync and to the others over libqb IPC, abstract
 *   Unix sockets, which belong to the network namespace: pacemakerd, its children and
 *   the CLI tools (`ip netns exec HOST crm_mon ...`) of a host reach only that host's
 *   cluster stack;
 * - what Pacemaker keeps on disk is per node, given in the private mount namespace:
 *   tmpfs on /run (pid files, /run/crm, the resource agents' state such as
 *   ocf:heartbeat:anything's pid file) and on /var/lib/pacemaker (the CIB, the
 *   scheduler's inputs), a directory of the lab's over /var/log/pacemaker (the log,
 *   readable after a failure), and /usr/lib/ocf/resource.d replaced by a tree with the
 *   host's heartbeat and pacemaker agents plus vigil's agent as vigil/vrrp (Pacemaker
 *   2.1 looks for agents only under its compiled-in OCF root);
 * - the host's vigil runtime directory is bound over /run/vigil, so the agent's default
 *   runtime_dir finds that host's daemon;
 * - its own hostname (UTS), the corosync node name, so every name Pacemaker uses agrees.
 * /dev/shm stays shared: libqb's ring buffers are named after the server's pid.
 *
 * pacemakerd is the spawned process (`unshare` and `sh -c exec` exec in place); it is
 * ended by its PID, and its children, which a killed pacemakerd leaves behind, by theirs
 * (the processes of the host's namespace that this helper started: pacemaker daemons
 * and the resources they ran).
 */
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { sleep } from './wait.js';
import { run, type Lab } from './netns.js';

/** The programs a killed pacemakerd leaves behind in its namespace (and the resources the lab runs under it). */
const STACK_COMMANDS = ['pacemakerd', 'pacemaker-based', 'pacemaker-fenced', 'pacemaker-execd', 'pacemaker-attrd', 'pacemaker-schedulerd', 'pacemaker-controld', 'haproxy'];

export interface PacemakerNodeOptions {
  /** The lab's directory (agents tree, logs). */
  readonly dir: string;
  /** The host's vigil runtime directory, bound over /run/vigil. */
  readonly vigilRuntimeDir: string;
}

export class PacemakerNode {
  private child: ChildProcess | undefined;
  private exited = true;
  output = '';

  constructor(
    readonly lab: Lab,
    readonly host: string,
    readonly options: PacemakerNodeOptions,
  ) {}

  get running(): boolean {
    return !this.exited;
  }

  /** The host's Pacemaker log (PCMK_logfile). */
  get logFile(): string {
    return path.join(this.options.dir, `log-${this.host}`, 'pacemaker.log');
  }

  start(): void {
    if (this.running) throw new Error(`pacemaker on ${this.host} is already running`);
    const d = this.options.dir;
    const logDir = path.join(d, `log-${this.host}`);
    mkdirSync(logDir, { recursive: true });
    chownSync(logDir, hacluster().uid, hacluster().gid);
    const script = [
      'set -e',
      `hostname '${this.host}'`,
      'mount -t tmpfs -o mode=755 tmpfs /run',
      'mkdir -p /run/crm /run/vigil /run/resource-agents',
      'chown hacluster:haclient /run/crm',
      `mount --bind '${this.options.vigilRuntimeDir}' /run/vigil`,
      'mount -t tmpfs -o mode=755 tmpfs /var/lib/pacemaker',
      'for x in cib pengine blackbox cores; do mkdir -m 750 /var/lib/pacemaker/$x; done',
      'chown -R hacluster:haclient /var/lib/pacemaker',
      `mount --bind '${logDir}' /var/log/pacemaker`,
      `mount --bind /usr/lib/ocf/resource.d/heartbeat '${d}/resource.d/heartbeat'`,
      `mount --bind /usr/lib/ocf/resource.d/pacemaker '${d}/resource.d/pacemaker'`,
      `mount --rbind '${d}/resource.d' /usr/lib/ocf/resource.d`,
      'exec pacemakerd -f',
    ].join('\n');
    const child = this.lab.spawn(this.host, 'unshare', ['-m', '-u', '--propagation', 'private', 'sh', '-c', script], {
      env: { ...process.env, PCMK_logfile: '/var/log/pacemaker/pacemaker.log', PCMK_logfacility: 'none', PCMK_debug: 'no' },
    });
    this.child = child;
    this.exited = false;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (x: string) => (this.output += x));
    child.stderr?.on('data', (x: string) => (this.output += x));
    child.once('exit', () => (this.exited = true));
  }

  /** The last lines of the host's Pacemaker log, for failure messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return this.output.trim().split('\n').slice(-lines).join('\n');
    }
  }

  /** The PIDs of the cluster stack's processes in this host's namespace (pacemakerd's children, the resources). */
  async stackPids(): Promise<number[]> {
    const r = await run('ip', ['netns', 'pids', this.lab.host(this.host).ns]);
    const pids: number[] = [];
    for (const line of r.stdout.split('\n')) {
      const pid = Number(line.trim());
      if (!Number.isInteger(pid) || pid <= 0) continue;
      try {
        if (STACK_COMMANDS.includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) pids.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  }

  /** Stops Pacemaker: SIGTERM to pacemakerd (it stops its resources and children), then SIGKILL to whatever is left. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const child = this.child;
    if (child?.pid !== undefined && this.running) {
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([done, sleep(timeoutMs)]);
    }
    for (const pid of await this.stackPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

let haclusterIds: { uid: number; gid: number } | undefined;

/** The hacluster user and haclient group (the pacemaker package creates them). */
function hacluster(): { uid: number; gid: number } {
  if (haclusterIds) return haclusterIds;
  const user = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'hacluster');
  const group = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'haclient');
  if (!user || !group) throw new Error('the hacluster user or haclient group is missing (apt-get install pacemaker)');
  haclusterIds = { uid: Number(user[2]), gid: Number(group[2]) };
  return haclusterIds;
}

/**
 * The lab's resource agent tree: empty heartbeat/ and pacemaker/ (the host's are bound
 * over them in each node's namespace) and vigil/vrrp, a copy of `agent`.
 */
export function agentTree(dir: string, agent: string): void {
  for (const x of ['heartbeat', 'pacemaker', 'vigil']) mkdirSync(path.join(dir, 'resource.d', x), { recursive: true });
  const target = path.join(dir, 'resource.d', 'vigil', 'vrrp');
  copyFileSync(agent, target);
  chmodSync(target, 0o755);
  chmodSync(dir, 0o755);
}

/** crm_mon's XML view, reduced to what the lab asserts: nodes online, the DC, each resource copy's role and node. */
export interface ClusterView {
  readonly online: string[];
  readonly dc: string | null;
  readonly resources: { readonly id: string; readonly role: string; readonly node: string | null; readonly failed: boolean }[];
}

/** `crm_mon --output-as=xml` on `host`, parsed with regular expressions (the lab has no XML parser; the shapes are fixed). */
export async function clusterView(lab: Lab, host: string): Promise<ClusterView> {
  const r = await lab.exec(host, 'crm_mon', ['-1', '--output-as=xml'], true);
  if (r.code !== 0) throw new Error(`crm_mon on ${host} (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim().slice(0, 300)}`);
  const xml = r.stdout;
  const attr = (tag: string, name: string): string | undefined => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1];
  const online = [...xml.matchAll(/<node name="[^"]*"[^>]*>/g)]
    .map((m) => m[0])
    .filter((t) => attr(t, 'online') === 'true')
    .map((t) => attr(t, 'name') as string);
  const dcTag = /<current_dc [^>]*>/.exec(xml)?.[0];
  const dc = dcTag && attr(dcTag, 'present') === 'true' ? (attr(dcTag, 'name') ?? null) : null;
  const resources: ClusterView['resources'][number][] = [];
  for (const m of xml.matchAll(/<resource id="[^"]*"[^>]*?(?:\/>|>\s*(?:<node name="([^"]*)"[^>]*\/>\s*)?<\/resource>)/g)) {
    const tag = m[0];
    resources.push({ id: attr(tag, 'id') as string, role: attr(tag, 'role') ?? '', node: m[1] ?? null, failed: attr(tag, 'failed') === 'true' });
  }
  return { online: online.sort(), dc, resources };
}

/** The nodes where copies of the resource `id` run in `role` (Promoted, Unpromoted, Started). */
export function nodesIn(view: ClusterView, id: string, role: string): string[] {
  return view.resources
    .filter((r) => r.id === id && r.role === role && r.node !== null)
    .map((r) => r.node as string)
    .sort();
}

/** The processes named `command` in `host`'s network namespace (e.g. the haproxy Pacemaker runs there). */
export async function pidsOf(lab: Lab, host: string, command: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', lab.host(host).ns]);
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((pid) => {
      if (!Number.isInteger(pid) || pid <= 0) return false;
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === command;
      } catch {
        return false;
      }
    });
}
