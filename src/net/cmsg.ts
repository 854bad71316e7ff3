/**
 * Control messages (ancillary data) from recvmsg, Linux x86_64 layout:
 *
 *   struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }   // 16 bytes
 *   data follows the header; each message starts at an 8-byte boundary
 *   (CMSG_ALIGN), and cmsg_len counts the header plus the unpadded data.
 *
 * The records vigil asks for: IP_TTL (IP_RECVTTL), IP_PKTINFO, IPV6_HOPLIMIT
 * (IPV6_RECVHOPLIMIT) and IPV6_PKTINFO (IPV6_RECVPKTINFO). Parsing never throws: a
 * malformed tail ends the list, flagged by `truncated`.
 */
import { type IPv4Address, type IPv6Address, ipv4FromBytes, ipv6FromBytes } from './address.js';
import { IPPROTO_IP, IPPROTO_IPV6, IP_PKTINFO, IP_TTL, IPV6_HOPLIMIT, IPV6_PKTINFO } from '../native/index.js';

export const CMSG_HEADER_LENGTH = 16;
const ALIGN = 8;

export function cmsgAlign(length: number): number {
  return (length + ALIGN - 1) & ~(ALIGN - 1);
}

/** CMSG_SPACE: the room one message with `dataLength` bytes of data takes in a control buffer. */
export function cmsgSpace(dataLength: number): number {
  return CMSG_HEADER_LENGTH + cmsgAlign(dataLength);
}

/** CMSG_LEN: the cmsg_len of one message with `dataLength` bytes of data. */
export function cmsgLen(dataLength: number): number {
  return CMSG_HEADER_LENGTH + dataLength;
}

export type ControlMessage =
  /** IPv4 TTL of the received packet (int). */
  | { readonly kind: 'ip-ttl'; readonly ttl: number }
  /** struct in_pktinfo: ingress interface, local address used (spec_dst) and header destination (addr). */
  | { readonly kind: 'ip-pktinfo'; readonly ifindex: number; readonly specDst: IPv4Address; readonly dst: IPv4Address }
  /** IPv6 hop limit of the received packet (int). */
  | { readonly kind: 'ipv6-hoplimit'; readonly hopLimit: number }
  /** struct in6_pktinfo: header destination and ingress interface. */
  | { readonly kind: 'ipv6-pktinfo'; readonly dst: IPv6Address; readonly ifindex: number }
  | { readonly kind: 'unknown'; readonly level: number; readonly type: number; readonly data: Uint8Array };

export interface ParsedControl {
  readonly messages: readonly ControlMessage[];
  /** A header or length ran past the buffer, or a known record was too short. */
  readonly truncated: boolean;
}

const IN_PKTINFO_LENGTH = 12;
const IN6_PKTINFO_LENGTH = 20;

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Calls `visit(level, type, dataOffset, dataLength)` for each well-formed message in the
 * first `length` bytes of `control` (allocation free); returns false if a malformed
 * header ended the walk early.
 */
export function forEachControlMessage(
  control: Uint8Array,
  length: number,
  visit: (level: number, type: number, dataOffset: number, dataLength: number) => void,
): boolean {
  const v = view(control);
  const end = Math.min(length, control.length);
  let at = 0;
  while (at + CMSG_HEADER_LENGTH <= end) {
    // cmsg_len is a size_t; control buffers are far below 2^32, so the high word must be 0.
    const len = v.getUint32(at, true);
    const high = v.getUint32(at + 4, true);
    if (high !== 0 || len < CMSG_HEADER_LENGTH || at + len > end) return false;
    visit(v.getInt32(at + 8, true), v.getInt32(at + 12, true), at + CMSG_HEADER_LENGTH, len - CMSG_HEADER_LENGTH);
    at += cmsgAlign(len);
  }
  // Fewer than 16 bytes left: the last message's padding, or nothing.
  return true;
}

/**
 * The data offset of the first message with this level and type, or -1 (allocation
 * free: for the receive path).
 */
