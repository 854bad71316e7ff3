/**
 * src/netlink against the real kernel, inside lab namespaces only: the module runs in a
 * child process started in a host's namespace (test/support/netlink-driver.ts), and its
 * effects are checked with `ip -j` there — and the other way round, changes made with
 * `ip` are checked through the module and its events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { withLab, type Lab } from '../src/lab/netns.js';
import { attr, encodeIfInfoMsg, encodeMessage } from '../src/netlink/message.js';
import { labSkipReason } from '../src/lab/netns.js';
import { IFLA, RTM } from '../src/netlink/constants.js';
import { onLines } from '../src/lab/lines.js';

const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'netlink-driver.js');

const skip = labSkipReason();

interface DriverError {
  name: string;
  code: string;
  errno: number;
  operation: string;
  object: string;
  message: string;
}
type DriverResult = { ok: true; result: unknown } | { ok: false; error: DriverError };

/** Runs operations through the module inside `host`'s namespace; one result per operation. */
async function drive(lab: Lab, host: string, ...ops: Record<string, unknown>[]): Promise<DriverResult[]> {
  const r = await lab.exec(host, process.execPath, [DRIVER, ...ops.map((o) => JSON.stringify(o))], true);
  assert.equal(r.code, 0, `driver failed: ${r.stderr}`);
  const results = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as DriverResult);
  assert.equal(results.length, ops.length, r.stdout + r.stderr);
  return results;
}

function ok(r: DriverResult | undefined): unknown {
  assert.ok(r, 'a result');
  assert.ok(r.ok, r.ok ? '' : `unexpected error: ${r.error.message}`);
  return r.result;
}

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
  label?: string;
  nodad?: boolean;
}
interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  address?: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
}

async function ipAddrs(lab: Lab, host: string, dev = 'eth0'): Promise<IpAddrInfo[]> {
  const r = await lab.exec(host, 'ip', ['-j', 'addr', 'show', 'dev', dev]);
  const parsed = JSON.parse(r.stdout) as { addr_info: IpAddrInfo[] }[];
  return parsed[0]?.addr_info ?? [];
}

async function ipLinks(lab: Lab, host: string): Promise<IpLink[]> {
  const r = await lab.exec(host, 'ip', ['-j', '-d', 'link', 'show']);
  return JSON.parse(r.stdout) as IpLink[];
}

async function eth0Index(lab: Lab, host: string): Promise<number> {
  const link = (await ipLinks(lab, host)).find((l) => l.ifname === 'eth0');
  assert.ok(link);
  return link.ifindex;
}

test('netlink: IPv4 and IPv6 addresses added and removed with label, scope and nodad, idempotently', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const ifindex = await eth0Index(lab, 'a');
    const v4 = { ifindex, address: '10.213.0.100', prefixLength: 24, label: 'eth0:vip' };
    const v4host = { ifindex, address: '10.213.0.101', prefixLength: 32, scope: 'host' };
    const v6 = { ifindex, address: 'fd13::100', prefixLength: 64, noDad: true };
    const added = await drive(lab, 'a', { op: 'add', ...v4 }, { op: 'add', ...v4 }, { op: 'add', ...v4host }, { op: 'add', ...v6 }, { op: 'add', ...v6 });
    assert.deepEqual(
      added.map((r) => ok(r)),
      [{ changed: true }, { changed: false }, { changed: true }, { changed: true }, { changed: false }],
    );
    const addrs = await ipAddrs(lab, 'a');
    const vip = addrs.find((a) => a.local === '10.213.0.100');
    assert.ok(vip, JSON.stringify(addrs));
    assert.equal(vip.prefixlen, 24);
    assert.equal(vip.label, 'eth0:vip');
    assert.equal(vip.scope, 'global');
    assert.equal(addrs.find((a) => a.local === '10.213.0.101')?.scope, 'host');
    const vip6 = addrs.find((a) => a.local === 'fd13::100');
    assert.ok(vip6);
    assert.equal(vip6.prefixlen, 64);
    assert.equal(vip6.nodad, true);
    const removed = await drive(lab, 'a', { op: 'remove', ...v4 }, { op: 'remove', ...v4 }, { op: 'remove', ...v4host }, { op: 'remove', ...v6 }, { op: 'remove', ...v6 });
    assert.deepEqual(
      removed.map((r) => ok(r)),
      [{ changed: true }, { changed: false }, { changed: true }, { changed: true }, { changed: false }],
    );
    const after = (await ipAddrs(lab, 'a')).map((a) => a.local);
    assert.ok(!after.includes('10.213.0.100') && !after.includes('10.213.0.101') && !after.includes('fd13::100'), after.join(' '));
    assert.ok(after.includes('10.213.0.1') && after.includes('fd13::1'), 'the lab addresses are untouched');
  });
});

