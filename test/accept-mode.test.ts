/**
 * Accept_Mode (RFC 5798 §6.4.3 (650), §6.1): with `accept: false` a master that is not the
 * address owner drops packets addressed to its VIPs, except IPv6 Neighbor Solicitations
 * and Advertisements, through vigil's own nftables table (src/daemon/accept-filter.ts).
 *
 * The first tests drive the filter's logic with a fake nft port; the lab tests run the
 * real `vigil run` in network namespaces and look with ping, the client's neighbour
 * table and `nft` inside the daemon's namespace (never the machine's own).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labSkipReason, withLab, type Lab } from '../src/lab/netns.js';
import { VIGIL_MAIN, VigilProcess, configYaml, instanceYaml, waitHolders } from '../src/lab/vigil.js';
import { ip } from '../src/net/address.js';
import { memoryLogger } from '../src/daemon/logger.js';
import {
  AcceptFilter,
  AcceptFilterError,
  NftFailedError,
  NftNotFoundError,
  NftProgram,
  elementScript,
  removeTableScript,
  tableScript,
  type NftPort,
} from '../src/daemon/accept-filter.js';
import { until } from '../src/lab/wait.js';

// ---------------------------------------------------------------------------------------
// The filter's logic, on a fake nft
// ---------------------------------------------------------------------------------------

class FakeNft implements NftPort {
  readonly scripts: string[] = [];
  failNext: Error | undefined;
  run(script: string): Promise<void> {
    this.scripts.push(script);
    const e = this.failNext;
    this.failNext = undefined;
    return e ? Promise.reject(e) : Promise.resolve();
  }
}

test('accept filter: the table drops packets to the sets, lets NS/NA to IPv6 VIPs through first, and replaces any earlier table in one transaction', () => {
  const script = tableScript([ip('10.213.0.110'), ip('fd13::110'), ip('fe80::13:1:110')]);
  assert.ok(script.startsWith(removeTableScript()), 'a stale table is removed in the same transaction');
  assert.match(script, /set vips4 \{ type ipv4_addr; elements = \{ 10\.213\.0\.110 \}; \}/);
  assert.match(script, /set vips6 \{ type ipv6_addr; elements = \{ fd13::110, fe80::13:1:110 \}; \}/);
  assert.match(script, /type filter hook input priority filter; policy accept;/);
  const nd = script.indexOf('ip6 daddr @vips6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } counter accept');
  const drop6 = script.indexOf('ip6 daddr @vips6 counter drop');
  assert.ok(nd > 0 && drop6 > nd, 'RFC 5798 §6.1: the NS/NA exception comes before the IPv6 drop');
  assert.match(script, /ip daddr @vips4 counter drop/);
  assert.match(tableScript([]), /set vips4 \{ type ipv4_addr; \}/, 'no empty elements list');
  assert.equal(elementScript('add', [ip('10.213.0.1'), ip('fd13::1'), ip('10.213.0.2')]), 'add element inet vigil vips4 { 10.213.0.1, 10.213.0.2 }\nadd element inet vigil vips6 { fd13::1 }\n');
  assert.equal(elementScript('delete', []), '');
});

test('accept filter: start cleans a stale table, or creates it when an instance has accept false; a missing nft is an error only then', async () => {
  const nft = new FakeNft();
  await new AcceptFilter(nft, memoryLogger()).start([]);
  assert.deepEqual(nft.scripts, [removeTableScript()]);
  await new AcceptFilter(nft, memoryLogger()).start(['gw']);
  assert.equal(nft.scripts[1], tableScript([]));

  nft.failNext = new NftNotFoundError('nft', 'spawn nft ENOENT');
  const quiet = memoryLogger();
  await new AcceptFilter(nft, quiet).start([]);
  assert.deepEqual(quiet.lines, [], 'nothing to clean without nft, and nothing to say');

  nft.failNext = new NftNotFoundError('nft', 'spawn nft ENOENT');
  await assert.rejects(new AcceptFilter(nft, memoryLogger()).start(['gw', 'gw2']), (e: unknown) => {
    assert.ok(e instanceof AcceptFilterError);
    assert.match(e.message, /^instances gw, gw2: accept: false needs an nftables table \(inet vigil\).*the nft program \(nft\) was not found.*install the nftables package/);
    return true;
  });
});

test('accept filter: addresses are added and removed per owner with reference counts; a failure is counted, logged and healed by a rebuild; stop deletes the table', async () => {
  const nft = new FakeNft();
  const log = memoryLogger();
  const f = new AcceptFilter(nft, log);
  await f.start(['gw', 'gw6']);
  nft.scripts.length = 0;
  await f.block('gw', [ip('10.213.0.110'), ip('10.213.0.111')]);
  await f.block('gw6', [ip('fd13::110'), ip('10.213.0.111')]);
  assert.deepEqual(nft.scripts, ['add element inet vigil vips4 { 10.213.0.110, 10.213.0.111 }\n', 'add element inet vigil vips6 { fd13::110 }\n']);
  assert.deepEqual(f.status(), { active: true, blocked: ['10.213.0.110', '10.213.0.111', 'fd13::110'], errors: 0 });
  // The same again changes nothing; a shared address stays until its last owner lets go.
  await f.block('gw', [ip('10.213.0.110'), ip('10.213.0.111')]);
  assert.equal(nft.scripts.length, 2);
  await f.unblock('gw');
  assert.equal(nft.scripts[2], 'delete element inet vigil vips4 { 10.213.0.110 }\n');
  await f.unblock('gw');
  assert.equal(nft.scripts.length, 3, 'unblocking twice is a no-op');

  nft.failNext = new NftFailedError(1, 'Error: Could not process rule: No such file or directory');
  await f.block('gw', [ip('10.213.0.112')]);
  assert.equal(f.status().errors, 1);
  assert.match(f.status().lastError ?? '', /No such file or directory/);
  const failed = log.lines.find((l) => l.event === 'accept-filter-failed');
  assert.equal(failed?.level, 'error');
  assert.equal(failed?.fields['action'], 'block gw');
  // The next change rewrites the whole table from what is held.
  await f.block('gw', [ip('10.213.0.112'), ip('10.213.0.113')]);
  assert.equal(nft.scripts.at(-1), tableScript([ip('10.213.0.111'), ip('fd13::110'), ip('10.213.0.112'), ip('10.213.0.113')]));

  await f.stop();
  assert.equal(nft.scripts.at(-1), removeTableScript());
  assert.equal(f.status().active, false);
  await f.block('gw', [ip('10.213.0.114')]);
  assert.equal(nft.scripts.at(-1), removeTableScript(), 'nothing after stop');
});

test('accept filter: the real port reports a missing program and a failing one without throwing synchronously', async () => {
  await assert.rejects(new NftProgram('/nonexistent/nft').run('list tables\n'), NftNotFoundError);
  // `false` reads nothing and exits 1: as nft refusing a script (nftables is not touched).
  await assert.rejects(new NftProgram('false').run('list tables\n'), (e: unknown) => e instanceof NftFailedError && e.code === 1);
});

// ---------------------------------------------------------------------------------------
// The lab
// ---------------------------------------------------------------------------------------

const skip = labSkipReason(['nft']);
const TEST_TIMEOUT = 90_000;

const VIP = '10.213.0.110';
const LL_VIP6 = 'fe80::13:1:110';
const VIP6 = 'fd13::110';

/** One ping (IPv4 or IPv6), waiting at most `waitS` seconds; true when answered. */
async function pingOnce(lab: Lab, host: string, address: string, waitS = 1): Promise<boolean> {
  const r = await lab.exec(host, 'ping', [...(address.includes(':') ? ['-6'] : []), '-n', '-c', '1', '-W', String(waitS), address], true);
  return r.code === 0;
}

