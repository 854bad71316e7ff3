/**
 * The config loader (src/config/load.ts) with schema/vigil.schema.json, etc/vigil.yaml and
 * docs/config.md: the shipped file is valid and all defaults; load.ts's defaults equal the
 * schema's `default`s (and the docs' tables); every error names FILE:LINE:COLUMN and the key
 * path; `vigil check-config` exits 0 / 1 with the messages on stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  GLOBAL_DEFAULTS,
  INSTANCE_DEFAULTS,
  SCHEMA_FILE,
  formatIssue,
  loadConfig,
  parseConfig,
  parseDurationMicros,
  type ParseResult,
} from '../src/config/load.js';
import type { VigilConfig } from '../src/config/types.js';
import { DOCUMENT_KEYS } from '../src/config/document.js';
import { loadConfigIsolated } from '../src/config/load-isolated.js';
import { DEFAULT_ANNOUNCE } from '../src/vrrp/router.js';
import { instanceToRouterConfig } from '../src/config/router-config.js';
import { ip } from '../src/net/address.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ETC = path.join(ROOT, 'etc', 'vigil.yaml');
const DOCS = path.join(ROOT, 'docs', 'config.md');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Schema;

function props(s: Json | undefined): { [key: string]: Json } {
  assert.ok(isObject(s) && isObject(s['properties']), 'a schema object with properties');
  return s['properties'] as { [key: string]: Json };
}
function sub(s: { [key: string]: Json }, key: string): { [key: string]: Json } {
  const v = s[key];
  assert.ok(isObject(v), `schema property ${key}`);
  return v;
}

const topProps = props(schema);
const globalProps = props(topProps['global']);
const instanceSchema = sub(topProps, 'instances')['items'];
const instanceProps = props(instanceSchema);
const garpProps = props(instanceProps['garp']);
const vipMappingProps = (() => {
  const items = sub(instanceProps, 'virtual_ips')['items'];
  assert.ok(isObject(items) && Array.isArray(items['anyOf']));
  const mapping = items['anyOf'].find((b) => isObject(b) && b['type'] === 'object');
  return props(mapping);
})();

function schemaDefault(p: { [key: string]: Json }, key: string): Json {
  const d = sub(p, key)['default'];
  assert.ok(d !== undefined, `schema ${key} has a default`);
  return d;
}

function parse(text: string, file = 'vigil.yaml'): ParseResult {
  return parseConfig(text, file);
}

function errors(text: string): string[] {
  const r = parse(text);
  assert.equal(r.ok, false, `expected errors for:\n${text}`);
  return r.ok ? [] : r.errors.map(formatIssue);
}

function valid(text: string): VigilConfig {
  const r = parse(text);
  assert.ok(r.ok, r.ok ? '' : `expected valid, got:\n${r.errors.map(formatIssue).join('\n')}`);
  return r.config;
}

function warnings(text: string): string[] {
  const r = parse(text);
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  return r.warnings.map(formatIssue);
}

/** The config without source locations and its path, to compare two files' meaning. */
function meaning(config: VigilConfig): unknown {
  return JSON.parse(JSON.stringify({ ...config, path: '' }, (k, v: unknown) => (k === 'location' ? undefined : v)));
}

/** One instance in block style; `extra` lines are at the instance's key indentation (4 spaces). */
function one(extra = '', vips = '[10.213.0.100/24]', head = ''): string {
  return `${head}instances:\n  - name: gw\n    interface: eth0\n    vrid: 51\n    virtual_ips: ${vips}\n${extra}`;
}

const MINIMAL = one();

// ---------------------------------------------------------------------------------------
// The shipped file and the defaults

test('config: etc/vigil.yaml is valid, without warnings, and sets every key to its default', async () => {
  const r = await loadConfig(ETC);
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  assert.deepEqual(r.warnings, []);
  assert.equal(r.config.path, ETC);
  assert.equal(r.config.instances.length, 1);
  const gw = r.config.instances[0];
  assert.ok(gw);
  assert.equal(gw.name, 'gw');
  assert.equal(gw.interface, 'eth0');
  assert.equal(gw.vrid, 51);
  assert.deepEqual(gw.virtualIps.map((v) => `${v.address.text}/${v.prefixLength}`), ['10.213.0.100/24']);
  // Everything else in the annotated file is a default: it means what the minimal file means.
  assert.deepEqual(meaning(r.config), meaning(valid(MINIMAL)));
});

