/**
 * Deterministic unit tests of the VRRP state machine (src/vrrp/router.ts) and of the
 * sync groups that drive it (src/vrrp/sync-group.ts), each named after the RFC 5798
 * (or RFC 3768, or keepalived) behaviour it checks. Time is explicit: every event is
 * delivered at a chosen `now` (ms), and every expected deadline is computed here from the
 * RFC formulas, independently of src/vrrp/timers.ts.
 *
 * The last section checks the receive checks that sit in front of the state machine
 * (src/vrrp/acceptance.ts: RFC 5798 §7.1 and RFC 3768 §7.1), which decide which adverts
 * reach `handle()` at all; docs/conformance.md points at them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip, type IpAddress } from '../src/net/address.js';
import { acceptAdvert, passwordAuthData, type AcceptancePolicy } from '../src/vrrp/acceptance.js';
import { decodeAdvert, encodeAdvert, EncodeError, type Advert, type AdvertV2, type AdvertV3, type ReceivedAdvert } from '../src/vrrp/codec.js';
import {
  VirtualRouter,
  type AnnounceConfig,
  type AnnounceReason,
  type RouterAction,
  type RouterConfig,
  type RouterEvent,
  type TransitionReason,
} from '../src/vrrp/router.js';
import { SyncGroup, type MemberActions } from '../src/vrrp/sync-group.js';
import {
  toConfiguredPriority,
  toPriority,
  toV2Interval,
  toV3Interval,
  toVrid,
  type RouterState,
} from '../src/vrrp/types.js';

// ---- the protocol's timing, computed from the RFC formulas -----------------------------

/** RFC 5798 §6.1: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256, in cs; here in ms. */
function skew(priority: number, intervalCs: number): number {
  return ((256 - priority) * intervalCs * 10) / 256;
}
/** RFC 5798 §6.1: Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time; in ms. */
function mdi(priority: number, intervalCs: number): number {
  return 3 * intervalCs * 10 + skew(priority, intervalCs);
}
/** RFC 3768 §6.1: Skew_Time = (256 - Priority) / 256 seconds; in ms. */
function skewV2(priority: number): number {
  return ((256 - priority) * 1000) / 256;
}
/** RFC 3768 §6.1: Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time; in ms. */
function mdiV2(priority: number, intervalSeconds: number): number {
  return 3 * intervalSeconds * 1000 + skewV2(priority);
}

// ---- fixtures ------------------------------------------------------------------------

const US = ip('10.213.0.2');
const LOWER_ADDR = ip('10.213.0.1');
const HIGHER_ADDR = ip('10.213.0.3');
const PEER = ip('10.213.0.9');
const VIP = ip('10.213.0.100');
const VRID = 51;

/** No master-delay burst, so the Adver_Timer is the only master timer unless a test asks. */
const ANNOUNCE: AnnounceConfig = {
  masterRepeat: 5,
  masterDelayMs: 0,
  masterRefreshMs: 0,
  masterRefreshRepeat: 1,
  lowerPriorityRepeat: 5,
  lowerPriorityDelayMs: 0,
};

function cfg(overrides: Partial<RouterConfig> = {}): RouterConfig {
  return {
    name: 'vi51',
    version: 3,
    family: 'ipv4',
    vrid: toVrid(VRID),
    priority: toConfiguredPriority(100),
    advertInterval: toV3Interval(100),
    preempt: true,
    preemptDelayMs: 0,
    acceptMode: false,
    primaryAddress: US,
    tracked: [],
    announce: ANNOUNCE,
    higherPrioritySendAdvert: false,
    lowerPriorityNoAdvert: false,
    ...overrides,
  };
}

function prio(n: number): RouterConfig['priority'] {
  return n === 0 ? toPriority(0) : toConfiguredPriority(n);
}

function v3(priority: number, intervalCs = 100, vrid = VRID): AdvertV3 {
  return {
    version: 3,
    family: 'ipv4',
    vrid: toVrid(vrid),
    priority: toPriority(priority),
    maxAdverInt: toV3Interval(intervalCs),
    reserved: 0,
    addresses: [VIP],
  };
}

function v2(priority: number, seconds = 1, vrid = VRID): AdvertV2 {
  return {
    version: 2,
    family: 'ipv4',
    vrid: toVrid(vrid),
    priority: toPriority(priority),
    adverIntSeconds: seconds,
    authType: 0,
    authData: new Uint8Array(8),
    addresses: [VIP],
  };
}

function advert(a: Advert, src: IpAddress = PEER): RouterEvent {
  return { type: 'advert', advert: a, src };
}

const STARTUP: RouterEvent = { type: 'startup' };
const SHUTDOWN: RouterEvent = { type: 'shutdown' };
const TICK: RouterEvent = { type: 'tick' };

// ---- expected actions, without the free-text `detail` ------------------------------

type Brief =
  | { type: 'state-change'; from: RouterState; to: RouterState; reason: TransitionReason }
  | { type: 'send-advert'; priority: number; interval: number }
  | { type: 'add-vips'; accept: boolean }
  | { type: 'remove-vips' }
  | { type: 'announce'; repeat: number; reason: AnnounceReason };

function brief(actions: readonly RouterAction[]): Brief[] {
  return actions.map((a): Brief => {
    switch (a.type) {
      case 'state-change':
        assert.ok(a.detail.length > 0, 'a state change explains itself');
        return { type: a.type, from: a.from, to: a.to, reason: a.reason };
      case 'send-advert':
        return { type: a.type, priority: a.priority, interval: a.interval };
      case 'add-vips':
        return { type: a.type, accept: a.accept };
      case 'remove-vips':
        return { type: a.type };
      case 'announce':
        return { type: a.type, repeat: a.repeat, reason: a.reason };
    }
  });
}

const sc = (from: RouterState, to: RouterState, reason: TransitionReason): Brief => ({ type: 'state-change', from, to, reason });
const send = (priority: number, interval = 100): Brief => ({ type: 'send-advert', priority, interval });
const addVips = (accept: boolean): Brief => ({ type: 'add-vips', accept });
const removeVips: Brief = { type: 'remove-vips' };
const announce = (repeat: number, reason: AnnounceReason): Brief => ({ type: 'announce', repeat, reason });

/** The actions of becoming master, after the state change (router.ts order). */
function takeover(priority: number, accept = false, repeat = 5, interval = 100): Brief[] {
  return [addVips(accept), send(priority, interval), announce(repeat, 'become-master')];
}

function started(overrides: Partial<RouterConfig> = {}, now = 0): VirtualRouter {
  const r = new VirtualRouter(cfg(overrides));
  r.handle(STARTUP, now);
  return r;
}

/** A non-owner (priority 100 by default) that became master when its Master_Down_Timer fired. */
function masterByTimeout(overrides: Partial<RouterConfig> = {}): { r: VirtualRouter; at: number } {
  const r = started(overrides);
  const at = r.nextDeadline();
  assert.ok(at !== undefined);
  r.handle(TICK, at);
  assert.equal(r.state, 'master');
  return { r, at };
}

// =====================================================================================
// §6.4.1 Initialize
// =====================================================================================

test('RFC 5798 §6.4.1: a non-owner goes Initialize -> Backup at startup, sends nothing, and sets the Master_Down_Timer to Master_Down_Interval', () => {
  const r = new VirtualRouter(cfg());
  assert.equal(r.state, 'initialize');
  assert.equal(r.nextDeadline(), undefined);
  const actions = r.handle(STARTUP, 0);
  assert.deepEqual(brief(actions), [sc('initialize', 'backup', 'startup')]);
  assert.equal(r.state, 'backup');
  assert.equal(r.nextDeadline(), mdi(100, 100)); // 3609.375 ms
  assert.equal(r.nextDeadline(), 3609.375);
  const s = r.status(0);
  assert.equal(s.masterAdverIntervalMs, 1000, 'Master_Adver_Interval is set to Advertisement_Interval');
  assert.equal(s.masterDownInMs, mdi(100, 100));
  assert.equal(s.advertInMs, null);
});

test('RFC 5798 §6.4.1: the Master_Down_Interval at startup uses this router\'s own priority and interval (priority 200, 50 cs)', () => {
  const r = started({ priority: prio(200), advertInterval: toV3Interval(50) }, 1000);
  assert.equal(r.nextDeadline(), 1000 + mdi(200, 50));
  assert.equal(r.nextDeadline(), 1000 + 1500 + 109.375);
});

