/**
 * One virtual router (interface, VRID, address family): the state machine of RFC 5798 §6
 * (and RFC 3768 §6 for VRRPv2), with keepalived's FAULT state, tracking and
 * gratuitous ARP / unsolicited NA timing.
 *
 * It is pure: `handle(event, now)` takes an event and the current time (ms on any
 * monotonic clock) and returns the actions to carry out, in order. It owns no socket and
 * no timer; the caller asks `nextDeadline()` and delivers a `tick` at that time. The same
 * code runs in the simulator (src/sim) and in the daemon.
 *
 * Over 600 lines on purpose: one state machine kept whole, so that its RFC 5798 §6.4
 * pseudo-code reads in order beside the branches it governs.
 */
import { compareAddresses, sameAddress, type IpAddress } from '../net/address.js';
import { advertIntervalCs, type Advert } from './codec.js';
import { effectivePriority, faultingTrackers, type TrackedObject } from './priority.js';
import { ADVER_TIMER_EARLY_MS, centisecondsToMs, masterDownIntervalMs, skewTimeMs } from './timers.js';
import {
  PRIORITY_OWNER,
  PRIORITY_STOP,
  type Centiseconds,
  type Priority,
  type RouterState,
  type VrrpVersion,
  type Vrid,
} from './types.js';
import type { AddressFamily } from '../net/address.js';

/** keepalived's gratuitous ARP / unsolicited NA knobs (vrrp_garp_* / garp_master_*). */
export interface AnnounceConfig {
  /** garp_master_repeat: copies per VIP sent on becoming master (default 5). */
  readonly masterRepeat: number;
  /** garp_master_delay: a second burst this long after becoming master; 0 = none (default 5000). */
  readonly masterDelayMs: number;
  /** garp_master_refresh: periodic bursts while master; 0 = none (default 0). */
  readonly masterRefreshMs: number;
  /** garp_master_refresh_repeat: copies per VIP in each refresh (default 1). */
  readonly masterRefreshRepeat: number;
  /**
   * garp_lower_prio_repeat: copies per VIP sent when a lower-priority advert arrives while
   * master, so neighbours that followed the other side of a split come back; 0 = none
   * (default 5). The immediate burst goes at most once per advertisement interval.
   */
  readonly lowerPriorityRepeat: number;
  /**
   * garp_lower_prio_delay: a second burst of lowerPriorityRepeat copies this long after the
   * LAST lower-priority advert heard (each one pushes it back), so the corrective
   * announcement leaves after the spurious master's own burst, whatever the order of the
   * first ones on the wire (issue 10 §1); 0 = none. keepalived sends the second burst
   * garp_lower_prio_delay after EACH lower-priority advert, in whole seconds (default its
   * garp_master_delay, 5 s): clients stay misdirected until then. vigil's loader defaults
   * it to the other side's burst span plus half an advertisement interval (config/instances.ts).
   */
  readonly lowerPriorityDelayMs: number;
}

export const DEFAULT_ANNOUNCE: AnnounceConfig = {
  masterRepeat: 5,
  masterDelayMs: 5000,
  masterRefreshMs: 0,
  masterRefreshRepeat: 1,
  lowerPriorityRepeat: 5,
  lowerPriorityDelayMs: 0,
};

export interface RouterConfig {
  /** The instance name, for logs. */
  readonly name: string;
  readonly version: VrrpVersion;
  readonly family: AddressFamily;
  readonly vrid: Vrid;
  /** Configured priority, 1..255; 255 = address owner. */
  readonly priority: Priority;
  /** Advertisement_Interval (v2: a multiple of 100 cs). */
  readonly advertInterval: Centiseconds;
  /** RFC 5798 §6.1 Preempt_Mode (keepalived: not `nopreempt`). Default true. */
  readonly preempt: boolean;
  /** keepalived preempt_delay: after first seeing a lower-priority master, wait this long before preempting it. */
  readonly preemptDelayMs: number;
  /** RFC 5798 §6.1 Accept_Mode. */
  readonly acceptMode: boolean;
  /** This router's primary address on the interface: the IP source of its adverts and the tie-breaker. */
  readonly primaryAddress: IpAddress;
  readonly tracked: readonly TrackedObject[];
  readonly announce: AnnounceConfig;
  /** keepalived higher_prio_send_advert: send one advert before yielding to a higher priority master. */
  readonly higherPrioritySendAdvert: boolean;
  /** keepalived lower_prio_no_advert: do not answer a lower-priority advert with an advert of our own. */
  readonly lowerPriorityNoAdvert: boolean;
  /**
   * How many times the advert sent on yielding is repeated (default STEP_DOWN_ADVERT_REPEATS).
   * 0 for an instance on a virtual MAC (config/router-config.ts): its clients' entries
   * always hold the virtual MAC, so there is nothing to correct, and a backup's advert
   * leaving from that MAC would move the switches' forwarding entry for it to the backup
   * until the master's next advert.
   */
  readonly stepDownAdvertRepeats?: number;
}