test('netlink: an address add is acknowledged in the turn of the loop that sent it (the ack read at once after sendmsg), a refusal too', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const ifindex = await eth0Index(lab, 'a');
    const results = await drive(
      lab,
      'a',
      { op: 'add-in-turn', ifindex, address: '10.213.0.100', prefixLength: 24 },
      { op: 'add-in-turn', ifindex, address: 'fd13::100', prefixLength: 64, noDad: true },
      { op: 'add-in-turn', ifindex: 9999, address: '10.213.0.101', prefixLength: 24 },
    );
    assert.deepEqual(
      results.map((r) => ok(r)),
      [
        { inTurn: 'ok', settled: 'ok' },
        { inTurn: 'ok', settled: 'ok' },
        { inTurn: 'ENODEV', settled: 'ENODEV' },
      ],
    );
    const addrs = (await ipAddrs(lab, 'a')).map((a) => a.local);
    assert.ok(addrs.includes('10.213.0.100') && addrs.includes('fd13::100'), addrs.join(' '));
  });
});

test('netlink: errors carry errno, code and the object; listings match what ip shows and sees ip-made changes', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const ifindex = await eth0Index(lab, 'a');
    await lab.exec('a', 'ip', ['addr', 'add', '10.213.0.77/24', 'dev', 'eth0', 'label', 'eth0:hand']);
    const [missing, wrongPrefix, links, addrs, eth0, none] = await drive(
      lab,
      'a',
      { op: 'add', ifindex: 4242, address: '10.213.0.100', prefixLength: 24 },
      { op: 'remove', ifindex, address: '10.213.0.77', prefixLength: 16 },
      { op: 'links' },
      { op: 'addrs', ifindex },
      { op: 'link', name: 'eth0' },
      { op: 'link', name: 'nosuch0' },
    );
    assert.ok(missing && !missing.ok);
    if (missing && !missing.ok) {
      assert.equal(missing.error.name, 'NetlinkError');
      assert.equal(missing.error.errno, 19);
      assert.equal(missing.error.code, 'ENODEV');
      assert.equal(missing.error.operation, 'add');
      assert.equal(missing.error.object, '10.213.0.100/24 on ifindex 4242 (no such link)');
      assert.match(missing.error.message, /^add 10\.213\.0\.100\/24 on ifindex 4242 \(no such link\): ENODEV \(errno 19\)/);
    }
    // IPv4 removal matches the prefix length: /16 is not the /24 configured.
    assert.deepEqual(ok(wrongPrefix), { changed: false });
    const ipView = await ipLinks(lab, 'a');
    const ours = ok(links) as { index: number; name: string; up: boolean; mac: string | null; kind: string | null }[];
    assert.deepEqual(
      ours.map((l) => [l.index, l.name, l.up]),
      ipView.map((l) => [l.ifindex, l.ifname, l.flags.includes('UP')]),
    );
    const mine = ours.find((l) => l.name === 'eth0');
    assert.equal(mine?.mac, lab.host('a').mac);
    assert.equal(mine?.kind, 'veth');
    const listed = ok(addrs) as { address: string; prefixLength: number; label: string | null; family: string }[];
    const fromIp = await ipAddrs(lab, 'a');
    assert.deepEqual(
      listed.map((a) => `${a.address}/${a.prefixLength}`).sort(),
      fromIp.map((a) => `${a.local}/${a.prefixlen}`).sort(),
    );
    assert.equal(listed.find((a) => a.address === '10.213.0.77')?.label, 'eth0:hand');
    const link = ok(eth0) as { index: number; up: boolean; carrier: boolean; operstate: string };
    assert.equal(link.index, ifindex);
    assert.equal(link.up, true);
    assert.equal(link.carrier, true);
    assert.equal(link.operstate, 'up');
    assert.equal(ok(none), null);
  });
});

