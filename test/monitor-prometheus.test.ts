/**
 * The Prometheus endpoint (src/monitor/prometheus.ts) against real parts: a real HTTP
 * scrape of the monitor on loopback, Debian's `promtool check metrics` on what it serves,
 * real VirtualRouters going through a failover (TestHost), and the textfile mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/daemon/logger.js';
import { PrometheusMonitor, CONTENT_TYPE } from '../src/monitor/prometheus.js';
import { TestHost } from './support/monitor-host.js';

const log = createLogger('text', () => undefined);

function promtoolSkip(): string | false {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error ? 'promtool is not installed (Debian package prometheus)' : false;
}

/** promtool's verdict on an exposition: '' when clean, else its complaints. */
function promtoolCheck(text: string): string {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return r.status === 0 ? '' : `${r.stdout}${r.stderr}`.trim() || `promtool exited ${r.status}`;
}

/** name{labels} -> value, for every sample. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The metric families declared as counters. */
function counterFamilies(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) counter$/gm)) out.add(m[1] as string);
  return out;
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
  return res.text();
}

test('a scrape through a failover: promtool-clean, the state gauge follows, counters only increase and carry no state label', { skip: promtoolSkip() }, async () => {
  const host = new TestHost([
    { name: 'gw', interface: 'lo', vrid: 51, priority: 150 },
    { name: 'db', interface: 'lo', vrid: 52, priority: 100 },
  ]);
  host.becomeMaster('gw');
  host.becomeMaster('db');
  const m = await PrometheusMonitor.start({ listen: { host: '127.0.0.1', port: 0 }, textfileIntervalMs: 15_000 }, host, log);
  try {
    const port = m.address?.port;
    assert.ok(port);
    const before = await scrape(port);
    assert.equal(promtoolCheck(before), '', 'promtool check metrics is clean');
    const s1 = samples(before);
    assert.equal(s1.get('vigil_vrrp_state{iname="gw",intf="lo",vrid="51",family="ipv4"}'), 2, 'master is 2, as keepalived_vrrp_state');
    assert.equal(s1.get('vigil_vrrp_instance_state{iname="gw",intf="lo",vrid="51",family="ipv4",state="master"}'), 1);
    assert.equal(s1.get('vigil_vrrp_master_transitions_total{iname="gw",intf="lo",vrid="51",family="ipv4"}'), 1);
    assert.equal(s1.get('vigil_vrrp_priority{iname="gw",intf="lo",vrid="51",family="ipv4"}'), 150);

    // Failover: a higher-priority router appears; gw steps down, then takes over again.
    host.routers.get('gw')!.rejected.ttl = 3;
    host.hearHigher('gw', '10.213.0.9', 200);
    const during = await scrape(port);
    assert.equal(promtoolCheck(during), '');
    const s2 = samples(during);
    assert.equal(s2.get('vigil_vrrp_state{iname="gw",intf="lo",vrid="51",family="ipv4"}'), 1, 'backup is 1');
    assert.equal(s2.get('vigil_vrrp_master_releases_total{iname="gw",intf="lo",vrid="51",family="ipv4"}'), 1);
    assert.equal(s2.get('vigil_vrrp_adverts_dropped_total{iname="gw",intf="lo",vrid="51",family="ipv4",reason="ttl"}'), 3);
    assert.equal(s2.get('vigil_vrrp_advertisements_received_total{iname="gw",intf="lo",vrid="51",family="ipv4"}'), 1);
    const t = s2.get('vigil_vrrp_last_transition_timestamp_seconds{iname="gw",intf="lo",vrid="51",family="ipv4"}');
    assert.ok(t !== undefined && Math.abs(t - Date.now() / 1000) < 60, 'last transition is a recent wall-clock time');
    host.becomeMaster('gw');
    const after = await scrape(port);
    const s3 = samples(after);
    assert.equal(s3.get('vigil_vrrp_master_transitions_total{iname="gw",intf="lo",vrid="51",family="ipv4"}'), 2);

    // Every counter sample of one scrape is in the next, never smaller; none has a state label.
    const counters = counterFamilies(after);
    assert.ok(counters.size > 10);
    for (const [earlier, later] of [[s1, s2], [s2, s3]] as const) {
      for (const [key, value] of earlier) {
        const family = key.split('{')[0] as string;
        if (!counters.has(family)) continue;
        assert.ok(!/[{,]state="/.test(key), `${key}: a counter with a state label`);
        const next = later.get(key);
        assert.ok(next !== undefined, `${key} disappeared`);
        assert.ok(next >= value, `${key} went from ${value} to ${next}`);
      }
    }
    assert.match(after, /^process_resident_memory_bytes \d+$/m);
    const notFound = await fetch(`http://127.0.0.1:${port}/other`);
    assert.equal(notFound.status, 404);
  } finally {
    await m.stop();
  }
});

test('textfile mode writes a promtool-clean .prom file by rename, and keeps it fresh', { skip: promtoolSkip() }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-prom-'));
  try {
    const host = new TestHost([{ name: 'gw', interface: 'lo', vrid: 51, priority: 150 }]);
    const file = path.join(dir, 'vigil.prom');
    const m = await PrometheusMonitor.start({ textfile: file, textfileIntervalMs: 50 }, host, log);
    try {
      const first = readFileSync(file, 'utf8');
      assert.equal(promtoolCheck(first), '');
      assert.match(first, /^vigil_vrrp_state\{iname="gw",intf="lo",vrid="51",family="ipv4"\} 0$/m);
      host.becomeMaster('gw');
      const deadline = Date.now() + 5000;
      while (!/^vigil_vrrp_state\{[^}]*\} 2$/m.test(readFileSync(file, 'utf8'))) {
        assert.ok(Date.now() < deadline, 'the textfile shows the new state');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(m.textfileWrites >= 2);
      assert.equal(m.textfileErrors, 0);
    } finally {
      await m.stop();
    }
    assert.deepEqual(readdirSync(dir), ['vigil.prom'], 'no temporary file is left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a port already in use is an error that names the address', async () => {
  const host = new TestHost([{ name: 'gw', interface: 'lo', vrid: 51, priority: 150 }]);
  const a = await PrometheusMonitor.start({ listen: { host: '127.0.0.1', port: 0 }, textfileIntervalMs: 15_000 }, host, log);
  try {
    const port = a.address?.port as number;
    await assert.rejects(PrometheusMonitor.start({ listen: { host: '127.0.0.1', port }, textfileIntervalMs: 15_000 }, host, log), new RegExp(`prometheus: cannot listen on 127.0.0.1:${port}: .*EADDRINUSE`));
  } finally {
    await a.stop();
  }
});
