/**
 * The daemon's behaviour in the lab: real `vigil run` processes in network namespaces on
 * one bridge, checked by captured packets, `ip` in the namespaces, pings from a client
 * namespace, the daemons' control sockets and the `vigil status` command.
 *
 * Every test is bounded in time (advert interval 100 ms, polling with deadlines rather
 * than fixed sleeps where it can) and leaves nothing behind: the lab tears its
 * namespaces down, the daemons are stopped by PID, nft runs only inside lab namespaces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { promisify } from 'node:util';
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, gratuitousArps, neighborAdverts, vrrpAdverts, type Frame } from '../src/lab/capture.js';
import { addressFromBytes } from '../src/net/address.js';
import { formatMac } from '../src/net/mac.js';
import { VIGIL_MAIN, VigilProcess, configYaml, holders, instanceYaml, waitHolders, type LogEvent } from '../src/lab/vigil.js';
import type { DaemonStatus } from '../src/daemon/daemon.js';
import { sleep, until } from '../src/lab/wait.js';
import { labSkipReason } from '../src/lab/netns.js';

const execFileAsync = promisify(execFile);

const skip = labSkipReason();

function toolMissing(tool: string): string | false {
  if (skip) return skip;
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    try {
      accessSync(`${dir}/${tool}`, fsConstants.X_OK);
      return false;
    } catch {
      // try the next
    }
  }
  return `${tool} is not installed`;
}

const VIP = '10.213.0.100';
const VIP2 = '10.213.0.101';
const VIP3 = '10.213.0.102';

/** A generous per-test bound: these run on a noisy shared machine. */
const TEST_TIMEOUT = 90_000;

/** Starts several daemons at once (a real cold start: all begin as backup together). */
async function startAll(lab: Lab, specs: readonly (readonly [string, string])[]): Promise<VigilProcess[]> {
  return Promise.all(specs.map(([host, yaml]) => VigilProcess.start(lab, host, yaml)));
}

async function stopAll(ps: readonly (VigilProcess | undefined)[]): Promise<void> {
  await Promise.all(ps.map((p) => p?.stop()));
}

/** State changes of `instance` logged after event index `from`. */
function changesSince(p: VigilProcess, instance: string, from: number): LogEvent[] {
  return p.events.slice(from).filter((e) => e.event === 'state-change' && e['instance'] === instance);
}

/** The client's neighbour entry for `address`: its MAC (lowercase) or undefined. */
async function neighbourMac(lab: Lab, host: string, address: string): Promise<string | undefined> {
  const r = await lab.exec(host, 'ip', ['-j', 'neigh', 'show', address], true);
  if (r.code !== 0 || !r.stdout.trim()) return undefined;
  const entries = JSON.parse(r.stdout) as { dst: string; lladdr?: string; state?: string[] }[];
  return entries.find((e) => e.dst === address)?.lladdr?.toLowerCase();
}

/** One ping, waiting at most a second; true when answered. */
async function pingOnce(lab: Lab, host: string, address: string): Promise<boolean> {
  const r = await lab.exec(host, 'ping', ['-n', '-c', '1', '-W', '1', address], true);
  return r.code === 0;
}

/** The state of `instance` as the daemon reports it over its control socket. */
async function stateOf(p: VigilProcess, instance = 'gw'): Promise<string> {
  return (await p.instance(instance)).state;
}

// ---------------------------------------------------------------------------------------

