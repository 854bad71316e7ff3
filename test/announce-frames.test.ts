import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddressParseError,
  ipv6FromBytes,
  parseIPv4,
  parseIPv6,
  type IPv4Address,
  type IPv6Address,
} from '../src/net/address.js';
import { MacParseError, formatMac, parseMac, vrrpVirtualMac, type MacAddress } from '../src/net/mac.js';
import {
  GARP_FRAME_LENGTH,
  NA_FRAME_LENGTH,
  decodeGratuitousArp,
  decodeNeighborAdvert,
  gratuitousArpFrame,
  icmpv6Checksum,
  unsolicitedNeighborAdvertFrame,
  type DecodedGratuitousArp,
  type DecodedNeighborAdvert,
} from '../src/vrrp/announce-frames.js';
import { ValueRangeError } from '../src/vrrp/types.js';
import { frameVectors } from './support/vectors.js';

// ---- typed access to the vectors' JSON ------------------------------------------------

type Json = Record<string, unknown>;

function field(record: Json, key: string): unknown {
  assert.ok(key in record, `vector field ${key} missing`);
  return record[key];
}
function str(record: Json, key: string): string {
  const value = field(record, key);
  assert.equal(typeof value, 'string', `vector field ${key}`);
  return value as string;
}
function bool(record: Json, key: string): boolean {
  const value = field(record, key);
  assert.equal(typeof value, 'boolean', `vector field ${key}`);
  return value as boolean;
}
function obj(record: Json, key: string): Json {
  const value = field(record, key);
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `vector field ${key}`);
  return value as Json;
}
function objects(record: Json, key: string): Json[] {
  const value = field(record, key);
  assert.ok(Array.isArray(value), `vector field ${key}`);
  return value.map((item: unknown) => {
    assert.ok(typeof item === 'object' && item !== null && !Array.isArray(item));
    return item as Json;
  });
}

function mac(text: string): MacAddress {
  const parsed = parseMac(text);
  if (parsed instanceof MacParseError) throw parsed;
  return parsed;
}
function ipv4(text: string): IPv4Address {
  const parsed = parseIPv4(text);
  if (parsed instanceof AddressParseError) throw parsed;
  return parsed;
}
function ipv6(text: string): IPv6Address {
  const parsed = parseIPv6(text);
  if (parsed instanceof AddressParseError) throw parsed;
  return parsed;
}
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const hex16 = (value: number): string => `0x${value.toString(16).padStart(4, '0')}`;

/** The decoded ARP in the vectors' own shape. */
function arpToJson(arp: DecodedGratuitousArp, frameLength: number): Json {
  return {
    eth_src: arp.ethSrc.text,
    eth_dst: arp.ethDst.text,
    ethertype: '0x0806',
    opcode: arp.opcode,
    sender_mac: arp.senderMac.text,
    sender_ip: arp.senderIp.text,
    target_mac: arp.targetMac.text,
    target_ip: arp.targetIp.text,
    frame_length: frameLength,
    padding_hex: hex(arp.padding),
  };
}

/** The decoded NA in the vectors' own shape. */
function naToJson(na: DecodedNeighborAdvert): Json {
  return {
    eth_src: na.ethSrc.text,
    eth_dst: na.ethDst.text,
    ethertype: '0x86dd',
    ipv6_src: na.ipSrc.text,
    ipv6_dst: na.ipDst.text,
    hop_limit: na.hopLimit,
    icmpv6_type: 136,
    code: na.code,
    checksum: hex16(na.checksum),
    flags: { router: na.flags.router, solicited: na.flags.solicited, override: na.flags.override },
    target: na.target.text,
    options: na.options.map((o) => ({
      type: o.type,
      length_octets: o.lengthOctets,
      data_hex: hex(o.data),
      ...(o.type === 2 && o.lengthOctets === 8 ? { target_link_layer_address: formatMac(o.data) } : {}),
    })),
  };
}

// ---- the frames of every vector, `also` included ---------------------------------------

interface FrameCase {
  name: string;
  payloadHex: string;
  decoded: Json;
}

const cases: FrameCase[] = frameVectors().flatMap((v) => [
  { name: v.name, payloadHex: v.payload_hex, decoded: v.decoded },
  ...(v.also ?? []).map((a, i) => ({ name: `${v.name} also[${i}]`, payloadHex: a.payload_hex, decoded: a.decoded })),
]);
const arpCases = cases.filter((c) => str(c.decoded, 'ethertype') === '0x0806');
const naCases = cases.filter((c) => str(c.decoded, 'ethertype') === '0x86dd');

