import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from './support/property.js';
import { ip, ipv4FromBytes, ipv6FromBytes, type IpAddress } from '../src/net/address.js';
import { decodeAdvert, encodeAdvert, type Advert, type PacketMeta } from '../src/vrrp/codec.js';
import { advertFromJson, advertToJson } from '../src/vrrp/advert-json.js';
import { vrrpChecksum } from '../src/vrrp/checksum.js';
import { type Centiseconds, type Priority, type Vrid } from '../src/vrrp/types.js';
import { advertVectors } from './support/vectors.js';

const vectors = advertVectors();

function metaOf(v: (typeof vectors)[number]): PacketMeta {
  return { src: ip(v.ip.src), dst: ip(v.ip.dst), ttl: v.ip.ttl_or_hop_limit };
}

test('there are advert vectors to check', () => {
  assert.ok(vectors.length >= 6, `found ${vectors.length}`);
});

for (const v of vectors) {
  test(`vector ${v.name}: decodes to exactly its decoded fields`, () => {
    const result = decodeAdvert(Buffer.from(v.payload_hex, 'hex'), metaOf(v));
    assert.ok(result.ok, result.ok ? '' : `${result.reason}: ${result.detail}`);
    assert.deepEqual(advertToJson(result.advert), v.decoded);
  });

  test(`vector ${v.name}: encoding its decoded fields gives payload_hex byte for byte`, () => {
    const advert = advertFromJson(v.decoded);
    const meta = metaOf(v);
    assert.equal(encodeAdvert(advert, meta).toString('hex'), v.payload_hex);
  });
}

test('K4 (v2) checksum has no pseudo-header; K1 (v3 IPv4) has the RFC 5798 one', () => {
  const k1 = vectors.find((v) => v.case === 'K1');
  assert.ok(k1);
  const payload = Buffer.from(k1.payload_hex, 'hex');
  const rfc9568 = decodeAdvert(payload, metaOf(k1), { v3Ipv4Checksum: 'rfc9568' });
  assert.equal(rfc9568.ok, false);
  assert.equal(rfc9568.ok ? '' : rfc9568.reason, 'bad-checksum');
  assert.equal(decodeAdvert(payload, metaOf(k1), { v3Ipv4Checksum: 'either' }).ok, true);
  // The RFC 9568 form of the same advert: accepted by rfc9568 and either, refused by rfc5798.
  const advert = advertFromJson(k1.decoded);
  const form9568 = encodeAdvert(advert, metaOf(k1), { v3Ipv4Checksum: 'rfc9568' });
  assert.equal(form9568.readUInt16BE(6), 0x21f3); // checksum_recomputed.no_pseudo_header
  assert.equal(decodeAdvert(form9568, metaOf(k1), { v3Ipv4Checksum: 'rfc9568' }).ok, true);
  assert.equal(decodeAdvert(form9568, metaOf(k1), { v3Ipv4Checksum: 'either' }).ok, true);
  const strict = decodeAdvert(form9568, metaOf(k1));
  assert.equal(strict.ok ? '' : strict.reason, 'bad-checksum');
});

test('K7 (unicast): the pseudo-header uses the unicast destination', () => {
  const k7 = vectors.find((v) => v.case === 'K7');
  assert.ok(k7);
  const payload = Buffer.from(k7.payload_hex, 'hex');
  const asMulticast = decodeAdvert(payload, { ...metaOf(k7), dst: ip('224.0.0.18') });
  assert.equal(asMulticast.ok ? '' : asMulticast.reason, 'bad-checksum');
});

test('IPv6 checksum always includes the pseudo-header, whatever the IPv4 mode', () => {
  const k6 = vectors.find((v) => v.case === 'K6');
  assert.ok(k6);
  const payload = Buffer.from(k6.payload_hex, 'hex');
  assert.equal(decodeAdvert(payload, metaOf(k6), { v3Ipv4Checksum: 'rfc9568' }).ok, true);
  const other = decodeAdvert(payload, { ...metaOf(k6), src: ip('fe80::1') });
  assert.equal(other.ok ? '' : other.reason, 'bad-checksum');
});

interface Expectation {
  name: string;
  mutate: (packet: Buffer, meta: PacketMeta) => [Uint8Array, PacketMeta];
  reason: string;
}

/** Re-computes the checksum after a mutation, so the intended check is the one that fails. */
function fixChecksum(packet: Buffer, meta: PacketMeta, withPseudo: boolean): Buffer {
  packet.writeUInt16BE(vrrpChecksum(packet, packet.length, withPseudo ? meta : undefined), 6);
  return packet;
}