export type RouterEvent =
  /** RFC 5798 §6.4.1 Startup. */
  | { readonly type: 'startup' }
  /** RFC 5798 §6.4.2/§6.4.3 Shutdown. */
  | { readonly type: 'shutdown' }
  /** Timers due at `now` have fired. */
  | { readonly type: 'tick' }
  /** An advert that passed the codec and acceptance checks; `src` is its IP source. */
  | { readonly type: 'advert'; readonly advert: Advert; readonly src: IpAddress }
  | { readonly type: 'interface'; readonly up: boolean }
  | { readonly type: 'tracker'; readonly name: string; readonly up: boolean }
  /** A new configured priority (reload). */
  | { readonly type: 'set-priority'; readonly priority: Priority }
  /** Sync groups: move with the rest of the group. */
  | { readonly type: 'sync'; readonly to: 'master' | 'backup' }
  | { readonly type: 'sync-fault'; readonly faulted: boolean };

export type TransitionReason =
  | 'startup'
  | 'address-owner'
  | 'master-down-timer'
  | 'master-stopped'
  | 'preempt'
  | 'higher-priority-advert'
  | 'shutdown'
  | 'fault'
  | 'fault-cleared'
  | 'sync-group';

export type AnnounceReason = 'become-master' | 'master-delay' | 'refresh' | 'lower-priority-advert' | 'lower-priority-delay';

export type RouterAction =
  | {
      readonly type: 'state-change';
      readonly from: RouterState;
      readonly to: RouterState;
      readonly reason: TransitionReason;
      readonly detail: string;
    }
  /** An advert to the group (or the unicast peers); with `to`, to that router alone (the step-down repeats). */
  | { readonly type: 'send-advert'; readonly priority: Priority; readonly interval: Centiseconds; readonly to?: IpAddress }
  | { readonly type: 'add-vips'; readonly accept: boolean }
  | { readonly type: 'remove-vips' }
  /** Gratuitous ARP (IPv4) or unsolicited NA (IPv6) for every VIP, `repeat` copies each. */
  | { readonly type: 'announce'; readonly repeat: number; readonly reason: AnnounceReason };

/** RFC 6527 vrrpv3StatisticsNewMasterReason. */
export type NewMasterReason = 'notMaster' | 'priority' | 'preempted' | 'masterNoResponse';

export interface RouterStats {
  masterTransitions: number;
  newMasterReason: NewMasterReason;
  advertsReceived: number;
  advertsSent: number;
  priorityZeroReceived: number;
  priorityZeroSent: number;
}

export interface RouterStatus {
  readonly name: string;
  readonly vrid: Vrid;
  readonly family: AddressFamily;
  readonly version: VrrpVersion;
  readonly state: RouterState;
  readonly basePriority: Priority;
  readonly effectivePriority: Priority;
  readonly advertIntervalMs: number;
  readonly masterAdverIntervalMs: number;
  readonly skewTimeMs: number;
  readonly masterDownIntervalMs: number;
  /** Time left on the Master_Down_Timer (backup) or the Adver_Timer (master). */
  readonly masterDownInMs: number | null;
  readonly advertInMs: number | null;
  /** The current master as last seen: ourselves when master. */
  readonly master: { readonly address: string; readonly priority: number } | null;
  readonly faults: readonly string[];
  readonly stats: Readonly<RouterStats>;
}

/** Lets a sync group hold a member back from becoming master on its own. */
export interface MasterGate {
  /** true: go ahead; a number: stay backup and look again at that time. */
  mayBecomeMaster(router: VirtualRouter, now: number): true | number;
}

function earlier(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b < a ? b : a;
}

