/**
 * The votequorum engine: corosync's votequorum (docs/reference/quorum.md, rules
 * R2–R10) as a pure state machine.
 *
 * `handle(event, now)` takes a membership change (the members of the local node's current
 * partition, each with what it last said of itself), a `tick`, or an operator command, and
 * returns what changed. It owns no socket and no timer: `nextDeadline()` says when the
 * last_man_standing window ends, and the caller delivers a `tick` then. Votes come from
 * the config's node list; expected votes, quorate and wait_for_all flags from the members'
 * own reports (MemberReport).
 *
 * Over 600 lines on purpose: the config check and the engine that relies on it are kept
 * together, so that each rule R2–R10 is stated once, next to the code that enforces it.
 */
import type { Brand } from '../base/brand.js';
import type { MemberReport, NodeId, QuorumEngineConfig, QuorumNode, TieBreakerNode } from './types.js';

// ---- configuration -------------------------------------------------------------------

/** Below this, a last_man_standing window would lower E before a split has settled. */
export const MIN_LAST_MAN_STANDING_WINDOW_MS = 1000;
/** corosync's default last_man_standing_window. */
export const DEFAULT_LAST_MAN_STANDING_WINDOW_MS = 10_000;

export type QuorumOption = keyof QuorumEngineConfig;

export interface QuorumConfigIssue {
  /** The field of QuorumEngineConfig at fault (corosync's name is in the message). */
  readonly option: QuorumOption;
  /**
   * For a rule about one entry of a list option (`nodes`, `autoTieBreakerNode`): its index
   * in that list; for `nodes`, the field at fault and the index of the entry it repeats.
   */
  readonly entry?: { readonly index: number; readonly field?: 'id' | 'name'; readonly first?: number };
  readonly message: string;
}

/** A config that passed `validateQuorumConfig`, with corrections applied and E resolved. */
export type ValidatedQuorumConfig = Brand<QuorumEngineConfig, 'ValidatedQuorumConfig'> & {
  /** The configured expected votes, or the node list's total. */
  readonly resolvedExpectedVotes: number;
};

export type QuorumConfigValidation =
  | { readonly ok: true; readonly config: ValidatedQuorumConfig; readonly warnings: readonly QuorumConfigIssue[] }
  | { readonly ok: false; readonly errors: readonly QuorumConfigIssue[]; readonly warnings: readonly QuorumConfigIssue[] };

/** The options as a config file gives them: the local node may not be known yet (it is found at start). */
export type QuorumOptions = Omit<QuorumEngineConfig, 'localId'> & { readonly localId?: NodeId };

/** What `validateQuorumOptions` makes of the options: corosync's corrections applied, E resolved. */
export interface QuorumOptionsValidation {
  readonly errors: readonly QuorumConfigIssue[];
  readonly warnings: readonly QuorumConfigIssue[];
  /** The options after corosync's corrections (two_node, auto_tie_breaker, last_man_standing may be turned off). */
  readonly corrected: Pick<QuorumEngineConfig, 'twoNode' | 'autoTieBreaker' | 'lastManStanding'>;
  /** The configured expected votes, or the node list's total. */
  readonly resolvedExpectedVotes: number;
}

/**
 * Refuses impossible or conflicting options, with corosync's reasons where it has one, and
 * applies corosync's own corrections as warnings (two_node with auto_tie_breaker: two_node
 * off; auto_tie_breaker in an odd cluster without wait_for_all: auto_tie_breaker off;
 * last_man_standing with a node of more than one vote: last_man_standing off).
 *
 * The one copy of these rules: the daemon calls it through `validateQuorumConfig` before it
 * starts the engine, and the config loader (src/config/quorum.ts) calls it so that
 * `vigil check-config` refuses what `vigil run` would, at the key at fault. Without
 * `localId` (the config names no node_id), the local node is not checked.
 */
