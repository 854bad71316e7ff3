/**
 * What a reload does to one instance, decided from its old and new config:
 * - unchanged: nothing at all (state and VIPs untouched, not a single address removal);
 * - in-place: priority, preemption, accept mode, VIPs, announce knobs, tracking — the
 *   state machine keeps its state and only the VIPs that differ are added or removed;
 * - recreate: its identity on the wire changed (interface, VRID, family, version, interval,
 *   unicast peers, authentication, VMAC, checksum form): stopped and started anew.
 */
import type { InstanceConfig } from '../config/types.js';

export type InstanceChange = 'unchanged' | 'in-place' | 'recreate' | 'added' | 'removed';

const IDENTITY: readonly (keyof InstanceConfig)[] = [
  'interface',
  'vrid',
  'family',
  'version',
  'advertInterval',
  'unicast',
  'authentication',
  'vmac',
  'checksum',
];

/** A stable text form for comparison: addresses by their text, bytes as hex, no source location. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === 'location') return undefined;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (typeof v === 'object' && v !== null && 'family' in v && 'bytes' in v && 'text' in v) return (v as { text: string }).text;
    return v;
  });
}

export function instanceChange(old: InstanceConfig, next: InstanceConfig): InstanceChange {
  if (canonical(old) === canonical(next)) return 'unchanged';
  for (const key of IDENTITY) if (canonical(old[key]) !== canonical(next[key])) return 'recreate';
  return 'in-place';
}
