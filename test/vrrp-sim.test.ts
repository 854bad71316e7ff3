/**
 * Property tests of the VRRP state machine on a simulated segment (src/sim/segment.ts):
 * random configurations and fault schedules, each checked against what RFC 5798 promises.
 * Times are in ms on the simulator's virtual clock; one-way link delays are drawn per
 * packet from [0, maxDelay].
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from './support/property.js';
import { Segment, type NodeSpec, type Transition } from '../src/sim/segment.js';

const RUNS = Number(process.env['VIGIL_PROPERTY_RUNS'] ?? 150);
const EPS = 1e-6;
const VRID = 7;

// ---- the protocol's timing, computed here independently of src/ ----------------------

function skewMs(priority: number, intervalCs: number): number {
  return ((256 - priority) * intervalCs * 10) / 256;
}
function mdiMs(priority: number, intervalCs: number): number {
  return 3 * intervalCs * 10 + skewMs(priority, intervalCs);
}
function effective(base: number, weight: number, up: boolean): number {
  if (base === 255) return 255;
  let p = base;
  if (weight > 0 && up) p += weight;
  if (weight < 0 && !up) p += weight;
  return Math.min(254, Math.max(1, p));
}
/** The winner of an election among `nodes`: highest priority, then highest address. */
function winnerOf(nodes: readonly Candidate[]): Candidate {
  return [...nodes].sort((a, b) => b.priority - a.priority || b.octet - a.octet)[0] as Candidate;
}

interface Candidate {
  name: string;
  octet: number;
  priority: number;
}

// ---- arbitraries -------------------------------------------------------------------

interface Scenario {
  intervalCs: number;
  maxDelayMs: number;
  nodes: {
    name: string;
    octet: number;
    base: number;
    weight: number;
    trackerUp: boolean;
    preempt: boolean;
  }[];
  seed: number;
}

const scenarioArb = (minNodes: number, maxNodes: number): fc.Arbitrary<Scenario> =>
  fc
    .record({
      intervalCs: fc.constantFrom(1, 2, 5, 10, 25, 100),
      delayFraction: fc.double({ min: 0, max: 0.1, noNaN: true }),
      octets: fc.uniqueArray(fc.integer({ min: 1, max: 250 }), { minLength: minNodes, maxLength: maxNodes }),
      // A small pool of priorities makes ties (decided by address) common.
      pool: fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 4 }),
      picks: fc.array(
        fc.record({
          index: fc.nat(),
          weight: fc.oneof(fc.constant(0), fc.integer({ min: -60, max: 60 })),
          trackerUp: fc.boolean(),
          preempt: fc.boolean(),
        }),
        { minLength: maxNodes, maxLength: maxNodes },
      ),
      seed: fc.integer(),
    })
    .map((r) => ({
      intervalCs: r.intervalCs,
      maxDelayMs: Math.min(2, r.intervalCs * 10 * r.delayFraction),
      nodes: r.octets.map((octet, i) => {
        const pick = r.picks[i] as (typeof r.picks)[number];
        return {
          name: `n${octet}`,
          octet,
          base: r.pool[pick.index % r.pool.length] as number,
          // weight 0 would mean FAULT: tracking here only moves priorities.
          weight: pick.weight === 0 ? 0 : pick.weight,
          trackerUp: pick.trackerUp,
          preempt: pick.preempt,
        };
      }),
      seed: r.seed,
    }));

function specs(s: Scenario, extra: Partial<NodeSpec['routers'][number]> = {}): NodeSpec[] {
  return s.nodes.map((n) => ({
    name: n.name,
    address: `10.213.0.${n.octet}`,
    routers: [
      {
        vrid: VRID,
        priority: n.base,
        intervalCs: s.intervalCs,
        preempt: n.preempt,
        tracked: n.weight === 0 ? [] : [{ name: 'chk', weight: n.weight }],
        ...extra,
      },
    ],
  }));
}

function candidates(s: Scenario): Candidate[] {
  return s.nodes.map((n) => ({ name: n.name, octet: n.octet, priority: effective(n.base, n.weight, n.trackerUp) }));
}

function boot(s: Scenario, extra: Partial<NodeSpec['routers'][number]> = {}): Segment {
  const seg = new Segment(specs(s, extra), { delayMinMs: 0, delayMaxMs: s.maxDelayMs, loss: 0 }, s.seed);
  for (const n of s.nodes) seg.node(n.name).boot({ chk: n.trackerUp });
  return seg;
}