test('RFC 5798 §6.4.1 (110): an address owner goes Master at startup, sends an advert and announces', () => {
  const r = new VirtualRouter(cfg({ priority: prio(255) }));
  const actions = r.handle(STARTUP, 0);
  assert.deepEqual(brief(actions), [sc('initialize', 'master', 'address-owner'), ...takeover(255, true)]);
  assert.equal(r.state, 'master');
  // "Set the Adver_Timer to Advertisement_Interval"
  assert.equal(r.nextDeadline(), 1000);
  assert.equal(r.stats.masterTransitions, 1);
  assert.equal(r.stats.newMasterReason, 'priority');
});

test('RFC 5798 §6.4.1: a second startup event while running changes nothing', () => {
  const r = started();
  const deadline = r.nextDeadline();
  assert.deepEqual(r.handle(STARTUP, 500), []);
  assert.equal(r.nextDeadline(), deadline);
});

test('RFC 5798 §6.4.1: events before startup (ticks, adverts) do nothing in Initialize', () => {
  const r = new VirtualRouter(cfg());
  assert.deepEqual(r.handle(TICK, 10_000), []);
  assert.deepEqual(r.handle(advert(v3(200)), 10_000), []);
  assert.deepEqual(r.handle(advert(v3(50)), 10_000), []);
  assert.equal(r.state, 'initialize');
  assert.equal(r.nextDeadline(), undefined);
});

// =====================================================================================
// §6.4.2 Backup
// =====================================================================================

test('RFC 5798 §6.4.2 (370)-(410): when the Master_Down_Timer fires, the backup becomes Master, sends an advert, announces (garp_master_repeat copies) and sets the Adver_Timer', () => {
  const r = started({ announce: { ...ANNOUNCE, masterRepeat: 3 } });
  const at = mdi(100, 100);
  assert.deepEqual(r.handle(TICK, at - 0.001), [], 'nothing before the timer');
  assert.equal(r.state, 'backup');
  const actions = r.handle(TICK, at);
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'master-down-timer'), ...takeover(100, false, 3)]);
  assert.equal(r.nextDeadline(), at + 1000, 'Adver_Timer = Advertisement_Interval');
  assert.equal(r.stats.newMasterReason, 'masterNoResponse');
  const s = r.status(at);
  assert.equal(s.advertInMs, 1000);
  assert.equal(s.masterDownInMs, null);
});

test('RFC 5798 §6.4.2 (370): a late tick still takes over once, at the time of the tick', () => {
  const r = started();
  const actions = r.handle(TICK, 5000);
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'master-down-timer'), ...takeover(100)]);
  assert.equal(r.nextDeadline(), 6000);
});

test('RFC 5798 §6.4.2 (450)-(460): an accepted advert resets the Master_Down_Timer to Master_Down_Interval', () => {
  const r = started();
  assert.deepEqual(r.handle(advert(v3(200)), 1000), []);
  assert.equal(r.nextDeadline(), 1000 + mdi(100, 100));
  // The original deadline passes without a takeover.
  assert.deepEqual(r.handle(TICK, mdi(100, 100)), []);
  assert.equal(r.state, 'backup');
  // Each further advert pushes it on again.
  for (let t = 2000; t <= 10_000; t += 1000) {
    assert.deepEqual(r.handle(advert(v3(200)), t), []);
    assert.deepEqual(r.handle(TICK, t), []);
    assert.equal(r.nextDeadline(), t + mdi(100, 100));
  }
  assert.equal(r.state, 'backup');
  assert.deepEqual(r.status(10_000).master, { address: PEER.text, priority: 200 });
  // The master falls silent: takeover one Master_Down_Interval after its last advert.
  const actions = r.handle(TICK, 10_000 + mdi(100, 100));
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'master-down-timer'), ...takeover(100)]);
});

test('RFC 5798 §6.4.2 (450): a VRRPv3 backup adopts the advert\'s Max Adver Int as Master_Adver_Interval, and its Master_Down_Timer uses it', () => {
  const r = started();
  r.handle(advert(v3(200, 50)), 1000);
  assert.equal(r.nextDeadline(), 1000 + mdi(100, 50)); // 1000 + 1500 + 304.6875
  assert.equal(r.nextDeadline(), 2804.6875);
  let s = r.status(1000);
  assert.equal(s.masterAdverIntervalMs, 500);
  assert.equal(s.skewTimeMs, skew(100, 50));
  assert.equal(s.masterDownIntervalMs, mdi(100, 50));
  assert.equal(s.advertIntervalMs, 1000, 'its own Advertisement_Interval is unchanged');
  // A slower master later: the backup follows it again.
  r.handle(advert(v3(200, 400)), 2000);
  assert.equal(r.nextDeadline(), 2000 + mdi(100, 400));
  s = r.status(2000);
  assert.equal(s.masterAdverIntervalMs, 4000);
  // When it takes over, it advertises its own interval, not the adopted one.
  const actions = r.handle(TICK, 2000 + mdi(100, 400));
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'master-down-timer'), ...takeover(100)]);
  assert.equal(r.nextDeadline(), 2000 + mdi(100, 400) + 1000);
});

test('RFC 3768 §6.1/§7.1: a VRRPv2 backup keeps its own Advertisement_Interval whatever the advert carries', () => {
  const r = started({ version: 2, advertInterval: toV2Interval(1) });
  assert.equal(r.nextDeadline(), mdiV2(100, 1));
  r.handle(advert(v2(200, 3)), 1000);
  assert.equal(r.nextDeadline(), 1000 + mdiV2(100, 1));
  assert.equal(r.status(1000).masterAdverIntervalMs, 1000);
});

test('RFC 3768 §6.1: VRRPv2 Skew_Time is (256 - Priority)/256 s whatever the interval (2 s interval, priority 100)', () => {
  const r = started({ version: 2, advertInterval: toV2Interval(2) });
  assert.equal(r.nextDeadline(), mdiV2(100, 2)); // 6000 + 609.375, not 6000 + 1218.75
  assert.equal(r.nextDeadline(), 6609.375);
  const s = r.status(0);
  assert.equal(s.skewTimeMs, 609.375);
  assert.equal(s.masterDownIntervalMs, 6609.375);
  const actions = r.handle(TICK, 6609.375);
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'master-down-timer'), ...takeover(100, false, 5, 200)]);
  assert.equal(r.nextDeadline(), 6609.375 + 2000);
});

test('RFC 5798 §6.4.2 (430): a priority-0 advert sets the Master_Down_Timer to Skew_Time; the takeover reason is master-stopped', () => {
  const r = started();
  r.handle(advert(v3(200)), 1000);
  assert.deepEqual(r.handle(advert(v3(0)), 1500), []);
  assert.equal(r.nextDeadline(), 1500 + skew(100, 100)); // 1500 + 609.375
  assert.equal(r.status(1500).master, null, 'the master has stopped');
  assert.deepEqual(r.handle(TICK, 1500 + skew(100, 100) - 0.001), []);
  const actions = r.handle(TICK, 1500 + skew(100, 100));
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'master-stopped'), ...takeover(100)]);
  assert.equal(r.stats.priorityZeroReceived, 1);
});

test('RFC 5798 §6.4.2 (430): Skew_Time after a priority-0 advert uses the adopted Master_Adver_Interval and the local priority', () => {
  const r = started({ priority: prio(200) });
  r.handle(advert(v3(250, 50)), 1000);
  r.handle(advert(v3(0, 50)), 1200);
  assert.equal(r.nextDeadline(), 1200 + skew(200, 50)); // 1200 + 109.375
});

test('RFC 5798 §6.4.2 (470): with Preempt_Mode true a lower-priority advert is discarded, and the backup preempts when its timer fires (reason preempt)', () => {
  const r = started();
  for (let t = 1000; t <= 3000; t += 1000) {
    assert.deepEqual(r.handle(advert(v3(50)), t), []);
    assert.equal(r.nextDeadline(), mdi(100, 100), 'the timer is not reset by a discarded advert');
  }
  assert.deepEqual(r.status(3000).master, { address: PEER.text, priority: 50 });
  const actions = r.handle(TICK, mdi(100, 100));
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'preempt'), ...takeover(100)]);
  assert.equal(r.stats.newMasterReason, 'preempted');
});

test('RFC 5798 §6.4.2 (450)-(460): with Preempt_Mode false (nopreempt) a lower-priority advert is accepted and resets the timer', () => {
  const r = started({ preempt: false });
  for (let t = 1000; t <= 20_000; t += 1000) {
    assert.deepEqual(r.handle(advert(v3(50)), t), []);
    assert.deepEqual(r.handle(TICK, t), []);
    assert.equal(r.nextDeadline(), t + mdi(100, 100));
  }
  assert.equal(r.state, 'backup');
  assert.deepEqual(r.status(20_000).master, { address: PEER.text, priority: 50 });
});

