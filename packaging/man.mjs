#!/usr/bin/env node
// Writes vigil's man pages, generated at build time from what they document so that they
// stay true:
//
//   node packaging/man.mjs OUTPUT_DIR   -> OUTPUT_DIR/vigil.8 and OUTPUT_DIR/vigil.yaml.5
//
// vigil(8) is the command line: `vigil --help` and every `vigil COMMAND --help` of the
// built CLI (dist/src/cli/main.js), verbatim, plus the files and signals. vigil.yaml(5) is
// docs/config.md translated from Markdown to man(7): headings, paragraphs, lists, tables
// (as tbl(1) tables) and code blocks. Both carry the version of package.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
// The date of the pages: SOURCE_DATE_EPOCH when set (reproducible builds), else today.
const epoch = process.env.SOURCE_DATE_EPOCH;
const date = (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().slice(0, 10);

/** Escapes text for man(7): backslashes, and a leading dot or quote that would read as a request. */
function esc(text) {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** Inline Markdown: `code` in bold, **strong** in bold, *em* in italics, [text](link) as text. */
function inline(text) {
  let out = '';
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])/g;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out += esc(text.slice(last, m.index));
    if (m[1] !== undefined) out += `\\fB${esc(m[1])}\\fR`;
    else if (m[2] !== undefined) out += `\\fB${inline(m[2])}\\fR`;
    else if (m[3] !== undefined) out += inline(m[3]);
    else if (m[5] !== undefined) out += `\\fI${esc(m[5])}\\fR`;
    last = re.lastIndex;
  }
  return out + esc(text.slice(last));
}

/** Splits a Markdown table row into its cells (a `|` inside backticks or escaped as `\|` stays). */
function cells(row) {
  const out = [];
  let cur = '';
  let code = false;
  const body = row.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && body[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '`') {
      code = !code;
      cur += c;
    } else if (c === '|' && !code) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

/** docs/config.md as the body of vigil.yaml(5). */
export function markdownToMan(markdown) {
  const lines = markdown.split('\n');
  const out = [];
  let para = [];
  const flush = () => {
    if (para.length > 0) out.push('.PP', inline(para.join(' ')));
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if (line.startsWith('```')) {
      flush();
      out.push('.PP', '.RS 4', '.nf');
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) out.push(esc(lines[i]));
      out.push('.fi', '.RE');
    } else if ((m = /^(#{1,4})\s+(.*)$/.exec(line))) {
      flush();
      if (m[1].length === 1) continue; // the title: the page's NAME says it
      // .SH in capitals, as plain text (font escapes would not survive toUpperCase).
      if (m[1].length === 2) out.push(`.SH ${esc(m[2].replace(/[`*]/g, '').toUpperCase())}`);
      else out.push(`.SS ${inline(m[2])}`);
    } else if (/^\s*\|/.test(line)) {
      flush();
      const rows = [];
      for (; i < lines.length && /^\s*\|/.test(lines[i]); i++) rows.push(cells(lines[i]));
      i--;
      // Each row as a tagged paragraph: the first cell as the tag, the other cells as
      // "HEADER: value" lines (80 columns cannot hold the tables of config.md as tables).
      const head = rows[0];
      const body = rows.slice(2); // row 1 is the --- separator
      for (const row of body) {
        out.push('.TP', inline(row[0] ?? ''));
        row.slice(1).forEach((cell, k) => {
          if (k > 0) out.push('.br');
          out.push(`${inline(head[k + 1] ?? '')}: ${inline(cell)}`);
        });
      }
    } else if ((m = /^(\s*)(?:[-*]|\d+\.)\s+(.*)$/.exec(line))) {
      flush();
      const depth = m[1].length >= 2 ? 1 : 0;
      const marker = /^\s*\d+\./.test(line) ? line.trim().split(/\s/)[0] : '\\(bu';
      const item = [m[2]];
      for (i++; i < lines.length && /^\s{2,}\S/.test(lines[i]) && !/^\s*(?:[-*]|\d+\.)\s/.test(lines[i]); i++) item.push(lines[i].trim());
      i--;
      if (depth > 0) out.push('.RS 4');
      out.push(`.IP ${marker} 4`, inline(item.join(' ')));
      if (depth > 0) out.push('.RE');
    } else if (line.trim() === '') {
      flush();
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return out.join('\n');
}

function header(name, section, title) {
  return [
    `.\\" Generated by packaging/man.mjs from ${section === '8' ? "the CLI's --help texts" : 'docs/config.md'}: do not edit.`,
    `.TH ${name.toUpperCase()} ${section} "${date}" "vigil ${pkg.version}" "${title}"`,
  ];
}

