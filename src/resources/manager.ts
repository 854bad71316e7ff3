/**
 * The resource manager of one node: Pacemaker's resource handling, in small
 * (docs/reference/resources.md), as a pure state machine.
 *
 * `handle(event, now)` takes a placement change (the VRRP side decides where a group may
 * run), an operation's result, a health check change, an operator command, standby or
 * maintenance, `startup` or a `tick`, and returns actions: operations to run (at most one
 * in flight per resource; the caller runs the agent and answers with an `op-result`
 * carrying the same id), state changes for the log, bans (the integration turns a ban into
 * VRRP FAULT so that mastership moves to the peer) and standby requests. It owns no timer
 * and no process: `nextDeadline()` says when the next recurring monitor or failure expiry
 * is due, and the caller delivers a `tick` then.
 *
 * The model, per resource: a known state (unknown until probed), at most one operation in
 * flight, the failures on this node (each with its time, for failure-timeout), and the
 * flags that keep it from running here (blocked, fatal, on-fail=stop, restart pending,
 * target-role). Per group: the placement the integration last sent, and a ban derived from
 * its members' failures. After every event the manager reconciles: a member is kept
 * running only while it may run and every member before it is kept running; it is stopped
 * only once every member after it is down (reverse order); it is started only while every
 * member before it runs (forward order).
 *
 * A reload is one more event, `reconfigure` (the decision per resource in reconfigure.ts):
 * the model is rebuilt from the new config and every resource that stays keeps what the
 * manager knows of it — state, operation in flight, failures, blocks, its runtime
 * target-role — so an unchanged one is not touched. A changed definition sets its restart
 * flag (stop with the old, start with the new); a new resource is probed first, then
 * started in its group's order; a removed one is stopped in its old group's reverse order
 * and then retired (the `retired` action lets the caller drop its agent).
 *
 * Its events, actions and status types are in types.ts. Over 600 lines (about 780) on
 * purpose: one state machine kept whole — reconcile, failure handling, the operation
 * results and the reload share the per-resource model above, and a reload must carry
 * every field of it across (reconfigure.ts holds the per-resource decision that needs none).
 */
import { resourceChanges, type ResourceChange } from './reconfigure.js';
import {
  OCF,
  failureClass,
  type OperationName,
  type OperationResult,
  type Placement,
  type ResourceConfig,
  type TargetRole,
  INFINITY,
  type ResourceManagerConfig,
  type ResourceCommand,
  type ResourceEvent,
  type ResourceState,
  type ResourceAction,
  type FailureRecord,
  type ResourceStatus,
  type GroupStatus,
  type ResourceManagerStatus,
} from './types.js';

// ---- internals -------------------------------------------------------------------------

type KnownState = 'unknown' | 'stopped' | 'starting' | 'started' | 'stopping' | 'failed';

interface InFlight {
  readonly id: number;
  readonly op: OperationName;
  readonly probe: boolean;
  readonly since: number;
}

interface Res {
  readonly cfg: ResourceConfig;
  readonly group: Grp;
  readonly index: number;
  state: KnownState;
  inFlight: InFlight | undefined;
  needsProbe: boolean;
  targetRole: TargetRole;
  failures: FailureRecord[];
  lastFailure: FailureRecord | undefined;
  blocked: string | undefined;
  stopFailed: boolean;
  failStopped: boolean;
  fatal: boolean;
  restartPending: boolean;
  nextMonitorAt: number | undefined;
}

interface Grp {
  readonly name: string;
  readonly standalone: boolean;
  /** The resources of an old group that a reload removed: stopped in reverse order, then retired. */
  readonly retiring: boolean;
  readonly placement: Placement;
  readonly members: Res[];
  placementAllowed: boolean;
  /** The ban last emitted. */
  bannedEmitted: boolean;
  unbanReason: string | undefined;
}

function isSuccess(r: OperationResult): boolean {
  return !r.timedOut && (r.rc === OCF.SUCCESS || r.rc === OCF.DEGRADED);
}

