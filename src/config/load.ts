/**
 * Loading /etc/vigil/vigil.yaml: YAML (the `yaml` package, with a LineCounter so every
 * node has a line and column), then the JSON Schema that ships in schema/vigil.schema.json
 * (ajv), then the checks a schema cannot express (addresses, families, VRRP version rules,
 * duplicates, sync groups). Every problem found is collected, not just the first, and
 * each names the file, line, column and key path:
 *
 *   vigil.yaml:12:9: instances[0].virtual_ips[1]: "10.213.0.300/24" is not an IPv4 prefix
 *
 * The reference for the keys is docs/config.md; the defaults below and the `default`s in
 * the schema are kept equal by test/config.test.ts.
 */
import { NO_NOTIFIERS } from './notifier-types.js';
import { readFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document, type Pair, type YAMLMap } from 'yaml';
import { AddressParseError, parseIp, type AddressFamily, type IpAddress } from '../net/address.js';
import { passwordAuthData, type V2Authentication } from '../vrrp/acceptance.js';
import { DEFAULT_ANNOUNCE, type AnnounceConfig } from '../vrrp/router.js';
import {
  toConfiguredPriority,
  toV2Interval,
  toV3Interval,
  toVrid,
  type Centiseconds,
  type V3Ipv4ChecksumMode,
  type VrrpVersion,
} from '../vrrp/types.js';
import type {
  GlobalConfig,
  InstanceConfig,
  QuorumConfig,
  QuorumNodeConfig,
  ResourcesConfig,
  SourceLocation,
  SyncGroupConfig,
  TieBreakerConfig,
  VigilConfig,
  VirtualIp,
} from './types.js';
import { toNodeId, toVotes, type NodeId, type TieBreakerNode } from '../quorum/types.js';
import type { GroupConfig, HealthCheckConfig, HealthCheckSpec, OnFail, Placement, ResourceConfig, ResourceSpec, TargetRole } from '../resources/types.js';

import { DEFAULT_CONFIG_PATH, type ConfigIssue, type ParseResult } from './issues.js';
export { DEFAULT_CONFIG_PATH, formatIssue, type ConfigIssue, type ParseResult } from './issues.js';
export { instanceToRouterConfig, interfaceTrackerName } from './router-config.js';

// ---------------------------------------------------------------------------------------
// Defaults (docs/config.md; equal to the schema's `default`s)

export const GLOBAL_DEFAULTS: GlobalConfig = {
  runtimeDir: '/run/vigil',
  logFormat: 'text',
  nonlocalBind: { ipv4: false, ipv6: false },
  realtimePriority: 0,
  stateDir: '/var/lib/vigil',
};

/** The resources' and health checks' defaults (equal to the schema's `default`s). */
export const RESOURCE_DEFAULTS = {
  startTimeout: '20s',
  stopTimeout: '20s',
  monitorTimeout: '20s',
  monitorInterval: '10s',
  onFail: 'restart' as OnFail,
  targetRole: 'started' as TargetRole,
  checkInterval: '2s',
  checkTimeout: '1s',
  rise: 1,
  fall: 1,
  weight: 0,
  expectStatus: 200,
  minCount: 1,
};

/** The quorum section's defaults (equal to the schema's `default`s). */
export const QUORUM_DEFAULTS = {
  clusterName: 'vigil',
  votes: 1,
  transport: 'unicast' as 'unicast' | 'multicast',
  multicastGroup: '239.192.213.1',
  port: 5406,
  heartbeatInterval: '200ms',
  heartbeatTimeout: '1s',
  keyFile: '/etc/vigil/authkey',
  twoNode: false,
  lastManStanding: false,
  lastManStandingWindow: '10s',
  autoTieBreaker: false,
  autoTieBreakerNode: 'lowest' as const,
  noQuorumPolicy: 'stop' as const,
  tieBreakerTimeout: '1s',
  tieBreakerInterval: '1s',
};

export const INSTANCE_DEFAULTS = {
  version: 3 as VrrpVersion,
  priority: 100,
  advertInterval: '1s',
  preempt: true,
  preemptDelay: '0s',
  /** keepalived's default; RFC 5798's is false. */
  accept: true,
  checksum: 'rfc5798' as V3Ipv4ChecksumMode,
  higherPrioritySendAdvert: true,
  lowerPriorityNoAdvert: false,
  addressListCheck: 'log' as 'log' | 'drop',
  garpMasterDelay: '5s',
  garpMasterRefresh: '0s',
  garpInterval: '0ms',
} as const;

/** The name of the macvlan interface when `vmac: true`. */
export function defaultVmacName(family: AddressFamily, vrid: number): string {
  return family === 'ipv4' ? `vrrp.${vrid}` : `vrrp6.${vrid}`;
}

// ---------------------------------------------------------------------------------------
// The schema

function findSchemaFile(): string {
  // dist/src/config/load.js (compiled) or src/config/load.ts: walk up to the package root.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'schema', 'vigil.schema.json');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'schema', 'vigil.schema.json');
}

/** The JSON Schema that ships with the package (schema/vigil.schema.json at the package root). */
export const SCHEMA_FILE = findSchemaFile();

/** Non-standard keywords the schema carries for people and editors; ajv must know them to stay strict. */
const ANNOTATION_KEYWORDS = ['x-expected', 'patternErrorMessage'] as const;

/** An ajv instance set up as the loader uses it: every error, with the data and schema (for the messages). */
export function newSchemaValidator(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strictTypes: true, strictTuples: true });
  for (const keyword of ANNOTATION_KEYWORDS) ajv.addKeyword(keyword);
  return ajv;
}

let compiled: ValidateFunction | undefined;

/** Reads and compiles the schema once (the loader's only I/O besides the config file itself). */
function validator(): ValidateFunction {
  if (compiled === undefined) {
    const schema: unknown = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
    if (!isRecord(schema)) throw new Error(`${SCHEMA_FILE}: not a JSON Schema object`);
    compiled = newSchemaValidator().compile(schema);
  }
  return compiled;
}

// ---------------------------------------------------------------------------------------
// Small helpers

type PathSegment = string | number;
type KeyPath = readonly PathSegment[];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function formatKeyPath(p: KeyPath): string {
  let out = '';
  for (const segment of p) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** A value as the user wrote it, for messages. */
function describe(value: unknown): string {
  if (value === undefined || value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'an empty value',
};

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : typeof type === 'string' ? type.split(',') : [];
  return orList(types.map((t) => TYPE_WORDS[String(t)] ?? String(t)));
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? 'something else';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`;
}

/** The JSON type of a value, as JSON Schema names it. */
function jsonType(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeAccepts(schemaType: unknown, value: unknown): boolean {
  if (schemaType === undefined) return true;
  const types = Array.isArray(schemaType) ? schemaType.map(String) : [String(schemaType)];
  const actual = jsonType(value);
  return types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** keepalived keywords people will bring along, and what they are called here. */
const KEEPALIVED_NAMES: Readonly<Record<string, string>> = {
  global_defs: 'global',
  vrrp_instance: 'instances',
  vrrp_sync_group: 'sync_groups',
  group: 'instances',
  virtual_router_id: 'vrid',
  advert_int: 'advert_interval',
  nopreempt: 'preempt: false',
  virtual_ipaddress: 'virtual_ips',
  virtual_ipaddress_excluded: 'excluded_ips',
  unicast_peer: 'unicast.peers',
  unicast_src_ip: 'unicast.source',
  auth_type: 'authentication.type',
  auth_pass: 'authentication.password',
  use_vmac: 'vmac',
  vmac_xmit_base: 'vmac',
  track_interface: 'track_interfaces',
  garp_master_delay: 'garp.master_delay',
  garp_master_repeat: 'garp.master_repeat',
  garp_master_refresh: 'garp.master_refresh',
  garp_master_refresh_repeat: 'garp.master_refresh_repeat',
  garp_lower_prio_repeat: 'garp.lower_prio_repeat',
  garp_interval: 'garp.interval',
  gna_interval: 'garp.interval',
  v3_checksum_as_v2: 'checksum: rfc9568',
  vrrp_rt_priority: 'realtime_priority',
  max_auto_priority: 'realtime_priority',
};

function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  if (key === 'state') {
    return 'unknown key; vigil has no initial state: an instance starts as backup, or as master at priority 255';
  }
  const keepalived = KEEPALIVED_NAMES[key];
  if (keepalived !== undefined) return `unknown key; keepalived's ${key} is ${keepalived} here`;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = levenshtein(key.toLowerCase(), candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= Math.min(3, Math.floor(best.length / 3))) {
    return `unknown key; did you mean "${best}"?`;
  }
  return `unknown key; expected one of: ${allowed.join(', ')}`;
}

