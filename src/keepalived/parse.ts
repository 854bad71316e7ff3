/**
 * A reader for keepalived.conf's grammar (keepalived.conf(5), "DESCRIPTION", "Quoted
 * strings", "ADVANCED CONFIGURATION"), as keepalived 2.x reads it, into a tree of
 * statements that remember their file and line:
 *
 * - "Keywords are placed in hierarchies of blocks and subblocks, each layer being
 *   delimited by '{' and '}' pairs." A statement is a keyword and its words up to the end
 *   of the line or a '{'; a '{' opens the statement's block (also on the next line).
 * - "Comments start with '#' or '!' to the end of the line and can start anywhere in a line."
 *   (outside quotes).
 * - "Quoted strings are specified between \" or ' characters and strings are delimited by
 *   whitespace ... the \" and ' characters are removed and any intervening whitespace is
 *   retained", with the shell's backslash escapes inside quotes.
 * - `include FILE` (and includer/m/w/b/a): "FILENAME can be a fully qualified or relative
 *   pathname, and can include wildcards, including csh style brace expressions ... any
 *   relative paths included from a file are relative to the directory of the including file".
 * - "Any configuration line starting with '@' is a conditional configuration line. The word
 *   immediately following ... the '@' character is compared against the config-id, and if
 *   they don't match, the configuration line is ignored. ... '@^' is a negative comparison".
 * - "$PARAMETER=VALUE ... any occurrence of $PARAMETER followed by whitespace, or any
 *   occurrence of ${PARAMETER} ... will be replaced by VALUE. Replacement is recursive ...
 *   If a parameter is not defined, it will not be replaced at all." Multiline definitions
 *   end each line but the last with '\'. Pre-defined: ${_PWD}, ${_INSTANCE}, ${_HASH}, ${_BANG}.
 * - "A line starting ~SEQ(var, start, step, end) will cause the remainder of the line to be
 *   processed multiple times" (~SEQx formats the variable in hexadecimal).
 *
 * No I/O but through `readFile` / `listDir` (given by the caller; the CLI passes node:fs).
 */
import path from 'node:path';
import { errorText } from '../base/error-text.js';

/** Where a statement was written: the file as reached (the top file as given) and its 1-based line. */
export interface KaSource {
  readonly file: string;
  readonly line: number;
}

export interface KaStatement {
  readonly keyword: string;
  readonly args: readonly string[];
  readonly where: KaSource;
  /** Present when the statement opened a `{ ... }` block. */
  readonly block?: readonly KaStatement[];
}

/** Something the reader passed over: an include that matched nothing, a ~SEQ it could not read. */
export interface KaNote {
  readonly where: KaSource;
  readonly keyword: string;
  readonly message: string;
}

/** The input cannot be read as keepalived.conf; names the file and line. */
export class KeepalivedSyntaxError extends Error {
  constructor(
    readonly where: KaSource,
    readonly reason: string,
  ) {
    super(`${where.file}:${where.line}: ${reason}`);
    this.name = 'KeepalivedSyntaxError';
  }
}

export interface ReadOptions {
  /** keepalived's -i / --config-id: decides the `@name` lines. Absent: every `@name` line is left out, every `@^name` line kept. */
  readonly configId?: string;
  readonly readFile: (file: string) => string;
  /** Names in a directory (for include wildcards); throws when it is not a readable directory. */
  readonly listDir: (dir: string) => string[];
  /** Environment for ${_ENV NAME}; default none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ReadResult {
  readonly statements: KaStatement[];
  readonly notes: KaNote[];
  /** Every file read, the top one first. */
  readonly files: string[];
  /** How many `@ID` / `@^ID` lines the config-id decided. */
  readonly conditionals: number;
}

interface Token {
  readonly text: string;
  /** An unquoted "{" or "}". */
  readonly brace: boolean;
}

interface Line {
  readonly where: KaSource;
  readonly tokens: Token[];
}

const INCLUDE_KEYWORDS = new Set(['include', 'includer', 'includem', 'includew', 'includeb', 'includea']);
const MAX_INCLUDE_DEPTH = 32;
const MAX_SUBSTITUTIONS = 1000;

/** Reads `file` (and what it includes) into statements. Throws KeepalivedSyntaxError. */
export function readKeepalivedConf(file: string, options: ReadOptions): ReadResult {
  const reader = new Reader(options);
  reader.readFile(file, undefined, 0);
  return { statements: buildTree(reader.lines), notes: reader.notes, files: reader.files, conditionals: reader.conditionals };
}

class Reader {
  readonly lines: Line[] = [];
  readonly notes: KaNote[] = [];
  readonly files: string[] = [];
  conditionals = 0;
  private readonly defs = new Map<string, string>();

