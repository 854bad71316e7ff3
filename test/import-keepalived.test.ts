/**
 * `vigil import-keepalived`: the converter (the reader is tested in
 * import-keepalived-reader.test.ts), on fixtures written
 * after keepalived's doc/samples (test/fixtures/keepalived/) and on the configs the interop
 * tests give keepalived. Every output is checked by vigil's own loader (src/config), as
 * `vigil check-config` does; outputs with `notify:` / `notifiers:` (keys the loader learns
 * on the notify branch) are checked by shape, and by the loader too once it accepts them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { formatIssue, parseConfig } from '../src/config/load.js';
import { importKeepalived, importKeepalivedCommand } from '../src/cli/import-keepalived.js';
import { keepalivedConf } from '../src/lab/keepalived.js';
import { GLOBAL_UNSUPPORTED, TOP_UNSUPPORTED } from '../src/keepalived/convert.js';
import { GARP_KEYS, INSTANCE_UNSUPPORTED, NOTIFY_KEYS } from '../src/keepalived/instance.js';

/** test/fixtures/keepalived, from dist/test. */
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'keepalived');

function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

interface Imported {
  readonly code: number;
  readonly yaml: string;
  readonly doc: Record<string, unknown>;
  readonly warnings: string[];
  readonly stderr: string;
}

function run(file: string, configId?: string): Imported {
  const o = importKeepalived(file, configId);
  const yaml = o.yaml ?? '';
  const doc = (yaml === '' ? {} : parseYaml(yaml)) as Record<string, unknown>;
  const warnings = o.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('vigil import-keepalived:'));
  return { code: o.code, yaml, doc, warnings, stderr: o.stderr };
}

