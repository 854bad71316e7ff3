/**
 * The daemon against the outside world, in the lab:
 * - malformed and spoofed adverts injected from a third host at a running vigil pair are
 *   dropped, counted per reason in `vigil status --json`, and leave the election alone;
 * - vigil and keepalived (the Debian package) elect one master on one VRID, VRRPv3 and
 *   VRRPv2, each side winning once by priority;
 * - tshark's VRRP dissector finds vigil's adverts (v2, v3 IPv4, v3 IPv6) valid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run, withLab, type Lab } from '../src/lab/netns.js';
import { Capture, vrrpAdverts } from '../src/lab/capture.js';
import { VIGIL_MAIN, VigilProcess, configYaml, holders, instanceYaml, waitHolders } from '../src/lab/vigil.js';
import { fixChecksum, injectSource, injectVrrp } from '../src/lab/inject.js';
import { vrrpGroup } from '../src/vrrp/multicast.js';
import { Keepalived, keepalivedConf } from '../src/lab/keepalived.js';
import { ip } from '../src/net/address.js';
import { encodeAdvert, type Advert } from '../src/vrrp/codec.js';
import { passwordAuthData } from '../src/vrrp/acceptance.js';
import { REJECT_REASONS, type RejectReason } from '../src/vrrp/rejection.js';
import type { DaemonStatus } from '../src/daemon/daemon.js';
import { AUTH_DATA_LENGTH, AUTH_NONE, AUTH_SIMPLE_TEXT, type Centiseconds, type Priority, type Vrid } from '../src/vrrp/types.js';
import { sleep, until } from '../src/lab/wait.js';
import { labSkipReason } from '../src/lab/netns.js';

const skip = labSkipReason();

function have(cmd: string, args: readonly string[]): boolean {
  try {
    execFileSync(cmd, [...args], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const skipKeepalived = skip || (Keepalived.available() ? false : 'keepalived is not installed');
const skipTshark = skip || (have('tshark', ['--version']) ? false : 'tshark is not installed');


// ---------------------------------------------------------------------------------------
// 1. Malformed and spoofed adverts
// ---------------------------------------------------------------------------------------

const SOCKET4 = 'eth0/ipv4/multicast';
const SOCKET6 = 'eth0/ipv6/multicast';
const PASSWORD = 's3cret';

/** Where a drop is counted: an instance's `rejected`, or a socket's `socketRejects`. */
type Where = { readonly instance: string } | { readonly socket: string };

function whereKey(w: Where): string {
  return 'instance' in w ? `instance ${w.instance}` : `socket ${w.socket}`;
}

/** Every per-reason drop counter in a status, keyed by "instance NAME" / "socket KEY". */
function dropCounters(s: DaemonStatus): Map<string, Record<RejectReason, number>> {
  const out = new Map<string, Record<RejectReason, number>>();
  const full = (partial: Partial<Record<RejectReason, number>>): Record<RejectReason, number> => {
    const r = {} as Record<RejectReason, number>;
    for (const reason of REJECT_REASONS) r[reason] = partial[reason] ?? 0;
    return r;
  };
  for (const i of s.instances) out.set(`instance ${i.name}`, full(i.rejected));
  for (const [key, counts] of Object.entries(s.socketRejects)) out.set(`socket ${key}`, full(counts));
  return out;
}

/** The non-zero differences after − before, as "where reason" → n. */
function dropDelta(before: DaemonStatus, after: DaemonStatus): Map<string, number> {
  const b = dropCounters(before);
  const out = new Map<string, number>();
  for (const [where, counts] of dropCounters(after)) {
    for (const reason of REJECT_REASONS) {
      const d = counts[reason] - (b.get(where)?.[reason] ?? 0);
      if (d !== 0) out.set(`${where} ${reason}`, d);
    }
  }
  return out;
}

function sorted(m: Map<string, number>): [string, number][] {
  return [...m].sort(([x], [y]) => x.localeCompare(y));
}

