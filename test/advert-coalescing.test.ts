/**
 * Adver_Timer coalescing (src/vrrp/timers.ts ADVER_TIMER_EARLY_MS, VirtualRouter.tickFrom,
 * Scheduler.set's `from`): the adverts of instances due within 0.5 ms of a wake-up go out
 * in that one wake-up, and stay together; a Master_Down_Timer never fires early. On the
 * real daemon shell with fake ports and the virtual clock (test/support/fake-daemon.ts);
 * the real timerfd side is in test/timerfd-scheduler.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADVER_TIMER_EARLY_MS } from '../src/vrrp/timers.js';
import { FakeHost, configFrom } from './support/fake-daemon.js';

function config(vrids: readonly number[]): string {
  const lines = ['instances:'];
  for (const vrid of vrids) {
    lines.push(`  - name: gw${vrid}`, '    interface: eth0', `    vrid: ${vrid}`, '    priority: 100', '    advert_interval: 100ms', `    virtual_ips: [10.213.1.${vrid}/32]`);
  }
  return lines.join('\n') + '\n';
}

function stateOf(host: FakeHost, name: string): string | undefined {
  return host.daemon.status().instances.find((i) => i.name === name)?.state;
}

/** When each VRID's adverts went out (virtual ms). */
function advertTimes(host: FakeHost, vrid: number): number[] {
  return host.sockets.adverts.filter((a) => a.payload[1] === vrid).map((a) => a.at);
}

/**
 * Three backups whose Master_Down_Timers fall due 0.3 and 0.7 ms apart: gw52 and gw53
 * heard a priority-200 master that long after the start (RFC 5798 §6.4.2: the advert
 * resets the Master_Down_Timer).
 */
async function staggered(): Promise<{ host: FakeHost; t0: number }> {
  const host = new FakeHost(configFrom(config([51, 52, 53])));
  host.ops.auto = true;
  await host.daemon.start();
  await host.drain();
  const t0 = host.clock.nowMs;
  host.clock.nowMs = t0 + 0.3;
  host.advertFrom('10.213.0.2', 52, 200, ['10.213.1.52'], 10);
  host.clock.nowMs = t0 + 0.7;
  host.advertFrom('10.213.0.2', 53, 200, ['10.213.1.53'], 10);
  for (const name of ['gw51', 'gw52', 'gw53']) assert.equal(stateOf(host, name), 'backup');
  return { host, t0 };
}

test('coalescing: a Master_Down_Timer due 0.3 ms after another instance takes over is not fired early', async () => {
  const { host, t0 } = await staggered();
  // Master_Down_Interval at 100 ms, priority 100: 3 × 100 + (256 − 100) × 100 / 256 = 360.9375 ms.
  const down51 = t0 + 360.9375;
  assert.ok(host.scheduler.fireNext());
  assert.equal(host.clock.nowMs, down51);
  assert.equal(stateOf(host, 'gw51'), 'master');
  assert.equal(stateOf(host, 'gw52'), 'backup', 'gw52 became master 0.3 ms before its Master_Down_Timer');
  assert.equal(stateOf(host, 'gw53'), 'backup');
  assert.ok(host.scheduler.fireNext());
  assert.equal(host.clock.nowMs, down51 + 0.3);
  assert.equal(stateOf(host, 'gw52'), 'master');
  assert.equal(stateOf(host, 'gw53'), 'backup');
  assert.ok(host.scheduler.fireNext());
  assert.equal(host.clock.nowMs, down51 + 0.7);
  assert.equal(stateOf(host, 'gw53'), 'master');
  await host.stop();
});

test('coalescing: adverts due within 0.5 ms go out in one wake-up and stay together; 0.7 ms apart they do not', async () => {
  const { host, t0 } = await staggered();
  const down51 = t0 + 360.9375;
  host.scheduler.advance(down51 + 1 - host.clock.nowMs);
  await host.drain();
  for (const name of ['gw51', 'gw52', 'gw53']) assert.equal(stateOf(host, name), 'master');
  // Each sent its first advert on becoming master (RFC 5798 §6.4.2 (375)), at its own time.
  assert.deepEqual([advertTimes(host, 51), advertTimes(host, 52), advertTimes(host, 53)], [[down51], [down51 + 0.3], [down51 + 0.7]]);
  host.scheduler.advance(1000);
  const a51 = advertTimes(host, 51);
  const a52 = advertTimes(host, 52);
  const a53 = advertTimes(host, 53);
  // gw52's Adver_Timer (due 0.3 ms after gw51's) fires with gw51's, from the second advert on.
  assert.equal(a51.length, 11, `gw51: ${a51.join(', ')}`);
  assert.deepEqual(a52.slice(1), a51.slice(1), 'gw52 sends in gw51 wake-ups');
  assert.equal(a52[1], down51 + 100, 'gw52 early by 0.3 ms, within ADVER_TIMER_EARLY_MS');
  assert.ok((a52[1] as number) >= down51 + 0.3 + 100 - ADVER_TIMER_EARLY_MS);
  // gw53, 0.7 ms after gw51 and 0.4 after gw52, fires at its own deadline (0.4 ms after the
  // wake-up that fired gw52 early; it was not yet in its window then), then keeps its cadence.
  assert.deepEqual(a53.slice(0, 3), [down51 + 0.7, down51 + 100.7, down51 + 200.7]);
  for (let i = 1; i < a51.length; i++) assert.equal((a51[i] as number) - (a51[i - 1] as number), 100, 'gw51 keeps its 100 ms cadence');
  await host.stop();
});
