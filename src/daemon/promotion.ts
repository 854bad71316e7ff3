/**
 * Pacemaker's say over a VRRP instance (the OCF agent ocf:vigil:vrrp, a promotable
 * clone; packaging/ocf/vrrp): per instance, one role set through the control socket
 * (`vigil instance role NAME ROLE`):
 *
 * - free (at start, unless the config says `managed_by: pacemaker`): no control; VRRP
 *   alone decides.
 * - stopped: FAULT (the `pacemaker` tracker, weight 0, is down): no adverts, no VIP.
 *   The OCF agent's stop. The agent's monitor reports OCF_NOT_RUNNING for it.
 * - unpromoted: a backup that may not become master (this gate refuses). A master set
 *   to unpromoted steps down through FAULT: it sends priority 0 (RFC 5798 §6.4.3: "Send
 *   an ADVERTISEMENT with Priority = 0"), so a promoted backup takes over after
 *   Skew_Time, and VRRP speakers not under Pacemaker still follow. The agent's start and
 *   demote.
 * - promoted: may become master (RFC 5798's rules then decide when). The agent's promote.
 *
 * Across a restart of the daemon (vigil.service restarted, or crashed and respawned while
 * Pacemaker runs on): the roles are kept in the runtime directory (promotion.json, on
 * /run: gone at reboot, when Pacemaker starts from its probes anyway) and come back
 * before any instance starts, every one that Pacemaker governed as a backup that may not
 * become master:
 * - stopped stays stopped (FAULT);
 * - unpromoted and promoted come back unpromoted. A restarted instance must never come
 *   back free (VRRP alone would let the highest priority preempt whatever Pacemaker
 *   promoted elsewhere), nor promoted on its own: while vigil was down, Pacemaker may
 *   have stopped the copy here (the agent's stop succeeds where vigil is not running) and
 *   promoted another. The agent's monitor then reports the truth: OCF_SUCCESS where
 *   Pacemaker expects OCF_RUNNING_PROMOTED is a failed promoted copy, which Pacemaker
 *   recovers (demote, stop, start, promote, here or on another node) and so re-promotes.
 *   Until then no node holds the VIP: one holder or none, never two.
 *
 * At a cold start (no roles file: a boot, or the first start), an instance with
 * `managed_by: pacemaker` starts stopped, as every Pacemaker resource is stopped until the
 * cluster starts it: without that, the node with the highest priority would take the VIP
 * in the seconds before Pacemaker's probe and start reach it, whatever Pacemaker then
 * decides. Other instances start free.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorText } from '../base/error-text.js';
import type { InstanceManager } from '../config/types.js';
import type { MasterGate, VirtualRouter } from '../vrrp/router.js';

export const PROMOTION_TRACKER = 'pacemaker';
export const PROMOTION_ROLES = ['free', 'stopped', 'unpromoted', 'promoted'] as const;
export type PromotionRole = (typeof PROMOTION_ROLES)[number];

/** A backup held back looks again this often (a gate has no wake-up of its own). */
const RECHECK_MS = 50;

/** What the control needs of one configured instance. */
export interface PromotionInstance {
  readonly name: string;
  readonly managedBy: InstanceManager;
}

export interface PromotionPorts {
  readonly isMaster: (instance: string) => boolean;
  readonly setTracker: (instance: string, tracker: string, up: boolean) => void;
  readonly log: (level: 'info' | 'warn', event: string, fields: Record<string, string | boolean>) => void;
  /** Keeps the roles for a restarted daemon (rolesFile); absent: memory only. */
  readonly save?: (roles: Readonly<Record<string, PromotionRole>>) => void;
}

/** The file in the runtime directory that keeps the roles across a restart of the daemon. */
export function rolesFile(runtimeDir: string): string {
  return path.join(runtimeDir, 'promotion.json');
}

/** The roles a previous daemon left (none when there is no file); throws naming the file when it is not a roles file. */
export function loadRoles(file: string): Record<string, PromotionRole> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return {};
    throw new Error(`${file}: ${errorText(e)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON: ${errorText(e)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file}: not an object of instance roles`);
  const roles: Record<string, PromotionRole> = {};
  for (const [instance, role] of Object.entries(parsed)) {
    const known = PROMOTION_ROLES.find((r) => r === role);
    if (known === undefined) throw new Error(`${file}: instance "${instance}": unknown role ${JSON.stringify(role)}`);
    roles[instance] = known;
  }
  return roles;
}