interface NeighEntry {
  readonly dst: string;
  readonly lladdr?: string;
  readonly state?: readonly string[];
}

async function neighbour(lab: Lab, host: string, address: string): Promise<NeighEntry | undefined> {
  const r = await lab.exec(host, 'ip', ['-j', 'neigh', 'show', address], true);
  if (r.code !== 0 || !r.stdout.trim()) return undefined;
  return (JSON.parse(r.stdout) as NeighEntry[]).find((e) => e.dst === address);
}

/** The tables in `host`'s namespace, as "family name". */
async function nftTables(lab: Lab, host: string): Promise<string[]> {
  const r = await lab.exec(host, 'nft', ['list', 'tables']);
  return r.stdout.split('\n').map((l) => l.trim().replace(/^table /, '')).filter((l) => l !== '');
}

/** The elements of one of vigil's sets in `host`'s namespace (empty when the table is absent). */
async function setElements(lab: Lab, host: string, set: 'vips4' | 'vips6'): Promise<string[]> {
  const r = await lab.exec(host, 'nft', ['-j', 'list', 'set', 'inet', 'vigil', set], true);
  if (r.code !== 0) return [];
  const parsed = JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
  const elem = parsed.nftables.find((x) => x.set)?.set?.elem ?? [];
  return elem.map((e) => String(e)).sort();
}

