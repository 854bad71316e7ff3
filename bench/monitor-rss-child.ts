/**
 * One variant of bench/monitor.ts's RSS measure, in a fresh process: the baseline loads the
 * vigil modules every variant needs and a host; a variant then imports and starts its
 * notifier (dynamic imports, so the baseline holds none of their libraries), settles, runs
 * a GC (--expose-gc) and prints its RSS in bytes.
 */
import { get } from 'node:http';
import { createLogger } from '../src/daemon/logger.js';
import { TestHost } from '../test/support/monitor-host.js';

const log = createLogger('text', () => undefined);
const variant = process.argv[2] ?? 'baseline';

function scrape(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    }).on('error', reject);
  });
}

const host = new TestHost([{ name: 'gw', interface: 'lo', vrid: 51, priority: 150 }]);
host.becomeMaster('gw');
const stops: (() => Promise<void>)[] = [];
if (variant === 'dbus') {
  const { PrivateBus } = await import('../test/support/dbus-bus.js');
  const { DbusMonitor } = await import('../src/monitor/dbus.js');
  const bus = await PrivateBus.start();
  const m = await DbusMonitor.start({ bus: bus.address, name: 'org.keepalived.Vrrp1' }, host, log);
  stops.push(() => m.stop(), () => bus.stop());
} else if (variant === 'snmp') {
  const { SnmpLab } = await import('../test/support/snmpd.js');
  const { SnmpMonitor } = await import('../src/monitor/snmp.js');
  const lab = await SnmpLab.create();
  await lab.startSnmpd();
  const m = SnmpMonitor.start({ agentx: { host: '127.0.0.1', port: lab.agentxPort }, traps: true, keepalivedMib: true }, host, log);
  await m.ready();
  await lab.walk('.1.3.6.1.2.1.207');
  stops.push(() => m.stop(), () => lab.destroy());
} else if (variant === 'prometheus') {
  const { PrometheusMonitor } = await import('../src/monitor/prometheus.js');
  const m = await PrometheusMonitor.start({ listen: { host: '127.0.0.1', port: 0 }, textfileIntervalMs: 15_000 }, host, log);
  for (let i = 0; i < 20; i++) await scrape(m.address?.port ?? 0);
  stops.push(() => m.stop());
} else if (variant === 'prom-client') {
  // prom-client is not a dependency: measured only where VIGIL_PROM_CLIENT points at an install of it.
  const where = process.env['VIGIL_PROM_CLIENT'];
  if (!where) throw new Error('VIGIL_PROM_CLIENT is not set');
  const pc = (await import(where)) as { Registry: new () => { metrics(): Promise<string> }; Gauge: new (o: object) => { set(l: object, v: number): void }; collectDefaultMetrics(o: object): void };
  const registry = new pc.Registry();
  pc.collectDefaultMetrics({ register: registry });
  const g = new pc.Gauge({ name: 'vigil_vrrp_state', help: 'state', labelNames: ['iname'], registers: [registry] });
  g.set({ iname: 'gw' }, 2);
  for (let i = 0; i < 20; i++) await registry.metrics();
}
await new Promise((r) => setTimeout(r, 500));
(globalThis as { gc?: () => void }).gc?.();
await new Promise((r) => setTimeout(r, 200));
process.stdout.write(`${process.memoryUsage().rss}\n`);
for (const s of stops) await s();
