/**
 * The replay rule (src/quorum/replay.ts) and the membership (src/quorum/membership.ts):
 * pure, on a virtual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from './support/property.js';
import { ReplayGuard, isAfter } from '../src/quorum/replay.js';
import { Membership, type MembershipEvent, type MembershipHeartbeat } from '../src/quorum/membership.js';
import { decodeHeartbeat, encodeHeartbeat } from '../src/quorum/heartbeat.js';
import { toNodeId, toVotes, type NodeId } from '../src/quorum/types.js';

const N1 = toNodeId(1);
const N2 = toNodeId(2);
const N3 = toNodeId(3);

function nodes(...ids: number[]): { id: NodeId; name: string; votes: ReturnType<typeof toVotes> }[] {
  return ids.map((id) => ({ id: toNodeId(id), name: `node${id}`, votes: toVotes(1) }));
}

function hb(id: number, epoch: bigint, sequence: bigint, fields: { expectedVotes?: number; quorate?: boolean; waitingForAll?: boolean; votes?: number } = {}): MembershipHeartbeat {
  return {
    report: { id: toNodeId(id), expectedVotes: fields.expectedVotes ?? 3, quorate: fields.quorate ?? true, waitingForAll: fields.waitingForAll ?? false },
    votes: toVotes(fields.votes ?? 1),
    epoch,
    sequence,
  };
}

function summary(events: readonly MembershipEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.id}${e.type === 'updated' ? '' : ` ${e.reason}`}`);
}

function membership(timeoutMs = 1000): Membership {
  return new Membership({ nodes: nodes(1, 2, 3), localId: N1, timeoutMs });
}

// --- replay -----------------------------------------------------------------------------

test('replay: a greater sequence in the same epoch, or a greater epoch, is accepted; nothing else', () => {
  const g = new ReplayGuard();
  assert.deepEqual(g.accept(N2, { epoch: 10n, sequence: 5n }), { accepted: true, newEpoch: false, first: true });
  assert.deepEqual(g.accept(N2, { epoch: 10n, sequence: 6n }), { accepted: true, newEpoch: false, first: false });
  // The same one again, an older one: replays.
  assert.equal(g.accept(N2, { epoch: 10n, sequence: 6n }).accepted, false);
  assert.equal(g.accept(N2, { epoch: 10n, sequence: 5n }).accepted, false);
  assert.equal(g.accept(N2, { epoch: 10n, sequence: 0n }).accepted, false);
  // An older epoch, whatever its sequence.
  assert.equal(g.accept(N2, { epoch: 9n, sequence: 1_000_000n }).accepted, false);
  // A refusal does not move the mark; the verdict says where it is.
  const refused = g.accept(N2, { epoch: 10n, sequence: 2n });
  assert.deepEqual(refused, { accepted: false, reason: 'replay', highest: { epoch: 10n, sequence: 6n } });
  // Gaps are fine (lost heartbeats).
  assert.equal(g.accept(N2, { epoch: 10n, sequence: 100n }).accepted, true);
  // Each sender has its own mark.
  assert.equal(g.accept(N3, { epoch: 1n, sequence: 0n }).accepted, true);
  assert.deepEqual(g.highestFrom(N2), { epoch: 10n, sequence: 100n });
});

test('replay: the sender restarts (a new epoch, sequence from 0); its old epoch is refused afterwards', () => {
  const g = new ReplayGuard();
  const old = [1n, 2n, 3n].map((sequence) => ({ epoch: 100n, sequence }));
  for (const at of old) assert.equal(g.accept(N2, at).accepted, true);
  // Restart: epoch 200, sequence starts again.
  assert.deepEqual(g.accept(N2, { epoch: 200n, sequence: 0n }), { accepted: true, newEpoch: true, first: false });
  // An attacker replays the captured heartbeats of the previous run: all refused, also
  // those with a sequence far above the new run's.
  for (const at of [...old, { epoch: 100n, sequence: 1n << 40n }]) assert.equal(g.accept(N2, at).accepted, false);
  assert.equal(g.wouldAccept(N2, { epoch: 200n, sequence: 1n }), true);
  assert.equal(g.accept(N2, { epoch: 200n, sequence: 1n }).accepted, true);
});

test('replay: whatever arrives, the accepted ones are strictly increasing (property)', () => {
  checkProperty(
    fc.property(fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: 0n, max: 8n })), { maxLength: 60 }), (arrivals) => {
      const g = new ReplayGuard();
      const accepted: { epoch: bigint; sequence: bigint }[] = [];
      for (const [epoch, sequence] of arrivals) {
        const at = { epoch, sequence };
        const prev = accepted[accepted.length - 1];
        const verdict = g.accept(N2, at);
        assert.equal(verdict.accepted, prev === undefined || isAfter(at, prev));
        if (verdict.accepted) accepted.push(at);
      }
      for (let i = 1; i < accepted.length; i++) assert.ok(isAfter(accepted[i] as { epoch: bigint; sequence: bigint }, accepted[i - 1] as { epoch: bigint; sequence: bigint }));
    }),
  );
});

// --- membership -------------------------------------------------------------------------

test('membership: a peer joins on its first heartbeat and leaves after the timeout', () => {
  const m = membership(1000);
  assert.equal(m.nextDeadline(), undefined);
  assert.deepEqual(m.members(), []);
  assert.deepEqual(m.memberIds(), [N1]);

  const r = m.heartbeat(hb(2, 7n, 1n), '10.213.0.2', 0);
  assert.ok(r.accepted);
  assert.deepEqual(summary(r.events), ['joined 2 first-heartbeat']);
  assert.deepEqual(m.memberIds(), [N1, N2]);
  assert.equal(m.nextDeadline(), 1000);
  const [member] = m.members();
  assert.deepEqual(member?.report, hb(2, 7n, 1n).report);
  assert.equal(member?.address, '10.213.0.2');
  assert.equal(member?.since, 0);

  // Heartbeats within the timeout keep it; the deadline moves.
  assert.deepEqual(summary(m.heartbeat(hb(2, 7n, 2n), '10.213.0.2', 600).events), []);
  assert.equal(m.nextDeadline(), 1600);
  assert.deepEqual(m.tick(1599), []);
  assert.ok(m.isMember(N2));
  // At the deadline exactly, it leaves.
  assert.deepEqual(summary(m.tick(1600)), ['left 2 timeout']);
  assert.ok(!m.isMember(N2));
  assert.equal(m.nextDeadline(), undefined);
  assert.deepEqual(m.tick(5000), []);

  // It comes back: 'returned'.
  assert.deepEqual(summary(m.heartbeat(hb(2, 7n, 3n), '10.213.0.2', 5000).events), ['joined 2 returned']);
  assert.equal(m.members()[0]?.since, 5000);
});

test('membership: a heartbeat after a missed tick reports the leave before the join', () => {
  const m = membership(1000);
  m.heartbeat(hb(2, 7n, 1n), 'a', 0);
  m.heartbeat(hb(3, 9n, 1n), 'b', 900);
  // No tick delivered at 1000; node 2 is heard again at 1500.
  assert.deepEqual(summary(m.heartbeat(hb(2, 7n, 2n), 'a', 1500).events), ['left 2 timeout', 'joined 2 returned']);
  assert.deepEqual(summary(m.tick(1900)), ['left 3 timeout']);
  assert.deepEqual(m.memberIds(), [N1, N2]);
});

test('membership: a heartbeat received before the deadline but handled after it keeps the member (a stalled reader)', () => {
  const m = membership(1000);
  m.heartbeat(hb(2, 7n, 1n), 'a', 0);
  m.heartbeat(hb(3, 9n, 1n), 'b', 100);
  // The process stalls from 500 to 2500; node 2's heartbeat was received at 900 (before its
  // deadline 1000), node 3's at 1200 (after its deadline 1100: it had already gone silent).
  const late = m.heartbeat(hb(2, 7n, 2n), 'a', 2500, 900);
  assert.ok(late.accepted);
  assert.deepEqual(summary(late.events), []);
  assert.ok(m.isMember(N2));
  assert.equal(m.members().find((x) => x.id === N2)?.lastHeard, 900);
  // Node 3's deadline passed before its heartbeat was received: it left, then came back.
  assert.deepEqual(summary(m.heartbeat(hb(3, 9n, 2n), 'b', 2500, 1200).events), ['left 3 timeout', 'joined 3 returned']);
  // Node 2 counts from the receive time: it leaves at 1900, delivered by the next tick.
  assert.equal(m.nextDeadline(), 1900);
  assert.deepEqual(summary(m.tick(2000)), ['left 2 timeout']);
  // A receive time after the handling time counts as the handling time; lastHeard never moves back.
  m.heartbeat(hb(2, 7n, 3n), 'a', 3000, 3500);
  assert.equal(m.members().find((x) => x.id === N2)?.lastHeard, 3000);
  m.heartbeat(hb(2, 7n, 4n), 'a', 3100, 2900);
  assert.equal(m.members().find((x) => x.id === N2)?.lastHeard, 3000);
});

test('membership: several members, the earliest deadline first, leaves in id order', () => {
  const m = membership(1000);
  m.heartbeat(hb(3, 1n, 1n), 'c', 100);
  m.heartbeat(hb(2, 1n, 1n), 'b', 200);
  assert.equal(m.nextDeadline(), 1100);
  assert.deepEqual(summary(m.tick(1100)), ['left 3 timeout']);
  assert.equal(m.nextDeadline(), 1200);
  m.heartbeat(hb(3, 1n, 2n), 'c', 1150);
  assert.deepEqual(summary(m.tick(5000)), ['left 2 timeout', 'left 3 timeout']);
});

test('membership: a restart (greater epoch) is a leave and a join; the old epoch is then refused, also after a timeout', () => {
  const m = membership(1000);
  m.heartbeat(hb(2, 100n, 41n), 'b', 0);
  const captured = hb(2, 100n, 42n);
  m.heartbeat(captured, 'b', 100);
  const restart = m.heartbeat(hb(2, 200n, 0n), 'b', 300);
  assert.ok(restart.accepted);
  assert.deepEqual(summary(restart.events), ['left 2 restarted', 'joined 2 restarted']);
  assert.equal(m.members()[0]?.epoch, 200n);
  assert.equal(m.members()[0]?.since, 300);

  // The attacker replays the captured heartbeat of the previous run.
  const replayed = m.heartbeat(captured, 'evil', 400);
  assert.ok(!replayed.accepted);
  assert.equal(replayed.reason, 'replay');
  assert.equal(m.members()[0]?.lastHeard, 300, 'a refused heartbeat does not refresh the member');

  // The node goes quiet and times out; the replay is still refused (the mark is kept).
  assert.deepEqual(summary(m.tick(1300)), ['left 2 timeout']);
  const later = m.heartbeat(captured, 'evil', 2000);
  assert.ok(!later.accepted && later.reason === 'replay');
  assert.ok(!m.isMember(N2), 'the replay did not bring it back');
  assert.equal(m.counters().rejected.replay, 2);
});

test('membership: unknown node ids and the local id are refused and counted', () => {
  const m = membership(1000);
  const unknown = m.heartbeat(hb(9, 1n, 1n), '10.213.0.9', 0);
  assert.ok(!unknown.accepted && unknown.reason === 'unknown-node');
  assert.match(unknown.detail, /node id 9/);
  const own = m.heartbeat(hb(1, 1n, 1n), '10.213.0.7', 0);
  assert.ok(!own.accepted && own.reason === 'own-id');
  assert.match(own.detail, /10\.213\.0\.7/);
  assert.deepEqual(m.memberIds(), [N1]);
  // The decoder's rejections are counted beside them.
  m.countRejection('bad-hmac');
  m.countRejection('bad-hmac');
  m.countRejection('other-cluster');
  m.heartbeat(hb(2, 1n, 1n), 'b', 0);
  m.heartbeat(hb(2, 1n, 1n), 'b', 1);
  const c = m.counters();
  assert.equal(c.accepted, 1);
  assert.deepEqual(c.rejected, {
    truncated: 0,
    'bad-magic': 0,
    'bad-version': 0,
    'bad-length': 0,
    'other-cluster': 1,
    'bad-hmac': 2,
    malformed: 0,
    'own-id': 1,
    'unknown-node': 1,
    replay: 1,
  });
});

test('membership: a changed report or votes is an update, with the latest report in members()', () => {
  const m = membership(1000);
  m.heartbeat(hb(2, 1n, 1n, { quorate: false, waitingForAll: true }), 'b', 0);
  assert.deepEqual(summary(m.heartbeat(hb(2, 1n, 2n, { quorate: false, waitingForAll: true }), 'b', 10).events), []);
  const r = m.heartbeat(hb(2, 1n, 3n, { quorate: true, waitingForAll: false, expectedVotes: 4 }), 'b', 20);
  assert.deepEqual(summary(r.events), ['updated 2']);
  assert.deepEqual(m.members()[0]?.report, { id: N2, expectedVotes: 4, quorate: true, waitingForAll: false });
  assert.deepEqual(summary(m.heartbeat(hb(2, 1n, 4n, { expectedVotes: 4, votes: 2 }), 'b', 30).events), ['updated 2']);
  assert.equal(m.members()[0]?.votes, 2);
  assert.equal(m.members()[0]?.configuredVotes, 1);
  assert.equal(m.members()[0]?.since, 0);
});

test('membership: the decoded heartbeat goes straight in', () => {
  const key = Buffer.alloc(32, 1);
  const bytes = encodeHeartbeat({ cluster: 'c', report: { id: N2, expectedVotes: 3, quorate: true, waitingForAll: false }, votes: toVotes(1), epoch: 5n, sequence: 1n }, key);
  const decoded = decodeHeartbeat(bytes, key, 'c');
  assert.ok(decoded.ok);
  const m = membership();
  assert.ok(m.heartbeat(decoded.heartbeat, '10.213.0.2', 0).accepted);
  // The same datagram again (a duplicate or a replay).
  const again = m.heartbeat(decoded.heartbeat, '10.213.0.2', 1);
  assert.ok(!again.accepted && again.reason === 'replay');
});

test('membership: the configuration is checked', () => {
  assert.throws(() => new Membership({ nodes: nodes(1, 2), localId: N3, timeoutMs: 1000 }), /local node id 3/);
  assert.throws(() => new Membership({ nodes: nodes(1, 2, 2), localId: N1, timeoutMs: 1000 }), /twice/);
  assert.throws(() => new Membership({ nodes: nodes(1, 2), localId: N1, timeoutMs: 0 }), /timeout/);
});

test('membership: a member is one exactly while its last accepted heartbeat is within the timeout (property)', () => {
  const timeout = 100;
  checkProperty(
    fc.property(
      fc.array(fc.record({ dt: fc.integer({ min: 0, max: 150 }), from: fc.constantFrom(2, 3), kind: fc.constantFrom('beat', 'tick', 'replay') }), { maxLength: 80 }),
      (steps) => {
        const m = membership(timeout);
        const seq = new Map<number, bigint>();
        const last = new Map<number, number>();
        let now = 0;
        for (const s of steps) {
          now += s.dt;
          if (s.kind === 'tick') m.tick(now);
          else {
            const prev = seq.get(s.from) ?? 0n;
            const next = s.kind === 'beat' ? prev + 1n : prev; // a replay repeats the last sequence
            const r = m.heartbeat(hb(s.from, 1n, next), 'x', now);
            if (r.accepted) {
              seq.set(s.from, next);
              last.set(s.from, now);
            } else assert.equal(r.reason, 'replay');
          }
          m.tick(now);
          for (const id of [2, 3]) {
            const heard = last.get(id);
            assert.equal(m.isMember(toNodeId(id)), heard !== undefined && now < heard + timeout, `node ${id} at ${now}`);
          }
          const deadline = m.nextDeadline();
          const expected = [...last.entries()].filter(([, t]) => now < t + timeout).map(([, t]) => t + timeout);
          assert.equal(deadline, expected.length === 0 ? undefined : Math.min(...expected));
        }
      },
    ),
  );
});

test('membership reload: members stay with what they said; one the new node list drops leaves (removed); a shorter timeout applies from the last heartbeat; another local node is refused', () => {
  const m = membership(1000);
  m.heartbeat(hb(2, 1n, 1n), '10.213.0.2', 0);
  m.heartbeat(hb(3, 1n, 1n), '10.213.0.3', 100);
  const events = m.reconfigure({ nodes: nodes(1, 2), localId: N1, timeoutMs: 950 }, 900);
  assert.deepEqual(summary(events), ['left 3 removed']);
  assert.deepEqual(m.memberIds(), [N1, N2]);
  assert.equal(m.members()[0]?.since, 0, 'the remaining member keeps its membership');
  assert.deepEqual(summary(m.tick(950)), ['left 2 timeout'], 'the new timeout, from its last heartbeat at 0');
  assert.equal(m.heartbeat(hb(3, 1n, 2n), '10.213.0.3', 960).accepted, false, 'node 3 is not in the list any more');
  assert.throws(() => m.reconfigure({ nodes: nodes(1, 2), localId: N2, timeoutMs: 950 }, 1000), /local node is 1, not 2/);
});