test('lab: three nodes — cold start elects the highest priority; preempt takes the VIP back; nopreempt stays backup', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'c', 'client'] }, async (lab) => {
    const nodes = ['a', 'b', 'c'] as const;
    const prio = { a: 200, b: 150, c: 100 } as const;
    // --- cold start and preemption (VRID 61) ---
    const cfg = (host: 'a' | 'b' | 'c', extra?: string): string =>
      configYaml(instanceYaml({ vrid: 61, priority: prio[host], vips: [`${VIP}/24`], ...(extra ? { extra } : {}) }));
    let [a, b, c] = await startAll(lab, nodes.map((h) => [h, cfg(h)] as const));
    assert.ok(a && b && c);
    try {
      await a.waitState('gw', 'master');
      await waitHolders(lab, nodes, VIP, ['a']);
      await until(async () => (await stateOf(b!)) === 'backup' && (await stateOf(c!)) === 'backup', () => 'b and c backup');
      // b heard a's adverts (the next one is at most an interval away).
      await until(async () => (await b!.instance('gw')).master?.address === lab.host('a').ipv4, () => 'b hears a', 2000);
      const bs = await b.instance('gw');
      assert.equal(bs.master?.address, lab.host('a').ipv4, 'b follows a');
      assert.equal(bs.master?.priority, 200);

      // The master leaves (SIGTERM: priority 0): the next highest, b, takes over.
      await a.stop();
      await b.waitState('gw', 'master', 5000);
      await waitHolders(lab, nodes, VIP, ['b']);
      await until(async () => (await stateOf(c!)) === 'backup', () => 'c backup');

      // a returns: with preempt (the default) it takes the VIP back.
      const bMark = b.events.length;
      a = await VigilProcess.start(lab, 'a', cfg('a'));
      await a.waitState('gw', 'master', 5000);
      await b.waitState('gw', 'backup', 5000, bMark);
      await waitHolders(lab, nodes, VIP, ['a']);
      const reason = a.stateChanges('gw').find((e) => e['to'] === 'master')?.['reason'];
      t.diagnostic(`returning a became master by ${String(reason)}`);
      assert.equal(reason, 'preempt');
    } finally {
      await stopAll([a, b, c]);
    }

    // --- nopreempt (VRID 62): a crashes, b takes over, a returns and stays backup ---
    const np = (host: 'a' | 'b' | 'c'): string =>
      configYaml(instanceYaml({ vrid: 62, priority: prio[host], vips: [`${VIP2}/24`], extra: '    preempt: false' }));
    a = await VigilProcess.start(lab, 'a', np('a'));
    b = undefined;
    c = undefined;
    try {
      await a.waitState('gw', 'master');
      [b, c] = await startAll(lab, [['b', np('b')], ['c', np('c')]]);
      assert.ok(b && c);
      await b.waitState('gw', 'backup');
      await c.waitState('gw', 'backup');
      await waitHolders(lab, nodes, VIP2, ['a']);
      // Both have heard a (otherwise their timers still run from their own start).
      await until(async () => (await b!.instance('gw')).master?.address === lab.host('a').ipv4 && (await c!.instance('gw')).master?.address === lab.host('a').ipv4, () => 'b and c follow a');
      await sleep(200);

      a.signal('SIGKILL');
      await a.waitExit();
      // b or c takes over: their Master_Down_Intervals differ by only 20 ms (341 and
      // 361 ms), so on a busy machine either may fire first; with nopreempt the other
      // then follows it. Either way the returning a must stay backup.
      const survivors = [b, c] as const;
      let newMaster: VigilProcess | undefined;
      await until(
        async () => {
          for (const p of survivors) if ((await stateOf(p)) === 'master') newMaster = p;
          return newMaster !== undefined;
        },
        () => 'b or c master',
        5000,
      );
      const m = newMaster as VigilProcess;
      const other = m === b ? c : b;
      await waitHolders(lab, ['b', 'c'], VIP2, [m.host], 5000);
      t.diagnostic(`after a crashed, ${m.host} became master`);
      const mMark = m.events.length;
      const oMark = other.events.length;
      // a's kernel still holds the VIP (kill -9 cleans nothing up): the returning daemon
      // must take it away, since it comes back as backup.
      await a.stop();
      a = await VigilProcess.start(lab, 'a', np('a'));
      await a.waitState('gw', 'backup', 5000);
      assert.ok(a.events.some((e) => e.event === 'stale-vip-removed' && e['address'] === `${VIP2}/24`), `a removed the VIP left by its crash: ${a.logText()}`);
      await waitHolders(lab, nodes, VIP2, [m.host], 5000);
      // Several Master_Down_Intervals (a's is 322 ms): a keeps following the lower priority master.
      await sleep(1500);
      assert.deepEqual(a.stateChanges('gw').map((e) => e['to']), ['backup'], `a only entered backup: ${a.logText()}`);
      assert.equal(changesSince(m, 'gw', mMark).length, 0, `${m.host} stayed master`);
      assert.equal(changesSince(other, 'gw', oMark).length, 0, `${other.host} stayed backup`);
      assert.equal(await stateOf(a), 'backup');
      assert.equal(await stateOf(m), 'master');
      const as = await a.instance('gw');
      assert.equal(as.master?.address, lab.host(m.host).ipv4, `a follows the lower-priority ${m.host}`);
      assert.deepEqual(await holders(lab, nodes, VIP2), [m.host]);
    } finally {
      await stopAll([a, b, c]);
    }
  });
});

// ---------------------------------------------------------------------------------------

interface PingReply {
  readonly at: number;
  readonly seq: number;
}

/** Parses `ping -D` output lines into reply times (ms, CLOCK_REALTIME) and sequence numbers. */
function pingReplies(out: string): PingReply[] {
  const replies: PingReply[] = [];
  for (const line of out.split('\n')) {
    const m = /^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/.exec(line);
    if (m) replies.push({ at: Number(m[1]) * 1000, seq: Number(m[2]) });
  }
  return replies;
}

/** ICMP echo replies among captured frames, with the Ethernet source (who answered). */
function echoReplies(frames: readonly Frame[], from: string): { timeMs: number; ethSrc: string }[] {
  const out: { timeMs: number; ethSrc: string }[] = [];
  for (const f of frames) {
    const b = f.bytes;
    if (b.length < 42 || b.readUInt16BE(12) !== 0x0800 || b[23] !== 1) continue;
    const ihl = ((b[14] as number) & 0x0f) * 4;
    if (b[14 + ihl] !== 0 || addressFromBytes('ipv4', b, 26).text !== from) continue;
    out.push({ timeMs: f.timeMs, ethSrc: formatMac(b, 6) });
  }
  return out;
}

interface PingRun {
  /** The longest time between two replies, ms. */
  readonly gap: number;
  readonly replies: number;
  readonly lost: number;
  /** Echo replies seen on the wire after `crash` was done, by the MAC that sent them. */
  readonly repliesAfterBy: ReadonlyMap<string, number>;
  readonly lastReplyBy: string | undefined;
}

/**
 * Pings `VIP` from the client 50 times a second while `crash` runs and `recovered`
 * resolves, with a capture of the replies to see who answered.
 */
