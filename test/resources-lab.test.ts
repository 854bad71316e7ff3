/**
 * The resource manager in the lab, Pacemaker's CTS scenarios in small: real `vigil run`
 * daemons with haproxy (exec), nginx backends in namespaces of their own, an HTTP client
 * in another, health checks, node standby, maintenance with a daemon restart (Reattach)
 * and an OCF agent from resource-agents.
 *
 * After every step an audit: no master-placed resource is active on two nodes, every group
 * is on one node (both daemons' resource status, the supervised processes' PIDs, the VIP's
 * holders).
 *
 * Cleanup: the lab ends the processes it spawned by PID; haproxy (detached by vigil's exec
 * agent) is stopped by vigil, and whatever is left is ended by the PID in its pid file.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, chmodSync, constants as fsConstants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { labSkipReason, withLab, type Lab } from '../src/lab/netns.js';
import { VIGIL_MAIN, VigilProcess, holders, waitHolders } from '../src/lab/vigil.js';
import { bodies, errorWindow, startHttpLoop, startNginx, writeHaproxyConfig, type NginxBackend } from '../src/lab/web.js';
import { controlRequest } from '../src/daemon/control.js';
import type { ResourceServiceStatus } from '../src/daemon/resource-service.js';
import { sleep, until } from '../src/lab/wait.js';
import { procRunning } from '../src/lab/proc.js';

const execFileAsync = promisify(execFile);

const VIP = '10.213.0.100';
const OCF_ROOT = '/usr/lib/ocf';
const TEST_TIMEOUT = 60_000;

const baseSkip = labSkipReason();

function executable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The skip reason for a test needing these programs (absolute paths). */
function needs(...files: string[]): string | false {
  if (baseSkip) return baseSkip;
  for (const f of files) if (!executable(f)) return `${f} is not installed`;
  return false;
}
const HAPROXY = '/usr/sbin/haproxy';
const NGINX = '/usr/sbin/nginx';
const IPADDR2 = `${OCF_ROOT}/resource.d/heartbeat/IPaddr2`;

/** One vigil node of a test: its host, state directory (kept across daemon restarts) and daemon. */
interface Node {
  readonly host: string;
  readonly stateDir: string;
  p: VigilProcess;
}

interface NodeConfig {
  readonly stateDir: string;
  readonly priority: number;
  /** YAML of the `resources`, `groups` and `health_checks` sections (top level, may be empty). */
  readonly sections: string;
}

function nodeYaml(c: NodeConfig): string {
  return [
    'global:',
    `  state_dir: ${c.stateDir}`,
    '  nonlocal_bind: true',
    'instances:',
    '  - name: gw',
    '    interface: eth0',
    '    vrid: 51',
    `    priority: ${c.priority}`,
    '    advert_interval: 100ms',
    `    virtual_ips: [${VIP}/24]`,
    c.sections.replace(/\n$/, ''),
    '',
  ].join('\n');
}

/** The haproxy exec resource (in group `lb` on the master unless `everywhere`). */
function haproxySections(cfg: string, options: { readonly everywhere?: boolean; readonly threshold?: number; readonly extra?: string } = {}): string {
  return [
    'resources:',
    '  - name: haproxy',
    '    type: exec',
    `    command: [${HAPROXY}, -db, -f, ${cfg}]`,
    '    monitor_interval: 200ms',
    '    stop_timeout: 3s',
    ...(options.threshold !== undefined ? [`    migration_threshold: ${options.threshold}`] : []),
    ...(options.everywhere ? ['    runs_on: everywhere'] : ['groups:', '  - name: lb', '    resources: [haproxy]', '    runs_on: { master: gw }']),
    options.extra ?? '',
  ].join('\n');
}

async function resourceStatus(p: VigilProcess): Promise<ResourceServiceStatus> {
  const r = await controlRequest(p.runtimeDir, { command: 'resource-status' });
  if (!r.ok) throw new Error(`resource status from ${p.host}: ${r.error}`);
  return r.result as ResourceServiceStatus;
}