function describe(r: OperationResult): string {
  if (r.timedOut) return `timed out${r.detail === '' ? '' : `: ${r.detail}`}`;
  return `rc ${r.rc}${r.detail === '' ? '' : `: ${r.detail}`}`;
}

function effectiveThreshold(t: number): number {
  return t <= 0 || t >= INFINITY ? INFINITY : t;
}

export class ResourceManager {
  private readonly resources = new Map<string, Res>();
  private readonly groups: Grp[] = [];
  private readonly groupsByName = new Map<string, Grp>();
  private readonly startFailureIsFatal: boolean;
  private standby = false;
  private maintenance = false;
  private startedUp = false;
  private nextId = 0;
  /** Reasons gathered during one `handle`, per resource, for the resource-state actions. */
  private notes = new Map<Res, string[]>();

  constructor(config: ResourceManagerConfig) {
    this.startFailureIsFatal = config.startFailureIsFatal ?? true;
    this.build(config);
  }

  /** Throws, naming what is wrong, when `config` cannot be a manager's (a group naming an unknown resource, a name twice). */
  static check(config: ResourceManagerConfig): void {
    new ResourceManager(config).status(0);
  }

  /** Builds the groups and resources of `config` (every resource unknown), replacing the current ones. */
  private build(config: ResourceManagerConfig): void {
    this.resources.clear();
    this.groups.length = 0;
    this.groupsByName.clear();
    const cfgs = new Map<string, ResourceConfig>();
    for (const r of config.resources) {
      if (cfgs.has(r.name)) throw new Error(`resource "${r.name}" is defined twice`);
      cfgs.set(r.name, r);
    }
    const grouped = new Set<string>();
    for (const g of config.groups) {
      if (this.groupsByName.has(g.name)) throw new Error(`group "${g.name}" is defined twice`);
      if (g.resources.length === 0) throw new Error(`group "${g.name}" has no resources`);
      const grp: Grp = {
        name: g.name,
        standalone: false,
        retiring: false,
        placement: g.placement,
        members: [],
        placementAllowed: g.placement.kind === 'everywhere',
        bannedEmitted: false,
        unbanReason: undefined,
      };
      for (const name of g.resources) {
        const cfg = cfgs.get(name);
        if (cfg === undefined) throw new Error(`group "${g.name}" names unknown resource "${name}"`);
        if (grouped.has(name)) throw new Error(`resource "${name}" is in more than one group`);
        grouped.add(name);
        this.addResource(cfg, grp);
      }
      this.groups.push(grp);
      this.groupsByName.set(g.name, grp);
    }
    for (const cfg of config.resources) {
      if (grouped.has(cfg.name)) continue;
      const grp: Grp = {
        name: cfg.name,
        standalone: true,
        retiring: false,
        placement: { kind: 'everywhere' },
        members: [],
        placementAllowed: true,
        bannedEmitted: false,
        unbanReason: undefined,
      };
      this.addResource(cfg, grp);
      this.groups.push(grp);
    }
  }

  private addResource(cfg: ResourceConfig, grp: Grp): Res {
    const res: Res = {
      cfg,
      group: grp,
      index: grp.members.length,
      state: 'unknown',
      inFlight: undefined,
      needsProbe: false,
      targetRole: cfg.targetRole,
      failures: [],
      lastFailure: undefined,
      blocked: undefined,
      stopFailed: false,
      failStopped: false,
      fatal: false,
      restartPending: false,
      nextMonitorAt: undefined,
    };
    grp.members.push(res);
    this.resources.set(cfg.name, res);
    return res;
  }

  private resource(name: string): Res {
    const r = this.resources.get(name);
    if (r === undefined) throw new Error(`unknown resource "${name}"`);
    return r;
  }

  /** An explicit group by name, else the implicit group of a stand-alone resource. */
  private groupNamed(name: string): Grp {
    const g = this.groupsByName.get(name) ?? this.groups.find((x) => x.standalone && !x.retiring && x.name === name);
    if (g === undefined) throw new Error(`unknown group "${name}"`);
    return g;
  }