/** How many times the advert sent on yielding to a higher priority is repeated, an Advertisement_Interval apart (higher_prio_send_advert). */
export const STEP_DOWN_ADVERT_REPEATS = 2;

export class VirtualRouter {
  private cfg: RouterConfig;
  private current: RouterState = 'initialize';
  private basePriority: Priority;
  private priority: Priority;
  private readonly trackerUp = new Map<string, boolean>();
  private interfaceUp = true;
  private syncFaulted = false;
  /** RFC 5798 §6.1 Master_Adver_Interval. */
  private masterAdverInterval: Centiseconds;
  /** The last send-advert action made (reused while its priority and interval hold). */
  private lastAdvertAction: { readonly type: 'send-advert'; readonly priority: Priority; readonly interval: Centiseconds } | undefined;
  private masterDownAt: number | undefined;
  private adverAt: number | undefined;
  private announceDelayAt: number | undefined;
  private announceRefreshAt: number | undefined;
  private lastLowerPriorityAnnounceAt: number | undefined;
  /** garp_lower_prio_delay: the corrective burst after the last lower-priority advert. */
  private lowerPriorityDelayAt: number | undefined;
  /** higher_prio_send_advert: the next repeat of the advert sent on yielding, and how many are left. */
  private stepDownAdvertAt: number | undefined;
  private stepDownAdvertsLeft = 0;
  /** The router yielded to: the repeats go to it alone. */
  private stepDownTo: IpAddress | undefined;
  private preemptAllowedAt: number | undefined;
  /** The Master_Down_Timer was set to Skew_Time by a priority-0 advert. */
  private downTimerFromStop = false;
  /** Since the Master_Down_Timer was last reset, a lower-priority advert was discarded to preempt it. */
  private preempting = false;
  private master: { address: IpAddress; priority: Priority } | undefined;
  /** Everything that may hold this router back from becoming master: its sync group, quorum. */
  private readonly gates = new Set<MasterGate>();
  readonly stats: RouterStats = {
    masterTransitions: 0,
    newMasterReason: 'notMaster',
    advertsReceived: 0,
    advertsSent: 0,
    priorityZeroReceived: 0,
    priorityZeroSent: 0,
  };

  constructor(config: RouterConfig) {
    this.cfg = config;
    this.basePriority = config.priority;
    this.priority = effectivePriority(config.priority, config.tracked, this.trackerUp);
    this.masterAdverInterval = config.advertInterval;
  }

  get config(): RouterConfig {
    return this.cfg;
  }

  /**
   * A reload changed settings that do not alter the router's identity on the wire (VRID,
   * family, version): the state and timers stay; the new configured priority takes effect
   * through a following `set-priority` event.
   */
  reconfigure(config: RouterConfig): void {
    if (config.vrid !== this.cfg.vrid || config.family !== this.cfg.family || config.version !== this.cfg.version) {
      throw new Error(`reconfigure cannot change the identity of ${this.cfg.name}`);
    }
    this.cfg = config;
  }

  get state(): RouterState {
    return this.current;
  }

  get effectivePriority(): Priority {
    return this.priority;
  }

  /** When the Master_Down_Timer fires, or undefined when it is not running. */
  get masterDownDeadline(): number | undefined {
    return this.masterDownAt;
  }

  addGate(gate: MasterGate): void {
    this.gates.add(gate);
  }

  removeGate(gate: MasterGate): void {
    this.gates.delete(gate);
  }

  /** true when every gate lets this router become master now; else the latest time any of them names. */
  private askGates(now: number): true | number {
    let verdict: true | number = true;
    for (const gate of this.gates) {
      const v = gate.mayBecomeMaster(this, now);
      if (v !== true) verdict = verdict === true ? v : Math.max(verdict, v);
    }
    return verdict;
  }

  /** The earliest time at which a `tick` has work to do. */
  nextDeadline(): number | undefined {
    // Field by field, no array: this runs several times per advert.
    return earlier(earlier(earlier(this.masterDownAt, this.adverAt), earlier(this.announceDelayAt, this.announceRefreshAt)), earlier(this.lowerPriorityDelayAt, this.stepDownAdvertAt));
  }