/** keepalived.conf text through a temporary file. */
function runText(text: string, configId?: string): Imported {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-import-'));
  try {
    const file = path.join(dir, 'keepalived.conf');
    writeFileSync(file, text);
    return run(file, configId);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether vigil's loader knows `notify:` and `notifiers:` yet (they come with the notify branch). */
const loaderKnowsNotify = ((): boolean => {
  const r = parseConfig(
    'instances:\n  - { name: a, interface: eth0, vrid: 1, virtual_ips: [10.213.0.1/24], notify: { master: /usr/bin/true } }\nnotifiers: { script_timeout: 30s }\n',
    'probe.yaml',
  );
  return r.ok;
})();

/** The output passes vigil's loader (what `vigil check-config` runs). */
function assertValid(i: Imported, what: string): void {
  const r = parseConfig(i.yaml, `${what}.yaml`);
  assert.ok(r.ok, `${what}: the output does not pass check-config:\n${r.ok ? '' : r.errors.map(formatIssue).join('\n')}\n${i.yaml}`);
}

/** Output with notify keys: the loader when it knows them; the keys' shape is asserted by the caller either way. */
function assertValidOrNotify(i: Imported, what: string): void {
  if (loaderKnowsNotify) {
    assertValid(i, what);
    return;
  }
  const r = parseConfig(i.yaml, `${what}.yaml`);
  if (r.ok) return;
  const others = r.errors.filter((e) => !/\.notify$|^notifiers$/.test(e.path));
  assert.deepEqual(others.map(formatIssue), [], `${what}: problems other than the notify keys`);
}

type Rec = Record<string, unknown>;
function instances(doc: Rec): Rec[] {
  return doc['instances'] as Rec[];
}
function instance(doc: Rec, name: string): Rec {
  const i = instances(doc).find((x) => x['name'] === name);
  assert.ok(i, `no instance ${name}`);
  return i;
}

/** "FILE:LINE: keyword" of each warning, FILE relative to the fixtures. */
function warned(i: Imported): string[] {
  return i.warnings.map((w) => {
    const m = /^(.*?):(\d+): ([^:]+):/.exec(w);
    return m ? `${path.relative(FIXTURES, m[1] ?? '')}:${m[2]}: ${m[3]}` : w;
  });
}

// ---------------------------------------------------------------------------------------
// The converter, on the fixtures

test('vrrp-basic (doc/samples keepalived.conf.vrrp): VRRPv2 instances, passwords, labels; e-mail and brd warned; valid', () => {
  const i = run(fixture('vrrp-basic.conf'));
  assert.equal(i.code, 0);
  assertValid(i, 'vrrp-basic');
  const vi1 = instance(i.doc, 'VI_1');
  assert.deepEqual(
    { ...vi1 },
    {
      name: 'VI_1',
      interface: 'eth0',
      vrid: 51,
      version: 2,
      priority: 100,
      advert_interval: '1s',
      virtual_ips: ['10.213.1.16', '10.213.1.17', { address: '10.213.1.18/24', scope: 'link', label: 'eth0:vip', dev: 'eth0' }],
      authentication: { type: 'pass', password: '1111' },
      garp: { master_delay: '10s' },
    },
  );
  assert.deepEqual(instance(i.doc, 'VI_3')['authentication'], { type: 'pass', password: 'longer_t' });
  assert.deepEqual(instance(i.doc, 'VI_3')['virtual_ips'], ['10.213.2.13']);
  assert.deepEqual(warned(i), [
    'vrrp-basic.conf:4: notification_email',
    'vrrp-basic.conf:7: notification_email_from',
    'vrrp-basic.conf:8: smtp_server',
    'vrrp-basic.conf:9: smtp_connect_timeout',
    'vrrp-basic.conf:17: smtp_alert',
    'vrrp-basic.conf:29: virtual_ipaddress',
    'vrrp-basic.conf:36: smtp_alert',
    'vrrp-basic.conf:42: virtual_ipaddress',
    'vrrp-basic.conf:52: auth_pass',
  ]);
  // Each warning is also a comment in the output, at its instance.
  assert.match(i.yaml, /- name: VI_1\n {4}# .*vrrp-basic\.conf:17: smtp_alert: not supported: vigil sends no e-mail/);
  assert.match(i.yaml, /# .*vrrp-basic\.conf:42: virtual_ipaddress 10\.213\.1\.14 brd 10\.213\.1\.255: brd 10\.213\.1\.255: not supported/);
});

test('localcheck (doc/samples keepalived.conf.vrrp.localcheck): vrrp_scripts become health checks, one per weight; no warnings; valid', () => {
  const i = run(fixture('localcheck.conf'));
  assert.equal(i.code, 0);
  assert.deepEqual(i.warnings, []);
  assertValid(i, 'localcheck');
  const checks = i.doc['health_checks'] as Rec[];
  const byName = new Map(checks.map((c) => [c['name'], c]));
  assert.deepEqual([...byName.keys()], ['chk_sshd', 'chk_haproxy', 'chk_http_port.w-2', 'chk_http_port.w-10', 'chk_api']);
  assert.deepEqual(byName.get('chk_sshd'), { name: 'chk_sshd', type: 'process', process: 'sshd', interval: '2s', timeout: '2s', rise: 2, fall: 2, weight: -4, instances: ['VI_1'] });
  assert.deepEqual(byName.get('chk_haproxy')?.['instances'], ['VI_1', 'VI_2']);
  assert.equal(byName.get('chk_haproxy')?.['weight'], 2);
  assert.deepEqual(byName.get('chk_http_port.w-10'), { name: 'chk_http_port.w-10', type: 'tcp', address: '127.0.0.1:80', interval: '1s', timeout: '1s', weight: -10, instances: ['VI_2'] });
  assert.deepEqual(byName.get('chk_api'), {
    name: 'chk_api',
    type: 'script',
    script: ['/usr/lib/nagios/plugins/check_http', '-H', '127.0.0.1', '-u', '/health check'],
    interval: '500ms',
    timeout: '3s',
    weight: 0,
    instances: ['VI_1'],
  });
  assert.equal(instance(i.doc, 'VI_2')['advert_interval'], '250ms');
  assert.deepEqual(instance(i.doc, 'VI_1')['track_interfaces'], [{ name: 'eth1', weight: 2 }, { name: 'eth2', weight: -2 }, 'eth3']);
  assert.match(i.yaml, /chk_unused .*tracked by no instance/);
});

test('sync-notify (doc/samples keepalived.conf.vrrp.sync / .scripts): sync groups and every notify_* as vigil notify keys', () => {
  const i = run(fixture('sync-notify.conf'));
  assert.equal(i.code, 0);
  assertValidOrNotify(i, 'sync-notify');
  assert.deepEqual(instance(i.doc, 'VI_1')['notify'], {
    master: '/usr/bin/true',
    backup: '/usr/bin/false',
    fault: '/usr/bin/logger FAULT VI_1',
    stop: '/usr/bin/sync',
    deleted: '/usr/bin/echo',
    master_rx_lower_pri: '/usr/bin/date',
    any: '/usr/bin/env',
  });
  assert.deepEqual(i.doc['sync_groups'], [
    { name: 'G1', instances: ['VI_1', 'VI_2'], notify: { master: '/usr/bin/true', backup: '/usr/bin/logger group-backup', any: '/usr/bin/env' } },
    { name: 'G2', instances: ['VI_3'] },
  ]);
  assert.deepEqual(warned(i), ['sync-notify.conf:14: group']);
  // An argument with a blank (keepalived's single quotes) cannot be carried by "PATH ARG ...".
  const spaced = runText("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 10.213.0.1 }\n notify_master \"/usr/bin/logger 'two words'\" root\n}\n");
  assert.deepEqual(instance(spaced.doc, 'A')['notify'], { master: '/usr/bin/logger' });
  assert.equal(spaced.warnings.length, 2);
  assert.match(spaced.warnings[0] ?? '', /:5: notify_master: the arguments "two words" hold blanks/);
  assert.match(spaced.warnings[1] ?? '', /:5: notify_master: runs as root in keepalived/);
  // Without the notify lines, the same file passes the loader as it is today.
  const text = readFileSync(fixture('sync-notify.conf'), 'utf8').split('\n').filter((l) => !/^\s*notify/.test(l)).join('\n');
  const plain = runText(text);
  assert.equal(plain.code, 0);
  assertValid(plain, 'sync-notify without notify lines');
  assert.doesNotMatch(plain.yaml, /notify/);
});

test('conditional (doc/samples keepalived.conf.conditional_conf): one file, two nodes: -i high and -i low differ where the @ lines say', () => {
  const high = run(fixture('conditional.conf'), 'high');
  const low = run(fixture('conditional.conf'), 'low');
  for (const [i, what] of [[high, 'high'], [low, 'low']] as const) {
    assert.equal(i.code, 0, what);
    assert.deepEqual(i.warnings, [], what);
    assertValid(i, `conditional-${what}`);
  }
  const h = instance(high.doc, 'VI_0');
  const l = instance(low.doc, 'VI_0');
  assert.equal(h['priority'], 170);
  assert.equal(l['priority'], 85);
  assert.deepEqual(h['unicast'], { source: '10.213.0.1', peers: ['10.213.0.2'] });
  assert.deepEqual(l['unicast'], { source: '10.213.0.2', peers: ['10.213.0.1'] });
  assert.deepEqual(h['virtual_ips'], ['10.213.3.1/24', '10.213.3.2/24', '10.213.3.3/24']);
  assert.equal(h['interface'], 'eth0');
  assert.equal(h['vmac'], true);
  // From the included conf.d files: the global garp default and the script.
  assert.deepEqual(h['garp'], { master_delay: '0s' });
  const checks = (i: Imported): unknown => (i.doc['health_checks'] as Rec[]).map((c) => c['script']);
  assert.deepEqual(checks(high), [['/etc/keepalived/scripts/check_high.sh']]);
  assert.deepEqual(checks(low), [['/etc/keepalived/scripts/check_low.sh']]);
});

test('globals: global_defs defaults reach every instance (version, strict, garp, higher_prio_send_advert); FIFO, D-Bus, SNMP, script_user become notifiers', () => {
  const i = run(fixture('globals.conf'));
  assert.equal(i.code, 0);
  assertValidOrNotify(i, 'globals');
  assert.deepEqual(
    { ...instance(i.doc, 'gw') },
    {
      name: 'gw',
      interface: 'eth0',
      vrid: 20,
      version: 3,
      priority: 150,
      advert_interval: '100ms',
      accept: false,
      virtual_ips: ['10.213.0.100/24'],
      garp: { master_repeat: 2, master_refresh: '60s', interval: '1ms' },
      higher_prio_send_advert: false,
    },
  );
  assert.deepEqual(i.doc['global'], { realtime_priority: 10 });
  assert.deepEqual(i.doc['notifiers'], {
    script_user: 'nobody',
    fifo: { path: '/run/keepalived/notify.fifo', format: 'keepalived', script: '/usr/bin/cat', priority_changes: true },
    dbus: { bus: 'system' },
    snmp: { keepalived_mib: true, traps: true, agentx: 'tcp:127.0.0.1:705' },
  });
  assert.deepEqual(warned(i), ['globals.conf:20: vrrp_mcast_group4']);
});

test('ipv6-mixed: IPv6 is VRRPv3, a VIP of the other family moves to excluded_ips, named VMAC; valid', () => {
  const i = run(fixture('ipv6-mixed.conf'));
  assert.equal(i.code, 0);
  assertValid(i, 'ipv6-mixed');
  const v6 = instance(i.doc, 'v6');
  assert.equal(v6['version'], 3);
  assert.deepEqual(v6['virtual_ips'], ['fd13::60/64', { address: 'fe80::60/64', scope: 'link' }]);
  assert.deepEqual(v6['excluded_ips'], [{ address: 'fd13::61/64', dev: 'eth1' }, '10.213.0.60/24']);
  assert.deepEqual(v6['vmac'], { name: 'vrrp6.60' });
  assert.deepEqual(warned(i), ['ipv6-mixed.conf:12: virtual_ipaddress', 'ipv6-mixed.conf:7: version']);
});

test('state-master: nopreempt and preempt_delay as keepalived applies them (cleared by state MASTER, delay cleared by nopreempt)', () => {
  const i = run(fixture('state-master.conf'));
  assert.equal(i.code, 0);
  assertValid(i, 'state-master');
  assert.equal(instance(i.doc, 'A')['preempt'], undefined);
  assert.equal(instance(i.doc, 'B')['preempt'], false);
  assert.equal(instance(i.doc, 'B')['preempt_delay'], undefined);
  assert.equal(instance(i.doc, 'C')['preempt_delay'], '2500ms');
  assert.deepEqual(warned(i), ['state-master.conf:5: nopreempt', 'state-master.conf:14: preempt_delay']);
  // Priority 255 with state BACKUP: vigil takes over at once, keepalived waits: warned.
  const owner = runText('vrrp_instance O {\n state BACKUP\n interface eth0\n virtual_router_id 9\n priority 255\n virtual_ipaddress { 10.213.0.9 }\n}\n');
  assert.equal(owner.warnings.length, 1);
  assert.match(owner.warnings[0] ?? '', /:2: state: at priority 255 vigil becomes master at once/);
});

test('routes: static and virtual routes, rules and addresses are warned about, the instance is kept; valid', () => {
  const i = run(fixture('routes.conf'));
  assert.equal(i.code, 0);
  assertValid(i, 'routes');
  assert.deepEqual(warned(i), ['routes.conf:3: static_ipaddress', 'routes.conf:6: static_routes', 'routes.conf:9: static_rules', 'routes.conf:20: virtual_routes', 'routes.conf:24: virtual_rules']);
  assert.match(i.yaml, /# .*routes\.conf:3: static_ipaddress \{ \.\.\. \}: not supported/);
});

test('lvs-only (the LVS samples): no vrrp_instance, nothing to run: exit 1 with the reason; virtual_server warned', () => {
  const i = run(fixture('lvs-only.conf'));
  assert.equal(i.code, 1);
  assert.deepEqual(warned(i), ['lvs-only.conf:6: virtual_server']);
  assert.match(i.stderr, /no vrrp_instance that vigil can run/);
});

test('instances vigil cannot run are left out with a warning, and their sync groups and checks follow', () => {
  const i = runText(
    [
      'vrrp_script s { script /bin/true }',
      'vrrp_instance NOVIP { interface eth0\n virtual_router_id 1\n track_script { s } }',
      'vrrp_instance NOIF { virtual_router_id 2\n virtual_ipaddress { 10.213.0.2 } }',
      'vrrp_instance OK { interface eth0\n virtual_router_id 3\n virtual_ipaddress { 10.213.0.3 } }',
      'vrrp_sync_group G { group { NOVIP OK } }',
      'vrrp_sync_group H { group { NOIF } }',
    ].join('\n'),
  );
  assert.equal(i.code, 0);
  assertValid(i, 'dropped');
  assert.deepEqual(instances(i.doc).map((x) => x['name']), ['OK']);
  assert.deepEqual(i.doc['sync_groups'], [{ name: 'G', instances: ['OK'] }]);
  assert.deepEqual(i.doc['health_checks'] ?? [], []);
  assert.equal(i.warnings.filter((w) => /instance left out/.test(w)).length, 2);
  assert.equal(i.warnings.filter((w) => /sync group left out/.test(w)).length, 1);
});

test('vrrp_track_process becomes a process check (quorum = min_count), what it cannot express warned; track_process weights per instance', () => {
  const i = runText(
    [
      'vrrp_track_process haproxy {',
      '  process haproxy',
      '  quorum 2',
      '  weight -30',
      '  delay 2',
      '  full_command',
      '}',
      'vrrp_instance A {',
      '  interface eth0',
      '  virtual_router_id 5',
      '  virtual_ipaddress { 10.213.0.5/24 }',
      '  track_process {',
      '    haproxy',
      '  }',
      '}',
      'vrrp_instance B {',
      '  interface eth0',
      '  virtual_router_id 6',
      '  virtual_ipaddress { 10.213.0.6/24 }',
      '  track_process {',
      '    haproxy weight 0',
      '    nginx',
      '  }',
      '}',
    ].join('\n'),
  );
  assert.equal(i.code, 0);
  assertValid(i, 'track-process');
  assert.deepEqual(i.doc['health_checks'], [
    { name: 'haproxy.w-30', type: 'process', process: 'haproxy', min_count: 2, interval: '1s', weight: -30, instances: ['A'] },
    { name: 'haproxy.w0', type: 'process', process: 'haproxy', min_count: 2, interval: '1s', weight: 0, instances: ['B'] },
  ]);
  assert.deepEqual(
    i.warnings.map((w) => w.replace(/^.*?:(\d+): ([^:]+):.*$/, '$1 $2')),
    ['22 track_process', '5 delay'],
  );
  assert.match(i.warnings[0] ?? '', /no vrrp_track_process is named nginx/);
});

// ---------------------------------------------------------------------------------------
// The configs the interop tests give keepalived

test('the interop tests\' keepalived configs (VRRPv3 100 ms; VRRPv2 1 s with a password) import without warnings to what vigil runs beside them', () => {
  const cases = [
    { version: 3 as const, vrid: 61, advertInt: 0.1, interval: '100ms', password: undefined },
    { version: 2 as const, vrid: 62, advertInt: 1, interval: '1s', password: 'ka2vigil' },
  ];
  for (const c of cases) {
    const conf = keepalivedConf('vigil_interop', { vrid: c.vrid, priority: 200, version: c.version, advertInt: c.advertInt, vips: ['10.213.0.100/24'], ...(c.password !== undefined ? { password: c.password } : {}) });
    const i = runText(conf);
    assert.equal(i.code, 0);
    assert.deepEqual(i.warnings, [], conf);
    assertValid(i, `interop-v${c.version}`);
    assert.deepEqual(instances(i.doc), [
      {
        name: 'VI_1',
        interface: 'eth0',
        vrid: c.vrid,
        version: c.version,
        priority: 200,
        advert_interval: c.interval,
        virtual_ips: ['10.213.0.100/24'],
        ...(c.password !== undefined ? { authentication: { type: 'pass', password: c.password } } : {}),
        garp: { master_delay: '0s' },
      },
    ]);
  }
});

// ---------------------------------------------------------------------------------------
// The command

test('vigil import-keepalived: -o writes the file, warnings go to stderr, usage errors exit 2', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-import-cli-'));
  try {
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), readStdin: async () => '' };
    const target = path.join(dir, 'vigil.yaml');
    assert.equal(await importKeepalivedCommand.run([fixture('routes.conf'), '-o', target, '-i', 'x'], io), 0);
    assert.equal(out, '');
    assert.equal(err.split('\n').filter((l) => l !== '').length, 5);
    assert.match(readFileSync(target, 'utf8'), /^# vigil\.yaml imported from .*routes\.conf by vigil import-keepalived \(config-id x\)/);
    assert.equal(await importKeepalivedCommand.run([fixture('localcheck.conf')], io), 0);
    assert.match(out, /health_checks:/);
    // Without -i, conditional lines follow the host name, and stderr says so.
    err = '';
    out = '';
    assert.equal(await importKeepalivedCommand.run([fixture('conditional.conf')], io), 0);
    assert.match(err, /note: 10 conditional \(@\) lines decided for config-id "[^"]+", this host's name/);
    err = '';
    assert.equal(await importKeepalivedCommand.run([fixture('conditional.conf'), '-i', 'low'], io), 0);
    assert.equal(err, '');
    err = '';
    assert.equal(await importKeepalivedCommand.run([], io), 2);
    assert.equal(await importKeepalivedCommand.run(['a', 'b'], io), 2);
    assert.equal(await importKeepalivedCommand.run(['--nope', 'a'], io), 2);
    assert.match(err, /Usage: vigil import-keepalived FILE/);
    err = '';
    assert.equal(await importKeepalivedCommand.run([path.join(dir, 'absent.conf')], io), 1);
    assert.match(err, /absent\.conf:0: cannot read .*absent\.conf/);
    mkdirSync(path.join(dir, 'sub'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every fixture: exit 0 with output that check-config accepts (notify keys aside), or exit 1 with a reason', () => {
  const tally = { clean: 0, warnings: 0, failed: 0 };
  for (const name of readdirSync(FIXTURES).filter((n) => n.endsWith('.conf')).sort()) {
    for (const id of ['high', 'low']) {
      const i = run(fixture(name), id);
      if (i.code === 1) {
        assert.match(i.stderr, /vigil import-keepalived: .*: /, name);
        if (id === 'high') tally.failed++;
        continue;
      }
      assert.equal(i.code, 0, name);
      assertValidOrNotify(i, `${name}-${id}`);
      if (id === 'high') tally[i.warnings.length === 0 ? 'clean' : 'warnings']++;
    }
  }
  assert.deepEqual(tally, { clean: 2, warnings: 6, failed: 3 });
});

test('docs/migrating-from-keepalived.md names every keyword the converter has a rule for', () => {
  const doc = readFileSync(path.join(FIXTURES, '..', '..', '..', 'docs', 'migrating-from-keepalived.md'), 'utf8');
  const named = new Set([...doc.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]));
  const keywords = [
    ...Object.keys(GLOBAL_UNSUPPORTED),
    ...Object.keys(TOP_UNSUPPORTED),
    ...Object.keys(INSTANCE_UNSUPPORTED),
    ...Object.keys(GARP_KEYS),
    ...Object.keys(GARP_KEYS).map((k) => `vrrp_${k}`),
    ...Object.keys(NOTIFY_KEYS),
  ];
  assert.deepEqual(keywords.filter((k) => !named.has(k)), []);
});

// keepalived's own doc/samples, when a copy is at hand (VIGIL_KEEPALIVED_SAMPLES=DIR): the
// counts go to the log; every sample must either import to a valid config or fail with a
// reason. The samples name scripts of the machine they were written for
// (/usr/local/bin/vrrp.sh): a loader that checks scripts finds them missing here, which
// says nothing about the conversion, so that one finding is set aside.
const samples = process.env['VIGIL_KEEPALIVED_SAMPLES'];
test('keepalived doc/samples (VIGIL_KEEPALIVED_SAMPLES)', { skip: samples === undefined ? 'VIGIL_KEEPALIVED_SAMPLES is not set (a copy of keepalived\'s doc/samples)' : false }, (t) => {
  const dir = samples ?? '';
  const tally = { clean: [] as string[], warnings: [] as string[], failed: [] as string[] };
  for (const name of readdirSync(dir).filter((n) => n.startsWith('keepalived.conf')).sort()) {
    const i = run(path.join(dir, name), 'high');
    if (i.code === 1) tally.failed.push(name);
    else {
      const r = parseConfig(i.yaml, name);
      const problems = r.ok ? [] : r.errors.filter((e) => !/cannot run: \S+: ENOENT/.test(e.message) && (loaderKnowsNotify || !/\.notify$|^notifiers$/.test(e.path)));
      assert.deepEqual(problems.map(formatIssue), [], `${name}: the output does not pass check-config`);
      (i.warnings.length === 0 ? tally.clean : tally.warnings).push(name);
    }
  }
  t.diagnostic(`clean ${tally.clean.length} (${tally.clean.join(', ')}); with warnings ${tally.warnings.length} (${tally.warnings.join(', ')}); not at all ${tally.failed.length} (${tally.failed.join(', ')})`);
});
