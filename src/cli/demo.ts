/**
 * `vigil demo`: three real `vigil run` daemons in network namespaces (src/lab/demo.ts) —
 * election, a master crash (SIGKILL) and a graceful handover (SIGTERM), with the failover
 * timeline from a packet capture on a client. Needs root, iproute2, tcpdump and ping.
 *
 * `vigil demo --simulated`: the real VRRP state machine and codec on the deterministic
 * segment simulator — three nodes, election, a master crash, its return (preemption)
 * and a graceful handover — printed as a failover timeline on the virtual clock.
 */
import { parseArgs } from 'node:util';
import { demoPrerequisites, runNamespaceDemo } from '../lab/demo.js';
import { Segment, type NodeSpec, type Transition } from '../sim/segment.js';
import type { CliCommand, CliIo } from './main.js';
import { errorText } from '../base/error-text.js';

const USAGE = `usage: vigil demo [--interval-ms N]
       vigil demo --simulated [--interval-ms N] [--seed N]

Runs three VRRP nodes (priorities 150, 100, 50) and prints the election and the
failover timelines: a crash of the master (SIGKILL) and a graceful handover (SIGTERM).

By default the nodes are real \`vigil run\` daemons in network namespaces on a bridge,
with a client namespace that pings the virtual address and captures the segment; this
needs root, iproute2, tcpdump and ping, and deletes everything it created when it ends
(also on Ctrl-C). --simulated runs the state machine and codec on a simulated segment
with a virtual clock instead (no privileges needed).

  --interval-ms N   the advertisement interval, a multiple of 10 (default 1000)
  --seed N          --simulated only: the simulator's seed (default 1)`;

const VRID = 51;

function ms(t: number): string {
  return `${t.toFixed(3).padStart(10)} ms`;
}

export function runSimulatedDemo(io: CliIo, intervalMs: number, seed: number): number {
  const intervalCs = Math.round(intervalMs / 10);
  const nodes: NodeSpec[] = [
    { name: 'a', address: '10.213.0.1', routers: [{ vrid: VRID, priority: 150, intervalCs, vips: ['10.213.0.100'] }] },
    { name: 'b', address: '10.213.0.2', routers: [{ vrid: VRID, priority: 100, intervalCs, vips: ['10.213.0.100'] }] },
    { name: 'c', address: '10.213.0.3', routers: [{ vrid: VRID, priority: 50, intervalCs, vips: ['10.213.0.100'] }] },
  ];
  const seg = new Segment(nodes, { delayMinMs: 0.05, delayMaxMs: 0.3, loss: 0 }, seed);
  const interval = intervalCs * 10;
  const skew = (p: number): number => ((256 - p) * interval) / 256;
  const mdi = (p: number): number => 3 * interval + skew(p);
  const say = (line: string): void => io.stdout(`${line}\n`);
  let printed = 0;
  const flush = (): void => {
    for (const t of seg.transitions.slice(printed)) say(`${ms(t.at)}  ${t.node}  ${t.from.padEnd(10)} -> ${t.to.padEnd(10)} (${t.reason})`);
    printed = seg.transitions.length;
  };
  const takeover = (after: number): Transition | undefined => seg.transitions.find((t) => t.at > after && t.to === 'master');
  const lastAdvert = (from: string, to: string): number =>
    Math.max(...seg.deliveries.filter((d) => d.from === from && d.to === to && d.priority > 0).map((d) => d.at));

  say(`vigil demo (simulated segment): VRID ${VRID}, VIP 10.213.0.100, advert interval ${interval} ms`);
  say(`nodes: a 10.213.0.1 prio 150 | b 10.213.0.2 prio 100 | c 10.213.0.3 prio 50; one-way delay 0.05-0.3 ms\n`);
  say('1. cold start: all three boot as backup; the highest priority has the shortest Master_Down_Interval');
  for (const n of seg.nodes) n.boot();
  seg.runUntil(mdi(150) + 2 * interval);
  flush();
  say(`   master: ${seg.masters(VRID).join(', ')} (Master_Down_Interval at 150 = ${mdi(150).toFixed(3)} ms)\n`);

  const crashAt = seg.now + 3.3 * interval;
  seg.runUntil(crashAt);
  say(`2. a is killed (kill -9) at ${ms(crashAt).trim()}: no priority-0 advert`);
  seg.node('a').crash();
  seg.runUntil(crashAt + mdi(1) + interval);
  flush();
  const crashTakeover = takeover(crashAt);
  if (crashTakeover) {
    const seen = lastAdvert('a', crashTakeover.node);
    const announce = seg.announces.find((x) => x.at >= crashTakeover.at && x.node === crashTakeover.node);
    say(`   last advert from a seen by ${crashTakeover.node}: ${ms(seen).trim()}`);
    say(`   ${crashTakeover.node} became master:          ${ms(crashTakeover.at).trim()}  (+${(crashTakeover.at - seen).toFixed(3)} ms; Master_Down_Interval at 100 = ${mdi(100).toFixed(3)} ms)`);
    say(`   first gratuitous ARP burst:      ${announce ? ms(announce.at).trim() : 'none'}`);
    say(`   VIP unanswered from the crash:   ${(crashTakeover.at - crashAt).toFixed(3)} ms\n`);
  }

  const restartAt = seg.now;
  say(`3. a boots again at ${ms(restartAt).trim()} and preempts b (preempt on, no preempt_delay)`);
  seg.node('a').boot();
  seg.runUntil(restartAt + mdi(150) + 2 * interval);
  flush();
  say(`   master: ${seg.masters(VRID).join(', ')}\n`);

  const stopAt = seg.now + 1.5 * interval;
  seg.runUntil(stopAt);
  say(`4. a is stopped gracefully (SIGTERM) at ${ms(stopAt).trim()}: it sends priority 0`);
  seg.node('a').stop();
  seg.runUntil(stopAt + mdi(1));
  flush();
  const graceful = takeover(stopAt);
  if (graceful) {
    say(`   ${graceful.node} became master ${(graceful.at - stopAt).toFixed(3)} ms after the priority-0 advert was sent (Skew_Time at 100 = ${skew(100).toFixed(3)} ms)`);
  }
  say(`\nfinal: master ${seg.masters(VRID).join(', ')}, VIP held by ${seg.holders(VRID).join(', ')}; ${seg.deliveries.length} adverts delivered, ${seg.rejected.length} rejected`);
  return 0;
}

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'run a three-node failover demo and print the timeline',
  async run(argv: string[], io: CliIo): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          simulated: { type: 'boolean', default: false },
          'interval-ms': { type: 'string', default: '1000' },
          seed: { type: 'string', default: '1' },
          help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (e) {
      io.stderr(`vigil demo: ${errorText(e)}\n${USAGE}\n`);
      return 2;
    }
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    const intervalMs = Number(values['interval-ms']);
    if (!Number.isInteger(intervalMs) || intervalMs < 10 || intervalMs > 40950 || intervalMs % 10 !== 0) {
      io.stderr('vigil demo: --interval-ms must be a multiple of 10 between 10 and 40950\n');
      return 2;
    }
    if (values.simulated) return runSimulatedDemo(io, intervalMs, Number(values.seed));
    const missing = demoPrerequisites();
    if (missing !== undefined) {
      io.stderr(`vigil demo: ${missing}\n`);
      return 1;
    }
    try {
      await runNamespaceDemo({ intervalMs, say: (line) => io.stdout(`${line}\n`) });
    } catch (e) {
      io.stderr(`vigil demo: ${errorText(e)}\nvigil demo: the lab was torn down\n`);
      return 1;
    }
    return 0;
  },
};
