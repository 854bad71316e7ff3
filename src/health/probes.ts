/**
 * One probe per health-check type. Every probe resolves (never rejects) within its
 * timeout to { ok, detail, elapsedMs }; `detail` says what was tried and what came of it,
 * for the log and `vigil status`.
 *
 * - http/https: one GET on a fresh connection (no keep-alive pool), redirects not
 *   followed; ok when the status is the expected one and, with `bodyMatch`, the first
 *   64 KiB of the body contain it (substring, or regular expression with `bodyMatchRegex`).
 *   `insecure` skips certificate verification (self-signed certificates).
 * - tcp: a connection accepted within the timeout, closed at once.
 * - process: from /proc, without forking: processes whose comm is the name (compared on
 *   the kernel's 15 characters) or whose command line contains it; zombies and vigil
 *   itself do not count; ok when at least `minCount` match.
 * - script: the program (refused unless root-owned and writable by nobody else:
 *   src/os/script-safety.ts, the same rule as the tie-breaker's fencing hook) run with
 *   its arguments in a process group of its own; exit 0 is ok; at the timeout the whole group is killed (SIGKILL) and the result is
 *   "timed out after N ms".
 */
import { readdir, readFile } from 'node:fs/promises';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { errorText } from '../base/error-text.js';
import type { HealthCheckSpec } from '../resources/types.js';
import { scriptProblem } from '../os/script-safety.js';
import { since } from '../os/elapsed.js';
import { describeExit, runProgram } from '../os/process-group.js';
import { tcpConnectCheck } from '../os/tcp-check.js';

export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
  readonly elapsedMs: number;
}

/** The most of an HTTP body that is read for `bodyMatch`. */
export const MAX_BODY_BYTES = 64 * 1024;

type HttpSpec = Extract<HealthCheckSpec, { type: 'http' | 'https' }>;
type TcpSpec = Extract<HealthCheckSpec, { type: 'tcp' }>;
type ProcessSpec = Extract<HealthCheckSpec, { type: 'process' }>;
type ScriptSpec = Extract<HealthCheckSpec, { type: 'script' }>;

/** Runs the probe for `spec`. Resolves within `timeoutMs` (plus scheduling slack). */
export function probe(spec: HealthCheckSpec, timeoutMs: number): Promise<ProbeResult> {
  switch (spec.type) {
    case 'http':
    case 'https':
      return httpProbe(spec, timeoutMs);
    case 'tcp':
      return tcpProbe(spec, timeoutMs);
    case 'process':
      return processProbe(spec, timeoutMs);
    case 'script':
      return scriptProbe(spec, timeoutMs);
  }
}

/** A short, printable form of a body-match pattern for details. */
function shown(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

type Request = typeof import('node:http').request;

/** node:http and node:https (with tls), loaded by the first HTTP probe: a daemon without one does not carry them. */
let requests: { readonly http: Request; readonly https: Request } | undefined;

export async function httpProbe(spec: HttpSpec, timeoutMs: number): Promise<ProbeResult> {
  if (!requests) {
    const [http, https] = await Promise.all([import('node:http'), import('node:https')]);
    requests = { http: http.request, https: https.request as Request };
  }
  return httpProbeWith(requests, spec, timeoutMs);
}

function httpProbeWith(requests: { readonly http: Request; readonly https: Request }, spec: HttpSpec, timeoutMs: number): Promise<ProbeResult> {
  const start = process.hrtime.bigint();
  const fail = (detail: string): Promise<ProbeResult> => Promise.resolve({ ok: false, detail, elapsedMs: since(start) });
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    return fail(`${spec.url}: not a valid URL`);
  }
  if (url.protocol !== `${spec.type}:`) return fail(`${spec.url}: the scheme is ${url.protocol.replace(/:$/, '')}, the check is ${spec.type}`);
  let matcher: ((body: string) => boolean) | undefined;
  const pattern = spec.bodyMatch;
  if (pattern !== undefined) {
    if (spec.bodyMatchRegex === true) {
      let re: RegExp;
      try {
        re = new RegExp(pattern);
      } catch (e) {
        return fail(`${spec.url}: bad bodyMatch regular expression ${shown(pattern)}: ${errorText(e)}`);
      }
      matcher = (body) => re.test(body);
    } else matcher = (body) => body.includes(pattern);
  }
  const where = `GET ${spec.url}`;

  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req?.destroy();
      resolve({ ok, detail: `${where}: ${detail}`, elapsedMs: since(start) });
    };
    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      if (status !== spec.expectStatus) {
        finish(false, `status ${status}, expected ${spec.expectStatus}`);
        return;
      }
      if (matcher === undefined) {
        finish(true, `status ${status}`);
        return;
      }
      const match = matcher;
      const chunks: Buffer[] = [];
      let size = 0;
      const judge = (truncated: boolean): void => {
        const body = Buffer.concat(chunks, size).toString('utf8');
        const within = truncated ? ` (first ${MAX_BODY_BYTES} bytes)` : '';
        if (match(body)) finish(true, `status ${status}, body matches ${shown(pattern ?? '')}`);
        else finish(false, `status ${status}, body${within} does not ${spec.bodyMatchRegex === true ? 'match' : 'contain'} ${shown(pattern ?? '')}`);
      };
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        const room = MAX_BODY_BYTES - size;
        const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
        chunks.push(piece);
        size += piece.length;
        if (size >= MAX_BODY_BYTES) judge(true);
      });
      res.once('end', () => judge(false));
      res.once('error', (e: NodeJS.ErrnoException) => finish(false, `reading the body: ${e.code ?? e.message}`));
      res.once('aborted', () => finish(false, 'the connection was closed before the body ended'));
    };
    const options = {
      method: 'GET',
      agent: false as const,
      headers: { 'user-agent': 'vigil-health-check', connection: 'close', accept: '*/*' },
      ...(spec.type === 'https' ? { rejectUnauthorized: !spec.insecure } : {}),
    };
    const timer = setTimeout(() => finish(false, `no complete answer within ${timeoutMs} ms`), timeoutMs);
    let req: ClientRequest | undefined;
    try {
      req = spec.type === 'https' ? requests.https(url, options, onResponse) : requests.http(url, options, onResponse);
    } catch (e) {
      finish(false, errorText(e));
      return;
    }
    req.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    req.end();
  });
}