export function findControlMessage(control: Uint8Array, length: number, level: number, type: number, minLength = 0): number {
  const v = view(control);
  const end = Math.min(length, control.length);
  for (let at = 0; at + CMSG_HEADER_LENGTH <= end; ) {
    const len = v.getUint32(at, true);
    if (v.getUint32(at + 4, true) !== 0 || len < CMSG_HEADER_LENGTH || at + len > end) return -1;
    if (v.getInt32(at + 8, true) === level && v.getInt32(at + 12, true) === type && len - CMSG_HEADER_LENGTH >= minLength) {
      return at + CMSG_HEADER_LENGTH;
    }
    at += cmsgAlign(len);
  }
  return -1;
}

/** Parses the first `length` bytes (default: all) of a control buffer into typed records. */
export function parseControlMessages(control: Uint8Array, length = control.length): ParsedControl {
  const messages: ControlMessage[] = [];
  const v = view(control);
  let truncated = false;
  const complete = forEachControlMessage(control, length, (level, type, offset, dataLength) => {
    const data = control.subarray(offset, offset + dataLength);
    if (level === IPPROTO_IP && type === IP_TTL && dataLength >= 4) {
      messages.push({ kind: 'ip-ttl', ttl: v.getInt32(offset, true) });
    } else if (level === IPPROTO_IP && type === IP_PKTINFO && dataLength >= IN_PKTINFO_LENGTH) {
      messages.push({
        kind: 'ip-pktinfo',
        ifindex: v.getInt32(offset, true),
        specDst: ipv4FromBytes(control, offset + 4),
        dst: ipv4FromBytes(control, offset + 8),
      });
    } else if (level === IPPROTO_IPV6 && type === IPV6_HOPLIMIT && dataLength >= 4) {
      messages.push({ kind: 'ipv6-hoplimit', hopLimit: v.getInt32(offset, true) });
    } else if (level === IPPROTO_IPV6 && type === IPV6_PKTINFO && dataLength >= IN6_PKTINFO_LENGTH) {
      messages.push({ kind: 'ipv6-pktinfo', dst: ipv6FromBytes(control, offset), ifindex: v.getInt32(offset + 16, true) });
    } else {
      const known =
        (level === IPPROTO_IP && (type === IP_TTL || type === IP_PKTINFO)) ||
        (level === IPPROTO_IPV6 && (type === IPV6_HOPLIMIT || type === IPV6_PKTINFO));
      if (known) truncated = true;
      messages.push({ kind: 'unknown', level, type, data: new Uint8Array(data) });
    }
  });
  return { messages, truncated: truncated || !complete };
}

/** Builds a control buffer from records (for sendmsg-style use and for tests). */
export function encodeControlMessages(messages: readonly ControlMessage[]): Buffer {
  const parts = messages.map((m): { level: number; type: number; data: Buffer } => {
    switch (m.kind) {
      case 'ip-ttl': {
        const data = Buffer.alloc(4);
        data.writeInt32LE(m.ttl, 0);
        return { level: IPPROTO_IP, type: IP_TTL, data };
      }
      case 'ip-pktinfo': {
        const data = Buffer.alloc(IN_PKTINFO_LENGTH);
        data.writeInt32LE(m.ifindex, 0);
        data.set(m.specDst.bytes, 4);
        data.set(m.dst.bytes, 8);
        return { level: IPPROTO_IP, type: IP_PKTINFO, data };
      }
      case 'ipv6-hoplimit': {
        const data = Buffer.alloc(4);
        data.writeInt32LE(m.hopLimit, 0);
        return { level: IPPROTO_IPV6, type: IPV6_HOPLIMIT, data };
      }
      case 'ipv6-pktinfo': {
        const data = Buffer.alloc(IN6_PKTINFO_LENGTH);
        data.set(m.dst.bytes, 0);
        data.writeInt32LE(m.ifindex, 16);
        return { level: IPPROTO_IPV6, type: IPV6_PKTINFO, data };
      }
      case 'unknown':
        return { level: m.level, type: m.type, data: Buffer.from(m.data) };
    }
  });
  const out = Buffer.alloc(parts.reduce((n, p) => n + cmsgSpace(p.data.length), 0));
  let at = 0;
  for (const p of parts) {
    out.writeUInt32LE(cmsgLen(p.data.length), at);
    out.writeUInt32LE(0, at + 4);
    out.writeInt32LE(p.level, at + 8);
    out.writeInt32LE(p.type, at + 12);
    p.data.copy(out, at + CMSG_HEADER_LENGTH);
    at += cmsgSpace(p.data.length);
  }
  return out;
}
