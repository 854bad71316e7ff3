/**
 * `vigil run` loads the quorum providers only for a config that has a quorum section
 * (src/cli/run.ts openQuorum), the resource agents and the health checker only for one
 * with resources or health checks (src/daemon/resource-service.ts loadParts): the modules its static imports load
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
/** What a config without resources and health checks never runs (resource-service.ts loadParts); the agents' common.js is the notify scripts' too. */
const RESOURCES_ONLY = [/^src\/resources\/agents\/(?!common\.js$)/, /^src\/health\/(checker|probes)\.js$/];

test('lazy services: vigil run statically loads no quorum module, no resource agent, no health checker', () => {
  const loaded = staticClosure('src/cli/run.js');
  // The closure is really followed: the daemon, the router, the VRRP transport and the resource service are in it.
  for (const f of ['src/daemon/daemon.js', 'src/vrrp/router.js', 'src/vrrp/io/transport.js', 'src/daemon/resource-service.js']) assert.ok(loaded.has(f), `run.js loads ${f}`);
  assert.deepEqual([...loaded].filter((f) => QUORUM_ONLY.some((re) => re.test(f))).sort(), []);
  assert.deepEqual([...loaded].filter((f) => RESOURCES_ONLY.some((re) => re.test(f))).sort(), []);
});

test('lazy services: the patterns name what openQuorum and loadParts load', () => {
  // The list above names real modules: loading the vigil provider loads the engine and its transport.
  const quorum = staticClosure('src/daemon/quorum-service.js');
  for (const f of ['src/quorum/engine.js', 'src/quorum/io/transport.js', 'src/daemon/replay-store.js']) assert.ok(quorum.has(f), `quorum-service.js loads ${f}`);
  assert.ok(staticClosure('src/daemon/corosync-quorum.js').has('src/native/corosync.js'));
  // And the resource patterns name what loadParts loads: the agents, the checker and its probes.
  const resources = [...staticClosure('src/resources/agents/index.js'), ...staticClosure('src/health/checker.js')];
  for (const f of ['src/resources/agents/index.js', 'src/health/checker.js', 'src/health/probes.js']) assert.ok(resources.includes(f) && RESOURCES_ONLY.some((re) => re.test(f)), f);
});