async function pingAcross(lab: Lab, address: string, crash: () => Promise<void>, recovered: () => Promise<unknown>): Promise<PingRun> {
  const cap = await Capture.start(lab, 'client', 'icmp');
  // -w: never more than 20 s, whatever happens here.
  const ping = lab.spawn('client', 'ping', ['-n', '-D', '-i', '0.02', '-W', '1', '-w', '20', address]);
  let out = '';
  ping.stdout?.setEncoding('utf8');
  ping.stdout?.on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => ping.once('exit', () => resolve()));
  let crashedAt = 0;
  let crashDoneAt = 0;
  try {
    await until(() => pingReplies(out).length >= 25, () => `replies before the crash: ${out.slice(-500)}`, 5000);
    crashedAt = Date.now();
    await crash();
    crashDoneAt = Date.now();
    await recovered();
    await until(() => pingReplies(out).filter((r) => r.at > crashedAt + 50).length >= 25, () => `replies after the crash: ${out.slice(-500)}`, 10_000);
  } finally {
    if (ping.exitCode === null && ping.pid !== undefined) process.kill(ping.pid, 'SIGINT');
    await Promise.race([exited, sleep(3000)]);
  }
  const frames = await cap.stop();
  const replies = pingReplies(out);
  let gap = 0;
  for (let i = 1; i < replies.length; i++) gap = Math.max(gap, (replies[i] as PingReply).at - (replies[i - 1] as PingReply).at);
  const seqs = new Set(replies.map((r) => r.seq));
  const wire = echoReplies(frames, address);
  const repliesAfterBy = new Map<string, number>();
  for (const r of wire) if (r.timeMs > crashDoneAt) repliesAfterBy.set(r.ethSrc, (repliesAfterBy.get(r.ethSrc) ?? 0) + 1);
  return { gap, replies: replies.length, lost: Math.max(...seqs) - seqs.size, repliesAfterBy, lastReplyBy: wire.at(-1)?.ethSrc };
}

test('lab: pings from a client to the VIP keep being answered across a kill -9 failover', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const cfgA = configYaml(instanceYaml({ vrid: 53, priority: 200, vips: [`${VIP}/24`] }));
    let [a, b] = await startAll(lab, [
      ['a', cfgA],
      ['b', configYaml(instanceYaml({ vrid: 53, priority: 100, vips: [`${VIP}/24`] }))],
    ]);
    assert.ok(a && b);
    const macA = lab.host('a').mac;
    const macB = lab.host('b').mac;
    try {
      await a.waitState('gw', 'master');
      await b.waitState('gw', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await until(() => pingOnce(lab, 'client', VIP), () => 'the VIP answers a ping', 5000);

      // 1. kill -9 of the daemon alone: a's kernel keeps the VIP (nobody removes it) and
      //    keeps answering until the client follows b's gratuitous ARP.
      let bMark = b.events.length;
      const r1 = await pingAcross(
        lab,
        VIP,
        async () => {
          a!.signal('SIGKILL');
          await a!.waitExit();
        },
        () => b!.waitState('gw', 'master', 5000, bMark),
      );
      t.diagnostic(`kill -9 of the daemon: ping gap ${r1.gap.toFixed(1)} ms, ${r1.replies} replies, ${r1.lost} lost; replies after by ${JSON.stringify([...r1.repliesAfterBy])}`);
      assert.ok(r1.gap < 2000, `the VIP went unanswered for ${r1.gap.toFixed(1)} ms`);
      assert.ok((r1.repliesAfterBy.get(macB) ?? 0) > 0, 'b answered after the failover');
      assert.equal(r1.lastReplyBy, macB, 'the client ends up at b');
      assert.equal(await neighbourMac(lab, 'client', VIP), macB);

      // a returns (removing the VIP its crash left) and takes the VIP back by preemption.
      await a.stop();
      bMark = b.events.length;
      a = await VigilProcess.start(lab, 'a', cfgA);
      await a.waitState('gw', 'master', 5000);
      await b.waitState('gw', 'backup', 5000, bMark);
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await until(async () => (await neighbourMac(lab, 'client', VIP)) === macA, () => 'the client follows a again', 3000);

      // 2. The whole node goes: kill -9 and its link cut at once. Now the VIP is silent
      //    until b takes over (Master_Down_Interval 360.9 ms) and announces itself.
      bMark = b.events.length;
      const r2 = await pingAcross(
        lab,
        VIP,
        async () => {
          a!.signal('SIGKILL');
          await lab.link('a', false);
          await a!.waitExit();
        },
        () => b!.waitState('gw', 'master', 5000, bMark),
      );
      t.diagnostic(`node loss (kill -9 + link down): ping gap ${r2.gap.toFixed(1)} ms, ${r2.replies} replies, ${r2.lost} lost; replies after by ${JSON.stringify([...r2.repliesAfterBy])}`);
      // b's timer runs from a's last advert, up to one interval (100 ms) before the crash.
      assert.ok(r2.gap >= 200, `a gap of about Master_Down_Interval less up to one interval (${r2.gap.toFixed(1)} ms)`);
      assert.ok(r2.gap < 3000, `the VIP went unanswered for ${r2.gap.toFixed(1)} ms`);
      assert.equal(r2.repliesAfterBy.get(macA) ?? 0, 0, 'nothing from a after its link went');
      assert.ok((r2.repliesAfterBy.get(macB) ?? 0) >= 20, 'b answered after the failover');
    } finally {
      await stopAll([a, b]);
    }
  });
});

// ---------------------------------------------------------------------------------------

