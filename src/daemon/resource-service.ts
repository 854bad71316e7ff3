/**
 * The resource manager at the daemon's edge: the pure ResourceManager (src/resources/
 * manager.ts) fed with VRRP mastership, node standby and maintenance, health check
 * transitions and operator commands; its run-op actions carried out by the resource
 * agents (src/resources/agents/), and its bans turned into VRRP FAULT through a tracker
 * per group, so that a group banned here moves with the mastership to a peer.
 *
 * Node standby and maintenance are kept in global.state_dir/node-state.json, so both
 * survive a restart of the daemon (Pacemaker keeps them as permanent node attributes):
 * a daemon restarted in maintenance leaves every resource as it is (Reattach).
 *
 * A reload (`reload`) hands the new resources and groups to the manager as one
 * `reconfigure` event and applies what it decides: the agent of a resource whose
 * definition changed is replaced just before its next start (its stop runs with the old
 * one), the agent of a removed resource goes once the manager retires it. Health checks
 * that did not change keep running (and their rise/fall state); removed ones stop, new
 * and changed ones start afresh.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { VigilConfig } from '../config/types.js';
import type { HealthChecker } from '../health/checker.js';
import type { createAgent } from '../resources/agents/index.js';
import { ResourceManager } from '../resources/manager.js';
import { canonical } from '../base/canonical.js';
import type { GroupConfig, HealthCheckConfig, ResourceAction, ResourceAgent, ResourceManagerStatus } from '../resources/types.js';
import type { Logger } from './logger.js';
import type { Scheduler } from './scheduler.js';
import { EventStream } from '../events/stream.js';
import { logEvents } from './event-log.js';
import { errorText } from '../base/error-text.js';
import { importEagerly } from './node-flags.js';

/** The VRRP side as the resource manager sees it. */
export interface VrrpView {
  /** Whether the instance is master here now. */
  isMaster(instance: string): boolean;
  /** The member instances of a sync group. */
  syncGroupMembers(group: string): readonly string[];
  /** Sets a tracker on an instance (a group's ban, a health check). */
  setTracker(instance: string, tracker: string, up: boolean): void;
  /** Whether quorum lets this node run resources (no quorum section: always). */
  mayRunResources(): boolean;
  /** Node standby went on or off: the VRRP instances follow (FAULT in standby), so the VIPs move too. */
  standbyChanged(on: boolean): void;
}

/** What a reload did to one resource or health check (the `section-reloaded` event lists them). */
export interface ResourceReloadChange {
  readonly name: string;
  readonly kind: 'resource' | 'health-check';
  readonly change: 'unchanged' | 'updated' | 'restart' | 'added' | 'removed';
  readonly detail: string;
}

export interface HealthCheckStatus {
  readonly name: string;
  readonly state: string;
  readonly lastResult: { readonly ok: boolean; readonly detail: string } | null;
}

export interface ResourceServiceStatus extends ResourceManagerStatus {
  readonly healthChecks: readonly HealthCheckStatus[];
}

interface NodeState {
  standby: boolean;
  maintenance: boolean;
}

/** The tracker through which a group's ban reaches its VRRP instance (weight 0: FAULT while banned). */
export function groupTrackerName(group: string): string {
  return `group:${group}`;
}

/** The tracker of a health check on the instances it moves. */
export function checkTrackerName(check: string): string {
  return `check:${check}`;
}

/** The instances a group's placement follows (empty for `everywhere`). */
export function placementInstances(group: GroupConfig, syncGroupMembers: (g: string) => readonly string[]): readonly string[] {
  switch (group.placement.kind) {
    case 'master':
      return [group.placement.instance];
    case 'master-of-sync-group':
      return syncGroupMembers(group.placement.group);
    case 'everywhere':
      return [];
  }
}

/**
 * The resource agents and the health checker: loaded only for a config that has resources
 * or health checks (a VRRP-only daemon never holds their code), at start (ResourceService.open)
 * or at the reload that adds the first one (prepare); compiled when they load, as the rest
 * of the takeover path is (importEagerly).
 */
export interface ResourceParts {
  readonly createAgent: typeof createAgent;
  readonly HealthChecker: typeof HealthChecker;
}

async function loadParts(config: VigilConfig): Promise<ResourceParts | undefined> {
  if (config.resources.resources.length === 0 && config.resources.healthChecks.length === 0) return undefined;
  const [agents, health] = await importEagerly(() => Promise.all([import('../resources/agents/index.js'), import('../health/checker.js')]));
  return { createAgent: agents.createAgent, HealthChecker: health.HealthChecker };
}

