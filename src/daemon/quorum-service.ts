/**
 * Quorum at the daemon's edge: heartbeats on UDP (src/quorum/io/transport.ts), checked
 * (heartbeat.ts: HMAC, cluster) and counted, fed to the membership tracker and the pure
 * votequorum engine, and — for a two-node split — the tie-breaker's checks. What comes
 * out is one verdict for the VRRP side:
 *
 * - 'hold': this node may be master (quorate, and not a two-node split the tie-breaker lost);
 * - 'keep': no takeover, but a master stays master (a tie-breaker still deciding, or
 *   no_quorum_policy freeze while inquorate);
 * - 'release': masters step down and nobody takes over (inquorate with no_quorum_policy stop,
 *   or a two-node split whose tie-breaker failed).
 *
 * A reload (`reload`) applies a new section to the running service: the engine
 * recomputes with the new options and the current membership (no new engine, so no
 * moment without members), the membership keeps its members under the new node list and
 * timeout, the heartbeat socket is opened anew only when its address, port or
 * destinations changed, and a new key is rotated in (KEY_ROTATION_WINDOW_MS). What a
 * reload may change is decided in quorum-reload.ts.
 */
import { networkInterfaces } from 'node:os';
import type { QuorumConfig } from '../config/types.js';
import { canonical } from '../base/canonical.js';
import { QuorumEngine, validateQuorumConfig, type QuorumChange, type QuorumStatus, type ValidatedQuorumConfig } from '../quorum/engine.js';
import { KEY_ROTATION_WINDOW_MS, bindKey, quorumOptionChanges, unicastPeers } from './quorum-reload.js';
import { HEARTBEAT_LENGTH, clusterId, decodeHeartbeat, encodeHeartbeatInto, newBootEpoch, type HeartbeatMac } from '../quorum/heartbeat.js';
import { nativeHeartbeatMac } from '../quorum/io/hmac.js';
import { Membership, type MembershipEvent, type RejectionReason } from '../quorum/membership.js';
import { fenceCheck, pingCheck, tcpCheck, type CheckResult } from '../quorum/io/tie-breaker.js';
import { HeartbeatTransport, type HeartbeatTransportError, type HeartbeatTransportOptions, type SendReport } from '../quorum/io/transport.js';
import { SAVE_EVERY_MS, loadReplayFloors, saveReplayState } from './replay-store.js';
import type { NodeId, QuorumNode } from '../quorum/types.js';
import type { Logger } from './logger.js';
import type { Scheduler } from './scheduler.js';
import { EventStream } from '../events/stream.js';
import { logEvents } from './event-log.js';
import { errorText } from '../base/error-text.js';

export type QuorumVerdict = 'hold' | 'keep' | 'release';

export interface TieBreakerStatus {
  /** A two-node split is on: the peer is unreachable. */
  readonly split: boolean;
  readonly state: 'idle' | 'checking' | 'won' | 'lost';
  readonly fenced: boolean;
  readonly lastChecks: readonly CheckResult[];
}

export interface QuorumServiceStatus extends QuorumStatus {
  readonly verdict: QuorumVerdict;
  readonly noQuorumPolicy: QuorumConfig['noQuorumPolicy'];
  readonly warnings: readonly string[];
  readonly tieBreaker: TieBreakerStatus | null;
  readonly peers: readonly { readonly id: number; readonly name: string; readonly address: string; readonly member: boolean; readonly lastHeardMsAgo: number | null }[];
  readonly heartbeats: { readonly sent: number; readonly accepted: number; readonly rejected: Readonly<Partial<Record<RejectionReason, number>>> };
}

/**
 * The verdict of quorum alone under no_quorum_policy, for every provider (vigil's
 * heartbeats, corosync): ignore holds regardless; inquorate releases (stop) or keeps
 * masters without takeover (freeze). Quorate is 'hold' before any tie-breaker.
 */
export function policyVerdict(quorate: boolean, policy: QuorumConfig['noQuorumPolicy']): QuorumVerdict {
  if (policy === 'ignore' || quorate) return 'hold';
  return policy === 'freeze' ? 'keep' : 'release';
}