test("lab: link down on the master's eth0 — FAULT, VIP removed, peer takes over; link up — back without flapping", { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const [a, b] = await startAll(lab, [
      ['a', configYaml(instanceYaml({ vrid: 54, priority: 200, vips: [`${VIP}/24`] }))],
      ['b', configYaml(instanceYaml({ vrid: 54, priority: 100, vips: [`${VIP}/24`] }))],
    ]);
    assert.ok(a && b);
    try {
      await a.waitState('gw', 'master');
      await b.waitState('gw', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);

      let aMark = a.events.length;
      let bMark = b.events.length;
      const downAt = performance.now();
      await lab.link('a', false);
      const fault = await a.waitState('gw', 'fault', 5000, aMark);
      const took = await b.waitState('gw', 'master', 5000, bMark);
      t.diagnostic(`link down: a in FAULT after ${(fault.receivedAt - downAt).toFixed(0)} ms, b master after ${(took.receivedAt - downAt).toFixed(0)} ms`);
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      const aStatus = await a.instance('gw');
      assert.equal(aStatus.state, 'fault');
      assert.ok(aStatus.faults.some((f) => f.includes('interface down')), `faults: ${aStatus.faults.join(', ')}`);
      assert.equal(aStatus.vipsInstalled, false);
      // Stays in FAULT while the link is down.
      await sleep(500);
      assert.equal(changesSince(a, 'gw', aMark).length, 1, `a: ${a.logText()}`);

      aMark = a.events.length;
      bMark = b.events.length;
      await lab.link('a', true);
      // a leaves FAULT for BACKUP, then preempts b (priority 200 > 100, preempt on).
      await a.waitState('gw', 'backup', 5000, aMark);
      await a.waitState('gw', 'master', 5000, aMark);
      await b.waitState('gw', 'backup', 5000, bMark);
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      assert.deepEqual(changesSince(a, 'gw', aMark).map((e) => e['to']), ['backup', 'master']);

      // A quiet second: no state changes on either node.
      const aQuiet = a.events.length;
      const bQuiet = b.events.length;
      await sleep(1000);
      const flaps = changesSince(a, 'gw', aQuiet).length + changesSince(b, 'gw', bQuiet).length;
      t.diagnostic(`state changes in the quiet second after link up: ${flaps}`);
      assert.equal(flaps, 0, `flapping: a ${a.logText()}\nb ${b.logText()}`);
      assert.equal(await stateOf(a), 'master');
      assert.equal(await stateOf(b), 'backup');
    } finally {
      await stopAll([a, b]);
    }
  });
});

// ---------------------------------------------------------------------------------------

test('lab: IPv6 instance (link-local VIP first) — takeover sends unsolicited neighbour advertisements', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const LL_VIP = 'fe80::13:1:100';
    const VIP6 = 'fd13::100';
    const vips = [`${LL_VIP}/64`, `${VIP6}/64`];
    const [a, b] = await startAll(lab, [
      ['a', configYaml(instanceYaml({ name: 'gw6', vrid: 55, priority: 200, vips }))],
      ['b', configYaml(instanceYaml({ name: 'gw6', vrid: 55, priority: 100, vips }))],
    ]);
    assert.ok(a && b);
    try {
      await a.waitState('gw6', 'master');
      await b.waitState('gw6', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP6, ['a']);
      await waitHolders(lab, ['a', 'b'], LL_VIP, ['a']);
      const bStatus = await b.instance('gw6');
      assert.equal(bStatus.family, 'ipv6');
      assert.equal(bStatus.master?.address, lab.host('a').ipv6LinkLocal, 'b follows a by its link-local address');
      const ping6 = async (): Promise<boolean> => (await lab.exec('client', 'ping', ['-6', '-n', '-c', '1', '-W', '1', VIP6], true)).code === 0;
      await until(ping6, () => `ping6 ${VIP6} at a`, 5000);
      assert.equal(await neighbourMac(lab, 'client', VIP6), lab.host('a').mac, 'the client reaches the VIP at a');

      const cap = await Capture.start(lab, 'client', 'ip6');
      await sleep(300);
      a.signal('SIGKILL');
      await a.waitExit();
      await b.waitState('gw6', 'master', 5000);
      await waitHolders(lab, ['b'], VIP6, ['b']);
      // The burst goes out on becoming master: wait until it was captured.
      await until(() => neighborAdverts(cap.frames()).some((n) => n.target === VIP6 && n.ethSrc === lab.host('b').mac), () => 'an NA for the VIP from b', 5000);
      const frames = await cap.stop();
      const adverts = vrrpAdverts(frames);
      const fromA = adverts.filter((x) => x.src.text === lab.host('a').ipv6LinkLocal);
      const fromB = adverts.filter((x) => x.src.text === lab.host('b').ipv6LinkLocal);
      assert.ok(fromA.length > 0 && fromB.length > 0, `adverts: ${JSON.stringify(adverts.map((x) => [x.src.text, x.dst.text]))}`);
      for (const x of [...fromA, ...fromB]) {
        assert.equal(x.dst.text, 'ff02::12');
        assert.equal(x.ttl, 255, 'hop limit 255');
        assert.equal(x.version, 3);
      }
      // RFC 5798 §5.2.9: the link-local virtual address is listed first.
      const first = fromB[0] as (typeof fromB)[number];
      const firstAddress = Buffer.from(first.payload.subarray(8, 24)).toString('hex');
      assert.equal(firstAddress, 'fe800000000000000000001300010100', 'the link-local VIP first in the advert');
      const nas = neighborAdverts(frames).filter((n) => n.ethSrc === lab.host('b').mac);
      const targets = new Set(nas.map((n) => n.target));
      assert.ok(targets.has(VIP6), `NA for ${VIP6}; saw ${[...targets].join(', ')}`);
      assert.ok(targets.has(LL_VIP), `NA for ${LL_VIP}; saw ${[...targets].join(', ')}`);
      const lastFromA = fromA.at(-1) as (typeof fromA)[number];
      const firstNa = nas.find((n) => n.target === VIP6) as (typeof nas)[number];
      t.diagnostic(`IPv6 takeover: first advert from b ${(first.timeMs - lastFromA.timeMs).toFixed(1)} ms, first NA ${(firstNa.timeMs - lastFromA.timeMs).toFixed(1)} ms after a's last advert; ${nas.length} NAs`);
      // The client's neighbour entry followed the NA (override flag) to b, and the VIP answers.
      let seen: string | undefined;
      await until(async () => (seen = await neighbourMac(lab, 'client', VIP6)) === lab.host('b').mac, () => `the client's entry for ${VIP6} is ${String(seen)}`, 3000);
      assert.ok(await ping6(), `ping6 ${VIP6} at b`);
    } finally {
      await stopAll([a, b]);
    }
  });
});