  // ---- derived facts -----------------------------------------------------------------

  private failCount(r: Res): number {
    let sum = 0;
    for (const f of r.failures) sum += f.weight;
    return Math.min(INFINITY, sum);
  }

  private thresholdReached(r: Res): boolean {
    return this.failCount(r) >= effectiveThreshold(r.cfg.migrationThreshold);
  }

  /** Why the group is banned here, or undefined. */
  private banReason(g: Grp): string | undefined {
    for (const m of g.members) {
      if (m.stopFailed) {
        const f = m.lastFailure;
        return `stop failed: ${m.cfg.name}${f === undefined ? '' : ` (${f.timedOut ? 'timed out' : `rc ${f.rc}`}${f.detail === '' ? '' : `: ${f.detail}`})`}`;
      }
    }
    for (const m of g.members) {
      if (this.thresholdReached(m)) {
        const f = m.lastFailure;
        const what = f === undefined ? 'failures' : `${f.op} failed (${f.timedOut ? 'timed out' : `rc ${f.rc}`}${f.detail === '' ? '' : `: ${f.detail}`})`;
        return `${m.cfg.name}: ${what}; fail count ${this.failCount(m) >= INFINITY ? 'INFINITY' : this.failCount(m)} reached migration-threshold ${effectiveThreshold(m.cfg.migrationThreshold) >= INFINITY ? 'INFINITY' : m.cfg.migrationThreshold}`;
      }
    }
    return undefined;
  }

  private groupAllowed(g: Grp): boolean {
    return g.placementAllowed && !this.standby && this.banReason(g) === undefined;
  }

  /** Why the resource may not run here now (ignoring the members before it), or undefined. */
  private cannotRun(r: Res): string | undefined {
    const g = r.group;
    if (g.retiring) return 'removed from the config';
    if (this.standby) return 'node in standby';
    if (!g.placementAllowed) return 'placement not allowed here';
    const ban = this.banReason(g);
    if (ban !== undefined) return `banned: ${ban}`;
    if (r.blocked !== undefined) return `blocked: ${r.blocked}`;
    if (r.fatal) return 'fatal failure: stopped until cleanup';
    if (r.failStopped) return 'on-fail=stop: stopped until cleanup';
    if (r.targetRole === 'stopped') return 'target-role stopped';
    if (r.restartPending) return 'restart';
    if (r.state === 'failed') return 'failed: recovering';
    return undefined;
  }

  /** keep[k]: member k is started and may stay so (it may run, and so may every member before it). */
  private keepChain(g: Grp): boolean[] {
    const keep: boolean[] = [];
    let prev = true;
    for (const m of g.members) {
      const k: boolean = prev && m.state === 'started' && this.cannotRun(m) === undefined;
      keep.push(k);
      prev = k;
    }
    return keep;
  }

  /** Every member after index k is stopped for sure (or blocked in a stopped state). */
  private laterDown(g: Grp, k: number): boolean {
    for (let i = k + 1; i < g.members.length; i++) {
      const m = g.members[i];
      if (m === undefined) continue;
      if (m.state !== 'stopped' || m.inFlight !== undefined || m.needsProbe) return false;
    }
    return true;
  }

  private note(r: Res, reason: string): void {
    const list = this.notes.get(r);
    if (list === undefined) this.notes.set(r, [reason]);
    else if (!list.includes(reason)) list.push(reason);
  }

  private shownState(r: Res): ResourceState {
    if (r.blocked !== undefined) return 'blocked';
    return r.state;
  }

  // ---- the public surface --------------------------------------------------------------

