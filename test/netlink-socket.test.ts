/**
 * The request/ack/dump machinery, the event socket and the watcher, against a fake
 * kernel (no sockets, no root): sequence matching, timeouts, retries of interrupted
 * dumps, idempotent results, and state-aware events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip, type IpAddress } from '../src/net/address.js';
import { addAddress, addPreparedAddress, prepareAddAddress, prepareRemoveAddress, removeAddress, removePreparedAddress } from '../src/netlink/addresses.js';
import { vipAddressSpec } from '../src/netlink/vip.js';
import { SystemNetwork } from '../src/daemon/system.js';
import type { VirtualIp } from '../src/config/types.js';
import { NetlinkError } from '../src/netlink/errors.js';
import { NetlinkWatcher, type NetlinkEvent } from '../src/netlink/events.js';
import { deleteLink, getLink } from '../src/netlink/links.js';
import {
  attr,
  attrString,
  decodeDatagram,
  encodeDone,
  encodeIfAddrMsg,
  encodeIfInfoMsg,
  encodeMessage,
  encodeNlMsgErr,
  findAttr,
  type NetlinkMessage,
} from '../src/netlink/message.js';
import {
  NetlinkEventSocket,
  NetlinkRequester,
  type EventSocketEvent,
  type NetlinkTransport,
  type ReceiveHandlers,
} from '../src/netlink/socket.js';
import { AF_INET, AF_INET6 } from '../src/net/af.js';
import { ProtoDownSwitch } from '../src/netlink/proto-down.js';
import { IFA, IFF, IFLA, NLM_F, RTM } from '../src/netlink/constants.js';

class FakeTransport implements NetlinkTransport {
  readonly sent: Buffer[] = [];
  handlers: ReceiveHandlers | undefined;
  closed = false;
  sendError: unknown;
  /** Called (asynchronously, like the kernel's reply arriving) for each request sent. */
  respond: ((request: NetlinkMessage, raw: Buffer) => void) | undefined;

  send(datagram: Uint8Array): void {
    if (this.sendError !== undefined) throw this.sendError;
    const raw = Buffer.from(datagram);
    this.sent.push(raw);
    const decoded = decodeDatagram(raw);
    const request = decoded.messages[0];
    assert.ok(request, 'the request decodes');
    setImmediate(() => this.respond?.(request, raw));
  }
  start(handlers: ReceiveHandlers): void {
    this.handlers = handlers;
  }
  close(): void {
    this.closed = true;
  }
  deliver(...parts: Uint8Array[]): void {
    assert.ok(this.handlers);
    this.handlers.datagram(Buffer.concat(parts));
  }
}

interface FakeLink {
  index: number;
  name: string;
  flags: number;
  family?: number;
}

function linkMessage(l: FakeLink, type: number = RTM.NEWLINK, seq = 0, flags = 0): Buffer {
  return encodeMessage({ type, flags, seq }, encodeIfInfoMsg({ family: l.family ?? 0, type: 1, index: l.index, flags: l.flags }), [attr.string(IFLA.IFNAME, l.name)]);
}

function addressMessage(a: IpAddress, prefix: number, index: number, type: number = RTM.NEWADDR, seq = 0, flags = 0): Buffer {
  return encodeMessage(
    { type, flags, seq },
    encodeIfAddrMsg({ family: a.family === 'ipv4' ? AF_INET : AF_INET6, prefixLength: prefix, index }),
    a.family === 'ipv4' ? [attr.bytes(IFA.ADDRESS, a.bytes), attr.bytes(IFA.LOCAL, a.bytes), attr.string(IFA.LABEL, `eth${index}`)] : [attr.bytes(IFA.ADDRESS, a.bytes)],
  );
}

/** A small kernel: links and addresses, answering dumps, gets, adds and deletes. */
class FakeKernel {
  readonly links = new Map<number, FakeLink>();
  readonly addresses: { a: IpAddress; prefix: number; index: number }[] = [];
  interruptNextDumps = 0;