test('the frame vectors are all there: 3 gratuitous ARPs (k9a x2, k9b) and 2 NAs (k10 x2)', () => {
  assert.equal(arpCases.length, 3, arpCases.map((c) => c.name).join(', '));
  assert.equal(naCases.length, 2, naCases.map((c) => c.name).join(', '));
  assert.equal(cases.length, arpCases.length + naCases.length);
});

for (const c of arpCases) {
  test(`${c.name}: gratuitousArpFrame from the decoded fields gives payload_hex byte for byte`, () => {
    const d = c.decoded;
    assert.equal(str(d, 'target_ip'), str(d, 'sender_ip'));
    assert.equal(str(d, 'eth_src'), str(d, 'sender_mac'));
    assert.equal(str(d, 'eth_dst'), 'ff:ff:ff:ff:ff:ff');
    assert.equal(str(d, 'target_mac'), 'ff:ff:ff:ff:ff:ff');
    const frame = gratuitousArpFrame(ipv4(str(d, 'sender_ip')), mac(str(d, 'sender_mac')));
    assert.equal(frame.length, GARP_FRAME_LENGTH);
    assert.equal(frame.toString('hex'), c.payloadHex);
  });

  test(`${c.name}: decodeGratuitousArp(payload_hex) gives exactly the decoded fields`, () => {
    const frame = Buffer.from(c.payloadHex, 'hex');
    const result = decodeGratuitousArp(frame);
    assert.ok(result.ok, result.ok ? '' : `${result.reason}: ${result.detail}`);
    assert.deepEqual(arpToJson(result.arp, frame.length), c.decoded);
  });
}

for (const c of naCases) {
  test(`${c.name}: unsolicitedNeighborAdvertFrame from the decoded fields gives payload_hex byte for byte`, () => {
    const d = c.decoded;
    const flags = obj(d, 'flags');
    const [option, ...rest] = objects(d, 'options');
    assert.ok(option);
    assert.equal(rest.length, 0);
    assert.equal(str(d, 'ipv6_src'), str(d, 'target'));
    assert.equal(str(d, 'ipv6_dst'), 'ff02::1');
    assert.equal(bool(flags, 'solicited'), false);
    assert.equal(bool(flags, 'override'), true);
    assert.equal(str(option, 'target_link_layer_address'), str(d, 'eth_src'));
    const frame = unsolicitedNeighborAdvertFrame(ipv6(str(d, 'target')), mac(str(option, 'target_link_layer_address')), {
      router: bool(flags, 'router'),
    });
    assert.equal(frame.length, NA_FRAME_LENGTH);
    assert.equal(frame.toString('hex'), c.payloadHex);
  });

  test(`${c.name}: decodeNeighborAdvert(payload_hex) gives exactly the decoded fields`, () => {
    const result = decodeNeighborAdvert(Buffer.from(c.payloadHex, 'hex'));
    assert.ok(result.ok, result.ok ? '' : `${result.reason}: ${result.detail}`);
    assert.deepEqual(naToJson(result.na), c.decoded);
    assert.equal(result.na.targetLinkLayerAddress?.text, str(c.decoded, 'eth_src'));
    assert.equal(result.na.trafficClass, 0);
    assert.equal(result.na.flowLabel, 0);
  });
}

test('K9b: the gratuitous ARP built with vrrpVirtualMac(ipv4, 56) is the use_vmac capture', () => {
  const k9b = arpCases.find((c) => c.name === 'k9b-garp-ipv4-vmac');
  assert.ok(k9b);
  const frame = gratuitousArpFrame(ipv4(str(k9b.decoded, 'sender_ip')), vrrpVirtualMac('ipv4', 56));
  assert.equal(frame.toString('hex'), k9b.payloadHex);
});

test('NA with router: true (RFC 5798 §6.4.2) differs from the capture only in the R flag and the checksum', () => {
  const k10 = naCases[0];
  assert.ok(k10);
  const captured = Buffer.from(k10.payloadHex, 'hex');
  const option = objects(k10.decoded, 'options')[0];
  assert.ok(option);
  const frame = unsolicitedNeighborAdvertFrame(ipv6(str(k10.decoded, 'target')), mac(str(option, 'target_link_layer_address')), {
    router: true,
  });
  const differing: number[] = [];
  for (let i = 0; i < frame.length; i++) if (frame[i] !== captured[i]) differing.push(i);
  // 14 + 40 = 54: ICMPv6 checksum at 56-57, flags at 58.
  assert.deepEqual(differing.filter((i) => i !== 56 && i !== 57), [58]);
  assert.equal(frame[58], 0xa0);
  const result = decodeNeighborAdvert(frame);
  assert.ok(result.ok, result.ok ? '' : `${result.reason}: ${result.detail}`);
  assert.deepEqual(result.na.flags, { router: true, solicited: false, override: true });
});

