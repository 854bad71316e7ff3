/**
 * The addon's HMAC-SHA256 (src/native/hmac.cc, src/quorum/io/hmac.ts) that signs and checks
 * the daemon's heartbeats: RFC 4231's HMAC-SHA-256 vectors, agreement with node:crypto on
 * random keys and messages (keys longer than the 64-byte block included), verification
 * refusing any changed bit, and the wire: a heartbeat encoded by the code before the addon
 * signed (node:crypto, captured below) still verifies, and one signed by the addon decodes
 * with node:crypto's HMAC, byte for byte the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { checkProperty } from './support/property.js';
import { native } from '../src/native/index.js';
import { nativeHeartbeatMac } from '../src/quorum/io/hmac.js';
import { HEARTBEAT_LENGTH, decodeHeartbeat, encodeHeartbeat, encodeHeartbeatInto, type Heartbeat } from '../src/quorum/heartbeat.js';
import { toNodeId, toVotes } from '../src/quorum/types.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const text = (s: string): Buffer => Buffer.from(s, 'ascii');

/** RFC 4231 §4.2–4.8: key, data, HMAC-SHA-256 (test case 5 is truncated to 128 bits there). */
const RFC4231: readonly { readonly name: string; readonly key: Buffer; readonly data: Buffer; readonly mac: string }[] = [
  { name: '4.2 test case 1', key: Buffer.alloc(20, 0x0b), data: text('Hi There'), mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
  { name: '4.3 test case 2', key: text('Jefe'), data: text('what do ya want for nothing?'), mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' },
  { name: '4.4 test case 3', key: Buffer.alloc(20, 0xaa), data: Buffer.alloc(50, 0xdd), mac: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe' },
  {
    name: '4.5 test case 4',
    key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'),
    data: Buffer.alloc(50, 0xcd),
    mac: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
  },
  { name: '4.6 test case 5 (first 128 bits)', key: Buffer.alloc(20, 0x0c), data: text('Test With Truncation'), mac: 'a3b6167473100ee06e0c796c2955552b' },
  {
    name: '4.7 test case 6 (131-byte key)',
    key: Buffer.alloc(131, 0xaa),
    data: text('Test Using Larger Than Block-Size Key - Hash Key First'),
    mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  },
  {
    name: '4.8 test case 7 (131-byte key, 152-byte data)',
    key: Buffer.alloc(131, 0xaa),
    data: text('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
    mac: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
  },
];

function nativeMac(key: Uint8Array, data: Uint8Array): Buffer {
  const out = Buffer.alloc(32);
  nativeHeartbeatMac(key).sign(data, out, 0);
  return out;
}

test('hmac: RFC 4231 HMAC-SHA-256 vectors, from the addon and from node:crypto', () => {
  for (const v of RFC4231) {
    const mac = nativeMac(v.key, v.data);
    assert.equal(mac.toString('hex').slice(0, v.mac.length), v.mac, `${v.name}: addon`);
    assert.equal(createHmac('sha256', v.key).update(v.data).digest('hex').slice(0, v.mac.length), v.mac, `${v.name}: node:crypto`);
    if (v.mac.length === 64) assert.equal(nativeHeartbeatMac(v.key).verify(v.data, hex(v.mac)), true, `${v.name}: verify`);
  }
});

test('hmac: the addon and node:crypto agree on random keys and messages; one changed bit fails verification', () => {
  checkProperty(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), fc.nat(), (key, data, flip) => {
      const expected = createHmac('sha256', key).update(data).digest();
      const mac = nativeMac(key, data);
      assert.deepEqual(mac, expected);
      const m = nativeHeartbeatMac(key);
      assert.equal(m.verify(data, expected), true);
      const bad = Buffer.from(expected);
      bad[flip % 32] = (bad[flip % 32] as number) ^ (1 << (flip % 8));
      assert.equal(m.verify(data, bad), false);
      if (data.length > 0) {
        const changed = Uint8Array.from(data);
        changed[flip % data.length] = (changed[flip % data.length] as number) ^ 0x01;
        assert.equal(m.verify(changed, expected), false);
      }
    }),
    { numRuns: 300 },
  );
});

test('hmac: the addon writes at the offset only, and refuses bad arguments', () => {
  const n = native();
  const state = n.hmacSha256Key(Buffer.alloc(32, 7));
  const out = Buffer.alloc(68, 0xee);
  n.hmacSha256(state, Buffer.alloc(36, 1), out, 36);
  assert.deepEqual(out.subarray(0, 36), Buffer.alloc(36, 0xee), 'bytes before the offset untouched');
  assert.deepEqual(out.subarray(36), createHmac('sha256', Buffer.alloc(32, 7)).update(Buffer.alloc(36, 1)).digest());
  assert.throws(() => n.hmacSha256(state, Buffer.alloc(36), out, 37), /no room for 32 bytes/);
  assert.throws(() => n.hmacSha256(state, Buffer.alloc(36), out, -1), /no room for 32 bytes/);
  assert.throws(() => n.hmacSha256(Buffer.alloc(10), Buffer.alloc(36), out, 0), /hmacSha256Key state/);
  assert.throws(() => n.hmacSha256Key(Buffer.alloc(0)), /non-empty/);
  assert.equal(n.hmacSha256Verify(state, Buffer.alloc(36, 1), out.subarray(36, 67)), false, 'a 31-byte mac');
  assert.throws(() => nativeHeartbeatMac(new Uint8Array(0)), /empty/);
});

/** Encoded at commit e14e646 (node:crypto's createHmac) with WIRE_KEY; see the file's header. */
const WIRE_KEY = hex('766967696c2068656172746265617420776972652074657374206b65792c2033');
const WIRE_HEARTBEAT = hex(
  '56474842010101009b2abfc2000000020123456789abcdef000000000000002a0000000363dd55818d82b8e08fc01c416c4be9dee1e5f6e1a080ccac27e869880b1fcb21',
);
const WIRE_FIELDS: Heartbeat = {
  cluster: 'wire',
  report: { id: toNodeId(2), expectedVotes: 3, quorate: true, waitingForAll: false },
  votes: toVotes(1),
  epoch: 0x0123456789abcdefn,
  sequence: 42n,
};

test('hmac: no wire change — a heartbeat of the previous code verifies with the addon, and the addon signs the same bytes', () => {
  const mac = nativeHeartbeatMac(WIRE_KEY);
  const decoded = decodeHeartbeat(WIRE_HEARTBEAT, mac, 'wire');
  assert.ok(decoded.ok, decoded.ok ? '' : decoded.detail);
  assert.equal(decoded.heartbeat.sequence, 42n);
  assert.equal(decoded.heartbeat.report.id, 2);
  assert.deepEqual(encodeHeartbeat(WIRE_FIELDS, mac), WIRE_HEARTBEAT, 'the addon-signed encoding');
  assert.deepEqual(encodeHeartbeat(WIRE_FIELDS, WIRE_KEY), WIRE_HEARTBEAT, 'the node:crypto encoding');
  // Into a reused buffer: the same bytes, and the returned view is the 68 bytes.
  const buffer = Buffer.alloc(HEARTBEAT_LENGTH + 4, 0xff);
  assert.deepEqual(encodeHeartbeatInto(WIRE_FIELDS, mac, buffer), WIRE_HEARTBEAT);
  // The other way: signed by the addon, checked with node:crypto (a raw key).
  const again = decodeHeartbeat(encodeHeartbeat({ ...WIRE_FIELDS, sequence: 43n }, mac), WIRE_KEY, 'wire');
  assert.ok(again.ok && again.heartbeat.sequence === 43n);
  // A wrong key or a changed byte is still 'bad-hmac' with the addon.
  const wrong = decodeHeartbeat(WIRE_HEARTBEAT, nativeHeartbeatMac(Buffer.alloc(32, 1)), 'wire');
  assert.equal(wrong.ok ? 'ok' : wrong.reason, 'bad-hmac');
  const altered = Buffer.from(WIRE_HEARTBEAT);
  altered[31] = 43;
  const r = decodeHeartbeat(altered, mac, 'wire');
  assert.equal(r.ok ? 'ok' : r.reason, 'bad-hmac');
});
