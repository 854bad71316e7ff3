/**
 * The keepalived.conf reader of `vigil import-keepalived` (src/keepalived/parse.ts):
 * blocks, quotes, comments, @conditional lines, $parameters, ~SEQ, include globs, and
 * errors that name the file and line. The converter is tested in import-keepalived.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importKeepalived } from '../src/cli/import-keepalived.js';
import { KeepalivedSyntaxError, readKeepalivedConf, type KaStatement } from '../src/keepalived/parse.js';

/** test/fixtures/keepalived, from dist/test. */
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'keepalived');

function read(text: string, configId?: string, files: Record<string, string> = {}): KaStatement[] {
  const all: Record<string, string> = { '/etc/keepalived/keepalived.conf': text, ...files };
  return readKeepalivedConf('/etc/keepalived/keepalived.conf', {
    ...(configId !== undefined ? { configId } : {}),
    readFile: (f) => {
      const t = all[f];
      if (t === undefined) throw new Error(`ENOENT: ${f}`);
      return t;
    },
    listDir: (d) => {
      const prefix = d.endsWith('/') ? d : `${d}/`;
      const names = Object.keys(all).filter((f) => f.startsWith(prefix)).map((f) => f.slice(prefix.length).split('/')[0] ?? '');
      if (names.length === 0) throw new Error(`ENOTDIR: ${d}`);
      return [...new Set(names)];
    },
  }).statements;
}

function shape(statements: readonly KaStatement[]): unknown[] {
  return statements.map((s) => (s.block !== undefined ? [s.keyword, ...s.args, shape(s.block)] : [s.keyword, ...s.args]));
}

test('reader: blocks, comments (# and ! anywhere outside quotes), quotes, braces on one line or the next', () => {
  const s = read(
    [
      '! a comment',
      'vrrp_instance VI_1 {   # another',
      '  interface eth0 ! and another',
      '  notify_master "/bin/echo a # b" root',
      "  notify_backup '/bin/echo  two  spaces'",
      '  notify_fault "/bin/echo \\"q\\" \\x41\\t"',
      '  virtual_ipaddress { 10.213.0.1/24 dev eth0 }',
      '  authentication',
      '  {',
      '    auth_type PASS',
      '  }',
      '}',
    ].join('\n'),
  );
  assert.deepEqual(shape(s), [
    [
      'vrrp_instance',
      'VI_1',
      [
        ['interface', 'eth0'],
        ['notify_master', '/bin/echo a # b', 'root'],
        ['notify_backup', '/bin/echo  two  spaces'],
        ['notify_fault', '/bin/echo "q" A\t'],
        ['virtual_ipaddress', [['10.213.0.1/24', 'dev', 'eth0']]],
        ['authentication', [['auth_type', 'PASS']]],
      ],
    ],
  ]);
  assert.deepEqual(s[0]?.where, { file: '/etc/keepalived/keepalived.conf', line: 2 });
  assert.equal(s[0]?.block?.[4]?.block?.[0]?.where.line, 7);
});

test('reader: @conditional lines follow the config-id (@^ negates); without one only @^ lines stay', () => {
  const text = ['@high priority 200', '@low priority 100', '@^high peer 10.213.0.1', '@^low peer 10.213.0.2'].join('\n');
  assert.deepEqual(shape(read(text, 'high')), [['priority', '200'], ['peer', '10.213.0.2']]);
  assert.deepEqual(shape(read(text, 'low')), [['priority', '100'], ['peer', '10.213.0.1']]);
  assert.deepEqual(shape(read(text)), [['peer', '10.213.0.1'], ['peer', '10.213.0.2']]);
});

test('reader: $PARAMETER definitions and substitution (recursive, at use time, undefined ones left as written), ${_HASH}, multiline definitions', () => {
  const text = [
    '$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}',
    '$ADDRESS_BASE_SUB=0',
    'a ${ADDRESS_BASE}.100/32',
    '$ADDRESS_BASE_SUB=10',
    'a ${ADDRESS_BASE}.100/32',
    'script "$UNDEFINED ${ALSO_UNDEFINED}"',
    '@main $PRIO=240',
    '@backup $PRIO=200',
    'priority $PRIO',
    'x ${_HASH}not-a-comment',
    '$BLOCK= \\',
    'b {  \\',
    '  c $PRIO  \\',
    '}',
    '$BLOCK',
  ].join('\n');
  assert.deepEqual(shape(read(text, 'backup')), [
    ['a', '10.2.0.100/32'],
    ['a', '10.2.10.100/32'],
    ['script', '$UNDEFINED ${ALSO_UNDEFINED}'],
    ['priority', '200'],
    ['x', '#not-a-comment'],
    ['b', [['c', '200']]],
  ]);
});

test('reader: ~SEQ and ~SEQx repeat the rest of the line', () => {
  assert.deepEqual(shape(read('~SEQ(N, 0, 3) ip 10.0.${N}.1')), [0, 1, 2, 3].map((n) => ['ip', `10.0.${n}.1`]));
  assert.deepEqual(shape(read('~SEQx(S, 144, 16, 192) ip fe80::${S}:1')), ['90', 'a0', 'b0', 'c0'].map((n) => ['ip', `fe80::${n}:1`]));
  assert.deepEqual(shape(read('~SEQ(N, 3) n $N')), [['n', '1'], ['n', '2'], ['n', '3']]);
});

test('reader: include with globs and braces, relative to the including file; a missing plain include is passed over', () => {
  const files = {
    '/etc/keepalived/conf.d/b.conf': 'b 1\ninclude ../more/{x,y}.conf',
    '/etc/keepalived/conf.d/a.conf': 'a 1',
    '/etc/keepalived/conf.d/skip.txt': 'no 1',
    '/etc/keepalived/more/x.conf': 'x 1',
    '/etc/keepalived/more/y.conf': 'y 1',
  };
  assert.deepEqual(shape(read('include conf.d/*.conf\ninclude missing.conf\nend 1', undefined, files)), [['a', '1'], ['b', '1'], ['x', '1'], ['y', '1'], ['end', '1']]);
  const loop = { '/etc/keepalived/loop.conf': 'include loop.conf' };
  assert.throws(() => read('include loop.conf', undefined, loop), (e: unknown) => e instanceof KeepalivedSyntaxError && /levels deep/.test(e.message) && e.where.file === '/etc/keepalived/loop.conf');
});

test('reader: unbalanced braces and unterminated quotes are errors that name the file and line', () => {
  const cases: [string, number, RegExp][] = [
    ['a {\n  b 1\n', 1, /never closed/],
    ['a 1\n}\n', 2, /without a block/],
    ['a {\n  b "open\n}\n', 2, /unterminated/],
    ['{\n', 1, /without a keyword/],
  ];
  for (const [text, line, re] of cases) {
    assert.throws(() => read(text), (e: unknown) => e instanceof KeepalivedSyntaxError && e.where.line === line && re.test(e.message), text);
  }
  for (const [name, line] of [['unbalanced.conf', 1], ['unterminated.conf', 3]] as const) {
    const i = importKeepalived(path.join(FIXTURES, name), undefined);
    assert.equal(i.code, 1, name);
    assert.match(i.stderr, new RegExp(`${name.replace('.', '\\.')}:${line}: `), name);
    assert.equal(i.yaml, undefined);
  }
});
