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

/** Runs the virtual clock `ms` forward 5 ms at a time, letting the pipeline's port calls complete in between. */
async function run(host: FakeHost, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 5) {
    host.scheduler.advance(5);
    await host.drain();
  }
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

test("a master's corrective burst leaves after a spurious master's burst, and after each of its adverts", async () => {
  // The cluster's garp settings: 5 copies 20 ms apart, so a spurious master's burst spans 80 ms.
  const host = await started(200, ['garp: { interval: 20ms, master_repeat: 5, master_delay: 0s }']);
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  assert.equal(stateOf(host), 'master');
  host.scheduler.advance(200);
  await host.drain();
  const settled = host.sockets.frames.length;
  // A backup (priority 100) stalled and took over: its advert arrives, then its burst runs
  // 80 ms (copies at +2, +22, ..., +82 ms after its advert, once its VIP add returned).
  const spuriousAt = host.clock.nowMs;
  host.advertFrom('10.213.0.2', 51, 100, [VIP], 10);
  const peerBurstEnd = spuriousAt + 2 + 4 * 20;
  // Its second advert 30 ms later (it had not yet heard ours): a new burst of its own would
  // end by +112 ms.
  await run(host, 30);
  host.advertFrom('10.213.0.2', 51, 100, [VIP], 10);
  const secondEnd = spuriousAt + 30 + 2 + 4 * 20;
  await run(host, 1000);
  assert.equal(stateOf(host), 'master');
  const ours = host.sockets.frames.slice(settled);
  const last = ours.at(-1);
  assert.ok(last !== undefined && last.at > peerBurstEnd && last.at > secondEnd, `our last announcement at +${(last?.at ?? 0) - spuriousAt} ms, the spurious bursts end by +${secondEnd - spuriousAt} ms`);
  // The first copy that follows the spurious master's last gratuitous ARP goes within one
  // advertisement interval (100 ms) of it: from then on the neighbours point here.
  const firstAfter = ours.find((f) => f.at > secondEnd);
  assert.ok(firstAfter !== undefined && firstAfter.at - secondEnd <= 100, `the correction came ${(firstAfter?.at ?? 0) - secondEnd} ms after the spurious burst`);
  const reasons = host.events.since().flatMap((e) => (e.kind === 'announced' ? [e.reason] : []));
  assert.ok(reasons.includes('lower-priority-advert') && reasons.includes('lower-priority-delay'), reasons.join(', '));
  await host.stop();
});

test('VMAC: protodown is lifted before a new master sends its first advert, and set again at the step-down before the VIP is removed', async () => {
  const host = await started(100, ['vmac: true']);
  const vmac = host.net.protoDown[0]?.index;
  assert.ok(vmac !== undefined, 'the VMAC was created in protodown');
  assert.deepEqual(host.net.protoDown, [{ index: vmac, on: true }]);
  const atAdvert: boolean[] = [];
  host.sockets.onAdvert = () => atAdvert.push(host.net.protoDown.at(-1)?.on ?? true);
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  assert.equal(stateOf(host), 'master');
  assert.ok(atAdvert.length >= 1 && atAdvert.every((down) => !down), `an advert was sent while the VMAC was in protodown: ${JSON.stringify(atAdvert)}`);
  const journal = host.net.journal;
  assert.ok(journal.indexOf(`protodown off ${vmac}`) < journal.indexOf(`add ${VIP}`), journal.join(', '));
  // A higher-priority master: silent at once, then the VIP goes.
  const before = journal.length;
  host.advertFrom('10.213.0.2', 51, 200, [VIP], 10, 'vrrp.51/ipv4');
  assert.equal(stateOf(host), 'backup');
  assert.equal(journal[before], `protodown on ${vmac}`, `silenced before anything else: ${journal.slice(before).join(', ')}`);
  await host.drain();
  assert.ok(journal.slice(before).indexOf(`remove ${VIP}`) > 0, journal.slice(before).join(', '));
  await host.stop();
});
