/**
 * The whole Ethernet frames a VRRP router sends when it becomes master, so that
 * hosts and switches learn where the virtual addresses now live:
 *
 * - IPv4: a gratuitous ARP request per virtual address. RFC 5798 §6.4.2 (Master_Down_Timer fires):
 *     "(375) + If the protected IPvX address is an IPv4 address, then:
 *      (380) * Broadcast a gratuitous ARP request on that interface containing the
 *      virtual router MAC address for each IPv4 address associated with the virtual router."
 *   and §8.1.2: "When configuring an interface, Virtual Router Master routers should
 *   broadcast a gratuitous ARP request containing the virtual router MAC address for each
 *   IPv4 address on that interface."
 * - IPv6: an unsolicited Neighbor Advertisement per virtual address. RFC 5798 §6.4.2:
 *     "(395) * For each IPv6 address associated with the virtual router, send an
 *      unsolicited ND Neighbor Advertisement with the Router Flag (R) set, the Solicited
 *      Flag (S) unset, the Override flag (O) set, the target address set to the IPv6
 *      address of the virtual router, and the target link-layer address set to the
 *      virtual router MAC address."
 *
 * The builders reproduce keepalived 2.2.7 byte for byte (see the K9/K10 golden vectors);
 * the MAC is a parameter because keepalived without `use_vmac` announces the interface's
 * own MAC. The decoders never throw: malformed input gives a typed failure value.
 */
import { type IPv4Address, type IPv6Address, ipv4FromBytes, ipv6FromBytes } from '../net/address.js';
import { BROADCAST_MAC, MAC_LENGTH, type MacAddress, macFromBytes } from '../net/mac.js';

export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ICMPV6_NEXT_HEADER = 58;
export const ICMPV6_NEIGHBOR_ADVERT = 136;
export const ND_OPTION_TARGET_LINK_LAYER_ADDRESS = 2;
export const ARP_OPCODE_REQUEST = 1;
export const ARP_OPCODE_REPLY = 2;
/** RFC 826 hardware type for Ethernet. */
export const ARP_HTYPE_ETHERNET = 1;

const ETH_HEADER_LENGTH = 14;
const ARP_PAYLOAD_LENGTH = 28;
const IPV6_HEADER_LENGTH = 40;
/** Type, code, checksum, flags/reserved, target address. */
const NA_FIXED_LENGTH = 24;
/** Type, length (1 = 8 octets) and the 6-byte MAC. */
const TLLA_OPTION_LENGTH = 8;

/** 14 + 28: the frame keepalived sends (no padding to the 60-byte minimum; the NIC adds it). */
export const GARP_FRAME_LENGTH = ETH_HEADER_LENGTH + ARP_PAYLOAD_LENGTH;
/** 14 + 40 + 24 + 8. */
export const NA_FRAME_LENGTH = ETH_HEADER_LENGTH + IPV6_HEADER_LENGTH + NA_FIXED_LENGTH + TLLA_OPTION_LENGTH;

/** ff02::1, the all-nodes multicast address (RFC 4291 §2.7.1). */
const ALL_NODES: IPv6Address = ipv6FromBytes(new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]));

function checkLengths(vip: { readonly bytes: Uint8Array }, vipLength: number, mac: MacAddress): void {
  if (vip.bytes.length !== vipLength) throw new RangeError(`address has ${vip.bytes.length} bytes, expected ${vipLength}`);
  if (mac.bytes.length !== MAC_LENGTH) throw new RangeError(`MAC has ${mac.bytes.length} bytes, expected ${MAC_LENGTH}`);
}

/**
 * RFC 2464 §7: "An IPv6 packet with a multicast destination address DST, consisting of
 * the sixteen octets DST[1] through DST[16], is transmitted to the Ethernet multicast
 * address whose first two octets are the value 3333 hexadecimal and whose last four
 * octets are the last four octets of DST."
 */
export function ipv6MulticastMac(group: IPv6Address): MacAddress {
  const bytes = new Uint8Array(MAC_LENGTH);
  bytes[0] = 0x33;
  bytes[1] = 0x33;
  bytes.set(group.bytes.subarray(12, 16), 2);
  return macFromBytes(bytes);
}

// ---------------------------------------------------------------------------------------
// Gratuitous ARP
// ---------------------------------------------------------------------------------------

