import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import fc from 'fast-check';
import { checkProperty } from './support/property.js';
import { ip } from '../src/net/address.js';
import { parseMac } from '../src/net/mac.js';
import { parseAddress } from '../src/netlink/addresses.js';
import { parseLink } from '../src/netlink/links.js';
import {
  attr,
  attrNested,
  attrString,
  attrU32,
  decodeAttributes,
  decodeDatagram,
  encodeAttributes,
  encodeDone,
  encodeIfAddrMsg,
  encodeIfInfoMsg,
  encodeMessage,
  encodeNlMsgErr,
  findAttr,
  validInterfaceName,
  type AttrSpec,
  type NetlinkMessage,
  type RtAttr,
} from '../src/netlink/message.js';
import { AF_INET, AF_INET6 } from '../src/net/af.js';
import { IFA, IFA_F, IFF, IFLA, IFLA_INFO, IFLA_MACVLAN, MACVLAN_MODE, NLMSG, NLM_F, RTM, RT_SCOPE, errnoName } from '../src/netlink/constants.js';

const LE = endianness() === 'LE';

function only(messages: readonly NetlinkMessage[]): NetlinkMessage {
  assert.equal(messages.length, 1, `expected one message, got ${messages.length}`);
  const m = messages[0];
  assert.ok(m);
  return m;
}

function macvlanNewLink(seq = 7): Buffer {
  const mac = parseMac('00:00:5e:00:01:33');
  assert.ok(!(mac instanceof Error));
  return encodeMessage(
    { type: RTM.NEWLINK, flags: NLM_F.MULTI, seq, pid: 1234 },
    encodeIfInfoMsg({ family: 0, type: 1, index: 5, flags: IFF.UP | IFF.LOWER_UP | IFF.RUNNING | IFF.BROADCAST | IFF.MULTICAST, change: 0 }),
    [
      attr.string(IFLA.IFNAME, 'vrrp.51'),
      attr.u32(IFLA.MTU, 1500),
      attr.u32(IFLA.LINK, 2),
      attr.u8(IFLA.OPERSTATE, 6),
      attr.bytes(IFLA.ADDRESS, mac.bytes),
      attr.nested(IFLA.LINKINFO, [attr.string(IFLA_INFO.KIND, 'macvlan'), attr.nested(IFLA_INFO.DATA, [attr.u32(IFLA_MACVLAN.MODE, MACVLAN_MODE.private)])]),
    ],
  );
}

test('message: the header is 16 bytes in host order, with the length unpadded and the buffer padded', () => {
  const m = encodeMessage({ type: 100, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 0x01020304, pid: 0 }, Uint8Array.of(1, 2, 3));
  assert.equal(m.length, 20);
  assert.equal(LE ? m.readUInt32LE(0) : m.readUInt32BE(0), 19);
  assert.equal(LE ? m.readUInt16LE(4) : m.readUInt16BE(4), 100);
  assert.equal(LE ? m.readUInt16LE(6) : m.readUInt16BE(6), 0x301);
  assert.equal(LE ? m.readUInt32LE(8) : m.readUInt32BE(8), 0x01020304);
  const decoded = decodeDatagram(m);
  assert.equal(decoded.error, null);
  const msg = only(decoded.messages);
  assert.equal(msg.kind, 'other');
  assert.deepEqual(msg.header, { length: 19, type: 100, flags: 0x301, seq: 0x01020304, pid: 0 });
  if (msg.kind === 'other') assert.deepEqual([...msg.payload], [1, 2, 3]);
});

test('message: an RTM_NEWLINK for a macvlan round-trips and parses to a Link with kind, mode and MAC', () => {
  const msg = only(decodeDatagram(macvlanNewLink()).messages);
  assert.equal(msg.kind, 'link');
  if (msg.kind !== 'link') return;
  assert.equal(msg.header.type, RTM.NEWLINK);
  assert.equal(msg.header.pid, 1234);
  assert.equal(msg.ifinfo.index, 5);
  const link = parseLink(msg);
  assert.ok(link.ok);
  if (!link.ok) return;
  assert.equal(link.value.name, 'vrrp.51');
  assert.equal(link.value.up, true);
  assert.equal(link.value.carrier, true);
  assert.equal(link.value.operstate, 'up');
  assert.equal(link.value.kind, 'macvlan');
  assert.equal(link.value.macvlanMode, 'private');
  assert.equal(link.value.mac?.text, '00:00:5e:00:01:33');
  assert.equal(link.value.link, 2);
  assert.equal(link.value.master, null);
  assert.equal(link.value.mtu, 1500);
});

