/**
 * SIGHUP of the `resources:` and `quorum:` sections (src/daemon/reload-sections.ts) without
 * root: the real daemon on fake ports and a virtual clock (test/support/fake-daemon.ts),
 * the real resource service with real exec resources (sleep processes, their pids read
 * from the agent's pid files), and the real quorum service on 127.0.0.1 heartbeating with
 * a peer played by a UDP socket that sends real, signed heartbeats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ResourceService } from '../src/daemon/resource-service.js';
import { QuorumService } from '../src/daemon/quorum-service.js';
import { reloadSections, type ReloadParts } from '../src/daemon/reload-sections.js';
import { readKeyFile, writeKeyFile } from '../src/quorum/io/authkey.js';
import { encodeHeartbeat, newBootEpoch } from '../src/quorum/heartbeat.js';
import { toNodeId, toVotes } from '../src/quorum/types.js';
import { createScheduler } from '../src/daemon/timerfd-scheduler.js';
import { monotonicMs } from '../src/daemon/clock.js';
import { memoryLogger } from '../src/daemon/logger.js';
import { EventStream } from '../src/events/stream.js';
import type { StampedEvent } from '../src/events/types.js';
import { FakeHost, configFrom } from './support/fake-daemon.js';
import { sleep, until } from '../src/lab/wait.js';

const VIP = '10.213.0.100';

function yaml(stateDir: string, resources: readonly string[], groups: readonly string[], checks: readonly string[] = []): string {
  return [
    'global:',
    `  state_dir: ${stateDir}`,
    'instances:',
    '  - { name: gw, interface: eth0, vrid: 51, priority: 100, virtual_ips: [' + VIP + '/24] }',
    'resources:',
    ...resources.map((r) => `  - ${r}`),
    ...(groups.length > 0 ? ['groups:', ...groups.map((g) => `  - ${g}`)] : []),
    ...(checks.length > 0 ? ['health_checks:', ...checks.map((c) => `  - ${c}`)] : []),
    '',
  ].join('\n');
}

const sleeper = (name: string, seconds: number): string => `{ name: ${name}, type: exec, command: [/bin/sleep, '${seconds}'] }`;

async function pidOf(stateDir: string, resource: string): Promise<number | undefined> {
  try {
    return (JSON.parse(await readFile(path.join(stateDir, 'exec', `${resource}.pid`), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function parts(host: FakeHost, resources: ResourceService, quorum?: QuorumService): ReloadParts {
  return { daemon: host.daemon, resources, quorum, readKey: readKeyFile, localNode: () => toNodeId(1) };
}

/** The start/stop/probe ops of the resource events since `from`, as "resource:op". */
function ops(events: readonly StampedEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'resource-op' && e.op !== 'monitor' ? [`${e.resource}:${e.op}`] : []));
}

function states(resources: ResourceService): Record<string, string> {
  return Object.fromEntries(resources.status().resources.map((r) => [r.name, r.state]));
}

