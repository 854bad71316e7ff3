/**
 * `vigil packet decode|encode`, run as the real executable against the golden vectors,
 * plus a few in-process checks of the dispatcher through a fake CliIo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { runCli, type CliCommand, type CliIo } from '../src/cli/main.js';
import { parseHex } from '../src/cli/packet.js';
import { advertVectors } from './support/vectors.js';

/** dist/test/cli-packet.test.js -> dist/src/cli/main.js */
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function vigil(args: readonly string[], stdin?: string): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input: stdin ?? '', encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function explain(r: Run): string {
  return `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

const vectors = advertVectors();
const k1 = vectors.find((v) => v.case === 'K1');
const k4 = vectors.find((v) => v.case === 'K4');

function decodeArgs(v: (typeof vectors)[number], hex = v.payload_hex, ttl = v.ip.ttl_or_hop_limit): string[] {
  return ['packet', 'decode', '--hex', hex, '--src', v.ip.src, '--dst', v.ip.dst, '--ttl', String(ttl)];
}

test('there are advert vectors, including K1 (v3) and K4 (v2)', () => {
  assert.ok(vectors.length >= 6, `found ${vectors.length}`);
  assert.ok(k1 && k4);
});

for (const v of vectors) {
  test(`vector ${v.name}: packet decode prints its decoded JSON, packet encode gives back payload_hex`, () => {
    const decoded = vigil(decodeArgs(v));
    assert.equal(decoded.status, 0, explain(decoded));
    assert.deepEqual(JSON.parse(decoded.stdout), v.decoded);

    const encoded = vigil(['packet', 'encode', '--src', v.ip.src, '--dst', v.ip.dst], decoded.stdout);
    assert.equal(encoded.status, 0, explain(encoded));
    assert.equal(encoded.stdout, `${v.payload_hex}\n`);
  });
}

test('hex with spaces and colons decodes the same; a v2 advert encodes without --src/--dst', () => {
  assert.ok(k4);
  const spaced = (k4.payload_hex.match(/../g) ?? []).map((b, i) => (i % 2 === 0 ? `${b}:` : `${b} `)).join('');
  const decoded = vigil(decodeArgs(k4, spaced));
  assert.equal(decoded.status, 0, explain(decoded));
  assert.deepEqual(JSON.parse(decoded.stdout), k4.decoded);
  const encoded = vigil(['packet', 'encode'], decoded.stdout);
  assert.equal(encoded.status, 0, explain(encoded));
  assert.equal(encoded.stdout, `${k4.payload_hex}\n`);
});

test('a TTL other than 255 is rejected: exit 1, reason ttl, counter vrrpv3StatisticsIpTtlErrors', () => {
  assert.ok(k1);
  const r = vigil(decodeArgs(k1, k1.payload_hex, 254));
  assert.equal(r.status, 1, explain(r));
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(out['rejected'], true);
  assert.equal(out['reason'], 'ttl');
  assert.equal(out['counter'], 'vrrpv3StatisticsIpTtlErrors');
  assert.equal(typeof out['detail'], 'string');
});

test('a flipped checksum byte is rejected: exit 1, reason bad-checksum', () => {
  assert.ok(k1);
  const bytes = Buffer.from(k1.payload_hex, 'hex');
  bytes[6] = (bytes[6] as number) ^ 0xff;
  const r = vigil(decodeArgs(k1, bytes.toString('hex')));
  assert.equal(r.status, 1, explain(r));
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(out['reason'], 'bad-checksum');
  assert.equal(out['counter'], 'vrrpv3GlobalStatisticsChecksumErrors');
});

test('decode without --hex: exit 2, the message names --hex', () => {
  assert.ok(k1);
  const r = vigil(['packet', 'decode', '--src', k1.ip.src, '--dst', k1.ip.dst]);
  assert.equal(r.status, 2, explain(r));
  assert.match(r.stderr, /--hex/);
  assert.equal(r.stdout, '');
});

test('decode with a bad --src: exit 2, the message names --src', () => {
  assert.ok(k1);
  const r = vigil(['packet', 'decode', '--hex', k1.payload_hex, '--src', '10.213.0.256', '--dst', k1.ip.dst]);
  assert.equal(r.status, 2, explain(r));
  assert.match(r.stderr, /--src/);
});

test('encode with a bad JSON field: exit 2, the message names the field', () => {
  assert.ok(k1);
  const r = vigil(['packet', 'encode', '--src', k1.ip.src, '--dst', k1.ip.dst], JSON.stringify({ ...k1.decoded, priority: 300 }));
  assert.equal(r.status, 2, explain(r));
  assert.match(r.stderr, /priority/);
  assert.equal(r.stdout, '');
});

test('encode of a v3 advert without --src/--dst: exit 2, saying they are needed', () => {
  assert.ok(k1);
  const r = vigil(['packet', 'encode'], JSON.stringify(k1.decoded));
  assert.equal(r.status, 2, explain(r));
  assert.match(r.stderr, /--src and --dst required/);
});

test('an unknown command: exit 2, naming it, with the usage', () => {
  const r = vigil(['frobnicate']);
  assert.equal(r.status, 2, explain(r));
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.match(r.stderr, /Usage: vigil/);
});

// In-process, through a fake CliIo: no subprocess needed.

function fakeIo(stdin = ''): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    readStdin: async () => stdin,
  };
}

test('in-process: --help and help list the commands; a registered command is dispatched its arguments', async () => {
  let seen: string[] = [];
  const echo: CliCommand = {
    name: 'echo',
    summary: 'Echo the arguments',
    run: async (argv, io) => {
      seen = argv;
      io.stdout(`${argv.join(' ')}\n`);
      return 0;
    },
  };
  for (const args of [['--help'], ['help']]) {
    const io = fakeIo();
    assert.equal(await runCli(args, io, [echo]), 0);
    assert.match(io.out.join(''), /echo +Echo the arguments/);
  }
  const io = fakeIo();
  assert.equal(await runCli(['echo', 'a', '--b'], io, [echo]), 0);
  assert.deepEqual(seen, ['a', '--b']);
  assert.equal(io.out.join(''), 'a --b\n');
  const none = fakeIo();
  assert.equal(await runCli([], none), 2);
  assert.match(none.err.join(''), /packet/);
});

test('in-process: unknown options and subcommands are usage errors naming them', async () => {
  const unknownOption = fakeIo();
  assert.equal(await runCli(['packet', 'decode', '--hex', '00', '--bogus'], unknownOption), 2);
  assert.match(unknownOption.err.join(''), /--bogus/);
  const unknownSub = fakeIo();
  assert.equal(await runCli(['packet', 'frob'], unknownSub), 2);
  assert.match(unknownSub.err.join(''), /unknown subcommand 'frob'/);
  const badTtl = fakeIo();
  assert.equal(await runCli(['packet', 'decode', '--hex', '00', '--src', '10.213.0.1', '--dst', '10.213.0.2', '--ttl', '256'], badTtl), 2);
  assert.match(badTtl.err.join(''), /--ttl/);
  const badMode = fakeIo('{}');
  assert.equal(await runCli(['packet', 'encode', '--checksum', 'either'], badMode), 2);
  assert.match(badMode.err.join(''), /--checksum/);
});

test('in-process: encode reports invalid JSON on stdin', async () => {
  const io = fakeIo('{"version": 3,');
  assert.equal(await runCli(['packet', 'encode'], io), 2);
  assert.match(io.err.join(''), /not valid JSON/);
});

test('parseHex ignores spaces and colons, names the position of a bad digit and of an odd length', () => {
  assert.deepEqual(parseHex('31 33:96 02'), Uint8Array.from([0x31, 0x33, 0x96, 0x02]));
  assert.throws(() => parseHex('31:3g'), /position 5/);
  assert.throws(() => parseHex('31 3'), /odd number of hex digits \(3\).*position 4/);
  assert.throws(() => parseHex(' : '), /no hex digits/);
});
