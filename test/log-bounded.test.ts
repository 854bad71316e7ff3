/**
 * Bounded logging and a bounded control socket (issue 10 §3): repeated warnings are
 * rate-limited per (event, instance, reason) with an exact "suppressed N" summary; a
 * stdout that is read slowly (a real pipe) never holds more than the bound and the state
 * changes survive; the journal's native protocol carries INSTANCE=, VRID=, STATE= (a real
 * AF_UNIX datagram socket standing in for journald); half-open control connections are
 * timed out and capped while `status` still gets through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DaemonLog, lineSink, type LogRecord } from '../src/daemon/logger.js';
import { BoundedWriter, JournalSink, journalDatagram } from '../src/daemon/log-sink.js';
import { ControlServer, controlRequest, controlSocketPath } from '../src/daemon/control.js';
import { AF_UNIX } from '../src/net/af.js';
import { SOCK_DGRAM, native } from '../src/native/index.js';
import { sockaddrUn } from '../src/net/sockaddr.js';
import { until } from '../src/lab/wait.js';

test('log: repeated warnings are limited per (event, instance, reason); the summary counts every suppressed line', async () => {
  const lines: string[] = [];
  let now = 0;
  const log = new DaemonLog(
    lineSink('json', (l) => lines.push(l)),
    { rateLimit: { burst: 5, windowMs: 1000, maxKeys: 16 }, now: () => now },
  );
  for (let i = 0; i < 10_000; i++) {
    log.log('warn', 'advert-dropped', { instance: 'gw', reason: 'ttl', src: `10.213.0.${i % 250}` });
    if (i % 1000 === 0) log.log('warn', 'advert-dropped', { instance: 'gw', reason: 'checksum' });
    if (i === 5000) log.log('warn', 'state-change', { instance: 'gw', from: 'master', to: 'fault' });
  }
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(parsed.filter((p) => p['reason'] === 'ttl').length, 5, 'the burst of one key, nothing more within the window');
  assert.equal(parsed.filter((p) => p['reason'] === 'checksum').length, 5, 'another reason has its own budget');
  assert.equal(parsed.filter((p) => p['event'] === 'state-change').length, 1, 'a state change is never rate-limited');
  assert.equal(log.stats().suppressed, 9995 + 5);
  now = 1000;
  log.log('warn', 'advert-dropped', { instance: 'gw', reason: 'ttl', src: '10.213.0.1' });
  const summary = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p['suppressed'] !== undefined && p['reason'] === 'ttl');
  assert.ok(summary, 'the window ended with a summary line');
  assert.equal(summary['suppressed'], 9995);
  assert.equal(summary['instance'], 'gw');
  assert.equal(summary['src'], undefined, 'the summary carries the key, not one packet\'s source');
  log.flush();
  const checksum = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p['suppressed'] !== undefined && p['reason'] === 'checksum');
  assert.equal(checksum?.['suppressed'], 5, 'flush (at stop) writes the open windows\' summaries');
});

test('log: a summary is written when the window ends even if the flood stopped', async () => {
  const lines: string[] = [];
  const log = new DaemonLog(lineSink('text', (l) => lines.push(l)), { rateLimit: { burst: 1, windowMs: 50, maxKeys: 16 } });
  for (let i = 0; i < 100; i++) log.log('warn', 'heartbeat-dropped', { reason: 'replay', from: '10.213.0.2' });
  assert.equal(lines.length, 1);
  await until(() => lines.length === 2, () => 'the summary line', 2000);
  assert.match(lines[1] as string, /^WARN  heartbeat-dropped reason=replay suppressed=99 /);
});

test('log: distinct keys beyond maxKeys share one summary; the tracking stays bounded', () => {
  const lines: string[] = [];
  const log = new DaemonLog(lineSink('json', (l) => lines.push(l)), { rateLimit: { burst: 1, windowMs: 60_000, maxKeys: 8 }, now: () => 0 });
  for (let i = 0; i < 1000; i++) log.log('warn', 'advert-dropped', { instance: `i${i}`, reason: 'ttl' });
  assert.equal(lines.length, 8);
  log.flush();
  const other = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p['event'] === 'log-lines-suppressed');
  assert.equal(other?.['suppressed'], 992);
});

function record(event: string, priority: boolean, i: number): LogRecord {
  return { time: new Date(), level: priority ? 'info' : 'warn', event, fields: [['instance', 'gw'], ['n', i], ['detail', 'x'.repeat(150)]], priority };
}

test('log: a stdout pipe read slowly holds at most the bound; state changes survive, the drop is reported once it drains', async (t) => {
  // A real pipe: the child reads nothing for a while, then everything.
  const child = spawn('sh', ['-c', 'sleep 1; cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out: string[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => out.push(c));
  const ended = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const bound = 64 * 1024;
  const writer = new BoundedWriter(child.stdin, 'json', bound);
  const before = process.memoryUsage().rss;
  let maxHeld = 0;
  for (let i = 0; i < 200_000; i++) {
    writer.write(record(i % 1000 === 0 ? 'state-change' : 'advert-dropped', i % 1000 === 0, i));
    if (i % 1000 === 0) maxHeld = Math.max(maxHeld, writer.stats().queuedBytes + child.stdin.writableLength);
  }
  const grown = process.memoryUsage().rss - before;
  const stats = writer.stats();
  t.diagnostic(`200,000 lines (~40 MB) into a stalled pipe: held at most ${maxHeld} bytes, dropped ${stats.dropped}, RSS grew ${(grown / 1048576).toFixed(1)} MiB`);
  assert.ok(maxHeld <= bound + 16 * 1024 + 1024, `held ${maxHeld} bytes (bound ${bound} + stdout's own 16 KB)`);
  assert.ok(stats.dropped > 150_000, `most of 200,000 lines (~200 bytes each) were dropped: ${stats.dropped}`);
  assert.equal(stats.droppedPriority, 0, 'no state change was dropped while warnings could go first');
  assert.ok(grown < 64 * 1024 * 1024, `RSS grew ${Math.round(grown / 1048576)} MB writing 40 MB of lines`);
  await until(() => out.join('').includes('log-lines-dropped'), () => 'the drop report once the reader catches up', 20_000);
  child.stdin.end();
  await ended;
  const lines = out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const states = lines.filter((l) => l['event'] === 'state-change').map((l) => l['n']);
  assert.equal(states.length, 200, 'every state change reached the reader');
  const ns = lines.filter((l) => l['n'] !== undefined).map((l) => l['n'] as number);
  assert.deepEqual(ns, [...ns].sort((a, b) => a - b), 'lines arrive in the order they were logged');
  const report = lines.find((l) => l['event'] === 'log-lines-dropped');
  assert.equal(report?.['dropped'], stats.dropped);
  assert.equal(lines.filter((l) => l['event'] === 'advert-dropped').length + stats.dropped, 200_000 - 200, 'written + dropped = logged');
});

test('log: the journal native protocol carries the structured fields (a unixgram socket standing in for journald)', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-journal-'));
  const n = native();
  const socketPath = path.join(dir, 'socket');
  const server = n.socket(AF_UNIX, SOCK_DGRAM, 0);
  let serverOpen = true;
  t.after(() => {
    if (serverOpen) n.close(server);
    rmSync(dir, { recursive: true, force: true });
  });
  n.bind(server, sockaddrUn(socketPath));
  const journal = JournalSink.open(socketPath);
  const log = new DaemonLog(journal);
  log.log('info', 'state-change', { instance: 'gw', vrid: 51, family: 'ipv4', from: 'backup', to: 'master', reason: 'master-down' });
  log.log('warn', 'quorum-warning', { detail: 'two\nlines' });
  const first = n.recvmsg(server, 65536, 0);
  const second = n.recvmsg(server, 65536, 0);
  assert.ok(first && second, 'two datagrams');
  const text = first.data.toString('utf8');
  for (const f of ['INSTANCE=gw', 'VRID=51', 'STATE=master', 'PRIORITY=6', 'SYSLOG_IDENTIFIER=vigil', 'VIGIL_EVENT=state-change', 'REASON=master-down']) {
    assert.ok(text.split('\n').includes(f), `${f} in ${JSON.stringify(text)}`);
  }
  assert.match(text, /^MESSAGE=INFO  state-change instance=gw vrid=51 /m);
  // A value with a newline: KEY\n, 64-bit LE length, value, \n.
  const d = second.data;
  const at = d.indexOf('DETAIL\n');
  assert.ok(at >= 0);
  assert.equal(d.readBigUInt64LE(at + 7), 9n);
  assert.equal(d.subarray(at + 15, at + 24).toString(), 'two\nlines');
  assert.equal(journalDatagram({ time: new Date(), level: 'error', event: 'x', fields: [], priority: true }).includes('PRIORITY=3\n'), true);
  // Nobody listening: dropped and counted, never thrown into the engine.
  n.close(server);
  serverOpen = false;
  rmSync(socketPath);
  log.log('info', 'state-change', { instance: 'gw', to: 'backup' });
  assert.equal(journal.stats().dropped, 1);
  assert.equal(journal.stats().droppedPriority, 1);
  journal.close();
});

test('control: 2,000 half-open connections do not keep `status` out; they are timed out and capped', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-ctl-'));
  const server = await ControlServer.listen(dir, () => ({ ok: true, result: { alive: true } }), { requestTimeoutMs: 1500, maxPending: 64 });
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const count = { connected: 0 };
  for (let batch = 0; batch < 40; batch++) {
    const settled: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const s = createConnection(controlSocketPath(dir));
      sockets.push(s);
      settled.push(
        new Promise((resolve) => {
          s.on('error', () => resolve());
          // Half a request, never finished.
          s.on('connect', () => {
            count.connected++;
            s.write('{"command":');
            resolve();
          });
        }),
      );
    }
    await Promise.all(settled);
    // The kernel's connect succeeds once in the backlog; give the daemon time to accept.
    await new Promise((r) => setTimeout(r, 20));
  }
  await until(() => server.stats().evicted > 0, () => 'the oldest waiting connections are closed for new ones', 10_000);
  assert.ok(server.stats().pending <= 64, `pending ${server.stats().pending}`);
  const answer = await controlRequest(dir, { command: 'status' }, 3000);
  assert.deepEqual(answer, { ok: true, result: { alive: true } });
  await until(() => server.stats().pending === 0, () => 'every half-open connection closed by the daemon', 10_000);
  assert.ok(count.connected >= 1900, `${count.connected} of 2,000 connected`);
  const stats = server.stats();
  assert.equal(stats.evicted + stats.timedOut, count.connected, 'each connection that got in was evicted or timed out');
  assert.ok(stats.timedOut > 0 && stats.timedOut <= 64, `timed out: ${stats.timedOut}`);
});

test('control: a stream waiting for events is not idle; streams beyond the cap are refused', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-ctl-'));
  const server = await ControlServer.listen(dir, () => ({ stream: true, initial: [], follow: () => () => undefined }), { requestTimeoutMs: 200, maxStreams: 2 });
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = (): Promise<{ socket: Socket; first: string }> =>
    new Promise((resolve) => {
      const s = createConnection(controlSocketPath(dir));
      sockets.push(s);
      s.setEncoding('utf8');
      s.on('connect', () => s.write('{"command":"events","args":{"follow":true}}\n'));
      s.once('data', (d: string) => resolve({ socket: s, first: d }));
    });
  const a = await open();
  const b = await open();
  assert.match(a.first, /"stream":true/);
  assert.match(b.first, /"stream":true/);
  const c = await open();
  assert.match(c.first, /too many streams open \(2\)/);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(a.socket.destroyed || a.socket.readableEnded, false, 'a following stream outlives the request timeout');
  assert.equal(server.stats().streams, 2);
  assert.equal(server.stats().streamsRefused, 1);
});

test('control: requests refused before any command ran are counted per reason and reported', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-ctl-'));
  const told: string[] = [];
  const server = await ControlServer.listen(dir, () => ({ ok: true, result: { alive: true } }), { onReject: (reason) => told.push(reason) });
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const send = (data: string): Promise<string> =>
    new Promise((resolve) => {
      const s = createConnection(controlSocketPath(dir));
      let answer = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(data));
      s.on('data', (d: string) => (answer += d));
      s.on('close', () => resolve(answer));
    });
  assert.match(await send('\u0000\u00ff garbage\n'), /"the request is not JSON"/);
  assert.match(await send('[1,2]\n'), /needs a \\"command\\" string/);
  assert.match(await send(`${'x'.repeat(70 * 1024)}`), /request too large/);
  assert.equal((await controlRequest(dir, { command: 'status' })).ok, true, 'a valid request is not counted');
  assert.deepEqual(server.stats().rejected, { 'not-json': 1, 'no-command': 1, 'too-large': 1 });
  assert.deepEqual(told, ['not-json', 'no-command', 'too-large']);
});
