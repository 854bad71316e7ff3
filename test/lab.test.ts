import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { withLab, labAvailable } from '../src/lab/netns.js';

const available = labAvailable();

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((l) => l.length > 0);
}

test('lab: hosts on one bridge reach each other over IPv4 and IPv6, and everything is removed afterwards', { skip: available.ok ? false : available.reason }, async () => {
  let prefix = '';
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    prefix = lab.prefix;
    assert.ok(namespaces().some((n) => n.startsWith(prefix)));
    const v4 = await lab.exec('a', 'ping', ['-c', '1', '-W', '2', lab.host('b').ipv4]);
    assert.equal(v4.code, 0);
    const v6 = await lab.exec('a', 'ping', ['-6', '-c', '1', '-W', '2', lab.host('b').ipv6]);
    assert.equal(v6.code, 0);
    const mac = await lab.exec('b', 'ip', ['-br', 'link', 'show', 'eth0']);
    assert.match(mac.stdout, new RegExp(lab.host('b').mac));
  });
  assert.equal(namespaces().filter((n) => n.startsWith(prefix)).length, 0, 'namespaces removed');
});

test('lab: torn down when the body throws, and its processes are ended', { skip: available.ok ? false : available.reason }, async () => {
  let prefix = '';
  let pid: number | undefined;
  await assert.rejects(
    withLab({ hosts: ['a'] }, async (lab) => {
      prefix = lab.prefix;
      const child = lab.spawn('a', 'sleep', ['30']);
      pid = child.pid;
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(namespaces().filter((n) => n.startsWith(prefix)).length, 0);
  assert.ok(pid !== undefined);
  assert.throws(() => process.kill(pid as number, 0), 'the child is gone');
});
