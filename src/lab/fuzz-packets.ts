/**
 * The fuzzer's packets (issue 10 §4), pure: seeded generators of malformed VRRP adverts
 * and quorum heartbeats, each with the drop reason a receiver must count it under, and
 * random mutations of valid ones whose reason cannot be told in advance but which must
 * be dropped all the same (checked as a total).
 *
 * They live in src/lab beside the injector (fuzz.ts) rather than in test/support: the
 * test slice (test/fuzz-lab.test.ts) and the standalone run (bench/fuzz.ts) share them,
 * and bench/ does not import from test/. They are built with the project's own encoders
 * (codec.ts, heartbeat.ts) and then broken by hand; the expected reasons come from the
 * RFC checks and the heartbeat format (rejection.ts, heartbeat.ts, membership.ts), never
 * from running the decoders.
 */
import { createHmac } from 'node:crypto';
import { ipv4FromBytes, ipv6FromBytes, type AddressFamily, type IpAddress } from '../net/address.js';
import { encodeAdvert, type Advert } from '../vrrp/codec.js';
import { vrrpChecksum } from '../vrrp/checksum.js';
import type { RejectReason } from '../vrrp/rejection.js';
import { AUTH_DATA_LENGTH, type Centiseconds, type Priority, type Vrid } from '../vrrp/types.js';
import { passwordAuthData } from '../vrrp/acceptance.js';
import { encodeHeartbeat, HEARTBEAT_LENGTH, HEARTBEAT_SIGNED_LENGTH } from '../quorum/heartbeat.js';
import type { RejectionReason as HeartbeatReason } from '../quorum/membership.js';
import { toNodeId, toVotes } from '../quorum/types.js';

/** A small seeded PRNG (mulberry32): the same seed gives the same packets. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: no items');
    return items[this.u32() % items.length] as T;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** Flips the bits of `mask` (non-zero) in byte `i`: the index is evaluated once. */
function xorAt(b: Buffer, i: number, mask: number): void {
  b[i] = (b[i] as number) ^ mask;
}

// ---- VRRP ------------------------------------------------------------------------------

/** A virtual router of the daemon under fuzz, as its config says. */
export interface VrrpTarget {
  readonly instance: string;
  readonly version: 2 | 3;
  readonly family: AddressFamily;
  readonly vrid: number;
  /** Centiseconds (v2: a multiple of 100). */
  readonly intervalCs: number;
  readonly vips: readonly IpAddress[];
  /** VRRPv2 `authentication: { type: pass }`. */
  readonly password?: string;
  /** Priority 255 here: every advert for it is an owner conflict (RFC 5798 §7.1). */
  readonly owner?: boolean;
  /** address_list_check: drop (else a list mismatch is accepted with a warning and cannot be fuzzed). */
  readonly addressListDrop: boolean;
}

/** Where a packet must be counted: an instance's `rejected`, the socket's `socketRejects`, or anywhere (mutations). */
export type VrrpExpect =
  | { readonly kind: 'instance'; readonly instance: string; readonly reason: RejectReason }
  | { readonly kind: 'socket'; readonly family: AddressFamily; readonly reason: RejectReason }
  | { readonly kind: 'any' };

export interface FuzzVrrpPacket {
  readonly family: AddressFamily;
  readonly payload: Buffer;
  /** IPv4 TTL / IPv6 hop limit to send with. */
  readonly ttl: number;
  readonly expect: VrrpExpect;
  /** What the generator did, for reports. */
  readonly label: string;
}

/** The IP addresses the injected packets carry (the v3 checksum's pseudo-header). */
export interface Addressing {
  readonly src: Readonly<Record<AddressFamily, IpAddress>>;
  readonly dst: Readonly<Record<AddressFamily, IpAddress>>;
}

/**
 * Reasons of rejection.ts no packet from the wire can produce here, with why. Every
 * other reason has a generator below.
 */
export const VRRP_UNREACHABLE: Readonly<Partial<Record<RejectReason, string>>> = {
  'family-mismatch':
    'the sockets are per family (eth0/ipv4, eth0/ipv6) and the kernel gives a packet the source and destination of one family, so neither the codec nor acceptance can see two families',
};

function priorityBelowOwner(rng: Rng): Priority {
  return rng.int(1, 254) as Priority;
}

