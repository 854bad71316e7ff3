/** The daemon's clock: monotonic milliseconds (CLOCK_MONOTONIC through hrtime), sub-ms precise. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
