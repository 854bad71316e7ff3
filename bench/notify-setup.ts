/**
 * The notifiers of bench/notify.ts, each with what it needs around it in the lab, so a
 * variant turns any set of them on in one real `vigil run` on lab host `a`:
 *
 *   scripts     master and generic notify scripts that sleep through the run (a slow script)
 *   fifo        the notify FIFO (priority_changes on) read by `cat` into /dev/null
 *   dbus        vigil on a private dbus-daemon (test/support/dbus-bus.ts)
 *   snmp        the AgentX subagent with traps and the KEEPALIVED-MIB, registered with
 *               Debian's snmpd inside `a`'s namespace (trap sink: snmptrapd), walked
 *               every second
 *   prometheus  the /metrics endpoint on `a`'s loopback, scraped every second
 *   alerts      a Pacemaker-style alert agent (appends one line per alert to a file)
 *
 * Every variant also runs the same workload, so that the notifiers have something to
 * report while the adverts are measured: an http health check on a local server that
 * flips between 200 and 503 every second moves the instance's priority (weight -10:
 * priority events for the FIFO, D-Bus and the metrics), and a second check on the same
 * server counts as a failed monitor of an exec resource in a group on the master, which is
 * then restarted (resource events for the alert agent).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Lab } from '../src/lab/netns.js';
import { until } from '../src/lab/wait.js';
import { PrivateBus } from '../test/support/dbus-bus.js';
import { SnmpLab } from '../test/support/snmpd.js';

export const NOTIFIERS = ['scripts', 'fifo', 'dbus', 'snmp', 'prometheus', 'alerts'] as const;
export type Notifier = (typeof NOTIFIERS)[number];

export function script(dir: string, name: string, body: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

/** A node program run in a namespace: prints "listening" once ready. */
const FLAPPING_SERVER = `
let ok = true;
setInterval(() => (ok = !ok), 1000);
require('node:http').createServer((q, r) => { r.writeHead(ok ? 200 : 503); r.end(ok ? 'ok' : 'no'); })
  .listen(8081, '127.0.0.1', () => console.log('listening'));
`;

const SCRAPER = `
const get = () => require('node:http').get('http://127.0.0.1:9650/metrics', (r) => r.resume()).on('error', () => undefined);
setInterval(get, 1000);
console.log('listening');
`;