function advertFor(t: VrrpTarget, rng: Rng, over: Partial<{ vrid: number; addresses: readonly IpAddress[]; interval: number; authType: number; authData: Uint8Array; priority: number; version: 2 | 3 }> = {}): Advert {
  const version = over.version ?? t.version;
  const common = {
    family: t.family,
    vrid: (over.vrid ?? t.vrid) as Vrid,
    priority: (over.priority ?? priorityBelowOwner(rng)) as Priority,
    addresses: over.addresses ?? t.vips,
  };
  if (version === 3) return { ...common, version: 3, maxAdverInt: (over.interval ?? t.intervalCs) as Centiseconds, reserved: 0 };
  return {
    ...common,
    version: 2,
    family: 'ipv4',
    adverIntSeconds: over.interval ?? t.intervalCs / 100,
    authType: over.authType ?? (t.password === undefined ? 0 : 1),
    authData: over.authData ?? (t.password === undefined ? new Uint8Array(AUTH_DATA_LENGTH) : passwordAuthData(t.password)),
  };
}

/** Recomputes bytes 6-7 for this family and version (v3: with the pseudo-header). */
export function fixVrrpChecksum(p: Buffer, family: AddressFamily, a: Addressing): Buffer {
  p[6] = 0;
  p[7] = 0;
  const version = (p[0] ?? 0) >> 4;
  p.writeUInt16BE(vrrpChecksum(p, p.length, version === 2 ? undefined : { src: a.src[family], dst: a.dst[family] }), 6);
  return p;
}

function encoded(t: VrrpTarget, a: Addressing, advert: Advert): Buffer {
  return encodeAdvert(advert, { src: a.src[t.family], dst: a.dst[t.family] });
}

function randomAddresses(family: AddressFamily, rng: Rng, n: number): IpAddress[] {
  const out: IpAddress[] = [];
  for (let i = 0; i < n; i++) {
    // 10.213.200.0/24 and fd13::c8:0/112: never configured by the fuzz lab.
    out.push(family === 'ipv4' ? ipv4FromBytes(Uint8Array.from([10, 213, 200, rng.int(1, 254)])) : ipv6FromBytes(Uint8Array.from([0xfd, 0x13, ...new Array<number>(10).fill(0), 0, 0xc8, rng.int(0, 255), rng.int(1, 255)])));
  }
  return out;
}

type Generator = (t: VrrpTarget, rng: Rng, a: Addressing) => FuzzVrrpPacket;

const onInstance = (t: VrrpTarget, reason: RejectReason, payload: Buffer, label: string, ttl = 255): FuzzVrrpPacket => ({
  family: t.family,
  payload,
  ttl,
  expect: { kind: 'instance', instance: t.instance, reason },
  label,
});

