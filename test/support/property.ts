/**
 * Runs a fast-check property with a fixed seed (so CI is deterministic; set
 * VIGIL_PROPERTY_SEED=random to explore, or to a number to replay) and reports the
 * failing assertion's own message beside the counterexample.
 */
import fc from 'fast-check';
import { errorText } from '../../src/base/error-text.js';

export const PROPERTY_SEED: number | undefined =
  process.env['VIGIL_PROPERTY_SEED'] === 'random' ? undefined : Number(process.env['VIGIL_PROPERTY_SEED'] ?? 20261121);

export function checkProperty<Ts extends [unknown, ...unknown[]]>(
  property: fc.IProperty<Ts>,
  params: fc.Parameters<Ts> = {},
): void {
  throwIfFailed(fc.check(property, { ...(PROPERTY_SEED === undefined ? {} : { seed: PROPERTY_SEED }), ...params }));
}

/** checkProperty for an asynchronous property (fc.asyncProperty). */
export async function checkAsyncProperty<Ts extends [unknown, ...unknown[]]>(
  property: fc.IAsyncProperty<Ts>,
  params: fc.Parameters<Ts> = {},
): Promise<void> {
  throwIfFailed(await fc.check(property, { ...(PROPERTY_SEED === undefined ? {} : { seed: PROPERTY_SEED }), ...params }));
}

/** A failed run as an error naming the seed and path that replay it. */
function throwIfFailed<Ts>(details: fc.RunDetails<Ts>): void {
  if (!details.failed) return;
  const cause = errorText(details.errorInstance);
  throw new Error(
    `property failed after ${details.numRuns} runs (seed ${details.seed}, path "${details.counterexamplePath ?? ''}")\n` +
      `counterexample: ${fc.stringify(details.counterexample)}\n` +
      `error: ${cause}`,
  );
}
