/**
 * The real daemon shell (src/daemon) without root: fake netlink, nftables and sockets, a
 * virtual clock (test/support/fake-daemon.ts). Regression tests for the bugs of issue 9
 * that the effect pipeline fixes, and the effects it must apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ip } from '../src/net/address.js';
import { ResourceService } from '../src/daemon/resource-service.js';
import { formatStatus } from '../src/cli/status.js';
import { FakeHost, configFrom, flush } from './support/fake-daemon.js';

const VIP = '10.213.0.100';

function instanceYaml(extra: string): string {
  return [
    'instances:',
    '  - name: gw',
    '    interface: eth0',
    '    vrid: 51',
    '    priority: 100',
    `    virtual_ips: [${VIP}/24]`,
    ...extra.split('\n').filter((l) => l.length > 0).map((l) => `    ${l}`),
    '',
  ].join('\n');
}

async function started(extra: string): Promise<FakeHost> {
  const host = new FakeHost(configFrom(instanceYaml(extra)));
  await host.daemon.start();
  await host.drain();
  return host;
}

function stateOf(host: FakeHost, name = 'gw'): string | undefined {
  return host.daemon.status().instances.find((i) => i.name === name)?.state;
}

test('bug 1: accept false, a higher-priority advert while the nft call of the VIP add is in flight: the backup does not keep the VIP', async () => {
  const host = await started('accept: false');
  host.ops.auto = false;
  // The master-down timer fires: master, the filter first (RFC 5798 §6.4.3 (650)), then the VIP.
  assert.ok(host.scheduler.fireNext());
  await flush();
  assert.equal(stateOf(host), 'master');
  assert.ok(host.ops.pending.some((p) => p.what === 'nft'), `the nft call of the add is in flight: ${host.ops.pending.map((p) => p.what).join(', ')}`);
  // A higher-priority master appears while nft runs.
  host.advertFrom('10.213.0.2', 51, 200, [VIP]);
  assert.equal(stateOf(host), 'backup');
  await host.drain();
  assert.equal(stateOf(host), 'backup');
  assert.equal(host.net.has(2, ip(VIP)), false, `a backup holds ${VIP}; netlink journal: ${host.net.journal.join(', ')}`);
  assert.deepEqual([...host.nft.blocked], [], 'a backup blocks nothing');
  const status = host.daemon.status().instances[0];
  assert.equal(status?.vipsInstalled, false);
  await host.stop();
});

test('bug 2: garp interval 20ms, stepping down during the burst: no gratuitous ARP after the step-down', async () => {
  const host = await started('garp: { interval: 20ms, master_repeat: 5, master_delay: 0s }');
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  assert.equal(stateOf(host), 'master');
  host.scheduler.advance(30);
  await host.drain();
  const whileMaster = host.sockets.frames.length;
  assert.ok(whileMaster >= 1 && whileMaster < 5, `part of the burst went out while master: ${whileMaster}`);
  assert.ok(host.sockets.frames.every((f) => f.address === VIP));
  host.advertFrom('10.213.0.2', 51, 200, [VIP]);
  assert.equal(stateOf(host), 'backup');
  const steppedDownAt = host.clock.nowMs;
  // The rest of the burst would have been due within 80ms; the old burst ran on its own
  // (real) setInterval, so real time passes too.
  host.scheduler.advance(200);
  await new Promise((resolve) => setTimeout(resolve, 150));
  await host.drain();
  const after = host.sockets.frames.filter((f, i) => i >= whileMaster || f.at > steppedDownAt);
  assert.deepEqual(after, [], 'gratuitous ARPs for a VIP no longer held');
  assert.equal(host.net.has(2, ip(VIP)), false);
  await host.stop();
});

test('the announcements wait for the address: no GARP before the VIP is installed, then master_repeat copies', async () => {
  const host = await started('garp: { master_repeat: 3, master_delay: 0s }');
  host.ops.auto = false;
  assert.ok(host.scheduler.fireNext());
  await flush();
  assert.equal(stateOf(host), 'master');
  // The advert went out first and synchronously (RFC 5798 §6.4.2); the add is in flight.
  assert.equal(host.sockets.adverts.at(-1)?.at, host.clock.nowMs);
  assert.equal(host.sockets.frames.length, 0, 'a gratuitous ARP for an address not yet installed');
  await host.drain();
  assert.deepEqual(host.sockets.frames.map((f) => f.address), [VIP, VIP, VIP]);
  const kinds = host.events.since().map((e) => e.kind);
  assert.ok(kinds.indexOf('vips-added') < kinds.indexOf('announced'), kinds.join(', '));
  await host.stop();
});

/**
 * What a takeover does, in order: the advert, the VIP add (completed), the gratuitous ARP,
 * and only then the reports (RFC 5798 §6.4.2 (375)-(380); keepalived notifies after its
 * GARPs): the state-change event first among them, as it always was.
 */