function transitionsAfter(seg: Segment, t: number): Transition[] {
  return seg.transitions.filter((x) => x.at > t + EPS);
}

/** Runs the segment to `until`, asserting at every event boundary that at most `max` nodes hold the VIPs. */
function converge(s: Scenario, seg: Segment): { winner: Candidate; settled: number } {
  const winner = winnerOf(candidates(s));
  const settled = mdiMs(winner.priority, s.intervalCs) + s.intervalCs * 10 + s.maxDelayMs + EPS;
  seg.runUntil(settled);
  return { winner, settled };
}

// ---- properties --------------------------------------------------------------------

test(`property: connected, no loss: after Master_Down_Interval plus one interval exactly one master, the highest effective priority (ties: higher address) (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(scenarioArb(2, 5), (s) => {
      const seg = boot(s);
      const { winner, settled } = converge(s, seg);
      assert.deepEqual(seg.masters(VRID), [winner.name], `masters at ${settled} ms`);
      assert.deepEqual(seg.holders(VRID), [winner.name], 'VIP holders');
      // And it stays that way.
      seg.runUntil(settled + 20 * s.intervalCs * 10);
      assert.deepEqual(seg.masters(VRID), [winner.name]);
      assert.deepEqual(transitionsAfter(seg, settled), []);
    }),
    { numRuns: RUNS },
  );
});

test(`property: the master dies: a backup becomes master exactly Master_Down_Interval after the last advert it saw — not later, not earlier (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(scenarioArb(2, 5), fc.double({ min: 0, max: 5, noNaN: true }), (s, phase) => {
      const seg = boot(s);
      const { winner, settled } = converge(s, seg);
      const crashAt = settled + phase * s.intervalCs * 10;
      seg.runUntil(crashAt);
      seg.node(winner.name).crash();
      const horizon = crashAt + 2 * mdiMs(1, s.intervalCs) + s.intervalCs * 10 + 2 * s.maxDelayMs;
      seg.runUntil(horizon);
      const survivors = candidates(s).filter((c) => c.name !== winner.name);
      // The last advert each backup received and followed (RFC 5798 §6.4.2 (490): priority
      // >= its own, or any priority without preempt) before the master died; in-flight
      // adverts of the dead master count, and so do those of others (briefly masters during
      // the election, or sending one advert as they yield).
      const lastSeen = new Map<string, number>();
      const follows = (to: string, priority: number): boolean => {
        const node = s.nodes.find((n) => n.name === to);
        const c = survivors.find((x) => x.name === to);
        return node !== undefined && c !== undefined && priority > 0 && (priority >= c.priority || !node.preempt);
      };
      const firstPromotion = seg.transitions.find((t) => t.at > crashAt - EPS && t.to === 'master');
      for (const d of seg.deliveries) {
        if (firstPromotion && d.at >= firstPromotion.at) break;
        if (follows(d.to, d.priority)) lastSeen.set(d.to, d.at);
      }
      const promotions = seg.transitions.filter((t) => t.at > crashAt - EPS && t.to === 'master');
      assert.ok(promotions.length >= 1, 'somebody took over');
      for (const p of promotions.filter((t) => t.reason === 'master-down-timer' || t.reason === 'preempt')) {
        const c = survivors.find((x) => x.name === p.node) as Candidate;
        const due = (lastSeen.get(p.node) ?? 0) + mdiMs(c.priority, s.intervalCs);
        assert.ok(p.at >= due - EPS, `${p.node} took over at ${p.at}, before ${due} (MDI after its last advert)`);
        if (p === promotions[0]) assert.ok(Math.abs(p.at - due) < EPS, `first takeover at ${p.at}, due ${due}`);
      }
      const first = promotions[0] as Transition;
      const earliestDue = Math.min(
        ...survivors.map((c) => (lastSeen.get(c.name) ?? 0) + mdiMs(c.priority, s.intervalCs)),
      );
      assert.ok(Math.abs(first.at - earliestDue) < EPS, `first takeover ${first.at}, earliest due ${earliestDue}`);
      assert.equal(seg.masters(VRID).length, 1, 'one master in the end');
      assert.deepEqual(seg.holders(VRID), seg.masters(VRID));
    }),
    { numRuns: RUNS },
  );
});

