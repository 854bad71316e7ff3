/**
 * The heartbeat codec (src/quorum/heartbeat.ts): the byte layout, round trips, every
 * rejection, tampering with every byte, the constant-time HMAC comparison, and random
 * input never throwing.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import crypto, { createHmac } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import fc from 'fast-check';
import { checkProperty } from './support/property.js';
import {
  HEARTBEAT_LENGTH,
  clusterId,
  decodeHeartbeat,
  encodeHeartbeat,
  newBootEpoch,
  type DecodeHeartbeatResult,
  type Heartbeat,
} from '../src/quorum/heartbeat.js';
import { toNodeId, toVotes } from '../src/quorum/types.js';

const KEY = Buffer.alloc(32, 0x5a);
const OTHER_KEY = Buffer.alloc(32, 0xa5);

const SAMPLE: Heartbeat = {
  cluster: 'edge',
  report: { id: toNodeId(2), expectedVotes: 3, quorate: true, waitingForAll: false },
  votes: toVotes(1),
  epoch: 0x0102030405060708n,
  sequence: 0x1112131415161718n,
};

function rejection(result: DecodeHeartbeatResult): string {
  return result.ok ? 'ok' : result.reason;
}

/** Re-signs bytes 0..35 of `bytes` with `key` (to build authentic but odd messages). */
function resign(bytes: Buffer, key: Uint8Array = KEY): Buffer {
  const out = Buffer.from(bytes);
  createHmac('sha256', key).update(out.subarray(0, 36)).digest().copy(out, 36);
  return out;
}

test('heartbeat: the version-1 byte layout', () => {
  const bytes = encodeHeartbeat(SAMPLE, KEY);
  assert.equal(bytes.length, 68);
  assert.equal(HEARTBEAT_LENGTH, 68);
  assert.equal(bytes.subarray(0, 4).toString('ascii'), 'VGHB');
  assert.equal(bytes[4], 1, 'version');
  assert.equal(bytes[5], 0x01, 'flags: quorate');
  assert.equal(bytes[6], 1, 'votes');
  assert.equal(bytes[7], 0, 'reserved');
  assert.equal(bytes.readUInt32BE(8), clusterId('edge'));
  assert.equal(clusterId('edge'), crypto.createHash('sha256').update('edge').digest().readUInt32BE(0));
  assert.equal(bytes.readUInt32BE(12), 2, 'node id');
  assert.equal(bytes.subarray(16, 24).toString('hex'), '0102030405060708', 'epoch');
  assert.equal(bytes.subarray(24, 32).toString('hex'), '1112131415161718', 'sequence');
  assert.equal(bytes.readUInt32BE(32), 3, 'expected votes');
  assert.deepEqual(bytes.subarray(36), createHmac('sha256', KEY).update(bytes.subarray(0, 36)).digest(), 'HMAC-SHA256 over bytes 0..35');
  const waiting = encodeHeartbeat({ ...SAMPLE, report: { ...SAMPLE.report, quorate: false, waitingForAll: true } }, KEY);
  assert.equal(waiting[5], 0x02, 'flags: waiting for all');
});

test('heartbeat: decode gives back what was encoded', () => {
  const result = decodeHeartbeat(encodeHeartbeat(SAMPLE, KEY), KEY, 'edge');
  assert.ok(result.ok);
  assert.deepEqual(result.heartbeat, {
    clusterId: clusterId('edge'),
    report: SAMPLE.report,
    votes: SAMPLE.votes,
    epoch: SAMPLE.epoch,
    sequence: SAMPLE.sequence,
  });
  // The cluster may be given by its id.
  assert.ok(decodeHeartbeat(encodeHeartbeat(SAMPLE, KEY), KEY, clusterId('edge')).ok);
});