/**
 * The 42-byte gratuitous ARP request keepalived sends for one IPv4 virtual address:
 * Ethernet broadcast from `mac`, ethertype 0x0806; ARP htype 1, ptype 0x0800, hlen 6,
 * plen 4, opcode 1 (request), sender = (`mac`, `vip`), target = (ff:ff:ff:ff:ff:ff, `vip`).
 * Pass the virtual router MAC (vrrpVirtualMac) to follow RFC 5798, or the interface MAC
 * to do what keepalived does without `use_vmac`.
 */
export function gratuitousArpFrame(vip: IPv4Address, mac: MacAddress): Buffer {
  checkLengths(vip, 4, mac);
  const frame = Buffer.alloc(GARP_FRAME_LENGTH);
  frame.set(BROADCAST_MAC.bytes, 0);
  frame.set(mac.bytes, 6);
  frame.writeUInt16BE(ETHERTYPE_ARP, 12);
  frame.writeUInt16BE(ARP_HTYPE_ETHERNET, 14);
  frame.writeUInt16BE(ETHERTYPE_IPV4, 16);
  frame.writeUInt8(MAC_LENGTH, 18);
  frame.writeUInt8(4, 19);
  frame.writeUInt16BE(ARP_OPCODE_REQUEST, 20);
  frame.set(mac.bytes, 22); // sender hardware address
  frame.set(vip.bytes, 28); // sender protocol address
  frame.set(BROADCAST_MAC.bytes, 32); // target hardware address
  frame.set(vip.bytes, 38); // target protocol address
  return frame;
}

export interface DecodedGratuitousArp {
  readonly ethDst: MacAddress;
  readonly ethSrc: MacAddress;
  /** 1 (request, what keepalived sends) or 2 (reply; some implementations announce with replies). */
  readonly opcode: 1 | 2;
  readonly senderMac: MacAddress;
  readonly senderIp: IPv4Address;
  readonly targetMac: MacAddress;
  readonly targetIp: IPv4Address;
  /** Bytes after the 42 of the frame (Ethernet padding), usually empty or zeros. */
  readonly padding: Uint8Array;
}

export type ArpDecodeFailureReason =
  /** Shorter than the 42 bytes of an Ethernet ARP frame. */
  | 'truncated'
  /** Ethertype is not 0x0806. */
  | 'not-arp'
  /** Not Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4). */
  | 'unsupported-arp'
  /** Opcode is neither 1 nor 2. */
  | 'bad-opcode'
  /** Sender IP differs from target IP: an ordinary ARP, not a gratuitous one. */
  | 'not-gratuitous';

export type GratuitousArpDecodeResult =
  | { readonly ok: true; readonly arp: DecodedGratuitousArp }
  | { readonly ok: false; readonly reason: ArpDecodeFailureReason; readonly detail: string };

function arpFailure(reason: ArpDecodeFailureReason, detail: string): GratuitousArpDecodeResult {
  return { ok: false, reason, detail };
}

function viewOf(frame: Uint8Array): DataView {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

/** Decodes a whole Ethernet frame (no FCS) carrying a gratuitous ARP. Never throws. */
export function decodeGratuitousArp(frame: Uint8Array): GratuitousArpDecodeResult {
  if (frame.length < ETH_HEADER_LENGTH) return arpFailure('truncated', `${frame.length} bytes, shorter than an Ethernet header`);
  const view = viewOf(frame);
  const ethertype = view.getUint16(12);
  if (ethertype !== ETHERTYPE_ARP) return arpFailure('not-arp', `ethertype ${hex16(ethertype)}`);
  if (frame.length < GARP_FRAME_LENGTH) {
    return arpFailure('truncated', `${frame.length} bytes, an Ethernet ARP frame has at least ${GARP_FRAME_LENGTH}`);
  }
  const htype = view.getUint16(14);
  const ptype = view.getUint16(16);
  const hlen = view.getUint8(18);
  const plen = view.getUint8(19);
  if (htype !== ARP_HTYPE_ETHERNET || ptype !== ETHERTYPE_IPV4 || hlen !== MAC_LENGTH || plen !== 4) {
    return arpFailure('unsupported-arp', `htype ${htype}, ptype ${hex16(ptype)}, hlen ${hlen}, plen ${plen}`);
  }
  const opcode = view.getUint16(20);
  if (opcode !== ARP_OPCODE_REQUEST && opcode !== ARP_OPCODE_REPLY) return arpFailure('bad-opcode', `opcode ${opcode}`);
  const senderIp = ipv4FromBytes(frame, 28);
  const targetIp = ipv4FromBytes(frame, 38);
  if (senderIp.text !== targetIp.text) {
    return arpFailure('not-gratuitous', `sender IP ${senderIp.text} differs from target IP ${targetIp.text}`);
  }
  return {
    ok: true,
    arp: {
      ethDst: macFromBytes(frame, 0),
      ethSrc: macFromBytes(frame, 6),
      opcode,
      senderMac: macFromBytes(frame, 22),
      senderIp,
      targetMac: macFromBytes(frame, 32),
      targetIp,
      padding: new Uint8Array(frame.subarray(GARP_FRAME_LENGTH)),
    },
  };
}

// ---------------------------------------------------------------------------------------
// Unsolicited Neighbor Advertisement
// ---------------------------------------------------------------------------------------

/** RFC 1071 one's complement sum of 16-bit words (an odd last byte is padded with zero). */
function sumWords(bytes: Uint8Array, start: number, end: number, initial: number): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  if (i < end) sum += (bytes[i] ?? 0) << 8;
  return sum;
}

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/**
 * RFC 4443 §2.3: "The checksum is the 16-bit one's complement of the one's complement
 * sum of the entire ICMPv6 message, starting with the ICMPv6 message type field, and
 * prepended with a "pseudo-header" of IPv6 header fields, as specified in [IPv6,
 * Section 8.1]. The Next Header value used in the pseudo-header is 58. ... For computing
 * the checksum, the checksum field is first set to zero."
 * The pseudo-header (RFC 8200 §8.1): source, destination, 32-bit upper-layer length,
 * three zero bytes, next header.
 *
 * `message` is the ICMPv6 message; its bytes 2-3 (the checksum field) are taken as zero.
 */
