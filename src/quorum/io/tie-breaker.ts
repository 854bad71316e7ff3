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
import { describeExit, runProgram } from '../../os/process-group.js';
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
 * status 0 within `timeoutMs`. It runs in a process group of its own: a hung hook is
 * killed with whatever it started, and counts as failed.
 */
export async function fenceCheck(script: string, peer: { readonly name: string; readonly address: IpAddress }, timeoutMs: number): Promise<CheckResult> {
  const refused = scriptProblem(script);
  if (refused !== undefined) return { check: 'fence', ok: false, detail: refused, elapsedMs: 0 };
  const what = `${script} ${peer.name}`;
  const r = await runProgram(script, [peer.name, peer.address.text], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', VIGIL_PEER: peer.name, VIGIL_PEER_ADDRESS: peer.address.text },
    timeoutMs,
  });
  if (r.spawnError === undefined && !r.timedOut && r.code === 0) return { check: 'fence', ok: true, detail: `${what}: exit 0`, elapsedMs: r.elapsedMs };
  const why = r.spawnError !== undefined ? (r.spawnError.code ?? r.spawnError.message) : r.timedOut ? `timed out after ${timeoutMs} ms` : describeExit(r);
  const said = r.stderr.trim().split('\n').slice(-1)[0];
  return { check: 'fence', ok: false, detail: `${what}: ${why}${said ? ` (${said})` : ''}`, elapsedMs: r.elapsedMs };
}
