/**
 * Quorum in the lab: real `vigil run` daemons with a `quorum:` section in network
 * namespaces on one bridge; partitions made with nftables inside the lab namespaces
 * (never `ip link set down`: docs/reference/quorum.md, "pain points").
 *
 * Fast timing everywhere: VRRP advert_interval 100 ms (Master_Down_Interval about
 * 340-360 ms), heartbeat_interval 50 ms and heartbeat_timeout 200 ms — shorter than
 * Master_Down_Interval, so an isolated master loses quorum and steps down before the
 * others take over.
 *
 * After every step the VIP is audited: held by at most one node (among the nodes whose
 * daemon runs; a daemon killed with SIGKILL cannot remove its address, which is
 * said where it happens). Transitions are polled until settled, then audited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { labSkipReason, withLab, type Lab } from '../src/lab/netns.js';
import { Capture, parsePcap } from '../src/lab/capture.js';
import { VigilProcess, vigilCli, configYaml, holders, instanceYaml, waitHolders, type LogEvent } from '../src/lab/vigil.js';
import { generateKey, writeKeyFile } from '../src/quorum/io/authkey.js';
import { encodeHeartbeat, newBootEpoch } from '../src/quorum/heartbeat.js';
import { toNodeId, toVotes } from '../src/quorum/types.js';
import { errorText } from '../src/base/error-text.js';
import { sleep, until } from '../src/lab/wait.js';




const skip = labSkipReason(['nft', 'ping', 'tcpdump']);
const TEST_TIMEOUT = 60_000;
const VIP = '10.213.0.100';
const CLUSTER = 'lab';
const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'heartbeat-driver.js');

// ---- helpers --------------------------------------------------------------------------

/** One shared key file for all nodes of a test (root-only, as the daemon requires). */
async function withKey<T>(body: (keyFile: string, key: Buffer) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-qkey-'));
  try {
    const keyFile = path.join(dir, 'authkey');
    const key = await writeKeyFile(keyFile);
    return await body(keyFile, key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface QuorumOptions {
  readonly keyFile: string;
  /** The quorum nodes, by lab host name; node id = index + 1. */
  readonly nodes: readonly string[];
  /** More keys of the quorum section, each "key: value" (indented here). */
  readonly extra?: readonly string[];
  /** heartbeat_interval / heartbeat_timeout; default 50ms / 200ms. */
  readonly heartbeat?: { readonly interval: string; readonly timeout: string };
}

function quorumYaml(lab: Lab, o: QuorumOptions): string {
  return [
    'quorum:',
    `  cluster_name: ${CLUSTER}`,
    `  key_file: ${o.keyFile}`,
    `  heartbeat_interval: ${o.heartbeat?.interval ?? '50ms'}`,
    `  heartbeat_timeout: ${o.heartbeat?.timeout ?? '200ms'}`,
    ...(o.extra ?? []).map((l) => `  ${l}`),
    '  nodes:',
    ...o.nodes.map((h, i) => `    - { id: ${i + 1}, name: ${h}, address: ${lab.host(h).ipv4} }`),
    '',
  ].join('\n');
}

function nodeYaml(lab: Lab, priority: number, q: QuorumOptions): string {
  return configYaml(instanceYaml({ vrid: 71, priority, vips: [`${VIP}/24`] })) + quorumYaml(lab, q);
}

/** The hosts of `live` (running daemons) that hold the VIP; asserts at most one. */
async function audit(lab: Lab, live: readonly VigilProcess[], step: string): Promise<string[]> {
  const running = live.filter((p) => !p.exited).map((p) => p.host);
  const h = await holders(lab, running, VIP);
  assert.ok(h.length <= 1, `${step}: the VIP is held by ${h.length} nodes: [${h.join(', ')}]`);
  return h;
}

/** Polls until the VIP's holders among the running daemons are `expected`, stays so for 400 ms (> Master_Down_Interval), then audits. */
async function settle(lab: Lab, live: readonly VigilProcess[], expected: readonly string[], step: string, timeoutMs = 10_000): Promise<void> {
  const running = live.filter((p) => !p.exited).map((p) => p.host);
  await waitHolders(lab, running, VIP, expected, timeoutMs).catch((e: unknown) => {
    throw new Error(`${step}: ${errorText(e)}`);
  });
  await sleep(400);
  const h = await audit(lab, live, step);
  assert.deepEqual(h.sort(), [...expected].sort(), `${step}: the VIP moved again after settling`);
}


function quorumStatusCli(p: VigilProcess): Promise<{ code: number; stdout: string; stderr: string }> {
  return vigilCli(['quorum', 'status', '--runtime-dir', p.runtimeDir]);
}

async function quorumOf(p: VigilProcess): Promise<NonNullable<Awaited<ReturnType<VigilProcess['status']>>['quorum']>> {
  const q = (await p.status()).quorum;
  assert.ok(q, `${p.host} reports no quorum`);
  return q;
}

async function stateOf(p: VigilProcess): Promise<string> {
  return (await p.instance('gw')).state;
}

function eventsSince(p: VigilProcess, from: number, name: string): LogEvent[] {
  return p.events.slice(from).filter((e) => e.event === name);
}

async function startAll(lab: Lab, specs: readonly (readonly [string, string])[]): Promise<VigilProcess[]> {
  return Promise.all(specs.map(([host, yaml]) => VigilProcess.start(lab, host, yaml)));
}

async function stopAll(ps: readonly (VigilProcess | undefined)[]): Promise<void> {
  await Promise.all(ps.map((p) => p?.stop()));
}

// ---- (a) two_node cold boot with the link cut ----------------------------------------

test('quorum lab (a): two_node, a node booting with its link cut never claims the VIP (wait_for_all); healed, the higher priority wins', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) =>
    withKey(async (keyFile) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['two_node: true'] };
      let a: VigilProcess | undefined;
      let b: VigilProcess | undefined;
      try {
        await lab.cut('a');
        a = await VigilProcess.start(lab, 'a', nodeYaml(lab, 200, q));
        // ~2 s alone: FAULT throughout, never the VIP, never master.
        for (let i = 0; i < 10; i++) {
          assert.deepEqual(await audit(lab, [a], `a alone, sample ${i}`), []);
          assert.equal(await stateOf(a), 'fault');
          await sleep(200);
        }
        assert.equal(a.stateChanges('gw').filter((e) => e['to'] === 'master').length, 0, 'a never became master');
        const qa = await quorumStatusCli(a);
        assert.equal(qa.code, 2, qa.stdout + qa.stderr);
        assert.match(qa.stdout, /Activity blocked/);
        assert.match(qa.stdout, /Wait for all:\s+waiting/);
        const sa = await quorumOf(a);
        assert.equal(sa.quorate, false);
        assert.equal(sa.waitingForAll, true);
        assert.equal(sa.verdict, 'release');

        // b boots (link fine) but has not seen a either: it waits too.
        b = await VigilProcess.start(lab, 'b', nodeYaml(lab, 100, q));
        for (let i = 0; i < 5; i++) {
          assert.deepEqual(await audit(lab, [a, b], `both booted, a cut, sample ${i}`), []);
          await sleep(200);
        }
        assert.equal(await stateOf(b), 'fault');
        const qb = await quorumStatusCli(b);
        assert.equal(qb.code, 2, qb.stdout + qb.stderr);
        assert.match(qb.stdout, /Activity blocked/);
        assert.equal(b.stateChanges('gw').filter((e) => e['to'] === 'master').length, 0, 'b never became master');

        // Heal: both see each other (T == E), wait_for_all clears, both quorate; a wins.
        await lab.heal('a');
        await until(async () => (await quorumOf(a!)).quorate && (await quorumOf(b!)).quorate, () => 'a and b quorate');
        await settle(lab, [a, b], ['a'], 'healed');
        assert.equal(await stateOf(a), 'master');
        assert.equal(await stateOf(b), 'backup');
        for (const p of [a, b]) {
          const r = await quorumStatusCli(p);
          assert.equal(r.code, 0, r.stdout);
          assert.doesNotMatch(r.stdout, /Activity blocked/);
          assert.equal((await quorumOf(p)).waitingForAll, false);
        }
      } finally {
        await lab.heal('a');
        await stopAll([a, b]);
      }
    }),
  );
});