test('netlink: a macvlan with the VRRP MAC is created (idempotently), brought up, and deleted', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const parentIndex = await eth0Index(lab, 'a');
    const spec = { op: 'macvlan', name: 'vrrp.51', parentIndex, mac: '00:00:5e:00:01:33', mode: 'private' };
    const [created, again, conflicting] = await drive(lab, 'a', spec, spec, { ...spec, mode: 'bridge' });
    const link = (ok(created) as { changed: boolean; link: { index: number; kind: string; mac: string; link: number; macvlanMode: string; up: boolean } });
    assert.equal(link.changed, true);
    assert.equal(link.link.kind, 'macvlan');
    assert.equal(link.link.mac, '00:00:5e:00:01:33');
    assert.equal(link.link.link, parentIndex);
    assert.equal(link.link.macvlanMode, 'private');
    assert.equal(link.link.up, false, 'created down');
    assert.deepEqual((ok(again) as { changed: boolean }).changed, false);
    assert.ok(conflicting && !conflicting.ok);
    if (conflicting && !conflicting.ok) {
      assert.equal(conflicting.error.code, 'EEXIST');
      assert.match(conflicting.error.message, /mode is private/);
    }
    const ipView = (await ipLinks(lab, 'a')).find((l) => l.ifname === 'vrrp.51');
    assert.ok(ipView);
    assert.equal(ipView.address, '00:00:5e:00:01:33');
    assert.equal(ipView.linkinfo?.info_kind, 'macvlan');
    assert.equal(ipView.linkinfo?.info_data?.mode, 'private');
    assert.equal(ipView.link, 'eth0');
    const index = link.link.index;
    const [up, refused, deleted, deletedAgain] = await drive(
      lab,
      'a',
      { op: 'setup', index, up: true },
      { op: 'dellink', index: parentIndex, expectKind: 'macvlan' },
      { op: 'dellink', index, expectKind: 'macvlan' },
      { op: 'dellink', index },
    );
    ok(up);
    assert.ok(refused && !refused.ok && refused.error.code === 'EPERM', 'the physical parent is not deleted');
    assert.deepEqual(ok(deleted), { changed: true });
    assert.deepEqual(ok(deletedAgain), { changed: false });
    const names = (await ipLinks(lab, 'a')).map((l) => l.ifname);
    assert.ok(!names.includes('vrrp.51'));
    assert.ok(names.includes('eth0'));
  });
});

/** A watcher running in the namespace; events as parsed JSON lines. */
class Watch {
  readonly events: Record<string, unknown>[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    onLines(child.stdout, (line) => {
      this.events.push(JSON.parse(line) as Record<string, unknown>);
    }, () => {
      for (const w of [...this.waiters]) w();
    });
  }