test('interop: malformed and spoofed adverts from a third host are dropped, counted per reason, and leave the election alone', { skip, timeout: 90_000 }, async () => {
  await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) => {
    const config = (priority: number): string =>
      configYaml(
        instanceYaml({ name: 'gw', vrid: 51, priority, vips: ['10.213.0.100/24'] }),
        instanceYaml({
          name: 'gw2',
          vrid: 52,
          priority,
          interval: '1s',
          vips: ['10.213.0.101/24'],
          extra: `    version: 2\n    authentication: { type: pass, password: ${PASSWORD} }`,
        }),
        instanceYaml({ name: 'gw6', vrid: 53, priority, vips: ['fe80::53/64', 'fd13::153/64'] }),
      );
    const a = await VigilProcess.start(lab, 'a', config(200));
    const b = await VigilProcess.start(lab, 'b', config(100));
    try {
      for (const name of ['gw', 'gw2', 'gw6']) await a.waitState(name, 'master', 15000);
      // b has heard a on every instance.
      await until(
        async () => (await b.status()).instances.every((i) => i.state === 'backup' && i.master?.address === (i.family === 'ipv4' ? lab.host('a').ipv4 : lab.host('a').ipv6LinkLocal)),
        () => `b did not settle as backup of a: ${b.logText()}`,
        10000,
      );
      const before = { a: await a.status(), b: await b.status() };
      const changes = { a: a.events.filter((e) => e.event === 'state-change').length, b: b.events.filter((e) => e.event === 'state-change').length };

      // The packets, each from c (10.213.0.3 / its link-local), all claiming priority 254:
      // any one of them that got through would make a step down at once.
      const c4 = injectSource(lab, 'c', 'ipv4');
      const c6 = injectSource(lab, 'c', 'ipv6');
      const pseudo4 = { src: c4, dst: vrrpGroup('ipv4') };
      const pseudo6 = { src: c6, dst: vrrpGroup('ipv6') };
      const spoof = 254 as Priority;
      const v3 = (vrid: number, family: 'ipv4' | 'ipv6', addresses: readonly string[]): Advert => ({
        version: 3,
        family,
        vrid: vrid as Vrid,
        priority: spoof,
        maxAdverInt: 100 as Centiseconds,
        reserved: 0,
        addresses: addresses.map((x) => ip(x)),
      });
      const v2 = (vrid: number, password: string | undefined, addresses: readonly string[]): Advert => ({
        version: 2,
        family: 'ipv4',
        vrid: vrid as Vrid,
        priority: spoof,
        adverIntSeconds: 1,
        authType: password === undefined ? AUTH_NONE : AUTH_SIMPLE_TEXT,
        authData: password === undefined ? new Uint8Array(AUTH_DATA_LENGTH) : passwordAuthData(password),
        addresses: addresses.map((x) => ip(x)),
      });
      const gw = v3(51, 'ipv4', ['10.213.0.100']);
      const gw6 = v3(53, 'ipv6', ['fe80::53', 'fd13::153']);
      const good4 = encodeAdvert(gw, pseudo4);
      const good6 = encodeAdvert(gw6, pseudo6);
      const badChecksum = (p: Buffer): Buffer => {
        const out = Buffer.from(p);
        out.writeUInt16BE(out.readUInt16BE(6) ^ 0x0101, 6);
        return out;
      };
      const version1 = fixChecksum(Buffer.from(good4).fill(0x11, 0, 1), pseudo4);

      interface Case {
        readonly what: string;
        readonly family: 'ipv4' | 'ipv6';
        readonly ttl: number;
        readonly packet: Buffer;
        readonly where: Where;
        readonly reason: RejectReason;
      }
      const cases: Case[] = [
        { what: 'spoofed priority 254 with TTL 64', family: 'ipv4', ttl: 64, packet: good4, where: { instance: 'gw' }, reason: 'ttl' },
        { what: 'bad checksum', family: 'ipv4', ttl: 255, packet: badChecksum(good4), where: { instance: 'gw' }, reason: 'bad-checksum' },
        { what: 'unknown VRID 99', family: 'ipv4', ttl: 255, packet: encodeAdvert(v3(99, 'ipv4', ['10.213.0.199']), pseudo4), where: { socket: SOCKET4 }, reason: 'unknown-vrid' },
        { what: 'v2 with TTL 64', family: 'ipv4', ttl: 64, packet: encodeAdvert(v2(52, PASSWORD, ['10.213.0.101']), pseudo4), where: { instance: 'gw2' }, reason: 'ttl' },
        { what: 'v2 wrong password', family: 'ipv4', ttl: 255, packet: encodeAdvert(v2(52, 'guessed', ['10.213.0.101']), pseudo4), where: { instance: 'gw2' }, reason: 'auth-failure' },
        { what: 'v2 without authentication', family: 'ipv4', ttl: 255, packet: encodeAdvert(v2(52, undefined, ['10.213.0.101']), pseudo4), where: { instance: 'gw2' }, reason: 'auth-type-mismatch' },
        { what: 'truncated (10 of 12 bytes)', family: 'ipv4', ttl: 255, packet: good4.subarray(0, 10), where: { instance: 'gw' }, reason: 'truncated' },
        { what: 'truncated to 1 byte (no VRID)', family: 'ipv4', ttl: 255, packet: good4.subarray(0, 1), where: { socket: SOCKET4 }, reason: 'truncated' },
        { what: 'version 1', family: 'ipv4', ttl: 255, packet: version1, where: { instance: 'gw' }, reason: 'bad-version' },
        { what: 'a v2 advert for a v3 instance', family: 'ipv4', ttl: 255, packet: encodeAdvert(v2(51, undefined, ['10.213.0.100']), pseudo4), where: { instance: 'gw' }, reason: 'bad-version' },
        { what: 'a v3 advert for a v2 instance', family: 'ipv4', ttl: 255, packet: encodeAdvert(v3(52, 'ipv4', ['10.213.0.101']), pseudo4), where: { instance: 'gw2' }, reason: 'bad-version' },
        { what: 'IPv6 spoofed priority 254 with hop limit 64', family: 'ipv6', ttl: 64, packet: good6, where: { instance: 'gw6' }, reason: 'ttl' },
        { what: 'IPv6 bad checksum', family: 'ipv6', ttl: 255, packet: badChecksum(good6), where: { instance: 'gw6' }, reason: 'bad-checksum' },
      ];
      // Each case 10 times, 100 ms apart: a whole second of spoofed priority 254, longer
      // than b's Master_Down_Interval and many of a's advert intervals.
      const rounds = 10;
      const expected = new Map<string, number>();
      for (const c of cases) {
        const key = `${whereKey(c.where)} ${c.reason}`;
        expected.set(key, (expected.get(key) ?? 0) + rounds);
      }
      let sent4 = 0;
      for (let r = 0; r < rounds; r++) {
        for (const c of cases) {
          injectVrrp(lab, 'c', c.family, c.ttl, [c.packet]);
          if (c.family === 'ipv4') sent4++;
        }
        await sleep(100);
      }

      // Every drop counted where it belongs, on both daemons, and nothing else counted.
      for (const [name, d, was] of [['a', a, before.a], ['b', b, before.b]] as const) {
        let delta = new Map<string, number>();
        await until(
          async () => {
            delta = dropDelta(was, await d.status());
            return JSON.stringify(sorted(delta)) === JSON.stringify(sorted(expected));
          },
          () => `${name}: drop counters moved by\n${JSON.stringify(sorted(delta))}\nexpected\n${JSON.stringify(sorted(expected))}`,
          5000,
        );
      }

      // The election did not move: a is master, b its backup, no state change anywhere.
      await sleep(300);
      const afterA = await a.status();
      const afterB = await b.status();
      for (const i of afterA.instances) assert.equal(i.state, 'master', `a ${i.name}`);
      for (const i of afterB.instances) {
        assert.equal(i.state, 'backup', `b ${i.name}`);
        assert.equal(i.master?.address, i.family === 'ipv4' ? lab.host('a').ipv4 : lab.host('a').ipv6LinkLocal, `b ${i.name} follows a`);
        assert.equal(i.master?.priority, 200);
      }
      assert.equal(a.events.filter((e) => e.event === 'state-change').length, changes.a, `a changed state: ${a.logText()}`);
      assert.equal(b.events.filter((e) => e.event === 'state-change').length, changes.b, `b changed state: ${b.logText()}`);
      assert.deepEqual(await holders(lab, ['a', 'b'], '10.213.0.100'), ['a']);
      // The transport passed every IPv4 packet on (the kernel checked the IP headers) and
      // dropped none itself; its counters are in the status.
      for (const [name, s, was] of [['a', afterA, before.a], ['b', afterB, before.b]] as const) {
        const now4 = s.sockets[SOCKET4];
        const then4 = was.sockets[SOCKET4];
        assert.ok(now4 && then4 && s.sockets[SOCKET6], `${name}: socket counters in status: ${JSON.stringify(s.sockets)}`);
        assert.equal(now4.malformed, 0);
        assert.equal(now4.receiveErrors, 0);
        assert.ok(now4.received - then4.received >= sent4, `${name}: ${now4.received - then4.received} IPv4 packets received, ${sent4} injected`);
      }
      // The same numbers through the command line.
      const cli = JSON.parse((await run(process.execPath, [VIGIL_MAIN, 'status', '--json', '--runtime-dir', b.runtimeDir])).stdout) as DaemonStatus;
      assert.equal(cli.instances.find((i) => i.name === 'gw')?.rejected.ttl, rounds);
      assert.equal(cli.socketRejects[SOCKET4]?.['unknown-vrid'], rounds);
      assert.equal(cli.sockets[SOCKET4]?.malformed, 0);
      assert.ok(!a.exited && !b.exited, 'both daemons still run');
      assert.equal(a.stderr + b.stderr, '');

      // Control: the very same spoof with TTL 255 is obeyed, so the packets above did reach
      // the state machines' doorstep and were turned away by the checks alone.
      const from = a.events.length;
      injectVrrp(lab, 'c', 'ipv4', 255, [good4]);
      await a.waitState('gw', 'backup', 3000, from);
      assert.equal((await a.instance('gw')).master?.address, lab.host('c').ipv4);
      // c goes quiet: a takes over again (its skew is the shortest).
      await a.waitState('gw', 'master', 5000, from);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------
// 2. keepalived
// ---------------------------------------------------------------------------------------

const KA_VIP = '10.213.0.100';

interface InteropCase {
  readonly version: 2 | 3;
  readonly vrid: number;
  /** vigil's advert_interval and keepalived's advert_int. */
  readonly vigilInterval: string;
  readonly kaInterval: number;
  readonly password?: string;
  /** How long both sides are watched for flapping once settled. */
  readonly settleMs: number;
  /** Bound for one takeover (Master_Down_Interval plus start-up and load). */
  readonly takeoverMs: number;
}

function vigilInteropYaml(c: InteropCase, priority: number): string {
  const extra = [
    `    version: ${c.version}`,
    ...(c.password !== undefined ? [`    authentication: { type: pass, password: ${c.password} }`] : []),
  ].join('\n');
  return configYaml(instanceYaml({ vrid: c.vrid, priority, interval: c.vigilInterval, vips: [`${KA_VIP}/24`], extra }));
}

function kaInteropConf(c: InteropCase, priority: number): string {
  return keepalivedConf('vigil_interop', {
    vrid: c.vrid,
    priority,
    version: c.version,
    advertInt: c.kaInterval,
    vips: [`${KA_VIP}/24`],
    ...(c.password !== undefined ? { password: c.password } : {}),
  });
}

/** vigil on a (10.213.0.1), keepalived on b (10.213.0.2). `winner` has priority 200, the other 100; the loser starts first and is preempted. */
async function interopRound(lab: Lab, c: InteropCase, winner: 'vigil' | 'keepalived'): Promise<void> {
  const vigilPriority = winner === 'vigil' ? 200 : 100;
  const kaPriority = winner === 'vigil' ? 100 : 200;
  let vigil: VigilProcess | undefined;
  let ka: Keepalived | undefined;
  // Where to look for the loser's step down: only what it logs once the winner started.
  let kaFrom = 0;
  let vigilFrom = 0;
  try {
    // The loser first, alone: it becomes master.
    if (winner === 'vigil') {
      ka = await Keepalived.start(lab, 'b', kaInteropConf(c, kaPriority));
      await ka.waitState('MASTER', c.takeoverMs);
      await waitHolders(lab, ['a', 'b'], KA_VIP, ['b']);
      kaFrom = ka.output.length;
      vigil = await VigilProcess.start(lab, 'a', vigilInteropYaml(c, vigilPriority));
    } else {
      vigil = await VigilProcess.start(lab, 'a', vigilInteropYaml(c, vigilPriority));
      await vigil.waitState('gw', 'master', c.takeoverMs);
      await waitHolders(lab, ['a', 'b'], KA_VIP, ['a']);
      vigilFrom = vigil.events.length;
      ka = await Keepalived.start(lab, 'b', kaInteropConf(c, kaPriority));
    }
    // The winner preempts.
    if (winner === 'vigil') {
      await vigil.waitState('gw', 'master', c.takeoverMs);
      await ka.waitState('BACKUP', c.takeoverMs, kaFrom);
      await waitHolders(lab, ['a', 'b'], KA_VIP, ['a'], c.takeoverMs);
    } else {
      await ka.waitState('MASTER', c.takeoverMs);
      await vigil.waitState('gw', 'backup', c.takeoverMs, vigilFrom);
      await waitHolders(lab, ['a', 'b'], KA_VIP, ['b'], c.takeoverMs);
    }
    // Settled: watch for flapping, then both agree on who is master.
    const vigilChanges = vigil.stateChanges('gw').length;
    const kaChanges = ka.transitions().length;
    await sleep(c.settleMs);
    assert.equal(vigil.stateChanges('gw').length, vigilChanges, `vigil flapped: ${vigil.logText()}`);
    assert.equal(ka.transitions().length, kaChanges, `keepalived flapped:\n${ka.output}`);
    assert.deepEqual(await holders(lab, ['a', 'b'], KA_VIP), [winner === 'vigil' ? 'a' : 'b'], 'exactly one side holds the VIP');

    const v = await vigil.instance('gw');
    const k = await ka.dump();
    if (winner === 'vigil') {
      assert.equal(v.state, 'master');
      assert.equal(k.state, 'BACKUP');
      assert.equal(k.masterRouter, lab.host('a').ipv4, `keepalived's master:\n${k.raw}`);
      assert.equal(k.masterPriority, 200);
    } else {
      assert.equal(k.state, 'MASTER');
      assert.equal(v.state, 'backup');
      assert.equal(v.master?.address, lab.host('b').ipv4);
      assert.equal(v.master?.priority, 200);
      assert.ok(v.stats.advertsReceived > 0);
    }
    // Neither side dropped the other's adverts.
    assert.deepEqual(v.rejected, {}, 'vigil rejected none of keepalived\'s adverts');
    // When keepalived wins, vigil yields and repeats its advert to keepalived by unicast
    // (router.ts STEP_DOWN_ADVERT_REPEATS); keepalived 2.2.7 binds its multicast receive
    // socket to 224.0.0.18, so they never reach it, and it must not log "Expected
    // multicast packet but received unicast packet" (a counted address-list error).
    assert.doesNotMatch(ka.output, /[Ii]nvalid|checksum|[Aa]uth(entication)? (failure|mismatch)|bad |icast packet but received/, 'keepalived complained');
  } finally {
    await vigil?.stop();
    await ka?.stop();
  }
}

const interopCases: readonly (InteropCase & { readonly title: string })[] = [
  { title: 'VRRPv3, 100 ms', version: 3, vrid: 61, vigilInterval: '100ms', kaInterval: 0.1, settleMs: 1500, takeoverMs: 8000 },
  { title: 'VRRPv2, 1 s, simple password', version: 2, vrid: 62, vigilInterval: '1s', kaInterval: 1, password: 'ka2vigil', settleMs: 3500, takeoverMs: 15000 },
];

for (const c of interopCases) {
  test(`interop: vigil and keepalived on one VRID (${c.title}): each wins once by priority; one master, the backup names it`, { skip: skipKeepalived, timeout: 120_000 }, async (t) => {
    await withLab({ hosts: ['a', 'b'] }, async (lab) => {
      await t.test('vigil higher', () => interopRound(lab, c, 'vigil'));
      await t.test('keepalived higher', () => interopRound(lab, c, 'keepalived'));
    });
  });
}

// ---------------------------------------------------------------------------------------
// 3. tshark's VRRP dissector
// ---------------------------------------------------------------------------------------

interface TsharkRow {
  readonly src: string;
  readonly version: string;
  readonly vrid: string;
  readonly priority: string;
  readonly checksumStatus: string;
  readonly addresses: string;
  readonly count: string;
  readonly interval: string;
  readonly authType: string;
  readonly authString: string;
}

const TSHARK_FIELDS = [
  'ip.src',
  'ipv6.src',
  'vrrp.version',
  'vrrp.virt_rtr_id',
  'vrrp.prio',
  'vrrp.checksum.status',
  'vrrp.ip_addr',
  'vrrp.ipv6_addr',
  'vrrp.addr_count',
  'vrrp.short_adver_int',
  'vrrp.adver_int',
  'vrrp.auth_type',
  'vrrp.auth_string',
] as const;

async function tsharkRows(file: string): Promise<TsharkRow[]> {
  const args = ['-n', '-r', file, '-Y', 'vrrp', '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of TSHARK_FIELDS) args.push('-e', f);
  const out = await run('tshark', args);
  return out.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const f = line.split('|');
      const get = (name: (typeof TSHARK_FIELDS)[number]): string => f[TSHARK_FIELDS.indexOf(name)] ?? '';
      return {
        src: get('ip.src') || get('ipv6.src'),
        version: get('vrrp.version'),
        vrid: get('vrrp.virt_rtr_id'),
        priority: get('vrrp.prio'),
        checksumStatus: get('vrrp.checksum.status'),
        addresses: get('vrrp.ip_addr') || get('vrrp.ipv6_addr'),
        count: get('vrrp.addr_count'),
        interval: get('vrrp.short_adver_int') || get('vrrp.adver_int'),
        authType: get('vrrp.auth_type'),
        authString: get('vrrp.auth_string'),
      };
    });
}

test("interop: tshark's VRRP dissector finds vigil's adverts (v2, v3 IPv4, v3 IPv6) valid, with the configured fields", { skip: skipTshark, timeout: 60_000 }, async () => {
  await withLab({ hosts: ['a', 'client'] }, async (lab) => {
    const yaml = configYaml(
      instanceYaml({ name: 'v2', vrid: 71, priority: 171, interval: '1s', vips: ['10.213.0.171/24', '10.213.0.172/24'], extra: '    version: 2\n    authentication: { type: pass, password: tshark } ' }),
      instanceYaml({ name: 'v3', vrid: 72, priority: 172, vips: ['10.213.0.173/24'] }),
      instanceYaml({ name: 'v6', vrid: 73, priority: 173, interval: '200ms', vips: ['fe80::73/64', 'fd13::173/64'] }),
    );
    const a = await VigilProcess.start(lab, 'a', yaml);
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-tshark-'));
    try {
      for (const name of ['v2', 'v3', 'v6']) await a.waitState(name, 'master', 10000);
      const cap = await Capture.start(lab, 'client', 'ip proto 112 or ip6 proto 112');
      // At least two v2 adverts (1 s apart) and many of the others.
      await until(async () => vrrpAdverts(cap.frames()).filter((x) => x.vrid === 71).length >= 2, () => 'no two v2 adverts captured', 5000);
      const frames = await cap.stop();
      // The capture as tcpdump wrote it, re-written as a classic µs pcap that any tshark reads.
      const file = path.join(dir, 'vigil.pcap');
      writeFileSync(file, toPcap(frames));
      const rows = await tsharkRows(file);
      const byVrid = (vrid: number): TsharkRow[] => rows.filter((r) => r.vrid === String(vrid));
      assert.ok(rows.length >= vrrpAdverts(frames).length, `tshark saw ${rows.length} VRRP packets of ${vrrpAdverts(frames).length}`);
      const expectations = [
        { vrid: 71, version: '2', priority: '171', src: lab.host('a').ipv4, addresses: '10.213.0.171,10.213.0.172', count: '2', interval: '1', authType: '1', authString: 'tshark' },
        { vrid: 72, version: '3', priority: '172', src: lab.host('a').ipv4, addresses: '10.213.0.173', count: '1', interval: '10', authType: '', authString: '' },
        { vrid: 73, version: '3', priority: '173', src: lab.host('a').ipv6LinkLocal, addresses: 'fe80::73,fd13::173', count: '2', interval: '20', authType: '', authString: '' },
      ];
      for (const e of expectations) {
        const got = byVrid(e.vrid);
        assert.ok(got.length >= 2, `VRID ${e.vrid}: ${got.length} packets dissected`);
        for (const r of got) {
          // 1 = PROTO_CHECKSUM_E_GOOD (0 bad, 2 unverified).
          assert.equal(r.checksumStatus, '1', `VRID ${e.vrid}: checksum status ${r.checksumStatus}`);
          assert.deepEqual(
            { vrid: Number(r.vrid), version: r.version, priority: r.priority, src: r.src, addresses: r.addresses, count: r.count, interval: r.interval, authType: r.authType, authString: r.authString },
            e,
          );
        }
      }
      // And the verbose dissection says so in words, with no expert warning.
      const verbose = (await run('tshark', ['-n', '-r', file, '-V', '-Y', 'vrrp'])).stdout;
      assert.match(verbose, /Checksum Status: Good/);
      assert.doesNotMatch(verbose, /Checksum Status: Bad|\[Bad checksum|Malformed/);
    } finally {
      await a.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Frames back into a classic pcap (µs timestamps, Ethernet). */
function toPcap(frames: readonly { timeMs: number; bytes: Buffer }[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  const parts: Buffer[] = [header];
  for (const f of frames) {
    const rec = Buffer.alloc(16);
    const us = Math.round(f.timeMs * 1000);
    rec.writeUInt32LE(Math.floor(us / 1e6), 0);
    rec.writeUInt32LE(us % 1e6, 4);
    rec.writeUInt32LE(f.bytes.length, 8);
    rec.writeUInt32LE(f.bytes.length, 12);
    parts.push(rec, f.bytes);
  }
  return Buffer.concat(parts);
}
