/**
 * `vigil run` loads the quorum providers only for a config that has a quorum section
 * (src/cli/run.ts openQuorum, through importEagerly): the modules its static imports load
 * — what a VRRP-only daemon holds compiled in memory — are read from the compiled
 * dist/ (what node loads: type-only imports are gone there), following every static
 * `import`/`export ... from` and no dynamic import().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const DIST = fileURLToPath(new URL('../', import.meta.url));

/** The files (relative to dist/, "src/vrrp/router.js") that loading `entry` loads, itself included. */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = ts.createSourceFile(file, readFileSync(path.join(DIST, file), 'utf8'), ts.ScriptTarget.Latest);
    for (const statement of source.statements) {
      const spec = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier) ? statement.moduleSpecifier.text : undefined;
      if (spec?.startsWith('.')) visit(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
    }
  };
  visit(entry);
  return seen;
}

/** What a config without a quorum section never runs, so never loads. */
const QUORUM_ONLY = [/^src\/quorum\//, /^src\/daemon\/quorum-service\.js$/, /^src\/daemon\/corosync-quorum\.js$/, /^src\/daemon\/replay-store\.js$/, /^src\/native\/corosync\.js$/];

test('lazy services: vigil run statically loads no quorum module', () => {
  const loaded = staticClosure('src/cli/run.js');
  // The closure is really followed: the daemon, the router and the VRRP transport are in it.
  for (const f of ['src/daemon/daemon.js', 'src/vrrp/router.js', 'src/vrrp/io/transport.js']) assert.ok(loaded.has(f), `run.js loads ${f}`);
  assert.deepEqual([...loaded].filter((f) => QUORUM_ONLY.some((re) => re.test(f))).sort(), []);
});

test('lazy services: the quorum modules are what openQuorum loads', () => {
  // The list above names real modules: loading the vigil provider loads the engine and its transport.
  const quorum = staticClosure('src/daemon/quorum-service.js');
  for (const f of ['src/quorum/engine.js', 'src/quorum/io/transport.js', 'src/daemon/replay-store.js']) assert.ok(quorum.has(f), `quorum-service.js loads ${f}`);
  assert.ok(staticClosure('src/daemon/corosync-quorum.js').has('src/native/corosync.js'));
});
