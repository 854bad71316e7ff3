/**
 * Runs one health check on its interval and feeds rise/fall.
 *
 * Scheduling: the first probe runs at start(); each next one is due `intervalMs` after the
 * previous one started. Runs never overlap: a probe still running when the next is due is
 * waited for, and the next one starts as soon as it settles. A probe that has not settled
 * at its timeout (the probes here always do; this guards against one that does not) counts
 * as failed then ("timed out after N ms"), and while it stays hung every due run counts as
 * another failure ("previous probe still running") without a new probe being started.
 *
 * Callbacks: onResult after every result (with the status), onTransition when rise/fall
 * changes the state. An exception thrown by a callback does not disturb the checker: it is
 * rethrown on its own (queueMicrotask), as an uncaught exception for the daemon to handle.
 */
import type { HealthCheckConfig, HealthCheckSpec } from '../resources/types.js';
import { probe as realProbe, type ProbeResult } from './probes.js';
import { INITIAL_RISE_FALL, isHealthy, observe, riseFallProblem, type HealthState, type RiseFallState, type Transition } from './rise-fall.js';
import { errorText } from '../base/error-text.js';

export interface CheckResult extends ProbeResult {
  /** When it was recorded (the `now` clock, monotonic ms by default). */
  readonly at: number;
}

export interface CheckStatus {
  readonly name: string;
  readonly state: HealthState;
  /** `unknown` counts as not healthy. */
  readonly healthy: boolean;
  readonly last: CheckResult | undefined;
  readonly successes: number;
  readonly failures: number;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** A probe is in flight now. */
  readonly running: boolean;
}

export interface CheckerCallbacks {
  onResult?(result: CheckResult, status: CheckStatus): void;
  onTransition?(transition: Transition, status: CheckStatus): void;
}

export interface CheckerOptions {
  /** The probe to run (tests inject one); the real probes by default. */
  readonly probe?: (spec: HealthCheckSpec, timeoutMs: number) => Promise<ProbeResult>;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  /** How long past its timeout a probe may take to settle before the checker counts it as failed (default 50 ms). */
  readonly timeoutGraceMs?: number;
}

function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Why the config cannot be run, or undefined. */
export function checkerConfigProblem(config: HealthCheckConfig): string | undefined {
  if (!(Number.isFinite(config.intervalMs) && config.intervalMs > 0)) return `${config.name}: interval must be > 0 ms, not ${config.intervalMs}`;
  if (!(Number.isFinite(config.timeoutMs) && config.timeoutMs > 0)) return `${config.name}: timeout must be > 0 ms, not ${config.timeoutMs}`;
  const rf = riseFallProblem(config);
  return rf === undefined ? undefined : `${config.name}: ${rf}`;
}

export class HealthChecker {
  readonly config: HealthCheckConfig;
  readonly #callbacks: CheckerCallbacks;
  readonly #probe: (spec: HealthCheckSpec, timeoutMs: number) => Promise<ProbeResult>;
  readonly #now: () => number;
  readonly #graceMs: number;
  #rf: RiseFallState = INITIAL_RISE_FALL;
  #last: CheckResult | undefined;
  #started = false;
  #timer: NodeJS.Timeout | undefined;
  /** The probe in flight (also a hung one, until it settles). */
  #inFlight: Promise<void> | undefined;
  /** Start time of the last probe started. */
  #lastStart = 0;
  /** Resolves when the probe in flight settles or is counted as timed out. */
  #inFlightCounted: Promise<void> | undefined;
  /** The probe in flight is past its timeout and was counted as failed. */
  #hung = false;
  /** The next run is due but waits for a probe in flight. */
  #pendingRun = false;

  constructor(config: HealthCheckConfig, callbacks: CheckerCallbacks = {}, options: CheckerOptions = {}) {
    const problem = checkerConfigProblem(config);
    if (problem !== undefined) throw new RangeError(problem);
    this.config = config;
    this.#callbacks = callbacks;
    this.#probe = options.probe ?? realProbe;
    this.#now = options.now ?? monotonicMs;
    this.#graceMs = options.timeoutGraceMs ?? 50;
  }