function takeoverJournal(host: FakeHost): string[] {
  const order: string[] = [];
  host.sockets.onAdvert = () => order.push('advert');
  host.sockets.onFrame = (f) => order.push(`garp ${f.address}`);
  const add = host.net.addAddress.bind(host.net);
  host.net.addAddress = (ifindex, vip) =>
    add(ifindex, vip).then(
      () => void order.push(`added ${vip.address.text}`),
      (e: unknown) => {
        order.push(`add failed ${vip.address.text}`);
        throw e;
      },
    );
  host.events.subscribe((e) => {
    if (e.kind === 'instance-state') order.push(`state ${e.from}->${e.to}`);
    else if (e.kind === 'vips-added') order.push(`vips-added [${e.addresses.join(' ')}] failed [${e.failed.join(' ')}]`);
    else if (e.kind === 'announced') order.push(`announced ${e.round}/${e.of}`);
  });
  return order;
}

test('takeover order: advert, VIP add, gratuitous ARP, then the state-change event and the pipeline events in their order', async () => {
  const host = await started('garp: { master_repeat: 2, master_delay: 0s, interval: 20ms }');
  const order = takeoverJournal(host);
  host.ops.auto = false;
  assert.ok(host.scheduler.fireNext());
  await flush();
  assert.equal(stateOf(host), 'master');
  assert.deepEqual(order, ['advert'], 'nothing reported while the VIP add is in flight');
  await host.drain();
  assert.deepEqual(order.slice(0, 6), ['advert', `added ${VIP}`, `garp ${VIP}`, 'state backup->master', `vips-added [${VIP}/24] failed []`, 'announced 1/2']);
  host.scheduler.advance(20);
  assert.deepEqual(order.slice(6), [`garp ${VIP}`, 'announced 2/2'], 'the second copy (20 ms later) and its event come after, in order');
  const last = host.daemon.status().instances.find((i) => i.name === 'gw')?.lastChange;
  assert.equal(last?.to, 'master', 'status sees the change once it is reported');
  // Leaving master is reported at once, before its effects, as before.
  order.length = 0;
  host.advertFrom('10.213.0.2', 51, 200, [VIP]);
  assert.deepEqual(order.filter((x) => x !== 'advert'), ['state master->backup'], 'a step-down reports before the removal completes');
  assert.equal(host.ops.pending[0]?.what, `remove ${VIP}`);
  await host.stop();
});

test('takeover with a failed VIP add: the error path, then the state change and vips-added with the failure, and no gratuitous ARP', async () => {
  const host = await started('');
  // The address is already there (put by someone else after the start): RTM_NEWADDR fails.
  host.net.addrs.get(2)?.push({ address: ip(VIP), prefixLength: 24, secondary: true });
  const order = takeoverJournal(host);
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  assert.equal(stateOf(host), 'master');
  assert.deepEqual(order, ['advert', `add failed ${VIP}`, 'state backup->master', `vips-added [] failed [${VIP}/24]`]);
  assert.equal(host.sockets.frames.length, 0, 'no announcement for an address not installed');
  assert.ok(host.log.lines.some((l) => l.event === 'vip-add-failed' && l.fields['address'] === `${VIP}/24`), 'the failure is logged with the address');
  await host.stop();
});

test('a VIP removed from outside is put back through the pipeline while master, not while backup', async () => {
  const host = await started('');
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  host.net.removeExternally(2, ip(VIP));
  await host.drain();
  assert.equal(host.net.has(2, ip(VIP)), true, host.net.journal.join(', '));
  assert.ok(host.log.lines.some((l) => l.event === 'vip-removed-externally' && l.fields['address'] === VIP && l.fields['action'] === 'restoring'));
  host.advertFrom('10.213.0.2', 51, 200, [VIP]);
  await host.drain();
  assert.equal(host.net.has(2, ip(VIP)), false);
  host.net.addrs.get(2)?.push({ address: ip(VIP), prefixLength: 24, secondary: true });
  host.net.removeExternally(2, ip(VIP));
  await host.drain();
  assert.equal(host.net.has(2, ip(VIP)), false, 'a backup restored a VIP');
  await host.stop();
});