test('message: nested attributes round-trip, with or without NLA_F_NESTED', () => {
  const bytes = encodeAttributes([attr.nested(1, [attr.u32(2, 0xdeadbeef), attr.string(3, 'abc')], true), attr.nested(4, [])]);
  const top = decodeAttributes(bytes);
  assert.ok(top.ok);
  if (!top.ok) return;
  assert.equal(top.value.length, 2);
  const [a, b] = top.value as [RtAttr, RtAttr];
  assert.equal(a.type, 1);
  assert.equal(a.nestedFlag, true);
  assert.equal(b.nestedFlag, false);
  const inner = attrNested(a);
  assert.ok(inner.ok);
  if (!inner.ok) return;
  assert.equal(attrU32(findAttr(inner.value, 2)), 0xdeadbeef);
  assert.equal(attrString(findAttr(inner.value, 3)), 'abc');
  const empty = attrNested(b);
  assert.ok(empty.ok && empty.value.length === 0);
});

test('message: an RTM_NEWADDR (IPv4, label, IFA_FLAGS) parses with its type, label, scope and flags', () => {
  const a = ip('10.213.0.100');
  const m = encodeMessage(
    { type: RTM.NEWADDR, flags: 0, seq: 0 },
    encodeIfAddrMsg({ family: AF_INET, prefixLength: 24, flags: IFA_F.SECONDARY | IFA_F.PERMANENT, scope: RT_SCOPE.link, index: 2 }),
    [attr.bytes(IFA.ADDRESS, a.bytes), attr.bytes(IFA.LOCAL, a.bytes), attr.string(IFA.LABEL, 'eth0:vip'), attr.u32(IFA.FLAGS, IFA_F.SECONDARY | IFA_F.PERMANENT | IFA_F.NOPREFIXROUTE)],
  );
  const msg = only(decodeDatagram(m).messages);
  assert.equal(msg.kind, 'address');
  if (msg.kind !== 'address') return;
  const entry = parseAddress(msg);
  assert.ok(entry.ok);
  if (!entry.ok) return;
  assert.equal(entry.value.family, 'ipv4');
  assert.equal(entry.value.address.text, '10.213.0.100');
  assert.equal(entry.value.peer, null);
  assert.equal(entry.value.prefixLength, 24);
  assert.equal(entry.value.ifindex, 2);
  assert.equal(entry.value.label, 'eth0:vip');
  assert.equal(entry.value.scope, 'link');
  assert.equal(entry.value.secondary, true);
  assert.equal(entry.value.permanent, true);
  assert.equal(entry.value.flags & IFA_F.NOPREFIXROUTE, IFA_F.NOPREFIXROUTE, 'IFA_FLAGS wins over the 8-bit ifa_flags');
});

test('message: an IPv6 RTM_DELADDR keeps its type and parses from IFA_ADDRESS alone', () => {
  const a = ip('fd13::100');
  const m = encodeMessage({ type: RTM.DELADDR, flags: 0, seq: 0 }, encodeIfAddrMsg({ family: AF_INET6, prefixLength: 64, flags: IFA_F.NODAD, scope: 0, index: 3 }), [
    attr.bytes(IFA.ADDRESS, a.bytes),
  ]);
  const msg = only(decodeDatagram(m).messages);
  assert.equal(msg.header.type, RTM.DELADDR);
  assert.equal(msg.kind, 'address');
  if (msg.kind !== 'address') return;
  const entry = parseAddress(msg);
  assert.ok(entry.ok);
  if (!entry.ok) return;
  assert.equal(entry.value.address.text, 'fd13::100');
  assert.equal(entry.value.noDad, true);
  assert.equal(entry.value.label, null);
  assert.equal(entry.value.scope, 'universe');
});

