/**
 * A standard OCF resource agent (ocf:heartbeat:IPaddr2, ocf:heartbeat:Dummy…): the
 * executable $OCF_ROOT/resource.d/PROVIDER/TYPE run with the action as its argument and
 * its parameters as OCF_RESKEY_<name> in the environment, as Pacemaker's executor does:
 *
 *   OCF_ROOT, OCF_FUNCTIONS_DIR, OCF_RA_VERSION_MAJOR/MINOR, OCF_RESOURCE_INSTANCE,
 *   OCF_RESOURCE_TYPE, OCF_RESOURCE_PROVIDER, OCF_RESKEY_<param>…,
 *   OCF_RESKEY_CRM_meta_timeout (ms), and HA_LOGFILE when a log file is configured
 *   (else agents log to stderr, whose last line goes into the result's detail).
 *
 * The exit status is the OCF code. The agent runs in a process group of its own; a
 * timeout kills the group (SIGKILL) and is ERR_GENERIC timedOut; death by a signal is
 * ERR_GENERIC. The agent must be root-owned and writable by nobody else
 * (src/os/script-safety.ts): an unsafe one is refused with ERR_PERM, a missing one ERR_INSTALLED.
 *
 * `spec.agent` is "ocf:PROVIDER:TYPE", "PROVIDER:TYPE" or "TYPE" (provider heartbeat).
 */
import path from 'node:path';
import { scriptCheck } from '../../os/script-safety.js';
import { OCF, type OcfCode, type OperationResult, type ResourceAgent, type ResourceSpec } from '../types.js';
import { formatMs, lastLine, now, ocfName, result } from './common.js';
import type { OcfOptions } from './context.js';
import { errorText } from '../../base/error-text.js';
import { describeExit, runProgram, type RunResult } from '../../os/process-group.js';

export type OcfSpec = Extract<ResourceSpec, { type: 'ocf' }>;

export const DEFAULT_OCF_ROOT = '/usr/lib/ocf';
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const PARAM = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type OcfAction = 'start' | 'stop' | 'monitor' | 'validate-all' | 'meta-data' | 'status' | 'promote' | 'demote' | 'notify' | 'reload';

/** "ocf:heartbeat:IPaddr2" → provider heartbeat, type IPaddr2; a problem text when malformed. */
export function parseOcfAgent(agent: string): { provider: string; type: string } | string {
  const parts = agent.split(':');
  if (parts[0] === 'ocf') parts.shift();
  const [a, b, ...more] = parts;
  const provider = b === undefined ? 'heartbeat' : a;
  const type = b === undefined ? a : b;
  if (more.length > 0 || provider === undefined || type === undefined) return `${JSON.stringify(agent)}: expected ocf:PROVIDER:TYPE`;
  if (!NAME.test(provider) || !NAME.test(type)) return `${JSON.stringify(agent)}: provider and type must be plain names`;
  return { provider, type };
}

export class OcfAgent implements ResourceAgent {
  readonly root: string;
  readonly provider: string;
  readonly type: string;
  /** The executable, $OCF_ROOT/resource.d/PROVIDER/TYPE. */
  readonly path: string;
  private readonly configProblem: string | undefined;
  private readonly logFile: string | undefined;

  constructor(
    readonly name: string,
    readonly spec: OcfSpec,
    options: OcfOptions = {},
  ) {
    this.root = options.root ?? process.env['OCF_ROOT'] ?? DEFAULT_OCF_ROOT;
    this.logFile = options.logFile;
    const parsed = parseOcfAgent(spec.agent);
    const problems: string[] = [];
    if (typeof parsed === 'string') {
      problems.push(parsed);
      this.provider = '';
      this.type = '';
    } else {
      this.provider = parsed.provider;
      this.type = parsed.type;
    }
    for (const key of Object.keys(spec.params)) if (!PARAM.test(key)) problems.push(`parameter ${JSON.stringify(key)} is not a valid OCF_RESKEY_ name`);
    this.configProblem = problems.length > 0 ? problems.join('; ') : undefined;
    this.path = path.join(this.root, 'resource.d', this.provider, this.type);
  }

  /** "ocf:heartbeat:Dummy". */
  get agentName(): string {
    return `ocf:${this.provider}:${this.type}`;
  }

