/**
 * The resource manager (src/resources/manager.ts) against docs/reference/resources.md:
 * unit tests named by the rule they check, on a fake executor whose "world" answers the
 * operations truthfully (start makes it run, stop makes it stop, monitor tells which) unless
 * a test scripts a failure; then property tests over random event histories (random op
 * results, placement flips, checks, commands, standby, maintenance, time) with the
 * invariants checked after every step, and convergence and Reattach properties on the
 * truthful world.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from './support/property.js';
import {
  ResourceManager,
} from '../src/resources/manager.js';
import { OCF, type GroupConfig, type OnFail, type OperationName, type OperationResult, type ResourceConfig } from '../src/resources/types.js';
import { INFINITY, type ResourceAction, type ResourceCommand, type ResourceEvent, type ResourceManagerConfig, type ResourceManagerStatus, type ResourceStatus } from '../src/resources/types.js';

const RUNS = Number(process.env['VIGIL_PROPERTY_RUNS'] ?? 150);

// ---- fixtures ----------------------------------------------------------------------------

function res(name: string, over: Partial<ResourceConfig> = {}): ResourceConfig {
  return {
    name,
    spec: { type: 'exec', command: ['/bin/true'] },
    startTimeoutMs: 20_000,
    stopTimeoutMs: 20_000,
    monitorTimeoutMs: 20_000,
    monitorIntervalMs: 10_000,
    onFail: 'restart',
    migrationThreshold: Infinity,
    targetRole: 'started',
    ...over,
  };
}

function group(name: string, resources: string[], kind: 'master' | 'everywhere' = 'master'): GroupConfig {
  return { name, resources, placement: kind === 'master' ? { kind: 'master', instance: 'VI_1' } : { kind: 'everywhere' } };
}

function result(rc: number, timedOut = false, detail = ''): OperationResult {
  return { rc, timedOut, detail, elapsedMs: 1 };
}

type RunOp = Extract<ResourceAction, { type: 'run-op' }>;

/** A manager, a clock and a fake executor over a truthful world. */
class Rig {
  readonly m: ResourceManager;
  now = 0;
  readonly running = new Map<string, boolean>();
  readonly pending = new Map<string, RunOp>();
  readonly log: ResourceAction[] = [];
  /** Scripted answers, per "resource:op", used before the world's own. */
  private readonly scripted = new Map<string, OperationResult[]>();

  constructor(readonly config: ResourceManagerConfig, running: readonly string[] = []) {
    this.m = new ResourceManager(config);
    for (const r of config.resources) this.running.set(r.name, running.includes(r.name));
  }

  send(event: ResourceEvent): ResourceAction[] {
    const actions = this.m.handle(event, this.now);
    for (const a of actions) {
      if (a.type !== 'run-op') continue;
      assert.ok(!this.pending.has(a.resource), `two ops in flight on ${a.resource}`);
      this.pending.set(a.resource, a);
    }
    this.log.push(...actions);
    return actions;
  }

  script(resource: string, op: OperationName, ...results: OperationResult[]): void {
    const key = `${resource}:${op}`;
    this.scripted.set(key, [...(this.scripted.get(key) ?? []), ...results]);
  }

  /** Answers the op in flight on `resource`. */
  answer(resource: string, override?: OperationResult): ResourceAction[] {
    const op = this.pending.get(resource);
    assert.ok(op !== undefined, `no op in flight on ${resource}`);
    this.pending.delete(resource);
    const queue = this.scripted.get(`${resource}:${op.op}`);
    let r = override ?? queue?.shift();
    if (r === undefined) {
      const up = this.running.get(resource) === true;
      if (op.op === 'start') {
        this.running.set(resource, true);
        r = result(OCF.SUCCESS);
      } else if (op.op === 'stop') {
        this.running.set(resource, false);
        r = result(OCF.SUCCESS);
      } else {
        r = result(up ? OCF.SUCCESS : OCF.NOT_RUNNING);
      }
    }
    return this.send({ type: 'op-result', resource, op: op.op, id: op.id, result: r });
  }

  /** Answers everything in flight, in issue order, until nothing is. */
  settle(limit = 500): void {
    for (let i = 0; i < limit && this.pending.size > 0; i++) {
      const first = [...this.pending.values()].sort((a, b) => a.id - b.id)[0];
      if (first !== undefined) this.answer(first.resource);
    }
    assert.equal(this.pending.size, 0, 'did not settle');
  }

  /** Moves the clock to `t`, delivering a tick (and settling) at every deadline on the way. */
  advanceTo(t: number): void {
    for (let i = 0; i < 10_000; i++) {
      const d = this.m.nextDeadline();
      if (d === undefined || d > t) break;
      this.now = Math.max(this.now, d);
      this.send({ type: 'tick' });
      this.settle();
    }
    this.now = t;
    this.send({ type: 'tick' });
    this.settle();
  }

  mark(): number {
    return this.log.length;
  }

  /** "resource:op" for every run-op since `from` (probes as "resource:probe"). */
  opsSince(from: number): string[] {
    return this.log.slice(from).flatMap((a) => (a.type === 'run-op' ? [`${a.resource}:${a.probe === true ? 'probe' : a.op}`] : []));
  }

  startStopSince(from: number): string[] {
    return this.opsSince(from).filter((s) => s.endsWith(':start') || s.endsWith(':stop'));
  }

  bansSince(from: number): Extract<ResourceAction, { type: 'ban' }>[] {
    return this.log.slice(from).flatMap((a) => (a.type === 'ban' ? [a] : []));
  }

  status(): ResourceManagerStatus {
    return this.m.status(this.now);
  }

  r(name: string): ResourceStatus {
    const s = this.status().resources.find((x) => x.name === name);
    assert.ok(s !== undefined);
    return s;
  }

  states(): Record<string, string> {
    return Object.fromEntries(this.status().resources.map((r) => [r.name, r.state]));
  }
}

/** vip, app, web in group g (placement master), everything started and settled. */
function runningGroup(over: Partial<ResourceConfig> = {}, extra: Partial<ResourceManagerConfig> = {}): Rig {
  const rig = new Rig({ resources: [res('vip', over), res('app', over), res('web', over)], groups: [group('g', ['vip', 'app', 'web'])], ...extra });
  rig.send({ type: 'startup' });
  rig.settle();
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.settle();
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', web: 'started' });
  return rig;
}

// ---- groups ------------------------------------------------------------------------------

