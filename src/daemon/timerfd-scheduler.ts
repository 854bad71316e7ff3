/**
 * A Scheduler on a Linux timerfd: one CLOCK_MONOTONIC timer armed with an absolute deadline
 * (timerfd_settime(2), TFD_TIMER_ABSTIME) for the earliest deadline of all keys, watched
 * by the addon's uv_poll on Node's loop. The kernel wakes the loop at the deadline itself
 * (hrtimer, tens of µs late), where a libuv timer has whole-millisecond granularity
 * and counts from the loop's cached time: no early wake-up to sleep out, no spin.
 *
 * The earliest deadline comes from a binary min-heap (deadline, then the order of `set`):
 * `set` is O(log n) where the TimeoutScheduler scans every key. Keys with the same
 * deadline fire in the order they were set.
 *
 * The poll runs only while a deadline is armed, so an idle scheduler does not keep the
 * process alive (as an unarmed setTimeout would not).
 *
 * Wake-ups, the main cost of a timer here (a bare wake-up of Node's loop costs more CPU
 * than the advert it sends): one wake-up fires every entry whose `from` has come (see
 * Scheduler.set: the Adver_Timers due within ADVER_TIMER_EARLY_MS), so instances due
 * together send together; and the timerfd is re-armed only when the earliest deadline
 * moves earlier. When it moves later (a backup's Master_Down_Timer, pushed back by every
 * advert received) the timerfd stays armed for the old time, whose wake-up finds nothing
 * due and arms for the new earliest: one timerfd_settime per few intervals rather than
 * one per advert received. A deadline is never missed: the timerfd is always armed at or
 * before the earliest one.
 */
import { native, type PollHandle } from '../native/index.js';
import { monotonicMs } from './clock.js';
import { TimeoutScheduler, type Scheduler } from './scheduler.js';
import { errorText } from '../base/error-text.js';

interface Entry {
  key: object;
  deadline: number;
  /** The entry may fire from then on when the loop wakes for another (≤ deadline). */
  from: number;
  fire: (now: number) => void;
  /** Order of the last `set`: breaks ties between equal deadlines, first set first. */
  seq: number;
  /** Position in the heap; −1 out of it (firing, or removed). */
  index: number;
}

function before(a: Entry, b: Entry): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

/** A binary min-heap of entries by (deadline, seq), each knowing its index. */
class DeadlineHeap {
  private readonly items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(e: Entry): void {
    e.index = this.items.length;
    this.items.push(e);
    this.up(e.index);
  }

  /** Restores the order after `e`'s deadline or seq changed. */
  update(e: Entry): void {
    this.up(e.index);
    this.down(e.index);
  }

  remove(e: Entry): void {
    const last = this.items.pop();
    if (last === undefined) return;
    if (last !== e) {
      this.items[e.index] = last;
      last.index = e.index;
      this.update(last);
    }
    e.index = -1;
  }

  clear(): void {
    this.items.length = 0;
  }

  private up(i: number): void {
    const items = this.items;
    const e = items[i];
    if (e === undefined) return;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p] as Entry;
      if (!before(e, parent)) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = e;
    e.index = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const e = items[i];
    if (e === undefined) return;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(items[r] as Entry, items[l] as Entry)) c = r;
      const child = items[c] as Entry;
      if (!before(child, e)) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = e;
    e.index = i;
  }
}

export class TimerfdScheduler implements Scheduler {
  private readonly entries = new Map<object, Entry>();
  private readonly heap = new DeadlineHeap();
  private readonly fd: number;
  private poll: PollHandle | undefined;
  /** The deadline the timerfd is armed for (undefined: disarmed; NaN: expired, re-arm whatever comes). */
  private armedFor: number | undefined;
  private seq = 0;
  private closed = false;
  /** Inside run(): the timers set by the callbacks are armed once, after the last (not one timerfd_settime per advert). */
  private running = false;

  /** Throws (a native error) where the addon or timerfd is unavailable; see createScheduler. */
  constructor() {
    this.fd = native().timerfdCreate();
  }

  set(key: object, deadline: number | undefined, fire: (now: number) => void, from = deadline): void {
    if (this.closed) return;
    const e = this.entries.get(key);
    if (deadline === undefined) {
      if (e) {
        this.entries.delete(key);
        if (e.index >= 0) this.heap.remove(e);
      }
    } else if (e) {
      e.deadline = deadline;
      e.from = from !== undefined && from < deadline ? from : deadline;
      e.fire = fire;
      e.seq = this.seq++;
      // Out of the heap: it is firing now and its callback re-arms it (the usual advert).
      if (e.index < 0) this.heap.push(e);
      else this.heap.update(e);
    } else {
      const created: Entry = { key, deadline, from: from !== undefined && from < deadline ? from : deadline, fire, seq: this.seq++, index: -1 };
      this.entries.set(key, created);
      this.heap.push(created);
    }
    if (!this.running) this.rearm();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.entries.clear();
    this.heap.clear();
    this.poll?.stop();
    this.poll = undefined;
    native().close(this.fd);
  }

  /**
   * Arms the timerfd for the heap's earliest deadline, polling only while one is armed;
   * left armed for an earlier time than needed (see the header: its wake-up re-arms).
   */
  private rearm(): void {
    if (this.closed) return;
    const next = this.heap.peek()?.deadline;
    if (next === this.armedFor) return;
    if (next !== undefined && this.armedFor !== undefined && this.armedFor < next) return;
    this.armedFor = next;
    native().timerfdSet(this.fd, next ?? null);
    if (next === undefined) {
      this.poll?.stop();
      this.poll = undefined;
    } else if (!this.poll) {
      this.poll = native().poll(this.fd, (error) => this.run(error));
    }
  }

  private run(error?: Error): void {
    if (error) throw new Error(`timerfd scheduler: polling the timerfd failed: ${error.message}`, { cause: error });
    if (this.closed) return;
    native().timerfdRead(this.fd);
    // The timerfd fired for armedFor; anything set from here on waits for the next wake-up
    // (a callback re-arming its own key in the past must not starve the loop). The expiry
    // is consumed: NaN makes the next rearm set the timerfd (or stop polling) whatever comes.
    this.armedFor = Number.NaN;
    const limit = this.seq;
    this.running = true;
    try {
      for (;;) {
        const top = this.heap.peek();
        if (top === undefined || top.seq >= limit) break;
        const now = monotonicMs();
        // The heap is in deadline order; an entry not yet fireable stops the pass (one
        // behind it that could fire early fires at the next wake-up, still not late).
        if (top.from > now) break;
        // The entry stays in `entries` while it fires: a callback re-arming its own key (every
        // advert) puts it back in the heap without a Map delete and insert, whose churn of
        // the Map's table a 200-instance master promoted into V8's old generation.
        this.heap.remove(top);
        top.fire(now);
        if (this.closed) return;
        if (top.index < 0 && this.entries.get(top.key) === top) this.entries.delete(top.key);
      }
    } finally {
      // Also when a callback threw: what the others set must still be armed.
      this.running = false;
      this.rearm();
    }
  }
}

/**
 * The daemon's scheduler: a TimerfdScheduler, or the TimeoutScheduler where the addon or
 * timerfd is unavailable (`why` says which).
 */
export function createScheduler(): { scheduler: Scheduler; kind: 'timerfd' | 'timeout'; why?: string } {
  try {
    return { scheduler: new TimerfdScheduler(), kind: 'timerfd' };
  } catch (e) {
    return { scheduler: new TimeoutScheduler(), kind: 'timeout', why: errorText(e) };
  }
}
