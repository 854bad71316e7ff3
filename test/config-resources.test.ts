/**
 * The resources, groups and health_checks sections of the config: what they resolve to,
 * and every refusal naming file, line, column and key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIssue, parseConfig } from '../src/config/load.js';

const INSTANCE = 'instances:\n  - name: gw\n    interface: eth0\n    vrid: 51\n    virtual_ips: [10.213.0.100/24]\n';

function parse(rest: string): ReturnType<typeof parseConfig> {
  return parseConfig(`${INSTANCE}${rest}`, 'vigil.yaml');
}

test('config resources: defaults, groups, stand-alone resources in groups of their own, checks', () => {
  const r = parse(
    [
      'resources:',
      '  - { name: vip, type: vip, address: 10.213.0.101/24, interface: eth0 }',
      '  - { name: haproxy, type: exec, command: [/usr/sbin/haproxy, -db, -f, /etc/haproxy/haproxy.cfg], migration_threshold: 2, failure_timeout: 30s }',
      '  - { name: web, type: ocf, agent: "heartbeat:nginx", params: { configfile: /etc/nginx/nginx.conf, port: 80 }, runs_on: everywhere }',
      'groups:',
      '  - { name: lb, resources: [vip, haproxy], runs_on: { master: gw } }',
      'health_checks:',
      '  - { name: be, type: http, url: "http://10.213.0.10/", body: ok, weight: -50, instances: [gw], resource: haproxy, rise: 2, fall: 3 }',
      '  - { name: hp, type: process, process: haproxy }',
      '',
    ].join('\n'),
  );
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  const { resources, groups, healthChecks } = r.config.resources;
  const haproxy = resources.find((x) => x.name === 'haproxy');
  assert.ok(haproxy);
  assert.deepEqual(
    [haproxy.startTimeoutMs, haproxy.stopTimeoutMs, haproxy.monitorTimeoutMs, haproxy.monitorIntervalMs, haproxy.onFail, haproxy.migrationThreshold, haproxy.failureTimeoutMs, haproxy.targetRole],
    [20000, 20000, 20000, 10000, 'restart', 2, 30000, 'started'],
  );
  assert.equal(resources.find((x) => x.name === 'vip')?.migrationThreshold, Infinity);
  assert.deepEqual(groups, [
    { name: 'lb', resources: ['vip', 'haproxy'], placement: { kind: 'master', instance: 'gw' } },
    { name: 'web', resources: ['web'], placement: { kind: 'everywhere' } },
  ]);
  const web = resources.find((x) => x.name === 'web');
  assert.deepEqual(web?.spec, { type: 'ocf', agent: 'heartbeat:nginx', params: { configfile: '/etc/nginx/nginx.conf', port: '80' } });
  assert.deepEqual(
    healthChecks.map((c) => [c.name, c.spec.type, c.intervalMs, c.timeoutMs, c.rise, c.fall, c.weight, c.instances, c.resource]),
    [
      ['be', 'http', 2000, 1000, 2, 3, -50, ['gw'], 'haproxy'],
      ['hp', 'process', 2000, 1000, 1, 1, 0, [], undefined],
    ],
  );
});

test('config resources: every problem names file, line, column and key', () => {
  const r = parse(
    [
      'resources:',
      '  - { name: a, type: vip, address: 10.213.0.300/24, interface: eth0 }',
      '  - { name: b, type: exec }',
      '  - { name: a, type: systemd, unit: x.service }',
      '  - { name: c, type: exec, command: [/bin/true], runs_on: { master: nosuch } }',
      '  - { name: d, type: exec, command: [/bin/true], runs_on: { master: gw } }',
      '  - { name: e, type: ocf, agent: IPaddr2 }',
      'groups:',
      '  - { name: g, resources: [c, zz] }',
      '  - { name: h, resources: [c] }',
      '  - { name: i, resources: [d] }',
      'health_checks:',
      '  - { name: x, type: http, url: "ftp://10.213.0.1/" }',
      '  - { name: y, type: tcp, address: "10.213.0.1" }',
      '  - { name: z, type: script, script: [relative.sh], instances: [nope], resource: nope }',
      '',
    ].join('\n'),
  );
  assert.ok(!r.ok);
  assert.deepEqual(r.errors.map(formatIssue), [
    'vigil.yaml:7:36: resources[0].address: "10.213.0.300/24" is not an IPv4 prefix',
    'vigil.yaml:8:5: resources[1]: an exec resource needs "command"',
    'vigil.yaml:9:13: resources[2].name: duplicate resource name "a" (first at line 7)',
    'vigil.yaml:10:69: resources[3].runs_on.master: no instance is named "nosuch"',
    'vigil.yaml:12:34: resources[5].agent: expected PROVIDER:TYPE, e.g. heartbeat:IPaddr2, got "IPaddr2"',
    `vigil.yaml:14:28: groups[0].resources[0]: resource "c" has its own runs_on; in a group, the group's runs_on decides`,
    'vigil.yaml:14:31: groups[0].resources[1]: no resource is named "zz"',
    'vigil.yaml:15:28: groups[1].resources[0]: resource "c" is already in group "g"; a resource can be in one group only',
    `vigil.yaml:16:28: groups[2].resources[0]: resource "d" has its own runs_on; in a group, the group's runs_on decides`,
    'vigil.yaml:18:33: health_checks[0].url: "ftp://10.213.0.1/" is not an http:// URL',
    'vigil.yaml:19:36: health_checks[1].address: "10.213.0.1" is not address:port',
    'vigil.yaml:20:39: health_checks[2].script[0]: "relative.sh" must be an absolute path',
    'vigil.yaml:20:65: health_checks[2].instances[0]: no instance is named "nope"',
    'vigil.yaml:20:82: health_checks[2].resource: no resource is named "nope"',
  ]);
});
