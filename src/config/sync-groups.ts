/**
 * The `sync_groups` section (docs/config.md, "sync_groups"): groups of instances that
 * change state together (keepalived's vrrp_sync_group); every member an existing
 * instance, in one group only.
 */
import type { ResolveContext } from './context.js';
import { entries, given, type VigilDocument } from './document.js';
import type { KeyPath } from './locate.js';
import type { SyncGroupConfig } from './types.js';

/** undefined when a group has errors. `instances`: every instance name written, and its index. */
export function resolveSyncGroups(doc: VigilDocument, ctx: ResolveContext, instances: ReadonlyMap<string, number>): SyncGroupConfig[] | undefined {
  const groups: SyncGroupConfig[] = [];
  const groupNames = new Map<string, number>();
  const member = new Map<string, { group: string; index: number }>();
  let ok = true;
  entries(doc.sync_groups).forEach((checked, i) => {
    const p: KeyPath = ['sync_groups', i];
    const item = given(checked);
    if (item === undefined) {
      ok = false;
      return;
    }
    const name = given(item.name);
    if (name !== undefined) {
      const first = groupNames.get(name);
      if (first === undefined) groupNames.set(name, i);
      else {
        ctx.error([...p, 'name'], `duplicate sync group name "${name}" (first at line ${ctx.line(['sync_groups', first])})`);
        ok = false;
      }
    }
    const members: string[] = [];
    entries(item.instances).forEach((m, j) => {
      const instance = given(m);
      if (instance === undefined) return;
      const at: KeyPath = [...p, 'instances', j];
      if (!instances.has(instance)) {
        ctx.error(at, `no instance is named "${instance}"`);
        ok = false;
        return;
      }
      const previous = member.get(instance);
      if (previous !== undefined) {
        ctx.error(
          at,
          previous.index === i
            ? `instance "${instance}" is listed twice in this group`
            : `instance "${instance}" is already in sync group "${previous.group}" (line ${ctx.line(['sync_groups', previous.index])}); an instance can be in one group only`,
        );
        ok = false;
        return;
      }
      member.set(instance, { group: name ?? `#${i}`, index: i });
      members.push(instance);
    });
    if (name !== undefined) groups.push({ name, instances: members, location: ctx.location(p) });
    else ok = false;
  });
  return ok ? groups : undefined;
}
