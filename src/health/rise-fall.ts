/**
 * Rise/fall hysteresis for health checks (keepalived's vrrp_script `rise`/`fall`, haproxy's
 * `rise`/`fall`), pure: no timers, no I/O.
 *
 * A check is `healthy` after `rise` consecutive successes and `unhealthy` after `fall`
 * consecutive failures; one result of the other kind resets the run, so a flapping check
 * does not change state.
 *
 * Initial state: `unknown`, which counts as unhealthy (a weight > 0 is not added, a weight
 * < 0 is subtracted, a weight 0 keeps the instance in FAULT) until `rise` successes in a
 * row make it healthy — keepalived's `init_fail` behaviour, chosen so that a node that has
 * just started never claims a health it has not shown. (keepalived without `init_fail` lets
 * the first result decide; haproxy starts a server up.) `fall` failures in a row from
 * `unknown` give an explicit transition to `unhealthy`, so that the caller learns the check
 * is now known to be down, even though the effect on the priority is the same.
 *
 * The rule, which the property test checks: a result causes a transition exactly when it
 * completes a run of `rise` successes (and the state was not `healthy`) or of `fall`
 * failures (and the state was not `unhealthy`).
 */

export type HealthState = 'unknown' | 'healthy' | 'unhealthy';

export interface RiseFallParams {
  /** Successes in a row to become healthy (integer ≥ 1). */
  readonly rise: number;
  /** Failures in a row to become unhealthy (integer ≥ 1). */
  readonly fall: number;
}

export interface RiseFallState {
  readonly state: HealthState;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** Totals since the start. */
  readonly successes: number;
  readonly failures: number;
}

export interface Transition {
  readonly from: HealthState;
  readonly to: 'healthy' | 'unhealthy';
  /** "3 successes in a row (rise 3)"; with the last probe's detail when one was given. */
  readonly reason: string;
}

export interface Observation {
  readonly state: RiseFallState;
  /** Set when this result changed the state. */
  readonly transition: Transition | undefined;
}

export const INITIAL_RISE_FALL: RiseFallState = { state: 'unknown', consecutiveSuccesses: 0, consecutiveFailures: 0, successes: 0, failures: 0 };

/** Why these parameters are unusable, or undefined. */
export function riseFallProblem(params: RiseFallParams): string | undefined {
  if (!Number.isInteger(params.rise) || params.rise < 1) return `rise must be an integer ≥ 1, not ${params.rise}`;
  if (!Number.isInteger(params.fall) || params.fall < 1) return `fall must be an integer ≥ 1, not ${params.fall}`;
  return undefined;
}

/** Whether the state counts as healthy for the priority (unknown does not). */
export function isHealthy(state: HealthState): boolean {
  return state === 'healthy';
}

/** Feeds one result. `detail` (the probe's) goes into the transition's reason. */
export function observe(params: RiseFallParams, current: RiseFallState, ok: boolean, detail?: string): Observation {
  const problem = riseFallProblem(params);
  if (problem !== undefined) throw new RangeError(problem);
  const suffix = detail === undefined || detail === '' ? '' : `; last: ${detail}`;
  if (ok) {
    const run = current.consecutiveSuccesses + 1;
    const becomes = run >= params.rise && current.state !== 'healthy';
    const state: RiseFallState = {
      state: becomes ? 'healthy' : current.state,
      consecutiveSuccesses: run,
      consecutiveFailures: 0,
      successes: current.successes + 1,
      failures: current.failures,
    };
    return {
      state,
      transition: becomes ? { from: current.state, to: 'healthy', reason: `${run} ${run === 1 ? 'success' : 'successes'} in a row (rise ${params.rise})${suffix}` } : undefined,
    };
  }
  const run = current.consecutiveFailures + 1;
  const becomes = run >= params.fall && current.state !== 'unhealthy';
  const state: RiseFallState = {
    state: becomes ? 'unhealthy' : current.state,
    consecutiveSuccesses: 0,
    consecutiveFailures: run,
    successes: current.successes,
    failures: current.failures + 1,
  };
  return {
    state,
    transition: becomes ? { from: current.state, to: 'unhealthy', reason: `${run} ${run === 1 ? 'failure' : 'failures'} in a row (fall ${params.fall})${suffix}` } : undefined,
  };
}

/** Feeds a sequence of results; the transitions with the index of the result that caused each. */
export function observeAll(
  params: RiseFallParams,
  results: readonly boolean[],
  start: RiseFallState = INITIAL_RISE_FALL,
): { readonly state: RiseFallState; readonly transitions: readonly (Transition & { readonly index: number })[] } {
  let state = start;
  const transitions: (Transition & { readonly index: number })[] = [];
  results.forEach((ok, index) => {
    const o = observe(params, state, ok);
    state = o.state;
    if (o.transition) transitions.push({ ...o.transition, index });
  });
  return { state, transitions };
}

/**
 * keepalived track_script weight semantics: weight > 0 is added while healthy; weight < 0
 * is subtracted (added, being negative) while not healthy; weight 0 puts the instance in
 * FAULT while not healthy. `unknown` counts as not healthy.
 */
export function priorityEffect(weight: number, state: HealthState): { readonly delta: number; readonly fault: boolean } {
  const healthy = isHealthy(state);
  if (weight === 0) return { delta: 0, fault: !healthy };
  if (weight > 0) return { delta: healthy ? weight : 0, fault: false };
  return { delta: healthy ? 0 : weight, fault: false };
}