  /**
   * The earliest time a `tick` may be delivered: nextDeadline(), or ADVER_TIMER_EARLY_MS
   * before it when the earliest timer is the Adver_Timer (a tick from then on sends the
   * advert; every other timer still fires only at its deadline). The caller's scheduler
   * wakes at nextDeadline() and may deliver the tick earlier, from this time on, when it
   * wakes for another timer anyway.
   */
  tickFrom(): number | undefined {
    const due = this.nextDeadline();
    return due !== undefined && due === this.adverAt ? due - ADVER_TIMER_EARLY_MS : due;
  }

  /**
   * Whether an advert's source is this router's own primary address: no other router can
   * send it (RFC 5798 §6.4.3's tie-break tells routers apart by that address), so it is
   * our own advert looped back, or forged (IPv6 has no martian-source check: a host on the
   * link can send one with our link-local source). Such an advert is ignored.
   */
  isOwnAddress(src: IpAddress): boolean {
    return sameAddress(src, this.config.primaryAddress);
  }

  handle(event: RouterEvent, now: number): RouterAction[] {
    if (event.type === 'tick' && this.onlyAdverTimerDue(now)) {
      // The steady state of a master, once per advert: what tick() would do (the one due
      // timer fires, RFC 5798 §6.4.3 (625)), with its one action in a list of one rather
      // than a grown one.
      const action = this.advertAction(this.priority);
      this.rearmAdver(this.adverAt as number, now);
      return [action];
    }
    const out: RouterAction[] = [];
    switch (event.type) {
      case 'startup':
        if (this.current === 'initialize') this.start(now, out, 'startup', 'started');
        break;
      case 'shutdown':
        this.shutdown(out);
        break;
      case 'tick':
        this.tick(now, out);
        break;
      case 'advert':
        this.stats.advertsReceived++;
        if (event.advert.priority === PRIORITY_STOP) this.stats.priorityZeroReceived++;
        if (this.isOwnAddress(event.src)) break; // our own, looped back (or forged)
        if (this.current === 'backup') this.backupReceive(event.advert, event.src, now);
        else if (this.current === 'master') this.masterReceive(event.advert, event.src, now, out);
        break;
      case 'interface':
        this.interfaceUp = event.up;
        this.reassess(now, out, `interface ${event.up ? 'up' : 'down'}`);
        break;
      case 'tracker':
        this.trackerUp.set(event.name, event.up);
        this.reassess(now, out, `${event.name} ${event.up ? 'up' : 'down'}`);
        break;
      case 'set-priority':
        this.basePriority = event.priority;
        this.reassess(now, out, `priority set to ${event.priority}`);
        break;
      case 'sync':
        if (event.to === 'master' && this.current === 'backup') {
          this.becomeMaster(now, out, 'sync-group', 'another member of the sync group became master');
        } else if (event.to === 'backup' && this.current === 'master') {
          this.becomeBackup(now, out, 'sync-group', 'another member of the sync group became backup');
        }
        break;
      case 'sync-fault':
        this.syncFaulted = event.faulted;
        this.reassess(now, out, event.faulted ? 'another member of the sync group is in fault' : 'sync group fault cleared');
        break;
    }
    return out;
  }

  /** Why this router is in FAULT (or would be): empty when it is not. */
  faults(): string[] {
    const reasons = this.ownFaults();
    if (this.syncFaulted) reasons.push('sync group in fault');
    return reasons;
  }

  /** The faults of this router itself, leaving out those its sync group imposes. */
  ownFaults(): string[] {
    const reasons: string[] = [];
    if (!this.interfaceUp) reasons.push('interface down');
    for (const name of faultingTrackers(this.config.tracked, this.trackerUp)) reasons.push(`${name} down`);
    return reasons;
  }

  get syncFaultFlag(): boolean {
    return this.syncFaulted;
  }

  status(now: number): RouterStatus {
    const master =
      this.current === 'master'
        ? { address: this.config.primaryAddress.text, priority: this.priority }
        : this.master && this.current === 'backup'
          ? { address: this.master.address.text, priority: this.master.priority }
          : null;
    return {
      name: this.config.name,
      vrid: this.config.vrid,
      family: this.config.family,
      version: this.config.version,
      state: this.current,
      basePriority: this.basePriority,
      effectivePriority: this.priority,
      advertIntervalMs: centisecondsToMs(this.config.advertInterval),
      masterAdverIntervalMs: centisecondsToMs(this.masterAdverInterval),
      skewTimeMs: this.skewTime(),
      masterDownIntervalMs: this.masterDownInterval(),
      masterDownInMs: this.masterDownAt === undefined ? null : Math.max(0, this.masterDownAt - now),
      advertInMs: this.adverAt === undefined ? null : Math.max(0, this.adverAt - now),
      master,
      faults: this.faults(),
      stats: { ...this.stats },
    };
  }