/** The packet counters of vigil's input chain, by what the rule does. */
async function counters(lab: Lab, host: string): Promise<{ drop4: number; nd6: number; drop6: number }> {
  const out = (await lab.exec(host, 'nft', ['list', 'chain', 'inet', 'vigil', 'input'])).stdout;
  const n = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  return {
    drop4: n(/ip daddr @vips4 counter packets (\d+) bytes \d+ drop/),
    nd6: n(/icmpv6 type \{ nd-neighbor-solicit, nd-neighbor-advert \} counter packets (\d+) bytes \d+ accept/),
    drop6: n(/ip6 daddr @vips6 counter packets (\d+) bytes \d+ drop/),
  };
}

test('lab: accept: false — the master drops pings to its VIP while ARP still resolves it; failover moves the block; the table goes when the daemon stops', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const cfg = (priority: number): string => configYaml(instanceYaml({ vrid: 81, priority, vips: [`${VIP}/24`], extra: '    accept: false' }));
    let a: VigilProcess | undefined;
    let b: VigilProcess | undefined;
    try {
      a = await VigilProcess.start(lab, 'a', cfg(200));
      b = await VigilProcess.start(lab, 'b', cfg(100));
      await a.waitState('gw', 'master');
      await b.waitState('gw', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      assert.ok((await nftTables(lab, 'a')).includes('inet vigil'), 'a has its table');
      await until(async () => (await setElements(lab, 'a', 'vips4')).includes(VIP), () => 'the VIP in a\'s set');
      assert.deepEqual(await setElements(lab, 'b', 'vips4'), [], 'the backup blocks nothing (it holds no VIP)');

      // Pings to the VIP go unanswered; a's own address still answers.
      assert.ok(await pingOnce(lab, 'client', lab.host('a').ipv4), "a's own address answers");
      const before = (await counters(lab, 'a')).drop4;
      for (let i = 0; i < 3; i++) assert.equal(await pingOnce(lab, 'client', VIP), false, `ping ${i + 1} to the VIP was answered`);
      const after = (await counters(lab, 'a')).drop4;
      t.diagnostic(`a's drop counter for the VIP: ${before} -> ${after}`);
      assert.ok(after - before >= 3, 'the echo requests were dropped by vigil\'s table');
      // ARP is not IP: the kernel still answers it, so the client resolves the VIP to a.
      assert.equal((await neighbour(lab, 'client', VIP))?.lladdr?.toLowerCase(), lab.host('a').mac);
      const sa = await a.status();
      assert.deepEqual(sa.acceptFilter, { active: true, blocked: [VIP], errors: 0 });

      // a stops: its VIP and its table go; b takes over and blocks the VIP in turn.
      await a.stop();
      assert.ok(!(await nftTables(lab, 'a')).includes('inet vigil'), `a's table is gone: ${(await nftTables(lab, 'a')).join(', ')}`);
      await b.waitState('gw', 'master', 5000);
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
      await until(async () => (await setElements(lab, 'b', 'vips4')).includes(VIP), () => "the VIP in b's set");
      await until(async () => (await neighbour(lab, 'client', VIP))?.lladdr?.toLowerCase() === lab.host('b').mac, () => 'the client follows b', 3000);
      assert.equal(await pingOnce(lab, 'client', VIP), false, 'b drops the pings too');

      // a returns and preempts: b gives the VIP up, and its address leaves b's set.
      const bMark = b.events.length;
      a = await VigilProcess.start(lab, 'a', cfg(200));
      await a.waitState('gw', 'master', 5000);
      await b.waitState('gw', 'backup', 5000, bMark);
      await until(async () => (await setElements(lab, 'b', 'vips4')).length === 0, () => "b's set emptied when it left master");
      await until(async () => (await setElements(lab, 'a', 'vips4')).includes(VIP), () => "the VIP back in a's set");

      // kill -9 leaves a's table behind; the next start replaces it.
      a.signal('SIGKILL');
      await a.waitExit();
      assert.ok((await nftTables(lab, 'a')).includes('inet vigil'), 'kill -9 left the table');
      await a.stop();
      a = await VigilProcess.start(lab, 'a', cfg(200));
      assert.ok(a.events.some((e) => e.event === 'accept-filter-ready'));
      await a.waitState('gw', 'master', 5000);
      await until(async () => (await setElements(lab, 'a', 'vips4')).includes(VIP), () => "the VIP in a's new set");

      await a.stop();
      await b.stop();
      assert.ok(!(await nftTables(lab, 'a')).includes('inet vigil'), 'a: table gone after stop');
      assert.ok(!(await nftTables(lab, 'b')).includes('inet vigil'), 'b: table gone after stop');
    } finally {
      await a?.stop();
      await b?.stop();
    }
  });
});