  /** The earliest time at which a `tick` has work to do: a recurring monitor, a failure's expiry. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    const consider = (t: number | undefined): void => {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    };
    for (const r of this.resources.values()) {
      const timeout = r.cfg.failureTimeoutMs;
      if (timeout !== undefined) for (const f of r.failures) consider(f.at + timeout);
      if (this.startedUp && !this.maintenance && r.state === 'started' && r.inFlight === undefined && r.blocked === undefined) {
        consider(r.nextMonitorAt);
      }
    }
    return next;
  }

  handle(event: ResourceEvent, now: number): ResourceAction[] {
    const before = new Map<string, ResourceState>();
    for (const r of this.resources.values()) before.set(r.cfg.name, this.shownState(r));
    this.notes = new Map();
    const out: ResourceAction[] = [];

    this.expire(now);
    switch (event.type) {
      case 'startup':
        this.startedUp = true;
        for (const r of this.resources.values()) r.needsProbe = true;
        break;
      case 'tick':
        break;
      case 'placement': {
        const g = this.groupNamed(event.group);
        g.placementAllowed = event.allowed;
        break;
      }
      case 'standby':
        this.standby = event.on;
        break;
      case 'maintenance':
        if (this.maintenance && !event.on) {
          for (const r of this.resources.values()) r.needsProbe = true;
        }
        this.maintenance = event.on;
        break;
      case 'op-result':
        this.opResult(event.resource, event.op, event.id, event.result, now, out);
        break;
      case 'check': {
        const r = this.resource(event.resource);
        if (!event.healthy && this.startedUp && !this.maintenance && r.state === 'started' && r.blocked === undefined) {
          this.failure(r, 'monitor', { rc: OCF.ERR_GENERIC, timedOut: false, detail: 'health check unhealthy', elapsedMs: 0 }, now, out, false);
        }
        break;
      }
      case 'command':
        this.command(event.command, this.resource(event.resource));
        break;
      case 'reconfigure':
        out.push({ type: 'reconfigured', changes: this.reconfigure(event.config, event.placements, now) });
        break;
    }

    this.emitBans(out);
    this.reconcile(now, out);
    // A member retired (blocked) may have been what held the one before it back from stopping.
    while (this.retire(out)) this.reconcile(now, out);

    for (const r of this.resources.values()) {
      const from = before.get(r.cfg.name) ?? 'unknown';
      const to = this.shownState(r);
      if (from !== to) out.push({ type: 'resource-state', resource: r.cfg.name, from, to, reason: (this.notes.get(r) ?? ['changed']).join('; ') });
    }
    return out;
  }

  status(now: number): ResourceManagerStatus {
    const resources: ResourceStatus[] = [];
    for (const r of this.resources.values()) {
      const f = r.lastFailure;
      const fl = r.inFlight;
      resources.push({
        name: r.cfg.name,
        group: r.group.standalone ? null : r.group.name,
        state: this.shownState(r),
        targetRole: r.targetRole,
        failCount: this.failCount(r),
        migrationThreshold: effectiveThreshold(r.cfg.migrationThreshold),
        banned: this.banReason(r.group) !== undefined,
        blocked: r.blocked ?? null,
        fatal: r.fatal,
        stoppedByFailure: r.failStopped,
        lastFailure: f === undefined ? null : { ...f, agoMs: now - f.at },
        inFlight: fl === undefined ? null : { id: fl.id, op: fl.op, probe: fl.probe, elapsedMs: now - fl.since },
        nextMonitorInMs:
          r.nextMonitorAt === undefined || r.state !== 'started' || this.maintenance ? null : Math.max(0, r.nextMonitorAt - now),
      });
    }
    const groups: GroupStatus[] = this.groups.filter((g) => !g.retiring).map((g) => {
      const ban = this.banReason(g);
      return {
        name: g.name,
        standalone: g.standalone,
        placement: g.placement,
        placementAllowed: g.placementAllowed,
        allowedHere: this.groupAllowed(g),
        banned: ban !== undefined,
        banReason: ban ?? null,
        members: g.members.map((m) => m.cfg.name),
        running: g.members.filter((m) => m.state === 'started').map((m) => m.cfg.name),
      };
    });
    return { node: { standby: this.standby, maintenance: this.maintenance, startedUp: this.startedUp }, resources, groups };
  }

  // ---- events --------------------------------------------------------------------------

  private expire(now: number): void {
    for (const r of this.resources.values()) {
      const timeout = r.cfg.failureTimeoutMs;
      if (timeout === undefined || r.failures.length === 0) continue;
      const kept = r.failures.filter((f) => f.at + timeout > now);
      if (kept.length !== r.failures.length) {
        r.failures = kept;
        this.note(r, 'failure-timeout: old failures expired');
        r.group.unbanReason ??= `failure-timeout: ${r.cfg.name}'s failures expired`;
      }
    }
  }

  private command(command: ResourceCommand, r: Res): void {
    switch (command) {
      case 'start':
        r.targetRole = 'started';
        r.failStopped = false;
        this.note(r, 'operator: start');
        break;
      case 'stop':
        r.targetRole = 'stopped';
        this.note(r, 'operator: stop');
        break;
      case 'restart':
        if (r.state === 'started' || r.state === 'starting' || r.state === 'failed') {
          r.restartPending = true;
          this.note(r, 'operator: restart');
        }
        break;
      case 'cleanup':
        r.failures = [];
        r.lastFailure = undefined;
        r.blocked = undefined;
        r.stopFailed = false;
        r.failStopped = false;
        r.fatal = false;
        r.needsProbe = true;
        r.group.unbanReason = `cleanup of ${r.cfg.name}`;
        this.note(r, 'operator: cleanup');
        break;
    }
  }

  private opResult(name: string, op: OperationName, id: number, result: OperationResult, now: number, out: ResourceAction[]): void {
    const r = this.resources.get(name);
    const fl = r?.inFlight;
    if (r === undefined || fl === undefined || fl.id !== id || fl.op !== op) return; // stale or unknown: ignore
    r.inFlight = undefined;
    const ok = isSuccess(result);

    if (r.blocked !== undefined) return; // blocked: it stays as it is, whatever an op still in flight says
    if (this.maintenance) {
      // Unmanaged: remember what the result says, act on nothing; everything is re-probed afterwards.
      if (op === 'start') r.state = ok ? 'started' : 'unknown';
      else if (op === 'stop') r.state = ok || (!result.timedOut && result.rc === OCF.NOT_RUNNING) ? 'stopped' : 'unknown';
      else r.state = ok ? 'started' : !result.timedOut && result.rc === OCF.NOT_RUNNING ? 'stopped' : 'unknown';
      this.note(r, `${op} ${ok ? 'succeeded' : describe(result)} (maintenance)`);
      return;
    }

    switch (op) {
      case 'start':
        if (ok) {
          r.state = 'started';
          this.scheduleMonitor(r, now);
          this.note(r, 'start succeeded');
        } else {
          this.startFailure(r, result, now, out);
        }
        break;
      case 'stop':
        if (ok || (!result.timedOut && result.rc === OCF.NOT_RUNNING)) {
          r.state = 'stopped';
          r.restartPending = false;
          r.nextMonitorAt = undefined;
          this.note(r, 'stop succeeded');
        } else {
          this.stopFailure(r, result, now);
        }
        break;
      case 'monitor':
        if (fl.probe) {
          if (r.state === 'failed' && r.lastFailure !== undefined && r.lastFailure.at >= fl.since) {
            // A health check failed while the probe ran: the recovery it started goes on.
          } else if (ok) {
            if (r.state !== 'started') this.note(r, 'probe: found running');
            r.state = 'started';
            this.scheduleMonitor(r, now);
          } else if (!result.timedOut && result.rc === OCF.NOT_RUNNING) {
            if (r.state !== 'stopped') this.note(r, 'probe: found stopped');
            r.state = 'stopped';
            r.nextMonitorAt = undefined;
          } else {
            this.failure(r, 'monitor', result, now, out, true);
          }
        } else if (r.state !== 'started') {
          // It failed in the meantime (a health check): recovery is already under way.
        } else if (ok) {
          this.scheduleMonitor(r, now);
        } else {
          this.failure(r, 'monitor', result, now, out, false);
        }
        break;
    }
  }

  private scheduleMonitor(r: Res, now: number): void {
    r.nextMonitorAt = r.cfg.monitorIntervalMs > 0 ? now + r.cfg.monitorIntervalMs : undefined;
  }

  private record(r: Res, op: OperationName, result: OperationResult, now: number, weight: number): FailureRecord {
    const rc = result.timedOut ? OCF.ERR_GENERIC : result.rc;
    const f: FailureRecord = { op, rc, timedOut: result.timedOut, detail: result.detail, at: now, weight, failureClass: failureClass(rc) };
    r.failures.push(f);
    r.lastFailure = f;
    return f;
  }

  /** A monitor (recurring or probe) or health check failure. */
  private failure(r: Res, op: OperationName, result: OperationResult, now: number, out: ResourceAction[], probe: boolean): void {
    const rc = result.timedOut ? OCF.ERR_GENERIC : result.rc;
    const cls = failureClass(rc);
    const f = this.record(r, op, result, now, cls === 'hard' ? INFINITY : 1);
    const wasStarted = r.state === 'started';
    r.nextMonitorAt = undefined;
    // A probe that says "not installed" means it cannot be running here (Pacemaker: stopped, node banned).
    r.state = probe && rc === OCF.ERR_INSTALLED && !result.timedOut ? 'stopped' : 'failed';
    const what = `${probe ? 'probe' : op} failed (${describe(result)}; ${cls}); fail count ${this.failCount(r) >= INFINITY ? 'INFINITY' : this.failCount(r)}`;
    this.note(r, what);
    if (cls === 'fatal') {
      r.fatal = true;
      this.note(r, 'fatal: stopped until cleanup');
    }
    if (this.thresholdReached(r)) return; // banned: the group stops here (emitBans, reconcile)
    switch (r.cfg.onFail) {
      case 'restart':
        break;
      case 'ignore':
        if (wasStarted && !r.fatal) {
          r.state = 'started';
          this.scheduleMonitor(r, now);
          this.note(r, 'on-fail=ignore');
        }
        break;
      case 'block':
        r.blocked = `on-fail=block after ${f.op} failure`;
        break;
      case 'stop':
        r.failStopped = true;
        this.note(r, 'on-fail=stop');
        break;
      case 'standby':
        this.requestStandby(r, what, out);
        break;
    }
  }

