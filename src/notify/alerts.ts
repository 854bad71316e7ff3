/**
 * Pacemaker-style alert agents: the same agents Pacemaker runs (alert_file.sh,
 * alert_snmp.sh from the pacemaker-common package) run unchanged, with Pacemaker's
 * CRM_alert_* environment ("Pacemaker Explained", Alerts: "Alert Instance Attributes"
 * and "Writing an Alert Agent"):
 *
 *   kind      resource-op          → resource (rsc, task, rc, desc, status, target_rc, interval, exec_time)
 *             member-joined / left → node (node, nodeid, desc "member" / "lost")
 *             node-standby, maintenance → attribute (attribute_name, attribute_value)
 *   always    recipient, node (this node's name), node_sequence (the event's sequence
 *             number: unique and increasing, as Pacemaker's), timestamp (%H:%M:%S.%06N),
 *             timestamp_epoch, timestamp_usec, version
 *
 * Pacemaker runs the agents concurrently; here each agent runs its alerts one after another
 * in event order with its timeout (process group killed), so a file agent's lines stay in
 * order. Different agents do not wait for each other.
 */
import type { AlertAgentConfig, AlertKind } from '../config/notifier-types.js';
import type { Logger } from '../daemon/logger.js';
import type { StampedEvent } from '../events/types.js';
import { describeExit, runProgram } from '../os/process-group.js';
import { scriptCheck } from '../os/script-safety.js';

/** The Pacemaker version whose alert interface this follows (agents test CRM_alert_version is set). */
export const CRM_ALERT_VERSION = '2.1.5';

/** Pacemaker's execution status (lrmd/PCMK_EXEC_*): 0 done, 2 timed out, 4 error. */
const EXEC_DONE = 0;
const EXEC_TIMEOUT = 2;

