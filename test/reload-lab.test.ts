/**
 * SIGHUP of the `resources:` and `quorum:` sections in the lab: two real `vigil run`
 * daemons in namespaces with quorum (two_node) and a group on the master (an exec
 * resource), reloaded with a second resource added to the group (a `vip`) and quorum
 * options changed. Nothing that did not change may move: the VRRP VIP stays on the master
 * (sampled throughout), no instance changes state, the unchanged resource keeps its
 * process, quorum never leaves 'hold' (no quorum change, no member leaving).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labSkipReason, withLab, type Lab } from '../src/lab/netns.js';
import { corosyncSkipReason } from '../src/lab/corosync.js';
import { sleep, until } from '../src/lab/wait.js';
import { VigilProcess, configYaml, holders, instanceYaml, waitHolders } from '../src/lab/vigil.js';
import { writeKeyFile } from '../src/quorum/io/authkey.js';
import { controlRequest } from '../src/daemon/control.js';
import type { ResourceServiceStatus } from '../src/daemon/resource-service.js';

const VIP = '10.213.0.100';
const VIP2 = '10.213.0.101';

function nodeYaml(lab: Lab, o: { host: string; stateDir: string; keyFile: string; priority: number; reloaded: boolean }): string {
  return [
    'global:',
    `  state_dir: ${o.stateDir}`,
    'instances:',
    `  - { name: gw, interface: eth0, vrid: 61, priority: ${o.priority}, advert_interval: 100ms, virtual_ips: [${VIP}/24] }`,
    'resources:',
    `  - { name: app, type: exec, command: [/bin/sleep, '1061'], monitor_interval: 200ms }`,
    ...(o.reloaded ? [`  - { name: extra, type: vip, address: ${VIP2}/24, interface: eth0 }`] : []),
    'groups:',
    `  - { name: lb, resources: [${o.reloaded ? 'app, extra' : 'app'}], runs_on: { master: gw } }`,
    'quorum:',
    '  cluster_name: reload-lab',
    `  key_file: ${o.keyFile}`,
    '  two_node: true',
    '  heartbeat_interval: 50ms',
    `  heartbeat_timeout: ${o.reloaded ? '300ms' : '200ms'}`,
    ...(o.reloaded ? ['  wait_for_all: false'] : []),
    '  nodes:',
    `    - { id: 1, name: a, address: ${lab.host('a').ipv4} }`,
    `    - { id: 2, name: b, address: ${lab.host('b').ipv4} }`,
    '',
  ].join('\n');
}

async function resourceStatus(p: VigilProcess): Promise<ResourceServiceStatus> {
  const r = await controlRequest(p.runtimeDir, { command: 'resource-status' });
  if (!r.ok) throw new Error(`resource status from ${p.host}: ${r.error}`);
  return r.result as ResourceServiceStatus;
}

function pidOf(stateDir: string, resource: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(stateDir, 'exec', `${resource}.pid`), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

test('lab: a reload adding a vip resource to the master\'s group and changing quorum options moves nothing that did not change', { timeout: 60_000, skip: labSkipReason() }, async (t) => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-reload-lab-'));
    const keyFile = path.join(dir, 'authkey');
    await writeKeyFile(keyFile);
    const nodes = [
      { host: 'a', priority: 200, stateDir: path.join(dir, 'a') },
      { host: 'b', priority: 100, stateDir: path.join(dir, 'b') },
    ];
    const ps: VigilProcess[] = [];
    try {
      for (const n of nodes) ps.push(await VigilProcess.start(lab, n.host, nodeYaml(lab, { ...n, keyFile, reloaded: false })));
      const [a, b] = ps as [VigilProcess, VigilProcess];
      await a.waitState('gw', 'master', 10_000);
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await until(async () => (await resourceStatus(a)).resources.every((r) => r.state === 'started'), () => 'app started on a', 10_000);
      const appPid = pidOf(nodes[0]!.stateDir, 'app');
      assert.ok(appPid !== undefined);
      await sleep(500);

      const marks = ps.map((p) => p.events.length);
      // Sample the VIP's holders every 50 ms from before the reload until after it settled.
      const seen = new Set<string>();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          seen.add((await holders(lab, ['a', 'b'], VIP)).join(',') || 'none');
          await sleep(50);
        }
      })();
      for (const [i, p] of ps.entries()) {
        p.writeConfig(nodeYaml(lab, { ...nodes[i]!, keyFile, reloaded: true }));
        p.signal('SIGHUP');
      }
      for (const [i, p] of ps.entries()) await p.waitFor((e) => e.event === 'reloaded', 'reloaded', 10_000, marks[i]);
      await until(async () => (await resourceStatus(a)).resources.find((r) => r.name === 'extra')?.state === 'started', () => 'extra started on a', 10_000);
      await waitHolders(lab, ['a', 'b'], VIP2, ['a']);
      await sleep(1500);
      sampling = false;
      await sampler;

      assert.deepEqual([...seen], ['a'], `the VIP was only ever on a: ${[...seen].join(' | ')}`);
      for (const [i, p] of ps.entries()) {
        const after = p.events.slice(marks[i]);
        const bad = after.filter((e) => ['state-change', 'quorum-change', 'quorum-verdict', 'member-left', 'reload-failed', 'reload-section-refused'].includes(e.event));
        assert.deepEqual(bad.map((e) => e.event), [], `${p.host}: ${JSON.stringify(bad)}`);
        const sections = after.filter((e) => e.event === 'reload-section').map((e) => `${String(e['section'])}:${String(e['name'])}:${String(e['change'])}`);
        t.diagnostic(`${p.host}: ${sections.join(', ')}`);
        assert.ok(sections.includes('resources:extra:added'), sections.join(', '));
        assert.ok(sections.includes('quorum:heartbeat_timeout:applied') && sections.includes('quorum:wait_for_all:applied'), sections.join(', '));
      }
      const resourceOps = a.events.slice(marks[0]).filter((e) => e.event === 'resource-op-result' && e['op'] !== 'monitor').map((e) => `${String(e['resource'])}:${String(e['op'])}`);
      assert.deepEqual(resourceOps, ['extra:probe', 'extra:start'], 'only the new resource was operated on');
      assert.equal(pidOf(nodes[0]!.stateDir, 'app'), appPid, 'the unchanged resource kept its process');
      assert.deepEqual((await resourceStatus(b)).resources.filter((r) => r.state !== 'stopped').map((r) => r.name), [], 'nothing runs on the backup');
      const q = await controlRequest(a.runtimeDir, { command: 'quorum-status' });
      assert.ok(q.ok);
      t.diagnostic(`quorum on a after the reload: ${JSON.stringify({ quorate: (q.result as { quorate: boolean }).quorate, flags: (q.result as { flags: unknown }).flags })}`);
      assert.equal((q.result as { flags: { waitForAll: boolean } }).flags.waitForAll, false);
    } finally {
      await Promise.all(ps.map((p) => p.stop().catch(() => undefined)));
      // A failed test may leave the exec resource behind: ended by the PID in its pid file (its own process group).
      for (const n of nodes) {
        const pid = pidOf(n.stateDir, 'app');
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${String(pid)}/cmdline`, 'latin1');
        } catch {
          // gone
        }
        if (pid === undefined || !cmdline.includes('1061')) continue;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('lab: provider corosync with no corosync in reach (inquorate): a reload to no_quorum_policy ignore applies at once; a provider change is refused alone', { timeout: 60_000, skip: corosyncSkipReason() }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-reload-cs-'));
    const keyFile = path.join(dir, 'authkey');
    await writeKeyFile(keyFile);
    const stateDir = path.join(dir, 'state');
    const base = (priority: number): string => `global:\n  state_dir: ${stateDir}\n` + configYaml(instanceYaml({ vrid: 62, priority, vips: [`${VIP}/24`] })).replace(/^global:\n/m, '');
    let p: VigilProcess | undefined;
    try {
      // No corosync runs in this namespace: inquorate, and no_quorum_policy stop holds gw in FAULT.
      p = await VigilProcess.start(lab, 'a', `${base(100)}quorum:\n  provider: corosync\n`);
      await p.waitState('gw', 'fault', 10_000);
      await sleep(500);
      assert.deepEqual(await holders(lab, ['a'], VIP), []);

      let mark = p.events.length;
      p.writeConfig(`${base(100)}quorum:\n  provider: corosync\n  no_quorum_policy: ignore\n`);
      p.signal('SIGHUP');
      await p.waitFor((e) => e.event === 'reload-section' && e['name'] === 'no_quorum_policy', 'no_quorum_policy applied', 10_000, mark);
      await p.waitState('gw', 'master', 10_000, mark);
      await waitHolders(lab, ['a'], VIP, ['a']);

      mark = p.events.length;
      p.writeConfig(`${base(90)}quorum:\n  key_file: ${keyFile}\n  nodes:\n    - { id: 1, name: a, address: ${lab.host('a').ipv4} }\n    - { id: 2, name: b, address: 10.213.0.250 }\n`);
      p.signal('SIGHUP');
      const refused = await p.waitFor((e) => e.event === 'reload-section-refused', 'the provider change refused', 10_000, mark);
      assert.match(String(refused['detail']), /changing quorum.provider from corosync to vigil takes effect on restart/);
      await until(async () => (await p?.instance('gw'))?.basePriority === 90, () => 'the priority change applied', 5_000);
      const q = (await p.status()).quorum as { provider?: string; noQuorumPolicy?: string } | undefined;
      assert.deepEqual({ provider: q?.provider, policy: q?.noQuorumPolicy }, { provider: 'corosync', policy: 'ignore' }, 'the running quorum section stays');
      assert.equal((await p.instance('gw')).state, 'master');
    } finally {
      await p?.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
