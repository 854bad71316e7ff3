/**
 * The layer rule of README "Design", checked on the import graph of src/: nothing below
 * the daemon imports src/daemon, src/cli, src/lab or src/sim; the daemon imports none of
 * the notifiers, the monitors or the importer above it; src/base and src/os stay at
 * the bottom; the pure cores (src/vrrp and src/quorum outside their io/ folders, the
 * resource manager, rise/fall) import no I/O.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importGraph, isPure, layerViolations } from './support/import-graph.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('layers: src/ keeps the layer rule', () => {
  const edges = importGraph(ROOT);
  // The graph is really read: the router's own imports are in it.
  assert.ok(edges.some((e) => e.from === 'src/vrrp/router.ts' && e.to === 'src/vrrp/codec.ts'), 'the router imports the codec');
  assert.ok(edges.some((e) => e.from === 'src/vrrp/io/transport.ts' && e.to === 'src/native/index.ts'), 'the VRRP transport imports the addon');
  assert.deepEqual(layerViolations(edges), []);
});

test('layers: the checker finds each kind of violation', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vigil-layers-'));
  try {
    const put = (file: string, text: string): void => {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    };
    put('src/daemon/script-safety.ts', 'export const x = 1;\n');
    put('src/health/probes.ts', "import { x } from '../daemon/script-safety.js';\nexport const y = x;\n");
    put('src/quorum/engine.ts', "import { readFileSync } from 'node:fs';\nexport const z = readFileSync;\n");
    put('src/vrrp/router.ts', "// import { no } from '../daemon/comment.js';\nexport const s = \"from '../daemon/string.js'\";\nexport const d = () => import('../native/index.js');\n");
    put('src/base/brand.ts', "import { q } from '../quorum/engine.js';\nexport const b = q;\n");
    put('src/cli/main.ts', "import { x } from '../daemon/script-safety.js';\nexport const m = x;\n");
    put('src/monitor/dbus.ts', "import type { S } from '../daemon/daemon.js';\nexport type T = S;\n");
    put('src/daemon/daemon.ts', "import { n } from '../notify/notifiers.js';\nexport type S = typeof n;\n");
    put('src/events/stream.ts', "import { m } from '../monitor/dbus.js';\nexport const e = m;\n");
    put('src/config/notifiers.ts', "import { x } from '../daemon/script-safety.js';\nexport const c = x;\n");
    const found = layerViolations(importGraph(root));
    assert.deepEqual(found.sort(), [
      'src/base/brand.ts imports src/quorum/engine.ts: src/base/ imports nothing outside itself',
      'src/config/notifiers.ts imports src/daemon/script-safety.ts: a layer below the daemon may not import src/daemon/',
      'src/daemon/daemon.ts imports src/notify/notifiers.ts: src/daemon/ may not import src/notify/',
      'src/events/stream.ts imports src/monitor/dbus.ts: a layer below the daemon may not import src/monitor/',
      'src/health/probes.ts imports src/daemon/script-safety.ts: a layer below the daemon may not import src/daemon/',
      'src/quorum/engine.ts imports node:fs: a pure core imports only pure modules (no node: I/O, no packages)',
      'src/vrrp/router.ts imports src/native/index.ts: a pure core imports only pure modules',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('layers: the pure cores are the ones README names', () => {
  for (const f of ['src/vrrp/router.ts', 'src/vrrp/codec.ts', 'src/quorum/engine.ts', 'src/quorum/membership.ts', 'src/resources/manager.ts', 'src/health/rise-fall.ts']) assert.ok(isPure(f), f);
  for (const f of ['src/vrrp/io/transport.ts', 'src/quorum/io/transport.ts', 'src/quorum/io/authkey.ts', 'src/health/probes.ts', 'src/daemon/effect-pipeline.ts', 'src/notify/scripts.ts']) assert.ok(!isPure(f), f);
});