/** The node of `config.nodes` whose address is on one of this machine's interfaces. */
/** The engine config of a section for the local node `localId`, validated; throws naming what is wrong. */
export function engineConfigOf(config: QuorumConfig, localId: NodeId): { readonly config: ValidatedQuorumConfig; readonly warnings: readonly string[] } {
  const nodes: QuorumNode[] = config.nodes.map((n) => ({ id: n.id, name: n.name, votes: n.votes }));
  const validation = validateQuorumConfig({
    nodes,
    localId,
    ...(config.expectedVotes !== undefined ? { expectedVotes: config.expectedVotes } : {}),
    twoNode: config.twoNode,
    waitForAll: config.waitForAll,
    lastManStanding: config.lastManStanding,
    lastManStandingWindowMs: config.lastManStandingWindowMs,
    autoTieBreaker: config.autoTieBreaker,
    autoTieBreakerNode: config.autoTieBreakerNode,
  });
  if (!validation.ok) throw new Error(`quorum: ${validation.errors.map((e) => e.message).join('; ')}`);
  return { config: validation.config, warnings: validation.warnings.map((w) => w.message) };
}

export function findLocalNode(config: QuorumConfig): NodeId | undefined {
  if (config.nodeId !== undefined) return config.nodeId;
  const local = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) local.add(a.address.split('%')[0] ?? '');
  return config.nodes.find((n) => local.has(n.address.text))?.id;
}

/** What the service needs of its heartbeat transport (transport.ts's UDP one, or a simulated segment's). */
export interface HeartbeatPort {
  readonly localAddress: string;
  readonly port: number;
  readonly destinations: readonly string[];
  /** Sends (or copies) `bytes` before it returns: the caller reuses the buffer for the next heartbeat. */
  send(bytes: Uint8Array): Promise<SendReport>;
  /** Unicast: the peers changed (a reload), same socket. */
  setPeers(peers: readonly string[]): void;
  /** Takes in what is already queued (before acting on an expired membership timer); returns how many. */
  drain(): number;
  close(): Promise<void>;
}

/**
 * What QuorumService.open may be given instead of the system's: the simulated cluster of
 * test/support/sim-cluster.ts passes a heartbeat transport on its segment and a boot epoch
 * from its virtual clock (a restart there can fall in the same wall-clock millisecond).
 */
export interface QuorumServicePorts {
  /** Default: UDP (HeartbeatTransport.open). */
  readonly openTransport?: (options: HeartbeatTransportOptions) => Promise<HeartbeatPort>;
  /** Default: newBootEpoch() (wall-clock ms and 16 random bits). */
  readonly epoch?: bigint;
}

export class QuorumService {
  /** Which quorum.provider this is (reload-sections.ts tells the two apart without loading either). */
  readonly provider = 'vigil' as const;
  private sequence = 0n;
  /** The transport's opener (QuorumServicePorts): the system's UDP, or a simulated segment's. */
  private ports: QuorumServicePorts = {};
  private sent = 0;
  private verdictNow: QuorumVerdict = 'release';
  private readonly keys = { heartbeat: {}, membership: {}, engine: {}, tieBreaker: {}, replaySave: {} };
  /** Where the replay state is kept across restarts (replay-store.ts); undefined: not kept. */
  private stateDir: string | undefined;
  private replayDirty = false;
  private replaySavedAt = -Infinity;
  private tb: { split: boolean; state: TieBreakerStatus['state']; fenced: boolean; lastChecks: CheckResult[]; running: boolean } = {
    split: false,
    state: 'idle',
    fenced: false,
    lastChecks: [],
    running: false,
  };
  private closed = false;
  /**
   * Destinations whose sends fail (a link down gives ENETUNREACH every heartbeat): the
   * first failure and the recovery are logged, not each repetition.
   */
  private readonly failing = new Map<string, { readonly since: number; failures: number }>();
  private roundErrors = new Set<string>();
  /** The cluster name's 32-bit id, as heartbeats carry it (a SHA-256, so computed once). */
  private readonly clusterId: number;

