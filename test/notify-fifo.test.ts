/**
 * The notify FIFO with real FIFOs and real readers: keepalived's own sample reader
 * (Debian's keepalived ships doc/samples/sample_notify_fifo.sh) started as the fifo script
 * reads vigil's lines; a reader that stalls while thousands of lines are written, then
 * resumes, gets every line in order; past buffer_lines the loss is counted and logged;
 * something else at the path is refused. And Pacemaker's alert_file.sh.sample (Debian's
 * pacemaker-common) run as an alert agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig, formatIssue } from '../src/config/load.js';
import type { VigilConfig } from '../src/config/types.js';
import { memoryLogger } from '../src/daemon/logger.js';
import { EventStream } from '../src/events/stream.js';
import type { VigilEvent } from '../src/events/types.js';
import { FifoWriter } from '../src/notify/fifo.js';
import { Notifiers } from '../src/notify/notifiers.js';
import type { RouterState } from '../src/vrrp/types.js';
import { until } from '../src/lab/wait.js';

const KEEPALIVED_SAMPLE = '/usr/share/doc/keepalived/samples/sample_notify_fifo.sh.gz';
const ALERT_FILE_SAMPLE = '/usr/share/pacemaker/alerts/alert_file.sh.sample';

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'vigil-fifo-'));
}

function config(yaml: string): VigilConfig {
  const r = parseConfig(yaml, 'vigil.yaml');
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  return r.config;
}

const INSTANCES = ['instances:', '  - { name: VI_1, interface: eth0, vrid: 51, priority: 100, virtual_ips: [10.213.0.100/24] }', 'sync_groups:', '  - { name: G1, instances: [VI_1] }'].join('\n');

function state(instance: string, from: RouterState, to: RouterState, priority = 100, reason = 'master-down-timer'): VigilEvent {
  return { kind: 'instance-state', instance, vrid: 51, family: 'ipv4', interface: 'eth0', from, to, reason, detail: '', priority, basePriority: 100, master: null };
}

test("notify FIFO: keepalived's sample reader, started as the fifo script, reads keepalived's lines", { skip: existsSync(KEEPALIVED_SAMPLE) ? false : `${KEEPALIVED_SAMPLE} missing (apt-get install keepalived)` }, async () => {
  const dir = tempDir();
  // A unique FIFO name: the sample logs to /tmp/NAME.log and locks /run/NAME.pid.
  const name = `vigil-test-${process.pid}-${Date.now()}.fifo`;
  const fifo = path.join(dir, name);
  const sampleLog = `/tmp/${name}.log`;
  const reader = path.join(dir, 'sample_notify_fifo.sh');
  writeFileSync(reader, gunzipSync(readFileSync(KEEPALIVED_SAMPLE)));
  chmodSync(reader, 0o755);
  const c = config(`${INSTANCES}\nnotifiers:\n  fifo: { path: ${fifo}, script: ${reader}, priority_changes: true }\n`);
  const events = new EventStream();
  const logger = memoryLogger();
  const n = Notifiers.start(c, events, logger);
  try {
    const st = statSync(fifo);
    assert.ok(st.isFIFO());
    assert.equal(st.mode & 0o777, 0o600);
    events.emit(state('VI_1', 'initialize', 'backup', 100, 'startup'));
    events.emit({ kind: 'group-state', group: 'G1', from: 'initialize', to: 'backup', instances: ['VI_1'] });
    events.emit(state('VI_1', 'backup', 'master'));
    events.emit({ kind: 'group-state', group: 'G1', from: 'backup', to: 'master', instances: ['VI_1'] });
    events.emit({ kind: 'master-rx-lower-priority', instance: 'VI_1', from: '10.213.0.2', priority: 50, ownPriority: 100 });
    events.emit({ kind: 'priority-changed', instance: 'VI_1', from: 100, to: 90, basePriority: 100 });
    const want = ['INSTANCE VI_1 BACKUP 100', 'GROUP G1 BACKUP 0', 'INSTANCE VI_1 MASTER 100', 'GROUP G1 MASTER 0', 'INSTANCE VI_1 MASTER_RX_LOWER_PRI 100', 'INSTANCE VI_1 MASTER_PRIORITY 90'];
    const read = (): string[] =>
      existsSync(sampleLog)
        ? readFileSync(sampleLog, 'utf8')
            .split('\n')
            .filter((l) => /\]\s(INSTANCE|GROUP)/.test(l))
            .map((l) => l.replace(/^.*\]\s/, ''))
        : [];
    await until(() => read().length >= want.length, () => `the sample reader logged ${JSON.stringify(read())}`, 15_000);
    assert.deepEqual(read(), want);
    assert.deepEqual({ ...n.status().fifo, scriptPid: null }, { path: fifo, written: 6, backlog: 0, maxBacklog: 1, lost: 0, scriptPid: null });
    const pid = n.status().fifo?.scriptPid;
    assert.ok(typeof pid === 'number');
    await n.stop(1000);
    // Stopped at exit (SIGTERM; the sample logs STOPPING), and the FIFO vigil made is gone.
    await until(() => readFileSync(sampleLog, 'utf8').includes('STOPPING'), () => 'the sample reader stopped', 5000);
    assert.equal(existsSync(fifo), false);
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
    rmSync(sampleLog, { force: true });
    rmSync(`/run/${name}.pid`, { force: true });
  }
});

test('notify FIFO: a reader that stalls while 20000 lines are written, then resumes, gets every line in order', async () => {
  const dir = tempDir();
  const fifo = path.join(dir, 'notify.fifo');
  const logger = memoryLogger();
  const w = FifoWriter.open({ path: fifo, bufferLines: 50_000, retryMs: 5 }, logger);
  const out = path.join(dir, 'out');
  try {
    // No reader yet: the pipe (64 KiB) fills, the rest waits in memory.
    for (let i = 0; i < 20_000; i++) w.write(`INSTANCE "VI_${i}" MASTER 100`);
    const stalled = w.status();
    assert.ok(stalled.backlog > 10_000, `lines wait in memory (${stalled.backlog})`);
    assert.equal(stalled.lost, 0);
    // The reader comes.
    const cat = spawn('sh', ['-c', `exec cat ${fifo} > ${out}`], { stdio: 'ignore' });
    try {
      await until(() => w.status().backlog === 0, () => `backlog ${w.status().backlog}`, 20_000);
      await until(() => readFileSync(out, 'utf8').split('\n').length > 20_000, () => 'cat read everything', 10_000);
    } finally {
      cat.kill('SIGKILL');
    }
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 20_000);
    for (let i = 0; i < lines.length; i++) assert.equal(lines[i], `INSTANCE "VI_${i}" MASTER 100`);
    assert.equal(w.status().written, 20_000);
    assert.equal(w.status().lost, 0);
  } finally {
    await w.close(100, 100);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify FIFO: past buffer_lines the lost lines are counted and logged, never silently', async () => {
  const dir = tempDir();
  const fifo = path.join(dir, 'notify.fifo');
  const logger = memoryLogger();
  const w = FifoWriter.open({ path: fifo, bufferLines: 100, retryMs: 5 }, logger);
  try {
    // Lines of 997 bytes: the pipe takes about 65, the buffer 100, the rest is lost.
    const filler = 'x'.repeat(990);
    for (let i = 0; i < 500; i++) w.write(`${String(i).padStart(5, '0')} ${filler}`);
    const s = w.status();
    assert.equal(s.backlog, 100);
    assert.ok(s.lost > 0 && s.written + s.backlog + s.lost === 500, JSON.stringify(s));
    const line = logger.lines.find((l) => l.event === 'fifo-lines-lost');
    assert.equal(line?.level, 'error');
    // The reader catches up: the caught-up line says how many were lost.
    const out = path.join(dir, 'out');
    const reader = spawn('sh', ['-c', `exec timeout 10 head -c ${(s.written + 100) * 997} ${fifo} > ${out}`], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => reader.once('exit', (code) => resolve(code)));
    assert.equal(await exited, 0);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, s.written + 100);
    // In order, and the lost ones are the last ones (the newest are refused when the buffer is full).
    lines.forEach((l, i) => assert.equal(l.slice(0, 5), String(i).padStart(5, '0')));
    await until(() => logger.lines.some((l) => l.event === 'fifo-caught-up'), () => 'caught up');
    assert.equal(logger.lines.find((l) => l.event === 'fifo-caught-up')?.fields['lost'], s.lost);
  } finally {
    await w.close(100, 100);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify FIFO: a file, a symlink or a FIFO writable by others at the path is refused', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'file');
    writeFileSync(file, '');
    assert.throws(() => FifoWriter.open({ path: file, bufferLines: 10 }, memoryLogger()), new RegExp(`notify FIFO ${file}: something that is not a FIFO is there; refused`));
    const link = path.join(dir, 'link');
    symlinkSync(file, link);
    assert.throws(() => FifoWriter.open({ path: link, bufferLines: 10 }, memoryLogger()), /is a symbolic link; refused/);
    const open = path.join(dir, 'open.fifo');
    execFileSync('mkfifo', ['-m', '0666', open]);
    chmodSync(open, 0o666);
    assert.throws(() => FifoWriter.open({ path: open, bufferLines: 10 }, memoryLogger()), /writable by others \(mode 666\); refused/);
    assert.equal(readFileSync(file, 'utf8'), '', 'the file is left alone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify FIFO: json lines carry whole events; write_states_on_reload writes every state after a reload', async () => {
  const dir = tempDir();
  const fifo = path.join(dir, 'f');
  const events = new EventStream();
  const n = Notifiers.start(config(`${INSTANCES}\nnotifiers:\n  fifo: { path: ${fifo}, write_states_on_reload: true }\n`), events, memoryLogger());
  const lines: string[] = [];
  try {
    assert.ok(n.fifo);
    n.fifo.onWritten = (l) => lines.push(l);
    events.emit(state('VI_1', 'initialize', 'backup', 100, 'startup'));
    events.emit({ kind: 'group-state', group: 'G1', from: 'initialize', to: 'backup', instances: ['VI_1'] });
    events.emit({ kind: 'reloaded', config: 'vigil.yaml', changes: [{ instance: 'VI_1', change: 'unchanged' }] });
    assert.deepEqual(lines, ['INSTANCE "VI_1" BACKUP 100', 'GROUP "G1" BACKUP 0', 'INSTANCE "VI_1" BACKUP 100', 'GROUP "G1" BACKUP 0']);
  } finally {
    await n.stop(1000);
  }
  const jfifo = path.join(dir, 'j');
  const j = Notifiers.start(config(`${INSTANCES}\nnotifiers:\n  fifo: { path: ${jfifo}, format: json }\n`), events, memoryLogger());
  try {
    const got: string[] = [];
    assert.ok(j.fifo);
    j.fifo.onWritten = (l) => got.push(l);
    const e = events.emit(state('VI_1', 'backup', 'master'));
    assert.deepEqual(got.map((l) => JSON.parse(l) as unknown), [JSON.parse(JSON.stringify(e)) as unknown]);
  } finally {
    await j.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("alert agents: Pacemaker's alert_file.sh.sample gets resource, node and attribute alerts in order", { skip: existsSync(ALERT_FILE_SAMPLE) ? false : `${ALERT_FILE_SAMPLE} missing (apt-get install pacemaker-common)` }, async () => {
  const dir = tempDir();
  const recipient = path.join(dir, 'alerts.log');
  const c = config(
    `${INSTANCES}\nresources:\n  - { name: web, type: exec, command: [/bin/sleep, "1000"], monitor_interval: 10s }\nnotifiers:\n  alerts:\n    - { path: ${ALERT_FILE_SAMPLE}, recipient: ${recipient} }\n    - { path: ${ALERT_FILE_SAMPLE}, recipient: ${recipient}.nodes, kinds: [node] }\n`,
  );
  const events = new EventStream();
  const n = Notifiers.start(c, events, memoryLogger(), 'nodeA');
  try {
    events.emit({ kind: 'resource-op', resource: 'web', op: 'start', rc: 0, ok: true, detail: '', durationMs: 12, failCount: 0 });
    events.emit({ kind: 'resource-op', resource: 'web', op: 'monitor', rc: 7, ok: false, detail: 'not running', durationMs: 3, failCount: 1 });
    events.emit({ kind: 'member-left', node: 2, name: 'nodeB', silentMs: 1500 });
    events.emit({ kind: 'member-joined', node: 2, name: 'nodeB' });
    events.emit({ kind: 'node-standby', on: true });
    await n.stop(20_000);
    const strip = (file: string): string[] =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d{6}: /, ''));
    assert.deepEqual(strip(recipient), [
      "Resource operation 'start' for 'web' on 'nodeA': ok",
      "Resource operation 'monitor (10000)' for 'web' on 'nodeA': not running",
      "Node 'nodeB' is now 'lost'",
      "Node 'nodeB' is now 'member'",
      "Attribute 'standby' on node 'nodeA' was updated to 'on'",
    ]);
    assert.deepEqual(strip(`${recipient}.nodes`), ["Node 'nodeB' is now 'lost'", "Node 'nodeB' is now 'member'"]);
    assert.deepEqual(n.status().alerts, { backlog: 0, started: 7, failed: 0, timedOut: 0, refused: 0 });
  } finally {
    await n.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});