export function icmpv6Checksum(src: IPv6Address, dst: IPv6Address, message: Uint8Array): number {
  let sum = sumWords(src.bytes, 0, 16, 0);
  sum = sumWords(dst.bytes, 0, 16, sum);
  sum += Math.floor(message.length / 0x10000) + (message.length & 0xffff) + ICMPV6_NEXT_HEADER;
  sum = sumWords(message, 0, 2, sum);
  sum = sumWords(message, 4, message.length, sum);
  return ~fold(sum) & 0xffff;
}

export interface NeighborAdvertOptions {
  /**
   * The R flag. RFC 4861 §4.4: "R Router flag. When set, the R-bit indicates that the
   * sender is a router." RFC 4861 §7.2.6: "If the node is a router, it MUST set the
   * Router flag to one; otherwise, it MUST set it to zero." RFC 5798 §6.4.2 asks for
   * R set; keepalived 2.2.7 sends R=0 (the K10 capture), hence a parameter.
   */
  readonly router: boolean;
}

/**
 * The 86-byte unsolicited Neighbor Advertisement for one IPv6 virtual address:
 * Ethernet 33:33:00:00:00:01 from `mac`, ethertype 0x86dd; IPv6 from the VIP to ff02::1,
 * traffic class 0, flow label 0, hop limit 255, next header 58; ICMPv6 type 136 code 0,
 * flags R (`options.router`), S=0, O=1, target = the VIP, one Target Link-Layer Address
 * option carrying `mac`.
 *
 * RFC 4861 §4.4, IP fields: "Destination Address ... For unsolicited advertisements
 * typically the all-nodes multicast address." "Hop Limit 255".
 * RFC 4861 §7.2.6 (Sending Unsolicited Neighbor Advertisements): "The Target Address
 * field in the unsolicited advertisement is set to an IP address of the interface, and
 * the Target Link-Layer Address option is filled with the new link-layer address. The
 * Solicited flag MUST NOT be set in order to avoid confusing the Neighbor Unreachability
 * Detection algorithm."
 */
