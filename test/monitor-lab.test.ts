/**
 * The monitors inside real `vigil run` daemons: two daemons in lab namespaces, a failover
 * (the master stopped), scraped on each namespace's own loopback with curl, walked
 * through each namespace's own snmpd, and read on each daemon's own private D-Bus. Needs the
 * `notifiers:` section of the config (the notify branch's resolver): until the loader
 * accepts it, the test says so and skips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/config/load.js';
import { run, withLab, type Lab } from '../src/lab/netns.js';
import { VigilProcess, configYaml, instanceYaml } from '../src/lab/vigil.js';
import { labSkipReason } from '../src/lab/netns.js';
import { SnmpLab, snmpSkipReason } from './support/snmpd.js';
import { PrivateBus, dbusSkipReason } from './support/dbus-bus.js';
import { spawn } from 'node:child_process';
import { until } from '../src/lab/wait.js';

const NOTIFIERS = 'notifiers:\n  prometheus:\n    listen: 127.0.0.1:9650\n';
/** Each daemon's snmpd is in its own namespace, on its own loopback: one config for both. */
const SNMP_NOTIFIERS = 'notifiers:\n  snmp:\n    agentx: "tcp:127.0.0.1:705"\n    traps: true\n    keepalived_mib: true\n';

function skipReason(): string | false {
  const lab = labSkipReason();
  if (lab) return lab;
  const probe = parseConfig(`${configYaml(instanceYaml({ vrid: 61, priority: 100, vips: ['10.213.0.100/24'] }))}${NOTIFIERS}`, 'probe.yaml');
  if (!probe.ok || !probe.config.notifiers.prometheus) return 'notifiers config not merged yet (the loader refuses `notifiers:`)';
  return false;
}

