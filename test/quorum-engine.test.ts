/**
 * The votequorum engine (src/quorum/engine.ts) against docs/reference/quorum.md:
 * one group of property tests per rule, each checking the rule's statement over random
 * membership histories against a reference computed here (T from the config's votes and
 * the test's own membership; the rule's bookkeeping kept by the test), then unit tests for
 * the worked examples, the operator refusals, the config refusals and the status text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from './support/property.js';
import {
  QuorumEngine,
  formatQuorumStatus,
  validateQuorumConfig,
  type QuorumChange,
  type QuorumEvent,
  type QuorumStatus,
  type ValidatedQuorumConfig,
} from '../src/quorum/engine.js';
import { toNodeId, toVotes, type MemberReport, type NodeId, type QuorumEngineConfig, type TieBreakerNode } from '../src/quorum/types.js';

const RUNS = Number(process.env['VIGIL_PROPERTY_RUNS'] ?? 150);
const WINDOW = 10_000;

// ---- configs -------------------------------------------------------------------------

interface Shape {
  readonly votes: readonly number[];
  readonly localIndex: number;
  readonly twoNode?: boolean;
  readonly waitForAll?: boolean;
  readonly lastManStanding?: boolean;
  readonly autoTieBreaker?: boolean;
  readonly autoTieBreakerNode?: TieBreakerNode;
  readonly expectedVotes?: number;
  readonly windowMs?: number;
}

function rawConfig(s: Shape): QuorumEngineConfig {
  const nodes = s.votes.map((v, i) => ({ id: toNodeId(i + 1), name: `node${i + 1}`, votes: toVotes(v) }));
  return {
    nodes,
    localId: toNodeId(s.localIndex + 1),
    ...(s.expectedVotes === undefined ? {} : { expectedVotes: s.expectedVotes }),
    twoNode: s.twoNode ?? false,
    waitForAll: s.waitForAll ?? s.twoNode ?? false,
    lastManStanding: s.lastManStanding ?? false,
    lastManStandingWindowMs: s.windowMs ?? WINDOW,
    autoTieBreaker: s.autoTieBreaker ?? false,
    autoTieBreakerNode: s.autoTieBreakerNode ?? 'lowest',
  };
}

function config(s: Shape): ValidatedQuorumConfig {
  const v = validateQuorumConfig(rawConfig(s));
  if (!v.ok) throw new Error(`invalid test config: ${v.errors.map((e) => e.message).join('; ')}`);
  return v.config;
}

const id = (n: number): NodeId => toNodeId(n);

// ---- histories -----------------------------------------------------------------------

interface ReportSpec {
  readonly e: number;
  readonly quorate: boolean;
  readonly waiting: boolean;
}

type Step =
  | { readonly kind: 'membership'; readonly advance: number; readonly present: readonly boolean[]; readonly reports: readonly ReportSpec[] }
  | { readonly kind: 'tick'; readonly advance: number }
  /** A tick exactly at the engine's deadline (when it has one). */
  | { readonly kind: 'deadline' }
  | { readonly kind: 'unblock'; readonly advance: number }
  | { readonly kind: 'set-expected'; readonly advance: number; readonly value: number };

interface HistoryOptions {
  readonly n: number;
  readonly maxE: number;
  /** Peers may say they are quorate (R2 adoption, R8 lifting). */
  readonly quoratePeers?: boolean;
  /** Peers may say they are quorate and not waiting. */
  readonly liftingPeers?: boolean;
  readonly operator?: boolean;
  readonly maxLength?: number;
  /** Each peer present half the time (exact splits, R9), rather than three times in four. */
  readonly evenPresence?: boolean;
  /** More ticks at the engine's deadline (R10). */
  readonly deadlines?: boolean;
}

function historyArb(o: HistoryOptions): fc.Arbitrary<Step[]> {
  const advance = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: WINDOW / 2 }), fc.integer({ min: WINDOW, max: 2 * WINDOW }));
  const report = fc.record({
    e: fc.integer({ min: 1, max: o.maxE }),
    quorate: o.quoratePeers === true ? fc.boolean() : fc.constant(false),
    waiting: o.liftingPeers === true ? fc.boolean() : fc.constant(true),
  });
  const membership = fc.record({
    kind: fc.constant('membership' as const),
    advance,
    // Mostly present, so that quorate partitions, splits from them and rejoins are common.
    present: fc.array(o.evenPresence === true ? fc.boolean() : fc.oneof(fc.boolean(), fc.constant(true)), { minLength: o.n, maxLength: o.n }),
    reports: fc.array(report, { minLength: o.n, maxLength: o.n }),
  });
  const arbs: fc.Arbitrary<Step>[] = [
    membership,
    membership,
    membership,
    fc.record({ kind: fc.constant('tick' as const), advance }),
    fc.constant({ kind: 'deadline' as const }),
  ];
  if (o.deadlines === true) arbs.push(fc.constant({ kind: 'deadline' as const }), fc.constant({ kind: 'deadline' as const }));
  if (o.operator === true) {
    arbs.push(fc.record({ kind: fc.constant('unblock' as const), advance }));
    arbs.push(fc.record({ kind: fc.constant('set-expected' as const), advance, value: fc.integer({ min: 0, max: o.maxE + 1 }) }));
  }
  return fc.array(fc.oneof(...arbs), { minLength: 1, maxLength: o.maxLength ?? 30 });
}

interface Observation {
  readonly index: number;
  readonly step: Step;
  readonly event: QuorumEvent;
  readonly now: number;
  readonly before: QuorumStatus;
  readonly after: QuorumStatus;
  readonly changes: readonly QuorumChange[];
  /** The partition after the step, by the test's own bookkeeping. */
  readonly members: readonly number[];
  /** The partition before the step. */
  readonly membersBefore: readonly number[];
  /** T after the step: the config's votes of `members`. */
  readonly total: number;
  /** The reports sent with a membership step (peers only). */
  readonly peerReports: readonly MemberReport[];
  readonly deadlineAfter: number | undefined;
}