test('group start order: members start one by one, each only after the previous started', () => {
  const rig = new Rig({ resources: [res('vip'), res('app'), res('web')], groups: [group('g', ['vip', 'app', 'web'])] });
  assert.deepEqual(rig.send({ type: 'placement', group: 'g', allowed: true }), [], 'nothing before startup');
  const probes = rig.send({ type: 'startup' });
  assert.deepEqual(
    probes.flatMap((a) => (a.type === 'run-op' ? [`${a.resource}:${a.op}:${String(a.probe)}`] : [])).sort(),
    ['app:monitor:true', 'vip:monitor:true', 'web:monitor:true'],
  );
  rig.answer('vip');
  assert.deepEqual([...rig.pending.values()].map((o) => `${o.resource}:${o.op}`).sort(), ['app:monitor', 'vip:start', 'web:monitor'], 'the first member starts as soon as it is known stopped');
  rig.answer('app');
  rig.answer('web');
  // Only vip starts; app waits for vip's start to succeed.
  assert.deepEqual([...rig.pending.keys()], ['vip']);
  rig.answer('vip');
  assert.deepEqual([...rig.pending.values()].map((o) => `${o.resource}:${o.op}`), ['app:start']);
  assert.equal(rig.r('app').state, 'starting');
  rig.answer('app');
  assert.deepEqual([...rig.pending.values()].map((o) => `${o.resource}:${o.op}`), ['web:start']);
  rig.answer('web');
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', web: 'started' });
  assert.deepEqual(rig.status().groups[0]?.running, ['vip', 'app', 'web']);
});

test('group stop order: members stop in reverse, each only after the next stopped', () => {
  const rig = runningGroup();
  rig.send({ type: 'placement', group: 'g', allowed: false });
  assert.deepEqual([...rig.pending.values()].map((o) => `${o.resource}:${o.op}`), ['web:stop']);
  rig.answer('web');
  assert.deepEqual([...rig.pending.values()].map((o) => `${o.resource}:${o.op}`), ['app:stop']);
  rig.answer('app');
  assert.deepEqual([...rig.pending.values()].map((o) => `${o.resource}:${o.op}`), ['vip:stop']);
  rig.answer('vip');
  assert.deepEqual(rig.states(), { vip: 'stopped', app: 'stopped', web: 'stopped' });
  const changes = rig.log.filter((a) => a.type === 'resource-state' && a.resource === 'web').at(-1);
  assert.ok(changes?.type === 'resource-state' && changes.to === 'stopped');
});

test('a member that cannot run blocks the members after it (target-role stopped)', () => {
  const rig = new Rig({ resources: [res('vip'), res('app', { targetRole: 'stopped' }), res('web')], groups: [group('g', ['vip', 'app', 'web'])] });
  rig.send({ type: 'startup' });
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.settle();
  assert.deepEqual(rig.states(), { vip: 'started', app: 'stopped', web: 'stopped' });
  const from = rig.mark();
  rig.send({ type: 'command', command: 'start', resource: 'app' });
  rig.settle();
  assert.deepEqual(rig.startStopSince(from), ['app:start', 'web:start']);
});

test('target-role stopped: the stop command stops it (dependents first) and keeps it stopped', () => {
  const rig = runningGroup();
  const from = rig.mark();
  rig.send({ type: 'command', command: 'stop', resource: 'app' });
  rig.settle();
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop']);
  rig.advanceTo(100_000);
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop']);
  assert.equal(rig.r('app').targetRole, 'stopped');
  assert.deepEqual(rig.states(), { vip: 'started', app: 'stopped', web: 'stopped' });
});

test('restart command: stop then start in place, the later members restarted too', () => {
  const rig = runningGroup();
  const from = rig.mark();
  rig.send({ type: 'command', command: 'restart', resource: 'app' });
  rig.settle();
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop', 'app:start', 'web:start']);
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', web: 'started' });
});

// ---- startup, probes, Reattach -----------------------------------------------------------

test('startup probes every resource once; found running where it may run: left running (Reattach)', () => {
  const rig = new Rig({ resources: [res('vip'), res('app'), res('web')], groups: [group('g', ['vip', 'app', 'web'])] }, ['vip', 'app', 'web']);
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.send({ type: 'startup' });
  rig.settle();
  assert.deepEqual(rig.opsSince(0).sort(), ['app:probe', 'vip:probe', 'web:probe']);
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', web: 'started' });
  rig.advanceTo(10_000);
  assert.deepEqual(rig.opsSince(0).slice(3).sort(), ['app:monitor', 'vip:monitor', 'web:monitor']);
});

test('startup probe: found running where it may not run: stopped, in reverse order', () => {
  const rig = new Rig({ resources: [res('vip'), res('app'), res('web')], groups: [group('g', ['vip', 'app', 'web'])] }, ['vip', 'app', 'web']);
  rig.send({ type: 'startup' });
  rig.settle();
  assert.deepEqual(rig.startStopSince(0), ['web:stop', 'app:stop', 'vip:stop']);
  assert.deepEqual(rig.states(), { vip: 'stopped', app: 'stopped', web: 'stopped' });
});

test('startup probe: a later member found running before an earlier one is stopped and restarted in order', () => {
  const rig = new Rig({ resources: [res('vip'), res('app')], groups: [group('g', ['vip', 'app'])] }, ['app']);
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.send({ type: 'startup' });
  rig.settle();
  assert.deepEqual(rig.startStopSince(0), ['app:stop', 'vip:start', 'app:start']);
});

// ---- monitors and failures ---------------------------------------------------------------

test('monitors recur at monitorIntervalMs while started, and not while stopped', () => {
  const rig = runningGroup();
  const from = rig.mark();
  rig.advanceTo(35_000);
  assert.equal(rig.opsSince(from).filter((s) => s === 'vip:monitor').length, 3);
  rig.send({ type: 'placement', group: 'g', allowed: false });
  rig.settle();
  const stopped = rig.mark();
  rig.advanceTo(100_000);
  assert.deepEqual(rig.opsSince(stopped), []);
  assert.equal(rig.m.nextDeadline(), undefined);
});

test('monitor NOT_RUNNING while started: fail count +1, restart in place, dependents restarted (on-fail restart)', () => {
  const rig = runningGroup();
  rig.running.set('app', false); // it crashed
  const from = rig.mark();
  rig.advanceTo(10_000);
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop', 'app:start', 'web:start']);
  const app = rig.r('app');
  assert.equal(app.failCount, 1);
  assert.equal(app.state, 'started');
  assert.deepEqual(
    app.lastFailure && { op: app.lastFailure.op, rc: app.lastFailure.rc, at: app.lastFailure.at },
    { op: 'monitor', rc: OCF.NOT_RUNNING, at: 10_000 },
  );
  assert.deepEqual(rig.bansSince(0), []);
});

test('op timeouts are failures (ERR_GENERIC)', () => {
  const rig = runningGroup();
  rig.script('web', 'monitor', result(OCF.SUCCESS, true, 'timed out after 20s'));
  rig.advanceTo(10_000);
  const web = rig.r('web');
  assert.equal(web.failCount, 1);
  assert.equal(web.lastFailure?.rc, OCF.ERR_GENERIC);
  assert.equal(web.lastFailure?.timedOut, true);
});