export function validateQuorumOptions(input: QuorumOptions): QuorumOptionsValidation {
  const errors: QuorumConfigIssue[] = [];
  const warnings: QuorumConfigIssue[] = [];
  const err = (option: QuorumOption, message: string, entry?: QuorumConfigIssue['entry']): void =>
    void errors.push({ option, message, ...(entry !== undefined ? { entry } : {}) });
  const warn = (option: QuorumOption, message: string): void => void warnings.push({ option, message });

  let twoNode = input.twoNode;
  let autoTieBreaker = input.autoTieBreaker;
  let lastManStanding = input.lastManStanding;

  // nodelist
  if (input.nodes.length === 0) err('nodes', 'nodelist is empty: votequorum needs the cluster\'s nodes');
  const ids = new Map<number, number>();
  const names = new Map<string, number>();
  input.nodes.forEach((n, index) => {
    const firstId = ids.get(n.id);
    if (firstId !== undefined) err('nodes', `node id ${n.id} is already the one of node #${firstId}`, { index, field: 'id', first: firstId });
    else ids.set(n.id, index);
    const firstName = names.get(n.name);
    if (firstName !== undefined) err('nodes', `node name "${n.name}" is already the one of node #${firstName}`, { index, field: 'name', first: firstName });
    else names.set(n.name, index);
  });
  if (input.localId !== undefined && !ids.has(input.localId)) {
    err('localId', `no node in quorum.nodes has id ${input.localId}`);
  }
  const nodelistVotes = input.nodes.reduce((sum, n) => sum + n.votes, 0);
  if (input.nodes.length > 0 && nodelistVotes === 0) err('nodes', 'the nodes of the nodelist have no votes between them: quorum is impossible');

  // expected_votes
  let expected = nodelistVotes;
  if (input.expectedVotes !== undefined) {
    const e = input.expectedVotes;
    if (!Number.isInteger(e) || e < 1) {
      err('expectedVotes', `expected_votes ${String(e)} must be a positive integer`);
    } else {
      expected = e;
      if (e < nodelistVotes) {
        err(
          'expectedVotes',
          `expected_votes ${e} is below the nodelist's total votes ${nodelistVotes}: ` +
            `two partitions could each reach quorum ${Math.floor(e / 2) + 1} before seeing each other`,
        );
      } else if (e > nodelistVotes && input.waitForAll) {
        err(
          'expectedVotes',
          `expected_votes ${e} is above the nodelist's total votes ${nodelistVotes}: with wait_for_all the cluster could never see all its votes`,
        );
      } else if (e > nodelistVotes) {
        warn('expectedVotes', `expected_votes ${e} is above the nodelist's total votes ${nodelistVotes}`);
      }
    }
  }

  // two_node (R5): "two_node and at most 2 nodes: Q = 1" — exactly two nodes, and E = 2.
  if (twoNode && expected !== 2) {
    const votes = input.expectedVotes !== undefined ? `expected_votes is ${expected}` : `the nodes have ${expected}`;
    err('twoNode', `two_node needs exactly two votes in the cluster; ${votes}`);
  } else if (twoNode && input.nodes.length !== 2) {
    err('twoNode', `two_node needs exactly two nodes in the cluster; the nodelist has ${input.nodes.length} (a node of 0 votes counts)`);
  }

  // auto_tie_breaker (R9). A list naming a node not in the nodelist is wrong whether or not it is used.
  const atb: TieBreakerNode = input.autoTieBreakerNode;
  if (typeof atb !== 'string') {
    atb.forEach((id, index) => {
      if (!ids.has(id)) err('autoTieBreakerNode', `no node in quorum.nodes has id ${id}`, { index });
    });
  }
  if (autoTieBreaker) {
    if (typeof atb !== 'string' && atb.length === 0) {
      warn(
        'autoTieBreakerNode',
        "auto_tie_breaker_node is not valid. It must be 'lowest', 'highest' or a list of node IDs. auto_tie_breaker is disabled",
      );
      autoTieBreaker = false;
    }
  } else if (input.autoTieBreakerNode !== 'lowest') {
    warn('autoTieBreakerNode', 'auto_tie_breaker_node: is meaningless if auto_tie_breaker is set to 0');
  }
  if (twoNode && autoTieBreaker) {
    warn(
      'twoNode',
      'two_node is ignored with auto_tie_breaker, as corosync does ("two_node and auto_tie_breaker are both specified but are not compatible. two_node has been disabled"): the tie-breaker node decides a 50/50 split',
    );
    twoNode = false;
  }
  if (autoTieBreaker && nodelistVotes % 2 === 1 && !input.waitForAll) {
    if (lastManStanding) {
      err('autoTieBreaker', 'auto_tie_breaker & last_man_standing not available in odd sized cluster without wait_for_all');
    } else {
      warn(
        'autoTieBreaker',
        'auto_tie_breaker is set and the cluster has an odd number of votes: wait_for_all is needed for this configuration but it is missing. auto_tie_breaker has been disabled',
      );
      autoTieBreaker = false;
    }
  }

  // last_man_standing (R10)
  const w = input.lastManStandingWindowMs;
  if (!Number.isInteger(w) || w < MIN_LAST_MAN_STANDING_WINDOW_MS) {
    err(
      'lastManStandingWindowMs',
      `last_man_standing_window ${String(w)} ms is below ${MIN_LAST_MAN_STANDING_WINDOW_MS} ms: expected votes would drop before membership settles`,
    );
  }
  if (lastManStanding && input.nodes.some((n) => n.votes > 1)) {
    warn(
      'lastManStanding',
      'Last Man Standing feature is supported only when all cluster nodes votes are set to 1. Disabling LMS',
    );
    lastManStanding = false;
  }
  if (lastManStanding && !input.waitForAll) {
    warn('lastManStanding', 'last_man_standing without wait_for_all: a node rebooting alone could regain quorum on a lowered E elsewhere');
  }

  return { errors, warnings, corrected: { twoNode, autoTieBreaker, lastManStanding }, resolvedExpectedVotes: expected };
}

