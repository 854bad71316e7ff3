/**
 * The one path by which a virtual address is added and announced, shared by the VRRP
 * instances (src/daemon/effect-pipeline.ts through system.ts) and the `vip` resource
 * agent (src/resources/agents/vip.ts): the rtnetlink request for the address, and the
 * gratuitous ARP (IPv4) / unsolicited Neighbor Advertisement (IPv6) frame that announces
 * it.
 */
import type { IpAddress } from '../net/address.js';
import type { MacAddress } from '../net/mac.js';
import { gratuitousArpFrame, unsolicitedNeighborAdvertFrame } from '../vrrp/announce-frames.js';
import type { AddressSpec } from './addresses.js';
import type { ScopeName } from './constants.js';

/** A virtual address as configured: iproute2's scope names ("global" is rtnetlink's "universe"). */
export interface VirtualAddress {
  readonly address: IpAddress;
  readonly prefixLength: number;
  /** IPv4 only; ignored for IPv6 (the kernel has no IPv6 labels). */
  readonly label?: string;
  /** Default global. */
  readonly scope?: 'global' | 'site' | 'link' | 'host';
}

const SCOPE: Readonly<Record<NonNullable<VirtualAddress['scope']>, ScopeName>> = { global: 'universe', site: 'site', link: 'link', host: 'host' };

/** The RTM_NEWADDR / RTM_DELADDR request for a virtual address on `ifindex`. */
export function vipAddressSpec(ifindex: number, vip: VirtualAddress, ifname?: string): AddressSpec {
  return {
    ifindex,
    ...(ifname === undefined ? {} : { ifname }),
    address: vip.address,
    prefixLength: vip.prefixLength,
    ...(vip.label !== undefined && vip.address.family === 'ipv4' ? { label: vip.label } : {}),
    scope: SCOPE[vip.scope ?? 'global'],
    // RFC 5798 §8.2.1 (IPv6): a virtual address moves between routers; duplicate address
    // detection would hold it tentative (and unusable) for a second after each takeover.
    ...(vip.address.family === 'ipv6' ? { noDad: true } : {}),
  };
}

/**
 * The frame that announces `address` from `mac`: RFC 5798 §6.4.2 (380) "Broadcast a
 * gratuitous ARP request on that interface containing the virtual router MAC address" for
 * an IPv4 address, (395) an unsolicited Neighbor Advertisement for an IPv6 one (built by
 * announce-frames.ts; sent with the Router flag clear, as the daemon always has).
 */
export function announcementFrame(address: IpAddress, mac: MacAddress): Uint8Array {
  return address.family === 'ipv4' ? gratuitousArpFrame(address, mac) : unsolicitedNeighborAdvertFrame(address, mac, { router: false });
}
