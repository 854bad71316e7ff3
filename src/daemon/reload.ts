/**
 * What a reload does to one instance, decided from its old and new config:
 * - unchanged: nothing at all (state and VIPs untouched, not a single address removal);
 * - in-place: priority, preemption, accept mode, VIPs, announce knobs, tracking — the
 *   state machine keeps its state and only the VIPs that differ are added or removed;
 * - recreate: its identity on the wire changed (interface, VRID, family, version, interval,
 *   unicast peers, authentication, VMAC, checksum form): stopped and started anew.
 */
import type { InstanceConfig } from '../config/types.js';
import { canonical } from '../base/canonical.js';

export { canonical };

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

export function instanceChange(old: InstanceConfig, next: InstanceConfig): InstanceChange {
  if (canonical(old) === canonical(next)) return 'unchanged';
  for (const key of IDENTITY) if (canonical(old[key]) !== canonical(next[key])) return 'recreate';
  return 'in-place';
}