/** `vigil ARGS --runtime-dir DIR` (the CLI, as an operator runs it); resolves to stdout. */
async function cli(p: VigilProcess, ...args: string[]): Promise<string> {
  const r = await execFileAsync(process.execPath, [VIGIL_MAIN, ...args, '--runtime-dir', p.runtimeDir], { encoding: 'utf8' });
  return r.stdout;
}

/** The PID in an exec resource's pid file, when that process is alive (not a zombie). */
function execPid(stateDir: string, resource: string): number | undefined {
  const file = path.join(stateDir, 'exec', `${resource}.pid`);
  let pid: number;
  try {
    pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
  return procRunning(pid) ? pid : undefined;
}

/** Ends (by the PIDs in their pid files) exec resources a failed test left behind. */
function killLeftovers(nodes: readonly Node[]): void {
  for (const n of nodes) {
    const dir = path.join(n.stateDir, 'exec');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.pid'))) {
      const pid = execPid(n.stateDir, f.slice(0, -4));
      if (pid === undefined) continue;
      try {
        process.kill(-pid, 'SIGKILL'); // vigil made it the leader of its own group
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }
}

async function stopNodes(nodes: readonly Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.p.stop().catch(() => undefined)));
  killLeftovers(nodes);
  for (const n of nodes) rmSync(n.stateDir, { recursive: true, force: true });
}

function tempDir(stem: string): string {
  return mkdtempSync(path.join(tmpdir(), `vigil-${stem}-`));
}

const ACTIVE = new Set(['started', 'starting', 'stopping']);

/**
 * The invariants: every resource of a master-placed group is active (status and, for exec,
 * a live PID) on at most one node, every group runs on at most one node, that node holds
 * the VIP, and the VIP is on at most one node. Polled until it holds with no operation in
 * flight (an audit between steps, once things settled), or throws what it saw.
 */
async function audit(t: TestContext, lab: Lab, nodes: readonly Node[], step: string, expect?: { readonly groupOn?: string | null }): Promise<void> {
  let last = '';
  const check = async (): Promise<boolean> => {
    const problems: string[] = [];
    const statuses = await Promise.all(nodes.map(async (n) => ({ n, s: n.p.exited ? undefined : await resourceStatus(n.p) })));
    const vipOn = await holders(lab, nodes.map((n) => n.host), VIP);
    if (vipOn.length > 1) problems.push(`VIP on ${vipOn.join(', ')}`);
    const groups = new Map<string, string[]>();
    const resources = new Map<string, string[]>();
    let settled = true;
    for (const { n, s } of statuses) {
      if (!s) continue;
      for (const g of s.groups) {
        if (g.placement.kind === 'everywhere') continue;
        if (g.running.length > 0) groups.set(g.name, [...(groups.get(g.name) ?? []), n.host]);
        for (const m of g.members) {
          const r = s.resources.find((x) => x.name === m);
          if (!r) continue;
          if (r.inFlight) settled = false;
          const pid = execPid(n.stateDir, m);
          if (ACTIVE.has(r.state) || pid !== undefined) resources.set(m, [...(resources.get(m) ?? []), `${n.host}(${r.state}${pid !== undefined ? ` pid ${pid}` : ''})`]);
        }
      }
    }
    for (const [g, on] of groups) {
      if (on.length > 1) problems.push(`group ${g} on ${on.join(', ')}`);
      else if (on[0] !== undefined && !vipOn.includes(on[0])) problems.push(`group ${g} on ${on[0]} but the VIP on [${vipOn.join(', ')}]`);
    }
    for (const [r, on] of resources) if (on.length > 1) problems.push(`resource ${r} active on ${on.join(', ')}`);
    if (expect?.groupOn !== undefined) {
      const on = [...groups.values()].flat();
      if (expect.groupOn === null ? on.length > 0 : on.join() !== expect.groupOn) problems.push(`groups on [${on.join(', ')}], expected ${expect.groupOn ?? 'none'}`);
    }
    last = `${problems.join('; ') || 'ok'}; groups ${JSON.stringify(Object.fromEntries(groups))}, resources ${JSON.stringify(Object.fromEntries(resources))}, VIP on [${vipOn.join(', ')}]`;
    return problems.length === 0 && settled;
  };
  await until(check, () => `audit after ${step}: ${last}`, 8000, 100);
  t.diagnostic(`audit after ${step}: ${last}`);
}

