/**
 * TimerfdScheduler on a real timerfd (the native addon): firing order, cancel, re-arm,
 * many keys, past deadlines, re-entrant callbacks, never before the deadline, and an
 * idle scheduler that lets the process exit. Timing targets (lateness) are in
 * bench/timer-precision.ts, not here: these tests assert order and "not early" only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../src/native/index.js';
import { monotonicMs } from '../src/daemon/clock.js';
import { TimerfdScheduler, createScheduler } from '../src/daemon/timerfd-scheduler.js';
import { errorText } from '../src/base/error-text.js';
import { until } from '../src/lab/wait.js';

function addonSkip(): string | false {
  try {
    native().close(native().timerfdCreate());
    return false;
  } catch (e) {
    return `timerfd unavailable: ${errorText(e)}`;
  }
}
const skip = addonSkip();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Fires recorded as [name, fire time, deadline]. */
function recorder(): { fired: Array<[string, number, number]>; cb: (name: string, deadline: number) => (now: number) => void } {
  const fired: Array<[string, number, number]> = [];
  return { fired, cb: (name, deadline) => (now) => void fired.push([name, now, deadline]) };
}

test('timerfd scheduler: keys fire in deadline order, never before their deadline', { skip }, async () => {
  const s = new TimerfdScheduler();
  const { fired, cb } = recorder();
  const t0 = monotonicMs();
  const plan: Array<[string, number]> = [['c', 30], ['a', 10], ['d', 40], ['b', 20]];
  for (const [name, offset] of plan) s.set({ name }, t0 + offset, cb(name, t0 + offset));
  await sleep(80);
  s.close();
  assert.deepEqual(fired.map((f) => f[0]), ['a', 'b', 'c', 'd']);
  for (const [name, now, deadline] of fired) {
    assert.ok(now >= deadline, `${name} fired at ${now}, before its deadline ${deadline}`);
  }
});

test('timerfd scheduler: equal deadlines fire in the order they were set', { skip }, async () => {
  const s = new TimerfdScheduler();
  const { fired, cb } = recorder();
  const d = monotonicMs() + 5;
  for (const name of ['x', 'y', 'z', 'w']) s.set({ name }, d, cb(name, d));
  await sleep(40);
  s.close();
  assert.deepEqual(fired.map((f) => f[0]), ['x', 'y', 'z', 'w']);
});

test('timerfd scheduler: cancel and re-arm', { skip }, async () => {
  const s = new TimerfdScheduler();
  const { fired, cb } = recorder();
  const t0 = monotonicMs();
  const a = { name: 'a' };
  const b = { name: 'b' };
  const c = { name: 'c' };
  s.set(a, t0 + 10, cb('a', t0 + 10));
  s.set(b, t0 + 15, cb('b', t0 + 15));
  s.set(c, t0 + 20, cb('c', t0 + 20));
  s.set(a, undefined, cb('never', 0)); // cancel the earliest: the timer must move to b
  s.set(b, t0 + 40, cb('b-late', t0 + 40)); // re-arm later, with a new callback
  s.set(c, t0 + 5, cb('c-early', t0 + 5)); // re-arm earlier
  s.set({ name: 'gone' }, undefined, cb('never', 0)); // cancelling an unknown key is a no-op
  await sleep(70);
  s.close();
  assert.deepEqual(fired.map((f) => f[0]), ['c-early', 'b-late']);
  for (const [name, now, deadline] of fired) assert.ok(now >= deadline, `${name} fired early`);
});

test('timerfd scheduler: a deadline in the past fires at once, on the loop, not inside set', { skip }, async () => {
  const s = new TimerfdScheduler();
  const { fired, cb } = recorder();
  s.set({}, monotonicMs() - 1000, cb('past', 0));
  assert.equal(fired.length, 0, 'fired synchronously inside set()');
  const t0 = performance.now();
  while (fired.length === 0 && performance.now() - t0 < 2000) await sleep(1);
  s.close();
  assert.equal(fired.length, 1);
});

