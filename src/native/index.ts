/**
 * The native addon (src/native/vigil_native.cc, built by scripts/build-native.mjs into
 * build/Release/vigil_native.node): thin Linux syscalls, typed. Protocol logic stays in
 * TypeScript; this module only loads the addon, types it, turns its errors into
 * SyscallError and names the Linux x86_64 constants.
 *
 * The addon is loaded on first use (`native()`), so importing the constants never needs
 * a built addon.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `recvmsg` returns for one datagram. */
export interface ReceivedMessage {
  /** The payload (at most maxData bytes; `flags & MSG_TRUNC` when the datagram was longer). */
  readonly data: Buffer;
  /** The sender's sockaddr (empty for an unnamed sender). */
  readonly from: Buffer;
  /** The control messages (see src/net/cmsg.ts). */
  readonly control: Buffer;
  /** msg_flags: MSG_TRUNC, MSG_CTRUNC, ... */
  readonly flags: number;
}

/** A readiness watch on a descriptor; `stop()` ends it and closes the uv_poll_t handle (idempotent). */
export interface PollHandle {
  stop(): void;
}

/**
 * The addon's functions. Each throws a native error with `errno` (positive), `code`
 * ('EPERM', ...) and `syscall` on failure; `syscall()` below turns it into a SyscallError.
 */
export interface NativeBinding {
  /** socket(2), always with SOCK_NONBLOCK | SOCK_CLOEXEC added. */
  socket(domain: number, type: number, protocol: number): number;
  close(fd: number): void;
  bind(fd: number, sockaddr: Uint8Array): void;
  /** A number is passed as a C int; a Buffer as is. */
  setsockopt(fd: number, level: number, name: number, value: number | Uint8Array): void;
  getsockoptInt(fd: number, level: number, name: number): number;
  /** Returns the bytes sent. `sockaddr` null for a connected or bound (AF_PACKET) socket. */
  sendto(fd: number, data: Uint8Array, sockaddr: Uint8Array | null): number;
  /** One datagram, or null when none is pending (EAGAIN). */
  recvmsg(fd: number, maxData: number, maxControl: number): ReceivedMessage | null;
  /**
   * The allocation-free recvmsg: receives into the given buffers and writes
   * [data length, from length, control length, msg_flags] into `out`. False when none is pending.
   */
  recvmsgInto(fd: number, data: Uint8Array, from: Uint8Array, control: Uint8Array, out: Int32Array): boolean;
  /**
   * sendmmsg(2): `payloads[start..end)` to `sockaddrs[start..end)` (at most 64) in one call,
   * in order. Returns how many went out; throws only when the first of them failed.
   */
  sendmmsgTo(fd: number, payloads: readonly Uint8Array[], sockaddrs: readonly Uint8Array[], start: number, end: number): number;
  /**
   * recvmmsg(2) with MSG_DONTWAIT: up to `out.length / 4` (at most 64) datagrams in one
   * call, the i-th into the i-th slot of `data`, `from` and `control` (slot sizes given),
   * its [data length, from length, control length, msg_flags] at `out[4 * i]`. Returns
   * how many were read; 0 when none is pending.
   */
  recvmmsgInto(fd: number, data: Uint8Array, dataSlot: number, from: Uint8Array, fromSlot: number, control: Uint8Array, controlSlot: number, out: Int32Array): number;
  /**
   * Calls `callback()` on Node's loop whenever `fd` is readable (uv_poll_t, level-triggered).
   * A pending socket error (EPOLLERR: a netlink ENOBUFS, an ICMP error) is read with SO_ERROR
   * and passed as `callback(error)`, and polling goes on; `error.code === 'EBADF'` means the
   * descriptor itself is bad and polling has stopped. Stop it before closing fd.
   * An active poll keeps the process alive, like a listening server.
   */
  poll(fd: number, callback: (error?: Error) => void): PollHandle;
  /** timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC): a descriptor to poll and close. */
  timerfdCreate(): number;
  /**
   * timerfd_settime with TFD_TIMER_ABSTIME: one expiry at the absolute CLOCK_MONOTONIC time
   * `deadlineMs` (the clock of process.hrtime, in ms; rounded up to the ns), or disarmed for null.
   */
  timerfdSet(fd: number, deadlineMs: number | null): void;
  /** Expirations since the last read, 0 when none (clears readiness). */
  timerfdRead(fd: number): number;
  /**
   * The struct timespec at `bytes[offset]` (CLOCK_REALTIME: an SCM_TIMESTAMPNS receive time) as ms
   * on CLOCK_MONOTONIC (the daemon's clock), through the realtime–monotonic offset read now.
   */
  realtimeToMonotonicMs(bytes: Uint8Array, offset: number): number;
  ifNameToIndex(name: string): number;
  ifIndexToName(index: number): string;
  /** sched_setscheduler(tid ?? 0, SCHED_RR, priority) for the calling thread or thread `tid`; 0 returns to SCHED_OTHER. */
  setRealtime(priority: number, tid?: number): void;
  /** setns(2) for the calling (main) thread; used by tests to open sockets in a network namespace. */
  setns(fd: number, nstype: number): void;
  /**
   * malloc_trim(0): glibc gives the free pages of every malloc arena back to the kernel
   * (free() alone returns only the top of the main heap). True when some were released;
   * false where libc is not glibc.
   */
  mallocTrim(): boolean;
  /**
   * HMAC-SHA256 (RFC 2104) on Node's OpenSSL (src/native/hmac.cc): the key prepared once into
   * an opaque state (the hash states after its ipad and opad blocks; as secret as the key).
   */
  hmacSha256Key(key: Uint8Array): Buffer;
  /** Writes HMAC-SHA256 of `data` under `state` to out[offset, offset + 32); allocates nothing. */
  hmacSha256(state: Uint8Array, data: Uint8Array, out: Uint8Array, offset: number): void;
  /** Whether `mac` is HMAC-SHA256 of `data` under `state` (CRYPTO_memcmp, constant time); false for a mac not 32 bytes long. */
  hmacSha256Verify(state: Uint8Array, data: Uint8Array, mac: Uint8Array): boolean;
  /** The values of the constants below as the C headers define them (checked by the tests). */
  readonly constants: Readonly<Record<string, number>>;
}