  /** Waits for an event matching `pred` (seen before or after the call). */
  waitFor(pred: (e: Record<string, unknown>) => boolean, what: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.events.find(pred);
        if (!found) return false;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const waiter = (): void => {
        check();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no ${what} event within ${timeoutMs} ms; saw ${JSON.stringify(this.events.map((e) => [e['kind'], e['name'] ?? e['address']]))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      check();
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin?.end();
    await exited;
  }
}

test('netlink: events — addresses removed by hand, link down/up, and our own changes, with their types', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const ifindex = await eth0Index(lab, 'a');
    const watch = new Watch(lab.spawn('a', process.execPath, [DRIVER, JSON.stringify({ op: 'watch' })]));
    try {
      await watch.waitFor((e) => e['ready'] === true, 'ready');
      await lab.exec('a', 'ip', ['addr', 'add', '10.213.0.100/24', 'dev', 'eth0', 'label', 'eth0:vip']);
      await lab.exec('a', 'ip', ['addr', 'del', '10.213.0.100/24', 'dev', 'eth0']);
      const removed = await watch.waitFor((e) => e['kind'] === 'address-removed' && e['address'] === '10.213.0.100', 'address-removed');
      assert.equal(removed['messageType'], 'RTM_DELADDR');
      assert.equal(removed['family'], 'ipv4');
      assert.equal(removed['prefixLength'], 24);
      assert.equal(removed['ifindex'], ifindex);
      assert.equal(removed['label'], 'eth0:vip');
      assert.equal(removed['ifname'], 'eth0');
      assert.equal(removed['synthetic'], false);
      const added = watch.events.find((e) => e['kind'] === 'address-added' && e['address'] === '10.213.0.100');
      assert.equal(added?.['messageType'], 'RTM_NEWADDR');
      assert.ok(watch.events.indexOf(added ?? {}) < watch.events.indexOf(removed), 'added before removed');

      await lab.link('a', false);
      const down = await watch.waitFor((e) => e['kind'] === 'link-down', 'link-down');
      assert.equal(down['name'], 'eth0');
      assert.equal(down['index'], ifindex);
      await watch.waitFor((e) => e['kind'] === 'carrier-down' && e['name'] === 'eth0', 'carrier-down');
      await lab.link('a', true);
      const up = await watch.waitFor((e) => e['kind'] === 'link-up', 'link-up');
      assert.equal(up['name'], 'eth0');
      await watch.waitFor((e) => e['kind'] === 'carrier-up' && e['name'] === 'eth0', 'carrier-up');

      // The module's own change, seen by another of its sockets.
      ok((await drive(lab, 'a', { op: 'add', ifindex, address: 'fd13::200', prefixLength: 64, noDad: true }))[0]);
      const v6 = await watch.waitFor((e) => e['kind'] === 'address-added' && e['address'] === 'fd13::200', 'IPv6 address-added');
      assert.equal(v6['family'], 'ipv6');
      assert.equal(v6['label'], null);
      await lab.exec('a', 'ip', ['-6', 'addr', 'del', 'fd13::200/64', 'dev', 'eth0']);
      await watch.waitFor((e) => e['kind'] === 'address-removed' && e['address'] === 'fd13::200' && e['messageType'] === 'RTM_DELADDR', 'IPv6 address-removed');

      // Bridge-port notifications (AF_BRIDGE RTM_DELLINK on "nomaster") are not link removals.
      await lab.exec('a', 'ip', ['link', 'add', 'br9', 'type', 'bridge']);
      await lab.exec('a', 'ip', ['link', 'add', 'v9a', 'type', 'veth', 'peer', 'name', 'v9b']);
      await lab.exec('a', 'ip', ['link', 'set', 'v9a', 'master', 'br9']);
      await lab.exec('a', 'ip', ['link', 'set', 'v9a', 'nomaster']);
      await lab.exec('a', 'ip', ['link', 'del', 'br9']);
      await watch.waitFor((e) => e['kind'] === 'link-removed' && e['name'] === 'br9', 'link-removed br9');
      assert.ok(!watch.events.some((e) => e['kind'] === 'link-removed' && e['name'] === 'v9a'), 'v9a still exists');
      assert.ok(!watch.events.some((e) => e['kind'] === 'error'), JSON.stringify(watch.events.filter((e) => e['kind'] === 'error')));
    } finally {
      await watch.stop();
    }
  });
});

function readHostSysctl(key: string): string {
  // Only read: the machine's own namespace is never changed.
  return readFileSync(`/proc/sys/${key.split('.').join('/')}`, 'utf8').trim();
}

