/**
 * Pacemaker's say over a VRRP instance (the OCF agent ocf:vigil:vrrp, a promotable
 * clone; packaging/ocf/vrrp): per instance, one role set through the control socket
 * (`vigil instance role NAME ROLE`):
 *
 * - free (every instance at start): no control; VRRP alone decides (today's behaviour).
 * - stopped: FAULT (the `pacemaker` tracker, weight 0, is down): no adverts, no VIP.
 *   The OCF agent's stop. The agent's monitor reports OCF_NOT_RUNNING for it.
 * - unpromoted: a backup that may not become master (this gate refuses). A master set
 *   to unpromoted steps down through FAULT: it sends priority 0 (RFC 5798 §6.4.3: "Send
 *   an ADVERTISEMENT with Priority = 0"), so a promoted backup takes over after
 *   Skew_Time, and VRRP speakers not under Pacemaker still follow. The agent's start and
 *   demote.
 * - promoted: may become master (RFC 5798's rules then decide when). The agent's promote.
 *
 * Roles live in the daemon's memory: a restarted daemon starts every instance free, and
 * the agent's monitor reports that as not running, so Pacemaker recovers it.
 */
import type { MasterGate, VirtualRouter } from '../vrrp/router.js';

export const PROMOTION_TRACKER = 'pacemaker';
export const PROMOTION_ROLES = ['free', 'stopped', 'unpromoted', 'promoted'] as const;
export type PromotionRole = (typeof PROMOTION_ROLES)[number];

/** A backup held back looks again this often (a gate has no wake-up of its own). */
const RECHECK_MS = 50;

export interface PromotionPorts {
  readonly hasInstance: (instance: string) => boolean;
  readonly isMaster: (instance: string) => boolean;
  readonly setTracker: (instance: string, tracker: string, up: boolean) => void;
  readonly log: (level: 'info' | 'warn', event: string, fields: Record<string, string | boolean>) => void;
}

export class PromotionControl {
  private readonly roles = new Map<string, PromotionRole>();

  constructor(private readonly ports: PromotionPorts) {}

  readonly gate: MasterGate = {
    mayBecomeMaster: (router: VirtualRouter, now: number) => {
      const role = this.role(router.config.name);
      return role === 'free' || role === 'promoted' ? true : now + RECHECK_MS;
    },
  };

  role(instance: string): PromotionRole {
    return this.roles.get(instance) ?? 'free';
  }

  /** Every instance with a role other than free. */
  all(): Record<string, PromotionRole> {
    return Object.fromEntries(this.roles);
  }

  /** Sets the role; throws naming the instance when there is none of that name. */
  set(instance: string, role: PromotionRole): void {
    if (!this.ports.hasInstance(instance)) throw new Error(`no instance is named "${instance}"`);
    const from = this.role(instance);
    if (role === 'free') this.roles.delete(instance);
    else this.roles.set(instance, role);
    const wasMaster = this.ports.isMaster(instance);
    if (role === 'stopped') {
      this.ports.setTracker(instance, PROMOTION_TRACKER, false);
    } else {
      // Demote: through FAULT (priority 0 sent, VIPs removed), then back to backup.
      if (role === 'unpromoted' && wasMaster) this.ports.setTracker(instance, PROMOTION_TRACKER, false);
      this.ports.setTracker(instance, PROMOTION_TRACKER, true);
    }
    if (from !== role) this.ports.log('info', 'promotion-role', { instance, from, to: role, was_master: wasMaster });
  }
}