  status(): CheckStatus {
    return {
      name: this.config.name,
      state: this.#rf.state,
      healthy: isHealthy(this.#rf.state),
      last: this.#last,
      successes: this.#rf.successes,
      failures: this.#rf.failures,
      consecutiveSuccesses: this.#rf.consecutiveSuccesses,
      consecutiveFailures: this.#rf.consecutiveFailures,
      running: this.#inFlight !== undefined,
    };
  }

  /** Starts probing (the first probe at once). Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    if (this.#inFlight === undefined) {
      this.#run();
      return;
    }
    // A probe from before stop() is still in flight: the next run waits for it (and, if it
    // is already past its timeout, each due run counts as a failure meanwhile).
    this.#pendingRun = true;
    if (this.#hung) this.#schedule();
  }

  /**
   * Stops probing; no callback is made after stop() returns. Resolves once a probe in
   * flight has settled or been counted as timed out (so within its timeout and the grace).
   * The state is kept; start() again resumes from it.
   */
  stop(): Promise<void> {
    this.#started = false;
    this.#pendingRun = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#inFlightCounted ?? Promise.resolve();
  }

  #record(result: ProbeResult): void {
    if (!this.#started) return;
    const r: CheckResult = { ...result, at: this.#now() };
    const o = observe(this.config, this.#rf, r.ok, r.detail);
    this.#rf = o.state;
    this.#last = r;
    const status = this.status();
    const call = (f: () => void): void => {
      try {
        f();
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    };
    call(() => this.#callbacks.onResult?.(r, status));
    const t = o.transition;
    if (t) call(() => this.#callbacks.onTransition?.(t, status));
  }

  #schedule(): void {
    if (!this.#started) return;
    if (this.#timer) clearTimeout(this.#timer);
    const due = this.#lastStart + this.config.intervalMs;
    this.#timer = setTimeout(() => this.#due(), Math.max(0, due - this.#now()));
  }

  #due(): void {
    this.#timer = undefined;
    if (!this.#started) return;
    if (this.#inFlight === undefined) {
      this.#run();
      return;
    }
    // Still running: the next run waits for it to settle.
    this.#pendingRun = true;
    if (!this.#hung) return;
    // Hung past its timeout: each due run counts as another failure meanwhile.
    this.#record({ ok: false, detail: `previous probe still running after ${Math.round(this.#now() - this.#lastStart)} ms`, elapsedMs: 0 });
    this.#lastStart += this.config.intervalMs;
    this.#schedule();
  }

  #run(): void {
    if (!this.#started) return;
    this.#pendingRun = false;
    const startedAt = this.#now();
    this.#lastStart = startedAt;
    const timeoutMs = this.config.timeoutMs;
    let counted = false;
    let markCounted = (): void => {};
    this.#inFlightCounted = new Promise<void>((resolve) => {
      markCounted = resolve;
    });
    let guard: NodeJS.Timeout | undefined = setTimeout(() => {
      guard = undefined;
      if (counted) return;
      counted = true;
      this.#hung = true;
      markCounted();
      this.#record({ ok: false, detail: `timed out after ${timeoutMs} ms (the probe did not settle)`, elapsedMs: this.#now() - startedAt });
      // A run fell due while it was still within its timeout and waits for it: from the next
      // interval slot on, #due counts each run as a failure while it stays hung.
      if (this.#started && this.#pendingRun && this.#timer === undefined) {
        const now = this.#now();
        while (this.#lastStart + this.config.intervalMs <= now) this.#lastStart += this.config.intervalMs;
        this.#schedule();
      }
    }, timeoutMs + this.#graceMs);
    const settle = (result: ProbeResult): void => {
      if (guard) clearTimeout(guard);
      guard = undefined;
      this.#inFlight = undefined;
      this.#inFlightCounted = undefined;
      this.#hung = false;
      markCounted();
      if (!counted) {
        counted = true;
        this.#record(result);
      }
      if (!this.#started) return;
      if (this.#pendingRun || this.#now() >= this.#lastStart + this.config.intervalMs) this.#run();
      else this.#schedule();
    };
    let pending: Promise<ProbeResult>;
    try {
      pending = this.#probe(this.config.spec, timeoutMs);
    } catch (e) {
      pending = Promise.resolve({ ok: false, detail: `probe failed: ${errorText(e)}`, elapsedMs: 0 });
    }
    this.#inFlight = pending.then(settle, (e: unknown) => settle({ ok: false, detail: `probe failed: ${errorText(e)}`, elapsedMs: this.#now() - startedAt }));
    this.#schedule();
  }
}