/** A failed syscall: the errno, its name, the call, and what it was about (an interface, an address...). */
export class SyscallError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  readonly context: string;

  constructor(errno: number, code: string, syscall: string, context: string, detail?: string, options?: ErrorOptions) {
    super(`${syscall}${context ? ` (${context})` : ''}: ${code}${detail ? ` ${detail}` : ''}`, options);
    this.name = 'SyscallError';
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
    this.context = context;
  }
}

interface NativeErrorShape {
  readonly message: string;
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
}

/** Whether `e` is an error thrown by the addon (has numeric errno, string code and syscall). */
export function isNativeError(e: unknown): e is Error & NativeErrorShape {
  if (!(e instanceof Error)) return false;
  const candidate = e as Partial<NativeErrorShape>;
  return typeof candidate.errno === 'number' && typeof candidate.code === 'string' && typeof candidate.syscall === 'string';
}

/** Converts an addon error into a SyscallError with `context`; other values are returned as they are. */
export function toSyscallError(e: unknown, context: string, syscallName?: string): unknown {
  if (e instanceof SyscallError) return e;
  if (!isNativeError(e)) return e;
  const detail = /\(([^)]*)\)\s*$/.exec(e.message)?.[1];
  return new SyscallError(e.errno, e.code, syscallName ?? e.syscall, context, detail ? `(${detail})` : undefined, { cause: e });
}

/**
 * Runs `body` (addon calls) and rethrows addon errors as SyscallError naming `context`,
 * e.g. `syscall('eth0', () => n.setsockopt(...), 'setsockopt(SO_BINDTODEVICE)')`.
 */
export function syscall<T>(context: string, body: () => T, syscallName?: string): T {
  try {
    return body();
  } catch (e) {
    throw toSyscallError(e, context, syscallName);
  }
}

const ADDON_RELATIVE = path.join('build', 'Release', 'vigil_native.node');

/**
 * The package root: the nearest directory above this module holding package.json and
 * the built addon (this file runs as dist/src/native/index.js or from src/ via a loader).
 */
function findAddon(): string {
  const override = process.env['VIGIL_NATIVE_ADDON'];
  if (override) return override;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  const tried: string[] = [];
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) {
      const candidate = path.join(dir, ADDON_RELATIVE);
      if (existsSync(candidate)) return candidate;
      tried.push(candidate);
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `the vigil native addon is not built (looked for ${tried.join(', ') || ADDON_RELATIVE}): run "npm run build:native"`,
  );
}

let loaded: NativeBinding | undefined;

/** The addon, loaded on first call. Throws an Error saying how to build it when it is missing. */
export function native(): NativeBinding {
  if (!loaded) {
    const file = findAddon();
    const require = createRequire(import.meta.url);
    loaded = require(file) as NativeBinding;
  }
  return loaded;
}

// ---------------------------------------------------------------------------------------
// Linux x86_64 constants (checked against the addon's compiled values by test/native.test.ts)
// ---------------------------------------------------------------------------------------


export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;
/** VRRP (RFC 5798 §5.1.1.4 / §5.1.2.4: "The IPv4 protocol field / IPv6 Next Header MUST be set to 112"). */
export const IPPROTO_VRRP = 112;
export const IPPROTO_RAW = 255;

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_PRIORITY = 12;
export const SO_PASSCRED = 16;
export const SO_BINDTODEVICE = 25;
/** SO_TIMESTAMPNS(_OLD on x86_64): receive times as struct timespec (CLOCK_REALTIME), in an SCM_TIMESTAMPNS control message. */
export const SO_TIMESTAMPNS = 35;
export const SCM_TIMESTAMPNS = SO_TIMESTAMPNS;

export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_PKTINFO = 8;
export const IP_RECVERR = 11;
export const IP_RECVTTL = 12;
export const IP_FREEBIND = 15;
export const IP_TRANSPARENT = 19;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;
export const IP_MULTICAST_ALL = 49;

export const IPV6_CHECKSUM = 7;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
export const IPV6_ADD_MEMBERSHIP = 20;
export const IPV6_JOIN_GROUP = IPV6_ADD_MEMBERSHIP;
export const IPV6_DROP_MEMBERSHIP = 21;
export const IPV6_LEAVE_GROUP = IPV6_DROP_MEMBERSHIP;
export const IPV6_V6ONLY = 26;
export const IPV6_MULTICAST_ALL = 29;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_RECVTCLASS = 66;
export const IPV6_TCLASS = 67;
export const IPV6_TRANSPARENT = 75;
export const IPV6_FREEBIND = 78;

export const SOL_PACKET = 263;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
export const PACKET_OUTGOING = 4;
export const ARPHRD_ETHER = 1;

/** Ethertypes in host order; sockaddr_ll and socket(AF_PACKET) want them in network order (htons). */
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;

export const MSG_CTRUNC = 0x08;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;

export const CLONE_NEWNET = 0x40000000;
export const SCHED_OTHER = 0;
export const SCHED_RR = 2;
export const IF_NAMESIZE = 16;