// ---------------------------------------------------------------------------------------

test('lab: unicast peers — failover works and the adverts go to the peer, never to 224.0.0.18', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const ipA = lab.host('a').ipv4;
    const ipB = lab.host('b').ipv4;
    const [a, b] = await startAll(lab, [
      ['a', configYaml(instanceYaml({ vrid: 56, priority: 200, vips: [`${VIP}/24`], extra: `    unicast: { peers: [${ipB}] }` }))],
      ['b', configYaml(instanceYaml({ vrid: 56, priority: 100, vips: [`${VIP}/24`], extra: `    unicast: { peers: [${ipA}] }` }))],
    ]);
    assert.ok(a && b);
    try {
      await a.waitState('gw', 'master');
      await b.waitState('gw', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      // b hears a by unicast: it stays backup and knows its master.
      await until(async () => (await b.instance('gw')).master?.address === ipA, () => 'b follows a');
      // If b was master for a moment at start, it repeats its advert to a for two intervals
      // after yielding (router.ts, STEP_DOWN_ADVERT_REPEATS): let that pass, so what is
      // captured below is a backup's silence.
      await sleep(400);
      const capB = await Capture.start(lab, 'b', 'vrrp or arp');
      const capClient = await Capture.start(lab, 'client', 'vrrp');
      // a's adverts (b's own, if it yielded at start, go to a and are captured here too).
      await until(() => vrrpAdverts(capB.frames()).filter((x) => x.src.text === ipA).length >= 5, () => 'adverts from a at b', 5000);
      const bMark = b.events.length;
      a.signal('SIGKILL');
      await a.waitExit();
      await b.waitState('gw', 'master', 5000, bMark);
      await waitHolders(lab, ['b'], VIP, ['b']);
      await until(() => vrrpAdverts(capB.frames()).filter((x) => x.src.text === ipB).length >= 3, () => 'adverts from b', 5000);
      const framesB = await capB.stop();
      const framesClient = await capClient.stop();
      const adverts = vrrpAdverts(framesB);
      const fromA = adverts.filter((x) => x.src.text === ipA);
      const fromB = adverts.filter((x) => x.src.text === ipB);
      assert.ok(fromA.length >= 5 && fromB.length >= 3, `adverts: ${fromA.length} from a, ${fromB.length} from b`);
      assert.deepEqual([...new Set(fromA.map((x) => x.dst.text))], [ipB], 'a sends to b only');
      assert.deepEqual([...new Set(fromB.map((x) => x.dst.text))], [ipA], 'b sends to a only');
      assert.ok(!adverts.some((x) => x.dst.text === '224.0.0.18'), 'no multicast advert at b');
      const multicastAtClient = vrrpAdverts(framesClient).filter((x) => x.dst.text === '224.0.0.18');
      assert.equal(multicastAtClient.length, 0, 'no multicast advert reached the client');
      const took = (fromB[0] as (typeof fromB)[number]).timeMs - (fromA.at(-1) as (typeof fromA)[number]).timeMs;
      t.diagnostic(`unicast failover: b's first advert ${took.toFixed(1)} ms after a's last (Master_Down_Interval 360.9 ms)`);
      assert.ok(took >= 300 && took < 2000, `takeover after ${took.toFixed(1)} ms`);
      assert.ok(gratuitousArps(framesB).some((g) => g.ip === VIP && g.senderMac === lab.host('b').mac), 'b sent gratuitous ARP');
      assert.ok(await pingOnce(lab, 'client', VIP), 'the VIP answers at b');
    } finally {
      await stopAll([a, b]);
    }
  });
});

// ---------------------------------------------------------------------------------------