  private environment(timeoutMs: number): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: SAFE_PATH,
      LANG: 'C',
      OCF_ROOT: this.root,
      OCF_FUNCTIONS_DIR: path.join(this.root, 'lib', 'heartbeat'),
      OCF_RA_VERSION_MAJOR: '1',
      OCF_RA_VERSION_MINOR: '1',
      OCF_RESOURCE_INSTANCE: this.name,
      OCF_RESOURCE_TYPE: this.type,
      OCF_RESOURCE_PROVIDER: this.provider,
      OCF_RESKEY_CRM_meta_timeout: String(Math.round(timeoutMs)),
      HA_LOGTAG: `vigil-ocf(${this.name})`,
      // No syslog: the log file if configured, else stderr (ocf-shellfuncs' ha_log).
      HA_LOGFACILITY: 'none',
    };
    if (this.logFile !== undefined) env['HA_LOGFILE'] = this.logFile;
    for (const [key, value] of Object.entries(this.spec.params)) env[`OCF_RESKEY_${key}`] = value;
    return env;
  }

  /** Runs one action; the OperationResult plus the agent's stdout (meta-data's XML). */
  async run(action: OcfAction, timeoutMs: number): Promise<{ result: OperationResult; stdout: string }> {
    const start = now();
    const what = `${action} ${this.agentName} (${this.name})`;
    try {
      if (this.configProblem !== undefined) return { result: result(OCF.ERR_CONFIGURED, `${what}: ${this.configProblem}`, start), stdout: '' };
      const problem = scriptCheck(this.path);
      if (problem) {
        const rc = problem.kind === 'unsafe' ? OCF.ERR_PERM : OCF.ERR_INSTALLED;
        return { result: result(rc, `${what}: ${problem.kind === 'missing' ? 'agent not installed: ' : 'agent refused: '}${problem.message}`, start), stdout: '' };
      }
      const r = await runProgram(this.path, [action], { env: this.environment(timeoutMs), timeoutMs, cwd: '/' });
      return { result: this.toResult(what, r, timeoutMs, start), stdout: r.stdout };
    } catch (e) {
      return { result: result(OCF.ERR_GENERIC, `${what}: ${errorText(e)}`, start), stdout: '' };
    }
  }

  private toResult(what: string, r: RunResult, timeoutMs: number, start: bigint): OperationResult {
    const said = lastLine(r.stderr);
    const tail = said ? `: ${said}` : '';
    if (r.spawnError) {
      const rc = r.spawnError.code === 'EACCES' || r.spawnError.code === 'EPERM' ? OCF.ERR_PERM : OCF.ERR_INSTALLED;
      return result(rc, `${what}: cannot run ${this.path}: ${r.spawnError.code ?? errorText(r.spawnError)}`, start);
    }
    if (r.timedOut) return result(OCF.ERR_GENERIC, `${what}: timed out after ${formatMs(timeoutMs)} (agent killed)${tail}`, start, true);
    if (r.code === null) return result(OCF.ERR_GENERIC, `${what}: ${describeExit(r)}${tail}`, start);
    const rc: OcfCode = r.code;
    return result(rc, `${what}: exit ${rc} (${ocfName(rc)})${tail}`, start);
  }

  async start(timeoutMs: number): Promise<OperationResult> {
    return (await this.run('start', timeoutMs)).result;
  }

  async stop(timeoutMs: number): Promise<OperationResult> {
    return (await this.run('stop', timeoutMs)).result;
  }

  async monitor(timeoutMs: number): Promise<OperationResult> {
    return (await this.run('monitor', timeoutMs)).result;
  }

  /** The agent's own check of its parameters (action validate-all). */
  async validateAll(timeoutMs: number): Promise<OperationResult> {
    return (await this.run('validate-all', timeoutMs)).result;
  }

  /** The agent's meta-data XML (action meta-data); `xml` only when it exited 0. */
  async metaData(timeoutMs: number): Promise<{ result: OperationResult; xml?: string }> {
    const r = await this.run('meta-data', timeoutMs);
    return r.result.rc === OCF.SUCCESS ? { result: r.result, xml: r.stdout } : { result: r.result };
  }
}
