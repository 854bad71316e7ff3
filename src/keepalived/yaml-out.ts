/**
 * A small YAML writer for the importer's output: block mappings and sequences with
 * comments at the place they concern (the `yaml` package's document model would keep
 * comments too, but loses them on empty nodes and places them less predictably).
 * Scalars are written plain when YAML 1.2 reads them back as the same string, otherwise
 * double-quoted (JSON string syntax, which is valid YAML).
 */

export type YScalar = string | number | boolean;
export type YValue = YScalar | YMap | YSeq;

type MapPart = { readonly kind: 'entry'; readonly key: string; value: YValue } | { readonly kind: 'comment'; readonly text: string };
type SeqPart = { readonly kind: 'item'; readonly value: YValue } | { readonly kind: 'comment'; readonly text: string };

export class YMap {
  readonly parts: MapPart[] = [];

  /** Sets `key` (replacing its value in place if present). */
  set(key: string, value: YValue): this {
    const found = this.parts.find((p): p is Extract<MapPart, { kind: 'entry' }> => p.kind === 'entry' && p.key === key);
    if (found !== undefined) found.value = value;
    else this.parts.push({ kind: 'entry', key, value });
    return this;
  }

  get(key: string): YValue | undefined {
    const found = this.parts.find((p): p is Extract<MapPart, { kind: 'entry' }> => p.kind === 'entry' && p.key === key);
    return found?.value;
  }

  delete(key: string): void {
    const i = this.parts.findIndex((p) => p.kind === 'entry' && p.key === key);
    if (i >= 0) this.parts.splice(i, 1);
  }

  /** Gets the mapping at `key`, adding an empty one if absent. */
  map(key: string): YMap {
    const v = this.get(key);
    if (v instanceof YMap) return v;
    const m = new YMap();
    this.set(key, m);
    return m;
  }

  seq(key: string): YSeq {
    const v = this.get(key);
    if (v instanceof YSeq) return v;
    const s = new YSeq();
    this.set(key, s);
    return s;
  }

  comment(text: string): this {
    this.parts.push({ kind: 'comment', text });
    return this;
  }

  get size(): number {
    return this.parts.filter((p) => p.kind === 'entry').length;
  }
}

export class YSeq {
  readonly parts: SeqPart[] = [];

  push(value: YValue): this {
    this.parts.push({ kind: 'item', value });
    return this;
  }

  comment(text: string): this {
    this.parts.push({ kind: 'comment', text });
    return this;
  }

  get items(): YValue[] {
    return this.parts.flatMap((p) => (p.kind === 'item' ? [p.value] : []));
  }
}

const RESERVED = /^(?:true|false|yes|no|on|off|y|n|null|~|)$/i;
/** What YAML 1.2's core schema reads as a number (or YAML 1.1 readers as a sexagesimal). */
const NUMBER_LIKE = /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0x[0-9a-f]+|0o[0-7]+|[-+]?\.inf|\.nan|[0-9]+(?::[0-5]?[0-9])+)$/i;
const PLAIN = /^[A-Za-z0-9_/.][A-Za-z0-9_/.:@,=+-]*$/;

/** The scalar as YAML text. */
export function scalar(v: YScalar): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (PLAIN.test(v) && !RESERVED.test(v) && !NUMBER_LIKE.test(v) && !v.endsWith(':')) return v;
  return JSON.stringify(v);
}

function commentLines(text: string, indent: string): string[] {
  return text.split('\n').map((l) => (l === '' ? `${indent}#` : `${indent}# ${l}`));
}

function isEmpty(v: YValue): boolean {
  return (v instanceof YMap && v.size === 0) || (v instanceof YSeq && v.items.length === 0);
}

function inline(v: YValue): string | undefined {
  if (v instanceof YMap) return v.size === 0 ? '{}' : undefined;
  if (v instanceof YSeq) return v.items.length === 0 ? '[]' : undefined;
  return scalar(v);
}

function emitMap(m: YMap, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  for (const p of m.parts) {
    if (p.kind === 'comment') {
      out.push(...commentLines(p.text, pad));
      continue;
    }
    const text = inline(p.value);
    if (text !== undefined) {
      out.push(`${pad}${scalar(p.key)}: ${text}`);
      // An empty mapping or sequence still carries its comments.
      if (isEmpty(p.value)) out.push(...emitComments(p.value, indent + 2));
    } else {
      out.push(`${pad}${scalar(p.key)}:`);
      out.push(...(p.value instanceof YMap ? emitMap(p.value, indent + 2) : emitSeq(p.value as YSeq, indent + 2)));
    }
  }
  return out;
}

function emitComments(v: YValue, indent: number): string[] {
  const parts = v instanceof YMap || v instanceof YSeq ? v.parts : [];
  return parts.flatMap((p) => (p.kind === 'comment' ? commentLines(p.text, ' '.repeat(indent)) : []));
}

function emitSeq(s: YSeq, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  for (const p of s.parts) {
    if (p.kind === 'comment') {
      out.push(...commentLines(p.text, pad));
      continue;
    }
    const text = inline(p.value);
    if (text !== undefined) {
      out.push(`${pad}- ${text}`);
      continue;
    }
    const lines = p.value instanceof YMap ? emitMap(p.value, indent + 2) : emitSeq(p.value as YSeq, indent + 2);
    // Comments before the item's first key go above the dash.
    let first = lines.findIndex((l) => !l.trimStart().startsWith('#'));
    if (first < 0) first = lines.length;
    out.push(...lines.slice(0, first).map((l) => `${pad}${l.trimStart()}`));
    const head = lines[first];
    if (head !== undefined) out.push(`${pad}- ${head.slice(indent + 2)}`);
    out.push(...lines.slice(first + 1));
  }
  return out;
}

/** The document: `header` comment lines, then the mapping. */
export function emitYaml(doc: YMap, header: readonly string[] = []): string {
  const lines = [...header.flatMap((h) => commentLines(h, '')), ...emitMap(doc, 0)];
  return `${lines.join('\n')}\n`;
}
