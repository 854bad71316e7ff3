/**
 * What a reload does to one resource, decided from its old and new definition, as
 * Pacemaker decides it (../shared/reference/resources.md; Pacemaker Explained, "Reloading
 * Services After a Definition Change"): a change of what the agent runs — its type and
 * parameters (address, command, environment, unit, OCF agent and params) — changes the
 * resource's definition digest, and the resource is restarted; a change of operation
 * timeouts, the monitor interval or meta attributes (on-fail, migration-threshold,
 * failure-timeout, target-role) is applied to the running resource without a restart
 * (Pacemaker reschedules a recurring monitor whose interval changed and re-evaluates
 * fail counts against the new threshold).
 *
 * vigil restarts where Pacemaker could reload instead (an OCF agent advertising `reload`
 * / `reload-agent` with only `reloadable` parameters changed): its agents have no reload
 * action, so a parameter change is always a stop with the old definition and a start
 * with the new one.
 */
import { canonical } from '../base/canonical.js';
import type { GroupConfig, ResourceConfig } from './types.js';

export type ResourceChangeKind =
  /** Nothing of it changed (its group may have: the manager's ordering takes care of that). */
  | 'unchanged'
  /** Timeouts, monitor interval or meta attributes: applied in place, no stop or start. */
  | 'updated'
  /** What the agent runs changed: stopped with the old definition, started with the new. */
  | 'restart'
  | 'added'
  | 'removed';

export interface ResourceChange {
  readonly resource: string;
  readonly change: ResourceChangeKind;
  /** The keys that changed ("spec", "monitorIntervalMs", "group"...), empty when none did. */
  readonly keys: readonly string[];
}

/** The keys of a resource whose change is applied in place. */
const IN_PLACE: readonly (keyof ResourceConfig)[] = [
  'startTimeoutMs',
  'stopTimeoutMs',
  'monitorTimeoutMs',
  'monitorIntervalMs',
  'onFail',
  'migrationThreshold',
  'failureTimeoutMs',
  'targetRole',
];

/** Where a resource sits: its group, the group's placement and the members before it. */
function position(name: string, groups: readonly GroupConfig[]): string {
  const g = groups.find((x) => x.resources.includes(name));
  if (g === undefined) return canonical(null);
  return canonical({ group: g.name, placement: g.placement, after: g.resources.slice(0, g.resources.indexOf(name)) });
}

/** The change of one resource present in both configs. */
export function resourceChange(old: ResourceConfig, next: ResourceConfig, oldGroups: readonly GroupConfig[], nextGroups: readonly GroupConfig[]): ResourceChange {
  const keys: string[] = [];
  if (canonical(old.spec) !== canonical(next.spec)) keys.push('spec');
  for (const k of IN_PLACE) if (canonical(old[k]) !== canonical(next[k])) keys.push(k);
  if (position(old.name, oldGroups) !== position(next.name, nextGroups)) keys.push('group');
  const change: ResourceChangeKind = keys.includes('spec') ? 'restart' : keys.length > 0 ? 'updated' : 'unchanged';
  return { resource: next.name, change, keys };
}

/** Every resource's change between two configs: the new config's in its order, then the removed ones. */
export function resourceChanges(
  old: { readonly resources: readonly ResourceConfig[]; readonly groups: readonly GroupConfig[] },
  next: { readonly resources: readonly ResourceConfig[]; readonly groups: readonly GroupConfig[] },
): ResourceChange[] {
  const before = new Map(old.resources.map((r) => [r.name, r]));
  const after = new Set(next.resources.map((r) => r.name));
  const out: ResourceChange[] = [];
  for (const r of next.resources) {
    const o = before.get(r.name);
    out.push(o === undefined ? { resource: r.name, change: 'added', keys: [] } : resourceChange(o, r, old.groups, next.groups));
  }
  for (const r of old.resources) if (!after.has(r.name)) out.push({ resource: r.name, change: 'removed', keys: [] });
  return out;
}