  private requestStandby(r: Res, what: string, out: ResourceAction[]): void {
    if (!this.standby) out.push({ type: 'standby-request', reason: `on-fail=standby: ${r.cfg.name}: ${what}` });
    this.standby = true;
  }

  private startFailure(r: Res, result: OperationResult, now: number, out: ResourceAction[]): void {
    const rc = result.timedOut ? OCF.ERR_GENERIC : result.rc;
    const cls = failureClass(rc);
    const weight = this.startFailureIsFatal || cls === 'hard' ? INFINITY : 1;
    this.record(r, 'start', result, now, weight);
    r.state = 'failed'; // may be half started: it is stopped before anything else
    const what = `start failed (${describe(result)}; ${cls})`;
    this.note(r, what);
    if (cls === 'fatal') r.fatal = true;
    if (r.cfg.onFail === 'block') r.blocked = 'on-fail=block after start failure';
    else if (r.cfg.onFail === 'stop') r.failStopped = true;
    else if (r.cfg.onFail === 'standby') this.requestStandby(r, what, out);
  }

  private stopFailure(r: Res, result: OperationResult, now: number): void {
    this.record(r, 'stop', result, now, INFINITY);
    r.state = 'failed';
    r.stopFailed = true;
    r.blocked = `stop failed (${describe(result)}): may still run here`;
    this.note(r, `stop failed (${describe(result)})`);
  }