async function waitResource(p: VigilProcess, name: string, pred: (r: ResourceServiceStatus['resources'][number]) => boolean, what: string, timeoutMs = 10_000): Promise<ResourceServiceStatus['resources'][number]> {
  let seen = '';
  let found: ResourceServiceStatus['resources'][number] | undefined;
  await until(
    async () => {
      const r = (await resourceStatus(p)).resources.find((x) => x.name === name);
      seen = JSON.stringify(r);
      if (r && pred(r)) found = r;
      return found !== undefined;
    },
    () => `${p.host}: ${name} ${what}; last ${seen}`,
    timeoutMs,
  );
  if (!found) throw new Error('unreachable');
  return found;
}

/** Starts both daemons together and waits until `a` is master with its VIP. */
async function startPair(lab: Lab, sections: (host: string, stateDir: string) => string): Promise<Node[]> {
  const specs = [
    ['a', 200],
    ['b', 100],
  ] as const;
  const nodes: Node[] = [];
  try {
    for (const [host] of specs) nodes.push({ host, stateDir: tempDir(`state-${host}`), p: undefined as unknown as VigilProcess });
    const ps = await Promise.all(specs.map(([host, priority], i) => VigilProcess.start(lab, host, nodeYaml({ stateDir: nodes[i]!.stateDir, priority, sections: sections(host, nodes[i]!.stateDir) }))));
    ps.forEach((p, i) => (nodes[i]!.p = p));
    await nodes[0]!.p.waitState('gw', 'master', 10_000);
    await waitHolders(lab, ['a', 'b'], VIP, ['a']);
    return nodes;
  } catch (e) {
    await stopNodes(nodes.filter((n) => n.p !== undefined));
    throw e;
  }
}

const LAB_HOSTS = ['a', 'b', 'web1', 'web2', 'client'];

/** nginx on web1 and web2 (10.213.0.3, 10.213.0.4). */
async function backends(lab: Lab): Promise<NginxBackend[]> {
  return Promise.all([startNginx(lab, 'web1'), startNginx(lab, 'web2')]);
}

function haproxyCfg(stateDir: string, bes: readonly NginxBackend[]): string {
  return writeHaproxyConfig({ dir: stateDir, vip: VIP, backends: bes.map((b) => b.address) });
}

test('HTTP through haproxy (exec, everywhere) on the VIP keeps being answered across a VRRP failover and failback', { timeout: TEST_TIMEOUT, skip: needs(HAPROXY, NGINX) }, async (t) => {
  await withLab({ hosts: LAB_HOSTS }, async (lab) => {
    const bes = await backends(lab);
    const nodes = await startPair(lab, (_h, dir) => haproxySections(haproxyCfg(dir, bes), { everywhere: true }));
    const [a, b] = nodes as [Node, Node];
    try {
      // haproxy runs on both nodes (bound to the VIP by ip_nonlocal_bind, present or not).
      for (const n of nodes) await waitResource(n.p, 'haproxy', (r) => r.state === 'started', 'started');
      await until(() => execPid(a.stateDir, 'haproxy') !== undefined && execPid(b.stateDir, 'haproxy') !== undefined, () => 'haproxy pids on both');
      await audit(t, lab, nodes, 'start');

      const url = `http://${VIP}/`;
      const failover = startHttpLoop(lab, 'client', { url, everyMs: 20, durationMs: 4000, timeoutMs: 300 });
      await sleep(1000);
      const from = b.p.events.length;
      await lab.link('a', false); // the master's link is cut
      await b.p.waitState('gw', 'master', 5000, from);
      const results = await failover.done;
      const w = errorWindow(results);
      t.diagnostic(`failover (link of the master cut): error window ${w.ms} ms (${w.failures} failed in a row), ${w.totalFailures}/${w.total} failed; served by ${JSON.stringify(Object.fromEntries(bodies(results)))}`);
      assert.ok(results.length > 100, `only ${results.length} requests`);
      assert.ok(w.ms < 2000, `error window ${w.ms} ms`);
      assert.ok(results.slice(-20).every((r) => r.ok), 'the last requests were answered');
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      await audit(t, lab, nodes, 'failover');

      // Failback: the link comes back, a preempts.
      const failback = startHttpLoop(lab, 'client', { url, everyMs: 20, durationMs: 3000, timeoutMs: 300 });
      await sleep(500);
      const fromA = a.p.events.length;
      await lab.link('a', true);
      await a.p.waitState('gw', 'master', 8000, fromA);
      const back = await failback.done;
      const wb = errorWindow(back);
      t.diagnostic(`failback (preempt): error window ${wb.ms} ms, ${wb.totalFailures}/${wb.total} failed`);
      assert.ok(wb.ms < 2000, `failback error window ${wb.ms} ms`);
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await audit(t, lab, nodes, 'failback');
    } finally {
      await stopNodes(nodes);
      await Promise.all(bes.map((x) => x.stop()));
    }
  });
});

