/**
 * The Internet checksum (RFC 1071) over the VRRP message, with or without the IP
 * pseudo-header of RFC 5798 §5.2.8:
 *   "The checksum is the 16-bit one's complement of the one's complement sum of the
 *    entire VRRP message starting with the version field and a 'pseudo-header' as
 *    defined in Section 8.1 of [RFC2460]. The next header field in the 'pseudo-header'
 *    should be set to 112 (decimal) for VRRP."
 * For IPv4 the pseudo-header is the one of RFC 768 (src, dst, zero, protocol, length).
 */
import type { IpAddress } from '../net/address.js';

export const VRRP_PROTOCOL = 112;

function sumWords(bytes: Uint8Array, start: number, end: number, initial: number): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (i < end) sum += (bytes[i] as number) << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

export interface PseudoHeader {
  readonly src: IpAddress;
  readonly dst: IpAddress;
}

/**
 * The checksum of `message[0..length)` treating bytes 6-7 (the checksum field) as zero.
 * Returns the value to put in the field.
 */
export function vrrpChecksum(message: Uint8Array, length: number, pseudo: PseudoHeader | undefined): number {
  let sum = 0;
  if (pseudo) {
    sum = sumWords(pseudo.src.bytes, 0, pseudo.src.bytes.length, sum);
    sum = sumWords(pseudo.dst.bytes, 0, pseudo.dst.bytes.length, sum);
    // IPv4: zero, protocol, 16-bit length. IPv6 (RFC 8200 §8.1): 32-bit length, 3 zero bytes, next header.
    sum += VRRP_PROTOCOL + length;
  }
  sum = sumWords(message, 0, 6, sum);
  sum = sumWords(message, 8, length, sum);
  return ~fold(sum) & 0xffff;
}