test(`property: graceful stop: the priority-0 advert hands over within Skew_Time (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(scenarioArb(2, 5), fc.double({ min: 0, max: 5, noNaN: true }), (s, phase) => {
      const seg = boot(s);
      const { winner, settled } = converge(s, seg);
      const stopAt = settled + phase * s.intervalCs * 10;
      seg.runUntil(stopAt);
      seg.node(winner.name).stop();
      seg.runUntil(stopAt + mdiMs(1, s.intervalCs) + 2 * s.maxDelayMs);
      const stops = seg.deliveries.filter((d) => d.from === winner.name && d.priority === 0);
      const survivors = candidates(s).filter((c) => c.name !== winner.name);
      assert.equal(stops.length, survivors.length, 'every backup received the priority-0 advert');
      const due = Math.min(...stops.map((d) => d.at + skewMs((survivors.find((c) => c.name === d.to) as Candidate).priority, s.intervalCs)));
      const first = seg.transitions.find((t) => t.at > stopAt - EPS && t.to === 'master') as Transition;
      assert.ok(first, 'somebody took over');
      assert.equal(first.reason, 'master-stopped');
      assert.ok(Math.abs(first.at - due) < EPS, `takeover at ${first.at}, Skew_Time after the priority-0 advert is ${due}`);
      const best = winnerOf(survivors);
      assert.ok(first.at - stopAt <= skewMs(best.priority, s.intervalCs) + s.maxDelayMs + EPS || first.node !== best.name);
      assert.equal(seg.masters(VRID).length, 1);
    }),
    { numRuns: RUNS },
  );
});

test(`property: a partition heals: dual mastership ends within one advertisement interval, and the survivor re-announces (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(scenarioArb(2, 5), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.double({ min: 0, max: 3, noNaN: true }), (s, sideOf, phase) => {
      const names = s.nodes.map((n) => n.name);
      let left = names.filter((_, i) => sideOf[i]);
      let right = names.filter((_, i) => !sideOf[i]);
      if (left.length === 0 || right.length === 0) {
        left = names.slice(0, 1);
        right = names.slice(1);
      }
      const seg = boot(s);
      seg.partition([left, right]);
      const all = candidates(s);
      const lw = winnerOf(all.filter((c) => left.includes(c.name)));
      const rw = winnerOf(all.filter((c) => right.includes(c.name)));
      const split = Math.max(mdiMs(lw.priority, s.intervalCs), mdiMs(rw.priority, s.intervalCs)) + s.intervalCs * 10 + s.maxDelayMs;
      seg.runUntil(split);
      assert.deepEqual(seg.masters(VRID).sort(), [lw.name, rw.name].sort(), 'one master per side while split');
      const healAt = split + phase * s.intervalCs * 10;
      seg.runUntil(healAt);
      seg.heal();
      const bound = healAt + s.intervalCs * 10 + s.maxDelayMs + EPS;
      seg.runUntil(bound);
      const winner = winnerOf([lw, rw]);
      assert.deepEqual(seg.masters(VRID), [winner.name], `one master ${s.intervalCs * 10} ms + delay after the heal`);
      assert.deepEqual(seg.holders(VRID), [winner.name]);
      seg.runUntil(bound + s.maxDelayMs + EPS);
      const reannounced = seg.announces.some((a) => a.node === winner.name && a.reason === 'lower-priority-advert' && a.at >= healAt - EPS);
      assert.ok(reannounced, 'the surviving master re-announced after the heal');
      seg.runUntil(bound + 20 * s.intervalCs * 10);
      assert.deepEqual(seg.masters(VRID), [winner.name]);
    }),
    { numRuns: RUNS },
  );
});

