/**
 * A problem in a config file and how it is shown; kept apart from the loader (load.ts,
 * which carries the YAML parser and the schema validator) so that the daemon can name
 * problems without loading either.
 */
import type { VigilConfig } from './types.js';

export const DEFAULT_CONFIG_PATH = '/etc/vigil/vigil.yaml';

/**
 * One problem in a config file. `line` and `column` are 1-based; both are 0 for a problem
 * with the file as a whole (it cannot be read). `path` is the key path, e.g.
 * `instances[0].virtual_ips[1]`, or '' for the document itself.
 */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly path: string;
  readonly message: string;
}

export type ParseResult =
  | { readonly ok: true; readonly config: VigilConfig; readonly warnings: ConfigIssue[] }
  | { readonly ok: false; readonly errors: ConfigIssue[] };

/** `vigil.yaml:12:9: instances[0].virtual_ips[1]: "10.213.0.300/24" is not an IPv4 prefix`. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}
