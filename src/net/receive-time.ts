/**
 * A datagram's kernel receive time, for the sockets with SO_TIMESTAMPNS on (the VRRP raw
 * socket, the heartbeat socket): socket(7): "SO_TIMESTAMPNS ... the timestamp is returned
 * as a struct timespec" in an SCM_TIMESTAMPNS control message, on CLOCK_REALTIME. One
 * conversion for both: the addon turns it into CLOCK_MONOTONIC (process.hrtime's clock) at
 * the read, so only a realtime step in the microseconds between the kernel's stamp and the
 * read (NTP) can skew it.
 */
import { SCM_TIMESTAMPNS, SOL_SOCKET, type NativeBinding } from '../native/index.js';
import { findControlMessage } from './cmsg.js';

/** struct timespec in an SCM_TIMESTAMPNS control message (x86_64: tv_sec and tv_nsec, 64 bits each). */
const TIMESPEC_LENGTH = 16;

/** When the kernel received the datagram whose control messages are control[0, length), in ms on CLOCK_MONOTONIC; undefined without a timestamp. */
export function kernelReceiveTime(n: NativeBinding, control: Buffer, controlLength: number): number | undefined {
  const at = findControlMessage(control, controlLength, SOL_SOCKET, SCM_TIMESTAMPNS, TIMESPEC_LENGTH);
  return at < 0 ? undefined : n.realtimeToMonotonicMs(control, at);
}

/** How long before now the kernel received that datagram, in ms (at least 0; 0 without a timestamp): for a caller on another clock (`now() - age`). */
export function kernelReceiveAge(n: NativeBinding, control: Buffer, controlLength: number): number {
  const at = kernelReceiveTime(n, control, controlLength);
  return at === undefined ? 0 : Math.max(0, Number(process.hrtime.bigint()) / 1e6 - at);
}
