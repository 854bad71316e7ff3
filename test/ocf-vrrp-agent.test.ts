/**
 * ocf:vigil:vrrp (packaging/ocf/vrrp), the agent that lets Pacemaker govern a vigil VRRP
 * instance as a promotable clone: checked by Debian's `ocf-tester` (resource-agents:
 * meta-data valid against ra-api-1.dtd, every action's exit code per the OCF API) against
 * a real `vigil run`, then driven action by action on two nodes the way Pacemaker would,
 * with the VIP audited after each step: started copies are backups that never take the
 * VIP, only the promoted one holds it (whatever the VRRP priorities), a demote moves it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { labSkipReason, withLab, type Lab } from '../src/lab/netns.js';
import { sleep } from '../src/lab/wait.js';
import { VIGIL_MAIN, VigilProcess, configYaml, holders, instanceYaml, vigilCli, waitHolders } from '../src/lab/vigil.js';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const AGENT = path.join(ROOT, 'packaging', 'ocf', 'vrrp');
const VIP = '10.213.0.100';

/** OCF exit codes (ClusterLabs OCF-spec, resource-agent-api.md). */
const OCF = { SUCCESS: 0, ERR_GENERIC: 1, ERR_CONFIGURED: 6, NOT_RUNNING: 7, RUNNING_PROMOTED: 8 } as const;

function skipReason(): string | false {
  const lab = labSkipReason();
  if (lab) return lab;
  for (const tool of ['/usr/sbin/ocf-tester', '/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs', '/usr/bin/xmllint']) {
    if (!existsSync(tool)) return `${tool} is not installed (apt-get install resource-agents libxml2-utils)`;
  }
  return false;
}

const skip = skipReason();