test('RFC 5798 §6.4.2: an advert at the local priority is accepted in Backup, whatever its source address', () => {
  for (const src of [LOWER_ADDR, HIGHER_ADDR]) {
    const r = started();
    r.handle(advert(v3(100), src), 1000);
    assert.equal(r.nextDeadline(), 1000 + mdi(100, 100), `from ${src.text}`);
    assert.deepEqual(r.status(1000).master, { address: src.text, priority: 100 });
  }
});

test('keepalived preempt_delay: lower-priority adverts are followed until preemptDelayMs after the first, then discarded; the backup preempts one Master_Down_Interval after the last one it followed', () => {
  const r = started({ preemptDelayMs: 5000 });
  // First lower advert at 1000: preempting is allowed from 6000.
  for (let t = 1000; t < 6000; t += 1000) {
    assert.deepEqual(r.handle(advert(v3(50)), t), []);
    assert.deepEqual(r.handle(TICK, t), []);
    assert.equal(r.nextDeadline(), t + mdi(100, 100), `followed at ${t}`);
  }
  const lastFollowed = 5000;
  for (let t = 6000; t <= 8000; t += 1000) {
    assert.deepEqual(r.handle(advert(v3(50)), t), []);
    assert.deepEqual(r.handle(TICK, t), []);
    assert.equal(r.nextDeadline(), lastFollowed + mdi(100, 100), `discarded at ${t}`);
  }
  const actions = r.handle(TICK, lastFollowed + mdi(100, 100));
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'preempt'), ...takeover(100)]);
});

test('keepalived preempt_delay: a higher-priority master in between starts the delay again', () => {
  const r = started({ preemptDelayMs: 5000 });
  r.handle(advert(v3(50)), 1000); // delay runs to 6000
  r.handle(advert(v3(200)), 2000); // a higher master: delay forgotten
  r.handle(advert(v3(50)), 7000); // a lower one again: followed until 12000
  assert.equal(r.nextDeadline(), 7000 + mdi(100, 100));
  r.handle(advert(v3(50)), 8000);
  assert.equal(r.nextDeadline(), 8000 + mdi(100, 100));
});

test('keepalived preempt_delay: the delay starts again when the backup comes back from Fault or from a restart', () => {
  for (const [away, back] of [
    [{ type: 'interface', up: false }, { type: 'interface', up: true }],
    [SHUTDOWN, STARTUP],
  ] as const) {
    const r = started({ preemptDelayMs: 5000 });
    r.handle(advert(v3(50)), 1000); // first lower advert: preempting allowed from 6000
    r.handle(away, 2000);
    r.handle(back, 100_000);
    assert.equal(r.state, 'backup');
    // Back on the link, the lower master is seen for the first time since: it is followed until 106000.
    for (let t = 101_000; t < 106_000; t += 1000) {
      r.handle(advert(v3(50)), t);
      assert.equal(r.nextDeadline(), t + mdi(100, 100), `${away.type}: lower advert at ${t} followed (delay runs from 101000)`);
    }
  }
});

test('RFC 5798 §6.4.2 (350)-(355): Shutdown in Backup cancels the Master_Down_Timer and goes Initialize without an advert', () => {
  const r = started();
  r.handle(advert(v3(200)), 1000);
  const actions = r.handle(SHUTDOWN, 1500);
  assert.deepEqual(brief(actions), [sc('backup', 'initialize', 'shutdown')]);
  assert.equal(r.state, 'initialize');
  assert.equal(r.nextDeadline(), undefined);
  assert.deepEqual(r.handle(TICK, 100_000), []);
  assert.equal(r.stats.advertsSent, 0);
});

test('RFC 5798 §6.4.2 (340): a backup never installs the virtual addresses (no add-vips while Backup)', () => {
  const r = started({ acceptMode: true });
  const all: RouterAction[] = [];
  for (let t = 1000; t <= 10_000; t += 1000) {
    all.push(...r.handle(advert(v3(200)), t), ...r.handle(TICK, t));
  }
  assert.deepEqual(all, []);
});

test('multicast loopback: an advert from our own primary address is ignored', () => {
  const r = started();
  assert.deepEqual(r.handle(advert(v3(200), US), 1000), []);
  assert.equal(r.nextDeadline(), mdi(100, 100));
  const m = masterByTimeout();
  assert.deepEqual(m.r.handle(advert(v3(200), US), m.at + 10), []);
  assert.equal(m.r.state, 'master');
});

// =====================================================================================
// §6.4.3 Master
// =====================================================================================

test('RFC 5798 §6.4.3 (685)-(690): the Adver_Timer re-fires every Advertisement_Interval, one advert each time', () => {
  const r = started({ priority: prio(255) });
  for (let t = 1000; t <= 10_000; t += 1000) {
    assert.deepEqual(r.handle(TICK, t - 1), []);
    assert.deepEqual(brief(r.handle(TICK, t)), [send(255)]);
    assert.equal(r.nextDeadline(), t + 1000);
  }
  assert.equal(r.stats.advertsSent, 11);
});

test('RFC 5798 §6.4.3 (685)-(690): a 10 ms interval re-fires every 10 ms', () => {
  const { r, at } = masterByTimeout({ advertInterval: toV3Interval(1) });
  assert.equal(at, mdi(100, 1));
  for (let i = 1; i <= 5; i++) {
    assert.deepEqual(brief(r.handle(TICK, at + 10 * i)), [send(100, 1)]);
    assert.equal(r.nextDeadline(), at + 10 * (i + 1));
  }
});

test('RFC 5798 §6.4.3 (685): a tick that is late by several intervals sends one advert and re-anchors, not a burst', () => {
  const r = started({ priority: prio(255) });
  assert.deepEqual(brief(r.handle(TICK, 1500)), [send(255)]);
  assert.equal(r.nextDeadline(), 2000, 'late by less than an interval: the cadence is kept');
  assert.deepEqual(brief(r.handle(TICK, 5500)), [send(255)]);
  assert.equal(r.nextDeadline(), 6500);
});

test('RFC 5798 §6.4.3 (710)-(715): a priority-0 advert makes the master send an advert at once at its own priority and reset the Adver_Timer', () => {
  const { r, at } = masterByTimeout();
  const t = at + 400;
  assert.deepEqual(brief(r.handle(advert(v3(0)), t)), [send(100)]);
  assert.equal(r.state, 'master');
  assert.equal(r.nextDeadline(), t + 1000);
  assert.deepEqual(r.handle(TICK, at + 1000), [], 'the old deadline is gone');
  assert.deepEqual(brief(r.handle(TICK, t + 1000)), [send(100)]);
});

test('RFC 5798 §6.4.3 (725)-(765): a higher-priority advert sends the master to Backup: Adver_Timer cancelled, VIPs removed, Master_Down_Timer from the advert\'s interval', () => {
  const { r, at } = masterByTimeout();
  const t = at + 300;
  const actions = r.handle(advert(v3(200, 50)), t);
  assert.deepEqual(brief(actions), [sc('master', 'backup', 'higher-priority-advert'), removeVips]);
  assert.equal(r.state, 'backup');
  assert.equal(r.nextDeadline(), t + mdi(100, 50)); // + 1500 + 304.6875
  const s = r.status(t);
  assert.equal(s.masterAdverIntervalMs, 500);
  assert.equal(s.skewTimeMs, skew(100, 50));
  assert.equal(s.advertInMs, null);
  assert.deepEqual(s.master, { address: PEER.text, priority: 200 });
  assert.deepEqual(r.handle(TICK, at + 1000), [], 'no advert after stepping down');
});

test('RFC 3768 §6.4.3: a VRRPv2 master yielding keeps its own interval for the Master_Down_Timer', () => {
  const { r, at } = masterByTimeout({ version: 2, advertInterval: toV2Interval(1) });
  assert.equal(at, mdiV2(100, 1));
  const actions = r.handle(advert(v2(200, 1)), at + 100);
  assert.deepEqual(brief(actions), [sc('master', 'backup', 'higher-priority-advert'), removeVips]);
  assert.equal(r.nextDeadline(), at + 100 + mdiV2(100, 1));
});

test('RFC 5798 §6.4.3 (735): an advert at equal priority from a higher primary address sends the master to Backup', () => {
  const { r, at } = masterByTimeout();
  const actions = r.handle(advert(v3(100), HIGHER_ADDR), at + 100);
  assert.deepEqual(brief(actions), [sc('master', 'backup', 'higher-priority-advert'), removeVips]);
  assert.equal(r.nextDeadline(), at + 100 + mdi(100, 100));
  assert.deepEqual(r.status(at + 100).master, { address: HIGHER_ADDR.text, priority: 100 });
});

