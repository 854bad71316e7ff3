/**
 * The fuzzer, CI-sized (issue 10 §4; the long run is `npm run fuzz`, bench/fuzz.ts): a
 * real daemon, master of three instances and backup of two beside a real peer, takes
 * malformed VRRP adverts of every reason of rejection.ts (IPv4 and IPv6, v2 and v3),
 * random mutations of keepalived's adverts, forged heartbeats of every rejection reason
 * and abuse of its control socket. Nothing may change: no state change on either node,
 * the same PID, no member leaving, every packet counted under the reason it was built
 * for (the mutations: under some reason), the RSS flat, the adverts on time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labSkipReason, withLab } from '../src/lab/netns.js';
import { VigilProcess } from '../src/lab/vigil.js';
import { Capture, vrrpAdverts } from '../src/lab/capture.js';
import { writeKeyFile } from '../src/quorum/io/authkey.js';
import { REJECT_REASONS } from '../src/vrrp/rejection.js';
import { coveredVrrpReasons, HEARTBEAT_GENERATED_REASONS, VRRP_UNREACHABLE } from '../src/lab/fuzz-packets.js';
import { HEARTBEAT_REJECTIONS } from '../src/quorum/heartbeat.js';
import { MEMBERSHIP_REJECTIONS } from '../src/quorum/membership.js';
import {
  FUZZ_A_STATES,
  FUZZ_HEARTBEAT_PORT,
  Injector,
  fuzzConfig,
  fuzzHeartbeatTarget,
  fuzzTargets,
  heartbeatPhase,
  phaseSummary,
  vectorBases,
  vrrpKnownPhase,
  vrrpMutatedPhase,
  worstGaps,
  type FuzzPhase,
} from '../src/lab/fuzz.js';
import { fuzzControl } from '../src/lab/fuzz-control.js';
import { encodeAdvert } from '../src/vrrp/codec.js';
import type { Centiseconds, Priority, Vrid } from '../src/vrrp/types.js';
import { until } from '../src/lab/wait.js';

const skip = labSkipReason(['tcpdump']);
const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'vectors');
const SEED = Number(process.env['VIGIL_FUZZ_SEED'] ?? 10);
/**
 * The worst gap allowed between two of a's 100 ms adverts: b's Master_Down_Interval
 * (RFC 5798 §6.1: 3 × Master_Adver_Interval + Skew_Time, (256 − 100) × 100 ms / 256 at
 * priority 100), past which b would take over. The figure itself is reported.
 */
const GAP_BOUND_MS = 3 * 100 + ((256 - 100) * 100) / 256;

test('fuzz: the generators cover every drop reason the wire can carry', () => {
  const covered = coveredVrrpReasons(fuzzTargets());
  for (const reason of REJECT_REASONS) assert.ok(covered.has(reason) || VRRP_UNREACHABLE[reason] !== undefined, `no generator for ${reason}`);
  for (const reason of [...HEARTBEAT_REJECTIONS, ...MEMBERSHIP_REJECTIONS]) assert.ok(HEARTBEAT_GENERATED_REASONS.includes(reason), `no heartbeat generator for ${reason}`);
});