export function tcpProbe(spec: TcpSpec, timeoutMs: number): Promise<ProbeResult> {
  return tcpConnectCheck({ address: spec.address, port: spec.port }, timeoutMs);
}

/** The kernel keeps 15 characters of a command name (TASK_COMM_LEN 16). */
const COMM_LENGTH = 15;

interface ProcessMatch {
  readonly pid: number;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined; // gone in the meantime, or not ours to read
  }
}

/** The processes matching `name`: comm equal (first 15 characters) or command line containing it; not zombies, not this process. */
export async function matchingProcesses(name: string, proc = '/proc'): Promise<readonly ProcessMatch[]> {
  const entries = await readdir(proc);
  const pids = entries.filter((e) => /^[0-9]+$/.test(e)).map(Number).filter((pid) => pid !== process.pid);
  const comm = name.slice(0, COMM_LENGTH);
  const matches: ProcessMatch[] = [];
  const one = async (pid: number): Promise<void> => {
    const c = await readText(`${proc}/${pid}/comm`);
    if (c === undefined) return;
    let hit = c.replace(/\n$/, '') === comm;
    if (!hit) {
      const cmdline = await readText(`${proc}/${pid}/cmdline`);
      if (cmdline === undefined || cmdline === '') return; // kernel threads have none
      hit = cmdline.replace(/\0+$/, '').split('\0').join(' ').includes(name);
    }
    if (!hit) return;
    // Field 3 of stat is the state, after "pid (comm)" (comm may hold spaces and parentheses).
    const stat = await readText(`${proc}/${pid}/stat`);
    if (stat === undefined) return;
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return;
    matches.push({ pid });
  };
  // A bounded number of files open at once.
  const WIDTH = 32;
  for (let i = 0; i < pids.length; i += WIDTH) await Promise.all(pids.slice(i, i + WIDTH).map(one));
  return matches.sort((a, b) => a.pid - b.pid);
}

export function processProbe(spec: ProcessSpec, timeoutMs: number, proc = '/proc'): Promise<ProbeResult> {
  const start = process.hrtime.bigint();
  const want = `need ${spec.minCount}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, detail: `process ${shown(spec.name)}: ${detail}`, elapsedMs: since(start) });
    };
    const timer = setTimeout(() => finish(false, `/proc not read within ${timeoutMs} ms`), timeoutMs);
    matchingProcesses(spec.name, proc).then(
      (found) => {
        const pids = found.length === 0 ? '' : ` (pid ${found.slice(0, 8).map((m) => m.pid).join(', ')}${found.length > 8 ? ', ...' : ''})`;
        finish(found.length >= spec.minCount, `${found.length} running${pids}, ${want}`);
      },
      (e: unknown) => finish(false, `reading ${proc}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`),
    );
  });
}

/** The last non-empty line of a script's output, at most 200 characters. */
function lastLine(text: string): string | undefined {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-1)[0];
  return line === undefined ? undefined : line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** Output kept from a script (its tail per stream), for the detail. */
const OUTPUT_TAIL = 4096;

/**
 * Its own process group (src/os/process-group.ts), so that a timeout ends the script and
 * whatever it started; stdin closed; only the tail of its output kept; the result does
 * not wait for a leftover child that holds the output open.
 */
export async function scriptProbe(spec: ScriptSpec, timeoutMs: number): Promise<ProbeResult> {
  const start = process.hrtime.bigint();
  const what = [spec.path, ...spec.args].join(' ');
  const refused = scriptProblem(spec.path);
  if (refused !== undefined) return { ok: false, detail: `refused: ${refused.replace(/; refused$/, '')}`, elapsedMs: since(start) };
  const r = await runProgram(spec.path, spec.args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, timeoutMs, maxOutput: OUTPUT_TAIL });
  const elapsedMs = since(start);
  if (r.spawnError !== undefined) return { ok: false, detail: `${what}: ${r.spawnError.code ?? r.spawnError.message}`, elapsedMs };
  if (r.timedOut) return { ok: false, detail: `${what}: timed out after ${timeoutMs} ms`, elapsedMs };
  if (r.code === 0) return { ok: true, detail: `${what}: exit 0`, elapsedMs };
  const said = lastLine(r.stderr) ?? lastLine(r.stdout);
  return { ok: false, detail: `${what}: ${describeExit(r)}${said === undefined ? '' : ` (${said})`}`, elapsedMs };
}
