/**
 * A MonitorHost for the monitors' integration tests, made of real parts: a real
 * VirtualRouter per instance (driven by explicit time), a real EventStream carrying the
 * instance-state events the daemon emits for the router's state changes, and a real
 * VigilConfig parsed from YAML. Only the daemon's sockets are missing, which the monitors
 * never touch.
 */
import { parseConfig } from '../../src/config/load.js';
import type { VigilConfig } from '../../src/config/types.js';
import type { DaemonStatus } from '../../src/daemon/daemon.js';
import type { InstanceStatus } from '../../src/daemon/instance.js';
import { EventStream } from '../../src/events/stream.js';
import type { MonitorHost } from '../../src/monitor/common.js';
import { ip } from '../../src/net/address.js';
import { emptyRejectCounts, type RejectReason } from '../../src/vrrp/rejection.js';
import { VirtualRouter, type RouterAction, type RouterEvent } from '../../src/vrrp/router.js';
import { toConfiguredPriority, toPriority, toV2Interval, toV3Interval, toVrid } from '../../src/vrrp/types.js';
import type { Advert } from '../../src/vrrp/codec.js';

export interface TestInstance {
  readonly name: string;
  readonly interface: string;
  readonly vrid: number;
  readonly priority: number;
  /** VRRP version: 3 by default; 2 (with a simple text password) for the RFC 2787 VRRP-MIB rows. */
  readonly version?: 2 | 3;
}

export class TestHost implements MonitorHost {
  readonly events = new EventStream();
  readonly routers = new Map<string, { router: VirtualRouter; spec: TestInstance; rejected: Record<RejectReason, number> }>();
  readonly socketRejects: Record<string, Partial<Record<RejectReason, number>>> = {};
  readonly garps: string[] = [];
  reloads = 0;
  reloadError: string | undefined;
  now = 0;
  private readonly cfg: VigilConfig;

  constructor(instances: readonly TestInstance[]) {
    const yaml = [
      'instances:',
      ...instances.map(
        (i) =>
          `  - { name: ${i.name}, interface: ${i.interface}, vrid: ${i.vrid}, priority: ${i.priority}, advert_interval: 1s, accept: false, virtual_ips: [10.213.0.${100 + i.vrid}/24]${i.version === 2 ? ', version: 2, authentication: { type: pass, password: secret }' : ''} }`,
      ),
      ...(instances.length > 1 ? ['sync_groups:', `  - { name: g1, instances: [${instances.map((i) => i.name).join(', ')}] }`] : []),
    ].join('\n');
    const parsed = parseConfig(yaml, 'test.yaml');
    if (!parsed.ok) throw new Error(`test config: ${JSON.stringify(parsed.errors)}`);
    this.cfg = parsed.config;
    for (const spec of instances) {
      const router = new VirtualRouter({
        name: spec.name,
        version: spec.version ?? 3,
        family: 'ipv4',
        vrid: toVrid(spec.vrid),
        priority: toConfiguredPriority(spec.priority),
        advertInterval: spec.version === 2 ? toV2Interval(1) : toV3Interval(100),
        preempt: true,
        preemptDelayMs: 0,
        acceptMode: false,
        primaryAddress: ip('10.213.0.1'),
        tracked: [],
        announce: { masterRepeat: 1, masterDelayMs: 0, masterRefreshMs: 0, masterRefreshRepeat: 1, lowerPriorityRepeat: 1, lowerPriorityDelayMs: 0 },
        higherPrioritySendAdvert: false,
        lowerPriorityNoAdvert: false,
      });
      this.routers.set(spec.name, { router, spec, rejected: emptyRejectCounts() });
    }
  }

  config(): VigilConfig {
    return this.cfg;
  }

  async reload(): Promise<void> {
    if (this.reloadError !== undefined) throw new Error(this.reloadError);
    this.reloads++;
    this.events.emit({ kind: 'reloaded', config: 'test.yaml', changes: [] });
  }

  sendGarp(instance: string): void {
    if (!this.routers.has(instance)) throw new Error(`no instance ${instance}`);
    this.garps.push(instance);
  }

  /** Delivers a router event at `at` and emits the instance-state events its actions carry. */
  drive(name: string, event: RouterEvent, at: number): RouterAction[] {
    const r = this.routers.get(name);
    if (!r) throw new Error(`no instance ${name}`);
    this.now = Math.max(this.now, at);
    const actions = r.router.handle(event, at);
    for (const a of actions) {
      if (a.type !== 'state-change') continue;
      const s = r.router.status(at);
      this.events.emit({
        kind: 'instance-state',
        instance: name,
        vrid: r.spec.vrid,
        family: 'ipv4',
        interface: r.spec.interface,
        from: a.from,
        to: a.to,
        reason: a.reason,
        detail: a.detail,
        priority: s.effectivePriority,
        basePriority: s.basePriority,
        master: s.master?.address ?? null,
      });
    }
    return actions;
  }

  /** Startup, then time runs until the router's Master_Down_Timer fires: master. */
  becomeMaster(name: string): void {
    const r = this.routers.get(name);
    if (!r) throw new Error(`no instance ${name}`);
    if (r.router.status(this.now).state === 'initialize') this.drive(name, { type: 'startup' }, this.now);
    const due = r.router.nextDeadline();
    if (due !== undefined) this.drive(name, { type: 'tick' }, due);
  }

  /** A higher-priority advert from `from`: a master steps down to backup. */
  hearHigher(name: string, from: string, priority: number): void {
    const r = this.routers.get(name);
    if (!r) throw new Error(`no instance ${name}`);
    const common = { vrid: toVrid(r.spec.vrid), priority: toPriority(priority), addresses: [ip('10.213.0.100')] };
    const advert: Advert =
      r.spec.version === 2
        ? { ...common, version: 2, family: 'ipv4', adverIntSeconds: 1, authType: 1, authData: new Uint8Array(8) }
        : { ...common, version: 3, family: 'ipv4', maxAdverInt: toV3Interval(100), reserved: 0 };
    this.drive(name, { type: 'advert', src: ip(from), advert }, this.now + 10);
  }

  status(): DaemonStatus {
    const instances: InstanceStatus[] = [];
    for (const { router, spec, rejected } of this.routers.values()) {
      const partial: Partial<Record<RejectReason, number>> = {};
      for (const [k, v] of Object.entries(rejected) as [RejectReason, number][]) if (v > 0) partial[k] = v;
      instances.push({
        ...router.status(this.now),
        interface: spec.interface,
        primaryAddress: '10.213.0.1',
        virtualIps: [`10.213.0.${100 + spec.vrid}/24`],
        vipsInstalled: router.status(this.now).state === 'master',
        unicastPeers: [],
        rejected: partial,
      });
    }
    return {
      pid: process.pid,
      configPath: 'test.yaml',
      startedAt: new Date(Date.now() - 1000).toISOString(),
      uptimeMs: 1000,
      reloads: this.reloads,
      lastEventSeq: this.events.lastSeq,
      instances,
      socketRejects: this.socketRejects,
      sockets: { 'lo/ipv4/multicast': { received: 0, sent: 0, malformed: 0, receiveErrors: 0 } },
    };
  }
}