  // ---- timers ----------------------------------------------------------------------

  private skewTime(): number {
    return skewTimeMs(this.config.version, this.priority, this.masterAdverInterval);
  }

  private masterDownInterval(): number {
    return masterDownIntervalMs(this.config.version, this.priority, this.masterAdverInterval);
  }

  private advertisementIntervalMs(): number {
    return centisecondsToMs(this.config.advertInterval);
  }

  private clearTimers(): void {
    this.masterDownAt = undefined;
    this.adverAt = undefined;
    this.announceDelayAt = undefined;
    this.announceRefreshAt = undefined;
    this.lowerPriorityDelayAt = undefined;
    this.stepDownAdvertAt = undefined;
    this.stepDownAdvertsLeft = 0;
  }

  private tick(now: number, out: RouterAction[]): void {
    // Fire every due timer, earliest first; each firing moves or clears its timer.
    for (let guard = 0; guard < 64; guard++) {
      const due = this.nextDeadline();
      if (due === undefined || due > now) return;
      if (this.masterDownAt === due) this.masterDownFired(now, out);
      else if (this.adverAt === due) this.adverFired(due, now, out);
      else if (this.announceDelayAt === due) {
        this.announceDelayAt = undefined;
        if (this.config.announce.masterRepeat > 0) {
          out.push({ type: 'announce', repeat: this.config.announce.masterRepeat, reason: 'master-delay' });
        }
      } else if (this.lowerPriorityDelayAt === due) {
        this.lowerPriorityDelayAt = undefined;
        out.push({ type: 'announce', repeat: this.config.announce.lowerPriorityRepeat, reason: 'lower-priority-delay' });
      } else if (this.stepDownAdvertAt === due) {
        this.stepDownAdvertFired(due, out);
      } else if (this.announceRefreshAt === due) {
        const refresh = this.config.announce.masterRefreshMs;
        // Like the Adver_Timer: keep the cadence, but re-anchor rather than fire twice when late.
        this.announceRefreshAt = due + refresh > now ? due + refresh : now + refresh;
        out.push({ type: 'announce', repeat: this.config.announce.masterRefreshRepeat, reason: 'refresh' });
      }
    }
  }

  /** RFC 5798 §6.4.2 (365): "If the Master_Down_Timer fires, then: ... Transition to the {Master} state". */
  private masterDownFired(now: number, out: RouterAction[]): void {
    this.masterDownAt = undefined;
    if (this.current !== 'backup') return;
    const verdict = this.askGates(now);
    if (verdict !== true) {
      this.masterDownAt = Math.max(verdict, now);
      return;
    }
    const reason: TransitionReason = this.downTimerFromStop ? 'master-stopped' : this.preempting ? 'preempt' : 'master-down-timer';
    const detail =
      reason === 'master-stopped'
        ? 'the master sent priority 0; Skew_Time passed'
        : reason === 'preempt'
          ? `preempting a lower-priority master (${this.master ? `${this.master.address.text} at ${this.master.priority}` : 'unknown'})`
          : 'no advertisement for Master_Down_Interval';
    this.becomeMaster(now, out, reason, detail);
  }

  /** RFC 5798 §6.4.3 (625): "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset the Adver_Timer to Advertisement_Interval". */
  private adverFired(due: number, now: number, out: RouterAction[]): void {
    this.sendAdvert(out, this.priority);
    this.rearmAdver(due, now);
  }

  /** A repeat of the advert sent on yielding to a higher priority (see masterReceive). */
  private stepDownAdvertFired(due: number, out: RouterAction[]): void {
    this.stepDownAdvertAt = undefined;
    if (this.current !== 'backup' || this.stepDownAdvertsLeft <= 0 || this.stepDownTo === undefined) return;
    out.push({ type: 'send-advert', priority: this.priority, interval: this.config.advertInterval, to: this.stepDownTo });
    this.stats.advertsSent++;
    this.stepDownAdvertsLeft--;
    if (this.stepDownAdvertsLeft > 0) this.stepDownAdvertAt = due + this.advertisementIntervalMs();
  }