// ---- MAC addresses ---------------------------------------------------------------------

test('vrrpVirtualMac: RFC 5798 §7.3 for vrid 56', () => {
  assert.equal(vrrpVirtualMac('ipv4', 56).text, '00:00:5e:00:01:38');
  assert.equal(vrrpVirtualMac('ipv6', 56).text, '00:00:5e:00:02:38');
  assert.deepEqual([...vrrpVirtualMac('ipv6', 56).bytes], [0x00, 0x00, 0x5e, 0x00, 0x02, 0x38]);
  assert.equal(vrrpVirtualMac('ipv4', 1).text, '00:00:5e:00:01:01');
  assert.equal(vrrpVirtualMac('ipv4', 255).text, '00:00:5e:00:01:ff');
});

test('vrrpVirtualMac refuses a VRID outside 1..255', () => {
  for (const bad of [0, 256, -1, 1.5, Number.NaN]) {
    assert.throws(() => vrrpVirtualMac('ipv4', bad), ValueRangeError, String(bad));
  }
});

test('parseMac accepts colon or hyphen forms in either case and gives the canonical text', () => {
  assert.equal(mac('00:00:5E:00:01:38').text, '00:00:5e:00:01:38');
  assert.equal(mac('02-13-00-00-00-0A').text, '02:13:00:00:00:0a');
  assert.deepEqual([...mac('ff:ff:ff:ff:ff:ff').bytes], [255, 255, 255, 255, 255, 255]);
  assert.equal(formatMac(new Uint8Array([1, 2, 3, 4, 5, 0xab])), '01:02:03:04:05:ab');
});

test('parseMac rejects malformed text with a MacParseError naming the input', () => {
  for (const bad of ['00:11:22:33:44', 'zz:11:22:33:44:55', '', '00:11:22:33:44:55:66', '00:11:22-33:44:55', '0:11:22:33:44:55', '00:11:22:33:44:55 ']) {
    const result = parseMac(bad);
    assert.ok(result instanceof MacParseError, `accepted ${JSON.stringify(bad)}`);
    assert.ok(result instanceof Error);
    assert.equal(result.input, bad);
    assert.ok(result.message.includes(`"${bad}"`));
  }
});

// ---- decoders on bad input -------------------------------------------------------------

test('decoders return "truncated" (never throw) for every prefix of every captured frame', () => {
  for (const c of cases) {
    const frame = Buffer.from(c.payloadHex, 'hex');
    const decode = str(c.decoded, 'ethertype') === '0x0806' ? decodeGratuitousArp : decodeNeighborAdvert;
    for (let n = 0; n < frame.length; n++) {
      const result = decode(frame.subarray(0, n));
      assert.equal(result.ok ? 'ok' : result.reason, 'truncated', `${c.name} cut to ${n} bytes`);
    }
  }
});

test('each decoder refuses the other kind of frame', () => {
  const arp = arpCases[0];
  const na = naCases[0];
  assert.ok(arp && na);
  const asNa = decodeNeighborAdvert(Buffer.from(arp.payloadHex, 'hex'));
  assert.equal(asNa.ok ? 'ok' : asNa.reason, 'not-ipv6');
  const asArp = decodeGratuitousArp(Buffer.from(na.payloadHex, 'hex'));
  assert.equal(asArp.ok ? 'ok' : asArp.reason, 'not-arp');
});

test('decodeGratuitousArp: typed failures for a non-gratuitous ARP, a bad opcode and a non-IPv4 ARP', () => {
  const base = gratuitousArpFrame(ipv4('10.213.0.100'), mac('02:13:00:00:00:0a'));
  const reasonOf = (frame: Uint8Array): string => {
    const r = decodeGratuitousArp(frame);
    return r.ok ? 'ok' : r.reason;
  };
  const ordinary = Buffer.from(base);
  ordinary[41] = 1; // target IP 10.213.0.1
  assert.equal(reasonOf(ordinary), 'not-gratuitous');
  const opcode = Buffer.from(base);
  opcode.writeUInt16BE(3, 20);
  assert.equal(reasonOf(opcode), 'bad-opcode');
  const ptype = Buffer.from(base);
  ptype.writeUInt16BE(0x86dd, 16);
  assert.equal(reasonOf(ptype), 'unsupported-arp');
  // A reply and a frame padded to the Ethernet minimum still decode.
  const reply = Buffer.from(base);
  reply.writeUInt16BE(2, 20);
  assert.equal(reasonOf(reply), 'ok');
  const padded = Buffer.concat([base, Buffer.alloc(18)]);
  const result = decodeGratuitousArp(padded);
  assert.ok(result.ok);
  assert.equal(hex(result.arp.padding), '00'.repeat(18));
});

