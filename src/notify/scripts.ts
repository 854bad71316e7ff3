/**
 * keepalived's notify scripts, in order. For every notification of an instance or a sync
 * group: the specific script of its state (notify_master, notify_backup, notify_fault,
 * notify_stop, notify_deleted, notify_master_rx_lower_pri) with only its configured
 * arguments, then the generic one (`any`, keepalived's `notify`) with four more:
 * `{INSTANCE|GROUP} NAME STATE PRIORITY` (keepalived vrrp_notify.c; a group's priority is 0).
 *
 * Better than keepalived, which forks each script and forgets it (scripts overlap and
 * finish out of order, acassen/keepalived #996, #1055, #584): per instance (and per group)
 * the scripts run one after another in event order, each with a timeout after which its
 * process group is killed (counted, logged). Different instances do not wait for each
 * other. The queue is in memory and never drops a notification; when it grows, the log
 * and `vigil status` say so. The VRRP engine only appends to the queue.
 *
 * Every script is checked again right before it runs (src/os/script-safety.ts): one made unsafe
 * after the config was loaded is refused, logged and counted, never run.
 */
import { scriptCheck } from '../os/script-safety.js';
import type { Logger } from '../daemon/logger.js';
import { describeExit, runProgram } from '../os/process-group.js';
import { lastLine } from '../resources/agents/common.js';
import type { NotifyScripts } from '../config/notifier-types.js';
import { scriptWords } from '../config/notifiers.js';
import type { Notification } from './translate.js';

/** Where a script runs: who, how long, with which scripts (replaced on reload). */
export interface ScriptSettings {
  readonly instanceScripts: Readonly<Record<string, NotifyScripts>>;
  readonly groupScripts: Readonly<Record<string, NotifyScripts>>;
  readonly timeoutMs: number;
  readonly user?: { readonly uid: number; readonly gid: number; readonly name: string };
  /** Instance name → its sync group (VIGIL_GROUP for an instance). */
  readonly groupOf: Readonly<Record<string, string>>;
  /** Group name → its member instances (VIGIL_INSTANCES for a group). */
  readonly members: Readonly<Record<string, readonly string[]>>;
}

export interface ScriptRunnerStatus {
  /** Notifications waiting (not yet started) over all instances and groups. */
  readonly backlog: number;
  /** The largest backlog seen. */
  readonly maxBacklog: number;
  readonly running: number;
  readonly started: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly refused: number;
  /** Notifications left in the queue when the daemon stopped (after the stop deadline). */
  readonly abandoned: number;
}

/** A script's run, for observers (tests, bench): when it started and how it ended. */
export interface ScriptRun {
  readonly notification: Notification;
  readonly argv: readonly string[];
  readonly startedAt: number;
  readonly result: string;
  readonly ok: boolean;
}

/** Which specific-script key a state runs. */
const SPECIFIC: Readonly<Record<string, keyof NotifyScripts>> = {
  MASTER: 'master',
  BACKUP: 'backup',
  FAULT: 'fault',
  STOP: 'stop',
  DELETED: 'deleted',
  MASTER_RX_LOWER_PRI: 'masterRxLowerPri',
};

/** States for which keepalived runs the generic `notify` script. */
const GENERIC = new Set(['MASTER', 'BACKUP', 'FAULT', 'STOP', 'DELETED']);

/** The log says the backlog grew at 10, 100, 1000, ... waiting notifications. */
const BACKLOG_REPORT_FIRST = 10;

const SAFE_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

export class ScriptRunner {
  /** Per instance/group: notifications waiting, each with the scripts it had when queued (for one a reload removed). */
  private readonly queues = new Map<string, { readonly n: Notification; readonly scripts: NotifyScripts }[]>();
  private readonly busy = new Set<string>();
  private backlog = 0;
  private maxBacklog = 0;
  private nextReport = BACKLOG_REPORT_FIRST;
  private counts = { started: 0, failed: 0, timedOut: 0, refused: 0, abandoned: 0 };
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  /** Called after each script (tests and the bench watch it). */
  onRun: ((run: ScriptRun) => void) | undefined;

