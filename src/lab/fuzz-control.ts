/**
 * The control socket under abuse (issue 10 §3, §4): garbage and binary request lines,
 * JSON without a command, lines past the size limit, connections that never send a
 * request (beyond the cap) and slowloris clients that send a byte now and then. Meanwhile
 * `vigil status` is asked every 100 ms and must always be answered. The socket is a path,
 * so this runs from the test process, outside the lab's namespaces.
 */
import { spawn } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { controlRequest, controlSocketPath, type ControlStats } from '../daemon/control.js';
import type { VigilProcess } from './vigil.js';
import { Rng } from './fuzz-packets.js';
import { sleep, until } from './wait.js';
import { errorText } from '../base/error-text.js';

export interface ControlFuzzOptions {
  /** Garbage, binary and command-less lines, one connection each. */
  readonly garbage: number;
  /** Connections that send nothing (the cap is 64), opened by another process in bursts of `halfOpenBurst` (200) every 5 ms. */
  readonly halfOpen: number;
  readonly halfOpenBurst?: number;
  /** Connections that send one byte every 500 ms and never a newline (closed after the 5 s request timeout; keep it under the cap of 64 to see only timeouts). */
  readonly slowloris: number;
  /** Request lines of 1 MiB without a newline. */
  readonly huge: number;
  readonly seed?: number;
}

export interface ControlFuzzResult {
  readonly garbageSent: number;
  /** Garbage connections answered with `{"ok":false,...}` and closed by the daemon. */
  readonly garbageAnswered: number;
  readonly hugeSent: number;
  readonly hugeAnswered: number;
  /** Half-open connections the daemon accepted, and those the kernel refused (listen backlog full). */
  readonly halfOpenConnected: number;
  /** `vigil status` asked from within the half-open burst, and the errors it got. */
  readonly burstStatusAsked: number;
  readonly burstStatusErrors: readonly string[];
  readonly halfOpenRefused: number;
  readonly statusAsked: number;
  readonly statusFailures: number;
  /** The first failures, each with the step it happened in. */
  readonly statusErrors: readonly string[];
  readonly worstStatusMs: number;
  /** The daemon's control counters after the run (difference from before for the counts). */
  readonly stats: ControlStats;
  /** Growth of `rejected` (all reasons) over the run. */
  readonly rejectedCounted: number;
}

/**
 * The half-open attacker, run as its own process: ARGV socket, total, burst, every ms.
 * Opens the connections, holds them, and prints {connected, refused} when the daemon
 * has closed all of those it accepted (or 10 s passed).
 */
const ATTACKER = `
const net = require('node:net');
const [path, total, burst, every] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
let made = 0, connected = 0, refused = 0, closed = 0;
const finish = () => { process.stdout.write(JSON.stringify({ connected, refused, closed })); process.exit(0); };
const timer = setInterval(() => {
  for (let i = 0; i < burst && made < total; i++, made++) {
    const s = net.createConnection(path);
    s.on('connect', () => connected++);
    s.on('error', () => refused++);
    s.on('close', (hadError) => { if (!hadError) closed++; });
  }
  if (made >= total) { clearInterval(timer); setTimeout(finish, 1000); }
}, every);
`;

/** Sends `data` on a new connection; resolves with what the daemon answered before closing (or '' after `timeoutMs`). */
function exchange(socketPath: string, data: Buffer | string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(socketPath);
    let answer = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(answer);
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(data));
    s.on('data', (d: string) => (answer += d));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

function garbageLine(rng: Rng, i: number): Buffer {
  switch (i % 5) {
    case 0: // random bytes, binary included (no newline inside)
      return Buffer.concat([Buffer.from(rng.bytes(rng.int(1, 2000)).map((b) => (b === 10 ? 0 : b))), Buffer.from('\n')]);
    case 1: // NUL bytes and invalid UTF-8
      return Buffer.concat([Buffer.alloc(rng.int(1, 100)), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('\n')]);
    case 2: // JSON, but not a request
      return Buffer.from(`${rng.pick(['null', '[]', '42', '"status"', '{}', '{"command":7}', '{"cmd":"status"}'])}\n`);
    case 3: // half a JSON object
      return Buffer.from('{"command":"status"\n');
    default: // a lone newline
      return Buffer.from('\n');
  }
}

/** One line `{"ok":false,"error":"..."}` and nothing else. */
function isErrorAnswer(a: string): boolean {
  if (!a.endsWith('\n') || a.indexOf('\n') !== a.length - 1) return false;
  try {
    const r = JSON.parse(a) as { ok?: unknown; error?: unknown };
    return r.ok === false && typeof r.error === 'string' && r.error.length > 0;
  } catch {
    return false;
  }
}

