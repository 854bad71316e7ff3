/**
 * The membership of the quorum: which configured nodes are alive, from their
 * heartbeats (pure: events and the clock in, events out; no sockets, no timers).
 *
 * - A peer becomes a member on its first accepted heartbeat and stays one while its
 *   heartbeats keep arriving: it leaves ('timeout') once `timeoutMs` passed since the
 *   last accepted one (at `lastHeard + timeoutMs` exactly). `nextDeadline()` is the
 *   earliest such time; deliver `tick(now)` then.
 * - A heartbeat counts from the time it was received (the kernel's receive time), not
 *   the time it is handled: one received before its sender's deadline keeps the sender a
 *   member even when it is handled after the deadline (a stalled process reads what
 *   queued meanwhile late). The receive path should therefore hand in what is queued
 *   before delivering an expired `tick`.
 * - Every heartbeat passes, in order: 'own-id' (it claims the local node's id: a
 *   reflected or forged message, or a second node configured with our id), then
 *   'unknown-node' (not in the configured node list), then the replay rule (replay.ts).
 * - A member whose heartbeat carries a greater epoch restarted: it leaves and joins
 *   again ('restarted'), in that order, in one call.
 * - The local node is not tracked here: it is always part of its own membership;
 *   `members()` lists the peers only, `memberIds()` the local node and the peers.
 * - Counters per rejection reason, the decoder's included (`countRejection`, for the
 *   receive path to count what never reached the membership).
 *
 * The time is any monotonic millisecond clock (the daemon's monotonicMs()).
 */
import { HEARTBEAT_REJECTIONS, type DecodedHeartbeat, type HeartbeatRejection } from './heartbeat.js';
import { ReplayGuard, type EpochSequence } from './replay.js';
import type { MemberReport, NodeId, QuorumNode, Votes } from './types.js';

export interface MembershipConfig {
  /** The configured node list, the local node among them. */
  readonly nodes: readonly QuorumNode[];
  readonly localId: NodeId;
  /** A member leaves after this long without an accepted heartbeat (e.g. 3 heartbeat intervals). */
  readonly timeoutMs: number;
}

/** What the membership needs of a heartbeat: an authenticated, decoded one. */
export type MembershipHeartbeat = Pick<DecodedHeartbeat, 'report' | 'votes' | 'epoch' | 'sequence'>;

export type MembershipRejection = 'own-id' | 'unknown-node' | 'replay';
export type RejectionReason = HeartbeatRejection | MembershipRejection;

export const MEMBERSHIP_REJECTIONS: readonly MembershipRejection[] = ['own-id', 'unknown-node', 'replay'];

export type JoinReason = 'first-heartbeat' | 'returned' | 'restarted';
/** `removed`: a reload took the node out of the node list. */
export type LeaveReason = 'timeout' | 'restarted' | 'removed';

export type MembershipEvent =
  | { readonly type: 'joined'; readonly id: NodeId; readonly name: string; readonly reason: JoinReason; readonly at: number; readonly from: string }
  | { readonly type: 'left'; readonly id: NodeId; readonly name: string; readonly reason: LeaveReason; readonly at: number; readonly lastHeard: number }
  /** A member's report or votes changed (the engine re-evaluates R2 / R8). */
  | { readonly type: 'updated'; readonly id: NodeId; readonly name: string; readonly report: MemberReport; readonly votes: Votes; readonly at: number };

export interface Member {
  readonly id: NodeId;
  readonly name: string;
  /** The votes the member announces. */
  readonly votes: Votes;
  /** The votes the local node list gives it (a difference is worth a warning). */
  readonly configuredVotes: Votes;
  readonly report: MemberReport;
  readonly epoch: bigint;
  readonly sequence: bigint;
  /** When it joined (this time). */
  readonly since: number;
  readonly lastHeard: number;
  /** Source address of the last accepted heartbeat. */
  readonly address: string;
}

