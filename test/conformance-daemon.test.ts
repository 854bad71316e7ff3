/**
 * RFC 5798 requirements the daemon carries out that the other lab tests do not check
 * directly (docs/conformance.md names these tests): the reserved bits of the adverts sent,
 * who answers ARP / neighbour solicitations for a VIP (the master only), the log lines of
 * failed receive checks and of an address-list mismatch, and with an IPv6 VMAC: no
 * link-local address derived from the virtual MAC, the solicited-node groups joined, and
 * the virtual MAC in the neighbour entry of the VIP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, neighborAdverts, vrrpAdverts, type Frame } from '../src/lab/capture.js';
import { VigilProcess, configYaml, instanceYaml, waitHolders } from '../src/lab/vigil.js';
import { injectSource, injectVrrp } from '../src/lab/inject.js';
import { vrrpGroup } from '../src/vrrp/multicast.js';
import { addressFromBytes, ip } from '../src/net/address.js';
import { formatMac } from '../src/net/mac.js';
import { encodeAdvert } from '../src/vrrp/codec.js';
import type { Centiseconds, Priority, Vrid } from '../src/vrrp/types.js';
import { sleep, until } from '../src/lab/wait.js';
import { labSkipReason } from '../src/lab/netns.js';

const skip = labSkipReason();
const TEST_TIMEOUT = 90_000;

async function neighbourMac(lab: Lab, host: string, address: string): Promise<string | undefined> {
  const r = await lab.exec(host, 'ip', ['-j', 'neigh', 'show', address], true);
  if (r.code !== 0 || !r.stdout.trim()) return undefined;
  return (JSON.parse(r.stdout) as { dst: string; lladdr?: string }[]).find((e) => e.dst === address)?.lladdr?.toLowerCase();
}

/** ARP replies (opcode 2) among the frames: who said it has which address. */
function arpReplies(frames: readonly Frame[]): { ip: string; senderMac: string }[] {
  const out: { ip: string; senderMac: string }[] = [];
  for (const f of frames) {
    const b = f.bytes;
    if (b.length < 42 || b.readUInt16BE(12) !== 0x0806 || b.readUInt16BE(20) !== 2) continue;
    out.push({ ip: addressFromBytes('ipv4', b, 28).text, senderMac: formatMac(b, 22) });
  }
  return out;
}

const VIP = '10.213.0.120';