test('timerfd scheduler: 2000 keys with shuffled deadlines fire once each, in order', { skip }, async () => {
  const s = new TimerfdScheduler();
  const t0 = monotonicMs() + 5;
  const n = 2000;
  const deadlines = Array.from({ length: n }, (_, i) => t0 + (i * 7919) % n / 100); // a permutation over 20 ms
  const keys = deadlines.map((_, i) => ({ i }));
  const fired: number[] = [];
  const early: number[] = [];
  deadlines.forEach((d, i) =>
    s.set(keys[i] as object, d, (now) => {
      fired.push(d);
      if (now < d) early.push(i);
    }),
  );
  // Cancel every tenth: they must never fire.
  for (let i = 0; i < n; i += 10) s.set(keys[i] as object, undefined, () => undefined);
  await sleep(100);
  s.close();
  assert.equal(fired.length, n - n / 10);
  assert.deepEqual(early, []);
  for (let i = 1; i < fired.length; i++) assert.ok((fired[i] as number) >= (fired[i - 1] as number), `out of order at ${i}`);
});

test('timerfd scheduler: a callback may re-arm its own key and others; close inside a callback stops everything', { skip }, async () => {
  const s = new TimerfdScheduler();
  const key = {};
  const other = {};
  let ticks = 0;
  let otherFired = 0;
  const tick = (now: number): void => {
    ticks++;
    if (ticks === 3) {
      s.set(other, now + 1000, () => otherFired++);
      s.close();
      return;
    }
    s.set(key, now + 2, tick);
  };
  s.set(key, monotonicMs() + 2, tick);
  await sleep(60);
  assert.equal(ticks, 3);
  assert.equal(otherFired, 0);
  s.set(key, monotonicMs(), tick); // ignored after close
  await sleep(10);
  assert.equal(ticks, 3);
});

test('timerfd scheduler: an idle scheduler does not keep the process alive; an armed one does until it fires', { skip }, () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const modulePath = path.join(here, '..', 'src', 'daemon', 'timerfd-scheduler.js');
  const script = `
    const { TimerfdScheduler } = await import(${JSON.stringify(modulePath)});
    const s = new TimerfdScheduler();
    const t0 = performance.now();
    s.set({}, undefined, () => {});
    const k = {};
    s.set(k, 1e12, () => {});
    s.set(k, undefined, () => {});
    s.set({}, Number(process.hrtime.bigint()) / 1e6 + 150, () => console.log('fired ' + Math.round(performance.now() - t0)));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10000 });
  const m = /^fired (\d+)$/m.exec(out);
  assert.ok(m, `the armed deadline did not fire before exit: ${out}`);
  assert.ok(Number(m[1]) >= 149, `fired after ${m[1]} ms, before its deadline`);
});

test('createScheduler picks timerfd where it is available', { skip }, () => {
  const { scheduler, kind } = createScheduler();
  scheduler.close();
  assert.equal(kind, 'timerfd');
});

test('timerfd scheduler: the timers the callbacks of one wake-up set are armed once, after the last', { skip }, async () => {
  // Counts the real timerfd_settime calls (the addon's timerfdSet, wrapped to count and pass through).
  const addon = native();
  const original = addon.timerfdSet;
  let arms = 0;
  addon.timerfdSet = (fd, deadline) => {
    arms++;
    original.call(addon, fd, deadline);
  };
  const s = new TimerfdScheduler();
  try {
    const keys = Array.from({ length: 100 }, () => ({}));
    const at = monotonicMs() + 20;
    let fired = 0;
    let rearmedFired = 0;
    for (const key of keys) {
      s.set(key, at, (now) => {
        fired++;
        s.set(key, now + 1000, () => rearmedFired++);
      });
    }
    arms = 0;
    await until(() => fired === 100, () => `${fired} of 100 fired`, 5000, 5);
    // 100 callbacks in one wake-up, each re-arming its key: one timerfd_settime (it was one per callback).
    assert.equal(arms, 1, `timerfd_settime ${arms} times for one wake-up`);
    await until(() => rearmedFired === 100, () => `${rearmedFired} of the 100 re-armed timers fired`, 5000, 20);
  } finally {
    s.close();
    addon.timerfdSet = original;
  }
});

test('timerfd scheduler: an entry whose `from` has come fires in the wake-up of an earlier deadline; none fires before its from, nor wakes the loop before its deadline', { skip }, async () => {
  const s = new TimerfdScheduler();
  const order: string[] = [];
  const times = new Map<string, number>();
  const t0 = monotonicMs() + 20;
  const record = (name: string) => (now: number): void => {
    order.push(name);
    times.set(name, now);
  };
  // a wakes the loop; b (due 0.4 ms later, may fire 0.5 ms early) goes with it; c (no
  // `from`) only at its deadline; d (may fire 0.5 ms early, nothing else near) at its deadline.
  s.set({ name: 'a' }, t0, (now) => {
    record('a')(now);
    queueMicrotask(() => order.push('end of a’s wake-up'));
  });
  s.set({ name: 'b' }, t0 + 0.4, record('b'), t0 - 0.1);
  s.set({ name: 'c' }, t0 + 0.5, record('c'));
  s.set({ name: 'd' }, t0 + 10, record('d'), t0 + 9.5);
  await until(() => times.has('d'), () => `fired: ${order.join(', ')}`, 5000, 5);
  s.close();
  assert.ok(order.indexOf('b') < order.indexOf('end of a’s wake-up'), `b did not fire in a's wake-up: ${order.join(', ')}`);
  assert.ok((times.get('b') as number) >= t0 - 0.1, 'b fired before its from');
  assert.ok((times.get('c') as number) >= t0 + 0.5, `c (no from) fired ${t0 + 0.5 - (times.get('c') as number)} ms early`);
  assert.ok((times.get('d') as number) >= t0 + 10, `d woke the loop ${t0 + 10 - (times.get('d') as number)} ms before its deadline`);
});