  constructor(
    private settings: ScriptSettings,
    private readonly log: Logger,
  ) {}

  /** New scripts, timeout and user (reload); queued notifications stay and run with the new scripts. */
  configure(settings: ScriptSettings): void {
    this.settings = settings;
  }

  /** Whether any script is configured for this instance or group. */
  private scriptsFor(n: Notification): NotifyScripts | undefined {
    return n.type === 'INSTANCE' ? this.settings.instanceScripts[n.name] : this.settings.groupScripts[n.name];
  }

  /** Queues a notification; returns at once. */
  push(n: Notification): void {
    if (this.closed || n.state === 'MASTER_PRIORITY' || n.state === 'BACKUP_PRIORITY') return;
    const scripts = this.scriptsFor(n);
    if (scripts === undefined) return;
    const key = `${n.type}\u0000${n.name}`;
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = []));
    q.push({ n, scripts });
    this.backlog++;
    if (this.backlog > this.maxBacklog) this.maxBacklog = this.backlog;
    if (this.backlog >= this.nextReport) {
      this.log.log('warn', 'notify-backlog', { waiting: this.backlog, detail: `${this.backlog} notifications wait for their scripts (slow scripts; none is dropped)` });
      this.nextReport *= 10;
    }
    if (!this.busy.has(key)) {
      // Started on the next turn of the loop: the emitter (the VRRP engine) does not even wait for the fork.
      this.busy.add(key);
      setImmediate(() => void this.drain(key));
    }
  }

  status(): ScriptRunnerStatus {
    return { backlog: this.backlog, maxBacklog: this.maxBacklog, running: this.busy.size, ...this.counts };
  }

  /** Resolves when nothing is queued or running, or after `deadlineMs` (then what is left is abandoned, counted and logged). */
  async drainAll(deadlineMs: number): Promise<void> {
    if (this.backlog === 0 && this.busy.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
    ]);
    if (timer) clearTimeout(timer);
    // The backlog counts the notifications whose scripts are running too; those are not abandoned.
    const notStarted = this.backlog - this.busy.size;
    if (notStarted > 0) {
      this.counts.abandoned += notStarted;
      this.log.log('error', 'notify-abandoned', { waiting: notStarted, detail: `${notStarted} notifications had not started ${deadlineMs} ms after the stop` });
    }
    this.closed = true;
    this.queues.clear();
    this.backlog = 0;
  }

  private async drain(key: string): Promise<void> {
    const q = this.queues.get(key);
    while (q && q.length > 0 && !this.closed) {
      const entry = q[0] as { readonly n: Notification; readonly scripts: NotifyScripts };
      // The scripts of the current config (a reload changes what is still queued); those it
      // had when queued for an instance or group the reload removed (its deleted/stop scripts).
      await this.runAll(entry.n, this.scriptsFor(entry.n) ?? entry.scripts);
      if (this.closed) break; // abandoned at the stop deadline: already counted
      q.shift();
      this.backlog--;
      if (this.backlog < this.nextReport / 10 && this.nextReport > BACKLOG_REPORT_FIRST) {
        this.nextReport /= 10;
        this.log.log('info', 'notify-backlog', { waiting: this.backlog, detail: 'the notify backlog went down' });
      }
    }
    this.busy.delete(key);
    if (q && q.length === 0) this.queues.delete(key);
    if (this.backlog === 0 && this.busy.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** The specific script, then the generic one. */
  private async runAll(n: Notification, scripts: NotifyScripts): Promise<void> {
    const specificKey = SPECIFIC[n.state];
    const specific = specificKey === undefined ? undefined : scripts[specificKey];
    if (specific !== undefined) await this.runOne(n, scriptWords(specific));
    if (scripts.any !== undefined && GENERIC.has(n.state)) await this.runOne(n, [...scriptWords(scripts.any), n.type, n.name, n.state, String(n.priority)]);
  }

  private async runOne(n: Notification, argv: readonly string[]): Promise<void> {
    const [file, ...args] = argv;
    if (file === undefined) return;
    const startedAt = performance.now();
    const what = n.type === 'INSTANCE' ? 'instance' : 'group';
    const problem = scriptCheck(file);
    if (problem !== undefined) {
      this.counts.refused++;
      this.log.log('error', 'notify-script-refused', { [what]: n.name, state: n.state, script: file, detail: problem.message });
      this.onRun?.({ notification: n, argv, startedAt, result: `refused: ${problem.message}`, ok: false });
      return;
    }
    this.counts.started++;
    const user = this.settings.user;
    const r = await runProgram(file, args, {
      env: notifyEnvironment(n, this.settings),
      timeoutMs: this.settings.timeoutMs,
      cwd: '/',
      maxOutput: 4096,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    const ok = r.code === 0 && !r.timedOut && r.spawnError === undefined;
    const result = r.timedOut
      ? `timed out after ${this.settings.timeoutMs} ms; its process group was killed`
      : r.spawnError !== undefined
        ? `could not start: ${r.spawnError.code ?? r.spawnError.message}`
        : describeExit(r);
    if (r.timedOut) this.counts.timedOut++;
    else if (!ok) this.counts.failed++;
    const said = lastLine(r.stderr) ?? lastLine(r.stdout);
    this.log.log(ok ? 'info' : r.timedOut ? 'error' : 'warn', ok ? 'notify-script' : 'notify-script-failed', {
      [what]: n.name,
      state: n.state,
      seq: n.event.seq,
      script: argv.join(' '),
      result,
      ms: Math.round(r.elapsedMs),
      ...(said !== undefined && !ok ? { output: said } : {}),
    });
    this.onRun?.({ notification: n, argv, startedAt, result, ok });
  }
}

/** The environment of a notify script: the four positional values and more, named. */
export function notifyEnvironment(n: Notification, settings: Pick<ScriptSettings, 'groupOf' | 'members'>): NodeJS.ProcessEnv {
  const e = n.event;
  const env: Record<string, string> = {
    PATH: SAFE_PATH,
    VIGIL_TYPE: n.type,
    VIGIL_STATE: n.state,
    VIGIL_PREVIOUS_STATE: n.previous,
    VIGIL_PRIORITY: String(n.priority),
    VIGIL_SEQUENCE: String(e.seq),
    VIGIL_TIME: new Date(e.time).toISOString(),
    VIGIL_EVENT: e.kind,
  };
  if (n.type === 'INSTANCE') {
    env['VIGIL_INSTANCE'] = n.name;
    const group = settings.groupOf[n.name];
    if (group !== undefined) env['VIGIL_GROUP'] = group;
  } else {
    env['VIGIL_GROUP'] = n.name;
    env['VIGIL_INSTANCES'] = (settings.members[n.name] ?? []).join(' ');
  }
  switch (e.kind) {
    case 'instance-state':
      env['VIGIL_REASON'] = e.reason;
      env['VIGIL_DETAIL'] = e.detail;
      env['VIGIL_BASE_PRIORITY'] = String(e.basePriority);
      env['VIGIL_MASTER'] = e.master ?? '';
      env['VIGIL_VRID'] = String(e.vrid);
      env['VIGIL_INTERFACE'] = e.interface;
      env['VIGIL_FAMILY'] = e.family;
      break;
    case 'master-rx-lower-priority':
      env['VIGIL_REASON'] = 'lower-priority-advert';
      env['VIGIL_MASTER'] = '';
      env['VIGIL_SENDER'] = e.from;
      env['VIGIL_SENDER_PRIORITY'] = String(e.priority);
      break;
    case 'group-state':
      env['VIGIL_REASON'] = 'sync-group';
      break;
    default:
      env['VIGIL_REASON'] = e.kind === 'daemon-stopped' ? 'shutdown' : e.kind;
  }
  return env;
}
