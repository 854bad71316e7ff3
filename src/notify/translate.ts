/**
 * From the daemon's events to keepalived's notifications: `{INSTANCE|GROUP} NAME STATE
 * PRIORITY` with keepalived's state words (vrrp_notify.c). One translator per notifier
 * keeps the states it has seen, so that every notifier says the same thing:
 *
 * - instance-state → MASTER, BACKUP, FAULT; a transition to Initialize for "shutdown" is
 *   STOP while the daemon stops (keepalived's notify_stop) and DELETED when a reload
 *   removed the instance (keepalived's notify_deleted); a recreated instance's shutdown is
 *   no notification (its new state follows).
 * - group-state → the same words for a sync group, priority 0 (keepalived writes 0 for a
 *   group); groups still up when the daemon has stopped get STOP.
 * - master-rx-lower-priority → MASTER_RX_LOWER_PRI.
 * - priority-changed → MASTER_PRIORITY / BACKUP_PRIORITY (keepalived's
 *   vrrp_notify_priority_changes), for the FIFO only.
 */
import type { StampedEvent } from '../events/types.js';
import type { RouterState } from '../vrrp/types.js';

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED' | 'MASTER_RX_LOWER_PRI' | 'MASTER_PRIORITY' | 'BACKUP_PRIORITY';

export interface Notification {
  readonly type: 'INSTANCE' | 'GROUP';
  readonly name: string;
  readonly state: NotifyState;
  /** The effective priority (an instance); 0 for a group, as keepalived. */
  readonly priority: number;
  /** The keepalived word of the state before ("INIT" at first). */
  readonly previous: string;
  /** The event it comes from (sequence number, time, reason, master...). */
  readonly event: StampedEvent;
}

/** keepalived's word for a router state (Initialize is INIT, as its logs and D-Bus say). */
export function stateWord(state: RouterState): 'MASTER' | 'BACKUP' | 'FAULT' | 'INIT' {
  switch (state) {
    case 'master':
      return 'MASTER';
    case 'backup':
      return 'BACKUP';
    case 'fault':
      return 'FAULT';
    case 'initialize':
      return 'INIT';
  }
}

/** keepalived's FIFO line: `INSTANCE "VI_1" MASTER 100` (no newline). */
export function fifoLine(n: Pick<Notification, 'type' | 'name' | 'state' | 'priority'>): string {
  return `${n.type} "${n.name}" ${n.state} ${n.priority}`;
}

interface Known {
  state: string;
  priority: number;
}

export class NotificationTranslator {
  private stopping = false;
  private readonly instances = new Map<string, Known>();
  private readonly groups = new Map<string, Known>();
  /** Instances shut down by a reload, waiting for the `reloaded` event to say removed or recreated. */
  private readonly pendingShutdown = new Map<string, StampedEvent>();

  /** The notifications of one event, in order (often none). */
  translate(e: StampedEvent): Notification[] {
    switch (e.kind) {
      case 'daemon-stopping':
        this.stopping = true;
        return [];
      case 'instance-state': {
        const before = this.instances.get(e.instance)?.state ?? stateWord(e.from);
        if (e.to === 'initialize') {
          if (e.reason !== 'shutdown') return [];
          if (!this.stopping) {
            this.pendingShutdown.set(e.instance, e);
            return [];
          }
          this.instances.delete(e.instance);
          return [{ type: 'INSTANCE', name: e.instance, state: 'STOP', priority: e.priority, previous: before, event: e }];
        }
        const state = stateWord(e.to) as 'MASTER' | 'BACKUP' | 'FAULT';
        this.instances.set(e.instance, { state, priority: e.priority });
        return [{ type: 'INSTANCE', name: e.instance, state, priority: e.priority, previous: before, event: e }];
      }
      case 'group-state': {
        const before = this.groups.get(e.group)?.state ?? stateWord(e.from);
        if (e.to === 'initialize') {
          if (!this.groups.has(e.group)) return [];
          this.groups.delete(e.group);
          return [{ type: 'GROUP', name: e.group, state: this.stopping ? 'STOP' : 'DELETED', priority: 0, previous: before, event: e }];
        }
        const state = stateWord(e.to) as 'MASTER' | 'BACKUP' | 'FAULT';
        this.groups.set(e.group, { state, priority: 0 });
        return [{ type: 'GROUP', name: e.group, state, priority: 0, previous: before, event: e }];
      }
      case 'master-rx-lower-priority':
        return [{ type: 'INSTANCE', name: e.instance, state: 'MASTER_RX_LOWER_PRI', priority: e.ownPriority, previous: this.instances.get(e.instance)?.state ?? 'MASTER', event: e }];
      case 'priority-changed': {
        const known = this.instances.get(e.instance);
        if (known === undefined) return [];
        known.priority = e.to;
        if (known.state !== 'MASTER' && known.state !== 'BACKUP') return [];
        return [{ type: 'INSTANCE', name: e.instance, state: known.state === 'MASTER' ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY', priority: e.to, previous: known.state, event: e }];
      }
      case 'reloaded': {
        const out: Notification[] = [];
        for (const c of e.changes) {
          const shut = this.pendingShutdown.get(c.instance);
          if (shut === undefined) continue;
          this.pendingShutdown.delete(c.instance);
          if (c.change !== 'removed') continue;
          const before = this.instances.get(c.instance)?.state ?? 'INIT';
          this.instances.delete(c.instance);
          out.push({ type: 'INSTANCE', name: c.instance, state: 'DELETED', priority: shut.kind === 'instance-state' ? shut.priority : 0, previous: before, event: shut });
        }
        this.pendingShutdown.clear();
        return out;
      }
      case 'daemon-stopped': {
        const out: Notification[] = [];
        for (const [name, g] of this.groups) out.push({ type: 'GROUP', name, state: 'STOP', priority: 0, previous: g.state, event: e });
        this.groups.clear();
        return out;
      }
      default:
        return [];
    }
  }

  /** The current state of every instance and group, for write_states_on_reload. */
  current(): { readonly type: 'INSTANCE' | 'GROUP'; readonly name: string; readonly state: string; readonly priority: number }[] {
    return [
      ...[...this.instances].map(([name, k]) => ({ type: 'INSTANCE' as const, name, state: k.state, priority: k.priority })),
      ...[...this.groups].map(([name, k]) => ({ type: 'GROUP' as const, name, state: k.state, priority: 0 })),
    ];
  }
}