/** `validateQuorumOptions` for the engine: the local node must be in the nodelist. */
export function validateQuorumConfig(input: QuorumEngineConfig): QuorumConfigValidation {
  const { errors, warnings, corrected, resolvedExpectedVotes } = validateQuorumOptions(input);
  if (errors.length > 0) return { ok: false, errors, warnings };
  const config = { ...input, ...corrected, resolvedExpectedVotes } as ValidatedQuorumConfig;
  return { ok: true, config, warnings };
}

// ---- events and changes --------------------------------------------------------------

export type QuorumEvent =
  /**
   * The members of the local node's partition (the local node is always one: its own
   * entry, if given, is ignored) and what each last said of itself. Sent on every
   * membership change and whenever a member's report changes.
   */
  | { readonly type: 'membership'; readonly members: readonly MemberReport[] }
  /** The deadline from `nextDeadline()` has passed. */
  | { readonly type: 'tick' }
  /** Operator: corosync-quorumtool -e N / pcs quorum expected-votes N. */
  | { readonly type: 'set-expected'; readonly expectedVotes: number }
  /** Operator: cancel wait_for_all (corosync cancel_wait_for_all, pcs quorum unblock). */
  | { readonly type: 'unblock' }
  /**
   * A reload: new options (validated; the same local node). The engine recomputes with the
   * current partition, so that nothing changes that the new options do not change.
   */
  | { readonly type: 'reconfigure'; readonly config: ValidatedQuorumConfig };

/** What decided the quorate flag. */
export type QuorateReason =
  /** R6: T ≥ Q. */
  | 'enough-votes'
  /** R6: T < Q, and no tie-breaker applies. */
  | 'too-few-votes'
  /** R7: wait_for_all, T ≠ E. */
  | 'waiting-for-all'
  /** R9: exact 50/50 split, this half holds the tie-breaker. */
  | 'tie-breaker';

/** Which rule moved the expected votes. */
export type ExpectedVotesRule =
  /** R2: E = max(E, T). */
  | 'total-votes'
  /** R2: adopted a quorate member's E (higher, or any while inquorate). */
  | 'quorate-peer'
  /** R10. */
  | 'last-man-standing'
  | 'operator'
  /** A reload: the configured expected_votes (or the nodelist's total). */
  | 'reload';