/** Plays `steps`, calling `check` after each; returns the engine. */
function play(cfg: ValidatedQuorumConfig, steps: readonly Step[], check: (o: Observation) => void, start?: (s: QuorumStatus) => void): QuorumEngine {
  const engine = new QuorumEngine(cfg, 0);
  start?.(engine.status());
  const votesOf = new Map(cfg.nodes.map((n) => [n.id as number, n.votes as number]));
  const local = cfg.localId as number;
  let members: number[] = [local];
  let now = 0;
  steps.forEach((step, index) => {
    const before = engine.status();
    const membersBefore = members;
    let event: QuorumEvent;
    let peerReports: MemberReport[] = [];
    switch (step.kind) {
      case 'membership': {
        now += step.advance;
        members = cfg.nodes.map((n) => n.id as number).filter((nid, i) => nid === local || step.present[i] === true);
        peerReports = members
          .filter((m) => m !== local)
          .map((m) => {
            const r = step.reports[m - 1] as ReportSpec;
            return { id: id(m), expectedVotes: r.e, quorate: r.quorate, waitingForAll: r.waiting };
          });
        event = { type: 'membership', members: peerReports };
        break;
      }
      case 'tick':
        now += step.advance;
        event = { type: 'tick' };
        break;
      case 'deadline':
        now = Math.max(now, engine.nextDeadline() ?? now);
        event = { type: 'tick' };
        break;
      case 'unblock':
        now += step.advance;
        event = { type: 'unblock' };
        break;
      case 'set-expected':
        now += step.advance;
        event = { type: 'set-expected', expectedVotes: step.value };
        break;
    }
    const changes = engine.handle(event, now);
    const after = engine.status();
    const total = members.reduce((sum, m) => sum + (votesOf.get(m) ?? 0), 0);
    check({ index, step, event, now, before, after, changes, members, membersBefore, total, peerReports, deadlineAfter: engine.nextDeadline() });
  });
  return engine;
}

const accepted = (o: Observation): boolean => !o.changes.some((c) => c.type === 'refused');
const sameSet = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const at = (o: Observation): string => `step ${o.index} (${JSON.stringify(o.event)}) at ${o.now}`;

/** Shapes with 1..6 nodes, votes 0..3 (at least one vote), any local node. */
const plainShape = fc
  .record({
    votes: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }),
    local: fc.nat(),
    lms: fc.boolean(),
  })
  .filter((r) => r.votes.some((v) => v > 0))
  .map((r): Shape => ({ votes: r.votes, localIndex: r.local % r.votes.length, lastManStanding: r.lms }));

const sumOf = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

// ---- R2 -------------------------------------------------------------------------------

test(`R2: E = max(E, T) after every event, and E only shrinks by operator, last_man_standing or a quorate peer (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      plainShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes) + 3, quoratePeers: true, operator: true }))),
      ([shape, steps]) => {
        play(config(shape), steps, (o) => {
          assert.ok(o.after.expectedVotes >= o.total, `${at(o)}: E ${o.after.expectedVotes} < T ${o.total}`);
          assert.equal(o.after.totalVotes, o.total, `${at(o)}: total votes`);
          if (o.after.expectedVotes < o.before.expectedVotes) {
            const why =
              (o.step.kind === 'set-expected' && accepted(o)) ||
              ((o.step.kind === 'tick' || o.step.kind === 'deadline') && o.before.flags.lastManStanding) ||
              (o.step.kind === 'membership' && !o.before.quorate && o.peerReports.some((r) => r.quorate));
            assert.ok(why, `${at(o)}: E fell ${o.before.expectedVotes} → ${o.after.expectedVotes} without cause`);
          }
        });
      },
    ),
    { numRuns: RUNS },
  );
});

test(`R2: a membership event sets E to max(T, quorate peers' E) while inquorate, else to max(E, T) and, on a change of members, quorate peers' higher E (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      plainShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes) + 3, quoratePeers: true }))),
      ([shape, steps]) => {
        play(config({ ...shape, lastManStanding: false }), steps, (o) => {
          if (o.step.kind !== 'membership') return;
          const peerE = o.peerReports.filter((r) => r.quorate).map((r) => r.expectedVotes);
          const want =
            peerE.length === 0
              ? Math.max(o.before.expectedVotes, o.total)
              : !o.before.quorate
                ? Math.max(o.total, ...peerE)
                : sameSet(o.members, o.membersBefore)
                  ? Math.max(o.before.expectedVotes, o.total)
                  : Math.max(o.before.expectedVotes, o.total, ...peerE);
          assert.equal(o.after.expectedVotes, want, `${at(o)}: E`);
        });
      },
    ),
    { numRuns: RUNS },
  );
});

// ---- R3 -------------------------------------------------------------------------------