test('haproxy in a group on the master: killed, restarted in place twice, banned at migration_threshold 3 (the group and VIP move), cleanup lifts the ban', { timeout: TEST_TIMEOUT, skip: needs(HAPROXY, NGINX) }, async (t) => {
  await withLab({ hosts: LAB_HOSTS }, async (lab) => {
    const bes = await backends(lab);
    const nodes = await startPair(lab, (_h, dir) => haproxySections(haproxyCfg(dir, bes), { threshold: 3 }));
    const [a, b] = nodes as [Node, Node];
    try {
      await waitResource(a.p, 'haproxy', (r) => r.state === 'started', 'started');
      await audit(t, lab, nodes, 'start', { groupOn: 'a' });
      const r0 = await lab.exec('client', 'curl', ['-sS', '-m', '2', `http://${VIP}/`]);
      assert.match(r0.stdout, /backend web/);

      for (const count of [1, 2]) {
        const pid = execPid(a.stateDir, 'haproxy');
        assert.ok(pid !== undefined, 'haproxy pid');
        const from = a.p.events.length;
        process.kill(pid, 'SIGKILL');
        const r = await waitResource(a.p, 'haproxy', (x) => x.failCount === count && x.state === 'started', `fail count ${count}, started again`);
        assert.equal(r.banned, false);
        const ops = a.p.events.slice(from).filter((e) => e.event === 'resource-op' && e['resource'] === 'haproxy').map((e) => e['op']);
        assert.deepEqual(ops, ['stop', 'start'], `a restart in place (stop, start): ${a.p.logText()}`);
        const newPid = execPid(a.stateDir, 'haproxy');
        assert.ok(newPid !== undefined && newPid !== pid, 'a new haproxy process');
        assert.doesNotMatch(r.lastFailure?.detail ?? '', /--- vigil/, "the failure names the process's own output, not vigil's log marker");
        t.diagnostic(`kill ${count}: pid ${pid} -> ${newPid}, fail count ${r.failCount}/${r.migrationThreshold}; ${r.lastFailure?.detail ?? ''}`);
        await audit(t, lab, nodes, `kill ${count}`, { groupOn: 'a' });
      }

      // The third failure reaches the threshold: banned here, gw FAULT, the peer takes over.
      const from = a.p.events.length;
      const fromB = b.p.events.length;
      process.kill(execPid(a.stateDir, 'haproxy') ?? -1, 'SIGKILL');
      await a.p.waitFor((e) => e.event === 'group-banned' && e['group'] === 'lb', 'group-banned', 5000, from);
      await a.p.waitState('gw', 'fault', 5000, from);
      await b.p.waitState('gw', 'master', 5000, fromB);
      await waitResource(b.p, 'haproxy', (r) => r.state === 'started', 'started on the peer');
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      const banned = (await resourceStatus(a.p)).resources.find((r) => r.name === 'haproxy');
      assert.equal(banned?.failCount, 3);
      assert.equal(banned?.banned, true);
      await audit(t, lab, nodes, 'ban', { groupOn: 'b' });
      const r1 = await lab.exec('client', 'curl', ['-sS', '-m', '2', `http://${VIP}/`]);
      assert.match(r1.stdout, /backend web/);

      // Cleanup: the count is reset, the ban lifted; a (priority 200) preempts and takes the group back.
      const fromC = a.p.events.length;
      await cli(a.p, 'resource', 'cleanup', 'haproxy');
      await a.p.waitFor((e) => e.event === 'group-unbanned' && e['group'] === 'lb', 'group-unbanned', 5000, fromC);
      const cleaned = await waitResource(a.p, 'haproxy', (r) => r.failCount === 0 && !r.banned, 'fail count 0, not banned');
      assert.equal(cleaned.lastFailure, null);
      await a.p.waitState('gw', 'master', 8000, fromC);
      await waitResource(a.p, 'haproxy', (r) => r.state === 'started', 'started again on a');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await audit(t, lab, nodes, 'cleanup', { groupOn: 'a' });
    } finally {
      await stopNodes(nodes);
      await Promise.all(bes.map((x) => x.stop()));
    }
  });
});