export function unsolicitedNeighborAdvertFrame(vip: IPv6Address, mac: MacAddress, options: NeighborAdvertOptions): Buffer {
  checkLengths(vip, 16, mac);
  const frame = Buffer.alloc(NA_FRAME_LENGTH);
  const icmpLength = NA_FIXED_LENGTH + TLLA_OPTION_LENGTH;
  // Ethernet
  frame.set(ipv6MulticastMac(ALL_NODES).bytes, 0);
  frame.set(mac.bytes, 6);
  frame.writeUInt16BE(ETHERTYPE_IPV6, 12);
  // IPv6: version 6, traffic class 0, flow label 0
  const ip = ETH_HEADER_LENGTH;
  frame.writeUInt32BE(0x60000000, ip);
  frame.writeUInt16BE(icmpLength, ip + 4);
  frame.writeUInt8(ICMPV6_NEXT_HEADER, ip + 6);
  frame.writeUInt8(255, ip + 7);
  frame.set(vip.bytes, ip + 8);
  frame.set(ALL_NODES.bytes, ip + 24);
  // ICMPv6 Neighbor Advertisement (RFC 4861 §4.4)
  const icmp = ip + IPV6_HEADER_LENGTH;
  frame.writeUInt8(ICMPV6_NEIGHBOR_ADVERT, icmp);
  frame.writeUInt8(0, icmp + 1);
  // RFC 4861 §4.4: "O Override flag. When set, the O-bit indicates that the advertisement
  // should override an existing cache entry and update the cached link-layer address."
  frame.writeUInt8((options.router ? 0x80 : 0) | 0x20, icmp + 4);
  frame.set(vip.bytes, icmp + 8);
  // RFC 4861 §4.6.1: "Length The length of the option (including the type and length
  // fields) in units of 8 octets. For example, the length for IEEE 802 addresses is 1."
  frame.writeUInt8(ND_OPTION_TARGET_LINK_LAYER_ADDRESS, icmp + NA_FIXED_LENGTH);
  frame.writeUInt8(1, icmp + NA_FIXED_LENGTH + 1);
  frame.set(mac.bytes, icmp + NA_FIXED_LENGTH + 2);
  const message = frame.subarray(icmp, icmp + icmpLength);
  frame.writeUInt16BE(icmpv6Checksum(vip, ALL_NODES, message), icmp + 2);
  return frame;
}

export interface NdOption {
  readonly type: number;
  /** The whole option's length in octets (the length field times 8). */
  readonly lengthOctets: number;
  /** The option's bytes after the type and length fields. */
  readonly data: Uint8Array;
}

export interface DecodedNeighborAdvert {
  readonly ethDst: MacAddress;
  readonly ethSrc: MacAddress;
  readonly ipSrc: IPv6Address;
  readonly ipDst: IPv6Address;
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly hopLimit: number;
  readonly code: number;
  /** The checksum field as sent (verified: a wrong one is the failure 'bad-checksum'). */
  readonly checksum: number;
  readonly flags: { readonly router: boolean; readonly solicited: boolean; readonly override: boolean };
  readonly target: IPv6Address;
  readonly options: readonly NdOption[];
  /** The MAC of the first Target Link-Layer Address option with length 1, if any. */
  readonly targetLinkLayerAddress: MacAddress | undefined;
}

export type NeighborAdvertDecodeFailureReason =
  /** Shorter than its headers, or than the IPv6 payload length says. */
  | 'truncated'
  /** Ethertype is not 0x86dd. */
  | 'not-ipv6'
  /** The IPv6 version field is not 6. */
  | 'bad-ip-version'
  /** Next header is not 58 (extension headers are not followed). */
  | 'not-icmpv6'
  /** ICMPv6 type is not 136. */
  | 'not-neighbor-advert'
  // The RFC 4861 §7.1.2 validity checks: "A node MUST silently discard any received
  // Neighbor Advertisement messages that do not satisfy all of the following validity checks:"
  /** "The IP Hop Limit field has a value of 255" */
  | 'bad-hop-limit'
  /** "ICMP Checksum is valid." */
  | 'bad-checksum'
  /** "ICMP Code is 0." */
  | 'bad-code'
  /** "ICMP length (derived from the IP length) is 24 or more octets." */
  | 'bad-length'
  /** "Target Address is not a multicast address." */
  | 'multicast-target'
  /** "If the IP Destination Address is a multicast address the Solicited flag is zero." */
  | 'solicited-to-multicast'
  /** "All included options have a length that is greater than zero." (or one runs past the end) */
  | 'bad-option';

export type NeighborAdvertDecodeResult =
  | { readonly ok: true; readonly na: DecodedNeighborAdvert }
  | { readonly ok: false; readonly reason: NeighborAdvertDecodeFailureReason; readonly detail: string };

function naFailure(reason: NeighborAdvertDecodeFailureReason, detail: string): NeighborAdvertDecodeResult {
  return { ok: false, reason, detail };
}

/**
 * Decodes a whole Ethernet frame (no FCS) carrying an IPv6 Neighbor Advertisement
 * (no extension headers) and applies the RFC 4861 §7.1.2 validity checks. Bytes after
 * the IPv6 payload (Ethernet padding) are ignored. Never throws.
 */
