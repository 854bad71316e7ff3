/**
 * The quorum heartbeat: what every node multicasts (or unicasts) to its peers, about
 * once per heartbeat interval, so that each can build the membership and follow the
 * others' view of quorum (docs/reference/quorum.md R2, R8).
 *
 * Wire format, version 1: 68 bytes, every integer big-endian (network order).
 *
 *   offset size field
 *   0      4    magic, ASCII "VGHB" (56 47 48 42)
 *   4      1    version = 1
 *   5      1    flags: bit 0 quorate, bit 1 waiting for all (R7); bits 2..7 zero
 *   6      1    votes of the sender (0..255)
 *   7      1    reserved, zero
 *   8      4    cluster id: the first 4 bytes of SHA-256(UTF-8 cluster name)
 *   12     4    sender node id (1..2^32-1)
 *   16     8    boot epoch (u64): fixed per process start, see newBootEpoch()
 *   24     8    sequence number (u64): +1 per heartbeat within one epoch
 *   32     4    expected votes the sender holds (u32)
 *   36     32   HMAC-SHA256(shared key, bytes 0..35)
 *
 * Decoding never throws on network input: it returns `{ ok: true, heartbeat }` or
 * `{ ok: false, reason }` with the reasons below, checked in this order:
 *   truncated      fewer bytes than the field being read (a version-1 message is 68)
 *   bad-magic      not "VGHB"
 *   bad-version    version is not 1
 *   bad-length     more than 68 bytes
 *   other-cluster  the cluster id is not ours: another cluster on the segment (its
 *                  heartbeats are dropped before the HMAC is computed)
 *   bad-hmac       the HMAC does not match (wrong key, or any byte changed); compared
 *                  in constant time (crypto.timingSafeEqual, or the addon's CRYPTO_memcmp)
 *   malformed      authentic but invalid: node id 0, or reserved flag bits / the
 *                  reserved byte not zero
 * Only after the HMAC is verified are the fields trusted; the replay check (epoch and
 * sequence, replay.ts) and the membership checks (membership.ts) come after this.
 */
import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { toNodeId, toVotes, type MemberReport, type NodeId, type Votes } from './types.js';
import { errorText } from '../base/error-text.js';

export const HEARTBEAT_MAGIC = Buffer.from('VGHB', 'ascii');
const MAGIC_U32 = HEARTBEAT_MAGIC.readUInt32BE(0);
export const HEARTBEAT_VERSION = 1;
/** Bytes before the HMAC (what it covers). */
export const HEARTBEAT_SIGNED_LENGTH = 36;
export const HEARTBEAT_HMAC_LENGTH = 32;
/** The whole version-1 message. */
export const HEARTBEAT_LENGTH = HEARTBEAT_SIGNED_LENGTH + HEARTBEAT_HMAC_LENGTH;

const FLAG_QUORATE = 0x01;
const FLAG_WAITING_FOR_ALL = 0x02;
const KNOWN_FLAGS = FLAG_QUORATE | FLAG_WAITING_FOR_ALL;
const U64_MAX = (1n << 64n) - 1n;

/** One heartbeat, decoded (or to encode). */
export interface Heartbeat {
  /** The cluster's name; on the wire only its 32-bit id (clusterId()). */
  readonly cluster: string;
  /** The sender's own report; `report.id` is the sender's node id. */
  readonly report: MemberReport;
  readonly votes: Votes;
  /** u64, fixed per process start of the sender. */
  readonly epoch: bigint;
  /** u64, +1 per heartbeat within one epoch. */
  readonly sequence: bigint;
}

export type HeartbeatRejection = 'truncated' | 'bad-magic' | 'bad-version' | 'bad-length' | 'other-cluster' | 'bad-hmac' | 'malformed';

export const HEARTBEAT_REJECTIONS: readonly HeartbeatRejection[] = [
  'truncated',
  'bad-magic',
  'bad-version',
  'bad-length',
  'other-cluster',
  'bad-hmac',
  'malformed',
];

export type DecodeHeartbeatResult =
  | { readonly ok: true; readonly heartbeat: DecodedHeartbeat }
  | { readonly ok: false; readonly reason: HeartbeatRejection; readonly detail: string };

/** A decoded heartbeat: the cluster is known only by its id (the name is not on the wire). */
export interface DecodedHeartbeat extends Omit<Heartbeat, 'cluster'> {
  readonly clusterId: number;
}

