/**
 * quorum.provider corosync: the node's quorum verdict comes from the corosync 3 running
 * on it (votequorum), not from vigil's heartbeats. vigil sends no heartbeats; membership,
 * votes, expected votes and corosync's own rules (two_node, wait_for_all,
 * last_man_standing, auto_tie_breaker, a qdevice's vote) are corosync's.
 *
 * Driven by Node's loop: the votequorum descriptor is polled (uv_poll, the main addon)
 * and each readiness runs votequorum_dispatch(CS_DISPATCH_ALL); no timer polls corosync.
 * The only timer is the reconnect backoff while corosync is away.
 *
 * corosync not running, stopped or restarting = not quorate (votequorum(5): "activity
 * blocked" is all a node can assume without its membership layer): the verdict follows
 * no_quorum_policy as for an inquorate node, the disconnect is logged and shown in
 * status, and vigil reconnects with a backoff (250 ms doubling to 5 s) until corosync
 * answers again. It never throws out of a callback.
 *
 * What it learns goes on the daemon's event stream, as the own provider's does (so `vigil
 * events`, the notifiers and the monitors see it, and the log subscriber logs it):
 * quorum-changed (corosync's quorate flag, or the connection lost while quorate),
 * member-joined / member-left (corosync's membership, this node excluded), quorum-verdict,
 * and quorum-provider (the connection to corosync lost or restored). Across a lost
 * connection the membership last reported stands: the other nodes did not leave because
 * this node's corosync restarted, so only a real difference after the reconnect is an event.
 */
import { errorText } from '../base/error-text.js';
import { EventStream } from '../events/stream.js';
import { logEvents } from './event-log.js';
import { quorumOptionChanges } from './quorum-reload.js';
import type { QuorumConfig } from '../config/types.js';
import type { QuorumChange, QuorumMemberStatus } from '../quorum/engine.js';
import { toNodeId, type NodeId } from '../quorum/types.js';
import { corosyncBinding, isCorosyncError, NODESTATE, type CorosyncBinding, type CorosyncNotification, type VotequorumInfo } from '../native/corosync.js';
import { native, type PollHandle } from '../native/index.js';
import type { Logger } from './logger.js';
import { policyVerdict, type QuorumServiceStatus, type QuorumVerdict } from './quorum-service.js';
import type { Scheduler } from './scheduler.js';

const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5000;

export interface CorosyncState {
  readonly connected: boolean;
  /** corosync-quorumtool's "Ring ID": the representative's node id and the ring's sequence, in hex. */
  readonly ringId: string | null;
  /** The last failure (connect or dispatch), or null. */
  readonly lastError: string | null;
  /** How long ago the connection came up or went down (ms). */
  readonly sinceMsAgo: number;
  readonly disconnects: number;
  /** The quorum device, when one is registered (corosync-qdevice). */
  readonly qdevice: { readonly name: string; readonly votes: number; readonly alive: boolean; readonly castVote: boolean } | null;
}

export interface CorosyncQuorumStatus extends QuorumServiceStatus {
  readonly provider: 'corosync';
  readonly corosync: CorosyncState;
}

interface Connection {
  readonly id: number;
  readonly poll: PollHandle;
}

export class CorosyncQuorum {
  /** Which quorum.provider this is (reload-sections.ts tells the two apart without loading either). */
  readonly provider = 'corosync' as const;
  private conn: Connection | undefined;
  private localId = 0;
  private info: VotequorumInfo | undefined;
  /** From the last quorum notification (or getinfo before the first one arrives). */
  private quorate = false;
  private members: number[] = [];
  /** The membership as last emitted (member-joined / member-left), kept across reconnects. */
  private announced = new Set<number>();
  private votes = new Map<number, number>();
  private names = new Map<number, string>();
  private ring: { nodeId: number; seq: bigint } | undefined;
  private waiting = false;
  private lastError: string | null = null;
  private since: number;
  private disconnects = 0;
  private backoffMs = RECONNECT_FIRST_MS;
  private verdictNow: QuorumVerdict;
  private closed = false;
  private readonly retryKey = {};
  /** Set when corosync's failure detection is not shorter than the shortest Master_Down_Interval here. */
  private timingWarning: string | undefined;

  private constructor(
    private config: QuorumConfig,
    private readonly binding: CorosyncBinding,
    private readonly scheduler: Scheduler,
    private readonly now: () => number,
    private readonly log: Logger,
    private readonly onVerdict: (verdict: QuorumVerdict, why: string) => void,
    private readonly shortestMasterDownMs: number | undefined,
    private readonly events: EventStream,
  ) {
    this.since = now();
    this.verdictNow = policyVerdict(false, config.noQuorumPolicy);
  }