  /**
   * Whether a tick at `now` has only the Adver_Timer to fire: it is due, or due within
   * ADVER_TIMER_EARLY_MS (see tickFrom), and no other timer is due.
   */
  private onlyAdverTimerDue(now: number): boolean {
    const adver = this.adverAt;
    if (adver === undefined || adver > now + ADVER_TIMER_EARLY_MS) return false;
    const other = earlier(earlier(this.masterDownAt, this.announceDelayAt), earlier(earlier(this.announceRefreshAt, this.lowerPriorityDelayAt), this.stepDownAdvertAt));
    return other === undefined || other > now;
  }

  private rearmAdver(due: number, now: number): void {
    const interval = this.advertisementIntervalMs();
    // Fired early (ADVER_TIMER_EARLY_MS, together with other instances): RFC 5798 §6.4.3
    // (625) "Reset the Adver_Timer to Advertisement_Interval" from now, so the instances
    // fired together fall due together again. On time or late: keep the cadence anchored
    // to the schedule; if we fell a whole interval behind, re-anchor.
    this.adverAt = now < due ? now + interval : due + interval > now ? due + interval : now + interval;
  }

  // ---- transitions -----------------------------------------------------------------

  private transition(out: RouterAction[], to: RouterState, reason: TransitionReason, detail: string): void {
    const from = this.current;
    this.current = to;
    out.push({ type: 'state-change', from, to, reason, detail });
  }

  private sendAdvert(out: RouterAction[], priority: Priority): void {
    out.push(this.advertAction(priority));
  }

  /** Counts an advert sent and returns its action (one object per priority and interval, shared: actions are read-only). */
  private advertAction(priority: Priority): RouterAction {
    this.stats.advertsSent++;
    if (priority === PRIORITY_STOP) this.stats.priorityZeroSent++;
    const cached = this.lastAdvertAction;
    if (cached && cached.priority === priority && cached.interval === this.config.advertInterval) return cached;
    const action = { type: 'send-advert', priority, interval: this.config.advertInterval } as const;
    this.lastAdvertAction = action;
    return action;
  }

  /** RFC 5798 §6.4.1 Initialize, on Startup — and the way back out of FAULT. */
  private start(now: number, out: RouterAction[], reason: TransitionReason, detail: string): void {
    this.priority = effectivePriority(this.basePriority, this.config.tracked, this.trackerUp);
    const faults = this.faults();
    if (faults.length > 0) {
      this.clearTimers();
      this.transition(out, 'fault', 'fault', faults.join(', '));
      return;
    }
    // (110) "If the Priority = 255 (i.e., the router owns the IPvX address associated
    //        with the virtual router), then: ... Transition to the {Master} state".
    if (this.priority === PRIORITY_OWNER) {
      this.becomeMaster(now, out, 'address-owner', `${detail}; priority 255 owns the addresses`);
      return;
    }
    // (175) "else: Set Master_Adver_Interval to Advertisement_Interval; Set the
    //        Master_Down_Timer to Master_Down_Interval; Transition to the {Backup} state".
    this.masterAdverInterval = this.config.advertInterval;
    this.enterBackup(now, out, reason, detail);
  }

  private enterBackup(now: number, out: RouterAction[], reason: TransitionReason, detail: string): void {
    this.transition(out, 'backup', reason, detail);
    this.clearTimers();
    this.downTimerFromStop = false;
    this.preempting = false;
    // keepalived restarts preempt_delay whenever the instance (re-)enters BACKUP.
    this.preemptAllowedAt = undefined;
    this.masterDownAt = now + this.masterDownInterval();
  }

