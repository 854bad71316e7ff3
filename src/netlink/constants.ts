/**
 * The rtnetlink constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
 * linux/if_addr.h and linux/if.h, checked against this machine's headers), with the
 * names of message types and errnos for logs and errors. The wire format itself is
 * message.ts.
 */
import { constants as osConstants } from 'node:os';

// ---------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------

export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;

/** setsockopt(SOL_NETLINK, …) options (linux/netlink.h). */
export const NETLINK_OPT = {
  ADD_MEMBERSHIP: 1,
  DROP_MEMBERSHIP: 2,
  PKTINFO: 3,
  BROADCAST_ERROR: 4,
  NO_ENOBUFS: 5,
  LISTEN_ALL_NSID: 8,
  CAP_ACK: 10,
  EXT_ACK: 11,
  GET_STRICT_CHK: 12,
} as const;

export const NLMSG_ALIGNTO = 4;
export const NLMSG_HDRLEN = 16;
export const RTA_HDRLEN = 4;
export const IFINFOMSG_LEN = 16;
export const IFADDRMSG_LEN = 8;

/** Control message types (linux/netlink.h). */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

/** nlmsg_flags (linux/netlink.h). */
export const NLM_F = {
  REQUEST: 0x01,
  MULTI: 0x02,
  ACK: 0x04,
  ECHO: 0x08,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  // GET requests
  ROOT: 0x100,
  MATCH: 0x200,
  ATOMIC: 0x400,
  DUMP: 0x300,
  // NEW requests
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // DELETE requests
  NONREC: 0x100,
  BULK: 0x200,
  // ACK messages
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

/** Extended-ack TLV types inside NLMSG_ERROR / NLMSG_DONE (enum nlmsgerr_attrs). */
export const NLMSGERR_ATTR = { MSG: 1, OFFS: 2, COOKIE: 3, POLICY: 4, MISS_TYPE: 5, MISS_NEST: 6 } as const;

/** rtnetlink message types (linux/rtnetlink.h). */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
} as const;

/** Legacy multicast group bitmask for sockaddr_nl.nl_groups (linux/rtnetlink.h). */
export const RTMGRP = {
  LINK: 0x1,
  NOTIFY: 0x2,
  NEIGH: 0x4,
  TC: 0x8,
  IPV4_IFADDR: 0x10,
  IPV4_MROUTE: 0x20,
  IPV4_ROUTE: 0x40,
  IPV4_RULE: 0x80,
  IPV6_IFADDR: 0x100,
} as const;

/** Group numbers for NETLINK_ADD_MEMBERSHIP (enum rtnetlink_groups). */
export const RTNLGRP = { LINK: 1, IPV4_IFADDR: 5, IPV6_IFADDR: 9 } as const;

/** Link attributes (enum IFLA_*). */
export const IFLA = {
  UNSPEC: 0,
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  QDISC: 6,
  STATS: 7,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKMODE: 17,
  LINKINFO: 18,
  IFALIAS: 20,
  AF_SPEC: 26,
  GROUP: 27,
  EXT_MASK: 29,
  PROMISCUITY: 30,
  CARRIER: 33,
  CARRIER_CHANGES: 35,
  LINK_NETNSID: 37,
  PROTO_DOWN: 39,
  PERM_ADDRESS: 54,
} as const;

/** Nested in IFLA_LINKINFO (enum IFLA_INFO_*). */
export const IFLA_INFO = { UNSPEC: 0, KIND: 1, DATA: 2, XSTATS: 3, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;

/** Nested in IFLA_INFO_DATA for kind "macvlan" (enum IFLA_MACVLAN_*). */
export const IFLA_MACVLAN = { UNSPEC: 0, MODE: 1, FLAGS: 2 } as const;

/** enum macvlan_mode. */
export const MACVLAN_MODE = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 } as const;

/** Address attributes (enum IFA_*). */
export const IFA = {
  UNSPEC: 0,
  ADDRESS: 1,
  LOCAL: 2,
  LABEL: 3,
  BROADCAST: 4,
  ANYCAST: 5,
  CACHEINFO: 6,
  MULTICAST: 7,
  FLAGS: 8,
  RT_PRIORITY: 9,
  TARGET_NETNSID: 10,
  PROTO: 11,
} as const;

/** ifa_flags / IFA_FLAGS bits (linux/if_addr.h). */
export const IFA_F = {
  SECONDARY: 0x01,
  TEMPORARY: 0x01,
  NODAD: 0x02,
  OPTIMISTIC: 0x04,
  DADFAILED: 0x08,
  HOMEADDRESS: 0x10,
  DEPRECATED: 0x20,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200,
  MCAUTOJOIN: 0x400,
  STABLE_PRIVACY: 0x800,
} as const;

/** enum rt_scope_t (linux/rtnetlink.h). */
export const RT_SCOPE = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;
export type ScopeName = keyof typeof RT_SCOPE;

/** Device flags (linux/if.h, enum net_device_flags). */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  DEBUG: 0x4,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  NOTRAILERS: 0x20,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  ALLMULTI: 0x200,
  MASTER: 0x400,
  SLAVE: 0x800,
  MULTICAST: 0x1000,
  PORTSEL: 0x2000,
  AUTOMEDIA: 0x4000,
  DYNAMIC: 0x8000,
  LOWER_UP: 0x10000,
  DORMANT: 0x20000,
  ECHO: 0x40000,
} as const;

/** RFC 2863 operational states as IFLA_OPERSTATE carries them (linux/if.h, IF_OPER_*). */
export const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export type OperState = (typeof OPERSTATES)[number];

/** A readable name for an rtnetlink/netlink message type, for logs and errors. */
export function messageTypeName(type: number): string {
  switch (type) {
    case NLMSG.NOOP:
      return 'NLMSG_NOOP';
    case NLMSG.ERROR:
      return 'NLMSG_ERROR';
    case NLMSG.DONE:
      return 'NLMSG_DONE';
    case NLMSG.OVERRUN:
      return 'NLMSG_OVERRUN';
    case RTM.NEWLINK:
      return 'RTM_NEWLINK';
    case RTM.DELLINK:
      return 'RTM_DELLINK';
    case RTM.GETLINK:
      return 'RTM_GETLINK';
    case RTM.SETLINK:
      return 'RTM_SETLINK';
    case RTM.NEWADDR:
      return 'RTM_NEWADDR';
    case RTM.DELADDR:
      return 'RTM_DELADDR';
    case RTM.GETADDR:
      return 'RTM_GETADDR';
    default:
      return `type ${type}`;
  }
}

const ERRNO_NAMES: ReadonlyMap<number, string> = (() => {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(osConstants.errno)) {
    // Several names can share a number (EWOULDBLOCK = EAGAIN): keep the first.
    if (!names.has(value)) names.set(value, name);
  }
  return names;
})();

/** 'EEXIST' for 17, and so on; undefined for numbers this platform does not name. */
export function errnoName(errno: number): string | undefined {
  return ERRNO_NAMES.get(errno);
}

export function nlmsgAlign(length: number): number {
  return (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}
