/**
 * A systemd unit as a resource, through systemctl:
 *
 * - start: `systemctl --no-ask-password start UNIT` (it waits for the job); a unit that
 *   does not exist is ERR_INSTALLED, another failure ERR_GENERIC with systemctl's last
 *   stderr line.
 * - stop: `systemctl --no-ask-password stop UNIT`; a unit that does not exist is stopped.
 * - monitor: `systemctl is-active UNIT`: active or reloading SUCCESS, inactive NOT_RUNNING,
 *   failed ERR_GENERIC (it died without a stop); activating / deactivating are asked
 *   again every 200 ms until settled or the timeout.
 * - A timeout kills systemctl (its process group) and is ERR_GENERIC timedOut; the job it
 *   queued is not cancelled.
 *
 * Where systemd is not running (no /run/systemd/system, sd_booted()'s test: containers,
 * CI), every operation is ERR_INSTALLED, a hard failure: this node cannot run the unit.
 */
import { existsSync } from 'node:fs';
import { OCF, type OperationResult, type ResourceAgent } from '../types.js';
import { formatMs, lastLine, now, result } from './common.js';
import type { SystemdOptions } from './context.js';
import { errorText } from '../../base/error-text.js';
import { describeExit, runProgram, type RunResult } from '../../os/process-group.js';
import { since } from '../../os/elapsed.js';

const LSB_NOT_INSTALLED = 5;
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class SystemdAgent implements ResourceAgent {
  private readonly systemctl: string;
  private readonly runDir: string;

  constructor(
    readonly unit: string,
    options: SystemdOptions = {},
  ) {
    this.systemctl = options.systemctl ?? 'systemctl';
    this.runDir = options.runDir ?? '/run/systemd/system';
  }

  /** The ERR_INSTALLED result when systemd is not running here. */
  private notHere(action: string, start: bigint): OperationResult | undefined {
    if (existsSync(this.runDir)) return undefined;
    return result(OCF.ERR_INSTALLED, `${action} ${this.unit}: systemd is not running here (no ${this.runDir}); use an exec resource`, start);
  }

  private run(args: readonly string[], timeoutMs: number): Promise<RunResult> {
    return runProgram(this.systemctl, args, {
      timeoutMs,
      env: { PATH: process.env['PATH'] ?? SAFE_PATH, LANG: 'C', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' },
    });
  }

  /** The failed result for a systemctl run that did not succeed; undefined if it did. */
  private failure(action: string, r: RunResult, timeoutMs: number, start: bigint): OperationResult | undefined {
    const what = `${action} ${this.unit}`;
    if (r.spawnError) return result(OCF.ERR_INSTALLED, `${what}: cannot run ${this.systemctl}: ${r.spawnError.code ?? errorText(r.spawnError)}`, start);
    if (r.timedOut) return result(OCF.ERR_GENERIC, `${what}: systemctl timed out after ${formatMs(timeoutMs)} (killed)`, start, true);
    if (r.code === 0) return undefined;
    const said = lastLine(r.stderr) ?? lastLine(r.stdout);
    return result(OCF.ERR_GENERIC, `${what}: systemctl ${describeExit(r)}${said ? `: ${said}` : ''}`, start);
  }

  private notFound(r: RunResult): boolean {
    return r.code === LSB_NOT_INSTALLED || /not (be )?found|not loaded|does not exist/i.test(r.stderr);
  }

  start(timeoutMs: number): Promise<OperationResult> {
    return this.transition('start', timeoutMs);
  }

  stop(timeoutMs: number): Promise<OperationResult> {
    return this.transition('stop', timeoutMs);
  }

  private async transition(action: 'start' | 'stop', timeoutMs: number): Promise<OperationResult> {
    const start = now();
    try {
      const absent = this.notHere(action, start);
      if (absent) return absent;
      const r = await this.run(['--no-ask-password', action, '--', this.unit], timeoutMs);
      if (!r.timedOut && !r.spawnError && r.code !== 0 && this.notFound(r)) {
        if (action === 'stop') return result(OCF.SUCCESS, `${this.unit} does not exist, so it is stopped`, start);
        return result(OCF.ERR_INSTALLED, `start ${this.unit}: no such unit (${lastLine(r.stderr) ?? describeExit(r)})`, start);
      }
      const failed = this.failure(action, r, timeoutMs, start);
      if (failed) return failed;
      return result(OCF.SUCCESS, `${action === 'start' ? 'started' : 'stopped'} ${this.unit}`, start);
    } catch (e) {
      return result(OCF.ERR_GENERIC, `${action} ${this.unit}: ${errorText(e)}`, start);
    }
  }

  async monitor(timeoutMs: number): Promise<OperationResult> {
    const start = now();
    try {
      const absent = this.notHere('monitor', start);
      if (absent) return absent;
      for (;;) {
        const left = timeoutMs - since(start);
        if (left <= 0) return result(OCF.ERR_GENERIC, `monitor ${this.unit}: still changing state after ${formatMs(timeoutMs)}`, start, true);
        const r = await this.run(['is-active', '--', this.unit], left);
        if (r.spawnError || r.timedOut) return this.failure('monitor', r, timeoutMs, start) ?? result(OCF.ERR_GENERIC, 'monitor: ?', start);
        const state = (lastLine(r.stdout) ?? '').trim();
        switch (state) {
          case 'active':
          case 'reloading':
            return result(OCF.SUCCESS, `${this.unit} is ${state}`, start);
          case 'inactive':
          case 'unknown':
            return result(OCF.NOT_RUNNING, `${this.unit} is ${state}`, start);
          case 'failed':
            return result(OCF.ERR_GENERIC, `${this.unit} is failed`, start);
          case 'activating':
          case 'deactivating':
          case 'refreshing':
            await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(200, timeoutMs - since(start)))));
            continue;
          default: {
            const said = lastLine(r.stderr);
            return result(OCF.ERR_GENERIC, `monitor ${this.unit}: systemctl is-active ${describeExit(r)}: ${state || said || 'no answer'}`, start);
          }
        }
      }
    } catch (e) {
      return result(OCF.ERR_GENERIC, `monitor ${this.unit}: ${errorText(e)}`, start);
    }
  }
}