test("config: load.ts's defaults equal the schema's defaults", () => {
  assert.equal(GLOBAL_DEFAULTS.runtimeDir, schemaDefault(globalProps, 'runtime_dir'));
  assert.equal(GLOBAL_DEFAULTS.logFormat, schemaDefault(globalProps, 'log_format'));
  assert.equal(schemaDefault(globalProps, 'nonlocal_bind'), false);
  assert.deepEqual(GLOBAL_DEFAULTS.nonlocalBind, { ipv4: false, ipv6: false });
  const bindMapping = (sub(globalProps, 'nonlocal_bind')['anyOf'] as Json[]).find((b) => isObject(b) && b['type'] === 'object');
  assert.equal(schemaDefault(props(bindMapping), 'ipv4'), GLOBAL_DEFAULTS.nonlocalBind.ipv4);
  assert.equal(schemaDefault(props(bindMapping), 'ipv6'), GLOBAL_DEFAULTS.nonlocalBind.ipv6);
  assert.equal(GLOBAL_DEFAULTS.realtimePriority, schemaDefault(globalProps, 'realtime_priority'));
  assert.equal(GLOBAL_DEFAULTS.stateDir, schemaDefault(globalProps, 'state_dir'));
  assert.deepEqual(Object.keys(GLOBAL_DEFAULTS).sort(), ['logFormat', 'nonlocalBind', 'realtimePriority', 'runtimeDir', 'stateDir']);

  // Every INSTANCE_DEFAULTS entry, and which schema default it mirrors.
  const mirror: Record<keyof typeof INSTANCE_DEFAULTS, Json> = {
    version: schemaDefault(instanceProps, 'version'),
    priority: schemaDefault(instanceProps, 'priority'),
    advertInterval: schemaDefault(instanceProps, 'advert_interval'),
    preempt: schemaDefault(instanceProps, 'preempt'),
    preemptDelay: schemaDefault(instanceProps, 'preempt_delay'),
    managedBy: schemaDefault(instanceProps, 'managed_by'),
    accept: schemaDefault(instanceProps, 'accept'),
    checksum: schemaDefault(instanceProps, 'checksum'),
    higherPrioritySendAdvert: schemaDefault(instanceProps, 'higher_prio_send_advert'),
    lowerPriorityNoAdvert: schemaDefault(instanceProps, 'lower_prio_no_advert'),
    addressListCheck: schemaDefault(instanceProps, 'address_list_check'),
    garpMasterDelay: schemaDefault(garpProps, 'master_delay'),
    garpMasterRefresh: schemaDefault(garpProps, 'master_refresh'),
    garpInterval: schemaDefault(garpProps, 'interval'),
  };
  assert.deepEqual(Object.keys(INSTANCE_DEFAULTS).sort(), Object.keys(mirror).sort());
  for (const [key, value] of Object.entries(mirror)) assert.equal(INSTANCE_DEFAULTS[key as keyof typeof INSTANCE_DEFAULTS], value, key);

  // The announcement defaults come from the router; the schema's must be the same.
  const ms = (v: Json): number => {
    const d = parseDurationMicros(v);
    assert.ok(d !== undefined && 'us' in d);
    return d.us / 1000;
  };
  assert.equal(DEFAULT_ANNOUNCE.masterRepeat, schemaDefault(garpProps, 'master_repeat'));
  assert.equal(DEFAULT_ANNOUNCE.masterRefreshRepeat, schemaDefault(garpProps, 'master_refresh_repeat'));
  assert.equal(DEFAULT_ANNOUNCE.lowerPriorityRepeat, schemaDefault(garpProps, 'lower_prio_repeat'));
  assert.equal(DEFAULT_ANNOUNCE.masterDelayMs, ms(schemaDefault(garpProps, 'master_delay')));
  assert.equal(DEFAULT_ANNOUNCE.masterRefreshMs, ms(schemaDefault(garpProps, 'master_refresh')));
});

test("config: a file with every schema default written out means what the minimal file means", () => {
  const required = new Set((isObject(instanceSchema) && Array.isArray(instanceSchema['required']) ? instanceSchema['required'] : []).map(String));
  // Only `unicast` and `notify` have no default: their absence means multicast and no scripts.
  const withoutDefault = Object.keys(instanceProps).filter((k) => !required.has(k) && sub(instanceProps, k)['default'] === undefined);
  assert.deepEqual(withoutDefault, ['unicast', 'notify']);
  const fill = (p: { [key: string]: Json }): { [key: string]: Json } =>
    Object.fromEntries(Object.keys(p).flatMap((k) => (sub(p, k)['default'] === undefined ? [] : [[k, sub(p, k)['default'] as Json]])));
  const instance = { name: 'gw', interface: 'eth0', vrid: 51, virtual_ips: [{ address: '10.213.0.100/24', ...fill(vipMappingProps) }], ...fill(instanceProps), garp: fill(garpProps) };
  const explicit = { global: fill(globalProps), instances: [instance], sync_groups: schemaDefault(topProps, 'sync_groups') };
  // JSON is YAML.
  assert.deepEqual(meaning(valid(JSON.stringify(explicit, null, 2))), meaning(valid(MINIMAL)));
});

test('config: the tables in docs/config.md show the schema defaults', () => {
  const docs = readFileSync(DOCS, 'utf8');
  const section = (heading: string): string => {
    const start = docs.indexOf(heading);
    assert.ok(start >= 0, heading);
    const next = docs.slice(start + heading.length).search(/\n##/);
    return docs.slice(start, next < 0 ? undefined : start + heading.length + next);
  };
  const rows = (text: string): Map<string, string> =>
    new Map(
      text
        .split('\n')
        .filter((l) => /^\| `[a-z_]+` \|/.test(l))
        .map((l) => {
          const cells = l.split(' | ');
          return [(cells[0] ?? '').replace(/^\| `|`$/g, ''), cells[2] ?? ''] as const;
        }),
    );
  const show = (v: Json): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? `\`${String(v)}\`` : v === null ? '' : JSON.stringify(v));
  let checked = 0;
  for (const [heading, p] of [
    ['## `global`', globalProps],
    ['## `instances`', instanceProps],
    ['### A virtual address', vipMappingProps],
    ['### `garp`', garpProps],
  ] as const) {
    const table = rows(section(heading));
    for (const [key, def] of Object.entries(p)) {
      const d = isObject(def) ? def['default'] : undefined;
      if (d === undefined || typeof d === 'object') continue;
      const cell = table.get(key);
      assert.ok(cell !== undefined, `docs ${heading} lists ${key}`);
      assert.equal(cell, show(d), `docs ${heading} ${key}`);
      checked++;
    }
  }
  assert.ok(checked >= 20, `${checked} defaults checked`);
});