test('RFC 5798 §6.4.3 (735): the address comparison is unsigned, in network byte order (10.213.0.128 > 10.213.0.2)', () => {
  const { r, at } = masterByTimeout();
  assert.deepEqual(brief(r.handle(advert(v3(100), ip('10.213.0.128')), at + 100)), [sc('master', 'backup', 'higher-priority-advert'), removeVips]);
  const m = masterByTimeout({ primaryAddress: ip('10.213.0.200') });
  assert.deepEqual(brief(m.r.handle(advert(v3(100), ip('10.213.0.128')), m.at + 100)).map((a) => a.type), ['send-advert', 'announce']);
  assert.equal(m.r.state, 'master');
});

test('RFC 5798 §6.4.3 (775) + keepalived: an equal-priority advert from a lower address is discarded; the master stays, answers with an advert and re-announces', () => {
  const { r, at } = masterByTimeout();
  const t = at + 200;
  const actions = r.handle(advert(v3(100), LOWER_ADDR), t);
  assert.deepEqual(brief(actions), [send(100), announce(5, 'lower-priority-advert')]);
  assert.equal(r.state, 'master');
  assert.equal(r.nextDeadline(), t + 1000, 'the answer advert resets the Adver_Timer');
});

test('RFC 5798 §6.4.3 (775) + keepalived garp_lower_prio_repeat: a lower-priority advert is answered; the announce is sent at most once per advertisement interval', () => {
  const { r, at } = masterByTimeout();
  const t = at + 100;
  assert.deepEqual(brief(r.handle(advert(v3(50)), t)), [send(100), announce(5, 'lower-priority-advert')]);
  assert.deepEqual(brief(r.handle(advert(v3(50)), t + 300)), [send(100)]);
  assert.deepEqual(brief(r.handle(advert(v3(50)), t + 999)), [send(100)]);
  assert.deepEqual(brief(r.handle(advert(v3(50)), t + 1000)), [send(100), announce(5, 'lower-priority-advert')]);
  assert.deepEqual(brief(r.handle(advert(v3(50)), t + 1500)), [send(100)]);
  assert.deepEqual(brief(r.handle(advert(v3(50)), t + 2000)), [send(100), announce(5, 'lower-priority-advert')]);
  assert.equal(r.state, 'master');
});

test('garp_lower_prio_delay: a second burst follows the LAST lower-priority advert by the delay; stepping down or repeat 0 cancels it', () => {
  const { r, at } = masterByTimeout({ announce: { ...ANNOUNCE, lowerPriorityDelayMs: 150 } });
  const t = at + 100;
  assert.deepEqual(brief(r.handle(advert(v3(50)), t)), [send(100), announce(5, 'lower-priority-advert')]);
  assert.equal(r.nextDeadline(), t + 150);
  // A second spurious advert (its sender stalled again) pushes the corrective burst back.
  assert.deepEqual(brief(r.handle(advert(v3(50)), t + 100)), [send(100)]);
  assert.equal(r.nextDeadline(), t + 250);
  assert.deepEqual(brief(r.handle({ type: 'tick' }, t + 249)), []);
  assert.deepEqual(brief(r.handle({ type: 'tick' }, t + 250)), [announce(5, 'lower-priority-delay')]);
  assert.equal(r.nextDeadline(), t + 100 + 1000, 'only the Adver_Timer is left');
  // A higher-priority master arrives before the delayed burst: it never goes.
  r.handle(advert(v3(50)), t + 400);
  r.handle(advert(v3(200)), t + 410);
  assert.equal(r.state, 'backup');
  assert.deepEqual(brief(r.handle({ type: 'tick' }, t + 550)).filter((a) => a.type === 'announce'), []);
  const none = masterByTimeout({ announce: { ...ANNOUNCE, lowerPriorityRepeat: 0, lowerPriorityDelayMs: 150 } });
  none.r.handle(advert(v3(50)), none.at + 100);
  assert.equal(none.r.nextDeadline(), none.at + 100 + 1000, 'repeat 0: no delayed burst either');
});

test('keepalived garp_lower_prio_repeat 0: a lower-priority advert is answered with an advert only', () => {
  const { r, at } = masterByTimeout({ announce: { ...ANNOUNCE, lowerPriorityRepeat: 0 } });
  assert.deepEqual(brief(r.handle(advert(v3(50)), at + 100)), [send(100)]);
});

test('keepalived higher_prio_send_advert: the master sends an advert at its priority before yielding, and (beyond keepalived) again one and two Advertisement_Intervals later while backup', () => {
  const { r, at } = masterByTimeout({ higherPrioritySendAdvert: true });
  const actions = r.handle(advert(v3(200)), at + 100);
  assert.deepEqual(brief(actions), [send(100), sc('master', 'backup', 'higher-priority-advert'), removeVips]);
  // The new master hears our lower priority even if one or two of these are lost, and re-announces.
  assert.equal(r.nextDeadline(), at + 1100);
  assert.deepEqual(brief(r.handle(advert(v3(200)), at + 1050)), [], 'the new master\'s adverts do not cancel the repeats');
  const repeat = r.handle(TICK, at + 1100);
  assert.deepEqual(brief(repeat), [send(100)]);
  assert.equal(repeat[0]?.type === 'send-advert' ? repeat[0].to?.text : undefined, PEER.text, 'to the new master alone, not to the group (other backups would take it for the master\'s)');
  assert.deepEqual(brief(r.handle(TICK, at + 2100)), [send(100)]);
  assert.equal(r.nextDeadline(), at + 1050 + mdi(100, 100), 'no third repeat: the Master_Down_Timer is next');
  assert.equal(r.stats.advertsSent > 0, true);

  // Without the option: no advert on yielding, no repeats.
  const quiet = masterByTimeout({ higherPrioritySendAdvert: false });
  assert.deepEqual(brief(quiet.r.handle(advert(v3(200)), quiet.at + 100)), [sc('master', 'backup', 'higher-priority-advert'), removeVips]);
  assert.equal(quiet.r.nextDeadline(), quiet.at + 100 + mdi(100, 100));

  // No repeats configured (an instance on a virtual MAC): the one advert on yielding only.
  const once = masterByTimeout({ higherPrioritySendAdvert: true, stepDownAdvertRepeats: 0 });
  assert.deepEqual(brief(once.r.handle(advert(v3(200)), once.at + 100)), [send(100), sc('master', 'backup', 'higher-priority-advert'), removeVips]);
  assert.equal(once.r.nextDeadline(), once.at + 100 + mdi(100, 100), 'no repeat: the Master_Down_Timer is next');

  // Master again before the repeats are done (the new master went silent): the repeats stop.
  const again = masterByTimeout({ higherPrioritySendAdvert: true });
  again.r.handle(advert(v3(200)), again.at + 100);
  again.r.handle(TICK, again.at + 100 + mdi(100, 100));
  assert.equal(again.r.state, 'master');
  assert.deepEqual(brief(again.r.handle(TICK, again.at + 100 + mdi(100, 100) + 1000)), [send(100)], 'the Adver_Timer only');
});

test('keepalived lower_prio_no_advert: a lower-priority advert gets no answer advert (the announce stays) and the Adver_Timer keeps its cadence', () => {
  const { r, at } = masterByTimeout({ lowerPriorityNoAdvert: true });
  assert.deepEqual(brief(r.handle(advert(v3(50)), at + 100)), [announce(5, 'lower-priority-advert')]);
  assert.equal(r.nextDeadline(), at + 1000);
  assert.deepEqual(brief(r.handle(advert(v3(50)), at + 200)), []);
});

test('RFC 5798 §6.4.3 (660)-(670): Shutdown in Master cancels the Adver_Timer, sends priority 0, removes the VIPs and goes Initialize', () => {
  const { r, at } = masterByTimeout();
  const actions = r.handle(SHUTDOWN, at + 500);
  assert.deepEqual(brief(actions), [send(0), removeVips, sc('master', 'initialize', 'shutdown')]);
  assert.equal(r.nextDeadline(), undefined);
  assert.deepEqual(r.handle(TICK, at + 5000), []);
  assert.equal(r.stats.priorityZeroSent, 1);
  assert.deepEqual(r.handle(SHUTDOWN, at + 600), [], 'a second shutdown does nothing');
});