// ---------------------------------------------------------------------------------------
// Durations: "10ms", "5cs", "1s", "1.5s", or a plain number of seconds.

const DURATION_TEXT = /^([0-9]+)(?:\.([0-9]+))?(ms|cs|s)$/;
const NUMBER_TEXT = /^([0-9]+)(?:\.([0-9]+))?$/;
/** log10 of the microseconds in one unit. */
const UNIT_DIGITS: Readonly<Record<string, number>> = { s: 6, cs: 4, ms: 3 };

type DurationResult = { readonly us: number } | { readonly error: string } | undefined;

/**
 * A duration in whole microseconds, computed from the decimal text (no binary rounding:
 * "1.1s" is exactly 1 100 000 µs). undefined if it is not a duration at all (the schema
 * says so); an error if it is finer than a microsecond or absurdly long.
 */
export function parseDurationMicros(value: unknown): DurationResult {
  let match: RegExpExecArray | null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return undefined;
    match = NUMBER_TEXT.exec(String(value));
    if (match === null) return { error: `${describe(value)} is not a duration vigil can represent; write it with a unit, e.g. "10ms"` };
    match = DURATION_TEXT.exec(`${String(value)}s`);
  } else if (typeof value === 'string') {
    match = DURATION_TEXT.exec(value);
  } else {
    return undefined;
  }
  if (match === null) return undefined;
  const [, whole = '0', fraction = '', unit = 's'] = match;
  const digits = UNIT_DIGITS[unit] ?? 6;
  if (fraction.replace(/0+$/, '').length > digits) {
    return { error: `${describe(value)} is finer than a microsecond` };
  }
  const us = Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0').slice(0, digits) || '0');
  if (!Number.isSafeInteger(us)) return { error: `${describe(value)} is too long` };
  return { us };
}

/** How an interval is shown: "1s", "1.5s", "10ms". */
export function formatCentiseconds(cs: number): string {
  return cs >= 100 ? `${cs / 100}s` : `${cs * 10}ms`;
}

// ---------------------------------------------------------------------------------------
// Addresses

type PrefixResult = { readonly address: IpAddress; readonly prefixLength: number } | { readonly error: string };

/** "addr/len" or a bare address (a host prefix, as keepalived). */
export function parsePrefix(text: string): PrefixResult {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const lengthText = slash < 0 ? undefined : text.slice(slash + 1);
  const family: AddressFamily = addressText.includes(':') ? 'ipv6' : 'ipv4';
  const familyName = family === 'ipv4' ? 'IPv4' : 'IPv6';
  let what: string;
  if (lengthText !== undefined) what = `an ${familyName} prefix`;
  else if (family === 'ipv6' || /^[0-9.]+$/.test(addressText)) what = `an ${familyName} address`;
  else what = 'an IP address';
  const fail = { error: `${JSON.stringify(text)} is not ${what}` };
  const address = parseIp(addressText, family);
  if (address instanceof AddressParseError) return fail;
  const max = family === 'ipv4' ? 32 : 128;
  if (lengthText === undefined) return { address, prefixLength: max };
  // No leading zeros: iproute2 reads "/024" as octal (20).
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > max) return fail;
  return { address, prefixLength: Number(lengthText) };
}

function familyName(family: AddressFamily): string {
  return family === 'ipv4' ? 'IPv4' : 'IPv6';
}

// ---------------------------------------------------------------------------------------
// Locating key paths in the YAML document

class Locator {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
    readonly file: string,
  ) {}

  location(offset: number): SourceLocation {
    const { line, col } = this.lineCounter.linePos(offset);
    return { file: this.file, line, column: col };
  }

  /** Where the value at `p` starts (or its key, if the value is empty, or the nearest ancestor that exists). */
  at(p: KeyPath, prefer: 'value' | 'key' = 'value'): SourceLocation {
    return this.location(this.offset(p, prefer));
  }

  issue(p: KeyPath, message: string, prefer: 'value' | 'key' = 'value'): ConfigIssue {
    return { ...this.at(p, prefer), path: formatKeyPath(p), message };
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  private findPair(map: YAMLMap, key: string, depth = 0): Pair | undefined {
    for (const pair of map.items) {
      if (isScalar(pair.key) && typeof pair.key.value !== 'symbol' && String(pair.key.value) === key) return pair;
    }
    if (depth > 8) return undefined;
    // `<<: *anchor` merge keys: look in the merged mappings.
    for (const pair of map.items) {
      if (!isScalar(pair.key) || typeof pair.key.value !== 'symbol') continue;
      const value = this.deref(pair.value);
      const sources = isSeq(value) ? value.items.map((item) => this.deref(item)) : [value];
      for (const source of sources) {
        if (!isMap(source)) continue;
        const found = this.findPair(source, key, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  }

  private offset(p: KeyPath, prefer: 'value' | 'key'): number {
    let node: unknown = this.doc.contents;
    let offset = startOf(node) ?? 0;
    for (let i = 0; i < p.length; i++) {
      const segment = p[i];
      node = this.deref(node);
      if (isMap(node)) {
        const pair = this.findPair(node, String(segment));
        if (pair === undefined) return offset;
        const keyStart = startOf(pair.key);
        if (i === p.length - 1 && prefer === 'key' && keyStart !== undefined) return keyStart;
        const valueStart = startOf(pair.value);
        if (valueStart === undefined) return keyStart ?? offset;
        offset = valueStart;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item: unknown = node.items[segment];
        const itemStart = startOf(item);
        if (itemStart === undefined) return offset;
        offset = itemStart;
        node = item;
      } else {
        return offset;
      }
    }
    return offset;
  }
}

/** The start of a node, or undefined for none or an empty scalar (`key:` with nothing after it). */
function startOf(node: unknown): number | undefined {
  if (!isNode(node) || !node.range) return undefined;
  if (isScalar(node) && node.value === null && node.range[0] === node.range[1]) return undefined;
  return node.range[0];
}

// ---------------------------------------------------------------------------------------
// Schema errors to issues

interface SchemaProblem {
  readonly path: KeyPath;
  readonly message: string;
  readonly prefer: 'value' | 'key';
}

/** "/instances/0/name" to ['instances', 0, 'name'], numbering only what are arrays in the data. */
function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const out: PathSegment[] = [];
  let current: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      const index = Number(segment);
      out.push(index);
      current = current[index];
    } else {
      out.push(segment);
      current = isRecord(current) ? current[segment] : undefined;
    }
  }
  return out;
}

function schemaParent(schemaPath: string): string {
  return schemaPath.slice(0, schemaPath.lastIndexOf('/'));
}

function within(instancePath: string, ancestor: string): boolean {
  return instancePath === ancestor || instancePath.startsWith(`${ancestor}/`);
}

function rangeText(schema: Record<string, unknown>): string {
  const { minimum: min, maximum: max } = schema;
  if (typeof min === 'number' && typeof max === 'number') return ` from ${min} to ${max}`;
  if (typeof min === 'number') return ` of at least ${min}`;
  if (typeof max === 'number') return ` of at most ${max}`;
  return '';
}