test('conformance: adverts carry reserved bits 0; only the master answers ARP and NS for the VIPs; failed receive checks and address-list mismatches are logged', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'c', 'client'] }, async (lab) => {
    const VIP6 = 'fd13::120';
    const cfg = (priority: number): string =>
      configYaml(
        instanceYaml({ vrid: 91, priority, vips: [`${VIP}/24`] }),
        instanceYaml({ name: 'gw6', vrid: 92, priority, vips: ['fe80::13:1:120/64', `${VIP6}/64`] }),
      );
    const a = await VigilProcess.start(lab, 'a', cfg(200));
    const b = await VigilProcess.start(lab, 'b', cfg(100));
    try {
      await a.waitState('gw', 'master');
      await a.waitState('gw6', 'master');
      await b.waitState('gw', 'backup');
      await b.waitState('gw6', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await waitHolders(lab, ['a', 'b'], VIP6, ['a']);

      // RFC 5798 §5.2.6: the 4 reserved bits before Max Adver Int are sent as 0.
      const cap = await Capture.start(lab, 'client', 'vrrp or ip6 proto 112 or arp or icmp6');
      await until(() => vrrpAdverts(cap.frames()).filter((x) => x.src.text === lab.host('a').ipv4).length >= 3, () => 'adverts from a', 5000);
      // RFC 5798 §6.4.2 (310)/(320), §6.4.3 (610)/(625): a fresh resolution from the client
      // is answered by the master alone.
      await lab.exec('client', 'ip', ['neigh', 'flush', 'dev', 'eth0']);
      await lab.exec('client', 'ping', ['-n', '-c', '1', '-W', '1', VIP]);
      await lab.exec('client', 'ping', ['-6', '-n', '-c', '1', '-W', '1', VIP6]);
      await sleep(200);
      const frames = await cap.stop();
      const adverts = vrrpAdverts(frames).filter((x) => x.vrid === 91 || x.vrid === 92);
      assert.ok(adverts.length >= 3);
      for (const x of adverts) {
        assert.equal((x.payload[4] as number) >> 4, 0, `reserved bits of ${x.src.text}'s advert`);
        // §7.2 / §5.1: IP protocol 112 to the group, from a's primary / link-local address.
        assert.ok(
          (x.dst.text === '224.0.0.18' && x.src.text === lab.host('a').ipv4) || (x.dst.text === 'ff02::12' && x.src.text === lab.host('a').ipv6LinkLocal),
          `${x.src.text} -> ${x.dst.text}`,
        );
      }
      const arp = arpReplies(frames).filter((r) => r.ip === VIP);
      assert.ok(arp.length >= 1, 'the client resolved the VIP by ARP');
      assert.deepEqual([...new Set(arp.map((r) => r.senderMac))], [lab.host('a').mac], 'only the master answers ARP for the VIP');
      const na = neighborAdverts(frames).filter((n) => n.target === VIP6);
      assert.ok(na.length >= 1, 'the client resolved the IPv6 VIP');
      assert.deepEqual([...new Set(na.map((n) => n.ethSrc))], [lab.host('a').mac], 'only the master answers NS for the IPv6 VIP');
      assert.equal(await neighbourMac(lab, 'client', VIP), lab.host('a').mac);
      assert.equal(await neighbourMac(lab, 'client', VIP6), lab.host('a').mac);

      // RFC 5798 §7.1 (SHOULD log): adverts failing the receive checks are logged with their reason.
      const mark = a.events.length;
      const src = injectSource(lab, 'c', 'ipv4');
      const advert = (priority: number, addresses: readonly string[]): Buffer =>
        encodeAdvert(
          { version: 3, family: 'ipv4', vrid: 91 as Vrid, priority: priority as Priority, maxAdverInt: 100 as Centiseconds, reserved: 0, addresses: addresses.map((x) => ip(x)) },
          { src, dst: vrrpGroup('ipv4') },
        );
      injectVrrp(lab, 'c', 'ipv4', 64, [advert(254, [VIP])]);
      const badSum = Buffer.from(advert(254, [VIP]));
      badSum.writeUInt16BE(badSum.readUInt16BE(6) ^ 0x0101, 6);
      injectVrrp(lab, 'c', 'ipv4', 255, [badSum]);
      for (const reason of ['ttl', 'bad-checksum']) {
        const e = await a.waitFor((x) => x.event === 'advert-dropped' && x['reason'] === reason, `advert-dropped ${reason}`, 5000, mark);
        assert.equal(e.level, 'warn');
        assert.equal(e['instance'], 'gw');
        assert.equal(e['src'], src.text);
        assert.ok(typeof e['counter'] === 'string' && e['counter'] !== '', 'names its MIB counter');
        assert.ok(typeof e['detail'] === 'string' && e['detail'] !== '', 'says what was wrong');
      }
      // §7.1 (SHOULD log a mismatching address list): a lower-priority advert listing
      // another address is accepted (address_list_check: log) and logged; nothing moves.
      injectVrrp(lab, 'c', 'ipv4', 255, [advert(50, ['10.213.0.199'])]);
      const list = await a.waitFor((x) => x.event === 'advert-address-list', 'advert-address-list', 5000, mark);
      t.diagnostic(`logged: ${String(list['detail'])}`);
      assert.equal(list['src'], src.text);
      await sleep(300);
      assert.equal((await a.instance('gw')).state, 'master');
      assert.equal((await b.instance('gw')).state, 'backup');
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

test('conformance: an IPv6 VMAC gets no link-local address from the virtual MAC; the VIPs\' solicited-node groups are joined; the client resolves the VIP to 00:00:5e:00:02:VRID', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'client'] }, async (lab) => {
    const VRID = 93;
    const vmac = `vrrp6.${VRID}`;
    const vmacMac = `00:00:5e:00:02:${VRID.toString(16)}`;
    const VIP6 = 'fd13::130';
    const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ name: 'gw6', vrid: VRID, priority: 200, vips: ['fe80::13:1:130/64', `${VIP6}/64`], extra: '    vmac: true' })));
    try {
      await a.waitState('gw6', 'master');
      await waitHolders(lab, ['a'], VIP6, ['a']);
      // RFC 5798 §7.4: no EUI-64 identifier from the virtual MAC (fe80::200:5eff:fe00:25d).
      const addrs = JSON.parse((await lab.exec('a', 'ip', ['-j', '-6', 'addr', 'show', 'dev', vmac])).stdout) as { addr_info: { local: string }[] }[];
      const onVmac = (addrs[0]?.addr_info ?? []).map((x) => x.local).sort();
      // The VIPs, and the parent's link-local address: the adverts' source on the VMAC.
      assert.deepEqual(onVmac, ['fd13::130', 'fe80::13:1:130', lab.host('a').ipv6LinkLocal].sort(), `addresses on ${vmac}`);
      // RFC 5798 §7.2: the adverts leave from the virtual MAC, with the link-local source.
      const cap = await Capture.start(lab, 'client', 'ip6 proto 112');
      await sleep(350);
      const adverts = vrrpAdverts(await cap.stop()).filter((x) => x.vrid === VRID);
      assert.ok(adverts.length >= 2, `adverts captured: ${adverts.length}`);
      assert.deepEqual([...new Set(adverts.map((x) => `${x.src.text} ${x.srcMac} ${x.ttl}`))], [`${lab.host('a').ipv6LinkLocal} ${vmacMac} 255`]);
      assert.ok(!onVmac.some((x) => x.includes('5eff:fe00')), 'no address derived from the virtual MAC');
      // RFC 5798 §6.4.2 (390), §6.4.3 (620): the kernel joined the solicited-node groups when the VIPs were added.
      const groups = (await lab.exec('a', 'ip', ['-6', 'maddr', 'show', 'dev', vmac])).stdout;
      assert.match(groups, /ff02::1:ff00:130\b/, groups);
      assert.match(groups, /ff02::1:ff01:130\b/, groups);
      // RFC 5798 §8.2.2: the NA answering the client carries the virtual MAC.
      await until(async () => (await lab.exec('client', 'ping', ['-6', '-n', '-c', '1', '-W', '1', VIP6], true)).code === 0, () => `ping6 ${VIP6}`, 5000);
      assert.equal(await neighbourMac(lab, 'client', VIP6), vmacMac);
    } finally {
      await a.stop();
    }
  });
});

