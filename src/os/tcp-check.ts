/**
 * A TCP connection to a host and port, closed at once: the health checks' tcp probe and
 * the two-node tie-breaker's witness check.
 */
import { Socket } from 'node:net';
import type { IpAddress } from '../net/address.js';
import { since } from './elapsed.js';

export interface TcpCheckResult {
  readonly ok: boolean;
  /** "10.213.0.9:80: connected", "[fd13::9]:80: ECONNREFUSED". */
  readonly detail: string;
  readonly elapsedMs: number;
}

/** Ok when the connection was accepted within `timeoutMs`. Never rejects. */
export function tcpConnectCheck(target: { readonly address: IpAddress; readonly port: number }, timeoutMs: number): Promise<TcpCheckResult> {
  const start = process.hrtime.bigint();
  const where = target.address.family === 'ipv6' ? `[${target.address.text}]:${target.port}` : `${target.address.text}:${target.port}`;
  return new Promise((resolve) => {
    const socket = new Socket();
    const finish = (ok: boolean, detail: string): void => {
      socket.destroy();
      resolve({ ok, detail: `${where}: ${detail}`, elapsedMs: since(start) });
    };
    socket.setTimeout(timeoutMs, () => finish(false, `no connection within ${timeoutMs} ms`));
    socket.once('connect', () => finish(true, 'connected'));
    socket.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    socket.connect({ host: target.address.text, port: target.port });
  });
}