  constructor(private readonly options: ReadOptions) {}

  readFile(file: string, from: KaSource | undefined, depth: number): void {
    if (depth > MAX_INCLUDE_DEPTH) throw new KeepalivedSyntaxError(from ?? { file, line: 0 }, `include: more than ${MAX_INCLUDE_DEPTH} levels deep (an include loop?)`);
    let text: string;
    try {
      text = this.options.readFile(file);
    } catch (e) {
      const why = errorText(e);
      throw new KeepalivedSyntaxError(from ?? { file, line: 0 }, `cannot read ${file}: ${why}`);
    }
    this.files.push(file);
    const raw = text.split(/\r?\n/);
    for (let i = 0; i < raw.length; i++) {
      const where = { file, line: i + 1 };
      let line = raw[i] ?? '';
      // A multiline definition: `$NAME=` then lines ending in '\' (the last one without).
      const multi = /^\s*(@\^?\S+\s+)?\$([A-Za-z_][A-Za-z0-9_]*)=\s*\\\s*$/.exec(stripComment(line));
      if (multi) {
        const body: string[] = [];
        while (i + 1 < raw.length) {
          i++;
          const next = raw[i] ?? '';
          const cont = /\\\s*$/.test(next);
          body.push(cont ? next.replace(/\\\s*$/, '') : next);
          if (!cont) break;
        }
        line = `${multi[1] ?? ''}$${multi[2] ?? ''}=${body.join('\n')}`;
        this.processLine(line, where, depth, true);
        continue;
      }
      this.processLine(line, where, depth, false);
    }
  }

  private processLine(original: string, where: KaSource, depth: number, multiline: boolean): void {
    let line = multiline ? original : stripComment(original);
    line = line.trim();
    if (line === '') return;
    // Conditional lines: `@id rest` / `@^id rest`.
    const cond = /^@(\^?)(\S+)\s*(.*)$/s.exec(line);
    if (cond) {
      this.conditionals++;
      const matches = this.options.configId !== undefined && cond[2] === this.options.configId;
      const negate = cond[1] === '^';
      if (matches === negate) return;
      line = (cond[3] ?? '').trim();
      if (line === '') return;
    }
    // Definitions: `$NAME=VALUE` (only whitespace before the '$', none before the '=').
    const def = /^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(line);
    if (def) {
      this.defs.set(def[1] ?? '', def[2] ?? '');
      return;
    }
    // Includes are recognised before substitution, as keepalived does.
    const words = line.split(/\s+/);
    if (INCLUDE_KEYWORDS.has(words[0] ?? '')) {
      this.include(words[0] ?? 'include', words.slice(1).join(' '), where, depth);
      return;
    }
    // ~SEQ(var, [start,] [step,] end) rest
    const seq = /^~SEQ(x?)\(([^)]*)\)\s*(.*)$/s.exec(line);
    if (seq) {
      this.sequence(seq[1] === 'x', seq[2] ?? '', seq[3] ?? '', where, depth);
      return;
    }
    const substituted = this.substitute(line, where);
    if (substituted !== line) {
      // A value may hold several lines (a multiline definition), conditions, more definitions.
      for (const part of substituted.split('\n')) this.processLine(part, where, depth, false);
      return;
    }
    this.lines.push({ where, tokens: tokenize(line, where) });
  }

  private sequence(hex: boolean, spec: string, rest: string, where: KaSource, depth: number): void {
    const parts = spec.split(',').map((s) => s.trim());
    const name = parts[0] ?? '';
    const nums = parts.slice(1).map((s) => (s === '' ? NaN : Number(s)));
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || nums.length < 1 || nums.length > 3 || nums.some((n) => !Number.isInteger(n))) {
      throw new KeepalivedSyntaxError(where, `~SEQ(${spec}): expected ~SEQ(var, [start,] [step,] end) with integers`);
    }
    let start: number;
    let step: number;
    let end: number;
    if (nums.length === 1) {
      end = nums[0] ?? 0;
      start = end >= 0 ? 1 : -1;
      step = end >= start ? 1 : -1;
    } else if (nums.length === 2) {
      start = nums[0] ?? 0;
      end = nums[1] ?? 0;
      step = end >= start ? 1 : -1;
    } else {
      start = nums[0] ?? 0;
      step = nums[1] ?? 0;
      end = nums[2] ?? 0;
    }
    if (step === 0 || Math.abs((end - start) / step) > 10_000) throw new KeepalivedSyntaxError(where, `~SEQ(${spec}): step 0 or more than 10000 values`);
    const previous = this.defs.get(name);
    for (let v = start; step > 0 ? v <= end : v >= end; v += step) {
      this.defs.set(name, hex ? v.toString(16) : String(v));
      this.processLine(rest, where, depth, false);
    }
    if (previous === undefined) this.defs.delete(name);
    else this.defs.set(name, previous);
  }

  private include(keyword: string, pattern: string, where: KaSource, depth: number): void {
    const spec = unquote(pattern.trim());
    if (spec === '') throw new KeepalivedSyntaxError(where, `${keyword}: no file named`);
    const base = path.dirname(where.file);
    const matches: string[] = [];
    for (const alternative of expandBraces(spec)) {
      const absolute = path.isAbsolute(alternative) ? alternative : path.join(base, alternative);
      matches.push(...glob(absolute, this.options.listDir));
    }
    const unique = [...new Set(matches)];
    if (unique.length === 0) {
      // keepalived: "The basic include keyword ... does not produce config errors if files could not be opened".
      this.notes.push({ where, keyword, message: `${spec} matched no file (keepalived ignores it too)` });
      return;
    }
    for (const f of unique) {
      if (keyword === 'include' && !this.readable(f)) {
        this.notes.push({ where, keyword, message: `${f} cannot be read (keepalived ignores it too)` });
        continue;
      }
      this.readFile(f, where, depth + 1);
    }
  }

  private readable(file: string): boolean {
    try {
      this.options.readFile(file);
      return true;
    } catch {
      return false;
    }
  }

  /** keepalived's recursive parameter replacement; undefined parameters stay as written. */
  private substitute(line: string, where: KaSource): string {
    let out = line;
    for (let n = 0; n < MAX_SUBSTITUTIONS; n++) {
      let changed = false;
      out = out.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\s+[^}\s]+)*)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=\s|$)/g, (whole, braced: string | undefined, params: string | undefined, bare: string | undefined) => {
        const name = braced ?? bare ?? '';
        const value = this.value(name, (params ?? '').trim(), where);
        if (value === undefined) return whole;
        changed = true;
        return value;
      });
      if (!changed) return out;
    }
    throw new KeepalivedSyntaxError(where, 'parameter substitution does not end (a parameter that refers to itself?)');
  }

  private value(name: string, params: string, where: KaSource): string | undefined {
    switch (name) {
      case '_PWD':
        return path.dirname(where.file);
      case '_INSTANCE':
        return this.options.configId;
      case '_HASH':
        return HASH;
      case '_BANG':
        return BANG;
      case '_ENV':
        return this.options.env?.[params] ?? '';
      default:
        return params === '' ? this.defs.get(name) : undefined;
    }
  }
}

