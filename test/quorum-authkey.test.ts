/**
 * The shared key file (src/quorum/io/authkey.ts) and `vigil keygen` (src/cli/keygen.ts),
 * in a temporary directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KeyFileError, MIN_KEY_LENGTH, formatKey, generateKey, parseKey, readKeyFile, writeKeyFile } from '../src/quorum/io/authkey.js';
import { keygenCommand } from '../src/cli/keygen.js';
import type { CliIo } from '../src/cli/main.js';

const isRoot = process.getuid?.() === 0;
const notRoot = isRoot ? false : 'the key file must be owned by root: run as root';

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'vigil-authkey-'));
}

function fileMode(file: string): number {
  return statSync(file).mode & 0o7777;
}

function fakeIo(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    readStdin: () => Promise.resolve(''),
  };
  return io;
}

async function rejectsWith(promise: Promise<unknown>, code: KeyFileError['code'], pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof KeyFileError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
}

test('authkey: generated keys are 32 random bytes, base64 in the file', () => {
  const a = generateKey();
  const b = generateKey();
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
  assert.equal(generateKey(64).length, 64);
  assert.throws(() => generateKey(16), RangeError);
  const text = formatKey(a);
  assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
  const parsed = parseKey(text);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.key, a);
});

test('authkey: write, then read back; mode 0600; no temporary file left', { skip: notRoot }, async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'etc', 'vigil', 'authkey');
    const key = await writeKeyFile(file);
    assert.equal(fileMode(file), 0o600);
    assert.equal(statSync(file).uid, 0);
    assert.deepEqual(await readKeyFile(file), key);
    assert.equal(readFileSync(file, 'utf8'), formatKey(key));
    assert.deepEqual(readdirSync(path.dirname(file)), ['authkey']);
    // 0400 is fine too.
    chmodSync(file, 0o400);
    assert.deepEqual(await readKeyFile(file), key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('authkey: an existing key is not overwritten unless forced', { skip: notRoot }, async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'authkey');
    const first = await writeKeyFile(file);
    await rejectsWith(writeKeyFile(file), 'exists', /already exists/);
    assert.deepEqual(await readKeyFile(file), first, 'unchanged');
    // Forced: replaced, and 0600 even if the old file was looser.
    chmodSync(file, 0o644);
    const second = await writeKeyFile(file, { force: true });
    assert.notDeepEqual(second, first);
    assert.equal(fileMode(file), 0o600);
    assert.deepEqual(await readKeyFile(file), second);
    assert.deepEqual(readdirSync(dir), ['authkey']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('authkey: a key file readable or writable by group or others is refused, naming the path and mode', { skip: notRoot }, async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'authkey');
    await writeKeyFile(file);
    for (const mode of [0o640, 0o620, 0o604, 0o602, 0o660, 0o644, 0o666, 0o610, 0o601]) {
      chmodSync(file, mode);
      const text = `0${mode.toString(8)}`;
      await rejectsWith(readKeyFile(file), 'bad-mode', new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: mode ${text} `));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('authkey: a key file not owned by root is refused', { skip: notRoot }, async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'authkey');
    await writeKeyFile(file);
    chownSync(file, 65534, 65534);
    await rejectsWith(readKeyFile(file), 'bad-owner', /owned by uid 65534, must be owned by root/);
    // Another owner may be required explicitly.
    assert.equal((await readKeyFile(file, { ownerUid: 65534 })).length, 32);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('authkey: short, malformed, missing, symlinked and non-regular key files are refused', { skip: notRoot }, async () => {
  const dir = tempDir();
  try {
    const short = path.join(dir, 'short');
    writeFileSync(short, formatKey(Buffer.alloc(MIN_KEY_LENGTH - 1, 7)), { mode: 0o600 });
    await rejectsWith(readKeyFile(short), 'too-short', /31-byte key, at least 32/);
    const garbage = path.join(dir, 'garbage');
    writeFileSync(garbage, 'not a key, just words\n', { mode: 0o600 });
    await rejectsWith(readKeyFile(garbage), 'bad-format', /not one line of base64/);
    const raw = path.join(dir, 'raw');
    writeFileSync(raw, Buffer.from([0, 1, 2, 255, 254, ...generateKey()]), { mode: 0o600 });
    await rejectsWith(readKeyFile(raw), 'bad-format', /base64/);
    await rejectsWith(readKeyFile(path.join(dir, 'missing')), 'not-found', /no such key file/);
    const good = path.join(dir, 'good');
    await writeKeyFile(good);
    const link = path.join(dir, 'link');
    symlinkSync(good, link);
    await rejectsWith(readKeyFile(link), 'not-regular', /symbolic link/);
    const sub = path.join(dir, 'sub');
    mkdirSync(sub, { mode: 0o700 });
    await rejectsWith(readKeyFile(sub), 'not-regular', /not a regular file/);
    // A longer key is fine.
    const long = path.join(dir, 'long');
    await writeKeyFile(long, { key: generateKey(64) });
    assert.equal((await readKeyFile(long)).length, 64);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil keygen: writes a 0600 key file, refuses to overwrite without --force', { skip: notRoot }, async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'vigil', 'authkey');
    const io = fakeIo();
    assert.equal(await keygenCommand.run(['--file', file], io), 0, io.err);
    assert.match(io.out, /wrote a 32-byte key to .*authkey \(mode 0600\)/);
    assert.equal(fileMode(file), 0o600);
    const first = await readKeyFile(file);

    const again = fakeIo();
    assert.equal(await keygenCommand.run(['--file', file], again), 1);
    assert.match(again.err, /already exists; not overwriting a key \(use --force/);
    assert.deepEqual(await readKeyFile(file), first);

    const forced = fakeIo();
    assert.equal(await keygenCommand.run(['-f', file, '--force'], forced), 0, forced.err);
    assert.equal(fileMode(file), 0o600);
    assert.notDeepEqual(await readKeyFile(file), first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil keygen: help and usage errors', async () => {
  assert.equal(keygenCommand.name, 'keygen');
  const help = fakeIo();
  assert.equal(await keygenCommand.run(['--help'], help), 0);
  assert.match(help.out, /Usage: vigil keygen/);
  assert.match(help.out, /\/etc\/vigil\/authkey/);
  const bad = fakeIo();
  assert.equal(await keygenCommand.run(['--bogus'], bad), 2);
  assert.match(bad.err, /Usage: vigil keygen/);
  const positional = fakeIo();
  assert.equal(await keygenCommand.run(['somefile'], positional), 2);
  const empty = fakeIo();
  assert.equal(await keygenCommand.run(['--file', ''], empty), 2);
});