// ---- (b) two_node: the master dies ---------------------------------------------------

test('quorum lab (b): two_node, the master killed (SIGKILL): the survivor keeps quorum and takes over', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) =>
    withKey(async (keyFile) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['two_node: true'] };
      let a: VigilProcess | undefined;
      let b: VigilProcess | undefined;
      try {
        [a, b] = await startAll(lab, [
          ['a', nodeYaml(lab, 100, q)],
          ['b', nodeYaml(lab, 200, q)],
        ]);
        assert.ok(a && b);
        await settle(lab, [a, b], ['b'], 'both up');
        assert.equal(await stateOf(a), 'backup');

        const aMark = a.events.length;
        b.signal('SIGKILL');
        await b.waitExit();
        await a.waitFor((e) => e.event === 'member-left' && e['node'] === 2, 'b left', 5000, aMark);
        await a.waitState('gw', 'master', 5000, aMark);
        // b's namespace keeps the address its killed daemon could not remove; the audit
        // counts the nodes whose daemon runs.
        await settle(lab, [a, b], ['a'], 'b killed');
        const sa = await quorumOf(a);
        assert.equal(sa.quorate, true, 'two_node: a alone keeps quorum');
        assert.equal(sa.verdict, 'hold');
        assert.deepEqual(sa.members.map((m) => m.id), [1]);
        assert.equal(eventsSince(a, aMark, 'quorum-change').length, 0, 'a never lost quorum');
        assert.equal((await quorumStatusCli(a)).code, 0);

        // b comes back (its start removes the VIP the crash left): it sees a, preempts.
        await b.stop();
        b = await VigilProcess.start(lab, 'b', nodeYaml(lab, 200, q));
        await b.waitState('gw', 'master', 10_000);
        await settle(lab, [a, b], ['b'], 'b restarted');
        await audit(lab, [a, b], 'b restarted (all hosts)');
        assert.deepEqual(await holders(lab, ['a', 'b'], VIP), ['b']);
      } finally {
        await stopAll([a, b]);
      }
    }),
  );
});