test('timerfd scheduler: a deadline moved later leaves the timerfd armed (no timerfd_settime), and still fires once at its new deadline, not before', { skip }, async () => {
  const addon = native();
  const original = addon.timerfdSet;
  let arms = 0;
  addon.timerfdSet = (fd, deadline) => {
    arms++;
    original.call(addon, fd, deadline);
  };
  const s = new TimerfdScheduler();
  try {
    const key = {};
    const t0 = monotonicMs();
    const fired: number[] = [];
    s.set(key, t0 + 20, (now) => fired.push(now));
    // A backup's Master_Down_Timer, pushed back by each advert received.
    for (let i = 1; i <= 100; i++) s.set(key, t0 + 20 + i * 0.5, (now) => fired.push(now));
    assert.equal(arms, 1, `timerfd_settime ${arms} times for a deadline only moved later`);
    // Moved earlier than armed: armed again at once.
    const other = {};
    s.set(other, t0 + 10, () => undefined);
    assert.equal(arms, 2);
    s.set(other, undefined, () => undefined);
    await until(() => fired.length > 0, 'the moved deadline to fire', 5000, 5);
    await sleep(20);
    assert.equal(fired.length, 1);
    assert.ok((fired[0] as number) >= t0 + 70, `fired ${t0 + 70 - (fired[0] as number)} ms before its deadline`);
  } finally {
    s.close();
    addon.timerfdSet = original;
  }
});

test('timerfd scheduler: a callback that cancels its own key, or cancels and re-arms it, is obeyed (the key stays known while it fires)', { skip }, async () => {
  const s = new TimerfdScheduler();
  try {
    const once = {};
    const twice = {};
    const oneShot = {};
    let onceFired = 0;
    let twiceFired = 0;
    let oneShotFired = 0;
    const onceCb = (): void => {
      onceFired++;
      s.set(once, undefined, onceCb); // cancelled from its own callback: never again
    };
    const twiceCb = (now: number): void => {
      twiceFired++;
      if (twiceFired > 1) return;
      s.set(twice, undefined, twiceCb);
      s.set(twice, now + 5, twiceCb); // cancelled, then armed again: fires once more
    };
    s.set(once, monotonicMs() + 2, onceCb);
    s.set(twice, monotonicMs() + 2, twiceCb);
    s.set(oneShot, monotonicMs() + 2, () => oneShotFired++);
    await until(() => twiceFired === 2, () => `twice fired ${twiceFired} times`, 5000, 5);
    // The one-shot key fired and was not re-armed: it is forgotten, so arming it again fires again.
    assert.equal(oneShotFired, 1);
    s.set(oneShot, monotonicMs() + 2, () => oneShotFired++);
    await until(() => oneShotFired === 2, () => `the one-shot key fired ${oneShotFired} times`, 5000, 5);
    await sleep(20);
    assert.equal(onceFired, 1);
    assert.equal(twiceFired, 2);
  } finally {
    s.close();
  }
});
