/**
 * The one log subscriber of the daemon's event stream: the log lines of the events (state
 * changes, priority changes, VIPs applied, reloads...) come from here and nowhere else,
 * with the event names and fields the log has always had.
 */
import type { EventSource } from '../events/stream.js';
import type { StampedEvent } from '../events/types.js';
import type { Logger } from './logger.js';

/** Subscribes `log` to `events`; returns the unsubscribe function. */
export function logEvents(events: EventSource, log: Logger): () => void {
  return events.subscribe((e) => logEvent(e, log));
}

function logEvent(e: StampedEvent, log: Logger): void {
  switch (e.kind) {
    case 'instance-state':
      log.log(e.to === 'fault' ? 'warn' : 'info', 'state-change', {
        instance: e.instance,
        vrid: e.vrid,
        family: e.family,
        from: e.from,
        to: e.to,
        reason: e.reason,
        detail: e.detail,
        priority: e.priority,
      });
      return;
    case 'priority-changed':
      log.log('info', 'priority-changed', { instance: e.instance, from: e.from, to: e.to, base: e.basePriority });
      return;
    case 'master-rx-lower-priority':
      // Every one goes to the logger; its rate limit (logger.ts) keeps the lines few.
      log.log('info', 'master-rx-lower-priority', { instance: e.instance, src: e.from, priority: e.priority, own: e.ownPriority });
      return;
    case 'group-state':
      log.log(e.to === 'fault' ? 'warn' : 'info', 'group-state', { group: e.group, from: e.from, to: e.to, instances: e.instances });
      return;
    case 'vips-added':
      log.log('info', 'vips-added', { instance: e.instance, interface: e.interface, addresses: e.addresses, ...(e.failed.length > 0 ? { failed: e.failed } : {}) });
      return;
    case 'vips-removed':
      log.log('info', 'vips-removed', { instance: e.instance, interface: e.interface, addresses: e.addresses, ...(e.failed.length > 0 ? { failed: e.failed } : {}) });
      return;
    case 'announced':
      // One line per burst (its first round), not per copy.
      if (e.round === 1) log.log('info', 'announced', { instance: e.instance, addresses: e.addresses, copies: e.of, reason: e.reason });
      return;
    case 'reloaded':
      for (const c of e.changes) if (c.change !== 'unchanged') log.log('info', 'reload-instance', { instance: c.instance, change: c.change });
      log.log('info', 'reloaded', { config: e.config, instances: e.instances });
      return;
    case 'section-reloaded':
      if (e.refused !== undefined) log.log('warn', 'reload-section-refused', { section: e.section, detail: e.refused });
      for (const c of e.changes) log.log('info', 'reload-section', { section: e.section, name: c.name, change: c.change, detail: c.detail });
      return;
    case 'quorum-changed':
      log.log(e.quorate ? 'info' : 'warn', 'quorum-change', { quorate: e.quorate, reason: e.reason, detail: e.detail });
      return;
    case 'quorum-verdict':
      log.log(e.to === 'hold' ? 'info' : 'warn', 'quorum-verdict', { from: e.from, to: e.to, why: e.why, quorate: e.quorate, tie_breaker: e.tieBreaker });
      return;
    case 'quorum-provider':
      if (e.connected) log.log('info', `${e.provider}-connected`, { node: e.node, after_disconnects: e.disconnects });
      else log.log('warn', `${e.provider}-disconnected`, { detail: e.detail, treated_as: 'inquorate', retry_ms: e.retryMs });
      return;
    case 'member-joined':
      log.log('info', 'member-joined', { node: e.node, name: e.name, reason: e.reason, from: e.from });
      return;
    case 'member-left':
      log.log('warn', 'member-left', { node: e.node, name: e.name, reason: e.reason, silent_ms: e.silentMs });
      return;
    case 'tie-breaker':
      log.log(e.result === 'won' ? 'info' : 'warn', 'tie-breaker', { result: e.result, checks: e.checks });
      return;
    case 'health-check':
      log.log(e.to === 'healthy' ? 'info' : 'warn', 'health-check', { check: e.check, from: e.from, to: e.to, reason: e.reason });
      return;
    case 'resource-state':
      log.log(e.to === 'failed' || e.to === 'blocked' ? 'warn' : 'info', 'resource-state', { resource: e.resource, from: e.from, to: e.to, reason: e.reason });
      return;
    case 'resource-op':
      log.log(e.ok ? 'info' : 'warn', 'resource-op-result', { resource: e.resource, op: e.op, rc: e.rc, timed_out: e.timedOut, ms: e.durationMs, detail: e.detail });
      return;
    case 'group-ban':
      log.log(e.banned ? 'warn' : 'info', e.banned ? 'group-banned' : 'group-unbanned', { group: e.group, reason: e.reason });
      return;
    case 'node-standby':
      log.log(e.on ? 'warn' : 'info', 'node-standby', { on: e.on, detail: e.detail });
      return;
    case 'maintenance':
      log.log('warn', 'maintenance-mode', { on: e.on, detail: e.detail });
      return;
    default:
      return;
  }
}