// ---- (c) three nodes, the master isolated --------------------------------------------

test('quorum lab (c): three nodes, the master isolated by nftables loses quorum and steps down before the others take over; healed, one master', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) =>
    withKey(async (keyFile) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b', 'c'] };
      let ps: VigilProcess[] = [];
      try {
        ps = await startAll(lab, [
          ['a', nodeYaml(lab, 200, q)],
          ['b', nodeYaml(lab, 150, q)],
          ['c', nodeYaml(lab, 100, q)],
        ]);
        const [a, b, c] = ps as [VigilProcess, VigilProcess, VigilProcess];
        await until(async () => (await Promise.all(ps.map(quorumOf))).every((s) => s.quorate && s.members.length === 3), () => 'all quorate');
        await settle(lab, ps, ['a'], 'all up');

        const marks = ps.map((p) => p.events.length);
        await lab.cut('a');
        await a.waitFor((e) => e.event === 'quorum-change' && e['quorate'] === false, 'a inquorate', 5000, marks[0]);
        const aFault = await a.waitState('gw', 'fault', 5000, marks[0]);
        // b (the next priority) takes over; c follows it.
        const bMaster = await b.waitState('gw', 'master', 5000, marks[1]);
        await settle(lab, ps, ['b'], 'a isolated');
        // a removed the VIP (the audit above reads it from a's namespace too) before b took it.
        assert.ok(Date.parse(aFault.time) <= Date.parse(bMaster.time), `a stepped down at ${aFault.time}, b became master at ${bMaster.time}`);
        t.diagnostic(`a fault at ${aFault.time}, b master at ${bMaster.time}`);
        assert.equal(await stateOf(a), 'fault');
        assert.equal((await a.instance('gw')).vipsInstalled, false);
        const qa = await quorumStatusCli(a);
        assert.equal(qa.code, 2, qa.stdout);
        assert.match(qa.stdout, /Activity blocked/);
        for (const p of [b, c]) {
          const s = await quorumOf(p);
          assert.equal(s.quorate, true, `${p.host} quorate`);
          assert.deepEqual(s.members.map((m) => m.id), [2, 3]);
        }
        assert.equal(await stateOf(c), 'backup');

        // Heal: a rejoins, is quorate again and preempts: one master.
        await lab.heal('a');
        await until(async () => (await quorumOf(a)).quorate, () => 'a quorate again');
        await a.waitState('gw', 'master', 5000, marks[0]);
        await settle(lab, ps, ['a'], 'healed');
        assert.equal((await quorumStatusCli(a)).code, 0);
        assert.equal(await stateOf(b), 'backup');
        assert.equal(await stateOf(c), 'backup');
      } finally {
        await lab.heal('a');
        await stopAll(ps);
      }
    }),
  );
});

// ---- (d) two_node with a gateway-ping tie-breaker ------------------------------------

