/**
 * The notifiers of one daemon, fed by its event stream: notify scripts (scripts.ts), the
 * notify FIFO (fifo.ts) and alert agents (alerts.ts). Created from config.notifiers,
 * subscribed to `daemon.events`, reloaded with a new config (queued notifications are kept
 * and run with the new scripts), stopped at exit after the daemon (so the STOP
 * notifications of the shutdown are delivered).
 *
 * The subscriber only translates and queues: nothing here blocks the VRRP engine, which
 * emits from its hot path.
 */
import { hostname } from 'node:os';
import type { VigilConfig } from '../config/types.js';
import { lookupUser } from '../config/notifiers.js';
import type { Logger } from '../daemon/logger.js';
import type { EventSource } from '../events/stream.js';
import type { StampedEvent } from '../events/types.js';
import { AlertRunner, type AlertStatus } from './alerts.js';
import { FifoWriter, type FifoStatus } from './fifo.js';
import { ScriptRunner, type ScriptRunnerStatus, type ScriptSettings } from './scripts.js';
import { fifoLine, NotificationTranslator } from './translate.js';

export interface NotifiersStatus {
  readonly scripts: ScriptRunnerStatus;
  readonly fifo: FifoStatus | null;
  readonly alerts: AlertStatus;
}

function userOf(config: VigilConfig): { uid: number; gid: number; name: string } | undefined {
  const spec = config.notifiers.scriptUser;
  if (spec === undefined) return undefined;
  const found = lookupUser(spec);
  if ('error' in found) throw new Error(`notifiers.script_user: ${found.error}`);
  return { ...found, name: spec };
}

function scriptSettings(config: VigilConfig): ScriptSettings {
  const groupOf: Record<string, string> = {};
  const members: Record<string, readonly string[]> = {};
  for (const g of config.syncGroups) {
    members[g.name] = g.instances;
    for (const i of g.instances) groupOf[i] = g.name;
  }
  const user = userOf(config);
  return {
    instanceScripts: config.notifiers.instanceScripts,
    groupScripts: config.notifiers.groupScripts,
    timeoutMs: config.notifiers.scriptTimeoutMs,
    ...(user ? { user } : {}),
    groupOf,
    members,
  };
}

function monitorIntervals(config: VigilConfig): (resource: string) => number {
  const byName = new Map(config.resources.resources.map((r) => [r.name, r.monitorIntervalMs]));
  return (name) => byName.get(name) ?? 0;
}

export class Notifiers {
  private readonly translator = new NotificationTranslator();
  readonly scripts: ScriptRunner;
  readonly alerts: AlertRunner;
  fifo: FifoWriter | undefined;
  private unsubscribe: (() => void) | undefined;
  private config: VigilConfig;

  private constructor(config: VigilConfig, private readonly log: Logger, nodeName: string) {
    this.config = config;
    this.scripts = new ScriptRunner(scriptSettings(config), log);
    const user = userOf(config);
    this.alerts = new AlertRunner(config.notifiers.alerts, nodeName, monitorIntervals(config), log, user);
  }

  /** Opens the FIFO (throws naming it when it cannot be used) and subscribes to `events`. */
  static start(config: VigilConfig, events: EventSource, log: Logger, nodeName = hostname()): Notifiers {
    const n = new Notifiers(config, log, nodeName);
    n.fifo = n.openFifo(config);
    n.unsubscribe = events.subscribe((e) => n.onEvent(e));
    return n;
  }

  private openFifo(config: VigilConfig): FifoWriter | undefined {
    const f = config.notifiers.fifo;
    if (!f) return undefined;
    const user = userOf(config);
    return FifoWriter.open({ path: f.path, bufferLines: f.bufferLines, ...(f.script !== undefined ? { script: f.script } : {}), ...(user ? { user } : {}) }, this.log);
  }

  private onEvent(e: StampedEvent): void {
    const notes = this.translator.translate(e);
    for (const n of notes) this.scripts.push(n);
    const fifo = this.fifo;
    const fc = this.config.notifiers.fifo;
    if (fifo && fc) {
      if (fc.format === 'json') fifo.write(JSON.stringify(e));
      else {
        for (const n of notes) {
          if ((n.state === 'MASTER_PRIORITY' || n.state === 'BACKUP_PRIORITY') && !fc.priorityChanges) continue;
          fifo.write(fifoLine(n));
        }
        if (e.kind === 'reloaded' && fc.writeStatesOnReload) {
          for (const s of this.translator.current()) fifo.write(`${s.type} "${s.name}" ${s.state} ${s.priority}`);
        }
      }
    }
    this.alerts.push(e);
  }

  /**
   * A new config (SIGHUP): new scripts, timeout, user and agents for what is queued and
   * what comes; a FIFO whose settings changed is closed (its backlog written first) and
   * reopened. Throws, keeping the old settings, when the new script_user does not exist.
   */
  async reload(config: VigilConfig): Promise<void> {
    const settings = scriptSettings(config);
    this.scripts.configure(settings);
    this.alerts.configure(config.notifiers.alerts, monitorIntervals(config), settings.user);
    const before = JSON.stringify(this.config.notifiers.fifo ?? null) + JSON.stringify(this.config.notifiers.scriptUser ?? null);
    const after = JSON.stringify(config.notifiers.fifo ?? null) + JSON.stringify(config.notifiers.scriptUser ?? null);
    this.config = config;
    if (before !== after) {
      await this.fifo?.close();
      this.fifo = undefined;
      this.fifo = this.openFifo(config);
    }
  }

  status(): NotifiersStatus {
    return { scripts: this.scripts.status(), fifo: this.fifo?.status() ?? null, alerts: this.alerts.status() };
  }

  /** Backlog, deliveries, losses and failures per notifier, for the metrics (src/monitor). */
  stats(): { notifier: string; backlog: number; delivered: number; lost: number; failures: number }[] {
    const s = this.scripts.status();
    const a = this.alerts.status();
    const f = this.fifo?.status();
    return [
      { notifier: 'scripts', backlog: s.backlog, delivered: s.started, lost: s.abandoned, failures: s.failed + s.timedOut + s.refused },
      { notifier: 'alerts', backlog: a.backlog, delivered: a.started, lost: 0, failures: a.failed + a.timedOut + a.refused },
      ...(f ? [{ notifier: 'fifo', backlog: f.backlog, delivered: f.written, lost: f.lost, failures: 0 }] : []),
    ];
  }

  /**
   * After the daemon stopped: the queued scripts (the STOP ones among them) run, at most
   * `deadlineMs` in all; the FIFO's lines are written and its script stopped.
   */
  async stop(deadlineMs = Math.max(this.config.notifiers.scriptTimeoutMs, 10_000)): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.all([this.scripts.drainAll(deadlineMs), this.alerts.drained(deadlineMs)]);
    await this.fifo?.close();
    this.fifo = undefined;
  }
}