test('heartbeat: round trip of any field values (property)', () => {
  checkProperty(
    fc.property(
      fc.record({
        cluster: fc.string({ maxLength: 40 }),
        id: fc.integer({ min: 1, max: 0xffffffff }),
        expectedVotes: fc.integer({ min: 0, max: 0xffffffff }),
        quorate: fc.boolean(),
        waitingForAll: fc.boolean(),
        votes: fc.integer({ min: 0, max: 255 }),
        epoch: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        sequence: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        key: fc.uint8Array({ minLength: 1, maxLength: 64 }),
      }),
      (f) => {
        const hb: Heartbeat = {
          cluster: f.cluster,
          report: { id: toNodeId(f.id), expectedVotes: f.expectedVotes, quorate: f.quorate, waitingForAll: f.waitingForAll },
          votes: toVotes(f.votes),
          epoch: f.epoch,
          sequence: f.sequence,
        };
        const result = decodeHeartbeat(encodeHeartbeat(hb, f.key), f.key, f.cluster);
        assert.ok(result.ok, rejection(result));
        assert.deepEqual(result.heartbeat.report, hb.report);
        assert.equal(result.heartbeat.votes, hb.votes);
        assert.equal(result.heartbeat.epoch, hb.epoch);
        assert.equal(result.heartbeat.sequence, hb.sequence);
      },
    ),
  );
});

test('heartbeat: encode refuses out-of-range fields (its own input)', () => {
  assert.throws(() => encodeHeartbeat({ ...SAMPLE, epoch: -1n }, KEY), RangeError);
  assert.throws(() => encodeHeartbeat({ ...SAMPLE, sequence: 1n << 64n }, KEY), RangeError);
  assert.throws(() => encodeHeartbeat({ ...SAMPLE, report: { ...SAMPLE.report, expectedVotes: 2 ** 32 } }, KEY), RangeError);
  assert.throws(() => encodeHeartbeat({ ...SAMPLE, report: { ...SAMPLE.report, id: 0 as never } }, KEY), RangeError);
  assert.throws(() => encodeHeartbeat({ ...SAMPLE, votes: 256 as never }, KEY), RangeError);
  assert.throws(() => encodeHeartbeat(SAMPLE, Buffer.alloc(0)), RangeError);
});

test('heartbeat: every rejection', () => {
  const good = encodeHeartbeat(SAMPLE, KEY);
  const decode = (bytes: Uint8Array, key: Uint8Array = KEY, cluster: string | number = 'edge'): string => rejection(decodeHeartbeat(bytes, key, cluster));

  // truncated: every length short of 68 with an intact prefix.
  for (let n = 0; n < 68; n++) assert.equal(decode(good.subarray(0, n)), 'truncated', `${n} bytes`);
  // bad-magic, bad-version.
  assert.equal(decode(Buffer.concat([Buffer.from('VGHA'), good.subarray(4)])), 'bad-magic');
  assert.equal(decode(Buffer.from('XY')), 'truncated');
  assert.equal(decode(Buffer.from('XYZW')), 'bad-magic');
  const v2 = Buffer.from(good);
  v2[4] = 2;
  assert.equal(decode(v2), 'bad-version');
  assert.equal(decode(v2.subarray(0, 5)), 'bad-version');
  // bad-length: trailing bytes.
  assert.equal(decode(Buffer.concat([good, Buffer.from([0])])), 'bad-length');
  // other-cluster: another cluster's heartbeat (even with our key).
  assert.equal(decode(encodeHeartbeat({ ...SAMPLE, cluster: 'other' }, KEY)), 'other-cluster');
  assert.equal(decode(good, KEY, 'other'), 'other-cluster');
  // bad-hmac: another key.
  assert.equal(decode(good, OTHER_KEY), 'bad-hmac');
  assert.equal(decode(encodeHeartbeat(SAMPLE, OTHER_KEY)), 'bad-hmac');
  // malformed: authentic, but node id 0, an unknown flag bit, the reserved byte.
  const id0 = Buffer.from(good);
  id0.writeUInt32BE(0, 12);
  assert.equal(decode(resign(id0)), 'malformed');
  assert.equal(decode(id0), 'bad-hmac', 'not re-signed: the HMAC fails first');
  const flag = Buffer.from(good);
  flag[5] = 0x05;
  assert.equal(decode(resign(flag)), 'malformed');
  const reserved = Buffer.from(good);
  reserved[7] = 1;
  assert.equal(decode(resign(reserved)), 'malformed');
  // Each result carries a detail for the log.
  const r = decodeHeartbeat(good, OTHER_KEY, 'edge');
  assert.ok(!r.ok && r.detail.length > 0);
});

