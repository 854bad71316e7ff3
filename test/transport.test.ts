/**
 * VrrpSocket and PacketSocket on real sockets, in a lab of three namespaces (a, b, c)
 * on one bridge. The sockets are opened inside the hosts' namespaces from this process:
 * the main thread enters a namespace (setns) just long enough to open a socket, which
 * keeps that namespace for its life.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labAvailable, withLab, type Lab } from '../src/lab/netns.js';
import { ip, type IpAddress, type IPv4Address, type IPv6Address } from '../src/net/address.js';
import { parseMac } from '../src/net/mac.js';
import { PacketSocket, type PacketFrameMeta } from '../src/net/packet-socket.js';
import {
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  IPPROTO_VRRP,
  PACKET_OUTGOING,
  native,
} from '../src/native/index.js';
import { VrrpSocket, type VrrpPacketMeta, type VrrpSocketOptions } from '../src/vrrp/io/transport.js';
import { decodeAdvert, encodeAdvert, type AdvertV3 } from '../src/vrrp/codec.js';
import {
  decodeGratuitousArp,
  decodeNeighborAdvert,
  gratuitousArpFrame,
  unsolicitedNeighborAdvertFrame,
} from '../src/vrrp/announce-frames.js';
import type { Centiseconds, Priority, Vrid } from '../src/vrrp/types.js';
import { inNetns, injectVrrp } from '../src/lab/inject.js';
import { VRRP_IPV4_GROUP, VRRP_IPV6_GROUP } from '../src/vrrp/multicast.js';
import { sleep } from '../src/lab/wait.js';
import { monotonicMs } from '../src/daemon/clock.js';

const available = labAvailable();
const skip = available.ok ? false : available.reason;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** Collects values and waits for the first that matches. */
class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { match: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(item)) return true;
      w.resolve(item);
      return false;
    });
  };

  next(match: (item: T) => boolean = () => true, timeoutMs = 3000): Promise<T> {
    const found = this.items.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nothing arrived within ${timeoutMs} ms (${this.items.length} other items)`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      });
    });
  }
}

interface Received {
  readonly payload: Buffer;
  readonly meta: VrrpPacketMeta;
}

function ifindexIn(lab: Lab, host: string): number {
  return inNetns(lab.host(host).ns, () => native().ifNameToIndex('eth0'));
}

/** Opens a VrrpSocket on eth0 of `host`, collecting what it receives. */
function openVrrp(
  lab: Lab,
  host: string,
  options: Omit<VrrpSocketOptions, 'interface' | 'onPacket' | 'onError'>,
): { socket: VrrpSocket; inbox: Inbox<Received>; problems: string[] } {
  const inbox = new Inbox<Received>();
  const problems: string[] = [];
  const socket = inNetns(lab.host(host).ns, () =>
    VrrpSocket.open({
      ...options,
      interface: 'eth0',
      onPacket: (payload, meta) => inbox.push({ payload: Buffer.from(payload), meta }),
      onError: (problem) => problems.push(JSON.stringify(problem)),
    }),
  );
  return { socket, inbox, problems };
}

function advert(family: 'ipv4' | 'ipv6', vrid: number): AdvertV3 {
  return {
    version: 3,
    family,
    vrid: vrid as Vrid,
    priority: 150 as Priority,
    maxAdverInt: 100 as Centiseconds,
    reserved: 0,
    addresses: [family === 'ipv4' ? ip('10.213.0.100') : ip('fd13::100')],
  };
}

function sendAdvert(socket: VrrpSocket, vrid: number, dst: IpAddress): void {
  socket.send(encodeAdvert(advert(socket.family, vrid), { src: socket.source, dst }), dst);
}

function v4(text: string): IPv4Address {
  return ip(text) as IPv4Address;
}

function v6(text: string): IPv6Address {
  return ip(text) as IPv6Address;
}


interface Frame {
  readonly frame: Buffer;
  readonly meta: PacketFrameMeta;
}

function capture(lab: Lab, host: string, protocol: number): { socket: PacketSocket; inbox: Inbox<Frame>; close(): void } {
  const inbox = new Inbox<Frame>();
  const socket = inNetns(lab.host(host).ns, () =>
    PacketSocket.open({ interface: 'eth0', receive: { protocol, onFrame: (frame, meta) => inbox.push({ frame: Buffer.from(frame), meta }) } }),
  );
  return { socket, inbox, close: () => socket.close() };
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

test('transport: VRRP and Ethernet frames between namespaces', { skip }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) => {
    const a = lab.host('a');
    const b = lab.host('b');
    const c = lab.host('c');
    const bIndex = ifindexIn(lab, 'b');
    const opened: { close(): void }[] = [];
    const track = <T extends { close(): void }>(s: T): T => {
      opened.push(s);
      return s;
    };
    try {
      const a4 = openVrrp(lab, 'a', { family: 'ipv4', source: v4(a.ipv4) });
      const b4 = openVrrp(lab, 'b', { family: 'ipv4', source: v4(b.ipv4) });
      const a6 = openVrrp(lab, 'a', { family: 'ipv6', source: v6(a.ipv6LinkLocal) });
      const b6 = openVrrp(lab, 'b', { family: 'ipv6', source: v6(b.ipv6LinkLocal) });
      for (const s of [a4, b4, a6, b6]) track(s.socket);

      await t.test('IPv4 multicast advert from a reaches b with TTL 255, dst 224.0.0.18, b eth0 ifindex, DSCP CS6', async () => {
        const wire = track(capture(lab, 'b', ETH_P_IP));
        sendAdvert(a4.socket, 41, VRRP_IPV4_GROUP);
        const got = await b4.inbox.next((r) => r.payload[1] === 41);
        assert.equal(got.meta.ttl, 255);
        assert.equal(got.meta.dst.text, '224.0.0.18');
        assert.equal(got.meta.src.text, a.ipv4);
        assert.equal(got.meta.ifindex, bIndex);
        const decoded = decodeAdvert(got.payload, got.meta);
        assert.ok(decoded.ok, decoded.ok ? '' : `${decoded.reason}: ${decoded.detail}`);
        assert.equal(decoded.advert.vrid, 41);
        assert.equal(decoded.advert.priority, 150);
        assert.deepEqual(decoded.advert.addresses.map((x) => x.text), ['10.213.0.100']);
        // On the wire: multicast MAC 01:00:5e:00:00:12, TOS 0xc0, TTL 255, protocol 112.
        const frame = await wire.inbox.next((f) => f.frame[14 + 9] === IPPROTO_VRRP);
        assert.equal(frame.frame.subarray(0, 6).toString('hex'), '01005e000012');
        assert.equal(frame.frame[14 + 1], 0xc0);
        assert.equal(frame.frame[14 + 8], 255);
        wire.socket.close();
        assert.deepEqual(b4.problems, []);
      });

      await t.test('IPv6 multicast advert from a reaches b with hop limit 255, dst ff02::12, src a link-local, checksum valid', async () => {
        const wire = track(capture(lab, 'b', ETH_P_IPV6));
        sendAdvert(a6.socket, 42, VRRP_IPV6_GROUP);
        const got = await b6.inbox.next((r) => r.payload[1] === 42);
        assert.equal(got.meta.ttl, 255);
        assert.equal(got.meta.dst.text, 'ff02::12');
        assert.equal(got.meta.src.text, a.ipv6LinkLocal);
        assert.equal(got.meta.ifindex, bIndex);
        const decoded = decodeAdvert(got.payload, got.meta);
        assert.ok(decoded.ok, decoded.ok ? '' : `${decoded.reason}: ${decoded.detail}`);
        assert.equal(decoded.advert.vrid, 42);
        assert.deepEqual(decoded.advert.addresses.map((x) => x.text), ['fd13::100']);
        // On the wire: 33:33:00:00:00:12, traffic class 0xc0, hop limit 255, next header 112.
        const frame = await wire.inbox.next((f) => f.frame[14 + 6] === IPPROTO_VRRP);
        assert.equal(frame.frame.subarray(0, 6).toString('hex'), '333300000012');
        assert.equal(((frame.frame.readUInt32BE(14) >>> 20) & 0xff), 0xc0);
        assert.equal(frame.frame[14 + 7], 255);
        wire.socket.close();
        assert.deepEqual(b6.problems, []);
      });

      await t.test('receivedAt: the kernel receive time on the monotonic clock, not the time the loop read the packet', async () => {
        for (const [tx, rx, vrid, group] of [[a4, b4, 91, VRRP_IPV4_GROUP], [a6, b6, 92, VRRP_IPV6_GROUP]] as const) {
          const before = monotonicMs();
          sendAdvert(tx.socket, vrid, group);
          const sent = monotonicMs();
          // The loop is held for 50 ms (a sleep, not a spin): b reads the packet after that.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
          const got = await rx.inbox.next((r) => r.payload[1] === vrid);
          const at = got.meta.receivedAt;
          assert.ok(at !== undefined, `${tx.socket.family}: no receive time`);
          // veth delivers within the sendto (softirq on this CPU); 5 ms of slack for a loaded machine.
          assert.ok(at >= before - 0.05 && at <= sent + 5, `${tx.socket.family}: received at ${at}, sent between ${before} and ${sent}`);
          assert.ok(monotonicMs() - at >= 50, `${tx.socket.family}: the receive time is the read's, not the kernel's`);
        }
      });

      await t.test('a socket does not receive its own multicast adverts (loop off)', async () => {
        const before4 = a4.inbox.items.length;
        const before6 = a6.inbox.items.length;
        sendAdvert(a4.socket, 43, VRRP_IPV4_GROUP);
        sendAdvert(a6.socket, 43, VRRP_IPV6_GROUP);
        await b4.inbox.next((r) => r.payload[1] === 43);
        await b6.inbox.next((r) => r.payload[1] === 43);
        await sleep(200);
        assert.equal(a4.inbox.items.length, before4, 'IPv4: own advert looped back');
        assert.equal(a6.inbox.items.length, before6, 'IPv6: own advert looped back');
        assert.ok(a4.socket.counters.sent >= 2);
      });

      await t.test('sendSoon: adverts queued in one callback leave in one sendmmsg at its end, in order, before a later send()', async () => {
        const n = native();
        const original = n.sendmmsgTo;
        let calls = 0;
        n.sendmmsgTo = (...args) => {
          calls++;
          return original.apply(n, args);
        };
        try {
          const payloads = Array.from({ length: 20 }, (_, i) => encodeAdvert(advert('ipv4', 60 + i), { src: a4.socket.source, dst: VRRP_IPV4_GROUP }));
          const failures: string[] = [];
          const sentBefore = a4.socket.counters.sent;
          for (const p of payloads.slice(0, 10)) a4.socket.sendSoon(p, VRRP_IPV4_GROUP, (d, e) => failures.push(`${d.text}: ${e.message}`));
          assert.equal(calls, 0, 'sent inside sendSoon, not at the end of the callback');
          await Promise.resolve();
          assert.equal(calls, 1, 'ten adverts queued together: one sendmmsg');
          assert.equal(a4.socket.counters.sent, sentBefore + 10);
          // Queued, then an immediate send(): the queue goes first, in order.
          for (const p of payloads.slice(10, 19)) a4.socket.sendSoon(p, VRRP_IPV4_GROUP, (d, e) => failures.push(`${d.text}: ${e.message}`));
          a4.socket.send(payloads[19] as Uint8Array, VRRP_IPV4_GROUP);
          assert.equal(calls, 2);
          const vrids = Array.from({ length: 20 }, (_, i) => 60 + i);
          await b4.inbox.next((r) => r.payload[1] === 79);
          const order = b4.inbox.items.map((r) => r.payload[1] as number).filter((v) => v >= 60 && v < 80);
          assert.deepEqual(order, vrids);
          assert.deepEqual(failures, []);
        } finally {
          n.sendmmsgTo = original;
        }
      });

      await t.test('unicast IPv4 and IPv6 between a and b', async () => {
        const ua4 = track(openVrrp(lab, 'a', { family: 'ipv4', source: v4(a.ipv4), mode: 'unicast', peers: [v4(b.ipv4)] }).socket);
        const ub4 = openVrrp(lab, 'b', { family: 'ipv4', source: v4(b.ipv4), mode: 'unicast', peers: [v4(a.ipv4)] });
        track(ub4.socket);
        assert.deepEqual(ua4.destinations.map((d) => d.text), [b.ipv4]);
        for (const dst of ua4.destinations) sendAdvert(ua4, 44, dst);
        const got4 = await ub4.inbox.next((r) => r.payload[1] === 44);
        assert.equal(got4.meta.ttl, 255);
        assert.equal(got4.meta.src.text, a.ipv4);
        assert.equal(got4.meta.dst.text, b.ipv4);
        const decoded4 = decodeAdvert(got4.payload, got4.meta);
        assert.ok(decoded4.ok, decoded4.ok ? '' : `${decoded4.reason}: ${decoded4.detail}`);

        const ua6 = track(openVrrp(lab, 'a', { family: 'ipv6', source: v6(a.ipv6LinkLocal), mode: 'unicast', peers: [v6(b.ipv6LinkLocal)] }).socket);
        const ub6 = openVrrp(lab, 'b', { family: 'ipv6', source: v6(b.ipv6LinkLocal), mode: 'unicast', peers: [v6(a.ipv6LinkLocal)] });
        track(ub6.socket);
        sendAdvert(ua6, 45, v6(b.ipv6LinkLocal));
        const got6 = await ub6.inbox.next((r) => r.payload[1] === 45);
        assert.equal(got6.meta.ttl, 255);
        assert.equal(got6.meta.src.text, a.ipv6LinkLocal);
        assert.equal(got6.meta.dst.text, b.ipv6LinkLocal);
        const decoded6 = decodeAdvert(got6.payload, got6.meta);
        assert.ok(decoded6.ok, decoded6.ok ? '' : `${decoded6.reason}: ${decoded6.detail}`);
      });

      await t.test('a packet sent by c with TTL / hop limit 64 arrives with ttl 64 and the codec rejects it', async () => {
        const p4 = encodeAdvert(advert('ipv4', 46), { src: v4(c.ipv4), dst: VRRP_IPV4_GROUP });
        injectVrrp(lab, 'c', 'ipv4', 64, [p4]);
        const got4 = await b4.inbox.next((r) => r.payload[1] === 46);
        assert.equal(got4.meta.ttl, 64);
        assert.equal(got4.meta.src.text, c.ipv4);
        const r4 = decodeAdvert(got4.payload, got4.meta);
        assert.equal(r4.ok, false);
        assert.equal(r4.ok ? '' : r4.reason, 'ttl');

        const p6 = encodeAdvert(advert('ipv6', 46), { src: v6(c.ipv6LinkLocal), dst: VRRP_IPV6_GROUP });
        injectVrrp(lab, 'c', 'ipv6', 64, [p6]);
        const got6 = await b6.inbox.next((r) => r.payload[1] === 46);
        assert.equal(got6.meta.ttl, 64);
        assert.equal(got6.meta.src.text, c.ipv6LinkLocal);
        const r6 = decodeAdvert(got6.payload, got6.meta);
        assert.equal(r6.ok ? '' : r6.reason, 'ttl');
      });

      await t.test('a gratuitous ARP sent by PacketSocket on a is captured on b and decodes', async () => {
        const arp = track(capture(lab, 'b', ETH_P_ARP));
        const sender = track(inNetns(a.ns, () => PacketSocket.open({ interface: 'eth0' })));
        const mac = parseMac(a.mac);
        assert.ok(!(mac instanceof Error));
        sender.send(gratuitousArpFrame(v4('10.213.0.100'), mac));
        const got = await arp.inbox.next();
        const decoded = decodeGratuitousArp(got.frame);
        assert.ok(decoded.ok, decoded.ok ? '' : `${decoded.reason}: ${decoded.detail}`);
        assert.equal(decoded.arp.senderIp.text, '10.213.0.100');
        assert.equal(decoded.arp.senderMac.text, a.mac);
        assert.equal(decoded.arp.ethSrc.text, a.mac);
        assert.equal(decoded.arp.ethDst.text, 'ff:ff:ff:ff:ff:ff');
        assert.equal(got.meta.src.text, a.mac);
        assert.equal(got.meta.protocol, ETH_P_ARP);
        assert.equal(got.meta.ifindex, bIndex);

        const nd = track(capture(lab, 'b', ETH_P_IPV6));
        sender.send(unsolicitedNeighborAdvertFrame(v6('fd13::100'), mac, { router: true }));
        const na = await nd.inbox.next((f) => {
          const r = decodeNeighborAdvert(f.frame);
          return r.ok && r.na.target.text === 'fd13::100';
        });
        const decodedNa = decodeNeighborAdvert(na.frame);
        assert.ok(decodedNa.ok);
        assert.equal(decodedNa.na.targetLinkLayerAddress?.text, a.mac);
        assert.notEqual(na.meta.pktType, PACKET_OUTGOING);
      });

      await t.test('an idle open VrrpSocket uses almost no CPU', async () => {
        await sleep(100);
        const before = process.cpuUsage();
        await sleep(1000);
        const used = process.cpuUsage(before);
        const ms = (used.user + used.system) / 1000;
        assert.ok(ms < 20, `used ${ms.toFixed(1)} ms of CPU in 1 s with ${opened.length} open sockets`);
      });

      await t.test('errors name the interface: an unknown interface gives ENODEV', () => {
        assert.throws(
          () => inNetns(a.ns, () => VrrpSocket.open({ family: 'ipv4', interface: 'nosuch0', source: v4(a.ipv4), onPacket: () => {} })),
          (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'ENODEV' && e.message.includes('nosuch0'),
        );
        assert.throws(
          () => inNetns(a.ns, () => VrrpSocket.open({ family: 'ipv6', interface: 'eth0', source: v6(a.ipv6), onPacket: () => {} })),
          /link-local/,
        );
      });
    } finally {
      for (const s of opened) s.close();
    }
  });
});