test('message: parseAddress rejects a wrong-size address and an unknown family as values', () => {
  const wrongSize = only(
    decodeDatagram(encodeMessage({ type: RTM.NEWADDR, flags: 0, seq: 0 }, encodeIfAddrMsg({ family: AF_INET, prefixLength: 24, index: 2 }), [attr.bytes(IFA.LOCAL, new Uint8Array(16))])).messages,
  );
  assert.equal(wrongSize.kind, 'address');
  if (wrongSize.kind === 'address') {
    const r = parseAddress(wrongSize);
    assert.ok(!r.ok);
    assert.match(r.ok ? '' : r.error.detail, /IFA_LOCAL is 16 bytes, expected 4/);
  }
  const noAddress = only(decodeDatagram(encodeMessage({ type: RTM.NEWADDR, flags: 0, seq: 0 }, encodeIfAddrMsg({ family: AF_INET6, prefixLength: 64, index: 2 }))).messages);
  if (noAddress.kind === 'address') assert.ok(!parseAddress(noAddress).ok);
  const otherFamily = only(decodeDatagram(encodeMessage({ type: RTM.NEWADDR, flags: 0, seq: 0 }, encodeIfAddrMsg({ family: 7, index: 2 }))).messages);
  if (otherFamily.kind === 'address') assert.ok(!parseAddress(otherFamily).ok);
  const badPrefix = only(decodeDatagram(encodeMessage({ type: RTM.NEWADDR, flags: 0, seq: 0 }, encodeIfAddrMsg({ family: AF_INET, prefixLength: 33, index: 2 }), [attr.bytes(IFA.LOCAL, new Uint8Array(4))])).messages);
  if (badPrefix.kind === 'address') assert.ok(!parseAddress(badPrefix).ok);
});

test('message: NLMSG_ERROR carries the positive errno, its name, the echoed request and the ext-ack text', () => {
  const request = encodeMessage(
    { type: RTM.NEWADDR, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq: 42 },
    encodeIfAddrMsg({ family: AF_INET, prefixLength: 24, index: 2 }),
    [attr.bytes(IFA.LOCAL, ip('10.213.0.100').bytes)],
  );
  const reply = encodeNlMsgErr(17, request, { extAckMessage: 'Address already assigned' });
  const msg = only(decodeDatagram(reply).messages);
  assert.equal(msg.kind, 'error');
  if (msg.kind !== 'error') return;
  assert.equal(msg.header.type, NLMSG.ERROR);
  assert.equal(msg.header.seq, 42);
  assert.equal(msg.error.errno, 17);
  assert.equal(msg.error.code, 'EEXIST');
  assert.equal(msg.error.request.type, RTM.NEWADDR);
  assert.equal(msg.error.request.seq, 42);
  assert.equal(msg.error.request.length, request.readUInt32LE(0));
  assert.deepEqual(Buffer.from(msg.error.requestPayload), request.subarray(16, msg.error.request.length));
  assert.equal(msg.error.extAck.message, 'Address already assigned');
});

test('message: an ack is NLMSG_ERROR with errno 0; a capped one echoes only the header', () => {
  const request = encodeMessage({ type: RTM.DELLINK, flags: NLM_F.REQUEST | NLM_F.ACK, seq: 9 }, encodeIfInfoMsg({ index: 4 }));
  const msg = only(decodeDatagram(encodeNlMsgErr(0, request, { capped: true })).messages);
  assert.equal(msg.kind, 'ack');
  if (msg.kind !== 'ack') return;
  assert.equal(msg.ack.errno, 0);
  assert.equal(msg.ack.request.type, RTM.DELLINK);
  assert.equal(msg.ack.requestPayload.length, 0);
});

test('message: NLMSG_DONE with and without its error int', () => {
  const ok = only(decodeDatagram(encodeDone(5)).messages);
  assert.deepEqual(ok.kind === 'done' ? [ok.errno, ok.header.seq] : [], [0, 5]);
  const failed = only(decodeDatagram(encodeDone(6, 16)).messages);
  assert.equal(failed.kind === 'done' ? failed.errno : -1, 16);
  const bare = only(decodeDatagram(encodeMessage({ type: NLMSG.DONE, flags: NLM_F.MULTI, seq: 3 })).messages);
  assert.equal(bare.kind === 'done' ? bare.errno : -1, 0);
});

test('message: a multipart datagram yields every message in order, ignoring trailing padding', () => {
  const datagram = Buffer.concat([macvlanNewLink(1), macvlanNewLink(1), encodeDone(1), Buffer.alloc(2)]);
  const decoded = decodeDatagram(datagram);
  assert.equal(decoded.error, null);
  assert.deepEqual(
    decoded.messages.map((m) => m.kind),
    ['link', 'link', 'done'],
  );
  assert.ok(decoded.messages.every((m) => (m.kind === 'done' ? true : (m.header.flags & NLM_F.MULTI) !== 0)));
});