export class ResourceService {
  private readonly manager: ResourceManager;
  private readonly agents = new Map<string, ResourceAgent>();
  /** Resources whose definition a reload changed: a new agent is made just before their next start. */
  private readonly renewAgent = new Set<string>();
  private checkers: { config: HealthCheckConfig; checker: HealthChecker }[] = [];
  private started = false;
  private readonly key = {};
  private readonly state: NodeState;
  private readonly stateFile: string;
  private stopping = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly events: EventStream;

  constructor(
    private config: VigilConfig,
    private readonly vrrp: VrrpView,
    private readonly scheduler: Scheduler,
    private readonly now: () => number,
    private readonly log: Logger,
    /** The daemon's event stream (its log subscriber logs the resource events); without it, a stream of the service's own, logged to `log`. */
    events?: EventStream,
    /** The agents and health checker (loadParts): needed when `config` has resources or health checks. */
    private parts?: ResourceParts,
  ) {
    if (events) this.events = events;
    else {
      this.events = new EventStream();
      logEvents(this.events, log);
    }
    const { resources, groups } = config.resources;
    this.manager = new ResourceManager({ resources, groups });
    for (const r of resources) this.agents.set(r.name, this.newAgent(r.name));
    this.stateFile = path.join(config.global.stateDir, 'node-state.json');
    this.state = this.loadState();
  }

  /** A service for `config`, with the agents and the health checker loaded when it has resources or health checks. */
  static async open(config: VigilConfig, vrrp: VrrpView, scheduler: Scheduler, now: () => number, log: Logger, events?: EventStream): Promise<ResourceService> {
    return new ResourceService(config, vrrp, scheduler, now, log, events, await loadParts(config));
  }

  /** Loads what `next` needs before reload(next): the reload that adds the first resource or health check loads the agents and the checker. */
  async prepare(next: VigilConfig): Promise<void> {
    this.parts ??= await loadParts(next);
  }

  private loaded(what: string): ResourceParts {
    if (this.parts === undefined) throw new Error(`resource service: ${what}: the agents and health checker are not loaded (ResourceService.open, or prepare before reload)`);
    return this.parts;
  }

  /** The agent of a resource as the current config defines it. */
  private newAgent(name: string): ResourceAgent {
    const r = this.config.resources.resources.find((x) => x.name === name);
    if (r === undefined) throw new Error(`resource service: no resource "${name}" in the config`);
    return this.loaded(`resource ${name}`).createAgent(r.spec, { name: r.name, stateDir: path.join(this.config.global.stateDir, 'exec') });
  }

  /** The router trackers the resources add to an instance: one per group placed on it, one per health check moving it. */
  static trackersOf(config: VigilConfig, instance: string): { name: string; weight: number }[] {
    const members = (g: string): readonly string[] => config.syncGroups.find((s) => s.name === g)?.instances ?? [];
    const out: { name: string; weight: number }[] = [];
    for (const g of config.resources.groups) if (placementInstances(g, members).includes(instance)) out.push({ name: groupTrackerName(g.name), weight: 0 });
    for (const c of config.resources.healthChecks) if (c.instances.includes(instance)) out.push({ name: checkTrackerName(c.name), weight: c.weight });
    return out;
  }

  get empty(): boolean {
    return this.config.resources.resources.length === 0 && this.config.resources.healthChecks.length === 0;
  }

  /** Probes every resource, applies the saved standby and maintenance, and starts the health checks. */
  start(): void {
    if (this.state.maintenance) this.events.emit({ kind: 'maintenance', on: true, detail: 'resources are left exactly as they are' });
    if (this.state.standby) this.events.emit({ kind: 'node-standby', on: true, detail: 'no resource runs here' });
    this.apply(this.manager.handle({ type: 'maintenance', on: this.state.maintenance }, this.now()));
    this.apply(this.manager.handle({ type: 'standby', on: this.state.standby }, this.now()));
    this.placementChanged();
    this.apply(this.manager.handle({ type: 'startup' }, this.now()));
    this.started = true;
    for (const c of this.config.resources.healthChecks) this.startCheck(c);
  }

  private startCheck(c: HealthCheckConfig): void {
    const checker = new (this.loaded(`health_check ${c.name}`).HealthChecker)(c, {
      onTransition: (t) => {
        const healthy = t.to === 'healthy';
        this.events.emit({ kind: 'health-check', check: c.name, from: t.from, to: t.to, reason: t.reason });
        for (const instance of c.instances) this.vrrp.setTracker(instance, checkTrackerName(c.name), healthy);
        if (c.resource !== undefined) this.apply(this.manager.handle({ type: 'check', resource: c.resource, healthy }, this.now()));
      },
    });
    this.checkers.push({ config: c, checker });
    checker.start();
  }

