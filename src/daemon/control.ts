/**
 * The control socket: a Unix stream socket in the runtime directory, root-only
 * (directory 0700, socket 0600), one JSON request line in, one JSON response line out.
 * Several daemons (one per network namespace, say) use different runtime directories.
 *
 * A streaming command (`vigil events --follow`) answers with a header line
 * `{"ok":true,"result":{"stream":true,...}}`, then one `{"item":...}` line per item as it
 * comes, until the client closes. A slow reader does not grow the daemon's memory: at
 * most STREAM_QUEUE_LINES lines wait for it (beyond the socket's own buffer); past that
 * the connection ends with `{"end":"overflow","lost":N}` saying how many items it lost.
 *
 * Connections that never send their request line (half-open, or a client gone silent)
 * must not pile up until the listen backlog fills: one that has not sent a complete line
 * within REQUEST_TIMEOUT_MS is closed, and at most MAX_PENDING wait for their request at
 * once; a new connection beyond that closes the oldest waiting one, so `vigil status`
 * always gets through. A stream (`--follow`) that has been answered is not idle while it
 * waits for events: it has no timeout (a reader that stops reading is ended by the queue
 * bound above), but at most MAX_STREAMS are open at once; more are refused.
 *
 * A request that is not one JSON object with a "command" string, or is longer than
 * MAX_REQUEST_BYTES, is answered with an error and counted per reason (`rejected` in
 * status, and `onReject` for the log): garbage on the socket is seen, not only survived.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { errorText } from '../base/error-text.js';

export const CONTROL_SOCKET_NAME = 'vigil.sock';

export function controlSocketPath(runtimeDir: string): string {
  return path.join(runtimeDir, CONTROL_SOCKET_NAME);
}

export interface ControlRequest {
  readonly command: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

export type ControlResponse = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string };

/** A streaming answer: `initial` items at once, then (with `follow`) every new one until the client goes. */
export interface ControlStream {
  readonly stream: true;
  /** Extra fields of the header line's result. */
  readonly header?: Readonly<Record<string, unknown>>;
  readonly initial: readonly unknown[];
  /** Subscribes `push`; returns the unsubscribe. Absent: the stream ends after `initial`. */
  readonly follow?: (push: (item: unknown) => void) => () => void;
}

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse | ControlStream> | ControlResponse | ControlStream;

/** Lines a streaming connection may have waiting for its reader before it is dropped. */
export const STREAM_QUEUE_LINES = 10_000;
/** How long a dropped stream's final line may wait for a reader that does not read. */
const STREAM_END_GRACE_MS = 5000;

const MAX_REQUEST_BYTES = 64 * 1024;
/** How long a connection may take to send its request line. */
export const REQUEST_TIMEOUT_MS = 5000;
/** Connections waiting for their request line at once; a new one closes the oldest. */
export const MAX_PENDING = 64;
/** Streaming connections at once. */
export const MAX_STREAMS = 32;
/**
 * The listen backlog (the kernel caps it at net.core.somaxconn, 4096 by default). Node's
 * default, 511, let a burst of half-open connections fill it, and the kernel then refused
 * new connections, `vigil status` among them, with EAGAIN (found by the fuzzer,
 * src/lab/fuzz-control.ts: 951 of 6,000 refused in bursts of 1,000 every 5 ms).
 */
export const LISTEN_BACKLOG = 4096;

/** Why a request line was refused before any command ran. */
export type ControlRejection = 'not-json' | 'no-command' | 'too-large';

export interface ControlOptions {
  readonly streamQueueLines?: number;
  /** Told of every refused request (the daemon logs it, rate-limited). */
  readonly onReject?: (reason: ControlRejection, detail: string) => void;
  readonly requestTimeoutMs?: number;
  readonly maxPending?: number;
  readonly maxStreams?: number;
}

export interface ControlStats {
  /** Connections waiting for their request line now. */
  readonly pending: number;
  readonly streams: number;
  /** Closed for not sending a request line in time. */
  readonly timedOut: number;
  /** Closed to make room for a newer connection (MAX_PENDING). */
  readonly evicted: number;
  /** Streams refused (MAX_STREAMS). */
  readonly streamsRefused: number;
  /** Requests refused before any command ran, per reason. */
  readonly rejected: Readonly<Record<ControlRejection, number>>;
}