export type HeartbeatOutcome =
  | { readonly accepted: true; readonly events: readonly MembershipEvent[] }
  | { readonly accepted: false; readonly reason: MembershipRejection; readonly detail: string; readonly events: readonly MembershipEvent[] };

export class Membership {
  private nodes: ReadonlyMap<NodeId, QuorumNode>;
  private readonly current = new Map<NodeId, Member>();
  /** Peers that were members at some time (for 'returned'). */
  private readonly seen = new Set<NodeId>();
  private readonly replay = new ReplayGuard();
  private readonly rejections = new Map<RejectionReason, number>();
  private acceptedCount = 0;

  private cfg: MembershipConfig;

  constructor(config: MembershipConfig) {
    this.cfg = config;
    this.nodes = Membership.nodeMap(config);
  }

  get config(): MembershipConfig {
    return this.cfg;
  }

  private static nodeMap(config: MembershipConfig): ReadonlyMap<NodeId, QuorumNode> {
    if (!Number.isFinite(config.timeoutMs) || config.timeoutMs <= 0) throw new RangeError(`membership timeout ${config.timeoutMs} ms: must be positive`);
    const nodes = new Map<NodeId, QuorumNode>();
    for (const n of config.nodes) {
      if (nodes.has(n.id)) throw new RangeError(`node id ${n.id} appears twice in the node list`);
      nodes.set(n.id, n);
    }
    if (!nodes.has(config.localId)) throw new RangeError(`the local node id ${config.localId} is not in the node list`);
    return nodes;
  }

  /**
   * A reload: the node list and timeout of `config` (the same local node). Members stay
   * members with what they last said and when; a member no longer in the list leaves
   * ('removed'), and a shorter timeout applies from the member's last heartbeat.
   */
  reconfigure(config: MembershipConfig, now: number): MembershipEvent[] {
    if (config.localId !== this.cfg.localId) throw new RangeError(`membership reload: the local node is ${this.cfg.localId}, not ${config.localId}`);
    const nodes = Membership.nodeMap(config);
    const events: MembershipEvent[] = [];
    for (const m of this.members()) {
      const node = nodes.get(m.id);
      if (node === undefined) {
        this.current.delete(m.id);
        events.push({ type: 'left', id: m.id, name: m.name, reason: 'removed', at: now, lastHeard: m.lastHeard });
      } else if (node.votes !== m.configuredVotes || node.name !== m.name) {
        this.current.set(m.id, { ...m, name: node.name, configuredVotes: node.votes });
      }
    }
    this.nodes = nodes;
    this.cfg = config;
    return [...events, ...this.tick(now)];
  }

  /**
   * Handles an authenticated heartbeat from `from` (its source address), handled at `now`
   * and received at `receivedAt` (default `now`; a later one counts as `now`). Members
   * are expired up to the receive time first: the ones whose deadline passed between
   * `receivedAt` and `now` leave at the next `tick`.
   */
  heartbeat(hb: MembershipHeartbeat, from: string, now: number, receivedAt: number = now): HeartbeatOutcome {
    const heard = Math.min(receivedAt, now);
    const events = this.tick(heard);
    const id = hb.report.id;
    if (id === this.cfg.localId) return this.refuse('own-id', `a heartbeat from ${from} claims the local node id ${id}`, events);
    const node = this.nodes.get(id);
    if (node === undefined) return this.refuse('unknown-node', `node id ${id} (from ${from}) is not in the node list`, events);
    const verdict = this.replay.accept(id, hb);
    if (!verdict.accepted) {
      return this.refuse(
        'replay',
        `node ${id} (from ${from}): epoch ${hb.epoch} sequence ${hb.sequence} is not after the accepted epoch ${verdict.highest.epoch} sequence ${verdict.highest.sequence}`,
        events,
      );
    }
    this.acceptedCount++;
    const previous = this.current.get(id);
    const member = (since: number): Member => ({
      id,
      name: node.name,
      votes: hb.votes,
      configuredVotes: node.votes,
      report: hb.report,
      epoch: hb.epoch,
      sequence: hb.sequence,
      since,
      // Heartbeats may be handled out of receive order only within one read; never move back.
      lastHeard: Math.max(heard, previous?.lastHeard ?? heard),
      address: from,
    });
    if (previous === undefined) {
      this.current.set(id, member(now));
      events.push({ type: 'joined', id, name: node.name, reason: this.seen.has(id) ? 'returned' : 'first-heartbeat', at: now, from });
      this.seen.add(id);
    } else if (verdict.newEpoch) {
      this.current.set(id, member(now));
      events.push({ type: 'left', id, name: node.name, reason: 'restarted', at: now, lastHeard: previous.lastHeard });
      events.push({ type: 'joined', id, name: node.name, reason: 'restarted', at: now, from });
    } else {
      this.current.set(id, member(previous.since));
      if (!sameReport(previous.report, hb.report) || previous.votes !== hb.votes) {
        events.push({ type: 'updated', id, name: node.name, report: hb.report, votes: hb.votes, at: now });
      }
    }
    return { accepted: true, events };
  }