  private emitBans(out: ResourceAction[]): void {
    for (const g of this.groups) {
      if (g.retiring) continue;
      const reason = this.banReason(g);
      const banned = reason !== undefined;
      if (banned !== g.bannedEmitted) {
        g.bannedEmitted = banned;
        const why = reason ?? g.unbanReason ?? 'fail count below migration-threshold';
        out.push(g.standalone ? { type: 'ban', resource: g.name, banned, reason: why } : { type: 'ban', group: g.name, banned, reason: why });
      }
      g.unbanReason = undefined;
    }
  }

  // ---- reload ------------------------------------------------------------------------

  /**
   * Rebuilds the model from `config`, carrying over what is known of every resource that
   * stays (see the header). Throws, changing nothing, when the config is inconsistent.
   */
  private reconfigure(config: ResourceManagerConfig, placements: Readonly<Record<string, boolean>>, now: number): ResourceChange[] {
    const oldResources = new Map(this.resources);
    const oldGroups = [...this.groups];
    const oldConfig = { resources: [...oldResources.values()].filter((r) => !r.group.retiring).map((r) => r.cfg), groups: oldGroups.filter((g) => !g.standalone && !g.retiring).map((g) => ({ name: g.name, resources: g.members.map((m) => m.cfg.name), placement: g.placement })) };
    const changes = resourceChanges(oldConfig, config);
    try {
      this.build(config);
    } catch (e) {
      this.resources.clear();
      for (const [name, r] of oldResources) this.resources.set(name, r);
      this.groups.splice(0, this.groups.length, ...oldGroups);
      this.groupsByName.clear();
      for (const g of oldGroups) if (!g.standalone && !g.retiring) this.groupsByName.set(g.name, g);
      throw e;
    }
    const byChange = new Map(changes.map((c) => [c.resource, c]));
    for (const g of this.groups) {
      const old = oldGroups.find((o) => !o.retiring && o.name === g.name && o.standalone === g.standalone);
      const given = placements[g.name];
      if (given !== undefined) g.placementAllowed = given;
      else if (old !== undefined && JSON.stringify(old.placement) === JSON.stringify(g.placement)) g.placementAllowed = old.placementAllowed;
      if (old !== undefined) g.bannedEmitted = old.bannedEmitted;
      for (const r of g.members) {
        const was = oldResources.get(r.cfg.name);
        if (was === undefined) {
          // Pacemaker probes a new resource before it starts it: it may already run here.
          r.needsProbe = this.startedUp;
          this.note(r, 'added by reload');
          continue;
        }
        // Also one that an earlier reload removed and that is still stopping: it goes on from where it is.
        this.carryOver(was, r);
        if (was.group.retiring) {
          this.note(r, 'added by reload');
          continue;
        }
        const change = byChange.get(r.cfg.name);
        if (change?.keys.includes('targetRole')) r.targetRole = r.cfg.targetRole;
        if (change?.keys.includes('monitorIntervalMs') && r.state === 'started' && r.inFlight === undefined) this.scheduleMonitor(r, now);
        if (change?.change === 'restart' && (r.state === 'started' || r.state === 'starting' || r.state === 'failed')) {
          r.restartPending = true;
          this.note(r, `reload: definition changed (${change.keys.join(', ')})`);
        }
      }
    }
    // Removed resources: one retiring group per old group, in the old order, never allowed.
    const kept = new Set(this.resources.keys());
    for (const og of oldGroups) {
      const gone = og.members.filter((m) => !kept.has(m.cfg.name));
      if (gone.length === 0) continue;
      const grp: Grp = { name: og.name, standalone: og.standalone, retiring: true, placement: og.placement, members: [], placementAllowed: false, bannedEmitted: false, unbanReason: undefined };
      for (const m of gone) {
        const r = this.addResource(m.cfg, grp);
        this.carryOver(m, r);
        if (!og.retiring) this.note(r, 'removed by reload');
      }
      this.groups.push(grp);
    }
    return changes;
  }

