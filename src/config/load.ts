/**
 * Loading /etc/vigil/vigil.yaml: YAML (the `yaml` package, with a LineCounter so every
 * node has a line and column), then the JSON Schema that ships in schema/vigil.schema.json
 * (ajv), then the checks a schema cannot express (addresses, families, VRRP version rules,
 * duplicates, references between sections, the quorum engine's own rules). Every problem
 * found is collected, not just the first, and each names the file, line, column and key path:
 *
 *   vigil.yaml:12:9: instances[0].virtual_ips[1]: "10.213.0.300/24" is not an IPv4 prefix
 *
 * The reference for the keys is docs/config.md. The loader is split by concern:
 *
 *   schema.ts      the schema: ajv, its errors as messages, the checked document
 *   document.ts    the document's type after ajv (REFUSED where the schema refused a value)
 *   locate.ts      key paths and where they are in the file
 *   units.ts       durations, prefixes, address:port, values in messages
 *   hints.ts       did-you-mean and keepalived's names for unknown keys
 *   defaults.ts    every default (equal to the schema's `default`s)
 *   context.ts     what a section resolver reports to (errors, warnings, durations)
 *   global.ts, instances.ts, sync-groups.ts, quorum.ts, resources.ts, notifiers.ts: one resolver per section
 *
 * Adding a section (the seam): add its keys to schema/vigil.schema.json and its shape to
 * document.ts (VigilDocument, DOCUMENT_KEYS); write src/config/SECTION.ts exporting
 * `resolveSection(doc: VigilDocument, ctx: ResolveContext, refs)`, which reads its keys from
 * the checked document (per-instance or per-group keys too, from doc.instances /
 * doc.sync_groups), reports through ctx.error / ctx.warn at key paths, and returns its part
 * of VigilConfig (undefined after an error); then call it in `resolveDocument` below, after
 * the sections it refers to, and put its result into the returned VigilConfig. Nothing else
 * in the loader changes.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { ResolveContext } from './context.js';
import { given, type VigilDocument } from './document.js';
import { resolveGlobal } from './global.js';
import { resolveInstances } from './instances.js';
import { DEFAULT_CONFIG_PATH, type ConfigIssue, type ParseResult } from './issues.js';
import { Locator } from './locate.js';
import { resolveNotifiers } from './notifiers.js';
import { resolveQuorum } from './quorum.js';
import { resolveResources } from './resources.js';
import { checkedDocument, isRecord, schemaProblems, validator } from './schema.js';
import { resolveSyncGroups } from './sync-groups.js';
import type { InstanceConfig, VigilConfig } from './types.js';
import { errorText } from '../base/error-text.js';

export { DEFAULT_CONFIG_PATH, formatIssue, type ConfigIssue, type ParseResult } from './issues.js';
export { instanceToRouterConfig, interfaceTrackerName } from './router-config.js';
export { GLOBAL_DEFAULTS, INSTANCE_DEFAULTS, QUORUM_DEFAULTS, RESOURCE_DEFAULTS, defaultVmacName } from './defaults.js';
export { SCHEMA_FILE, newSchemaValidator } from './schema.js';
export { formatCentiseconds, parseDurationMicros, parsePrefix } from './units.js';
export { formatKeyPath } from './locate.js';

/**
 * The sections in order: each after those it refers to. undefined when something is
 * missing or wrong (the errors are in ctx). A new section's resolver is called here, as the
 * `notifiers:` section and the per-instance / per-sync-group `notify:` maps are (notifiers.ts).
 */
function resolveDocument(doc: VigilDocument, ctx: ResolveContext): VigilConfig | undefined {
  const global = resolveGlobal(doc.global);
  const { instances, names } = resolveInstances(doc, ctx);
  const syncGroups = resolveSyncGroups(doc, ctx, names);
  const rawQuorum = given(doc.quorum);
  const quorum = rawQuorum === undefined ? undefined : resolveQuorum(rawQuorum, ctx);
  const resources = resolveResources(doc, ctx, { instances: new Set(names.keys()), syncGroups: new Set((syncGroups ?? []).map((g) => g.name)) });
  const notifiers = resolveNotifiers(doc, ctx);
  const complete = instances.filter((x): x is InstanceConfig => x !== undefined);
  if (ctx.errors.length > 0 || complete.length !== instances.length || syncGroups === undefined) return undefined;
  if (doc.quorum !== undefined && quorum === undefined) return undefined;
  return { path: ctx.file, global, instances: complete, syncGroups, ...(quorum ? { quorum } : {}), resources, notifiers };
}

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
    const message = errorText(e);
    return { ok: false, errors: [{ file, line: 1, column: 1, path: '', message: `YAML: ${message}` }] };
  }

  const validate = validator();
  const errors: ConfigIssue[] = [];
  const valid = validate(data);
  const schemaErrors = valid ? [] : (validate.errors ?? []);
  for (const problem of schemaProblems(schemaErrors, data)) {
    errors.push(at.issue(problem.path, problem.message, problem.prefer));
  }
  const checked = checkedDocument(data, schemaErrors);
  if (checked === undefined) return { ok: false, errors: errors.sort(byPosition) };

  const ctx = new ResolveContext(at);
  const config = resolveDocument(checked, ctx);
  errors.push(...ctx.errors);
  if (errors.length > 0 || config === undefined) {
    if (errors.length === 0) errors.push({ file, line: 1, column: 1, path: '', message: 'the configuration is incomplete' });
    return { ok: false, errors: errors.sort(byPosition) };
  }
  return { ok: true, config, warnings: [...yamlWarnings, ...ctx.warnings].sort(byPosition) };
}

/** Reads and parses `file` (default /etc/vigil/vigil.yaml); a file that cannot be read is one issue naming it and the errno. */
export async function loadConfig(file: string = DEFAULT_CONFIG_PATH): Promise<ParseResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = isRecord(e) && typeof e['code'] === 'string' ? e['code'] : undefined;
    const message = errorText(e);
    // "ENOENT: no such file or directory, open '/etc/vigil/vigil.yaml'" -> "ENOENT: no such file or directory"
    const reason = /^[A-Z0-9_]+: [^,]+/.exec(message)?.[0] ?? (code !== undefined ? `${code}: ${message}` : message);
    return { ok: false, errors: [{ file, line: 0, column: 0, path: '', message: `cannot read the config file: ${reason}` }] };
  }
  return parseConfig(text, file);
}