  /**
   * Loads the client libraries (throws "corosync client libraries not available" where
   * the addon was not built) and connects; a corosync that is not running yet is not an
   * error: the node stays inquorate and vigil keeps trying.
   */
  static open(
    config: QuorumConfig,
    scheduler: Scheduler,
    now: () => number,
    log: Logger,
    onVerdict: (verdict: QuorumVerdict, why: string) => void,
    /** The shortest Master_Down_Interval of this node's instances, to check corosync's timing against. */
    shortestMasterDownMs?: number,
    /** The daemon's event stream; without it, a stream of the service's own, logged to `log`. */
    events?: EventStream,
    /** The client libraries; tests of the addon-less paths only. */
    binding: CorosyncBinding = corosyncBinding(),
  ): CorosyncQuorum {
    const stream = events ?? ownStream(log);
    const service = new CorosyncQuorum(config, binding, scheduler, now, log, onVerdict, shortestMasterDownMs, stream);
    service.connect();
    log.log('info', 'quorum-started', { provider: 'corosync', connected: service.conn !== undefined, node: service.localId, quorate: service.quorate, verdict: service.verdictNow });
    return service;
  }

  get verdict(): QuorumVerdict {
    return this.verdictNow;
  }

  private connect(): void {
    if (this.closed || this.conn) return;
    let id: number | undefined;
    try {
      const c = this.binding.connect();
      id = c.id;
      this.localId = c.localNodeId;
      const poll = native().poll(c.fd, (error) => this.readable(error));
      this.conn = { id: c.id, poll };
    } catch (e) {
      if (id !== undefined) this.binding.disconnect(id);
      const detail = describe(e);
      // One line per distinct failure, not one per attempt.
      if (detail !== this.lastError) this.log.log('warn', 'corosync-connect-failed', { detail, retry_ms: this.backoffMs });
      this.lastError = detail;
      this.retryLater();
      return;
    }
    this.events.emit({ kind: 'quorum-provider', provider: 'corosync', connected: true, node: this.localId, disconnects: this.disconnects });
    this.since = this.now();
    this.backoffMs = RECONNECT_FIRST_MS;
    this.lastError = null;
    try {
      this.refresh(true);
      if (this.conn) this.checkTiming(this.binding.totem(this.conn.id));
    } catch (e) {
      this.lost(describe(e));
      return;
    }
    // Until the first quorum notification, getinfo's flag says whether this node is quorate.
    this.setQuorate(((this.info?.flags ?? 0) & this.binding.flags.QUORATE) !== 0, 'corosync-connected');
    this.reassess('corosync-connected');
  }

  /**
   * An isolated master steps down once corosync says it is alone: after the token timeout
   * and consensus (totem: "token timed out ..., waiting ... for consensus"). If the others'
   * VRRP takes over sooner (Master_Down_Interval), both sides hold the VIP meanwhile.
   */
  private checkTiming(totem: { token: number; consensus: number }): void {
    if (this.shortestMasterDownMs === undefined) return;
    const detection = totem.token + (totem.consensus || Math.round(1.2 * totem.token));
    const before = this.timingWarning;
    this.timingWarning =
      detection >= this.shortestMasterDownMs
        ? `corosync notices a lost node after about ${detection} ms (token ${totem.token} + consensus ${detection - totem.token}), later than Master_Down_Interval (${Math.round(this.shortestMasterDownMs)} ms): a cut-off master keeps its VIP while the others take over; lower totem.token or raise advert_interval`
        : undefined;
    if (this.timingWarning !== undefined && this.timingWarning !== before) this.log.log('warn', 'corosync-timing', { detail: this.timingWarning });
  }

  private retryLater(): void {
    if (this.closed) return;
    this.scheduler.set(this.retryKey, this.now() + this.backoffMs, () => this.connect());
    this.backoffMs = Math.min(RECONNECT_MAX_MS, this.backoffMs * 2);
  }

  /** The votequorum descriptor is readable: notifications, or corosync hung up. */
  private readable(error?: Error): void {
    const conn = this.conn;
    if (!conn || this.closed) return;
    let notifications: CorosyncNotification[];
    try {
      if (error && (error as { code?: string }).code === 'EBADF') throw error;
      notifications = this.binding.dispatch(conn.id);
    } catch (e) {
      this.lost(describe(e));
      return;
    }
    let nodelistChanged = false;
    let quorate = this.quorate;
    for (const n of notifications) {
      if (n.type === 'quorum') {
        quorate = n.quorate;
        this.members = n.nodes.filter((x) => x.state === NODESTATE.MEMBER).map((x) => x.id);
      } else if (n.type === 'nodelist') {
        this.ring = n.ringId;
        this.members = [...n.members];
        nodelistChanged = true;
      } else {
        this.log.log('info', 'expected-votes', { to: n.expectedVotes, rule: 'corosync' });
      }
    }
    try {
      this.refresh(nodelistChanged);
    } catch (e) {
      this.lost(describe(e));
      return;
    }
    this.announceMembers();
    this.setQuorate(quorate, 'corosync');
    this.reassess('quorum');
  }

