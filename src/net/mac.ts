/**
 * IEEE 802 MAC addresses as the announcement frames need them: the 6 raw bytes
 * (for the wire) together with their canonical text, lower-case hex pairs joined
 * by colons ("00:00:5e:00:01:38").
 */
import { toVrid } from '../vrrp/types.js';
import type { AddressFamily } from './address.js';

export interface MacAddress {
  /** 6 bytes, in transmission order. */
  readonly bytes: Uint8Array;
  /** Canonical form: "aa:bb:cc:dd:ee:ff", lower case. */
  readonly text: string;
}

export const MAC_LENGTH = 6;

export class MacParseError extends Error {
  constructor(readonly input: string) {
    super(`"${input}" is not a MAC address (expected six hex pairs such as 00:00:5e:00:01:01)`);
    this.name = 'MacParseError';
  }
}

/** Six pairs of hex digits separated by ':' or '-' (one separator throughout). */
const MAC_TEXT = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}$/;

/** The canonical text of the 6 bytes at `offset`. */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < MAC_LENGTH; i++) parts.push((bytes[offset + i] ?? 0).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** A MacAddress holding a copy of the 6 bytes at `offset`. */
export function macFromBytes(bytes: Uint8Array, offset = 0): MacAddress {
  const copy = new Uint8Array(MAC_LENGTH);
  copy.set(bytes.subarray(offset, offset + MAC_LENGTH));
  return { bytes: copy, text: formatMac(copy) };
}

/** Accepts "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff" in either case; returns the canonical form. */
export function parseMac(text: string): MacAddress | MacParseError {
  if (!MAC_TEXT.test(text)) return new MacParseError(text);
  const bytes = new Uint8Array(MAC_LENGTH);
  for (let i = 0; i < MAC_LENGTH; i++) bytes[i] = parseInt(text.slice(i * 3, i * 3 + 2), 16);
  return { bytes, text: formatMac(bytes) };
}

export function sameMac(a: MacAddress, b: MacAddress): boolean {
  if (a.bytes.length !== b.bytes.length) return false;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  return true;
}

export const BROADCAST_MAC: MacAddress = macFromBytes(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));

/**
 * The virtual router MAC address. RFC 5798 §7.3:
 *   "IPv4 case: 00-00-5E-00-01-{VRID} (in hex, in Internet-standard bit-order)
 *    The first three octets are derived from the IANA's Organizational Unique
 *    Identifier (OUI). The next two octets (00-01) indicate the address block
 *    assigned to the VRRP for IPv4 protocol. {VRID} is the VRRP Virtual Router
 *    Identifier. This mapping provides for up to 255 IPv4 VRRP routers on a network.
 *    IPv6 case: 00-00-5E-00-02-{VRID} (in hex, in Internet-standard bit-order)
 *    The first three octets are derived from the IANA's OUI. The next two octets
 *    (00-02) indicate the address block assigned to the VRRP for IPv6 protocol."
 *
 * Throws ValueRangeError if `vrid` is not an integer in 1..255 (a programming error:
 * configured VRIDs are checked when the configuration is read).
 */
export function vrrpVirtualMac(family: AddressFamily, vrid: number): MacAddress {
  const checked = toVrid(vrid);
  return macFromBytes(new Uint8Array([0x00, 0x00, 0x5e, 0x00, family === 'ipv4' ? 0x01 : 0x02, checked]));
}