test('sendGarp: a master re-announces through its pipeline; a backup refuses with an error naming the instance', async () => {
  const host = await started('garp: { master_repeat: 2, master_delay: 0s }');
  assert.throws(() => host.daemon.sendGarp('gw'), /instance gw is backup, not master/);
  assert.throws(() => host.daemon.sendGarp('nope'), /no instance nope/);
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  const before = host.sockets.frames.length;
  host.daemon.sendGarp('gw');
  await host.drain();
  assert.equal(host.sockets.frames.length - before, 2);
  const last = host.events.since().filter((e) => e.kind === 'announced').at(-1);
  assert.equal(last?.kind === 'announced' ? last.reason : undefined, 'requested');
  await host.stop();
});

test('reload while master: the VIPs move through the pipeline (the kept one is never removed), accept false follows', async () => {
  const host = await started('');
  assert.deepEqual([...new Set(host.net.prepared.map((p) => p.split(' ')[1]))], [`${VIP}/24`], 'the add request is built at start, before any takeover');
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  const next = configFrom(instanceYaml('accept: false').replace(`[${VIP}/24]`, `[${VIP}/24, 10.213.0.102/24]`));
  const { changes } = await host.daemon.reload(next);
  assert.ok(host.net.prepared.includes(`${host.net.prepared[0]?.split(' ')[0]} 10.213.0.102/24`), 'the reload builds the new VIP\'s request');
  await host.drain();
  assert.deepEqual(changes, [{ instance: 'gw', change: 'in-place' }]);
  assert.equal(stateOf(host), 'master');
  assert.deepEqual(host.net.journal, [`add ${VIP}`, 'add 10.213.0.102'], 'the kept VIP was removed and added again');
  assert.deepEqual([...host.nft.blocked].sort(), [VIP, '10.213.0.102']);
  const back = configFrom(instanceYaml(''));
  await host.daemon.reload(back);
  await host.drain();
  assert.deepEqual(host.net.journal.slice(2), ['remove 10.213.0.102']);
  assert.deepEqual([...host.nft.blocked], []);
  const events = host.events.since();
  assert.ok(events.some((e) => e.kind === 'vips-added' && e.addresses.includes('10.213.0.102/24')));
  assert.ok(events.some((e) => e.kind === 'vips-removed' && e.addresses.includes('10.213.0.102/24')));
  assert.ok(host.log.lines.some((l) => l.event === 'reloaded' && l.fields['instances'] === 1));
  await host.stop();
});

test('the event stream: state changes with their reason, priority changes, a master hearing a lower priority, group state; the log lines come from it', async () => {
  const config = configFrom(
    [
      'instances:',
      '  - { name: a, interface: eth0, vrid: 51, priority: 100, virtual_ips: [10.213.0.100/24], track_interfaces: [{ name: eth1, weight: -30 }] }',
      '  - { name: b, interface: eth0, vrid: 52, priority: 100, virtual_ips: [10.213.0.101/24] }',
      'sync_groups:',
      '  - { name: pair, instances: [a, b] }',
      '',
    ].join('\n'),
  );
  const host = new FakeHost(config);
  host.net.addLink(3, 'eth1', '02:00:00:00:00:02', []);
  await host.daemon.start();
  await host.drain();
  while (stateOf(host, 'a') !== 'master') assert.ok(host.scheduler.fireNext());
  await host.drain();
  assert.equal(stateOf(host, 'b'), 'master', 'the sync group moved together');
  host.advertFrom('10.213.0.3', 51, 50, ['10.213.0.100']);
  host.net.setLink(3, false);
  await host.drain();
  const events = host.events.since();
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => (seqs[0] as number) + i), 'numbered without gaps');
  const toMaster = events.find((e) => e.kind === 'instance-state' && e.instance === 'a' && e.to === 'master');
  assert.ok(toMaster && toMaster.kind === 'instance-state' && toMaster.reason.length > 0 && toMaster.master === '10.213.0.1');
  assert.ok(events.some((e) => e.kind === 'group-state' && e.group === 'pair' && e.to === 'master'), 'group-state');
  assert.ok(events.some((e) => e.kind === 'master-rx-lower-priority' && e.instance === 'a' && e.priority === 50 && e.from === '10.213.0.3'));
  assert.ok(events.some((e) => e.kind === 'priority-changed' && e.instance === 'a' && e.from === 100 && e.to === 70));
  // One log line per state change, from the log subscriber, with the fields it always had.
  const logged = host.log.lines.filter((l) => l.event === 'state-change');
  assert.equal(logged.length, events.filter((e) => e.kind === 'instance-state').length);
  assert.deepEqual(Object.keys(logged[0]?.fields ?? {}), ['instance', 'vrid', 'family', 'from', 'to', 'reason', 'detail', 'priority']);
  await host.stop();
  const kinds = host.events.since().map((e) => e.kind);
  assert.equal(kinds.at(-1), 'daemon-stopped');
  assert.ok(kinds.lastIndexOf('daemon-stopping') < kinds.lastIndexOf('vips-removed'), `the VIPs go after the stop is announced: ${kinds.join(', ')}`);
});

