/**
 * A stable text form of a piece of config, for telling what a reload changed: addresses by
 * their text, bytes as hex, no source location (moving a key in the file changes nothing).
 */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === 'location') return undefined;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (typeof v === 'object' && v !== null && 'family' in v && 'bytes' in v && 'text' in v) return (v as { text: string }).text;
    if (v === Infinity) return 'Infinity';
    return v;
  });
}