test('quorum lab (d): two_node with tie_breaker ping: the cut-off master loses the tie-breaker, only the peer that reaches the gateway holds the VIP', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'gw'] }, async (lab) =>
    withKey(async (keyFile) => {
      const gateway = lab.host('gw').ipv4;
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['two_node: true', `tie_breaker: { ping: ${gateway}, timeout: 100ms, interval: 500ms }`] };
      let ps: VigilProcess[] = [];
      try {
        ps = await startAll(lab, [
          ['a', nodeYaml(lab, 200, q)],
          ['b', nodeYaml(lab, 100, q)],
        ]);
        const [a, b] = ps as [VigilProcess, VigilProcess];
        await settle(lab, ps, ['a'], 'both up');
        assert.equal((await quorumOf(a)).tieBreaker?.split, false);

        const marks = ps.map((p) => p.events.length);
        const cutAt = Date.now();
        await lab.cut('a');
        await a.waitFor((e) => e.event === 'tie-breaker' && e['result'] === 'lost', "a's tie-breaker lost", 5000, marks[0]);
        await b.waitFor((e) => e.event === 'tie-breaker' && e['result'] === 'won', "b's tie-breaker won", 5000, marks[1]);
        await a.waitState('gw', 'fault', 5000, marks[0]);
        await b.waitState('gw', 'master', 5000, marks[1]);
        await settle(lab, ps, ['b'], 'a cut off');
        const aDown = a.stateChanges('gw').find((e) => e.time && Date.parse(e.time) >= cutAt && e['to'] === 'fault');
        const bUp = b.stateChanges('gw').find((e) => e.time && Date.parse(e.time) >= cutAt && e['to'] === 'master');
        assert.ok(aDown && bUp);
        const aDownMs = Date.parse(aDown.time) - cutAt;
        const bUpMs = Date.parse(bUp.time) - cutAt;
        // The cut-off master keeps the VIP ('keep') while its tie-breaker decides: at most
        // heartbeat_timeout (200 ms) + the ping's timeout (100 ms) after the cut, and
        // cut off from everyone meanwhile.
        t.diagnostic(`after the cut: b master at +${bUpMs} ms, a FAULT (tie-breaker lost) at +${aDownMs} ms (both held the VIP for ${Math.max(0, aDownMs - bUpMs)} ms)`);
        assert.ok(aDownMs < 700, `a stepped down ${aDownMs} ms after the cut: heartbeat_timeout + the tie-breaker's timeout is 300 ms`);

        const sa = await quorumOf(a);
        assert.equal(sa.quorate, true, 'two_node: a stays quorate by votes');
        assert.equal(sa.verdict, 'release');
        assert.equal(sa.tieBreaker?.split, true);
        assert.equal(sa.tieBreaker?.state, 'lost');
        assert.ok(sa.tieBreaker?.lastChecks.some((c) => c.check === 'ping' && !c.ok), JSON.stringify(sa.tieBreaker));
        const qa = await quorumStatusCli(a);
        assert.match(qa.stdout, /Tie-breaker:\s+split, lost/);
        assert.match((await vigilCli(['status', '--runtime-dir', a.runtimeDir])).stdout, /two-node split: tie-breaker lost/);
        assert.equal(await stateOf(a), 'fault');
        assert.equal((await a.instance('gw')).vipsInstalled, false);
        const sb = await quorumOf(b);
        assert.equal(sb.verdict, 'hold');
        assert.equal(sb.tieBreaker?.state, 'won');

        // Heal: the split ends, a preempts again.
        await lab.heal('a');
        await a.waitFor((e) => e.event === 'two-node-rejoined', 'a rejoined', 5000, marks[0]);
        await a.waitState('gw', 'master', 5000, marks[0]);
        await settle(lab, ps, ['a'], 'healed');
        assert.equal((await quorumOf(a)).tieBreaker?.split, false);
      } finally {
        await lab.heal('a');
        await stopAll(ps);
      }
    }),
  );
});

test('quorum lab (d, no tie_breaker): two_node without a tie-breaker — the same cut leaves both masters, as corosync does; status and check-config warn', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) =>
    withKey(async (keyFile) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['two_node: true'] };
      const dir = mkdtempSync(path.join(tmpdir(), 'vigil-qcfg-'));
      let ps: VigilProcess[] = [];
      try {
        // check-config warns about the configuration itself.
        const file = path.join(dir, 'vigil.yaml');
        writeFileSync(file, nodeYaml(lab, 200, q));
        const cc = await vigilCli(['check-config', '-c', file]);
        assert.equal(cc.code, 0, cc.stderr);
        assert.match(cc.stderr, /warning: .*two_node.*tie_breaker.*both become master/);

        ps = await startAll(lab, [
          ['a', nodeYaml(lab, 200, q)],
          ['b', nodeYaml(lab, 100, q)],
        ]);
        const [a, b] = ps as [VigilProcess, VigilProcess];
        await settle(lab, ps, ['a'], 'both up');
        const marks = ps.map((p) => p.events.length);
        await lab.cut('a');
        await b.waitState('gw', 'master', 5000, marks[1]);
        // Expected here (no dual-master audit): both halves quorate, both master.
        await waitHolders(lab, ['a', 'b'], VIP, ['a', 'b']);
        await sleep(500);
        assert.deepEqual(await holders(lab, ['a', 'b'], VIP), ['a', 'b']);
        assert.equal(a.stateChanges('gw').slice(-1)[0]?.['to'], 'master', 'a never left master');
        for (const p of [a, b]) {
          const s = await quorumOf(p);
          assert.equal(s.quorate, true);
          assert.equal(s.tieBreaker, null);
          assert.ok(s.warnings.some((w) => /two_node without a tie_breaker/.test(w)), JSON.stringify(s.warnings));
          const st = await vigilCli(['status', '--runtime-dir', p.runtimeDir]);
          assert.match(st.stdout, /WARNING: two_node without a tie_breaker: a cut link leaves both nodes quorate and both master/);
          const qs = await quorumStatusCli(p);
          assert.equal(qs.code, 0);
          assert.match(qs.stdout, /WARNING: two_node without a tie_breaker/);
        }
        // Heal: VRRP settles it (a has the higher priority).
        await lab.heal('a');
        await settle(lab, ps, ['a'], 'healed');
      } finally {
        await lab.heal('a');
        await stopAll(ps);
        rmSync(dir, { recursive: true, force: true });
      }
    }),
  );
});