test("config: the document's types (document.ts) have the schema's keys, so the resolvers see every key", () => {
  const keys = (p: { [key: string]: Json }): string[] => Object.keys(p).sort();
  const quorumProps = props(topProps['quorum']);
  const notifiersProps = props(topProps['notifiers']);
  const itemProps = (key: string, section: { [key: string]: Json } = topProps): { [key: string]: Json } => props(sub(section, key)['items']);
  const cases: [readonly string[], { [key: string]: Json }, string][] = [
    [DOCUMENT_KEYS.root, topProps, 'root'],
    [DOCUMENT_KEYS.global, globalProps, 'global'],
    [DOCUMENT_KEYS.instance, instanceProps, 'instances[]'],
    [DOCUMENT_KEYS.vip, vipMappingProps, 'virtual_ips[] mapping'],
    [DOCUMENT_KEYS.garp, garpProps, 'garp'],
    [DOCUMENT_KEYS.syncGroup, itemProps('sync_groups'), 'sync_groups[]'],
    [DOCUMENT_KEYS.quorum, quorumProps, 'quorum'],
    [DOCUMENT_KEYS.quorumNode, itemProps('nodes', quorumProps), 'quorum.nodes[]'],
    [DOCUMENT_KEYS.tieBreaker, props(quorumProps['tie_breaker']), 'quorum.tie_breaker'],
    [DOCUMENT_KEYS.resource, itemProps('resources'), 'resources[]'],
    [DOCUMENT_KEYS.group, itemProps('groups'), 'groups[]'],
    [DOCUMENT_KEYS.healthCheck, itemProps('health_checks'), 'health_checks[]'],
    [DOCUMENT_KEYS.notify, props(instanceProps['notify']), 'instances[].notify'],
    [DOCUMENT_KEYS.notifiers, notifiersProps, 'notifiers'],
    [DOCUMENT_KEYS.fifo, props(notifiersProps['fifo']), 'notifiers.fifo'],
    [DOCUMENT_KEYS.dbus, props(notifiersProps['dbus']), 'notifiers.dbus'],
    [DOCUMENT_KEYS.snmp, props(notifiersProps['snmp']), 'notifiers.snmp'],
    [DOCUMENT_KEYS.prometheus, props(notifiersProps['prometheus']), 'notifiers.prometheus'],
    [DOCUMENT_KEYS.alert, itemProps('alerts', notifiersProps), 'notifiers.alerts[]'],
  ];
  for (const [typed, schemaProps, where] of cases) assert.deepEqual([...typed].sort(), keys(schemaProps), where);
});

test('config: a value the schema refused is reported once: no default stands in for it', () => {
  // version 4 is refused; with the default (3) standing in, authentication would be refused too.
  assert.deepEqual(errors(one('    version: 4\n    authentication: { type: pass, password: x }\n')), ['vigil.yaml:6:14: instances[0].version: expected 2 or 3, got 4']);
  // A refused VRID leaves nothing to compare: no duplicate-VRID error against the next instance.
  assert.deepEqual(
    errors('instances:\n  - { name: a, interface: eth0, vrid: 51, virtual_ips: [10.213.0.100/24] }\n  - { name: b, interface: eth0, vrid: "51", virtual_ips: [10.213.0.101/24] }\n'),
    ['vigil.yaml:3:39: instances[1].vrid: expected an integer, got "51"'],
  );
});

test('config: the daemon\'s worker-thread loader gives what the loader gives', async () => {
  const direct = await loadConfig(ETC);
  const isolated = await loadConfigIsolated(ETC);
  assert.ok(direct.ok && isolated.ok, isolated.ok ? '' : isolated.errors.map(formatIssue).join('\n'));
  assert.deepEqual(meaning(isolated.config), meaning(direct.config));
  const bad = await loadConfigIsolated('/nonexistent/vigil-test/vigil.yaml');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors.map(formatIssue), ['/nonexistent/vigil-test/vigil.yaml: cannot read the config file: ENOENT: no such file or directory']);
});

// ---------------------------------------------------------------------------------------
// Error format

test('config: an error names file:line:column and the key path', () => {
  const text = [
    '# a comment',
    'global:',
    '  log_format: json',
    'instances:',
    '  - name: gw',
    '    interface: eth0',
    '    vrid: 51',
    '    priority: 150',
    '    advert_interval: 100ms',
    '    virtual_ips:',
    '      - 10.213.0.100/24',
    '      - "10.213.0.300/24"',
    '',
  ].join('\n');
  assert.deepEqual(errors(text), ['vigil.yaml:12:9: instances[0].virtual_ips[1]: "10.213.0.300/24" is not an IPv4 prefix']);
  const r = parseConfig(text, '/etc/vigil/vigil.yaml');
  assert.ok(!r.ok);
  assert.deepEqual(r.errors, [
    { file: '/etc/vigil/vigil.yaml', line: 12, column: 9, path: 'instances[0].virtual_ips[1]', message: '"10.213.0.300/24" is not an IPv4 prefix' },
  ]);
});