async function scrape(lab: Lab, host: string): Promise<Map<string, number>> {
  const r = await lab.exec(host, 'curl', ['-sf', '--max-time', '2', 'http://127.0.0.1:9650/metrics'], true);
  const out = new Map<string, number>();
  if (r.code !== 0) return out;
  for (const line of r.stdout.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const STATE = 'vigil_vrrp_state{iname="gw",intf="eth0",vrid="61",family="ipv4"}';
const TRANSITIONS = 'vigil_vrrp_master_transitions_total{iname="gw",intf="eth0",vrid="61",family="ipv4"}';
const RECEIVED = 'vigil_vrrp_advertisements_received_total{iname="gw",intf="eth0",vrid="61",family="ipv4"}';

test('metrics of two real daemons through a failover: the state follows, counters only increase', { skip: skipReason(), timeout: 90_000 }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const yaml = (priority: number): string => `${configYaml(instanceYaml({ vrid: 61, priority, vips: ['10.213.0.100/24'] }))}${NOTIFIERS}`;
    const [a, b] = await Promise.all([VigilProcess.start(lab, 'a', yaml(150)), VigilProcess.start(lab, 'b', yaml(100))]);
    try {
      let sa = new Map<string, number>();
      let sb = new Map<string, number>();
      await until(async () => {
        sa = await scrape(lab, 'a');
        sb = await scrape(lab, 'b');
        return sa.get(STATE) === 2 && sb.get(STATE) === 1;
      }, () => `a: ${sa.get(STATE)}, b: ${sb.get(STATE)}`);
      const before = sb;
      await a.stop();
      let after = new Map<string, number>();
      await until(async () => {
        after = await scrape(lab, 'b');
        return after.get(STATE) === 2;
      }, () => `b state ${after.get(STATE)}`);
      assert.equal(after.get(TRANSITIONS), (before.get(TRANSITIONS) ?? 0) + 1);
      assert.ok((after.get(RECEIVED) ?? 0) >= (before.get(RECEIVED) ?? 0));
      for (const [key, value] of before) {
        if (!key.split('{')[0]!.endsWith('_total')) continue;
        assert.ok((after.get(key) ?? -1) >= value, `${key}: ${value} -> ${after.get(key)}`);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

test('SNMP of two real daemons through a failover: the walk follows, the new master sends vrrpv3NewMaster, a restarted snmpd gets it back', { skip: skipReason() || snmpSkipReason(), timeout: 90_000 }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const snmp = { a: await SnmpLab.createIn(lab, 'a'), b: await SnmpLab.createIn(lab, 'b') };
    const yaml = (priority: number): string => `${configYaml(instanceYaml({ vrid: 61, priority, vips: ['10.213.0.100/24'] }))}${SNMP_NOTIFIERS}`;
    let a: VigilProcess | undefined;
    let b: VigilProcess | undefined;
    try {
      for (const s of [snmp.a, snmp.b]) {
        await s.startTrapd();
        await s.startSnmpd();
      }
      [a, b] = await Promise.all([VigilProcess.start(lab, 'a', yaml(150)), VigilProcess.start(lab, 'b', yaml(100))]);
      const status = '.1.3.6.1.2.1.207.1.1.1.1.6';
      const statusOf = async (s: SnmpLab): Promise<string | undefined> => [...(await s.walk(status)).entries()].find(([oid]) => oid.endsWith('.61.1'))?.[1];
      let sa: string | undefined;
      let sb: string | undefined;
      await until(async () => {
        sa = await statusOf(snmp.a);
        sb = await statusOf(snmp.b);
        return sa === 'INTEGER: 3' && sb === 'INTEGER: 2';
      }, () => `a: ${sa}, b: ${sb}`, 20_000, 200);
      await a.stop();
      await snmp.b.waitFor(() => snmp.b.traps.includes('OID: .1.3.6.1.2.1.207.0.1'), 'vrrpv3NewMaster from b', () => snmp.b.traps);
      assert.equal(await statusOf(snmp.b), 'INTEGER: 3');
      await snmp.b.stopSnmpd();
      await snmp.b.startSnmpd();
      await until(async () => (await statusOf(snmp.b)) === 'INTEGER: 3', () => 'b not back in the walk after the snmpd restart', 20_000, 200);
      assert.equal(b.exited, false, 'vigil runs on');
    } finally {
      await Promise.all([a?.stop(), b?.stop()]);
      await snmp.a.destroy();
      await snmp.b.destroy();
    }
  });
});

test('D-Bus of two real daemons through a failover: busctl reads State, dbus-monitor sees VrrpStatusChange and PropertiesChanged', { skip: skipReason() || dbusSkipReason(), timeout: 90_000 }, async () => {
  // One private bus per daemon (a bus is reached by its socket path, whatever the namespace).
  const buses = { a: await PrivateBus.start(), b: await PrivateBus.start() };
  const yaml = (priority: number, bus: string): string =>
    `${configYaml(instanceYaml({ vrid: 61, priority, vips: ['10.213.0.100/24'] }))}notifiers:\n  dbus:\n    bus: "${bus}"\n    name: org.keepalived.Vrrp1\n`;
  const path = '/org/keepalived/Vrrp1/Instance/eth0/61/IPv4';
  const state = async (bus: PrivateBus): Promise<string> =>
    (await run('busctl', [`--address=${bus.address}`, 'get-property', 'org.keepalived.Vrrp1', path, 'org.keepalived.Vrrp1.Instance', 'State'], true)).stdout.trim();
  const monitor = spawn('dbus-monitor', ['--address', buses.b.address, "type='signal',sender='org.keepalived.Vrrp1'"], { stdio: ['ignore', 'pipe', 'ignore'] });
  let seen = '';
  monitor.stdout.on('data', (d: Buffer) => (seen += d.toString()));
  try {
    await withLab({ hosts: ['a', 'b'] }, async (lab) => {
      const a = await VigilProcess.start(lab, 'a', yaml(150, buses.a.address));
      const b = await VigilProcess.start(lab, 'b', yaml(100, buses.b.address));
      try {
        let sa = '';
        let sb = '';
        await until(async () => {
          sa = await state(buses.a);
          sb = await state(buses.b);
          return sa === '(us) 2 "Master"' && sb === '(us) 1 "Backup"';
        }, () => `a: ${sa}, b: ${sb}`, 20_000, 200);
        await a.stop();
        await until(async () => (await state(buses.b)) === '(us) 2 "Master"', () => 'b is not Master on its bus', 20_000, 100);
        await until(() => /member=VrrpStatusChange\n\s*uint32 2/.test(seen), () => `no VrrpStatusChange(2) from b:\n${seen}`);
        await until(() => /member=PropertiesChanged[\s\S]*?"org\.vigil\.Instance1"[\s\S]*?"master"/.test(seen), () => `no PropertiesChanged from b:\n${seen}`);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  } finally {
    if (monitor.pid !== undefined && monitor.exitCode === null) process.kill(monitor.pid, 'SIGTERM');
    await buses.a.stop();
    await buses.b.stop();
  }
});
