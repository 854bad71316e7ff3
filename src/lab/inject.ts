/**
 * Raw VRRP packets sent from a lab host, for injecting malformed or spoofed adverts at
 * running daemons. The socket is opened inside the host's namespace from this process
 * (the main thread enters the namespace with setns just long enough to open, configure,
 * send and close it), as test/transport.test.ts does. The kernel writes the IP header:
 * the source is the host's own address, the TTL / hop limit is the one given here.
 */
import { closeSync, openSync } from 'node:fs';
import type { Lab } from './netns.js';
import { ip, type IpAddress, type IPv6Address } from '../net/address.js';
import { sockaddrIn, sockaddrIn6 } from '../net/sockaddr.js';
import {
  CLONE_NEWNET,
  IP_MULTICAST_IF,
  IP_MULTICAST_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_VRRP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  SOCK_RAW,
  native,
} from '../native/index.js';
import { vrrpChecksum } from '../vrrp/checksum.js';
import { AF_INET, AF_INET6 } from '../net/af.js';
import { VRRP_IPV4_GROUP, VRRP_IPV6_GROUP } from '../vrrp/multicast.js';

/** Runs `body` with the main thread in the namespace `ns`, then returns to this process's own. */
export function inNetns<T>(ns: string, body: () => T): T {
  const n = native();
  const own = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(`/run/netns/${ns}`, 'r');
  try {
    n.setns(target, CLONE_NEWNET);
    try {
      return body();
    } finally {
      n.setns(own, CLONE_NEWNET);
    }
  } finally {
    closeSync(target);
    closeSync(own);
  }
}

/** The source address the kernel gives packets from `host` (its IPv4 address, or its IPv6 link-local). */
export function injectSource(lab: Lab, host: string, family: 'ipv4' | 'ipv6'): IpAddress {
  const h = lab.host(host);
  return ip(family === 'ipv4' ? h.ipv4 : h.ipv6LinkLocal);
}

/**
 * Sends each payload, as it is, from `host`'s eth0 to the VRRP group of `family` with a
 * multicast TTL / hop limit of `ttl`.
 */
export function injectVrrp(lab: Lab, host: string, family: 'ipv4' | 'ipv6', ttl: number, payloads: readonly Uint8Array[]): void {
  const n = native();
  const h = lab.host(host);
  inNetns(h.ns, () => {
    const ifindex = n.ifNameToIndex('eth0');
    const fd = n.socket(family === 'ipv4' ? AF_INET : AF_INET6, SOCK_RAW, IPPROTO_VRRP);
    try {
      if (family === 'ipv4') {
        const mreqn = Buffer.alloc(12);
        mreqn.writeInt32LE(ifindex, 8);
        n.setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, mreqn);
        n.setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl);
        for (const p of payloads) n.sendto(fd, Buffer.from(p), sockaddrIn(VRRP_IPV4_GROUP));
      } else {
        n.bind(fd, sockaddrIn6(ip(h.ipv6LinkLocal) as IPv6Address, 0, ifindex));
        n.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex);
        n.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
        for (const p of payloads) n.sendto(fd, Buffer.from(p), sockaddrIn6(VRRP_IPV6_GROUP, 0, ifindex));
      }
    } finally {
      n.close(fd);
    }
  });
}

/**
 * Recomputes the checksum of an edited VRRP message in place (bytes 6-7), with the
 * pseudo-header when `pseudo` is given (v3), without it otherwise (v2).
 */
export function fixChecksum(packet: Buffer, pseudo?: { readonly src: IpAddress; readonly dst: IpAddress }): Buffer {
  packet[6] = 0;
  packet[7] = 0;
  const sum = vrrpChecksum(packet, packet.length, pseudo);
  packet.writeUInt16BE(sum, 6);
  return packet;
}