test('the resource service emits on the daemon stream: standby moves the instances to FAULT, one log line per event from the log subscriber', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vigil-shell-'));
  try {
    const config = configFrom(`global:\n  state_dir: ${dir}\n${instanceYaml('')}`);
    const host = new FakeHost(config);
    const resources = await ResourceService.open(config, host.daemon.vrrpView, host.scheduler, host.clock.now, host.log, host.events);
    host.daemon.attachResources(resources);
    await host.daemon.start();
    resources.start();
    await host.drain();
    assert.ok(host.scheduler.fireNext());
    await host.drain();
    assert.equal(stateOf(host), 'master');
    resources.setStandby(true);
    await host.drain();
    assert.equal(stateOf(host), 'fault');
    assert.equal(host.net.has(2, ip(VIP)), false);
    const standby = host.events.since().filter((e) => e.kind === 'node-standby');
    assert.deepEqual(standby.map((e) => (e.kind === 'node-standby' ? e.on : undefined)), [true]);
    assert.deepEqual(host.log.lines.filter((l) => l.event === 'node-standby').map((l) => l.fields['on']), [true], 'one log line, from the subscriber');
    const kinds = host.events.since().map((e) => e.kind);
    assert.ok(kinds.indexOf('node-standby') < kinds.lastIndexOf('instance-state'), kinds.join(', '));
    await resources.stop();
    await host.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a VIP removed from outside while the pipeline is releasing it is neither announced nor missing when the instance is master again', async () => {
  const host = new FakeHost(configFrom(instanceYaml('').replace(`[${VIP}/24]`, `[${VIP}/24, 10.213.0.101/24]`)));
  await host.daemon.start();
  await host.drain();
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  host.ops.auto = false;
  host.net.setLink(2, false);
  await flush();
  assert.equal(stateOf(host), 'fault');
  host.net.removeExternally(2, ip('10.213.0.101'));
  host.net.setLink(2, true);
  while (stateOf(host) !== 'master') assert.ok(host.scheduler.fireNext());
  const mark = host.sockets.frames.length;
  host.sockets.onFrame = (f) => assert.ok(host.net.has(2, ip(f.address)), `announced ${f.address}, which is not installed`);
  await host.drain();
  assert.deepEqual([VIP, '10.213.0.101'].filter((a) => host.net.has(2, ip(a))), [VIP, '10.213.0.101'], host.net.journal.join(', '));
  assert.deepEqual([...new Set(host.sockets.frames.slice(mark).map((f) => f.address))].sort(), [VIP, '10.213.0.101']);
  await host.stop();
});

test('vigil status takes the last state change of each instance from the event stream', async () => {
  const host = await started('');
  assert.ok(host.scheduler.fireNext());
  await host.drain();
  const status = host.daemon.status();
  const change = host.events.since().filter((e) => e.kind === 'instance-state').at(-1);
  assert.ok(change);
  assert.deepEqual(
    status.instances[0]?.lastChange && { seq: status.instances[0].lastChange.seq, from: status.instances[0].lastChange.from, to: status.instances[0].lastChange.to, reason: status.instances[0].lastChange.reason },
    { seq: change.seq, from: 'backup', to: 'master', reason: 'master-down-timer' },
  );
  assert.equal(status.lastEventSeq, host.events.lastSeq);
  assert.match(formatStatus(status), new RegExp(`gw: backup -> master \\(master-down-timer: .*\\) at .*, event #${change.seq}`));
  await host.stop();
});

