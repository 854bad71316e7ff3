/**
 * Web helpers for the lab: nginx backends, haproxy configs, an HTTP client loop that runs
 * inside a lab namespace, and the error window of its results.
 *
 *   const be = await startNginx(lab, 'web1');              // serves "backend web1\n" on 10.213.0.N:80
 *   const cfg = writeHaproxyConfig({ vip: '10.213.0.100', backends: [be.address], dir });
 *   const loop = startHttpLoop(lab, 'client', { url: 'http://10.213.0.100/', everyMs: 20, durationMs: 5000 });
 *   const results = await loop.done;                       // one HttpResult per request
 *   const w = errorWindow(results);                        // longest run of failures, in ms
 *
 * Everything it starts is a child of lab.spawn (ended by PID when the lab is destroyed, or
 * by `stop()` here); files go to temporary directories removed by `stop()`/the caller.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './netns.js';
import { sleep } from './wait.js';
import { onLines } from './lines.js';

export interface NginxBackend {
  readonly host: string;
  /** "10.213.0.N:PORT", for a haproxy backend line. */
  readonly address: string;
  /** The body it serves: `backend HOST\n` (or the one given). */
  readonly body: string;
  readonly dir: string;
  readonly configPath: string;
  readonly child: ChildProcess;
  /** SIGTERM to nginx (by PID) and wait; removes the temporary directory. */
  stop(): Promise<void>;
  /** SIGKILL (nginx runs as one process, `master_process off`). */
  kill(): void;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitExited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!exited(child)) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** Writes an nginx config (everything under `dir`) listening on `address:port`, serving `body`. */