test('health check unhealthy counts as a monitor failure (ERR_GENERIC)', () => {
  const rig = runningGroup();
  const from = rig.mark();
  rig.send({ type: 'check', resource: 'app', healthy: false });
  rig.settle();
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop', 'app:start', 'web:start']);
  assert.equal(rig.r('app').failCount, 1);
  assert.equal(rig.r('app').lastFailure?.rc, OCF.ERR_GENERIC);
  rig.send({ type: 'check', resource: 'app', healthy: true });
  assert.equal(rig.r('app').failCount, 1);
});

test('migration-threshold bans the group: the whole group stops here and a ban is emitted', () => {
  const rig = runningGroup({ migrationThreshold: 2 });
  rig.send({ type: 'check', resource: 'app', healthy: false });
  rig.settle();
  assert.deepEqual(rig.bansSince(0), []);
  const from = rig.mark();
  rig.send({ type: 'check', resource: 'app', healthy: false });
  rig.settle();
  const bans = rig.bansSince(from);
  assert.equal(bans.length, 1);
  assert.ok(bans[0] !== undefined && 'group' in bans[0] && bans[0].group === 'g' && bans[0].banned);
  assert.match(bans[0].reason, /app.*migration-threshold 2/);
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop', 'vip:stop']);
  assert.equal(rig.r('vip').banned, true);
  assert.equal(rig.status().groups[0]?.allowedHere, false);
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.advanceTo(1_000_000);
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop', 'vip:stop']);
});

test('failure-timeout forgets: failures older than it expire at tick and the group is unbanned', () => {
  const rig = runningGroup({ migrationThreshold: 1, failureTimeoutMs: 60_000 });
  rig.now = 5_000;
  rig.send({ type: 'check', resource: 'web', healthy: false });
  rig.settle();
  assert.equal(rig.r('web').failCount, 1);
  assert.equal(rig.bansSince(0).length, 1);
  assert.equal(rig.m.nextDeadline(), 65_000);
  const from = rig.mark();
  rig.advanceTo(64_999);
  assert.deepEqual(rig.opsSince(from), []);
  rig.advanceTo(65_000);
  assert.equal(rig.r('web').failCount, 0);
  const unban = rig.bansSince(from);
  assert.equal(unban.length, 1);
  assert.equal(unban[0]?.banned, false);
  assert.match(unban[0]?.reason ?? '', /failure-timeout/);
  assert.deepEqual(rig.startStopSince(from), ['vip:start', 'app:start', 'web:start']);
});

test('failure-timeout expires each failure on its own (per-failure times)', () => {
  const rig = runningGroup({ migrationThreshold: 3, failureTimeoutMs: 60_000, monitorIntervalMs: 0 });
  rig.now = 1_000;
  rig.send({ type: 'check', resource: 'app', healthy: false });
  rig.settle();
  rig.now = 31_000;
  rig.send({ type: 'check', resource: 'app', healthy: false });
  rig.settle();
  assert.equal(rig.r('app').failCount, 2);
  rig.advanceTo(61_000);
  assert.equal(rig.r('app').failCount, 1);
  rig.advanceTo(91_000);
  assert.equal(rig.r('app').failCount, 0);
});

test('start failure is fatal: fail count INFINITY, the group is banned and stopped here', () => {
  const rig = new Rig({ resources: [res('vip'), res('app'), res('web')], groups: [group('g', ['vip', 'app', 'web'])] });
  rig.script('app', 'start', result(OCF.ERR_GENERIC, false, 'cannot bind'));
  rig.send({ type: 'startup' });
  rig.settle();
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.settle();
  assert.deepEqual(rig.startStopSince(0), ['vip:start', 'app:start', 'app:stop', 'vip:stop']);
  assert.equal(rig.r('app').failCount, INFINITY);
  const bans = rig.bansSince(0);
  assert.equal(bans.length, 1);
  assert.match(bans[0]?.reason ?? '', /start failed.*cannot bind.*INFINITY/);
});

test('start failure with startFailureIsFatal false: counts 1 and retries until migration-threshold', () => {
  const rig = new Rig({ resources: [res('vip', { migrationThreshold: 3 })], groups: [group('g', ['vip'])], startFailureIsFatal: false });
  rig.script('vip', 'start', result(1), result(1), result(1));
  rig.send({ type: 'startup' });
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.settle();
  assert.deepEqual(rig.startStopSince(0), ['vip:start', 'vip:stop', 'vip:start', 'vip:stop', 'vip:start', 'vip:stop']);
  assert.equal(rig.r('vip').failCount, 3);
  assert.equal(rig.bansSince(0).length, 1);
});

test('stop failure blocks: no more operations on it, its group is blocked and banned with reason "stop failed"', () => {
  const rig = runningGroup();
  rig.script('app', 'stop', result(OCF.ERR_GENERIC, false, 'stuck'));
  const from = rig.mark();
  rig.send({ type: 'placement', group: 'g', allowed: false });
  rig.settle();
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop']);
  const app = rig.r('app');
  assert.equal(app.state, 'blocked');
  assert.match(app.blocked ?? '', /stop failed/);
  const bans = rig.bansSince(from);
  assert.equal(bans.length, 1);
  assert.match(bans[0]?.reason ?? '', /^stop failed: app/);
  // vip, ordered before it, cannot stop while app may still run; app gets no operation at all.
  const later = rig.mark();
  rig.advanceTo(200_000);
  assert.ok(!rig.opsSince(later).some((s) => s.startsWith('app:')));
  assert.ok(!rig.opsSince(later).includes('vip:stop'));
  // cleanup: re-probe, unban, carry on.
  rig.running.set('app', false);
  const c = rig.mark();
  rig.send({ type: 'command', command: 'cleanup', resource: 'app' });
  rig.settle();
  assert.deepEqual(rig.opsSince(c), ['app:probe', 'vip:stop']);
  assert.equal(rig.bansSince(c)[0]?.banned, false);
  assert.deepEqual(rig.states(), { vip: 'stopped', app: 'stopped', web: 'stopped' });
});

test('hard failures ban at once (ERR_INSTALLED on monitor, migration-threshold INFINITY)', () => {
  const rig = runningGroup();
  rig.script('web', 'monitor', result(OCF.ERR_INSTALLED));
  const from = rig.mark();
  rig.advanceTo(10_000);
  assert.equal(rig.r('web').failCount, INFINITY);
  assert.equal(rig.bansSince(from).length, 1);
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop', 'vip:stop']);
});

test('fatal failures (ERR_CONFIGURED): stopped and kept stopped until cleanup, not banned', () => {
  const rig = runningGroup();
  rig.script('web', 'monitor', result(OCF.ERR_CONFIGURED, false, 'bad config'));
  const from = rig.mark();
  rig.advanceTo(10_000);
  assert.deepEqual(rig.startStopSince(from), ['web:stop']);
  assert.equal(rig.r('web').fatal, true);
  assert.equal(rig.r('web').state, 'stopped');
  assert.deepEqual(rig.bansSince(from), []);
  rig.send({ type: 'command', command: 'start', resource: 'web' });
  rig.advanceTo(50_000);
  assert.deepEqual(rig.startStopSince(from), ['web:stop']);
  rig.send({ type: 'command', command: 'cleanup', resource: 'web' });
  rig.settle();
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'web:start']);
});