// RFC 5798 §6.4.2 (485)-(505): the Master_Down_Timer is reset when the ADVERTISEMENT is
// received — when the kernel received it (its SO_TIMESTAMPNS, `receivedAt`), not when the
// event loop got to it (instances.ts advertReceiveTime). 10 ms adverts, priority 100:
// Master_Down_Interval 30 + 156 × 10 / 256 = 36.09375 ms, Skew_Time 6.09375 ms.
const MASTER_DOWN_10MS = 30 + (156 * 10) / 256;
const SKEW_10MS = (156 * 10) / 256;

test('the Master_Down_Timer runs from the kernel receive time of the last advert, not from its handling', async () => {
  const host = await started('advert_interval: 10ms');
  assert.equal(stateOf(host), 'backup');
  host.scheduler.advance(20);
  // Received 0.4 ms before the loop handled it (the wake-up and the work before it).
  const receivedAt = host.clock.nowMs - 0.4;
  host.advertReceivedAt(receivedAt, '10.213.0.2', 51, 100, [VIP], 1);
  assert.equal(host.scheduler.next(), receivedAt + MASTER_DOWN_10MS);
  host.scheduler.advance(MASTER_DOWN_10MS - 0.4 - 0.01);
  assert.equal(stateOf(host), 'backup', 'the timer fired before Master_Down_Interval after the advert arrived');
  host.scheduler.advance(0.01);
  assert.equal(stateOf(host), 'master', 'Master_Down_Interval after the arrival, the backup takes over');
  assert.equal(host.sockets.adverts.at(-1)?.at, receivedAt + MASTER_DOWN_10MS, 'the advert leaves at the deadline');
  await host.stop();
});

test('a priority-0 advert: Skew_Time runs from its kernel receive time', async () => {
  const host = await started('advert_interval: 10ms');
  host.scheduler.advance(20);
  host.advertFrom('10.213.0.2', 51, 100, [VIP], 1);
  host.scheduler.advance(5);
  const receivedAt = host.clock.nowMs - 0.3;
  host.advertReceivedAt(receivedAt, '10.213.0.2', 51, 0, [VIP], 1);
  assert.equal(host.scheduler.next(), receivedAt + SKEW_10MS);
  host.scheduler.advance(SKEW_10MS - 0.3);
  assert.equal(stateOf(host), 'master');
  assert.equal(host.sockets.adverts.at(-1)?.at, receivedAt + SKEW_10MS);
  await host.stop();
});

test('receive times that cannot stand: queued long before the read (a stall) count from MAX_RECEIVE_LAG_MS before it, later than the read count from the read', async () => {
  const { MAX_RECEIVE_LAG_MS } = await import('../src/daemon/instances.js');
  const host = await started('advert_interval: 10ms');
  host.scheduler.advance(20);
  // Queued 200 ms ago (the process was stopped, the newer adverts were dropped by a full
  // buffer): the master is alive, the timer must still be ahead once it is taken in.
  const handledAt = host.clock.nowMs;
  host.advertReceivedAt(handledAt - 200, '10.213.0.2', 51, 100, [VIP], 1);
  assert.equal(host.scheduler.next(), handledAt - MAX_RECEIVE_LAG_MS + MASTER_DOWN_10MS);
  assert.ok((host.scheduler.next() ?? 0) > handledAt + 20);
  assert.equal(stateOf(host), 'backup');
  // A stamp after the read (the realtime clock stepped back between the two): the read counts.
  host.scheduler.advance(10);
  host.advertReceivedAt(host.clock.nowMs + 50, '10.213.0.2', 51, 100, [VIP], 1);
  assert.equal(host.scheduler.next(), host.clock.nowMs + MASTER_DOWN_10MS);
  // Without a receive time (the simulator): the read counts, as before.
  host.scheduler.advance(10);
  host.advertFrom('10.213.0.2', 51, 100, [VIP], 1);
  assert.equal(host.scheduler.next(), host.clock.nowMs + MASTER_DOWN_10MS);
  await host.stop();
});
