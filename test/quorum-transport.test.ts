/**
 * Heartbeats over real UDP sockets (src/quorum/io/transport.ts) between lab namespaces on
 * one bridge: hosts a (node 1) and b (node 2) share the key; c holds another key.
 * Each node is test/support/heartbeat-driver.js run inside its namespace, with the whole
 * receive path (decode, then membership with the replay rule).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { labAvailable, withLab, type Lab } from '../src/lab/netns.js';
import { Capture } from '../src/lab/capture.js';
import { generateKey } from '../src/quorum/io/authkey.js';
import { HeartbeatTransport, type HeartbeatDestination, type HeartbeatTransportOptions } from '../src/quorum/io/transport.js';
import { sleep } from '../src/lab/wait.js';
import { onLines } from '../src/lab/lines.js';
import { SCM_TIMESTAMPNS, SO_TIMESTAMPNS, native } from '../src/native/index.js';

const available = labAvailable();
const skip = available.ok ? false : available.reason;

const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'heartbeat-driver.js');

interface DriverLine {
  readonly event: string;
  readonly [key: string]: unknown;
}

interface Received extends DriverLine {
  readonly event: 'received';
  readonly source: { address: string; port: number; family: string };
  /** How long before the read the kernel received it (SO_TIMESTAMPNS). */
  readonly ageMs: number;
  readonly hex: string;
  readonly result: string;
  readonly events: { type: string; id: number; reason: string }[];
  readonly members: number[];
}