export function vigilYaml5(markdown) {
  return [
    ...header('vigil.yaml', '5', 'File Formats'),
    '.SH NAME',
    'vigil.yaml \\- configuration file of the vigil high\\-availability daemon',
    '.SH SYNOPSIS',
    '\\fI/etc/vigil/vigil.yaml\\fR',
    markdownToMan(markdown),
    '.SH FILES',
    '.TP',
    '\\fI/etc/vigil/vigil.yaml\\fR',
    'the configuration (an annotated default, with every key at its default, is installed here)',
    '.TP',
    '\\fI/usr/lib/vigil/schema/vigil.schema.json\\fR',
    'the JSON Schema of this file, for editors',
    '.SH SEE ALSO',
    '\\fBvigil\\fR(8), \\fBkeepalived.conf\\fR(5), \\fBvotequorum\\fR(5)',
    '',
  ].join('\n');
}

function help(...args) {
  return execFileSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' }).trimEnd();
}

export function vigil8() {
  const usage = help('--help');
  // The command list of `vigil --help`: "  NAME  SUMMARY" lines.
  const commands = [...usage.matchAll(/^ {2}([a-z][a-z-]*) {2,}(.*)$/gm)].map((m) => ({ name: m[1], summary: m[2] })).filter((c) => c.name !== 'help');
  if (commands.length === 0) throw new Error(`packaging/man.mjs: no commands found in the output of ${MAIN} --help`);
  const out = [
    ...header('vigil', '8', 'System Administration'),
    '.SH NAME',
    'vigil \\- lean high\\-availability daemon: VRRP, quorum and resources',
    '.SH SYNOPSIS',
    '.B vigil',
    '\\fICOMMAND\\fR [\\fISUBCOMMAND\\fR] [\\fIOPTIONS\\fR]',
    '.br',
    '.B vigil --version',
    '.SH DESCRIPTION',
    'vigil runs VRRP (versions 2 and 3, IPv4 and IPv6, wire compatible with keepalived), quorum in the manner of corosync votequorum, and a small resource manager (virtual addresses, supervised commands, systemd units and OCF agents) in one Node.js process.',
    'It reads \\fI/etc/vigil/vigil.yaml\\fR, described in \\fBvigil.yaml\\fR(5).',
    'Under systemd it runs as \\fBvigil.service\\fR (Type=notify, with a watchdog).',
    '.PP',
    'Exit status: 0 success; 1 "the answer is no" (an invalid configuration, a rejected packet); 2 bad usage, and an inquorate node for \\fBquorum status\\fR; 70 an internal error.',
    '.SH COMMANDS',
  ];
  for (const c of commands) {
    out.push(`.SS ${esc(c.name)}`, inline(c.summary) + '.', '.PP', '.RS 4', '.nf', esc(help(c.name, '--help')), '.fi', '.RE');
  }
  out.push(
    '.SH SIGNALS',
    '.TP',
    '.B SIGHUP',
    'reload the configuration: instances that did not change keep their state and addresses; a configuration that fails validation is refused and the running one stays.',
    '.TP',
    '.B SIGTERM, SIGINT',
    'masters send priority 0 and remove their virtual addresses, then the daemon exits 0.',
    '.SH FILES',
    '.TP',
    '\\fI/etc/vigil/vigil.yaml\\fR',
    'the configuration',
    '.TP',
    '\\fI/etc/vigil/authkey\\fR',
    'the shared key of the quorum heartbeats (\\fBvigil keygen\\fR)',
    '.TP',
    '\\fI/run/vigil/vigil.sock\\fR',
    'the control socket (root only) that \\fBstatus\\fR, \\fBquorum\\fR, \\fBresource\\fR, \\fBnode\\fR and \\fBmaintenance\\fR use',
    '.TP',
    '\\fI/var/lib/vigil\\fR',
    'state kept across restarts: standby and maintenance, pid files and logs of exec resources',
    '.TP',
    '\\fI/usr/share/doc/vigil\\fR',
    'README.md and config.md',
    '.SH SEE ALSO',
    '\\fBvigil.yaml\\fR(5), \\fBsystemctl\\fR(1), \\fBkeepalived\\fR(8), \\fBcorosync\\-quorumtool\\fR(8)',
    '',
  );
  return out.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node packaging/man.mjs OUTPUT_DIR\n');
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'vigil.8'), vigil8());
  writeFileSync(path.join(dir, 'vigil.yaml.5'), vigilYaml5(readFileSync(path.join(REPO, 'docs', 'config.md'), 'utf8')));
}
