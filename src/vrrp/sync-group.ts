/**
 * keepalived's vrrp_sync_group: instances that always change state together.
 *
 * - One member becoming master takes the others to master; one yielding to a higher
 *   priority master takes the others to backup.
 * - One member in FAULT puts the whole group in FAULT until it recovers.
 * - A member whose Master_Down_Timer fires becomes master only when no other member still
 *   hears a master (keepalived's vrrp_sync_can_goto_master); otherwise it waits until the
 *   latest of their timers, so the group moves as one and does not flap.
 */
import type { MasterGate, RouterAction, RouterEvent, VirtualRouter } from './router.js';

export interface MemberActions {
  readonly router: VirtualRouter;
  readonly actions: readonly RouterAction[];
}

export class SyncGroup implements MasterGate {
  private propagating = false;

  constructor(
    readonly name: string,
    readonly members: readonly VirtualRouter[],
  ) {
    for (const m of members) m.addGate(this);
  }

  has(router: VirtualRouter): boolean {
    return this.members.includes(router);
  }

  mayBecomeMaster(router: VirtualRouter, now: number): true | number {
    let latest: number | undefined;
    for (const m of this.members) {
      if (m === router || m.state === 'master') continue;
      const deadline = m.masterDownDeadline;
      if (m.state !== 'backup' || deadline === undefined) return now + router.status(now).masterDownIntervalMs;
      if (deadline > now && (latest === undefined || deadline > latest)) latest = deadline;
    }
    return latest ?? true;
  }

  /** Delivers an event to one member and carries the consequences to the others. */
  handle(member: VirtualRouter, event: RouterEvent, now: number): MemberActions[] {
    const results: MemberActions[] = [{ router: member, actions: member.handle(event, now) }];
    if (this.propagating) return results;
    this.propagating = true;
    try {
      for (let i = 0; i < results.length; i++) {
        const { router, actions } = results[i] as MemberActions;
        for (const action of actions) {
          if (action.type !== 'state-change' || action.reason === 'sync-group') continue;
          if (action.to === 'master' || (action.to === 'backup' && action.from === 'master')) {
            for (const other of this.members) {
              if (other === router) continue;
              const moved = other.handle({ type: 'sync', to: action.to }, now);
              if (moved.length > 0) results.push({ router: other, actions: moved });
            }
          }
        }
      }
      // FAULT spreads to the whole group while any member has a fault of its own.
      for (const m of this.members) {
        const faulted = this.members.some((o) => o !== m && o.ownFaults().length > 0);
        if (faulted !== m.syncFaultFlag) {
          const moved = m.handle({ type: 'sync-fault', faulted }, now);
          if (moved.length > 0) results.push({ router: m, actions: moved });
        }
      }
    } finally {
      this.propagating = false;
    }
    return results;
  }
}
