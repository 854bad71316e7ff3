/**
 * `vigil import-keepalived` in the lab: a two-node keepalived setup (configs A and B);
 * keepalived runs A on host a, and on host b first keepalived with B (the reference), then
 * vigil with import(B). Both pairs must elect the same master, with exactly one holder of
 * the VIP: a priority case, a nopreempt case, and state MASTER (which makes keepalived
 * ignore nopreempt, and so must the import).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withLab, type Lab } from '../src/lab/netns.js';
import { sleep } from '../src/lab/wait.js';
import { Keepalived, keepalivedConf } from '../src/lab/keepalived.js';
import { VigilProcess, holders, waitHolders } from '../src/lab/vigil.js';
import { labSkipReason } from '../src/lab/netns.js';
import { importKeepalived } from '../src/cli/import-keepalived.js';
import { formatIssue, parseConfig } from '../src/config/load.js';

const skip = labSkipReason() || (Keepalived.available() ? false : 'keepalived is not installed');

const VIP = '10.213.0.100';
const NAME = 'VI_LAB';

interface Node {
  readonly priority: number;
  readonly state: 'MASTER' | 'BACKUP';
  readonly nopreempt?: boolean;
}

/** A keepalived.conf as an administrator writes one; VRRPv3 at 0.1 s adverts keeps each election short. */
function conf(routerId: string, n: Node): string {
  return keepalivedConf(routerId, {
    name: NAME,
    vrid: 77,
    priority: n.priority,
    version: 3,
    advertInt: 0.1,
    vips: [`${VIP}/24 dev eth0`],
    state: n.state,
    ...(n.nopreempt === true ? { nopreempt: true } : {}),
  });
}

/** import(B), checked by vigil's loader. */
function imported(text: string): { yaml: string; warnings: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-import-lab-'));
  try {
    const file = path.join(dir, 'keepalived.conf');
    writeFileSync(file, text);
    const o = importKeepalived(file, 'b');
    assert.equal(o.code, 0, o.stderr);
    const yaml = o.yaml ?? '';
    const r = parseConfig(yaml, 'imported.yaml');
    assert.ok(r.ok, `the import does not pass check-config: ${r.ok ? '' : r.errors.map(formatIssue).join('\n')}\n${yaml}`);
    return { yaml, warnings: o.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Outcome {
  /** Who holds the VIP once settled. */
  readonly holders: string[];
  /** keepalived A's view: its state and the master it names. */
  readonly aState: string;
  readonly bState: string;
}

/**
 * keepalived A on a alone until it is master, then B's side on b (keepalived or vigil);
 * settles, then reads the VIP's holders and both states.
 */
async function election(lab: Lab, a: Node, b: { readonly keepalived: string } | { readonly vigil: string }): Promise<Outcome> {
  let ka: Keepalived | undefined;
  let kb: Keepalived | undefined;
  let vb: VigilProcess | undefined;
  try {
    ka = await Keepalived.start(lab, 'a', conf('node_a', a));
    await ka.waitState('MASTER', 10000, 0, NAME);
    await waitHolders(lab, ['a', 'b'], VIP, ['a']);
    if ('keepalived' in b) {
      kb = await Keepalived.start(lab, 'b', b.keepalived);
      await kb.waitLog(new RegExp(`\\(${NAME}\\) Entering (BACKUP|MASTER) STATE`), 'a first state', 10000);
    } else {
      vb = await VigilProcess.start(lab, 'b', b.vigil);
      await vb.waitFor((e) => e.event === 'state-change' && e['instance'] === NAME && (e['to'] === 'backup' || e['to'] === 'master'), 'a first state', 10000);
    }
    // Long enough for a preemption (Master_Down_Interval is about 0.4 s at 0.1 s adverts) and
    // for a wrong one to show: 2 s is 20 adverts.
    await sleep(2000);
    const held = await holders(lab, ['a', 'b'], VIP);
    const aDump = await ka.dump(NAME);
    const bState = kb !== undefined ? (await kb.dump(NAME)).state : (await (vb as VigilProcess).instance(NAME)).state.toUpperCase();
    return { holders: held, aState: aDump.state, bState };
  } finally {
    await vb?.stop();
    await kb?.stop();
    await ka?.stop();
    await waitHolders(lab, ['a', 'b'], VIP, [], 5000);
  }
}

interface Scenario {
  readonly title: string;
  readonly a: Node;
  readonly b: Node;
  /** What two keepalived nodes elect (the reference run checks it, the vigil run must match it). */
  readonly master: 'a' | 'b';
  /** A warning the import must give, if any. */
  readonly warning?: RegExp;
}

const scenarios: readonly Scenario[] = [
  { title: 'priority: B (200) preempts A (100)', a: { priority: 100, state: 'BACKUP' }, b: { priority: 200, state: 'BACKUP' }, master: 'b' },
  { title: 'nopreempt: B (200, nopreempt) leaves A (100) master', a: { priority: 100, state: 'BACKUP' }, b: { priority: 200, state: 'BACKUP', nopreempt: true }, master: 'a' },
  {
    title: 'state MASTER: keepalived ignores B\'s nopreempt, B (200) preempts A (100)',
    a: { priority: 100, state: 'BACKUP' },
    b: { priority: 200, state: 'MASTER', nopreempt: true },
    master: 'b',
    warning: /nopreempt: keepalived ignores nopreempt with state MASTER/,
  },
];

test('import-keepalived in the lab: keepalived A + vigil import(B) elect the master that keepalived A + keepalived B elect', { skip, timeout: 180_000 }, async (t) => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    for (const s of scenarios) {
      await t.test(s.title, async () => {
        const bConf = conf('node_b', s.b);
        const { yaml, warnings } = imported(bConf);
        if (s.warning !== undefined) assert.match(warnings, s.warning);
        else assert.equal(warnings, '');
        const reference = await election(lab, s.a, { keepalived: bConf });
        const withVigil = await election(lab, s.a, { vigil: yaml });
        const expected = { holders: [s.master], aState: s.master === 'a' ? 'MASTER' : 'BACKUP', bState: s.master === 'b' ? 'MASTER' : 'BACKUP' };
        assert.deepEqual(reference, expected, 'keepalived A + keepalived B');
        assert.deepEqual(withVigil, reference, `keepalived A + vigil import(B) differ from two keepalived nodes; the import:\n${yaml}`);
      });
    }
  });
});