// ---- (e) last_man_standing -----------------------------------------------------------

test('quorum lab (e): last_man_standing (1 s window): 3 -> 2 nodes lowers the expected votes to 2, still quorate; the last one alone is inquorate', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) =>
    withKey(async (keyFile) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b', 'c'], extra: ['last_man_standing: true', 'last_man_standing_window: 1s'] };
      let ps: VigilProcess[] = [];
      try {
        ps = await startAll(lab, [
          ['a', nodeYaml(lab, 200, q)],
          ['b', nodeYaml(lab, 150, q)],
          ['c', nodeYaml(lab, 100, q)],
        ]);
        const [a, b, c] = ps as [VigilProcess, VigilProcess, VigilProcess];
        await until(async () => (await Promise.all(ps.map(quorumOf))).every((s) => s.quorate && s.members.length === 3), () => 'all quorate');
        await settle(lab, ps, ['a'], 'all up');
        for (const p of ps) assert.equal((await quorumOf(p)).expectedVotes, 3);

        // c leaves (SIGTERM): a and b stay quorate (2 of 3) and, after the window, expect 2.
        const stoppedAt = Date.now();
        await c.stop();
        await until(
          async () => (await quorumOf(a)).expectedVotes === 2 && (await quorumOf(b)).expectedVotes === 2,
          () => 'expected votes 2 on a and b',
          5000,
        );
        const lowered = Date.now() - stoppedAt;
        t.diagnostic(`expected votes lowered to 2 about ${lowered} ms after c stopped`);
        assert.ok(lowered >= 1000, `lowered after ${lowered} ms, before the 1 s window`);
        for (const p of [a, b]) {
          const s = await quorumOf(p);
          assert.equal(s.quorate, true);
          assert.equal(s.quorum, 2);
          assert.equal(s.totalVotes, 2);
          const ev = p.events.find((e) => e.event === 'expected-votes' && e['to'] === 2);
          assert.ok(ev, `${p.host} logged expected-votes`);
        }
        await settle(lab, ps, ['a'], 'c stopped');

        // b leaves too: a alone has 1 of 2 votes (quorum 2): inquorate, steps down.
        // Going from 2 to 1 would need auto_tie_breaker.
        const aMark = a.events.length;
        await b.stop();
        await a.waitFor((e) => e.event === 'quorum-change' && e['quorate'] === false, 'a inquorate', 5000, aMark);
        await a.waitState('gw', 'fault', 5000, aMark);
        await settle(lab, ps, [], 'b stopped');
        await sleep(1200); // longer than the window: E stays 2
        const s = await quorumOf(a);
        assert.equal(s.quorate, false);
        assert.equal(s.expectedVotes, 2);
        const r = await quorumStatusCli(a);
        assert.equal(r.code, 2);
        assert.match(r.stdout, /Activity blocked/);
        await audit(lab, ps, 'a alone');
      } finally {
        await stopAll(ps);
      }
    }),
  );
});

// ---- (f) forged and replayed heartbeats ----------------------------------------------

/** The UDP payloads of captured IPv4 frames from `src` to port 5406. */
function heartbeatPayloads(frames: ReturnType<typeof parsePcap>, src: string): Buffer[] {
  const out: Buffer[] = [];
  for (const f of frames) {
    const b = f.bytes;
    if (b.length < 42 || b.readUInt16BE(12) !== 0x0800 || b[23] !== 17) continue;
    const from = `${b[26]}.${b[27]}.${b[28]}.${b[29]}`;
    if (from !== src) continue;
    const ihl = ((b[14] as number) & 0x0f) * 4;
    const udp = 14 + ihl;
    if (b.readUInt16BE(udp + 2) !== 5406) continue;
    const length = b.readUInt16BE(udp + 4) - 8;
    out.push(Buffer.from(b.subarray(udp + 8, udp + 8 + length)));
  }
  return out;
}