test(`property: nopreempt keeps a returning higher-priority node in backup (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(scenarioArb(2, 4), fc.double({ min: 1, max: 10, noNaN: true }), (s0, downFor) => {
      // The top node is the one that does not preempt.
      const top = winnerOf(candidates(s0));
      const s = { ...s0, nodes: s0.nodes.map((n) => (n.name === top.name ? { ...n, preempt: false } : n)) };
      const seg = boot(s);
      const { settled } = converge(s, seg);
      seg.node(top.name).crash();
      // Back once the others have settled on a new master.
      const restartAt = settled + downFor * mdiMs(1, s.intervalCs) + s.intervalCs * 10 + s.maxDelayMs + EPS;
      seg.runUntil(restartAt);
      assert.equal(seg.masters(VRID).length, 1);
      const [interim] = seg.masters(VRID);
      assert.ok(interim !== undefined && interim !== top.name);
      seg.node(top.name).boot({ chk: (s.nodes.find((n) => n.name === top.name) as Scenario['nodes'][number]).trackerUp });
      seg.runUntil(restartAt + 30 * mdiMs(1, s.intervalCs));
      assert.ok(
        !seg.transitions.some((t) => t.node === top.name && t.at >= restartAt && t.to === 'master'),
        'the returning node never became master',
      );
      assert.deepEqual(seg.masters(VRID), [interim]);
    }),
    { numRuns: RUNS },
  );
});

test(`property: preempt_delay is honoured: a returning higher-priority node preempts no sooner than the delay after it first saw the lower master, and within one Master_Down_Interval after that (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(scenarioArb(2, 4), fc.integer({ min: 0, max: 20 }), (s0, delayIntervals) => {
      const s = { ...s0, nodes: s0.nodes.map((n) => ({ ...n, preempt: true })) };
      const top = winnerOf(candidates(s));
      const delayMs = delayIntervals * s.intervalCs * 10;
      const seg = new Segment(
        specs(s).map((spec) =>
          spec.name === top.name ? { ...spec, routers: spec.routers.map((r) => ({ ...r, preemptDelayMs: delayMs })) } : spec,
        ),
        { delayMinMs: 0, delayMaxMs: s.maxDelayMs, loss: 0 },
        s.seed,
      );
      for (const n of s.nodes) seg.node(n.name).boot({ chk: n.trackerUp });
      const { settled } = converge(s, seg);
      seg.node(top.name).crash();
      const restartAt = settled + 2 * mdiMs(1, s.intervalCs);
      seg.runUntil(restartAt);
      const [interim] = seg.masters(VRID);
      assert.ok(interim !== undefined);
      const interimPriority = (candidates(s).find((c) => c.name === interim) as Candidate).priority;
      seg.node(top.name).boot({ chk: (s.nodes.find((n) => n.name === top.name) as Scenario['nodes'][number]).trackerUp });
      seg.runUntil(restartAt + delayMs + 3 * mdiMs(1, s.intervalCs));
      const back = seg.transitions.find((t) => t.node === top.name && t.at >= restartAt && t.to === 'master');
      if (interimPriority === top.priority) {
        // Equal priority is never preempted (RFC 5798 §6.4.2 (490): ">= local Priority" is followed).
        assert.equal(back, undefined);
        return;
      }
      assert.ok(back, 'the higher-priority node came back as master');
      const firstSeen = seg.deliveries.find((d) => d.to === top.name && d.from === interim && d.at >= restartAt);
      const mdiTop = mdiMs(top.priority, s.intervalCs);
      if (delayMs === 0 || !firstSeen) {
        // No delay: it ignores the lower master from the start and takes over at its first Master_Down_Interval.
        assert.ok(Math.abs(back.at - (restartAt + mdiTop)) < EPS, `back at ${back.at}, expected ${restartAt + mdiTop}`);
      } else {
        assert.ok(back.at >= firstSeen.at + delayMs - EPS, `preempted at ${back.at}, before ${firstSeen.at + delayMs}`);
        assert.ok(back.at <= firstSeen.at + delayMs + mdiTop + EPS, `preempted at ${back.at}, after ${firstSeen.at + delayMs + mdiTop}`);
      }
      seg.runUntil(back.at + s.intervalCs * 10 + s.maxDelayMs + EPS);
      assert.deepEqual(seg.masters(VRID), [top.name]);
    }),
    { numRuns: RUNS },
  );
});

