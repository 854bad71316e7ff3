/**
 * quorum.provider corosync where the corosync client addon was not built (no
 * libvotequorum-dev / libcmap-dev at `npm ci`): `vigil run` stops at start with "corosync
 * client libraries not available", naming what to install, instead of running without
 * quorum. VIGIL_COROSYNC_ADDON points the loader at a file that does not exist, as on
 * such a machine. Run in a lab namespace (the daemon opens rtnetlink before quorum).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labSkipReason, withLab } from '../src/lab/netns.js';
import { VIGIL_MAIN, configYaml, instanceYaml } from '../src/lab/vigil.js';

const skip = labSkipReason();

test('provider corosync without the client addon: vigil run refuses to start and says what is missing', { skip, timeout: 60_000 }, async () => {
  await withLab({ hosts: ['a'], prefix: 'vgcu' }, async (l) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-cu-'));
    try {
      const config = path.join(dir, 'vigil.yaml');
      writeFileSync(config, configYaml(instanceYaml({ vrid: 93, priority: 100, vips: ['10.213.0.100/24'] })) + 'quorum:\n  provider: corosync\n');
      const child = l.spawn('a', 'env', [`VIGIL_COROSYNC_ADDON=${path.join(dir, 'missing.node')}`, process.execPath, VIGIL_MAIN, 'run', '-c', config, '--runtime-dir', path.join(dir, 'run')]);
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      assert.equal(code, 1, stderr);
      assert.match(stderr, /corosync client libraries not available/);
      const addrs = await l.exec('a', 'ip', ['-4', 'addr', 'show', 'dev', 'eth0']);
      assert.doesNotMatch(addrs.stdout, /10\.213\.0\.100/, 'no VIP was added');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