/** One generator per (reason, way of producing it), and which targets it applies to. */
const GENERATORS: readonly { readonly reason: RejectReason; readonly applies: (t: VrrpTarget) => boolean; readonly make: Generator }[] = [
  // RFC 5798 §7.1: "MUST verify that the IPvX TTL/Hop Limit is 255."
  { reason: 'ttl', applies: () => true, make: (t, rng, a) => onInstance(t, 'ttl', encoded(t, a, advertFor(t, rng)), 'ttl', rng.int(1, 254)) },
  // Shorter than the header, but with the VRID octet so the instance is known.
  { reason: 'truncated', applies: () => true, make: (t, rng, a) => onInstance(t, 'truncated', encoded(t, a, advertFor(t, rng)).subarray(0, rng.int(2, 7)), 'truncated-header') },
  // "MUST verify that the received packet contains the complete VRRP packet": cut inside the addresses or the v2 authentication data.
  {
    reason: 'truncated',
    applies: () => true,
    make: (t, rng, a) => {
      const p = encoded(t, a, advertFor(t, rng));
      return onInstance(t, 'truncated', p.subarray(0, rng.int(8, p.length - 1)), 'truncated-body');
    },
  },
  {
    reason: 'truncated',
    applies: () => true,
    make: (t, rng, a) => {
      const p = encoded(t, a, advertFor(t, rng));
      p[3] = t.vips.length + rng.int(1, 255 - t.vips.length); // more addresses than carried
      return onInstance(t, 'truncated', fixVrrpChecksum(p, t.family, a), 'count-too-high');
    },
  },
  { reason: 'length-mismatch', applies: () => true, make: (t, rng, a) => onInstance(t, 'length-mismatch', Buffer.concat([encoded(t, a, advertFor(t, rng)), rng.bytes(rng.int(1, 64))]), 'extended') },
  // RFC 5798 §5.2.5: "The minimum value is 1."
  {
    reason: 'address-count-zero',
    applies: () => true,
    make: (t, rng, a) => {
      const p = encoded(t, a, advertFor(t, rng));
      p[3] = 0;
      return onInstance(t, 'address-count-zero', fixVrrpChecksum(p, t.family, a), 'count-zero');
    },
  },
  // "MUST verify that the VRRP version ID is 3" (v2: RFC 3768, IPv4 only).
  {
    reason: 'bad-version',
    applies: () => true,
    make: (t, rng, a) => {
      const p = encoded(t, a, advertFor(t, rng));
      const allowed = t.family === 'ipv4' ? [2, 3] : [3];
      let v = rng.int(0, 15);
      while (allowed.includes(v)) v = rng.int(0, 15);
      p[0] = (v << 4) | 1;
      return onInstance(t, 'bad-version', fixVrrpChecksum(p, t.family, a), `version-${v}`);
    },
  },
  // A well-formed advert of the other version for this VRID (acceptance.ts).
  {
    reason: 'bad-version',
    applies: (t) => t.family === 'ipv4' && t.owner !== true,
    make: (t, rng, a) => onInstance(t, 'bad-version', encoded(t, a, advertFor(t, rng, { version: t.version === 2 ? 3 : 2, interval: t.version === 2 ? t.intervalCs : Math.max(1, Math.round(t.intervalCs / 100)) })), 'other-version'),
  },
  // RFC 5798 §5.2.2: only ADVERTISEMENT (1).
  {
    reason: 'bad-type',
    applies: () => true,
    make: (t, rng, a) => {
      const p = encoded(t, a, advertFor(t, rng));
      let type = rng.int(0, 15);
      if (type === 1) type = 0;
      p[0] = ((p[0] as number) & 0xf0) | type;
      return onInstance(t, 'bad-type', fixVrrpChecksum(p, t.family, a), `type-${type}`);
    },
  },
  // "MUST verify the VRRP checksum."
  {
    reason: 'bad-checksum',
    applies: () => true,
    make: (t, rng, a) => {
      const p = encoded(t, a, advertFor(t, rng));
      p.writeUInt16BE(p.readUInt16BE(6) ^ rng.int(1, 0xffff), 6);
      return onInstance(t, 'bad-checksum', p, 'checksum');
    },
  },
  // "... and the local router is not the IPvX address owner (Priority = 255)."
  { reason: 'owner-conflict', applies: (t) => t.owner === true, make: (t, rng, a) => onInstance(t, 'owner-conflict', encoded(t, a, advertFor(t, rng)), 'owner') },
  // RFC 5798 §5.2.7 / RFC 3768 §5.3.7: an interval of 0.
  {
    reason: 'bad-interval',
    applies: () => true,
    make: (t, rng, a) => onInstance(t, 'bad-interval', encoded(t, a, advertFor(t, rng, { interval: 0 })), 'interval-zero'),
  },
  // RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet is the same as the locally configured".
  {
    reason: 'interval-mismatch',
    applies: (t) => t.version === 2 && t.owner !== true,
    make: (t, rng, a) => {
      let s = rng.int(1, 255);
      if (s === t.intervalCs / 100) s = (s % 255) + 1;
      return onInstance(t, 'interval-mismatch', encoded(t, a, advertFor(t, rng, { interval: s })), `interval-${s}s`);
    },
  },
  // RFC 3768 §7.1 / RFC 2338 §5.3.6: the authentication checks, in acceptance.ts's order.
  { reason: 'auth-type-invalid', applies: (t) => t.version === 2 && t.owner !== true, make: (t, rng, a) => onInstance(t, 'auth-type-invalid', encoded(t, a, advertFor(t, rng, { authType: rng.int(3, 255) })), 'auth-type-invalid') },
  {
    reason: 'auth-type-mismatch',
    applies: (t) => t.version === 2 && t.owner !== true,
    make: (t, rng, a) => onInstance(t, 'auth-type-mismatch', encoded(t, a, advertFor(t, rng, { authType: t.password === undefined ? rng.pick([1, 2]) : rng.pick([0, 2]) })), 'auth-type-mismatch'),
  },
  {
    reason: 'auth-failure',
    applies: (t) => t.version === 2 && t.password !== undefined && t.owner !== true,
    make: (t, rng, a) => {
      const data = Buffer.from(passwordAuthData(t.password ?? ''));
      xorAt(data, rng.int(0, AUTH_DATA_LENGTH - 1), rng.int(1, 255));
      return onInstance(t, 'auth-failure', encoded(t, a, advertFor(t, rng, { authData: data })), 'wrong-password');
    },
  },
  // RFC 3768 §7.1: a list other than configured from a non-owner "MUST drop" (address_list_check: drop).
  {
    reason: 'address-list-mismatch',
    applies: (t) => t.addressListDrop && t.owner !== true,
    make: (t, rng, a) => onInstance(t, 'address-list-mismatch', encoded(t, a, advertFor(t, rng, { addresses: randomAddresses(t.family, rng, rng.int(1, 4)) })), 'address-list'),
  },
];

