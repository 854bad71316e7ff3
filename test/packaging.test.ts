/**
 * The Debian package (packaging/build-deb.sh): built from this checkout, its metadata and
 * file list, and the extracted tree run as it would be installed — the config it ships is
 * valid, the addon and the dependencies load, the unit is Type=notify.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function missing(): string | false {
  for (const tool of ['dpkg-deb', 'dpkg', 'dpkg-shlibdeps', 'git']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  if (!existsSync(path.join(REPO, 'build', 'Release', 'vigil_native.node'))) return 'the native addon is not built';
  return false;
}

test('packaging: the .deb carries the daemon, its dependencies, the config and the unit, and runs from where it installs', { skip: missing(), timeout: 120_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-deb-'));
  try {
    const deb = execFileSync('bash', [path.join(REPO, 'packaging', 'build-deb.sh'), dir], { cwd: REPO, encoding: 'utf8' }).trim();
    assert.match(path.basename(deb), /^vigil_\d+\.\d+\.\d+_[a-z0-9]+\.deb$/);
    const field = (name: string): string => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();
    assert.equal(field('Package'), 'vigil');
    assert.equal(field('Version'), JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version);
    assert.match(field('Depends'), /nodejs \(>= 20\)/);
    assert.match(field('Depends'), /libc6 \(>= [0-9.]+\)/, 'the addon\'s libraries');

    const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 16 << 20 });
    for (const file of [
      './usr/bin/vigil',
      './usr/lib/vigil/dist/src/cli/main.js',
      './usr/lib/vigil/build/Release/vigil_native.node',
      './usr/lib/vigil/schema/vigil.schema.json',
      './usr/lib/vigil/node_modules/yaml/package.json',
      './usr/lib/vigil/node_modules/ajv/package.json',
      './etc/vigil/vigil.yaml',
      './usr/lib/systemd/system/vigil.service',
      './usr/share/man/man8/vigil.8.gz',
      './usr/share/man/man5/vigil.yaml.5.gz',
      './usr/share/bash-completion/completions/vigil',
      './usr/share/doc/vigil/copyright',
      './usr/share/doc/vigil/changelog.gz',
      './usr/share/dbus-1/system.d/vigil-org.keepalived.Vrrp1.conf',
      './usr/share/doc/vigil/grafana/vigil-dashboard.json',
      './usr/share/doc/vigil/monitoring.md',
      './usr/lib/vigil/node_modules/dbus-next/package.json',
      './usr/lib/vigil/node_modules/net-snmp/package.json',
    ]) {
      assert.ok(listing.includes(` ${file}\n`), `${file} in the package`);
    }
    assert.ok(!listing.includes('/dist/test/'), 'no tests in the package');
    assert.ok(!/ \.\/usr\/lib\/vigil\/node_modules\/(typescript|fast-check|node-addon-api)\//.test(listing), 'no dev or build-only dependencies');
    assert.match(listing, /^drwx------ root\/root .* \.\/var\/lib\/vigil\/$/m, '/var/lib/vigil is root-only');
    assert.ok(!listing.includes('/node_modules/usocket/'), "no dbus-next's optional native usocket");
    assert.match(listing, /root\/root .* \.\/usr\/bin\/vigil/, 'files owned by root');

    const control = execFileSync('dpkg-deb', ['--ctrl-tarfile', deb]);
    assert.ok(control.includes(Buffer.from('/etc/vigil/vigil.yaml')), 'the config is a conffile');

    // Run the extracted tree as installed (the paths inside are relative to /usr/lib/vigil).
    const root = path.join(dir, 'root');
    execFileSync('dpkg-deb', ['-x', deb, root]);
    const main = path.join(root, 'usr', 'lib', 'vigil', 'dist', 'src', 'cli', 'main.js');
    const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', cwd: tmpdir() });
    const check = run('check-config', '-c', path.join(root, 'etc', 'vigil', 'vigil.yaml'));
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /valid: 1 instance/);
    const decoded = run('packet', 'decode', '--hex', '313396020064368a0ad500640ad50065', '--src', '10.213.0.1', '--dst', '224.0.0.18', '--ttl', '255');
    assert.equal(decoded.status, 0, decoded.stderr);
    assert.equal((JSON.parse(decoded.stdout) as { vrid: number }).vrid, 51);
    const addon = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, 'usr', 'lib', 'vigil', 'build', 'Release', 'vigil_native.node'))}).socket`], { encoding: 'utf8' });
    assert.equal(addon.status, 0, addon.stderr);
    assert.equal(statSync(path.join(root, 'usr', 'bin', 'vigil')).mode & 0o777, 0o755);
    const version = run('--version');
    assert.equal(version.stdout, `vigil ${field('Version')}\n`, version.stderr);
    const unit = readFileSync(path.join(root, 'usr', 'lib', 'systemd', 'system', 'vigil.service'), 'utf8');
    assert.match(unit, /^Type=notify$/m);
    assert.match(unit, /^ExecStart=\/usr\/bin\/vigil run -c \/etc\/vigil\/vigil.yaml$/m);
    assert.match(unit, /^KillMode=process$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