test('on-fail ignore: the failure is counted and nothing else is done', () => {
  const rig = runningGroup({ onFail: 'ignore' });
  rig.script('app', 'monitor', result(OCF.ERR_GENERIC));
  const from = rig.mark();
  rig.advanceTo(25_000);
  assert.deepEqual(rig.startStopSince(from), []);
  assert.equal(rig.r('app').failCount, 1);
  assert.equal(rig.r('app').state, 'started');
  assert.equal(rig.opsSince(from).filter((s) => s === 'app:monitor').length, 2, 'monitors go on');
});

test('on-fail block: no more operations on it, it stays as it is; later members stopped', () => {
  const rig = runningGroup({ onFail: 'block' });
  rig.script('app', 'monitor', result(OCF.ERR_GENERIC));
  const from = rig.mark();
  rig.advanceTo(10_000);
  assert.equal(rig.r('app').state, 'blocked');
  assert.deepEqual(rig.startStopSince(from), ['web:stop']);
  const later = rig.mark();
  rig.advanceTo(100_000);
  assert.ok(!rig.opsSince(later).some((s) => s.startsWith('app:')));
  assert.equal(rig.running.get('app'), true);
  assert.deepEqual(rig.bansSince(0), []);
});

test('on-fail stop: stopped and not restarted until a start command', () => {
  const rig = runningGroup({ onFail: 'stop' });
  rig.script('app', 'monitor', result(OCF.ERR_GENERIC));
  const from = rig.mark();
  rig.advanceTo(30_000);
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop']);
  assert.equal(rig.r('app').stoppedByFailure, true);
  rig.send({ type: 'command', command: 'start', resource: 'app' });
  rig.settle();
  assert.deepEqual(rig.startStopSince(from), ['web:stop', 'app:stop', 'app:start', 'web:start']);
});

test('on-fail standby: standby-request, and everything moves off the node (everywhere resources too)', () => {
  const rig = new Rig({
    resources: [res('vip'), res('app', { onFail: 'standby' }), res('agent')],
    groups: [group('g', ['vip', 'app'])],
  });
  rig.send({ type: 'startup' });
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.settle();
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', agent: 'started' });
  const from = rig.mark();
  rig.send({ type: 'check', resource: 'app', healthy: false });
  rig.settle();
  const req = rig.log.slice(from).filter((a) => a.type === 'standby-request');
  assert.equal(req.length, 1);
  assert.deepEqual(rig.states(), { vip: 'stopped', app: 'stopped', agent: 'stopped' });
  assert.equal(rig.status().node.standby, true);
});

test('standby stops everything, and standby off brings it back', () => {
  const rig = new Rig({ resources: [res('vip'), res('app'), res('agent')], groups: [group('g', ['vip', 'app']), group('e', ['agent'], 'everywhere')] });
  rig.send({ type: 'startup' });
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.settle();
  const from = rig.mark();
  rig.send({ type: 'standby', on: true });
  rig.settle();
  assert.deepEqual(rig.startStopSince(from).sort(), ['agent:stop', 'app:stop', 'vip:stop']);
  assert.deepEqual(rig.states(), { vip: 'stopped', app: 'stopped', agent: 'stopped' });
  assert.equal(rig.status().groups.every((g) => !g.allowedHere), true);
  rig.send({ type: 'standby', on: false });
  rig.settle();
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', agent: 'started' });
});

test('maintenance issues no operation and survives a restart via probe (Reattach)', () => {
  const rig = runningGroup();
  const from = rig.mark();
  rig.send({ type: 'maintenance', on: true });
  assert.equal(rig.m.nextDeadline(), undefined, 'no monitor is due in maintenance');
  rig.send({ type: 'placement', group: 'g', allowed: false });
  rig.send({ type: 'check', resource: 'app', healthy: false });
  rig.send({ type: 'command', command: 'restart', resource: 'web' });
  rig.now = 300_000;
  rig.send({ type: 'tick' });
  assert.deepEqual(rig.opsSince(from), [], 'no operation at all in maintenance');
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', web: 'started' });
  assert.equal(rig.r('app').failCount, 0);
  // The daemon restarts while in maintenance: a new manager learns the state by probing.
  const rig2 = new Rig(rig.config, ['vip', 'app', 'web']);
  rig2.send({ type: 'maintenance', on: true });
  rig2.send({ type: 'placement', group: 'g', allowed: true });
  rig2.send({ type: 'startup' });
  assert.deepEqual(rig2.opsSince(0), []);
  rig2.send({ type: 'maintenance', on: false });
  rig2.settle();
  assert.deepEqual(rig2.opsSince(0).sort(), ['app:probe', 'vip:probe', 'web:probe'], 'probed, not restarted');
  assert.deepEqual(rig2.states(), { vip: 'started', app: 'started', web: 'started' });
  // The old one, out of maintenance, re-probes and then acts on what changed meanwhile.
  const off = rig.mark();
  rig.send({ type: 'maintenance', on: false });
  rig.settle();
  assert.deepEqual(rig.opsSince(off).slice(0, 3).sort(), ['app:probe', 'vip:probe', 'web:probe']);
  assert.deepEqual(rig.startStopSince(off), ['web:stop', 'app:stop', 'vip:stop']);
});

test('cleanup resets and re-probes: fail count and failures forgotten, unbanned, no bounce', () => {
  const rig = runningGroup({ migrationThreshold: 1 });
  rig.send({ type: 'check', resource: 'app', healthy: false });
  rig.settle();
  assert.equal(rig.r('app').banned, true);
  assert.deepEqual(rig.states(), { vip: 'stopped', app: 'stopped', web: 'stopped' });
  const from = rig.mark();
  rig.send({ type: 'command', command: 'cleanup', resource: 'app' });
  rig.settle();
  const app = rig.r('app');
  assert.equal(app.failCount, 0);
  assert.equal(app.lastFailure, null);
  assert.equal(app.banned, false);
  assert.equal(rig.bansSince(from)[0]?.banned, false);
  assert.deepEqual(rig.opsSince(from), ['app:probe', 'vip:start', 'app:start', 'web:start']);
  // Cleanup of a running resource re-probes without restarting anything.
  const again = rig.mark();
  rig.send({ type: 'command', command: 'cleanup', resource: 'vip' });
  rig.settle();
  assert.deepEqual(rig.opsSince(again), ['vip:probe']);
});

