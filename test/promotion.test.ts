/**
 * Pacemaker's roles for a VRRP instance (src/daemon/promotion.ts) on the real state
 * machine (src/vrrp/router.ts), time explicit: an unpromoted backup never becomes master
 * however long the master is silent; promoted, it takes over at the next look; a demoted
 * master sends priority 0 and removes its VIPs (RFC 5798 §6.4.3) and stays backup;
 * stopped is FAULT; free is VRRP alone. The ports are the daemon's (tracker dispatch),
 * here straight into the router.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip } from '../src/net/address.js';
import { VirtualRouter, type RouterAction, type RouterConfig } from '../src/vrrp/router.js';
import { toConfiguredPriority, toV3Interval, toVrid } from '../src/vrrp/types.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROMOTION_TRACKER, PromotionControl, loadRoles, rolesFile, saveRoles, type PromotionInstance } from '../src/daemon/promotion.js';

const CONFIG: RouterConfig = {
  name: 'gw',
  version: 3,
  family: 'ipv4',
  vrid: toVrid(51),
  priority: toConfiguredPriority(100),
  advertInterval: toV3Interval(100),
  preempt: true,
  preemptDelayMs: 0,
  acceptMode: false,
  primaryAddress: ip('10.213.0.2'),
  tracked: [{ name: PROMOTION_TRACKER, weight: 0 }],
  announce: { masterRepeat: 5, masterDelayMs: 0, masterRefreshMs: 0, masterRefreshRepeat: 1, lowerPriorityRepeat: 5, lowerPriorityDelayMs: 0 },
  higherPrioritySendAdvert: false,
  lowerPriorityNoAdvert: false,
};

function setup(managedBy: 'vigil' | 'pacemaker' = 'vigil'): { router: VirtualRouter; control: PromotionControl; actions: RouterAction[]; now: { t: number } } {
  const router = new VirtualRouter(CONFIG);
  const actions: RouterAction[] = [];
  const now = { t: 0 };
  const control = new PromotionControl(
    {
      isMaster: () => router.state === 'master',
      setTracker: (_instance, tracker, up) => void actions.push(...router.handle({ type: 'tracker', name: tracker, up }, now.t)),
      log: () => undefined,
    },
    instances(managedBy, 'gw'),
  );
  router.addGate(control.gate);
  return { router, control, actions, now };
}

/** Configured instances as the control sees them. */
function instances(managedBy: 'vigil' | 'pacemaker', ...names: string[]): PromotionInstance[] {
  return names.map((name) => ({ name, managedBy }));
}

/** Delivers ticks at every deadline up to `until`. */
function runUntil(router: VirtualRouter, now: { t: number }, until: number, actions: RouterAction[]): void {
  for (;;) {
    const next = router.nextDeadline();
    if (next === undefined || next > until) break;
    now.t = Math.max(now.t, next);
    actions.push(...router.handle({ type: 'tick' }, now.t));
  }
  now.t = until;
}

test('promotion: unpromoted never becomes master; promoted takes over; demoted sends priority 0 and stays backup; stopped is FAULT', () => {
  const { router, control, actions, now } = setup();
  control.set('gw', 'unpromoted');
  actions.push(...router.handle({ type: 'startup' }, 0));
  assert.equal(router.state, 'backup');
  runUntil(router, now, 10_000, actions);
  assert.equal(router.state, 'backup', 'ten seconds without a master: still backup');
  assert.ok(!actions.some((a) => a.type === 'add-vips'));

  control.set('gw', 'promoted');
  runUntil(router, now, 10_200, actions);
  assert.equal(router.state, 'master', 'promoted: master at the next look (within 50 ms) or the next timer');

  actions.length = 0;
  control.set('gw', 'unpromoted');
  assert.equal(router.state, 'backup');
  assert.ok(actions.some((a) => a.type === 'send-advert' && a.priority === 0), 'RFC 5798 §6.4.3: priority 0 sent');
  assert.ok(actions.some((a) => a.type === 'remove-vips'));
  runUntil(router, now, 20_000, actions);
  assert.equal(router.state, 'backup');

  control.set('gw', 'stopped');
  assert.equal(router.state, 'fault');
  control.set('gw', 'free');
  runUntil(router, now, 25_000, actions);
  assert.equal(router.state, 'master', 'free: VRRP alone decides');
  assert.deepEqual(control.all(), {});
  assert.throws(() => control.set('nosuch', 'promoted'), /no instance is named "nosuch"/);
});

