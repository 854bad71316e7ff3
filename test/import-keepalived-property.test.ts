/**
 * A property of `vigil import-keepalived`: for any keepalived.conf made of the keywords it
 * knows (with good and bad values, duplicates, unknown keywords, families mixed), it
 * either converts, and the output passes vigil's loader (`notify:` / `notifiers:` aside
 * until the loader knows them), or it exits 1 with a reason; it never throws, and every
 * warning is `FILE:LINE: keyword: why` with LINE in the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { formatIssue, parseConfig } from '../src/config/load.js';
import { importKeepalived } from '../src/cli/import-keepalived.js';
import { checkProperty } from './support/property.js';
import { parse as parseYaml } from 'yaml';
import { emitYaml, scalar, YMap, YSeq } from '../src/keepalived/yaml-out.js';

const pick = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);
const optional = (a: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.option(a, { nil: '' });
const lines = (a: fc.Arbitrary<string>, max = 4): fc.Arbitrary<string> => fc.array(a, { maxLength: max }).map((l) => l.join('\n'));

const ADDRESSES = ['10.213.0.1', '10.213.0.2/24', '10.213.0.2', '10.213.1.5/16', 'fd13::1/64', 'fd13::2', 'fe80::7/64', '10.213.0.300', 'not-an-ip'];
const vip = fc
  .tuple(pick(...ADDRESSES), pick('', 'dev eth1', 'dev eth0', 'label eth0:1', 'label wrong', 'scope link', 'scope nowhere', 'brd 10.213.0.255', 'dev bad/name', 'label eth1:x dev eth1'))
  .map(([a, o]) => `    ${a} ${o}`.trimEnd());
const name = pick('VI_1', 'VI_2', 'VI 3', 'gw', 'VI_1', 'x'.repeat(70));
const script = pick('chk_a', 'chk_b', 'missing');

const instanceLine = fc.oneof(
  pick('  interface eth0', '  interface eth1', '  interface bond0.100', '  interface a/b'),
  fc.integer({ min: -1, max: 300 }).map((n) => `  virtual_router_id ${n}`),
  fc.integer({ min: -1, max: 300 }).map((n) => `  priority ${n}`),
  pick('  advert_int 1', '  advert_int 0.1', '  advert_int 0.005', '  advert_int 3.7', '  advert_int 50', '  advert_int x'),
  pick('  version 2', '  version 3', '  version 4'),
  pick('  state MASTER', '  state BACKUP', '  state FOO'),
  pick('  nopreempt', '  preempt', '  preempt_delay 2.5', '  preempt_delay 0.0001', '  accept', '  no_accept', '  strict_mode', '  strict_mode off'),
  lines(vip).map((v) => `  virtual_ipaddress {\n${v}\n  }`),
  lines(vip, 2).map((v) => `  virtual_ipaddress_excluded {\n${v}\n  }`),
  pick(...ADDRESSES).map((a) => `  unicast_src_ip ${a}`),
  lines(pick(...ADDRESSES).map((a) => `    ${a}`)).map((p) => `  unicast_peer {\n${p}\n  }`),
  pick('  use_vmac', '  use_vmac vrrp.9', '  use_vmac bad/name', '  vmac_xmit_base'),
  fc.tuple(pick('PASS', 'AH', 'HMAC'), fc.string({ minLength: 0, maxLength: 12 }).filter((p) => /^[A-Za-z0-9]*$/.test(p))).map(([t, p]) => `  authentication {\n    auth_type ${t}\n    auth_pass ${p}\n  }`),
  lines(fc.tuple(pick('eth0', 'eth1', 'eth2', 'a/b'), fc.option(fc.integer({ min: -300, max: 300 }), { nil: undefined })).map(([i, w]) => `    ${i}${w === undefined ? '' : ` weight ${w}`}`)).map((t) => `  track_interface {\n${t}\n  }`),
  lines(fc.tuple(script, fc.option(fc.integer({ min: -300, max: 300 }), { nil: undefined })).map(([s, w]) => `    ${s}${w === undefined ? '' : ` weight ${w}`}`)).map((t) => `  track_script {\n${t}\n  }`),
  fc.tuple(pick('garp_master_delay', 'garp_master_repeat', 'garp_master_refresh', 'garp_master_refresh_repeat', 'garp_lower_prio_repeat', 'garp_interval', 'garp_lower_prio_delay'), pick('0', '1', '5', '0.5', '300', '-1')).map(([k, v]) => `  ${k} ${v}`),
  fc.tuple(pick('notify_master', 'notify_backup', 'notify', 'notify_stop', 'notify_master_rx_lower_pri'), pick('/usr/bin/true', '"/usr/bin/echo a b"', 'relative.sh', '/usr/bin/true root')).map(([k, v]) => `  ${k} ${v}`),
  pick('  smtp_alert', '  virtual_routes {\n    10.213.9.0/24 via 10.213.0.254\n  }', '  no_such_keyword 1', '  higher_prio_send_advert', '  lower_prio_no_advert off', '  v3_checksum_as_v2'),
);

const instance = fc.tuple(name, fc.array(instanceLine, { maxLength: 12 })).map(([n, l]) => `vrrp_instance ${n} {\n${l.join('\n')}\n}`);
const vrrpScript = fc
  .tuple(script, fc.array(pick('  script "/bin/true"', '  script "killall -0 sshd"', '  script "</dev/tcp/127.0.0.1/80"', '  script "echo $HOME | grep x"', '  interval 0.001', '  interval 2', '  timeout 0', '  rise 0', '  fall 3', '  weight -300', '  weight 10 reverse', '  user nobody', '  init_fail'), { maxLength: 6 }))
  .map(([n, l]) => `vrrp_script ${n} {\n${l.join('\n')}\n}`);
const syncGroup = fc.tuple(pick('G1', 'G2', 'G1'), fc.array(pick('VI_1', 'VI_2', 'gw', 'VI 3'), { maxLength: 2 }), optional(pick('  notify_master /usr/bin/true', '  global_tracking'))).map(([g, members, extra]) => `vrrp_sync_group ${g} {\n  group {\n    ${members.join('\n    ')}\n  }\n${extra}\n}`);
const globalDefs = lines(
  pick('  router_id x', '  vrrp_version 3', '  vrrp_version 2', '  vrrp_strict', '  vrrp_garp_master_delay 0', '  vrrp_rt_priority 150', '  max_auto_priority', '  script_user nobody', '  notify_fifo /run/k.fifo', '  enable_dbus', '  snmp_socket unix:/x', '  enable_traps', '  smtp_server 10.213.0.9', '  unknown_global 1'),
  6,
).map((g) => `global_defs {\n${g}\n}`);

/** Whether vigil's loader knows `notify:` and `notifiers:` yet (they come with the notify branch). */
const loaderKnowsNotify = parseConfig(
  'instances:\n  - { name: a, interface: eth0, vrid: 1, virtual_ips: [10.213.0.1/24], notify: { master: /usr/bin/true } }\nnotifiers: { script_timeout: 30s }\n',
  'probe.yaml',
).ok;