  constructor(readonly t: FakeTransport) {
    t.respond = (req, raw) => this.answer(req, raw);
  }

  private answer(req: NetlinkMessage, raw: Buffer): void {
    const seq = req.header.seq;
    const dump = (req.header.flags & NLM_F.DUMP) === NLM_F.DUMP;
    const intr = this.interruptNextDumps > 0 ? NLM_F.DUMP_INTR : 0;
    if (dump && intr) this.interruptNextDumps--;
    if (req.header.type === RTM.GETLINK && dump) {
      // Two datagrams, the way a larger dump arrives.
      const all = [...this.links.values()].map((l) => linkMessage(l, RTM.NEWLINK, seq, NLM_F.MULTI | intr));
      this.t.deliver(...all.slice(0, 1));
      this.t.deliver(...all.slice(1), encodeDone(seq));
      return;
    }
    if (req.header.type === RTM.GETADDR && dump) {
      this.t.deliver(...this.addresses.map((x) => addressMessage(x.a, x.prefix, x.index, RTM.NEWADDR, seq, NLM_F.MULTI | intr)), encodeDone(seq));
      return;
    }
    if (req.kind === 'link' && req.header.type === RTM.GETLINK) {
      const name = attrString(findAttr(req.attrs, IFLA.IFNAME));
      const l = name !== undefined ? [...this.links.values()].find((x) => x.name === name) : this.links.get(req.ifinfo.index);
      if (!l) return this.t.deliver(encodeNlMsgErr(19, raw));
      return this.t.deliver(linkMessage(l, RTM.NEWLINK, seq), encodeNlMsgErr(0, raw, { capped: true }));
    }
    if (req.kind === 'link' && req.header.type === RTM.DELLINK) {
      if (!this.links.delete(req.ifinfo.index)) return this.t.deliver(encodeNlMsgErr(19, raw));
      return this.t.deliver(encodeNlMsgErr(0, raw, { capped: true }));
    }
    if (req.kind === 'address') {
      const local = findAttr(req.attrs, IFA.LOCAL);
      assert.ok(local);
      const a = ip(req.ifaddr.family === AF_INET ? [...local.data].join('.') : 'fd13::1');
      if (!this.links.has(req.ifaddr.index)) return this.t.deliver(encodeNlMsgErr(19, raw, { extAckMessage: 'no such device' }));
      const at = this.addresses.findIndex((x) => x.a.text === a.text && x.index === req.ifaddr.index && x.prefix === req.ifaddr.prefixLength);
      if (req.header.type === RTM.NEWADDR) {
        if (at !== -1) return this.t.deliver(encodeNlMsgErr(17, raw));
        this.addresses.push({ a, prefix: req.ifaddr.prefixLength, index: req.ifaddr.index });
      } else {
        if (at === -1) return this.t.deliver(encodeNlMsgErr(99, raw));
        this.addresses.splice(at, 1);
      }
      return this.t.deliver(encodeNlMsgErr(0, raw));
    }
    this.t.deliver(encodeNlMsgErr(95, raw));
  }
}

function nextTick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

test('requester: replies before the ack are returned; the ack ends the exchange', async () => {
  const t = new FakeTransport();
  const kernel = new FakeKernel(t);
  kernel.links.set(2, { index: 2, name: 'eth0', flags: IFF.UP });
  const nl = new NetlinkRequester(t);
  const link = await getLink(nl, 'eth0');
  assert.equal(link?.index, 2);
  assert.equal(link?.up, true);
  assert.equal(await getLink(nl, 'nope'), undefined, 'ENODEV is "no such link"');
  const sent = decodeDatagram(t.sent[0] ?? Buffer.alloc(0)).messages[0];
  assert.ok(sent);
  assert.equal(sent.header.flags & (NLM_F.REQUEST | NLM_F.ACK), NLM_F.REQUEST | NLM_F.ACK);
});

