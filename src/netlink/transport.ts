/**
 * The real transport: an AF_NETLINK/NETLINK_ROUTE socket from the native addon
 * (non-blocking, close-on-exec), readiness through uv_poll on Node's loop.
 *
 * The socket belongs to the network namespace of the process that opens it.
 *
 * Only datagrams from the kernel (sender port id 0) are delivered: any local process
 * may send unicast netlink messages to our port, and a forged "link down" or ack must
 * not move a VRRP instance (keepalived checks nl_pid the same way).
 */
import {
  MSG_TRUNC,
  SOL_SOCKET,
  SO_RCVBUF,
  SyscallError,
  native,
  toSyscallError,
  type PollHandle,
  SOCK_RAW,
} from '../native/index.js';
import { parseSockaddr, sockaddrNl } from '../net/sockaddr.js';
import type { NetlinkTransport, ReceiveHandlers, TransportOptions } from './socket.js';
import { AF_NETLINK } from '../net/af.js';
import { NETLINK_OPT, NETLINK_ROUTE, SOL_NETLINK } from './constants.js';

/** SO_RCVBUFFORCE (asm-generic/socket.h): like SO_RCVBUF, past rmem_max, with CAP_NET_ADMIN. */
const SO_RCVBUFFORCE = 33;

/** Large enough for any netlink datagram: the kernel caps dump skbs at 32 KiB. */
const MAX_DATAGRAM = 64 * 1024;

/** Datagrams read per readiness callback before yielding to the loop (uv_poll is level-triggered). */
const BATCH = 64;

/** Whether a received datagram's source address (sockaddr_nl) is the kernel (port id 0). */
export function fromKernel(from: Uint8Array): boolean {
  const parsed = parseSockaddr(from);
  return parsed.kind === 'netlink' && parsed.pid === 0;
}

const KERNEL = sockaddrNl(0, 0);

export function nativeTransport(options: TransportOptions): NetlinkTransport {
  const n = native();
  const context = options.groups === 0 ? 'rtnetlink requests' : `rtnetlink events (groups 0x${options.groups.toString(16)})`;
  let fd: number;
  try {
    fd = n.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  } catch (e) {
    throw toSyscallError(e, context);
  }
  try {
    if (options.receiveBuffer !== undefined) {
      try {
        n.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, options.receiveBuffer);
      } catch {
        // Without CAP_NET_ADMIN: as much as net.core.rmem_max allows.
        n.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, options.receiveBuffer);
      }
    }
    try {
      // The kernel's own words on refusals (4.12+); harmless where unsupported.
      n.setsockopt(fd, SOL_NETLINK, NETLINK_OPT.EXT_ACK, 1);
    } catch {
      // older kernel
    }
    n.bind(fd, sockaddrNl(0, options.groups));
  } catch (e) {
    try {
      n.close(fd);
    } catch {
      // nothing more to do
    }
    throw toSyscallError(e, context);
  }

  let poll: PollHandle | undefined;
  /** The handlers given to start(), for receiveNow(). */
  let receivers: ReceiveHandlers | undefined;
  let closed = false;
  /** Datagrams dropped for not coming from the kernel. */
  let spoofed = 0;

  const drain = (handlers: ReceiveHandlers): void => {
    for (let i = 0; i < BATCH && !closed; i++) {
      let received;
      try {
        received = n.recvmsg(fd, MAX_DATAGRAM, 0);
      } catch (e) {
        // ENOBUFS: the receive queue overflowed and messages were dropped; the socket
        // still works, so report and keep reading.
        handlers.error(toSyscallError(e, context));
        continue;
      }
      if (received === null) return;
      if (!fromKernel(received.from)) {
        spoofed++;
        continue;
      }
      if ((received.flags & MSG_TRUNC) !== 0) {
        handlers.error(new SyscallError(90, 'EMSGSIZE', 'recvmsg', context, `datagram longer than ${MAX_DATAGRAM} bytes was truncated`));
        continue;
      }
      handlers.datagram(received.data);
    }
  };

  return {
    get dropped(): number {
      return spoofed;
    },
    send(datagram: Uint8Array): void {
      if (closed) throw new SyscallError(9, 'EBADF', 'sendto', context, 'socket closed');
      try {
        n.sendto(fd, datagram, KERNEL);
      } catch (e) {
        throw toSyscallError(e, context);
      }
    },
    receiveNow(): void {
      // The socket is non-blocking: recvmsg returns null at once when the queue is empty.
      if (receivers && !closed) drain(receivers);
    },
    start(handlers: ReceiveHandlers): void {
      if (poll || closed) return;
      receivers = handlers;
      poll = n.poll(fd, (error) => {
        if (closed) return;
        if (error) {
          const failure = toSyscallError(error, context);
          handlers.error(failure);
          // A pending socket error (ENOBUFS) was cleared and polling goes on; EBADF ends it.
          if (failure instanceof SyscallError && failure.code === 'EBADF') return;
        }
        drain(handlers);
      });
    },
    close(): void {
      if (closed) return;
      closed = true;
      poll?.stop();
      try {
        n.close(fd);
      } catch {
        // already closed
      }
    },
  };
}