test('reload of resources: an unchanged resource keeps its process (no stop, no start), a new one starts after it, a removed one stops, a changed one restarts; gw stays master', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vigil-reload-'));
  const host = new FakeHost(configFrom(yaml(dir, [sleeper('keep', 1001), sleeper('change', 1002), sleeper('gone', 1003)], ['{ name: web, resources: [keep, change], runs_on: { master: gw } }'])));
  const resources = await ResourceService.open(host.daemon.currentConfig, host.daemon.vrrpView, host.scheduler, host.clock.now, host.log, host.events);
  host.daemon.attachResources(resources);
  try {
    await host.daemon.start();
    resources.start();
    await host.drain();
    assert.ok(host.scheduler.fireNext(), 'the master-down timer');
    await host.drain();
    assert.equal(host.daemon.status().instances[0]?.state, 'master');
    await until(() => Object.values(states(resources)).every((s) => s === 'started') && Object.keys(states(resources)).length === 3, () => JSON.stringify(states(resources)), 15_000);
    const keepPid = await pidOf(dir, 'keep');
    const changePid = await pidOf(dir, 'change');
    const gonePid = await pidOf(dir, 'gone');
    assert.ok(alive(keepPid) && alive(changePid) && alive(gonePid));

    const mark = host.events.lastSeq;
    const next = configFrom(
      yaml(
        dir,
        [sleeper('keep', 1001), sleeper('change', 1012), sleeper('added', 1004)],
        ['{ name: web, resources: [keep, change, added], runs_on: { master: gw } }'],
        ['{ name: sleepers, type: process, process: sleep, instances: [gw], fall: 3 }'],
      ),
    );
    const inForce = await reloadSections(parts(host, resources), host.daemon.currentConfig, next);
    assert.equal(inForce, next);
    await until(
      () => states(resources)['added'] === 'started' && states(resources)['change'] === 'started' && !('gone' in states(resources)),
      () => JSON.stringify(states(resources)),
      20_000,
    );
    const since = host.events.since(mark);
    const got = ops(since);
    assert.ok(!got.some((o) => o.startsWith('keep:')), `the unchanged resource got no operation: ${got.join(', ')}`);
    assert.equal(await pidOf(dir, 'keep'), keepPid, 'same process');
    assert.ok(alive(keepPid));
    assert.deepEqual(got.filter((o) => o.startsWith('gone:')), ['gone:stop']);
    assert.ok(!alive(gonePid), 'the removed resource\'s process is gone');
    assert.deepEqual(got.filter((o) => o.startsWith('change:')), ['change:stop', 'change:start']);
    assert.ok(!alive(changePid), 'the old process of the changed one is gone');
    const newPid = await pidOf(dir, 'change');
    assert.ok(alive(newPid) && newPid !== changePid);
    assert.match(await readFile(`/proc/${String(newPid)}/cmdline`, 'latin1'), /1012/, 'started with the new definition');
    assert.deepEqual(got.filter((o) => o.startsWith('added:')), ['added:probe', 'added:start']);
    assert.ok(got.indexOf('change:start') < got.indexOf('added:start'), `added after change in the group: ${got.join(', ')}`);
    const keepStatus = resources.status().resources.find((r) => r.name === 'keep');
    assert.equal(keepStatus?.state, 'started');
    // The section event: what changed, and nothing about what did not.
    const section = since.find((e) => e.kind === 'section-reloaded' && e.section === 'resources');
    assert.ok(section && section.kind === 'section-reloaded');
    assert.deepEqual(section.changes.map((c) => `${c.name}:${c.change}`).sort(), ['added:added', 'change:restart', 'gone:removed', 'health_check sleepers:added']);
    // The new health check moves gw (weight 0) but has not failed: gw never left master.
    assert.ok(!since.some((e) => e.kind === 'instance-state' && e.instance === 'gw'), 'no state change of gw');
  } finally {
    await resources.stop();
    await host.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

// ---- quorum -------------------------------------------------------------------------------

const CLUSTER = 'reload';

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function quorumYaml(o: { keyFile: string; port: number; nodes?: number; extra?: readonly string[]; interval?: string; timeout?: string }): string {
  return [
    'quorum:',
    `  cluster_name: ${CLUSTER}`,
    '  node_id: 1',
    `  key_file: ${o.keyFile}`,
    `  port: ${o.port}`,
    `  heartbeat_interval: ${o.interval ?? '100ms'}`,
    `  heartbeat_timeout: ${o.timeout ?? '1s'}`,
    ...(o.extra ?? []).map((l) => `  ${l}`),
    '  nodes:',
    // Loopback only: 127.0.0.0/8 is on lo (nothing is added anywhere); the peers' addresses
    // are where the service sends to, the peer played here sends from 127.0.0.1.
    ...Array.from({ length: o.nodes ?? 2 }, (_, i) => `    - { id: ${i + 1}, name: n${i + 1}, address: 127.0.0.${i + 1} }`),
    '',
  ].join('\n');
}

/** Node 2, played by a UDP socket: a signed heartbeat every 100 ms to the service's port, with `key`. */
class Peer {
  private readonly socket = dgram.createSocket('udp4');
  private readonly epoch = newBootEpoch();
  private sequence = 0n;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    public key: Buffer,
    public port: number,
    private readonly expectedVotes: () => number,
  ) {}
  async start(): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    const send = (): void => {
      this.sequence += 1n;
      const bytes = encodeHeartbeat(
        { cluster: CLUSTER, report: { id: toNodeId(2), expectedVotes: this.expectedVotes(), quorate: true, waitingForAll: false }, votes: toVotes(1), epoch: this.epoch, sequence: this.sequence },
        this.key,
      );
      this.socket.send(bytes, this.port, '127.0.0.1');
    };
    send();
    this.timer = setInterval(send, 100);
  }
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await new Promise<void>((r) => this.socket.close(() => r()));
  }
}