  /** The key being rotated out: still accepted and still signed with, until every peer sent with the new one or `until`. */
  private retiringKey: { readonly mac: HeartbeatMac; readonly until: number; readonly confirmed: Set<NodeId> } | undefined;
  /** HMAC-SHA256 under `key` on the addon, prepared once per key (no object made per heartbeat). */
  private mac: HeartbeatMac;
  /** Each heartbeat is encoded here: the transport sends it before send() returns. */
  private readonly sendBuffer = Buffer.alloc(HEARTBEAT_LENGTH);
  /** The callbacks given per heartbeat (scheduler, send), made once. */
  private readonly onHeartbeatDue = (): void => this.sendHeartbeat();
  private readonly onMembershipDue = (): void => this.membershipDue();
  private readonly onSent = (): void => this.afterSend();

  private constructor(
    private config: QuorumConfig,
    private readonly localId: NodeId,
    private self: QuorumConfig['nodes'][number],
    private key: Buffer,
    private readonly engine: QuorumEngine,
    private readonly membership: Membership,
    private transport: HeartbeatPort | undefined,
    private readonly scheduler: Scheduler,
    private readonly now: () => number,
    private readonly log: Logger,
    private readonly onVerdict: (verdict: QuorumVerdict, why: string) => void,
    private warningList: readonly string[],
    private readonly events: EventStream,
    private readonly epoch: bigint,
  ) {
    this.clusterId = clusterId(config.clusterName);
    this.mac = nativeHeartbeatMac(key);
  }

  /** Validates, opens the heartbeat socket and starts sending. Throws with a message naming what failed. */
  static async open(
    config: QuorumConfig,
    localId: NodeId,
    key: Buffer,
    scheduler: Scheduler,
    now: () => number,
    log: Logger,
    onVerdict: (verdict: QuorumVerdict, why: string) => void,
    /** The daemon's event stream (its log subscriber logs the quorum events); without it, a stream of the service's own, logged to `log`. */
    events?: EventStream,
    /** global.state_dir: the heartbeat replay state is kept there across restarts. */
    stateDir?: string,
    ports: QuorumServicePorts = {},
  ): Promise<QuorumService> {
    const stream = events ?? QuorumService.ownStream(log);
    const nodes: QuorumNode[] = config.nodes.map((n) => ({ id: n.id, name: n.name, votes: n.votes }));
    const validation = engineConfigOf(config, localId);
    for (const w of validation.warnings) log.log('warn', 'quorum-warning', { detail: w });
    const warnings = QuorumService.statusWarnings(config, validation);
    const t = now();
    const engine = new QuorumEngine(validation.config, t);
    const membership = new Membership({ nodes, localId, timeoutMs: config.heartbeatTimeoutMs });
    const self = config.nodes.find((n) => n.id === localId);
    if (!self) throw new Error(`quorum: node id ${localId} is not in quorum.nodes`);
    const service = new QuorumService(config, localId, self, key, engine, membership, undefined, scheduler, now, log, onVerdict, warnings, stream, ports.epoch ?? newBootEpoch());
    if (stateDir !== undefined) {
      service.stateDir = stateDir;
      try {
        for (const [id, floor] of loadReplayFloors(stateDir, config.heartbeatIntervalMs)) membership.raiseReplayFloor(id, floor);
      } catch (e) {
        log.log('error', 'heartbeat-replay-state', { detail: errorText(e) });
      }
    }
    service.ports = ports;
    service.transport = await service.openTransport(config, self);
    service.verdictNow = service.computeVerdict();
    service.sendHeartbeat();
    service.armEngine();
    log.log('info', 'quorum-started', {
      node: localId,
      name: self.name,
      nodes: config.nodes.length,
      quorate: engine.quorate,
      waiting_for_all: engine.status().waitingForAll,
      verdict: service.verdictNow,
    });
    return service;
  }

  /** The heartbeat socket of a section. */
  private openTransport(config: QuorumConfig, self: QuorumConfig['nodes'][number]): Promise<HeartbeatPort> {
    const family = self.address.family;
    return (this.ports.openTransport ?? HeartbeatTransport.open)({
      family,
      port: config.port,
      ...(config.transport === 'multicast' && config.interface !== undefined ? { interface: config.interface } : { localAddress: self.address.text }),
      destination:
        config.transport === 'multicast'
          ? { kind: 'multicast', group: config.multicastGroup.text }
          : { kind: 'unicast', peers: unicastPeers(config, this.localId) },
      onMessage: (bytes, source, ageMs) => this.receive(bytes, source.address, ageMs),
      onError: (e) => this.transportError(e),
    });
  }

