/**
 * Notify scripts with real scripts and real processes: keepalived's arguments, the
 * specific script before the generic one, strict event order per instance (never
 * overlapping), the environment, the timeout that kills a hung script's whole process
 * group, an unsafe script refused at check time (file:line:column) and at run time, and
 * the notify config resolved from YAML.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig, formatIssue } from '../src/config/load.js';
import type { VigilConfig } from '../src/config/types.js';
import { memoryLogger } from '../src/daemon/logger.js';
import { EventStream } from '../src/events/stream.js';
import type { VigilEvent } from '../src/events/types.js';
import { Notifiers } from '../src/notify/notifiers.js';
import type { RouterState } from '../src/vrrp/types.js';
import { sleep, until } from '../src/lab/wait.js';
import { NotificationTranslator } from '../src/notify/translate.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'vigil-notify-'));
}

function script(dir: string, name: string, body: string, mode = 0o755): string {
  const p = path.join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, mode);
  return p;
}

/** Whether `pid` runs (a zombie left to a pid 1 that does not reap does not count). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function config(yaml: string): VigilConfig {
  const r = parseConfig(yaml, 'vigil.yaml');
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  return r.config;
}

function errors(yaml: string): string[] {
  const r = parseConfig(yaml, 'vigil.yaml');
  return r.ok ? [] : r.errors.map(formatIssue);
}

function instanceYaml(notify: string, extra = ''): string {
  return [
    'instances:',
    '  - name: VI_1',
    '    interface: eth0',
    '    vrid: 51',
    '    priority: 100',
    '    virtual_ips: [10.213.0.100/24]',
    '    notify:',
    ...notify.split('\n').map((l) => `      ${l}`),
    extra,
  ].join('\n');
}

function state(instance: string, from: RouterState, to: RouterState, priority = 100, reason = 'master-down-timer'): VigilEvent {
  return { kind: 'instance-state', instance, vrid: 51, family: 'ipv4', interface: 'eth0', from, to, reason, detail: `${from} to ${to}`, priority, basePriority: 100, master: to === 'master' ? '10.213.0.1' : '10.213.0.2' };
}

test('notify config: every key resolved, defaults applied', () => {
  const dir = tempDir();
  try {
    const s = script(dir, 'n.sh', 'exit 0');
    const c = config(
      instanceYaml(`master: "${s} up now"\nany: ${s}`) +
        `\nsync_groups:\n  - { name: G1, instances: [VI_1], notify: { backup: ${s} } }\nnotifiers:\n  script_user: nobody\n  script_timeout: 2s\n  fifo: { path: ${dir}/f, priority_changes: true }\n  snmp: {}\n  prometheus: { listen: "127.0.0.1:9650" }\n  dbus: {}\n  alerts:\n    - { path: ${s}, recipient: /tmp/x, kinds: [resource] }\n`,
    );
    const n = c.notifiers;
    assert.equal(n.scriptUser, 'nobody');
    assert.equal(n.scriptTimeoutMs, 2000);
    assert.deepEqual(n.instanceScripts, { VI_1: { master: `${s} up now`, any: s } });
    assert.deepEqual(n.groupScripts, { G1: { backup: s } });
    assert.deepEqual(n.fifo, { path: `${dir}/f`, format: 'keepalived', priorityChanges: true, writeStatesOnReload: false, bufferLines: 10000 });
    assert.deepEqual(n.snmp, { agentx: { host: '127.0.0.1', port: 705 }, traps: true, keepalivedMib: true });
    assert.deepEqual(n.dbus, { bus: 'system', name: 'org.keepalived.Vrrp1' });
    assert.deepEqual(n.prometheus, { listen: { host: '127.0.0.1', port: 9650 }, textfileIntervalMs: 15000 });
    assert.deepEqual(n.alerts, [{ path: s, recipient: '/tmp/x', timeoutMs: 30000, kinds: ['resource'] }]);
    // Nothing configured: nothing.
    const none = config(instanceYaml('{}'));
    assert.deepEqual(none.notifiers, { scriptTimeoutMs: 30000, alerts: [], instanceScripts: {}, groupScripts: {} });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify config: an unsafe script (group-writable, in a world-writable directory) is refused at its key with a clear error', () => {
  const dir = tempDir();
  try {
    const groupWritable = script(dir, 'gw.sh', 'exit 0', 0o775);
    mkdirSync(path.join(dir, 'open'));
    chmodSync(path.join(dir, 'open'), 0o777);
    const inOpenDir = script(path.join(dir, 'open'), 's.sh', 'exit 0');
    const sticky = path.join(dir, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const inStickyDir = script(sticky, 's.sh', 'exit 0');
    const e = errors(instanceYaml(`master: ${groupWritable}\nbackup: ${inOpenDir}\nfault: ${inStickyDir}\nstop: ${dir}/missing.sh`));
    assert.deepEqual(e, [
      `vigil.yaml:8:15: instances[0].notify.master: unsafe script: ${groupWritable} is writable by its group (mode 775) (a notify script runs as root: it must be root-owned and writable by root only, along its whole path)`,
      `vigil.yaml:9:15: instances[0].notify.backup: unsafe script: ${inOpenDir}: its directory ${dir}/open is writable by others (mode 777) (a notify script runs as root: it must be root-owned and writable by root only, along its whole path)`,
      `vigil.yaml:11:13: instances[0].notify.stop: cannot run: ${dir}/missing.sh: ENOENT (a notify script runs as root: it must be root-owned and writable by root only, along its whole path)`,
    ]);
    const fifoScript = errors(instanceYaml(`any: ${dir}/gw.sh`).replace(`any: ${dir}/gw.sh`, 'fault: /bin/true') + `\nnotifiers:\n  fifo: { path: /run/x.fifo, script: ${groupWritable} }\n  script_user: "no_such_user"\n`);
    assert.equal(fifoScript.length, 2);
    assert.match(fifoScript[0] ?? '', /notifiers\.fifo\.script: unsafe script: .*gw\.sh is writable by its group/);
    assert.match(fifoScript[1] ?? '', /notifiers\.script_user: no user "no_such_user" in \/etc\/passwd/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify scripts: specific then generic, in event order, one at a time, with keepalived arguments and VIGIL_* environment', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'log');
  // Each run writes "start" and "end" around a sleep: overlapping runs would interleave.
  const body = `echo "start $0 $*|$VIGIL_TYPE|$VIGIL_INSTANCE|$VIGIL_STATE|$VIGIL_PREVIOUS_STATE|$VIGIL_PRIORITY|$VIGIL_REASON|$VIGIL_SEQUENCE|$VIGIL_MASTER|$VIGIL_GROUP" >> ${log}; sleep 0.1; echo "end $0" >> ${log}`;
  const master = script(dir, 'master.sh', body);
  const backup = script(dir, 'backup.sh', body);
  const fault = script(dir, 'fault.sh', body);
  const stop = script(dir, 'stop.sh', body);
  const any = script(dir, 'any.sh', body);
  const c = config(instanceYaml(`master: "${master} m1"\nbackup: ${backup}\nfault: ${fault}\nstop: ${stop}\nany: ${any}`, '\nsync_groups:\n  - { name: G1, instances: [VI_1] }'));
  const events = new EventStream();
  const logger = memoryLogger();
  const n = Notifiers.start(c, events, logger, 'nodeA');
  try {
    const t0 = performance.now();
    events.emit(state('VI_1', 'initialize', 'backup', 100, 'startup'));
    events.emit(state('VI_1', 'backup', 'master'));
    events.emit(state('VI_1', 'master', 'fault', 0, 'fault'));
    events.emit({ kind: 'daemon-stopping', reason: 'stop' });
    events.emit(state('VI_1', 'fault', 'initialize', 0, 'shutdown'));
    // Queued, not run, by the emitter.
    assert.ok(performance.now() - t0 < 200, 'emitting does not wait for scripts');
    await n.stop(20_000);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const g = 'VI_1';
    assert.deepEqual(lines, [
      `start ${backup} |INSTANCE|${g}|BACKUP|INIT|100|startup|1|10.213.0.2|G1`,
      `end ${backup}`,
      `start ${any} INSTANCE VI_1 BACKUP 100|INSTANCE|${g}|BACKUP|INIT|100|startup|1|10.213.0.2|G1`,
      `end ${any}`,
      `start ${master} m1|INSTANCE|${g}|MASTER|BACKUP|100|master-down-timer|2|10.213.0.1|G1`,
      `end ${master}`,
      `start ${any} INSTANCE VI_1 MASTER 100|INSTANCE|${g}|MASTER|BACKUP|100|master-down-timer|2|10.213.0.1|G1`,
      `end ${any}`,
      `start ${fault} |INSTANCE|${g}|FAULT|MASTER|0|fault|3|10.213.0.2|G1`,
      `end ${fault}`,
      `start ${any} INSTANCE VI_1 FAULT 0|INSTANCE|${g}|FAULT|MASTER|0|fault|3|10.213.0.2|G1`,
      `end ${any}`,
      `start ${stop} |INSTANCE|${g}|STOP|FAULT|0|shutdown|5|10.213.0.2|G1`,
      `end ${stop}`,
      `start ${any} INSTANCE VI_1 STOP 0|INSTANCE|${g}|STOP|FAULT|0|shutdown|5|10.213.0.2|G1`,
      `end ${any}`,
    ]);
    assert.deepEqual({ ...n.status().scripts }, { backlog: 0, maxBacklog: 4, running: 0, started: 8, failed: 0, timedOut: 0, refused: 0, abandoned: 0 });
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify scripts: a group gets GROUP NAME STATE 0, and instances do not wait for each other', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'log');
  const slow = script(dir, 'slow.sh', `echo "slow $*" >> ${log}; sleep 1`);
  const fast = script(dir, 'fast.sh', `echo "fast $* $VIGIL_GROUP $VIGIL_INSTANCES" >> ${log}`);
  const yaml = [
    'instances:',
    '  - { name: A, interface: eth0, vrid: 1, virtual_ips: [10.213.0.1/24], notify: { any: ' + slow + ' } }',
    '  - { name: B, interface: eth0, vrid: 2, virtual_ips: [10.213.0.2/24], notify: { any: ' + fast + ' } }',
    'sync_groups:',
    `  - { name: G1, instances: [A, B], notify: { any: ${fast} } }`,
  ].join('\n');
  const events = new EventStream();
  const n = Notifiers.start(config(yaml), events, memoryLogger());
  try {
    events.emit(state('A', 'initialize', 'backup', 100, 'startup'));
    events.emit(state('B', 'initialize', 'backup', 90, 'startup'));
    events.emit({ kind: 'group-state', group: 'G1', from: 'initialize', to: 'backup', instances: ['A', 'B'] });
    // B and G1 run while A's script still sleeps.
    await until(() => existsSync(log) && /GROUP G1 BACKUP 0 G1 A B\n/.test(readFileSync(log, 'utf8')) && /INSTANCE B BACKUP 90 G1 \n/.test(readFileSync(log, 'utf8')), () => 'the group and B scripts ran');
    const early = readFileSync(log, 'utf8').trim().split('\n');
    assert.ok(early.includes('fast INSTANCE B BACKUP 90 G1 '), early.join('\n'));
    assert.ok(early.includes('fast GROUP G1 BACKUP 0 G1 A B'), early.join('\n'));
    assert.ok(!early.some((l) => l.startsWith('slow') && l !== 'slow INSTANCE A BACKUP 100'));
    events.emit({ kind: 'daemon-stopping', reason: 'stop' });
    events.emit({ kind: 'daemon-stopped' });
    await n.stop(10_000);
    assert.ok(readFileSync(log, 'utf8').includes('fast GROUP G1 STOP 0 G1 A B'));
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify scripts: a hung script is killed with its process group at the timeout, counted and logged; the next one runs', async () => {
  const dir = tempDir();
  const pids = path.join(dir, 'pids');
  const log = path.join(dir, 'log');
  // The script starts a child that would outlive it, then hangs.
  const hang = script(dir, 'hang.sh', `sleep 60 & echo $! > ${pids}; echo $$ >> ${pids}; wait`);
  const after = script(dir, 'after.sh', `echo "after $*" >> ${log}`);
  const c = config(instanceYaml(`master: ${hang}\nany: ${after}`, 'notifiers: { script_timeout: 500ms }'));
  const events = new EventStream();
  const logger = memoryLogger();
  const n = Notifiers.start(c, events, logger);
  try {
    const t0 = performance.now();
    events.emit(state('VI_1', 'backup', 'master'));
    await until(() => existsSync(log) && readFileSync(log, 'utf8').endsWith('\n'), () => 'the generic script ran after the hung one', 10_000);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 450, `the hung script was given its 500 ms (${elapsed.toFixed(0)} ms)`);
    assert.equal(readFileSync(log, 'utf8'), 'after INSTANCE VI_1 MASTER 100\n');
    const [child, parent] = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    for (const pid of [child, parent]) assert.ok(!running(pid ?? 0), `pid ${pid} is gone`);
    assert.equal(n.status().scripts.timedOut, 1);
    const line = logger.lines.find((l) => l.event === 'notify-script-failed');
    assert.equal(line?.level, 'error');
    assert.match(String(line?.fields['result']), /timed out after 500 ms; its process group was killed/);
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify scripts: a script made unsafe after the config was loaded is refused when its turn comes', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'log');
  const s = script(dir, 'm.sh', `echo ran >> ${log}`);
  const c = config(instanceYaml(`master: ${s}`));
  chmodSync(s, 0o777);
  const events = new EventStream();
  const logger = memoryLogger();
  const n = Notifiers.start(c, events, logger);
  try {
    events.emit(state('VI_1', 'backup', 'master'));
    await until(() => n.status().scripts.refused === 1, () => 'refused');
    assert.equal(existsSync(log), false);
    const line = logger.lines.find((l) => l.event === 'notify-script-refused');
    assert.match(String(line?.fields['detail']), /m\.sh is writable by others \(mode 777\); refused/);
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify scripts: a backlog is reported, nothing is dropped, and a reload changes the scripts of what is still queued', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'log');
  const first = script(dir, 'first.sh', `echo "first $4" >> ${log}; sleep 0.05`);
  const second = script(dir, 'second.sh', `echo "second $4" >> ${log}`);
  const events = new EventStream();
  const logger = memoryLogger();
  const n = Notifiers.start(config(instanceYaml(`any: ${first}`)), events, logger);
  try {
    for (let i = 0; i < 30; i++) events.emit(state('VI_1', i % 2 ? 'master' : 'backup', i % 2 ? 'backup' : 'master', i));
    assert.ok(logger.lines.some((l) => l.event === 'notify-backlog' && l.level === 'warn'));
    assert.ok(n.status().scripts.backlog >= 10);
    await until(() => existsSync(log), () => 'the first script ran');
    await n.reload(config(instanceYaml(`any: ${second}`)));
    await n.stop(20_000);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(lines.length, 30, 'every notification ran');
    assert.deepEqual(lines.map((l) => Number(l.split(' ')[1])), [...Array(30).keys()], 'in order');
    assert.ok(lines[0]?.startsWith('first'));
    assert.ok(lines[29]?.startsWith('second'), 'the queued ones ran with the reloaded script');
    assert.equal(n.status().scripts.abandoned, 0);
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify scripts: script_user runs them as that user', async () => {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  chmodSync(out, 0o777);
  const s = script(dir, 'who.sh', `id -u > ${out}/uid`);
  const events = new EventStream();
  const n = Notifiers.start(config(instanceYaml(`master: ${s}`, 'notifiers: { script_user: nobody }')), events, memoryLogger());
  try {
    events.emit(state('VI_1', 'backup', 'master'));
    await until(() => existsSync(`${out}/uid`) && readFileSync(`${out}/uid`, 'utf8').trim() !== '', () => 'the script ran');
    assert.equal(readFileSync(`${out}/uid`, 'utf8').trim(), '65534');
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify: a reload that removes an instance gives DELETED, one that recreates it nothing; MASTER_RX_LOWER_PRI runs only its own script', async () => {
  const tr = new NotificationTranslator();
  const events = new EventStream();
  const seen: string[] = [];
  events.subscribe((e) => {
    for (const n of tr.translate(e)) seen.push(`${n.type} ${n.name} ${n.state} ${n.priority} (was ${n.previous})`);
  });
  events.emit(state('A', 'initialize', 'master', 100, 'startup'));
  events.emit(state('B', 'initialize', 'backup', 90, 'startup'));
  events.emit(state('A', 'master', 'initialize', 100, 'shutdown'));
  events.emit(state('B', 'backup', 'initialize', 90, 'shutdown'));
  events.emit(state('B', 'initialize', 'backup', 90, 'startup'));
  events.emit({ kind: 'reloaded', config: 'c', changes: [{ instance: 'A', change: 'removed' }, { instance: 'B', change: 'recreate' }] });
  events.emit({ kind: 'master-rx-lower-priority', instance: 'B', from: '10.213.0.9', priority: 10, ownPriority: 90 });
  assert.deepEqual(seen, [
    'INSTANCE A MASTER 100 (was INIT)',
    'INSTANCE B BACKUP 90 (was INIT)',
    'INSTANCE B BACKUP 90 (was BACKUP)',
    'INSTANCE A DELETED 100 (was MASTER)',
    'INSTANCE B MASTER_RX_LOWER_PRI 90 (was BACKUP)',
  ]);

  const dir = tempDir();
  const log = path.join(dir, 'log');
  const lower = script(dir, 'lower.sh', `echo "lower $*" >> ${log}`);
  const any = script(dir, 'any.sh', `echo "any $*" >> ${log}`);
  const del = script(dir, 'del.sh', `echo "deleted $VIGIL_STATE" >> ${log}`);
  const n = Notifiers.start(config(instanceYaml(`master_rx_lower_pri: "${lower} x"\nany: ${any}\ndeleted: ${del}`)), events, memoryLogger());
  try {
    events.emit(state('VI_1', 'initialize', 'master', 100, 'startup'));
    events.emit({ kind: 'master-rx-lower-priority', instance: 'VI_1', from: '10.213.0.9', priority: 10, ownPriority: 100 });
    events.emit(state('VI_1', 'master', 'initialize', 100, 'shutdown'));
    events.emit({ kind: 'reloaded', config: 'c', changes: [{ instance: 'VI_1', change: 'removed' }] });
    await n.stop(10_000);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['any INSTANCE VI_1 MASTER 100', 'lower x', 'deleted DELETED', 'any INSTANCE VI_1 DELETED 100']);
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil check-config refuses an unsafe notify script with file:line:column and exit status 1', async () => {
  const dir = tempDir();
  try {
    const s = script(dir, 'up.sh', 'exit 0', 0o775);
    const file = path.join(dir, 'vigil.yaml');
    writeFileSync(file, instanceYaml(`master: ${s}`));
    const r = await promisify(execFile)(process.execPath, [MAIN, 'check-config', '-c', file]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${file}:8:15: instances\\[0\\]\\.notify\\.master: unsafe script: ${s} is writable by its group \\(mode 775\\)`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify scripts: at the stop deadline what has not started is counted as abandoned and logged; the running one is not', async () => {
  const dir = tempDir();
  const s = script(dir, 'slow.sh', 'sleep 2');
  const events = new EventStream();
  const logger = memoryLogger();
  const n = Notifiers.start(config(instanceYaml(`any: ${s}`)), events, logger);
  try {
    for (let i = 0; i < 3; i++) events.emit(state('VI_1', 'backup', 'master'));
    await until(() => n.status().scripts.started === 1, () => 'the first started');
    await n.stop(300);
    const st = n.status().scripts;
    assert.equal(st.abandoned, 2);
    assert.equal(st.backlog, 0);
    assert.equal(logger.lines.find((l) => l.event === 'notify-abandoned')?.fields['waiting'], 2);
    // The running one ends by itself (or at its timeout); nothing goes negative.
    await sleep(2500);
    assert.equal(n.status().scripts.backlog, 0);
    assert.equal(n.status().scripts.started, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
