/**
 * `npm run chaos`: the lab chaos runner (src/lab/chaos.ts). Needs root, iproute2, nft,
 * ping and the native addon.
 *
 *   npm run chaos                                   100 three-node and 20 two-node schedules
 *   npm run chaos -- --mode three-node --schedules 300 --seed 7
 *   npm run chaos -- --mode two-node --seed 42 --only    replays the schedule of seed 42
 *
 * Options: --mode three-node|two-node|both (default both), --seed N (the first schedule's
 * seed; default: random, printed), --schedules N (three-node; default 100),
 * --two-node-schedules N (default 20), --steps MIN-MAX (faults steps per schedule,
 * default 3-6), --only (just the schedule of --seed, step by step), --verbose (a line
 * per step with its timings). Exit status 1 when a schedule failed.
 */
import { randomInt } from 'node:crypto';
import { labSkipReason } from '../src/lab/netns.js';
import { formatReport, runChaos, type ChaosReport } from '../src/lab/chaos.js';
import type { ChaosMode } from '../src/lab/faults.js';

interface Args {
  modes: ChaosMode[];
  seed: number;
  schedules: number;
  twoNodeSchedules: number;
  steps: [number, number];
  only: boolean;
  verbose: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { modes: ['three-node', 'two-node'], seed: randomInt(1, 2 ** 31), schedules: 100, twoNodeSchedules: 20, steps: [3, 6], only: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`chaos: ${a} needs a value`);
      return v;
    };
    const count = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`chaos: ${a} ${v}: expected a whole number`);
      return n;
    };
    switch (a) {
      case '--mode': {
        const v = value();
        if (v === 'both') args.modes = ['three-node', 'two-node'];
        else if (v === 'three-node' || v === 'two-node') args.modes = [v];
        else throw new Error(`chaos: --mode ${v}: expected three-node, two-node or both`);
        break;
      }
      case '--seed':
        args.seed = count();
        break;
      case '--schedules':
        args.schedules = count();
        break;
      case '--two-node-schedules':
        args.twoNodeSchedules = count();
        break;
      case '--steps': {
        const v = value();
        const m = /^(\d+)-(\d+)$/.exec(v);
        if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new Error(`chaos: --steps ${v}: expected MIN-MAX, e.g. 3-6`);
        args.steps = [Number(m[1]), Number(m[2])];
        break;
      }
      case '--only':
        args.only = true;
        break;
      case '--verbose':
        args.verbose = true;
        break;
      default:
        throw new Error(`chaos: unknown argument ${String(a)} (see bench/chaos.ts)`);
    }
  }
  if (args.only && args.modes.length !== 1) args.modes = ['three-node'];
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const skip = labSkipReason(['nft', 'ping']);
  if (skip) {
    console.log(`chaos runner skipped: ${skip}`);
    return;
  }
  console.log(`chaos: seed ${args.seed}${args.only ? ' (only)' : ''}, modes ${args.modes.join(', ')}, steps ${args.steps.join('-')}`);
  const reports: ChaosReport[] = [];
  for (const mode of args.modes) {
    const schedules = args.only ? 1 : mode === 'two-node' ? args.twoNodeSchedules : args.schedules;
    if (schedules === 0) continue;
    reports.push(await runChaos({ mode, seed: args.seed, schedules, steps: args.steps, verbose: args.verbose || args.only, log: (l) => console.log(l) }));
  }
  console.log('\n## Chaos');
  for (const r of reports) console.log(formatReport(r));
  if (reports.some((r) => r.failed.length > 0)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 2;
});
