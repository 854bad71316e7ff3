/**
 * The control socket under abuse (issue 10 §3, §4): garbage and binary request lines,
 * JSON without a command, lines past the size limit, connections that never send a
 * request (beyond the cap) and slowloris clients that send a byte now and then. Meanwhile
 * `vigil status` is asked every 100 ms and must always be answered. The socket is a path,
 * so this runs from the test process, outside the lab's namespaces.
 */
import { createConnection, type Socket } from 'node:net';
import { controlRequest, controlSocketPath, type ControlStats } from '../daemon/control.js';
import type { VigilProcess } from './vigil.js';
import { Rng } from './fuzz-packets.js';
import { sleep, until } from './wait.js';

export interface ControlFuzzOptions {
  /** Garbage, binary and command-less lines, one connection each. */
  readonly garbage: number;
  /** Connections that send nothing, opened at once (the cap is 64). */
  readonly halfOpen: number;
  /** Connections that send one byte every 500 ms and never a newline (closed after the 5 s request timeout). */
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
  readonly statusAsked: number;
  readonly statusFailures: number;
  readonly worstStatusMs: number;
  /** The daemon's control counters after the run (difference from before for the counts). */
  readonly stats: ControlStats;
  /** Growth of `rejected` (all reasons) over the run. */
  readonly rejectedCounted: number;
}

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
  const poller = (async () => {
    while (polling) {
      const t0 = performance.now();
      asked++;
      try {
        const r = await controlRequest(p.runtimeDir, { command: 'status' }, 5000);
        if (!r.ok) failures++;
      } catch {
        failures++;
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
    // Lines past the limit.
    let hugeAnswered = 0;
    for (let i = 0; i < options.huge; i++) {
      const a = await exchange(socketPath, Buffer.alloc(1024 * 1024, 0x41));
      if (a.includes('request too large')) hugeAnswered++;
    }
    // Half-open connections beyond the cap: all at once, held open.
    const held: Socket[] = [];
    for (let i = 0; i < options.halfOpen; i++) {
      const s = createConnection(socketPath);
      s.on('error', () => undefined);
      held.push(s);
    }
    await until(async () => (await controlStats(p)).evicted - before.evicted >= options.halfOpen - 64, () => 'the daemon evicts half-open connections beyond its cap', 10_000);
    for (const s of held) s.destroy();
    // Slowloris: a byte every 500 ms, never a newline: closed by the request timeout.
    const slow: Socket[] = [];
    const timedOut0 = (await controlStats(p)).timedOut;
    for (let i = 0; i < options.slowloris; i++) {
      const s = createConnection(socketPath);
      s.on('error', () => undefined);
      slow.push(s);
    }
    const drip = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write('{');
    }, 500);
    try {
      await until(async () => (await controlStats(p)).timedOut - timedOut0 >= options.slowloris, () => 'the slowloris connections time out', 15_000, 250);
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
      statusAsked: asked,
      statusFailures: failures,
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