const k1 = vectors.find((v) => v.case === 'K1');
const k4 = vectors.find((v) => v.case === 'K4');
const k6 = vectors.find((v) => v.case === 'K6');
for (const [label, vector, pseudo] of [
  ['K1 v3', k1, true],
  ['K4 v2', k4, false],
] as const) {
  const expectations: Expectation[] = [
    { name: 'TTL 254', mutate: (p, m) => [p, { ...m, ttl: 254 }], reason: 'ttl' },
    { name: 'TTL 1', mutate: (p, m) => [p, { ...m, ttl: 1 }], reason: 'ttl' },
    { name: 'empty', mutate: (_p, m) => [new Uint8Array(0), m], reason: 'truncated' },
    { name: 'header only', mutate: (p, m) => [p.subarray(0, 8), m], reason: 'truncated' },
    { name: 'one byte short', mutate: (p, m) => [p.subarray(0, p.length - 1), m], reason: 'truncated' },
    { name: 'one byte long', mutate: (p, m) => [Buffer.concat([p, Buffer.from([0])]), m], reason: 'length-mismatch' },
    {
      name: 'version 4',
      mutate: (p, m) => {
        p[0] = 0x41;
        return [fixChecksum(p, m, pseudo), m];
      },
      reason: 'bad-version',
    },
    {
      name: 'type 2',
      mutate: (p, m) => {
        p[0] = ((p[0] as number) & 0xf0) | 2;
        return [fixChecksum(p, m, pseudo), m];
      },
      reason: 'bad-type',
    },
    {
      name: 'count 0',
      mutate: (p, m) => {
        p[3] = 0;
        return [p, m];
      },
      reason: 'address-count-zero',
    },
    {
      name: 'count larger than the addresses',
      mutate: (p, m) => {
        p[3] = (p[3] as number) + 1;
        return [p, m];
      },
      reason: 'truncated',
    },
    {
      name: 'flipped checksum bit',
      mutate: (p, m) => {
        p[7] = (p[7] as number) ^ 1;
        return [p, m];
      },
      reason: 'bad-checksum',
    },
    {
      name: 'flipped priority bit',
      mutate: (p, m) => {
        p[2] = (p[2] as number) ^ 0x10;
        return [p, m];
      },
      reason: 'bad-checksum',
    },
    {
      name: 'VRID 0',
      mutate: (p, m) => {
        p[1] = 0;
        return [fixChecksum(p, m, pseudo), m];
      },
      reason: 'unknown-vrid',
    },
    {
      name: 'interval 0',
      mutate: (p, m) => {
        p[4] = pseudo ? 0 : (p[4] as number);
        p[5] = 0;
        return [fixChecksum(p, m, pseudo), m];
      },
      reason: 'bad-interval',
    },
  ];
  for (const e of expectations) {
    test(`${label}: ${e.name} is rejected as ${e.reason}`, () => {
      assert.ok(vector);
      const [packet, meta] = e.mutate(Buffer.from(vector.payload_hex, 'hex'), metaOf(vector));
      const result = decodeAdvert(packet, meta);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.reason, e.reason);
        assert.ok(result.detail.length > 0);
      }
    });
  }
}

test('VRRPv2 over IPv6 is a bad version; hop limit 64 is a TTL error', () => {
  assert.ok(k4 && k6);
  const v2 = Buffer.from(k4.payload_hex, 'hex');
  const asV6 = decodeAdvert(v2, { src: ip('fe80::1'), dst: ip('ff02::12'), ttl: 255 });
  assert.equal(asV6.ok ? '' : asV6.reason, 'bad-version');
  const hop = decodeAdvert(Buffer.from(k6.payload_hex, 'hex'), { ...metaOf(k6), ttl: 64 });
  assert.equal(hop.ok ? '' : hop.reason, 'ttl');
  const mixed = decodeAdvert(v2, { src: ip('10.213.0.1'), dst: ip('ff02::12'), ttl: 255 });
  assert.equal(mixed.ok ? '' : mixed.reason, 'family-mismatch');
});

// ---- properties -----------------------------------------------------------------

const ipv4Arb = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => ipv4FromBytes(b) as IpAddress);
const ipv6Arb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipv6FromBytes(b) as IpAddress);

