/**
 * The protocol's derived times, in milliseconds.
 *
 * RFC 5798 §6.1:
 *   "Skew_Time: (((256 - priority) * Master_Adver_Interval) / 256)"
 *   "Master_Down_Interval: (3 * Master_Adver_Interval) + Skew_time"
 * RFC 3768 §6.1 (VRRPv2, whole seconds, own Advertisement_Interval):
 *   "Skew_Time: ((256 - Priority) / 256)"
 *   "Master_Down_Interval: (3 * Advertisement_Interval) + Skew_time"
 */
import type { Centiseconds, Priority, VrrpVersion } from './types.js';

export function centisecondsToMs(cs: Centiseconds): number {
  return cs * 10;
}

export function skewTimeMs(version: VrrpVersion, priority: Priority, masterAdverInterval: Centiseconds): number {
  if (version === 2) return ((256 - priority) * 1000) / 256;
  return ((256 - priority) * masterAdverInterval * 10) / 256;
}

export function masterDownIntervalMs(version: VrrpVersion, priority: Priority, masterAdverInterval: Centiseconds): number {
  return 3 * masterAdverInterval * 10 + skewTimeMs(version, priority, masterAdverInterval);
}
