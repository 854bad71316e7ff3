/**
 * The receive checks that depend on the virtual router an advert is for (RFC 5798 §7.1,
 * RFC 3768 §7.1). The packet-only checks (TTL, version, length, checksum) are in
 * codec.ts and come first.
 */
import { sameAddress, type AddressFamily, type IpAddress } from '../net/address.js';
import type { ReceivedAdvert } from './codec.js';
import { reject, type Rejection } from './rejection.js';
import { AUTH_DATA_LENGTH, AUTH_IP_AH, AUTH_NONE, AUTH_SIMPLE_TEXT, type Centiseconds, type VrrpVersion, type Vrid } from './types.js';

/** VRRPv2 authentication as configured (keepalived's `authentication { auth_type PASS; auth_pass ... }`). */
export type V2Authentication = { readonly type: 'none' } | { readonly type: 'pass'; readonly password: Uint8Array };

/** RFC 3768 §5.3.6.1 (RFC 2338): the password is "up to 8 octets", padded with zeros. */
export function passwordAuthData(password: string): Uint8Array {
  const data = new Uint8Array(AUTH_DATA_LENGTH);
  data.set(Buffer.from(password, 'utf8').subarray(0, AUTH_DATA_LENGTH));
  return data;
}

/** What a virtual router checks a received advert against. */
export interface AcceptancePolicy {
  readonly version: VrrpVersion;
  readonly family: AddressFamily;
  readonly vrid: Vrid;
  /** Priority 255: RFC 5798 §7.1 drops adverts when "the local router is ... the IPvX address owner". */
  readonly isAddressOwner: boolean;
  readonly advertInterval: Centiseconds;
  readonly authentication: V2Authentication;
  readonly virtualAddresses: readonly IpAddress[];
  /**
   * RFC 5798 §7.1: "MAY verify that 'Count IPvX Addrs' and the list of IPvX Address(es)
   * match ... If the above check fails, the receiver SHOULD log the event". `log` accepts
   * the advert with a warning (keepalived's behaviour), `drop` discards it.
   */
  readonly addressListCheck: 'log' | 'drop';
}

export type AcceptResult =
  | { readonly ok: true; readonly advert: ReceivedAdvert; readonly warning?: Rejection }
  | Rejection;

export function addressListMatches(received: readonly IpAddress[], configured: readonly IpAddress[]): boolean {
  if (received.length !== configured.length) return false;
  return configured.every((c) => received.some((r) => sameAddress(r, c)));
}

export function acceptAdvert(advert: ReceivedAdvert, policy: AcceptancePolicy): AcceptResult {
  if (advert.family !== policy.family) {
    return reject('family-mismatch', `an ${advert.family} advert for an ${policy.family} virtual router`);
  }
  // RFC 5798 §7.1: "MUST verify that the VRID is configured on the receiving interface".
  if (advert.vrid !== policy.vrid) return reject('unknown-vrid', `VRID ${advert.vrid} is not configured here`);
  if (advert.version !== policy.version) {
    return reject('bad-version', `version ${advert.version} advert for a VRRPv${policy.version} virtual router`);
  }
  // "... and the local router is not the IPvX address owner (Priority = 255 (decimal))."
  if (policy.isAddressOwner) {
    return reject('owner-conflict', `advert with priority ${advert.priority} for VRID ${advert.vrid}, which this router owns`);
  }
  if (advert.version === 2) {
    // RFC 3768 §7.1: "MUST verify that the Auth Type matches the locally configured authentication method".
    if (advert.authType !== AUTH_NONE && advert.authType !== AUTH_SIMPLE_TEXT && advert.authType !== AUTH_IP_AH) {
      return reject('auth-type-invalid', `auth type ${advert.authType}`);
    }
    const expectedType = policy.authentication.type === 'none' ? AUTH_NONE : AUTH_SIMPLE_TEXT;
    if (advert.authType !== expectedType) {
      return reject('auth-type-mismatch', `auth type ${advert.authType}, configured ${expectedType}`);
    }
    // RFC 2338 §5.3.6.1 (simple text password): "... the receiver MUST ... discard the packet if the authentication data does not match".
    if (policy.authentication.type === 'pass' && !Buffer.from(advert.authData).equals(policy.authentication.password)) {
      return reject('auth-failure', 'the password does not match');
    }
    // RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet is the same as the locally configured for this virtual router".
    if (advert.adverIntSeconds * 100 !== policy.advertInterval) {
      return reject('interval-mismatch', `interval ${advert.adverIntSeconds} s, configured ${policy.advertInterval / 100} s`);
    }
  }
  if (!addressListMatches(advert.addresses, policy.virtualAddresses)) {
    const mismatch = reject(
      'address-list-mismatch',
      `advertised [${advert.addresses.map((a) => a.text).join(', ')}], configured [${policy.virtualAddresses.map((a) => a.text).join(', ')}]`,
    );
    if (policy.addressListCheck === 'drop') return mismatch;
    return { ok: true, advert, warning: mismatch };
  }
  return { ok: true, advert };
}
