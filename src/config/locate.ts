/**
 * Source locations: key paths (`instances[0].virtual_ips[1]`) and where they are in the
 * YAML document (line and column, through merge keys and aliases), so that every problem
 * names FILE:LINE:COLUMN at the key at fault.
 */
import { isAlias, isMap, isNode, isScalar, isSeq, type Document, type LineCounter, type Pair, type YAMLMap } from 'yaml';
import type { ConfigIssue } from './issues.js';
import type { SourceLocation } from './types.js';

export type PathSegment = string | number;
export type KeyPath = readonly PathSegment[];

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


export class Locator {
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
