/**
 * The shipped Grafana dashboard (packaging/grafana/vigil-dashboard.json): every query is
 * valid PromQL (checked by Debian's promtool as recording rules) and names only metrics
 * that src/monitor/prometheus.ts exports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './support/vectors.js';

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

const dashboard = JSON.parse(readFileSync(path.join(REPO_ROOT, 'packaging', 'grafana', 'vigil-dashboard.json'), 'utf8')) as { panels: Panel[] };
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const promtool = spawnSync('promtool', ['--version']).error ? 'promtool is not installed (Debian package prometheus)' : false;

test('every dashboard query is valid PromQL', { skip: promtool }, () => {
  assert.ok(exprs.length >= 10);
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-dash-'));
  try {
    const rules = ['groups:', '  - name: dashboard', '    rules:'];
    exprs.forEach((e, i) => rules.push(`      - record: dashboard_query_${i}`, `        expr: ${JSON.stringify(e.replace(/\$\w+/g, '.*'))}`));
    writeFileSync(path.join(dir, 'rules.yml'), `${rules.join('\n')}\n`);
    const r = spawnSync('promtool', ['check', 'rules', path.join(dir, 'rules.yml')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dashboard uses only metrics vigil exports', () => {
  const source = readFileSync(path.join(REPO_ROOT, 'src', 'monitor', 'prometheus.ts'), 'utf8');
  const exported = new Set([...source.matchAll(/'((?:vigil|process|nodejs)_[a-z_]+)'/g)].map((m) => m[1]));
  for (const e of exprs) {
    for (const m of e.matchAll(/\b((?:vigil|process|nodejs)_[a-z_]+)\b/g)) assert.ok(exported.has(m[1] as string), `${m[1]} in "${e}" is not exported`);
  }
});
