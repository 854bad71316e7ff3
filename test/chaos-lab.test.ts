/**
 * The lab chaos runner, CI-sized (issue 10 §4): seeded fault schedules against real
 * `vigil run` daemons in lab namespaces, audited after every heal (src/lab/chaos.ts): one
 * master, the VIP on that node alone, the client's neighbour entry on its MAC, the
 * client's pings answered, no daemon ended by itself; in two-node mode also no VIP and
 * no master while inquorate, nor on a node cold-booted cut off.
 *
 * Fixed seeds, so a failure replays: the message gives `npm run chaos -- ... --only`.
 * VIGIL_CHAOS_SEED=N (or "random") draws other schedules. The long run (≥ 100 schedules)
 * is `npm run chaos` (README, "Tests and benchmarks").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { labSkipReason } from '../src/lab/netns.js';
import { CHAOS_VIP, formatReport, runChaos, withChaosCluster } from '../src/lab/chaos.js';
import { wallNow } from '../src/lab/address-watch.js';
import { sleep } from '../src/lab/wait.js';
import { FAULT_KINDS, describeSchedule, generateSchedule, type ChaosMode, type FaultKind } from '../src/lab/faults.js';

const skip = labSkipReason(['nft', 'ping']);

/**
 * The CI runs draw every fault but loss, which has its own test below: under 30 % loss a
 * node may become master for a moment, announce, and step down. With one
 * higher_prio_send_advert advert, lost too 30 % of the time, the real master never heard a
 * lower priority, never re-announced, and the client kept the wrong MAC (long-run seeds
 * 1018, 2037, 2089; 1 to 2 % of loss steps). The yielding router now repeats that advert
 * to the new master twice more (src/vrrp/router.ts, STEP_DOWN_ADVERT_REPEATS).
 */
function ciKinds(mode: ChaosMode): FaultKind[] {
  return FAULT_KINDS[mode].filter((k) => k !== 'loss');
}

function seedFor(fallback: number): number {
  const v = process.env['VIGIL_CHAOS_SEED'];
  if (v === 'random') return randomInt(1, 2 ** 31);
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : fallback;
}

test('chaos schedules: the same seed gives the same schedule; the CI seeds cover every fault of each mode', () => {
  const three = ['a', 'b', 'c'];
  assert.equal(describeSchedule(generateSchedule(7, 'three-node', three, [3, 6])), describeSchedule(generateSchedule(7, 'three-node', three, [3, 6])));
  assert.notEqual(describeSchedule(generateSchedule(7, 'three-node', three, [3, 6])), describeSchedule(generateSchedule(8, 'three-node', three, [3, 6])));
  for (const [mode, nodes, seed, count] of [
    ['three-node', three, 9, 8],
    ['two-node', ['a', 'b'], 80, 4],
  ] as const) {
    const kinds = new Set<string>();
    for (let i = 0; i < count; i++) for (const step of generateSchedule(seed + i, mode, nodes, [2, 2], ciKinds(mode)).steps) for (const f of step) kinds.add(f.kind);
    // A kind the CI run never draws would go untested: the seeds below are chosen to cover all.
    assert.deepEqual([...kinds].sort(), ciKinds(mode).sort(), `${mode}, seeds ${seed}..${seed + count - 1}`);
  }
});

test('lab chaos: the audits fail on a broken cluster (a second VIP holder, the client on its MAC, a daemon gone) and the watch measures the overlap', { skip, timeout: 60_000 }, async () => {
  await withChaosCluster('three-node', async (c) => {
    assert.ok(await c.healthy(), 'a master alone with the VIP');
    assert.ok((await c.audit('control')) >= 8);
    assert.deepEqual(c.takeFailures(), [], 'the healthy cluster passes');
    const from = wallNow();
    await c.lab.exec('c', 'ip', ['addr', 'add', `${CHAOS_VIP}/24`, 'dev', 'eth0']);
    await c.lab.exec('client', 'ip', ['neigh', 'replace', CHAOS_VIP, 'lladdr', c.lab.host('c').mac, 'dev', 'eth0', 'nud', 'permanent']);
    c.member('b').proc.signal('SIGKILL');
    await c.member('b').proc.waitExit();
    await sleep(300);
    await c.audit('sabotaged');
    const failures = c.takeFailures();
    const expect = (re: RegExp): void => assert.ok(failures.some((f) => re.test(f)), `${re}: ${failures.join('; ')}`);
    expect(/the daemon on b ended by itself/);
    expect(/the VIP held by \[a, c\]/);
    expect(/neighbour entry for the VIP is 02:13:00:00:00:03, the master a is 02:13:00:00:00:01/);
    const dual = c.watch.dualHeld(from, wallNow());
    assert.ok(dual.longestMs >= 250, `a and c held the VIP together for ${dual.longestMs} ms`);
    await c.lab.exec('client', 'ip', ['neigh', 'del', CHAOS_VIP, 'dev', 'eth0']);
  });
});

test('lab chaos, three nodes: 8 seeded schedules of 2 steps, audited after every heal', { skip, timeout: 170_000 }, async (t) => {
  const report = await runChaos({ mode: 'three-node', seed: seedFor(9), schedules: 8, steps: [2, 2], kinds: ciKinds('three-node'), log: (l) => t.diagnostic(l) });
  t.diagnostic(formatReport(report));
  assert.deepEqual(report.failed.map((r) => r.seed), [], formatReport(report));
  assert.equal(report.results.length, 8);
  assert.ok(report.faults >= 16, `${report.faults} faults`);
  assert.equal(report.rounds, 16, 'one audit round per step');
  assert.ok(report.audits >= 16 * 8, `${report.audits} checks`);
  if (report.delay.frames > 0) assert.ok(report.delay.minMs >= 18, `the delay relay held frames ${report.delay.minMs} ms at least (20 ms asked)`);
});

test('lab chaos, two nodes (two_node, wait_for_all): 4 seeded schedules of 2 steps with cold boots and cut links', { skip, timeout: 170_000 }, async (t) => {
  const report = await runChaos({ mode: 'two-node', seed: seedFor(80), schedules: 4, steps: [2, 2], kinds: ciKinds('two-node'), log: (l) => t.diagnostic(l) });
  t.diagnostic(formatReport(report));
  assert.deepEqual(report.failed.map((r) => r.seed), [], formatReport(report));
  assert.equal(report.results.length, 4);
  assert.ok(report.faults >= 8, `${report.faults} faults`);
  assert.equal(report.rounds, 8, 'one audit round per step');
});

test('lab chaos, three nodes under 30 % loss: a master for a moment is corrected (the yielding router repeats its advert to the new master, which re-announces)', { skip, timeout: 120_000 }, async (t) => {
  const report = await runChaos({ mode: 'three-node', seed: seedFor(12), schedules: 6, steps: [2, 2], kinds: ['loss', 'isolate', 'kill'], log: (l) => t.diagnostic(l) });
  t.diagnostic(formatReport(report));
  assert.deepEqual(report.failed.map((r) => r.seed), [], formatReport(report));
});