test('message: malformed input gives error values, never exceptions', () => {
  // Cut header.
  const cut = decodeDatagram(macvlanNewLink().subarray(0, 10));
  assert.equal(cut.error?.reason, 'truncated-header');
  assert.equal(cut.messages.length, 0);
  // nlmsg_len below the header size, and beyond the datagram.
  const small = Buffer.from(macvlanNewLink());
  small.writeUInt32LE(8, 0);
  assert.equal(decodeDatagram(small).error?.reason, 'bad-message-length');
  const big = Buffer.from(macvlanNewLink());
  big.writeUInt32LE(big.length + 100, 0);
  assert.equal(decodeDatagram(big).error?.reason, 'bad-message-length');
  // A good message followed by a broken one: the first survives.
  const mixed = decodeDatagram(Buffer.concat([macvlanNewLink(), small]));
  assert.equal(mixed.messages.length, 1);
  assert.equal(mixed.error?.offset, macvlanNewLink().length);
  // Sound framing, broken attribute: a 'malformed' message that keeps its header (and seq).
  const badAttr = Buffer.from(macvlanNewLink(77));
  badAttr.writeUInt16LE(0xfff0, 32); // first rtattr's length
  const m = only(decodeDatagram(badAttr).messages);
  assert.equal(m.kind, 'malformed');
  assert.equal(m.header.seq, 77);
  if (m.kind === 'malformed') assert.equal(m.error.reason, 'bad-attribute-length');
  // A truncated ifinfomsg and a truncated nlmsgerr.
  const shortLink = only(decodeDatagram(encodeMessage({ type: RTM.NEWLINK, flags: 0, seq: 1 }, new Uint8Array(8))).messages);
  assert.equal(shortLink.kind === 'malformed' ? shortLink.error.reason : '', 'truncated-body');
  const shortErr = only(decodeDatagram(encodeMessage({ type: NLMSG.ERROR, flags: 0, seq: 1 }, new Uint8Array(8))).messages);
  assert.equal(shortErr.kind, 'malformed');
  // A link without a name decodes but does not parse to a Link.
  const nameless = only(decodeDatagram(encodeMessage({ type: RTM.NEWLINK, flags: 0, seq: 1 }, encodeIfInfoMsg({ index: 3 }))).messages);
  assert.equal(nameless.kind, 'link');
  if (nameless.kind === 'link') assert.ok(!parseLink(nameless).ok);
  // Broken IFLA_LINKINFO nesting.
  const brokenInfo = only(
    decodeDatagram(encodeMessage({ type: RTM.NEWLINK, flags: 0, seq: 1 }, encodeIfInfoMsg({ index: 3 }), [attr.string(IFLA.IFNAME, 'x'), attr.bytes(IFLA.LINKINFO, Uint8Array.of(200, 0, 1, 0))])).messages,
  );
  if (brokenInfo.kind === 'link') assert.ok(!parseLink(brokenInfo).ok);
  // Empty input is simply no messages.
  assert.deepEqual(decodeDatagram(new Uint8Array(0)), { messages: [], error: null });
});

test('message: errno names and interface names', () => {
  assert.equal(errnoName(17), 'EEXIST');
  assert.equal(errnoName(19), 'ENODEV');
  assert.equal(errnoName(99), 'EADDRNOTAVAIL');
  assert.equal(errnoName(100000), undefined);
  assert.ok(validInterfaceName('vrrp.51'));
  assert.ok(validInterfaceName('a'.repeat(15)));
  assert.ok(!validInterfaceName('a'.repeat(16)));
  assert.ok(!validInterfaceName('eth0:1'));
  assert.ok(!validInterfaceName('a/b'));
  assert.ok(!validInterfaceName('a b'));
  assert.ok(!validInterfaceName(''));
  assert.ok(!validInterfaceName('..'));
});

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

const leafAttr: fc.Arbitrary<AttrSpec> = fc.record({ type: fc.integer({ min: 0, max: 0x3fff }), value: fc.uint8Array({ maxLength: 40 }) });
const attrTree: fc.Arbitrary<AttrSpec> = fc.letrec<{ node: AttrSpec }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafAttr,
    fc.record({ type: fc.integer({ min: 0, max: 0x3fff }), nested: fc.array(tie('node'), { maxLength: 4 }) }),
  ),
})).node;

