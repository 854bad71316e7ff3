/**
 * The D-Bus service (src/monitor/dbus.ts) on a private dbus-daemon with the packaged
 * policy, read and called with the real clients keepalived users have: busctl, gdbus,
 * dbus-send, dbus-monitor. The instances are real VirtualRouters going through a failover
 * (TestHost).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { run } from '../src/lab/netns.js';
import { createLogger } from '../src/daemon/logger.js';
import { DbusMonitor } from '../src/monitor/dbus.js';
import { PrivateBus, dbusSkipReason } from './support/dbus-bus.js';
import { TestHost } from './support/monitor-host.js';
import { until } from '../src/lab/wait.js';

const log = createLogger('text', () => undefined);
const NAME = 'org.keepalived.Vrrp1';
const GW_PATH = '/org/keepalived/Vrrp1/Instance/eth0_100/51/IPv4';

/** Runs a client as root, or as nobody through setpriv (no capabilities, no groups). */
function client(cmd: string, args: readonly string[], asNobody = false): Promise<{ stdout: string; stderr: string; code: number }> {
  return asNobody ? run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', cmd, ...args], true) : run(cmd, args, true);
}

test('keepalived clients read State (2, "Master"), see VrrpStatusChange and PropertiesChanged at a failover; the policy refuses nobody', { skip: dbusSkipReason() }, async () => {
  const bus = await PrivateBus.start();
  const host = new TestHost([
    { name: 'gw', interface: 'eth0.100', vrid: 51, priority: 150 },
    { name: 'db', interface: 'eth1', vrid: 52, priority: 100 },
  ]);
  host.becomeMaster('gw');
  let m: DbusMonitor | undefined;
  const monitor = spawn('dbus-monitor', ['--address', bus.address, `type='signal',sender='${NAME}'`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  monitor.stdout.on('data', (d: Buffer) => (seen += d.toString()));
  try {
    await until(() => seen.includes('NameAcquired') || seen.length > 0, () => `dbus-monitor is not up: ${seen}`);
    m = await DbusMonitor.start({ bus: bus.address, name: NAME }, host, log);

    // keepalived's property, with busctl and gdbus, as root and as nobody (reading is allowed).
    const state = await client('busctl', [`--address=${bus.address}`, 'get-property', NAME, GW_PATH, 'org.keepalived.Vrrp1.Instance', 'State']);
    assert.equal(state.stdout.trim(), '(us) 2 "Master"', state.stderr);
    const byNobody = await client('busctl', [`--address=${bus.address}`, 'get-property', NAME, GW_PATH, 'org.keepalived.Vrrp1.Instance', 'State'], true);
    assert.equal(byNobody.stdout.trim(), '(us) 2 "Master"', `nobody may read: ${byNobody.stderr}`);
    const g = await client('gdbus', ['call', '--address', bus.address, '--dest', NAME, '--object-path', GW_PATH, '--method', 'org.freedesktop.DBus.Properties.Get', 'org.keepalived.Vrrp1.Instance', 'Name']);
    assert.equal(g.stdout.trim(), "(<('gw',)>,)", g.stderr);
    const dbState = await client('busctl', [`--address=${bus.address}`, 'get-property', NAME, '/org/keepalived/Vrrp1/Instance/eth1/52/IPv4', 'org.keepalived.Vrrp1.Instance', 'State']);
    assert.equal(dbState.stdout.trim(), '(us) 0 "Init"');
    const vigilProps = await client('busctl', [`--address=${bus.address}`, 'get-property', NAME, GW_PATH, 'org.vigil.Instance1', 'Priority', 'MasterAddress']);
    assert.equal(vigilProps.stdout.trim(), 'u 150\ns "10.213.0.1"', vigilProps.stderr);

    // Failover: a higher-priority master appears.
    host.hearHigher('gw', '10.213.0.9', 200);
    await until(() => /member=VrrpStatusChange[\s\S]*?uint32 1/.test(seen), () => `no VrrpStatusChange(1) in:\n${seen}`);
    await until(() => /member=PropertiesChanged[\s\S]*?"org\.vigil\.Instance1"[\s\S]*?"backup"/.test(seen), () => `no PropertiesChanged of org.vigil.Instance1 in:\n${seen}`);
    assert.match(seen, new RegExp(`path=${GW_PATH};\\s*interface=org.keepalived.Vrrp1.Instance;\\s*member=VrrpStatusChange`));
    assert.match(seen, /"10\.213\.0\.9"/, 'PropertiesChanged carries the new master\'s address');
    const after = await client('busctl', [`--address=${bus.address}`, 'get-property', NAME, GW_PATH, 'org.keepalived.Vrrp1.Instance', 'State']);
    assert.equal(after.stdout.trim(), '(us) 1 "Backup"');

    // Methods: root may call them; nobody is refused by the policy (not by the service).
    const refused = await client('busctl', [`--address=${bus.address}`, 'call', NAME, '/org/keepalived/Vrrp1/Vrrp', 'org.keepalived.Vrrp1.Vrrp', 'ReloadConfig'], true);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Access denied|AccessDenied/i);
    const garpRefused = await client('dbus-send', [`--bus=${bus.address}`, '--print-reply', `--dest=${NAME}`, GW_PATH, 'org.keepalived.Vrrp1.Instance.SendGarp'], true);
    assert.match(garpRefused.stderr, /AccessDenied/);
    assert.equal(host.reloads, 0);
    assert.deepEqual(host.garps, []);
    const reload = await client('busctl', [`--address=${bus.address}`, 'call', NAME, '/org/keepalived/Vrrp1/Vrrp', 'org.keepalived.Vrrp1.Vrrp', 'ReloadConfig']);
    assert.equal(reload.code, 0, reload.stderr);
    assert.equal(host.reloads, 1);
    await until(() => seen.includes('member=VrrpReloaded'), () => `no VrrpReloaded in:\n${seen}`);
    const garp = await client('dbus-send', [`--bus=${bus.address}`, '--print-reply', `--dest=${NAME}`, GW_PATH, 'org.keepalived.Vrrp1.Instance.SendGarp']);
    assert.equal(garp.code, 0, garp.stderr);
    assert.deepEqual(host.garps, ['gw']);
    host.reloadError = 'gw.yaml:3:5: vrid: must be 1..255';
    const badReload = await client('busctl', [`--address=${bus.address}`, 'call', NAME, '/org/keepalived/Vrrp1/Vrrp', 'org.keepalived.Vrrp1.Vrrp', 'ReloadConfig']);
    assert.notEqual(badReload.code, 0);
    assert.match(badReload.stderr, /ReloadConfig: gw.yaml:3:5: vrid: must be 1..255/);

    // Only root may own the name.
    const own = await client('busctl', [`--address=${bus.address}`, 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName', 'su', NAME, '4'], true);
    assert.notEqual(own.code, 0);

    const xml = await client('busctl', [`--address=${bus.address}`, 'introspect', '--xml-interface', NAME, GW_PATH], true);
    assert.match(xml.stdout, /<property name="State" type="\(us\)" access="read"\/>/);
    assert.match(xml.stdout, /<signal name="VrrpStatusChange">\s*<arg type="u"/);

    // A reload that removes db: Deleted (97) on its object, then the object is gone.
    host.routers.delete('db');
    host.reloadError = undefined;
    await host.reload();
    const dbPath = '/org/keepalived/Vrrp1/Instance/eth1/52/IPv4';
    await until(() => new RegExp(`path=${dbPath};[^\\n]*member=VrrpStatusChange\\n\\s*uint32 97`).test(seen), () => `no VrrpStatusChange(97) of db in:\n${seen}`);
    const gone = await client('busctl', [`--address=${bus.address}`, 'get-property', NAME, dbPath, 'org.keepalived.Vrrp1.Instance', 'State']);
    assert.notEqual(gone.code, 0, 'the deleted instance has no object any more');

    // The daemon stopping: Stop (98) for every instance, then VrrpStopped.
    host.events.emit({ kind: 'daemon-stopping', reason: 'stop' });
    await until(() => new RegExp(`path=${GW_PATH};[^\\n]*member=VrrpStatusChange\\n\\s*uint32 98`).test(seen), () => `no VrrpStatusChange(98) in:\n${seen}`);
    await m.stop();
    m = undefined;
    await until(() => seen.includes('member=VrrpStopped'), () => `no VrrpStopped in:\n${seen}`);
  } finally {
    await m?.stop();
    if (monitor.pid !== undefined && monitor.exitCode === null) process.kill(monitor.pid, 'SIGTERM');
    await bus.stop();
  }
});

test('the bus restarted under a running service: signals meanwhile are counted, the name and objects come back, stop does not hang', { skip: dbusSkipReason() }, async () => {
  const bus = await PrivateBus.start();
  const host = new TestHost([{ name: 'gw', interface: 'eth0', vrid: 51, priority: 150 }]);
  const m = await DbusMonitor.start({ bus: bus.address, name: NAME }, host, log);
  try {
    await bus.restart();
    await until(() => !m.connected || m.counters.reconnects > 0, () => 'the service did not see the bus go');
    host.becomeMaster('gw');
    await until(() => m.connected, () => `not reconnected: ${JSON.stringify(m.counters)}`, 15_000);
    assert.ok(m.counters.reconnects >= 1);
    const state = await client('busctl', [`--address=${bus.address}`, 'get-property', NAME, '/org/keepalived/Vrrp1/Instance/eth0/51/IPv4', 'org.keepalived.Vrrp1.Instance', 'State']);
    assert.equal(state.stdout.trim(), '(us) 2 "Master"', state.stderr);
    await bus.restart();
    // The bus is back but the service may not be yet; stopping now must still end promptly.
    const t0 = performance.now();
    await m.stop();
    assert.ok(performance.now() - t0 < 3000, 'stop() does not wait on a lost bus');
  } finally {
    await m.stop();
    await bus.stop();
  }
});
