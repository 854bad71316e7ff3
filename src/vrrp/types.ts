/**
 * Value types of VRRP whose ranges the protocol fixes. Each is a branded number, so a
 * VRID cannot be passed where a priority is expected, and each is made only through
 * its constructor, which checks the range.
 */

import type { Brand } from '../base/brand.js';

export class ValueRangeError extends RangeError {
  constructor(
    readonly what: string,
    readonly value: unknown,
    readonly range: string,
  ) {
    super(`${what} ${String(value)} is out of range (${range})`);
    this.name = 'ValueRangeError';
  }
}

function checkInteger(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValueRangeError(what, value, `${min}..${max}`);
  }
}

/** RFC 5798 §5.2.3: "The Virtual Router Identifier (VRID) field identifies the virtual router ... Configurable item in the range 1-255 (decimal). There is no default." */
export type Vrid = Brand<number, 'Vrid'>;
export function toVrid(value: number): Vrid {
  checkInteger('VRID', value, 1, 255);
  return value as Vrid;
}

/**
 * RFC 5798 §5.2.4: priority 255 is the address owner, 1..254 are backups (default 100),
 * 0 means "the current Master has stopped participating in VRRP".
 */
export type Priority = Brand<number, 'Priority'>;
export function toPriority(value: number): Priority {
  checkInteger('priority', value, 0, 255);
  return value as Priority;
}
export const PRIORITY_STOP = 0 as Priority;
export const PRIORITY_OWNER = 255 as Priority;
export const PRIORITY_DEFAULT = 100 as Priority;

/** A priority a router may be configured with: 1..255 (0 is reserved for the stop advert). */
export function toConfiguredPriority(value: number): Priority {
  checkInteger('priority', value, 1, 255);
  return value as Priority;
}

/**
 * The advertisement interval, always held in centiseconds.
 * RFC 5798 §5.2.7: a 12-bit field in centiseconds, 1..4095 (10 ms .. 40.95 s), default 100.
 * RFC 3768 §5.3.7: VRRPv2 sends whole seconds in 8 bits, 1..255.
 */
export type Centiseconds = Brand<number, 'Centiseconds'>;
export function toV3Interval(centiseconds: number): Centiseconds {
  checkInteger('VRRPv3 advertisement interval (centiseconds)', centiseconds, 1, 4095);
  return centiseconds as Centiseconds;
}
export function toV2Interval(seconds: number): Centiseconds {
  checkInteger('VRRPv2 advertisement interval (seconds)', seconds, 1, 255);
  return (seconds * 100) as Centiseconds;
}

export type VrrpVersion = 2 | 3;

/** The state of a virtual router: RFC 5798 §6.4 plus keepalived's FAULT. */
export type RouterState = 'initialize' | 'backup' | 'master' | 'fault';

/**
 * The checksum of an IPv4 VRRPv3 advert. RFC 5798 §5.2.8 includes the IP pseudo-header
 * (what keepalived and FRR send); RFC 9568 §5.2.8 leaves it out for IPv4. IPv6 always
 * includes it. `either` accepts both forms on receive (and sends the RFC 5798 one).
 */
export type V3Ipv4ChecksumMode = 'rfc5798' | 'rfc9568' | 'either';

/** VRRPv2 authentication (RFC 3768 §5.3.6; RFC 2338 for the simple text password). */
export type AuthType = 0 | 1 | 2;
export const AUTH_NONE = 0;
export const AUTH_SIMPLE_TEXT = 1;
export const AUTH_IP_AH = 2;
export const AUTH_DATA_LENGTH = 8;