export type WaitForAllReason =
  /** R8: T == E. */
  | 'all-votes-seen'
  /** R8: a member is quorate and not waiting. */
  | 'quorate-peer'
  /** R8: operator unblock. */
  | 'operator'
  /** R8: re-armed on becoming inquorate. */
  | 'inquorate'
  /** A reload turned wait_for_all off. */
  | 'reload';

export type QuorumRefusalReason =
  /** set-expected: not a positive integer. */
  | 'invalid-value'
  /** set-expected below T. */
  | 'below-total-votes'
  /** set-expected would leave the node inquorate (Q' > T). */
  | 'would-be-inquorate'
  /** unblock without wait_for_all configured. */
  | 'wait-for-all-off'
  /** unblock while not waiting. */
  | 'not-waiting'
  /** quorum.provider corosync: corosync refused the call or is not reachable. */
  | 'provider-error';

export type QuorumChange =
  | {
      readonly type: 'quorate';
      readonly from: boolean;
      readonly to: boolean;
      readonly reason: QuorateReason;
      readonly detail: string;
    }
  | { readonly type: 'expected-votes'; readonly from: number; readonly to: number; readonly rule: ExpectedVotesRule }
  | { readonly type: 'quorum'; readonly from: number; readonly to: number }
  | { readonly type: 'wait-for-all'; readonly waiting: boolean; readonly reason: WaitForAllReason }
  | { readonly type: 'membership'; readonly joined: readonly NodeId[]; readonly left: readonly NodeId[] }
  /** R10 window (re)started (`deadline`) or cancelled (null). */
  | { readonly type: 'last-man-standing-window'; readonly deadline: number | null }
  /** A member not in the nodelist: not counted. */
  | { readonly type: 'ignored-member'; readonly id: NodeId }
  | {
      readonly type: 'refused';
      readonly command: 'set-expected' | 'unblock';
      readonly reason: QuorumRefusalReason;
      readonly detail: string;
    };

export interface QuorumMemberStatus {
  readonly id: NodeId;
  readonly name: string;
  readonly votes: number;
  readonly local: boolean;
}

export interface QuorumStatus {
  readonly localId: NodeId;
  readonly quorate: boolean;
  readonly expectedVotes: number;
  readonly highestExpected: number;
  readonly totalVotes: number;
  readonly quorum: number;
  /** corosync's flags: configured features, after validation's corrections; `quorate` as above. */
  readonly flags: {
    readonly twoNode: boolean;
    readonly quorate: boolean;
    /** wait_for_all is configured (corosync's WaitForAll flag). */
    readonly waitForAll: boolean;
    readonly lastManStanding: boolean;
    readonly autoTieBreaker: boolean;
  };
  /** wait_for_all is configured and still blocking (corosync's wait_for_all_status). */
  readonly waitingForAll: boolean;
  /** Not quorate: resources must stop. */
  readonly activityBlocked: boolean;
  /** The current partition, by node id. */
  readonly members: readonly QuorumMemberStatus[];
  /** When the last_man_standing window ends, or null. */
  readonly lastManStandingDeadline: number | null;
}

// ---- the engine ----------------------------------------------------------------------

export class QuorumEngine {
  private cfg: ValidatedQuorumConfig;
  private readonly nodes = new Map<NodeId, QuorumNode>();
  private local: QuorumNode;
  /** Peers of the current partition and their last reports (the local node is implicit). */
  private peers = new Map<NodeId, MemberReport>();
  /** Member ids of the partition before the last membership change (ATB list). */
  private previousMembers = new Set<NodeId>();
  private expected: number;
  private quorumVotes = 0;
  private isQuorate = false;
  private waiting: boolean;
  /** R9: lowest / highest member id the last time T ≥ Q (corosync's lowest_node_id). */
  private tieLowest: NodeId | undefined;
  private tieHighest: NodeId | undefined;
  private lmsDeadline: number | undefined;

