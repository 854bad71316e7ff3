/**
 * The control socket: a Unix stream socket in the runtime directory, root-only
 * (directory 0700, socket 0600), one JSON request line in, one JSON response line out.
 * Several daemons (one per network namespace, say) use different runtime directories.
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

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse> | ControlResponse;

const MAX_REQUEST_BYTES = 64 * 1024;

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
  ) {}

  static async listen(runtimeDir: string, handler: ControlHandler): Promise<ControlServer> {
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
    const server = createServer((socket) => serve(socket, handler));
    const oldUmask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldUmask);
    }
    chmodSync(socketPath, 0o600);
    return new ControlServer(server, socketPath);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }
}

function serve(socket: Socket, handler: ControlHandler): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_REQUEST_BYTES) {
      socket.end(`${JSON.stringify({ ok: false, error: 'request too large' })}\n`);
      return;
    }
    const newline = buffered.indexOf('\n');
    if (newline === -1) return;
    const line = buffered.slice(0, newline);
    buffered = '';
    void answer(line, handler).then((response) => socket.end(`${JSON.stringify(response)}\n`));
  });
}

async function answer(line: string, handler: ControlHandler): Promise<ControlResponse> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { ok: false, error: 'the request is not JSON' };
  }
  if (typeof request !== 'object' || request === null || typeof (request as { command?: unknown }).command !== 'string') {
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