async function ready(child: ChildProcess, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${what} exited (${code})`)));
  });
}

function end(child: ChildProcess | undefined): void {
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
}

const WORKLOAD = [
  'resources:',
  '  - { name: svc, type: exec, command: [/bin/sleep, "3600"], monitor_interval: 0 }',
  'groups:',
  '  - { name: app, resources: [svc], runs_on: { master: gw } }',
  'health_checks:',
  '  - { name: flap, type: http, url: "http://127.0.0.1:8081/", interval: 250ms, timeout: 200ms, weight: -10, instances: [gw] }',
  '  - { name: flapsvc, type: http, url: "http://127.0.0.1:8081/", interval: 250ms, timeout: 200ms, resource: svc }',
];

export interface NotifierSetup {
  /** Keys for the instance (the `notify:` mapping), indented for instanceYaml's `extra`. */
  readonly instanceExtra: string;
  /** Top-level sections: notifiers, resources, groups, health_checks. */
  readonly sections: string;
  /** The private bus, when dbus is on (its address is in the config). */
  readonly bus: PrivateBus | undefined;
  /** snmpd in `a`'s namespace, when snmp is on. */
  readonly snmp: SnmpLab | undefined;
  /** Starts what reads or scrapes the notifiers once the daemon runs (FIFO reader, scraper, walker). */
  readers(): Promise<void>;
  stop(): Promise<void>;
}

export interface SetupOptions {
  /** Seconds the slow scripts sleep (beyond the run). */
  readonly sleepSeconds: number;
  /** snmp: start snmptrapd as the trap sink (else the caller listens on port 162 in `a`). */
  readonly trapd?: boolean;
  /** FIFO format; keepalived by default. */
  readonly fifoFormat?: 'keepalived' | 'json';
  /** fifo: leave reading it to the caller. */
  readonly ownFifoReader?: boolean;
  /** Notify scripts to use instead of the slow ones. */
  readonly scriptBody?: string;
  /** The flapping health checks and the restarted resource (default true). */
  readonly workload?: boolean;
}

/** Prepares `on` for a daemon on lab host `a`; files go in `dir` (root-owned, for script safety). */
export async function setUpNotifiers(lab: Lab, dir: string, on: ReadonlySet<Notifier>, tag: string, options: SetupOptions): Promise<NotifierSetup> {
  const children: ChildProcess[] = [];
  const timers: NodeJS.Timeout[] = [];
  let bus: PrivateBus | undefined;
  let snmp: SnmpLab | undefined;
  const notifiers: string[] = [];
  let instanceExtra = '';
  const fifo = path.join(dir, `${tag}.fifo`);
  const workload = options.workload !== false;
  try {
    if (workload) {
      const server = lab.spawn('a', process.execPath, ['-e', FLAPPING_SERVER]);
      children.push(server);
      await ready(server, 'the flapping http server');
    }
    if (on.has('scripts')) {
      const s = script(dir, `${tag}-notify.sh`, options.scriptBody ?? `sleep ${options.sleepSeconds}`);
      instanceExtra = `    notify: { master: ${s}, backup: ${s}, fault: ${s}, any: ${s} }`;
      notifiers.push(`  script_timeout: ${options.sleepSeconds + 30}s`);
    }
    if (on.has('fifo')) notifiers.push(`  fifo: { path: ${fifo}, priority_changes: true, format: ${options.fifoFormat ?? 'keepalived'} }`);
    if (on.has('dbus')) {
      bus = await PrivateBus.start();
      notifiers.push(`  dbus: { bus: "${bus.address}", name: org.keepalived.Vrrp1 }`);
    }
    if (on.has('snmp')) {
      snmp = await SnmpLab.createIn(lab, 'a');
      if (options.trapd !== false) await snmp.startTrapd();
      await snmp.startSnmpd();
      notifiers.push(`  snmp: { agentx: "tcp:127.0.0.1:${snmp.agentxPort}", traps: true, keepalived_mib: true }`);
    }
    if (on.has('prometheus')) notifiers.push('  prometheus: { listen: "127.0.0.1:9650" }');
    if (on.has('alerts')) {
      const agent = script(dir, `${tag}-alert.sh`, `echo "$CRM_alert_kind $CRM_alert_rsc $CRM_alert_task $CRM_alert_rc" >> ${path.join(dir, `${tag}.alerts`)}`);
      notifiers.push(`  alerts:\n    - { path: ${agent} }`);
    }
  } catch (e) {
    for (const c of children) end(c);
    await bus?.stop();
    await snmp?.destroy();
    throw e;
  }
  const sections = [
    ...(notifiers.length > 0 ? ['notifiers:', ...notifiers] : []),
    ...(workload ? WORKLOAD : []),
    '',
  ].join('\n');
  return {
    instanceExtra,
    sections,
    bus,
    snmp,
    async readers(): Promise<void> {
      if (on.has('fifo') && options.ownFifoReader !== true) {
        await until(async () => (await lab.exec('a', 'test', ['-p', fifo], true)).code === 0, () => `the FIFO ${fifo}`);
        children.push(spawn('sh', ['-c', `exec cat ${fifo} > /dev/null`], { stdio: 'ignore' }));
      }
      if (on.has('prometheus')) {
        const scraper = lab.spawn('a', process.execPath, ['-e', SCRAPER]);
        children.push(scraper);
        await ready(scraper, 'the scraper');
      }
      const s = snmp;
      if (s) {
        let walking = false;
        timers.push(
          setInterval(() => {
            if (walking) return;
            walking = true;
            void s.walk('.1.3.6.1.2.1.207').finally(() => (walking = false));
          }, 1000),
        );
      }
    },
    async stop(): Promise<void> {
      for (const t of timers) clearInterval(t);
      for (const c of children) end(c);
      await bus?.stop();
      await snmp?.destroy();
    },
  };
}
