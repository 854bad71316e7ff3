/**
 * The levers that keep the daemon's private memory down (figures: bench/memory.ts and
 * README "Tests and benchmarks"; this file checks only that each lever is in place and
 * does what it is for, so that losing one fails here rather than in a benchmark nobody ran):
 *   - the addon's mallocTrim really hands freed malloc pages back to the kernel;
 *   - `vigil run` trims once the config loader's worker has exited, after start and after
 *     a reload;
 *   - the lab starts the daemon with RUN_NODE_FLAGS and RUN_ENVIRONMENT (MALLOC_ARENA_MAX=1),
 *     as the packaged launcher does (test/packaging-rpm.test.ts) and main.js's #! line;
 *   - what the daemon starts does not inherit MALLOC_ARENA_MAX.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { withLab, labSkipReason } from '../src/lab/netns.js';
import { VigilProcess, configYaml, instanceYaml } from '../src/lab/vigil.js';
import { RUN_ENVIRONMENT, RUN_NODE_FLAGS, dropRunEnvironment } from '../src/daemon/node-flags.js';

const execFileAsync = promisify(execFile);

/**
 * A child process allocates 48 MiB in 16 KiB Buffers (malloc'd below the mmap threshold, so
 * they sit in malloc's heap), keeps every 32nd alive so the heap cannot shrink from its top,
 * frees the rest, and reports its Anonymous memory before and after mallocTrim().
 */
const CHILD = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const anonKiB = () => Number(/^Anonymous:\\s+(\\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]);
const { native } = await import(process.argv[1]);
const n = native();
let chunks = [];
for (let i = 0; i < 3072; i++) chunks.push(Buffer.allocUnsafeSlow(16384).fill(i & 0xff));
const kept = chunks.filter((_, i) => i % 32 === 0);
chunks = [];
for (let i = 0; i < 4; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
const before = anonKiB();
const released = n.mallocTrim();
const after = anonKiB();
console.log(JSON.stringify({ before, after, released, kept: kept.length }));
`;

test('mallocTrim gives the pages of freed malloc chunks back to the kernel', async () => {
  const nativeIndex = new URL('../src/native/index.js', import.meta.url).pathname;
  const { stdout } = await execFileAsync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, nativeIndex]);
  const r = JSON.parse(stdout) as { before: number; after: number; released: boolean; kept: number };
  assert.equal(r.kept, 96);
  assert.equal(r.released, true, `malloc_trim released nothing: ${stdout}`);
  // About 46 MiB were freed; without the trim glibc keeps all of it (free() only returns the heap's top).
  assert.ok(r.before - r.after > 24 * 1024, `Anonymous ${r.before} → ${r.after} KiB after mallocTrim: less than 24 MiB given back of ~46 MiB freed`);
});

test('the levers are one malloc arena, 1 MiB semi-spaces and V8 sized for memory, and main.js\'s #! line carries them', () => {
  assert.deepEqual(RUN_ENVIRONMENT, { MALLOC_ARENA_MAX: '1' });
  assert.deepEqual([...RUN_NODE_FLAGS], ['--max-semi-space-size=1', '--optimize-for-size']);
  const main = readFileSync(new URL('../../src/cli/main.ts', import.meta.url), 'utf8').split('\n')[0];
  const env = Object.entries(RUN_ENVIRONMENT).map(([k, v]) => `${k}=${v}`).join(' ');
  assert.equal(main, `#!/usr/bin/env -S ${env} node ${RUN_NODE_FLAGS.join(' ')}`);
});

test('dropRunEnvironment takes out what the launcher added and leaves a value of the user\'s own', () => {
  const launched: Record<string, string | undefined> = { PATH: '/usr/bin', MALLOC_ARENA_MAX: '1' };
  dropRunEnvironment(launched);
  assert.deepEqual(launched, { PATH: '/usr/bin' });
  const own: Record<string, string | undefined> = { MALLOC_ARENA_MAX: '4' };
  dropRunEnvironment(own);
  assert.deepEqual(own, { MALLOC_ARENA_MAX: '4' });
});

const skip = labSkipReason();

test('vigil run trims malloc once its config loader has exited, at start and after a reload, and runs with RUN_NODE_FLAGS', { skip, timeout: 60_000 }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const p = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ name: 'gw', vrid: 51, priority: 150, interval: '100ms', vips: ['10.213.0.100/32'] })));
    try {
      const first = await p.waitFor((e) => e.event === 'malloc-trimmed', 'malloc-trimmed after start', 10000);
      assert.equal(first['released'], true);
      const started = p.events.findIndex((e) => e.event === 'started');
      assert.ok(started >= 0 && started < p.events.indexOf(first), 'trimmed before the daemon had started');
      const pid = p.pids()[0];
      assert.ok(pid !== undefined);
      // VIGIL_NODE_FLAGS and MALLOC_ARENA_MAX in this process's environment replace the levers on purpose (to weigh them in bench/).
      if (process.env['VIGIL_NODE_FLAGS'] === undefined) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        for (const flag of RUN_NODE_FLAGS) assert.ok(argv.includes(flag), `daemon started without ${flag}: ${argv.join(' ')}`);
      }
      if (process.env['MALLOC_ARENA_MAX'] === undefined) {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        assert.ok(environ.includes('MALLOC_ARENA_MAX=1'), 'daemon started without MALLOC_ARENA_MAX=1');
      }
      const from = p.events.length;
      process.kill(pid, 'SIGHUP');
      await p.waitFor((e) => e.event === 'malloc-trimmed', 'malloc-trimmed after the reload', 10000, from);
    } finally {
      await p.stop();
    }
  });
});