/** A driver process on a lab host, its JSON lines collected. */
class Driver {
  readonly lines: DriverLine[] = [];
  stderr = '';
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly host: string,
    readonly child: ChildProcess,
  ) {
    onLines(child.stdout, (line) => this.lines.push(JSON.parse(line) as DriverLine), () => {
      for (const w of [...this.waiters]) w();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.stderr += d));
    child.once('exit', () => {
      for (const w of [...this.waiters]) w();
    });
  }

  static async start(lab: Lab, host: string, config: Record<string, unknown>): Promise<Driver> {
    const d = new Driver(host, lab.spawn(host, process.execPath, [DRIVER, JSON.stringify(config)]));
    await d.waitFor((l) => l.event === 'ready', 'ready');
    return d;
  }

  command(op: Record<string, unknown>): void {
    this.child.stdin?.write(`${JSON.stringify(op)}\n`);
  }

  received(): Received[] {
    return this.lines.filter((l): l is Received => l.event === 'received');
  }

  waitFor(pred: (l: DriverLine) => boolean, what: string, timeoutMs = 5000): Promise<DriverLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.find(pred);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`driver on ${this.host} exited before ${what}: ${this.stderr}`));
        }
      };
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`driver on ${this.host}: no ${what} within ${timeoutMs} ms; lines: ${JSON.stringify(this.lines)}; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a command and waits for the `sent` line it produces (the n-th, counting from 1). */
  async send(op: Record<string, unknown>): Promise<DriverLine> {
    const before = this.lines.filter((l) => l.event === 'sent').length;
    this.command(op);
    return this.waitFor((l) => l.event === 'sent' && this.lines.filter((x) => x.event === 'sent').indexOf(l) === before, 'sent');
  }

  waitReceived(pred: (r: Received) => boolean, what: string, timeoutMs = 5000): Promise<Received> {
    return this.waitFor((l) => l.event === 'received' && pred(l as Received), what, timeoutMs) as Promise<Received>;
  }
}

async function scenario(lab: Lab, destination: (self: string) => HeartbeatDestination): Promise<void> {
  const key = generateKey().toString('base64');
  const otherKey = generateKey().toString('base64');
  const nodes = [1, 2, 3];
  const base = { cluster: 'lab', nodes };
  const a = await Driver.start(lab, 'a', { ...base, key, nodeId: 1, localAddress: lab.host('a').ipv4, destination: destination('a') });
  const b = await Driver.start(lab, 'b', { ...base, key, nodeId: 2, localAddress: lab.host('b').ipv4, destination: destination('b') });
  // c forges node 1's heartbeats with a key of its own.
  const c = await Driver.start(lab, 'c', { ...base, key: otherKey, nodeId: 1, localAddress: lab.host('c').ipv4, destination: destination('c') });

  // a -> b: b accepts and node 1 joins.
  const sent1 = await a.send({ op: 'beat' });
  const got1 = await b.waitReceived((r) => r.hex === sent1['hex'], 'a heartbeat 1');
  assert.equal(got1.result, 'accepted');
  assert.equal(got1.source.address, lab.host('a').ipv4);
  assert.deepEqual(
    got1.events.map((e) => [e.type, e.id, e.reason]),
    [['joined', 1, 'first-heartbeat']],
  );
  assert.deepEqual(got1.members, [1]);

  // b -> a.
  const sentB = await b.send({ op: 'beat' });
  const gotB = await a.waitReceived((r) => r.hex === sentB['hex'], 'b heartbeat');
  assert.equal(gotB.result, 'accepted');
  assert.deepEqual(gotB.members, [2]);

  // Later heartbeats are accepted too.
  const sent2 = await a.send({ op: 'beat' });
  assert.equal((await b.waitReceived((r) => r.hex === sent2['hex'], 'a heartbeat 2')).result, 'accepted');

  // A forgery from c (node 1's id, c's key): bad-hmac on b.
  const forged = await c.send({ op: 'beat' });
  const gotForged = await b.waitReceived((r) => r.hex === forged['hex'], 'the forged heartbeat');
  assert.equal(gotForged.result, 'bad-hmac');
  assert.equal(gotForged.source.address, lab.host('c').ipv4);

  // c replays heartbeat 1 as b captured it off the wire: authentic, but a replay.
  await c.send({ op: 'send-hex', hex: got1.hex });
  const replays = (): Received[] => b.received().filter((r) => r.hex === got1.hex && r.source.address === lab.host('c').ipv4);
  await b.waitReceived((r) => r.hex === got1.hex && r.source.address === lab.host('c').ipv4, 'the replayed heartbeat');
  assert.equal(replays()[0]?.result, 'replay');

  // Nobody heard itself (multicast loopback off); b never saw its own id. (a may see
  // its own id in c's replay, when it is multicast: refused as own-id.)
  await sleep(100);
  for (const d of [a, b]) {
    assert.ok(!d.received().some((r) => r.source.address === lab.host(d.host).ipv4), `${d.host} heard itself`);
  }
  assert.ok(!b.received().some((r) => r.result === 'own-id'), `b saw its own id: ${JSON.stringify(b.received())}`);
  for (const r of a.received().filter((x) => x.result === 'own-id')) assert.equal(r.source.address, lab.host('c').ipv4);
  b.command({ op: 'counters' });
  const counters = (await b.waitFor((l) => l.event === 'counters', 'counters')) as DriverLine & { accepted: number; rejected: Record<string, number> };
  assert.equal(counters.accepted, 2);
  assert.equal(counters.rejected['bad-hmac'], 1);
  assert.equal(counters.rejected['replay'], 1);
  for (const d of [a, b, c]) d.command({ op: 'quit' });
}

test('quorum transport: heartbeats over multicast between namespaces; forgery and replay refused', { skip }, async () => {
  await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) => {
    const capture = await Capture.start(lab, 'b', 'udp port 5406');
    await scenario(lab, () => ({ kind: 'multicast' }));
    await sleep(100);
    const frames = await capture.stop();
    // a's heartbeats on the wire: IPv4 to 239.192.213.1 (MAC 01:00:5e:40:d5:01), TTL 1, UDP 5406 -> 5406, 68 bytes.
    const fromA = frames.filter((f) => f.bytes.length >= 42 && f.bytes.readUInt16BE(12) === 0x0800 && f.bytes.subarray(26, 30).join('.') === lab.host('a').ipv4);
    assert.ok(fromA.length >= 2, `captured ${frames.length} frames, ${fromA.length} from a`);
    for (const f of fromA) {
      assert.equal(f.bytes.subarray(0, 6).toString('hex'), '01005e40d501');
      assert.equal(f.bytes.subarray(30, 34).join('.'), '239.192.213.1');
      assert.equal(f.bytes.readUInt8(22), 1, 'TTL');
      assert.equal(f.bytes.readUInt8(23), 17, 'UDP');
      assert.equal(f.bytes.readUInt16BE(34), 5406, 'source port');
      assert.equal(f.bytes.readUInt16BE(36), 5406, 'destination port');
      assert.equal(f.bytes.readUInt16BE(38), 8 + 68, 'UDP length');
      assert.equal(f.bytes.subarray(42, 46).toString('ascii'), 'VGHB');
    }
  });
});

test('quorum transport: heartbeats over unicast between namespaces; forgery and replay refused', { skip }, async () => {
  await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) => {
    const peers: Record<string, string[]> = {
      a: [lab.host('b').ipv4],
      b: [lab.host('a').ipv4],
      c: [lab.host('b').ipv4],
    };
    await scenario(lab, (self) => ({ kind: 'unicast', peers: peers[self] ?? [] }));
  });
});

test('quorum transport: IPv6 multicast on the lab link', { skip }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const key = generateKey().toString('base64');
    const base = { cluster: 'lab', nodes: [1, 2], key, family: 'ipv6', interface: 'eth0', destination: { kind: 'multicast' } };
    const a = await Driver.start(lab, 'a', { ...base, nodeId: 1 });
    const b = await Driver.start(lab, 'b', { ...base, nodeId: 2 });
    const sent = await a.send({ op: 'beat' });
    const got = await b.waitReceived((r) => r.hex === sent['hex'], 'the IPv6 heartbeat');
    assert.equal(got.result, 'accepted');
    assert.equal(got.source.family, 'ipv6');
    for (const d of [a, b]) d.command({ op: 'quit' });
  });
});

test('quorum transport: a heartbeat queued while the receiver is frozen (SIGSTOP) is handed over with the age the kernel stamped, not as new', { skip }, async (t) => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const key = generateKey().toString('base64');
    const base = { cluster: 'lab', nodes: [1, 2], key };
    const a = await Driver.start(lab, 'a', { ...base, nodeId: 1, localAddress: lab.host('a').ipv4, destination: { kind: 'unicast', peers: [lab.host('b').ipv4] } });
    const b = await Driver.start(lab, 'b', { ...base, nodeId: 2, localAddress: lab.host('b').ipv4, destination: { kind: 'unicast', peers: [lab.host('a').ipv4] } });
    try {
      const first = await a.send({ op: 'beat' });
      await b.waitReceived((r) => r.hex === first['hex'], 'heartbeat 1');
      const pid = b.child.pid;
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGSTOP');
      const beforeSend = performance.now();
      const sent = await a.send({ op: 'beat' });
      // The datagram is in b's socket once a's sendto returned (a veth delivers at once).
      const queuedBy = performance.now();
      await sleep(600);
      const resumedAt = performance.now();
      process.kill(pid, 'SIGCONT');
      const got = await b.waitReceived((r) => r.hex === sent['hex'], 'heartbeat 2, after the freeze');
      const seenAt = performance.now();
      assert.equal(got.result, 'accepted');
      t.diagnostic(`frozen ${Math.round(resumedAt - queuedBy)}-${Math.round(seenAt - beforeSend)} ms after the send: age ${got.ageMs.toFixed(1)} ms`);
      // It waited in the queue at least from queuedBy to resumedAt, at most from beforeSend to seenAt
      // (2 ms for the realtime stamp's and Date.now()'s granularity).
      assert.ok(got.ageMs >= resumedAt - queuedBy - 2, `age ${got.ageMs} ms, queued for at least ${Math.round(resumedAt - queuedBy)} ms`);
      assert.ok(got.ageMs <= seenAt - beforeSend + 2, `age ${got.ageMs} ms, more than the ${Math.round(seenAt - beforeSend)} ms since the send`);
    } finally {
      if (b.child.pid !== undefined && b.child.exitCode === null) process.kill(b.child.pid, 'SIGCONT');
      for (const d of [a, b]) d.command({ op: 'quit' });
    }
  });
});

test('quorum transport: a throwing handler and a failed send are reported, not thrown; receiving goes on', { skip }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const key = generateKey().toString('base64');
    const base = { cluster: 'lab', nodes: [1, 2], key };
    // a sends to b and to an address with no route (10.213.1.1 is off the lab's /24).
    const a = await Driver.start(lab, 'a', { ...base, nodeId: 1, localAddress: lab.host('a').ipv4, destination: { kind: 'unicast', peers: [lab.host('b').ipv4, '10.213.1.1'] } });
    const b = await Driver.start(lab, 'b', { ...base, nodeId: 2, localAddress: lab.host('b').ipv4, destination: { kind: 'unicast', peers: [lab.host('a').ipv4] }, throwOnFirstMessage: true });
    const first = await a.send({ op: 'beat' });
    assert.equal(first['sent'], 1);
    assert.equal(first['failed'], 1);
    const sendError = await a.waitFor((l) => l.event === 'error', 'the send error');
    assert.equal(sendError['operation'], 'send');
    assert.match(String(sendError['message']), /10\.213\.1\.1/);
    const handlerError = await b.waitFor((l) => l.event === 'error', 'the handler error');
    assert.equal(handlerError['operation'], 'handler');
    assert.match(String(handlerError['message']), /on purpose/);
    const second = await a.send({ op: 'beat' });
    assert.equal((await b.waitReceived((r) => r.hex === second['hex'], 'the second heartbeat')).result, 'accepted');
    for (const d of [a, b]) d.command({ op: 'quit' });
  });
});

test('quorum transport: bad options are refused before any socket is opened', async () => {
  const base: Omit<HeartbeatTransportOptions, 'destination'> = { localAddress: '10.213.0.1', onMessage: () => undefined, onError: () => undefined };
  await assert.rejects(HeartbeatTransport.open({ ...base, destination: { kind: 'multicast', group: '10.213.0.5' } }), /not a multicast address/);
  await assert.rejects(HeartbeatTransport.open({ ...base, destination: { kind: 'unicast', peers: [] } }), /at least one peer/);
  await assert.rejects(HeartbeatTransport.open({ ...base, destination: { kind: 'unicast', peers: ['fd13::2'] } }), /not an IPv4 address/);
  await assert.rejects(HeartbeatTransport.open({ ...base, port: 0, destination: { kind: 'multicast' } }), /port 0/);
  await assert.rejects(HeartbeatTransport.open({ ...base, family: 'ipv6', localAddress: 'fd13::1', destination: { kind: 'multicast' } }), /IPv6 multicast needs an interface/);
  await assert.rejects(
    HeartbeatTransport.open({ onMessage: () => undefined, onError: () => undefined, destination: { kind: 'multicast' } }),
    /local address or an interface/,
  );
});

test('quorum transport: the receive-time option numbers are the C headers\' (SO_TIMESTAMPNS, SCM_TIMESTAMPNS)', () => {
  assert.equal(native().constants['SO_TIMESTAMPNS'], SO_TIMESTAMPNS);
  assert.equal(native().constants['SCM_TIMESTAMPNS'], SCM_TIMESTAMPNS);
});
