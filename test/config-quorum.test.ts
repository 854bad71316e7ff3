/**
 * The quorum section of the config: defaults (equal to the schema's), corosync's
 * refusals, the two-node warnings, and errors naming file, line, column and key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { validateQuorumConfig } from '../src/quorum/engine.js';
import { toNodeId, toVotes } from '../src/quorum/types.js';
import { QUORUM_DEFAULTS, SCHEMA_FILE, formatIssue, parseConfig } from '../src/config/load.js';
import type { QuorumConfig } from '../src/config/types.js';
import { summarizeConfig } from '../src/cli/check-config.js';

const INSTANCE = 'instances:\n  - name: gw\n    interface: eth0\n    vrid: 51\n    virtual_ips: [10.213.0.100/24]\n';
const TWO_NODES = '  nodes:\n    - { id: 1, name: a, address: 10.213.0.1 }\n    - { id: 2, name: b, address: 10.213.0.2 }\n';

function parse(quorum: string): ReturnType<typeof parseConfig> {
  return parseConfig(`${INSTANCE}quorum:\n${quorum}`, 'vigil.yaml');
}

function quorumOf(quorum: string): { config: QuorumConfig; warnings: string[] } {
  const r = parse(quorum);
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  assert.ok(r.config.quorum);
  return { config: r.config.quorum, warnings: r.warnings.map(formatIssue) };
}

function errors(quorum: string): string[] {
  const r = parse(quorum);
  assert.ok(!r.ok, 'refused');
  return r.errors.map(formatIssue);
}

test('config quorum: defaults, and the schema says the same', () => {
  const { config } = quorumOf(TWO_NODES);
  assert.equal(config.transport, 'unicast');
  assert.equal(config.port, 5406);
  assert.equal(config.heartbeatIntervalMs, 200);
  assert.equal(config.heartbeatTimeoutMs, 1000);
  assert.equal(config.keyFile, '/etc/vigil/authkey');
  assert.equal(config.twoNode, false);
  assert.equal(config.waitForAll, false);
  assert.equal(config.lastManStandingWindowMs, 10000);
  assert.equal(config.noQuorumPolicy, 'stop');
  assert.equal(config.autoTieBreakerNode, 'lowest');
  assert.equal(config.multicastGroup.text, '239.192.213.1');
  assert.deepEqual(config.nodes.map((n) => [n.id, n.name, n.address.text, n.votes]), [
    [1, 'a', '10.213.0.1', 1],
    [2, 'b', '10.213.0.2', 1],
  ]);
  assert.equal(config.nodeId, undefined, 'found at start from the local addresses');
  assert.equal(config.tieBreaker, undefined);

  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as { properties: { quorum: { properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }>; items?: { properties: Record<string, { default?: unknown }> } }> } } };
  const q = schema.properties.quorum.properties;
  assert.equal(config.clusterName, 'vigil');
  const expect: [string, unknown][] = [
    ['cluster_name', QUORUM_DEFAULTS.clusterName],
    ['transport', QUORUM_DEFAULTS.transport],
    ['multicast_group', QUORUM_DEFAULTS.multicastGroup],
    ['port', QUORUM_DEFAULTS.port],
    ['heartbeat_interval', QUORUM_DEFAULTS.heartbeatInterval],
    ['heartbeat_timeout', QUORUM_DEFAULTS.heartbeatTimeout],
    ['key_file', QUORUM_DEFAULTS.keyFile],
    ['two_node', QUORUM_DEFAULTS.twoNode],
    ['last_man_standing', QUORUM_DEFAULTS.lastManStanding],
    ['last_man_standing_window', QUORUM_DEFAULTS.lastManStandingWindow],
    ['auto_tie_breaker', QUORUM_DEFAULTS.autoTieBreaker],
    ['auto_tie_breaker_node', QUORUM_DEFAULTS.autoTieBreakerNode],
    ['no_quorum_policy', QUORUM_DEFAULTS.noQuorumPolicy],
  ];
  for (const [key, value] of expect) assert.deepEqual(q[key]?.default, value, `schema quorum.${key}`);
  assert.equal(q['nodes']?.items?.properties['votes']?.default, QUORUM_DEFAULTS.votes);
  assert.equal(q['tie_breaker']?.properties?.['timeout']?.default, QUORUM_DEFAULTS.tieBreakerTimeout);
  assert.equal(q['tie_breaker']?.properties?.['interval']?.default, QUORUM_DEFAULTS.tieBreakerInterval);
});

test('config quorum: wait_for_all follows two_node unless set; two_node without a tie-breaker is warned about', () => {
  const two = quorumOf(`  two_node: true\n${TWO_NODES}`);
  assert.equal(two.config.waitForAll, true);
  assert.equal(two.warnings.length, 1);
  assert.match(two.warnings[0] ?? '', /^vigil\.yaml:7:13: quorum\.two_node: two_node without a tie_breaker: .*both become master/);
  const off = quorumOf(`  two_node: true\n  wait_for_all: false\n  tie_breaker: { ping: 10.213.0.254 }\n${TWO_NODES}`);
  assert.equal(off.config.waitForAll, false);
  assert.deepEqual(off.warnings, []);
  assert.equal(off.config.tieBreaker?.ping?.text, '10.213.0.254');
});

test("config quorum: corosync's refusals and warnings", () => {
  assert.deepEqual(errors(`  two_node: true\n  nodes:\n    - { id: 1, name: a, address: 10.213.0.1 }\n    - { id: 2, name: b, address: 10.213.0.2 }\n    - { id: 3, name: c, address: 10.213.0.3 }\n`), [
    'vigil.yaml:7:13: quorum.two_node: two_node needs exactly two votes in the cluster; the nodes have 3',
  ]);
  const atb = quorumOf(`  two_node: true\n  auto_tie_breaker: true\n${TWO_NODES}`);
  assert.equal(atb.config.twoNode, false, 'auto_tie_breaker turns two_node off, as corosync does');
  assert.ok(atb.warnings.some((w) => /quorum\.two_node: two_node is ignored with auto_tie_breaker/.test(w)));
  const ignore = quorumOf(`  no_quorum_policy: ignore\n${TWO_NODES}`);
  assert.ok(ignore.warnings.some((w) => /^vigil\.yaml:7:21: quorum\.no_quorum_policy: no_quorum_policy ignore/.test(w)));
});

test('config quorum: every problem names file, line, column and key', () => {
  assert.deepEqual(
    errors(
      [
        '  node_id: 9',
        '  transport: multicast',
        '  multicast_group: 10.213.0.9',
        '  heartbeat_interval: 500ms',
        '  heartbeat_timeout: 800ms',
        '  auto_tie_breaker_node: [1, 7]',
        '  tie_breaker: { tcp: "10.213.0.9" }',
        '  nodes:',
        '    - { id: 1, name: a, address: 10.213.0.1 }',
        '    - { id: 1, name: b, address: 10.213.0.2 }',
        '    - { id: 3, name: a, address: 10.213.0.3 }',
        '    - { id: 4, name: d, address: 10.213.0.1 }',
        '    - { id: 5, name: e, address: 10.213.0.300 }',
        '',
      ].join('\n'),
    ),
    [
      'vigil.yaml:7:12: quorum.node_id: no node in quorum.nodes has id 9',
      'vigil.yaml:8:14: quorum.transport: transport multicast needs quorum.interface, the interface to send and receive on',
      'vigil.yaml:9:20: quorum.multicast_group: "10.213.0.9" is not an IPv4 multicast address (224.0.0.0/4)',
      'vigil.yaml:11:22: quorum.heartbeat_timeout: 800ms is less than twice heartbeat_interval (500ms): one lost heartbeat would drop a member',
      'vigil.yaml:12:30: quorum.auto_tie_breaker_node[1]: no node in quorum.nodes has id 7',
      'vigil.yaml:13:23: quorum.tie_breaker.tcp: "10.213.0.9" is not address:port (e.g. 10.213.0.250:80 or [fd13::250]:80)',
      'vigil.yaml:16:13: quorum.nodes[1].id: node id 1 is already the one of node #0 (line 15)',
      'vigil.yaml:17:22: quorum.nodes[2].name: node name "a" is already the one of node #0 (line 15)',
      'vigil.yaml:18:34: quorum.nodes[3].address: address 10.213.0.1 is already the one of node #0 (line 15)',
      'vigil.yaml:19:34: quorum.nodes[4].address: "10.213.0.300" is not an IP address',
    ],
  );
  assert.deepEqual(errors('  nodes: [{ id: 1, name: a, address: 10.213.0.1 }]\n  bogus: 1\n'), [
    'vigil.yaml:7:10: quorum.nodes: expected at least 2 entries, got 1',
    'vigil.yaml:8:3: quorum.bogus: unknown key; expected one of: provider, nodes, cluster_name, node_id, transport, multicast_group, interface, port, heartbeat_interval, heartbeat_timeout, key_file, expected_votes, two_node, wait_for_all, last_man_standing, last_man_standing_window, auto_tie_breaker, auto_tie_breaker_node, no_quorum_policy, tie_breaker',
  ]);
});

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

test('config quorum: check-config refuses what the quorum engine refuses at start, with its reason, at the key (issue 9, bug 3)', async () => {
  // Fixed: two_node with three nodes of votes 1, 1, 0 passed the loader (two votes) and
  // then `vigil run` refused it; the loader now asks the engine's own validation.
  const bug3 = [
    '  two_node: true',
    '  tie_breaker: { ping: 10.213.0.254 }',
    '  nodes:',
    '    - { id: 1, name: a, address: 10.213.0.1 }',
    '    - { id: 2, name: b, address: 10.213.0.2 }',
    '    - { id: 3, name: c, address: 10.213.0.3, votes: 0 }',
    '',
  ].join('\n');
  const reason = 'two_node needs exactly two nodes in the cluster; the nodelist has 3 (a node of 0 votes counts)';
  assert.deepEqual(errors(bug3), [`vigil.yaml:7:13: quorum.two_node: ${reason}`]);
  // The reason is the one the daemon's quorum service gets from the engine before it starts.
  const atStart = validateQuorumConfig({
    nodes: [1, 2, 3].map((id) => ({ id: toNodeId(id), name: 'abc'[id - 1] ?? '', votes: toVotes(id === 3 ? 0 : 1) })),
    localId: toNodeId(1),
    twoNode: true,
    waitForAll: true,
    lastManStanding: false,
    lastManStandingWindowMs: 10_000,
    autoTieBreaker: false,
    autoTieBreakerNode: 'lowest',
  });
  assert.ok(!atStart.ok);
  assert.deepEqual(atStart.errors.map((e) => e.message), [reason]);
  // And `vigil check-config` exits 1 with it at FILE:LINE:COLUMN.
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-config-quorum-'));
  try {
    const file = path.join(dir, 'vigil.yaml');
    writeFileSync(file, `${INSTANCE}quorum:\n${bug3}`);
    const r = await promisify(execFile)(process.execPath, [MAIN, 'check-config', '-c', file], { encoding: 'utf8' }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? '' }),
    );
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `${file}:7:13: quorum.two_node: ${reason}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The engine's other refusals, each at its key.
  assert.deepEqual(errors(`  expected_votes: 1\n${TWO_NODES}`), [
    "vigil.yaml:7:19: quorum.expected_votes: expected_votes 1 is below the nodelist's total votes 2: two partitions could each reach quorum 1 before seeing each other",
  ]);
  assert.deepEqual(errors(`  last_man_standing: true\n  last_man_standing_window: 500ms\n${TWO_NODES}`), [
    'vigil.yaml:8:29: quorum.last_man_standing_window: last_man_standing_window 500 ms is below 1000 ms: expected votes would drop before membership settles',
  ]);
  assert.deepEqual(
    errors(`  auto_tie_breaker: true\n  last_man_standing: true\n${TWO_NODES}    - { id: 3, name: c, address: 10.213.0.3 }\n`),
    ['vigil.yaml:7:21: quorum.auto_tie_breaker: auto_tie_breaker & last_man_standing not available in odd sized cluster without wait_for_all'],
  );
  assert.deepEqual(errors('  nodes:\n    - { id: 1, name: a, address: 10.213.0.1, votes: 0 }\n    - { id: 2, name: b, address: 10.213.0.2, votes: 0 }\n'), [
    'vigil.yaml:8:5: quorum.nodes: the nodes of the nodelist have no votes between them: quorum is impossible',
  ]);
  // Its corrections are warnings at the key, and the config carries the corrected options.
  const odd = quorumOf(`  auto_tie_breaker: true\n${TWO_NODES}    - { id: 3, name: c, address: 10.213.0.3 }\n`);
  assert.equal(odd.config.autoTieBreaker, false);
  assert.deepEqual(odd.warnings, [
    'vigil.yaml:7:21: quorum.auto_tie_breaker: auto_tie_breaker is set and the cluster has an odd number of votes: wait_for_all is needed for this configuration but it is missing. auto_tie_breaker has been disabled',
  ]);
});

test('config quorum: provider corosync needs no nodes and refuses the keys corosync.conf owns', () => {
  const { config, warnings } = quorumOf('  provider: corosync\n  no_quorum_policy: freeze\n');
  assert.equal(config.provider, 'corosync');
  assert.equal(config.noQuorumPolicy, 'freeze');
  assert.deepEqual(config.nodes, []);
  assert.deepEqual(warnings, []);
  assert.equal(quorumOf(TWO_NODES).config.provider, 'vigil', 'the default provider is vigil');
  // Without provider corosync the node list is still required.
  assert.deepEqual(errors('  no_quorum_policy: stop\n'), ['vigil.yaml:7:3: quorum: missing required key "nodes"']);
  assert.deepEqual(errors(`  provider: corosync\n${TWO_NODES}  two_node: true\n  tie_breaker: { ping: 10.213.0.254 }\n`), [
    'vigil.yaml:9:5: quorum.nodes: nodes does not apply with provider corosync: corosync.conf (totem, nodelist, quorum) decides; only no_quorum_policy is read here',
    'vigil.yaml:11:13: quorum.two_node: two_node does not apply with provider corosync: corosync.conf (totem, nodelist, quorum) decides; only no_quorum_policy is read here',
    'vigil.yaml:12:16: quorum.tie_breaker: tie_breaker does not apply with provider corosync: corosync.conf (totem, nodelist, quorum) decides; only no_quorum_policy is read here',
  ]);
  assert.match(errors('  provider: heartbeat\n').join('\n'), /quorum\.provider: .*vigil.*corosync/);
  const r = parse('  provider: corosync\n');
  assert.ok(r.ok);
  assert.match(summarizeConfig(r.config), /^quorum: from the local corosync \(votequorum; corosync\.conf decides membership and votes\), no_quorum_policy stop$/m);
});