test('requester: a kernel error rejects with errno, code, operation, object and the ext-ack text', async () => {
  const t = new FakeTransport();
  new FakeKernel(t);
  const nl = new NetlinkRequester(t);
  await assert.rejects(addAddress(nl, { ifindex: 99, address: ip('10.213.0.100'), prefixLength: 24 }), (e: unknown) => {
    assert.ok(e instanceof NetlinkError);
    assert.equal(e.errno, 19);
    assert.equal(e.code, 'ENODEV');
    assert.equal(e.operation, 'add');
    assert.equal(e.object, '10.213.0.100/24 on ifindex 99 (no such link)');
    assert.equal(e.kernelMessage, 'no such device');
    assert.match(e.message, /^add 10\.213\.0\.100\/24 on ifindex 99 \(no such link\): ENODEV \(errno 19\)/);
    return true;
  });
});

test('requester: EEXIST on add and EADDRNOTAVAIL on remove are success without change', async () => {
  const t = new FakeTransport();
  const kernel = new FakeKernel(t);
  kernel.links.set(2, { index: 2, name: 'eth0', flags: IFF.UP });
  const nl = new NetlinkRequester(t);
  const spec = { ifindex: 2, address: ip('10.213.0.100'), prefixLength: 24, label: 'eth0:vip' } as const;
  assert.deepEqual(await addAddress(nl, spec), { changed: true });
  assert.deepEqual(await addAddress(nl, spec), { changed: false });
  assert.deepEqual(await removeAddress(nl, spec), { changed: true });
  assert.deepEqual(await removeAddress(nl, spec), { changed: false });
  const add = decodeDatagram(t.sent[0] ?? Buffer.alloc(0)).messages[0];
  assert.ok(add && add.kind === 'address');
  assert.equal(add.header.flags & (NLM_F.CREATE | NLM_F.EXCL), NLM_F.CREATE | NLM_F.EXCL);
  assert.equal(attrString(findAttr(add.attrs, IFA.LABEL)), 'eth0:vip');
});

test('requester: invalid arguments are refused before anything is sent', async () => {
  const t = new FakeTransport();
  const nl = new NetlinkRequester(t);
  await assert.rejects(addAddress(nl, { ifindex: 2, address: ip('fd13::1'), prefixLength: 64, label: 'eth0:x' }), /labels exist for IPv4 addresses only/);
  await assert.rejects(addAddress(nl, { ifindex: 2, address: ip('10.213.0.1'), prefixLength: 33 }), /prefix length must be 0\.\.32/);
  await assert.rejects(addAddress(nl, { ifindex: 0, address: ip('10.213.0.1'), prefixLength: 24 }), /positive integer/);
  await assert.rejects(addAddress(nl, { ifindex: 2, address: ip('10.213.0.1'), prefixLength: 24, label: 'x'.repeat(16) }), /1\.\.15 bytes/);
  assert.equal(t.sent.length, 0);
});

test('requester: a timed-out request rejects with ETIMEDOUT and its late answer is ignored', async () => {
  const t = new FakeTransport();
  const nl = new NetlinkRequester(t, { timeoutMs: 30 });
  let late: Buffer | undefined;
  t.respond = (_req, raw) => {
    late = raw;
  };
  await assert.rejects(deleteLink(nl, 7), (e: unknown) => e instanceof NetlinkError && e.code === 'ETIMEDOUT' && /no answer to RTM_DELLINK/.test(e.message));
  // The next request gets answered; the stale ack arrives first and must not be taken for it.
  t.respond = (_req, raw) => {
    assert.ok(late);
    t.deliver(encodeNlMsgErr(0, late));
    t.deliver(encodeNlMsgErr(19, raw));
  };
  assert.deepEqual(await deleteLink(nl, 8), { changed: false });
  assert.ok(nl.strayMessages >= 1);
});