interface Limits {
  readonly streamQueueLines: number;
  readonly requestTimeoutMs: number;
  readonly maxPending: number;
  readonly maxStreams: number;
  /** Insertion order is age: the first is the oldest. */
  readonly pending: Set<Socket>;
  readonly streams: Set<Socket>;
  readonly counts: { timedOut: number; evicted: number; streamsRefused: number };
  readonly rejected: Record<ControlRejection, number>;
  readonly onReject: ((reason: ControlRejection, detail: string) => void) | undefined;
}

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    private readonly limits: Limits,
  ) {}

  private get streams(): Set<Socket> {
    return this.limits.streams;
  }

  stats(): ControlStats {
    return { pending: this.limits.pending.size, streams: this.limits.streams.size, ...this.limits.counts, rejected: { ...this.limits.rejected } };
  }

  static async listen(runtimeDir: string, handler: ControlHandler, options: ControlOptions = {}): Promise<ControlServer> {
    mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
    chmodSync(runtimeDir, 0o700);
    const socketPath = controlSocketPath(runtimeDir);
    try {
      if (statSync(socketPath).isSocket()) {
        // A live daemon answers; a stale socket from a crash does not.
        if (await isAlive(socketPath)) throw new Error(`another vigil is running on ${socketPath}`);
        rmSync(socketPath);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const limits: Limits = {
      streamQueueLines: options.streamQueueLines ?? STREAM_QUEUE_LINES,
      requestTimeoutMs: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      maxPending: options.maxPending ?? MAX_PENDING,
      maxStreams: options.maxStreams ?? MAX_STREAMS,
      pending: new Set(),
      streams: new Set(),
      counts: { timedOut: 0, evicted: 0, streamsRefused: 0 },
      rejected: { 'not-json': 0, 'no-command': 0, 'too-large': 0 },
      onReject: options.onReject,
    };
    const server = createServer((socket) => serve(socket, handler, limits));
    const oldUmask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: socketPath, backlog: LISTEN_BACKLOG }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldUmask);
    }
    chmodSync(socketPath, 0o600);
    return new ControlServer(server, socketPath, limits);
  }

  /** Stops listening; open streams get a last line `{"end":"stopped"}` and are closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.streams) {
      socket.emit('vigil-stop');
      setTimeout(() => socket.destroy(), 1000).unref();
    }
    await closed;
    rmSync(this.socketPath, { force: true });
  }
}

function serve(socket: Socket, handler: ControlHandler, limits: Limits): void {
  const { pending, streams } = limits;
  if (pending.size >= limits.maxPending) {
    const oldest = pending.values().next().value as Socket;
    pending.delete(oldest);
    limits.counts.evicted++;
    oldest.destroy();
  }
  pending.add(socket);
  const timer = setTimeout(() => {
    if (!pending.delete(socket)) return;
    limits.counts.timedOut++;
    socket.destroy();
  }, limits.requestTimeoutMs);
  timer.unref();
  const done = (): void => {
    clearTimeout(timer);
    pending.delete(socket);
  };
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.once('close', done);
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_REQUEST_BYTES) {
      done();
      socket.removeAllListeners('data');
      refused(limits, 'too-large', `more than ${MAX_REQUEST_BYTES} bytes without a newline`);
      socket.end(`${JSON.stringify({ ok: false, error: 'request too large' })}\n`);
      return;
    }
    const newline = buffered.indexOf('\n');
    if (newline === -1) return;
    const line = buffered.slice(0, newline);
    buffered = '';
    done();
    socket.removeAllListeners('data');
    void answer(line, handler, limits).then((response) => {
      if (socket.destroyed) return;
      if ('stream' in response) {
        if (streams.size >= limits.maxStreams) {
          limits.counts.streamsRefused++;
          socket.end(`${JSON.stringify({ ok: false, error: `too many streams open (${limits.maxStreams}); close one (vigil events --follow) and retry` })}\n`);
          return;
        }
        streams.add(socket);
        socket.once('close', () => streams.delete(socket));
        stream(socket, response, limits.streamQueueLines);
      }
      else {
        socket.end(`${JSON.stringify(response)}\n`);
        // A client that never reads its answer nor closes does not keep the connection.
        setTimeout(() => socket.destroy(), limits.requestTimeoutMs).unref();
      }
    });
  });
}

/** Writes a stream to `socket` with a bounded queue (see the header comment). */
function stream(socket: Socket, s: ControlStream, maxQueued: number): void {
  const queue: string[] = [];
  let ended = false;
  let unsubscribe: (() => void) | undefined;
  const finish = (): void => {
    ended = true;
    unsubscribe?.();
    unsubscribe = undefined;
  };
  const pump = (): void => {
    while (queue.length > 0 && !socket.writableNeedDrain && !ended) socket.write(queue.shift() as string);
  };
  const push = (item: unknown): void => {
    if (ended) return;
    if (queue.length >= maxQueued) {
      const lost = queue.length + 1;
      queue.length = 0;
      finish();
      socket.end(`${JSON.stringify({ end: 'overflow', lost, detail: `the reader fell ${maxQueued} lines behind; ${lost} items were dropped with this connection` })}\n`);
      setTimeout(() => socket.destroy(), STREAM_END_GRACE_MS).unref();
      return;
    }
    queue.push(`${JSON.stringify({ item })}\n`);
    pump();
  };
  socket.on('drain', pump);
  socket.on('close', finish);
  socket.on('error', finish);
  socket.once('vigil-stop', () => {
    if (ended) return;
    finish();
    queue.length = 0;
    socket.end(`${JSON.stringify({ end: 'stopped' })}\n`);
  });
  socket.write(`${JSON.stringify({ ok: true, result: { stream: true, ...(s.header ?? {}) } })}\n`);
  for (const item of s.initial) push(item);
  if (s.follow && !ended) unsubscribe = s.follow(push);
  else if (!ended) {
    const end = (): void => {
      if (queue.length > 0) return;
      socket.off('drain', end);
      finish();
      socket.end(`${JSON.stringify({ end: 'done' })}\n`);
    };
    socket.on('drain', end);
    end();
  }
  // The client closing its side ends the stream.
  socket.on('end', () => {
    finish();
    socket.end();
  });
  socket.resume();
}

