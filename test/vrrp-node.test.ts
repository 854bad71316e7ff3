/**
 * The VRRP node (src/vrrp/node.ts), the glue the daemon and the simulator share: VRID
 * lookup per channel, decode with each instance's checksum mode, the receive checks,
 * sync-group dispatch and observations, advert encoding; and the simulator running it
 * with VRRPv2 and mismatched checksum forms, which the old simulator could not express.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip, type IpAddress } from '../src/net/address.js';
import { decodeAdvert, encodeAdvert, type Advert } from '../src/vrrp/codec.js';
import { DEFAULT_ANNOUNCE, type RouterAction, type RouterConfig } from '../src/vrrp/router.js';
import { VrrpNode, type NodeInstanceConfig, type NodeObservation } from '../src/vrrp/node.js';
import { toPriority, toV3Interval, toVrid, type V3Ipv4ChecksumMode } from '../src/vrrp/types.js';
import { Segment } from '../src/sim/segment.js';

const GROUP = ip('224.0.0.18');
const SELF = ip('10.213.0.1');
const CHANNEL = 'eth0/ipv4/multicast';

function routerConfig(name: string, vrid: number, priority: number): RouterConfig {
  return {
    name,
    version: 3,
    family: 'ipv4',
    vrid: toVrid(vrid),
    priority: toPriority(priority),
    advertInterval: toV3Interval(100),
    preempt: true,
    preemptDelayMs: 0,
    acceptMode: true,
    primaryAddress: SELF,
    tracked: [],
    announce: DEFAULT_ANNOUNCE,
    higherPrioritySendAdvert: true,
    lowerPriorityNoAdvert: false,
  };
}

function instance(name: string, vrid: number, priority = 100, checksum: V3Ipv4ChecksumMode = 'rfc5798', channel = CHANNEL): NodeInstanceConfig {
  return {
    name,
    channel,
    router: routerConfig(name, vrid, priority),
    virtualAddresses: [ip(`10.213.100.${vrid}`)],
    authentication: { type: 'none' },
    addressListCheck: 'log',
    checksum,
    destinations: [GROUP],
  };
}

interface Recorder {
  sent: { instance: string; advert: Advert }[];
  performed: { instance: string; actions: readonly RouterAction[] }[];
  rejected: { instance: string | undefined; channel: string; reason: string }[];
  observed: NodeObservation[];
  deadlines: Map<string, number | undefined>;
  /** The order of the node's calls: "send a" / "perform a". */
  calls: string[];
}

function recordingNode(): { node: VrrpNode; rec: Recorder } {
  const rec: Recorder = { sent: [], performed: [], rejected: [], observed: [], deadlines: new Map(), calls: [] };
  const node = new VrrpNode({
    send: (name, payload, dst) => {
      const d = decodeAdvert(payload, { src: SELF, dst, ttl: 255 });
      assert.ok(d.ok, `the node sent an advert that does not decode: ${d.ok ? '' : d.detail}`);
      rec.sent.push({ instance: name, advert: d.advert });
      rec.calls.push(`send ${name}`);
    },
    perform: (name, actions) => {
      rec.performed.push({ instance: name, actions });
      rec.calls.push(`perform ${name}`);
    },
    rejected: (name, channel, reason) => rec.rejected.push({ instance: name, channel, reason }),
    warned: () => undefined,
    deadline: (name, at) => rec.deadlines.set(name, at),
    observed: (o) => rec.observed.push(o),
  });
  return { node, rec };
}

function advert(vrid: number, priority: number, checksum: V3Ipv4ChecksumMode = 'rfc5798', src: IpAddress = ip('10.213.0.2')): Uint8Array {
  const a = { version: 3, family: 'ipv4', vrid: toVrid(vrid), priority: toPriority(priority), maxAdverInt: toV3Interval(100), reserved: 0, addresses: [ip(`10.213.100.${vrid}`)] } as Advert;
  return encodeAdvert(a, { src, dst: GROUP }, { v3Ipv4Checksum: checksum === 'rfc9568' ? 'rfc9568' : 'rfc5798' });
}

