/**
 * DatagramBatchReceiver (src/net/datagram-batch-receiver.ts) on real UDP sockets on
 * 127.0.0.1 through the addon's recvmmsg: a burst queued on the socket is read 16 per
 * syscall, each datagram in order with its own length, source and control messages; the
 * budget bounds what one call reads; a datagram longer than its slot is flagged truncated;
 * an empty queue costs one syscall.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET } from '../src/net/af.js';
import { ip, type IPv4Address } from '../src/net/address.js';
import { sockaddrIn } from '../src/net/sockaddr.js';
import { IP_PKTINFO, IPPROTO_IP, IPPROTO_UDP, SOCK_DGRAM, native, type NativeBinding } from '../src/native/index.js';
import { DatagramBatchReceiver } from '../src/net/datagram-batch-receiver.js';
import type { DatagramHandler } from '../src/net/datagram-receiver.js';
import { errorText } from '../src/base/error-text.js';

function addonSkip(): string | false {
  try {
    return typeof native().recvmmsgInto === 'function' ? false : 'the addon has no recvmmsgInto';
  } catch (e) {
    return `native addon unavailable: ${errorText(e)}`;
  }
}
const skip = addonSkip();
const LOOPBACK = ip('127.0.0.1') as IPv4Address;

/** A receiving UDP socket on 127.0.0.1 (with IP_PKTINFO) and a sender; the port comes from the test's pid. */
function pair(port: number): { n: NativeBinding; rx: number; tx: number; close: () => void } {
  const n = native();
  const rx = n.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  const tx = n.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  n.setsockopt(rx, IPPROTO_IP, IP_PKTINFO, 1);
  n.bind(rx, sockaddrIn(LOOPBACK, port));
  n.bind(tx, sockaddrIn(LOOPBACK, port + 1));
  return { n, rx, tx, close: () => (n.close(rx), n.close(tx)) };
}

/** Counts the recvmmsg calls made through `n` (wrapped, passing through). */
function counting(n: NativeBinding): { calls: () => number; restore: () => void } {
  const original = n.recvmmsgInto;
  let calls = 0;
  n.recvmmsgInto = (...args) => {
    calls++;
    return original.apply(n, args);
  };
  return { calls: () => calls, restore: () => void (n.recvmmsgInto = original) };
}

function collector(rx: DatagramBatchReceiver): { handler: DatagramHandler; got: { text: string; port: number; truncated: boolean; control: number }[] } {
  const got: { text: string; port: number; truncated: boolean; control: number }[] = [];
  return {
    got,
    handler: {
      isOpen: () => true,
      failed: (e) => assert.fail(`recvmmsg failed: ${errorText(e)}`),
      datagram: (length, truncated) => got.push({ text: rx.data.subarray(0, length).toString(), port: rx.from.readUInt16BE(2), truncated, control: rx.controlLength }),
    },
  };
}

const basePort = 20000 + (process.pid % 20000);

test('batch receiver: a burst of 40 datagrams is read in 3 recvmmsg calls, each in order with its source and control messages', { skip }, () => {
  const { n, rx, tx, close } = pair(basePort);
  const count = counting(n);
  try {
    const dst = sockaddrIn(LOOPBACK, basePort);
    for (let i = 0; i < 40; i++) n.sendto(tx, Buffer.from(`advert ${i}`), dst);
    const r = new DatagramBatchReceiver(2048, 64);
    const { handler, got } = collector(r);
    assert.equal(r.receive(n, rx, 256, handler), 40);
    // 16 + 16 + 8: the third returned fewer than asked, so the queue was empty: no fourth call.
    assert.equal(count.calls(), 3);
    assert.deepEqual(got.map((g) => g.text), Array.from({ length: 40 }, (_, i) => `advert ${i}`));
    assert.ok(got.every((g) => g.port === basePort + 1 && !g.truncated && g.control > 0), JSON.stringify(got[0]));
    // Nothing left: one call that reads nothing.
    assert.equal(r.receive(n, rx, 256, handler), 0);
    assert.equal(count.calls(), 4);
  } finally {
    count.restore();
    close();
  }
});

test('batch receiver: the budget bounds one call; the rest stays queued for the next', { skip }, () => {
  const { n, rx, tx, close } = pair(basePort + 2);
  try {
    const dst = sockaddrIn(LOOPBACK, basePort + 2);
    for (let i = 0; i < 20; i++) n.sendto(tx, Buffer.from(`d${i}`), dst);
    const r = new DatagramBatchReceiver(2048, 64);
    const { handler, got } = collector(r);
    assert.equal(r.drain(n, rx, 18, handler), 18);
    assert.equal(got.length, 18);
    assert.equal(r.receive(n, rx, 256, handler), 2);
    assert.deepEqual(got.slice(16).map((g) => g.text), ['d16', 'd17', 'd18', 'd19']);
  } finally {
    close();
  }
});

test('batch receiver: a datagram longer than its slot is flagged truncated, its neighbours are whole', { skip }, () => {
  const { n, rx, tx, close } = pair(basePort + 4);
  try {
    const dst = sockaddrIn(LOOPBACK, basePort + 4);
    n.sendto(tx, Buffer.from('short'), dst);
    n.sendto(tx, Buffer.alloc(300, 0x41), dst);
    n.sendto(tx, Buffer.from('after'), dst);
    const r = new DatagramBatchReceiver(256, 64);
    const { handler, got } = collector(r);
    assert.equal(r.receive(n, rx, 256, handler), 3);
    assert.deepEqual(got.map((g) => [g.text.length, g.truncated]), [[5, false], [256, true], [5, false]]);
  } finally {
    close();
  }
});