test('lab: accept: true (the default) answers pings to the VIP and creates no table; a stale table is removed at start; a reload to accept: false blocks, and back; the owner (255) accepts whatever accept says', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'client'] }, async (lab) => {
    // A table left by an earlier run (kill -9), blocking the VIP.
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-accept-'));
    const stale = path.join(dir, 'stale.nft');
    writeFileSync(stale, tableScript([ip(VIP)]));
    await lab.exec('a', 'nft', ['-f', stale]);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(await setElements(lab, 'a', 'vips4'), [VIP]);

    const cfg = (accept: boolean | undefined): string =>
      configYaml(instanceYaml({ vrid: 82, priority: 200, vips: [`${VIP}/24`], ...(accept === undefined ? {} : { extra: `    accept: ${accept}` }) }));
    const a = await VigilProcess.start(lab, 'a', cfg(undefined));
    try {
      await a.waitState('gw', 'master');
      await waitHolders(lab, ['a'], VIP, ['a']);
      assert.ok(!(await nftTables(lab, 'a')).includes('inet vigil'), 'the stale table was removed, and none made');
      await until(() => pingOnce(lab, 'client', VIP), () => 'the VIP answers a ping', 5000);
      assert.equal((await a.status()).acceptFilter, undefined);

      // Reload: accept false, in place (the instance stays master).
      a.writeConfig(cfg(false));
      let mark = a.events.length;
      a.signal('SIGHUP');
      await a.waitFor((e) => e.event === 'reloaded', 'reloaded', 5000, mark);
      assert.deepEqual(await setElements(lab, 'a', 'vips4'), [VIP]);
      assert.equal(await pingOnce(lab, 'client', VIP), false, 'blocked after the reload');
      assert.equal((await a.instance('gw')).state, 'master');

      a.writeConfig(cfg(true));
      mark = a.events.length;
      a.signal('SIGHUP');
      await a.waitFor((e) => e.event === 'reloaded', 'reloaded', 5000, mark);
      assert.deepEqual(await setElements(lab, 'a', 'vips4'), []);
      assert.ok(await pingOnce(lab, 'client', VIP), 'answered again');
      assert.equal(a.stateChanges('gw').length, 2, `no state change through the reloads: ${a.logText()}`);
    } finally {
      await a.stop();
    }
    assert.ok(!(await nftTables(lab, 'a')).includes('inet vigil'), 'no table after stop');

    // The address owner (priority 255) accepts whatever `accept` says (RFC 5798 §6.4.3 (650)).
    const owner = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 82, priority: 255, vips: [`${VIP}/24`], extra: '    accept: false' })));
    try {
      await owner.waitState('gw', 'master');
      await waitHolders(lab, ['a'], VIP, ['a']);
      assert.ok(!(await nftTables(lab, 'a')).includes('inet vigil'), 'no table for an owner');
      await until(() => pingOnce(lab, 'client', VIP), () => 'the owner answers pings to its address', 5000);
    } finally {
      await owner.stop();
    }
  });
});