test('netlink: sysctl writes take effect in the namespace and not on the host; VMAC settings apply and restore', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const hostBefore = {
      nonlocal4: readHostSysctl('net.ipv4.ip_nonlocal_bind'),
      nonlocal6: readHostSysctl('net.ipv6.ip_nonlocal_bind'),
    };
    // A fresh namespace starts from the kernel defaults, not from the host's values.
    const [before4, before6] = await drive(lab, 'a', { op: 'sysctl-read', key: 'net.ipv4.ip_nonlocal_bind' }, { op: 'sysctl-read', key: 'net.ipv6.ip_nonlocal_bind' });
    const ns4 = ok(before4) as string;
    const ns6 = ok(before6) as string;
    const want4 = ns4 === '1' ? '0' : '1';
    const want6 = ns6 === '1' ? '0' : '1';
    const [w4, w6, w4again, r, bad] = await drive(
      lab,
      'a',
      { op: 'sysctl-write', key: 'net.ipv4.ip_nonlocal_bind', value: want4 },
      { op: 'sysctl-write', key: ['net', 'ipv6', 'ip_nonlocal_bind'].join('.'), value: want6 },
      { op: 'sysctl-write', key: 'net.ipv4.ip_nonlocal_bind', value: want4 },
      { op: 'sysctl-read', key: 'net.ipv4.conf.eth0.arp_ignore' },
      { op: 'sysctl-read', key: 'net.ipv4.conf.nosuch0.arp_ignore' },
    );
    assert.deepEqual(ok(w4), { previous: ns4, changed: true });
    assert.deepEqual(ok(w6), { previous: ns6, changed: true });
    assert.deepEqual(ok(w4again), { previous: want4, changed: false });
    assert.equal(ok(r), '0');
    assert.ok(bad && !bad.ok && bad.error.code === 'ENOENT');
    const inNs = await lab.exec('a', 'cat', ['/proc/sys/net/ipv4/ip_nonlocal_bind', '/proc/sys/net/ipv6/ip_nonlocal_bind']);
    assert.deepEqual(inNs.stdout.trim().split('\n'), [want4, want6]);
    assert.equal(readHostSysctl('net.ipv4.ip_nonlocal_bind'), hostBefore.nonlocal4, 'the host is unchanged');
    assert.equal(readHostSysctl('net.ipv6.ip_nonlocal_bind'), hostBefore.nonlocal6, 'the host is unchanged');
    if (hostBefore.nonlocal4 === ns4) assert.notEqual(readHostSysctl('net.ipv4.ip_nonlocal_bind'), want4, 'namespace and host now differ');

    // keepalived's VMAC settings on a macvlan and its parent, then restored.
    const parentIndex = await eth0Index(lab, 'a');
    ok((await drive(lab, 'a', { op: 'macvlan', name: 'vrrp.51', parentIndex, mac: '00:00:5e:00:01:33', mode: 'private' }))[0]);
    const [applied] = await drive(lab, 'a', { op: 'vmac-sysctls', parent: 'eth0', vmac: 'vrrp.51' });
    const list = ok(applied) as { key: string[]; value: string; previous: string; changed: boolean }[];
    const cat = async (k: string): Promise<string> => (await lab.exec('a', 'cat', [`/proc/sys/${k}`])).stdout.trim();
    assert.equal(await cat('net/ipv4/conf/vrrp.51/arp_ignore'), '1');
    assert.equal(await cat('net/ipv4/conf/vrrp.51/accept_local'), '1');
    assert.equal(await cat('net/ipv4/conf/vrrp.51/rp_filter'), '0');
    assert.equal(await cat('net/ipv4/conf/vrrp.51/promote_secondaries'), '1');
    assert.equal(await cat('net/ipv4/conf/eth0/arp_ignore'), '1');
    assert.equal(await cat('net/ipv4/conf/eth0/arp_filter'), '1');
    assert.equal(await cat('net/ipv6/conf/vrrp.51/disable_ipv6'), '1');
    assert.ok(list.length >= 7);
    ok((await drive(lab, 'a', { op: 'restore-sysctls', applied: list }))[0]);
    assert.equal(await cat('net/ipv4/conf/eth0/arp_ignore'), '0');
    assert.equal(await cat('net/ipv4/conf/eth0/arp_filter'), '0');
  });
});