test('fuzz lab: malformed adverts, forged heartbeats and control-socket abuse change nothing, and every packet is counted', { skip, timeout: 170_000 }, async (t) => {
  const keyDir = mkdtempSync(path.join(tmpdir(), 'vigil-fuzzkey-'));
  try {
    const keyFile = path.join(keyDir, 'authkey');
    const key = await writeKeyFile(keyFile);
    await withLab({ hosts: ['a', 'b', 'c'] }, async (lab) => {
      const [a, b] = await Promise.all([VigilProcess.start(lab, 'a', fuzzConfig(lab, 'a', keyFile)), VigilProcess.start(lab, 'b', fuzzConfig(lab, 'b', keyFile))]);
      const inj = new Injector(lab, 'c', 'a', FUZZ_HEARTBEAT_PORT);
      try {
        for (const [name, state] of Object.entries(FUZZ_A_STATES)) {
          await a.waitState(name, state, 15_000);
          if (name !== 'own') await b.waitState(name, state === 'master' ? 'backup' : 'master', 15_000);
        }
        await a.waitFor((e) => e.event === 'member-joined', 'b joined', 10_000);
        // Wait past the start's transitions (b's instances settle too), then mark.
        await new Promise((r) => setTimeout(r, 1500));
        const pid = a.pid;
        const aMark = a.events.length;
        const bMark = b.events.length;
        const targets = fuzzTargets();
        const addressing = Injector.addressing(lab, 'c', 'a');
        const cap = await Capture.start(lab, 'b', `(ip proto 112 and src host ${lab.host('a').ipv4}) or (ip6 proto 112 and src host ${lab.host('a').ipv6LinkLocal})`);
        const phases: FuzzPhase[] = [];
        phases.push(await vrrpKnownPhase(a, inj, targets, addressing, { packets: 12_000, seed: SEED }));
        phases.push(await vrrpMutatedPhase(a, inj, targets, vectorBases(VECTORS), addressing, { packets: 8_000, seed: SEED + 1 }));
        const frames = await cap.stop();
        // Forged adverts "from" a itself (IPv6 has no martian-source check), lower priority, to its master v6m:
        // ignored, and not reported as a lower priority heard (no master-rx-lower-priority, no notify).
        const v6m = targets.find((x) => x.instance === 'v6m') as (typeof targets)[number];
        const ownMark = a.events.length;
        const received0 = (await a.instance('v6m')).stats.advertsReceived;
        const own = encodeAdvert(
          { version: 3, family: 'ipv6', vrid: v6m.vrid as Vrid, priority: 50 as Priority, maxAdverInt: 10 as Centiseconds, reserved: 0, addresses: v6m.vips },
          { src: addressing.dst.ipv6, dst: addressing.dst.ipv6 },
        );
        for (let i = 0; i < 200; i++) inj.vrrpFromTarget(own);
        await until(async () => (await a.instance('v6m')).stats.advertsReceived - received0 >= 200, 'a took in the 200 forged adverts', 5000);
        assert.deepEqual(a.events.slice(ownMark).filter((e) => e.event === 'master-rx-lower-priority').map((e) => e['src']), [], 'own-address adverts are not a lower priority heard');
        phases.push(await heartbeatPhase(a, inj, fuzzHeartbeatTarget(key), FUZZ_HEARTBEAT_PORT, false, { packets: 4_800, seed: SEED + 2 }));
        phases.push(await heartbeatPhase(a, inj, fuzzHeartbeatTarget(key), FUZZ_HEARTBEAT_PORT, true, { packets: 2_000, seed: SEED + 3 }));
        for (const p of phases) t.diagnostic(phaseSummary(p));
        const controlStart = performance.now();
        const control = await fuzzControl(a, { garbage: 200, halfOpen: 3000, halfOpenBurst: 1000, slowloris: 20, huge: 5 });
        const controlEnd = performance.now();
        t.diagnostic(`control: ${JSON.stringify(control)}`);

        for (const p of phases) assert.deepEqual(p.mismatches, [], `${p.name}: every packet counted where expected`);
        const known = phases[0] as FuzzPhase;
        const seen = new Set([...known.counted.keys()].map((k) => k.split(':').at(-1)));
        for (const reason of REJECT_REASONS) if (VRRP_UNREACHABLE[reason] === undefined) assert.ok(seen.has(reason), `${reason} was fuzzed and counted`);
        for (const p of phases) assert.ok(p.rssKb.end - p.rssKb.warm < 16 * 1024, `${p.name}: RSS ${p.rssKb.warm} -> ${p.rssKb.end} kB`);

        const gaps = worstGaps(vrrpAdverts(frames), [lab.host('a').ipv4, lab.host('a').ipv6LinkLocal]);
        t.diagnostic(`a's adverts during the VRRP fuzz, worst gap per VRID: ${JSON.stringify(Object.fromEntries(gaps))}`);
        for (const vrid of [51, 53, 54]) {
          const g = gaps.get(vrid);
          assert.ok(g !== undefined && g.count > 10, `a adverted VRID ${vrid} throughout`);
          assert.ok(g.worst < GAP_BOUND_MS, `VRID ${vrid}: worst gap ${g.worst.toFixed(1)} ms`);
        }

        assert.ok(control.statusFailures === 0, `vigil status failed ${control.statusFailures} times during the control fuzz: ${control.statusErrors.join('; ')}`);
        assert.equal(control.garbageAnswered, control.garbageSent, 'every garbage request got an error answer');
        // Bursts of 1,000 half-open connections: none refused by the kernel (listen backlog), status answered throughout.
        assert.equal(control.halfOpenRefused, 0, 'the listen backlog holds a burst of 1,000 connections');
        assert.deepEqual(control.burstStatusErrors, [], `vigil status during the half-open flood (${control.burstStatusAsked} asked)`);
        assert.ok(control.stats.evicted >= control.halfOpenConnected - 64, `half-open connections beyond the cap evicted: ${control.stats.evicted} of ${control.halfOpenConnected}`);
        assert.ok(control.stats.timedOut >= 20, `slowloris connections timed out: ${control.stats.timedOut}`);
        assert.equal(control.rejectedCounted, control.garbageSent + control.hugeSent, 'the daemon counts the requests it rejected');

        assert.equal(a.pid, pid);
        assert.equal(a.exited, false, 'a still runs');
        assert.deepEqual(a.stateChanges().filter((e) => a.events.indexOf(e) >= aMark).map((e) => `${String(e['instance'])}->${String(e['to'])}`), [], 'no state change on a');
        assert.deepEqual(b.stateChanges().filter((e) => b.events.indexOf(e) >= bMark).map((e) => `${String(e['instance'])}->${String(e['to'])}`), [], 'no state change on b');
        const moved = a.events.slice(aMark).filter((e) => ['member-left', 'member-joined', 'quorum-change'].includes(e.event));
        assert.deepEqual(moved.map((e) => e.event), [], `the membership never moved: ${JSON.stringify(moved)}; control fuzz from ${controlStart.toFixed(0)} to ${controlEnd.toFixed(0)}`);
        const st = await a.status();
        for (const i of st.instances) assert.equal(i.state, FUZZ_A_STATES[i.name], `${i.name} is still ${FUZZ_A_STATES[i.name]}`);
      } finally {
        inj.close();
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
});
