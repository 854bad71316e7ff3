/**
 * The VRRP advertisement on the wire: VRRPv2 (RFC 3768 §5) and VRRPv3 (RFC 5798 §5,
 * RFC 9568 §5), IPv4 and IPv6. Decoding never throws on network input: it returns a
 * typed advert or a typed rejection.
 *
 * RFC 5798 §5.1 (v3):
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
 *    |(rsvd) |     Max Adver Int     |          Checksum             |
 *    |                 IPvX Address(es) ...                          |
 * RFC 3768 §5.1 (v2): byte 4 is Auth Type, byte 5 Adver Int (seconds), and 8 bytes of
 * Authentication Data follow the addresses.
 */
import { ADDRESS_LENGTH, addressFromBytes, type AddressFamily, type IpAddress } from '../net/address.js';
import { vrrpChecksum } from './checksum.js';
import { reject, type Rejection } from './rejection.js';
import {
  AUTH_DATA_LENGTH,
  type Centiseconds,
  type Priority,
  type V3Ipv4ChecksumMode,
  type Vrid,
} from './types.js';

export const VRRP_HEADER_LENGTH = 8;
/** RFC 5798 §5.2.2: "The type field specifies the type of this VRRP packet. The only packet type defined in this version of the protocol is: 1 ADVERTISEMENT". */
export const VRRP_TYPE_ADVERTISEMENT = 1;
/** RFC 5798 §5.1.1.3 / §5.1.2.3: "The TTL MUST be set to 255." */
export const VRRP_TTL = 255;

interface AdvertCommon {
  readonly family: AddressFamily;
  readonly vrid: Vrid;
  readonly priority: Priority;
  /** In wire order. RFC 5798 §5.2.9: "one or more IPvX addresses associated with the virtual router". */
  readonly addresses: readonly IpAddress[];
}

export interface AdvertV3 extends AdvertCommon {
  readonly version: 3;
  /** RFC 5798 §5.2.7: the 12-bit Max Adver Int, in centiseconds (1..4095 on receive). */
  readonly maxAdverInt: Centiseconds;
  /** RFC 5798 §5.2.6: the 4 reserved bits, "MUST be set to zero on transmission and ignored on reception". */
  readonly reserved: number;
}

export interface AdvertV2 extends AdvertCommon {
  readonly version: 2;
  readonly family: 'ipv4';
  /** RFC 3768 §5.3.7: whole seconds, 1..255. */
  readonly adverIntSeconds: number;
  /** RFC 3768 §5.3.6; 0 none, 1 simple text password, 2 IP AH (RFC 2338). */
  readonly authType: number;
  /** The 8 bytes after the addresses. */
  readonly authData: Uint8Array;
}

export type Advert = AdvertV2 | AdvertV3;

/** A decoded advert with the checksum it carried (already verified). */
export type ReceivedAdvert = Advert & { readonly checksum: number };

export interface PacketMeta {
  /** The IP source: the sender's primary address, used for the tie-break. */
  readonly src: IpAddress;
  readonly dst: IpAddress;
  /** The IPv4 TTL or the IPv6 hop limit as received. */
  readonly ttl: number;
}

export interface DecodeOptions {
  /** How an IPv4 VRRPv3 checksum is computed; default rfc5798 (what keepalived and FRR send). */
  readonly v3Ipv4Checksum?: V3Ipv4ChecksumMode;
  /** Reads an advertised address (default: a new object each); the VRRP node passes its AddressCache. */
  readonly addresses?: { get(family: AddressFamily, bytes: Uint8Array, offset: number): IpAddress };
}

export type DecodeResult = { readonly ok: true; readonly advert: ReceivedAdvert } | Rejection;

/** Advert interval in centiseconds whatever the version. */
export function advertIntervalCs(advert: Advert): Centiseconds {
  return (advert.version === 3 ? advert.maxAdverInt : advert.adverIntSeconds * 100) as Centiseconds;
}

export function expectedLength(version: 2 | 3, family: AddressFamily, count: number): number {
  return VRRP_HEADER_LENGTH + count * ADDRESS_LENGTH[family] + (version === 2 ? AUTH_DATA_LENGTH : 0);
}