  private becomeMaster(now: number, out: RouterAction[], reason: TransitionReason, detail: string): void {
    this.clearTimers();
    this.transition(out, 'master', reason, detail);
    this.stats.masterTransitions++;
    this.stats.newMasterReason = reason === 'address-owner' ? 'priority' : reason === 'preempt' ? 'preempted' : 'masterNoResponse';
    this.master = undefined;
    this.preemptAllowedAt = undefined;
    this.lastLowerPriorityAnnounceAt = undefined;
    // RFC 5798 §6.4.3 (555): accept packets for the VIPs if "the IPvX address owner or Accept_Mode is True".
    out.push({ type: 'add-vips', accept: this.config.acceptMode || this.priority === PRIORITY_OWNER });
    // (370) "Send an ADVERTISEMENT"
    this.sendAdvert(out, this.priority);
    // (375)-(420) gratuitous ARP per IPv4 VIP / unsolicited NA per IPv6 VIP.
    const announce = this.config.announce;
    if (announce.masterRepeat > 0) out.push({ type: 'announce', repeat: announce.masterRepeat, reason: 'become-master' });
    if (announce.masterDelayMs > 0) this.announceDelayAt = now + announce.masterDelayMs;
    if (announce.masterRefreshMs > 0) this.announceRefreshAt = now + announce.masterRefreshMs;
    // (425) "Set the Adver_Timer to Advertisement_Interval"
    this.adverAt = now + this.advertisementIntervalMs();
  }

  /** RFC 5798 §6.4.3 (675)-(705): a higher priority master exists; stop and go back to Backup. */
  private becomeBackup(now: number, out: RouterAction[], reason: TransitionReason, detail: string): void {
    this.enterBackup(now, out, reason, detail);
    out.push({ type: 'remove-vips' });
  }

  private shutdown(out: RouterAction[]): void {
    if (this.current === 'initialize') return;
    const wasMaster = this.current === 'master';
    this.clearTimers();
    if (wasMaster) {
      // RFC 5798 §6.4.3 (600): "Cancel the Adver_Timer; Send an ADVERTISEMENT with Priority = 0; Transition to the {Initialize} state".
      this.sendAdvert(out, PRIORITY_STOP);
      out.push({ type: 'remove-vips' });
    }
    // §6.4.2 (345): "Cancel the Master_Down_Timer; Transition to the {Initialize} state".
    this.master = undefined;
    this.transition(out, 'initialize', 'shutdown', 'shut down');
  }

  /** Tracking, interface or priority changed: recompute the priority and enter or leave FAULT. */
  private reassess(now: number, out: RouterAction[], cause: string): void {
    const before = this.priority;
    this.priority = effectivePriority(this.basePriority, this.config.tracked, this.trackerUp);
    if (this.current === 'initialize') return;
    const faults = this.faults();
    if (faults.length > 0) {
      if (this.current === 'fault') return;
      const wasMaster = this.current === 'master';
      this.clearTimers();
      if (wasMaster) {
        // Let the backups take over at once (after Skew_Time) when we can still speak on the link.
        if (this.interfaceUp) this.sendAdvert(out, PRIORITY_STOP);
        out.push({ type: 'remove-vips' });
      }
      this.master = undefined;
      this.transition(out, 'fault', 'fault', `${cause}: ${faults.join(', ')}`);
      return;
    }
    if (this.current === 'fault') {
      this.start(now, out, 'fault-cleared', cause);
      return;
    }
    if (this.priority !== before && this.current === 'master') {
      // Tell the backups the new priority now rather than at the next interval.
      this.sendAdvert(out, this.priority);
      this.adverAt = now + this.advertisementIntervalMs();
    }
  }

  // ---- receiving -------------------------------------------------------------------

  /** RFC 5798 §6.4.2 (440)-(515). */
  private backupReceive(advert: Advert, src: IpAddress, now: number): void {
    if (advert.priority === PRIORITY_STOP) {
      // (475) "If the Priority in the ADVERTISEMENT is zero, then: Set the Master_Down_Timer to Skew_Time".
      this.masterDownAt = now + this.skewTime();
      this.downTimerFromStop = true;
      this.preempting = false;
      this.master = undefined;
      return;
    }
    const lower = advert.priority < this.priority;
    let accept = !this.config.preempt || !lower;
    if (!accept && this.config.preemptDelayMs > 0) {
      // keepalived preempt_delay: keep following a lower-priority master for a while.
      if (this.preemptAllowedAt === undefined) this.preemptAllowedAt = now + this.config.preemptDelayMs;
      accept = now < this.preemptAllowedAt;
    }
    if (accept) {
      // (490) "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater
      //        than or equal to the local Priority, then:
      // (495)   Set Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT
      //        (VRRPv3; a VRRPv2 advert's interval equals ours, RFC 3768 §7.1)
      // (500)   Recompute the Master_Down_Interval
      // (505)   Reset the Master_Down_Timer to Master_Down_Interval"
      if (this.config.version === 3) this.masterAdverInterval = advertIntervalCs(advert);
      this.masterDownAt = now + this.masterDownInterval();
      this.downTimerFromStop = false;
      this.preempting = false;
      this.master = { address: src, priority: advert.priority };
      if (!lower) this.preemptAllowedAt = undefined;
      return;
    }
    // (510) "else: Discard the ADVERTISEMENT" — we will preempt when the timer fires.
    this.preempting = true;
    this.master = { address: src, priority: advert.priority };
  }