test('a dead backend: the http health check of the master fails, its priority drops by the weight, the peer takes over (and back on recovery)', { timeout: TEST_TIMEOUT, skip: needs(HAPROXY, NGINX) }, async (t) => {
  await withLab({ hosts: LAB_HOSTS }, async (lab) => {
    let bes = await backends(lab);
    // Each node checks a backend of its own: a web1, b web2; only a's will fail.
    const checked = { a: '10.213.0.3', b: '10.213.0.4' } as const;
    const check = (host: string): string =>
      [
        'health_checks:',
        '  - name: backend',
        '    type: http',
        `    url: http://${host === 'a' ? checked.a : checked.b}/`,
        '    interval: 200ms',
        '    timeout: 300ms',
        '    fall: 2',
        '    rise: 2',
        '    weight: -150',
        '    instances: [gw]',
      ].join('\n');
    const nodes = await startPair(lab, (host, dir) => haproxySections(haproxyCfg(dir, bes), { extra: check(host) }));
    const [a, b] = nodes as [Node, Node];
    try {
      await waitResource(a.p, 'haproxy', (r) => r.state === 'started', 'started');
      await until(async () => (await resourceStatus(a.p)).healthChecks[0]?.state === 'healthy', () => 'check healthy on a');
      assert.equal((await a.p.instance('gw')).effectivePriority, 200);
      await audit(t, lab, nodes, 'start', { groupOn: 'a' });

      const from = a.p.events.length;
      const fromB = b.p.events.length;
      const web1 = bes[0]!;
      web1.kill();
      const ev = await a.p.waitFor((e) => e.event === 'health-check' && e['to'] === 'unhealthy', 'check unhealthy', 5000, from);
      t.diagnostic(`a's check: ${String(ev['reason'])}`);
      await until(async () => (await a.p.instance('gw')).effectivePriority === 50, () => 'priority 200 - 150');
      await b.p.waitState('gw', 'master', 5000, fromB);
      await a.p.waitState('gw', 'backup', 5000, from);
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      await waitResource(b.p, 'haproxy', (r) => r.state === 'started', 'started on b');
      assert.equal((await resourceStatus(b.p)).healthChecks[0]?.state, 'healthy', "b's check (web2) stays healthy");
      await audit(t, lab, nodes, 'backend down', { groupOn: 'b' });
      // The service stays up through web2.
      const r = await lab.exec('client', 'curl', ['-sS', '-m', '2', `http://${VIP}/`]);
      assert.equal(r.stdout, 'backend web2\n');

      // web1 back: a is healthy again (after rise 2), priority 200, preempts.
      await web1.stop();
      const fromA = a.p.events.length;
      const again = await startNginx(lab, 'web1');
      bes = [again, bes[1]!];
      await a.p.waitFor((e) => e.event === 'health-check' && e['to'] === 'healthy', 'check healthy again', 5000, fromA);
      await a.p.waitState('gw', 'master', 5000, fromA);
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await audit(t, lab, nodes, 'backend back', { groupOn: 'a' });
    } finally {
      await stopNodes(nodes);
      await Promise.all(bes.map((x) => x.stop()));
    }
  });
});