  /** What status repeats every time: the validation's warnings, and two the loader logged at start. */
  private static statusWarnings(config: QuorumConfig, validation: ReturnType<typeof engineConfigOf>): string[] {
    const warnings = [...validation.warnings];
    if (config.noQuorumPolicy === 'ignore') warnings.push('no_quorum_policy is ignore: an inquorate node may become master');
    if (validation.config.twoNode && config.tieBreaker === undefined && config.noQuorumPolicy !== 'ignore') {
      warnings.push('two_node without a tie_breaker: a cut link leaves both nodes quorate and both master (corosync two_node without fencing)');
    }
    return warnings;
  }

  get warnings(): readonly string[] {
    return this.warningList;
  }

  /**
   * Checks a new section for this node without applying anything: the same node, valid
   * options. Throws naming what is wrong (the whole reload is then refused).
   */
  checkReload(next: QuorumConfig, nextLocalId: NodeId | undefined): void {
    if (nextLocalId !== this.localId) {
      throw new Error(`quorum: this node is ${this.localId}${nextLocalId === undefined ? ', and none of the new nodes is on this machine' : `, the new config makes it ${nextLocalId}`}; a change of node takes effect on restart`);
    }
    engineConfigOf(next, this.localId);
    if (!next.nodes.some((n) => n.id === this.localId)) throw new Error(`quorum: node id ${this.localId} is not in quorum.nodes`);
  }

  /**
   * SIGHUP: applies `next` (checked by checkReload) and the key read from its key_file.
   * Returns the options that changed. The verdict moves only if the new options and the
   * current members say so, once, after everything is applied.
   */
  async reload(next: QuorumConfig, key: Buffer): Promise<{ readonly name: string; readonly change: string; readonly detail: string }[]> {
    const old = this.config;
    const changes = quorumOptionChanges(old, next);
    const now = this.now();
    const validation = engineConfigOf(next, this.localId);
    const self = next.nodes.find((n) => n.id === this.localId);
    if (!self) throw new Error(`quorum: node id ${this.localId} is not in quorum.nodes`);
    const rebind = bindKey(old, this.localId) !== bindKey(next, this.localId);
    const peers = unicastPeers(next, this.localId);
    if (!rebind && canonical(peers) !== canonical(unicastPeers(old, this.localId))) {
      this.transport?.setPeers(peers);
      changes.push({ name: 'transport', change: 'peers', detail: `heartbeats to ${peers.join(', ')} (same socket)` });
    }
    this.config = next;
    this.self = self;
    const before = new Set(this.warningList);
    for (const w of validation.warnings) if (!before.has(w)) this.log.log('warn', 'quorum-warning', { detail: w });
    this.warningList = QuorumService.statusWarnings(next, validation);
    // The engine first, with the new options and the members it has: a member the new node
    // list drops leaves there, so that the membership's own 'left' finds nothing to change.
    const engineChanges = this.engine.handle({ type: 'reconfigure', config: validation.config }, now);
    const nodes: QuorumNode[] = next.nodes.map((n) => ({ id: n.id, name: n.name, votes: n.votes }));
    const left = this.membership.reconfigure({ nodes, localId: this.localId, timeoutMs: next.heartbeatTimeoutMs }, now);
    if (!key.equals(this.key)) {
      this.retiringKey = { mac: this.mac, until: now + KEY_ROTATION_WINDOW_MS, confirmed: new Set() };
      this.key = key;
      this.mac = nativeHeartbeatMac(key);
      changes.push({ name: 'key', change: 'rotating', detail: `both keys accepted and sent until every peer sends with the new one (at most ${KEY_ROTATION_WINDOW_MS / 1000} s)` });
    }
    if (rebind) {
      const previous = this.transport;
      this.transport = undefined;
      await previous?.close();
      try {
        this.transport = await this.openTransport(next, self);
      } catch (e) {
        this.log.log('error', 'heartbeat-transport', { detail: `reopening the heartbeat socket: ${errorText(e)}; trying the previous address and port` });
        this.transport = await this.openTransport(old, old.nodes.find((n) => n.id === this.localId) ?? self);
      }
      changes.push({ name: 'transport', change: 'rebound', detail: `${this.transport.localAddress} port ${this.transport.port} to ${this.transport.destinations.join(', ')}` });
    }
    if (old.heartbeatIntervalMs !== next.heartbeatIntervalMs || rebind) this.sendHeartbeat();
    // Everything is in place (the tie-breaker's config and the policy included): the
    // engine's changes, then what the membership's new node list and timeout did.
    this.applyChanges(engineChanges);
    this.afterMembership(left, now);
    return changes;
  }