function decodeTree(attrs: readonly RtAttr[], like: readonly AttrSpec[]): AttrSpec[] {
  return attrs.map((a, i) => {
    const spec = like[i];
    if (spec && 'nested' in spec) {
      const inner = attrNested(a);
      assert.ok(inner.ok);
      return { type: a.type, nested: inner.ok ? decodeTree(inner.value, spec.nested) : [] };
    }
    return { type: a.type, value: new Uint8Array(a.data) };
  });
}

test('property: attribute trees round-trip through encode and decode', () => {
  checkProperty(
    fc.property(fc.array(attrTree, { maxLength: 6 }), (tree) => {
      const decoded = decodeAttributes(encodeAttributes(tree));
      assert.ok(decoded.ok);
      if (!decoded.ok) return;
      const normalise = (specs: readonly AttrSpec[]): AttrSpec[] =>
        specs.map((s) => ('nested' in s ? { type: s.type, nested: normalise(s.nested) } : { type: s.type, value: new Uint8Array(s.value) }));
      assert.deepEqual(decodeTree(decoded.value, tree), normalise(tree));
    }),
    { numRuns: 300 },
  );
});

test('property: header fields and address messages round-trip', () => {
  checkProperty(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 128 }),
      fc.integer({ min: 1, max: 0x7fffffff }),
      (type, flags, seq, pid, bytes, prefix, index) => {
        const m = encodeMessage({ type: RTM.NEWADDR, flags, seq, pid }, encodeIfAddrMsg({ family: AF_INET6, prefixLength: prefix, index }), [attr.bytes(IFA.ADDRESS, bytes)]);
        const msg = only(decodeDatagram(m).messages);
        assert.equal(msg.header.seq, seq);
        assert.equal(msg.header.pid, pid);
        assert.equal(msg.header.flags, flags);
        if (msg.kind !== 'address') assert.fail(`kind ${msg.kind}`);
        const entry = parseAddress(msg);
        assert.ok(entry.ok);
        if (!entry.ok) return;
        assert.deepEqual(entry.value.address.bytes, bytes);
        assert.equal(entry.value.prefixLength, prefix);
        assert.equal(entry.value.ifindex, index);
        // Any other type also keeps its header.
        const other = only(decodeDatagram(encodeMessage({ type, flags, seq, pid })).messages);
        assert.equal(other.header.type, type);
      },
    ),
    { numRuns: 300 },
  );
});

function neverThrows(bytes: Uint8Array): void {
  const decoded = decodeDatagram(bytes);
  for (const m of decoded.messages) {
    if (m.kind === 'link') parseLink(m);
    if (m.kind === 'address') parseAddress(m);
    if (m.kind === 'link' || m.kind === 'address') for (const a of m.attrs) attrNested(a);
  }
}

test('fuzz: arbitrary bytes never make the decoder throw', () => {
  checkProperty(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => neverThrows(bytes)),
    { numRuns: 2000 },
  );
});

test('fuzz: corrupted and truncated valid messages never make the decoder throw', () => {
  const seeds = [
    macvlanNewLink(),
    encodeMessage({ type: RTM.NEWADDR, flags: 0, seq: 1 }, encodeIfAddrMsg({ family: AF_INET, prefixLength: 24, index: 2 }), [
      attr.bytes(IFA.LOCAL, ip('10.213.0.1').bytes),
      attr.string(IFA.LABEL, 'eth0:1'),
      attr.bytes(IFA.CACHEINFO, new Uint8Array(16)),
    ]),
    encodeNlMsgErr(17, macvlanNewLink(), { extAckMessage: 'exists' }),
    encodeDone(1, 4),
  ];
  checkProperty(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat(),
      (which, flips, cutAt) => {
        const seed = seeds[which] ?? seeds[0];
        assert.ok(seed);
        const copy = Buffer.from(seed);
        for (const [at, value] of flips) copy[at % copy.length] = value;
        neverThrows(copy);
        neverThrows(copy.subarray(0, cutAt % (copy.length + 1)));
        neverThrows(Buffer.concat([copy, copy.subarray(0, cutAt % (copy.length + 1))]));
      },
    ),
    { numRuns: 2000 },
  );
});
