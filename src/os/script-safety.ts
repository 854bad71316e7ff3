/**
 * Whether a program vigil runs as root (a fencing hook, an OCF resource agent, a notify
 * script, an alert agent) is safe to run: keepalived's enable_script_security, always on.
 *
 * keepalived (core/notify.c, check_security): a script is refused when any part of its
 * real path is not owned by root, or is writable by its group or by others; a directory
 * may be world-writable only with the sticky bit (as /tmp is).
 */
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';

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
  const unsafeDir = unsafeDirectory(path);
  if (unsafeDir !== undefined) return { kind: 'unsafe', message: `${path}: ${unsafeDir}; refused` };
  return undefined;
}

/** The first directory on the real path of `file` that another user could change, or undefined. */
function unsafeDirectory(file: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return undefined; // stat above succeeded; a race with a removal is reported when it runs
  }
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    try {
      const st = statSync(dir);
      if (st.uid !== 0) return `its directory ${dir} is owned by uid ${st.uid}, not root`;
      const sticky = (st.mode & 0o1000) !== 0;
      if (!sticky && (st.mode & 0o022) !== 0) {
        return `its directory ${dir} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`;
      }
    } catch (e) {
      return `its directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
    }
    if (dir === path.dirname(dir)) return undefined;
  }
}

/**
 * Why a script may not be run: it must exist, be a regular executable file owned by
 * root and writable by nobody else, in directories only root can change (keepalived's
 * enable_script_security). undefined when it is fine.
 */
export function scriptProblem(path: string): string | undefined {
  return scriptCheck(path)?.message;
}