const advertV3Arb = (family: 'ipv4' | 'ipv6'): fc.Arbitrary<Advert> =>
  fc.record({
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    interval: fc.integer({ min: 1, max: 4095 }),
    reserved: fc.integer({ min: 0, max: 15 }),
    addresses: fc.array(family === 'ipv4' ? ipv4Arb : ipv6Arb, { minLength: 1, maxLength: family === 'ipv4' ? 20 : 8 }),
  }).map((r) => ({
    version: 3 as const,
    family,
    vrid: r.vrid as Vrid,
    priority: r.priority as Priority,
    maxAdverInt: r.interval as Centiseconds,
    reserved: r.reserved,
    addresses: r.addresses,
  }));

const advertV2Arb: fc.Arbitrary<Advert> = fc
  .record({
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    interval: fc.integer({ min: 1, max: 255 }),
    authType: fc.integer({ min: 0, max: 255 }),
    authData: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    addresses: fc.array(ipv4Arb, { minLength: 1, maxLength: 20 }),
  })
  .map((r) => ({
    version: 2 as const,
    family: 'ipv4' as const,
    vrid: r.vrid as Vrid,
    priority: r.priority as Priority,
    adverIntSeconds: r.interval,
    authType: r.authType,
    authData: r.authData,
    addresses: r.addresses,
  }));

const anyAdvertArb = fc.oneof(advertV3Arb('ipv4'), advertV3Arb('ipv6'), advertV2Arb);

function pseudoFor(advert: Advert): { src: IpAddress; dst: IpAddress } {
  return advert.family === 'ipv4' ? { src: ip('10.213.0.1'), dst: ip('224.0.0.18') } : { src: ip('fe80::1'), dst: ip('ff02::12') };
}

const RUNS = 2000;

test(`property: decode(encode(x)) equals x for every valid advert (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(anyAdvertArb, fc.constantFrom('rfc5798' as const, 'rfc9568' as const), (advert, mode) => {
      const pseudo = pseudoFor(advert);
      const bytes = encodeAdvert(advert, pseudo, { v3Ipv4Checksum: mode });
      const result = decodeAdvert(bytes, { ...pseudo, ttl: 255 }, { v3Ipv4Checksum: mode });
      if (!result.ok) throw new Error(`${result.reason}: ${result.detail}`);
      const { checksum, ...decoded } = result.advert;
      assert.equal(checksum, bytes.readUInt16BE(6));
      assert.deepEqual(JSON.parse(JSON.stringify(decoded)), JSON.parse(JSON.stringify(advert)));
      // And the JSON form round-trips too (what the CLI prints and reads).
      assert.deepEqual(encodeAdvert(advertFromJson(advertToJson(result.advert)), pseudo, { v3Ipv4Checksum: mode }), bytes);
    }),
    { numRuns: RUNS },
  );
});

const metaArb = fc.oneof(
  fc.record({ src: ipv4Arb, dst: ipv4Arb, ttl: fc.oneof(fc.constant(255), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ src: ipv6Arb, dst: ipv6Arb, ttl: fc.oneof(fc.constant(255), fc.integer({ min: 0, max: 255 })) }),
);

test(`property: random bytes never throw, and give an advert or a known reason (${RUNS * 5} runs)`, () => {
  checkProperty(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), metaArb, fc.constantFrom('rfc5798' as const, 'rfc9568' as const, 'either' as const), (bytes, meta, mode) => {
      const result = decodeAdvert(bytes, meta, { v3Ipv4Checksum: mode });
      assert.equal(typeof result.ok, 'boolean');
      if (!result.ok) assert.ok(result.detail.length > 0);
    }),
    { numRuns: RUNS * 5 },
  );
});

test(`property: mutated vectors never throw; any change to a covered byte is caught (${RUNS * 2} runs)`, () => {
  checkProperty(
    fc.property(
      fc.constantFrom(...vectors),
      fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: -4, max: 4 }),
      (v, flips, resize) => {
        const original = Buffer.from(v.payload_hex, 'hex');
        let packet = Buffer.from(original);
        for (const f of flips) {
          const at = f.at % packet.length;
          packet[at] = (packet[at] as number) ^ f.xor;
        }
        if (resize < 0) packet = packet.subarray(0, Math.max(0, packet.length + resize));
        if (resize > 0) packet = Buffer.concat([packet, Buffer.alloc(resize)]);
        const result = decodeAdvert(packet, metaOf(v));
        // A one's complement sum misses only swaps of 0x0000/0xffff words: a changed packet
        // decodes only if it still sums to the same checksum (rare), never silently wrong in length.
        if (result.ok) assert.equal(packet.length, original.length);
      },
    ),
    { numRuns: RUNS * 2 },
  );
});