  /** `_now`: the start time (nothing is timed from start today; kept for the pure-core signature). */
  constructor(config: ValidatedQuorumConfig, _now: number) {
    this.cfg = config;
    for (const n of config.nodes) this.nodes.set(n.id, n);
    const local = this.nodes.get(config.localId);
    if (local === undefined) throw new Error(`local node ${config.localId} is not in the nodelist`);
    this.local = local;
    this.expected = config.resolvedExpectedVotes;
    this.waiting = config.waitForAll;
    this.previousMembers = new Set([local.id]);
    this.recalculate([], false);
  }

  get config(): ValidatedQuorumConfig {
    return this.cfg;
  }

  get quorate(): boolean {
    return this.isQuorate;
  }

  /** What this node reports of itself in its heartbeat (status() without the rest: it is read for every heartbeat). */
  selfReport(): MemberReport {
    return { id: this.local.id, expectedVotes: this.expected, quorate: this.isQuorate, waitingForAll: this.waiting };
  }

  /** When a `tick` has work to do: the end of the last_man_standing window. */
  nextDeadline(): number | undefined {
    return this.lmsDeadline;
  }

  handle(event: QuorumEvent, now: number): QuorumChange[] {
    const out: QuorumChange[] = [];
    switch (event.type) {
      case 'membership':
        this.membership(event.members, now, out);
        break;
      case 'tick':
        this.tick(now, out);
        break;
      case 'set-expected':
        this.setExpected(event.expectedVotes, out);
        break;
      case 'unblock':
        this.unblock(out);
        break;
      case 'reconfigure':
        this.reconfigure(event.config, out);
        break;
    }
    return out;
  }

  status(): QuorumStatus {
    const members: QuorumMemberStatus[] = this.memberIds().map((id) => {
      const n = this.nodes.get(id) as QuorumNode;
      return { id, name: n.name, votes: n.votes, local: id === this.local.id };
    });
    return {
      localId: this.local.id,
      quorate: this.isQuorate,
      expectedVotes: this.expected,
      highestExpected: this.highestExpected(),
      totalVotes: this.totalVotes(),
      quorum: this.quorumVotes,
      flags: {
        twoNode: this.cfg.twoNode,
        quorate: this.isQuorate,
        waitForAll: this.cfg.waitForAll,
        lastManStanding: this.cfg.lastManStanding,
        autoTieBreaker: this.cfg.autoTieBreaker,
      },
      waitingForAll: this.waiting,
      activityBlocked: !this.isQuorate,
      members,
      lastManStandingDeadline: this.lmsDeadline ?? null,
    };
  }

  // ---- events ------------------------------------------------------------------------

  private membership(reports: readonly MemberReport[], now: number, out: QuorumChange[]): void {
    const next = new Map<NodeId, MemberReport>();
    for (const r of reports) {
      if (r.id === this.local.id) continue;
      if (!this.nodes.has(r.id)) {
        out.push({ type: 'ignored-member', id: r.id });
        continue;
      }
      next.set(r.id, r);
    }
    const before = new Set(this.memberIds());
    const after = new Set([this.local.id, ...next.keys()]);
    const joined = [...after].filter((id) => !before.has(id)).sort((a, b) => a - b);
    const left = [...before].filter((id) => !after.has(id)).sort((a, b) => a - b);
    const changed = joined.length > 0 || left.length > 0;
    if (changed) {
      this.previousMembers = before;
      out.push({ type: 'membership', joined, left });
    }
    this.peers = next;

    // R2: adopt a quorate peer's E (several: the highest of theirs). While inquorate, any
    // such E, on any report (corosync: allow_downgrade). While quorate, only a higher one
    // and only when the membership changes — corosync exchanges nodeinfo at membership
    // changes, and a peer whose last_man_standing window ends a moment after ours must not
    // undo our lowered E with a stale report between changes.
    let peerE: number | undefined;
    for (const r of next.values()) {
      if (r.quorate && Number.isInteger(r.expectedVotes) && r.expectedVotes >= 1) {
        peerE = peerE === undefined ? r.expectedVotes : Math.max(peerE, r.expectedVotes);
      }
    }
    let allowDecrease = false;
    if (peerE !== undefined && ((!this.isQuorate && peerE !== this.expected) || (changed && peerE > this.expected))) {
      allowDecrease = peerE < this.expected;
      this.setE(peerE, 'quorate-peer', out);
    }

    // R10: the window restarts on every membership change once a node has left.
    if (this.cfg.lastManStanding && changed && (left.length > 0 || this.lmsDeadline !== undefined)) {
      this.lmsDeadline = now + this.cfg.lastManStandingWindowMs;
      out.push({ type: 'last-man-standing-window', deadline: this.lmsDeadline });
    }

    // R8: a member that is quorate and not waiting lifts wait_for_all.
    const quoratePeer = [...next.values()].some((r) => r.quorate && !r.waitingForAll);
    this.recalculate(out, allowDecrease, quoratePeer ? 'quorate-peer' : undefined);
  }

