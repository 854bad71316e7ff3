/**
 * quorum.provider corosync in the lab: five real corosync 3 daemons (knet over the lab
 * bridge), each in its own network namespace, and a real `vigil run` beside each with
 * provider corosync. Namespaces rather than full containers: libqb's IPC is an abstract
 * Unix socket, which is per network namespace, so each vigil talks to its own corosync
 * (src/lab/corosync.ts says what else each corosync gets of its own).
 *
 * Timing: corosync token 500 ms (token_coefficient 0, consensus 600 ms): a node cut off
 * learns it lost quorum after about token + consensus, 1.1-1.5 s. VRRP adverts every
 * 1 s, so Master_Down_Interval is about 3.6 s: an isolated master steps down before the
 * other side takes over (the rule README states: corosync's failure detection must be
 * shorter than Master_Down_Interval).
 *
 * The VIP is audited after every step (held by at most one running daemon's node), and
 * sampled all through the partition, where two holders at once would be the failure.
 *
 * What corosync reports reaches the daemon's event stream (read with `vigil events
 * --json`, as notifiers and monitors get it): member-joined / member-left per corosync
 * membership change, quorum-changed, and quorum-provider when the connection to corosync
 * is lost and restored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, type Lab } from '../src/lab/netns.js';
import { VigilProcess, vigilCli, configYaml, holders, instanceYaml, waitHolders } from '../src/lab/vigil.js';
import { CorosyncCluster, corosyncSkipReason, healPartition, partition } from '../src/lab/corosync.js';
import type { CorosyncQuorumStatus } from '../src/daemon/corosync-quorum.js';
import type { StampedEvent } from '../src/events/types.js';
import { sleep, until } from '../src/lab/wait.js';
import { errorText } from '../src/base/error-text.js';

function skipReason(): string | false {
  return corosyncSkipReason(['/usr/sbin/corosync', '/usr/sbin/corosync-quorumtool', '/usr/sbin/nft', '/usr/bin/unshare'], 'corosync nftables util-linux');
}

const skip = skipReason();
const HOSTS = ['a', 'b', 'c', 'd', 'e'] as const;
const PRIORITY: Record<string, number> = { a: 150, b: 140, c: 130, d: 120, e: 110 };
const VIP = '10.213.0.100';

function yaml(host: string): string {
  return configYaml(instanceYaml({ vrid: 81, priority: PRIORITY[host] ?? 100, interval: '1s', vips: [`${VIP}/24`] })) + 'quorum:\n  provider: corosync\n';
}


async function quorumOf(p: VigilProcess): Promise<CorosyncQuorumStatus> {
  const q = (await p.status()).quorum as CorosyncQuorumStatus | undefined;
  assert.ok(q, `${p.host} reports no quorum`);
  assert.equal(q.provider, 'corosync');
  return q;
}

/** The daemon's event stream after `since` (sequence number), as `vigil events --json` gives it. */
async function streamOf(p: VigilProcess, since = 0): Promise<StampedEvent[]> {
  const r = await vigilCli(['events', '--json', '--since', String(since), '--runtime-dir', p.runtimeDir]);
  assert.equal(r.code, 0, `vigil events on ${p.host}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as StampedEvent);
}

/** The sequence number of the last event, or `since` when there is none after it. */
function lastSeq(events: readonly StampedEvent[], since = 0): number {
  return events.length > 0 ? (events[events.length - 1] as StampedEvent).seq : since;
}

/** The names in the member-joined (or -left) events, sorted. */
function memberNames(events: readonly StampedEvent[], kind: 'member-joined' | 'member-left'): string[] {
  return events
    .filter((e) => e.kind === kind)
    .map((e) => (e as StampedEvent & { name: string }).name)
    .sort();
}

function running(vigils: ReadonlyMap<string, VigilProcess>): string[] {
  return [...vigils.values()].filter((p) => !p.exited).map((p) => p.host);
}

/** At most one running daemon's node holds the VIP. */
async function audit(lab: Lab, vigils: ReadonlyMap<string, VigilProcess>, step: string): Promise<string[]> {
  const h = await holders(lab, running(vigils), VIP);
  assert.ok(h.length <= 1, `${step}: the VIP is held by ${h.length} nodes: [${h.join(', ')}]`);
  return h;
}

async function settle(lab: Lab, vigils: ReadonlyMap<string, VigilProcess>, expected: readonly string[], step: string, timeoutMs = 20_000): Promise<void> {
  await waitHolders(lab, running(vigils), VIP, expected, timeoutMs).catch((e: unknown) => {
    throw new Error(`${step}: ${errorText(e)}`);
  });
  // Longer than Master_Down_Interval (3.6 s): nobody else takes over afterwards.
  await sleep(4000);
  assert.deepEqual(await audit(lab, vigils, step), [...expected], `${step}: the VIP moved again after settling`);
}

test('corosync lab: 5 nodes on corosync — wait_for_all cold boot, corosync restart on the master, 3/2 partition, master killed', { skip, timeout: 240_000 }, async () => {
  await withLab({ hosts: [...HOSTS], prefix: 'vgcs' }, async (lab) => {
    const cluster = CorosyncCluster.create(lab, { hosts: HOSTS, tokenMs: 500, quorum: { wait_for_all: 1 } });
    const vigils = new Map<string, VigilProcess>();
    try {
      // ---- cold boot with wait_for_all: 4 of 5 corosyncs up is a majority, but not "all seen once".
      await cluster.start(['a', 'b', 'c', 'd']);
      for (const h of HOSTS) vigils.set(h, await VigilProcess.start(lab, h, yaml(h)));
      const v = (h: string): VigilProcess => vigils.get(h) as VigilProcess;
      await v('e').waitFor((ev) => ev.event === 'corosync-connect-failed', 'e: corosync-connect-failed (no corosync there yet)', 10_000);
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await audit(lab, vigils, `wait_for_all, 4 of 5 up, sample ${i}`), []);
        await sleep(1000);
      }
      const qa = await quorumOf(v('a'));
      assert.equal(qa.quorate, false, 'a is not quorate before all nodes were seen');
      assert.equal(qa.waitingForAll, true);
      assert.equal(qa.flags.waitForAll, true);
      assert.equal(qa.verdict, 'release');
      assert.equal(qa.members.length, 4);
      assert.equal((await quorumOf(v('e'))).corosync.connected, false);
      for (const h of HOSTS) assert.equal(v(h).stateChanges('gw').filter((e) => e['to'] === 'master').length, 0, `${h} never master while waiting`);
      const text = await vigilCli(['quorum', 'status', '--runtime-dir', v('a').runtimeDir]);
      assert.equal(text.code, 2, 'exit 2: not quorate');
      assert.match(text.stdout, /Quorum provider:\s+corosync_votequorum/);
      assert.match(text.stdout, /Flags:\s+WaitForAll/);
      assert.match(text.stdout, /Corosync:\s+connected/);
      assert.match(text.stdout, /Wait for all:\s+waiting/);
      const eText = await vigilCli(['quorum', 'status', '--runtime-dir', v('e').runtimeDir]);
      assert.match(eText.stdout, /Corosync:\s+NOT CONNECTED/);

      // `vigil quorum unblock --force` on a: corosync's cancel_wait_for_all; a's partition (4 of 5) becomes quorate.
      const unblock = await vigilCli(['quorum', 'unblock', '--force', '--runtime-dir', v('a').runtimeDir]);
      assert.equal(unblock.code, 0, unblock.stdout + unblock.stderr);
      await until(async () => (await quorumOf(v('a'))).quorate, () => 'a quorate after unblock', 10_000, 200);
      await settle(lab, vigils, ['a'], 'unblocked: a (priority 150) is master with 4 of 5');
      // The stream of a so far: its corosync connected, b, c, d joined (e has no corosync yet), quorate after the unblock.
      const boot = await streamOf(v('a'));
      const connectedEv = boot.find((e) => e.kind === 'quorum-provider');
      assert.ok(connectedEv && connectedEv.kind === 'quorum-provider' && connectedEv.connected && connectedEv.node === 1, `a: quorum-provider connected, node 1: ${JSON.stringify(connectedEv)}`);
      assert.deepEqual(memberNames(boot, 'member-joined'), ['b', 'c', 'd']);
      assert.deepEqual(memberNames(boot, 'member-left'), []);
      const gained = boot.filter((e) => e.kind === 'quorum-changed');
      assert.equal(gained.length, 1, `one quorum-changed on a: ${JSON.stringify(gained)}`);
      assert.ok(gained[0]?.kind === 'quorum-changed' && gained[0].quorate && gained[0].votes === 4 && gained[0].reason === 'corosync', JSON.stringify(gained[0]));
      assert.ok(boot.some((e) => e.kind === 'quorum-verdict' && e.to === 'hold'), 'a: quorum-verdict hold on the stream');
      let seqA = lastSeq(boot);
      const again = await vigilCli(['quorum', 'unblock', '--force', '--runtime-dir', v('a').runtimeDir]);
      assert.equal(again.code, 1, 'a second unblock is refused: not waiting');
      assert.match(again.stderr, /refused: corosync is not waiting/);

      await cluster.start(['e']);
      await v('e').waitFor((ev) => ev.event === 'corosync-connected', 'e: corosync-connected', 15_000);
      await settle(lab, vigils, ['a'], 'all 5 up: a (priority 150) stays master');
      const eUp = await streamOf(v('a'), seqA);
      assert.deepEqual(memberNames(eUp, 'member-joined'), ['e']);
      assert.equal(eUp.filter((e) => e.kind === 'quorum-changed').length, 0, 'a stays quorate when e joins');
      seqA = lastSeq(eUp, seqA);
      const q5 = await quorumOf(v('c'));
      assert.equal(q5.quorate, true);
      assert.equal(q5.expectedVotes, 5);
      assert.equal(q5.totalVotes, 5);
      assert.equal(q5.quorum, 3);
      assert.equal(q5.waitingForAll, false);
      assert.deepEqual(q5.members.map((m) => m.name).sort(), [...HOSTS]);
      assert.match(q5.corosync.ringId ?? '', /^[0-9a-f]+\.[0-9a-f]+$/);
      const expected = await vigilCli(['quorum', 'expected', '5', '--runtime-dir', v('c').runtimeDir]);
      assert.equal(expected.code, 0, `votequorum_setexpected(5): ${expected.stdout}${expected.stderr}`);
      // corosync's failure detection (token 500 + consensus 600 ms) against Master_Down_Interval:
      // fine at 1 s adverts (3.6 s), warned at 100 ms adverts (about 0.35 s).
      assert.ok(!v('c').events.some((e) => e.event === 'corosync-timing'), 'no timing warning at 1 s adverts');
      const fast = await VigilProcess.start(lab, 'c', configYaml(instanceYaml({ name: 'fast', vrid: 82, priority: 100, vips: ['10.213.0.101/24'] })) + 'quorum:\n  provider: corosync\n');
      try {
        const w = await fast.waitFor((e) => e.event === 'corosync-timing', 'corosync-timing warning', 10_000);
        assert.match(String(w['detail']), /token 500 \+ consensus 600/);
        assert.ok((await quorumOf(fast)).warnings.some((x) => x.includes('later than Master_Down_Interval')));
      } finally {
        await fast.stop();
      }
      // corosync refuses expected votes whose quorum exceeds the votes present; vigil says so.
      const tooHigh = await vigilCli(['quorum', 'expected', '100', '--runtime-dir', v('c').runtimeDir]);
      assert.equal(tooHigh.code, 1, tooHigh.stdout + tooHigh.stderr);
      assert.match(tooHigh.stderr, /refused: votequorum_setexpected: CS_ERR_INVALID_PARAM/);
      assert.equal((await quorumOf(v('c'))).expectedVotes, 5);

      // ---- corosync restarted on the master: a goes inquorate, steps down, comes back.
      let from = v('a').events.length;
      await cluster.node('a').stop('SIGTERM');
      await v('a').waitFor((ev) => ev.event === 'corosync-disconnected', 'a: corosync-disconnected', 15_000, from);
      await settle(lab, vigils, ['b'], 'corosync stopped on a: b takes over');
      const qDown = await quorumOf(v('a'));
      assert.equal(qDown.corosync.connected, false);
      assert.equal(qDown.quorate, false);
      assert.equal(qDown.verdict, 'release');
      await cluster.start(['a']);
      await v('a').waitFor((ev) => ev.event === 'corosync-connected', 'a: corosync-connected again', 15_000, from);
      await until(async () => (await quorumOf(v('a'))).quorate, () => 'a quorate again after its corosync restarted', 20_000, 200);
      await settle(lab, vigils, ['a'], 'corosync back on a: a preempts');
      // On a's stream: the connection lost (inquorate), restored (quorate again). The others
      // did not leave because a's corosync restarted: if its corosync, new, first formed a
      // ring of its own, each member that left it joined again.
      const restartAll = await streamOf(v('a'), seqA);
      assert.deepEqual(memberNames(restartAll, 'member-left'), memberNames(restartAll, 'member-joined'), 'a: the same members after its corosync restarted');
      const restart = restartAll.filter((e) => ['quorum-provider', 'quorum-changed', 'quorum-verdict'].includes(e.kind));
      const kinds = restart.map((e) => (e.kind === 'quorum-provider' ? `provider:${e.connected}` : e.kind === 'quorum-changed' ? `quorate:${e.quorate}` : e.kind === 'quorum-verdict' ? `verdict:${e.to}` : e.kind));
      assert.deepEqual(kinds, ['provider:false', 'quorate:false', 'verdict:release', 'provider:true', 'quorate:true', 'verdict:hold'], JSON.stringify(restart));
      const lostEv = restart[0];
      assert.ok(lostEv?.kind === 'quorum-provider' && /corosync is not running or went away/.test(lostEv.detail ?? '') && lostEv.disconnects === 1, JSON.stringify(lostEv));
      seqA = lastSeq(restartAll, seqA);
      const seqC = lastSeq(await streamOf(v('c')));
      const between = v('a').events.slice(from);
      const down = between.findIndex((e) => e.event === 'corosync-disconnected');
      const up = between.findIndex((e) => e.event === 'corosync-connected');
      assert.ok(down >= 0 && up > down);
      assert.equal(between.slice(down, up).filter((e) => e.event === 'state-change' && e['to'] === 'master').length, 0, 'a never master while corosync was away');

      // ---- 3/2 partition with the master on the 2-side: it must step down before c takes over.
      from = v('a').events.length;
      await partition(lab, ['a', 'b'], ['c', 'd', 'e']);
      let worst = 0;
      const seen = new Set<string>();
      const end = Date.now() + 9000;
      while (Date.now() < end) {
        const h = await holders(lab, running(vigils), VIP);
        worst = Math.max(worst, h.length);
        for (const x of h) seen.add(x);
        await sleep(50);
      }
      assert.ok(worst <= 1, `3/2 partition: the VIP was held by ${worst} nodes at once (seen on ${[...seen].join(', ')})`);
      await settle(lab, vigils, ['c'], '3/2 partition: only the 3-side (c) holds the VIP');
      assert.equal((await quorumOf(v('a'))).quorate, false);
      assert.equal((await quorumOf(v('b'))).quorate, false);
      assert.equal((await quorumOf(v('c'))).quorate, true);
      assert.equal(v('a').stateChanges('gw').slice(-1)[0]?.['to'], 'fault', 'a (inquorate) is in FAULT');
      await healPartition(lab);
      await settle(lab, vigils, ['a'], 'healed: a regains quorum and preempts');
      // c's stream: a and b left in the partition, joined again when it healed; c stayed quorate.
      const split = await streamOf(v('c'), seqC);
      assert.deepEqual(memberNames(split, 'member-left'), ['a', 'b']);
      assert.deepEqual(memberNames(split, 'member-joined'), ['a', 'b']);
      assert.equal(split.filter((e) => e.kind === 'quorum-changed').length, 0, 'c stays quorate through the partition');
      const splitA = await streamOf(v('a'), seqA);
      assert.deepEqual(memberNames(splitA, 'member-left'), ['c', 'd', 'e']);
      assert.deepEqual(
        splitA.filter((e) => e.kind === 'quorum-changed').map((e) => e.kind === 'quorum-changed' && e.quorate),
        [false, true],
        'a: inquorate in the partition, quorate when healed',
      );
      const seqB = lastSeq(await streamOf(v('b')));

      // ---- the master node dies (corosync and vigil killed): b takes over.
      const killedAt = Date.now();
      from = v('b').events.length;
      v('a').signal('SIGKILL');
      await cluster.node('a').stop('SIGKILL');
      await v('a').waitExit(5000);
      await v('b').waitState('gw', 'master', 15_000, from);
      const takeoverMs = Date.now() - killedAt;
      await settle(lab, vigils, ['b'], 'a killed: b is master');
      await until(async () => (await quorumOf(v('b'))).members.length === 4, () => 'b sees 4 members', 10_000, 200);
      const q4 = await quorumOf(v('b'));
      assert.equal(q4.quorate, true);
      assert.ok(!q4.members.some((m) => m.name === 'a'));
      const death = await streamOf(v('b'), seqB);
      assert.deepEqual(memberNames(death, 'member-left'), ['a']);
      const leftA = death.find((e) => e.kind === 'member-left');
      assert.ok(leftA?.kind === 'member-left' && leftA.node === 1 && /^corosync ring [0-9a-f]+\.[0-9a-f]+$/.test(leftA.reason ?? ''), JSON.stringify(leftA));
      console.log(`# corosync lab: master killed -> new master after ${takeoverMs} ms (Master_Down_Interval about 3.6 s, counted from the last advert, up to 1 s before the kill)`);
    } finally {
      await Promise.all([...vigils.values()].map((p) => p.stop()));
      await cluster.destroy();
    }
  });
});