test('quorum lab (f): forged and replayed heartbeats from a third namespace change nothing', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) =>
    withKey(async (keyFile) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['two_node: true', 'transport: multicast', 'interface: eth0'] };
      let ps: VigilProcess[] = [];
      let driver: ChildProcess | undefined;
      try {
        ps = await startAll(lab, [
          ['a', nodeYaml(lab, 100, q)],
          ['b', nodeYaml(lab, 200, q)],
        ]);
        const [a, b] = ps as [VigilProcess, VigilProcess];
        await settle(lab, ps, ['b'], 'both up');

        // c captures some of b's multicast heartbeats.
        const cap = await Capture.start(lab, 'c', 'udp port 5406');
        await until(() => heartbeatPayloads(cap.frames(), lab.host('b').ipv4).length >= 8, () => '8 heartbeats of b captured', 5000, 20);
        const captured = heartbeatPayloads(await cap.stop(), lab.host('b').ipv4);
        assert.ok(captured.every((p) => p.length === 68 && p.subarray(0, 4).toString('ascii') === 'VGHB'), 'captured heartbeats');
        assert.equal(captured[0]?.readUInt32BE(12), 2, 'they are node 2');

        // b dies; a keeps quorum (two_node) and takes over.
        const aDeath = a.events.length;
        b.signal('SIGKILL');
        await b.waitExit();
        await a.waitFor((e) => e.event === 'member-left' && e['node'] === 2, 'b left', 5000, aDeath);
        await a.waitState('gw', 'master', 5000, aDeath);
        await settle(lab, ps, ['a'], 'b killed');
        const before = await quorumOf(a);
        const mark = a.events.length;

        // From c: forged heartbeats (another key) claiming node 2, a captured heartbeat
        // altered (sequence + 1000, HMAC not recomputed), and the captured ones replayed.
        const wrongKey = generateKey();
        const epoch = newBootEpoch();
        const forged = [1n, 2n, 3n, 4n, 5n].map((sequence) =>
          encodeHeartbeat({ cluster: CLUSTER, report: { id: toNodeId(2), expectedVotes: 2, quorate: true, waitingForAll: false }, votes: toVotes(1), epoch, sequence }, wrongKey),
        );
        const altered = Buffer.from(captured[captured.length - 1] as Buffer);
        altered.writeBigUInt64BE(altered.readBigUInt64BE(24) + 1000n, 24);
        driver = lab.spawn('c', process.execPath, [
          DRIVER,
          JSON.stringify({ cluster: CLUSTER, key: wrongKey.toString('base64'), nodeId: 3, nodes: [1, 2, 3], interface: 'eth0', destination: { kind: 'multicast' } }),
        ]);
        let out = '';
        driver.stdout?.setEncoding('utf8');
        driver.stdout?.on('data', (d: string) => (out += d));
        await until(() => out.includes('"event":"ready"'), () => `the driver on c is ready: ${out}`, 5000, 20);
        const send = (hex: string): void => {
          driver?.stdin?.write(`${JSON.stringify({ op: 'send-hex', hex })}\n`);
        };
        for (const f of forged) send(f.toString('hex'));
        send(altered.toString('hex'));
        for (const p of captured) send(p.toString('hex'));
        const wantBad = (before.heartbeats.rejected['bad-hmac'] ?? 0) + forged.length + 1;
        const wantReplay = (before.heartbeats.rejected['replay'] ?? 0) + captured.length;
        await until(
          async () => {
            const s = await quorumOf(a);
            return (s.heartbeats.rejected['bad-hmac'] ?? 0) >= wantBad && (s.heartbeats.rejected['replay'] ?? 0) >= wantReplay;
          },
          () => `a counted the forgeries and replays: ${JSON.stringify(a.events.slice(mark).map((e) => e.event))}`,
          5000,
        );
        await sleep(300); // longer than heartbeat_timeout: a member would show by now
        const after = await quorumOf(a);
        assert.equal(after.heartbeats.rejected['bad-hmac'], wantBad);
        assert.equal(after.heartbeats.rejected['replay'], wantReplay);
        assert.equal(after.heartbeats.accepted, before.heartbeats.accepted, 'nothing accepted');
        assert.deepEqual(after.members.map((m) => m.id), [1]);
        assert.equal(after.peers.find((p) => p.id === 2)?.member, false);
        const qs = await quorumStatusCli(a);
        assert.match(qs.stdout, /dropped .*bad-hmac \d+/);
        assert.match(qs.stdout, /replay \d+/);
        assert.equal(eventsSince(a, aDeath, 'member-joined').length, 0, 'no member-joined after b died');
        assert.equal(a.stateChanges('gw').filter((e) => a.events.indexOf(e) >= mark).length, 0, 'no state change on a');
        assert.equal(eventsSince(a, mark, 'quorum-change').length, 0);
        assert.equal(eventsSince(a, mark, 'quorum-verdict').length, 0);
        // The counters are exact; the lines are rate-limited per reason (5 per window, src/daemon/logger.ts).
        const dropLines = eventsSince(a, mark, 'heartbeat-dropped');
        assert.equal(dropLines.filter((e) => e['reason'] === 'bad-hmac').length, 5);
        assert.equal(dropLines.filter((e) => e['reason'] === 'replay').length, 5);
        assert.equal(await stateOf(a), 'master');
        await settle(lab, ps, ['a'], 'after the forgeries');
      } finally {
        driver?.stdin?.write(`${JSON.stringify({ op: 'quit' })}\n`);
        await stopAll(ps);
      }
    }),
  );
});