/** `vigil` as the agent runs it: a wrapper around this checkout's CLI. */
function writeWrapper(dir: string): string {
  const file = path.join(dir, 'vigil');
  writeFileSync(file, `#!/bin/sh\nexec '${process.execPath}' '${VIGIL_MAIN}' "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

async function agent(action: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  try {
    const r = await execFileAsync('/bin/sh', [AGENT, action], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', OCF_ROOT: '/usr/lib/ocf', ...env }, encoding: 'utf8' });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: (err.stdout ?? '') + (err.stderr ?? '') };
  }
}

function yaml(priority: number): string {
  return configYaml(instanceYaml({ vrid: 91, priority, vips: [`${VIP}/24`] }));
}

async function audit(lab: Lab, step: string, hosts: readonly string[] = ['a', 'b']): Promise<string[]> {
  const h = await holders(lab, hosts, VIP);
  assert.ok(h.length <= 1, `${step}: the VIP is held by ${h.length} nodes: [${h.join(', ')}]`);
  return h;
}

test('ocf:vigil:vrrp passes ocf-tester against a running vigil', { skip, timeout: 120_000 }, async () => {
  await withLab({ hosts: ['a'], prefix: 'vgoc' }, async (lab) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-ocf-'));
    const a = await VigilProcess.start(lab, 'a', yaml(150));
    try {
      const wrapper = writeWrapper(dir);
      let r: { stdout: string; stderr: string; code: number };
      try {
        const out = await execFileAsync('/usr/sbin/ocf-tester', ['-v', '-n', 'vip', '-o', 'instance=gw', '-o', `vigil=${wrapper}`, '-o', `runtime_dir=${a.runtimeDir}`, AGENT], { encoding: 'utf8' });
        r = { ...out, code: 0 };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        r = { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : -1 };
      }
      assert.equal(r.code, 0, `ocf-tester failed:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /passed all tests/);
      // ocf-tester ends with a stop: the instance is stopped (FAULT), holds nothing.
      assert.equal((await a.instance('gw')).state, 'fault');
      assert.deepEqual(await audit(lab, 'after ocf-tester', ['a']), []);

      // An instance vigil does not have is a configuration error, not "not running".
      const bad = await agent('monitor', { OCF_RESOURCE_INSTANCE: 'vip', OCF_RESKEY_instance: 'nosuch', OCF_RESKEY_vigil: wrapper, OCF_RESKEY_runtime_dir: a.runtimeDir });
      assert.equal(bad.code, OCF.ERR_CONFIGURED, bad.out);
      // vigil not running: a probe says not running, a stop succeeds.
      const gone = { OCF_RESOURCE_INSTANCE: 'vip', OCF_RESKEY_instance: 'gw', OCF_RESKEY_vigil: wrapper, OCF_RESKEY_runtime_dir: path.join(dir, 'nothing-here') };
      assert.equal((await agent('monitor', gone)).code, OCF.NOT_RUNNING);
      assert.equal((await agent('stop', gone)).code, OCF.SUCCESS);
      assert.equal((await agent('start', gone)).code, OCF.ERR_GENERIC, 'start needs the daemon');
    } finally {
      await a.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('ocf:vigil:vrrp as Pacemaker drives it: only the promoted copy holds the VIP; demote and promote move it', { skip, timeout: 120_000 }, async () => {
  await withLab({ hosts: ['a', 'b'], prefix: 'vgoc' }, async (lab) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-ocf-'));
    const a = await VigilProcess.start(lab, 'a', yaml(150));
    const b = await VigilProcess.start(lab, 'b', yaml(100));
    try {
      const wrapper = writeWrapper(dir);
      const env = (p: VigilProcess): Record<string, string> => ({ OCF_RESOURCE_INSTANCE: 'vip', OCF_RESKEY_instance: 'gw', OCF_RESKEY_vigil: wrapper, OCF_RESKEY_runtime_dir: p.runtimeDir });
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      // Probes before Pacemaker manages the instances: free instances are "not running".
      assert.equal((await agent('monitor', env(a))).code, OCF.NOT_RUNNING);

      // start both: a was master without Pacemaker; started (unpromoted) it steps down and nobody takes over.
      assert.equal((await agent('start', env(a))).code, OCF.SUCCESS);
      assert.equal((await agent('start', env(b))).code, OCF.SUCCESS);
      await waitHolders(lab, ['a', 'b'], VIP, []);
      for (let i = 0; i < 4; i++) {
        assert.deepEqual(await audit(lab, `both unpromoted, sample ${i}`), []);
        await sleep(200);
      }
      assert.equal((await agent('monitor', env(a))).code, OCF.SUCCESS);
      assert.equal((await a.instance('gw')).state, 'backup');

      // promote b (the lower priority): b takes the VIP, a (higher priority) stays backup.
      assert.equal((await agent('promote', env(b))).code, OCF.SUCCESS);
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      await sleep(600);
      assert.deepEqual(await audit(lab, 'b promoted'), ['b']);
      assert.equal((await agent('monitor', env(b))).code, OCF.RUNNING_PROMOTED);
      assert.equal((await agent('monitor', env(a))).code, OCF.SUCCESS);

      // Pacemaker moves the promotion: demote b, promote a; the VIP moves to a.
      const t0 = Date.now();
      assert.equal((await agent('demote', env(b))).code, OCF.SUCCESS);
      assert.equal((await agent('promote', env(a))).code, OCF.SUCCESS);
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      const moveMs = Date.now() - t0;
      await sleep(600);
      assert.deepEqual(await audit(lab, 'promotion moved to a'), ['a']);
      assert.equal((await agent('monitor', env(b))).code, OCF.SUCCESS);
      assert.equal((await agent('monitor', env(a))).code, OCF.RUNNING_PROMOTED);

      // stop a (promoted: Pacemaker demotes first), stop b: FAULT both, no VIP, not running.
      assert.equal((await agent('demote', env(a))).code, OCF.SUCCESS);
      assert.equal((await agent('stop', env(a))).code, OCF.SUCCESS);
      assert.equal((await agent('stop', env(b))).code, OCF.SUCCESS);
      await waitHolders(lab, ['a', 'b'], VIP, []);
      assert.equal((await agent('monitor', env(a))).code, OCF.NOT_RUNNING);
      assert.equal((await a.instance('gw')).state, 'fault');
      console.log(`# ocf: demote b + promote a -> VIP on a after ${moveMs} ms (agent calls included)`);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The daemon restarted under Pacemaker (crashed and respawned, or vigil.service
 * restarted): its instances come back as backups that may not become master, never free
 * (src/daemon/promotion.ts). A restarted unpromoted copy with the highest priority does
 * not preempt the promoted master; a restarted promoted copy comes back unpromoted, so
 * its monitor says OCF_SUCCESS where Pacemaker expects OCF_RUNNING_PROMOTED: Pacemaker
 * recovers it (demote, stop, start, promote, driven here as it would) and the VIP is back.
 * A start while the daemon is still coming back waits for it. Audited all along: one
 * holder or none.
 */
test('ocf:vigil:vrrp across a daemon restart: roles come back unpromoted (stopped stays stopped), no preemption, Pacemaker re-promotes', { skip, timeout: 120_000 }, async () => {
  await withLab({ hosts: ['a', 'b'], prefix: 'vgoc' }, async (lab) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-ocf-'));
    const first = { a: await VigilProcess.start(lab, 'a', yaml(150)), b: await VigilProcess.start(lab, 'b', yaml(100)) };
    const procs: VigilProcess[] = [first.a, first.b];
    /** Kills (a crash) and starts again with the same config and runtime directory. */
    const restart = async (p: VigilProcess): Promise<VigilProcess> => {
      p.signal('SIGKILL');
      await p.waitExit(5000);
      const again = VigilProcess.spawn(lab, p.host, p.configPath, p.runtimeDir);
      procs.push(again);
      await again.waitFor((e) => e.event === 'started', `${p.host} started again`, 10_000);
      return again;
    };
    /** Samples the holders for `ms`: never two; returns every holder seen. */
    const watch = async (ms: number, step: string): Promise<Set<string>> => {
      const seen = new Set<string>();
      const end = Date.now() + ms;
      while (Date.now() < end) {
        for (const h of await audit(lab, step)) seen.add(h);
        await sleep(100);
      }
      return seen;
    };
    try {
      const wrapper = writeWrapper(dir);
      const env = (p: VigilProcess): Record<string, string> => ({ OCF_RESOURCE_INSTANCE: 'vip', OCF_RESKEY_instance: 'gw', OCF_RESKEY_vigil: wrapper, OCF_RESKEY_runtime_dir: p.runtimeDir });
      assert.equal((await agent('start', env(first.a))).code, OCF.SUCCESS);
      assert.equal((await agent('start', env(first.b))).code, OCF.SUCCESS);
      assert.equal((await agent('promote', env(first.b))).code, OCF.SUCCESS);
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);

      // a (unpromoted, priority 150 > b's 100) crashes and comes back: unpromoted, it does not preempt b.
      const a = await restart(first.a);
      const restored = a.events.find((e) => e.event === 'promotion-restored');
      assert.ok(restored && restored['was'] === 'unpromoted' && restored['now'] === 'unpromoted', `a: promotion-restored: ${a.logText()}`);
      assert.deepEqual([...(await watch(4000, 'a restarted'))], ['b'], 'b keeps the VIP while a (higher priority) is back');
      assert.equal(a.stateChanges('gw').filter((e) => e['to'] === 'master').length, 0, 'a never master after its restart');
      assert.equal((await agent('monitor', env(a))).code, OCF.SUCCESS, 'a: unpromoted, as Pacemaker has it');

      // b (promoted, master) crashes and comes back unpromoted: nobody holds the VIP, a does not take it.
      const b = await restart(first.b);
      assert.deepEqual([...(await watch(4000, 'b restarted'))].filter((h) => h !== 'b'), [], 'a never takes the VIP while b restarts');
      assert.deepEqual(await audit(lab, 'b back'), [], 'b came back without the VIP');
      assert.equal((await b.instance('gw')).state, 'backup');
      assert.equal((await agent('monitor', env(b))).code, OCF.SUCCESS, 'b: not promoted any more: Pacemaker sees a failed promoted copy');
      // Pacemaker's recovery of a failed promoted copy: demote, stop, start, promote.
      for (const action of ['demote', 'stop', 'start', 'promote']) assert.equal((await agent(action, env(b))).code, OCF.SUCCESS, `b: ${action}`);
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      assert.equal((await agent('monitor', env(b))).code, OCF.RUNNING_PROMOTED);

      // A stopped copy stays stopped (FAULT, no adverts) across a restart.
      assert.equal((await agent('stop', env(a))).code, OCF.SUCCESS);
      const a2 = await restart(a);
      assert.equal((await a2.instance('gw')).state, 'fault');
      assert.equal((await agent('monitor', env(a2))).code, OCF.NOT_RUNNING);
      assert.deepEqual([...(await watch(1500, 'a stopped, restarted'))], ['b']);

      // Taken out of Pacemaker's hands (role free), a restart leaves it free: VRRP alone, a preempts.
      const free = await vigilCli(['instance', 'role', 'gw', 'free', '--runtime-dir', a2.runtimeDir]);
      assert.equal(free.code, 0, free.stderr);
      const a3 = await restart(a2);
      assert.ok(!a3.events.some((e) => e.event === 'promotion-restored'), 'nothing restored for a free instance');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);

      // Pacemaker's start while vigil is still restarting: the agent waits for the daemon
      // within the start's timeout (CRM_meta_timeout) instead of failing the start.
      a3.signal('SIGKILL');
      await a3.waitExit(5000);
      const t0 = Date.now();
      const starting = agent('start', { ...env(a3), OCF_RESKEY_CRM_meta_timeout: '30000' });
      await sleep(2500);
      const a4 = VigilProcess.spawn(lab, 'a', a3.configPath, a3.runtimeDir);
      procs.push(a4);
      const started = await starting;
      assert.equal(started.code, OCF.SUCCESS, `start waited for the daemon: ${started.out}`);
      assert.ok(Date.now() - t0 >= 2500, 'start returned only once vigil was back');
      assert.equal((await agent('monitor', env(a4))).code, OCF.SUCCESS);
      assert.equal((await a4.instance('gw')).state, 'backup');
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
