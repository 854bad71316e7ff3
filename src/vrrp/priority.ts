/**
 * Effective priority: the configured priority plus the weights of tracked objects, as
 * keepalived computes it (track_interface, track_script, track_process, track_file).
 *
 * - weight > 0: added while the object is up;
 * - weight < 0: added (so subtracted) while the object is down;
 * - weight 0: the object going down puts the instance in FAULT instead.
 * The result is clamped to 1..254. The address owner (255) is never changed by tracking,
 * and tracking never reaches 255 (RFC 5798 §5.2.4: 255 is reserved for the owner).
 */
import { PRIORITY_OWNER, type Priority } from './types.js';

export interface TrackedObject {
  readonly name: string;
  /** -254..254; 0 means "FAULT while down". */
  readonly weight: number;
}

export type TrackerStates = ReadonlyMap<string, boolean>;

export function effectivePriority(base: Priority, tracked: readonly TrackedObject[], up: TrackerStates): Priority {
  if (base === PRIORITY_OWNER) return base;
  let priority: number = base;
  for (const t of tracked) {
    const isUp = up.get(t.name) ?? true;
    if (t.weight > 0 && isUp) priority += t.weight;
    else if (t.weight < 0 && !isUp) priority += t.weight;
  }
  return Math.min(254, Math.max(1, priority)) as Priority;
}

/** The tracked objects with weight 0 that are down: each one is a reason for FAULT. */
export function faultingTrackers(tracked: readonly TrackedObject[], up: TrackerStates): string[] {
  return tracked.filter((t) => t.weight === 0 && up.get(t.name) === false).map((t) => t.name);
}