  /** RFC 5798 §6.4.3 (645)-(715). */
  private masterReceive(advert: Advert, src: IpAddress, now: number, out: RouterAction[]): void {
    if (advert.priority === PRIORITY_STOP) {
      // (655) "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT;
      //        Reset the Adver_Timer to Advertisement_Interval".
      this.sendAdvert(out, this.priority);
      this.adverAt = now + this.advertisementIntervalMs();
      return;
    }
    // (675) "If the Priority in the ADVERTISEMENT is greater than the local Priority or the
    //        Priority in the ADVERTISEMENT is equal to the local Priority and the primary
    //        IPvX Address of the sender is greater than the local primary IPvX Address
    //        (based on an unsigned integer comparison of the IPvX addresses in network byte
    //        order), then:"
    const higher =
      advert.priority > this.priority ||
      (advert.priority === this.priority && compareAddresses(src, this.config.primaryAddress) > 0);
    if (higher) {
      if (this.config.higherPrioritySendAdvert) this.sendAdvert(out, this.priority);
      // (680)-(705): cancel the Adver_Timer, adopt the advert's interval, recompute
      // Skew_Time and Master_Down_Interval, set the Master_Down_Timer, go Backup.
      if (this.config.version === 3) this.masterAdverInterval = advertIntervalCs(advert);
      this.becomeBackup(
        now,
        out,
        'higher-priority-advert',
        `advert from ${src.text} with priority ${advert.priority} (ours ${this.priority})`,
      );
      this.master = { address: src, priority: advert.priority };
      const repeats = this.config.stepDownAdvertRepeats ?? STEP_DOWN_ADVERT_REPEATS;
      if (this.config.higherPrioritySendAdvert && repeats > 0) {
        // Beyond keepalived's one advert: the same advert again one and two intervals later,
        // sent to the new master alone. A master for a moment (it missed adverts under loss,
        // or the master was cut off) has sent gratuitous ARPs for the VIPs; the new master
        // corrects them only if it hears this router's lower priority (its re-announce at
        // (710)). Under 30 % loss one advert is lost 30 % of the time, three 2.7 %: the lab
        // chaos runner saw clients left on the yielding router's MAC in 1–2 % of its loss
        // steps with one. Unicast, so the other backups, which would take them for the
        // master's adverts (§6.4.2 (485)-(495)), never see them: a priority-0 handover
        // must not be delayed by a backup's repeat.
        this.stepDownAdvertsLeft = repeats;
        this.stepDownAdvertAt = now + this.advertisementIntervalMs();
        this.stepDownTo = src;
      }
      return;
    }
    // (710) "else: Discard ADVERTISEMENT". Another master below us exists — typically the
    // other half of a healed split. Answer at once so it steps down now, and re-announce so
    // neighbours that followed it come back (keepalived: lower_prio_no_advert off,
    // garp_lower_prio_repeat).
    if (!this.config.lowerPriorityNoAdvert) {
      this.sendAdvert(out, this.priority);
      this.adverAt = now + this.advertisementIntervalMs();
    }
    const repeat = this.config.announce.lowerPriorityRepeat;
    const last = this.lastLowerPriorityAnnounceAt;
    if (repeat > 0 && (last === undefined || now - last >= this.advertisementIntervalMs())) {
      this.lastLowerPriorityAnnounceAt = now;
      out.push({ type: 'announce', repeat, reason: 'lower-priority-advert' });
    }
    // The other side announces too (its become-master burst), possibly after our immediate
    // burst reached the neighbours: announce again once its burst is over, counted from its
    // latest advert, so every spurious advert gets a corrective announcement after it.
    const delay = this.config.announce.lowerPriorityDelayMs;
    if (repeat > 0 && delay > 0) this.lowerPriorityDelayAt = now + delay;
  }
}