export function decodeNeighborAdvert(frame: Uint8Array): NeighborAdvertDecodeResult {
  const ip = ETH_HEADER_LENGTH;
  const icmp = ip + IPV6_HEADER_LENGTH;
  if (frame.length < ETH_HEADER_LENGTH) return naFailure('truncated', `${frame.length} bytes, shorter than an Ethernet header`);
  const view = viewOf(frame);
  const ethertype = view.getUint16(12);
  if (ethertype !== ETHERTYPE_IPV6) return naFailure('not-ipv6', `ethertype ${hex16(ethertype)}`);
  if (frame.length < icmp) {
    return naFailure('truncated', `${frame.length} bytes, Ethernet and IPv6 headers need ${icmp}`);
  }
  const word0 = view.getUint32(ip);
  const version = word0 >>> 28;
  if (version !== 6) return naFailure('bad-ip-version', `IP version ${version}`);
  const payloadLength = view.getUint16(ip + 4);
  const nextHeader = view.getUint8(ip + 6);
  const hopLimit = view.getUint8(ip + 7);
  if (nextHeader !== ICMPV6_NEXT_HEADER) return naFailure('not-icmpv6', `next header ${nextHeader}`);
  if (icmp + payloadLength > frame.length) {
    return naFailure('truncated', `payload length ${payloadLength} but only ${frame.length - icmp} bytes follow the IPv6 header`);
  }
  if (payloadLength < 1) return naFailure('bad-length', 'empty ICMPv6 message');
  const type = view.getUint8(icmp);
  if (type !== ICMPV6_NEIGHBOR_ADVERT) return naFailure('not-neighbor-advert', `ICMPv6 type ${type}`);
  if (payloadLength < NA_FIXED_LENGTH) {
    return naFailure('bad-length', `ICMPv6 length ${payloadLength}, a Neighbor Advertisement has at least ${NA_FIXED_LENGTH}`);
  }
  if (hopLimit !== 255) return naFailure('bad-hop-limit', `hop limit ${hopLimit}`);
  const ipSrc = ipv6FromBytes(frame, ip + 8);
  const ipDst = ipv6FromBytes(frame, ip + 24);
  const message = frame.subarray(icmp, icmp + payloadLength);
  const checksum = view.getUint16(icmp + 2);
  const expected = icmpv6Checksum(ipSrc, ipDst, message);
  // 0x0000 and 0xffff are the two one's complement zeros: either verifies when the sum is zero.
  if (checksum !== expected && !(expected === 0 && checksum === 0xffff)) return naFailure('bad-checksum', `checksum ${hex16(checksum)}, computed ${hex16(expected)}`);
  const code = view.getUint8(icmp + 1);
  if (code !== 0) return naFailure('bad-code', `ICMPv6 code ${code}`);
  const flagsByte = view.getUint8(icmp + 4);
  const flags = { router: (flagsByte & 0x80) !== 0, solicited: (flagsByte & 0x40) !== 0, override: (flagsByte & 0x20) !== 0 };
  const target = ipv6FromBytes(frame, icmp + 8);
  if (target.bytes[0] === 0xff) return naFailure('multicast-target', `target ${target.text}`);
  if (ipDst.bytes[0] === 0xff && flags.solicited) {
    return naFailure('solicited-to-multicast', `solicited flag set with destination ${ipDst.text}`);
  }
  const options: NdOption[] = [];
  let targetLinkLayerAddress: MacAddress | undefined;
  for (let at = NA_FIXED_LENGTH; at < payloadLength; ) {
    if (at + 2 > payloadLength) return naFailure('bad-option', `a lone byte at ICMPv6 offset ${at}`);
    const optionType = message[at] ?? 0;
    const lengthOctets = (message[at + 1] ?? 0) * 8;
    if (lengthOctets === 0) return naFailure('bad-option', `option type ${optionType} at ICMPv6 offset ${at} has length 0`);
    if (at + lengthOctets > payloadLength) {
      return naFailure('bad-option', `option type ${optionType} at ICMPv6 offset ${at} runs past the message end`);
    }
    const data = new Uint8Array(message.subarray(at + 2, at + lengthOctets));
    options.push({ type: optionType, lengthOctets, data });
    if (optionType === ND_OPTION_TARGET_LINK_LAYER_ADDRESS && lengthOctets === 8 && !targetLinkLayerAddress) {
      targetLinkLayerAddress = macFromBytes(data, 0);
    }
    at += lengthOctets;
  }
  return {
    ok: true,
    na: {
      ethDst: macFromBytes(frame, 0),
      ethSrc: macFromBytes(frame, 6),
      ipSrc,
      ipDst,
      trafficClass: (word0 >>> 20) & 0xff,
      flowLabel: word0 & 0xfffff,
      hopLimit,
      code,
      checksum,
      flags,
      target,
      options,
      targetLinkLayerAddress,
    },
  };
}