test('RFC 5798 §6.4.1 after Shutdown: startup again works (backup with a fresh Master_Down_Timer; an owner goes straight back to Master)', () => {
  const { r } = masterByTimeout();
  r.handle(SHUTDOWN, 10_000);
  assert.deepEqual(brief(r.handle(STARTUP, 20_000)), [sc('initialize', 'backup', 'startup')]);
  assert.equal(r.nextDeadline(), 20_000 + mdi(100, 100));
  // The adopted interval of an earlier master does not survive a restart.
  r.handle(advert(v3(200, 50)), 21_000);
  r.handle(SHUTDOWN, 22_000);
  r.handle(STARTUP, 30_000);
  assert.equal(r.nextDeadline(), 30_000 + mdi(100, 100));
  const owner = started({ priority: prio(255) });
  owner.handle(SHUTDOWN, 5000);
  assert.deepEqual(brief(owner.handle(STARTUP, 6000)), [sc('initialize', 'master', 'address-owner'), ...takeover(255, true)]);
  assert.equal(owner.nextDeadline(), 7000);
});

test('RFC 5798 §6.4.3 (650): add-vips.accept equals Accept_Mode for a non-owner, and is always true for the address owner', () => {
  for (const acceptMode of [false, true]) {
    const { r, at } = masterByTimeout({ acceptMode });
    assert.equal(at, mdi(100, 100));
    const owner = new VirtualRouter(cfg({ priority: prio(255), acceptMode }));
    const ownerAdd: RouterAction | undefined = owner.handle(STARTUP, 0).find((a) => a.type === 'add-vips');
    assert.deepEqual(ownerAdd, { type: 'add-vips', accept: true }, `owner, acceptMode ${acceptMode}`);
    // A non-owner that becomes master a second time (after a higher advert) gets the same flag.
    r.handle(advert(v3(200)), at + 10);
    const again: RouterAction | undefined = r.handle(TICK, at + 10 + mdi(100, 100)).find((a) => a.type === 'add-vips');
    assert.deepEqual(again, { type: 'add-vips', accept: acceptMode }, `non-owner, acceptMode ${acceptMode}`);
  }
});

// =====================================================================================
// Announcements (gratuitous ARP / unsolicited NA timing, keepalived garp_master_*)
// =====================================================================================

test('keepalived garp_master_delay: a second burst of garp_master_repeat copies masterDelayMs after becoming master, once', () => {
  const r = new VirtualRouter(cfg({ priority: prio(255), announce: { ...ANNOUNCE, masterRepeat: 3, masterDelayMs: 2500 } }));
  assert.deepEqual(brief(r.handle(STARTUP, 0)), [sc('initialize', 'master', 'address-owner'), ...takeover(255, true, 3)]);
  assert.equal(r.nextDeadline(), 1000);
  assert.deepEqual(brief(r.handle(TICK, 1000)), [send(255)]);
  assert.deepEqual(brief(r.handle(TICK, 2000)), [send(255)]);
  assert.equal(r.nextDeadline(), 2500);
  assert.deepEqual(brief(r.handle(TICK, 2500)), [announce(3, 'master-delay')]);
  assert.equal(r.nextDeadline(), 3000);
  const later: Brief[] = [];
  for (let t = 3000; t <= 20_000; t += 500) later.push(...brief(r.handle(TICK, t)));
  assert.ok(later.every((a) => a.type === 'send-advert'), 'no further bursts');
});

test('keepalived garp_master_delay: the delayed burst falls due with an advert: advert first, then the burst', () => {
  const r = started({ priority: prio(255), announce: { ...ANNOUNCE, masterDelayMs: 5000 } });
  for (let t = 1000; t < 5000; t += 1000) assert.deepEqual(brief(r.handle(TICK, t)), [send(255)]);
  assert.deepEqual(brief(r.handle(TICK, 5000)), [send(255), announce(5, 'master-delay')]);
  assert.deepEqual(brief(r.handle(TICK, 6000)), [send(255)]);
});

test('keepalived garp_master_delay: a master that steps down before the delayed burst never sends it', () => {
  const { r, at } = masterByTimeout({ announce: { ...ANNOUNCE, masterDelayMs: 5000 } });
  r.handle(advert(v3(200)), at + 100);
  for (let t = at + 200; t <= at + 6000; t += 100) {
    r.handle(advert(v3(200)), t);
    assert.deepEqual(r.handle(TICK, t), []);
  }
});

test('keepalived garp_master_refresh: refresh bursts every masterRefreshMs with garp_master_refresh_repeat copies', () => {
  const r = started({
    priority: prio(255),
    announce: { ...ANNOUNCE, masterRefreshMs: 3000, masterRefreshRepeat: 2 },
  });
  const refreshes: number[] = [];
  for (let t = 500; t <= 12_000; t += 500) {
    for (const a of brief(r.handle(TICK, t))) {
      if (a.type === 'announce') {
        assert.deepEqual(a, announce(2, 'refresh'));
        refreshes.push(t);
      }
    }
  }
  assert.deepEqual(refreshes, [3000, 6000, 9000, 12_000]);
});

test('keepalived garp_master_refresh 0 and garp_master_delay 0: no announce after the one on becoming master', () => {
  const r = new VirtualRouter(cfg({ priority: prio(255) }));
  const first = brief(r.handle(STARTUP, 0)).filter((a) => a.type === 'announce');
  assert.deepEqual(first, [announce(5, 'become-master')]);
  const later: Brief[] = [];
  for (let t = 100; t <= 60_000; t += 100) later.push(...brief(r.handle(TICK, t)));
  assert.equal(later.length, 60);
  assert.ok(later.every((a) => a.type === 'send-advert'));
});

test('keepalived garp_master_repeat 0: no announce on becoming master', () => {
  const r = started({ announce: { ...ANNOUNCE, masterRepeat: 0, masterDelayMs: 1000 } });
  assert.deepEqual(brief(r.handle(TICK, mdi(100, 100))), [sc('backup', 'master', 'master-down-timer'), addVips(false), send(100)]);
  const owner = new VirtualRouter(cfg({ priority: prio(255), announce: { ...ANNOUNCE, masterRepeat: 0, masterDelayMs: 1500 } }));
  assert.deepEqual(brief(owner.handle(STARTUP, 0)), [sc('initialize', 'master', 'address-owner'), addVips(true), send(255)]);
  assert.deepEqual(brief(owner.handle(TICK, 1000)), [send(255)]);
  assert.deepEqual(brief(owner.handle(TICK, 1500)), [], 'nor a delayed burst of zero copies');
});

test('keepalived garp_master_refresh: a tick late by more than a whole refresh period sends one refresh burst, not two (like the Adver_Timer)', () => {
  const r = started({ priority: prio(255), announce: { ...ANNOUNCE, masterRefreshMs: 3000, masterRefreshRepeat: 2 } });
  // The daemon's loop stalls: the first tick comes at 7000, with the refresh due at 3000.
  const actions = brief(r.handle(TICK, 7000));
  assert.deepEqual(actions.filter((a) => a.type === 'send-advert'), [send(255)]);
  assert.deepEqual(actions.filter((a) => a.type === 'announce'), [announce(2, 'refresh')]);
});

// =====================================================================================
// FAULT (keepalived)
// =====================================================================================

test('keepalived FAULT: interface down in Backup -> Fault with no timer; interface up -> Backup exactly once with a fresh Master_Down_Timer', () => {
  const r = started();
  assert.deepEqual(brief(r.handle({ type: 'interface', up: false }, 1000)), [sc('backup', 'fault', 'fault')]);
  assert.equal(r.nextDeadline(), undefined);
  assert.deepEqual(r.status(1000).faults, ['interface down']);
  assert.deepEqual(r.handle({ type: 'interface', up: false }, 1100), [], 'repeated down: nothing');
  assert.deepEqual(r.handle(TICK, 100_000), []);
  assert.deepEqual(r.handle(advert(v3(200)), 100_000), [], 'adverts are ignored in Fault');
  assert.deepEqual(brief(r.handle({ type: 'interface', up: true }, 200_000)), [sc('fault', 'backup', 'fault-cleared')]);
  assert.equal(r.nextDeadline(), 200_000 + mdi(100, 100));
  for (let i = 1; i <= 5; i++) {
    assert.deepEqual(r.handle({ type: 'interface', up: true }, 200_000 + i), [], 'repeated up: no fault/backup loop');
  }
  assert.equal(r.state, 'backup');
});