test('a hung health script times out and counts as a failure; recovery needs rise successes', { timeout: TEST_TIMEOUT, skip: needs('/bin/sh', '/bin/sleep') }, async (t) => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    // Root-owned, mode 0755, in a directory (0700, root) nobody else can write.
    const dir = tempDir('check');
    chmodSync(dir, 0o700);
    const modeFile = path.join(dir, 'mode');
    const pidFile = path.join(dir, 'pid');
    const script = path.join(dir, 'check.sh');
    writeFileSync(modeFile, 'ok\n');
    writeFileSync(
      script,
      ['#!/bin/sh', `echo $$ > ${pidFile}`, `case "$(cat ${modeFile})" in`, '  hang) sleep 30 ;;', '  fail) exit 1 ;;', 'esac', 'exit 0', ''].join('\n'),
      { mode: 0o755 },
    );
    chmodSync(script, 0o755);
    const stateDir = tempDir('state-a');
    const sections = [
      'health_checks:',
      '  - name: script',
      '    type: script',
      `    script: [${script}]`,
      '    interval: 400ms',
      '    timeout: 300ms',
      '    rise: 2',
      '    fall: 1',
      '    weight: 0',
      '    instances: [gw]',
    ].join('\n');
    const node: Node = { host: 'a', stateDir, p: await VigilProcess.start(lab, 'a', nodeYaml({ stateDir, priority: 200, sections })) };
    const hung: number[] = [];
    try {
      await node.p.waitState('gw', 'master', 10_000);
      await until(async () => (await resourceStatus(node.p)).healthChecks[0]?.state === 'healthy', () => 'check healthy');

      const from = node.p.events.length;
      writeFileSync(modeFile, 'hang\n');
      const ev = await node.p.waitFor((e) => e.event === 'health-check' && e['to'] === 'unhealthy', 'check unhealthy', 5000, from);
      await node.p.waitState('gw', 'fault', 3000, from);
      const s = (await resourceStatus(node.p)).healthChecks[0];
      t.diagnostic(`hung script: ${String(ev['reason'])}; last result ${JSON.stringify(s?.lastResult)}`);
      assert.equal(s?.lastResult?.ok, false);
      assert.match(`${String(ev['reason'])} ${s?.lastResult?.detail ?? ''}`, /tim(ed|e) ?out/i);
      // The hung run was ended (its process group is gone), not left sleeping.
      const shell = Number(readFileSync(pidFile, 'utf8').trim());
      hung.push(shell);
      await until(() => !groupAlive(shell), () => `the hung script's process group ${shell} is still alive`, 3000);

      // Recovery: healthy only after `rise` (2) successes in a row.
      writeFileSync(modeFile, 'ok\n');
      let sawOneSuccessStillUnhealthy = false;
      await until(
        async () => {
          const c = (await resourceStatus(node.p)).healthChecks[0];
          if (c?.state !== 'healthy' && c?.lastResult?.ok === true) sawOneSuccessStillUnhealthy = true;
          return c?.state === 'healthy';
        },
        () => 'check healthy again',
        5000,
        25,
      );
      assert.ok(sawOneSuccessStillUnhealthy, 'one success alone did not make it healthy (rise 2)');
      await node.p.waitState('gw', 'master', 3000, from);
      t.diagnostic('recovered after rise 2');
    } finally {
      await node.p.stop();
      for (const g of hung) if (groupAlive(g)) process.kill(-g, 'SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Whether any live process has process group `pgid`. */
function groupAlive(pgid: number): boolean {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') return true;
    } catch {
      // gone
    }
  }
  return false;
}

test('node standby moves everything to the peer and online brings it back; maintenance survives a daemon restart without bouncing haproxy', { timeout: TEST_TIMEOUT, skip: needs(HAPROXY, NGINX) }, async (t) => {
  await withLab({ hosts: LAB_HOSTS }, async (lab) => {
    const bes = await backends(lab);
    const sectionsOf = new Map<string, string>();
    const nodes = await startPair(lab, (host, dir) => {
      const s = haproxySections(haproxyCfg(dir, bes));
      sectionsOf.set(host, s);
      return s;
    });
    const [a, b] = nodes as [Node, Node];
    try {
      await waitResource(a.p, 'haproxy', (r) => r.state === 'started', 'started');
      await audit(t, lab, nodes, 'start', { groupOn: 'a' });

      // Standby: every instance FAULT, every resource stopped here; b takes over.
      let from = a.p.events.length;
      let fromB = b.p.events.length;
      await cli(a.p, 'node', 'standby');
      await a.p.waitState('gw', 'fault', 5000, from);
      await b.p.waitState('gw', 'master', 5000, fromB);
      await waitResource(a.p, 'haproxy', (r) => r.state === 'stopped', 'stopped on a');
      await waitResource(b.p, 'haproxy', (r) => r.state === 'started', 'started on b');
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      assert.equal((await resourceStatus(a.p)).node.standby, true);
      assert.match(await cli(a.p, 'resource', 'status'), /standby/);
      await audit(t, lab, nodes, 'standby', { groupOn: 'b' });

      // Online: a preempts and takes the group back.
      from = a.p.events.length;
      await cli(a.p, 'node', 'online');
      await a.p.waitState('gw', 'master', 5000, from);
      await waitResource(a.p, 'haproxy', (r) => r.state === 'started', 'started on a again');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await audit(t, lab, nodes, 'online', { groupOn: 'a' });

      // Maintenance (cluster-wide, as Pacemaker's maintenance-mode: both nodes), then a's daemon restarts.
      await Promise.all(nodes.map((n) => cli(n.p, 'maintenance', 'on')));
      const pid = execPid(a.stateDir, 'haproxy');
      assert.ok(pid !== undefined, 'haproxy pid');
      fromB = b.p.events.length;
      await a.p.stop(); // SIGTERM (and removes its runtime directory; the state directory stays)
      assert.equal(a.p.child.exitCode, 0, 'a clean exit on SIGTERM');
      assert.equal(execPid(a.stateDir, 'haproxy'), pid, 'haproxy left running by the stopped daemon');
      await b.p.waitState('gw', 'master', 5000, fromB);
      a.p = await VigilProcess.start(lab, 'a', nodeYaml({ stateDir: a.stateDir, priority: 200, sections: sectionsOf.get('a') ?? '' }));
      await a.p.waitState('gw', 'master', 10_000);
      assert.equal((await resourceStatus(a.p)).node.maintenance, true, 'maintenance persisted');
      assert.equal(execPid(a.stateDir, 'haproxy'), pid, 'no bounce across the restart (Reattach)');
      assert.equal(execPid(b.stateDir, 'haproxy'), undefined, 'b started nothing in maintenance');
      assert.ok(
        !a.p.events.some((e) => e.event === 'resource-op'),
        `no operation at all in maintenance: ${a.p.events.filter((e) => e.event === 'resource-op').map((e) => JSON.stringify(e)).join(' ')}`,
      );
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      // In maintenance the restarted daemon has not probed: haproxy is "unknown" there, its process still the only one.
      await audit(t, lab, nodes, 'daemon restart in maintenance');

      from = a.p.events.length;
      await Promise.all(nodes.map((n) => cli(n.p, 'maintenance', 'off')));
      const r = await waitResource(a.p, 'haproxy', (x) => x.state === 'started' && x.inFlight === null, 'started after maintenance off');
      await sleep(600); // a few monitor intervals
      assert.equal(execPid(a.stateDir, 'haproxy'), pid, 'the same haproxy keeps running');
      const ops = a.p.events.slice(from).filter((e) => e.event === 'resource-op').map((e) => e['op']);
      assert.ok(!ops.includes('start') && !ops.includes('stop'), `no start/stop after maintenance off: ${ops.join(', ')}`);
      assert.equal(r.failCount, 0);
      t.diagnostic(`haproxy pid ${pid} unchanged through maintenance on, daemon restart, maintenance off (ops after: ${ops.join(', ') || 'none'})`);
      await audit(t, lab, nodes, 'maintenance off', { groupOn: 'a' });
    } finally {
      await stopNodes(nodes);
      await Promise.all(bes.map((x) => x.stop()));
    }
  });
});

test('an OCF agent (heartbeat:IPaddr2) in a group on the master: start, monitor, stop through vigil', { timeout: TEST_TIMEOUT, skip: needs(IPADDR2) }, async (t) => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const ADDR = '10.213.0.150';
    const params = { ip: ADDR, cidr_netmask: '24', nic: 'eth0' };
    const sections = [
      'resources:',
      '  - name: ip2',
      '    type: ocf',
      '    agent: heartbeat:IPaddr2',
      `    params: { ip: ${params.ip}, cidr_netmask: "${params.cidr_netmask}", nic: ${params.nic} }`,
      '    monitor_interval: 300ms',
      'groups:',
      '  - name: extra',
      '    resources: [ip2]',
      '    runs_on: { master: gw }',
    ].join('\n');
    const nodes = await startPair(lab, () => sections);
    const [a, b] = nodes as [Node, Node];
    const monitor = async (host: string): Promise<number> =>
      (await lab.exec(host, 'env', [`OCF_ROOT=${OCF_ROOT}`, ...Object.entries(params).map(([k, v]) => `OCF_RESKEY_${k}=${v}`), IPADDR2, 'monitor'], true)).code;
    try {
      const started = await waitResource(a.p, 'ip2', (r) => r.state === 'started', 'started');
      await waitHolders(lab, ['a', 'b'], ADDR, ['a']);
      assert.equal(await monitor('a'), 0, 'the agent says running on a');
      assert.equal(await monitor('b'), 7, 'and not running on b');
      // Recurring monitors run (and succeed): the next one is scheduled, nothing failed.
      await sleep(1000);
      const after = await waitResource(a.p, 'ip2', (r) => r.state === 'started' && r.failCount === 0 && r.lastFailure === null, 'still started, no failure');
      assert.ok(after.nextMonitorInMs !== null || after.inFlight?.op === 'monitor', 'a monitor is scheduled');
      const bStatus = (await resourceStatus(b.p)).resources.find((r) => r.name === 'ip2');
      assert.notEqual(bStatus?.state, 'started');
      await audit(t, lab, nodes, 'ocf start');
      t.diagnostic(`ip2 ${started.state} on a; ops: ${a.p.events.filter((e) => e.event === 'resource-op-result' && e['resource'] === 'ip2').map((e) => `${String(e['op'])}=${String(e['rc'])}`).join(' ')}`);

      const from = a.p.events.length;
      await cli(a.p, 'resource', 'stop', 'ip2');
      await a.p.waitFor((e) => e.event === 'resource-op-result' && e['resource'] === 'ip2' && e['op'] === 'stop' && e['rc'] === 0, 'stop rc 0', 10_000, from);
      const stopped = await waitResource(a.p, 'ip2', (r) => r.state === 'stopped', 'stopped');
      assert.equal(stopped.targetRole, 'stopped');
      await waitHolders(lab, ['a', 'b'], ADDR, []);
      assert.equal(await monitor('a'), 7, 'the agent says not running (7) after the stop');
      await audit(t, lab, nodes, 'ocf stop');
      // The VIP stays where it was: stopping a resource does not move the instance.
      assert.deepEqual(await holders(lab, ['a', 'b'], VIP), ['a']);
    } finally {
      await stopNodes(nodes);
    }
  });
});
