/**
 * Value types shared by the quorum modules: node ids, votes, and the configuration of
 * the votequorum-style engine (docs/reference/quorum.md numbers its rules R2–R10).
 */

import type { Brand } from '../base/brand.js';

/** A node id from the config's node list: 1..2^32-1, as corosync's nodeid. */
export type NodeId = Brand<number, 'NodeId'>;
export function toNodeId(value: number): NodeId {
  if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) throw new RangeError(`node id ${String(value)} is out of range (1..4294967295)`);
  return value as NodeId;
}

/** Votes of one node: 0..255 (corosync allows 0 for a node that never counts). */
export type Votes = Brand<number, 'Votes'>;
export function toVotes(value: number): Votes {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new RangeError(`votes ${String(value)} out of range (0..255)`);
  return value as Votes;
}

export interface QuorumNode {
  readonly id: NodeId;
  readonly name: string;
  readonly votes: Votes;
}

/** R9: which node of an exact 50/50 split keeps quorum. */
export type TieBreakerNode = 'lowest' | 'highest' | readonly NodeId[];

export interface QuorumEngineConfig {
  /** The cluster's nodes (the local one among them). */
  readonly nodes: readonly QuorumNode[];
  readonly localId: NodeId;
  /** Configured expected votes; absent: the sum of the node list's votes. */
  readonly expectedVotes?: number;
  /** R5. */
  readonly twoNode: boolean;
  /** R7; already resolved: on when two_node is on unless explicitly off. */
  readonly waitForAll: boolean;
  /** R10. */
  readonly lastManStanding: boolean;
  readonly lastManStandingWindowMs: number;
  /** R9. */
  readonly autoTieBreaker: boolean;
  readonly autoTieBreakerNode: TieBreakerNode;
}

/** What a member says of itself in its heartbeat (R2, R8 need it). */
export interface MemberReport {
  readonly id: NodeId;
  /** The expected votes it holds. */
  readonly expectedVotes: number;
  readonly quorate: boolean;
  /** Still blocked by wait_for_all. */
  readonly waitingForAll: boolean;
}