test('decodeNeighborAdvert: the RFC 4861 §7.1.2 validity checks give typed failures', () => {
  const base = unsolicitedNeighborAdvertFrame(ipv6('fd13::100'), mac('02:13:00:00:00:0a'), { router: false });
  const reasonOf = (frame: Uint8Array): string => {
    const r = decodeNeighborAdvert(frame);
    return r.ok ? 'ok' : r.reason;
  };
  assert.equal(reasonOf(base), 'ok');
  const change = (edit: (f: Buffer) => void): Buffer => {
    const f = Buffer.from(base);
    edit(f);
    return f;
  };
  assert.equal(reasonOf(change((f) => (f[21] = 64))), 'bad-hop-limit');
  assert.equal(reasonOf(change((f) => (f[57] = (f[57] ?? 0) ^ 1))), 'bad-checksum');
  assert.equal(reasonOf(change((f) => (f[55] = 1))), 'bad-checksum'); // the code is covered by the checksum
  assert.equal(reasonOf(change((f) => (f[54] = 135))), 'not-neighbor-advert');
  assert.equal(reasonOf(change((f) => (f[20] = 17))), 'not-icmpv6');
  assert.equal(reasonOf(change((f) => (f[14] = 0x40))), 'bad-ip-version');
  assert.equal(reasonOf(change((f) => f.writeUInt16BE(16, 18))), 'bad-length');
  assert.equal(reasonOf(change((f) => f.writeUInt16BE(40, 18))), 'truncated');
  // Frames rebuilt with a correct checksum around a bad field.
  // Frames re-signed with a correct checksum (icmpv6Checksum matches the captures above) around a bad field.
  const rebuilt = (edit: (f: Buffer) => void): Buffer => {
    const f = change(edit);
    f.writeUInt16BE(icmpv6Checksum(ipv6FromBytes(f, 22), ipv6FromBytes(f, 38), f.subarray(54)), 56);
    return f;
  };
  assert.equal(reasonOf(rebuilt(() => undefined)), 'ok');
  assert.equal(reasonOf(rebuilt((f) => (f[55] = 1))), 'bad-code');
  assert.equal(reasonOf(rebuilt((f) => (f[58] = 0x60))), 'solicited-to-multicast');
  assert.equal(reasonOf(rebuilt((f) => (f[62] = 0xff))), 'multicast-target');
  assert.equal(reasonOf(rebuilt((f) => (f[79] = 0))), 'bad-option');
  assert.equal(reasonOf(rebuilt((f) => (f[79] = 2))), 'bad-option');
});

/** mulberry32: a small seeded PRNG, so the random tests are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('decoders return a failure, never throw, on random bytes of length 0..100', () => {
  const random = prng(0x5798);
  for (let i = 0; i < 500; i++) {
    const frame = new Uint8Array(Math.floor(random() * 101));
    for (let j = 0; j < frame.length; j++) frame[j] = Math.floor(random() * 256);
    const arp = decodeGratuitousArp(frame);
    const na = decodeNeighborAdvert(frame);
    assert.equal(arp.ok, false, `random frame ${i} decoded as ARP`);
    assert.equal(na.ok, false, `random frame ${i} decoded as NA`);
  }
});

test('decoders never throw on captured frames with random bytes changed and random lengths', () => {
  const random = prng(4861);
  const frames = cases.map((c) => Buffer.from(c.payloadHex, 'hex'));
  for (let i = 0; i < 2000; i++) {
    const source = frames[i % frames.length];
    assert.ok(source);
    const length = random() < 0.5 ? source.length : Math.floor(random() * (source.length + 20));
    const frame = Buffer.alloc(length);
    source.copy(frame, 0, 0, Math.min(length, source.length));
    const flips = 1 + Math.floor(random() * 3);
    for (let k = 0; k < flips && length > 0; k++) frame[Math.floor(random() * length)] = Math.floor(random() * 256);
    for (const decode of [decodeGratuitousArp, decodeNeighborAdvert]) {
      const result = decode(frame);
      if (!result.ok) assert.equal(typeof result.detail, 'string');
    }
  }
});