  /** See ReplayGuard.raise: for a receiver that restarted. Unknown ids are ignored. */
  raiseReplayFloor(id: NodeId, floor: EpochSequence): void {
    if (this.nodes.has(id) && id !== this.cfg.localId) this.replay.raise(id, floor);
  }

  /** The highest (epoch, sequence) accepted per sender, for keeping across a restart. */
  replayState(): ReadonlyMap<NodeId, EpochSequence> {
    return this.replay.all();
  }

  /** Expires the members whose timeout passed by `now`. */
  tick(now: number): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    // Every heartbeat ticks first: the members are copied and sorted only when one expired.
    let expired: Member[] | undefined;
    for (const m of this.current.values()) if (now >= m.lastHeard + this.cfg.timeoutMs) (expired ??= []).push(m);
    if (expired === undefined) return events;
    for (const m of expired.sort((a, b) => a.id - b.id)) {
      this.current.delete(m.id);
      events.push({ type: 'left', id: m.id, name: m.name, reason: 'timeout', at: now, lastHeard: m.lastHeard });
    }
    return events;
  }

  /** When the next member times out, if any is a member. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const m of this.current.values()) {
      const due = m.lastHeard + this.cfg.timeoutMs;
      if (next === undefined || due < next) next = due;
    }
    return next;
  }

  /** The peers that are members, by node id, each with its latest report. */
  members(): Member[] {
    return [...this.current.values()].sort((a, b) => a.id - b.id);
  }

  /** The local node and the peers that are members, ascending. */
  memberIds(): NodeId[] {
    return [this.cfg.localId, ...this.current.keys()].sort((a, b) => a - b);
  }

  isMember(id: NodeId): boolean {
    return id === this.cfg.localId || this.current.has(id);
  }

  /** Counts a rejection that happened before the membership (the decoder's). */
  countRejection(reason: RejectionReason): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
  }

  /** Rejections per reason (every reason present, zeros included) and the accepted heartbeats. */
  counters(): { readonly accepted: number; readonly rejected: Readonly<Record<RejectionReason, number>> } {
    const rejected = {} as Record<RejectionReason, number>;
    for (const r of ALL_REASONS) rejected[r] = this.rejections.get(r) ?? 0;
    return { accepted: this.acceptedCount, rejected };
  }

  private refuse(reason: MembershipRejection, detail: string, events: MembershipEvent[]): HeartbeatOutcome {
    this.countRejection(reason);
    return { accepted: false, reason, detail, events };
  }
}

const ALL_REASONS: readonly RejectionReason[] = [...HEARTBEAT_REJECTIONS, ...MEMBERSHIP_REJECTIONS];

function sameReport(a: MemberReport, b: MemberReport): boolean {
  return a.id === b.id && a.expectedVotes === b.expectedVotes && a.quorate === b.quorate && a.waitingForAll === b.waitingForAll;
}