test('node: the VRID picks the router per channel; unknown VRIDs are counted on the channel; a VRID is unique per channel', () => {
  const { node, rec } = recordingNode();
  node.add(instance('a', 51));
  node.add(instance('b', 52));
  node.add(instance('c', 51, 100, 'rfc5798', 'eth1/ipv4/multicast'));
  assert.throws(() => node.add(instance('d', 52)), /VRID 52 is already used by instance b on eth0\/ipv4\/multicast/);
  for (const name of ['a', 'b', 'c']) node.dispatch(name, { type: 'startup' }, 0);
  node.receive(CHANNEL, advert(52, 200), { src: ip('10.213.0.2'), dst: GROUP, ttl: 255 }, 10);
  node.receive(CHANNEL, advert(53, 200), { src: ip('10.213.0.2'), dst: GROUP, ttl: 255 }, 10);
  assert.equal(node.router('b')?.status(10).master?.address, '10.213.0.2', 'b heard its master');
  assert.equal(node.router('a')?.status(10).master, null, 'a did not hear VRID 52');
  assert.equal(node.router('c')?.status(10).master, null, 'c is on another channel');
  assert.deepEqual(rec.rejected, [{ instance: undefined, channel: CHANNEL, reason: 'unknown-vrid' }]);
  assert.equal(node.channelRejectCounts().get(CHANNEL)?.['unknown-vrid'], 1);
  // A TTL other than 255 is dropped before the router (RFC 5798 §7.1), counted on the instance.
  node.receive(CHANNEL, advert(51, 200), { src: ip('10.213.0.2'), dst: GROUP, ttl: 254 }, 20);
  assert.equal(node.rejectsOf('a')?.['ttl'], 1);
});

test('node: each instance decodes with its own checksum mode (RFC 5798 pseudo-header vs RFC 9568)', () => {
  const { node, rec } = recordingNode();
  node.add(instance('old', 51, 100, 'rfc5798'));
  node.add(instance('new', 52, 100, 'rfc9568'));
  node.dispatch('old', { type: 'startup' }, 0);
  node.dispatch('new', { type: 'startup' }, 0);
  const meta = { src: ip('10.213.0.2'), dst: GROUP, ttl: 255 };
  node.receive(CHANNEL, advert(51, 200, 'rfc9568'), meta, 5);
  node.receive(CHANNEL, advert(52, 200, 'rfc9568'), meta, 5);
  assert.deepEqual(rec.rejected.map((r) => [r.instance, r.reason]), [['old', 'bad-checksum']]);
  assert.equal(node.router('new')?.status(5).master?.address, '10.213.0.2');
});

test('node: the advert is sent before the other actions are performed; a master hearing a lower priority and priority changes are observed', () => {
  const { node, rec } = recordingNode();
  node.add({ ...instance('a', 51), router: { ...routerConfig('a', 51, 100), tracked: [{ name: 't', weight: -20 }] } });
  node.dispatch('a', { type: 'startup' }, 0);
  const deadline = rec.deadlines.get('a');
  assert.ok(deadline !== undefined);
  rec.calls.length = 0;
  rec.performed.length = 0;
  node.dispatch('a', { type: 'tick' }, deadline);
  assert.equal(node.router('a')?.state, 'master');
  // RFC 5798 §6.4.2 (375): the advert goes out before the state change, VIPs and announcements are handed on.
  assert.deepEqual(rec.calls, ['send a', 'perform a']);
  assert.equal(rec.sent.at(-1)?.advert.priority, 100);
  assert.deepEqual(rec.performed[0]?.actions.map((a) => a.type).filter((t) => t !== 'send-advert'), ['state-change', 'add-vips', 'announce']);
  node.receive(CHANNEL, advert(51, 50, 'rfc5798', ip('10.213.0.3')), { src: ip('10.213.0.3'), dst: GROUP, ttl: 255 }, deadline + 1);
  assert.deepEqual(rec.rejected, []);
  node.dispatch('a', { type: 'tracker', name: 't', up: false }, deadline + 2);
  assert.deepEqual(
    rec.observed.map((o) => o.kind),
    ['master-rx-lower-priority', 'priority-changed'],
  );
  assert.deepEqual(rec.observed[1], { kind: 'priority-changed', instance: 'a', from: 100, to: 80, basePriority: 100 });
  // The prebuilt advert follows the priority: the next Adver_Timer sends 80, then 100 again.
  const next = rec.deadlines.get('a') as number;
  node.dispatch('a', { type: 'tick' }, next);
  assert.equal(rec.sent.at(-1)?.advert.priority, 80);
  node.dispatch('a', { type: 'tracker', name: 't', up: true }, next + 1);
  node.dispatch('a', { type: 'tick' }, rec.deadlines.get('a') as number);
  assert.equal(rec.sent.at(-1)?.advert.priority, 100);
});