test(`R3: Q = floor(E/2) + 1 after every event (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      plainShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes) + 3, quoratePeers: true, operator: true }))),
      ([shape, steps]) => {
        play(
          config(shape),
          steps,
          (o) => {
            assert.equal(o.after.quorum, Math.floor(o.after.expectedVotes / 2) + 1, `${at(o)}: Q for E ${o.after.expectedVotes}`);
            assert.ok(o.after.highestExpected >= o.after.expectedVotes, `${at(o)}: highest expected`);
          },
          (s) => assert.equal(s.quorum, Math.floor(s.expectedVotes / 2) + 1, 'Q at start'),
        );
      },
    ),
    { numRuns: RUNS },
  );
});

test('R3: worked examples: E=2 → Q=2, 3 → 2, 4 → 3, 5 → 3', () => {
  for (const [e, q] of [
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
  ] as const) {
    const engine = new QuorumEngine(config({ votes: Array.from({ length: e }, () => 1), localIndex: 0 }), 0);
    assert.equal(engine.status().expectedVotes, e);
    assert.equal(engine.status().quorum, q, `E=${e}`);
  }
  // Weighted votes: E is the sum of the nodelist's votes.
  const weighted = new QuorumEngine(config({ votes: [3, 1, 1], localIndex: 0 }), 0);
  assert.equal(weighted.status().expectedVotes, 5);
  assert.equal(weighted.status().quorum, 3);
  assert.equal(weighted.quorate, true, 'a 3-vote node alone holds 3 of 5');
});

// ---- R4 -------------------------------------------------------------------------------

test(`R4: Q never decreases except by an accepted set-expected, last_man_standing or adopting a quorate peer's E (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      plainShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes) + 3, quoratePeers: true, operator: true }))),
      ([shape, steps]) => {
        play(config(shape), steps, (o) => {
          if (o.after.quorum >= o.before.quorum) return;
          const lowered = o.changes.find((c) => c.type === 'expected-votes' && c.to < c.from);
          assert.ok(lowered !== undefined, `${at(o)}: Q fell ${o.before.quorum} → ${o.after.quorum} with no lowering of E`);
          const allowed =
            (o.step.kind === 'set-expected' && accepted(o)) ||
            ((o.step.kind === 'tick' || o.step.kind === 'deadline') && o.before.flags.lastManStanding && o.before.quorate) ||
            (o.step.kind === 'membership' && !o.before.quorate && o.peerReports.some((r) => r.quorate));
          assert.ok(allowed, `${at(o)}: Q fell ${o.before.quorum} → ${o.after.quorum}`);
        });
      },
    ),
    { numRuns: RUNS },
  );
});

test(`R4: membership changes alone (no quorate peers, no operator, no last_man_standing) never lower Q (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      plainShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes) + 3 }))),
      ([shape, steps]) => {
        let highest = 0;
        play(
          config({ ...shape, lastManStanding: false }),
          steps,
          (o) => {
            assert.ok(o.after.quorum >= highest, `${at(o)}: Q ${o.after.quorum} below the earlier ${highest}`);
            highest = Math.max(highest, o.after.quorum);
          },
          (s) => (highest = s.quorum),
        );
      },
    ),
    { numRuns: RUNS },
  );
});

// ---- R5 -------------------------------------------------------------------------------

test(`R5: two_node: Q = 1 whatever happens, and a quorate node stays quorate when its peer goes (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      fc.nat({ max: 1 }),
      fc.boolean(),
      historyArb({ n: 2, maxE: 2, quoratePeers: true, liftingPeers: true, operator: true }),
      (local, wfa, steps) => {
        play(
          config({ votes: [1, 1], localIndex: local, twoNode: true, waitForAll: wfa }),
          steps,
          (o) => {
            assert.equal(o.after.quorum, 1, `${at(o)}: Q`);
            assert.equal(o.after.flags.twoNode, true);
            if (o.before.quorate) assert.equal(o.after.quorate, true, `${at(o)}: a two_node node lost quorum`);
          },
          (s) => assert.equal(s.quorum, 1),
        );
      },
    ),
    { numRuns: RUNS },
  );
});

test('R5: two_node Q = 1; without two_node two nodes need both (Q = 2)', () => {
  const two = new QuorumEngine(config({ votes: [1, 1], localIndex: 0, twoNode: true, waitForAll: false }), 0);
  assert.equal(two.status().quorum, 1);
  assert.equal(two.quorate, true);
  const plain = new QuorumEngine(config({ votes: [1, 1], localIndex: 0 }), 0);
  assert.equal(plain.status().quorum, 2);
  assert.equal(plain.quorate, false);
});

// ---- R6 -------------------------------------------------------------------------------

test(`R6: without wait_for_all or auto_tie_breaker, quorate iff T >= Q after every event (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      plainShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes) + 3, quoratePeers: true, operator: true }))),
      ([shape, steps]) => {
        play(
          config(shape),
          steps,
          (o) => {
            assert.equal(o.after.quorate, o.total >= o.after.quorum, `${at(o)}: T ${o.total}, Q ${o.after.quorum}`);
            assert.equal(o.after.activityBlocked, !o.after.quorate);
            assert.equal(o.after.flags.quorate, o.after.quorate);
            const flips = o.changes.filter((c) => c.type === 'quorate');
            assert.equal(flips.length, o.before.quorate === o.after.quorate ? 0 : 1, `${at(o)}: one quorate change per flip`);
          },
          (s) => assert.equal(s.quorate, s.totalVotes >= s.quorum),
        );
      },
    ),
    { numRuns: RUNS },
  );
});

// ---- R7 -------------------------------------------------------------------------------

test(`R7: wait_for_all: not quorate from start until T == E, and quorate the moment it is (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      plainShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes), quoratePeers: false }))),
      ([shape, steps]) => {
        const cfg = config({ ...shape, waitForAll: true, lastManStanding: false });
        let seenAll = false;
        play(
          cfg,
          steps,
          (o) => {
            if (seenAll) return;
            if (o.total === o.after.expectedVotes) {
              seenAll = true;
              assert.equal(o.after.quorate, true, `${at(o)}: T == E == ${o.total} but not quorate`);
              assert.equal(o.after.waitingForAll, false);
            } else {
              assert.equal(o.after.quorate, false, `${at(o)}: quorate before seeing all votes (T ${o.total}, E ${o.after.expectedVotes})`);
              assert.equal(o.after.waitingForAll, true);
            }
          },
          (s) => {
            seenAll = s.totalVotes === s.expectedVotes;
            assert.equal(s.quorate, seenAll, 'at start');
          },
        );
      },
    ),
    { numRuns: RUNS },
  );
});

