/**
 * Socket addresses as Linux (x86_64) lays them out, built and parsed in TypeScript for
 * the native addon's bind/sendto/recvmsg. Multi-byte fields are host order (little
 * endian) except ports and ethertypes, which are network order.
 *
 *   sockaddr_in   (16): u16 family, u16 port (BE), 4-byte address, 8 zero bytes
 *   sockaddr_in6  (28): u16 family, u16 port (BE), u32 flowinfo (BE), 16-byte address, u32 scope id
 *   sockaddr_ll   (20): u16 family, u16 protocol (BE), i32 ifindex, u16 hatype, u8 pkttype,
 *                       u8 halen, 8-byte address
 *   sockaddr_nl   (12): u16 family, u16 pad, u32 port id, u32 groups
 *   sockaddr_un (≤110): u16 family, path (NUL-terminated) or '\0' + abstract name (no NUL)
 *
 * Parsing never throws: an address too short for its family parses as 'unknown'.
 */
import { type IPv4Address, type IPv6Address, ipv4FromBytes, ipv6FromBytes } from './address.js';
import { AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX } from './af.js';

export const SOCKADDR_IN_LENGTH = 16;
export const SOCKADDR_IN6_LENGTH = 28;
export const SOCKADDR_LL_LENGTH = 20;
export const SOCKADDR_NL_LENGTH = 12;
/** sizeof(sun_path). */
export const SUN_PATH_LENGTH = 108;

/** 16-bit host to network order (ethertypes for AF_PACKET). */
export function htons(value: number): number {
  return ((value & 0xff) << 8) | ((value >> 8) & 0xff);
}

export const ntohs = htons;

export function sockaddrIn(address: IPv4Address, port = 0): Buffer {
  const b = Buffer.alloc(SOCKADDR_IN_LENGTH);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  b.set(address.bytes, 4);
  return b;
}

/** `scopeId` is the interface index, needed for link-local addresses. */
export function sockaddrIn6(address: IPv6Address, port = 0, scopeId = 0, flowinfo = 0): Buffer {
  const b = Buffer.alloc(SOCKADDR_IN6_LENGTH);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  b.writeUInt32BE(flowinfo >>> 0, 4);
  b.set(address.bytes, 8);
  b.writeUInt32LE(scopeId >>> 0, 24);
  return b;
}

export interface SockaddrLlFields {
  /** The ethertype in host order (e.g. ETH_P_ARP); written in network order. 0 = none. */
  readonly protocol?: number;
  readonly ifindex: number;
  readonly hatype?: number;
  readonly pkttype?: number;
  /** The hardware address (up to 8 bytes; halen is its length). */
  readonly addr?: Uint8Array;
}

export function sockaddrLl(fields: SockaddrLlFields): Buffer {
  const addr = fields.addr ?? new Uint8Array(0);
  if (addr.length > 8) throw new RangeError(`sockaddr_ll holds up to 8 address bytes, not ${addr.length}`);
  const b = Buffer.alloc(SOCKADDR_LL_LENGTH);
  b.writeUInt16LE(AF_PACKET, 0);
  b.writeUInt16BE(fields.protocol ?? 0, 2);
  b.writeInt32LE(fields.ifindex, 4);
  b.writeUInt16LE(fields.hatype ?? 0, 8);
  b.writeUInt8(fields.pkttype ?? 0, 10);
  b.writeUInt8(addr.length, 11);
  b.set(addr, 12);
  return b;
}

/** `pid` 0 lets the kernel pick (bind) or means the kernel (sendto); `groups` is the multicast bitmask. */
export function sockaddrNl(pid = 0, groups = 0): Buffer {
  const b = Buffer.alloc(SOCKADDR_NL_LENGTH);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(pid >>> 0, 4);
  b.writeUInt32LE(groups >>> 0, 8);
  return b;
}

/**
 * A filesystem path, or an abstract name written '@name' (as $NOTIFY_SOCKET and ss do).
 * The length is exact: an abstract name is its bytes and nothing more.
 */
export function sockaddrUn(path: string): Buffer {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? path.slice(1) : path, 'utf8');
  // A path needs room for its NUL; an abstract name has a leading NUL instead.
  if (name.length + 1 > SUN_PATH_LENGTH) {
    throw new RangeError(`unix socket ${abstract ? 'name' : 'path'} "${path}" is longer than ${SUN_PATH_LENGTH - 1} bytes`);
  }
  if (!abstract && name.length === 0) throw new RangeError('empty unix socket path');
  const b = Buffer.alloc(2 + 1 + name.length);
  b.writeUInt16LE(AF_UNIX, 0);
  if (abstract) {
    b[2] = 0;
    b.set(name, 3);
  } else {
    b.set(name, 2);
    b[2 + name.length] = 0;
  }
  return b;
}

export type ParsedSockaddr =
  | { readonly kind: 'inet'; readonly address: IPv4Address; readonly port: number }
  | {
      readonly kind: 'inet6';
      readonly address: IPv6Address;
      readonly port: number;
      readonly flowinfo: number;
      readonly scopeId: number;
    }
  | {
      readonly kind: 'packet';
      /** Host order. */
      readonly protocol: number;
      readonly ifindex: number;
      readonly hatype: number;
      readonly pkttype: number;
      readonly addr: Uint8Array;
    }
  | { readonly kind: 'netlink'; readonly pid: number; readonly groups: number }
  /** `path` '' for an unnamed socket; abstract names are given as '@name'. */
  | { readonly kind: 'unix'; readonly path: string; readonly abstract: boolean }
  | { readonly kind: 'unknown'; readonly family: number; readonly length: number };

export function parseSockaddr(b: Uint8Array): ParsedSockaddr {
  if (b.length < 2) return { kind: 'unknown', family: -1, length: b.length };
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = view.getUint16(0, true);
  switch (family) {
    case AF_INET:
      if (b.length < 8) break;
      return { kind: 'inet', address: ipv4FromBytes(b, 4), port: view.getUint16(2) };
    case AF_INET6:
      if (b.length < 24) break;
      return {
        kind: 'inet6',
        address: ipv6FromBytes(b, 8),
        port: view.getUint16(2),
        flowinfo: view.getUint32(4),
        scopeId: b.length >= SOCKADDR_IN6_LENGTH ? view.getUint32(24, true) : 0,
      };
    case AF_PACKET: {
      if (b.length < 12) break;
      const halen = Math.min(view.getUint8(11), 8, b.length - 12);
      return {
        kind: 'packet',
        protocol: view.getUint16(2),
        ifindex: view.getInt32(4, true),
        hatype: view.getUint16(8, true),
        pkttype: view.getUint8(10),
        addr: new Uint8Array(b.subarray(12, 12 + halen)),
      };
    }
    case AF_NETLINK:
      if (b.length < SOCKADDR_NL_LENGTH) break;
      return { kind: 'netlink', pid: view.getUint32(4, true), groups: view.getUint32(8, true) };
    case AF_UNIX: {
      const sunPath = b.subarray(2);
      if (sunPath.length === 0) return { kind: 'unix', path: '', abstract: false };
      if (sunPath[0] === 0) {
        return { kind: 'unix', path: `@${Buffer.from(sunPath.subarray(1)).toString('utf8')}`, abstract: true };
      }
      const nul = sunPath.indexOf(0);
      return { kind: 'unix', path: Buffer.from(nul === -1 ? sunPath : sunPath.subarray(0, nul)).toString('utf8'), abstract: false };
    }
    default:
      break;
  }
  return { kind: 'unknown', family, length: b.length };
}
