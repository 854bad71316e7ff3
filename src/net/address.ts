/**
 * IP addresses as the VRRP codec and state machine need them: raw network-order
 * bytes (for the wire, the checksum pseudo-header and the RFC 5798 §6.4.3
 * "unsigned integer comparison of the IPvX addresses in network byte order")
 * together with their canonical text (RFC 5952 for IPv6).
 */

export type AddressFamily = 'ipv4' | 'ipv6';

export interface IPv4Address {
  readonly family: 'ipv4';
  /** 4 bytes, network order. */
  readonly bytes: Uint8Array;
  readonly text: string;
}

export interface IPv6Address {
  readonly family: 'ipv6';
  /** 16 bytes, network order. */
  readonly bytes: Uint8Array;
  readonly text: string;
}

export type IpAddress = IPv4Address | IPv6Address;

export const ADDRESS_LENGTH: Readonly<Record<AddressFamily, 4 | 16>> = { ipv4: 4, ipv6: 16 };

export class AddressParseError extends Error {
  constructor(
    readonly input: string,
    readonly expected: AddressFamily | 'ip',
  ) {
    super(`"${input}" is not ${expected === 'ipv4' ? 'an IPv4' : expected === 'ipv6' ? 'an IPv6' : 'an IP'} address`);
    this.name = 'AddressParseError';
  }
}

const IPV4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function parseIPv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? '';
    if (!IPV4_OCTET.test(part)) return undefined;
    bytes[i] = Number(part);
  }
  return bytes;
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseIPv6Bytes(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  let head = text;
  let tail = '';
  const doubleColon = text.indexOf('::');
  if (doubleColon !== -1) {
    if (text.indexOf('::', doubleColon + 1) !== -1) return undefined;
    head = text.slice(0, doubleColon);
    tail = text.slice(doubleColon + 2);
  }
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  const pushGroups = (groups: string[], allowTrailingV4: boolean): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i] ?? '';
      if (allowTrailingV4 && i === groups.length - 1 && group.includes('.')) {
        const v4 = parseIPv4Bytes(group);
        if (!v4) return false;
        words.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (!HEXTET.test(group)) return false;
      words.push(parseInt(group, 16));
    }
    return true;
  };
  if (doubleColon === -1) {
    if (!pushGroups(headGroups, true) || words.length !== 8) return undefined;
  } else {
    if (!pushGroups(headGroups, false)) return undefined;
    const headCount = words.length;
    if (!pushGroups(tailGroups, true)) return undefined;
    const missing = 8 - words.length;
    if (missing < 1) return undefined;
    words.splice(headCount, 0, ...new Array<number>(missing).fill(0));
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const word = words[i] ?? 0;
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  }
  return bytes;
}

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (≥ 2) of zero words as "::", first such run on a tie. */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((bytes[offset + i * 2] ?? 0) << 8) | (bytes[offset + i * 2 + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    words
      .slice(from, to)
      .map((w) => w.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

export function ipv4FromBytes(bytes: Uint8Array, offset = 0): IPv4Address {
  const copy = new Uint8Array(bytes.subarray(offset, offset + 4));
  return { family: 'ipv4', bytes: copy, text: formatIPv4(copy) };
}

export function ipv6FromBytes(bytes: Uint8Array, offset = 0): IPv6Address {
  const copy = new Uint8Array(bytes.subarray(offset, offset + 16));
  return { family: 'ipv6', bytes: copy, text: formatIPv6(copy) };
}

/**
 * Recently seen addresses, so a steady stream of packets from the same peers (the VRRP
 * sources and the advertised addresses) allocates no new address objects. IPv4 by value in
 * a map, IPv6 in a small ring; emptied when full, so spoofed sources cannot grow it.
 */
export class AddressCache {
  private readonly v4 = new Map<number, IPv4Address>();
  private readonly v6: IPv6Address[] = [];
  private next6 = 0;

  constructor(private readonly capacity: number) {}

  get(family: AddressFamily, bytes: Uint8Array, offset: number): IpAddress {
    if (family === 'ipv4') {
      // A signed 32-bit key stays a small integer (no boxed number per lookup).
      const key = (((bytes[offset] as number) << 24) | ((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number)) | 0;
      const known = this.v4.get(key);
      if (known) return known;
      const created = ipv4FromBytes(bytes, offset);
      if (this.v4.size >= this.capacity) this.v4.clear();
      this.v4.set(key, created);
      return created;
    }
    outer: for (let e = 0; e < this.v6.length; e++) {
      const entry = this.v6[e] as IPv6Address;
      for (let i = 0; i < 16; i++) if (entry.bytes[i] !== bytes[offset + i]) continue outer;
      return entry;
    }
    const created = ipv6FromBytes(bytes, offset);
    const ring = Math.min(this.capacity, 64);
    if (this.v6.length < ring) this.v6.push(created);
    else this.v6[this.next6] = created;
    this.next6 = (this.next6 + 1) % ring;
    return created;
  }
}

export function addressFromBytes(family: AddressFamily, bytes: Uint8Array, offset = 0): IpAddress {
  return family === 'ipv4' ? ipv4FromBytes(bytes, offset) : ipv6FromBytes(bytes, offset);
}

export function parseIPv4(text: string): IPv4Address | AddressParseError {
  const bytes = parseIPv4Bytes(text);
  return bytes ? { family: 'ipv4', bytes, text: formatIPv4(bytes) } : new AddressParseError(text, 'ipv4');
}

export function parseIPv6(text: string): IPv6Address | AddressParseError {
  const bytes = parseIPv6Bytes(text);
  return bytes ? { family: 'ipv6', bytes, text: formatIPv6(bytes) } : new AddressParseError(text, 'ipv6');
}

export function parseIp(text: string, family?: AddressFamily): IpAddress | AddressParseError {
  if (family === 'ipv4') return parseIPv4(text);
  if (family === 'ipv6') return parseIPv6(text);
  const parsed = text.includes(':') ? parseIPv6(text) : parseIPv4(text);
  return parsed instanceof AddressParseError ? new AddressParseError(text, 'ip') : parsed;
}

/** Parses or throws: for literals in code and tests, never for network or config input. */
export function ip(text: string): IpAddress {
  const parsed = parseIp(text);
  if (parsed instanceof AddressParseError) throw parsed;
  return parsed;
}

/** Unsigned comparison in network byte order (RFC 5798 §6.4.3): negative, zero or positive. */
export function compareAddresses(a: IpAddress, b: IpAddress): number {
  const n = Math.min(a.bytes.length, b.bytes.length);
  for (let i = 0; i < n; i++) {
    const d = (a.bytes[i] ?? 0) - (b.bytes[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.bytes.length - b.bytes.length;
}

export function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && compareAddresses(a, b) === 0;
}

export function isIPv6LinkLocal(a: IpAddress): boolean {
  return a.family === 'ipv6' && a.bytes[0] === 0xfe && ((a.bytes[1] ?? 0) & 0xc0) === 0x80;
}