/** Sends captured heartbeats from `host` through the heartbeat driver (another key: it only relays bytes), then ends it. */
async function replayFrom(lab: Lab, host: string, payloads: readonly Buffer[]): Promise<void> {
  const driver = lab.spawn(host, process.execPath, [
    DRIVER,
    JSON.stringify({ cluster: CLUSTER, key: generateKey().toString('base64'), nodeId: 3, nodes: [1, 2, 3], interface: 'eth0', destination: { kind: 'multicast' } }),
  ]);
  let out = '';
  driver.stdout?.setEncoding('utf8');
  driver.stdout?.on('data', (d: string) => (out += d));
  await until(() => out.includes('"event":"ready"'), () => `the driver on ${host} is ready: ${out}`, 5000, 20);
  const exited = new Promise<void>((resolve) => driver.once('exit', () => resolve()));
  for (const p of payloads) driver.stdin?.write(`${JSON.stringify({ op: 'send-hex', hex: p.toString('hex') })}\n`);
  driver.stdin?.write(`${JSON.stringify({ op: 'quit' })}\n`);
  await exited;
}

test('quorum lab (g): a heartbeat captured before the receiver crashed and restarted is refused after it (replay state in state_dir)', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) =>
    withKey(async (keyFile) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['two_node: true', 'transport: multicast', 'interface: eth0'] };
      const stateDir = mkdtempSync(path.join(tmpdir(), 'vigil-qstate-'));
      const ps: VigilProcess[] = [];
      try {
        const a = await VigilProcess.start(lab, 'a', nodeYaml(lab, 100, q), { stateDir });
        ps.push(a);
        const b = await VigilProcess.start(lab, 'b', nodeYaml(lab, 200, q));
        ps.push(b);
        await settle(lab, ps, ['b'], 'both up');
        const cap = await Capture.start(lab, 'c', 'udp port 5406');
        await until(() => heartbeatPayloads(cap.frames(), lab.host('b').ipv4).length >= 8, () => '8 heartbeats of b captured', 5000, 20);
        const captured = heartbeatPayloads(await cap.stop(), lab.host('b').ipv4);
        // b goes silent for good; a crashes (SIGKILL: no write at stop) after its last
        // periodic write, and restarts with the same state_dir.
        await sleep(1200);
        b.signal('SIGKILL');
        await b.waitExit();
        a.signal('SIGKILL');
        await a.waitExit();
        const a2 = await VigilProcess.start(lab, 'a', nodeYaml(lab, 100, q), { stateDir });
        ps.push(a2);
        const before = await quorumOf(a2);
        await replayFrom(lab, 'c', captured);
        await until(async () => ((await quorumOf(a2)).heartbeats.rejected['replay'] ?? 0) >= captured.length, () => `a counted ${captured.length} replays: ${JSON.stringify(a2.events.map((e) => e.event))}`, 5000);
        await sleep(300);
        const after = await quorumOf(a2);
        assert.equal(after.heartbeats.rejected['replay'], (before.heartbeats.rejected['replay'] ?? 0) + captured.length);
        assert.equal(after.heartbeats.accepted, before.heartbeats.accepted, 'no captured heartbeat accepted after the restart');
        assert.deepEqual(after.members.map((m) => m.id), [1]);
        assert.equal(eventsSince(a2, 0, 'member-joined').length, 0);

        // The control: a receiver started without the kept state accepts the same bytes.
        await a2.stop();
        const a3 = await VigilProcess.start(lab, 'a', nodeYaml(lab, 100, q));
        ps.push(a3);
        await replayFrom(lab, 'c', captured);
        await a3.waitFor((e) => e.event === 'member-joined' && e['node'] === 2, 'the replayed heartbeat accepted without the state', 5000);
      } finally {
        await stopAll(ps.filter((p) => !p.exited));
        rmSync(stateDir, { recursive: true, force: true });
      }
    }),
  );
});

test('quorum lab (h): heartbeat sends failing for 1 s (an unreachable route to the peer) log the failure and the recovery, not each of the ~20 failed sends', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) =>
    withKey(async (keyFile) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['two_node: true'] };
      let ps: VigilProcess[] = [];
      try {
        ps = await startAll(lab, [
          ['a', nodeYaml(lab, 100, q)],
          ['b', nodeYaml(lab, 200, q)],
        ]);
        const [a] = ps as [VigilProcess, VigilProcess];
        await settle(lab, ps, ['b'], 'both up');
        const mark = a.events.length;
        const peer = lab.host('b').ipv4;
        const sentBefore = (await quorumOf(a)).heartbeats.sent;
        await lab.exec('a', 'ip', ['route', 'add', 'unreachable', `${peer}/32`]);
        await sleep(1000);
        await lab.exec('a', 'ip', ['route', 'del', 'unreachable', `${peer}/32`]);
        const recovered = await a.waitFor((e) => e.event === 'heartbeat-send-recovered', 'heartbeat-send-recovered', 5000, mark);
        const failing = eventsSince(a, mark, 'heartbeat-send-failing');
        assert.equal(failing.length, 1, 'one line when the sends start failing');
        assert.equal(failing[0]?.['peer'], peer);
        assert.match(String(failing[0]?.['detail']), /EHOSTUNREACH|ENETUNREACH/);
        assert.equal(recovered['peer'], peer);
        const failed = Number(recovered['failed']);
        const sent = (await quorumOf(a)).heartbeats.sent - sentBefore;
        assert.ok(failed >= 10 && failed <= sent, `the recovery line counts the ${failed} failed sends (of ${sent})`);
        assert.equal(eventsSince(a, mark, 'heartbeat-transport').length, 0, 'no line per failed send');
      } finally {
        await stopAll(ps);
      }
    }),
  );
});