test("lab: VMAC mode — the client learns 00:00:5e:00:01:VRID for the VIP; the VMAC interface is deleted on stop", { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const VRID = 57;
    const vmacMac = `00:00:5e:00:01:${VRID.toString(16).padStart(2, '0')}`;
    const vmacName = `vrrp.${VRID}`;
    const [a, b] = await startAll(lab, [
      ['a', configYaml(instanceYaml({ vrid: VRID, priority: 200, vips: [`${VIP}/24`], extra: '    vmac: true' }))],
      ['b', configYaml(instanceYaml({ vrid: VRID, priority: 100, vips: [`${VIP}/24`], extra: '    vmac: true' }))],
    ]);
    assert.ok(a && b);
    const linkExists = async (host: string): Promise<boolean> => (await lab.exec(host, 'ip', ['link', 'show', 'dev', vmacName], true)).code === 0;
    try {
      await a.waitState('gw', 'master');
      await b.waitState('gw', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      assert.ok(await linkExists('a'), `${vmacName} on a`);
      const onA = await lab.exec('a', 'ip', ['-j', 'addr', 'show', 'dev', vmacName]);
      assert.ok(onA.stdout.includes(VIP), `the VIP is on ${vmacName}: ${onA.stdout}`);
      // RFC 5798 §7.2: the adverts leave from the virtual MAC; b still hears them and follows a.
      const advertCapture = await Capture.start(lab, 'client', 'vrrp');
      await sleep(350);
      const adverts = vrrpAdverts(await advertCapture.stop()).filter((x) => x.vrid === VRID);
      assert.ok(adverts.length >= 2, `adverts captured: ${adverts.length}`);
      assert.deepEqual(
        [...new Set(adverts.map((x) => `${x.src.text} ${x.srcMac}`))],
        [`${lab.host('a').ipv4} ${vmacMac}`],
        `adverts (time, source, priority): ${JSON.stringify(adverts.map((x) => [x.timeMs.toFixed(1), x.src.text, x.priority]))}\na: ${a.logText()}\nb: ${b.logText()}`,
      );
      assert.equal((await b.instance('gw')).master?.address, lab.host('a').ipv4);

      await until(() => pingOnce(lab, 'client', VIP), () => 'ping the VIP at a', 5000);
      const mac = await neighbourMac(lab, 'client', VIP);
      t.diagnostic(`client neighbour entry for ${VIP} with a master: ${mac}`);
      assert.equal(mac, vmacMac);

      const sysctl = async (host: string, key: string): Promise<string> => (await lab.exec(host, 'sysctl', ['-n', key])).stdout.trim();
      assert.equal(await sysctl('a', 'net.ipv4.conf.eth0.arp_ignore'), '1', 'the parent does not answer ARP for the VIP');
      assert.equal(await sysctl('a', 'net.ipv4.conf.eth0.arp_announce'), '2', "the parent's ARP requests carry its own address");

      // a stops (SIGTERM): its VMAC goes, and the parent's settings are put back; b takes over with the same MAC.
      await a.stop();
      assert.equal(await linkExists('a'), false, `${vmacName} deleted on a`);
      assert.equal(await sysctl('a', 'net.ipv4.conf.eth0.arp_ignore'), '0', 'arp_ignore restored');
      assert.equal(await sysctl('a', 'net.ipv4.conf.eth0.arp_announce'), '0', 'arp_announce restored');
      await b.waitState('gw', 'master', 5000);
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      await until(() => pingOnce(lab, 'client', VIP), () => 'ping the VIP at b', 5000);
      assert.equal(await neighbourMac(lab, 'client', VIP), vmacMac, 'the same virtual MAC after failover');

      await b.stop();
      assert.equal(await linkExists('b'), false, `${vmacName} deleted on b`);
      assert.deepEqual(await holders(lab, ['a', 'b'], VIP), []);
    } finally {
      await stopAll([a, b]);
    }
  });
});

// ---------------------------------------------------------------------------------------

const nftSkip = toolMissing('nft');

test('lab: partition by nftables — both master; healed — one master within an interval or two, and the survivor re-announces', { skip: nftSkip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const [a, b] = await startAll(lab, [
      ['a', configYaml(instanceYaml({ vrid: 58, priority: 200, vips: [`${VIP}/24`] }))],
      ['b', configYaml(instanceYaml({ vrid: 58, priority: 100, vips: [`${VIP}/24`] }))],
    ]);
    assert.ok(a && b);
    const nft = (args: string[]): Promise<unknown> => lab.exec('a', 'nft', args);
    try {
      await a.waitState('gw', 'master');
      await b.waitState('gw', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await until(() => pingOnce(lab, 'client', VIP), () => 'ping the VIP', 5000);
      assert.equal(await neighbourMac(lab, 'client', VIP), lab.host('a').mac);

      // The partition: a neither sends nor receives VRRP (only in a's namespace).
      const aMark = a.events.length;
      await nft(['add', 'table', 'inet', 't']);
      await nft(['add', 'chain', 'inet', 't', 'in', '{ type filter hook input priority 0 ; }']);
      await nft(['add', 'rule', 'inet', 't', 'in', 'meta', 'l4proto', '112', 'drop']);
      await nft(['add', 'chain', 'inet', 't', 'out', '{ type filter hook output priority 0 ; }']);
      await nft(['add', 'rule', 'inet', 't', 'out', 'meta', 'l4proto', '112', 'drop']);
      await b.waitState('gw', 'master', 5000);
      await waitHolders(lab, ['a', 'b'], VIP, ['a', 'b']);
      assert.equal(await stateOf(a), 'master', 'a stays master: it hears nobody');
      assert.equal(changesSince(a, 'gw', aMark).length, 0);
      // The client followed b's gratuitous ARP.
      await until(async () => (await neighbourMac(lab, 'client', VIP)) === lab.host('b').mac, () => 'the client follows b in the split', 3000);
      await sleep(300);

      // Heal.
      const cap = await Capture.start(lab, 'client', 'vrrp or arp');
      const bMark = b.events.length;
      await sleep(200);
      const healedAt = performance.now();
      await lab.exec('a', 'nft', ['delete', 'table', 'inet', 't']);
      const back = await b.waitState('gw', 'backup', 5000, bMark);
      const convergedMs = back.receivedAt - healedAt;
      await waitHolders(lab, ['a', 'b'], VIP, ['a'], 3000);
      let lastMac: string | undefined;
      await until(async () => (lastMac = await neighbourMac(lab, 'client', VIP)) === lab.host('a').mac, () => `the client follows a after the heal (now ${String(lastMac)})`, 3000);
      await sleep(200);
      const frames = await cap.stop();
      const garps = gratuitousArps(frames).filter((g) => g.ip === VIP && g.senderMac === lab.host('a').mac);
      assert.ok(garps.length > 0, `a re-announced the VIP after the heal; ARP seen: ${JSON.stringify(gratuitousArps(frames))}`);
      const adverts = vrrpAdverts(frames);
      const firstFromA = adverts.find((x) => x.src.text === lab.host('a').ipv4);
      const firstGarp = garps[0] as (typeof garps)[number];
      t.diagnostic(
        `partition heal: b back to backup ${convergedMs.toFixed(0)} ms after the nft table went; a's first GARP ${
          firstFromA ? (firstGarp.timeMs - firstFromA.timeMs).toFixed(1) : '?'
        } ms after its first advert seen (${garps.length} GARPs)`,
      );
      // "Within an advert interval or two" (100 ms), with room for a noisy machine and nft's own time.
      assert.ok(convergedMs < 1500, `converged in ${convergedMs.toFixed(0)} ms`);
      assert.equal(await stateOf(a), 'master');
      assert.equal(await stateOf(b), 'backup');
      assert.ok(await pingOnce(lab, 'client', VIP));
    } finally {
      await lab.exec('a', 'nft', ['delete', 'table', 'inet', 't'], true);
      await stopAll([a, b]);
    }
  });
});

