/**
 * Replay protection for authenticated heartbeats (pure; no clock).
 *
 * Per sender it keeps the highest (epoch, sequence) accepted. A heartbeat is accepted
 * only if its epoch is greater than that, or equal with a greater sequence; anything
 * else (an older epoch, or the same epoch with an equal or smaller sequence) is a
 * 'replay'. A sender that restarts picks a new, greater epoch (heartbeat.ts
 * newBootEpoch) and may start its sequence again from 0.
 *
 * The state is never dropped when a sender leaves the membership (its heartbeats time
 * out): otherwise an attacker could wait for a node to go quiet, or for it to restart,
 * and replay a captured heartbeat of its previous epoch. Memory stays bounded because
 * only configured node ids reach this check (membership.ts rejects unknown ones first).
 *
 * A receiver that itself restarts would forget this and accept one captured heartbeat
 * of the sender's current epoch: the daemon keeps the highest values in state_dir
 * (src/daemon/replay-store.ts) and puts them back with `raise`, beyond what it may have
 * accepted after its last write. Limit, by design: a sender whose wall clock went back
 * before it restarted is refused until its new epoch passes the old one.
 */
import type { NodeId } from './types.js';

export interface EpochSequence {
  readonly epoch: bigint;
  readonly sequence: bigint;
}

export type ReplayVerdict =
  | { readonly accepted: true; /** A greater epoch than the one held: the sender restarted. */ readonly newEpoch: boolean; readonly first: boolean }
  | { readonly accepted: false; readonly reason: 'replay'; readonly highest: EpochSequence };

/** Whether `a` is strictly after `b` in (epoch, sequence) order. */
export function isAfter(a: EpochSequence, b: EpochSequence): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.sequence > b.sequence);
}

export class ReplayGuard {
  private readonly highest = new Map<NodeId, EpochSequence>();

  /** Checks `at` from `sender` and, if it is accepted, records it as the sender's highest. */
  accept(sender: NodeId, at: EpochSequence): ReplayVerdict {
    const held = this.highest.get(sender);
    if (held === undefined) {
      this.highest.set(sender, { epoch: at.epoch, sequence: at.sequence });
      return { accepted: true, newEpoch: false, first: true };
    }
    if (!isAfter(at, held)) return { accepted: false, reason: 'replay', highest: held };
    this.highest.set(sender, { epoch: at.epoch, sequence: at.sequence });
    return { accepted: true, newEpoch: at.epoch > held.epoch, first: false };
  }

  /**
   * Refuses from `sender` everything up to and including `floor` (what a receiver that
   * restarted remembers); a higher value already held is kept.
   */
  raise(sender: NodeId, floor: EpochSequence): void {
    const held = this.highest.get(sender);
    if (held === undefined || isAfter(floor, held)) this.highest.set(sender, { epoch: floor.epoch, sequence: floor.sequence });
  }

  /** Every sender's highest, for keeping across a restart. */
  all(): ReadonlyMap<NodeId, EpochSequence> {
    return this.highest;
  }

  /** Checks without recording. */
  wouldAccept(sender: NodeId, at: EpochSequence): boolean {
    const held = this.highest.get(sender);
    return held === undefined || isAfter(at, held);
  }

  /** The highest (epoch, sequence) accepted from `sender`, if any. */
  highestFrom(sender: NodeId): EpochSequence | undefined {
    return this.highest.get(sender);
  }
}