test('requester: requests are serialised — the second is sent after the first is answered', async () => {
  const t = new FakeTransport();
  const answers: (() => void)[] = [];
  t.respond = (_req, raw) => answers.push(() => t.deliver(encodeNlMsgErr(0, raw)));
  const nl = new NetlinkRequester(t);
  const first = deleteLink(nl, 3);
  const second = deleteLink(nl, 4);
  await nextTick();
  await nextTick();
  assert.equal(t.sent.length, 1);
  answers.shift()?.();
  assert.deepEqual(await first, { changed: true });
  await nextTick();
  assert.equal(t.sent.length, 2);
  answers.shift()?.();
  assert.deepEqual(await second, { changed: true });
});

test('requester: a dump spans datagrams, ends at NLMSG_DONE, and is retried when interrupted', async () => {
  const t = new FakeTransport();
  const kernel = new FakeKernel(t);
  kernel.links.set(1, { index: 1, name: 'lo', flags: IFF.UP | IFF.LOOPBACK });
  kernel.links.set(2, { index: 2, name: 'eth0', flags: 0 });
  kernel.links.set(3, { index: 3, name: 'eth1', flags: 0 });
  kernel.interruptNextDumps = 1;
  const nl = new NetlinkRequester(t);
  const result = await nl.dump({ type: RTM.GETLINK, body: encodeIfInfoMsg() }, { operation: 'list', object: 'links' });
  assert.equal(result.retries, 1);
  assert.equal(result.messages.length, 3);
  assert.equal(t.sent.length, 2);
  kernel.interruptNextDumps = 100;
  const stubborn = new NetlinkRequester(t, { dumpRetries: 2 });
  await assert.rejects(stubborn.dump({ type: RTM.GETLINK, body: encodeIfInfoMsg() }, { operation: 'list', object: 'links' }), /EINTR/);
});

test('requester: NLMSG_DONE carrying an error rejects the dump; a malformed reply is EBADMSG', async () => {
  const t = new FakeTransport();
  const nl = new NetlinkRequester(t);
  t.respond = (req) => t.deliver(encodeDone(req.header.seq, 16));
  await assert.rejects(nl.dump({ type: RTM.GETADDR, body: encodeIfAddrMsg() }, { operation: 'list', object: 'addresses' }), (e: unknown) => e instanceof NetlinkError && e.code === 'EBUSY');
  t.respond = (req) => t.deliver(encodeMessage({ type: RTM.NEWLINK, flags: 0, seq: req.header.seq }, new Uint8Array(4)));
  await assert.rejects(nl.request({ type: RTM.GETLINK, body: encodeIfInfoMsg({ index: 1 }) }, { operation: 'get link', object: 'ifindex 1' }), (e: unknown) => e instanceof NetlinkError && e.code === 'EBADMSG');
  t.respond = (req) => {
    const cut = encodeNlMsgErr(0, Buffer.alloc(16));
    cut.writeUInt32LE(req.header.seq, 8);
    t.deliver(cut.subarray(0, 10));
  };
  await assert.rejects(nl.request({ type: RTM.DELLINK, body: encodeIfInfoMsg({ index: 1 }) }, { operation: 'delete link', object: 'ifindex 1' }), /EBADMSG.*truncated-header/);
});

test('requester: a failing send rejects with the syscall error code; close rejects what is pending and what follows', async () => {
  const t = new FakeTransport();
  const nl = new NetlinkRequester(t);
  t.sendError = Object.assign(new Error('sendto: ENOBUFS'), { errno: 105, code: 'ENOBUFS', syscall: 'sendto' });
  await assert.rejects(deleteLink(nl, 5), (e: unknown) => e instanceof NetlinkError && e.code === 'ENOBUFS' && e.errno === 105);
  t.sendError = undefined;
  const pending = deleteLink(nl, 5);
  await nextTick();
  nl.close();
  await assert.rejects(pending, /ECLOSED/);
  await assert.rejects(deleteLink(nl, 6), /ECLOSED/);
  assert.equal(t.closed, true);
});