  private tick(now: number, out: QuorumChange[]): void {
    if (this.lmsDeadline === undefined || now < this.lmsDeadline) return;
    this.lmsDeadline = undefined;
    out.push({ type: 'last-man-standing-window', deadline: null });
    // R10: still quorate after a stable window: E comes down to the current total.
    if (!this.isQuorate) return;
    const t = this.totalVotes();
    if (t < this.expected) {
      this.setE(t, 'last-man-standing', out);
      this.recalculate(out, true);
    }
  }

  private setExpected(n: number, out: QuorumChange[]): void {
    const t = this.totalVotes();
    const refuse = (reason: QuorumRefusalReason, detail: string): void =>
      void out.push({ type: 'refused', command: 'set-expected', reason, detail });
    if (!Number.isInteger(n) || n < 1) return refuse('invalid-value', `expected votes ${String(n)} must be a positive integer`);
    if (n < t) return refuse('below-total-votes', `expected votes ${n} is below the current total votes ${t}`);
    const q = this.quorumFor(n);
    if (q > t) return refuse('would-be-inquorate', `expected votes ${n} needs quorum ${q}, more than the current total votes ${t}`);
    if (n !== this.expected) this.setE(n, 'operator', out);
    this.recalculate(out, true);
  }

  private unblock(out: QuorumChange[]): void {
    if (!this.cfg.waitForAll) {
      out.push({ type: 'refused', command: 'unblock', reason: 'wait-for-all-off', detail: 'wait_for_all is not configured' });
      return;
    }
    if (!this.waiting) {
      out.push({ type: 'refused', command: 'unblock', reason: 'not-waiting', detail: 'not waiting for all nodes' });
      return;
    }
    this.recalculate(out, false, 'operator');
  }

  /**
   * A reload. corosync reads two_node, wait_for_all, last_man_standing and auto_tie_breaker
   * only at startup (votequorum_readconfig, `if (!runtime)`) and recalculates on a changed
   * expected_votes or nodelist; vigil applies every option at reload, from the current
   * partition:
   * - nodes: votes as now configured; a member no longer in the nodelist leaves the partition;
   * - expected votes: when the configured value (or the nodelist's total) changed, that
   *   value, R2 keeping it at least the total votes; quorum recomputed from it, down as well
   *   as up (R4's "never down" is about membership changes, not the operator's own numbers);
   * - wait_for_all is never armed by a reload (a running cluster does not wait again; R8
   *   arms it the next time the node is inquorate); turned off, it is lifted;
   * - last_man_standing turned off: a running window is cancelled.
   * So a reload that keeps the options keeps the verdict, and a change moves it only where
   * the new options and the current members say so.
   */
  private reconfigure(config: ValidatedQuorumConfig, out: QuorumChange[]): void {
    if (config.localId !== this.local.id) throw new Error(`quorum reload: the local node is ${this.local.id}, not ${config.localId} (a change of node needs a restart)`);
    const local = config.nodes.find((n) => n.id === config.localId);
    if (local === undefined) throw new Error(`quorum reload: local node ${config.localId} is not in the nodelist`);
    const configuredE = config.resolvedExpectedVotes !== this.cfg.resolvedExpectedVotes;
    this.cfg = config;
    this.nodes.clear();
    for (const n of config.nodes) this.nodes.set(n.id, n);
    this.local = local;
    const before = new Set(this.memberIds());
    const left = [...this.peers.keys()].filter((id) => !this.nodes.has(id)).sort((a, b) => a - b);
    if (left.length > 0) {
      for (const id of left) this.peers.delete(id);
      this.previousMembers = before;
      out.push({ type: 'membership', joined: [], left });
    }
    // Only a changed expected_votes (or nodelist total) resets E: one that R2, R10 or the
    // operator moved since stays where it is when the reload is about something else.
    if (configuredE) this.setE(config.resolvedExpectedVotes, 'reload', out);
    if (!config.waitForAll) this.setWaiting(false, 'reload', out);
    if (!config.lastManStanding && this.lmsDeadline !== undefined) {
      this.lmsDeadline = undefined;
      out.push({ type: 'last-man-standing-window', deadline: null });
    }
    this.recalculate(out, configuredE);
  }