// ---- R8 -------------------------------------------------------------------------------

test(`R8: wait_for_all clears on T == E, a quorate non-waiting peer, or unblock, and re-arms whenever inquorate (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      plainShape.chain((s) =>
        fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes) + 2, quoratePeers: true, liftingPeers: true, operator: true })),
      ),
      ([shape, steps]) => {
        let waiting = true;
        play(
          config({ ...shape, waitForAll: true }),
          steps,
          (o) => {
            if (o.step.kind === 'unblock') {
              const refusal = o.changes.find((c) => c.type === 'refused');
              assert.equal(refusal !== undefined, !waiting, `${at(o)}: unblock refused iff not waiting`);
              if (refusal?.type === 'refused') assert.equal(refusal.reason, 'not-waiting');
              waiting = false;
            }
            if (o.step.kind === 'membership' && o.peerReports.some((r) => r.quorate && !r.waitingForAll)) waiting = false;
            if (waiting && o.total === o.after.expectedVotes) waiting = false;
            if (!o.after.quorate) waiting = true;
            assert.equal(o.after.waitingForAll, waiting, `${at(o)}: waiting`);
            if (waiting) assert.equal(o.after.quorate, false, `${at(o)}: quorate while waiting`);
            assert.equal(o.after.flags.waitForAll, true, 'the WaitForAll flag shows the configuration');
          },
          (s) => {
            waiting = s.totalVotes !== s.expectedVotes;
            assert.equal(s.waitingForAll, waiting);
          },
        );
      },
    ),
    { numRuns: RUNS },
  );
});

test('R8: a two_node node booting alone blocks until it sees its peer; the survivor then keeps quorum; a lone reboot blocks again', () => {
  const cfg = config({ votes: [1, 1], localIndex: 0, twoNode: true });
  assert.equal(cfg.waitForAll, true);
  const a = new QuorumEngine(cfg, 0);
  assert.deepEqual([a.quorate, a.status().waitingForAll, a.status().quorum], [false, true, 1], 'booted alone: blocked');
  assert.deepEqual(a.handle({ type: 'tick' }, 5000), []);
  const seen = a.handle({ type: 'membership', members: [{ id: id(2), expectedVotes: 2, quorate: false, waitingForAll: true }] }, 6000);
  assert.ok(seen.some((c) => c.type === 'wait-for-all' && !c.waiting && c.reason === 'all-votes-seen'));
  assert.ok(seen.some((c) => c.type === 'quorate' && c.to && c.reason === 'enough-votes'));
  const died = a.handle({ type: 'membership', members: [] }, 9000);
  assert.equal(a.quorate, true, 'survivor stays quorate');
  assert.equal(a.status().waitingForAll, false);
  assert.ok(!died.some((c) => c.type === 'quorate'));
  // The peer reboots alone with the link down: it blocks.
  const b = new QuorumEngine(config({ votes: [1, 1], localIndex: 1, twoNode: true }), 10_000);
  assert.equal(b.quorate, false);
  // It joins the survivor, which is quorate and not waiting: T == E anyway, and it is lifted.
  b.handle({ type: 'membership', members: [{ id: id(1), expectedVotes: 2, quorate: true, waitingForAll: false }] }, 11_000);
  assert.equal(b.quorate, true);
});

test('R8: joining a quorate, non-waiting partition lifts wait_for_all before all votes are seen', () => {
  const engine = new QuorumEngine(config({ votes: [1, 1, 1, 1, 1], localIndex: 4, waitForAll: true }), 0);
  assert.equal(engine.status().waitingForAll, true);
  const changes = engine.handle(
    {
      type: 'membership',
      members: [1, 2].map((n) => ({ id: id(n), expectedVotes: 5, quorate: true, waitingForAll: false })),
    },
    1000,
  );
  assert.ok(changes.some((c) => c.type === 'wait-for-all' && c.reason === 'quorate-peer'));
  assert.equal(engine.quorate, true, '3 of 5 with the wait lifted');
  // Losing quorum re-arms it.
  engine.handle({ type: 'membership', members: [] }, 2000);
  assert.deepEqual([engine.quorate, engine.status().waitingForAll], [false, true]);
});

// ---- R9 -------------------------------------------------------------------------------

const atbShape = fc
  .record({
    pairs: fc.integer({ min: 1, max: 3 }),
    local: fc.nat(),
    mode: fc.constantFrom('lowest', 'highest', 'list'),
    list: fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
  })
  .map((r) => {
    const n = 2 * r.pairs;
    const list = r.list.filter((x) => x <= n);
    const node: TieBreakerNode = r.mode === 'list' ? (list.length > 0 ? list : [1]).map(id) : (r.mode as 'lowest' | 'highest');
    return { votes: Array.from({ length: n }, () => 1), localIndex: r.local % n, autoTieBreaker: true, autoTieBreakerNode: node } satisfies Shape;
  });

test(`R9: auto_tie_breaker: quorate iff T >= Q, or an exact 50/50 split holding the tie-breaker (lowest/highest/list) (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      atbShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: s.votes.length, evenPresence: true }))),
      ([shape, steps]) => {
        // The tie-breaker of lowest/highest: the lowest/highest member the last time T >= Q.
        let lowest: number | undefined;
        let highest: number | undefined;
        let previous: readonly number[] = [shape.localIndex + 1];
        const atb = shape.autoTieBreakerNode;
        play(config(shape), steps, (o) => {
          if (o.step.kind === 'membership' && !sameSet(o.members, o.membersBefore)) previous = o.membersBefore;
          const e = o.after.expectedVotes;
          const exactSplit = e % 2 === 0 && 2 * o.total === e;
          let holds: boolean;
          if (atb === 'lowest') holds = lowest !== undefined && o.members.includes(lowest);
          else if (atb === 'highest') holds = highest !== undefined && o.members.includes(highest);
          else {
            const first = atb.findIndex((x) => o.members.includes(x));
            holds = first >= 0 && !atb.slice(0, first).some((x) => previous.includes(x));
          }
          const want = o.total >= o.after.quorum || (exactSplit && holds);
          assert.equal(o.after.quorate, want, `${at(o)}: members ${o.members.join(',')}, T ${o.total}, E ${e}, tie-breaker held: ${holds}`);
          if (!exactSplit && o.total < o.after.quorum) assert.equal(o.after.quorate, false, 'odd splits never use the tie-breaker');
          if (o.total >= o.after.quorum) {
            lowest = Math.min(...o.members);
            highest = Math.max(...o.members);
          }
        });
      },
    ),
    { numRuns: RUNS },
  );
});