test('event socket: notifications keep their type; ENOBUFS is an overrun; garbage is a decode error', () => {
  const t = new FakeTransport();
  const seen: EventSocketEvent[] = [];
  const events = new NetlinkEventSocket(t, (e) => seen.push(e));
  t.deliver(addressMessage(ip('10.213.0.5'), 24, 2, RTM.NEWADDR), addressMessage(ip('10.213.0.5'), 24, 2, RTM.DELADDR));
  t.handlers?.error(Object.assign(new Error('recvmsg: ENOBUFS'), { errno: 105, code: 'ENOBUFS', syscall: 'recvmsg' }));
  t.deliver(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
  assert.deepEqual(
    seen.map((e) => (e.type === 'message' ? e.message.header.type : e.type)),
    [RTM.NEWADDR, RTM.DELADDR, 'overrun', 'decode-error'],
  );
  events.close();
  t.deliver(addressMessage(ip('10.213.0.5'), 24, 2, RTM.NEWADDR));
  assert.equal(seen.length, 4, 'nothing after close');
});

function eventSummary(e: NetlinkEvent): string {
  switch (e.kind) {
    case 'address-added':
    case 'address-removed':
      return `${e.kind} ${e.address.text}/${e.prefixLength}@${e.ifindex}${e.synthetic ? ' (synthetic)' : ''}`;
    case 'overrun':
      return 'overrun';
    case 'resynced':
      return 'resynced';
    case 'error':
      return `error`;
    default:
      return `${e.kind} ${e.name}${e.synthetic ? ' (synthetic)' : ''}`;
  }
}

test('watcher: seeds silently, then reports up/down, carrier, rename, addresses; ignores AF_BRIDGE port messages', async () => {
  const requests = new FakeTransport();
  const kernel = new FakeKernel(requests);
  kernel.links.set(1, { index: 1, name: 'lo', flags: IFF.UP | IFF.LOOPBACK });
  kernel.links.set(2, { index: 2, name: 'eth0', flags: IFF.UP | IFF.LOWER_UP });
  kernel.addresses.push({ a: ip('10.213.0.1'), prefix: 24, index: 2 });
  const eventsTransport = new FakeTransport();
  const watcher = new NetlinkWatcher(new NetlinkRequester(requests), (listener) => new NetlinkEventSocket(eventsTransport, listener));
  const seen: string[] = [];
  watcher.on((e) => seen.push(eventSummary(e)));
  const started = watcher.start();
  // A notification racing the initial dump is held, then applied.
  eventsTransport.deliver(linkMessage({ index: 2, name: 'eth0', flags: IFF.UP }));
  await started;
  assert.deepEqual(seen, ['carrier-down eth0']);
  assert.equal(watcher.addresses(2).length, 1);
  seen.length = 0;
  eventsTransport.deliver(linkMessage({ index: 2, name: 'eth0', flags: IFF.UP }), linkMessage({ index: 2, name: 'eth0', flags: 0 }));
  eventsTransport.deliver(linkMessage({ index: 2, name: 'eth0', flags: IFF.UP | IFF.LOWER_UP }));
  eventsTransport.deliver(linkMessage({ index: 2, name: 'wan0', flags: IFF.UP | IFF.LOWER_UP }));
  eventsTransport.deliver(linkMessage({ index: 2, name: 'wan0', flags: IFF.UP, family: 7 }, RTM.DELLINK));
  eventsTransport.deliver(addressMessage(ip('10.213.0.100'), 24, 2), addressMessage(ip('10.213.0.100'), 24, 2));
  eventsTransport.deliver(addressMessage(ip('fd13::1'), 64, 2, RTM.DELADDR));
  eventsTransport.deliver(addressMessage(ip('10.213.0.1'), 24, 2, RTM.DELADDR));
  eventsTransport.deliver(linkMessage({ index: 9, name: 'vrrp.51', flags: 0 }), linkMessage({ index: 9, name: 'vrrp.51', flags: 0 }, RTM.DELLINK));
  assert.deepEqual(seen, [
    'link-down eth0',
    'link-up eth0',
    'carrier-up eth0',
    'link-renamed wan0',
    'address-added 10.213.0.100/24@2',
    'address-removed 10.213.0.1/24@2',
    'link-added vrrp.51',
    'link-removed vrrp.51',
  ]);
  assert.equal(watcher.link('wan0')?.index, 2);
  watcher.stop();
});

test('watcher: after an overrun it dumps again and reports the differences as synthetic events', async () => {
  const requests = new FakeTransport();
  const kernel = new FakeKernel(requests);
  kernel.links.set(1, { index: 1, name: 'lo', flags: IFF.UP | IFF.LOOPBACK });
  kernel.links.set(2, { index: 2, name: 'eth0', flags: IFF.UP | IFF.LOWER_UP });
  kernel.links.set(3, { index: 3, name: 'eth1', flags: IFF.UP | IFF.LOWER_UP });
  kernel.addresses.push({ a: ip('10.213.0.1'), prefix: 24, index: 2 });
  const eventsTransport = new FakeTransport();
  const watcher = new NetlinkWatcher(new NetlinkRequester(requests), (listener) => new NetlinkEventSocket(eventsTransport, listener));
  const seen: string[] = [];
  watcher.on((e) => seen.push(eventSummary(e)));
  await watcher.start();
  // Lost notifications: eth0 went down, eth1 vanished, a VIP appeared, the primary went.
  kernel.links.set(2, { index: 2, name: 'eth0', flags: 0 });
  kernel.links.delete(3);
  kernel.addresses.splice(0, 1, { a: ip('10.213.0.100'), prefix: 24, index: 2 });
  const resynced = new Promise<void>((resolve) => watcher.on((e) => e.kind === 'resynced' && resolve()));
  eventsTransport.handlers?.error(Object.assign(new Error('ENOBUFS'), { errno: 105, code: 'ENOBUFS', syscall: 'recvmsg' }));
  await resynced;
  assert.deepEqual(seen, [
    'overrun',
    'link-down eth0 (synthetic)',
    'carrier-down eth0 (synthetic)',
    'link-removed eth1 (synthetic)',
    'address-added 10.213.0.100/24@2 (synthetic)',
    'address-removed 10.213.0.1/24@2 (synthetic)',
    'resynced',
  ]);
  watcher.stop();
  assert.equal(eventsTransport.closed, true);
});

/** A datagram with its nlmsg_seq (bytes 8..11) zeroed, to compare requests sent at different times. */
function withoutSeq(datagram: Buffer): Buffer {
  const copy = Buffer.from(datagram);
  copy.fill(0, 8, 12);
  return copy;
}

test('prepared address requests: the bytes built ahead are the request built at the add, with a fresh sequence number each send', async () => {
  const t = new FakeTransport();
  const kernel = new FakeKernel(t);
  kernel.links.set(2, { index: 2, name: 'eth0', flags: IFF.UP });
  const nl = new NetlinkRequester(t);
  const v4 = { ifindex: 2, address: ip('10.213.0.100'), prefixLength: 24, label: 'eth0:vip', scope: 'universe' } as const;
  const v6 = { ifindex: 2, address: ip('fd13::100'), prefixLength: 64, noDad: true } as const;
  for (const spec of [v4, v6]) {
    const family = spec.address.family === 'ipv4' ? AF_INET : AF_INET6;
    const flags = spec.address.family === 'ipv6' ? 0x02 /* IFA_F_NODAD */ : 0;
    const attrs = [attr.bytes(IFA.LOCAL, spec.address.bytes), attr.bytes(IFA.ADDRESS, spec.address.bytes)];
    if (spec.address.family === 'ipv4') attrs.push(attr.string(IFA.LABEL, 'eth0:vip'));
    if (flags !== 0) attrs.push(attr.u32(IFA.FLAGS, flags));
    // Built by hand from netlink(7)/rtnetlink(7), independently of addresses.ts.
    const expectedAdd = encodeMessage(
      { type: RTM.NEWADDR, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq: 0 },
      encodeIfAddrMsg({ family, prefixLength: spec.prefixLength, flags, scope: 0, index: 2 }),
      attrs,
    );
    const expectedRemove = encodeMessage(
      { type: RTM.DELADDR, flags: NLM_F.REQUEST | NLM_F.ACK, seq: 0 },
      encodeIfAddrMsg({ family, prefixLength: spec.prefixLength, scope: 0, index: 2 }),
      // No label, no IFA_FLAGS: the kernel matches an address to delete by address and prefix.
      attrs.filter((a) => a.type === IFA.LOCAL || a.type === IFA.ADDRESS),
    );
    const add = prepareAddAddress(spec);
    const remove = prepareRemoveAddress(spec);
    assert.deepEqual(withoutSeq(add.request.datagram), expectedAdd, `${spec.address.text}: the prepared add`);
    assert.deepEqual(withoutSeq(remove.request.datagram), expectedRemove, `${spec.address.text}: the prepared remove`);
    const from = t.sent.length;
    // The same prepared request sent twice (a second takeover), and the add built at the call.
    assert.deepEqual(await addPreparedAddress(nl, add), { changed: true });
    assert.deepEqual(await removePreparedAddress(nl, remove), { changed: true });
    assert.deepEqual(await addPreparedAddress(nl, add), { changed: true });
    assert.deepEqual(await removeAddress(nl, spec), { changed: true });
    assert.deepEqual(await addAddress(nl, spec), { changed: true });
    assert.deepEqual(await addPreparedAddress(nl, add), { changed: false }, 'EEXIST: already there');
    const sent = t.sent.slice(from);
    assert.equal(sent.length, 6);
    for (const i of [0, 2, 4, 5]) assert.deepEqual(withoutSeq(sent[i] as Buffer), expectedAdd, `send ${i} is the add`);
    for (const i of [1, 3]) assert.deepEqual(withoutSeq(sent[i] as Buffer), expectedRemove, `send ${i} is the remove`);
    const seqs = sent.map((d) => d.readUInt32LE(8));
    assert.equal(new Set(seqs).size, 6, 'every send has its own sequence number');
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1] as number) + 1);
  }
  assert.equal(nl.strayMessages, 0, 'every answer matched its request');
});