export function writeNginxConfig(dir: string, address: string, port: number, body: string): string {
  const configPath = path.join(dir, 'nginx.conf');
  const escaped = body.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  writeFileSync(
    configPath,
    [
      // One process (no master/worker pair): killing it by PID ends the whole backend.
      'master_process off;',
      'user root;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${dir}/access.log;`,
      `  client_body_temp_path ${dir}/client_body;`,
      `  proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi;`,
      `  scgi_temp_path ${dir}/scgi;`,
      '  keepalive_timeout 0;',
      '  server {',
      `    listen ${address}:${port};`,
      '    location / { default_type text/plain; return 200 "' + escaped + '"; }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  return configPath;
}

/**
 * Starts nginx (`nginx -g 'daemon off;'`) on lab host `host`, listening on the host's own
 * address (port 80 by default), and waits until it answers.
 */
export async function startNginx(lab: Lab, host: string, options: { readonly port?: number; readonly body?: string } = {}): Promise<NginxBackend> {
  const port = options.port ?? 80;
  const ip = lab.host(host).ipv4;
  const body = options.body ?? `backend ${host}\n`;
  const dir = mkdtempSync(path.join(tmpdir(), `vigil-nginx-${host}-`));
  const configPath = writeNginxConfig(dir, ip, port, body);
  const child = lab.spawn(host, 'nginx', ['-e', path.join(dir, 'error.log'), '-p', dir, '-c', configPath, '-g', 'daemon off;']);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (stderr += d));
  const backend: NginxBackend = {
    host,
    address: `${ip}:${port}`,
    body,
    dir,
    configPath,
    child,
    kill: () => {
      if (!exited(child) && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    },
    stop: async () => {
      if (!exited(child) && child.pid !== undefined) {
        process.kill(child.pid, 'SIGTERM');
        if (!(await waitExited(child, 3000)) && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        await waitExited(child, 2000);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = await lab.exec(host, process.execPath, ['-e', HTTP_ONCE, `http://${ip}:${port}/`], true);
    if (r.code === 0) return backend;
    if (exited(child) || Date.now() > deadline) {
      await backend.stop();
      throw new Error(`nginx on ${host} did not come up: ${stderr.trim()} ${r.stderr.trim()}`);
    }
    await sleep(50);
  }
}

/** A one-shot GET (exit 0 on HTTP 200), run with `node -e HTTP_ONCE URL`. */
const HTTP_ONCE = `
const http = require('node:http');
const req = http.get(process.argv[1], { timeout: 1000 }, (res) => { res.resume(); res.on('end', () => process.exit(res.statusCode === 200 ? 0 : 1)); });
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => { console.error(String(e)); process.exit(1); });
`;

export interface HaproxyOptions {
  /** Where the config goes (the caller removes it). */
  readonly dir: string;
  /** The frontend's address (the VIP); bound with the host's ip_nonlocal_bind, so it need not be present. */
  readonly vip: string;
  readonly port?: number;
  /** Backend servers, "ADDRESS:PORT". */
  readonly backends: readonly string[];
  /** Health-check interval of the servers (default "100ms"); fall 2, rise 2. */
  readonly checkInter?: string;
  /** More lines for the frontend, e.g. `http-response set-header X-Node a`. */
  readonly frontendLines?: readonly string[];
}

/** Writes a haproxy config (frontend on vip:port, round-robin backends with checks) and returns its path. */
export function writeHaproxyConfig(options: HaproxyOptions): string {
  const configPath = path.join(options.dir, 'haproxy.cfg');
  const inter = options.checkInter ?? '100ms';
  writeFileSync(
    configPath,
    [
      'global',
      '  maxconn 1024',
      'defaults',
      '  mode http',
      '  timeout connect 500ms',
      '  timeout client 5s',
      '  timeout server 5s',
      '  retries 2',
      '  option redispatch',
      'frontend fe',
      `  bind ${options.vip}:${options.port ?? 80}`,
      ...(options.frontendLines ?? []).map((l) => `  ${l}`),
      '  default_backend be',
      'backend be',
      '  balance roundrobin',
      ...options.backends.map((b, i) => `  server s${i + 1} ${b} check inter ${inter} fall 2 rise 2`),
      '',
    ].join('\n'),
  );
  return configPath;
}

export interface HttpResult {
  /** Start of the request, ms since the loop started (the client's clock). */
  readonly t: number;
  readonly ok: boolean;
  /** How long it took (to the end of the body, or to the error), ms. */
  readonly ms: number;
  readonly status?: number;
  readonly body?: string;
  readonly error?: string;
}

export interface HttpLoopOptions {
  readonly url: string;
  /** A new request every this many ms (requests may overlap; each on a new connection). */
  readonly everyMs?: number;
  /** How long to keep sending, ms. */
  readonly durationMs: number;
  /** Per-request timeout, ms (default 500). */
  readonly timeoutMs?: number;
}

export interface HttpLoop {
  readonly child: ChildProcess;
  /** Results so far (sorted by start once `done` resolves). */
  readonly results: HttpResult[];
  /** Resolves with every result once the loop ended (after durationMs plus the last timeouts). */
  readonly done: Promise<HttpResult[]>;
  /** Ends the loop early (SIGTERM by PID); `done` still resolves with what was recorded. */
  stop(): void;
}

/** The client script: one JSON line per request on stdout. argv: url everyMs durationMs timeoutMs. */
const HTTP_LOOP = `
const http = require('node:http');
const [url, every, duration, timeout] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
const agent = new http.Agent({ keepAlive: false });
const t0 = performance.now();
let pending = 0; let sending = true;
const out = (r) => process.stdout.write(JSON.stringify(r) + '\\n');
function one() {
  const t = performance.now() - t0; pending++;
  let body = ''; let finished = false;
  const finish = (r) => { if (finished) return; finished = true; pending--; out({ t: Math.round(t), ms: Math.round(performance.now() - t0 - t), ...r }); if (!sending && pending === 0) process.exit(0); };
  const req = http.get(url, { agent, timeout }, (res) => {
    res.setEncoding('utf8'); res.on('data', (d) => (body += d));
    res.on('end', () => finish({ ok: res.statusCode === 200, status: res.statusCode, body }));
    res.on('error', (e) => finish({ ok: false, error: String(e.code || e) }));
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
  req.on('error', (e) => finish({ ok: false, error: String(e.code || e) }));
}
const timer = setInterval(() => { if (performance.now() - t0 >= duration) { clearInterval(timer); sending = false; if (pending === 0) process.exit(0); return; } one(); }, every);
one();
process.on('SIGTERM', () => { sending = false; clearInterval(timer); setTimeout(() => process.exit(0), timeout + 100); if (pending === 0) process.exit(0); });
`;

/** Starts the HTTP client loop on lab host `host` (a node script in that namespace). */
export function startHttpLoop(lab: Lab, host: string, options: HttpLoopOptions): HttpLoop {
  const every = options.everyMs ?? 20;
  const timeout = options.timeoutMs ?? 500;
  const child = lab.spawn(host, process.execPath, ['-e', HTTP_LOOP, options.url, String(every), String(options.durationMs), String(timeout)]);
  const results: HttpResult[] = [];
  onLines(child.stdout, (line) => results.push(JSON.parse(line) as HttpResult));
  const done = new Promise<HttpResult[]>((resolve) => {
    child.once('exit', () => resolve(results.sort((a, b) => a.t - b.t)));
  });
  return {
    child,
    results,
    done,
    stop: () => {
      if (!exited(child) && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    },
  };
}

export interface ErrorWindow {
  /**
   * The longest run of consecutive failed requests (by start time), in ms: from the start
   * of its first failure to the start of the next success (or to the end of its last
   * failure when no success followed). 0 when nothing failed.
   */
  readonly ms: number;
  /** Failed requests in that run. */
  readonly failures: number;
  /** When the run began (ms since the loop started); -1 when nothing failed. */
  readonly from: number;
  /** Failed requests overall / all requests. */
  readonly totalFailures: number;
  readonly total: number;
}

/** The error window of `results` (see ErrorWindow). */
export function errorWindow(results: readonly HttpResult[]): ErrorWindow {
  const sorted = [...results].sort((a, b) => a.t - b.t);
  let best = { ms: 0, failures: 0, from: -1 };
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i];
    if (!first || first.ok) {
      i++;
      continue;
    }
    let j = i;
    while (j < sorted.length && sorted[j]?.ok === false) j++;
    const next = sorted[j];
    const last = sorted[j - 1] ?? first;
    const ms = next ? next.t - first.t : last.t + last.ms - first.t;
    if (ms > best.ms || best.from === -1) best = { ms, failures: j - i, from: first.t };
    i = j;
  }
  return { ...best, totalFailures: sorted.filter((r) => !r.ok).length, total: sorted.length };
}

/** Which bodies answered, with counts (e.g. to see which backend or node served). */
export function bodies(results: readonly HttpResult[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of results) if (r.ok && r.body !== undefined) m.set(r.body, (m.get(r.body) ?? 0) + 1);
  return m;
}