/** Writes the roles whole (a new file renamed over the old one: a crash leaves the old or the new). */
export function saveRoles(file: string, roles: Readonly<Record<string, PromotionRole>>): void {
  // The runtime directory as the control socket makes it (0700).
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(roles)}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

export class PromotionControl {
  /** Roles that differ from the instance's role at start (initialRole). */
  private readonly roles = new Map<string, PromotionRole>();
  private readonly instances = new Map<string, PromotionInstance>();

  /** `instances`: the configured ones (configure() again on each reload, before the daemon applies it). */
  constructor(
    private readonly ports: PromotionPorts,
    instances: readonly PromotionInstance[] = [],
  ) {
    this.configure(instances);
  }

  /**
   * The instances now configured. A removed instance's role is forgotten; an added one
   * starts in its initial role; a kept one keeps the role it has.
   */
  configure(instances: readonly PromotionInstance[]): void {
    this.instances.clear();
    for (const i of instances) this.instances.set(i.name, i);
    for (const name of [...this.roles.keys()]) if (!this.instances.has(name)) this.roles.delete(name);
  }

  private hasInstance(instance: string): boolean {
    return this.instances.has(instance);
  }

  /** The role an instance has before anyone sets one: stopped under Pacemaker, free otherwise. */
  private initialRole(instance: string): PromotionRole {
    return this.instances.get(instance)?.managedBy === 'pacemaker' ? 'stopped' : 'free';
  }

  readonly gate: MasterGate = {
    mayBecomeMaster: (router: VirtualRouter, now: number) => {
      const role = this.role(router.config.name);
      return role === 'free' || role === 'promoted' ? true : now + RECHECK_MS;
    },
  };

  role(instance: string): PromotionRole {
    return this.roles.get(instance) ?? this.initialRole(instance);
  }

  /**
   * The roles a previous daemon left, before any instance starts (the daemon's startup
   * applies them: stopped is FAULT, unpromoted may not become master): stopped stays
   * stopped, unpromoted and promoted come back unpromoted (see the header). Instances no
   * longer configured are dropped. Returns what was restored.
   */
  restore(saved: Readonly<Record<string, PromotionRole>>): Record<string, PromotionRole> {
    const restored: Record<string, PromotionRole> = {};
    for (const [instance, was] of Object.entries(saved)) {
      if (was === 'free' || !this.hasInstance(instance)) continue;
      const role: PromotionRole = was === 'stopped' ? 'stopped' : 'unpromoted';
      this.roles.set(instance, role);
      restored[instance] = role;
      this.ports.log('info', 'promotion-restored', { instance, was, now: role });
    }
    // The file says what holds now (promoted came back unpromoted, gone instances dropped).
    if (JSON.stringify(restored) !== JSON.stringify(saved)) this.persist();
    return restored;
  }

  private persist(): void {
    try {
      this.ports.save?.(this.all());
    } catch (e) {
      // The role holds in memory; only a restart of the daemon would forget it.
      this.ports.log('warn', 'promotion-save-failed', { detail: errorText(e) });
    }
  }

  /** Every instance whose role is not free (the roles file's content). */
  all(): Record<string, PromotionRole> {
    const all: Record<string, PromotionRole> = {};
    for (const name of this.instances.keys()) {
      const role = this.role(name);
      if (role !== 'free') all[name] = role;
    }
    return all;
  }

  /** Sets the role; throws naming the instance when there is none of that name. */
  set(instance: string, role: PromotionRole): void {
    if (!this.hasInstance(instance)) throw new Error(`no instance is named "${instance}"`);
    const from = this.role(instance);
    if (role === this.initialRole(instance)) this.roles.delete(instance);
    else this.roles.set(instance, role);
    const wasMaster = this.ports.isMaster(instance);
    if (role === 'stopped') {
      this.ports.setTracker(instance, PROMOTION_TRACKER, false);
    } else {
      // Demote: through FAULT (priority 0 sent, VIPs removed), then back to backup.
      if (role === 'unpromoted' && wasMaster) this.ports.setTracker(instance, PROMOTION_TRACKER, false);
      this.ports.setTracker(instance, PROMOTION_TRACKER, true);
    }
    if (from !== role) {
      this.persist();
      this.ports.log('info', 'promotion-role', { instance, from, to: role, was_master: wasMaster });
    }
  }
}