// ---------------------------------------------------------------------------------------

test('lab: SIGHUP reload — an unchanged instance keeps its state and VIP; an invalid config is refused', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const gw = (prio: number): string => instanceYaml({ name: 'gw', vrid: 59, priority: prio, vips: [`${VIP}/24`] });
    const gw2 = (prio: number, vips: readonly string[]): string => instanceYaml({ name: 'gw2', vrid: 60, priority: prio, vips });
    const aConfig = configYaml(gw(200), gw2(150, [`${VIP2}/24`]));
    const [a, b] = await startAll(lab, [
      ['a', aConfig],
      ['b', configYaml(gw(100), gw2(100, [`${VIP2}/24`]))],
    ]);
    assert.ok(a && b);
    let monitor: ReturnType<Lab['spawn']> | undefined;
    try {
      await a.waitState('gw', 'master');
      await a.waitState('gw2', 'master');
      await b.waitState('gw', 'backup');
      await b.waitState('gw2', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await waitHolders(lab, ['a', 'b'], VIP2, ['a']);

      let monitorOut = '';
      monitor = lab.spawn('a', 'ip', ['monitor', 'address']);
      monitor.stdout?.setEncoding('utf8');
      monitor.stdout?.on('data', (d: string) => (monitorOut += d));
      await sleep(300); // let ip monitor subscribe
      const aMark = a.events.length;
      const bMark = b.events.length;

      // 1: only gw2's priority changes.
      a.writeConfig(configYaml(gw(200), gw2(160, [`${VIP2}/24`])));
      const r1 = a.events.length;
      a.signal('SIGHUP');
      await a.waitFor((e) => e.event === 'reloaded', 'reloaded', 5000, r1);
      const inst1 = a.events.slice(r1).filter((e) => e.event === 'reload-instance');
      assert.deepEqual(inst1.map((e) => [e['instance'], e['change']]), [['gw2', 'in-place']], 'only gw2 changed');
      assert.equal((await a.instance('gw2')).basePriority, 160);

      // 2: gw2 gets another VIP.
      a.writeConfig(configYaml(gw(200), gw2(160, [`${VIP2}/24`, `${VIP3}/24`])));
      const r2 = a.events.length;
      a.signal('SIGHUP');
      await a.waitFor((e) => e.event === 'reloaded', 'reloaded', 5000, r2);
      await waitHolders(lab, ['a', 'b'], VIP3, ['a'], 3000);
      await sleep(500); // a few intervals: nothing must move because of the reloads

      assert.equal(changesSince(a, 'gw', aMark).length, 0, `gw on a kept its state: ${a.logText()}`);
      assert.equal(changesSince(a, 'gw2', aMark).length, 0, 'gw2 on a kept its state');
      assert.equal(changesSince(b, 'gw', bMark).length + changesSince(b, 'gw2', bMark).length, 0, `b never took over: ${b.logText()}`);
      assert.equal(await stateOf(a, 'gw'), 'master');
      const deleted = monitorOut.split('\n').filter((l) => l.startsWith('Deleted'));
      assert.ok(!deleted.some((l) => l.includes(`${VIP}/`)), `the unchanged VIP was removed during the reload:\n${deleted.join('\n')}`);
      assert.ok(!deleted.some((l) => l.includes(`${VIP2}/`)), `gw2's kept VIP was removed during the reload:\n${deleted.join('\n')}`);
      t.diagnostic(`ip monitor during the reloads: ${monitorOut.trim().split('\n').length} lines, ${deleted.length} Deleted`);

      // 3: gw2's priority drops below b's (100): gw2 moves to b, gw stays put on a.
      const beforeDrop = monitorOut.length;
      const aMark3 = a.events.length;
      const bMark3 = b.events.length;
      a.writeConfig(configYaml(gw(200), gw2(90, [`${VIP2}/24`, `${VIP3}/24`])));
      a.signal('SIGHUP');
      await b.waitState('gw2', 'master', 5000, bMark3);
      await a.waitState('gw2', 'backup', 5000, aMark3);
      await waitHolders(lab, ['a', 'b'], VIP2, ['b'], 3000);
      // b's own config does not list VIP3 (only a's reload added it): a gave it up, b does not take it.
      await waitHolders(lab, ['a', 'b'], VIP3, [], 3000);
      await sleep(300);
      assert.equal(changesSince(a, 'gw', aMark).length, 0, `gw on a kept its state: ${a.logText()}`);
      assert.equal(changesSince(b, 'gw', bMark).length, 0, 'gw on b stayed backup');
      const deletedAfter = monitorOut.slice(beforeDrop).split('\n').filter((l) => l.startsWith('Deleted'));
      assert.ok(!deletedAfter.some((l) => l.includes(`${VIP}/`)), `the unchanged VIP was removed:\n${deletedAfter.join('\n')}`);
      assert.ok(deletedAfter.some((l) => l.includes(`${VIP2}/`)), 'gw2 gave its VIP up on a');

      // 4: an invalid config is refused; the running one keeps going.
      a.writeConfig(configYaml(gw(200), gw2(160, [`${VIP2}/24`, '10.213.0.300/24'])));
      const r3 = a.events.length;
      a.signal('SIGHUP');
      const refused = await a.waitFor((e) => e.event === 'reload-refused', 'reload-refused', 5000, r3);
      t.diagnostic(`refused: ${String(refused['detail'])}`);
      await sleep(300);
      assert.ok(!a.events.slice(r3).some((e) => e.event === 'reloaded'), 'not reloaded');
      assert.equal(a.exited, false, 'still running');
      const s = await a.status();
      assert.equal(s.reloads, 3);
      const g2 = s.instances.find((i) => i.name === 'gw2');
      assert.equal(g2?.basePriority, 90);
      assert.equal(g2?.state, 'backup');
      assert.deepEqual(g2?.virtualIps, [`${VIP2}/24`, `${VIP3}/24`]);
      assert.equal(await stateOf(a, 'gw'), 'master');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await waitHolders(lab, ['a', 'b'], VIP2, ['b']);
      assert.equal(changesSince(a, 'gw', aMark).length, 0, 'gw on a never moved');
    } finally {
      if (monitor?.pid !== undefined && monitor.exitCode === null) process.kill(monitor.pid, 'SIGTERM');
      await stopAll([a, b]);
    }
  });
});

