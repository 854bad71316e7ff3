/** The `global` section (docs/config.md, "global"). */
import { GLOBAL_DEFAULTS } from './defaults.js';
import { given, type Checked, type GlobalDocument } from './document.js';
import type { GlobalConfig } from './types.js';

export function resolveGlobal(raw: Checked<GlobalDocument>): GlobalConfig {
  const g = given(raw) ?? {};
  const bind = given(g.nonlocal_bind);
  const flag = (v: Checked<boolean>): boolean => given(v) === true;
  return {
    runtimeDir: given(g.runtime_dir) ?? GLOBAL_DEFAULTS.runtimeDir,
    logFormat: given(g.log_format) ?? GLOBAL_DEFAULTS.logFormat,
    nonlocalBind: typeof bind === 'object' ? { ipv4: flag(bind.ipv4), ipv6: flag(bind.ipv6) } : { ipv4: bind === true, ipv6: bind === true },
    realtimePriority: given(g.realtime_priority) ?? GLOBAL_DEFAULTS.realtimePriority,
    stateDir: given(g.state_dir) ?? GLOBAL_DEFAULTS.stateDir,
  };
}