test('R9: auto_tie_breaker lowest: of a 2+2 split the half with node 1 stays quorate, the other does not', () => {
  const all = (except: number, n: number): MemberReport[] =>
    Array.from({ length: n }, (_, i) => i + 1)
      .filter((x) => x !== except)
      .map((x) => ({ id: id(x), expectedVotes: n, quorate: true, waitingForAll: false }));
  const halves = [1, 3].map((local) => {
    const engine = new QuorumEngine(config({ votes: [1, 1, 1, 1], localIndex: local - 1, autoTieBreaker: true }), 0);
    engine.handle({ type: 'membership', members: all(local, 4) }, 0);
    assert.equal(engine.quorate, true);
    return engine;
  });
  const [withOne, without] = halves as [QuorumEngine, QuorumEngine];
  const kept = withOne.handle({ type: 'membership', members: [{ id: id(2), expectedVotes: 4, quorate: true, waitingForAll: false }] }, 1000);
  assert.equal(withOne.quorate, true, '{1,2} keeps quorum');
  assert.ok(!kept.some((c) => c.type === 'quorate'));
  const lost = without.handle({ type: 'membership', members: [{ id: id(4), expectedVotes: 4, quorate: true, waitingForAll: false }] }, 1000);
  assert.equal(without.quorate, false, '{3,4} loses it');
  assert.ok(lost.some((c) => c.type === 'quorate' && !c.to && c.reason === 'too-few-votes'));
  // Odd split of 5 (wait_for_all required): 2 votes never use the tie-breaker.
  const five = new QuorumEngine(config({ votes: [1, 1, 1, 1, 1], localIndex: 0, autoTieBreaker: true, waitForAll: true }), 0);
  five.handle({ type: 'membership', members: all(1, 5) }, 0);
  five.handle({ type: 'membership', members: [{ id: id(2), expectedVotes: 5, quorate: true, waitingForAll: false }] }, 1000);
  assert.equal(five.quorate, false);
});

// ---- R10 ------------------------------------------------------------------------------

const lmsShape = fc
  .record({ n: fc.integer({ min: 2, max: 7 }), local: fc.nat(), atb: fc.boolean(), wfa: fc.boolean() })
  .map(
    (r): Shape => ({
      votes: Array.from({ length: r.n }, () => 1),
      localIndex: r.local % r.n,
      lastManStanding: true,
      autoTieBreaker: r.atb,
      // auto_tie_breaker with last_man_standing in an odd cluster needs wait_for_all.
      waitForAll: r.wfa || (r.atb && r.n % 2 === 1),
    }),
  );

test(`R10: last_man_standing: E drops to T only when the window since the last change ends while quorate; 2 → 1 only with auto_tie_breaker (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(
      lmsShape.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: s.votes.length, maxLength: 40, deadlines: true }))),
      ([shape, steps]) => {
        let deadline: number | undefined;
        play(config(shape), steps, (o) => {
          const isTick = o.step.kind === 'tick' || o.step.kind === 'deadline';
          if (o.step.kind === 'membership' && !sameSet(o.members, o.membersBefore)) {
            const someoneLeft = o.membersBefore.some((m) => !o.members.includes(m));
            if (someoneLeft || deadline !== undefined) deadline = o.now + WINDOW;
          }
          let want = Math.max(o.before.expectedVotes, o.total);
          if (isTick && deadline !== undefined && o.now >= deadline) {
            deadline = undefined;
            if (o.before.quorate) want = o.total;
          }
          assert.equal(o.after.expectedVotes, want, `${at(o)}: E (quorate before: ${o.before.quorate})`);
          assert.equal(o.deadlineAfter, deadline, `${at(o)}: the window's deadline`);
          if (!shape.autoTieBreaker) assert.ok(o.after.expectedVotes >= 2, `${at(o)}: E fell to 1 without auto_tie_breaker`);
        });
      },
    ),
    { numRuns: RUNS },
  );
});

