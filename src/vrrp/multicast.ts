/**
 * The VRRP multicast groups, the one definition the transport, the daemon, the simulator
 * and the lab use.
 */
import { type IPv4Address, type IPv6Address, ip } from '../net/address.js';

/** RFC 5798 §5.1.1.2: "The IPv4 multicast address as assigned by the IANA for VRRP is: 224.0.0.18". */
export const VRRP_IPV4_GROUP = ip('224.0.0.18') as IPv4Address;
/** RFC 5798 §5.1.2.2: "The IPv6 multicast address assigned by IANA for VRRP is: FF02:0:0:0:0:0:0:12". */
export const VRRP_IPV6_GROUP = ip('ff02::12') as IPv6Address;

/** The group adverts of `family` are sent to in multicast mode. */
export function vrrpGroup(family: 'ipv4' | 'ipv6'): IPv4Address | IPv6Address {
  return family === 'ipv4' ? VRRP_IPV4_GROUP : VRRP_IPV6_GROUP;
}
