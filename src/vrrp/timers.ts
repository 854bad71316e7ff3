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

/**
 * How much before its deadline the Adver_Timer may fire: the caller's scheduler fires the
 * Adver_Timers that fall due within this window of a wake-up in that one wake-up (one
 * timerfd expiry and one pass of the loop for a whole group of instances, rather than one
 * each). An advert 0.5 ms early is harmless: a backup waits Master_Down_Interval, three
 * intervals and Skew_Time (RFC 5798 §6.1), before it takes over, and RFC 5798 §6.4.3
 * (625) "Reset the Adver_Timer to Advertisement_Interval" counts from the firing, so the
 * instances fired together stay due together. No other timer ever fires early: above all
 * not the Master_Down_Timer (§6.4.2 (365) "If the Master_Down_Timer fires"), an early
 * firing of which would be a takeover before its time.
 */
export const ADVER_TIMER_EARLY_MS = 0.5;