test('R10: last_man_standing lowers E 3 → 2 once the window has passed, and 2 → 1 needs auto_tie_breaker', () => {
  const peers = (...ns: number[]): MemberReport[] => ns.map((n) => ({ id: id(n), expectedVotes: 3, quorate: true, waitingForAll: false }));
  for (const atb of [false, true]) {
    const engine = new QuorumEngine(config({ votes: [1, 1, 1], localIndex: 0, lastManStanding: true, autoTieBreaker: atb, waitForAll: true }), 0);
    engine.handle({ type: 'membership', members: peers(2, 3) }, 0);
    assert.equal(engine.quorate, true);
    assert.equal(engine.nextDeadline(), undefined, 'nobody left yet');
    engine.handle({ type: 'membership', members: peers(2) }, 1000);
    assert.equal(engine.nextDeadline(), 1000 + WINDOW);
    assert.deepEqual(engine.handle({ type: 'tick' }, 1000 + WINDOW - 1), [], 'not yet');
    assert.equal(engine.status().expectedVotes, 3);
    const lowered = engine.handle({ type: 'tick' }, 1000 + WINDOW);
    assert.ok(lowered.some((c) => c.type === 'expected-votes' && c.from === 3 && c.to === 2 && c.rule === 'last-man-standing'));
    assert.deepEqual([engine.status().expectedVotes, engine.status().quorum, engine.quorate], [2, 2, true]);
    // Node 2 goes too: one of two.
    engine.handle({ type: 'membership', members: [] }, 20_000);
    assert.equal(engine.quorate, atb, atb ? 'auto_tie_breaker: node 1 holds the tie-breaker' : 'one of two votes: inquorate');
    engine.handle({ type: 'tick' }, 20_000 + WINDOW);
    assert.equal(engine.status().expectedVotes, atb ? 1 : 2);
    assert.equal(engine.quorate, atb);
  }
});

// ---- operator commands -----------------------------------------------------------------

test('operator: set-expected refusals (below T, would be inquorate, not a number) and an accepted lowering that regains quorum', () => {
  const engine = new QuorumEngine(config({ votes: [1, 1, 1, 1, 1], localIndex: 0 }), 0);
  engine.handle({ type: 'membership', members: [{ id: id(2), expectedVotes: 5, quorate: false, waitingForAll: false }] }, 0);
  assert.deepEqual([engine.quorate, engine.status().totalVotes], [false, 2]);
  const refusal = (n: number): unknown => {
    const c = engine.handle({ type: 'set-expected', expectedVotes: n }, 1);
    assert.equal(c.length, 1);
    const r = c[0] as QuorumChange;
    return r.type === 'refused' ? [r.command, r.reason] : r;
  };
  assert.deepEqual(refusal(1), ['set-expected', 'below-total-votes']);
  assert.deepEqual(refusal(4), ['set-expected', 'would-be-inquorate']);
  assert.deepEqual(refusal(0), ['set-expected', 'invalid-value']);
  assert.deepEqual(refusal(2.5), ['set-expected', 'invalid-value']);
  assert.equal(engine.status().expectedVotes, 5, 'refusals change nothing');
  const ok = engine.handle({ type: 'set-expected', expectedVotes: 3 }, 2);
  assert.ok(ok.some((c) => c.type === 'expected-votes' && c.to === 3 && c.rule === 'operator'));
  assert.ok(ok.some((c) => c.type === 'quorum' && c.from === 3 && c.to === 2));
  assert.equal(engine.quorate, true);
  // A quorate node: raising E past what it holds would make it inquorate.
  const refused = engine.handle({ type: 'set-expected', expectedVotes: 5 }, 3);
  assert.ok(refused.some((c) => c.type === 'refused' && c.reason === 'would-be-inquorate'));
  assert.equal(engine.quorate, true);
});

test('operator: unblock cancels wait_for_all only while waiting; refused when not waiting or not configured', () => {
  const engine = new QuorumEngine(config({ votes: [1, 1], localIndex: 0, twoNode: true }), 0);
  assert.equal(engine.status().waitingForAll, true);
  const changes = engine.handle({ type: 'unblock' }, 1);
  assert.ok(changes.some((c) => c.type === 'wait-for-all' && !c.waiting && c.reason === 'operator'));
  assert.equal(engine.quorate, true, 'a lone two_node node unblocked: T 1 >= Q 1');
  assert.deepEqual(
    engine.handle({ type: 'unblock' }, 2).map((c) => (c.type === 'refused' ? c.reason : c.type)),
    ['not-waiting'],
  );
  const plain = new QuorumEngine(config({ votes: [1, 1, 1], localIndex: 0 }), 0);
  assert.deepEqual(
    plain.handle({ type: 'unblock' }, 1).map((c) => (c.type === 'refused' ? c.reason : c.type)),
    ['wait-for-all-off'],
  );
  // Unblocking a node that still lacks the votes: the wait re-arms at once.
  const five = new QuorumEngine(config({ votes: [1, 1, 1, 1, 1], localIndex: 0, waitForAll: true }), 0);
  const again = five.handle({ type: 'unblock' }, 1).filter((c) => c.type === 'wait-for-all');
  assert.deepEqual(
    again.map((c) => (c.type === 'wait-for-all' ? [c.waiting, c.reason] : [])),
    [
      [false, 'operator'],
      [true, 'inquorate'],
    ],
  );
  assert.equal(five.quorate, false);
});

// ---- config refusals -------------------------------------------------------------------