test('keepalived FAULT: interface down in Master removes the VIPs without a priority-0 advert (the link is gone)', () => {
  const { r, at } = masterByTimeout();
  const actions = r.handle({ type: 'interface', up: false }, at + 100);
  assert.deepEqual(brief(actions), [removeVips, sc('master', 'fault', 'fault')]);
  assert.equal(r.nextDeadline(), undefined);
  assert.equal(r.stats.priorityZeroSent, 0);
  assert.deepEqual(brief(r.handle({ type: 'interface', up: true }, at + 5000)), [sc('fault', 'backup', 'fault-cleared')]);
});

test('keepalived FAULT: a weight-0 tracker going down in Master sends priority 0 (the link is up), removes the VIPs and goes Fault; back up -> Backup', () => {
  const { r, at } = masterByTimeout({ tracked: [{ name: 'haproxy', weight: 0 }] });
  const actions = r.handle({ type: 'tracker', name: 'haproxy', up: false }, at + 100);
  assert.deepEqual(brief(actions), [send(0), removeVips, sc('master', 'fault', 'fault')]);
  assert.deepEqual(r.status(at + 100).faults, ['haproxy down']);
  assert.deepEqual(r.handle({ type: 'tracker', name: 'haproxy', up: false }, at + 200), []);
  assert.deepEqual(brief(r.handle({ type: 'tracker', name: 'haproxy', up: true }, at + 300)), [sc('fault', 'backup', 'fault-cleared')]);
  assert.equal(r.nextDeadline(), at + 300 + mdi(100, 100));
  assert.deepEqual(r.handle({ type: 'tracker', name: 'haproxy', up: true }, at + 400), []);
});

test('keepalived FAULT: a weight-0 tracker down in Backup -> Fault; a tracker that is not configured changes nothing', () => {
  const r = started({ tracked: [{ name: 'chk', weight: 0 }] });
  assert.deepEqual(r.handle({ type: 'tracker', name: 'unrelated', up: false }, 500), []);
  assert.deepEqual(brief(r.handle({ type: 'tracker', name: 'chk', up: false }, 1000)), [sc('backup', 'fault', 'fault')]);
});

test('keepalived FAULT: with two causes, clearing one keeps Fault silently; clearing both leaves it once', () => {
  const r = started({ tracked: [{ name: 'chk', weight: 0 }] });
  r.handle({ type: 'interface', up: false }, 1000);
  assert.deepEqual(r.handle({ type: 'tracker', name: 'chk', up: false }, 1100), []);
  assert.deepEqual(r.status(1100).faults, ['interface down', 'chk down']);
  assert.deepEqual(r.handle({ type: 'interface', up: true }, 1200), []);
  assert.equal(r.state, 'fault');
  assert.deepEqual(brief(r.handle({ type: 'tracker', name: 'chk', up: true }, 1300)), [sc('fault', 'backup', 'fault-cleared')]);
});

test('keepalived FAULT: startup with the interface down goes Fault; it comes up -> Backup', () => {
  const r = new VirtualRouter(cfg());
  assert.deepEqual(r.handle({ type: 'interface', up: false }, 0), [], 'nothing to do in Initialize');
  assert.deepEqual(brief(r.handle(STARTUP, 10)), [sc('initialize', 'fault', 'fault')]);
  assert.equal(r.nextDeadline(), undefined);
  assert.deepEqual(brief(r.handle({ type: 'interface', up: true }, 2000)), [sc('fault', 'backup', 'fault-cleared')]);
  assert.equal(r.nextDeadline(), 2000 + mdi(100, 100));
});

test('keepalived FAULT: an owner leaving Fault goes straight back to Master', () => {
  const r = started({ priority: prio(255) });
  assert.deepEqual(brief(r.handle({ type: 'interface', up: false }, 100)), [removeVips, sc('master', 'fault', 'fault')]);
  assert.deepEqual(brief(r.handle({ type: 'interface', up: true }, 200)), [sc('fault', 'master', 'address-owner'), ...takeover(255, true)]);
});

test('keepalived FAULT then Shutdown: Fault -> Initialize without an advert', () => {
  const r = started();
  r.handle({ type: 'interface', up: false }, 100);
  assert.deepEqual(brief(r.handle(SHUTDOWN, 200)), [sc('fault', 'initialize', 'shutdown')]);
});

// =====================================================================================
// Effective priority (keepalived tracking)
// =====================================================================================

test('keepalived tracking: effective priority = base + positive weights while up + negative weights while down', () => {
  const r = started({
    tracked: [
      { name: 'up-bonus', weight: 20 },
      { name: 'down-penalty', weight: -30 },
    ],
  });
  assert.equal(r.effectivePriority, 120, 'all up: +20');
  r.handle({ type: 'tracker', name: 'down-penalty', up: false }, 100);
  assert.equal(r.effectivePriority, 90, '+20 -30');
  r.handle({ type: 'tracker', name: 'up-bonus', up: false }, 200);
  assert.equal(r.effectivePriority, 70, '-30');
  r.handle({ type: 'tracker', name: 'down-penalty', up: true }, 300);
  assert.equal(r.effectivePriority, 100, 'base');
  const s = r.status(300);
  assert.equal(s.basePriority, 100);
  assert.equal(s.effectivePriority, 100);
});

test('keepalived tracking / RFC 5798 §5.2.4: the effective priority is clamped to 1..254 and never reaches 255', () => {
  const high = started({ priority: prio(240), tracked: [{ name: 'a', weight: 50 }] });
  assert.equal(high.effectivePriority, 254);
  const low = started({ priority: prio(10), tracked: [{ name: 'a', weight: -50 }] });
  low.handle({ type: 'tracker', name: 'a', up: false }, 100);
  assert.equal(low.effectivePriority, 1);
  const reload = started({ tracked: [{ name: 'a', weight: 100 }] });
  reload.handle({ type: 'set-priority', priority: prio(200) }, 100);
  assert.equal(reload.effectivePriority, 254);
  assert.equal(reload.status(100).basePriority, 200);
});

test('RFC 5798 §5.2.4: an address owner (255) is never changed by tracking', () => {
  const r = started({ priority: prio(255), tracked: [{ name: 'a', weight: -50 }, { name: 'b', weight: 10 }] });
  assert.equal(r.effectivePriority, 255);
  assert.deepEqual(r.handle({ type: 'tracker', name: 'a', up: false }, 100), [], 'no new advert: the priority did not change');
  assert.equal(r.effectivePriority, 255);
  r.handle({ type: 'tracker', name: 'b', up: false }, 200);
  assert.equal(r.effectivePriority, 255);
  assert.equal(r.state, 'master');
});

test('keepalived tracking: a master whose effective priority changes sends an advert with the new priority at once and resets the Adver_Timer', () => {
  const { r, at } = masterByTimeout({ tracked: [{ name: 'chk', weight: -30 }] });
  const t = at + 250;
  assert.deepEqual(brief(r.handle({ type: 'tracker', name: 'chk', up: false }, t)), [send(70)]);
  assert.equal(r.nextDeadline(), t + 1000);
  assert.deepEqual(r.handle({ type: 'tracker', name: 'chk', up: false }, t + 10), [], 'no change, no advert');
  assert.deepEqual(brief(r.handle(TICK, t + 1000)), [send(70)]);
  assert.deepEqual(brief(r.handle({ type: 'tracker', name: 'chk', up: true }, t + 1100)), [send(100)]);
  assert.deepEqual(brief(r.handle({ type: 'set-priority', priority: prio(150) }, t + 1200)), [send(150)]);
  assert.equal(r.state, 'master');
});

test('keepalived tracking: a master whose priority falls below a peer yields to the peer\'s next advert', () => {
  const { r, at } = masterByTimeout({ tracked: [{ name: 'chk', weight: -30 }] });
  // A peer at 90 is lower than us: answered.
  assert.deepEqual(brief(r.handle(advert(v3(90)), at + 100)).map((a) => a.type), ['send-advert', 'announce']);
  r.handle({ type: 'tracker', name: 'chk', up: false }, at + 200); // 70 now
  assert.deepEqual(brief(r.handle(advert(v3(90)), at + 300)), [sc('master', 'backup', 'higher-priority-advert'), removeVips]);
  assert.equal(r.nextDeadline(), at + 300 + mdi(70, 100));
});

