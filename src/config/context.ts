/**
 * What every section resolver is given: where to report (errors and warnings at a key
 * path, located in the file) and the checks on durations that every section uses.
 */
import type { ConfigIssue } from './issues.js';
import type { KeyPath, Locator } from './locate.js';
import type { SourceLocation } from './types.js';
import { describe, parseDurationMicros } from './units.js';
import type { DurationText } from './document.js';

/** The longest duration any key takes. */
const MAX_DURATION_US = 86_400_000_000;

export class ResolveContext {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];

  constructor(private readonly at: Locator) {}

  get file(): string {
    return this.at.file;
  }

  error(p: KeyPath, message: string): void {
    this.errors.push(this.at.issue(p, message));
  }

  warn(p: KeyPath, message: string): void {
    this.warnings.push(this.at.issue(p, message));
  }

  /** The line where the value at `p` starts, for "(first at line N)". */
  line(p: KeyPath): number {
    return this.at.at(p).line;
  }

  location(p: KeyPath): SourceLocation {
    return this.at.at(p);
  }

  /**
   * A duration in whole milliseconds, at most a day; undefined if it is unknown (refused by
   * the schema) or, after an error at `p`, not representable.
   */
  durationMs(value: DurationText | undefined, p: KeyPath): number | undefined {
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
    if (d.us > MAX_DURATION_US) {
      this.error(p, `${describe(value)} is too long: at most a day (86400s)`);
      return undefined;
    }
    return d.us / 1000;
  }
}