/** The last name clusterId() hashed: a daemon has one cluster, and encodeHeartbeat asks for its id on every heartbeat. */
let lastCluster: { readonly name: string; readonly id: number } | undefined;

/** The 32-bit id of a cluster name: the first 4 bytes of SHA-256 of its UTF-8 bytes. */
export function clusterId(name: string): number {
  if (lastCluster?.name === name) return lastCluster.id;
  const id = createHash('sha256').update(name, 'utf8').digest().readUInt32BE(0);
  lastCluster = { name, id };
  return id;
}

/**
 * A boot epoch for a process start: the wall clock in milliseconds shifted left 16 bits,
 * with 16 random bits below. Later starts get greater epochs (as the replay rule
 * needs) as long as the wall clock does not go back between them; the random bits only
 * separate two starts in the same millisecond.
 */
export function newBootEpoch(nowMs: number = Date.now()): bigint {
  return (BigInt(Math.floor(nowMs)) << 16n) | BigInt(randomBytes(2).readUInt16BE(0));
}

/**
 * HMAC-SHA256 under one key, prepared once: what signs and checks heartbeats. A raw key
 * (Uint8Array) given to encodeHeartbeat/decodeHeartbeat uses node:crypto's; the daemon
 * passes the addon's (src/quorum/io/hmac.ts), which allocates nothing per heartbeat. Both
 * compute the same function (RFC 2104 with SHA-256), so the wire does not depend on which.
 */
export interface HeartbeatMac {
  /** Writes HMAC-SHA256(key, signed) to out[offset, offset + 32). */
  sign(signed: Uint8Array, out: Uint8Array, offset: number): void;
  /** Whether `mac` (32 bytes) is HMAC-SHA256(key, signed), compared in constant time. */
  verify(signed: Uint8Array, mac: Uint8Array): boolean;
}

/** The key as a KeyObject, made once per key buffer (the raw key is otherwise prepared again for every heartbeat). */
const keyObjects = new WeakMap<Uint8Array, KeyObject>();

function hmac(key: Uint8Array, signed: Uint8Array): Buffer {
  let k: KeyObject | Uint8Array | undefined = keyObjects.get(key);
  if (k === undefined && key.length > 0) {
    k = createSecretKey(key);
    keyObjects.set(key, k);
  }
  return createHmac('sha256', k ?? key).update(signed).digest();
}

function sign(key: Uint8Array | HeartbeatMac, signed: Uint8Array, out: Buffer, offset: number): void {
  if (key instanceof Uint8Array) hmac(key, signed).copy(out, offset);
  else key.sign(signed, out, offset);
}

/** Encodes `hb` into the 68-byte version-1 message, signed with `key`. Throws on out-of-range fields (our own input). */
export function encodeHeartbeat(hb: Heartbeat, key: Uint8Array | HeartbeatMac): Buffer {
  return encodeHeartbeatInto(hb, key, Buffer.alloc(HEARTBEAT_LENGTH));
}

/**
 * encodeHeartbeat into `out` (at least HEARTBEAT_LENGTH bytes; the first 68 are written),
 * for a sender that reuses one buffer; returns the 68-byte view of it.
 */
export function encodeHeartbeatInto(hb: Heartbeat, key: Uint8Array | HeartbeatMac, out: Buffer): Buffer {
  if (key instanceof Uint8Array && key.length === 0) throw new RangeError('heartbeat key is empty');
  if (out.length < HEARTBEAT_LENGTH) throw new RangeError(`heartbeat buffer of ${out.length} bytes, ${HEARTBEAT_LENGTH} are needed`);
  const id = toNodeId(hb.report.id);
  const votes = toVotes(hb.votes);
  if (hb.epoch < 0n || hb.epoch > U64_MAX) throw new RangeError(`epoch ${hb.epoch} is not a u64`);
  if (hb.sequence < 0n || hb.sequence > U64_MAX) throw new RangeError(`sequence ${hb.sequence} is not a u64`);
  const expected = hb.report.expectedVotes;
  if (!Number.isInteger(expected) || expected < 0 || expected > 0xffffffff) throw new RangeError(`expected votes ${expected} is not a u32`);
  HEARTBEAT_MAGIC.copy(out, 0);
  out.writeUInt8(HEARTBEAT_VERSION, 4);
  out.writeUInt8((hb.report.quorate ? FLAG_QUORATE : 0) | (hb.report.waitingForAll ? FLAG_WAITING_FOR_ALL : 0), 5);
  out.writeUInt8(votes, 6);
  out.writeUInt8(0, 7);
  out.writeUInt32BE(clusterId(hb.cluster), 8);
  out.writeUInt32BE(id, 12);
  out.writeBigUInt64BE(hb.epoch, 16);
  out.writeBigUInt64BE(hb.sequence, 24);
  out.writeUInt32BE(expected, 32);
  sign(key, out.subarray(0, HEARTBEAT_SIGNED_LENGTH), out, HEARTBEAT_SIGNED_LENGTH);
  return out.length === HEARTBEAT_LENGTH ? out : out.subarray(0, HEARTBEAT_LENGTH);
}

