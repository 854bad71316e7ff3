/**
 * Property tests of the daemon shell over random interleavings: the real Daemon on fake
 * ports (test/support/fake-daemon.ts), where every netlink and nft call completes when the
 * property says, between timer expiries, adverts from higher- and lower-priority peers,
 * link flaps and addresses removed from outside. Invariants:
 *
 * - at every gratuitous ARP / NA sent, the address is installed and the instance is master
 *   ("no GARP for a VIP not held");
 * - once the port calls in flight have all completed, the VIPs installed are exactly what
 *   the router's state says (all of them while master, none otherwise), and the nftables
 *   set blocks exactly the VIPs of a master with accept false (RFC 5798 §6.4.3 (650)).
 *
 * Seeds and runs: VIGIL_PROPERTY_SEED / VIGIL_PROPERTY_RUNS (test/support/property.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ip } from '../src/net/address.js';
import { checkAsyncProperty } from './support/property.js';
import { FakeHost, configFrom, flush } from './support/fake-daemon.js';

const RUNS = Number(process.env['VIGIL_PROPERTY_RUNS'] ?? 150);

type Step =
  | { readonly op: 'complete'; readonly pick: number }
  | { readonly op: 'timer' }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'advert'; readonly priority: number }
  | { readonly op: 'link'; readonly up: boolean }
  | { readonly op: 'external-remove'; readonly vip: number }
  | { readonly op: 'send-garp' }
  /** SIGHUP with another VIP set and Accept_Mode (an in-place change: the pipeline moves the VIPs). */
  | { readonly op: 'reload'; readonly vips: number; readonly accept: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('complete' as const), pick: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('timer' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advert' as const), priority: fc.constantFrom(0, 50, 200) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('link' as const), up: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('external-remove' as const), vip: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('send-garp' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reload' as const), vips: fc.integer({ min: 1, max: 3 }), accept: fc.boolean() }) },
);

interface Scenario {
  readonly accept: boolean;
  readonly garpIntervalMs: number;
  readonly vips: number;
  readonly steps: readonly Step[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  accept: fc.boolean(),
  garpIntervalMs: fc.constantFrom(0, 20),
  vips: fc.integer({ min: 1, max: 2 }),
  steps: fc.array(stepArb, { minLength: 5, maxLength: 40, size: 'max' }),
});

const VIPS = ['10.213.0.100', '10.213.0.101', '10.213.0.102'];

export const counts = { runs: 0, steps: 0, completions: 0, frames: 0, masterRuns: 0, reloads: 0 };

function configYaml(vips: readonly string[], accept: boolean, garpIntervalMs: number): string {
  return [
    'instances:',
    '  - name: gw',
    '    interface: eth0',
    '    vrid: 51',
    '    priority: 100',
    `    accept: ${accept}`,
    `    virtual_ips: [${vips.map((v) => `${v}/24`).join(', ')}]`,
    `    garp: { interval: ${garpIntervalMs}ms, master_delay: 100ms, lower_prio_repeat: 2 }`,
    '',
  ].join('\n');
}

async function runScenario(s: Scenario): Promise<void> {
  let vips = VIPS.slice(0, s.vips);
  let accept = s.accept;
  const config = configFrom(configYaml(vips, accept, s.garpIntervalMs));
  const host = new FakeHost(config);
  const state = (): string | undefined => host.daemon.status().instances[0]?.state;
  const violations: string[] = [];
  host.sockets.onFrame = (f) => {
    counts.frames++;
    if (state() !== 'master') violations.push(`announced ${f.address} at ${f.at} while ${state()}`);
    if (!host.net.has(2, ip(f.address))) violations.push(`announced ${f.address} at ${f.at}, which is not installed`);
  };
  await host.daemon.start();
  await host.drain();
  host.ops.auto = false;
  let wasMaster = false;
  let reloading: Promise<unknown> | undefined;
  for (const step of s.steps) {
    counts.steps++;
    switch (step.op) {
      case 'complete':
        if (host.ops.pending.length > 0) {
          host.ops.completeAt(step.pick % host.ops.pending.length);
          counts.completions++;
        }
        break;
      case 'timer':
        host.scheduler.fireNext();
        break;
      case 'advance':
        host.scheduler.advance(step.ms);
        break;
      case 'advert':
        host.advertFrom(step.priority === 50 ? '10.213.0.3' : '10.213.0.2', 51, step.priority, vips);
        break;
      case 'link':
        host.net.setLink(2, step.up);
        break;
      case 'external-remove':
        host.net.removeExternally(2, ip(vips[step.vip % vips.length] as string));
        break;
      case 'send-garp':
        try {
          host.daemon.sendGarp('gw');
          assert.equal(state(), 'master', 'sendGarp accepted by a non-master');
        } catch (e) {
          assert.notEqual(state(), 'master', `sendGarp refused by a master: ${String(e)}`);
        }
        break;
      case 'reload':
        // One reload at a time (the daemon serializes SIGHUPs); it waits for the pipeline, whose calls complete in later steps.
        if (reloading) break;
        vips = VIPS.slice(0, step.vips);
        accept = step.accept;
        counts.reloads++;
        reloading = host.daemon.reload(configFrom(configYaml(vips, accept, s.garpIntervalMs))).finally(() => {
          reloading = undefined;
        });
        break;
    }
    if (state() === 'master') wasMaster = true;
    await flush();
  }
  if (wasMaster) counts.masterRuns++;
  // Drain: every port call in flight completes (no timer fires meanwhile), and the reload ends.
  for (let rounds = 0; ; rounds++) {
    assert.ok(rounds < 100, 'the reload never ended although every port call completed');
    while (host.ops.pending.length > 0) {
      host.ops.completeAt(0);
      counts.completions++;
      await flush();
    }
    await flush();
    if (!reloading && host.ops.pending.length === 0) break;
  }
  const master = state() === 'master';
  const installed = VIPS.filter((v) => host.net.has(2, ip(v)));
  const should = master ? vips : [];
  assert.deepEqual(violations, [], 'announcements for VIPs not held');
  assert.deepEqual(installed, should, `installed VIPs after drain (state ${state()}; netlink journal: ${host.net.journal.join(', ')})`);
  const blocked = [...host.nft.blocked].sort();
  assert.deepEqual(blocked, master && !accept ? vips : [], `nftables set after drain (state ${state()})`);
  // The rest of a burst, after the drain, still only for what is held.
  host.scheduler.advance(200);
  await flush();
  assert.deepEqual(violations, [], 'announcements for VIPs not held (after drain)');
  await host.stop();
  assert.deepEqual(VIPS.filter((v) => host.net.has(2, ip(v))), [], 'VIPs left after stop');
  counts.runs++;
}

test(`daemon shell: installed == should after drain, and no GARP for a VIP not held, over random interleavings (${RUNS} runs)`, async () => {
  await checkAsyncProperty(fc.asyncProperty(scenarioArb, runScenario), { numRuns: RUNS });
  // The runs exercised what they claim to: masters, completions out of order, frames.
  assert.ok(counts.masterRuns > RUNS / 4, `runs that reached master: ${counts.masterRuns}`);
  assert.ok(counts.frames > 0, 'no announcement was ever sent');
  assert.ok(counts.reloads > 0, 'no reload was ever tried');
  console.log(
    `# daemon-shell property: ${counts.runs} runs (+ shrinking), ${counts.steps} steps, ${counts.completions} completions, ${counts.frames} frames, ${counts.reloads} reloads, ${counts.masterRuns} runs reached master`,
  );
});