function refused(limits: Limits, reason: ControlRejection, detail: string): void {
  limits.rejected[reason]++;
  limits.onReject?.(reason, detail);
}

async function answer(line: string, handler: ControlHandler, limits: Limits): Promise<ControlResponse | ControlStream> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    refused(limits, 'not-json', `${line.length} characters`);
    return { ok: false, error: 'the request is not JSON' };
  }
  if (typeof request !== 'object' || request === null || typeof (request as { command?: unknown }).command !== 'string') {
    refused(limits, 'no-command', `a JSON ${request === null ? 'null' : Array.isArray(request) ? 'array' : typeof request}`);
    return { ok: false, error: 'the request needs a "command" string' };
  }
  try {
    return await handler(request as ControlRequest);
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
}

function isAlive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Sends one request to a daemon and returns its response. */
export function controlRequest(runtimeDir: string, request: ControlRequest, timeoutMs = 5000): Promise<ControlResponse> {
  const socketPath = controlSocketPath(runtimeDir);
  return new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify(request)}\n`));
    s.on('data', (chunk: string) => (data += chunk));
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach vigil at ${socketPath}: ${e.code ?? e.message}`));
    });
    s.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(data) as ControlResponse);
      } catch {
        reject(new Error(`malformed answer from ${socketPath}`));
      }
    });
  });
}

/** One line of a stream: an item, the end, or the header/refusal (ok). */
export type StreamLine = { readonly item: unknown } | { readonly end: string; readonly lost?: number; readonly detail?: string } | ControlResponse;

/**
 * Sends a streaming request and calls `onLine` for each line until the daemon ends the
 * stream or the returned `close` is called. Resolves when the connection is closed.
 */
export function controlStream(runtimeDir: string, request: ControlRequest, onLine: (line: StreamLine) => void): { readonly done: Promise<void>; close(): void } {
  const socketPath = controlSocketPath(runtimeDir);
  const s = createConnection(socketPath);
  let buffered = '';
  const done = new Promise<void>((resolve, reject) => {
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify(request)}\n`));
    s.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          onLine(JSON.parse(line) as StreamLine);
        } catch (e) {
          s.destroy();
          reject(e instanceof SyntaxError ? new Error(`malformed line from ${socketPath}`) : e);
          return;
        }
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => reject(new Error(`cannot reach vigil at ${socketPath}: ${e.code ?? e.message}`)));
    s.on('close', () => resolve());
  });
  return { done, close: () => s.destroy() };
}
