/**
 * The rpm (packaging/build-rpm.sh) beside the deb: both from the one staged tree, so their
 * file lists (paths and modes) are the same; the rpm's metadata, scriptlets and config
 * file; installed with `rpm --root` into a scratch root, it verifies and its vigil checks
 * the config it ships. lintian (deb) and rpmlint (rpm) report nothing that
 * packaging/README.md does not explain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

function missing(...tools: string[]): string | false {
  for (const tool of tools) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/setup test installs it)`;
  }
  if (!existsSync(path.join(REPO, 'build', 'Release', 'vigil_native.node'))) return 'the native addon is not built';
  return false;
}

let built: { dir: string; deb: string; rpm: string } | undefined;
/** Both packages, built once for the tests of this file. */
function packages(): { dir: string; deb: string; rpm: string } {
  if (built) return built;
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-pkgs-'));
  const deb = execFileSync('bash', [path.join(REPO, 'packaging', 'build-deb.sh'), dir], { cwd: REPO, encoding: 'utf8' }).trim();
  const rpm = execFileSync('bash', [path.join(REPO, 'packaging', 'build-rpm.sh'), dir], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  built = { dir, deb, rpm };
  return built;
}
process.on('exit', () => built && rmSync(built.dir, { recursive: true, force: true }));

const rpmq = (...args: string[]): string => execFileSync('rpm', args, { encoding: 'utf8', maxBuffer: 16 << 20 });

/** The tags packaging/README.md explains for `tool` (rows "| tool | `tag` | why |"). */
function explained(tool: 'lintian' | 'rpmlint'): Set<string> {
  const readme = readFileSync(path.join(REPO, 'packaging', 'README.md'), 'utf8');
  return new Set([...readme.matchAll(new RegExp(`^\\| ${tool} \\| \`([a-z0-9.-]+)\` \\|`, 'gm'))].map((m) => m[1] ?? ''));
}

test('rpm and deb carry the same files with the same modes', { skip: missing('rpmbuild', 'rpm', 'dpkg-deb', 'dpkg-shlibdeps'), timeout: 180_000 }, () => {
  const { deb, rpm } = packages();
  assert.match(path.basename(rpm), new RegExp(`^vigil-${VERSION.replace(/\./g, '\\.')}-1\\.[a-z0-9_]+\\.rpm$`));
  // deb: "-rw-r--r-- root/root 123 2026-01-01 00:00 ./usr/bin/vigil"
  const debFiles = new Map<string, string>();
  for (const line of execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 16 << 20 }).trim().split('\n')) {
    const m = /^(\S+) \S+ +\d+ \S+ \S+ \.(\/.*?)\/?$/.exec(line);
    if (m?.[2] && m[2] !== '/' && m[1]) debFiles.set(m[2], m[1]);
  }
  const rpmFiles = new Map<string, string>();
  for (const line of rpmq('-qp', '--qf', '[%{FILEMODES:perms} %{FILENAMES}\n]', rpm).trim().split('\n')) {
    const [mode, name] = line.split(' ');
    if (mode && name) rpmFiles.set(name, mode);
  }
  const filesOf = (m: Map<string, string>): string[] => [...m].filter(([, mode]) => !mode.startsWith('d')).map(([f, mode]) => `${mode} ${f}`).sort();
  assert.deepEqual(filesOf(rpmFiles), filesOf(debFiles), 'the same files, with the same modes');
  assert.ok(filesOf(debFiles).length > 100);
  // Directories: the rpm owns vigil's own (the shared ones belong to the filesystem package).
  for (const own of ['/etc/vigil', '/usr/lib/vigil', '/usr/share/doc/vigil']) assert.equal(rpmFiles.get(own)?.[0], 'd', `the rpm owns ${own}`);
  assert.equal(rpmFiles.get('/var/lib/vigil'), 'drwx------');
  assert.equal(debFiles.get('/var/lib/vigil'), 'drwx------');
});