  /** VRRP mastership, standby or quorum changed: tell the manager where each group may run. */
  placementChanged(): void {
    const allowedByQuorum = this.vrrp.mayRunResources();
    for (const g of this.config.resources.groups) {
      const instances = placementInstances(g, (s) => this.vrrp.syncGroupMembers(s));
      const allowed = allowedByQuorum && (g.placement.kind === 'everywhere' || instances.some((i) => this.vrrp.isMaster(i)));
      this.apply(this.manager.handle({ type: 'placement', group: g.name, allowed }, this.now()));
    }
  }

  private apply(actions: readonly ResourceAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'run-op':
          this.runOp(a.resource, a.op, a.id, a.timeoutMs, a.probe === true);
          break;
        case 'resource-state':
          this.events.emit({ kind: 'resource-state', resource: a.resource, from: a.from, to: a.to, reason: a.reason });
          break;
        case 'ban': {
          const group = 'group' in a ? a.group : a.resource;
          this.events.emit({ kind: 'group-ban', group, banned: a.banned, reason: a.reason });
          const g = this.config.resources.groups.find((x) => x.name === group);
          if (g) for (const instance of placementInstances(g, (s) => this.vrrp.syncGroupMembers(s))) this.vrrp.setTracker(instance, groupTrackerName(group), !a.banned);
          break;
        }
        case 'standby-request':
          this.log.log('warn', 'standby-requested', { reason: a.reason });
          this.setStandby(true);
          break;
        case 'retired':
          this.agents.get(a.resource)?.close?.();
          this.agents.delete(a.resource);
          this.renewAgent.delete(a.resource);
          this.log.log('info', 'resource-retired', { resource: a.resource, detail: a.detail });
          break;
        case 'reconfigured':
          break;
      }
    }
    this.scheduler.set(this.key, this.manager.nextDeadline(), (t) => this.apply(this.manager.handle({ type: 'tick' }, t)));
  }

  private runOp(resource: string, op: 'start' | 'stop' | 'monitor', id: number, timeoutMs: number, probe: boolean): void {
    if (op === 'start' && this.renewAgent.delete(resource)) {
      // Its definition changed: stopped (if it ran) with the old agent, started with the new.
      this.agents.get(resource)?.close?.();
      this.agents.set(resource, this.newAgent(resource));
    }
    const agent = this.agents.get(resource);
    if (!agent) return;
    this.inFlight++;
    if (op !== 'monitor' || probe) this.log.log('info', 'resource-op', { resource, op: probe ? 'probe' : op, timeout_ms: timeoutMs });
    void agent[op](timeoutMs).then((result) => {
      this.inFlight--;
      const now = this.now();
      const actions = this.manager.handle({ type: 'op-result', resource, op, id, result }, now);
      if (op !== 'monitor' || probe || result.rc !== 0) {
        this.events.emit({
          kind: 'resource-op',
          resource,
          op: probe ? 'probe' : op,
          rc: result.rc,
          // OCF: a probe finding the resource stopped (7, NOT_RUNNING) is a success.
          ok: result.rc === 0 || (probe && result.rc === 7),
          detail: result.detail,
          durationMs: Math.round(result.elapsedMs),
          failCount: this.manager.status(now).resources.find((r) => r.name === resource)?.failCount ?? 0,
          timedOut: result.timedOut,
        });
      }
      this.apply(actions);
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  command(command: 'start' | 'stop' | 'restart' | 'cleanup', resource: string): void {
    if (!this.agents.has(resource)) throw new Error(`no resource is named "${resource}"`);
    this.log.log('info', 'resource-command', { command, resource });
    this.apply(this.manager.handle({ type: 'command', command, resource }, this.now()));
  }

  setStandby(on: boolean): void {
    this.state.standby = on;
    this.saveState();
    this.events.emit({ kind: 'node-standby', on });
    this.apply(this.manager.handle({ type: 'standby', on }, this.now()));
    this.vrrp.standbyChanged(on);
  }

  setMaintenance(on: boolean): void {
    this.state.maintenance = on;
    this.saveState();
    this.events.emit({ kind: 'maintenance', on });
    this.apply(this.manager.handle({ type: 'maintenance', on }, this.now()));
  }

  get standby(): boolean {
    return this.state.standby;
  }

  get maintenance(): boolean {
    return this.state.maintenance;
  }

  /**
   * SIGHUP: the resources, groups and health checks of `next` (already validated). Returns
   * what changed, per resource and health check; the manager's operations follow on their own.
   */
  reload(next: VigilConfig): ResourceReloadChange[] {
    const old = this.config;
    this.config = next;
    const { resources, groups } = next.resources;
    const placements: Record<string, boolean> = {};
    const allowedByQuorum = this.vrrp.mayRunResources();
    for (const g of groups) {
      const instances = placementInstances(g, (s) => this.vrrp.syncGroupMembers(s));
      placements[g.name] = allowedByQuorum && (g.placement.kind === 'everywhere' || instances.some((i) => this.vrrp.isMaster(i)));
    }
    let actions: ResourceAction[];
    try {
      actions = this.manager.handle({ type: 'reconfigure', config: { resources, groups }, placements }, this.now());
    } catch (e) {
      this.config = old;
      throw e;
    }
    const out: ResourceReloadChange[] = [];
    for (const a of actions) {
      if (a.type !== 'reconfigured') continue;
      for (const c of a.changes) {
        out.push({ name: c.resource, kind: 'resource', change: c.change, detail: c.keys.join(', ') });
        if (c.change === 'added' && !this.agents.has(c.resource)) this.agents.set(c.resource, this.newAgent(c.resource));
        // A changed definition, or one re-added while its old self still stops: a new agent before the next start.
        else if (c.change === 'restart' || c.change === 'added') this.renewAgent.add(c.resource);
      }
    }
    out.push(...this.reloadChecks(old.resources.healthChecks, next.resources.healthChecks));
    this.apply(actions);
    return out;
  }

  /** Unchanged checks keep running; removed ones stop (their trackers back up); new and changed ones start afresh. */
  private reloadChecks(before: readonly HealthCheckConfig[], after: readonly HealthCheckConfig[]): ResourceReloadChange[] {
    const out: ResourceReloadChange[] = [];
    const next = new Map(after.map((c) => [c.name, c]));
    const kept: { config: HealthCheckConfig; checker: HealthChecker }[] = [];
    for (const entry of this.checkers) {
      const c = next.get(entry.config.name);
      if (c !== undefined && canonical(c) === canonical(entry.config)) {
        kept.push(entry);
        out.push({ name: c.name, kind: 'health-check', change: 'unchanged', detail: '' });
        continue;
      }
      void entry.checker.stop();
      if (c === undefined) {
        out.push({ name: entry.config.name, kind: 'health-check', change: 'removed', detail: '' });
        // The tracker leaves the instances' router config; up, so that nothing stays held by it.
        for (const instance of entry.config.instances) this.vrrp.setTracker(instance, checkTrackerName(entry.config.name), true);
      }
    }
    this.checkers = kept;
    for (const c of after) {
      if (kept.some((k) => k.config.name === c.name)) continue;
      const existed = before.some((b) => b.name === c.name);
      out.push({ name: c.name, kind: 'health-check', change: existed ? 'restart' : 'added', detail: '' });
      // Its tracker's state until its first transition: Daemon.reload.
      if (this.started) this.startCheck(c);
    }
    return out;
  }

  status(): ResourceServiceStatus {
    return {
      ...this.manager.status(this.now()),
      healthChecks: this.checkers.map(({ config, checker }) => {
        const s = checker.status();
        return { name: config.name, state: s.state, lastResult: s.last ? { ok: s.last.ok, detail: s.last.detail } : null };
      }),
    };
  }

  /**
   * Shutdown. In maintenance nothing is touched (the resources keep running for the next
   * daemon to reattach); otherwise every resource is stopped, in group order, waiting at
   * most the longest stop timeout per member.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all(this.checkers.map(({ checker }) => checker.stop()));
    if (!this.state.maintenance) {
      this.apply(this.manager.handle({ type: 'standby', on: true }, this.now()));
      const longest = Math.max(0, ...this.config.resources.resources.map((r) => r.stopTimeoutMs)) * Math.max(1, this.config.resources.resources.length);
      const deadline = this.now() + longest + 1000;
      while (this.running() && this.now() < deadline) await this.idle(deadline - this.now());
    }
    this.scheduler.set(this.key, undefined, () => undefined);
  }

  private running(): boolean {
    return this.inFlight > 0 || this.manager.status(this.now()).resources.some((r) => r.state === 'started' || r.state === 'stopping' || r.state === 'starting');
  }

  private idle(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, Math.min(maxMs, 200)));
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private loadState(): NodeState {
    try {
      const raw = JSON.parse(readFileSync(this.stateFile, 'utf8')) as Partial<NodeState>;
      return { standby: raw.standby === true, maintenance: raw.maintenance === true };
    } catch {
      return { standby: false, maintenance: false };
    }
  }

  private saveState(): void {
    try {
      mkdirSync(path.dirname(this.stateFile), { recursive: true, mode: 0o700 });
      const temp = `${this.stateFile}.${process.pid}.tmp`;
      writeFileSync(temp, `${JSON.stringify(this.state)}\n`, { mode: 0o600 });
      renameSync(temp, this.stateFile);
    } catch (e) {
      this.log.log('error', 'node-state-save-failed', { file: this.stateFile, detail: errorText(e) });
    }
  }
}