test('promotion: roles kept for a restarted daemon come back unpromoted (stopped stays stopped); a broken roles file is named', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-roles-'));
  try {
    const file = rolesFile(dir);
    assert.deepEqual(loadRoles(file), {}, 'no file: nothing to restore');
    const saved: Record<string, string>[] = [];
    const control = new PromotionControl(
      {
        isMaster: () => false,
        setTracker: () => undefined,
        log: () => undefined,
        save: (roles) => {
          saved.push({ ...roles });
          saveRoles(file, roles);
        },
      },
      instances('vigil', 'gw', 'db', 'web'),
    );
    control.set('gw', 'promoted');
    control.set('db', 'stopped');
    control.set('web', 'unpromoted');
    control.set('web', 'free');
    assert.deepEqual(loadRoles(file), { gw: 'promoted', db: 'stopped' });
    assert.equal(saved.length, 4);

    const after = new PromotionControl({ isMaster: () => false, setTracker: () => undefined, log: () => undefined }, instances('vigil', 'gw', 'db', 'web'));
    assert.deepEqual(after.restore({ ...loadRoles(file), gone: 'promoted' }), { gw: 'unpromoted', db: 'stopped' });
    assert.equal(after.role('gw'), 'unpromoted');
    assert.equal(after.role('db'), 'stopped');
    assert.equal(after.role('gone'), 'free', 'an instance no longer configured is dropped');
    // The file then says what holds: gw unpromoted (a second restart restores the same).
    const saving = new PromotionControl({ isMaster: () => false, setTracker: () => undefined, log: () => undefined, save: (roles) => saveRoles(file, roles) }, instances('vigil', 'gw', 'db'));
    saving.restore(loadRoles(file));
    assert.deepEqual(loadRoles(file), { gw: 'unpromoted', db: 'stopped' });
    const router = new VirtualRouter(CONFIG);
    router.addGate(after.gate);
    assert.notEqual(after.gate.mayBecomeMaster(router, 0), true, 'restored unpromoted: may not become master');

    writeFileSync(file, '{"gw": "master"}\n');
    assert.throws(() => loadRoles(file), (e: Error) => e.message.includes(file) && e.message.includes('"gw"') && e.message.includes('unknown role'));
    writeFileSync(file, 'nonsense');
    assert.throws(() => loadRoles(file), (e: Error) => e.message.startsWith(`${file}: not JSON`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('promotion: managed_by pacemaker starts stopped (FAULT) until the agent starts it, never master before its promote; a reload adds one stopped and forgets a removed one', () => {
  const { router, control, actions, now } = setup('pacemaker');
  assert.equal(control.role('gw'), 'stopped', 'cold start: stopped, as every Pacemaker resource');
  // The daemon's startup applies it as it does a restored stopped role (daemon.ts, beforeStartup).
  actions.push(...router.handle({ type: 'tracker', name: PROMOTION_TRACKER, up: false }, 0));
  actions.push(...router.handle({ type: 'startup' }, 0));
  runUntil(router, now, 10_000, actions);
  assert.equal(router.state, 'fault', 'ten seconds after start with no master anywhere: still not running');
  assert.ok(!actions.some((a) => a.type === 'send-advert' || a.type === 'add-vips'), 'no advert and no VIP before the start');
  assert.deepEqual(control.all(), { gw: 'stopped' });

  control.set('gw', 'unpromoted');
  runUntil(router, now, 20_000, actions);
  assert.equal(router.state, 'backup', "the agent's start: a backup that may not become master");
  control.set('gw', 'promoted');
  runUntil(router, now, 20_200, actions);
  assert.equal(router.state, 'master');
  control.set('gw', 'free');
  assert.deepEqual(control.all(), {}, 'free: no control, nothing kept');
  assert.equal(control.role('gw'), 'free');

  control.configure([{ name: 'gw', managedBy: 'pacemaker' }, { name: 'db', managedBy: 'pacemaker' }, { name: 'web', managedBy: 'vigil' }]);
  assert.equal(control.role('gw'), 'free', 'a kept instance keeps its role');
  assert.equal(control.role('db'), 'stopped', 'an added Pacemaker instance starts stopped');
  assert.equal(control.role('web'), 'free');
  control.configure([{ name: 'db', managedBy: 'pacemaker' }]);
  assert.throws(() => control.set('gw', 'promoted'), /no instance is named "gw"/, 'a removed instance is forgotten');
  control.configure([{ name: 'gw', managedBy: 'pacemaker' }, { name: 'db', managedBy: 'pacemaker' }]);
  assert.equal(control.role('gw'), 'stopped', 'added back: stopped again, its old role forgotten');
});