test('config: impossible and conflicting options are refused or corrected with corosync\'s reasons', () => {
  const errorsOf = (s: Shape | QuorumEngineConfig): string[] => {
    const v = validateQuorumConfig('nodes' in s ? s : rawConfig(s));
    return v.ok ? [] : v.errors.map((e) => e.option);
  };
  const warningsOf = (s: Shape): string[] => validateQuorumConfig(rawConfig(s)).warnings.map((w) => w.option);

  assert.deepEqual(errorsOf({ votes: [1, 1, 1], localIndex: 0, twoNode: true }), ['twoNode']);
  assert.deepEqual(errorsOf({ votes: [1, 2], localIndex: 0, twoNode: true }), ['twoNode'], 'two nodes but 3 votes');
  assert.deepEqual(errorsOf({ votes: [1, 1], localIndex: 0, windowMs: 500 }), ['lastManStandingWindowMs']);
  assert.deepEqual(errorsOf({ votes: [1, 1, 1], localIndex: 0, expectedVotes: 2 }), ['expectedVotes']);
  assert.deepEqual(errorsOf({ votes: [1, 1, 1], localIndex: 0, expectedVotes: 4, waitForAll: true }), ['expectedVotes']);
  assert.deepEqual(warningsOf({ votes: [1, 1, 1], localIndex: 0, expectedVotes: 4 }), ['expectedVotes']);
  assert.deepEqual(errorsOf({ votes: [1, 1], localIndex: 0, autoTieBreaker: true, autoTieBreakerNode: [id(1), id(9)] }), ['autoTieBreakerNode']);
  assert.deepEqual(errorsOf({ ...rawConfig({ votes: [1, 1], localIndex: 0 }), localId: id(3) }), ['localId']);
  const dup = rawConfig({ votes: [1, 1], localIndex: 0 });
  assert.deepEqual(errorsOf({ ...dup, nodes: [dup.nodes[0]!, { ...dup.nodes[1]!, id: id(1) }] }), ['nodes']);
  assert.deepEqual(errorsOf({ votes: [0, 0], localIndex: 0 }), ['nodes']);
  assert.deepEqual(
    errorsOf({ votes: [1, 1, 1], localIndex: 0, autoTieBreaker: true, lastManStanding: true }),
    ['autoTieBreaker'],
    'odd cluster, ATB and LMS without wait_for_all',
  );

  // two_node with auto_tie_breaker: corosync turns two_node off, and says so.
  const both = validateQuorumConfig(rawConfig({ votes: [1, 1], localIndex: 0, twoNode: true, autoTieBreaker: true }));
  assert.ok(both.ok);
  assert.equal(both.config.twoNode, false);
  assert.equal(both.config.autoTieBreaker, true);
  assert.deepEqual(both.warnings.map((w) => w.option), ['twoNode']);
  assert.match(both.warnings[0]!.message, /two_node and auto_tie_breaker are both specified but are not compatible/);
  assert.equal(new QuorumEngine(both.config, 0).status().quorum, 2, 'Q as without two_node');

  // ATB in an odd cluster without wait_for_all: ATB off.
  const odd = validateQuorumConfig(rawConfig({ votes: [1, 1, 1], localIndex: 0, autoTieBreaker: true }));
  assert.ok(odd.ok);
  assert.equal(odd.config.autoTieBreaker, false);
  // LMS with a node of 2 votes: LMS off.
  const heavy = validateQuorumConfig(rawConfig({ votes: [2, 1, 1], localIndex: 0, lastManStanding: true, waitForAll: true }));
  assert.ok(heavy.ok);
  assert.equal(heavy.config.lastManStanding, false);
  assert.deepEqual(warningsOf({ votes: [1, 1], localIndex: 0, autoTieBreakerNode: 'highest' }), ['autoTieBreakerNode']);
  assert.deepEqual(warningsOf({ votes: [1, 1, 1], localIndex: 0, lastManStanding: true }), ['lastManStanding']);
  // Every error is reported, not just the first.
  assert.deepEqual(errorsOf({ votes: [1, 1, 1], localIndex: 0, twoNode: true, windowMs: 10 }).sort(), ['lastManStandingWindowMs', 'twoNode']);
});

// ---- status text -----------------------------------------------------------------------

test('status: the text of corosync-quorumtool -s, quorate and blocked', () => {
  const engine = new QuorumEngine(config({ votes: [1, 1], localIndex: 0, twoNode: true }), 0);
  engine.handle({ type: 'membership', members: [{ id: id(2), expectedVotes: 2, quorate: true, waitingForAll: false }] }, 0);
  assert.equal(
    formatQuorumStatus(engine.status(), { date: 'Mon Oct  5 21:12:40 2026' }),
    [
      'Quorum information',
      '------------------',
      'Date:             Mon Oct  5 21:12:40 2026',
      'Quorum provider:  vigil_votequorum',
      'Nodes:            2',
      'Node ID:          1',
      'Quorate:          Yes',
      '',
      'Votequorum information',
      '----------------------',
      'Expected votes:   2',
      'Highest expected: 2',
      'Total votes:      2',
      'Quorum:           1',
      'Flags:            2Node Quorate WaitForAll',
      '',
      'Membership information',
      '----------------------',
      '    Nodeid      Votes Name',
      '         1          1 node1 (local)',
      '         2          1 node2',
      '',
    ].join('\n'),
  );
  const blocked = new QuorumEngine(config({ votes: [1, 1, 1], localIndex: 2, lastManStanding: true, waitForAll: true }), 0);
  const text = formatQuorumStatus(blocked.status(), { nodeName: (n, name) => `${name}.example (${n})` });
  assert.match(text, /^Quorate: {10}No$/m);
  assert.match(text, /^Quorum: {11}2 Activity blocked$/m);
  assert.match(text, /^Flags: {12}WaitForAll LastManStanding$/m);
  assert.match(text, /^ {9}3 {10}1 node3\.example \(3\) \(local\)$/m);
  assert.doesNotMatch(text, /Date:/);
  const s = blocked.status();
  assert.deepEqual(s.members, [{ id: id(3), name: 'node3', votes: 1, local: true }]);
  assert.equal(s.activityBlocked, true);
});

// ---- reload (reconfigure) ------------------------------------------------------------------

function report(id: number, expectedVotes: number, quorate = true): MemberReport {
  return { id: toNodeId(id), expectedVotes, quorate, waitingForAll: false };
}

function quorateChanges(changes: readonly QuorumChange[]): QuorumChange[] {
  return changes.filter((c) => c.type === 'quorate');
}