test('config: every problem is reported, in the order of the file', () => {
  const text = [
    'instances:',
    '  - name: gw',
    '    interface: eth0',
    '    vrid: 300',
    '    advert_int: 1',
    '    virtual_ips: ["10.213.0.300/24"]',
    '    preempt: yes',
    'sync_groups:',
    '  - { name: g, instances: [gw, nope] }',
    '',
  ].join('\n');
  assert.deepEqual(errors(text), [
    'vigil.yaml:4:11: instances[0].vrid: expected an integer from 1 to 255, got 300',
    "vigil.yaml:5:5: instances[0].advert_int: unknown key; keepalived's advert_int is advert_interval here",
    'vigil.yaml:6:19: instances[0].virtual_ips[0]: "10.213.0.300/24" is not an IPv4 prefix',
    'vigil.yaml:7:14: instances[0].preempt: expected true or false, got "yes" (YAML 1.2 reads that as a string: write true or false)',
    'vigil.yaml:9:32: sync_groups[0].instances[1]: no instance is named "nope"',
  ]);
});

test('config: a file that cannot be read is one issue naming it', async () => {
  const r = await loadConfig('/nonexistent/vigil-test/vigil.yaml');
  assert.ok(!r.ok);
  assert.deepEqual(r.errors.map(formatIssue), ['/nonexistent/vigil-test/vigil.yaml: cannot read the config file: ENOENT: no such file or directory']);
});

// ---------------------------------------------------------------------------------------
// Unknown keys and YAML syntax

test('config: unknown keys are errors everywhere, with hints', () => {
  assert.deepEqual(errors(one('', '[10.213.0.100/24]', 'foo: 1\n')), ['vigil.yaml:1:1: foo: unknown key; expected one of: global, instances, sync_groups, quorum, resources, groups, health_checks, notifiers']);
  assert.deepEqual(errors(one('', '[10.213.0.100/24]', 'global:\n  log_fromat: json\n')), ['vigil.yaml:2:3: global.log_fromat: unknown key; did you mean "log_format"?']);
  assert.deepEqual(errors(one('    virtual_router_id: 51\n')), ["vigil.yaml:6:5: instances[0].virtual_router_id: unknown key; keepalived's virtual_router_id is vrid here"]);
  assert.deepEqual(errors(one('    state: MASTER\n')), [
    'vigil.yaml:6:5: instances[0].state: unknown key; vigil has no initial state: an instance starts as backup, or as master at priority 255',
  ]);
  assert.deepEqual(errors(one('    garp: { master_dealy: 1s }\n')), ['vigil.yaml:6:13: instances[0].garp.master_dealy: unknown key; did you mean "master_delay"?']);
  assert.deepEqual(errors(one('', '[{ address: 10.213.0.100/24, lable: "eth0:x" }]')), [
    'vigil.yaml:5:47: instances[0].virtual_ips[0].lable: unknown key; expected one of: address, dev, label, scope',
  ]);
  assert.deepEqual(errors(one() + 'sync_groups: [{ name: g, instances: [gw], members: [] }]\n'), [
    'vigil.yaml:6:43: sync_groups[0].members: unknown key; expected one of: name, instances, notify',
  ]);
});