  // ---- the calculation ---------------------------------------------------------------

  private memberIds(): NodeId[] {
    return [this.local.id, ...this.peers.keys()].sort((a, b) => a - b);
  }

  private totalVotes(): number {
    let t = this.local.votes as number;
    for (const id of this.peers.keys()) t += (this.nodes.get(id) as QuorumNode).votes;
    return t;
  }

  /**
   * The highest E in the partition, a non-quorate peer's counting as ours (corosync's
   * "Highest expected"). Shown only: Q follows our own E, into which a quorate peer's higher
   * E is adopted at membership changes (R2).
   */
  private highestExpected(): number {
    let h = this.expected;
    for (const r of this.peers.values()) if (r.quorate) h = Math.max(h, r.expectedVotes);
    return h;
  }

  /** R3, R5. */
  private quorumFor(expected: number): number {
    if (this.cfg.twoNode && this.memberIds().length <= 2) return 1;
    return Math.floor(expected / 2) + 1;
  }

  private setE(to: number, rule: ExpectedVotesRule, out: QuorumChange[]): void {
    if (to === this.expected) return;
    out.push({ type: 'expected-votes', from: this.expected, to, rule });
    this.expected = to;
  }

  private setWaiting(waiting: boolean, reason: WaitForAllReason, out: QuorumChange[]): void {
    if (waiting === this.waiting) return;
    this.waiting = waiting;
    out.push({ type: 'wait-for-all', waiting, reason });
  }

  private recalculate(out: QuorumChange[], allowDecrease: boolean, liftWait?: 'quorate-peer' | 'operator'): void {
    const t = this.totalVotes();
    // R2: expected votes grow to the total on their own.
    if (t > this.expected) this.setE(t, 'total-votes', out);
    // R3, R4 (never down unless allowed), R5.
    let q = Math.floor(this.expected / 2) + 1;
    if (!allowDecrease) q = Math.max(q, this.quorumVotes);
    if (this.cfg.twoNode && this.memberIds().length <= 2) q = 1;
    if (q !== this.quorumVotes) {
      out.push({ type: 'quorum', from: this.quorumVotes, to: q });
      this.quorumVotes = q;
    }

    // R8: lifted by a quorate, non-waiting member, or by the operator.
    if (this.waiting && liftWait !== undefined) this.setWaiting(false, liftWait, out);
    // R7: while waiting, not quorate until T == E.
    if (this.waiting) {
      if (t !== this.expected) {
        this.setQuorate(false, 'waiting-for-all', `waiting for all nodes: total votes ${t}, expected votes ${this.expected}`, out);
        return;
      }
      this.setWaiting(false, 'all-votes-seen', out);
    }

    // R6.
    let quorate = t >= q;
    let reason: QuorateReason = quorate ? 'enough-votes' : 'too-few-votes';
    let detail = `total votes ${t} ${quorate ? '>=' : '<'} quorum ${q}`;
    if (quorate) {
      const ids = this.memberIds();
      this.tieLowest = ids[0];
      this.tieHighest = ids[ids.length - 1];
    } else if (this.cfg.autoTieBreaker && this.expected % 2 === 0 && 2 * t === this.expected && this.holdsTieBreaker()) {
      // R9: an exact 50/50 split; this half holds the tie-breaker.
      quorate = true;
      reason = 'tie-breaker';
      detail = `exact split (${t} of ${this.expected} votes) and this partition holds the tie-breaker`;
    }
    this.setQuorate(quorate, reason, detail, out);
    // R8: re-armed whenever the node is inquorate.
    if (this.cfg.waitForAll && !quorate) this.setWaiting(true, 'inquorate', out);
  }

