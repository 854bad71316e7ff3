/**
 * Linux address family numbers (include/linux/socket.h), shared by the native socket
 * layer, rtnetlink messages and socket addresses. The same on every Linux architecture.
 */

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