function errorMessage(e: ErrorObject): string {
  const parent: Record<string, unknown> = isRecord(e.parentSchema) ? e.parentSchema : {};
  const got = describe(e.data);
  switch (e.keyword) {
    case 'type': {
      const hint =
        e.params['type'] === 'boolean' && typeof e.data === 'string' && /^(y|yes|n|no|on|off)$/i.test(e.data)
          ? ' (YAML 1.2 reads that as a string: write true or false)'
          : '';
      return `expected ${typeWords(e.params['type'])}, got ${got}${hint}`;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `expected ${typeWords(parent['type'] ?? 'number')}${rangeText(parent)}, got ${got}`;
    case 'enum':
    case 'const': {
      const allowed: unknown[] = e.keyword === 'enum' && Array.isArray(e.schema) ? e.schema : [e.schema];
      return `expected ${orList(allowed.map((v) => (typeof v === 'string' ? v : String(v))))}, got ${got}`;
    }
    case 'pattern': {
      const custom = parent['patternErrorMessage'];
      return typeof custom === 'string' ? `${custom}, got ${got}` : `expected a string matching ${String(e.params['pattern'])}, got ${got}`;
    }
    case 'minItems': {
      const limit = Number(e.params['limit']);
      const what = limit === 1 ? 'at least one entry' : `at least ${limit} entries`;
      return `expected ${what}, got ${Array.isArray(e.data) && e.data.length === 0 ? 'an empty list' : `${Array.isArray(e.data) ? e.data.length : 0}`}`;
    }
    case 'minLength':
      return Number(e.params['limit']) === 1 ? `expected a non-empty string, got ${got}` : `expected at least ${String(e.params['limit'])} characters, got ${got}`;
    case 'maxLength':
      return `expected at most ${String(e.params['limit'])} characters, got ${got}`;
    case 'anyOf': {
      const expected = parent['x-expected'];
      if (typeof expected === 'string') return `expected ${expected}, got ${got}`;
      const branches: unknown[] = Array.isArray(e.schema) ? e.schema : [];
      return `expected ${orList(branches.map((b) => (isRecord(b) ? typeWords(b['type']) : 'something else')))}, got ${got}`;
    }
    default:
      return e.message ?? `fails the schema's "${e.keyword}"`;
  }
}

/**
 * ajv's errors, reduced to one per problem: of an `anyOf` whose value has the type of
 * exactly one branch, only that branch's errors (a VIP mapping with an unknown key says
 * so); otherwise one "expected X or Y" line. A wrong type hides the other complaints
 * about the same value (an enum's, a range's).
 */
function schemaProblems(errors: readonly ErrorObject[], data: unknown): SchemaProblem[] {
  const dropped = new Set<ErrorObject>();
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const a of anyOfs) {
    if (dropped.has(a)) continue;
    const branches: unknown[] = Array.isArray(a.schema) ? a.schema : [];
    const candidates = branches.flatMap((b, i) => (isRecord(b) && typeAccepts(b['type'], a.data) ? [i] : []));
    const inBranches = errors.filter(
      (e) => e !== a && within(e.instancePath, a.instancePath) && e.schemaPath.startsWith(`${a.schemaPath}/`),
    );
    const only = candidates.length === 1 ? candidates[0] : undefined;
    if (only !== undefined) {
      dropped.add(a);
      for (const e of inBranches) if (!e.schemaPath.startsWith(`${a.schemaPath}/${only}/`)) dropped.add(e);
    } else {
      for (const e of inBranches) dropped.add(e);
    }
  }
  for (const t of errors) {
    if (t.keyword !== 'type' || dropped.has(t)) continue;
    for (const e of errors) {
      if (e !== t && e.instancePath === t.instancePath && schemaParent(e.schemaPath) === schemaParent(t.schemaPath)) dropped.add(e);
    }
  }
  const problems: SchemaProblem[] = [];
  for (const e of errors) {
    if (dropped.has(e) || e.keyword === 'if') continue;
    const base = pointerToPath(e.instancePath, data);
    if (e.keyword === 'additionalProperties') {
      const key = String(e.params['additionalProperty']);
      const properties = isRecord(e.parentSchema) && isRecord(e.parentSchema['properties']) ? e.parentSchema['properties'] : {};
      problems.push({ path: [...base, key], message: unknownKeyMessage(key, Object.keys(properties)), prefer: 'key' });
    } else if (e.keyword === 'required') {
      problems.push({ path: base, message: `missing required key "${String(e.params['missingProperty'])}"`, prefer: 'value' });
    } else {
      problems.push({ path: base, message: errorMessage(e), prefer: 'value' });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Semantic checks and resolution

type ScopeName = VirtualIp['scope'];

class Resolver {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];

  constructor(private readonly at: Locator) {}

  error(p: KeyPath, message: string): void {
    this.errors.push(this.at.issue(p, message));
  }

  warn(p: KeyPath, message: string): void {
    this.warnings.push(this.at.issue(p, message));
  }

  line(p: KeyPath): number {
    return this.at.at(p).line;
  }

  resolve(root: Record<string, unknown>): VigilConfig | undefined {
    const global = this.global(isRecord(root['global']) ? root['global'] : {});
    const rawInstances = Array.isArray(root['instances']) ? root['instances'] : [];
    const instances: (InstanceConfig | undefined)[] = [];
    const names = new Map<string, number>();
    const vrids = new Map<string, number>();
    rawInstances.forEach((raw, i) => {
      const p: KeyPath = ['instances', i];
      if (!isRecord(raw)) {
        instances.push(undefined);
        return;
      }
      const { config, identity } = this.instance(raw, p);
      instances.push(config);
      const name = raw['name'];
      if (typeof name === 'string') {
        const first = names.get(name);
        if (first === undefined) names.set(name, i);
        else this.error([...p, 'name'], `duplicate instance name "${name}" (first at line ${this.line(['instances', first])})`);
      }
      if (identity !== undefined) {
        const key = `${identity.iface}\u0000${identity.vrid}\u0000${identity.family}`;
        const first = vrids.get(key);
        if (first === undefined) vrids.set(key, i);
        else {
          const other = rawInstances[first];
          const otherName = isRecord(other) && typeof other['name'] === 'string' ? other['name'] : `#${first}`;
          this.error(
            [...p, 'vrid'],
            `VRID ${identity.vrid} is already used for ${familyName(identity.family)} on ${identity.iface} by instance "${otherName}" (line ${this.line(['instances', first])})`,
          );
        }
      }
    });
    // Two instances wanting one macvlan name (e.g. the same VRID with `vmac: true` on two interfaces: both "vrrp.VRID").
    const vmacs = new Map<string, number>();
    instances.forEach((config, i) => {
      if (config?.vmac === undefined) return;
      const first = vmacs.get(config.vmac.name);
      if (first === undefined) {
        vmacs.set(config.vmac.name, i);
        return;
      }
      const raw = rawInstances[i];
      const named = isRecord(raw) && isRecord(raw['vmac']) && typeof raw['vmac']['name'] === 'string';
      this.error(
        named ? ['instances', i, 'vmac', 'name'] : ['instances', i, 'vmac'],
        `the vmac interface "${config.vmac.name}" is already the one of instance "${instances[first]?.name ?? `#${first}`}" (line ${this.line(['instances', first])}); give one of them another name: vmac: { name: ... }`,
      );
    });
    const syncGroups = this.syncGroups(Array.isArray(root['sync_groups']) ? root['sync_groups'] : [], names);
    const quorum = isRecord(root['quorum']) ? this.quorum(root['quorum']) : undefined;
    const resources = this.resources(root, new Set(names.keys()), new Set((syncGroups ?? []).map((g) => g.name)));
    const complete = instances.filter((x): x is InstanceConfig => x !== undefined);
    if (this.errors.length > 0 || complete.length !== rawInstances.length || syncGroups === undefined) return undefined;
    if (isRecord(root['quorum']) && quorum === undefined) return undefined;
    return { path: this.at.file, global, instances: complete, syncGroups, ...(quorum ? { quorum } : {}), resources, notifiers: NO_NOTIFIERS };
  }

  private global(raw: Record<string, unknown>): GlobalConfig {
    const bind = raw['nonlocal_bind'];
    const flag = (v: unknown): boolean => v === true;
    return {
      runtimeDir: typeof raw['runtime_dir'] === 'string' ? raw['runtime_dir'] : GLOBAL_DEFAULTS.runtimeDir,
      logFormat: raw['log_format'] === 'json' ? 'json' : GLOBAL_DEFAULTS.logFormat,
      nonlocalBind: isRecord(bind) ? { ipv4: flag(bind['ipv4']), ipv6: flag(bind['ipv6']) } : { ipv4: flag(bind), ipv6: flag(bind) },
      realtimePriority: typeof raw['realtime_priority'] === 'number' ? raw['realtime_priority'] : GLOBAL_DEFAULTS.realtimePriority,
      stateDir: typeof raw['state_dir'] === 'string' ? raw['state_dir'] : GLOBAL_DEFAULTS.stateDir,
    };
  }

  /** A duration in whole milliseconds, at most a day; undefined (after an error, if it was a duration) otherwise. */
  private durationMs(value: unknown, p: KeyPath): number | undefined {
    const d = parseDurationMicros(value);
    if (d === undefined) return undefined;
    if ('error' in d) {
      this.error(p, d.error);
      return undefined;
    }
    if (d.us % 1000 !== 0) {
      this.error(p, `${describe(value)} is not a whole number of milliseconds`);
      return undefined;
    }
    if (d.us > 86_400_000_000) {
      this.error(p, `${describe(value)} is too long: at most a day (86400s)`);
      return undefined;
    }
    return d.us / 1000;
  }

  private interval(value: unknown, version: VrrpVersion | undefined, p: KeyPath): Centiseconds | undefined {
    const d = parseDurationMicros(value);
    if (d === undefined || version === undefined) return undefined;
    if ('error' in d) {
      this.error(p, d.error);
      return undefined;
    }
    const shown = describe(value);
    if (version === 3) {
      if (d.us % 10_000 !== 0) {
        this.error(p, `${shown} is not a whole number of centiseconds (VRRPv3 counts the interval in units of 10ms)`);
        return undefined;
      }
      const cs = d.us / 10_000;
      if (cs < 1 || cs > 4095) {
        this.error(p, `${shown} is out of range for VRRPv3: 10ms to 40.95s`);
        return undefined;
      }
      return toV3Interval(cs);
    }
    if (d.us % 1_000_000 !== 0) {
      this.error(p, `${shown} is not a whole number of seconds (VRRPv2 advertises whole seconds, 1s to 255s)`);
      return undefined;
    }
    const seconds = d.us / 1_000_000;
    if (seconds < 1 || seconds > 255) {
      this.error(p, `${shown} is out of range for VRRPv2: 1s to 255s`);
      return undefined;
    }
    return toV2Interval(seconds);
  }

  private vip(raw: unknown, p: KeyPath, iface: string | undefined): VirtualIp | undefined {
    const entry = isRecord(raw) ? raw : { address: raw };
    const text = entry['address'];
    if (typeof text !== 'string') return undefined;
    const addressPath = isRecord(raw) ? [...p, 'address'] : p;
    const parsed = parsePrefix(text);
    if ('error' in parsed) {
      this.error(addressPath, parsed.error);
      return undefined;
    }
    const dev = typeof entry['dev'] === 'string' ? entry['dev'] : undefined;
    const label = typeof entry['label'] === 'string' ? entry['label'] : undefined;
    if (label !== undefined) {
      const device = dev ?? iface;
      if (parsed.address.family === 'ipv6') {
        this.error([...p, 'label'], 'address labels are IPv4 only');
        return undefined;
      }
      if (device !== undefined && label !== device && !label.startsWith(`${device}:`)) {
        this.error([...p, 'label'], `"${label}" must be the device name "${device}" or start with "${device}:"`);
        return undefined;
      }
    }
    const scope = entry['scope'];
    return {
      address: parsed.address,
      prefixLength: parsed.prefixLength,
      ...(dev !== undefined ? { dev } : {}),
      ...(label !== undefined ? { label } : {}),
      scope: scope === 'site' || scope === 'link' || scope === 'host' ? scope : ('global' satisfies ScopeName),
    };
  }

  private instance(
    raw: Record<string, unknown>,
    p: KeyPath,
  ): { config: InstanceConfig | undefined; identity: { iface: string; vrid: number; family: AddressFamily } | undefined } {
    const name = typeof raw['name'] === 'string' ? raw['name'] : undefined;
    const iface = typeof raw['interface'] === 'string' ? raw['interface'] : undefined;
    const vridRaw = raw['vrid'];
    const vrid = typeof vridRaw === 'number' && Number.isInteger(vridRaw) && vridRaw >= 1 && vridRaw <= 255 ? toVrid(vridRaw) : undefined;
    const versionRaw = raw['version'] ?? INSTANCE_DEFAULTS.version;
    const version: VrrpVersion | undefined = versionRaw === 2 || versionRaw === 3 ? versionRaw : undefined;
    const priorityRaw = raw['priority'] ?? INSTANCE_DEFAULTS.priority;
    const priority =
      typeof priorityRaw === 'number' && Number.isInteger(priorityRaw) && priorityRaw >= 1 && priorityRaw <= 255
        ? toConfiguredPriority(priorityRaw)
        : undefined;

    // Addresses; the family comes from the virtual IPs.
    let family: AddressFamily | undefined;
    let familyFrom = 0;
    const seen = new Map<string, KeyPath>();
    const noteDuplicate = (vip: VirtualIp, at: KeyPath): void => {
      const key = `${vip.address.family} ${vip.address.text}`;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, at);
      else this.error(at, `${vip.address.text} is already listed at ${formatKeyPath(first)} (line ${this.line(first)})`);
    };
    const virtualIps: VirtualIp[] = [];
    const rawVips = Array.isArray(raw['virtual_ips']) ? raw['virtual_ips'] : [];
    let vipsOk = rawVips.length > 0;
    rawVips.forEach((item, j) => {
      const at: KeyPath = [...p, 'virtual_ips', j];
      const vip = this.vip(item, at, iface);
      if (vip === undefined) {
        vipsOk = false;
        return;
      }
      const vipFamily = vip.address.family;
      if (family === undefined) {
        family = vipFamily;
        familyFrom = j;
      } else if (vipFamily !== family) {
        this.error(
          isRecord(item) ? [...at, 'address'] : at,
          `${vip.address.text} is ${familyName(vipFamily)}, but virtual_ips[${familyFrom}] is ${familyName(family)}: an instance's virtual_ips are all of one family (use a second instance for the other)`,
        );
        vipsOk = false;
        return;
      }
      noteDuplicate(vip, at);
      virtualIps.push(vip);
    });
    const excludedIps: VirtualIp[] = [];
    const rawExcluded = Array.isArray(raw['excluded_ips']) ? raw['excluded_ips'] : [];
    rawExcluded.forEach((item, j) => {
      const at: KeyPath = [...p, 'excluded_ips', j];
      const vip = this.vip(item, at, iface);
      if (vip === undefined) {
        vipsOk = false;
        return;
      }
      noteDuplicate(vip, at);
      excludedIps.push(vip);
    });

    if (family === 'ipv6' && version === 2) {
      this.error([...p, 'version'], 'IPv6 needs VRRPv3 (version: 3): VRRPv2 is IPv4 only');
    }

    const advertInterval = this.interval(raw['advert_interval'] ?? INSTANCE_DEFAULTS.advertInterval, version, [...p, 'advert_interval']);
    const preempt = typeof raw['preempt'] === 'boolean' ? raw['preempt'] : INSTANCE_DEFAULTS.preempt;
    const preemptDelayMs = this.durationMs(raw['preempt_delay'] ?? INSTANCE_DEFAULTS.preemptDelay, [...p, 'preempt_delay']);
    if (priority === 255 && raw['preempt'] === false) {
      this.warn([...p, 'preempt'], 'preempt: false is ignored at priority 255: the address owner always takes over');
    }
    if (raw['preempt'] === false && preemptDelayMs !== undefined && preemptDelayMs > 0) {
      this.warn([...p, 'preempt_delay'], 'preempt_delay is ignored with preempt: false');
    }

    // Unicast.
    let unicast: InstanceConfig['unicast'];
    let unicastOk = true;
    const rawUnicast = raw['unicast'];
    if (isRecord(rawUnicast)) {
      const address = (value: unknown, at: KeyPath): IpAddress | undefined => {
        if (typeof value !== 'string') {
          unicastOk = false;
          return undefined;
        }
        const parsed = parseIp(value);
        if (parsed instanceof AddressParseError) {
          this.error(at, `${JSON.stringify(value)} is not an IP address`);
          unicastOk = false;
          return undefined;
        }
        if (family !== undefined && parsed.family !== family) {
          this.error(
            at,
            `${parsed.text} is an ${familyName(parsed.family)} address, but this instance is ${familyName(family)} (the family of its virtual_ips)`,
          );
          unicastOk = false;
          return undefined;
        }
        return parsed;
      };
      const source = rawUnicast['source'] === undefined ? undefined : address(rawUnicast['source'], [...p, 'unicast', 'source']);
      const peers: IpAddress[] = [];
      const peerSeen = new Map<string, number>();
      const rawPeers = Array.isArray(rawUnicast['peers']) ? rawUnicast['peers'] : [];
      rawPeers.forEach((value, j) => {
        const at: KeyPath = [...p, 'unicast', 'peers', j];
        const peer = address(value, at);
        if (peer === undefined) return;
        const first = peerSeen.get(peer.text);
        if (first !== undefined) {
          this.error(at, `${peer.text} is already listed at unicast.peers[${first}]`);
          unicastOk = false;
          return;
        }
        peerSeen.set(peer.text, j);
        peers.push(peer);
      });
      if (unicastOk) unicast = { ...(source !== undefined ? { source } : {}), peers };
    }

    // Authentication (VRRPv2).
    let authentication: V2Authentication = { type: 'none' };
    let authOk = true;
    const rawAuth = raw['authentication'];
    if (isRecord(rawAuth)) {
      const password = rawAuth['password'];
      if (rawAuth['type'] === 'pass') {
        if (version === 3) {
          this.error([...p, 'authentication'], 'authentication is VRRPv2 only (VRRPv3 has none); remove it or set version: 2');
          authOk = false;
        } else if (typeof password === 'string') {
          const bytes = Buffer.byteLength(password, 'utf8');
          if (bytes > 8) {
            this.error([...p, 'authentication', 'password'], `the password is ${bytes} bytes long; VRRPv2 carries at most 8`);
            authOk = false;
          } else {
            authentication = { type: 'pass', password: passwordAuthData(password) };
          }
        }
      } else if (rawAuth['type'] === 'none' && password !== undefined) {
        this.error([...p, 'authentication', 'password'], 'a password needs type: pass');
        authOk = false;
      }
    }

    // VMAC.
    let vmac: InstanceConfig['vmac'];
    const rawVmac = raw['vmac'];
    if ((rawVmac === true || isRecord(rawVmac)) && family !== undefined && vrid !== undefined) {
      const given = isRecord(rawVmac) && typeof rawVmac['name'] === 'string' ? rawVmac['name'] : undefined;
      vmac = { name: given ?? defaultVmacName(family, vrid) };
    }

    // Gratuitous ARP / NA.
    const garp = isRecord(raw['garp']) ? raw['garp'] : {};
    const count = (key: string, fallback: number): number => {
      const v = garp[key];
      return typeof v === 'number' ? v : fallback;
    };
    const masterDelayMs = this.durationMs(garp['master_delay'] ?? INSTANCE_DEFAULTS.garpMasterDelay, [...p, 'garp', 'master_delay']);
    const masterRefreshMs = this.durationMs(garp['master_refresh'] ?? INSTANCE_DEFAULTS.garpMasterRefresh, [...p, 'garp', 'master_refresh']);
    const garpIntervalMs = this.durationMs(garp['interval'] ?? INSTANCE_DEFAULTS.garpInterval, [...p, 'garp', 'interval']);

    // Tracking.
    const trackInterfaces: { name: string; weight: number }[] = [];
    const tracked = new Map<string, number>();
    let trackOk = true;
    const rawTrack = Array.isArray(raw['track_interfaces']) ? raw['track_interfaces'] : [];
    rawTrack.forEach((item, j) => {
      const at: KeyPath = [...p, 'track_interfaces', j];
      const trackName = typeof item === 'string' ? item : isRecord(item) && typeof item['name'] === 'string' ? item['name'] : undefined;
      if (trackName === undefined) return;
      const weight = isRecord(item) && typeof item['weight'] === 'number' ? item['weight'] : 0;
      const first = tracked.get(trackName);
      if (first !== undefined) {
        this.error(at, `interface "${trackName}" is already tracked at track_interfaces[${first}]`);
        trackOk = false;
        return;
      }
      tracked.set(trackName, j);
      trackInterfaces.push({ name: trackName, weight });
    });

    // Checksum (IPv4 VRRPv3 only).
    const rawChecksum = raw['checksum'];
    const checksum: V3Ipv4ChecksumMode =
      rawChecksum === 'rfc9568' || rawChecksum === 'either' || rawChecksum === 'rfc5798' ? rawChecksum : INSTANCE_DEFAULTS.checksum;
    if (rawChecksum !== undefined && (version === 2 || family === 'ipv6')) {
      this.warn([...p, 'checksum'], `checksum only applies to IPv4 VRRPv3; ignored for ${family === 'ipv6' ? 'IPv6' : 'VRRPv2'}`);
    } else if (checksum === 'either') {
      this.warn(
        [...p, 'checksum'],
        'checksum: either accepts adverts with and without the IPv4 pseudo-header; use it while migrating, then settle on rfc5798 or rfc9568',
      );
    }

    const bool = (key: string, fallback: boolean): boolean => {
      const v = raw[key];
      return typeof v === 'boolean' ? v : fallback;
    };
    const addressListCheck = raw['address_list_check'] === 'drop' ? 'drop' : INSTANCE_DEFAULTS.addressListCheck;

    const identity = iface !== undefined && vrid !== undefined && family !== undefined ? { iface, vrid, family } : undefined;
    if (
      name === undefined ||
      iface === undefined ||
      vrid === undefined ||
      version === undefined ||
      priority === undefined ||
      family === undefined ||
      !vipsOk ||
      advertInterval === undefined ||
      preemptDelayMs === undefined ||
      !unicastOk ||
      !authOk ||
      masterDelayMs === undefined ||
      masterRefreshMs === undefined ||
      garpIntervalMs === undefined ||
      !trackOk
    ) {
      return { config: undefined, identity };
    }
    const announce: AnnounceConfig = {
      masterRepeat: count('master_repeat', DEFAULT_ANNOUNCE.masterRepeat),
      masterDelayMs,
      masterRefreshMs,
      masterRefreshRepeat: count('master_refresh_repeat', DEFAULT_ANNOUNCE.masterRefreshRepeat),
      lowerPriorityRepeat: count('lower_prio_repeat', DEFAULT_ANNOUNCE.lowerPriorityRepeat),
    };
    const config: InstanceConfig = {
      name,
      interface: iface,
      vrid,
      family,
      version,
      priority,
      advertInterval,
      preempt,
      preemptDelayMs,
      acceptMode: bool('accept', INSTANCE_DEFAULTS.accept),
      virtualIps,
      excludedIps,
      ...(unicast !== undefined ? { unicast } : {}),
      authentication,
      ...(vmac !== undefined ? { vmac } : {}),
      announce,
      garpIntervalMs,
      trackInterfaces,
      checksum,
      higherPrioritySendAdvert: bool('higher_prio_send_advert', INSTANCE_DEFAULTS.higherPrioritySendAdvert),
      lowerPriorityNoAdvert: bool('lower_prio_no_advert', INSTANCE_DEFAULTS.lowerPriorityNoAdvert),
      addressListCheck,
      location: this.at.at(p),
    };
    return { config, identity };
  }

  /**
   * The quorum section (../shared/reference/quorum.md): the node list, the heartbeat
   * transport and timing, the votequorum options with corosync's refusals, and the
   * two-node tie-breaker.
   */
  private quorum(raw: Record<string, unknown>): QuorumConfig | undefined {
    const p: KeyPath = ['quorum'];
    const errorsBefore = this.errors.length;
    // provider corosync: membership, votes and votequorum's options are corosync.conf's;
    // of this section only no_quorum_policy applies (README "Larger clusters").
    const provider = raw['provider'] === 'corosync' ? 'corosync' : 'vigil';
    if (provider === 'corosync') {
      for (const key of Object.keys(raw).filter((k) => k !== 'provider' && k !== 'no_quorum_policy')) {
        this.error([...p, key], `${key} does not apply with provider corosync: corosync.conf (totem, nodelist, quorum) decides; only no_quorum_policy is read here`);
      }
    }
    const nodes: QuorumNodeConfig[] = [];
    const ids = new Map<string, number>();
    const nodeNames = new Map<string, number>();
    const addresses = new Map<string, number>();
    const rawNodes = Array.isArray(raw['nodes']) ? raw['nodes'] : [];
    rawNodes.forEach((item, i) => {
      const np: KeyPath = [...p, 'nodes', i];
      if (!isRecord(item) || typeof item['id'] !== 'number' || typeof item['name'] !== 'string' || typeof item['address'] !== 'string') return;
      const { id, name } = item as { id: number; name: string };
      const address = parseIp(item['address']);
      if (address instanceof AddressParseError) {
        this.error([...np, 'address'], `${JSON.stringify(item['address'])} is not an IP address`);
        return;
      }
      const duplicate = (seen: Map<string, number>, key: string, what: string, at: KeyPath): boolean => {
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, i);
          return false;
        }
        this.error(at, `${what} is already the one of node #${first} (line ${this.line([...p, 'nodes', first])})`);
        return true;
      };
      if (duplicate(ids, String(id), `node id ${id}`, [...np, 'id'])) return;
      if (duplicate(nodeNames, name, `node name "${name}"`, [...np, 'name'])) return;
      if (duplicate(addresses, address.text, `address ${address.text}`, [...np, 'address'])) return;
      nodes.push({ id: toNodeId(id), name, address, votes: toVotes(typeof item['votes'] === 'number' ? item['votes'] : QUORUM_DEFAULTS.votes) });
    });
    const nodeId = typeof raw['node_id'] === 'number' ? raw['node_id'] : undefined;
    if (nodeId !== undefined && !ids.has(String(nodeId))) this.error([...p, 'node_id'], `no node in quorum.nodes has id ${nodeId}`);

    const transport = raw['transport'] === 'multicast' ? 'multicast' : 'unicast';
    const groupText = typeof raw['multicast_group'] === 'string' ? raw['multicast_group'] : QUORUM_DEFAULTS.multicastGroup;
    const group = parseIp(groupText, 'ipv4');
    if (group instanceof AddressParseError || ((group.bytes[0] ?? 0) & 0xf0) !== 0xe0) {
      this.error([...p, 'multicast_group'], `${JSON.stringify(groupText)} is not an IPv4 multicast address (224.0.0.0/4)`);
    }
    const iface = typeof raw['interface'] === 'string' ? raw['interface'] : undefined;
    if (transport === 'multicast') {
      if (iface === undefined) this.error([...p, 'transport'], 'transport multicast needs quorum.interface, the interface to send and receive on');
      const v6 = nodes.find((n) => n.address.family !== 'ipv4');
      if (v6) this.error([...p, 'transport'], `transport multicast is IPv4 only; node ${v6.name} has ${v6.address.text} (use transport unicast)`);
    }
    const ms = (key: string, fallback: string): number | undefined => this.durationMs(raw[key] ?? fallback, [...p, key]);
    const heartbeatIntervalMs = ms('heartbeat_interval', QUORUM_DEFAULTS.heartbeatInterval);
    const heartbeatTimeoutMs = ms('heartbeat_timeout', QUORUM_DEFAULTS.heartbeatTimeout);
    if (heartbeatIntervalMs !== undefined && heartbeatIntervalMs < 10) this.error([...p, 'heartbeat_interval'], 'at least 10ms');
    if (heartbeatIntervalMs !== undefined && heartbeatTimeoutMs !== undefined && heartbeatTimeoutMs < 2 * heartbeatIntervalMs) {
      this.error([...p, 'heartbeat_timeout'], `${heartbeatTimeoutMs}ms is less than twice heartbeat_interval (${heartbeatIntervalMs}ms): one lost heartbeat would drop a member`);
    }
    const lastManStandingWindowMs = ms('last_man_standing_window', QUORUM_DEFAULTS.lastManStandingWindow);

    const flag = (key: string, fallback: boolean): boolean => (typeof raw[key] === 'boolean' ? (raw[key] as boolean) : fallback);
    let twoNode = flag('two_node', QUORUM_DEFAULTS.twoNode);
    const autoTieBreaker = flag('auto_tie_breaker', QUORUM_DEFAULTS.autoTieBreaker);
    const lastManStanding = flag('last_man_standing', QUORUM_DEFAULTS.lastManStanding);
    const totalVotes = nodes.reduce((sum, n) => sum + n.votes, 0);
    if (twoNode && rawNodes.length === nodes.length && totalVotes !== 2) {
      // votequorum: "two_node is only valid with 2 nodes (expected_votes 2)".
      this.error([...p, 'two_node'], `two_node needs exactly two votes in the cluster; the nodes have ${totalVotes}`);
    }
    if (twoNode && autoTieBreaker) {
      // votequorum.c: auto_tie_breaker takes precedence and two_node is turned off.
      this.warn([...p, 'two_node'], 'two_node is ignored with auto_tie_breaker (as corosync does): the tie-breaker node decides a 50/50 split');
      twoNode = false;
    }
    const waitForAll = flag('wait_for_all', flag('two_node', QUORUM_DEFAULTS.twoNode));
    const rawAtbNode = raw['auto_tie_breaker_node'];
    let autoTieBreakerNode: TieBreakerNode = rawAtbNode === 'highest' ? 'highest' : 'lowest';
    if (Array.isArray(rawAtbNode)) {
      const list: NodeId[] = [];
      rawAtbNode.forEach((v, i) => {
        if (typeof v !== 'number') return;
        if (!ids.has(String(v))) this.error([...p, 'auto_tie_breaker_node', i], `no node in quorum.nodes has id ${v}`);
        else list.push(toNodeId(v));
      });
      autoTieBreakerNode = list;
    }
    const expectedVotes = typeof raw['expected_votes'] === 'number' ? raw['expected_votes'] : undefined;
    const noQuorumPolicy = raw['no_quorum_policy'] === 'freeze' ? 'freeze' : raw['no_quorum_policy'] === 'ignore' ? 'ignore' : 'stop';
    if (noQuorumPolicy === 'ignore') {
      this.warn([...p, 'no_quorum_policy'], 'no_quorum_policy ignore: an inquorate node may become master; quorum protects nothing (wait_for_all included)');
    }

    let tieBreaker: TieBreakerConfig | undefined;
    const rawTb = raw['tie_breaker'];
    if (isRecord(rawTb)) {
      const tp: KeyPath = [...p, 'tie_breaker'];
      let ping: IpAddress | undefined;
      if (typeof rawTb['ping'] === 'string') {
        const parsed = parseIp(rawTb['ping']);
        if (parsed instanceof AddressParseError) this.error([...tp, 'ping'], `${JSON.stringify(rawTb['ping'])} is not an IP address`);
        else ping = parsed;
      }
      let tcp: { address: IpAddress; port: number } | undefined;
      if (typeof rawTb['tcp'] === 'string') {
        const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(rawTb['tcp']);
        const parsed = m ? parseIp(m[1] ?? m[2] ?? '') : undefined;
        const port = m ? Number(m[3]) : 0;
        if (!parsed || parsed instanceof AddressParseError || port < 1 || port > 65535) {
          this.error([...tp, 'tcp'], `${JSON.stringify(rawTb['tcp'])} is not address:port (e.g. 10.213.0.250:80 or [fd13::250]:80)`);
        } else tcp = { address: parsed, port };
      }
      const fence = typeof rawTb['fence'] === 'string' ? rawTb['fence'] : undefined;
      const timeoutMs = this.durationMs(rawTb['timeout'] ?? QUORUM_DEFAULTS.tieBreakerTimeout, [...tp, 'timeout']);
      const intervalMs = this.durationMs(rawTb['interval'] ?? QUORUM_DEFAULTS.tieBreakerInterval, [...tp, 'interval']);
      if (rawTb['ping'] === undefined && rawTb['tcp'] === undefined && fence === undefined) {
        this.error(tp, 'a tie_breaker needs at least one of ping, tcp and fence');
      }
      if (!twoNode) this.warn(tp, 'tie_breaker is only used with two_node (a two-node split); it is ignored here');
      if (timeoutMs !== undefined && intervalMs !== undefined) {
        tieBreaker = { ...(ping ? { ping } : {}), ...(tcp ? { tcp } : {}), ...(fence ? { fence } : {}), timeoutMs, intervalMs };
      }
    } else if (twoNode && noQuorumPolicy !== 'ignore') {
      this.warn(
        [...p, 'two_node'],
        'two_node without a tie_breaker: when the link between the two nodes is cut, both stay quorate and both become master (as corosync two_node without fencing); configure tie_breaker ping, tcp or fence',
      );
    }

    if (this.errors.length > errorsBefore) return undefined;
    if (heartbeatIntervalMs === undefined || heartbeatTimeoutMs === undefined || lastManStandingWindowMs === undefined || group instanceof AddressParseError) return undefined;
    return {
      provider,
      nodes,
      clusterName: typeof raw['cluster_name'] === 'string' ? raw['cluster_name'] : QUORUM_DEFAULTS.clusterName,
      ...(nodeId !== undefined ? { nodeId: toNodeId(nodeId) } : {}),
      transport,
      multicastGroup: group,
      ...(iface !== undefined ? { interface: iface } : {}),
      port: typeof raw['port'] === 'number' ? raw['port'] : QUORUM_DEFAULTS.port,
      heartbeatIntervalMs,
      heartbeatTimeoutMs,
      keyFile: typeof raw['key_file'] === 'string' ? raw['key_file'] : QUORUM_DEFAULTS.keyFile,
      ...(expectedVotes !== undefined ? { expectedVotes } : {}),
      twoNode,
      waitForAll,
      lastManStanding,
      lastManStandingWindowMs,
      autoTieBreaker,
      autoTieBreakerNode,
      noQuorumPolicy,
      ...(tieBreaker ? { tieBreaker } : {}),
      location: this.at.at(p),
    };
  }

  private runsOn(raw: unknown, p: KeyPath, instances: ReadonlySet<string>, syncGroups: ReadonlySet<string>): Placement {
    if (isRecord(raw) && typeof raw['master'] === 'string') {
      if (!instances.has(raw['master'])) this.error([...p, 'master'], `no instance is named "${raw['master']}"`);
      return { kind: 'master', instance: raw['master'] };
    }
    if (isRecord(raw) && typeof raw['sync_group'] === 'string') {
      if (!syncGroups.has(raw['sync_group'])) this.error([...p, 'sync_group'], `no sync group is named "${raw['sync_group']}"`);
      return { kind: 'master-of-sync-group', group: raw['sync_group'] };
    }
    return { kind: 'everywhere' };
  }

  /** resources, groups and health_checks: names, references, type-specific keys. */
  private resources(root: Record<string, unknown>, instances: ReadonlySet<string>, syncGroups: ReadonlySet<string>): ResourcesConfig {
    const resources: ResourceConfig[] = [];
    const placements = new Map<string, Placement>();
    const names = new Map<string, number>();
    const rawResources = Array.isArray(root['resources']) ? root['resources'] : [];
    rawResources.forEach((raw, i) => {
      const p: KeyPath = ['resources', i];
      if (!isRecord(raw) || typeof raw['name'] !== 'string' || typeof raw['type'] !== 'string') return;
      const name = raw['name'];
      const first = names.get(name);
      if (first !== undefined) {
        this.error([...p, 'name'], `duplicate resource name "${name}" (first at line ${this.line(['resources', first])})`);
        return;
      }
      names.set(name, i);
      const need = (key: string, type: string): boolean => {
        if (raw[key] !== undefined) return true;
        this.error(p, `${/^[aeio]/.test(type) ? 'an' : 'a'} ${type} resource needs "${key}"`);
        return false;
      };
      let spec: ResourceSpec | undefined;
      switch (raw['type']) {
        case 'vip': {
          if (!need('address', 'vip') || !need('interface', 'vip')) break;
          const parsed = parsePrefix(String(raw['address']));
          if ('error' in parsed) {
            this.error([...p, 'address'], parsed.error);
            break;
          }
          spec = { type: 'vip', address: parsed.address, prefixLength: parsed.prefixLength, interface: String(raw['interface']), ...(typeof raw['label'] === 'string' ? { label: raw['label'] } : {}) };
          break;
        }
        case 'exec':
          if (!need('command', 'exec')) break;
          spec = {
            type: 'exec',
            command: (raw['command'] as unknown[]).map(String),
            ...(isRecord(raw['env']) ? { env: Object.fromEntries(Object.entries(raw['env']).map(([k, v]) => [k, String(v)])) } : {}),
            ...(typeof raw['cwd'] === 'string' ? { cwd: raw['cwd'] } : {}),
          };
          break;
        case 'systemd':
          if (need('unit', 'systemd')) spec = { type: 'systemd', unit: String(raw['unit']) };
          break;
        case 'ocf':
          if (need('agent', 'ocf')) {
            spec = { type: 'ocf', agent: String(raw['agent']), params: isRecord(raw['params']) ? Object.fromEntries(Object.entries(raw['params']).map(([k, v]) => [k, String(v)])) : {} };
          }
          break;
      }
      const ms = (key: string, fallback: string): number | undefined => this.durationMs(raw[key] ?? fallback, [...p, key]);
      const startTimeoutMs = ms('start_timeout', RESOURCE_DEFAULTS.startTimeout);
      const stopTimeoutMs = ms('stop_timeout', RESOURCE_DEFAULTS.stopTimeout);
      const monitorTimeoutMs = ms('monitor_timeout', RESOURCE_DEFAULTS.monitorTimeout);
      const monitorIntervalMs = ms('monitor_interval', RESOURCE_DEFAULTS.monitorInterval);
      const failureTimeoutMs = raw['failure_timeout'] === undefined ? undefined : ms('failure_timeout', '0s');
      if (spec === undefined || startTimeoutMs === undefined || stopTimeoutMs === undefined || monitorTimeoutMs === undefined || monitorIntervalMs === undefined) return;
      const threshold = raw['migration_threshold'];
      resources.push({
        name,
        spec,
        startTimeoutMs,
        stopTimeoutMs,
        monitorTimeoutMs,
        monitorIntervalMs,
        onFail: (typeof raw['on_fail'] === 'string' ? raw['on_fail'] : RESOURCE_DEFAULTS.onFail) as OnFail,
        migrationThreshold: typeof threshold === 'number' ? threshold : Infinity,
        ...(failureTimeoutMs !== undefined ? { failureTimeoutMs } : {}),
        targetRole: (raw['target_role'] === 'stopped' ? 'stopped' : RESOURCE_DEFAULTS.targetRole) as TargetRole,
      });
      placements.set(name, this.runsOn(raw['runs_on'], [...p, 'runs_on'], instances, syncGroups));
    });

    const groups: GroupConfig[] = [];
    const memberOf = new Map<string, string>();
    const groupNames = new Map<string, number>();
    const rawGroups = Array.isArray(root['groups']) ? root['groups'] : [];
    rawGroups.forEach((raw, i) => {
      const p: KeyPath = ['groups', i];
      if (!isRecord(raw) || typeof raw['name'] !== 'string' || !Array.isArray(raw['resources'])) return;
      const name = raw['name'];
      if (groupNames.has(name)) {
        this.error([...p, 'name'], `duplicate group name "${name}" (first at line ${this.line(['groups', groupNames.get(name) ?? 0])})`);
        return;
      }
      if (names.has(name)) {
        this.error([...p, 'name'], `"${name}" is already a resource's name; a group needs a name of its own`);
        return;
      }
      groupNames.set(name, i);
      const members: string[] = [];
      raw['resources'].forEach((m, j) => {
        if (typeof m !== 'string') return;
        if (!names.has(m)) this.error([...p, 'resources', j], `no resource is named "${m}"`);
        else if (memberOf.has(m)) this.error([...p, 'resources', j], `resource "${m}" is already in group "${memberOf.get(m) ?? ''}"; a resource can be in one group only`);
        else {
          if (isRecord(rawResources[names.get(m) ?? -1]) && (rawResources[names.get(m) ?? -1] as Record<string, unknown>)['runs_on'] !== undefined) {
            this.error([...p, 'resources', j], `resource "${m}" has its own runs_on; in a group, the group's runs_on decides`);
          }
          memberOf.set(m, name);
          members.push(m);
        }
      });
      groups.push({ name, resources: members, placement: this.runsOn(raw['runs_on'], [...p, 'runs_on'], instances, syncGroups) });
    });
    for (const r of resources) if (!memberOf.has(r.name)) groups.push({ name: r.name, resources: [r.name], placement: placements.get(r.name) ?? { kind: 'everywhere' } });

    const healthChecks: HealthCheckConfig[] = [];
    const checkNames = new Set<string>();
    const rawChecks = Array.isArray(root['health_checks']) ? root['health_checks'] : [];
    rawChecks.forEach((raw, i) => {
      const p: KeyPath = ['health_checks', i];
      if (!isRecord(raw) || typeof raw['name'] !== 'string' || typeof raw['type'] !== 'string') return;
      if (checkNames.has(raw['name'])) {
        this.error([...p, 'name'], `duplicate health check name "${raw['name']}"`);
        return;
      }
      checkNames.add(raw['name']);
      const need = (key: string): boolean => {
        if (raw[key] !== undefined) return true;
        this.error(p, `a ${String(raw['type'])} check needs "${key}"`);
        return false;
      };
      let spec: HealthCheckSpec | undefined;
      switch (raw['type']) {
        case 'http':
        case 'https': {
          if (!need('url')) break;
          const url = String(raw['url']);
          if (!url.startsWith(`${raw['type']}://`)) {
            this.error([...p, 'url'], `${JSON.stringify(url)} is not an ${raw['type']}:// URL`);
            break;
          }
          spec = {
            type: raw['type'],
            url,
            expectStatus: typeof raw['expect_status'] === 'number' ? raw['expect_status'] : RESOURCE_DEFAULTS.expectStatus,
            ...(typeof raw['body'] === 'string' ? { bodyMatch: raw['body'] } : {}),
            insecure: raw['insecure'] === true,
          };
          break;
        }
        case 'tcp': {
          if (!need('address')) break;
          const text = String(raw['address']);
          const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(text);
          const parsed = m ? parseIp(m[1] ?? m[2] ?? '') : undefined;
          const port = m ? Number(m[3]) : 0;
          if (!parsed || parsed instanceof AddressParseError || port < 1 || port > 65535) this.error([...p, 'address'], `${JSON.stringify(text)} is not address:port`);
          else spec = { type: 'tcp', address: parsed, port };
          break;
        }
        case 'process':
          if (need('process')) spec = { type: 'process', name: String(raw['process']), minCount: typeof raw['min_count'] === 'number' ? raw['min_count'] : RESOURCE_DEFAULTS.minCount };
          break;
        case 'script':
          if (need('script')) {
            const argv = (raw['script'] as unknown[]).map(String);
            if (!(argv[0] ?? '').startsWith('/')) this.error([...p, 'script', 0], `${JSON.stringify(argv[0] ?? '')} must be an absolute path`);
            else spec = { type: 'script', path: argv[0] ?? '', args: argv.slice(1) };
          }
          break;
      }
      const checkInstances = Array.isArray(raw['instances']) ? raw['instances'].filter((x): x is string => typeof x === 'string') : [];
      checkInstances.forEach((n, j) => {
        if (!instances.has(n)) this.error([...p, 'instances', j], `no instance is named "${n}"`);
      });
      const resource = typeof raw['resource'] === 'string' ? raw['resource'] : undefined;
      if (resource !== undefined && !names.has(resource)) this.error([...p, 'resource'], `no resource is named "${resource}"`);
      const intervalMs = this.durationMs(raw['interval'] ?? RESOURCE_DEFAULTS.checkInterval, [...p, 'interval']);
      const timeoutMs = this.durationMs(raw['timeout'] ?? RESOURCE_DEFAULTS.checkTimeout, [...p, 'timeout']);
      if (intervalMs !== undefined && intervalMs < 10) this.error([...p, 'interval'], 'at least 10ms');
      if (spec === undefined || intervalMs === undefined || timeoutMs === undefined) return;
      healthChecks.push({
        name: raw['name'],
        spec,
        intervalMs,
        timeoutMs,
        rise: typeof raw['rise'] === 'number' ? raw['rise'] : RESOURCE_DEFAULTS.rise,
        fall: typeof raw['fall'] === 'number' ? raw['fall'] : RESOURCE_DEFAULTS.fall,
        weight: typeof raw['weight'] === 'number' ? raw['weight'] : RESOURCE_DEFAULTS.weight,
        instances: checkInstances,
        ...(resource !== undefined ? { resource } : {}),
      });
    });
    return { resources, groups, healthChecks };
  }

  private syncGroups(raw: readonly unknown[], instances: ReadonlyMap<string, number>): SyncGroupConfig[] | undefined {
    const groups: SyncGroupConfig[] = [];
    const groupNames = new Map<string, number>();
    const member = new Map<string, { group: string; index: number }>();
    let ok = true;
    raw.forEach((item, i) => {
      const p: KeyPath = ['sync_groups', i];
      if (!isRecord(item)) {
        ok = false;
        return;
      }
      const name = typeof item['name'] === 'string' ? item['name'] : undefined;
      if (name !== undefined) {
        const first = groupNames.get(name);
        if (first === undefined) groupNames.set(name, i);
        else {
          this.error([...p, 'name'], `duplicate sync group name "${name}" (first at line ${this.line(['sync_groups', first])})`);
          ok = false;
        }
      }
      const members: string[] = [];
      const rawMembers = Array.isArray(item['instances']) ? item['instances'] : [];
      rawMembers.forEach((m, j) => {
        if (typeof m !== 'string') return;
        const at: KeyPath = [...p, 'instances', j];
        if (!instances.has(m)) {
          this.error(at, `no instance is named "${m}"`);
          ok = false;
          return;
        }
        const previous = member.get(m);
        if (previous !== undefined) {
          this.error(
            at,
            previous.index === i
              ? `instance "${m}" is listed twice in this group`
              : `instance "${m}" is already in sync group "${previous.group}" (line ${this.line(['sync_groups', previous.index])}); an instance can be in one group only`,
          );
          ok = false;
          return;
        }
        member.set(m, { group: name ?? `#${i}`, index: i });
        members.push(m);
      });
      if (name !== undefined) groups.push({ name, instances: members, location: this.at.at(p) });
      else ok = false;
    });
    return ok ? groups : undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Entry points

function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return a.line - b.line || a.column - b.column;
}

