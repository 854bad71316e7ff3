/**
 * The real daemon shell (src/daemon) without root: fake netlink, nftables and sockets, a
 * virtual clock (test/support/fake-daemon.ts). Regression tests for the bugs of issue 9
 * that the effect pipeline fixes, and the effects it must apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip } from '../src/net/address.js';
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
