/**
 * Wake-up lateness of the daemon's schedulers: how long after its deadline a callback
 * runs. One key re-armed every `periodMs` (a master's advert timer) at a deadline with a
 * random sub-millisecond part, as the protocol's deadlines have; lateness = the clock
 * read in the callback minus the deadline (monotonic, CLOCK_MONOTONIC). Compared:
 *   - TimerfdScheduler (timerfd, TFD_TIMER_ABSTIME, through uv_poll),
 *   - TimeoutScheduler (setTimeout for the whole ms, the rest slept out with a futex wait),
 *   - a bare setTimeout(delay) with the delay rounded up to whole ms (what libuv can do).
 * A wake-up before the deadline is counted apart (it must be 0 for both schedulers).
 * Environment: VIGIL_BENCH_TIMER_SECONDS (per variant, default 10), VIGIL_BENCH_TIMER_PERIOD (ms, default 10).
 */
import { monotonicMs } from '../src/daemon/clock.js';
import { TimeoutScheduler, type Scheduler } from '../src/daemon/scheduler.js';
import { TimerfdScheduler } from '../src/daemon/timerfd-scheduler.js';
import { errorText } from '../src/base/error-text.js';

interface Lateness {
  readonly samples: number[];
  early: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function runScheduler(scheduler: Scheduler, periodMs: number, seconds: number): Promise<Lateness> {
  const result: Lateness = { samples: [], early: 0 };
  const key = {};
  const end = monotonicMs() + seconds * 1000;
  return new Promise((resolve) => {
    const arm = (from: number): void => {
      const deadline = from + periodMs - 1 + Math.random();
      scheduler.set(key, deadline, (now) => {
        const late = monotonicMs() - deadline;
        if (now < deadline || late < 0) result.early++;
        else result.samples.push(late);
        if (now >= end) {
          scheduler.close();
          resolve(result);
        } else arm(deadline);
      });
    };
    arm(monotonicMs());
  });
}

function runSetTimeout(periodMs: number, seconds: number): Promise<Lateness> {
  const result: Lateness = { samples: [], early: 0 };
  const end = monotonicMs() + seconds * 1000;
  return new Promise((resolve) => {
    const arm = (from: number): void => {
      const deadline = from + periodMs - 1 + Math.random();
      setTimeout(() => {
        const now = monotonicMs();
        if (now < deadline) result.early++;
        else result.samples.push(now - deadline);
        if (now >= end) resolve(result);
        else arm(deadline);
      }, Math.max(0, Math.ceil(deadline - monotonicMs())));
    };
    arm(monotonicMs());
  });
}

function report(label: string, r: Lateness): void {
  const s = [...r.samples].sort((a, b) => a - b);
  const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`.padStart(9);
  console.log(
    `${label.padEnd(36)} median ${us(percentile(s, 50))}  p99 ${us(percentile(s, 99))}  max ${us(s[s.length - 1] ?? Number.NaN)}  wake-ups ${String(s.length).padStart(6)}  early ${r.early}`,
  );
}

export async function runTimerBench(seconds: number, periodMs: number): Promise<void> {
  console.log(`\nTimer wake-up lateness, one key re-armed every ${periodMs} ms, ${seconds} s each (provisional on a loaded machine)`);
  let timerfd: TimerfdScheduler | undefined;
  try {
    timerfd = new TimerfdScheduler();
  } catch (e) {
    console.log(`timerfd unavailable: ${errorText(e)}`);
  }
  if (timerfd) report('TimerfdScheduler (timerfd, abstime)', await runScheduler(timerfd, periodMs, seconds));
  report('TimeoutScheduler (setTimeout+futex)', await runScheduler(new TimeoutScheduler(), periodMs, seconds));
  report('setTimeout, whole ms', await runSetTimeout(periodMs, seconds));
}