test('stand-alone resources run everywhere and are banned by resource name', () => {
  const rig = new Rig({ resources: [res('agent', { migrationThreshold: 1 })], groups: [] });
  rig.send({ type: 'startup' });
  rig.settle();
  assert.equal(rig.r('agent').state, 'started');
  assert.equal(rig.r('agent').group, null);
  rig.send({ type: 'check', resource: 'agent', healthy: false });
  rig.settle();
  const ban = rig.bansSince(0)[0];
  assert.ok(ban !== undefined && 'resource' in ban && ban.resource === 'agent' && ban.banned);
});

test('stale op results (unknown id) are ignored', () => {
  const rig = new Rig({ resources: [res('vip')], groups: [group('g', ['vip'])] });
  rig.send({ type: 'startup' });
  const probe = rig.pending.get('vip');
  assert.ok(probe !== undefined);
  assert.deepEqual(rig.m.handle({ type: 'op-result', resource: 'vip', op: 'monitor', id: probe.id + 100, result: result(0) }, 0), []);
  assert.equal(rig.r('vip').inFlight?.id, probe.id);
  assert.equal(rig.r('vip').inFlight?.probe, true);
});

test('status: state, target role, fail count, ban, last failure, in-flight op; groups; node', () => {
  const rig = runningGroup({ migrationThreshold: 5 });
  rig.now = 1_000;
  rig.send({ type: 'check', resource: 'web', healthy: false });
  const s = rig.m.status(1_500);
  const web = s.resources.find((r) => r.name === 'web');
  assert.equal(web?.state, 'stopping');
  assert.equal(web?.failCount, 1);
  assert.equal(web?.migrationThreshold, 5);
  assert.equal(web?.group, 'g');
  assert.deepEqual(web?.inFlight && { op: web.inFlight.op, probe: web.inFlight.probe, elapsedMs: web.inFlight.elapsedMs }, { op: 'stop', probe: false, elapsedMs: 500 });
  assert.equal(web?.lastFailure?.agoMs, 500);
  assert.deepEqual(s.groups[0] && { allowed: s.groups[0].allowedHere, running: s.groups[0].running }, { allowed: true, running: ['vip', 'app'] });
  assert.deepEqual(s.node, { standby: false, maintenance: false, startedUp: true });
  const change = rig.log.filter((a) => a.type === 'resource-state' && a.resource === 'web').at(-1);
  assert.ok(change?.type === 'resource-state');
  assert.equal(change.from, 'started');
  assert.equal(change.to, 'stopping');
  assert.match(change.reason, /monitor failed/);
});

// ---- properties --------------------------------------------------------------------------

interface Shape {
  readonly groups: { readonly size: number; readonly everywhere: boolean }[];
  readonly standalone: number;
  readonly resources: { readonly onFail: OnFail; readonly threshold: number; readonly failureTimeoutMs: number | undefined; readonly intervalMs: number; readonly stopped: boolean }[];
  readonly startFailureIsFatal: boolean;
}

const MAX_RES = 7;

const shapeArb: fc.Arbitrary<Shape> = fc.record({
  groups: fc.array(fc.record({ size: fc.integer({ min: 1, max: 3 }), everywhere: fc.boolean() }), { minLength: 1, maxLength: 2 }),
  standalone: fc.integer({ min: 0, max: 1 }),
  resources: fc.array(
    fc.record({
      onFail: fc.constantFrom<OnFail>('restart', 'restart', 'ignore', 'block', 'stop', 'standby'),
      threshold: fc.constantFrom(1, 2, 3, Infinity),
      failureTimeoutMs: fc.option(fc.integer({ min: 5_000, max: 60_000 }), { nil: undefined }),
      intervalMs: fc.constantFrom(0, 5_000, 10_000),
      stopped: fc.boolean()
    }),
    { minLength: MAX_RES, maxLength: MAX_RES },
  ),
  startFailureIsFatal: fc.boolean(),
});

function configOf(s: Shape, opts: { stoppedAllowed: boolean } = { stoppedAllowed: true }): ResourceManagerConfig {
  const resources: ResourceConfig[] = [];
  const groups: GroupConfig[] = [];
  let i = 0;
  const make = (): string => {
    const spec = s.resources[i % MAX_RES];
    const name = `r${i++}`;
    resources.push(
      res(name, {
        onFail: spec?.onFail ?? 'restart',
        migrationThreshold: spec?.threshold ?? Infinity,
        monitorIntervalMs: spec?.intervalMs ?? 10_000,
        targetRole: opts.stoppedAllowed && spec?.stopped === true ? 'stopped' : 'started',
        ...(spec?.failureTimeoutMs === undefined ? {} : { failureTimeoutMs: spec.failureTimeoutMs }),
      }),
    );
    return name;
  };
  s.groups.forEach((g, gi) => {
    const members: string[] = [];
    for (let k = 0; k < g.size; k++) members.push(make());
    groups.push(group(`g${gi}`, members, g.everywhere ? 'everywhere' : 'master'));
  });
  for (let k = 0; k < s.standalone; k++) make();
  return { resources, groups, startFailureIsFatal: s.startFailureIsFatal };
}

type Step =
  | { readonly kind: 'placement'; readonly g: number; readonly allowed: boolean }
  | { readonly kind: 'standby'; readonly on: boolean }
  | { readonly kind: 'maintenance'; readonly on: boolean }
  | { readonly kind: 'check'; readonly r: number; readonly healthy: boolean }
  | { readonly kind: 'command'; readonly command: ResourceCommand; readonly r: number }
  | { readonly kind: 'answer'; readonly pick: number; readonly rc: number; readonly timedOut: boolean }
  | { readonly kind: 'tick'; readonly advance: number }
  | { readonly kind: 'deadline' }
  /** A reload to the config of another shape (the same names r0, r1...: some stay, some change, some go or come). */
  | { readonly kind: 'reload'; readonly shape: Shape; readonly allowed: readonly boolean[] };

