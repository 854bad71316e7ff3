/**
 * Monitoring notifiers (issue 11 benchmark): `node dist/bench/monitor.js` (as root, with
 * dbus-daemon and snmpd installed), or `npm run bench` with VIGIL_BENCH_SECTIONS=monitor.
 *
 * - Delay from a state change (the event emitted) to the D-Bus VrrpStatusChange signal as a
 *   separate bus client receives it, and to the SNMP trap as the trap sink receives it
 *   (snmpd forwards the subagent's notification as an SNMPv2c trap): medians and p95.
 * - RSS each notifier adds: a fresh process per variant (baseline = the vigil modules and a
 *   host; then + D-Bus connected, + SNMP registered, + Prometheus scraped), after a GC.
 *
 *   VIGIL_BENCH_MONITOR_RUNS   state changes per delay figure (default 50)
 *   VIGIL_PROM_CLIENT          path of an installed prom-client (its index.js): also measure its RSS
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import dbus from 'dbus-next';
import { createLogger } from '../src/daemon/logger.js';
import { DbusMonitor, INSTANCE_INTERFACE } from '../src/monitor/dbus.js';
import { SnmpMonitor } from '../src/monitor/snmp.js';
import { PrivateBus } from '../test/support/dbus-bus.js';
import { TestHost } from '../test/support/monitor-host.js';
import { SnmpLab } from '../test/support/snmpd.js';

const log = createLogger('text', () => undefined);
const RUNS = Number(process.env['VIGIL_BENCH_MONITOR_RUNS'] ?? 50);

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

function fmt(xs: readonly number[]): string {
  return `median ${quantile(xs, 0.5).toFixed(2)} ms, p95 ${quantile(xs, 0.95).toFixed(2)} ms (n=${xs.length})`;
}

/** Alternates gw between master and backup; calls `wait` after each change with the event's time. */
async function flap(host: TestHost, wait: (emittedAt: number) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  host.becomeMaster('gw');
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    if (i % 2 === 0) host.hearHigher('gw', '10.213.0.9', 200);
    else host.becomeMaster('gw');
    out.push((await wait(t0)) - t0);
  }
  return out;
}

async function dbusDelay(): Promise<number[]> {
  const bus = await PrivateBus.start();
  const host = new TestHost([{ name: 'gw', interface: 'eth0', vrid: 51, priority: 150 }]);
  const m = await DbusMonitor.start({ bus: bus.address, name: 'org.keepalived.Vrrp1' }, host, log);
  const client = dbus.sessionBus({ busAddress: bus.address });
  try {
    const obj = await client.getProxyObject('org.keepalived.Vrrp1', '/org/keepalived/Vrrp1/Instance/eth0/51/IPv4');
    const iface = obj.getInterface(INSTANCE_INTERFACE);
    let resolve: ((t: number) => void) | undefined;
    iface.on('VrrpStatusChange', () => resolve?.(performance.now()));
    return await flap(host, () => new Promise<number>((r) => (resolve = r)));
  } finally {
    client.disconnect();
    await m.stop();
    await bus.stop();
  }
}

async function snmpDelay(): Promise<number[]> {
  const lab = await SnmpLab.create();
  // The trap sink is this process: a UDP socket on the port snmpd's trap2sink names.
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(lab.trapPort, '127.0.0.1', r));
  const host = new TestHost([{ name: 'gw', interface: 'lo', vrid: 51, priority: 150 }]);
  let m: SnmpMonitor | undefined;
  try {
    await lab.startSnmpd();
    // The first datagram after each change counts (vrrpInstanceStateChange; vrrpv3NewMaster too on a takeover).
    m = SnmpMonitor.start({ agentx: { host: '127.0.0.1', port: lab.agentxPort }, traps: true, keepalivedMib: true }, host, log);
    await m.ready();
    await new Promise((r) => setTimeout(r, 300));
    let resolve: ((t: number) => void) | undefined;
    sink.on('message', () => {
      const r = resolve;
      resolve = undefined;
      r?.(performance.now());
    });
    return await flap(host, () => new Promise<number>((r) => (resolve = r)));
  } finally {
    await m?.stop();
    sink.close();
    await lab.destroy();
  }
}

function rssOf(variant: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--expose-gc', fileURLToPath(new URL('./monitor-rss-child.js', import.meta.url)), variant], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => (code === 0 ? resolve(Number(out.trim().split('\n')[0])) : reject(new Error(`variant ${variant} exited ${code}`))));
  });
}

export async function runMonitorBench(): Promise<void> {
  console.log('\n## Monitoring notifiers');
  console.log(`state change -> D-Bus VrrpStatusChange at a bus client: ${fmt(await dbusDelay())}`);
  console.log(`state change -> SNMP trap at the trap sink (via snmpd): ${fmt(await snmpDelay())}`);
  const samples = 3;
  const rss: Record<string, number> = {};
  const variants = ['baseline', 'dbus', 'snmp', 'prometheus', ...(process.env['VIGIL_PROM_CLIENT'] ? ['prom-client'] : [])];
  for (const v of variants) {
    const xs: number[] = [];
    for (let i = 0; i < samples; i++) xs.push(await rssOf(v));
    rss[v] = quantile(xs, 0.5);
  }
  const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
  console.log(`RSS, median of ${samples} processes: baseline ${mb(rss['baseline']!)}`);
  for (const v of variants.slice(1)) console.log(`  + ${v}: ${mb(rss[v]!)} (${(rss[v]! - rss['baseline']! >= 0 ? '+' : '')}${mb(rss[v]! - rss['baseline']!)})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runMonitorBench();
}