test('RFC 5798 §6.1 with tracking: Skew_Time and Master_Down_Interval in status() follow the effective priority', () => {
  const r = started({ tracked: [{ name: 'chk', weight: -60 }] });
  let s = r.status(0);
  assert.equal(s.skewTimeMs, skew(100, 100));
  assert.equal(s.masterDownIntervalMs, mdi(100, 100));
  r.handle({ type: 'tracker', name: 'chk', up: false }, 100);
  s = r.status(100);
  assert.equal(s.effectivePriority, 40);
  assert.equal(s.skewTimeMs, skew(40, 100)); // 843.75
  assert.equal(s.masterDownIntervalMs, mdi(40, 100));
  // The next accepted advert arms the timer with the new Master_Down_Interval.
  r.handle(advert(v3(200)), 1000);
  assert.equal(r.nextDeadline(), 1000 + mdi(40, 100));
});

test('RFC 5798 §6.4.2 with tracking: a backup whose effective priority rises above the master\'s discards its adverts and preempts', () => {
  const r = started({ tracked: [{ name: 'bonus', weight: 100 }] });
  r.handle({ type: 'tracker', name: 'bonus', up: false }, 0); // 100
  r.handle(advert(v3(150)), 1000);
  assert.equal(r.nextDeadline(), 1000 + mdi(100, 100));
  r.handle({ type: 'tracker', name: 'bonus', up: true }, 1500); // 200
  r.handle(advert(v3(150)), 2000);
  assert.equal(r.nextDeadline(), 1000 + mdi(100, 100), 'discarded: the timer keeps running');
  const actions = r.handle(TICK, 1000 + mdi(100, 100));
  assert.deepEqual(brief(actions), [sc('backup', 'master', 'preempt'), ...takeover(200)]);
});

// =====================================================================================
// Sync groups (keepalived vrrp_sync_group)
// =====================================================================================

function pair(): { group: SyncGroup; a: VirtualRouter; b: VirtualRouter } {
  const a = new VirtualRouter(cfg({ name: 'a', vrid: toVrid(1) }));
  const b = new VirtualRouter(cfg({ name: 'b', vrid: toVrid(2) }));
  const group = new SyncGroup('g', [a, b]);
  group.handle(a, STARTUP, 0);
  group.handle(b, STARTUP, 0);
  return { group, a, b };
}

function moves(results: readonly MemberActions[]): [string, Brief[]][] {
  return results.map((m) => [m.router.config.name, brief(m.actions)]);
}

test('keepalived vrrp_sync_group: when one member\'s Master_Down_Timer fires and the other hears no master either, both become master together', () => {
  const { group, a, b } = pair();
  assert.ok(group.has(a) && group.has(b));
  const at = mdi(100, 100);
  const results = group.handle(a, TICK, at);
  assert.deepEqual(moves(results), [
    ['a', [sc('backup', 'master', 'master-down-timer'), ...takeover(100)]],
    ['b', [sc('backup', 'master', 'sync-group'), ...takeover(100)]],
  ]);
  assert.deepEqual(moves(group.handle(b, TICK, at)), [['b', []]], 'b\'s own timer is gone');
  assert.equal(b.nextDeadline(), at + 1000);
});

test('keepalived vrrp_sync_group (gate): a member whose timer fires stays backup while the other still hears a master, and goes with it when that master falls silent', () => {
  const { group, a, b } = pair();
  // a hears a master for VRID 1 every second; b hears nothing for VRID 2.
  for (const t of [1000, 2000, 3000]) group.handle(a, advert(v3(200, 100, 1)), t);
  assert.equal(b.nextDeadline(), mdi(100, 100));
  assert.deepEqual(moves(group.handle(b, TICK, mdi(100, 100))), [['b', []]], 'b held back');
  assert.equal(b.state, 'backup');
  assert.equal(b.nextDeadline(), 3000 + mdi(100, 100), 'b waits for the latest timer of the group');
  for (const t of [4000, 5000, 6000]) group.handle(a, advert(v3(200, 100, 1)), t);
  assert.deepEqual(moves(group.handle(b, TICK, 3000 + mdi(100, 100))), [['b', []]], 'held back again');
  assert.equal(b.nextDeadline(), 6000 + mdi(100, 100));
  assert.equal(a.nextDeadline(), 6000 + mdi(100, 100));
  // The master of VRID 1 falls silent.
  const at = 6000 + mdi(100, 100);
  assert.deepEqual(moves(group.handle(b, TICK, at)), [
    ['b', [sc('backup', 'master', 'master-down-timer'), ...takeover(100)]],
    ['a', [sc('backup', 'master', 'sync-group'), ...takeover(100)]],
  ]);
  assert.deepEqual(moves(group.handle(a, TICK, at)), [['a', []]]);
});

test('keepalived vrrp_sync_group: one member yielding to a higher-priority advert takes the other to backup, which then waits on the first', () => {
  const { group, a, b } = pair();
  const at = mdi(100, 100);
  group.handle(a, TICK, at);
  assert.equal(b.state, 'master');
  const t = at + 500;
  assert.deepEqual(moves(group.handle(a, advert(v3(200, 100, 1)), t)), [
    ['a', [sc('master', 'backup', 'higher-priority-advert'), removeVips]],
    ['b', [sc('master', 'backup', 'sync-group'), removeVips]],
  ]);
  assert.equal(b.nextDeadline(), t + mdi(100, 100));
  // The higher master keeps advertising on VRID 1 only: b stays backup with a.
  group.handle(a, advert(v3(200, 100, 1)), t + 1000);
  assert.deepEqual(moves(group.handle(b, TICK, t + mdi(100, 100))), [['b', []]]);
  assert.equal(b.state, 'backup');
  assert.equal(b.nextDeadline(), t + 1000 + mdi(100, 100));
});

test('keepalived vrrp_sync_group: one member\'s fault takes the other to fault; recovery brings both back to backup', () => {
  const { group, a, b } = pair();
  const at = mdi(100, 100);
  group.handle(a, TICK, at);
  const t = at + 100;
  assert.deepEqual(moves(group.handle(a, { type: 'interface', up: false }, t)), [
    ['a', [removeVips, sc('master', 'fault', 'fault')]],
    ['b', [send(0), removeVips, sc('master', 'fault', 'fault')]],
  ]);
  assert.deepEqual(b.status(t).faults, ['sync group in fault']);
  assert.deepEqual(b.ownFaults(), []);
  assert.deepEqual(moves(group.handle(b, TICK, t + 10_000)), [['b', []]]);
  assert.deepEqual(moves(group.handle(a, { type: 'interface', up: true }, t + 20_000)), [
    ['a', [sc('fault', 'backup', 'fault-cleared')]],
    ['b', [sc('fault', 'backup', 'fault-cleared')]],
  ]);
  assert.equal(a.nextDeadline(), t + 20_000 + mdi(100, 100));
  assert.equal(b.nextDeadline(), t + 20_000 + mdi(100, 100));
  assert.deepEqual(moves(group.handle(a, { type: 'interface', up: true }, t + 20_001)), [['a', []]], 'no loop');
});

test('keepalived vrrp_sync_group: with both members faulted, the group leaves fault only when the last own fault clears', () => {
  const { group, a, b } = pair();
  group.handle(a, { type: 'interface', up: false }, 100);
  assert.equal(b.state, 'fault');
  assert.deepEqual(moves(group.handle(b, { type: 'interface', up: false }, 200)), [['b', []]]);
  assert.deepEqual(moves(group.handle(a, { type: 'interface', up: true }, 300)), [['a', []]]);
  assert.equal(a.state, 'fault');
  assert.deepEqual(a.status(300).faults, ['sync group in fault']);
  assert.deepEqual(moves(group.handle(b, { type: 'interface', up: true }, 400)), [
    ['b', [sc('fault', 'backup', 'fault-cleared')]],
    ['a', [sc('fault', 'backup', 'fault-cleared')]],
  ]);
});

// =====================================================================================
// status()
// =====================================================================================

