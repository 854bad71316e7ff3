/**
 * The resource agents, one per resource type, behind ResourceAgent:
 *
 *   const agent = createAgent(config.spec, { name: config.name, stateDir: '/run/vigil-resources' });
 *   const r = await agent.start(config.startTimeoutMs);   // never rejects; r.rc is an OCF code
 *
 * vip (vip.ts: rtnetlink + gratuitous ARP/NA), exec (exec.ts: a supervised long-running
 * command that survives a daemon restart and is adopted back), systemd (systemd.ts:
 * systemctl; ERR_INSTALLED where systemd is not running), ocf (ocf.ts: a standard OCF
 * resource agent from $OCF_ROOT/resource.d).
 */
import type { ResourceAgent, ResourceSpec } from '../types.js';
import type { AgentContext } from './context.js';
import { ExecAgent } from './exec.js';
import { OcfAgent } from './ocf.js';
import { SystemdAgent } from './systemd.js';
import { VipAgent } from './vip.js';

export type { AgentContext, ExecOptions, FrameSink, OcfOptions, SystemdOptions, VipOptions } from './context.js';
export { ExecAgent, DEFAULT_SETTLE_MS, cmdlineMatches, readCmdline, readProcStat, type ExecSpec, type ProcStat } from './exec.js';
export { OcfAgent, DEFAULT_OCF_ROOT, parseOcfAgent, type OcfAction, type OcfSpec } from './ocf.js';
export { SystemdAgent } from './systemd.js';
export { VipAgent, type VipSpec } from './vip.js';

export type AnyAgent = VipAgent | ExecAgent | SystemdAgent | OcfAgent;

/** The agent for a spec. Does not throw: a bad spec shows up as the result of its operations. */
export function createAgent(spec: ResourceSpec, context: AgentContext): AnyAgent & ResourceAgent {
  switch (spec.type) {
    case 'vip':
      return new VipAgent(spec, context.vip);
    case 'exec':
      return new ExecAgent(context.name, spec, context.stateDir, context.exec);
    case 'systemd':
      return new SystemdAgent(spec.unit, context.systemd);
    case 'ocf':
      return new OcfAgent(context.name, spec, context.ocf);
  }
}
