/**
 * Multicast membership arguments for setsockopt, Linux x86_64 layout (ip(7), ipv6(7)),
 * for the VRRP and heartbeat sockets:
 *
 *   struct ip_mreqn  (12): 4-byte group, 4-byte local address, i32 ifindex
 *   struct ipv6_mreq (20): 16-byte group, i32 ifindex
 */
import type { IPv4Address, IPv6Address } from './address.js';

/** struct ip_mreqn (IP_ADD_MEMBERSHIP, IP_MULTICAST_IF); an absent group or address is 0.0.0.0, ifindex 0 is any. */
export function ipMreqn(group: IPv4Address | undefined, address: IPv4Address | undefined, ifindex: number): Buffer {
  const b = Buffer.alloc(12);
  if (group) b.set(group.bytes, 0);
  if (address) b.set(address.bytes, 4);
  b.writeInt32LE(ifindex, 8);
  return b;
}

/** struct ipv6_mreq (IPV6_ADD_MEMBERSHIP). */
export function ipv6Mreq(group: IPv6Address, ifindex: number): Buffer {
  const b = Buffer.alloc(20);
  b.set(group.bytes, 0);
  b.writeInt32LE(ifindex, 16);
  return b;
}
