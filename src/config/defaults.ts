/**
 * The defaults of every key that has one (docs/config.md). They equal the schema's
 * `default`s (schema/vigil.schema.json): test/config.test.ts and config-quorum.test.ts
 * compare them.
 */
import type { AddressFamily } from '../net/address.js';
import type { OnFail, TargetRole } from '../resources/types.js';
import type { V3Ipv4ChecksumMode, VrrpVersion } from '../vrrp/types.js';
import type { GlobalConfig, InstanceManager } from './types.js';

export const GLOBAL_DEFAULTS: GlobalConfig = {
  runtimeDir: '/run/vigil',
  logFormat: 'text',
  nonlocalBind: { ipv4: false, ipv6: false },
  realtimePriority: 0,
  stateDir: '/var/lib/vigil',
};

/** The resources' and health checks' defaults (equal to the schema's `default`s). */
export const RESOURCE_DEFAULTS = {
  startTimeout: '20s',
  stopTimeout: '20s',
  monitorTimeout: '20s',
  monitorInterval: '10s',
  onFail: 'restart' as OnFail,
  targetRole: 'started' as TargetRole,
  checkInterval: '2s',
  checkTimeout: '1s',
  rise: 1,
  fall: 1,
  weight: 0,
  expectStatus: 200,
  minCount: 1,
};

/** The quorum section's defaults (equal to the schema's `default`s). */
export const QUORUM_DEFAULTS = {
  clusterName: 'vigil',
  votes: 1,
  transport: 'unicast' as 'unicast' | 'multicast',
  multicastGroup: '239.192.213.1',
  port: 5406,
  heartbeatInterval: '200ms',
  heartbeatTimeout: '1s',
  keyFile: '/etc/vigil/authkey',
  twoNode: false,
  lastManStanding: false,
  lastManStandingWindow: '10s',
  autoTieBreaker: false,
  autoTieBreakerNode: 'lowest' as const,
  noQuorumPolicy: 'stop' as const,
  tieBreakerTimeout: '1s',
  tieBreakerInterval: '1s',
};


export const INSTANCE_DEFAULTS = {
  version: 3 as VrrpVersion,
  priority: 100,
  advertInterval: '1s',
  preempt: true,
  preemptDelay: '0s',
  managedBy: 'vigil' as InstanceManager,
  /** keepalived's default; RFC 5798's is false. */
  accept: true,
  checksum: 'rfc5798' as V3Ipv4ChecksumMode,
  higherPrioritySendAdvert: true,
  lowerPriorityNoAdvert: false,
  addressListCheck: 'log' as 'log' | 'drop',
  garpMasterDelay: '5s',
  garpMasterRefresh: '0s',
  garpInterval: '0ms',
} as const;

/** The name of the macvlan interface when `vmac: true`. */
export function defaultVmacName(family: AddressFamily, vrid: number): string {
  return family === 'ipv4' ? `vrrp.${vrid}` : `vrrp6.${vrid}`;
}