  /** getinfo for this node and the members' votes; the names again when the membership changed. */
  private refresh(names: boolean): void {
    const conn = this.conn;
    if (!conn) return;
    this.info = this.binding.getinfo(conn.id, this.localId);
    const votes = new Map<number, number>();
    for (const m of this.members) {
      try {
        votes.set(m, this.binding.getinfo(conn.id, m).nodeVotes);
      } catch {
        votes.set(m, this.votes.get(m) ?? 1);
      }
    }
    this.votes = votes;
    this.waiting = this.binding.waitingForAll(conn.id);
    if (names || this.names.size === 0) this.names = new Map(this.binding.nodes(conn.id).map((n) => [n.id, n.name]));
  }

  /** member-joined / member-left for the difference between corosync's membership and the one last emitted. */
  private announceMembers(): void {
    const now = new Set(this.members.filter((m) => m !== this.localId));
    const reason = this.ring ? `corosync ring ${ringText(this.ring)}` : 'corosync';
    for (const m of this.announced) if (!now.has(m)) this.events.emit({ kind: 'member-left', node: m, name: this.names.get(m) ?? `node${m}`, silentMs: 0, reason });
    for (const m of now) if (!this.announced.has(m)) this.events.emit({ kind: 'member-joined', node: m, name: this.names.get(m) ?? `node${m}`, reason });
    this.announced = now;
  }

  /** quorum-changed when the flag changes (corosync's own, or lost with the connection). */
  private setQuorate(quorate: boolean, reason: string): void {
    if (quorate === this.quorate) return;
    this.quorate = quorate;
    const members = this.members.map((m) => this.names.get(m) ?? `node${m}`).join(', ');
    const detail = reason === 'corosync-disconnected' ? `corosync is not reachable (${this.lastError ?? 'disconnected'})` : `members ${members || '-'}${this.ring ? ` (ring ${ringText(this.ring)})` : ''}`;
    const votes = this.conn ? (this.info?.totalVotes ?? 0) : 0;
    this.events.emit({ kind: 'quorum-changed', quorate, reason, detail, votes, expectedVotes: this.info?.nodeExpectedVotes ?? 0 });
  }

