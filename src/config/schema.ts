/**
 * The schema (schema/vigil.schema.json, by ajv): reading and compiling it, turning ajv's
 * errors into one message per problem at its key, and the document after it
 * (`checkedDocument`: every value the schema refused replaced by REFUSED, typed as
 * document.ts says).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { REFUSED, type VigilDocument } from './document.js';
import { unknownKeyMessage } from './hints.js';
import type { KeyPath, PathSegment } from './locate.js';
import { describe } from './units.js';

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function findSchemaFile(): string {
  // dist/src/config/schema.js (compiled) or src/config/schema.ts: walk up to the package root.
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
export function validator(): ValidateFunction {
  if (compiled === undefined) {
    const schema: unknown = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
    if (!isRecord(schema)) throw new Error(`${SCHEMA_FILE}: not a JSON Schema object`);
    compiled = newSchemaValidator().compile(schema);
  }
  return compiled;
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

export interface SchemaProblem {
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
export function schemaProblems(errors: readonly ErrorObject[], data: unknown): SchemaProblem[] {
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

/** ajv's keywords whose errors leave the value itself valid: a missing key, an unknown key, a condition. */
const KEEPS_VALUE = new Set(['required', 'additionalProperties', 'if']);

/**
 * The document as the resolvers read it (document.ts): a copy of `data` in which every
 * value that ajv refused (wrong type, out of range, not in the enumeration, no branch of an
 * anyOf, too few entries) is REFUSED; unknown keys and missing required keys leave their
 * mapping as it is. undefined if the document itself is not a mapping.
 *
 * With no errors, this is `data` itself, which the schema has just declared to be of the
 * shape of VigilDocument; with errors, what is not REFUSED is valid for the same reason.
 * That is the one place where the loader takes the schema's word for a type.
 */
export function checkedDocument(data: unknown, errors: readonly ErrorObject[]): VigilDocument | undefined {
  const copy: unknown = errors.length === 0 ? data : structuredClone(data);
  const refused = [...new Set(errors.filter((e) => !KEEPS_VALUE.has(e.keyword)).map((e) => e.instancePath))].sort((a, b) => a.length - b.length);
  for (const pointer of refused) {
    if (pointer === '') return undefined;
    const segments = pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segments.pop() ?? '';
    let node: unknown = copy;
    for (const segment of segments) {
      node = Array.isArray(node) ? node[Number(segment)] : isRecord(node) ? node[segment] : undefined;
    }
    // An ancestor already refused (or not a container): nothing more to mark.
    if (Array.isArray(node)) node[Number(last)] = REFUSED;
    else if (isRecord(node)) node[last] = REFUSED;
  }
  return isRecord(copy) ? (copy as VigilDocument) : undefined;
}