test('lab: IPv6 accept: false — NS/NA pass (the client resolves the VIP, also by unicast NUD probes), ping6 gets no answer', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'client'] }, async (lab) => {
    const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ name: 'gw6', vrid: 83, priority: 200, vips: [`${LL_VIP6}/64`, `${VIP6}/64`], extra: '    accept: false' })));
    try {
      await a.waitState('gw6', 'master');
      await waitHolders(lab, ['a'], VIP6, ['a']);
      await until(async () => (await setElements(lab, 'a', 'vips6')).length === 2, () => "both VIPs in a's set");
      assert.deepEqual(await setElements(lab, 'a', 'vips6'), [VIP6, LL_VIP6].sort());
      assert.ok(await pingOnce(lab, 'client', lab.host('a').ipv6), "a's own address answers ping6");
      // RFC 5798 §6.4.2 (390) / §6.4.3 (620): the kernel joined the solicited-node groups of
      // both VIPs when they were added (ff02::1:ff + the low 24 bits).
      const groups = (await lab.exec('a', 'ip', ['-6', 'maddr', 'show', 'dev', 'eth0'])).stdout;
      assert.match(groups, /ff02::1:ff00:110\b/, `solicited-node group of ${VIP6}: ${groups}`);
      assert.match(groups, /ff02::1:ff01:110\b/, `solicited-node group of ${LL_VIP6}: ${groups}`);

      const c0 = await counters(lab, 'a');
      for (let i = 0; i < 2; i++) assert.equal(await pingOnce(lab, 'client', VIP6), false, 'ping6 to the VIP was answered');
      // The client's NS went to the solicited-node group, a's kernel answered it (it joined
      // the group when the VIP was added): the neighbour entry is resolved to a.
      const entry = await neighbour(lab, 'client', VIP6);
      assert.equal(entry?.lladdr?.toLowerCase(), lab.host('a').mac, `the client's entry: ${JSON.stringify(entry)}`);
      const c1 = await counters(lab, 'a');
      assert.ok(c1.drop6 - c0.drop6 >= 2, `echo requests dropped (${c0.drop6} -> ${c1.drop6})`);

      // NUD: a stale entry in use is probed by unicast NS to the VIP itself; they pass the
      // table (counted by the NS/NA rule) and a's NA makes the entry REACHABLE again.
      await lab.sysctl('client', 'net.ipv6.neigh.eth0.delay_first_probe_time', '1');
      await lab.exec('client', 'ip', ['-6', 'neigh', 'replace', VIP6, 'lladdr', lab.host('a').mac, 'dev', 'eth0', 'nud', 'stale']);
      assert.deepEqual((await neighbour(lab, 'client', VIP6))?.state, ['STALE']);
      await pingOnce(lab, 'client', VIP6);
      let state: readonly string[] | undefined;
      await until(
        async () => {
          state = (await neighbour(lab, 'client', VIP6))?.state;
          return (await counters(lab, 'a')).nd6 > c1.nd6 && state?.[0] === 'REACHABLE';
        },
        () => `a unicast NS reached a and was answered (state ${JSON.stringify(state)}, nd counter ${c1.nd6})`,
        8000,
        200,
      );
      const c2 = await counters(lab, 'a');
      t.diagnostic(`a's counters: NS/NA to the VIPs accepted ${c2.nd6}, IPv6 packets to the VIPs dropped ${c2.drop6}`);
      assert.equal(await pingOnce(lab, 'client', VIP6), false, 'still no echo reply');
    } finally {
      await a.stop();
    }
    assert.ok(!(await nftTables(lab, 'a')).includes('inet vigil'), 'no table after stop');
  });
});

test('lab: accept: false without the nft program stops the start with an error naming the instance and the package', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-accept-'));
    try {
      const config = path.join(dir, 'vigil.yaml');
      const runIt = (yaml: string): Promise<{ code: number; stderr: string; stdout: string }> => {
        writeFileSync(config, yaml);
        // PATH without nft (node by its absolute path).
        return lab.exec('a', 'env', ['PATH=/nonexistent', process.execPath, VIGIL_MAIN, 'run', '-c', config, '--runtime-dir', path.join(dir, 'run')], true);
      };
      const r = await runIt(configYaml(instanceYaml({ vrid: 84, priority: 100, vips: [`${VIP}/24`], extra: '    accept: false' })));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /vigil run: instance gw: accept: false needs an nftables table \(inet vigil\) .*the nft program \(nft\) was not found.*install the nftables package/);
      assert.doesNotMatch(r.stdout, /\bstarted\b/, 'it never started');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