async function controlStats(p: VigilProcess): Promise<ControlStats> {
  const st = (await p.status()) as unknown as { control: ControlStats };
  return st.control;
}

function rejectedTotal(c: ControlStats): number {
  return Object.values(c.rejected).reduce((a, b) => a + b, 0);
}

export async function fuzzControl(p: VigilProcess, options: ControlFuzzOptions): Promise<ControlFuzzResult> {
  const socketPath = controlSocketPath(p.runtimeDir);
  const rng = new Rng(options.seed ?? 1);
  const before = await controlStats(p);
  // `vigil status` throughout, every 100 ms.
  let polling = true;
  let asked = 0;
  let failures = 0;
  let worst = 0;
  const errors: string[] = [];
  let step = 'garbage';
  const poller = (async () => {
    while (polling) {
      const t0 = performance.now();
      asked++;
      try {
        const r = await controlRequest(p.runtimeDir, { command: 'status' }, 5000);
        if (!r.ok) {
          failures++;
          errors.push(`${step}: ${r.error}`);
        }
      } catch (e) {
        failures++;
        errors.push(`${step}: ${errorText(e)}`);
      }
      worst = Math.max(worst, performance.now() - t0);
      await sleep(100);
    }
  })();
  try {
    // Garbage, 20 connections at a time.
    let answered = 0;
    for (let i = 0; i < options.garbage; i += 20) {
      const answers = await Promise.all(Array.from({ length: Math.min(20, options.garbage - i) }, (_, j) => exchange(socketPath, garbageLine(rng, i + j))));
      for (const a of answers) if (isErrorAnswer(a)) answered++;
    }
    step = 'huge';
    // Lines past the limit.
    let hugeAnswered = 0;
    for (let i = 0; i < options.huge; i++) {
      const a = await exchange(socketPath, Buffer.alloc(1024 * 1024, 0x41));
      if (a.includes('request too large')) hugeAnswered++;
    }
    step = 'half-open';
    // Half-open connections beyond the cap, from another process (as an attacker would be):
    // bursts of `halfOpenBurst` every 5 ms, held open. Meanwhile `vigil status` every 20 ms from here.
    const attacker = spawn(process.execPath, ['-e', ATTACKER, socketPath, String(options.halfOpen), String(options.halfOpenBurst ?? 200), '5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    attacker.stdout.setEncoding('utf8');
    attacker.stdout.on('data', (d: string) => (out += d));
    const exited = new Promise<void>((resolve) => attacker.once('exit', () => resolve()));
    let attacking = true;
    void exited.then(() => (attacking = false));
    let burstAsked = 0;
    const burstErrors: string[] = [];
    while (attacking) {
      burstAsked++;
      try {
        const r = await controlRequest(p.runtimeDir, { command: 'status' }, 5000);
        if (!r.ok) burstErrors.push(r.error);
      } catch (e) {
        burstErrors.push(errorText(e));
      }
      await sleep(20);
    }
    const made = JSON.parse(out || '{}') as { connected?: number; refused?: number };
    const connected = made.connected ?? 0;
    const refused = made.refused ?? 0;
    step = 'slowloris';
    // Slowloris: a byte every 500 ms, never a newline: closed by the request timeout.
    const slow: Socket[] = [];
    const closed = (c: ControlStats): number => c.timedOut + c.evicted;
    const closed0 = closed(await controlStats(p));
    for (let i = 0; i < options.slowloris; i++) {
      const s = createConnection(socketPath);
      s.on('error', () => undefined);
      slow.push(s);
    }
    const drip = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write('{');
    }, 500);
    try {
      // Beyond the cap (64) some are evicted by newer ones rather than timed out.
      await until(async () => closed(await controlStats(p)) - closed0 >= options.slowloris, () => 'the slowloris connections are closed by the daemon', 15_000, 250);
    } finally {
      clearInterval(drip);
      for (const s of slow) s.destroy();
    }
    polling = false;
    await poller;
    const after = await controlStats(p);
    return {
      garbageSent: options.garbage,
      garbageAnswered: answered,
      hugeSent: options.huge,
      hugeAnswered,
      burstStatusAsked: burstAsked,
      burstStatusErrors: burstErrors,
      halfOpenConnected: connected,
      halfOpenRefused: refused,
      statusAsked: asked,
      statusFailures: failures,
      statusErrors: errors.slice(0, 10),
      worstStatusMs: Math.round(worst),
      stats: {
        ...after,
        timedOut: after.timedOut - before.timedOut,
        evicted: after.evicted - before.evicted,
        streamsRefused: after.streamsRefused - before.streamsRefused,
      },
      rejectedCounted: rejectedTotal(after) - rejectedTotal(before),
    };
  } finally {
    polling = false;
    await poller;
  }
}