function usesPseudoHeader(version: 2 | 3, family: AddressFamily, mode: V3Ipv4ChecksumMode): boolean {
  if (version === 2) return false; // RFC 3768 §5.3.8: the checksum covers the VRRP message only.
  if (family === 'ipv6') return true;
  return mode !== 'rfc9568';
}

/**
 * RFC 5798 §7.1 "Receiving VRRP Packets": the checks that depend on the packet alone —
 * TTL, version, completeness, checksum. Those that depend on the receiving virtual
 * router (VRID, owner, interval, authentication, address list) are in acceptance.ts.
 */
export function decodeAdvert(packet: Uint8Array, meta: PacketMeta, options: DecodeOptions = {}): DecodeResult {
  const family = meta.src.family;
  if (meta.dst.family !== family) {
    return reject('family-mismatch', `source ${meta.src.text} and destination ${meta.dst.text} differ in family`);
  }
  // RFC 5798 §7.1: "MUST verify that the IPvX TTL/Hop Limit is 255."
  if (meta.ttl !== VRRP_TTL) return reject('ttl', `${family === 'ipv4' ? 'TTL' : 'hop limit'} ${meta.ttl}, expected 255`);
  if (packet.length < VRRP_HEADER_LENGTH) {
    return reject('truncated', `${packet.length} bytes, shorter than the 8-byte VRRP header`);
  }
  const b0 = packet[0] as number;
  const version = b0 >> 4;
  const type = b0 & 0x0f;
  // RFC 5798 §7.1: "MUST verify that the VRRP version ID is 3." (v2 is RFC 3768, IPv4 only.)
  if (version !== 3 && !(version === 2 && family === 'ipv4')) {
    return reject('bad-version', `version ${version}${version === 2 ? ' over IPv6' : ''}`);
  }
  // RFC 5798 §8.2 / §5.2.2: only ADVERTISEMENT (1) is defined; other types are discarded.
  if (type !== VRRP_TYPE_ADVERTISEMENT) return reject('bad-type', `type ${type}, expected 1 (ADVERTISEMENT)`);
  const vridValue = packet[1] as number;
  const priorityValue = packet[2] as number;
  const count = packet[3] as number;
  // RFC 5798 §5.2.5: "The minimum value is 1."
  if (count === 0) return reject('address-count-zero', 'Count IPvX Addrs is 0');
  const needed = expectedLength(version, family, count);
  // RFC 5798 §7.1: "MUST verify that the received packet contains the complete VRRP packet (including fixed fields, and IPvX address(es))."
  if (packet.length < needed) {
    return reject('truncated', `${packet.length} bytes, ${count} ${family} address(es) need ${needed}`);
  }
  if (packet.length > needed) {
    return reject('length-mismatch', `${packet.length} bytes, ${count} ${family} address(es) make ${needed}`);
  }
  const checksum = ((packet[6] as number) << 8) | (packet[7] as number);
  // RFC 5798 §7.1: "MUST verify the VRRP checksum."
  const mode = options.v3Ipv4Checksum ?? 'rfc5798';
  const primary = vrrpChecksum(packet, needed, usesPseudoHeader(version, family, mode) ? meta : undefined);
  if (primary !== checksum) {
    const alternative =
      version === 3 && family === 'ipv4' && mode === 'either' ? vrrpChecksum(packet, needed, undefined) : undefined;
    if (alternative !== checksum) {
      return reject(
        'bad-checksum',
        `checksum 0x${hex4(checksum)}, computed 0x${hex4(primary)}${alternative === undefined ? '' : ` or 0x${hex4(alternative)} without the pseudo-header`}`,
      );
    }
  }
  if (vridValue === 0) return reject('unknown-vrid', 'VRID 0 is not a valid virtual router id');
  const vrid = vridValue as Vrid;
  const priority = priorityValue as Priority;
  const addressLength = ADDRESS_LENGTH[family];
  const addresses: IpAddress[] = [];
  const cache = options.addresses;
  for (let i = 0; i < count; i++) {
    const offset = VRRP_HEADER_LENGTH + i * addressLength;
    addresses.push(cache ? cache.get(family, packet, offset) : addressFromBytes(family, packet, offset));
  }
  if (version === 3) {
    const maxAdverInt = (((packet[4] as number) & 0x0f) << 8) | (packet[5] as number);
    if (maxAdverInt === 0) return reject('bad-interval', 'Max Adver Int is 0');
    const advert: AdvertV3 & { checksum: number } = {
      version: 3,
      family,
      vrid,
      priority,
      maxAdverInt: maxAdverInt as Centiseconds,
      reserved: (packet[4] as number) >> 4,
      addresses,
      checksum,
    };
    return { ok: true, advert };
  }
  const adverIntSeconds = packet[5] as number;
  if (adverIntSeconds === 0) return reject('bad-interval', 'Adver Int is 0');
  const authStart = VRRP_HEADER_LENGTH + count * addressLength;
  const advert: AdvertV2 & { checksum: number } = {
    version: 2,
    family: 'ipv4',
    vrid,
    priority,
    adverIntSeconds,
    authType: packet[4] as number,
    authData: new Uint8Array(packet.subarray(authStart, authStart + AUTH_DATA_LENGTH)),
    addresses,
    checksum,
  };
  return { ok: true, advert };
}