function reject(reason: HeartbeatRejection, detail: string): DecodeHeartbeatResult {
  return { ok: false, reason, detail };
}

/**
 * Decodes and authenticates a received datagram with the shared `key`; `cluster` is our
 * cluster's name (or its clusterId()). Never throws: any input yields a result.
 */
export function decodeHeartbeat(bytes: Uint8Array, key: Uint8Array | HeartbeatMac, cluster: string | number): DecodeHeartbeatResult {
  try {
    return decodeUnsafe(bytes, key, cluster);
  } catch (e) {
    // Not reachable with a Uint8Array (every read is bounds-checked above); kept so a
    // caller passing something odd still gets a result rather than an exception.
    return reject('malformed', errorText(e));
  }
}

function decodeUnsafe(bytes: Uint8Array, key: Uint8Array | HeartbeatMac, cluster: string | number): DecodeHeartbeatResult {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4) return reject('truncated', `${buf.length} bytes, the magic needs 4`);
  if (buf.readUInt32BE(0) !== MAGIC_U32) return reject('bad-magic', `magic ${buf.subarray(0, 4).toString('hex')}, expected ${HEARTBEAT_MAGIC.toString('hex')}`);
  if (buf.length < 5) return reject('truncated', `${buf.length} bytes, the version needs 5`);
  const version = buf.readUInt8(4);
  if (version !== HEARTBEAT_VERSION) return reject('bad-version', `version ${version}, expected ${HEARTBEAT_VERSION}`);
  if (buf.length < HEARTBEAT_LENGTH) return reject('truncated', `${buf.length} bytes, a version-1 heartbeat has ${HEARTBEAT_LENGTH}`);
  if (buf.length > HEARTBEAT_LENGTH) return reject('bad-length', `${buf.length} bytes, a version-1 heartbeat has ${HEARTBEAT_LENGTH}`);
  const ours = typeof cluster === 'number' ? cluster >>> 0 : clusterId(cluster);
  const theirs = buf.readUInt32BE(8);
  if (theirs !== ours) return reject('other-cluster', `cluster id ${theirs.toString(16).padStart(8, '0')}, ours is ${ours.toString(16).padStart(8, '0')}`);
  const signed = buf.subarray(0, HEARTBEAT_SIGNED_LENGTH);
  const mac = buf.subarray(HEARTBEAT_SIGNED_LENGTH, HEARTBEAT_LENGTH);
  const authentic = key instanceof Uint8Array ? timingSafeEqual(mac, hmac(key, signed)) : key.verify(signed, mac);
  if (!authentic) return reject('bad-hmac', 'the HMAC does not match (wrong key or altered message)');
  const flags = buf.readUInt8(5);
  if ((flags & ~KNOWN_FLAGS) !== 0) return reject('malformed', `unknown flag bits 0x${(flags & ~KNOWN_FLAGS).toString(16)}`);
  if (buf.readUInt8(7) !== 0) return reject('malformed', 'reserved byte is not zero');
  const id = buf.readUInt32BE(12);
  if (id === 0) return reject('malformed', 'node id 0');
  return {
    ok: true,
    heartbeat: {
      clusterId: theirs,
      report: {
        id: id as NodeId,
        expectedVotes: buf.readUInt32BE(32),
        quorate: (flags & FLAG_QUORATE) !== 0,
        waitingForAll: (flags & FLAG_WAITING_FOR_ALL) !== 0,
      },
      votes: buf.readUInt8(6) as Votes,
      epoch: buf.readBigUInt64BE(16),
      sequence: buf.readBigUInt64BE(24),
    },
  };
}