/** The port id of the watcher's event socket: the NETLINK_ROUTE socket bound to groups 0x111, per /proc/net/netlink. */
async function eventSocketPort(lab: Lab, host: string): Promise<number> {
  const table = (await lab.exec(host, 'cat', ['/proc/net/netlink'])).stdout.trim().split('\n').slice(1);
  for (const row of table) {
    const [, protocol, portid, groups] = row.trim().split(/\s+/);
    if (protocol === '0' && groups !== undefined && (parseInt(groups, 16) & 0x111) === 0x111) return Number(portid);
  }
  throw new Error(`no subscribed NETLINK_ROUTE socket in\n${table.join('\n')}`);
}

test('netlink: forged notifications from a user-space port are ignored; the real one is not', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const ifindex = await eth0Index(lab, 'a');
    const watch = new Watch(lab.spawn('a', process.execPath, [DRIVER, JSON.stringify({ op: 'watch' })]));
    try {
      await watch.waitFor((e) => e['ready'] === true, 'ready');
      const port = await eventSocketPort(lab, 'a');
      const forged = encodeMessage({ type: RTM.NEWLINK, flags: 0, seq: 0 }, encodeIfInfoMsg({ index: ifindex, type: 1, flags: 0 }), [attr.string(IFLA.IFNAME, 'eth0')]);
      const [sent] = await drive(lab, 'a', { op: 'send-raw', port, hex: forged.toString('hex') });
      assert.equal(ok(sent), forged.length);
      // Then a real change: its event must be the first link event seen.
      await lab.exec('a', 'ip', ['addr', 'add', '10.213.0.9/32', 'dev', 'eth0']);
      await watch.waitFor((e) => e['kind'] === 'address-added' && e['address'] === '10.213.0.9', 'address-added');
      assert.ok(!watch.events.some((e) => e['kind'] === 'link-down'), 'the forged "eth0 down" was not believed');
      await lab.link('a', false);
      await watch.waitFor((e) => e['kind'] === 'link-down' && e['name'] === 'eth0', 'link-down');
    } finally {
      await watch.stop();
    }
  });
});

test('netlink: an event-queue overrun (ENOBUFS) is reported and followed by a resync that reports what was missed', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    // A tiny receive buffer (SO_RCVBUFFORCE), then a burst of 400 addresses from one `ip -batch`.
    const watch = new Watch(lab.spawn('a', process.execPath, [DRIVER, JSON.stringify({ op: 'watch', receiveBuffer: 1024 })]));
    try {
      await watch.waitFor((e) => e['ready'] === true, 'ready');
      const count = 400;
      const batch = Array.from({ length: count }, (_, i) => `addr add 10.213.${10 + Math.floor(i / 200)}.${(i % 200) + 1}/32 dev eth0`).join('\n');
      const child = lab.spawn('a', 'ip', ['-batch', '-']);
      const done = new Promise((r) => child.once('exit', r));
      child.stdin?.end(`${batch}\n`);
      await done;
      await watch.waitFor((e) => e['kind'] === 'overrun', 'overrun');
      await watch.waitFor((e) => e['kind'] === 'resynced', 'resynced', 10000);
      // Overruns may recur while the burst drains (each followed by another resync): what
      // counts is that every address is reported in the end, by notification or by a resync.
      const reported = (): Set<unknown> => new Set(watch.events.filter((e) => e['kind'] === 'address-added').map((e) => e['address']));
      await watch.waitFor(() => reported().size >= count, `all ${count} addresses reported`, 10000).catch(() => undefined);
      const added = reported();
      assert.equal(added.size, count, 'every address was reported, by notification or by the resync');
      assert.ok(
        watch.events.some((e) => e['kind'] === 'address-added' && e['synthetic'] === true),
        'some were reported by the resync',
      );
    } finally {
      await watch.stop();
    }
  });
});
