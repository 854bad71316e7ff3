/** Waiting in the lab: a sleep, and polling a condition until it holds. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` every `everyMs` until it holds, or throws "timed out: WHAT" after
 * `timeoutMs` (`what` may be a function, for a message that says what was seen).
 */
export async function until(check: () => Promise<boolean> | boolean, what: string | (() => string), timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`timed out: ${typeof what === 'string' ? what : what()}`);
    await sleep(everyMs);
  }
}
