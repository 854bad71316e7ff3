/**
 * The two-node tie-breaker's checks, at the edge (they touch the network and run
 * programs): in the spirit of corosync-qdevice's heuristics, a node whose peer is
 * unreachable may hold the virtual addresses only if it still reaches the outside
 * world — an ICMP echo to the gateway, a TCP connection to a witness — and, when a
 * fencing hook is configured, only once the hook has succeeded.
 *
 * What they decide is "am I the isolated one?": a node that lost its own link fails them
 * and stays backup. Two healthy halves that both still reach the gateway both pass; only
 * fencing (the hook powering the peer off) settles that case, as in corosync.
 */
import { execFile } from 'node:child_process';
import type { IpAddress } from '../../net/address.js';
import { since } from '../../os/elapsed.js';
import { scriptProblem } from '../../os/script-safety.js';
import { tcpConnectCheck } from '../../os/tcp-check.js';

export interface CheckResult {
  readonly check: 'ping' | 'tcp' | 'fence';
  readonly ok: boolean;
  /** What was tried and what came of it, for the log and status. */
  readonly detail: string;
  readonly elapsedMs: number;
}

/**
 * One ICMP echo with iputils ping (ping -c 1 -W): ok when a reply came within `timeoutMs`.
 * ping's -W is whole seconds on older and busybox pings, so the deadline is ours: ping is
 * ended at `timeoutMs` (a sub-second timeout is kept, not rounded up to a second).
 */
export function pingCheck(target: IpAddress, timeoutMs: number): Promise<CheckResult> {
  const start = process.hrtime.bigint();
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return new Promise((resolve) => {
    execFile('ping', ['-n', '-q', '-c', '1', '-W', String(seconds), target.text], { timeout: timeoutMs }, (error) => {
      const elapsedMs = since(start);
      if (!error) resolve({ check: 'ping', ok: true, detail: `${target.text} answered`, elapsedMs });
      else {
        const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the ping program is not installed' : `no answer within ${timeoutMs} ms`;
        resolve({ check: 'ping', ok: false, detail: `${target.text}: ${reason}`, elapsedMs });
      }
    });
  });
}

/** A TCP connection to the witness, closed at once: ok when it was accepted within `timeoutMs`. */
export async function tcpCheck(target: { readonly address: IpAddress; readonly port: number }, timeoutMs: number): Promise<CheckResult> {
  return { check: 'tcp', ...(await tcpConnectCheck(target, timeoutMs)) };
}

/**
 * Runs the fencing hook with the peer's name and address as arguments; ok only on exit
 * status 0 within `timeoutMs` (a hung hook is killed and counts as failed).
 */
export function fenceCheck(script: string, peer: { readonly name: string; readonly address: IpAddress }, timeoutMs: number): Promise<CheckResult> {
  const start = process.hrtime.bigint();
  const refused = scriptProblem(script);
  if (refused !== undefined) return Promise.resolve({ check: 'fence', ok: false, detail: refused, elapsedMs: 0 });
  return new Promise((resolve) => {
    execFile(script, [peer.name, peer.address.text], { timeout: timeoutMs, killSignal: 'SIGKILL', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', VIGIL_PEER: peer.name, VIGIL_PEER_ADDRESS: peer.address.text } }, (error, _stdout, stderr) => {
      const elapsedMs = since(start);
      if (!error) {
        resolve({ check: 'fence', ok: true, detail: `${script} ${peer.name}: exit 0`, elapsedMs });
        return;
      }
      const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string; signal?: string };
      const why = e.killed ? `timed out after ${timeoutMs} ms` : typeof e.code === 'number' ? `exit ${e.code}` : (e.signal ?? String(e.code ?? e.message));
      const said = stderr.trim().split('\n').slice(-1)[0];
      resolve({ check: 'fence', ok: false, detail: `${script} ${peer.name}: ${why}${said ? ` (${said})` : ''}`, elapsedMs });
    });
  });
}