export class EncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncodeError';
  }
}

export interface EncodeOptions {
  /** IPv4 VRRPv3 only: rfc5798 (default, with the pseudo-header) or rfc9568 (without). `either` sends rfc5798. */
  readonly v3Ipv4Checksum?: V3Ipv4ChecksumMode;
}

/** The encoded length of an advert. */
export function encodedLength(advert: Advert): number {
  return expectedLength(advert.version, advert.family, advert.addresses.length);
}

/**
 * Writes the advert into `out` from offset 0 and returns its length: the allocation-free
 * form for the send path. `pseudo` gives the IP source and destination the packet will
 * carry (the checksum covers them for v3). Throws EncodeError for adverts that cannot
 * exist on the wire: a programming or configuration error, never network input.
 */
export function encodeAdvertInto(
  out: Uint8Array,
  advert: Advert,
  pseudo: { readonly src: IpAddress; readonly dst: IpAddress },
  options: EncodeOptions = {},
): number {
  const count = advert.addresses.length;
  if (count < 1 || count > 255) throw new EncodeError(`an advert carries 1..255 addresses, not ${count}`);
  const length = encodedLength(advert);
  if (out.length < length) throw new EncodeError(`buffer of ${out.length} bytes, advert needs ${length}`);
  out[0] = (advert.version << 4) | VRRP_TYPE_ADVERTISEMENT;
  out[1] = advert.vrid;
  out[2] = advert.priority;
  out[3] = count;
  if (advert.version === 3) {
    out[4] = ((advert.reserved & 0x0f) << 4) | ((advert.maxAdverInt >> 8) & 0x0f);
    out[5] = advert.maxAdverInt & 0xff;
  } else {
    out[4] = advert.authType;
    out[5] = advert.adverIntSeconds;
  }
  out[6] = 0;
  out[7] = 0;
  let offset = VRRP_HEADER_LENGTH;
  for (const address of advert.addresses) {
    if (address.family !== advert.family) {
      throw new EncodeError(`${address.text} in an ${advert.family} advert`);
    }
    out.set(address.bytes, offset);
    offset += address.bytes.length;
  }
  if (advert.version === 2) {
    if (advert.authData.length !== AUTH_DATA_LENGTH) {
      throw new EncodeError(`authentication data is ${AUTH_DATA_LENGTH} bytes, not ${advert.authData.length}`);
    }
    out.set(advert.authData, offset);
  }
  const withPseudo = usesPseudoHeader(advert.version, advert.family, options.v3Ipv4Checksum ?? 'rfc5798');
  const checksum = vrrpChecksum(out, length, withPseudo ? pseudo : undefined);
  out[6] = checksum >> 8;
  out[7] = checksum & 0xff;
  return length;
}

export function encodeAdvert(
  advert: Advert,
  pseudo: { readonly src: IpAddress; readonly dst: IpAddress },
  options: EncodeOptions = {},
): Buffer {
  const out = Buffer.alloc(encodedLength(advert));
  encodeAdvertInto(out, advert, pseudo, options);
  return out;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}