/** Generators of packets no instance claims (counted per socket). */
function socketGenerators(family: AddressFamily, configured: ReadonlySet<number>): { readonly reason: RejectReason; readonly make: (rng: Rng, a: Addressing) => FuzzVrrpPacket }[] {
  const onSocket = (reason: RejectReason, payload: Buffer, label: string): FuzzVrrpPacket => ({ family, payload, ttl: 255, expect: { kind: 'socket', family, reason }, label });
  const unknown = (rng: Rng): number => {
    let v = rng.int(1, 255);
    while (configured.has(v)) v = rng.int(1, 255);
    return v;
  };
  const stranger = (rng: Rng, vrid: number): VrrpTarget => ({ instance: '', version: 3, family, vrid, intervalCs: 100, vips: randomAddresses(family, rng, 1), addressListDrop: false });
  return [
    // RFC 5798 §7.1: "MUST verify that the VRID is configured on the receiving interface".
    {
      reason: 'unknown-vrid',
      make: (rng, a) => {
        const t = stranger(rng, unknown(rng));
        return onSocket('unknown-vrid', encoded(t, a, advertFor(t, rng)), 'unknown-vrid');
      },
    },
    {
      reason: 'unknown-vrid',
      make: (rng, a) => {
        const t = stranger(rng, 1);
        const p = encoded(t, a, advertFor(t, rng));
        p[1] = 0;
        return onSocket('unknown-vrid', fixVrrpChecksum(p, family, a), 'vrid-zero');
      },
    },
    // Too short to carry a VRID at all.
    { reason: 'truncated', make: (rng) => onSocket('truncated', rng.bytes(rng.int(0, 1)), 'empty') },
  ];
}

/**
 * The packets with a known reason, round-robin over every (target, generator) and the
 * socket-level ones of each family, `count` of them.
 */
export function knownVrrpPackets(targets: readonly VrrpTarget[], a: Addressing, rng: Rng, count: number): FuzzVrrpPacket[] {
  const makers: (() => FuzzVrrpPacket)[] = [];
  for (const t of targets) for (const g of GENERATORS) if (g.applies(t)) makers.push(() => g.make(t, rng, a));
  for (const family of new Set(targets.map((t) => t.family))) {
    const configured = new Set(targets.filter((t) => t.family === family).map((t) => t.vrid));
    for (const g of socketGenerators(family, configured)) makers.push(() => g.make(rng, a));
  }
  const out: FuzzVrrpPacket[] = [];
  for (let i = 0; i < count; i++) out.push((makers[i % makers.length] as () => FuzzVrrpPacket)());
  return out;
}

/** The reasons the known generators cover for these targets (every reason of rejection.ts but VRRP_UNREACHABLE's). */
export function coveredVrrpReasons(targets: readonly VrrpTarget[]): Set<RejectReason> {
  const out = new Set<RejectReason>();
  for (const t of targets) for (const g of GENERATORS) if (g.applies(t)) out.add(g.reason);
  for (const family of new Set(targets.map((t) => t.family))) for (const g of socketGenerators(family, new Set())) out.add(g.reason);
  return out;
}

/** A valid advert to mutate: a real keepalived packet (test/vectors) or one of ours. */
export interface MutationBase {
  readonly family: AddressFamily;
  readonly payload: Uint8Array;
}

/**
 * The valid adverts the mutations start from: each vector re-addressed to us (its checksum
 * recomputed for our source and destination, optionally with a target's VRID), and one
 * valid advert per target.
 */
