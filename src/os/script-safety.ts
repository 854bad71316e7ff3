/**
 * Whether a program vigil runs as root (a fencing hook, an OCF resource agent) is safe to
 * run: keepalived's enable_script_security, in small.
 */
import { statSync } from 'node:fs';

/** Why a script may not be run; `kind` separates "not there" from "there but unsafe". */
export interface ScriptProblem {
  readonly kind: 'missing' | 'not-file' | 'not-executable' | 'unsafe';
  readonly message: string;
}

/** The problem with running `path`, or undefined when it is fine. */
export function scriptCheck(path: string): ScriptProblem | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    return { kind: 'missing', message: `${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  if (!st.isFile()) return { kind: 'not-file', message: `${path} is not a regular file` };
  if ((st.mode & 0o111) === 0) return { kind: 'not-executable', message: `${path} is not executable` };
  if (st.uid !== 0) return { kind: 'unsafe', message: `${path} is owned by uid ${st.uid}, not root` };
  if ((st.mode & 0o022) !== 0) {
    return { kind: 'unsafe', message: `${path} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o777).toString(8)}); refused` };
  }
  return undefined;
}

/**
 * Why a script may not be run: it must exist, be a regular executable file owned by
 * root and writable by nobody else (keepalived's enable_script_security). undefined when
 * it is fine.
 */
export function scriptProblem(path: string): string | undefined {
  return scriptCheck(path)?.message;
}