  private static ownStream(log: Logger): EventStream {
    const stream = new EventStream();
    logEvents(stream, log);
    return stream;
  }

  get verdict(): QuorumVerdict {
    return this.verdictNow;
  }

  private sendHeartbeat(): void {
    if (this.closed || !this.transport) return;
    const now = this.now();
    if (this.retiringKey !== undefined && now >= this.retiringKey.until) this.retireKey('window over', now);
    // While a key is rotated out, a copy signed with it first (a peer not reloaded yet
    // accepts that one), then the one with the new key; each has its own sequence number.
    if (this.retiringKey !== undefined) this.sendSigned(this.retiringKey.mac);
    this.sendSigned(this.mac);
    this.scheduler.set(this.keys.heartbeat, this.now() + this.config.heartbeatIntervalMs, this.onHeartbeatDue);
  }

  private sendSigned(mac: HeartbeatMac): void {
    if (!this.transport) return;
    this.sequence += 1n;
    const bytes = encodeHeartbeatInto({ cluster: this.config.clusterName, report: this.engine.selfReport(), votes: this.self.votes, epoch: this.epoch, sequence: this.sequence }, mac, this.sendBuffer);
    this.sent++;
    void this.transport.send(bytes).then(this.onSent);
  }

  private transportError(e: HeartbeatTransportError): void {
    if (e.operation !== 'send' || e.destination === undefined) {
      this.log.log('warn', 'heartbeat-transport', { detail: e.message });
      return;
    }
    this.roundErrors.add(e.destination);
    const held = this.failing.get(e.destination);
    if (held) {
      held.failures++;
      return;
    }
    this.failing.set(e.destination, { since: this.now(), failures: 1 });
    this.log.log('warn', 'heartbeat-send-failing', { peer: e.destination, detail: `${e.message}; logged again when sends to ${e.destination} work` });
  }

  /** After a round of sends: the failing destinations that took this one recovered. */
  private afterSend(): void {
    if (this.roundErrors.size === 0 && this.failing.size === 0) return;
    const errors = this.roundErrors;
    this.roundErrors = new Set();
    for (const [destination, f] of this.failing) {
      if (errors.has(destination)) continue;
      this.failing.delete(destination);
      this.log.log('info', 'heartbeat-send-recovered', { peer: destination, failed: f.failures, ms: Math.round(this.now() - f.since) });
    }
  }

  /** `ageMs`: how long ago the kernel received it (the transport's SO_TIMESTAMPNS). */
  private receive(bytes: Buffer, from: string, ageMs: number): void {
    if (this.closed) return;
    let decoded = decodeHeartbeat(bytes, this.mac, this.clusterId);
    const now = this.now();
    if (decoded.ok && this.retiringKey !== undefined) {
      // This peer has the new key: once every peer has, the old one goes.
      this.retiringKey.confirmed.add(decoded.heartbeat.report.id);
      if (this.config.nodes.every((n) => n.id === this.localId || this.retiringKey?.confirmed.has(n.id))) this.retireKey('every peer sends with the new key', now);
    } else if (!decoded.ok && decoded.reason === 'bad-hmac' && this.retiringKey !== undefined) {
      decoded = decodeHeartbeat(bytes, this.retiringKey.mac, this.clusterId);
    }
    if (!decoded.ok) {
      this.membership.countRejection(decoded.reason);
      this.log.log('warn', 'heartbeat-dropped', { reason: decoded.reason, from, detail: decoded.detail });
      return;
    }
    const outcome = this.membership.heartbeat(decoded.heartbeat, from, now, now - ageMs);
    if (!outcome.accepted) this.log.log('warn', 'heartbeat-dropped', { reason: outcome.reason, from, detail: outcome.detail });
    else this.replayChanged(now);
    this.afterMembership(outcome.events, now);
  }

