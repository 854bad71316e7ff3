/**
 * Why a received advert was dropped, one reason per statistics counter of the VRRPv3
 * MIB (RFC 6527) where one exists, else of the VRRP MIB for v2 (RFC 2787).
 */

export type RejectReason =
  | 'truncated'
  | 'length-mismatch'
  | 'address-count-zero'
  | 'ttl'
  | 'bad-version'
  | 'bad-type'
  | 'bad-checksum'
  | 'unknown-vrid'
  | 'owner-conflict'
  | 'family-mismatch'
  | 'bad-interval'
  | 'interval-mismatch'
  | 'auth-type-invalid'
  | 'auth-type-mismatch'
  | 'auth-failure'
  | 'address-list-mismatch';

/** The MIB counter each reason increments. */
export const REJECT_COUNTER: Readonly<Record<RejectReason, string>> = {
  truncated: 'vrrpv3StatisticsPacketLengthErrors',
  'length-mismatch': 'vrrpv3StatisticsPacketLengthErrors',
  'address-count-zero': 'vrrpv3StatisticsPacketLengthErrors',
  ttl: 'vrrpv3StatisticsIpTtlErrors',
  'bad-version': 'vrrpv3GlobalStatisticsVersionErrors',
  'bad-type': 'vrrpv3StatisticsRcvdInvalidTypePackets',
  'bad-checksum': 'vrrpv3GlobalStatisticsChecksumErrors',
  'unknown-vrid': 'vrrpv3GlobalStatisticsVrIdErrors',
  'owner-conflict': 'vrrpv3StatisticsProtoErrReason',
  'family-mismatch': 'vrrpv3StatisticsProtoErrReason',
  'bad-interval': 'vrrpv3StatisticsAdvIntervalErrors',
  'interval-mismatch': 'vrrpv3StatisticsAdvIntervalErrors',
  'auth-type-invalid': 'vrrpStatsInvalidAuthType',
  'auth-type-mismatch': 'vrrpStatsAuthTypeMismatch',
  'auth-failure': 'vrrpStatsAuthFailures',
  'address-list-mismatch': 'vrrpv3StatisticsAddressListErrors',
};

export const REJECT_REASONS: readonly RejectReason[] = Object.keys(REJECT_COUNTER) as RejectReason[];

export interface Rejection {
  readonly ok: false;
  readonly reason: RejectReason;
  /** What was wrong, with the values seen, for the log. */
  readonly detail: string;
}

export function reject(reason: RejectReason, detail: string): Rejection {
  return { ok: false, reason, detail };
}

/** Per-reason counts of dropped adverts. */
export type RejectCounts = Record<RejectReason, number>;

export function emptyRejectCounts(): RejectCounts {
  const counts = {} as RejectCounts;
  for (const reason of REJECT_REASONS) counts[reason] = 0;
  return counts;
}
