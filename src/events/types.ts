/**
 * The daemon's events: one ordered stream per daemon, the single source for the log,
 * `vigil status`, `vigil events` and the notifiers (scripts, FIFO, D-Bus, SNMP, metrics).
 *
 * An event says what happened, not how to print it. Every event carries the name of what
 * it is about in a field of its own (instance, group, resource, check, node), so a
 * subscriber can filter without parsing text. Kinds may be added; existing shapes stay.
 */
import type { RouterState } from '../vrrp/types.js';

/** Why an instance changed state (router.ts TransitionReason, plus reasons from outside the router). */
export type StateChangeReason = string;

/** A sync group's state is that of its members (keepalived: the group follows the worst member). */
export type GroupState = RouterState;

export type QuorumVerdictName = 'hold' | 'keep' | 'release';

export type VigilEvent =
  | { readonly kind: 'daemon-started'; readonly pid: number; readonly config: string; readonly instances: readonly string[] }
  | { readonly kind: 'daemon-stopping'; readonly reason: string }
  | { readonly kind: 'daemon-stopped' }
  /** `instances`: how many instances the new config has. */
  | { readonly kind: 'reloaded'; readonly config: string; readonly changes: readonly { readonly instance: string; readonly change: string }[]; readonly instances?: number }
  | { readonly kind: 'reload-failed'; readonly config: string; readonly detail: string }
  /**
   * A reload applied to the quorum or resources section: what changed (a resource or health
   * check added, removed, restarted, updated; a quorum option and its old and new value), or
   * why the section was refused and kept as it runs (`refused`: it needs a restart).
   */
  | {
      readonly kind: 'section-reloaded';
      readonly section: 'quorum' | 'resources';
      readonly changes: readonly { readonly name: string; readonly change: string; readonly detail: string }[];
      readonly refused?: string;
    }
  /**
   * An instance changed state. `priority` is the effective priority after the change;
   * `master` the address of the master as this node knows it (itself when master), or null.
   */
  | {
      readonly kind: 'instance-state';
      readonly instance: string;
      readonly vrid: number;
      readonly family: 'ipv4' | 'ipv6';
      readonly interface: string;
      readonly from: RouterState;
      readonly to: RouterState;
      readonly reason: StateChangeReason;
      readonly detail: string;
      readonly priority: number;
      readonly basePriority: number;
      readonly master: string | null;
    }
  /** A sync group's state changed (its members moved together). */
  | { readonly kind: 'group-state'; readonly group: string; readonly from: GroupState; readonly to: GroupState; readonly instances: readonly string[] }
  /** The effective priority changed (tracking, health checks, reload). */
  | { readonly kind: 'priority-changed'; readonly instance: string; readonly from: number; readonly to: number; readonly basePriority: number }
  /** A master heard an advert of lower priority (keepalived's MASTER_RX_LOWER_PRI). */
  | { readonly kind: 'master-rx-lower-priority'; readonly instance: string; readonly from: string; readonly priority: number; readonly ownPriority: number }
  /** Effects applied by an instance's pipeline: the VIPs really added or removed, announcements really sent. */
  | { readonly kind: 'vips-added'; readonly instance: string; readonly interface: string; readonly addresses: readonly string[]; readonly failed: readonly string[] }
  | { readonly kind: 'vips-removed'; readonly instance: string; readonly interface: string; readonly addresses: readonly string[]; readonly failed: readonly string[] }
  | { readonly kind: 'announced'; readonly instance: string; readonly addresses: readonly string[]; readonly round: number; readonly of: number; readonly reason: string }
  | { readonly kind: 'quorum-changed'; readonly quorate: boolean; readonly reason: string; readonly detail: string; readonly votes: number; readonly expectedVotes: number }
  /** `quorate` and `tieBreaker` (its state) at the time of the verdict. */
  | { readonly kind: 'quorum-verdict'; readonly from: QuorumVerdictName; readonly to: QuorumVerdictName; readonly why: string; readonly quorate?: boolean; readonly tieBreaker?: string }
  /**
   * The quorum provider's connection (quorum.provider corosync: the corosync on this node).
   * Not connected = this node counts as inquorate until it is back; `retryMs`: the next attempt.
   */
  | { readonly kind: 'quorum-provider'; readonly provider: 'corosync'; readonly connected: boolean; readonly node: number; readonly disconnects: number; readonly detail?: string; readonly retryMs?: number }
  /** `reason` as the membership says; `from` the address it was heard from. */
  | { readonly kind: 'member-joined'; readonly node: number; readonly name: string; readonly reason?: string; readonly from?: string }
  | { readonly kind: 'member-left'; readonly node: number; readonly name: string; readonly silentMs: number; readonly reason?: string }
  | { readonly kind: 'tie-breaker'; readonly result: string; readonly checks: readonly string[] }
  | { readonly kind: 'resource-state'; readonly resource: string; readonly from: string; readonly to: string; readonly reason: string }
  | {
      readonly kind: 'resource-op';
      readonly resource: string;
      readonly op: 'start' | 'stop' | 'monitor' | 'probe';
      readonly rc: number;
      readonly ok: boolean;
      readonly detail: string;
      readonly durationMs: number;
      readonly failCount: number;
      readonly timedOut?: boolean;
    }
  | { readonly kind: 'group-ban'; readonly group: string; readonly banned: boolean; readonly reason: string }
  | { readonly kind: 'node-standby'; readonly on: boolean; readonly detail?: string }
  | { readonly kind: 'maintenance'; readonly on: boolean; readonly detail?: string }
  | { readonly kind: 'health-check'; readonly check: string; readonly from: string; readonly to: string; readonly reason: string };

export type VigilEventKind = VigilEvent['kind'];

/** An event as the stream hands it out: numbered and timestamped. */
export type StampedEvent = VigilEvent & {
  /** 1, 2, 3, … per daemon process, without gaps. */
  readonly seq: number;
  /** Wall-clock time, milliseconds since the epoch. */
  readonly time: number;
  /** Monotonic time, milliseconds (for measuring delays between events). */
  readonly mono: number;
};

/** The event of one kind, as handed out. */
export type EventOf<K extends VigilEventKind> = Extract<VigilEvent, { readonly kind: K }> & { readonly seq: number; readonly time: number; readonly mono: number };
