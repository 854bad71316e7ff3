/**
 * Wakes the daemon at protocol deadlines. One OS timer for all instances: the earliest
 * deadline among them. `setTimeout` has millisecond granularity (and counts from the
 * loop's cached, ms-truncated time), so the timer is armed a little early and the
 * remaining sub-millisecond wait is slept out with a futex wait (Atomics.wait, ~0.1 ms
 * precise), not spun on the loop: a setImmediate spin burnt up to 1 ms of CPU per
 * deadline (≈10 % of a core for one instance at 10 ms) and, under CPU contention, made
 * the daemon a CPU-bound task the kernel scheduler preempts instead of a sleeper it
 * wakes promptly. Packets that arrive during that sub-ms sleep wait in their socket.
 */
import { monotonicMs } from './clock.js';

/** Sleeps the calling thread for `ms` (sub-ms precise, no CPU). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}

/** Below this much early, the rest is slept out instead of re-arming the timer. */
const SLEEP_BELOW_MS = 1;

export interface Scheduler {
  /**
   * Arms (or re-arms) the timer of `key` for `deadline` (monotonic ms); undefined cancels
   * it. `from` (default `deadline`, never later): the timer may also fire from then on
   * when the scheduler wakes for another timer, so that timers due close together fire in
   * one wake-up. The scheduler never wakes for a timer before its `deadline`, and never
   * fires one before its `from` (the router's tickFrom: earlier than the deadline only for
   * the Adver_Timer).
   */
  set(key: object, deadline: number | undefined, fire: (now: number) => void, from?: number): void;
  close(): void;
}

export class TimeoutScheduler implements Scheduler {
  private readonly entries = new Map<object, { deadline: number; from: number; fire: (now: number) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private closed = false;

  constructor(private readonly now: () => number = monotonicMs) {}

  set(key: object, deadline: number | undefined, fire: (now: number) => void, from = deadline): void {
    if (deadline === undefined) this.entries.delete(key);
    else this.entries.set(key, { deadline, from: Math.min(from ?? deadline, deadline), fire });
    this.rearm();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }

  private earliest(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) if (min === undefined || e.deadline < min) min = e.deadline;
    return min;
  }

  private rearm(): void {
    if (this.closed) return;
    const next = this.earliest();
    if (next === this.armedFor && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = next;
    if (next === undefined) return;
    const delay = Math.max(0, next - this.now());
    // libuv rounds timeouts to whole ms and fires no earlier than asked: ask for the floor.
    this.timer = setTimeout(() => this.run(), Math.floor(delay));
  }

  private run(): void {
    this.timer = undefined;
    this.armedFor = undefined;
    let now = this.now();
    const next = this.earliest();
    if (next !== undefined && next > now) {
      if (next - now >= SLEEP_BELOW_MS) {
        // Woken a whole millisecond early (the loop's time was stale): arm again.
        this.rearm();
        return;
      }
      // Less than a millisecond early: sleep it out.
      sleepSync(next - now);
    }
    for (const [key, e] of [...this.entries]) {
      now = this.now();
      if (e.from <= now && this.entries.get(key) === e) {
        this.entries.delete(key);
        e.fire(now);
      }
    }
    this.rearm();
  }
}