  /** corosync went away (CS_ERR_LIBRARY, a hang-up): inquorate now, reconnect with backoff. */
  private lost(detail: string): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    conn.poll.stop();
    try {
      this.binding.disconnect(conn.id);
    } catch {
      // finalize on a dead connection: nothing left to release
    }
    this.disconnects++;
    this.lastError = detail;
    this.since = this.now();
    this.events.emit({ kind: 'quorum-provider', provider: 'corosync', connected: false, node: this.localId, disconnects: this.disconnects, detail, retryMs: this.backoffMs });
    this.setQuorate(false, 'corosync-disconnected');
    this.members = [];
    this.ring = undefined;
    this.reassess('corosync-disconnected');
    this.retryLater();
  }

  /**
   * SIGHUP: with corosync deciding, only no_quorum_policy is vigil's (the loader refuses the
   * other keys); the verdict follows it at once. Returns the options that changed.
   */
  reload(next: QuorumConfig): { readonly name: string; readonly change: string; readonly detail: string }[] {
    const changes = quorumOptionChanges(this.config, next);
    this.config = next;
    this.reassess('reload');
    return changes;
  }

  private reassess(why: string): void {
    const verdict = policyVerdict(this.conn !== undefined && this.quorate, this.config.noQuorumPolicy);
    if (verdict === this.verdictNow) return;
    const from = this.verdictNow;
    this.verdictNow = verdict;
    this.events.emit({ kind: 'quorum-verdict', from, to: verdict, why, quorate: this.quorate });
    // 'quorum' (not a corosync event name) so the daemon's regained-quorum listen period applies.
    this.onVerdict(verdict, 'quorum');
  }

  private refusal(command: 'set-expected' | 'unblock', detail: string): readonly QuorumChange[] {
    this.log.log('warn', 'quorum-command-refused', { command, reason: 'provider-error', detail });
    return [{ type: 'refused', command, reason: 'provider-error', detail }];
  }

  /** `vigil quorum unblock`: corosync's cancel_wait_for_all (what pcs quorum unblock sets). */
  unblock(): readonly QuorumChange[] {
    if (!this.conn) return this.refusal('unblock', `corosync is not reachable (${this.lastError ?? 'not connected'})`);
    if (!this.waiting) return [{ type: 'refused', command: 'unblock', reason: 'not-waiting', detail: 'corosync is not waiting for all nodes (runtime.votequorum.wait_for_all_status is 0)' }];
    try {
      this.binding.cancelWaitForAll(this.conn.id);
      this.waiting = this.binding.waitingForAll(this.conn.id);
    } catch (e) {
      return this.refusal('unblock', describe(e));
    }
    return [];
  }

  /** `vigil quorum expected N`: votequorum_setexpected (corosync-quorumtool -e N). */
  setExpected(votes: number): readonly QuorumChange[] {
    if (!Number.isInteger(votes) || votes < 1) return [{ type: 'refused', command: 'set-expected', reason: 'invalid-value', detail: `${votes} is not a positive whole number` }];
    if (!this.conn) return this.refusal('set-expected', `corosync is not reachable (${this.lastError ?? 'not connected'})`);
    try {
      this.binding.setExpected(this.conn.id, votes);
      this.refresh(false);
    } catch (e) {
      return this.refusal('set-expected', describe(e));
    }
    return [];
  }

  status(): CorosyncQuorumStatus {
    const info = this.info;
    const f = this.binding.flags;
    const has = (bit: number): boolean => ((info?.flags ?? 0) & bit) !== 0;
    const connected = this.conn !== undefined;
    const quorate = connected && this.quorate;
    const members: QuorumMemberStatus[] = this.members.map((id) => ({ id: toNodeId(id), name: this.names.get(id) ?? `node${id}`, votes: this.votes.get(id) ?? 1, local: id === this.localId }));
    const warnings: string[] = [];
    if (!connected) warnings.push(`corosync is not reachable: this node counts as inquorate (${this.lastError ?? 'connecting'})`);
    if (this.config.noQuorumPolicy === 'ignore') warnings.push('no_quorum_policy is ignore: an inquorate node may become master');
    if (this.timingWarning !== undefined) warnings.push(this.timingWarning);
    if (has(f.TWONODE)) warnings.push('corosync two_node: a cut link leaves both nodes quorate; fence them (Pacemaker stonith) or use corosync-qdevice');
    return {
      provider: 'corosync',
      localId: this.localId as NodeId,
      quorate,
      expectedVotes: info?.nodeExpectedVotes ?? 0,
      highestExpected: info?.highestExpected ?? 0,
      totalVotes: connected ? (info?.totalVotes ?? 0) : 0,
      quorum: info?.quorum ?? 0,
      flags: { twoNode: has(f.TWONODE), quorate, waitForAll: has(f.WAIT_FOR_ALL), lastManStanding: has(f.LAST_MAN_STANDING), autoTieBreaker: has(f.AUTO_TIE_BREAKER) },
      waitingForAll: this.waiting,
      activityBlocked: !quorate,
      members,
      lastManStandingDeadline: null,
      verdict: this.verdictNow,
      noQuorumPolicy: this.config.noQuorumPolicy,
      warnings,
      tieBreaker: null,
      peers: [...this.names]
        .filter(([id]) => id !== this.localId)
        .map(([id, name]) => ({ id, name, address: '', member: this.members.includes(id), lastHeardMsAgo: null })),
      heartbeats: { sent: 0, accepted: 0, rejected: {} },
      corosync: {
        connected,
        ringId: this.ring ? ringText(this.ring) : null,
        lastError: this.lastError,
        sinceMsAgo: Math.round(this.now() - this.since),
        disconnects: this.disconnects,
        qdevice: has(f.QDEVICE_REGISTERED) && info ? { name: info.qdeviceName, votes: info.qdeviceVotes, alive: has(f.QDEVICE_ALIVE), castVote: has(f.QDEVICE_CAST_VOTE) } : null,
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.set(this.retryKey, undefined, () => undefined);
    const conn = this.conn;
    this.conn = undefined;
    if (conn) {
      conn.poll.stop();
      this.binding.disconnect(conn.id);
    }
    return Promise.resolve();
  }
}

function ownStream(log: Logger): EventStream {
  const stream = new EventStream();
  logEvents(stream, log);
  return stream;
}

/** corosync-quorumtool's format: "%x.%llx". */
function ringText(ring: { nodeId: number; seq: bigint }): string {
  return `${ring.nodeId.toString(16)}.${ring.seq.toString(16)}`;
}

function describe(e: unknown): string {
  if (isCorosyncError(e)) return e.code === 'CS_ERR_LIBRARY' ? `${e.message}: corosync is not running or went away` : e.message;
  return errorText(e);
}