type Fault =
  | { kind: 'crash' | 'stop' | 'restart'; node: number; at: number }
  | { kind: 'iface'; node: number; up: boolean; at: number }
  | { kind: 'tracker'; node: number; up: boolean; at: number }
  | { kind: 'partition'; sides: boolean[]; at: number }
  | { kind: 'heal'; at: number };

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constantFrom('crash' as const, 'stop' as const, 'restart' as const), node: fc.nat(4), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('iface' as const), node: fc.nat(4), up: fc.boolean(), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('tracker' as const), node: fc.nat(4), up: fc.boolean(), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('partition' as const), sides: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('heal' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

test(`property: after any fault schedule, once inputs are stable state changes stop (no flapping) and one master holds the VIPs; FAULT is entered and left once per cause (${RUNS} runs)`, () => {
  checkProperty(
    fc.property(scenarioArb(2, 5), fc.array(faultArb, { minLength: 1, maxLength: 12 }), (s, faults) => {
      const seg = boot(s);
      const span = 20 * mdiMs(1, s.intervalCs);
      const nodes = s.nodes.map((n) => seg.node(n.name));
      const names = s.nodes.map((n) => n.name);
      const faultChanges: { node: string; at: number }[] = [];
      for (const f of [...faults].sort((a, b) => a.at - b.at)) {
        seg.runUntil(f.at * span);
        if (f.kind === 'partition') {
          seg.partition([names.filter((_, i) => f.sides[i]), names.filter((_, i) => !f.sides[i])]);
          continue;
        }
        if (f.kind === 'heal') {
          seg.heal();
          continue;
        }
        const node = nodes[f.node % nodes.length] as (typeof nodes)[number];
        const spec = s.nodes[f.node % nodes.length] as Scenario['nodes'][number];
        if (f.kind === 'crash') node.crash();
        else if (f.kind === 'stop') node.alive && node.stop();
        else if (f.kind === 'restart') {
          if (!node.alive) node.boot({ chk: spec.trackerUp });
        } else if (f.kind === 'iface') {
          if (node.alive && node.interfaceUp !== f.up) faultChanges.push({ node: node.spec.name, at: seg.now });
          node.setInterface(f.up);
        } else if (f.kind === 'tracker') {
          node.setTracker('chk', f.up);
          spec.trackerUp = f.up;
        }
      }
      // Inputs become stable: everything back up and connected.
      seg.runUntil(span);
      seg.heal();
      for (const [i, node] of nodes.entries()) {
        if (!node.interfaceUp) {
          if (node.alive) faultChanges.push({ node: node.spec.name, at: seg.now });
          node.setInterface(true);
        }
        if (!node.alive) node.boot({ chk: (s.nodes[i] as Scenario['nodes'][number]).trackerUp });
      }
      // FAULT only follows an interface change (trackers here have non-zero weights).
      for (const t of seg.transitions.filter((x) => x.to === 'fault' || x.from === 'fault')) {
        assert.ok(
          faultChanges.some((c) => c.node === t.node && Math.abs(c.at - t.at) < EPS) || t.from === 'initialize' || t.to === 'initialize',
          `unexpected ${t.from}->${t.to} of ${t.node} at ${t.at} (${t.reason})`,
        );
      }
      const settle = span + 2 * mdiMs(1, s.intervalCs) + 2 * s.intervalCs * 10 + 4 * s.maxDelayMs;
      seg.runUntil(settle);
      seg.runUntil(settle + 30 * mdiMs(1, s.intervalCs));
      assert.deepEqual(transitionsAfter(seg, settle), [], 'no state change once inputs are stable');
      assert.equal(seg.masters(VRID).length, 1, `masters: ${seg.masters(VRID).join(',')}`);
      assert.deepEqual(seg.holders(VRID), seg.masters(VRID));
    }),
    { numRuns: RUNS },
  );
});

test(`property: under random packet loss, masters step down only for a higher advert, and one master remains once the loss stops (${Math.ceil(RUNS / 3)} runs)`, () => {
  checkProperty(
    fc.property(scenarioArb(2, 4), fc.double({ min: 0.01, max: 0.5, noNaN: true }), (s, loss) => {
      const seg = new Segment(specs(s), { delayMinMs: 0, delayMaxMs: s.maxDelayMs, loss }, s.seed);
      for (const n of s.nodes) seg.node(n.name).boot({ chk: n.trackerUp });
      const lossy = 40 * mdiMs(1, s.intervalCs);
      seg.runUntil(lossy);
      seg.link.loss = 0;
      const bound = lossy + mdiMs(1, s.intervalCs) + s.intervalCs * 10 + 2 * s.maxDelayMs + EPS;
      seg.runUntil(bound);
      for (const t of seg.transitions.filter((x) => x.from === 'master' && x.to === 'backup')) {
        assert.equal(t.reason, 'higher-priority-advert');
      }
      assert.equal(seg.masters(VRID).length, 1, `masters ${seg.masters(VRID).join(',')} at ${bound}`);
      assert.deepEqual(seg.holders(VRID), seg.masters(VRID));
      seg.runUntil(bound + 20 * mdiMs(1, s.intervalCs));
      assert.deepEqual(transitionsAfter(seg, bound), []);
    }),
    { numRuns: Math.ceil(RUNS / 3) },
  );
});
