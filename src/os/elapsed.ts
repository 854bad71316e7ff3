/** Milliseconds since `start` (a process.hrtime.bigint() reading), fractional. */
export function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}