/** The CRM_alert_* variables of an event, or undefined when it is no alert. */
export function alertVariables(e: StampedEvent, nodeName: string, monitorIntervalMs: (resource: string) => number): { kind: AlertKind; vars: Record<string, string> } | undefined {
  const d = new Date(e.time);
  const micros = Math.round((e.time - Math.floor(e.time / 1000) * 1000) * 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const common: Record<string, string> = {
    CRM_alert_version: CRM_ALERT_VERSION,
    CRM_alert_node: nodeName,
    CRM_alert_node_sequence: String(e.seq),
    CRM_alert_timestamp: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(micros, 6)}`,
    CRM_alert_timestamp_epoch: String(Math.floor(e.time / 1000)),
    CRM_alert_timestamp_usec: String(micros),
  };
  switch (e.kind) {
    case 'resource-op': {
      const timedOut = /timed out/i.test(e.detail);
      const task = e.op === 'probe' ? 'monitor' : e.op;
      return {
        kind: 'resource',
        vars: {
          ...common,
          CRM_alert_kind: 'resource',
          CRM_alert_rsc: e.resource,
          CRM_alert_task: task,
          CRM_alert_interval: String(e.op === 'monitor' ? monitorIntervalMs(e.resource) : 0),
          CRM_alert_rc: String(e.rc),
          CRM_alert_target_rc: e.op === 'probe' ? '7' : '0',
          CRM_alert_status: String(timedOut ? EXEC_TIMEOUT : EXEC_DONE),
          CRM_alert_exec_time: String(Math.round(e.durationMs)),
          CRM_alert_desc: e.ok ? 'ok' : e.detail || `rc ${e.rc}`,
        },
      };
    }
    case 'member-joined':
      return { kind: 'node', vars: { ...common, CRM_alert_kind: 'node', CRM_alert_node: e.name, CRM_alert_nodeid: String(e.node), CRM_alert_desc: 'member' } };
    case 'member-left':
      return { kind: 'node', vars: { ...common, CRM_alert_kind: 'node', CRM_alert_node: e.name, CRM_alert_nodeid: String(e.node), CRM_alert_desc: 'lost' } };
    case 'node-standby':
      return { kind: 'attribute', vars: { ...common, CRM_alert_kind: 'attribute', CRM_alert_attribute_name: 'standby', CRM_alert_attribute_value: e.on ? 'on' : 'off', CRM_alert_desc: '' } };
    case 'maintenance':
      return { kind: 'attribute', vars: { ...common, CRM_alert_kind: 'attribute', CRM_alert_attribute_name: 'maintenance', CRM_alert_attribute_value: e.on ? 'on' : 'off', CRM_alert_desc: '' } };
    default:
      return undefined;
  }
}

export interface AlertStatus {
  readonly backlog: number;
  readonly started: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly refused: number;
}

interface Agent {
  readonly config: AlertAgentConfig;
  readonly queue: Record<string, string>[];
  busy: boolean;
}

export class AlertRunner {
  private agents: Agent[];
  private counts = { started: 0, failed: 0, timedOut: 0, refused: 0 };
  private idle: (() => void)[] = [];
  /** Called after each agent run (tests). */
  onRun: ((agent: string, vars: Record<string, string>, result: string) => void) | undefined;

  constructor(
    configs: readonly AlertAgentConfig[],
    private readonly nodeName: string,
    private monitorIntervalMs: (resource: string) => number,
    private readonly log: Logger,
    private user?: { readonly uid: number; readonly gid: number },
  ) {
    this.agents = configs.map((config) => ({ config, queue: [], busy: false }));
  }

  /** New agents (reload): an agent whose path and recipient stay keeps its queue. */
  configure(configs: readonly AlertAgentConfig[], monitorIntervalMs: (resource: string) => number, user?: { readonly uid: number; readonly gid: number }): void {
    const old = this.agents;
    this.agents = configs.map((config) => {
      const same = old.find((a) => a.config.path === config.path && a.config.recipient === config.recipient);
      return same ? Object.assign(same, { config }) : { config, queue: [], busy: false };
    });
    this.monitorIntervalMs = monitorIntervalMs;
    this.user = user;
  }

  push(e: StampedEvent): void {
    if (this.agents.length === 0) return;
    const alert = alertVariables(e, this.nodeName, this.monitorIntervalMs);
    if (!alert) return;
    for (const agent of this.agents) {
      if (!agent.config.kinds.includes(alert.kind)) continue;
      agent.queue.push({ ...alert.vars, CRM_alert_recipient: agent.config.recipient });
      if (!agent.busy) {
        agent.busy = true;
        setImmediate(() => void this.drain(agent));
      }
    }
  }

  status(): AlertStatus {
    return { backlog: this.agents.reduce((n, a) => n + a.queue.length, 0), ...this.counts };
  }

  async drained(timeoutMs: number): Promise<void> {
    if (this.agents.every((a) => !a.busy && a.queue.length === 0)) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((r) => this.idle.push(r)), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    if (timer) clearTimeout(timer);
  }

  private async drain(agent: Agent): Promise<void> {
    while (agent.queue.length > 0) {
      const vars = agent.queue[0] as Record<string, string>;
      await this.runOne(agent.config, vars);
      agent.queue.shift();
    }
    agent.busy = false;
    if (this.agents.every((a) => !a.busy && a.queue.length === 0)) {
      const w = this.idle;
      this.idle = [];
      for (const f of w) f();
    }
  }

  private async runOne(config: AlertAgentConfig, vars: Record<string, string>): Promise<void> {
    const problem = scriptCheck(config.path);
    if (problem !== undefined) {
      this.counts.refused++;
      this.log.log('error', 'alert-agent-refused', { agent: config.path, detail: problem.message });
      this.onRun?.(config.path, vars, `refused: ${problem.message}`);
      return;
    }
    this.counts.started++;
    const r = await runProgram(config.path, [], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...vars },
      timeoutMs: config.timeoutMs,
      cwd: '/',
      maxOutput: 4096,
      ...(this.user ? { uid: this.user.uid, gid: this.user.gid } : {}),
    });
    const result = r.timedOut ? `timed out after ${config.timeoutMs} ms` : r.spawnError ? `could not start: ${r.spawnError.code ?? ''}` : describeExit(r);
    if (r.timedOut) this.counts.timedOut++;
    else if (r.code !== 0) this.counts.failed++;
    if (r.code !== 0 || r.timedOut) this.log.log('warn', 'alert-agent-failed', { agent: config.path, kind: vars['CRM_alert_kind'], seq: vars['CRM_alert_node_sequence'], result });
    this.onRun?.(config.path, vars, result);
  }
}