test('prepared address requests: a failed prepared add rejects naming the address and interface', async () => {
  const t = new FakeTransport();
  new FakeKernel(t);
  const nl = new NetlinkRequester(t);
  const prepared = prepareAddAddress({ ifindex: 99, address: ip('10.213.0.100'), prefixLength: 24 });
  await assert.rejects(addPreparedAddress(nl, prepared), (e: unknown) => e instanceof NetlinkError && e.code === 'ENODEV' && e.object === '10.213.0.100/24 on ifindex 99 (no such link)');
  assert.throws(() => prepareAddAddress({ ifindex: 2, address: ip('10.213.0.1'), prefixLength: 33 }), /prefix length must be 0\.\.32/);
});

test('SystemNetwork: the requests built ahead for a VIP are sent at its add; a reload that changes the VIP sends the new one', async () => {
  const t = new FakeTransport();
  const kernel = new FakeKernel(t);
  kernel.links.set(2, { index: 2, name: 'eth0', flags: IFF.UP });
  const net = SystemNetwork.open({ transport: () => t });
  try {
    const before: VirtualIp = { address: ip('10.213.0.100'), prefixLength: 24, scope: 'global' };
    net.prepareAddresses(2, [before]);
    await net.addAddress(2, before);
    await net.removeAddress(2, before);
    const expected = withoutSeq(prepareAddAddress(vipAddressSpec(2, before)).request.datagram);
    assert.deepEqual(withoutSeq(t.sent[0] as Buffer), expected);
    // The reloaded config: a new object, same address, another prefix length.
    const after: VirtualIp = { address: ip('10.213.0.100'), prefixLength: 32, scope: 'global' };
    net.prepareAddresses(2, [after]);
    await net.addAddress(2, after);
    const sent = decodeDatagram(t.sent[2] as Buffer).messages[0];
    assert.ok(sent && sent.kind === 'address' && sent.header.type === RTM.NEWADDR);
    assert.equal(sent.ifaddr.prefixLength, 32, 'the add sent after the reload is the reloaded VIP');
    assert.deepEqual(kernel.addresses.map((a) => `${a.a.text}/${a.prefix}`), ['10.213.0.100/32']);
    // Not prepared (a VIP on its own dev): built at the add.
    const other: VirtualIp = { address: ip('10.213.0.101'), prefixLength: 24, scope: 'global' };
    await net.addAddress(2, other);
    assert.deepEqual(kernel.addresses.map((a) => `${a.a.text}/${a.prefix}`), ['10.213.0.100/32', '10.213.0.101/24']);
  } finally {
    net.close();
  }
});