test('reload: adding a node (and its vote) to a quorate cluster raises E and Q, and never makes it inquorate on the way', () => {
  const e = new QuorumEngine(config({ votes: [1, 1, 1], localIndex: 0 }), 0);
  e.handle({ type: 'membership', members: [report(2, 3), report(3, 3)] }, 1);
  assert.equal(e.quorate, true);
  const changes = e.handle({ type: 'reconfigure', config: config({ votes: [1, 1, 1, 1], localIndex: 0 }) }, 2);
  assert.deepEqual(quorateChanges(changes), []);
  assert.deepEqual(changes.filter((c) => c.type === 'expected-votes'), [{ type: 'expected-votes', from: 3, to: 4, rule: 'reload' }]);
  assert.deepEqual({ quorate: e.status().quorate, E: e.status().expectedVotes, Q: e.status().quorum, T: e.status().totalVotes }, { quorate: true, E: 4, Q: 3, T: 3 });
});

test('reload: an option that does not touch the votes keeps an E that last_man_standing lowered (resetting it to 5 would make 2 members inquorate)', () => {
  const shape: Shape = { votes: [1, 1, 1, 1, 1], localIndex: 0, lastManStanding: true, waitForAll: true };
  const e = new QuorumEngine(config(shape), 0);
  e.handle({ type: 'membership', members: [2, 3, 4, 5].map((id) => report(id, 5)) }, 0);
  e.handle({ type: 'membership', members: [report(2, 5), report(3, 5)] }, 1);
  e.handle({ type: 'tick' }, 1 + WINDOW);
  e.handle({ type: 'membership', members: [report(2, 3)] }, 2 + WINDOW);
  e.handle({ type: 'tick' }, 2 + 2 * WINDOW);
  assert.deepEqual({ quorate: e.quorate, E: e.status().expectedVotes }, { quorate: true, E: 2 });
  const changes = e.handle({ type: 'reconfigure', config: config({ ...shape, windowMs: 20_000 }) }, 3 + 2 * WINDOW);
  assert.deepEqual(changes, [], 'nothing changes');
  assert.deepEqual({ quorate: e.quorate, E: e.status().expectedVotes }, { quorate: true, E: 2 });
  const fresh = new QuorumEngine(config({ ...shape, windowMs: 20_000 }), 0);
  assert.equal(fresh.quorate, false, 'a restart (a new engine) is inquorate until the heartbeats come back');
});

test('reload: two_node on with one node missing makes the survivor quorate; off again, it is inquorate (the options decide, not a blip)', () => {
  const e = new QuorumEngine(config({ votes: [1, 1], localIndex: 0, waitForAll: false }), 0);
  e.handle({ type: 'membership', members: [report(2, 2)] }, 0);
  assert.equal(e.quorate, true);
  e.handle({ type: 'membership', members: [] }, 1);
  assert.equal(e.quorate, false);
  assert.deepEqual(quorateChanges(e.handle({ type: 'reconfigure', config: config({ votes: [1, 1], localIndex: 0, twoNode: true, waitForAll: false }) }, 2)).map((c) => c.type === 'quorate' && c.to), [true]);
  assert.deepEqual(quorateChanges(e.handle({ type: 'reconfigure', config: config({ votes: [1, 1], localIndex: 0, waitForAll: false }) }, 3)).map((c) => c.type === 'quorate' && c.to), [false]);
});

test('reload: wait_for_all turned on while quorate does not make the node wait; turned off while waiting, it is lifted', () => {
  const e = new QuorumEngine(config({ votes: [1, 1, 1], localIndex: 0 }), 0);
  e.handle({ type: 'membership', members: [report(2, 3), report(3, 3)] }, 0);
  assert.deepEqual(e.handle({ type: 'reconfigure', config: config({ votes: [1, 1, 1], localIndex: 0, waitForAll: true }) }, 1), []);
  assert.equal(e.status().waitingForAll, false);
  const w = new QuorumEngine(config({ votes: [1, 1, 1], localIndex: 0, waitForAll: true }), 0);
  w.handle({ type: 'membership', members: [report(2, 3, false)] }, 0);
  assert.equal(w.quorate, false, 'waiting for all');
  const changes = w.handle({ type: 'reconfigure', config: config({ votes: [1, 1, 1], localIndex: 0 }) }, 1);
  assert.ok(changes.some((c) => c.type === 'wait-for-all' && !c.waiting && c.reason === 'reload'));
  assert.equal(w.quorate, true, '2 of 3 votes without wait_for_all');
});

test('reload: a member removed from the nodelist leaves the partition; a different local node is refused', () => {
  const e = new QuorumEngine(config({ votes: [1, 1, 1], localIndex: 0 }), 0);
  e.handle({ type: 'membership', members: [report(2, 3), report(3, 3)] }, 0);
  const changes = e.handle({ type: 'reconfigure', config: config({ votes: [1, 1], localIndex: 0 }) }, 1);
  assert.deepEqual(changes.filter((c) => c.type === 'membership'), [{ type: 'membership', joined: [], left: [3] }]);
  assert.deepEqual(quorateChanges(changes), []);
  assert.throws(() => e.handle({ type: 'reconfigure', config: config({ votes: [1, 1], localIndex: 1 }) }, 2), /local node is 1, not 2/);
});

test(`reload property: after any history (operator, quorate peers, last_man_standing, auto_tie_breaker, wait_for_all), a reload with the same options changes nothing (${RUNS} runs)`, () => {
  const shapes = fc.oneof(plainShape, atbShape, lmsShape);
  checkProperty(
    fc.property(
      shapes.chain((s) => fc.tuple(fc.constant(s), historyArb({ n: s.votes.length, maxE: sumOf(s.votes) + 3, quoratePeers: true, liftingPeers: true, operator: true, deadlines: true }))),
      ([shape, steps]) => {
        let last = 0;
        const engine = play(config(shape), steps, (o) => void (last = o.now));
        const before = engine.status();
        assert.deepEqual(engine.handle({ type: 'reconfigure', config: config(shape) }, last), []);
        assert.deepEqual(engine.status(), before);
      },
    ),
    { numRuns: RUNS },
  );
});