const rcArb = fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 0, 190, 7, 7, 1, 1, 2, 5, 6);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('placement' as const), g: fc.nat(3), allowed: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('standby' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('maintenance' as const), on: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('check' as const), r: fc.nat(MAX_RES), healthy: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('command' as const), command: fc.constantFrom<ResourceCommand>('start', 'stop', 'restart', 'cleanup'), r: fc.nat(MAX_RES) }),
  },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(10), rc: rcArb, timedOut: fc.constant(false) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(10), rc: rcArb, timedOut: fc.constant(true) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), advance: fc.integer({ min: 0, max: 30_000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('deadline' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reload' as const), shape: shapeArb, allowed: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }) }) },
);

/** The invariants of the random-history property, checked after every step. */
class Audit {
  readonly pending = new Map<string, RunOp>();
  readonly placement = new Map<string, boolean>();
  maintenance = false;
  runOps = 0;

  constructor(readonly config: ResourceManagerConfig) {
    for (const g of config.groups) this.placement.set(g.name, g.placement.kind === 'everywhere');
    const grouped = new Set(config.groups.flatMap((g) => g.resources));
    for (const r of config.resources) if (!grouped.has(r.name)) this.placement.set(r.name, true);
  }

  /** After `event` was handled and returned `actions`; `s` the status after it. */
  check(event: ResourceEvent, actions: readonly ResourceAction[], s: ResourceManagerStatus): void {
    if (event.type === 'placement') this.placement.set(event.group, event.allowed);
    if (event.type === 'maintenance') this.maintenance = event.on;
    if (event.type === 'op-result') this.pending.delete(event.resource);
    const byName = new Map(s.resources.map((r) => [r.name, r]));
    const groupOf = new Map(s.groups.map((g) => [g.name, g]));
    for (const a of actions) {
      if (a.type !== 'run-op') continue;
      this.runOps++;
      // never two ops in flight on one resource
      assert.ok(!this.pending.has(a.resource), `two ops in flight on ${a.resource}`);
      this.pending.set(a.resource, a);
      // during maintenance no run-op is emitted
      assert.ok(!this.maintenance, `run-op ${a.resource}:${a.op} during maintenance`);
      if (a.op !== 'start') continue;
      const r = byName.get(a.resource);
      assert.ok(r !== undefined);
      const g = s.groups.find((x) => x.members.includes(a.resource));
      assert.ok(g !== undefined);
      // a group's member k is started only while members 0..k-1 are started
      const k = g.members.indexOf(a.resource);
      for (const before of g.members.slice(0, k)) {
        assert.equal(byName.get(before)?.state, 'started', `${a.resource} started while ${before} is ${byName.get(before)?.state}`);
      }
      // nothing is started while its group's placement is false, or in standby
      assert.ok(this.placement.get(g.name) === true, `${a.resource} started while placement false`);
      assert.ok(!s.node.standby, `${a.resource} started in standby`);
      // a resource with fail count >= threshold (or in a banned group) is never started
      assert.ok(r.failCount < r.migrationThreshold, `${a.resource} started with fail count ${r.failCount} >= ${r.migrationThreshold}`);
      assert.ok(!g.banned, `${a.resource} started in banned group ${g.name}`);
      assert.equal(r.targetRole, 'started');
    }
    // the status agrees with the executor on what is in flight
    for (const r of s.resources) {
      assert.equal(r.inFlight?.id ?? null, this.pending.get(r.name)?.id ?? null, `in-flight op of ${r.name}`);
    }
    // A started member that may not stay started (placement false, standby, banned, target
    // stopped, an earlier member not started) is being dealt with: an op is in flight on it
    // or a later member, or a later member is blocked, or the node is in maintenance.
    if (!s.node.startedUp || this.maintenance) return;
    for (const g of groupOf.values()) {
      const allowed = this.placement.get(g.name) === true && !s.node.standby && !g.banned;
      g.members.forEach((name, k) => {
        const r = byName.get(name);
        if (r?.state !== 'started') return;
        const earlierDown = g.members.slice(0, k).some((b) => byName.get(b)?.state !== 'started');
        if (allowed && !earlierDown && r.targetRole === 'started' && !r.fatal && !r.stoppedByFailure) return;
        const settling =
          g.members.slice(k).some((later) => {
            const l = byName.get(later);
            return l !== undefined && (l.inFlight !== null || l.state === 'blocked');
          }) || g.members.slice(0, k).some((b) => byName.get(b)?.state === 'unknown'); // waits for an earlier probe
        assert.ok(settling, `${name} is started in group ${g.name} but may not stay so, and nothing is being done`);
      });
    }
  }

  /** At quiescence: nothing may still be started against the rules, except before a blocked member. */
  final(s: ResourceManagerStatus): void {
    const byName = new Map(s.resources.map((r) => [r.name, r]));
    // a resource a reload removed is gone once things settle (stopped and retired)
    const inGroups = new Set(s.groups.flatMap((g) => g.members));
    for (const r of s.resources) assert.ok(inGroups.has(r.name), `${r.name} (removed by a reload) is still there: ${r.state}`);
    for (const g of s.groups) {
      const allowed = this.placement.get(g.name) === true && !s.node.standby && !g.banned;
      let prefix = true;
      g.members.forEach((name, k) => {
        const r = byName.get(name);
        assert.ok(r !== undefined);
        const blockedAfter = g.members.slice(k + 1).some((l) => byName.get(l)?.state === 'blocked');
        assert.ok(r.state !== 'failed' || blockedAfter, `${name} left failed`);
        if (r.state === 'started') {
          assert.ok((allowed && prefix) || blockedAfter, `${name} started at quiescence (allowed ${allowed}, prefix ${prefix})`);
        }
        prefix = prefix && r.state === 'started';
      });
    }
  }
}

function runHistory(shape: Shape, steps: readonly Step[]): number {
  const config = configOf(shape);
  const m = new ResourceManager(config);
  const audit = new Audit(config);
  let now = 0;
  let names = config.resources.map((r) => r.name);
  const groupNamesOf = (c: ResourceManagerConfig): string[] => {
    const grouped = new Set(c.groups.flatMap((g) => g.resources));
    return [...c.groups.map((g) => g.name), ...c.resources.map((r) => r.name).filter((n) => !grouped.has(n))];
  };
  let groupNames = groupNamesOf(config);
  let inForce = config;
  const send = (event: ResourceEvent): void => {
    const actions = m.handle(event, now);
    audit.check(event, actions, m.status(now));
  };
  send({ type: 'startup' });
  for (const step of steps) {
    switch (step.kind) {
      case 'placement':
        send({ type: 'placement', group: groupNames[step.g % groupNames.length] ?? 'g0', allowed: step.allowed });
        break;
      case 'standby':
        send({ type: 'standby', on: step.on });
        break;
      case 'maintenance':
        send({ type: 'maintenance', on: step.on });
        break;
      case 'check':
        send({ type: 'check', resource: names[step.r % names.length] ?? 'r0', healthy: step.healthy });
        break;
      case 'command':
        send({ type: 'command', command: step.command, resource: names[step.r % names.length] ?? 'r0' });
        break;
      case 'answer': {
        const ops = [...audit.pending.values()];
        const op = ops[step.pick % Math.max(1, ops.length)];
        if (op === undefined) break;
        now += 1;
        send({ type: 'op-result', resource: op.resource, op: op.op, id: op.id, result: result(step.rc, step.timedOut) });
        break;
      }
      case 'tick':
        now += step.advance;
        send({ type: 'tick' });
        break;
      case 'deadline': {
        const d = m.nextDeadline();
        if (d !== undefined) now = Math.max(now, d);
        send({ type: 'tick' });
        break;
      }
      case 'reload': {
        const next = configOf(step.shape);
        inForce = next;
        names = next.resources.map((r) => r.name);
        groupNames = groupNamesOf(next);
        const placements: Record<string, boolean> = {};
        groupNames.forEach((g, i) => {
          // stand-alone resources run everywhere; a group's placement is what the step says
          placements[g] = next.groups.some((x) => x.name === g) ? (next.groups.find((x) => x.name === g)?.placement.kind === 'everywhere' || (step.allowed[i % step.allowed.length] ?? false)) : true;
        });
        audit.placement.clear();
        for (const [g, allowed] of Object.entries(placements)) audit.placement.set(g, allowed);
        send({ type: 'reconfigure', config: next, placements });
        break;
      }
    }
  }
  // Drain: leave maintenance, answer everything with success until quiet, then audit.
  if (audit.maintenance) send({ type: 'maintenance', on: false });
  for (let i = 0; i < 1000 && audit.pending.size > 0; i++) {
    const op = [...audit.pending.values()][0];
    if (op === undefined) break;
    now += 1;
    send({ type: 'op-result', resource: op.resource, op: op.op, id: op.id, result: result(OCF.SUCCESS) });
  }
  assert.equal(audit.pending.size, 0, 'did not drain');
  audit.final(m.status(now));
  // A reload to the config in force bounces nothing: no start, no stop, no state change.
  const same = m.handle({ type: 'reconfigure', config: inForce, placements: Object.fromEntries(audit.placement) }, now);
  const bounced = same.filter((a) => (a.type === 'run-op' && (a.op !== 'monitor' || a.probe === true)) || a.type === 'resource-state' || a.type === 'ban' || a.type === 'retired');
  assert.deepEqual(bounced, [], 'a reload to the same config');
  const changed = same.flatMap((a) => (a.type === 'reconfigured' ? a.changes.filter((c) => c.change !== 'unchanged') : []));
  assert.deepEqual(changed, []);
  return audit.runOps;
}

let historyRuns = 0;
let historyOps = 0;
// ---- reload (reconfigure) ---------------------------------------------------------------

function reconfigure(rig: Rig, config: ResourceManagerConfig, placements: Record<string, boolean> = { g: true }): Extract<ResourceAction, { type: 'reconfigured' }> {
  for (const r of config.resources) if (!rig.running.has(r.name)) rig.running.set(r.name, false);
  const out = rig.send({ type: 'reconfigure', config, placements });
  const done = out.find((a): a is Extract<ResourceAction, { type: 'reconfigured' }> => a.type === 'reconfigured');
  assert.ok(done, 'a reconfigured action');
  return done;
}

test('reload: an unchanged resource is not touched (no op, fail count kept); a new one is probed then started after it; a removed one stopped in reverse order and retired', () => {
  const rig = new Rig({ resources: [res('vip'), res('app'), res('old1'), res('old2')], groups: [group('g', ['vip', 'app']), group('h', ['old1', 'old2'], 'everywhere')] });
  rig.send({ type: 'startup' });
  rig.settle();
  rig.send({ type: 'placement', group: 'g', allowed: true });
  rig.settle();
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', old1: 'started', old2: 'started' });
  // One monitor failure on app: restarted in place, fail count 1.
  rig.now = 10_000;
  rig.script('app', 'monitor', result(OCF.NOT_RUNNING));
  rig.send({ type: 'tick' });
  rig.settle();
  assert.equal(rig.r('app').failCount, 1);
  const mark = rig.mark();
  const done = reconfigure(rig, { resources: [res('vip'), res('app'), res('web')], groups: [group('g', ['vip', 'app', 'web'])] });
  assert.deepEqual(
    done.changes.map((c) => `${c.resource}:${c.change}`),
    ['vip:unchanged', 'app:unchanged', 'web:added', 'old1:removed', 'old2:removed'],
  );
  rig.settle();
  const ops = rig.opsSince(mark);
  assert.deepEqual(ops.filter((o) => o.startsWith('old')), ['old2:stop', 'old1:stop'], 'removed: stopped in reverse order');
  assert.deepEqual(ops.filter((o) => !o.startsWith('old')), ['web:probe', 'web:start'], 'new: probed, then started; nothing else touched');
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', web: 'started' }, 'the removed ones are gone');
  assert.equal(rig.r('app').failCount, 1, 'fail count kept');
  assert.deepEqual(
    rig.log.slice(mark).flatMap((a) => (a.type === 'retired' ? [`${a.resource}:${a.detail}`] : [])),
    ['old2:stopped', 'old1:stopped'],
  );
  assert.deepEqual(rig.status().groups.map((g) => g.name), ['g'], 'no group left of the removed ones');
});

test('reload: a changed definition restarts that resource (stop with the old, start with the new) and the members after it; timeouts, interval and meta are applied in place', () => {
  const rig = runningGroup();
  const mark = rig.mark();
  const done = reconfigure(rig, {
    resources: [res('vip', { monitorIntervalMs: 2_000, stopTimeoutMs: 5_000 }), res('app', { spec: { type: 'exec', command: ['/bin/true', '--new'] } }), res('web', { migrationThreshold: 3 })],
    groups: [group('g', ['vip', 'app', 'web'])],
  });
  assert.deepEqual(
    done.changes.map((c) => `${c.resource}:${c.change}:${c.keys.join('+')}`),
    ['vip:updated:stopTimeoutMs+monitorIntervalMs', 'app:restart:spec', 'web:updated:migrationThreshold'],
  );
  rig.settle();
  assert.deepEqual(rig.startStopSince(mark), ['web:stop', 'app:stop', 'app:start', 'web:start'], 'app restarted, web (after it) with it; vip untouched');
  assert.deepEqual(rig.states(), { vip: 'started', app: 'started', web: 'started' });
  assert.equal(rig.r('vip').nextMonitorInMs, 2_000, 'the monitor rescheduled at the new interval');
  assert.equal(rig.r('web').migrationThreshold, 3);
});

test('reload: a lower migration-threshold applies to the fail count the resource already has (banned at once)', () => {
  const rig = runningGroup();
  rig.now = 10_000;
  rig.script('web', 'monitor', result(OCF.ERR_GENERIC), result(OCF.ERR_GENERIC));
  rig.send({ type: 'tick' });
  rig.settle();
  assert.equal(rig.r('web').failCount, 1);
  const mark = rig.mark();
  reconfigure(rig, { resources: [res('vip'), res('app'), res('web', { migrationThreshold: 1 })], groups: [group('g', ['vip', 'app', 'web'])] });
  rig.settle();
  assert.deepEqual(rig.bansSince(mark).map((b) => b.banned), [true]);
  assert.deepEqual(rig.states(), { vip: 'stopped', app: 'stopped', web: 'stopped' });
});

test('reload: a resource inserted in the middle of a group starts before the members after it, which restart behind it', () => {
  const rig = runningGroup();
  const mark = rig.mark();
  reconfigure(rig, { resources: [res('vip'), res('fs'), res('app'), res('web')], groups: [group('g', ['vip', 'fs', 'app', 'web'])] });
  rig.settle();
  const ops = rig.startStopSince(mark);
  assert.deepEqual(ops.filter((o) => o.startsWith('web') || o.startsWith('app')), ['web:stop', 'app:stop', 'app:start', 'web:start'], 'the later members stop in reverse and start again in order');
  assert.ok(ops.indexOf('fs:start') < ops.indexOf('app:start'), ops.join(', '));
  assert.ok(!ops.some((o) => o.startsWith('vip')), 'vip, before it, untouched');
  assert.deepEqual(rig.states(), { vip: 'started', fs: 'started', app: 'started', web: 'started' });
});

test('reload in maintenance: nothing is started or stopped; a removed resource is retired as it is', () => {
  const rig = runningGroup();
  rig.send({ type: 'maintenance', on: true });
  const mark = rig.mark();
  reconfigure(rig, { resources: [res('vip'), res('app'), res('new')], groups: [group('g', ['vip', 'app', 'new'])] });
  rig.settle();
  assert.deepEqual(rig.opsSince(mark), []);
  assert.deepEqual(rig.log.slice(mark).flatMap((a) => (a.type === 'retired' ? [`${a.resource}:${a.detail}`] : [])), ['web:left as it is: maintenance']);
  assert.equal(rig.running.get('web'), true, 'still running: unmanaged');
});

test('reload: an operator stop (runtime target-role) survives a reload that does not change target_role', () => {
  const rig = runningGroup();
  rig.send({ type: 'command', command: 'stop', resource: 'web' });
  rig.settle();
  const mark = rig.mark();
  reconfigure(rig, { resources: [res('vip'), res('app'), res('web', { monitorTimeoutMs: 1_000 })], groups: [group('g', ['vip', 'app', 'web'])] });
  rig.settle();
  assert.deepEqual(rig.startStopSince(mark), []);
  assert.equal(rig.r('web').state, 'stopped');
});

test('property: random histories keep the invariants (one op per resource, group order, placement, maintenance, threshold)', () => {
  checkProperty(
    fc.property(shapeArb, fc.array(stepArb, { minLength: 1, maxLength: 200, size: 'max' }), (shape, steps) => {
      historyRuns++;
      historyOps += runHistory(shape, steps);
    }),
    { numRuns: RUNS * 2 },
  );
  assert.ok(historyOps > historyRuns * 5, `histories issue operations (${historyOps} in ${historyRuns} runs)`);
});

/** A truthful world where every operation succeeds: the manager converges on the placement. */
type CalmStep =
  | { readonly kind: 'placement'; readonly g: number; readonly allowed: boolean }
  | { readonly kind: 'standby'; readonly on: boolean }
  | { readonly kind: 'command'; readonly command: 'start' | 'stop' | 'restart'; readonly r: number }
  | { readonly kind: 'answer'; readonly count: number };

const calmStepArb: fc.Arbitrary<CalmStep> = fc.oneof(
  fc.record({ kind: fc.constant('placement' as const), g: fc.nat(3), allowed: fc.boolean() }),
  fc.record({ kind: fc.constant('standby' as const), on: fc.boolean() }),
  fc.record({ kind: fc.constant('command' as const), command: fc.constantFrom<'start' | 'stop' | 'restart'>('start', 'stop', 'restart'), r: fc.nat(MAX_RES) }),
  fc.record({ kind: fc.constant('answer' as const), count: fc.integer({ min: 0, max: 4 }) }),
);

function expectedRunning(config: ResourceManagerConfig, placement: ReadonlyMap<string, boolean>, standby: boolean, role: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  const grouped = new Set(config.groups.flatMap((g) => g.resources));
  for (const g of config.groups) {
    let ok = placement.get(g.name) === true && !standby;
    for (const r of g.resources) {
      ok = ok && role.get(r) === 'started';
      if (ok) out.add(r);
    }
  }
  for (const r of config.resources) if (!grouped.has(r.name) && !standby && role.get(r.name) === 'started') out.add(r.name);
  return out;
}

let calmRuns = 0;
test('property: with every operation succeeding, the running set converges on placement, standby and target roles; a restart never bounces (Reattach)', () => {
  checkProperty(
    fc.property(shapeArb, fc.array(calmStepArb, { minLength: 1, maxLength: 80, size: 'max' }), (shape, steps) => {
      calmRuns++;
      const config = configOf(shape);
      const rig = new Rig(config);
      const placement = new Map(config.groups.map((g) => [g.name, g.placement.kind === 'everywhere']));
      const role = new Map(config.resources.map((r) => [r.name, r.targetRole as string]));
      let standby = false;
      rig.send({ type: 'startup' });
      for (const step of steps) {
        if (step.kind === 'placement') {
          const g = config.groups[step.g % config.groups.length];
          if (g === undefined) continue;
          placement.set(g.name, step.allowed);
          rig.send({ type: 'placement', group: g.name, allowed: step.allowed });
        } else if (step.kind === 'standby') {
          standby = step.on;
          rig.send({ type: 'standby', on: step.on });
        } else if (step.kind === 'command') {
          const r = config.resources[step.r % config.resources.length];
          if (r === undefined) continue;
          if (step.command !== 'restart') role.set(r.name, step.command === 'start' ? 'started' : 'stopped');
          rig.send({ type: 'command', command: step.command, resource: r.name });
        } else {
          for (let i = 0; i < step.count && rig.pending.size > 0; i++) {
            const first = [...rig.pending.values()][0];
            if (first !== undefined) rig.answer(first.resource);
          }
        }
      }
      rig.settle();
      const want = expectedRunning(config, placement, standby, role);
      const running = new Set([...rig.running].filter(([, up]) => up).map(([n]) => n));
      assert.deepEqual([...running].sort(), [...want].sort(), 'the world runs what may run');
      const started = new Set(rig.status().resources.filter((r) => r.state === 'started').map((r) => r.name));
      assert.deepEqual([...started].sort(), [...want].sort(), 'the manager knows it');
      // Reattach: a new manager (a restarted daemon) with the same inputs only probes.
      const config2: ResourceManagerConfig = {
        ...config,
        resources: config.resources.map((r) => ({ ...r, targetRole: role.get(r.name) === 'started' ? 'started' : 'stopped' })),
      };
      const rig2 = new Rig(config2, [...running]);
      for (const [g, allowed] of placement) rig2.send({ type: 'placement', group: g, allowed });
      rig2.send({ type: 'standby', on: standby });
      rig2.send({ type: 'startup' });
      rig2.settle();
      assert.deepEqual(rig2.startStopSince(0), [], 'a restart bounces nothing');
      assert.deepEqual(rig2.opsSince(0).length, config.resources.length);
    }),
    { numRuns: RUNS },
  );
});

test('property run counts', (t) => {
  // The properties above ran first, in file order; their counts go to the test report.
  t.diagnostic(`random histories: ${historyRuns} runs, ${historyOps} run-op actions audited; calm/Reattach: ${calmRuns} runs`);
  assert.ok(historyRuns >= RUNS * 2 && calmRuns >= RUNS);
});
