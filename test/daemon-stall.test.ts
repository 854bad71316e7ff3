/**
 * Issue 10 §1 through the real daemon shell with fake ports and a virtual clock
 * (test/support/fake-daemon.ts): a backup whose Master_Down_Timer expired while adverts
 * waited on its socket does not take over (RFC 5798 §6.4.2), and a master that hears a
 * spurious lower-priority master re-announces after the other side's burst.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeHost, configFrom } from './support/fake-daemon.js';

const VIP = '10.213.0.100';

function yaml(priority: number, extra: readonly string[]): string {
  return [
    'instances:',
    '  - name: gw',
    '    interface: eth0',
    '    vrid: 51',
    `    priority: ${priority}`,
    '    advert_interval: 100ms',
    `    virtual_ips: [${VIP}/24]`,
    ...extra.map((l) => `    ${l}`),
    '',
  ].join('\n');
}

async function started(priority: number, extra: readonly string[] = []): Promise<FakeHost> {
  const host = new FakeHost(configFrom(yaml(priority, extra)));
  await host.daemon.start();
  await host.drain();
  return host;
}

function stateOf(host: FakeHost): string | undefined {
  return host.daemon.status().instances.find((i) => i.name === 'gw')?.state;
}

function stateChanges(host: FakeHost): string[] {
  return host.events.since().flatMap((e) => (e.kind === 'instance-state' ? [`${e.from}->${e.to}`] : []));
}

test('a backup whose Master_Down_Timer expired with an advert queued on its socket takes it in and stays backup', async () => {
  const host = await started(100);
  host.advertFrom('10.213.0.2', 51, 200, [VIP], 10);
  assert.equal(stateOf(host), 'backup');
  const before = stateChanges(host).length;
  // The process stalls: the master's next adverts wait in the socket while the virtual
  // clock runs past Master_Down_Interval (3 × 100 ms + skew); the poll callback never ran.
  host.clock.nowMs += 40;
  host.queueAdvertFrom('10.213.0.2', 51, 200, [VIP], 10);
  host.clock.nowMs += 40;
  host.queueAdvertFrom('10.213.0.2', 51, 200, [VIP], 10);
  // Master_Down_Interval is 3 × 100 ms + Skew_Time (61 ms at priority 100): run the
  // clock past it, but not past a second one.
  const stalledUntil = host.clock.nowMs + 400;
  host.scheduler.advance(400);
  await host.drain();
  assert.equal(stateOf(host), 'backup', `state changes: ${stateChanges(host).join(', ')}`);
  assert.deepEqual(stateChanges(host).slice(before), [], 'no state change after the stall');
  assert.ok(host.sockets.drains.some((d) => d.packets === 2 && d.at <= stalledUntil), `the queued adverts were read before the tick: ${JSON.stringify(host.sockets.drains)}`);
  assert.equal(host.sockets.adverts.length, 0, 'a backup sent an advert');
  assert.equal(host.sockets.frames.length, 0, 'a backup sent a gratuitous ARP');
  // With nothing queued and the master silent, the timer still fires and it takes over.
  host.scheduler.advance(1000);
  await host.drain();
  assert.equal(stateOf(host), 'master');
  await host.stop();
});

test('a queued advert that does not reset the timer (lower priority, preempt) does not stop the takeover', async () => {
  const host = await started(100);
  host.advertFrom('10.213.0.2', 51, 200, [VIP], 10);
  host.queueAdvertFrom('10.213.0.3', 51, 50, [VIP], 10);
  host.scheduler.advance(1000);
  await host.drain();
  assert.equal(stateOf(host), 'master');
  await host.stop();
});