/** Parses and checks config text; no I/O but reading (once) the schema that ships with the package. */
export function parseConfig(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const at = new Locator(doc, lineCounter, file);

  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => {
      const key = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s:,{}[\]#]+)/.exec(text.slice(e.pos[0]))?.[0] ?? '';
      const message =
        e.code === 'DUPLICATE_KEY' && key !== ''
          ? `duplicate key ${key.startsWith('"') || key.startsWith("'") ? key : JSON.stringify(key)}`
          : e.code === 'MULTIPLE_DOCS'
            ? 'the file holds more than one YAML document (a second "---"); vigil reads one'
            : e.message;
      return { ...at.location(e.pos[0]), path: '', message: `YAML syntax error: ${message}` };
    });
    return { ok: false, errors: errors.sort(byPosition) };
  }
  const yamlWarnings: ConfigIssue[] = doc.warnings.map((w) => ({ ...at.location(w.pos[0]), path: '', message: `YAML: ${w.message}` }));

  if (doc.contents === null) {
    return { ok: false, errors: [{ file, line: 1, column: 1, path: '', message: 'the file is empty; it needs at least an "instances" list' }] };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, errors: [{ file, line: 1, column: 1, path: '', message: `YAML: ${message}` }] };
  }

  const validate = validator();
  const errors: ConfigIssue[] = [];
  if (!validate(data)) {
    for (const problem of schemaProblems(validate.errors ?? [], data)) {
      errors.push(at.issue(problem.path, problem.message, problem.prefer));
    }
  }
  if (!isRecord(data)) return { ok: false, errors: errors.sort(byPosition) };

  const resolver = new Resolver(at);
  const config = resolver.resolve(data);
  errors.push(...resolver.errors);
  if (errors.length > 0 || config === undefined) {
    if (errors.length === 0) errors.push({ file, line: 1, column: 1, path: '', message: 'the configuration is incomplete' });
    return { ok: false, errors: errors.sort(byPosition) };
  }
  return { ok: true, config, warnings: [...yamlWarnings, ...resolver.warnings].sort(byPosition) };
}

/** Reads and parses `file` (default /etc/vigil/vigil.yaml); a file that cannot be read is one issue naming it and the errno. */
export async function loadConfig(file: string = DEFAULT_CONFIG_PATH): Promise<ParseResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = isRecord(e) && typeof e['code'] === 'string' ? e['code'] : undefined;
    const message = e instanceof Error ? e.message : String(e);
    // "ENOENT: no such file or directory, open '/etc/vigil/vigil.yaml'" -> "ENOENT: no such file or directory"
    const reason = /^[A-Z0-9_]+: [^,]+/.exec(message)?.[0] ?? (code !== undefined ? `${code}: ${message}` : message);
    return { ok: false, errors: [{ file, line: 0, column: 0, path: '', message: `cannot read the config file: ${reason}` }] };
  }
  return parseConfig(text, file);
}