test('conformance: two IPv6 VMAC routers hear each other through their VMACs; the backup follows the master and takes over on SIGTERM, sending from the virtual MAC', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const VRID = 94;
    const vmacMac = `00:00:5e:00:02:${VRID.toString(16)}`;
    const VIP6 = 'fd13::131';
    const yaml = (priority: number): string =>
      configYaml(instanceYaml({ name: 'gw6', vrid: VRID, priority, vips: ['fe80::13:1:131/64', `${VIP6}/64`], extra: '    vmac: true' }));
    const a = await VigilProcess.start(lab, 'a', yaml(200));
    const b = await VigilProcess.start(lab, 'b', yaml(100));
    try {
      await a.waitState('gw6', 'master');
      await b.waitState('gw6', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP6, ['a']);
      await until(async () => (await b.instance('gw6')).master?.address === lab.host('a').ipv6LinkLocal, () => 'b follows a', 3000);
      assert.deepEqual(b.stateChanges('gw6').map((e) => e['to']), ['backup'], 'b never took over while a advertised');
      const cap = await Capture.start(lab, 'client', 'ip6 proto 112');
      a.signal('SIGTERM');
      await b.waitState('gw6', 'master', 3000);
      await sleep(250);
      const adverts = vrrpAdverts(await cap.stop()).filter((x) => x.vrid === VRID);
      const fromB = adverts.filter((x) => x.src.text === lab.host('b').ipv6LinkLocal);
      assert.ok(adverts.some((x) => x.src.text === lab.host('a').ipv6LinkLocal && x.priority === 0), 'a sent priority 0');
      assert.ok(fromB.length >= 1 && fromB.every((x) => x.srcMac === vmacMac), `b's adverts from ${vmacMac}: ${JSON.stringify(fromB.map((x) => x.srcMac))}`);
      await waitHolders(lab, ['a', 'b'], VIP6, ['b']);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
