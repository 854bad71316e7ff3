/**
 * Who held an address when: `ip -ts -o monitor address` in each lab host's namespace,
 * every addition and removal with the kernel notification's receive time (microseconds,
 * wall clock), so the time two hosts held the same address at once is measured from the
 * kernel's own events instead of by polling.
 */
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './netns.js';
import { onLines } from './lines.js';
import { holders } from './vigil.js';
import { sleep } from './wait.js';

interface Change {
  /** Wall-clock ms (fractional). */
  readonly at: number;
  readonly held: boolean;
}

/** The wall clock in fractional ms, comparable with the monitor's timestamps. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** "[2026-12-03T15:13:30.161216] ..." → wall-clock ms; the monitor prints local time, as Date.parse reads it. */
function monitorTime(stamp: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)$/.exec(stamp);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const seconds = Date.parse(m[1]);
  return Number.isNaN(seconds) ? undefined : seconds + Number(`0.${m[2]}`) * 1000;
}

export class AddressWatch {
  private readonly changes = new Map<string, Change[]>();
  private readonly children: ChildProcess[] = [];

  private constructor(
    readonly address: string,
    readonly hosts: readonly string[],
  ) {}

  /** Starts a monitor in each of `hosts`, then reads who holds `address` now. */
  static async start(lab: Lab, hosts: readonly string[], address: string): Promise<AddressWatch> {
    const w = new AddressWatch(address, hosts);
    for (const h of hosts) {
      w.changes.set(h, []);
      const child = lab.spawn(h, 'ip', ['-ts', '-o', 'monitor', 'address']);
      w.children.push(child);
      onLines(child.stdout, (line) => w.line(h, line));
    }
    // The monitors subscribe as they start; then the present state is the first entry.
    await sleep(300);
    const now = wallNow();
    const held = await holders(lab, hosts, address);
    for (const h of hosts) w.changes.get(h)?.unshift({ at: now - 1e6, held: held.includes(h) });
    return w;
  }

  private line(host: string, line: string): void {
    const m = /^\[(\S+)\]\s+(Deleted\s+)?\d+:\s+\S+\s+inet6?\s+([0-9a-fA-F.:]+)\//.exec(line);
    if (!m || m[1] === undefined || m[3] !== this.address) return;
    const at = monitorTime(m[1]);
    if (at === undefined) return;
    const list = this.changes.get(host);
    if (!list) return;
    list.push({ at, held: m[2] === undefined });
    // The monitors' lines may come out of order between hosts, never within one.
    list.sort((a, b) => a.at - b.at);
  }

  /** Whether `host` held the address at wall time `at`. */
  heldAt(host: string, at: number): boolean {
    let held = false;
    for (const c of this.changes.get(host) ?? []) {
      if (c.at > at) break;
      held = c.held;
    }
    return held;
  }

  /** Whether `host` held the address at any moment in [from, to]. */
  heldDuring(host: string, from: number, to: number): boolean {
    if (this.heldAt(host, from)) return true;
    return (this.changes.get(host) ?? []).some((c) => c.at >= from && c.at <= to && c.held);
  }

  /**
   * The total time in [from, to] during which two or more of `among` (default: all)
   * held the address, and the longest single stretch of it.
   */
  dualHeld(from: number, to: number, among: readonly string[] = this.hosts): { totalMs: number; longestMs: number } {
    const times = new Set<number>([from, to]);
    for (const h of among) for (const c of this.changes.get(h) ?? []) if (c.at > from && c.at < to) times.add(c.at);
    const sorted = [...times].sort((a, b) => a - b);
    let total = 0;
    let longest = 0;
    let run = 0;
    for (let i = 0; i + 1 < sorted.length; i++) {
      const start = sorted[i] as number;
      const end = sorted[i + 1] as number;
      const count = among.filter((h) => this.heldAt(h, start)).length;
      if (count >= 2) {
        total += end - start;
        run += end - start;
        longest = Math.max(longest, run);
      } else {
        run = 0;
      }
    }
    return { totalMs: total, longestMs: longest };
  }

  /** Ends the monitors (by PID). */
  stop(): void {
    for (const c of this.children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGTERM');
  }
}