export function mutationBases(targets: readonly VrrpTarget[], vectors: readonly MutationBase[], a: Addressing, rng: Rng): MutationBase[] {
  const out: MutationBase[] = [];
  for (const v of vectors) {
    out.push({ family: v.family, payload: fixVrrpChecksum(Buffer.from(v.payload), v.family, a) });
    const same = targets.filter((t) => t.family === v.family && t.version === (v.payload[0] ?? 0) >> 4);
    for (const t of same) {
      const p = Buffer.from(v.payload);
      p[1] = t.vrid;
      out.push({ family: v.family, payload: fixVrrpChecksum(p, v.family, a) });
    }
  }
  for (const t of targets) out.push({ family: t.family, payload: encoded(t, a, advertFor(t, rng)) });
  return out;
}

/**
 * A random mutation that a receiver must drop, whatever the reason: one bit flipped or
 * one byte overwritten (the Internet checksum detects any change within one 16-bit word,
 * and a change of the header fields fails the length checks first), a truncation, an
 * extension, both, or random bytes. Checksums are never recomputed: a mutation that
 * stayed valid would be a real advert and might rightly change state.
 */
export function mutatedVrrpPacket(bases: readonly MutationBase[], rng: Rng): FuzzVrrpPacket {
  const base = rng.pick(bases);
  const p = Buffer.from(base.payload);
  const op = rng.int(0, 5);
  let out: Buffer;
  let label: string;
  switch (op) {
    case 0: {
      const bit = rng.int(0, p.length * 8 - 1);
      xorAt(p, bit >> 3, 1 << (bit & 7));
      out = p;
      label = 'bit-flip';
      break;
    }
    case 1: {
      const i = rng.int(0, p.length - 1);
      p[i] = ((p[i] as number) + rng.int(1, 255)) & 0xff;
      out = p;
      label = 'byte';
      break;
    }
    case 2:
      out = p.subarray(0, rng.int(0, p.length - 1));
      label = 'truncate';
      break;
    case 3:
      out = Buffer.concat([p, rng.bytes(rng.int(1, 200))]);
      label = 'extend';
      break;
    case 4: {
      const bit = rng.int(0, p.length * 8 - 1);
      xorAt(p, bit >> 3, 1 << (bit & 7));
      out = rng.int(0, 1) === 0 ? p.subarray(0, rng.int(0, p.length - 1)) : Buffer.concat([p, rng.bytes(rng.int(1, 64))]);
      label = 'flip-and-resize';
      break;
    }
    default:
      out = rng.bytes(rng.int(0, 300));
      if (out.length >= 4) out[3] = 0; // never a valid count: random bytes stay random, and dropped
      label = 'random';
  }
  return { family: base.family, payload: out, ttl: 255, expect: { kind: 'any' }, label };
}

// ---- heartbeats --------------------------------------------------------------------------

/** The quorum of the daemon under fuzz, as its config says. */
export interface HeartbeatTarget {
  readonly cluster: string;
  readonly key: Uint8Array;
  /** The daemon's own node id. */
  readonly localId: number;
  /** A configured peer (its replays are forged with old epochs). */
  readonly peerId: number;
  /** Every configured node id. */
  readonly nodeIds: readonly number[];
}

export interface FuzzHeartbeat {
  readonly payload: Buffer;
  /** The reason the daemon counts it under (`quorum.heartbeats.rejected`), or 'any'. */
  readonly reason: HeartbeatReason | 'any';
  readonly label: string;
}

function heartbeatBytes(t: HeartbeatTarget, rng: Rng, over: Partial<{ id: number; epoch: bigint; key: Uint8Array; cluster: string }> = {}): Buffer {
  return encodeHeartbeat(
    {
      cluster: over.cluster ?? t.cluster,
      report: { id: toNodeId(over.id ?? t.peerId), expectedVotes: 2, quorate: true, waitingForAll: false },
      votes: toVotes(1),
      // An old epoch: before any process start of this era (newBootEpoch is ms << 16).
      epoch: over.epoch ?? BigInt(rng.int(1, 1_000_000)),
      sequence: BigInt(rng.u32()),
    },
    over.key ?? t.key,
  );
}

/** Re-signs bytes 0..35 with the right key: authentic, so the checks after the HMAC run. */
function resign(p: Buffer, key: Uint8Array): Buffer {
  createHmac('sha256', key).update(p.subarray(0, HEARTBEAT_SIGNED_LENGTH)).digest().copy(p, HEARTBEAT_SIGNED_LENGTH);
  return p;
}