test('ProtoDownSwitch: "off" carries an RTM_GETLINK for the link in the same datagram, "on" does not', () => {
  const transport = new FakeTransport();
  const problems: string[] = [];
  const pd = new ProtoDownSwitch((m) => problems.push(m), () => transport);
  pd.set(7, false);
  pd.set(7, true);
  assert.equal(transport.sent.length, 2, 'one sendmsg each');
  const [off, on] = transport.sent.map((d) => decodeDatagram(d).messages);
  assert.ok(off && on);
  assert.deepEqual(off.map((m) => [m.header.type, m.kind === 'link' ? m.ifinfo.index : -1]), [[RTM.NEWLINK, 7], [RTM.GETLINK, 7]]);
  const [setOff, sync] = off;
  assert.ok(setOff?.kind === 'link' && sync?.kind === 'link');
  assert.equal(findAttr(setOff.attrs, IFLA.PROTO_DOWN)?.data[0], 0);
  assert.equal(sync.header.flags & NLM_F.DUMP, 0, 'a get of one link, not a dump');
  assert.notEqual(sync.header.seq, setOff.header.seq);
  assert.deepEqual(on.map((m) => m.header.type), [RTM.NEWLINK]);
  assert.equal(on[0]?.kind === 'link' ? findAttr(on[0].attrs, IFLA.PROTO_DOWN)?.data[0] : undefined, 1);
  assert.deepEqual(problems, []);
  pd.close();
});