  private retireKey(why: string, now: number): void {
    const r = this.retiringKey;
    if (r === undefined) return;
    this.retiringKey = undefined;
    const missing = this.config.nodes.filter((n) => n.id !== this.localId && !r.confirmed.has(n.id)).map((n) => n.name);
    this.log.log(missing.length > 0 ? 'warn' : 'info', 'heartbeat-key-rotated', { why, ms: Math.round(now - (r.until - KEY_ROTATION_WINDOW_MS)), ...(missing.length > 0 ? { not_heard_with_new_key: missing } : {}) });
  }

  /** The replay state changed: written at most once per SAVE_EVERY_MS. */
  private replayChanged(now: number): void {
    if (this.stateDir === undefined || this.replayDirty) return;
    this.replayDirty = true;
    this.scheduler.set(this.keys.replaySave, Math.max(now, this.replaySavedAt + SAVE_EVERY_MS), (t) => this.saveReplay(t));
  }

  private saveReplay(now: number): void {
    if (this.stateDir === undefined || !this.replayDirty) return;
    this.replayDirty = false;
    this.replaySavedAt = now;
    try {
      saveReplayState(this.stateDir, this.membership.replayState());
    } catch (e) {
      this.log.log('error', 'heartbeat-replay-state', { detail: errorText(e) });
    }
  }

  private afterMembership(events: readonly MembershipEvent[], now: number): void {
    for (const e of events) {
      if (e.type === 'joined') this.events.emit({ kind: 'member-joined', node: e.id, name: e.name, reason: e.reason, from: e.from });
      else if (e.type === 'left') this.events.emit({ kind: 'member-left', node: e.id, name: e.name, reason: e.reason, silentMs: Math.round(now - e.lastHeard) });
    }
    if (events.length > 0) {
      const reports = this.membership.members().map((m) => m.report);
      this.applyChanges(this.engine.handle({ type: 'membership', members: reports }, now));
    }
    const next = this.membership.nextDeadline();
    this.scheduler.set(this.keys.membership, next, this.onMembershipDue);
  }

  /**
   * A member's deadline passed. After a stall the loop runs expired timers before it
   * polls the socket, so the heartbeats queued meanwhile are taken in first (each with
   * its receive time), then the membership ticks: the same order as the VRRP side's
   * drain before a Master_Down_Timer (src/daemon/instances.ts).
   */
  private membershipDue(): void {
    this.transport?.drain();
    const now = this.now();
    this.afterMembership(this.membership.tick(now), now);
  }

  private armEngine(): void {
    this.scheduler.set(this.keys.engine, this.engine.nextDeadline(), (t) => {
      this.applyChanges(this.engine.handle({ type: 'tick' }, t));
    });
  }

  private applyChanges(changes: readonly QuorumChange[]): void {
    for (const c of changes) {
      switch (c.type) {
        case 'quorate':
          {
            const st = this.engine.status();
            this.events.emit({ kind: 'quorum-changed', quorate: c.to, reason: c.reason, detail: c.detail, votes: st.totalVotes, expectedVotes: st.expectedVotes });
          }
          break;
        case 'expected-votes':
          this.log.log('info', 'expected-votes', { from: c.from, to: c.to, rule: c.rule });
          break;
        case 'wait-for-all':
          this.log.log('info', 'wait-for-all', { waiting: c.waiting, reason: c.reason });
          break;
        case 'refused':
          this.log.log('warn', 'quorum-command-refused', { command: c.command, reason: c.reason, detail: c.detail });
          break;
        default:
          break;
      }
    }
    this.armEngine();
    this.reassess('quorum');
  }

  /** A two-node split: two_node in force, quorate, and the peer not a member. */
  private isSplit(): boolean {
    const s = this.engine.status();
    return this.engine.config.twoNode && s.quorate && s.members.length < this.config.nodes.length;
  }

  private computeVerdict(): QuorumVerdict {
    if (this.config.noQuorumPolicy === 'ignore' || !this.engine.quorate) return policyVerdict(this.engine.quorate, this.config.noQuorumPolicy);
    if (!this.tb.split || this.config.tieBreaker === undefined) return 'hold';
    return this.tb.state === 'won' ? 'hold' : this.tb.state === 'lost' ? 'release' : 'keep';
  }