  /** R9: does this partition hold the tie-breaker node? */
  private holdsTieBreaker(): boolean {
    const here = new Set(this.memberIds());
    const atb = this.cfg.autoTieBreakerNode;
    if (atb === 'lowest') return this.tieLowest !== undefined && here.has(this.tieLowest);
    if (atb === 'highest') return this.tieHighest !== undefined && here.has(this.tieHighest);
    // corosync's list: the first listed node present here wins, unless a node listed
    // before it was in the previous partition (it may be in the other half).
    for (let i = 0; i < atb.length; i++) {
      const id = atb[i] as NodeId;
      if (!here.has(id)) continue;
      for (let j = 0; j < i; j++) if (this.previousMembers.has(atb[j] as NodeId)) return false;
      return true;
    }
    return false;
  }

  private setQuorate(to: boolean, reason: QuorateReason, detail: string, out: QuorumChange[]): void {
    if (to === this.isQuorate) return;
    out.push({ type: 'quorate', from: this.isQuorate, to, reason, detail });
    this.isQuorate = to;
  }
}

// ---- corosync-quorumtool -s ----------------------------------------------------------

export interface FormatQuorumStatusOptions {
  /** The name shown for a member (default: the nodelist's name). */
  readonly nodeName?: (id: NodeId, configured: string) => string;
  /** The "Date:" line (omitted when absent, so the output is deterministic). */
  readonly date?: string;
  /** "Quorum provider:" (default vigil_votequorum). */
  readonly provider?: string;
}

/** The text of `corosync-quorumtool -s` for this status. */
export function formatQuorumStatus(status: QuorumStatus, options: FormatQuorumStatusOptions = {}): string {
  const lines: string[] = [];
  const field = (label: string, value: string | number): void => void lines.push(`${`${label}:`.padEnd(18)}${String(value)}`);
  lines.push('Quorum information', '------------------');
  if (options.date !== undefined) field('Date', options.date);
  field('Quorum provider', options.provider ?? 'vigil_votequorum');
  field('Nodes', status.members.length);
  field('Node ID', status.localId);
  field('Quorate', status.quorate ? 'Yes' : 'No');
  lines.push('', 'Votequorum information', '----------------------');
  field('Expected votes', status.expectedVotes);
  field('Highest expected', status.highestExpected);
  field('Total votes', status.totalVotes);
  field('Quorum', status.quorate ? String(status.quorum) : `${status.quorum} Activity blocked`);
  const flags: string[] = [];
  if (status.flags.twoNode) flags.push('2Node');
  if (status.flags.quorate) flags.push('Quorate');
  if (status.flags.waitForAll) flags.push('WaitForAll');
  if (status.flags.lastManStanding) flags.push('LastManStanding');
  if (status.flags.autoTieBreaker) flags.push('AutoTieBreaker');
  lines.push(`${'Flags:'.padEnd(18)}${flags.join(' ')}`.trimEnd());
  lines.push('', 'Membership information', '----------------------');
  lines.push(`${'Nodeid'.padStart(10)} ${'Votes'.padStart(10)} Name`);
  for (const m of status.members) {
    const name = options.nodeName ? options.nodeName(m.id, m.name) : m.name;
    lines.push(`${String(m.id).padStart(10)} ${String(m.votes).padStart(10)} ${name}${m.local ? ' (local)' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
