/**
 * startMonitors (src/monitor/index.ts): nothing configured starts nothing; a reload restarts
 * only the notifier whose settings changed, and the metrics' event counts survive it; a notifier that cannot start is logged and left
 * out while the others run. Real HTTP endpoints on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { NO_NOTIFIERS, type NotifiersConfig } from '../src/config/notifier-types.js';
import { createLogger } from '../src/daemon/logger.js';
import { startMonitors } from '../src/monitor/index.js';
import type { PrometheusMonitor } from '../src/monitor/prometheus.js';
import { TestHost } from './support/monitor-host.js';

test('a reload restarts only the notifier that changed; one that cannot start leaves the others running', async () => {
  const lines: string[] = [];
  const log = createLogger('text', (l) => lines.push(l));
  const host = new TestHost([{ name: 'gw', interface: 'lo', vrid: 51, priority: 150 }]);
  const none = await startMonitors(NO_NOTIFIERS, host, log);
  assert.equal(none.prometheus, undefined);
  assert.equal(none.dbus, undefined);
  assert.equal(none.snmp, undefined);
  await none.stop();

  const cfg = (port: number): NotifiersConfig => ({ ...NO_NOTIFIERS, prometheus: { listen: { host: '127.0.0.1', port }, textfileIntervalMs: 15_000 } });
  const m = await startMonitors(cfg(0), host, log);
  try {
    const first = m.prometheus;
    assert.ok(first?.address);
    // The same settings again: the same endpoint, not restarted.
    await m.reload(cfg(0));
    assert.equal(m.prometheus, first);

    // More events than the stream keeps (1000): only counting from the start gets them all.
    for (let i = 0; i < 1005; i++) host.events.emit({ kind: 'announced', instance: 'gw', addresses: ['10.213.0.151'], round: 1, of: 1, reason: 'become-master' });

    // A port in use: logged, no endpoint, the daemon's monitors go on.
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = (blocker.address() as { port: number }).port;
    try {
      await m.reload(cfg(busy));
      assert.equal(m.prometheus, undefined);
      assert.ok(lines.some((l) => l.includes('prometheus-not-started') && l.includes(`127.0.0.1:${busy}`)), lines.join(''));
    } finally {
      blocker.close();
    }
    // Back to a free port: started again.
    await m.reload(cfg(0));
    const again = m.prometheus as PrometheusMonitor | undefined;
    assert.ok(again?.address);
    assert.notEqual(again, first);
    const res = await fetch(`http://127.0.0.1:${again.address.port}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^vigil_up 1$/m);
    assert.match(text, /^vigil_vrrp_gratuitous_announcements_total\{iname="gw",[^}]*\} 1005$/m, 'counts survive the endpoint\'s restart');
  } finally {
    await m.stop();
  }
});
