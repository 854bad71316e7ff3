/**
 * Issue 10 §4: seeded chaos schedules through the real daemon glue, no root needed: 2–4
 * real `Daemon`s on fake ports and one virtual clock, on a simulated segment with a
 * client (test/support/sim-cluster.ts), faults and audits as in test/support/sim-chaos.ts.
 *
 *   VIGIL_SIM_SCHEDULES=N    schedules per run (default 1000; 100000 for the long run)
 *   VIGIL_SIM_SEED=S         the first seed (default 20261203); schedule i has seed S + i
 *   VIGIL_SIM_ONLY=1         with VIGIL_SIM_SEED: replay that one schedule, with its trace
 *
 * Every fifth seed is a quorum schedule (two_node + wait_for_all, or three nodes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip } from '../src/net/address.js';
import { VIP4, modeOf, runSchedule, type ScheduleResult } from './support/sim-chaos.js';
import { Cluster, prng, type Member } from './support/sim-cluster.js';
import { configFrom } from './support/fake-daemon.js';

const SCHEDULES = Number(process.env['VIGIL_SIM_SCHEDULES'] ?? 1000);
const FIRST_SEED = Number(process.env['VIGIL_SIM_SEED'] ?? 20261203);
const ONLY = process.env['VIGIL_SIM_ONLY'] === '1';

function report(r: ScheduleResult): string {
  return [
    `schedule seed ${r.seed} failed (replay: VIGIL_SIM_SEED=${r.seed} VIGIL_SIM_ONLY=1 node --test dist/test/daemon-sim-chaos.test.js):`,
    ...r.failures.map((f) => `  ${f}`),
    r.script,
    ...(r.trace.length > 0 ? ['trace:', ...r.trace.map((l) => `  ${l}`)] : []),
  ].join('\n');
}

test(`simulated chaos: ${ONLY ? `seed ${FIRST_SEED} alone` : `${SCHEDULES} schedules from seed ${FIRST_SEED}`}, one master, one VIP holder, the client on the master`, async () => {
  const started = performance.now();
  const totals = { ipv6: 0, thaws: 0, leftovers: 0, leftoverSchedules: 0, schedules: 0, quorum: 0, nodes: 0, faults: 0, audits: 0, events: 0, worstDualMs: 0, worstDualSeed: 0, worstClientMs: 0, worstClientSeed: 0 };
  const failed: ScheduleResult[] = [];
  for (let i = 0; i < (ONLY ? 1 : SCHEDULES); i++) {
    const r = await runSchedule(FIRST_SEED + i, { trace: ONLY });
    totals.schedules++;
    if (r.mode === 'quorum') totals.quorum++;
    if (r.family === 'ipv6') totals.ipv6++;
    totals.nodes += r.nodes;
    totals.faults += r.faults;
    totals.audits += r.audits;
    totals.events += r.events;
    totals.leftovers += r.leftovers.length;
    totals.thaws += r.thaws;
    if (r.leftovers.length > 0) totals.leftoverSchedules++;
    if (r.worstDualMs > totals.worstDualMs) Object.assign(totals, { worstDualMs: r.worstDualMs, worstDualSeed: r.seed });
    if (r.worstClientMs > totals.worstClientMs) Object.assign(totals, { worstClientMs: r.worstClientMs, worstClientSeed: r.seed });
    if (r.failures.length > 0) {
      failed.push(r);
      console.log(report(r));
    }
    if (ONLY) console.log([r.script, ...r.leftovers.map((l) => `left over (not a failure): ${l}`), 'trace:', ...r.trace.map((l) => `  ${l}`)].join('\n'));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `# sim chaos: ${totals.schedules} schedules (${totals.quorum} quorum, ${totals.ipv6} IPv6) from seed ${FIRST_SEED}, ${totals.faults} faults (${totals.thaws} thaws audited), ${totals.audits} audits, ` +
      `${failed.length} failed${failed.length > 0 ? ` (seeds ${failed.map((f) => f.seed).join(', ')})` : ''}, ` +
      `${totals.leftovers} client entries left over from a split or lost announcements (in ${totals.leftoverSchedules} schedules), ` +
      `worst dual-holder time after a heal ${totals.worstDualMs.toFixed(1)} ms (seed ${totals.worstDualSeed}), ` +
      `latest client change after a heal ${totals.worstClientMs.toFixed(1)} ms (seed ${totals.worstClientSeed}), ${totals.events} events, ${seconds.toFixed(1)} s`,
  );
  assert.deepEqual(failed.map((f) => f.seed), [], `failed schedules:\n${failed.map(report).join('\n\n')}`);
});

test('the audits fail where they should: a VIP left in a backup\'s kernel, a master killed just before the audit, an error logged', async () => {
  const seed = 20261204;
  assert.equal(modeOf(seed), 'vrrp');
  const clean = await runSchedule(seed);
  assert.deepEqual(clean.failures, [], 'the schedule passes untouched');
  const leaked = await runSchedule(seed, {
    tamper: (cluster, audit) => {
      if (audit !== 'boot') return;
      const backup = cluster.members.find((m) => m.alive && m.inc?.state('gw') === 'backup');
      assert.ok(backup, 'a backup after boot');
      backup.kernel.addrs.get(2)?.push({ address: ip(VIP4), prefixLength: 24, secondary: true });
    },
  });
  assert.ok(leaked.failures.some((f) => /audit boot: the VIP is in the kernel of n\d, n\d/.test(f)), leaked.failures.join('\n'));
  const killed = await runSchedule(seed, {
    tamper: (cluster, audit) => {
      if (audit === 'boot') cluster.members.find((m) => m.alive && m.inc?.state('gw') === 'master')?.kill();
    },
  });
  assert.ok(killed.failures.some((f) => /audit boot: 0 masters/.test(f)), killed.failures.join('\n'));
  const logged = await runSchedule(seed, {
    tamper: (cluster, audit) => {
      if (audit === 'boot') cluster.members[0]?.inc?.log.log('error', 'effect-failed', { detail: 'tampered' });
    },
  });
  assert.ok(logged.failures.some((f) => /audit boot: n1 logged effect-failed/.test(f)), logged.failures.join('\n'));
});

test('§1 in the simulated cluster: a backup frozen for 1 s and resumed, 20 times, never changes state; the client stays on the master', async () => {
  const yaml = (priority: number): string =>
    [
      'instances:',
      '  - name: gw',
      '    interface: eth0',
      '    vrid: 51',
      `    priority: ${priority}`,
      '    advert_interval: 100ms',
      `    virtual_ips: [${VIP4}/24]`,
      '    garp: { interval: 20ms }',
      '',
    ].join('\n');
  const cluster = new Cluster([configFrom(yaml(200)), configFrom(yaml(100))], prng(1));
  const [master, backup] = cluster.members as [Member, Member];
  const world = cluster.world;
  await master.start();
  await world.runUntil(world.now + 500);
  await backup.start();
  await world.runUntil(world.now + 2000);
  assert.equal(master.inc?.state('gw'), 'master');
  assert.equal(backup.inc?.state('gw'), 'backup');
  const changes: string[] = [];
  for (const m of [master, backup]) {
    m.inc?.events.subscribe((e) => {
      if (e.kind === 'instance-state') changes.push(`${m.name} ${e.from}->${e.to} at ${world.now}`);
    });
  }
  let queued = 0;
  for (let i = 0; i < 20; i++) {
    backup.freeze();
    // 1 s: nearly three Master_Down_Intervals (3 × 100 ms + 60.9 ms skew) pass.
    await world.runUntil(world.now + 1000);
    queued += backup.queuedPriorities.length;
    backup.thaw();
    await world.runUntil(world.now + 1000);
  }
  assert.ok(queued >= 20 * 9, `the master's adverts waited on the frozen backup's socket: ${queued}`);
  assert.deepEqual(changes, [], 'state changes');
  assert.equal(cluster.client.cache.get(VIP4)?.mac, master.mac);
  assert.equal(backup.holds(ip(VIP4)), false);
});