test('ProtoDownSwitch: a kernel that answers the RTM_GETLINK with the link not yet up is reported (what was sent after may be lost); an up link and the acks are not', () => {
  const transport = new FakeTransport();
  const problems: string[] = [];
  const pd = new ProtoDownSwitch((m) => problems.push(m), () => transport);
  const answer = (operstate: number): void => {
    const raw = transport.sent.at(-1);
    assert.ok(raw);
    const [setOff, sync] = decodeDatagram(raw).messages;
    assert.ok(setOff && sync);
    transport.deliver(encodeNlMsgErr(0, raw.subarray(0, setOff.header.length), { capped: true }));
    transport.deliver(
      encodeMessage({ type: RTM.NEWLINK, flags: 0, seq: sync.header.seq }, encodeIfInfoMsg({ family: 0, type: 1, index: 7, flags: IFF.UP | IFF.LOWER_UP }), [
        attr.string(IFLA.IFNAME, 'vrrp.51'),
        attr.u8(IFLA.OPERSTATE, operstate),
      ]),
    );
  };
  pd.set(7, false);
  answer(6); // IF_OPER_UP: the link watch ran inside the request (Linux ≥ 6.8)
  assert.deepEqual(problems, []);
  pd.set(7, true);
  pd.set(7, false);
  answer(5); // IF_OPER_DORMANT... any state but up
  pd.set(7, true);
  pd.set(7, false);
  answer(2); // IF_OPER_DOWN: the link watch had not run yet
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(problems[1] ?? '', /protodown off on ifindex 7: the link was not yet transmitting .*operstate down.*may have been dropped/);
  pd.close();
});