interface QuorumRig {
  readonly dir: string;
  readonly keyFile: string;
  readonly key: Buffer;
  readonly port: number;
  readonly host: FakeHost;
  readonly resources: ResourceService;
  readonly quorum: QuorumService;
  readonly events: EventStream;
  readonly verdicts: string[];
  readonly peer: Peer;
  close(): Promise<void>;
}

async function quorumRig(): Promise<QuorumRig> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vigil-reload-q-'));
  const keyFile = path.join(dir, 'authkey');
  const key = await writeKeyFile(keyFile);
  const port = await freePort();
  const config = configFrom(`global:\n  state_dir: ${dir}\ninstances:\n  - { name: gw, interface: eth0, vrid: 51, priority: 100, virtual_ips: [${VIP}/24] }\n${quorumYaml({ keyFile, port })}`);
  const host = new FakeHost(config);
  const resources = await ResourceService.open(config, host.daemon.vrrpView, host.scheduler, host.clock.now, host.log, host.events);
  host.daemon.attachResources(resources);
  await host.daemon.start();
  resources.start();
  // The quorum service on real time and a real socket; its events on a stream of its own.
  const { scheduler } = createScheduler();
  const events = new EventStream();
  const verdicts: string[] = [];
  const q = config.quorum;
  assert.ok(q);
  const quorum = await QuorumService.open(q, toNodeId(1), key, scheduler, monotonicMs, memoryLogger(), (v) => verdicts.push(v), events);
  const peer = new Peer(key, port, () => quorum.status().expectedVotes);
  await peer.start();
  await until(() => quorum.verdict === 'hold', () => JSON.stringify(quorum.status()), 5_000);
  return {
    dir,
    keyFile,
    key,
    port,
    host,
    resources,
    quorum,
    events,
    verdicts,
    peer,
    close: async () => {
      await peer.stop();
      await quorum.close();
      scheduler.close();
      await resources.stop();
      await host.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Samples the verdict every 10 ms while `body` runs and for `afterMs` after it. */
async function watchVerdict<T>(quorum: QuorumService, afterMs: number, body: () => Promise<T>): Promise<{ result: T; seen: Set<string> }> {
  const seen = new Set<string>();
  const timer = setInterval(() => seen.add(quorum.verdict), 10);
  try {
    const result = await body();
    await sleep(afterMs);
    seen.add(quorum.verdict);
    return { result, seen };
  } finally {
    clearInterval(timer);
  }
}

test('reload of quorum: a node added, expected votes up, last_man_standing on, faster heartbeats and a new key: quorate throughout, with the same members', async () => {
  const rig = await quorumRig();
  try {
    const newKeyFile = path.join(rig.dir, 'authkey.new');
    const newKey = await writeKeyFile(newKeyFile);
    const acceptedBefore = rig.quorum.status().heartbeats.accepted;
    const mark = rig.host.events.lastSeq;
    const next = configFrom(
      `global:\n  state_dir: ${rig.dir}\ninstances:\n  - { name: gw, interface: eth0, vrid: 51, priority: 100, virtual_ips: [${VIP}/24] }\n` +
        quorumYaml({ keyFile: newKeyFile, port: rig.port, nodes: 3, interval: '50ms', timeout: '800ms', extra: ['last_man_standing: true'] }),
    );
    const { seen } = await watchVerdict(rig.quorum, 1500, async () => {
      await reloadSections(parts(rig.host, rig.resources, rig.quorum), rig.host.daemon.currentConfig, next);
      // The peer is reloaded a second later: until then it signs with the old key only.
      await sleep(1000);
      rig.peer.key = newKey;
    });
    assert.deepEqual([...seen], ['hold'], 'never anything but hold');
    assert.deepEqual(rig.verdicts, ['hold'].slice(0, rig.verdicts.length), `verdicts: ${rig.verdicts.join(', ')}`);
    assert.ok(!rig.events.since().some((e) => e.kind === 'quorum-changed' && !e.quorate), 'no inquorate moment');
    assert.ok(!rig.events.since().some((e) => e.kind === 'member-left'), 'the peer never left');
    const s = rig.quorum.status();
    assert.deepEqual({ quorate: s.quorate, expected: s.expectedVotes, quorum: s.quorum, members: s.members.map((m) => m.id), lms: s.flags.lastManStanding }, { quorate: true, expected: 3, quorum: 2, members: [1, 2], lms: true });
    assert.ok(s.heartbeats.accepted > acceptedBefore + 15, `the peer's heartbeats kept being accepted with both keys: ${s.heartbeats.accepted - acceptedBefore}`);
    const section = rig.host.events.since(mark).find((e) => e.kind === 'section-reloaded' && e.section === 'quorum');
    assert.ok(section && section.kind === 'section-reloaded');
    assert.deepEqual(section.changes.map((c) => `${c.name}:${c.change}`).sort(), [
      'heartbeat_interval:applied',
      'heartbeat_timeout:applied',
      'key:rotating',
      'key_file:applied',
      'last_man_standing:applied',
      'nodes:applied',
      'transport:peers',
    ], 'the socket kept (only a new peer to send to)');
    assert.equal(section.refused, undefined);
  } finally {
    await rig.close();
  }
});

test('reload of quorum: a new port rebinds the heartbeat socket (and only then); the peer moving with it stays a member', async () => {
  const rig = await quorumRig();
  try {
    const port = await freePort();
    const mark = rig.host.events.lastSeq;
    const next = configFrom(`global:\n  state_dir: ${rig.dir}\ninstances:\n  - { name: gw, interface: eth0, vrid: 51, priority: 100, virtual_ips: [${VIP}/24] }\n${quorumYaml({ keyFile: rig.keyFile, port })}`);
    const { seen } = await watchVerdict(rig.quorum, 1500, async () => {
      await reloadSections(parts(rig.host, rig.resources, rig.quorum), rig.host.daemon.currentConfig, next);
      rig.peer.port = port;
    });
    assert.deepEqual([...seen], ['hold']);
    assert.ok(!rig.events.since().some((e) => e.kind === 'member-left'));
    const section = rig.host.events.since(mark).find((e) => e.kind === 'section-reloaded' && e.section === 'quorum');
    assert.ok(section && section.kind === 'section-reloaded');
    assert.deepEqual(section.changes.map((c) => `${c.name}:${c.change}`), ['port:applied', 'transport:rebound']);
    // The same config again: nothing to do, no event.
    const again = rig.host.events.lastSeq;
    await reloadSections(parts(rig.host, rig.resources, rig.quorum), rig.host.daemon.currentConfig, next);
    assert.ok(!rig.host.events.since(again).some((e) => e.kind === 'section-reloaded'));
  } finally {
    await rig.close();
  }
});

test('reload: a new config whose quorum key cannot be read is refused whole (no instance or resource change applied); a removed quorum section is refused alone and the rest applies', async () => {
  const rig = await quorumRig();
  try {
    const base = `global:\n  state_dir: ${rig.dir}\ninstances:\n  - { name: gw, interface: eth0, vrid: 51, priority: 90, virtual_ips: [${VIP}/24] }\nresources:\n  - ${sleeper('extra', 1005)}\n`;
    const mark = rig.host.events.lastSeq;
    const bad = configFrom(base + quorumYaml({ keyFile: path.join(rig.dir, 'missing'), port: rig.port, nodes: 3 }));
    await assert.rejects(reloadSections(parts(rig.host, rig.resources, rig.quorum), rig.host.daemon.currentConfig, bad), /missing/);
    assert.equal(rig.host.daemon.currentConfig.instances[0]?.priority, 100, 'the instance change is not applied');
    assert.deepEqual(rig.resources.status().resources, [], 'the resource is not added');
    assert.equal(rig.quorum.status().expectedVotes, 2);
    assert.deepEqual(rig.host.events.since(mark).map((e) => e.kind), [], 'nothing happened');

    const running = rig.host.daemon.currentConfig.quorum;
    const inForce = await reloadSections(parts(rig.host, rig.resources, rig.quorum), rig.host.daemon.currentConfig, configFrom(base));
    assert.equal(inForce.quorum, running, 'the running quorum section stays in force');
    assert.equal(rig.host.daemon.currentConfig.instances[0]?.priority, 90, 'the rest applies');
    assert.deepEqual(rig.resources.status().resources.map((r) => r.name), ['extra']);
    const section = rig.host.events.since(mark).find((e) => e.kind === 'section-reloaded' && e.section === 'quorum');
    assert.ok(section && section.kind === 'section-reloaded');
    assert.match(section.refused ?? '', /removing the quorum section takes effect on restart/);
    assert.ok(rig.host.log.lines.some((l) => l.event === 'reload-section-refused'), 'logged');
  } finally {
    await rig.close();
  }
});

test('reload adding a health check with a weight to a backup: no priority bonus before the check has risen, so no preemption', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vigil-reload-'));
  const base = `global:\n  state_dir: ${dir}\ninstances:\n  - { name: gw, interface: eth0, vrid: 51, priority: 100, virtual_ips: [${VIP}/24] }\n`;
  const host = new FakeHost(configFrom(base));
  const resources = await ResourceService.open(host.daemon.currentConfig, host.daemon.vrrpView, host.scheduler, host.clock.now, host.log, host.events);
  host.daemon.attachResources(resources);
  try {
    await host.daemon.start();
    resources.start();
    await host.drain();
    host.advertFrom('10.213.0.2', 51, 120, [VIP]);
    assert.equal(host.daemon.status().instances[0]?.state, 'backup');
    const mark = host.events.lastSeq;
    // A process that does not exist: the check never rises, so its bonus must never apply.
    const next = configFrom(`${base}health_checks:\n  - { name: bonus, type: process, process: vigil-no-such-process, weight: 50, instances: [gw] }\n`);
    await reloadSections(parts(host, resources), host.daemon.currentConfig, next);
    host.advertFrom('10.213.0.2', 51, 120, [VIP]);
    await host.drain();
    const s = host.daemon.status().instances[0];
    assert.deepEqual({ state: s?.state, priority: s?.effectivePriority }, { state: 'backup', priority: 100 });
    const since = host.events.since(mark);
    assert.deepEqual(since.filter((e) => e.kind === 'priority-changed' || e.kind === 'instance-state').map((e) => e.kind), [], 'no priority change, no state change');
    const section = since.find((e) => e.kind === 'section-reloaded');
    assert.ok(section && section.kind === 'section-reloaded');
    assert.deepEqual(section.changes.map((c) => `${c.name}:${c.change}`), ['health_check bonus:added']);
  } finally {
    await resources.stop();
    await host.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