const HEARTBEAT_GENERATORS: readonly { readonly reason: HeartbeatReason; readonly make: (t: HeartbeatTarget, rng: Rng) => Buffer; readonly label: string }[] = [
  { reason: 'truncated', label: 'short', make: (_t, rng) => rng.bytes(rng.int(0, 3)) },
  { reason: 'truncated', label: 'cut', make: (t, rng) => heartbeatBytes(t, rng).subarray(0, rng.int(5, HEARTBEAT_LENGTH - 1)) },
  {
    reason: 'bad-magic',
    label: 'magic',
    make: (t, rng) => {
      const p = heartbeatBytes(t, rng);
      xorAt(p, rng.int(0, 3), rng.int(1, 255));
      return p;
    },
  },
  {
    reason: 'bad-version',
    label: 'version',
    make: (t, rng) => {
      const p = heartbeatBytes(t, rng);
      p[4] = rng.int(2, 255);
      return p;
    },
  },
  { reason: 'bad-length', label: 'extended', make: (t, rng) => Buffer.concat([heartbeatBytes(t, rng), rng.bytes(rng.int(1, 1000))]) },
  { reason: 'other-cluster', label: 'cluster', make: (t, rng) => heartbeatBytes(t, rng, { cluster: `other-${rng.u32()}` }) },
  // Forged: another key, with epochs from the past and from the future, claiming the peer.
  { reason: 'bad-hmac', label: 'wrong-key', make: (t, rng) => heartbeatBytes(t, rng, { key: rng.bytes(32), epoch: rng.int(0, 1) === 0 ? BigInt(rng.int(1, 1000)) : (BigInt(Date.now() + 86_400_000) << 16n) | BigInt(rng.int(0, 0xffff)) }) },
  {
    reason: 'bad-hmac',
    label: 'altered',
    make: (t, rng) => {
      const p = heartbeatBytes(t, rng);
      // After the cluster id: the sender, epoch, sequence, expected votes or the HMAC itself.
      xorAt(p, rng.int(12, HEARTBEAT_LENGTH - 1), rng.int(1, 255));
      return p;
    },
  },
  {
    reason: 'malformed',
    label: 'flags',
    make: (t, rng) => {
      const p = heartbeatBytes(t, rng);
      const which = rng.int(0, 2);
      if (which === 0) p[5] = (p[5] as number) | (rng.int(1, 63) << 2);
      else if (which === 1) p[7] = rng.int(1, 255);
      else p.writeUInt32BE(0, 12);
      return resign(p, t.key);
    },
  },
  { reason: 'own-id', label: 'own-id', make: (t, rng) => heartbeatBytes(t, rng, { id: t.localId }) },
  {
    reason: 'unknown-node',
    label: 'unknown-node',
    make: (t, rng) => {
      let id = rng.int(1, 0x7fffffff);
      while (t.nodeIds.includes(id)) id = rng.int(1, 0x7fffffff);
      return heartbeatBytes(t, rng, { id });
    },
  },
  // Authentic but old: the peer's epoch is far greater (replay.ts).
  { reason: 'replay', label: 'old-epoch', make: (t, rng) => heartbeatBytes(t, rng) },
];

export const HEARTBEAT_GENERATED_REASONS: readonly HeartbeatReason[] = [...new Set(HEARTBEAT_GENERATORS.map((g) => g.reason))];

/** `count` heartbeats with known reasons, round-robin over the generators. */
export function knownHeartbeats(t: HeartbeatTarget, rng: Rng, count: number): FuzzHeartbeat[] {
  const out: FuzzHeartbeat[] = [];
  for (let i = 0; i < count; i++) {
    const g = HEARTBEAT_GENERATORS[i % HEARTBEAT_GENERATORS.length] as (typeof HEARTBEAT_GENERATORS)[number];
    out.push({ payload: g.make(t, rng), reason: g.reason, label: g.label });
  }
  return out;
}

/** A valid (old-epoch) heartbeat with one bit flipped, truncated or extended: dropped for some reason. */
export function mutatedHeartbeat(t: HeartbeatTarget, rng: Rng): FuzzHeartbeat {
  const p = heartbeatBytes(t, rng);
  const op = rng.int(0, 2);
  if (op === 0) {
    const bit = rng.int(0, p.length * 8 - 1);
    xorAt(p, bit >> 3, 1 << (bit & 7));
    return { payload: p, reason: 'any', label: 'bit-flip' };
  }
  if (op === 1) return { payload: p.subarray(0, rng.int(0, p.length - 1)), reason: 'any', label: 'truncate' };
  return { payload: Buffer.concat([p, rng.bytes(rng.int(1, 200))]), reason: 'any', label: 'extend' };
}