test('quorum lab (freeze): no_quorum_policy freeze — an isolated backup takes nothing over, and the inquorate master keeps the VIP', { skip, timeout: TEST_TIMEOUT }, async () => {
  await withKey(async (keyFile) => {
    await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['no_quorum_policy: freeze'] };
      const [a, b] = await startAll(lab, [
        ['a', nodeYaml(lab, 200, q)],
        ['b', nodeYaml(lab, 100, q)],
      ]);
      assert.ok(a && b);
      try {
        await a.waitState('gw', 'master');
        await settle(lab, [a, b], ['a'], 'both up');
        const fromA = a.events.length;
        const fromB = b.events.length;
        await lab.cut('b');
        // Both halves lose quorum (1 vote of 2): freeze keeps each as it is.
        await until(async () => (await quorumOf(a)).verdict === 'keep' && (await quorumOf(b)).verdict === 'keep', () => 'both inquorate, verdict keep');
        await sleep(1000); // several Master_Down_Intervals (361 ms) without adverts on b
        await settle(lab, [a, b], ['a'], 'b cut off');
        assert.equal(await stateOf(b), 'backup', 'b, which hears no adverts, did not take over');
        assert.equal(await stateOf(a), 'master', 'a kept its VIP while inquorate');
        assert.equal((await quorumStatusCli(b)).code, 2);
        await lab.heal('b');
        await until(async () => (await quorumOf(a)).quorate && (await quorumOf(b)).quorate, () => 'both quorate again');
        await settle(lab, [a, b], ['a'], 'healed');
        assert.deepEqual(eventsSince(b, fromB, 'state-change'), [], 'b never changed state after the cut');
        assert.deepEqual(eventsSince(a, fromA, 'state-change'), [], 'a never changed state after the cut');
      } finally {
        await stopAll([a, b]);
      }
    });
  });
});

// ---- (stall) a node frozen longer than heartbeat_timeout ----------------------------

const STALLS = 3;

test(`quorum lab (stall): a backup frozen 1 s (SIGSTOP/SIGCONT, heartbeat_timeout 500 ms) ${STALLS} times: no member-left/joined, no quorum change on it`, { skip, timeout: TEST_TIMEOUT }, async (t) => {
  // Without two_node and with freeze, losing the peer would make the frozen node inquorate
  // (1 vote of 2), logged as quorum-change. Its peer's heartbeats kept arriving during the
  // freeze: received before the deadline, they keep the peer a member though read after it.
  // (The peer really heard nothing from the frozen node for 1 s: its member-left is right.)
  await withKey(async (keyFile) => {
    await withLab({ hosts: ['a', 'b'] }, async (lab) => {
      const q: QuorumOptions = { keyFile, nodes: ['a', 'b'], extra: ['no_quorum_policy: freeze'], heartbeat: { interval: '100ms', timeout: '500ms' } };
      const [a, b] = await startAll(lab, [
        ['a', nodeYaml(lab, 200, q)],
        ['b', nodeYaml(lab, 100, q)],
      ]);
      assert.ok(a && b);
      try {
        await a.waitState('gw', 'master');
        await settle(lab, [a, b], ['a'], 'both up');
        await until(async () => (await quorumOf(b)).quorate, () => 'b quorate');
        const fromB = b.events.length;
        for (let i = 0; i < STALLS; i++) {
          b.signal('SIGSTOP');
          await sleep(1000);
          b.signal('SIGCONT');
          // The peer sees b again (its member-joined) before the next freeze.
          const mark = a.events.length;
          await a.waitFor((e) => e.event === 'member-joined' && e['node'] === 2, `a hears b again after freeze ${i}`, 5000, mark);
          await sleep(300);
        }
        const seen = b.events.slice(fromB).filter((e) => ['member-left', 'member-joined', 'quorum-change', 'state-change'].includes(e.event));
        t.diagnostic(`${STALLS} freezes of 1 s: on the frozen node ${seen.length} member/quorum/state events; the peer logged ${eventsSince(a, 0, 'member-left').length} member-left`);
        assert.deepEqual(seen.map((e) => `${e.event} ${JSON.stringify(e['node'] ?? e['quorate'] ?? e['to'])}`), [], 'the frozen node expired its peer');
        const sb = await quorumOf(b);
        assert.equal(sb.quorate, true);
        assert.deepEqual(sb.members.map((m) => m.id), [1, 2]);
        assert.equal(await stateOf(b), 'backup');
      } finally {
        b.signal('SIGCONT');
        await stopAll([a, b]);
      }
    });
  });
});