test('node: a reconfigured instance advertises its new addresses and interval (the prebuilt advert is rebuilt)', () => {
  const { node, rec } = recordingNode();
  node.add(instance('a', 51, 255));
  node.dispatch('a', { type: 'startup' }, 0);
  assert.equal(node.router('a')?.state, 'master');
  assert.deepEqual(rec.sent.at(-1)?.advert.addresses.map((x) => x.text), ['10.213.100.51']);
  node.reconfigure({ ...instance('a', 51, 255), router: { ...routerConfig('a', 51, 255), advertInterval: toV3Interval(200) }, virtualAddresses: [ip('10.213.100.51'), ip('10.213.100.151')] });
  node.dispatch('a', { type: 'tick' }, rec.deadlines.get('a') as number);
  const sent = rec.sent.at(-1)?.advert;
  assert.deepEqual(sent?.addresses.map((x) => x.text), ['10.213.100.51', '10.213.100.151']);
  assert.equal(sent?.version === 3 ? sent.maxAdverInt : undefined, 200);
});

test('node: a sync group moves as one and its state is observed once per change', () => {
  const { node, rec } = recordingNode();
  node.add(instance('a', 51));
  node.add(instance('b', 52));
  node.setSyncGroups([{ name: 'pair', instances: ['a', 'b'] }]);
  node.dispatch('a', { type: 'startup' }, 0);
  node.dispatch('b', { type: 'startup' }, 0);
  for (let i = 0; i < 10 && node.router('a')?.state !== 'master'; i++) {
    const at = Math.min(...[...rec.deadlines.values()].filter((d): d is number => d !== undefined));
    for (const [name, d] of rec.deadlines) if (d === at) node.dispatch(name, { type: 'tick' }, at);
  }
  assert.equal(node.router('a')?.state, 'master');
  assert.equal(node.router('b')?.state, 'master');
  const groups = rec.observed.filter((o) => o.kind === 'group-state');
  assert.deepEqual(groups.map((g) => (g.kind === 'group-state' ? `${g.from}->${g.to}` : '')).filter((s) => s.endsWith('master')), ['backup->master']);
  node.dispatch('b', { type: 'interface', up: false }, 10_000);
  assert.equal(node.router('a')?.state, 'fault');
  const last = rec.observed.filter((o) => o.kind === 'group-state').at(-1);
  assert.deepEqual(last, { kind: 'group-state', group: 'pair', from: 'master', to: 'fault', instances: ['a', 'b'] });
});

test('simulator on the node: a VRRPv2 segment elects the highest priority; a node with the other checksum form is not heard', () => {
  const v2 = new Segment(
    [
      { name: 'a', address: '10.213.0.1', routers: [{ vrid: 7, priority: 200, intervalCs: 100, version: 2 }] },
      { name: 'b', address: '10.213.0.2', routers: [{ vrid: 7, priority: 100, intervalCs: 100, version: 2 }] },
    ],
    { delayMinMs: 0, delayMaxMs: 1, loss: 0 },
    1,
  );
  for (const n of v2.nodes) n.boot();
  v2.runUntil(10_000);
  assert.deepEqual(v2.masters(7), ['a']);
  assert.deepEqual(v2.rejected, []);
  const mixed = new Segment(
    [
      { name: 'a', address: '10.213.0.1', routers: [{ vrid: 7, priority: 200, intervalCs: 100, checksum: 'rfc9568' }] },
      { name: 'b', address: '10.213.0.2', routers: [{ vrid: 7, priority: 100, intervalCs: 100 }] },
    ],
    { delayMinMs: 0, delayMaxMs: 1, loss: 0 },
    1,
  );
  for (const n of mixed.nodes) n.boot();
  mixed.runUntil(10_000);
  // Each drops the other's adverts as bad-checksum: both master, which is what mixing the forms does.
  assert.deepEqual(mixed.masters(7).sort(), ['a', 'b']);
  assert.ok(mixed.rejected.length > 0 && mixed.rejected.every((r) => r === 'bad-checksum'), mixed.rejected.join(', '));
});

test('node: an advert with the master\'s own address as source (forged: IPv6 has no martian-source check) is not observed as a lower priority heard', () => {
  const { node, rec } = recordingNode();
  node.add(instance('a', 51));
  node.dispatch('a', { type: 'startup' }, 0);
  const deadline = rec.deadlines.get('a');
  assert.ok(deadline !== undefined);
  node.dispatch('a', { type: 'tick' }, deadline);
  assert.equal(node.router('a')?.state, 'master');
  node.receive(CHANNEL, advert(51, 50, 'rfc5798', SELF), { src: SELF, dst: GROUP, ttl: 255 }, deadline + 1);
  assert.deepEqual(rec.observed.map((o) => o.kind), [], 'no master-rx-lower-priority for our own address');
  assert.equal(node.router('a')?.state, 'master');
  node.receive(CHANNEL, advert(51, 50, 'rfc5798', ip('10.213.0.3')), { src: ip('10.213.0.3'), dst: GROUP, ttl: 255 }, deadline + 2);
  assert.deepEqual(rec.observed.map((o) => o.kind), ['master-rx-lower-priority'], 'another router is');
});
