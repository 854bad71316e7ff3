/**
 * The `resources`, `groups` and `health_checks` sections (docs/config.md, "resources"):
 * names, references to instances, sync groups and resources, and the keys each type needs.
 */
import type { GroupConfig, HealthCheckConfig, HealthCheckSpec, Placement, ResourceConfig, ResourceSpec } from '../resources/types.js';
import type { ResolveContext } from './context.js';
import { RESOURCE_DEFAULTS } from './defaults.js';
import {
  REFUSED,
  entries,
  given,
  orDefault,
  type Checked,
  type DurationText,
  type HealthCheckDocument,
  type HealthCheckType,
  type ResourceDocument,
  type ResourceType,
  type RunsOnDocument,
  type VigilDocument,
} from './document.js';
import type { KeyPath } from './locate.js';
import type { ResourcesConfig } from './types.js';
import { parseHostPort, parsePrefix } from './units.js';

/** What the resources may refer to: the names of the instances and of the sync groups. */
export interface ResourceReferences {
  readonly instances: ReadonlySet<string>;
  readonly syncGroups: ReadonlySet<string>;
}

/** Every entry of a list of strings, or undefined if one of them was refused. */
function strings(value: Checked<readonly Checked<string>[]>): string[] | undefined {
  const out: string[] = [];
  for (const item of entries(value)) {
    const s = given(item);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

/** A mapping of scalars as strings (environment, OCF parameters), without the refused ones. */
function stringMap(value: Checked<Readonly<Record<string, Checked<string | number | boolean>>>>): Record<string, string> | undefined {
  const map = given(value);
  if (map === undefined) return undefined;
  return Object.fromEntries(Object.entries(map).flatMap(([k, v]) => (v === undefined || v === REFUSED ? [] : [[k, String(v)]])));
}

function runsOn(raw: Checked<RunsOnDocument>, p: KeyPath, refs: ResourceReferences, ctx: ResolveContext): Placement {
  const r = given(raw);
  if (typeof r === 'object' && 'master' in r) {
    const master = given(r.master);
    if (master !== undefined) {
      if (!refs.instances.has(master)) ctx.error([...p, 'master'], `no instance is named "${master}"`);
      return { kind: 'master', instance: master };
    }
  }
  if (typeof r === 'object' && 'sync_group' in r) {
    const group = given(r.sync_group);
    if (group !== undefined) {
      if (!refs.syncGroups.has(group)) ctx.error([...p, 'sync_group'], `no sync group is named "${group}"`);
      return { kind: 'master-of-sync-group', group };
    }
  }
  return { kind: 'everywhere' };
}

/** resources, groups and health_checks: names, references, type-specific keys. */
export function resolveResources(doc: VigilDocument, ctx: ResolveContext, refs: ResourceReferences): ResourcesConfig {
  const resources: ResourceConfig[] = [];
  const placements = new Map<string, Placement>();
  const names = new Map<string, number>();
  const rawResources = entries(doc.resources);
  rawResources.forEach((checked, i) => {
    const p: KeyPath = ['resources', i];
    const raw = given(checked);
    const name = given(raw?.name);
    const type = given(raw?.type);
    if (raw === undefined || name === undefined || type === undefined) return;
    const first = names.get(name);
    if (first !== undefined) {
      ctx.error([...p, 'name'], `duplicate resource name "${name}" (first at line ${ctx.line(['resources', first])})`);
      return;
    }
    names.set(name, i);
    const spec = resourceSpec(raw, type, p, ctx);
    const ms = (value: Checked<DurationText>, fallback: DurationText, key: string): number | undefined => ctx.durationMs(orDefault(value, fallback), [...p, key]);
    const startTimeoutMs = ms(raw.start_timeout, RESOURCE_DEFAULTS.startTimeout, 'start_timeout');
    const stopTimeoutMs = ms(raw.stop_timeout, RESOURCE_DEFAULTS.stopTimeout, 'stop_timeout');
    const monitorTimeoutMs = ms(raw.monitor_timeout, RESOURCE_DEFAULTS.monitorTimeout, 'monitor_timeout');
    const monitorIntervalMs = ms(raw.monitor_interval, RESOURCE_DEFAULTS.monitorInterval, 'monitor_interval');
    const failureTimeoutMs = raw.failure_timeout === undefined ? undefined : ms(raw.failure_timeout, '0s', 'failure_timeout');
    const onFail = orDefault(raw.on_fail, RESOURCE_DEFAULTS.onFail);
    const threshold = orDefault(raw.migration_threshold, 'infinity');
    const targetRole = orDefault(raw.target_role, RESOURCE_DEFAULTS.targetRole);
    placements.set(name, runsOn(raw.runs_on, [...p, 'runs_on'], refs, ctx));
    if (
      spec === undefined ||
      startTimeoutMs === undefined ||
      stopTimeoutMs === undefined ||
      monitorTimeoutMs === undefined ||
      monitorIntervalMs === undefined ||
      onFail === undefined ||
      threshold === undefined ||
      targetRole === undefined
    ) {
      return;
    }
    resources.push({
      name,
      spec,
      startTimeoutMs,
      stopTimeoutMs,
      monitorTimeoutMs,
      monitorIntervalMs,
      onFail,
      migrationThreshold: threshold === 'infinity' ? Infinity : threshold,
      ...(failureTimeoutMs !== undefined ? { failureTimeoutMs } : {}),
      targetRole,
    });
  });

  const groups: GroupConfig[] = [];
  const memberOf = new Map<string, string>();
  const groupNames = new Map<string, number>();
  entries(doc.groups).forEach((checked, i) => {
    const p: KeyPath = ['groups', i];
    const raw = given(checked);
    const name = given(raw?.name);
    if (raw === undefined || name === undefined || given(raw.resources) === undefined) return;
    if (groupNames.has(name)) {
      ctx.error([...p, 'name'], `duplicate group name "${name}" (first at line ${ctx.line(['groups', groupNames.get(name) ?? 0])})`);
      return;
    }
    if (names.has(name)) {
      ctx.error([...p, 'name'], `"${name}" is already a resource's name; a group needs a name of its own`);
      return;
    }
    groupNames.set(name, i);
    const members: string[] = [];
    entries(raw.resources).forEach((checkedMember, j) => {
      const m = given(checkedMember);
      if (m === undefined) return;
      const index = names.get(m);
      if (index === undefined) ctx.error([...p, 'resources', j], `no resource is named "${m}"`);
      else if (memberOf.has(m)) ctx.error([...p, 'resources', j], `resource "${m}" is already in group "${memberOf.get(m) ?? ''}"; a resource can be in one group only`);
      else {
        if (given(rawResources[index])?.runs_on !== undefined) {
          ctx.error([...p, 'resources', j], `resource "${m}" has its own runs_on; in a group, the group's runs_on decides`);
        }
        memberOf.set(m, name);
        members.push(m);
      }
    });
    groups.push({ name, resources: members, placement: runsOn(raw.runs_on, [...p, 'runs_on'], refs, ctx) });
  });
  for (const r of resources) if (!memberOf.has(r.name)) groups.push({ name: r.name, resources: [r.name], placement: placements.get(r.name) ?? { kind: 'everywhere' } });

  const healthChecks: HealthCheckConfig[] = [];
  const checkNames = new Set<string>();
  entries(doc.health_checks).forEach((checked, i) => {
    const p: KeyPath = ['health_checks', i];
    const raw = given(checked);
    const name = given(raw?.name);
    const type = given(raw?.type);
    if (raw === undefined || name === undefined || type === undefined) return;
    if (checkNames.has(name)) {
      ctx.error([...p, 'name'], `duplicate health check name "${name}"`);
      return;
    }
    checkNames.add(name);
    const spec = healthCheckSpec(raw, type, p, ctx);
    const checkInstances = entries(raw.instances).flatMap((x) => {
      const n = given(x);
      return n === undefined ? [] : [n];
    });
    checkInstances.forEach((n, j) => {
      if (!refs.instances.has(n)) ctx.error([...p, 'instances', j], `no instance is named "${n}"`);
    });
    const resource = given(raw.resource);
    if (resource !== undefined && !names.has(resource)) ctx.error([...p, 'resource'], `no resource is named "${resource}"`);
    const intervalMs = ctx.durationMs(orDefault(raw.interval, RESOURCE_DEFAULTS.checkInterval), [...p, 'interval']);
    const timeoutMs = ctx.durationMs(orDefault(raw.timeout, RESOURCE_DEFAULTS.checkTimeout), [...p, 'timeout']);
    if (intervalMs !== undefined && intervalMs < 10) ctx.error([...p, 'interval'], 'at least 10ms');
    const rise = orDefault(raw.rise, RESOURCE_DEFAULTS.rise);
    const fall = orDefault(raw.fall, RESOURCE_DEFAULTS.fall);
    const weight = orDefault(raw.weight, RESOURCE_DEFAULTS.weight);
    if (spec === undefined || intervalMs === undefined || timeoutMs === undefined || rise === undefined || fall === undefined || weight === undefined) return;
    healthChecks.push({
      name,
      spec,
      intervalMs,
      timeoutMs,
      rise,
      fall,
      weight,
      instances: checkInstances,
      ...(resource !== undefined ? { resource } : {}),
    });
  });
  return { resources, groups, healthChecks };
}

/** The keys of the resource's type; undefined after an error (or where the schema refused one). */
function resourceSpec(raw: ResourceDocument, type: ResourceType, p: KeyPath, ctx: ResolveContext): ResourceSpec | undefined {
  const need = (key: keyof ResourceDocument & string): boolean => {
    if (raw[key] !== undefined) return true;
    ctx.error(p, `${/^[aeio]/.test(type) ? 'an' : 'a'} ${type} resource needs "${key}"`);
    return false;
  };
  switch (type) {
    case 'vip': {
      if (!need('address') || !need('interface')) return undefined;
      const text = given(raw.address);
      const iface = given(raw.interface);
      if (text === undefined || iface === undefined) return undefined;
      const parsed = parsePrefix(text);
      if ('error' in parsed) {
        ctx.error([...p, 'address'], parsed.error);
        return undefined;
      }
      const label = given(raw.label);
      return { type: 'vip', address: parsed.address, prefixLength: parsed.prefixLength, interface: iface, ...(label !== undefined ? { label } : {}) };
    }
    case 'exec': {
      if (!need('command')) return undefined;
      const command = strings(raw.command);
      if (command === undefined || given(raw.command) === undefined) return undefined;
      const env = stringMap(raw.env);
      const cwd = given(raw.cwd);
      return { type: 'exec', command, ...(env !== undefined ? { env } : {}), ...(cwd !== undefined ? { cwd } : {}) };
    }
    case 'systemd': {
      if (!need('unit')) return undefined;
      const unit = given(raw.unit);
      return unit === undefined ? undefined : { type: 'systemd', unit };
    }
    case 'ocf': {
      if (!need('agent')) return undefined;
      const agent = given(raw.agent);
      return agent === undefined ? undefined : { type: 'ocf', agent, params: stringMap(raw.params) ?? {} };
    }
  }
}

/** The keys of the check's type; undefined after an error (or where the schema refused one). */
function healthCheckSpec(raw: HealthCheckDocument, type: HealthCheckType, p: KeyPath, ctx: ResolveContext): HealthCheckSpec | undefined {
  const need = (key: keyof HealthCheckDocument & string): boolean => {
    if (raw[key] !== undefined) return true;
    ctx.error(p, `a ${type} check needs "${key}"`);
    return false;
  };
  switch (type) {
    case 'http':
    case 'https': {
      if (!need('url')) return undefined;
      const url = given(raw.url);
      if (url === undefined) return undefined;
      if (!url.startsWith(`${type}://`)) {
        ctx.error([...p, 'url'], `${JSON.stringify(url)} is not an ${type}:// URL`);
        return undefined;
      }
      const expectStatus = orDefault(raw.expect_status, RESOURCE_DEFAULTS.expectStatus);
      const body = given(raw.body);
      if (expectStatus === undefined) return undefined;
      return { type, url, expectStatus, ...(body !== undefined ? { bodyMatch: body } : {}), insecure: given(raw.insecure) === true };
    }
    case 'tcp': {
      if (!need('address')) return undefined;
      const text = given(raw.address);
      if (text === undefined) return undefined;
      const target = parseHostPort(text);
      if (target === undefined) {
        ctx.error([...p, 'address'], `${JSON.stringify(text)} is not address:port`);
        return undefined;
      }
      return { type: 'tcp', address: target.address, port: target.port };
    }
    case 'process': {
      if (!need('process')) return undefined;
      const name = given(raw.process);
      const minCount = orDefault(raw.min_count, RESOURCE_DEFAULTS.minCount);
      return name === undefined || minCount === undefined ? undefined : { type: 'process', name, minCount };
    }
    case 'script': {
      if (!need('script')) return undefined;
      const argv = strings(raw.script);
      if (argv === undefined || given(raw.script) === undefined) return undefined;
      const [path = '', ...args] = argv;
      if (!path.startsWith('/')) {
        ctx.error([...p, 'script', 0], `${JSON.stringify(path)} must be an absolute path`);
        return undefined;
      }
      return { type: 'script', path, args };
    }
  }
}