const config = fc.tuple(fc.option(globalDefs, { nil: '' }), fc.array(fc.oneof({ weight: 4, arbitrary: instance }, { weight: 1, arbitrary: vrrpScript }, { weight: 1, arbitrary: syncGroup }), { maxLength: 5 }), pick('', 'virtual_server 10.213.0.9 80 {\n  real_server 10.213.0.10 80 {\n  }\n}')).map(([g, blocks, lvs]) => [g, ...blocks, lvs].join('\n'));

test('property: any keepalived.conf of known keywords imports to a config vigil\'s loader accepts, or exits 1 with a reason; warnings name FILE:LINE', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-import-prop-'));
  const file = path.join(dir, 'keepalived.conf');
  try {
    checkProperty(
      fc.property(config, (text) => {
        writeFileSync(file, text);
        const lineCount = text.split('\n').length;
        const o = importKeepalived(file, 'node');
        assert.ok(o.code === 0 || o.code === 1, `exit ${o.code}`);
        for (const w of o.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('vigil import-keepalived:'))) {
          const m = /^(.*?):(\d+): ([^:\s]+): .+$/.exec(w);
          assert.ok(m, `not FILE:LINE: keyword: why: ${w}`);
          assert.equal(m[1], file);
          assert.ok(Number(m[2]) >= 1 && Number(m[2]) <= lineCount, `line ${m[2]} of ${lineCount}: ${w}`);
        }
        if (o.code === 1) {
          assert.match(o.stderr, /vigil import-keepalived: .*: /);
          return;
        }
        const r = parseConfig(o.yaml ?? '', 'imported.yaml');
        const problems = r.ok ? [] : r.errors.filter((e) => loaderKnowsNotify || !/\.notify$|^notifiers$/.test(e.path));
        assert.deepEqual(problems.map(formatIssue), [], `the output fails check-config:\n${o.yaml ?? ''}`);
      }),
      { numRuns: Number(process.env['VIGIL_PROPERTY_RUNS'] ?? 150) },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('property: the YAML writer\'s scalars read back as the same string (plain only when YAML 1.2 would not read a number, boolean or null)', () => {
  checkProperty(
    fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), pick('true', 'no', 'null', '~', '1', '1.5', '0x1f', '1e3', '.inf', '-1', '10:20', 'eth0:1', 'fd13::1/64', 'a: b', '#x', '- x', '@x', '*x', '&x', '!x', '%x', '`x', '{x}', '[x]', "'x'", '"x"', 'x #y', '')), (text) => {
      const doc = new YMap().set('k', text).set('list', new YSeq().push(text).push(new YMap().set('k', text)));
      const back = parseYaml(emitYaml(doc)) as { k: unknown; list: unknown[] };
      assert.equal(back.k, text, `written as ${scalar(text)}`);
      assert.deepEqual(back.list, [text, { k: text }]);
    }),
  );
});
