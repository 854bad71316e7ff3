/**
 * What the state machine is given of a configured instance (no parsing here, so the
 * daemon does not load the config loader's dependencies to use it).
 */
import type { IpAddress } from '../net/address.js';
import type { RouterConfig } from '../vrrp/router.js';
import type { InstanceConfig } from './types.js';

/**
 * The TrackedObject name under which instanceToRouterConfig lists a tracked interface:
 * deliver `{ type: 'tracker', name: interfaceTrackerName(ifname), up }` to the router.
 * (Namespaced so that tracked scripts or files added later cannot collide with it.)
 */
export function interfaceTrackerName(ifname: string): string {
  return `interface:${ifname}`;
}

/** The state machine's view of an instance; `primaryAddress` is the interface's primary address of the instance's family. */
export function instanceToRouterConfig(instance: InstanceConfig, primaryAddress: IpAddress): RouterConfig {
  if (primaryAddress.family !== instance.family) {
    throw new RangeError(
      `instance ${instance.name} is ${instance.family}, but its primary address ${primaryAddress.text} is ${primaryAddress.family}`,
    );
  }
  return {
    name: instance.name,
    version: instance.version,
    family: instance.family,
    vrid: instance.vrid,
    priority: instance.priority,
    advertInterval: instance.advertInterval,
    preempt: instance.preempt,
    preemptDelayMs: instance.preemptDelayMs,
    acceptMode: instance.acceptMode,
    primaryAddress,
    tracked: instance.trackInterfaces.map((t) => ({ name: interfaceTrackerName(t.name), weight: t.weight })),
    announce: instance.announce,
    higherPrioritySendAdvert: instance.higherPrioritySendAdvert,
    lowerPriorityNoAdvert: instance.lowerPriorityNoAdvert,
    // On a virtual MAC the yielding router's repeats would leave from that MAC (RouterConfig).
    ...(instance.vmac ? { stepDownAdvertRepeats: 0 } : {}),
  };
}