test('heartbeat: changing any bit of any byte is refused', () => {
  const good = encodeHeartbeat(SAMPLE, KEY);
  for (let i = 0; i < good.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(good);
      bad[i] = (bad[i] ?? 0) ^ (1 << bit);
      const expected = i < 4 ? 'bad-magic' : i === 4 ? 'bad-version' : i >= 8 && i < 12 ? 'other-cluster' : 'bad-hmac';
      assert.equal(rejection(decodeHeartbeat(bad, KEY, 'edge')), expected, `byte ${i} bit ${bit}`);
    }
  }
});

test('heartbeat: the HMAC is compared with crypto.timingSafeEqual', () => {
  const spy = mock.method(crypto, 'timingSafeEqual');
  syncBuiltinESMExports(); // the named import in heartbeat.ts now sees the spy
  try {
    const good = encodeHeartbeat(SAMPLE, KEY);
    assert.ok(decodeHeartbeat(good, KEY, 'edge').ok);
    assert.equal(spy.mock.callCount(), 1);
    assert.equal(rejection(decodeHeartbeat(good, OTHER_KEY, 'edge')), 'bad-hmac');
    assert.equal(spy.mock.callCount(), 2);
    const [mac, expected] = spy.mock.calls[1]?.arguments ?? [];
    assert.equal((mac as Buffer).length, 32);
    assert.equal((expected as Buffer).length, 32);
    // Rejections before the HMAC do not compute it.
    decodeHeartbeat(good.subarray(0, 10), KEY, 'edge');
    assert.equal(spy.mock.callCount(), 2);
  } finally {
    spy.mock.restore();
    syncBuiltinESMExports();
  }
});

test('heartbeat: random bytes never throw and are never accepted (property)', () => {
  const magicAndVersion = Buffer.from('VGHB\x01', 'latin1');
  const sameCluster = Buffer.alloc(4);
  sameCluster.writeUInt32BE(clusterId('edge'));
  checkProperty(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        // Past the magic and version checks, to reach the length, cluster and HMAC checks.
        fc.uint8Array({ maxLength: 80 }).map((tail) => Buffer.concat([magicAndVersion, tail])),
        fc.uint8Array({ minLength: 63, maxLength: 63 }).map((tail) => {
          const b = Buffer.concat([magicAndVersion, tail]);
          sameCluster.copy(b, 8);
          return b;
        }),
      ),
      (bytes) => {
        let result: DecodeHeartbeatResult | undefined;
        assert.doesNotThrow(() => (result = decodeHeartbeat(bytes, KEY, 'edge')));
        assert.ok(result !== undefined && !result.ok, 'random bytes accepted');
      },
    ),
    { numRuns: 1000 },
  );
});

test('heartbeat: random corruption of a valid message is refused, never thrown (property)', () => {
  const good = encodeHeartbeat(SAMPLE, KEY);
  checkProperty(
    fc.property(fc.array(fc.tuple(fc.nat(67), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (changes) => {
      const bad = Buffer.from(good);
      for (const [i, x] of changes) bad[i] = (bad[i] ?? 0) ^ x;
      if (bad.equals(good)) return; // the changes cancelled out
      const result = decodeHeartbeat(bad, KEY, 'edge');
      assert.ok(!result.ok);
    }),
  );
});

test('heartbeat: boot epochs grow with the clock', () => {
  const a = newBootEpoch(1_700_000_000_000);
  const b = newBootEpoch(1_700_000_000_001);
  assert.ok(b > a);
  assert.equal(a >> 16n, 1_700_000_000_000n);
  assert.ok(newBootEpoch() < 1n << 64n);
});