test('config: YAML syntax errors have a line and column', () => {
  assert.deepEqual(errors('instances:\n  - name: gw\n   interface: eth0\n'), ['vigil.yaml:3:1: YAML syntax error: Sequence item without - indicator']);
  assert.deepEqual(errors('instances:\n\t- name: gw\n'), ['vigil.yaml:2:1: YAML syntax error: Tabs are not allowed as indentation']);
  assert.deepEqual(errors(one('    vrid: 52\n')), ['vigil.yaml:6:5: YAML syntax error: duplicate key "vrid"']);
  assert.deepEqual(errors('instances:\n  - name: gw: x\n'), ['vigil.yaml:2:11: YAML syntax error: Nested mappings are not allowed in compact mappings']);
  const unclosed = errors('instances:\n  - name: "gw\n    interface: eth0\n');
  assert.equal(unclosed.length, 1);
  assert.match(unclosed[0] ?? '', /^vigil\.yaml:\d+:\d+: YAML syntax error: Missing closing "quote/);
  const flow = errors('instances:\n  - { name: gw, interface: eth0\n');
  assert.ok(flow.length >= 1 && flow.every((e) => /^vigil\.yaml:\d+:\d+: YAML syntax error: /.test(e)), flow.join('\n'));
  // Fixed: the yaml library's advice to call its parseAllDocuments() was the message.
  assert.deepEqual(errors(`${MINIMAL}---\ninstances: []\n`), ['vigil.yaml:6:1: YAML syntax error: the file holds more than one YAML document (a second "---"); vigil reads one']);
});

test('config: empty files and wrong document shapes', () => {
  assert.deepEqual(errors(''), ['vigil.yaml:1:1: the file is empty; it needs at least an "instances" list']);
  assert.deepEqual(errors('# only a comment\n'), ['vigil.yaml:1:1: the file is empty; it needs at least an "instances" list']);
  assert.deepEqual(errors('- 1\n'), ['vigil.yaml:1:1: expected a mapping, got a list']);
  assert.deepEqual(errors('global: {}\n'), ['vigil.yaml:1:1: missing required key "instances"']);
  assert.deepEqual(errors('instances: []\n'), ['vigil.yaml:1:12: instances: expected at least one entry, got an empty list']);
  assert.deepEqual(errors('instances:\n  -\n'), ['vigil.yaml:2:3: instances[0]: expected a mapping, got an empty value']);
  assert.deepEqual(errors('instances:\n  - name: gw\n    interface: eth0\n    vrid: 1\n    virtual_ips:\n'), [
    'vigil.yaml:5:5: instances[0].virtual_ips: expected a list, got an empty value',
  ]);
  assert.deepEqual(errors('instances:\n  - { name: gw, interface: eth0, virtual_ips: [10.213.0.100/24] }\n'), ['vigil.yaml:2:5: instances[0]: missing required key "vrid"']);
});

// ---------------------------------------------------------------------------------------
// Schema rules

test('config: types, ranges and enumerations from the schema', () => {
  const cases: [string, string][] = [
    ['    priority: 0\n', 'vigil.yaml:6:15: instances[0].priority: expected an integer from 1 to 255, got 0'],
    ['    priority: "100"\n', 'vigil.yaml:6:15: instances[0].priority: expected an integer, got "100"'],
    ['    version: 4\n', 'vigil.yaml:6:14: instances[0].version: expected 2 or 3, got 4'],
    ['    checksum: rfc1234\n', 'vigil.yaml:6:15: instances[0].checksum: expected rfc5798, rfc9568 or either, got "rfc1234"'],
    ['    preempt_delay: -1\n', 'vigil.yaml:6:20: instances[0].preempt_delay: expected a number of at least 0, got -1'],
    [
      '    preempt_delay: 1 s\n',
      'vigil.yaml:6:20: instances[0].preempt_delay: expected a duration: a number of seconds, or a number with a unit (ms, cs or s) such as "1s", "1.5s", "10ms", "5cs", got "1 s"',
    ],
    ['    track_interfaces: [{ name: eth1, weight: 300 }]\n', 'vigil.yaml:6:46: instances[0].track_interfaces[0].weight: expected an integer from -254 to 254, got 300'],
    ['    garp: { master_repeat: 0 }\n', 'vigil.yaml:6:28: instances[0].garp.master_repeat: expected an integer from 1 to 255, got 0'],
    ['    vmac: yes\n', 'vigil.yaml:6:11: instances[0].vmac: expected true, false or a mapping { name }, got "yes"'],
    ['    version: 2\n    authentication: { type: pass }\n', 'vigil.yaml:7:21: instances[0].authentication: missing required key "password"'],
  ];
  for (const [extra, message] of cases) assert.deepEqual(errors(one(extra)), [message], extra);
  assert.deepEqual(errors('instances:\n  - { name: "a b", interface: eth0, vrid: 1, virtual_ips: [10.213.0.100/24] }\n'), [
    'vigil.yaml:2:13: instances[0].name: expected a name of 1 to 64 letters, digits, "_", "." or "-", got "a b"',
  ]);
  assert.deepEqual(errors('instances:\n  - { name: a, interface: abcdefghijklmnop, vrid: 1, virtual_ips: [10.213.0.100/24] }\n'), [
    'vigil.yaml:2:27: instances[0].interface: expected a network interface name: 1 to 15 characters, without spaces, "/" or ":", got "abcdefghijklmnop"',
  ]);
  assert.deepEqual(errors(one('', '[10.213.0.100/24]', 'global:\n  runtime_dir: run/vigil\n  realtime_priority: 100\n')), [
    'vigil.yaml:2:16: global.runtime_dir: expected an absolute path, got "run/vigil"',
    'vigil.yaml:3:22: global.realtime_priority: expected an integer from 0 to 99, got 100',
  ]);
});

// ---------------------------------------------------------------------------------------
// Rules between keys

test('config: addresses that do not parse', () => {
  assert.deepEqual(errors(one('', '["10.213.0.1/33"]')), ['vigil.yaml:5:19: instances[0].virtual_ips[0]: "10.213.0.1/33" is not an IPv4 prefix']);
  assert.deepEqual(errors(one('', '["10.213.0.1/"]')), ['vigil.yaml:5:19: instances[0].virtual_ips[0]: "10.213.0.1/" is not an IPv4 prefix']);
  assert.deepEqual(errors(one('', '["10.213.0.300"]')), ['vigil.yaml:5:19: instances[0].virtual_ips[0]: "10.213.0.300" is not an IPv4 address']);
  assert.deepEqual(errors(one('', '["fd13::zz/64"]')), ['vigil.yaml:5:19: instances[0].virtual_ips[0]: "fd13::zz/64" is not an IPv6 prefix']);
  assert.deepEqual(errors(one('', '["fd13::1/129"]')), ['vigil.yaml:5:19: instances[0].virtual_ips[0]: "fd13::1/129" is not an IPv6 prefix']);
  assert.deepEqual(errors(one('', '[eth0]')), ['vigil.yaml:5:19: instances[0].virtual_ips[0]: "eth0" is not an IP address']);
  assert.deepEqual(errors(one('', '[{ address: "10.213.0.300/24" }]')), [
    'vigil.yaml:5:30: instances[0].virtual_ips[0].address: "10.213.0.300/24" is not an IPv4 prefix',
  ]);
  // Fixed: "/024" was taken as 24 (iproute2 reads it as octal 20).
  assert.deepEqual(errors(one('', '["10.213.0.1/024"]')), ['vigil.yaml:5:19: instances[0].virtual_ips[0]: "10.213.0.1/024" is not an IPv4 prefix']);
  assert.deepEqual(errors(one('    unicast: { peers: ["10.213.0.999"] }\n')), ['vigil.yaml:6:24: instances[0].unicast.peers[0]: "10.213.0.999" is not an IP address']);
  const bare = valid(one('', '[10.213.0.100]')).instances[0];
  assert.equal(bare?.virtualIps[0]?.prefixLength, 32, 'a bare address is a /32');
  assert.equal(valid(one('', '["fd13::1"]')).instances[0]?.virtualIps[0]?.prefixLength, 128, 'a bare IPv6 address is a /128');
});

test('config: one family per instance; IPv6 needs VRRPv3; unicast addresses of the instance family', () => {
  assert.deepEqual(errors(one('', '[10.213.0.100/24, "fd13::100/64"]')), [
    "vigil.yaml:5:36: instances[0].virtual_ips[1]: fd13::100 is IPv6, but virtual_ips[0] is IPv4: an instance's virtual_ips are all of one family (use a second instance for the other)",
  ]);
  assert.deepEqual(errors(one('    version: 2\n', '["fd13::100/64"]')), ['vigil.yaml:6:14: instances[0].version: IPv6 needs VRRPv3 (version: 3): VRRPv2 is IPv4 only']);
  assert.deepEqual(errors(one('    unicast: { source: "fd13::1", peers: [10.213.0.2] }\n')), [
    'vigil.yaml:6:24: instances[0].unicast.source: fd13::1 is an IPv6 address, but this instance is IPv4 (the family of its virtual_ips)',
  ]);
  assert.deepEqual(errors(one('    unicast: { peers: ["fd13::2"] }\n')), [
    'vigil.yaml:6:24: instances[0].unicast.peers[0]: fd13::2 is an IPv6 address, but this instance is IPv4 (the family of its virtual_ips)',
  ]);
  // excluded_ips may be of the other family.
  const c = valid(one('    excluded_ips: ["fd13::5/64"]\n'));
  assert.equal(c.instances[0]?.family, 'ipv4');
  assert.equal(c.instances[0]?.excludedIps[0]?.address.family, 'ipv6');
  assert.equal(valid(one('', '["fd13::100/64"]')).instances[0]?.family, 'ipv6');
});

test('config: advertisement intervals per VRRP version', () => {
  const interval = (extra: string): number | undefined => valid(one(extra)).instances[0]?.advertInterval;
  assert.equal(interval(''), 100, 'default 1s');
  assert.equal(interval('    advert_interval: 10ms\n'), 1);
  assert.equal(interval('    advert_interval: 40.95s\n'), 4095);
  assert.equal(interval('    advert_interval: 0.5\n'), 50, 'a number of seconds');
  assert.equal(interval('    advert_interval: 5cs\n'), 5);
  assert.equal(interval('    version: 2\n    advert_interval: 2\n'), 200);
  assert.equal(interval('    version: 2\n    advert_interval: 255s\n'), 25500);
  const cases: [string, string][] = [
    ['    version: 2\n    advert_interval: 1.5s\n', 'vigil.yaml:7:22: instances[0].advert_interval: "1.5s" is not a whole number of seconds (VRRPv2 advertises whole seconds, 1s to 255s)'],
    ['    version: 2\n    advert_interval: 100ms\n', 'vigil.yaml:7:22: instances[0].advert_interval: "100ms" is not a whole number of seconds (VRRPv2 advertises whole seconds, 1s to 255s)'],
    ['    version: 2\n    advert_interval: 256\n', 'vigil.yaml:7:22: instances[0].advert_interval: 256 is out of range for VRRPv2: 1s to 255s'],
    ['    advert_interval: 15ms\n', 'vigil.yaml:6:22: instances[0].advert_interval: "15ms" is not a whole number of centiseconds (VRRPv3 counts the interval in units of 10ms)'],
    ['    advert_interval: 41s\n', 'vigil.yaml:6:22: instances[0].advert_interval: "41s" is out of range for VRRPv3: 10ms to 40.95s'],
    ['    advert_interval: 0\n', 'vigil.yaml:6:22: instances[0].advert_interval: 0 is out of range for VRRPv3: 10ms to 40.95s'],
    ['    advert_interval: 1.0000001s\n', 'vigil.yaml:6:22: instances[0].advert_interval: "1.0000001s" is finer than a microsecond'],
    ['    garp: { master_delay: 1.0005s }\n', 'vigil.yaml:6:27: instances[0].garp.master_delay: "1.0005s" is not a whole number of milliseconds'],
    ['    garp: { master_delay: 100000s }\n', 'vigil.yaml:6:27: instances[0].garp.master_delay: "100000s" is too long: at most a day (86400s)'],
  ];
  for (const [extra, message] of cases) assert.deepEqual(errors(one(extra)), [message], extra);
  assert.equal(valid(one('    preempt_delay: 1.1s\n')).instances[0]?.preemptDelayMs, 1100, 'decimal, not binary: 1.1s is 1100 ms');
});

test('config: duplicates: VRIDs per interface and family, names, addresses, peers, tracked interfaces, vmac names', () => {
  const two = (a: string, b: string): string => `instances:\n  - { ${a} }\n  - { ${b} }\n`;
  assert.deepEqual(errors(two('name: a, interface: eth0, vrid: 51, virtual_ips: [10.213.0.100/24]', 'name: b, interface: eth0, vrid: 51, version: 2, virtual_ips: [10.213.0.101/24]')), [
    'vigil.yaml:3:39: instances[1].vrid: VRID 51 is already used for IPv4 on eth0 by instance "a" (line 2)',
  ]);
  // The same VRID is fine on another interface or for the other family.
  valid(two('name: a, interface: eth0, vrid: 51, virtual_ips: [10.213.0.100/24]', 'name: b, interface: eth1, vrid: 51, virtual_ips: [10.213.1.100/24]'));
  valid(two('name: a, interface: eth0, vrid: 51, virtual_ips: [10.213.0.100/24]', 'name: b, interface: eth0, vrid: 51, virtual_ips: ["fd13::100/64"]'));
  assert.deepEqual(errors(two('name: a, interface: eth0, vrid: 51, virtual_ips: [10.213.0.100/24]', 'name: a, interface: eth0, vrid: 52, virtual_ips: [10.213.0.101/24]')), [
    'vigil.yaml:3:13: instances[1].name: duplicate instance name "a" (first at line 2)',
  ]);
  assert.deepEqual(errors(one('', '[10.213.0.100/24, 10.213.0.100/32]')), [
    'vigil.yaml:5:36: instances[0].virtual_ips[1]: 10.213.0.100 is already listed at instances[0].virtual_ips[0] (line 5)',
  ]);
  assert.deepEqual(errors(one('', '["fd13::1/64", "fd13:0::1/64"]')), [
    'vigil.yaml:5:33: instances[0].virtual_ips[1]: fd13::1 is already listed at instances[0].virtual_ips[0] (line 5)',
  ]);
  assert.deepEqual(errors(one('    excluded_ips: [10.213.0.100/24]\n')), [
    'vigil.yaml:6:20: instances[0].excluded_ips[0]: 10.213.0.100 is already listed at instances[0].virtual_ips[0] (line 5)',
  ]);
  assert.deepEqual(errors(one('    unicast: { peers: [10.213.0.2, 10.213.0.2] }\n')), ['vigil.yaml:6:36: instances[0].unicast.peers[1]: 10.213.0.2 is already listed at unicast.peers[0]']);
  assert.deepEqual(errors(one('    track_interfaces: [eth1, { name: eth1, weight: 5 }]\n')), [
    'vigil.yaml:6:30: instances[0].track_interfaces[1]: interface "eth1" is already tracked at track_interfaces[0]',
  ]);
  // Fixed: one VRID with `vmac: true` on two interfaces made two macvlans named vrrp.51.
  assert.deepEqual(errors(two('name: a, interface: eth0, vrid: 51, vmac: true, virtual_ips: [10.213.0.100/24]', 'name: b, interface: eth1, vrid: 51, vmac: true, virtual_ips: [10.213.1.100/24]')), [
    'vigil.yaml:3:49: instances[1].vmac: the vmac interface "vrrp.51" is already the one of instance "a" (line 2); give one of them another name: vmac: { name: ... }',
  ]);
  assert.deepEqual(errors(two('name: a, interface: eth0, vrid: 51, vmac: { name: v1 }, virtual_ips: [10.213.0.100/24]', 'name: b, interface: eth0, vrid: 52, vmac: { name: v1 }, virtual_ips: [10.213.0.101/24]')), [
    'vigil.yaml:3:57: instances[1].vmac.name: the vmac interface "v1" is already the one of instance "a" (line 2); give one of them another name: vmac: { name: ... }',
  ]);
  const vmacs = valid(two('name: a, interface: eth0, vrid: 51, vmac: true, virtual_ips: [10.213.0.100/24]', 'name: b, interface: eth0, vrid: 51, vmac: true, virtual_ips: ["fd13::100/64"]'));
  assert.deepEqual(vmacs.instances.map((i) => i.vmac?.name), ['vrrp.51', 'vrrp6.51']);
});

test('config: authentication and labels', () => {
  assert.deepEqual(errors(one('    authentication: { type: pass, password: abc }\n')), [
    'vigil.yaml:6:21: instances[0].authentication: authentication is VRRPv2 only (VRRPv3 has none); remove it or set version: 2',
  ]);
  assert.deepEqual(errors(one('    version: 2\n    authentication: { type: pass, password: abcdefghi }\n')), [
    'vigil.yaml:7:45: instances[0].authentication.password: the password is 9 bytes long; VRRPv2 carries at most 8',
  ]);
  assert.deepEqual(errors(one('    version: 2\n    authentication: { type: none, password: x }\n')), [
    'vigil.yaml:7:45: instances[0].authentication.password: a password needs type: pass',
  ]);
  const auth = valid(one('    version: 2\n    authentication: { type: pass, password: s3cret }\n')).instances[0]?.authentication;
  assert.equal(auth?.type, 'pass');
  assert.deepEqual(errors(one('', '[{ address: "fd13::1/64", label: "eth0:x" }]')), ['vigil.yaml:5:51: instances[0].virtual_ips[0].label: address labels are IPv4 only']);
  assert.deepEqual(errors(one('', '[{ address: 10.213.0.1/24, label: "eth1:x" }]')), [
    'vigil.yaml:5:52: instances[0].virtual_ips[0].label: "eth1:x" must be the device name "eth0" or start with "eth0:"',
  ]);
  valid(one('', '[{ address: 10.213.0.1/24, dev: eth1, label: "eth1:vip" }]'));
});

test('config: sync groups naming unknown instances, an instance in two groups, duplicate names', () => {
  assert.deepEqual(errors(`${MINIMAL}sync_groups:\n  - name: g\n    instances: [gw, nope]\n`), ['vigil.yaml:8:21: sync_groups[0].instances[1]: no instance is named "nope"']);
  assert.deepEqual(errors(`${MINIMAL}sync_groups:\n  - { name: g, instances: [gw] }\n  - { name: h, instances: [gw] }\n`), [
    'vigil.yaml:8:28: sync_groups[1].instances[0]: instance "gw" is already in sync group "g" (line 7); an instance can be in one group only',
  ]);
  assert.deepEqual(errors(`${MINIMAL}sync_groups:\n  - { name: g, instances: [gw, gw] }\n`), ['vigil.yaml:7:32: sync_groups[0].instances[1]: instance "gw" is listed twice in this group']);
  assert.deepEqual(errors(`${MINIMAL}sync_groups:\n  - { name: g, instances: [gw] }\n  - { name: g, instances: [] }\n`), [
    'vigil.yaml:8:13: sync_groups[1].name: duplicate sync group name "g" (first at line 7)',
    'vigil.yaml:8:27: sync_groups[1].instances: expected at least one entry, got an empty list',
  ]);
  const c = valid(`${MINIMAL}sync_groups: [{ name: g, instances: [gw] }]\n`);
  assert.deepEqual(c.syncGroups.map((g) => [g.name, g.instances]), [['g', ['gw']]]);
});

test('config: merge keys work, and errors in a merged mapping point at what was written', () => {
  const base = 'instances:\n  - &base\n    name: a\n    interface: eth0\n    vrid: 1\n    virtual_ips: [10.213.0.100/24]\n';
  const c = valid(`${base}  - <<: *base\n    name: b\n    vrid: 2\n    virtual_ips: [10.213.0.101/24]\n`);
  assert.deepEqual(c.instances.map((i) => [i.name, i.interface, i.vrid]), [['a', 'eth0', 1], ['b', 'eth0', 2]]);
  assert.deepEqual(errors(`${base}  - <<: *base\n    name: b\n    virtual_ips: [10.213.0.101/24]\n`), [
    'vigil.yaml:5:11: instances[1].vrid: VRID 1 is already used for IPv4 on eth0 by instance "a" (line 3)',
  ]);
});

test('config: warnings leave the file valid', () => {
  assert.deepEqual(warnings(one('    priority: 255\n    preempt: false\n')), [
    'vigil.yaml:7:14: instances[0].preempt: preempt: false is ignored at priority 255: the address owner always takes over',
  ]);
  assert.deepEqual(warnings(one('    preempt: false\n    preempt_delay: 2s\n')), ['vigil.yaml:7:20: instances[0].preempt_delay: preempt_delay is ignored with preempt: false']);
  assert.deepEqual(warnings(one('    version: 2\n    checksum: rfc9568\n')), ['vigil.yaml:7:15: instances[0].checksum: checksum only applies to IPv4 VRRPv3; ignored for VRRPv2']);
  assert.equal(warnings(one('    checksum: either\n')).length, 1);
  assert.deepEqual(warnings(MINIMAL), []);
});

// ---------------------------------------------------------------------------------------
// vigil check-config

const execFileAsync = promisify(execFile);

async function checkConfig(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileAsync(process.execPath, [MAIN, 'check-config', ...args], { encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

test('config: vigil check-config exits 0 on a valid file and 1 on an invalid one, with the messages on stderr', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-config-test-'));
  try {
    const ok = await checkConfig('-c', ETC);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    assert.match(ok.stdout, /valid: 1 instance, 0 sync groups/);
    assert.match(ok.stdout, /instance gw: eth0, IPv4, VRRPv3, VRID 51, priority 100, interval 1s, preempt/);

    const bad = path.join(dir, 'vigil.yaml');
    writeFileSync(bad, one('    advert_int: 1\n', '[10.213.0.100/24, "10.213.0.300/24"]'));
    const no = await checkConfig('--config', bad);
    assert.equal(no.code, 1);
    assert.equal(no.stdout, '');
    assert.equal(
      no.stderr,
      `${bad}:5:36: instances[0].virtual_ips[1]: "10.213.0.300/24" is not an IPv4 prefix\n${bad}:6:5: instances[0].advert_int: unknown key; keepalived's advert_int is advert_interval here\n`,
    );

    const syntax = path.join(dir, 'syntax.yaml');
    writeFileSync(syntax, 'instances:\n\t- name: gw\n');
    const s = await checkConfig('-c', syntax);
    assert.equal(s.code, 1);
    assert.equal(s.stderr, `${syntax}:2:1: YAML syntax error: Tabs are not allowed as indentation\n`);

    const warn = path.join(dir, 'warn.yaml');
    writeFileSync(warn, one('    checksum: either\n'));
    const w = await checkConfig('-c', warn);
    assert.equal(w.code, 0);
    assert.match(w.stderr, new RegExp(`^warning: ${warn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:15: instances\\[0\\]\\.checksum: `));

    const missing = await checkConfig('-c', path.join(dir, 'nope.yaml'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.yaml: cannot read the config file: ENOENT/);

    const usage = await checkConfig('--bogus');
    assert.equal(usage.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('router config: an instance on a virtual MAC does not repeat its step-down advert (it would leave from the virtual MAC); others keep the default', () => {
  const config = valid(
    'instances:\n' +
      '  - { name: a, interface: eth0, vrid: 51, vmac: true, virtual_ips: [10.213.0.100/24] }\n' +
      '  - { name: b, interface: eth0, vrid: 52, virtual_ips: [10.213.0.101/24] }\n',
  );
  const [a, b] = config.instances;
  assert.ok(a && b);
  const primary = ip('10.213.0.1');
  assert.equal(instanceToRouterConfig(a, primary).stepDownAdvertRepeats, 0);
  assert.equal(instanceToRouterConfig(b, primary).stepDownAdvertRepeats, undefined, 'the router default (STEP_DOWN_ADVERT_REPEATS)');
});