  /** What the manager knows of a resource, into its rebuilt entry. */
  private carryOver(from: Res, to: Res): void {
    to.state = from.state;
    to.inFlight = from.inFlight;
    to.needsProbe = from.needsProbe;
    to.targetRole = from.targetRole;
    to.failures = from.failures;
    to.lastFailure = from.lastFailure;
    to.blocked = from.blocked;
    to.stopFailed = from.stopFailed;
    to.failStopped = from.failStopped;
    to.fatal = from.fatal;
    to.restartPending = from.restartPending;
    to.nextMonitorAt = from.nextMonitorAt;
  }

  /**
   * Removed resources leave once stopped. In maintenance, before startup, or blocked (a
   * stop that failed: it may still run) they are not stopped: they leave as they are.
   */
  private retire(out: ResourceAction[]): boolean {
    let retired = false;
    for (let i = this.groups.length - 1; i >= 0; i--) {
      const g = this.groups[i];
      if (g === undefined || !g.retiring) continue;
      for (const m of [...g.members]) {
        if (m.inFlight !== undefined) continue;
        let detail: string | undefined;
        if (m.state === 'stopped') detail = 'stopped';
        else if (m.blocked !== undefined) detail = `left as it is: ${m.blocked}`;
        else if (this.maintenance) detail = 'left as it is: maintenance';
        else if (!this.startedUp || (m.state === 'unknown' && !m.needsProbe)) detail = 'left as it is: never probed';
        if (detail === undefined) continue;
        g.members.splice(g.members.indexOf(m), 1);
        this.resources.delete(m.cfg.name);
        out.push({ type: 'retired', resource: m.cfg.name, detail });
        retired = true;
      }
      if (g.members.length === 0) this.groups.splice(i, 1);
    }
    return retired;
  }