test('rpm: metadata, the config as %config(noreplace), scriptlets, and vigil runs from an rpm --root install', { skip: missing('rpmbuild', 'rpm', 'dpkg-deb', 'dpkg-shlibdeps'), timeout: 180_000 }, () => {
  const { rpm, dir } = packages();
  assert.equal(rpmq('-qp', '--qf', '%{NAME} %{VERSION} %{LICENSE}', rpm), `vigil ${VERSION} MIT`);
  const requires = rpmq('-qpR', rpm);
  assert.match(requires, /^nodejs >= 20$/m);
  assert.match(requires, /^libstdc\+\+\.so\.6/m, "the addon's libraries, found by rpm");
  assert.match(rpmq('-qp', '--configfiles', rpm), /^\/etc\/vigil\/vigil\.yaml$/m);
  assert.equal(rpmq('-qp', '--qf', '[%{FILENAMES} %{FILEFLAGS:fflags}\n]', rpm).match(/^\/etc\/vigil\/vigil\.yaml (\S+)$/m)?.[1], 'cn', 'config(noreplace)');
  const scripts = rpmq('-qp', '--scripts', rpm);
  assert.match(scripts, /postinstall scriptlet[\s\S]*systemctl daemon-reload/);
  assert.match(scripts, /preuninstall scriptlet[\s\S]*disable --now vigil\.service/);
  assert.match(scripts, /postuninstall scriptlet[\s\S]*try-restart vigil\.service/);
  assert.match(rpmq('-qp', '--changelog', rpm), new RegExp(`- ${VERSION.replace(/\./g, '\\.')}-1\\n`));

  // Into a scratch root: no dependencies there (nodejs, libc), and no /bin/sh for the
  // scriptlets, so --nodeps --noscripts; rpm -V --nodeps checks the files (digests, modes).
  const scratch = path.join(dir, 'scratch');
  execFileSync('rpm', ['--root', scratch, '--initdb']);
  execFileSync('rpm', ['--root', scratch, '-i', '--nodeps', '--noscripts', rpm]);
  assert.equal(rpmq('--root', scratch, '-q', 'vigil').trim(), path.basename(rpm, '.rpm'));
  const verify = spawnSync('rpm', ['--root', scratch, '-V', '--nodeps', 'vigil'], { encoding: 'utf8' });
  assert.equal(verify.status, 0, `rpm -V: ${verify.stdout}${verify.stderr}`);
  const main = path.join(scratch, 'usr', 'lib', 'vigil', 'dist', 'src', 'cli', 'main.js');
  const check = spawnSync(process.execPath, [main, 'check-config', '-c', path.join(scratch, 'etc', 'vigil', 'vigil.yaml')], { encoding: 'utf8', cwd: tmpdir() });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /valid: 1 instance/);
  const version = spawnSync(process.execPath, [main, '--version'], { encoding: 'utf8' });
  assert.equal(version.stdout, `vigil ${VERSION}\n`);
  // The launcher carries the memory levers of src/daemon/node-flags.ts (README "Tests and benchmarks").
  assert.deepEqual(readFileSync(path.join(scratch, 'usr', 'bin', 'vigil'), 'utf8').split('\n').slice(1, 3), [
    'export MALLOC_ARENA_MAX=1',
    'exec /usr/bin/node --max-semi-space-size=1 --optimize-for-size /usr/lib/vigil/dist/src/cli/main.js "$@"',
  ]);
});

test('lintian reports on the deb only what packaging/README.md explains', { skip: missing('lintian', 'dpkg-deb', 'dpkg-shlibdeps', 'rpmbuild'), timeout: 300_000 }, () => {
  const { deb } = packages();
  const r = spawnSync('lintian', ['--pedantic', '-I', '--no-tag-display-limit', deb], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const tags = [...r.stdout.matchAll(/^[EWIPX]: vigil(?: \S+)?: ([a-z0-9.-]+)/gm)].map((m) => m[1] ?? '');
  assert.ok(r.status === 0 || tags.length > 0, `lintian ran: ${r.stderr}`);
  const allowed = explained('lintian');
  assert.ok(allowed.size > 0, 'packaging/README.md explains lintian tags');
  assert.deepEqual([...new Set(tags.filter((t) => !allowed.has(t)))], [], `unexplained lintian tags:\n${r.stdout}`);
});

test('rpmlint reports on the rpm only what packaging/README.md explains', { skip: missing('rpmlint', 'rpmbuild', 'dpkg-deb', 'dpkg-shlibdeps'), timeout: 300_000 }, () => {
  const { rpm } = packages();
  const r = spawnSync('rpmlint', ['-c', path.join(REPO, 'packaging', 'rpmlint.toml'), rpm], { encoding: 'utf8', maxBuffer: 16 << 20 });
  assert.match(r.stdout, /1 packages and 0 specfiles checked/, `rpmlint ran: ${r.stdout}${r.stderr}`);
  const tags = [...r.stdout.matchAll(/^vigil\.\S+: [EWI]: ([a-z0-9.-]+)/gm)].map((m) => m[1] ?? '');
  const allowed = explained('rpmlint');
  assert.ok(allowed.size > 0, 'packaging/README.md explains rpmlint tags');
  assert.deepEqual([...new Set(tags.filter((t) => !allowed.has(t)))], [], `unexplained rpmlint tags:\n${r.stdout}`);
});
