/** Polls `check` every `everyMs` until it holds, or throws "timed out: WHAT" after `timeoutMs`. */
import { sleep } from '../lab/capture.js';

export async function until(check: () => Promise<boolean> | boolean, what: () => string, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await sleep(everyMs);
  }
}
