/**
 * The SNMP subagent of test/monitor-snmp.test.ts, run inside a lab namespace (one process
 * is in one namespace, and snmpd is in the lab's): a TestHost and an SnmpMonitor connected
 * to tcp:127.0.0.1:PORT, driven by one command per stdin line, each answered by one JSON
 * line on stdout.
 *
 *   ready                      -> {"ok":true} once registered with snmpd
 *   master NAME | higher NAME  -> the instance becomes master / hears a higher priority
 *   startup NAME               -> the instance starts (backup)
 *   ttl NAME N                 -> its TTL-error count is N
 *   socket KEY REASON N        -> a socket-level drop count
 *   state                      -> {"connected":…, "reconnects":…, "failed":…, "ifindex":…}
 *   log                        -> {"log":"…"} everything logged so far
 */
import { createInterface } from 'node:readline';
import { createLogger } from '../../src/daemon/logger.js';
import { interfaceIndex } from '../../src/monitor/common.js';
import { SnmpMonitor } from '../../src/monitor/snmp.js';
import type { RejectReason } from '../../src/vrrp/rejection.js';
import { TestHost } from './monitor-host.js';
import { errorText } from '../../src/base/error-text.js';

const lines: string[] = [];
const log = createLogger('text', (l) => lines.push(l));
const port = Number(process.argv[2] ?? 705);
const host = new TestHost([
  { name: 'gw', interface: 'lo', vrid: 51, priority: 150 },
  { name: 'db', interface: 'lo', vrid: 52, priority: 100 },
  { name: 'old', interface: 'lo', vrid: 53, priority: 120, version: 2 },
]);
const m = SnmpMonitor.start({ agentx: { host: '127.0.0.1', port }, traps: true, keepalivedMib: true }, host, log);

function reply(value: object): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  void (async () => {
    const [cmd, a = '', b = '', c = ''] = line.trim().split(/\s+/);
    try {
      switch (cmd) {
        case 'ready':
          await m.ready();
          break;
        case 'master':
          host.becomeMaster(a);
          break;
        case 'startup':
          host.drive(a, { type: 'startup' }, host.now);
          break;
        case 'higher':
          host.hearHigher(a, '10.213.0.9', 200);
          break;
        case 'ttl':
          host.routers.get(a)!.rejected.ttl = Number(b);
          break;
        case 'socket':
          host.socketRejects[a] = { ...host.socketRejects[a], [b as RejectReason]: Number(c) };
          break;
        case 'state':
          reply({ connected: m.connected, reconnects: m.counters.reconnects, failed: m.counters.failed, ifindex: interfaceIndex('lo') });
          return;
        case 'log':
          reply({ log: lines.join('') });
          return;
        default:
          throw new Error(`unknown command ${line}`);
      }
      reply({ ok: true });
    } catch (e) {
      reply({ ok: false, error: errorText(e) });
    }
  })();
});
rl.on('close', () => {
  void m.stop().then(() => process.exit(0));
});
