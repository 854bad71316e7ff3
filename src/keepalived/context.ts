/**
 * What the converter's parts share: the warnings (each also written as a YAML comment at
 * the place it concerns), the defaults global_defs gives every vrrp_instance, and the
 * value readers for keepalived's parameter syntax (keepalived.conf(5) "PARAMETER SYNTAX":
 * "<BOOL> is one of on|off|true|false|yes|no", "<TIMER> is a time value in seconds,
 * including fractional seconds").
 */
import type { KaSource, KaStatement } from './parse.js';
import type { YMap, YSeq } from './yaml-out.js';

/** A keyword the output does not express: `FILE:LINE: keyword: why`. */
export interface KaWarning {
  readonly file: string;
  readonly line: number;
  readonly keyword: string;
  readonly message: string;
}

export function formatWarning(w: KaWarning): string {
  return `${w.file}:${w.line}: ${w.keyword}: ${w.message}`;
}

/** global_defs settings that are per-instance defaults in keepalived and per-instance keys in vigil. */
export interface InstanceDefaults {
  version?: 2 | 3;
  strict: boolean;
  checksumAsV2: boolean;
  higherPrioSendAdvert?: boolean;
  lowerPrioNoAdvert?: boolean;
  /** vigil garp key → value. */
  readonly garp: Map<string, string | number>;
}

export interface ScriptRef {
  readonly script: string;
  /** The track_script line's own weight, if it gave one. */
  readonly weight?: number;
  readonly where: KaStatement;
}

export class ImportContext {
  readonly warnings: KaWarning[] = [];
  readonly defaults: InstanceDefaults = { strict: false, checksumAsV2: false, garp: new Map() };
  /** Instance name (vigil's) → the vrrp_scripts it tracks. */
  readonly tracked = new Map<string, ScriptRef[]>();
  /** Instance name → vrrp_track_process names it tracks. */
  readonly trackedProcesses = new Map<string, ScriptRef[]>();
  /** keepalived instance name → vigil instance name, for the instances written out. */
  readonly instanceNames = new Map<string, string>();
  /** "interface/vrid/family" → the instance that has it (vigil allows each once). */
  readonly vrids = new Map<string, string>();
  /** Instance (vigil name) → its sync group: an instance can be in one only. */
  readonly grouped = new Map<string, string>();
  /** > 0 while a block is converted again (one check per weight): comments only, no second warning. */
  repeating = 0;
  /** The global script_user, when not root. */
  scriptUser?: { user: string; where: KaStatement };

  /** Warns (stderr) and writes the same as a comment into `into`. */
  warn(stmt: KaStatement | KaSource & { keyword: string }, message: string, into?: YMap | YSeq): void {
    const where = 'where' in stmt ? stmt.where : stmt;
    const keyword = stmt.keyword;
    if (this.repeating === 0) this.warnings.push({ file: where.file, line: where.line, keyword, message });
    into?.comment(`${where.file}:${where.line}: ${describe(stmt)}: ${message}`);
  }

  /** A comment only: a keyword that needs nothing in vigil (it is what vigil does anyway). */
  note(stmt: KaStatement, message: string, into: YMap | YSeq): void {
    into.comment(`${stmt.where.file}:${stmt.where.line}: ${describe(stmt)}: ${message}`);
  }
}

function describe(stmt: KaStatement | { keyword: string }): string {
  const args = 'args' in stmt ? stmt.args : [];
  const text = [stmt.keyword, ...args].join(' ');
  return 'block' in stmt && stmt.block !== undefined ? `${text} { ... }` : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** <BOOL>; a bare keyword (no argument) is true. */
export function readBool(stmt: KaStatement, ctx: ImportContext, into?: YMap): boolean | undefined {
  const v = stmt.args[0];
  if (v === undefined) return true;
  if (/^(on|true|yes)$/i.test(v)) return true;
  if (/^(off|false|no)$/i.test(v)) return false;
  ctx.warn(stmt, `"${v}" is not on|off|true|false|yes|no; left out`, into);
  return undefined;
}

/** An integer argument in [min, max], or a warning. */
export function readInt(stmt: KaStatement, ctx: ImportContext, min: number, max: number, into?: YMap, index = 0): number | undefined {
  const v = stmt.args[index];
  if (v === undefined || !/^-?[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
    ctx.warn(stmt, `expected an integer ${min}..${max}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}; left out`, into);
    return undefined;
  }
  return Number(v);
}

/**
 * A <TIMER> (decimal seconds) as a vigil duration in whole milliseconds ("1.5s", "20ms").
 * Finer values are rounded to the millisecond, with a warning.
 */
export function readDuration(stmt: KaStatement, ctx: ImportContext, into?: YMap, index = 0): string | undefined {
  const v = stmt.args[index];
  if (v === undefined || !/^[0-9]+(\.[0-9]*)?$/.test(v)) {
    ctx.warn(stmt, `expected a time in seconds, got ${v === undefined ? 'nothing' : JSON.stringify(v)}; left out`, into);
    return undefined;
  }
  const ms = secondsToMs(v);
  if (!Number.isInteger(ms)) {
    const rounded = Math.round(ms);
    ctx.warn(stmt, `${v}s is finer than vigil's milliseconds: written as ${rounded}ms`, into);
    return `${rounded}ms`;
  }
  return formatMs(ms);
}

/** Exact decimal seconds → milliseconds (may be fractional). */
export function secondsToMs(text: string): number {
  const [whole = '0', frac = ''] = text.split('.');
  const padded = (frac + '000').slice(0, 3);
  const rest = frac.length > 3 ? Number(`0.${frac.slice(3)}`) : 0;
  return Number(whole) * 1000 + Number(padded) + rest;
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** vigil names: 1 to 64 of A-Z a-z 0-9 _ . - */
export function vigilName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return cleaned === '' ? '_' : cleaned;
}

/**
 * A script line as keepalived splits it (keepalived.conf(5) "Quoted strings": "For specifying
 * scripts with parameters, unquoted spaces will separate the parameters. If it is required
 * for a parameter to contain a space, it should be enclosed in single quotes").
 */
export function splitScript(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let has = false;
  let quoted = false;
  for (const c of text) {
    if (c === "'") {
      quoted = !quoted;
      has = true;
    } else if (!quoted && /\s/.test(c)) {
      if (has) out.push(current);
      current = '';
      has = false;
    } else {
      current += c;
      has = true;
    }
  }
  if (has) out.push(current);
  return out;
}