/** Cuts a line at the first '#' or '!' outside quotes. */
export function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && quote !== undefined) {
      i++;
      continue;
    }
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' || c === '!') return line.slice(0, i);
  }
  return line;
}

/** ${_HASH} and ${_BANG} stand for '#' and '!' that must not start a comment: kept as these until the words are split. */
const HASH = '\uE000';
const BANG = '\uE001';

function restoreMarks(s: string): string {
  return s.replaceAll(HASH, '#').replaceAll(BANG, '!');
}

const ESCAPES: Readonly<Record<string, string>> = { a: '\x07', b: '\b', E: '\x1b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** Splits a line into words: quotes group (and are removed), '{' and '}' outside quotes stand alone. */
export function tokenize(line: string, where: KaSource): Token[] {
  const tokens: Token[] = [];
  let current = '';
  let has = false;
  let quote: string | undefined;
  const flush = (): void => {
    if (has) tokens.push({ text: restoreMarks(current), brace: false });
    current = '';
    has = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (quote !== undefined) {
      if (c === quote) {
        quote = undefined;
      } else if (c === '\\' && i + 1 < line.length) {
        const [text, used] = escape(line, i + 1);
        current += text;
        i += used;
      } else current += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) flush();
    else if (c === '{' || c === '}') {
      flush();
      tokens.push({ text: c, brace: true });
    } else {
      current += c;
      has = true;
    }
  }
  if (quote !== undefined) throw new KeepalivedSyntaxError(where, `unterminated ${quote === '"' ? 'double' : 'single'}-quoted string`);
  flush();
  return tokens;
}

/** One backslash escape starting at `i` (after the backslash): the text and how many characters it used. */
function escape(line: string, i: number): [string, number] {
  const c = line[i] ?? '';
  const mapped = ESCAPES[c];
  if (mapped !== undefined) return [mapped, 1];
  const oct = /^[0-7]{1,3}/.exec(line.slice(i));
  if (oct) return [String.fromCharCode(parseInt(oct[0], 8)), oct[0].length];
  const hex = /^x([0-9a-fA-F]{1,2})/.exec(line.slice(i));
  if (hex) return [String.fromCharCode(parseInt(hex[1] ?? '0', 16)), hex[0].length];
  if (c === 'c' && i + 1 < line.length) return [String.fromCharCode((line.charCodeAt(i + 1) & 0x1f) >>> 0), 2];
  return [c, 1];
}

function unquote(s: string): string {
  return /^(["']).*\1$/s.test(s) ? s.slice(1, -1) : s;
}

/** csh-style braces: "a{b,c{d,e}}f" → abf, acdf, acef. */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') {
      if (depth === 0) open = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const inner = pattern.slice(open + 1, i);
        const parts: string[] = [];
        let d = 0;
        let startPart = 0;
        for (let j = 0; j < inner.length; j++) {
          if (inner[j] === '{') d++;
          else if (inner[j] === '}') d--;
          else if (inner[j] === ',' && d === 0) {
            parts.push(inner.slice(startPart, j));
            startPart = j + 1;
          }
        }
        parts.push(inner.slice(startPart));
        if (parts.length < 2) continue;
        const before = pattern.slice(0, open);
        const after = pattern.slice(i + 1);
        return parts.flatMap((p) => expandBraces(before + p + after));
      }
    }
  }
  return [pattern];
}

function globSegmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] ?? '';
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        const body = segment.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The files matching an absolute pattern with * ? [...] in any segment, sorted as glob(3) sorts. */
export function glob(pattern: string, listDir: (dir: string) => string[]): string[] {
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let current = [segments[0] === '' ? '/' : (segments[0] ?? '/')];
  for (const segment of segments.slice(1)) {
    const next: string[] = [];
    const wild = /[*?[]/.test(segment);
    for (const dir of current) {
      if (!wild) {
        next.push(path.join(dir, segment));
        continue;
      }
      let names: string[];
      try {
        names = listDir(dir);
      } catch {
        continue;
      }
      const re = globSegmentRegExp(segment);
      for (const n of names.sort()) if (re.test(n) && (n[0] !== '.' || segment[0] === '.')) next.push(path.join(dir, n));
    }
    current = next;
  }
  // Plain names are kept only if they can be read (checked by the caller's readFile); wildcards already matched real names.
  return current.filter((f) => {
    try {
      listDir(f);
      return false; // a directory is not a config file
    } catch {
      return true;
    }
  });
}

/** Groups the lines into statements and blocks. */
function buildTree(lines: readonly Line[]): KaStatement[] {
  interface Open {
    readonly statements: KaStatement[];
    readonly owner?: { keyword: string; args: string[]; where: KaSource };
    readonly where: KaSource;
  }
  const root: Open = { statements: [], where: { file: lines[0]?.where.file ?? '', line: 0 } };
  const stack: Open[] = [root];
  let pending: { keyword: string; args: string[]; where: KaSource } | undefined;
  const top = (): Open => stack[stack.length - 1] ?? root;
  const closePending = (): void => {
    if (pending !== undefined) top().statements.push({ keyword: pending.keyword, args: pending.args, where: pending.where });
    pending = undefined;
  };
  for (const line of lines) {
    let words: string[] = [];
    const startStatement = (): void => {
      if (words.length === 0) return;
      const [keyword, ...args] = words;
      pending = { keyword: keyword ?? '', args, where: line.where };
      words = [];
    };
    for (const t of line.tokens) {
      if (t.brace && t.text === '{') {
        if (words.length > 0) {
          closePending();
          startStatement();
        }
        // `keyword` then `{` on the next line: the block belongs to the previous statement.
        const owner = pending;
        if (owner === undefined) throw new KeepalivedSyntaxError(line.where, "'{' without a keyword before it");
        pending = undefined;
        stack.push({ statements: [], owner, where: line.where });
      } else if (t.brace && t.text === '}') {
        if (words.length > 0) {
          closePending();
          startStatement();
        }
        closePending();
        const done = stack.pop();
        if (done === undefined || done === root || done.owner === undefined) throw new KeepalivedSyntaxError(line.where, "'}' without a block to close");
        top().statements.push({ keyword: done.owner.keyword, args: done.owner.args, where: done.owner.where, block: done.statements });
      } else words.push(t.text);
    }
    if (words.length > 0) {
      closePending();
      startStatement();
    }
  }
  closePending();
  if (stack.length > 1) {
    const open = stack[stack.length - 1];
    throw new KeepalivedSyntaxError(open?.where ?? root.where, `'{' of ${open?.owner?.keyword ?? 'a block'} is never closed`);
  }
  return root.statements;
}