  // ---- reconcile ---------------------------------------------------------------------

  private issue(r: Res, op: OperationName, probe: boolean, now: number, out: ResourceAction[]): void {
    const id = ++this.nextId;
    r.inFlight = { id, op, probe, since: now };
    const timeoutMs = op === 'start' ? r.cfg.startTimeoutMs : op === 'stop' ? r.cfg.stopTimeoutMs : r.cfg.monitorTimeoutMs;
    if (op === 'start') r.state = 'starting';
    if (op === 'stop') r.state = 'stopping';
    if (probe) r.needsProbe = false;
    out.push(probe ? { type: 'run-op', id, resource: r.cfg.name, op, timeoutMs, probe: true } : { type: 'run-op', id, resource: r.cfg.name, op, timeoutMs });
  }

  private reconcile(now: number, out: ResourceAction[]): void {
    if (!this.startedUp || this.maintenance) return;
    for (const g of this.groups) {
      const keep = this.keepChain(g);
      for (let k = g.members.length - 1; k >= 0; k--) {
        const m = g.members[k];
        if (m === undefined || m.inFlight !== undefined || m.blocked !== undefined) continue;
        if (m.needsProbe) {
          this.issue(m, 'monitor', true, now, out);
          continue;
        }
        // Until every member before it is known (probed), leave it as it is: Reattach must not
        // stop a later member only because the probe of an earlier one has not answered yet.
        if (g.members.slice(0, k).some((e) => e.state === 'unknown' && e.blocked === undefined)) {
          if (m.state === 'started' && m.nextMonitorAt !== undefined && m.nextMonitorAt <= now) this.issue(m, 'monitor', false, now, out);
          continue;
        }
        const kept = keep[k] === true;
        const prevKept = k === 0 || keep[k - 1] === true;
        if (!kept && (m.state === 'started' || m.state === 'failed')) {
          if (this.laterDown(g, k)) {
            const prev = k > 0 ? g.members[k - 1] : undefined;
            this.note(m, `stop: ${this.cannotRun(m) ?? (prev === undefined ? 'not allowed' : `depends on ${prev.cfg.name}, which is not started`)}`);
            this.issue(m, 'stop', false, now, out);
            continue;
          }
        } else if (m.state === 'stopped' && prevKept && this.cannotRun(m) === undefined) {
          this.note(m, 'start: may run here');
          this.issue(m, 'start', false, now, out);
          continue;
        }
        if (m.state === 'started' && m.nextMonitorAt !== undefined && m.nextMonitorAt <= now) {
          this.issue(m, 'monitor', false, now, out);
        }
      }
    }
  }
}
