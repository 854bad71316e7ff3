/**
 * The daemon against the things operators get wrong or do by hand: a VIP deleted with
 * `ip addr del` while master is put back (and logged), a missing interface or a bad
 * config stops the start with a message naming it, and `vigil status` without a daemon
 * says where it looked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { withLab } from '../src/lab/netns.js';
import { VIGIL_MAIN, VigilProcess, configYaml, holders, instanceYaml, waitHolders } from '../src/lab/vigil.js';
import { labSkipReason } from '../src/lab/netns.js';

const execFileP = promisify(execFile);

const skip = labSkipReason();

test('daemon: a VIP removed by hand while master is put back, and the removal is logged', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 70, priority: 150, vips: ['10.213.0.170/24', '10.213.0.171/24'] })));
    try {
      await a.waitState('gw', 'master');
      await waitHolders(lab, ['a'], '10.213.0.171', ['a']);
      await lab.exec('a', 'ip', ['addr', 'del', '10.213.0.171/24', 'dev', 'eth0']);
      const logged = await a.waitFor((e) => e.event === 'vip-removed-externally', 'vip-removed-externally', 5000);
      assert.equal(logged['address'], '10.213.0.171');
      await waitHolders(lab, ['a'], '10.213.0.171', ['a'], 5000);
      assert.deepEqual(await holders(lab, ['a'], '10.213.0.170'), ['a'], 'the other VIP was never touched');
      assert.equal((await a.instance('gw')).state, 'master');
    } finally {
      await a.stop();
    }
  });
});

test('daemon: a missing interface stops the start with an error naming the file, line, instance and interface', { skip }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-err-'));
    try {
      const config = path.join(dir, 'vigil.yaml');
      writeFileSync(config, configYaml(instanceYaml({ vrid: 71, priority: 100, vips: ['10.213.0.172/24'] })).replace('interface: eth0', 'interface: nosuch0'));
      const r = await lab.exec('a', process.execPath, [VIGIL_MAIN, 'run', '-c', config, '--runtime-dir', path.join(dir, 'run')], true);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:5: instance gw: interface nosuch0 does not exist`));
      assert.deepEqual(await holders(lab, ['a'], '10.213.0.172'), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('daemon: an invalid config is refused at start with every problem as FILE:LINE:COLUMN: KEY: MESSAGE', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-err-'));
  try {
    const config = path.join(dir, 'vigil.yaml');
    writeFileSync(config, 'instances:\n  - name: gw\n    interface: eth0\n    vrid: 300\n    virtual_ips: [10.213.0.300/24]\n');
    const r = await execFileP(process.execPath, [VIGIL_MAIN, 'run', '-c', config, '--runtime-dir', path.join(dir, 'run')]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /vigil\.yaml:4:11: instances\[0\]\.vrid: /);
    assert.match(r.stderr, /vigil\.yaml:5:19: instances\[0\]\.virtual_ips\[0\]: "10\.213\.0\.300\/24" is not an IPv4 prefix/);
    assert.match(r.stderr, /not started/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil status without a daemon names the socket it tried and exits 1', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-err-'));
  try {
    const r = await execFileP(process.execPath, [VIGIL_MAIN, 'status', '--runtime-dir', dir]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach vigil at ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/vigil\\.sock: ENOENT`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('daemon: global.nonlocal_bind sets net.ipv4/ipv6.ip_nonlocal_bind in its namespace, so a backup can bind the VIP', { skip }, async () => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    const yaml = `global:\n  nonlocal_bind: true\n${configYaml(instanceYaml({ vrid: 72, priority: 100, vips: ['10.213.0.173/24'] }))}`;
    const a = await VigilProcess.start(lab, 'a', yaml);
    const b = await VigilProcess.start(lab, 'b', yaml.replace('priority: 100', 'priority: 50'));
    try {
      const r = await lab.exec('b', 'cat', ['/proc/sys/net/ipv4/ip_nonlocal_bind', '/proc/sys/net/ipv6/ip_nonlocal_bind']);
      assert.deepEqual(r.stdout.trim().split('\n'), ['1', '1']);
      await a.waitState('gw', 'master');
      await waitHolders(lab, ['a', 'b'], '10.213.0.173', ['a']);
      // On the backup, a listener binds the VIP it does not hold.
      const bind = await lab.exec('b', process.execPath, [
        '-e',
        "const s=require('net').createServer().listen(8080,'10.213.0.173',()=>{console.log('bound');s.close()}).on('error',e=>{console.log(e.code);process.exit(1)})",
      ], true);
      assert.equal(bind.stdout.trim(), 'bound');
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