  private reassess(why: string): void {
    const split = this.config.tieBreaker !== undefined && this.isSplit();
    if (split !== this.tb.split) {
      this.tb = { split, state: split ? 'checking' : 'idle', fenced: false, lastChecks: this.tb.lastChecks, running: this.tb.running };
      this.log.log(split ? 'warn' : 'info', split ? 'two-node-split' : 'two-node-rejoined', split ? { detail: 'the peer is unreachable; the tie-breaker decides' } : {});
      if (split) void this.runTieBreaker();
      else this.scheduler.set(this.keys.tieBreaker, undefined, () => undefined);
    }
    const verdict = this.computeVerdict();
    if (verdict === this.verdictNow) return;
    const from = this.verdictNow;
    this.verdictNow = verdict;
    this.events.emit({ kind: 'quorum-verdict', from, to: verdict, why, quorate: this.engine.quorate, tieBreaker: this.tb.state });
    this.onVerdict(verdict, why);
  }

  /** One round of the tie-breaker: ping and tcp (in parallel), then the fencing hook once per split. */
  private async runTieBreaker(): Promise<void> {
    const tbc = this.config.tieBreaker;
    if (!tbc || this.tb.running || this.closed) return;
    this.tb.running = true;
    try {
      const checks: Promise<CheckResult>[] = [];
      if (tbc.ping) checks.push(pingCheck(tbc.ping, tbc.timeoutMs));
      if (tbc.tcp) checks.push(tcpCheck(tbc.tcp, tbc.timeoutMs));
      const results = await Promise.all(checks);
      let ok = results.every((r) => r.ok);
      if (ok && tbc.fence && !this.tb.fenced && this.tb.split) {
        const peer = this.config.nodes.find((n) => n.id !== this.localId);
        if (peer) {
          const fenced = await fenceCheck(tbc.fence, peer, tbc.timeoutMs);
          results.push(fenced);
          ok = fenced.ok;
          if (fenced.ok) this.tb.fenced = true;
        }
      }
      if (this.closed || !this.tb.split) return;
      this.tb.lastChecks = results;
      const state = ok ? 'won' : 'lost';
      if (state !== this.tb.state) this.events.emit({ kind: 'tie-breaker', result: state, checks: results.map((r) => `${r.check}: ${r.ok ? 'ok' : 'failed'} (${r.detail})`) });
      this.tb.state = state;
      this.reassess('tie-breaker');
    } finally {
      this.tb.running = false;
      if (this.tb.split && !this.closed) {
        this.scheduler.set(this.keys.tieBreaker, this.now() + tbc.intervalMs, () => void this.runTieBreaker());
      }
    }
  }

  /** Operator: cancel wait_for_all. */
  unblock(): readonly QuorumChange[] {
    const changes = this.engine.handle({ type: 'unblock' }, this.now());
    this.applyChanges(changes);
    return changes;
  }

  /** Operator: set the expected votes. */
  setExpected(votes: number): readonly QuorumChange[] {
    const changes = this.engine.handle({ type: 'set-expected', expectedVotes: votes }, this.now());
    this.applyChanges(changes);
    return changes;
  }

  status(): QuorumServiceStatus {
    const now = this.now();
    const members = new Map(this.membership.members().map((m) => [m.id as number, m]));
    const counters = this.membership.counters();
    const rejected: Partial<Record<RejectionReason, number>> = {};
    for (const [reason, n] of Object.entries(counters.rejected) as [RejectionReason, number][]) if (n > 0) rejected[reason] = n;
    return {
      ...this.engine.status(),
      verdict: this.verdictNow,
      noQuorumPolicy: this.config.noQuorumPolicy,
      warnings: this.warnings,
      tieBreaker: this.config.tieBreaker ? { split: this.tb.split, state: this.tb.state, fenced: this.tb.fenced, lastChecks: this.tb.lastChecks } : null,
      peers: this.config.nodes
        .filter((n) => n.id !== this.localId)
        .map((n) => {
          const m = members.get(n.id);
          return { id: n.id, name: n.name, address: n.address.text, member: m !== undefined, lastHeardMsAgo: m ? Math.round(now - m.lastHeard) : null };
        }),
      heartbeats: { sent: this.sent, accepted: counters.accepted, rejected },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const k of Object.values(this.keys)) this.scheduler.set(k, undefined, () => undefined);
    this.saveReplay(this.now());
    await this.transport?.close();
  }
}