test('status(): Initialize, Backup, Master and Fault report consistent fields', () => {
  const r = new VirtualRouter(cfg({ tracked: [{ name: 'chk', weight: 0 }] }));
  let s = r.status(0);
  assert.equal(s.name, 'vi51');
  assert.equal(s.vrid, VRID);
  assert.equal(s.family, 'ipv4');
  assert.equal(s.version, 3);
  assert.equal(s.state, 'initialize');
  assert.equal(s.master, null);
  assert.equal(s.masterDownInMs, null);
  assert.equal(s.advertInMs, null);
  assert.deepEqual(s.faults, []);

  r.handle(STARTUP, 0);
  r.handle(advert(v3(150)), 1000);
  s = r.status(1500);
  assert.equal(s.state, 'backup');
  assert.equal(s.basePriority, 100);
  assert.equal(s.effectivePriority, 100);
  assert.equal(s.advertIntervalMs, 1000);
  assert.equal(s.masterAdverIntervalMs, 1000);
  assert.equal(s.skewTimeMs, skew(100, 100));
  assert.equal(s.masterDownIntervalMs, mdi(100, 100));
  assert.equal(s.masterDownInMs, 1000 + mdi(100, 100) - 1500);
  assert.equal(s.advertInMs, null);
  assert.deepEqual(s.master, { address: PEER.text, priority: 150 });
  assert.equal(s.stats.advertsReceived, 1);
  assert.equal(s.stats.advertsSent, 0);
  assert.equal(r.status(1_000_000).masterDownInMs, 0, 'never negative');

  const at = 1000 + mdi(100, 100);
  r.handle(TICK, at);
  s = r.status(at + 250);
  assert.equal(s.state, 'master');
  assert.deepEqual(s.master, { address: US.text, priority: 100 }, 'ourselves when master');
  assert.equal(s.advertInMs, 750);
  assert.equal(s.masterDownInMs, null);
  assert.equal(s.stats.masterTransitions, 1);
  assert.equal(s.stats.advertsSent, 1);
  assert.equal(s.stats.newMasterReason, 'masterNoResponse');

  r.handle({ type: 'tracker', name: 'chk', up: false }, at + 300);
  s = r.status(at + 300);
  assert.equal(s.state, 'fault');
  assert.equal(s.master, null);
  assert.equal(s.masterDownInMs, null);
  assert.equal(s.advertInMs, null);
  assert.deepEqual(s.faults, ['chk down']);
  assert.equal(s.stats.priorityZeroSent, 1);
  assert.equal(s.stats.advertsSent, 2);

  // status() is a snapshot: later changes do not show through it.
  const snapshot = r.status(at + 300);
  r.handle({ type: 'tracker', name: 'chk', up: true }, at + 400);
  assert.equal(snapshot.state, 'fault');
  assert.equal(snapshot.stats.advertsSent, 2);
});

test('status(): after a priority-0 advert a backup reports no master; after a discarded lower advert it reports that lower master', () => {
  const r = started();
  r.handle(advert(v3(150)), 1000);
  r.handle(advert(v3(0)), 1100);
  assert.equal(r.status(1100).master, null);
  assert.equal(r.status(1100).masterDownInMs, skew(100, 100));
  const p = started();
  p.handle(advert(v3(20), LOWER_ADDR), 1000);
  assert.deepEqual(p.status(1000).master, { address: LOWER_ADDR.text, priority: 20 });
});

// =====================================================================================
// The receive checks in front of the state machine (acceptance.ts, codec.ts)
// =====================================================================================

const V3_POLICY: AcceptancePolicy = {
  version: 3,
  family: 'ipv4',
  vrid: toVrid(VRID),
  isAddressOwner: false,
  advertInterval: toV3Interval(100),
  authentication: { type: 'none' },
  virtualAddresses: [VIP],
  addressListCheck: 'log',
};

const V2_POLICY: AcceptancePolicy = { ...V3_POLICY, version: 2, advertInterval: toV2Interval(1) };

function received(a: Advert): ReceivedAdvert {
  return { ...a, checksum: 0 };
}

function reason(result: ReturnType<typeof acceptAdvert>): string {
  return result.ok ? 'ok' : result.reason;
}

test('RFC 5798 §7.1: an advert for a VRID not configured here is discarded (unknown-vrid)', () => {
  assert.equal(reason(acceptAdvert(received(v3(200, 100, VRID + 1)), V3_POLICY)), 'unknown-vrid');
  assert.equal(reason(acceptAdvert(received(v3(200)), V3_POLICY)), 'ok');
});

test('RFC 5798 §7.1: the address owner discards adverts for its own VRID (owner-conflict)', () => {
  assert.equal(reason(acceptAdvert(received(v3(200)), { ...V3_POLICY, isAddressOwner: true })), 'owner-conflict');
});

test('RFC 5798 §7.1: the version must match the virtual router (a v2 advert for a v3 router is bad-version)', () => {
  assert.equal(reason(acceptAdvert(received(v2(200)), V3_POLICY)), 'bad-version');
  assert.equal(reason(acceptAdvert(received(v3(200)), V2_POLICY)), 'bad-version');
});

test('RFC 5798 §7.1: a VRRPv3 advert with another Max Adver Int is accepted (the backup adopts it, §6.4.2)', () => {
  assert.equal(reason(acceptAdvert(received(v3(200, 37)), V3_POLICY)), 'ok');
});

test('RFC 5798 §7.1 (MAY verify the address list, SHOULD log): a mismatch is accepted with a warning under log, discarded under drop', () => {
  const other = { ...v3(200), addresses: [ip('10.213.0.101')] };
  const logged = acceptAdvert(received(other), V3_POLICY);
  assert.ok(logged.ok);
  assert.equal(logged.warning?.reason, 'address-list-mismatch');
  assert.ok((logged.warning?.detail ?? '').includes('10.213.0.101'));
  assert.equal(reason(acceptAdvert(received(other), { ...V3_POLICY, addressListCheck: 'drop' })), 'address-list-mismatch');
  const matching = acceptAdvert(received(v3(200)), V3_POLICY);
  assert.ok(matching.ok && matching.warning === undefined);
});

test('RFC 3768 §7.1: under drop, a mismatching address list is dropped unless the advert comes from the owner (priority 255)', () => {
  const other = { ...v3(200), addresses: [ip('10.213.0.101')] };
  const drop = { ...V3_POLICY, addressListCheck: 'drop' as const };
  assert.equal(reason(acceptAdvert(received(other), drop)), 'address-list-mismatch');
  const fromOwner = acceptAdvert(received({ ...other, priority: toPriority(255) }), drop);
  assert.ok(fromOwner.ok);
  assert.equal(fromOwner.warning?.reason, 'address-list-mismatch');
});

test('RFC 3768 §7.1: the Auth Type must match the configured method (auth-type-mismatch; unknown types auth-type-invalid)', () => {
  assert.equal(reason(acceptAdvert(received(v2(200)), V2_POLICY)), 'ok');
  assert.equal(reason(acceptAdvert(received({ ...v2(200), authType: 1 }), V2_POLICY)), 'auth-type-mismatch');
  assert.equal(reason(acceptAdvert(received({ ...v2(200), authType: 7 }), V2_POLICY)), 'auth-type-invalid');
  const pass: AcceptancePolicy = { ...V2_POLICY, authentication: { type: 'pass', password: passwordAuthData('secret') } };
  assert.equal(reason(acceptAdvert(received(v2(200)), pass)), 'auth-type-mismatch');
});

test('RFC 3768 §7.1 / RFC 2338 §5.3.6.1: a simple-text password must match (auth-failure)', () => {
  const pass: AcceptancePolicy = { ...V2_POLICY, authentication: { type: 'pass', password: passwordAuthData('secret') } };
  const good = { ...v2(200), authType: 1, authData: passwordAuthData('secret') };
  const bad = { ...v2(200), authType: 1, authData: passwordAuthData('secreT') };
  assert.equal(reason(acceptAdvert(received(good), pass)), 'ok');
  assert.equal(reason(acceptAdvert(received(bad), pass)), 'auth-failure');
  // "up to 8 octets": longer passwords are cut to 8 on both sides.
  assert.deepEqual(passwordAuthData('0123456789'), passwordAuthData('01234567'));
});

test('RFC 3768 §7.1: a VRRPv2 advert whose Adver Interval differs from the configured one is discarded (interval-mismatch)', () => {
  assert.equal(reason(acceptAdvert(received(v2(200, 2)), V2_POLICY)), 'interval-mismatch');
  assert.equal(reason(acceptAdvert(received(v2(200, 1)), V2_POLICY)), 'ok');
});

test('RFC 5798 §5.2.9: IPv4 and IPv6 addresses are never carried in one advert (the encoder refuses)', () => {
  const mixed: AdvertV3 = { ...v3(200), addresses: [VIP, ip('fe80::1')] };
  assert.throws(() => encodeAdvert(mixed, { src: US, dst: ip('224.0.0.18') }), EncodeError);
});

test('RFC 5798 §5.2.6: the reserved bits are ignored on reception', () => {
  const meta = { src: PEER, dst: ip('224.0.0.18'), ttl: 255 };
  const bytes = encodeAdvert({ ...v3(200), reserved: 0xf }, meta);
  assert.equal((bytes[4] as number) >> 4, 0xf);
  const decoded = decodeAdvert(bytes, meta);
  assert.ok(decoded.ok);
  assert.equal(decoded.advert.priority, 200);
  assert.equal(reason(acceptAdvert(decoded.advert, V3_POLICY)), 'ok');
});
