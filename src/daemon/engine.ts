/**
 * The event loop glue between instances, their sync groups and the timer: every event
 * for an instance goes through here, so that a sync group sees it, every resulting
 * action is carried out by the instance it belongs to, and every changed deadline
 * re-arms the timer.
 */
import type { PacketMeta } from '../vrrp/codec.js';
import type { RouterEvent } from '../vrrp/router.js';
import { SyncGroup } from '../vrrp/sync-group.js';
import type { VirtualRouter } from '../vrrp/router.js';
import type { VrrpInstance } from './instance.js';
import type { Scheduler } from './scheduler.js';

export class Engine {
  private readonly byRouter = new Map<VirtualRouter, VrrpInstance>();
  private readonly instances = new Map<string, VrrpInstance>();
  private readonly groups: SyncGroup[] = [];

  constructor(
    private readonly scheduler: Scheduler,
    private readonly now: () => number,
  ) {}

  add(instance: VrrpInstance): void {
    this.instances.set(instance.name, instance);
    this.byRouter.set(instance.router, instance);
  }

  remove(instance: VrrpInstance): void {
    this.instances.delete(instance.name);
    this.byRouter.delete(instance.router);
    this.scheduler.set(instance, undefined, () => undefined);
    for (const g of this.groups) if (g.has(instance.router)) this.groups.splice(this.groups.indexOf(g), 1);
  }

  get(name: string): VrrpInstance | undefined {
    return this.instances.get(name);
  }

  all(): VrrpInstance[] {
    return [...this.instances.values()];
  }

  setSyncGroups(groups: readonly { name: string; instances: readonly string[] }[]): void {
    for (const g of this.groups) for (const m of g.members) m.removeGate(g);
    this.groups.length = 0;
    for (const g of groups) {
      const members = g.instances.map((n) => this.instances.get(n)).filter((i): i is VrrpInstance => i !== undefined);
      this.groups.push(new SyncGroup(g.name, members.map((m) => m.router)));
    }
  }

  groupOf(instance: VrrpInstance): SyncGroup | undefined {
    return this.groups.find((g) => g.has(instance.router));
  }

  /** Delivers one event to an instance (through its sync group) and carries out the consequences. */
  dispatch(instance: VrrpInstance, event: RouterEvent, now = this.now()): void {
    const group = this.groupOf(instance);
    const results = group ? group.handle(instance.router, event, now) : [{ router: instance.router, actions: instance.router.handle(event, now) }];
    for (const { router, actions } of results) {
      const owner = this.byRouter.get(router);
      if (owner && actions.length > 0) owner.perform(actions, now);
    }
    const touched = new Set<VrrpInstance>([instance]);
    for (const { router } of results) {
      const owner = this.byRouter.get(router);
      if (owner) touched.add(owner);
    }
    for (const inst of touched) this.arm(inst);
  }

  /** A received packet for an instance. */
  deliver(instance: VrrpInstance, payload: Uint8Array, meta: PacketMeta): void {
    const event = instance.receive(payload, meta);
    if (event) this.dispatch(instance, event);
  }

  private arm(instance: VrrpInstance): void {
    if (!this.instances.has(instance.name)) return;
    this.scheduler.set(instance, instance.router.nextDeadline(), (now) => this.dispatch(instance, { type: 'tick' }, now));
  }
}
