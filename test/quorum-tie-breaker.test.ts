/**
 * The two-node tie-breaker's checks against real things: ping (iputils) in a lab
 * namespace, a TCP witness listening on loopback, and fencing scripts in a temp dir —
 * with exit status, timeouts and the script-safety refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ip } from '../src/net/address.js';
import { fenceCheck, pingCheck, tcpCheck } from '../src/quorum/io/tie-breaker.js';
import { scriptProblem } from '../src/os/script-safety.js';
import { labAvailable, withLab } from '../src/lab/netns.js';
import { VIGIL_MAIN } from '../src/lab/vigil.js';

const lab = labAvailable();
const isRoot = process.getuid?.() === 0;

test('tie-breaker tcp: a listening witness passes; a closed port and a silent one fail with the reason', async () => {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  const port = address.port;
  try {
    const ok = await tcpCheck({ address: ip('127.0.0.1'), port }, 1000);
    assert.equal(ok.ok, true, ok.detail);
    assert.equal(ok.check, 'tcp');
    assert.match(ok.detail, new RegExp(`127\\.0\\.0\\.1:${port}: connected`));
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  const closed = await tcpCheck({ address: ip('127.0.0.1'), port }, 1000);
  assert.equal(closed.ok, false);
  assert.match(closed.detail, /ECONNREFUSED/);
});

test('tie-breaker ping: an answering address passes; an unreachable one fails within the timeout', { skip: lab.ok ? false : lab.reason }, async () => {
  await withLab({ hosts: ['a', 'gw'] }, async (l) => {
    // Run the checks inside host a's namespace, through a tiny driver.
    const script = `import('${path.resolve(path.dirname(VIGIL_MAIN), '..', 'quorum', 'io', 'tie-breaker.js')}').then(async (m) => {
      const a = await import('${path.resolve(path.dirname(VIGIL_MAIN), '..', 'net', 'address.js')}');
      const up = await m.pingCheck(a.ip('${l.host('gw').ipv4}'), 1000);
      const down = await m.pingCheck(a.ip('10.213.0.99'), 300);
      console.log(JSON.stringify({ up, down }));
    })`;
    const r = await l.exec('a', process.execPath, ['--input-type=module', '-e', script]);
    const { up, down } = JSON.parse(r.stdout) as { up: { ok: boolean; detail: string }; down: { ok: boolean; detail: string; elapsedMs: number } };
    assert.equal(up.ok, true, up.detail);
    assert.equal(down.ok, false);
    assert.match(down.detail, /10\.213\.0\.99: no answer within 300 ms/);
    assert.ok(down.elapsedMs < 900, `gave up after ${down.elapsedMs} ms`);
  });
  // The local loopback answers without a lab.
  const local = await pingCheck(ip('127.0.0.1'), 1000);
  assert.equal(local.ok, true, local.detail);
});

test('tie-breaker fence: exit 0 passes with the peer as arguments; exit 1, a hang and unsafe scripts fail', { skip: isRoot ? false : 'needs root (scripts must be root-owned)' }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-fence-'));
  chmodSync(dir, 0o755);
  const script = (name: string, body: string, mode = 0o755): string => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, mode);
    return file;
  };
  const peer = { name: 'b', address: ip('10.213.0.2') };
  try {
    const seen = path.join(dir, 'seen');
    const good = await fenceCheck(script('good.sh', `echo "$1 $2 $VIGIL_PEER" > ${seen}; exit 0`), peer, 2000);
    assert.equal(good.ok, true, good.detail);
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(seen, 'utf8').trim(), 'b 10.213.0.2 b');

    const bad = await fenceCheck(script('bad.sh', 'echo "ipmi: no route" >&2; exit 3'), peer, 2000);
    assert.equal(bad.ok, false);
    assert.match(bad.detail, /exit 3 \(ipmi: no route\)/);

    const hung = await fenceCheck(script('hang.sh', 'exec sleep 30'), peer, 300);
    assert.equal(hung.ok, false);
    assert.match(hung.detail, /timed out after 300 ms/);
    assert.ok(hung.elapsedMs < 2000);

    const writable = script('writable.sh', 'exit 0', 0o777);
    assert.match(scriptProblem(writable) ?? '', /writable by others \(mode 777\); refused/);
    assert.equal((await fenceCheck(writable, peer, 1000)).ok, false);

    const groupWritable = script('group.sh', 'exit 0', 0o775);
    assert.match(scriptProblem(groupWritable) ?? '', /writable by its group/);

    const notOurs = script('nobody.sh', 'exit 0');
    chownSync(notOurs, 65534, 65534);
    assert.match(scriptProblem(notOurs) ?? '', /owned by uid 65534, not root/);

    assert.match(scriptProblem(script('noexec.sh', 'exit 0', 0o644)) ?? '', /not executable/);
    assert.match(scriptProblem(path.join(dir, 'missing.sh')) ?? '', /ENOENT/);
    assert.equal(scriptProblem(script('fine.sh', 'exit 0')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