// ---------------------------------------------------------------------------------------

async function statusCli(runtimeDir: string, json: boolean): Promise<string> {
  const r = await execFileAsync(process.execPath, [VIGIL_MAIN, 'status', ...(json ? ['--json'] : []), '--runtime-dir', runtimeDir], { encoding: 'utf8' });
  return r.stdout;
}

test('lab: `vigil status --json` shows state, priorities, master and timers', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const [a, b] = await startAll(lab, [
      ['a', configYaml(instanceYaml({ vrid: 63, priority: 200, vips: [`${VIP}/24`] }))],
      ['b', configYaml(instanceYaml({ vrid: 63, priority: 100, vips: [`${VIP}/24`] }))],
    ]);
    assert.ok(a && b);
    try {
      await a.waitState('gw', 'master');
      await b.waitState('gw', 'backup');
      await until(async () => (await b.instance('gw')).master?.address === lab.host('a').ipv4, () => 'b follows a');

      const sa = JSON.parse(await statusCli(a.runtimeDir, true)) as DaemonStatus;
      const sb = JSON.parse(await statusCli(b.runtimeDir, true)) as DaemonStatus;
      assert.equal(sa.pid, a.pid);
      assert.equal(sb.pid, b.pid);
      const ia = sa.instances.find((i) => i.name === 'gw');
      const ib = sb.instances.find((i) => i.name === 'gw');
      assert.ok(ia && ib);
      assert.equal(ia.state, 'master');
      assert.equal(ia.basePriority, 200);
      assert.equal(ia.effectivePriority, 200);
      assert.deepEqual(ia.master, { address: lab.host('a').ipv4, priority: 200 });
      assert.equal(ia.advertIntervalMs, 100);
      assert.ok(ia.advertInMs !== null && ia.advertInMs >= 0 && ia.advertInMs <= 100, `advert in ${ia.advertInMs}`);
      assert.equal(ia.masterDownInMs, null);
      assert.equal(ia.vipsInstalled, true);
      assert.deepEqual(ia.virtualIps, [`${VIP}/24`]);
      assert.equal(ia.primaryAddress, lab.host('a').ipv4);

      assert.equal(ib.state, 'backup');
      assert.equal(ib.basePriority, 100);
      assert.deepEqual(ib.master, { address: lab.host('a').ipv4, priority: 200 });
      assert.equal(ib.masterAdverIntervalMs, 100);
      assert.ok(Math.abs(ib.skewTimeMs - 60.9375) < 0.01, `skew ${ib.skewTimeMs}`);
      assert.ok(Math.abs(ib.masterDownIntervalMs - 360.9375) < 0.01, `down interval ${ib.masterDownIntervalMs}`);
      assert.ok(ib.masterDownInMs !== null && ib.masterDownInMs > 0 && ib.masterDownInMs <= 361, `down in ${ib.masterDownInMs}`);
      assert.equal(ib.advertInMs, null);
      assert.equal(ib.vipsInstalled, false);
      assert.ok(ib.stats.advertsReceived > 0);

      // The text form says the same.
      const text = await statusCli(b.runtimeDir, false);
      assert.match(text, /gw\s+eth0\s+63\s+ipv4\s+3\s+BACKUP\s+100\s+10\.213\.0\.1@200/);
      assert.match(text, /down in /);
    } finally {
      await stopAll([a, b]);
    }
  });
});
