/**
 * The SNMP AgentX subagent (src/monitor/snmp.ts) under Debian's snmpd (`master agentx`),
 * all inside a lab namespace (its own loopback, snmpd's standard ports; the subagent runs
 * there as a child process, test/support/snmp-agent-child.ts), read with snmpwalk (numeric OIDs, no MIB loaded) and with
 * Debian's VRRPv3-MIB / VRRP-MIB / KEEPALIVED-MIB for the names; traps received by snmptrapd; snmpd
 * restarted under a running subagent. The instances are real VirtualRouters (TestHost).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/daemon/logger.js';
import { SnmpMonitor, VRRPV3_MIB, VRRP_MIB, KEEPALIVED_MIB } from '../src/monitor/snmp.js';
import { withLab } from '../src/lab/netns.js';
import { SnmpLab, freeTcpPort, snmpSkipReason } from './support/snmpd.js';
import { TestHost } from './support/monitor-host.js';
import { labSkipReason } from '../src/lab/netns.js';

const logLines: string[] = [];
const log = createLogger('text', (l) => logLines.push(l));
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'snmp-agent-child.js');

/** The subagent process in the namespace: one command line in, one JSON line out. */
class Agent {
  private out = '';
  private readonly waiting: ((line: string) => void)[] = [];
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => {
      this.out += d.toString();
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        const line = this.out.slice(0, nl);
        this.out = this.out.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
  }
  async send(command: string): Promise<Record<string, unknown>> {
    const line = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the subagent did not answer "${command}" in 15 s`)), 15_000);
      this.waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
    this.child.stdin?.write(`${command}\n`);
    const r = JSON.parse(await line) as Record<string, unknown>;
    if (r['ok'] === false) throw new Error(`${command}: ${String(r['error'])}`);
    return r;
  }
}

test('snmpwalk reads the VRRPv3-MIB, VRRP-MIB (v2 rows only) and KEEPALIVED-MIB rows, snmptrapd receives the notifications, a restarted snmpd gets the subagent back', { skip: labSkipReason() || snmpSkipReason(), timeout: 90_000 }, async () => {
  await withLab({ hosts: ['a'] }, async (netns) => {
    // snmpd, snmptrapd, snmpwalk and the subagent all in host a's namespace (its own loopback).
    const lab = await SnmpLab.createIn(netns, 'a');
    const agent = new Agent(netns.spawn('a', process.execPath, [CHILD, String(lab.agentxPort)]));
    const ops = `.${VRRPV3_MIB}.1.1.1.1`;
    const stats = `.${VRRPV3_MIB}.1.2.5.1`;
    const ka = `.${KEEPALIVED_MIB}.2.3.1`;
    try {
      await agent.send('master gw');
      await agent.send('startup db');
      const lo = Number((await agent.send('state'))['ifindex']);
      assert.ok(lo > 0);
      const gw = `${lo}.51.1`;
      const db = `${lo}.52.1`;
      await lab.startTrapd();
      await lab.startSnmpd();
      await agent.send('ready');

      const v3 = await lab.walk(`.${VRRPV3_MIB}`);
      // vrrpv3OperationsTable, index ifIndex.VrId.InetAddrType(ipv4 = 1).
      assert.equal(v3.get(`${ops}.3.${gw}`), 'Hex-STRING: 0A D5 00 01 ', 'master address: ourselves');
      assert.equal(v3.get(`${ops}.4.${gw}`), 'Hex-STRING: 0A D5 00 01 ', 'primary address');
      assert.equal(v3.get(`${ops}.5.${gw}`), 'Hex-STRING: 00 00 5E 00 01 33 ', 'virtual MAC 00-00-5E-00-01-{VRID}');
      assert.equal(v3.get(`${ops}.6.${gw}`), 'INTEGER: 3', 'master(3)');
      assert.equal(v3.get(`${ops}.6.${db}`), 'INTEGER: 2', 'backup(2)');
      assert.equal(v3.get(`${ops}.7.${gw}`), 'Gauge32: 150');
      assert.equal(v3.get(`${ops}.8.${gw}`), 'INTEGER: 1', 'address count');
      assert.equal(v3.get(`${ops}.9.${gw}`), 'INTEGER: 100', 'advert interval in centiseconds');
      assert.equal(v3.get(`${ops}.10.${gw}`), 'INTEGER: 1', 'preempt true(1)');
      assert.equal(v3.get(`${ops}.11.${gw}`), 'INTEGER: 2', 'accept false(2)');
      assert.ok(!v3.has(`${ops}.1.${gw}`) && !v3.has(`${ops}.2.${gw}`), 'the not-accessible index columns are not walked');
      assert.equal(v3.get(`.${VRRPV3_MIB}.1.1.2.1.2.${gw}.4.10.213.0.151`), 'INTEGER: 1', 'vrrpv3AssociatedIpAddrTable row of the VIP, active(1)');
      assert.equal(v3.get(`${stats}.1.${gw}`), 'Counter32: 1', 'master transitions');
      assert.equal(v3.get(`${stats}.2.${gw}`), 'INTEGER: 3', 'new master reason masterNoResponse(3)');
      assert.equal(v3.get(`${stats}.2.${db}`), 'INTEGER: 0', 'notMaster(0)');
      assert.equal(v3.get(`${stats}.13.${gw}`), 'Gauge32: 1000', 'refresh rate');
      assert.equal(v3.get(`.${VRRPV3_MIB}.1.2.1.0`), 'Counter64: 0', 'vrrpv3RouterChecksumErrors');

      // Counters move: a TTL error and a checksum error; the walk shows them, a vrrpv3ProtoError trap goes out.
      await agent.send('ttl gw 2');
      await lab.waitFor(() => lab.traps.includes(`.${VRRPV3_MIB}.0.2`), 'vrrpv3ProtoError', () => lab.traps);
      assert.match(lab.traps, new RegExp(`OID: \\.${VRRPV3_MIB.replace(/\./g, '\\.')}\\.0\\.2\\s+${stats.replace(/\./g, '\\.')}\\.6\\.${gw.replace(/\./g, '\\.')} = INTEGER: 1`), 'ipTtlError(1)');
      const v3b = await lab.walk(`.${VRRPV3_MIB}.1.2`);
      assert.equal(v3b.get(`${stats}.5.${gw}`), 'Counter64: 2', 'TTL errors');
      assert.equal(v3b.get(`${stats}.6.${gw}`), 'INTEGER: 1', 'last protocol error: ipTtlError(1)');
      await agent.send('socket lo/ipv4/multicast bad-checksum 5');
      await agent.send('socket lo/ipv4/multicast unknown-vrid 1');
      await lab.waitFor(() => lab.traps.split(`.${VRRPV3_MIB}.0.2`).length > 3, 'more vrrpv3ProtoError', () => lab.traps);
      const v3c = await lab.walk(`.${VRRPV3_MIB}.1.2`);
      assert.equal(v3c.get(`.${VRRPV3_MIB}.1.2.1.0`), 'Counter64: 5', 'vrrpv3RouterChecksumErrors');
      assert.equal(v3c.get(`.${VRRPV3_MIB}.1.2.3.0`), 'Counter64: 1', 'vrrpv3RouterVrIdErrors');
      assert.match(v3c.get(`${stats}.6.${gw}`) ?? '', /^INTEGER: [34]$/, 'last protocol error: checksumError(3) or vrIdError(4), both rose');

      const kaRows = await lab.walk(`.${KEEPALIVED_MIB}`);
      assert.equal(kaRows.get(`${ka}.2.1`), 'STRING: "gw"');
      assert.equal(kaRows.get(`${ka}.4.1`), 'INTEGER: 2', 'keepalived master(2)');
      assert.equal(kaRows.get(`${ka}.4.2`), 'INTEGER: 1', 'keepalived backup(1)');
      assert.equal(kaRows.get(`${ka}.8.1`), 'INTEGER: 150', 'effective priority');
      assert.equal(kaRows.get(`${ka}.9.1`), 'INTEGER: 1', 'VIPs allSet(1)');
      assert.equal(kaRows.get(`${ka}.9.2`), 'INTEGER: 2', 'VIPs notAllSet(2)');
      assert.equal(kaRows.get(`.${KEEPALIVED_MIB}.2.1.1.2.1`), 'STRING: "g1"', 'sync group name');

      // Names: Debian's MIB files (keepalived's package) resolve what the subagent serves. They
      // import the IETF base MIBs (SNMPv2-SMI, IF-MIB...), which Debian ships only in the
      // non-free snmp-mibs-downloader: checked where that is installed.
      const ietf = existsSync('/usr/share/snmp/mibs/ietf/SNMPv2-SMI');
      if (ietf && existsSync('/usr/share/snmp/mibs/VRRPv3-MIB.txt')) {
        const named = await lab.walkText(`.${VRRPV3_MIB}.1.1.1.1.6`, '+VRRPV3-MIB');
        assert.match(named, /VRRPV3-MIB::vrrpv3OperationsStatus\.\d+\.51\.ipv4 = INTEGER: master\(3\)/);
      }
      if (ietf && existsSync('/usr/share/snmp/mibs/KEEPALIVED-MIB.txt')) {
        const named = await lab.walkText(`.${KEEPALIVED_MIB}.2.3.1.4`, '+KEEPALIVED-MIB');
        assert.match(named, /KEEPALIVED-MIB::vrrpInstanceState\.1 = INTEGER: master\(2\)/);
      }

      // Failover: db becomes master: vrrpv3NewMaster and vrrpInstanceStateChange arrive.
      await agent.send('master db');
      await lab.waitFor(() => lab.traps.includes(`.${VRRPV3_MIB}.0.1`), 'vrrpv3NewMaster', () => lab.traps);
      const newMaster = lab.traps.split('\n').find((l) => l.includes(`OID: .${VRRPV3_MIB}.0.1`)) ?? '';
      assert.match(newMaster, new RegExp(`${ops.replace(/\./g, '\\.')}\\.3\\.${db.replace(/\./g, '\\.')} = Hex-STRING: 0A D5 00 01`));
      assert.match(newMaster, new RegExp(`${stats.replace(/\./g, '\\.')}\\.2\\.${db.replace(/\./g, '\\.')} = INTEGER: 3`));
      await lab.waitFor(() => /\.9586\.100\.5\.2\.10\.0\.2\s.*STRING: "db".*INTEGER: 2/.test(lab.traps), 'vrrpInstanceStateChange of db to master', () => lab.traps);

      // RFC 2787 VRRP-MIB: only the VRRPv2 instance ("old", VRID 53) has rows; it becomes master: vrrpTrapNewMaster.
      await agent.send('ttl old 3');
      await agent.send('master old');
      await lab.waitFor(() => lab.traps.includes(`.${VRRP_MIB}.0.1`), 'vrrpTrapNewMaster', () => lab.traps);
      const v2Trap = lab.traps.split('\n').find((l) => l.includes(`OID: .${VRRP_MIB}.0.1`)) ?? '';
      assert.match(v2Trap, new RegExp(`\\.${VRRP_MIB.replace(/\./g, '\\.')}\\.1\\.3\\.1\\.7\\.${lo}\\.53 = IpAddress: 10\\.213\\.0\\.1`), 'vrrpOperMasterIpAddr of the new master');
      const v2 = await lab.walk(`.${VRRP_MIB}`);
      const oper = `.${VRRP_MIB}.1.3.1`;
      const old = `${lo}.53`;
      assert.equal(v2.get(`.${VRRP_MIB}.1.1.0`), 'INTEGER: 2', 'vrrpNodeVersion');
      assert.equal(v2.get(`.${VRRP_MIB}.1.2.0`), 'INTEGER: 1', 'vrrpNotificationCntl enabled(1)');
      assert.equal(v2.get(`${oper}.2.${old}`), 'Hex-STRING: 00 00 5E 00 01 35 ', 'virtual MAC');
      assert.equal(v2.get(`${oper}.3.${old}`), 'INTEGER: 3', 'master(3)');
      assert.equal(v2.get(`${oper}.4.${old}`), 'INTEGER: 1', 'admin state up(1)');
      assert.equal(v2.get(`${oper}.5.${old}`), 'INTEGER: 120', 'priority');
      assert.equal(v2.get(`${oper}.6.${old}`), 'INTEGER: 1', 'address count');
      assert.equal(v2.get(`${oper}.7.${old}`), 'IpAddress: 10.213.0.1', 'master address');
      assert.equal(v2.get(`${oper}.8.${old}`), 'IpAddress: 10.213.0.1', 'primary address');
      assert.equal(v2.get(`${oper}.9.${old}`), 'INTEGER: 2', 'simpleTextPassword(2)');
      assert.equal(v2.get(`${oper}.10.${old}`), '""', 'the key reads as an empty string');
      assert.equal(v2.get(`${oper}.11.${old}`), 'INTEGER: 1', 'advert interval in seconds');
      assert.equal(v2.get(`${oper}.12.${old}`), 'INTEGER: 1', 'preempt true(1)');
      assert.equal(v2.get(`${oper}.14.${old}`), 'INTEGER: 1', 'protocol ip(1)');
      assert.equal(v2.get(`.${VRRP_MIB}.1.4.1.2.${old}.10.213.0.153`), 'INTEGER: 1', 'vrrpAssoIpAddrTable row of the VIP, active(1)');
      assert.equal(v2.get(`.${VRRP_MIB}.2.4.1.1.${old}`), 'Counter32: 1', 'vrrpStatsBecomeMaster');
      assert.equal(v2.get(`.${VRRP_MIB}.2.4.1.5.${old}`), 'Counter32: 3', 'vrrpStatsIpTtlErrors');
      assert.equal(v2.get(`.${VRRP_MIB}.2.1.0`), 'Counter32: 5', 'vrrpRouterChecksumErrors (the socket-level count above)');
      assert.deepEqual([...v2.keys()].filter((k) => k.startsWith(`${oper}.3.`)), [`${oper}.3.${old}`], 'the VRRPv3 instances have no RFC 2787 rows');
      if (ietf && existsSync('/usr/share/snmp/mibs/VRRP-MIB.txt')) {
        const named = await lab.walkText(`${oper}.3`, '+VRRP-MIB');
        assert.match(named, /VRRP-MIB::vrrpOperState\.\d+\.53 = INTEGER: master\(3\)/);
      }

      // snmpd restarts under the running subagent: it comes back, and the walk works again.
      await lab.stopSnmpd();
      let state: Record<string, unknown> = {};
      await lab.waitFor(() => state['connected'] === false, 'the subagent to see snmpd go', () => JSON.stringify(state), 10_000, async () => {
        state = await agent.send('state');
      });
      await agent.send('higher gw');
      await lab.startSnmpd();
      await agent.send('ready');
      state = await agent.send('state');
      assert.ok(Number(state['reconnects']) >= 1, JSON.stringify(state));
      const again = await lab.walk(`${ops}.6`);
      assert.equal(again.get(`${ops}.6.${gw}`), 'INTEGER: 2', 'gw is backup now, read through the new snmpd');
      assert.equal(again.get(`${ops}.6.${db}`), 'INTEGER: 3');
      assert.match(String((await agent.send('log'))['log']), /snmp-agentx-closed/, 'the loss was logged');
      assert.equal(agent.child.exitCode, null, 'the subagent process runs on');
    } finally {
      agent.child.stdin?.end();
      await lab.destroy();
    }
  });
});

test('no snmpd at all: the subagent keeps retrying without throwing, and counts the traps it could not send', async () => {
  const host = new TestHost([{ name: 'gw', interface: 'lo', vrid: 51, priority: 150 }]);
  // A port nothing listens on: the kernel refuses the connection at once.
  const m = SnmpMonitor.start({ agentx: { host: '127.0.0.1', port: await freeTcpPort() }, traps: true, keepalivedMib: false }, host, log);
  try {
    host.becomeMaster('gw');
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(m.connected, false);
    assert.ok(m.counters.reconnects >= 1, `reconnects: ${m.counters.reconnects}`);
    assert.ok(m.counters.failed >= 1, 'the vrrpv3NewMaster that could not go out is counted');
  } finally {
    await m.stop();
  }
});
