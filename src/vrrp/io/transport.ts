/**
 * The VRRP socket: a raw IP socket, protocol 112, for one address family on one
 * interface, sending and receiving advertisements as the codec encodes and decodes them.
 *
 * RFC 5798 §5.1.1 / §5.1.2 (IP fields): the source is the interface's primary IPv4
 * address or its IPv6 link-local address; the destination 224.0.0.18 / ff02::12 (or
 * configured unicast peers, as keepalived and FRR allow); TTL / hop limit 255. On
 * receive (§7.1) the TTL / hop limit and the destination must be visible to the caller:
 * IPv4 raw sockets deliver the IP header, which is parsed here; IPv6 raw sockets do not,
 * so the hop limit, destination and ingress interface come from IPV6_HOPLIMIT and
 * IPV6_PKTINFO control messages.
 *
 * Kernel behaviour this relies on (Linux):
 * - A raw IPv4 socket bound to an address only receives packets whose destination is
 *   that address, so a multicast socket is not bound: its source is set through
 *   IP_MULTICAST_IF (struct ip_mreqn's imr_address). A unicast IPv4 socket is bound to
 *   the source, which peers address their adverts to.
 * - A raw IPv6 socket bound to its link-local address still receives multicast for the
 *   groups it joined. The IPv6 checksum is computed by the codec (IPV6_CHECKSUM is left
 *   off, the kernel's default for raw sockets other than ICMPv6), so the source it
 *   covers must be the bound one.
 * - IP(V6)_MULTICAST_ALL is turned off so the socket sees only the groups it joined,
 *   and multicast loop is off so it never sees its own adverts.
 * - DSCP: IP_TOS / IPV6_TCLASS 0xc0 (CS6, network control), as keepalived sends.
 * - SO_TIMESTAMPNS: each packet carries the time the kernel received it (socket(7): "the
 *   timestamp is returned as a struct timespec" in an SCM_TIMESTAMPNS control message,
 *   CLOCK_REALTIME). It is handed on as `receivedAt` on the monotonic clock, so the
 *   Master_Down_Timer can be reset from the advert's arrival rather than from the moment
 *   the event loop got to it (RFC 5798 §6.4.2, instances.ts).
 */
import {
  type AddressFamily,
  type IpAddress,
  type IPv4Address,
  type IPv6Address,
  AddressCache,
  isIPv6LinkLocal,
} from '../../net/address.js';
import { ipMreqn, ipv6Mreq } from '../../net/mreq.js';
import { kernelReceiveTime } from '../../net/receive-time.js';
import { findControlMessage } from '../../net/cmsg.js';
import type { DatagramHandler } from '../../net/datagram-receiver.js';
import { DatagramBatchReceiver } from '../../net/datagram-batch-receiver.js';
import { sockaddrIn, sockaddrIn6 } from '../../net/sockaddr.js';
import {
  IP_ADD_MEMBERSHIP,
  IP_MULTICAST_ALL,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IP_PKTINFO,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_VRRP,
  IPV6_ADD_MEMBERSHIP,
  IPV6_HOPLIMIT,
  IPV6_MULTICAST_ALL,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_PKTINFO,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_TCLASS,
  IPV6_UNICAST_HOPS,
  type NativeBinding,
  type PollHandle,
  SO_BINDTODEVICE,
  SO_TIMESTAMPNS,
  SOCK_RAW,
  SOL_SOCKET,
  SyscallError,
  native,
  syscall,
  toSyscallError,
} from '../../native/index.js';
import type { PacketMeta } from '../codec.js';
import { VRRP_TTL } from '../codec.js';
import { VRRP_IPV4_GROUP, VRRP_IPV6_GROUP, vrrpGroup } from '../multicast.js';
import { AF_INET, AF_INET6 } from '../../net/af.js';

/** DSCP CS6 (network control) in the TOS / traffic class byte, as keepalived sends. */
export const VRRP_DEFAULT_TOS = 0xc0;

/** What the codec needs (PacketMeta) plus the ingress interface. */
export interface VrrpPacketMeta extends PacketMeta {
  readonly ifindex: number;
  /**
   * When the kernel received the packet (SO_TIMESTAMPNS), in ms on the daemon's monotonic
   * clock (CLOCK_MONOTONIC, process.hrtime's); absent when the packet carried no timestamp.
   */
  readonly receivedAt?: number | undefined;
}

/** Receive-side problems: reported (and counted), never thrown. */
export type VrrpSocketProblem =
  /** An IPv4 header that cannot be parsed (length, version, IHL, total length, protocol). */
  | { readonly kind: 'malformed-ip-header'; readonly detail: string }
  /** Longer than the receive buffer. */
  | { readonly kind: 'truncated'; readonly detail: string }
  /** An IPv6 packet without the hop limit / packet info control messages, or an unreadable source. */
  | { readonly kind: 'missing-metadata'; readonly detail: string }
  /** recvmsg failed (other than "nothing pending"), or readiness polling failed. */
  | { readonly kind: 'receive-failed'; readonly error: SyscallError | Error };

export interface VrrpSocketCounters {
  /** Packets handed to onPacket. */
  readonly received: number;
  /** Packets dropped as malformed, truncated or without metadata. */
  readonly malformed: number;
  readonly receiveErrors: number;
  readonly sent: number;
}

export interface VrrpSocketOptions {
  readonly family: AddressFamily;
  /** The interface name, e.g. 'eth0'. */
  readonly interface: string;
  /**
   * The source address of the adverts (and of the checksum pseudo-header): the
   * interface's primary IPv4 address, or its IPv6 link-local address (required: RFC
   * 5798 §5.1.2.1 "the IPv6 link-local address of the interface over which the packet
   * is transmitted").
   */
  readonly source: IpAddress;
  /** 'multicast' (default): join 224.0.0.18 / ff02::12. 'unicast': send to `peers`. */
  readonly mode?: 'multicast' | 'unicast';
  /** The unicast peers (unicast mode): `destinations`. send() accepts any destination of the family. */
  readonly peers?: readonly IpAddress[];
  /**
   * One received packet: `payload` is the VRRP message (after the IPv4 header). It is a
   * view into a buffer reused for the next packet: copy it to keep it.
   */
  readonly onPacket: (payload: Uint8Array, meta: VrrpPacketMeta) => void;
  readonly onError?: (problem: VrrpSocketProblem) => void;
  /** The TOS / traffic class byte; default 0xc0. */
  readonly tos?: number;
}

const EMPTY = new Uint8Array(0);

/** At most this many packets are read per readiness callback; the level-triggered poll calls again for the rest. */
const RECEIVE_BUDGET = 256;
/** At most this many packets are read by one drain() (a default receive buffer holds a few hundred adverts). */
const DRAIN_BUDGET = 1024;
const RECEIVE_BUFFER = 65536;
const CONTROL_BUFFER = 256;
const IPV4_MIN_HEADER = 20;


export class VrrpSocket {
  readonly family: AddressFamily;
  readonly ifname: string;
  readonly ifindex: number;
  readonly source: IpAddress;
  readonly mode: 'multicast' | 'unicast';
  /** 224.0.0.18 or ff02::12. */
  readonly group: IpAddress;
  /** Where adverts go: the group, or the unicast peers. Encode one advert per destination (the v3 checksum covers it). */
  readonly destinations: readonly IpAddress[];
  readonly fd: number;

  private readonly n: NativeBinding;
  private readonly onPacket: VrrpSocketOptions['onPacket'];
  private readonly onError: VrrpSocketOptions['onError'];
  private readonly poller: PollHandle;
  /** recvmmsg: a burst of adverts (a master's instances due together) in one syscall. */
  private readonly rx = new DatagramBatchReceiver(RECEIVE_BUFFER, CONTROL_BUFFER);
  /** What the receive loop does with each packet (made once: nothing allocated per packet). */
  private readonly handler: DatagramHandler = {
    isOpen: () => !this.isClosed,
    failed: (e) => this.problem({ kind: 'receive-failed', error: toSyscallError(e, this.ifname) as Error }),
    datagram: (length, truncated) => {
      if (truncated) this.problem({ kind: 'truncated', detail: `a packet longer than ${RECEIVE_BUFFER} bytes` });
      else if (this.family === 'ipv4') this.receiveIPv4(length);
      else this.receiveIPv6(length);
    },
  };
  private readonly addresses = new AddressCache(16);
  private readonly sockaddrs = new Map<string, Buffer>();
  private readonly count = { received: 0, malformed: 0, receiveErrors: 0, sent: 0 };
  private isClosed = false;
  /** sendSoon's queue: the first `queued` entries of these arrays (kept, not reallocated, between bursts). */
  private queued = 0;
  private readonly outPayloads: Uint8Array[] = [];
  private readonly outSockaddrs: Uint8Array[] = [];
  private readonly outDestinations: IpAddress[] = [];
  private onSendError: ((dst: IpAddress, error: Error) => void) | undefined;
  /** The microtask that flushes sendSoon's queue (made once). */
  private readonly flushLater = (): void => {
    if (this.queued > 0 && !this.isClosed) this.flush();
  };

  /** Opens, configures and starts receiving. Throws SyscallError (naming the interface) or a TypeError for bad options. */
  static open(options: VrrpSocketOptions): VrrpSocket {
    return new VrrpSocket(options);
  }

  private constructor(options: VrrpSocketOptions) {
    const { family, source } = options;
    const mode = options.mode ?? 'multicast';
    if (source.family !== family) throw new TypeError(`source ${source.text} is not an ${family} address`);
    if (family === 'ipv6' && !isIPv6LinkLocal(source)) {
      throw new TypeError(`the IPv6 source must be the interface's link-local address, not ${source.text}`);
    }
    const peers = options.peers ?? [];
    for (const peer of peers) if (peer.family !== family) throw new TypeError(`peer ${peer.text} is not an ${family} address`);

    this.n = native();
    this.family = family;
    this.ifname = options.interface;
    this.source = source;
    this.mode = mode;
    this.group = vrrpGroup(family);
    this.destinations = mode === 'multicast' ? [this.group] : [...peers];
    this.onPacket = options.onPacket;
    this.onError = options.onError;
    const n = this.n;
    const context = `${options.interface} ${family}`;
    this.ifindex = syscall(options.interface, () => n.ifNameToIndex(options.interface));
    this.fd = syscall(context, () => n.socket(family === 'ipv4' ? AF_INET : AF_INET6, SOCK_RAW, IPPROTO_VRRP));
    try {
      this.configure(options.tos ?? VRRP_DEFAULT_TOS);
      this.poller = n.poll(this.fd, (error) => this.readable(error));
    } catch (e) {
      n.close(this.fd);
      throw toSyscallError(e, context);
    }
    // The destinations' socket addresses now rather than at the first send: a backup's
    // first send is its takeover advert, which building them (and compiling the code that
    // does) delayed by 0.1–0.3 ms (measured on the 10 ms failover bench).
    for (const dst of this.destinations) this.sockaddrOf(dst);
  }

  private option(name: string, level: number, option: number, value: number | Buffer): void {
    syscall(`${this.ifname} ${this.family}`, () => this.n.setsockopt(this.fd, level, option, value), `setsockopt(${name})`);
  }

  private configure(tos: number): void {
    const ifindex = this.ifindex;
    this.option('SO_BINDTODEVICE', SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${this.ifname}\0`));
    this.option('SO_TIMESTAMPNS', SOL_SOCKET, SO_TIMESTAMPNS, 1);
    if (this.family === 'ipv4') {
      const source = this.source as IPv4Address;
      this.option('IP_TOS', IPPROTO_IP, IP_TOS, tos);
      this.option('IP_TTL', IPPROTO_IP, IP_TTL, VRRP_TTL);
      this.option('IP_PKTINFO', IPPROTO_IP, IP_PKTINFO, 1);
      this.option('IP_MULTICAST_ALL', IPPROTO_IP, IP_MULTICAST_ALL, 0);
      this.option('IP_MULTICAST_LOOP', IPPROTO_IP, IP_MULTICAST_LOOP, 0);
      if (this.mode === 'multicast') {
        // Not bound (a bound raw IPv4 socket would only receive packets to that address):
        // imr_address gives multicast sends their source.
        this.option('IP_MULTICAST_IF', IPPROTO_IP, IP_MULTICAST_IF, ipMreqn(undefined, source, ifindex));
        this.option('IP_MULTICAST_TTL', IPPROTO_IP, IP_MULTICAST_TTL, VRRP_TTL);
        this.option('IP_ADD_MEMBERSHIP', IPPROTO_IP, IP_ADD_MEMBERSHIP, ipMreqn(VRRP_IPV4_GROUP, undefined, ifindex));
      } else {
        syscall(`${this.ifname} ${source.text}`, () => this.n.bind(this.fd, sockaddrIn(source)));
      }
    } else {
      const source = this.source as IPv6Address;
      this.option('IPV6_TCLASS', IPPROTO_IPV6, IPV6_TCLASS, tos);
      this.option('IPV6_RECVHOPLIMIT', IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
      this.option('IPV6_RECVPKTINFO', IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
      this.option('IPV6_MULTICAST_ALL', IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
      this.option('IPV6_MULTICAST_IF', IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex);
      this.option('IPV6_MULTICAST_HOPS', IPPROTO_IPV6, IPV6_MULTICAST_HOPS, VRRP_TTL);
      this.option('IPV6_MULTICAST_LOOP', IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
      this.option('IPV6_UNICAST_HOPS', IPPROTO_IPV6, IPV6_UNICAST_HOPS, VRRP_TTL);
      syscall(`${this.ifname} ${source.text}`, () => this.n.bind(this.fd, sockaddrIn6(source, 0, ifindex)));
      if (this.mode === 'multicast') {
        this.option('IPV6_ADD_MEMBERSHIP', IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, ipv6Mreq(VRRP_IPV6_GROUP, ifindex));
      }
    }
  }

  get counters(): VrrpSocketCounters {
    return { ...this.count };
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Sends one encoded VRRP message to `dst` (the group or a peer), after what sendSoon
   * queued (the socket keeps their order). Throws SyscallError (e.g. ENETUNREACH when the
   * link is down, EAGAIN when the send queue is full).
   */
  send(payload: Uint8Array, dst: IpAddress): void {
    if (this.isClosed) throw new Error(`VRRP socket on ${this.ifname} is closed`);
    if (dst.family !== this.family) throw new TypeError(`${dst.text} is not an ${this.family} address`);
    if (this.queued > 0) this.flush();
    const address = this.sockaddrOf(dst);
    // No closure and no context string unless it fails: this runs for every advert.
    try {
      this.n.sendto(this.fd, payload, address);
    } catch (e) {
      throw toSyscallError(e, `${this.ifname} to ${dst.text}`);
    }
    this.count.sent++;
  }

  /**
   * Queues one encoded VRRP message for `dst`; what is queued goes out in one sendmmsg at
   * the end of the current callback (a microtask), or before the next send() or close().
   * For the adverts of a wake-up whose timers fell due together (ADVER_TIMER_EARLY_MS): a
   * backup then receives them as one burst. `payload` must not change until then (the
   * node's prebuilt adverts do not). A failed message is reported through onSendError.
   */
  sendSoon(payload: Uint8Array, dst: IpAddress, onSendError: (dst: IpAddress, error: Error) => void): void {
    if (this.isClosed) throw new Error(`VRRP socket on ${this.ifname} is closed`);
    if (dst.family !== this.family) throw new TypeError(`${dst.text} is not an ${this.family} address`);
    const i = this.queued++;
    this.outPayloads[i] = payload;
    this.outSockaddrs[i] = this.sockaddrOf(dst);
    this.outDestinations[i] = dst;
    this.onSendError = onSendError;
    if (i === 0) queueMicrotask(this.flushLater);
  }

  /** Sends what sendSoon queued, in order, sendmmsg by sendmmsg; a message that fails is reported and skipped. */
  flush(): void {
    const end = this.queued;
    let i = 0;
    while (i < end && !this.isClosed) {
      let sent: number;
      try {
        sent = this.n.sendmmsgTo(this.fd, this.outPayloads, this.outSockaddrs, i, end);
      } catch (e) {
        // Only the first of the range failed (the ones before it went out): report it, go on after it.
        const dst = this.outDestinations[i] as IpAddress;
        this.onSendError?.(dst, toSyscallError(e, `${this.ifname} to ${dst.text}`) as Error);
        i++;
        continue;
      }
      if (sent <= 0) break; // sendmmsg sends at least one or fails; never spin
      this.count.sent += sent;
      i += sent;
    }
    this.queued = 0;
    // The references go (the arrays keep their length: no allocation on the next burst).
    this.outPayloads.fill(EMPTY, 0, end);
    this.outSockaddrs.fill(EMPTY, 0, end);
  }

  /** The sockaddr of `dst`, kept for the first 64 destinations (the group, the unicast peers). */
  private sockaddrOf(dst: IpAddress): Buffer {
    let address = this.sockaddrs.get(dst.text);
    if (!address) {
      address = dst.family === 'ipv4' ? sockaddrIn(dst) : sockaddrIn6(dst, 0, this.ifindex);
      if (this.sockaddrs.size < 64) this.sockaddrs.set(dst.text, address);
    }
    return address;
  }

  /** Stops receiving and closes the socket (idempotent), after sending what sendSoon queued. */
  close(): void {
    if (this.isClosed) return;
    if (this.queued > 0) this.flush();
    this.isClosed = true;
    this.poller.stop();
    syscall(this.ifname, () => this.n.close(this.fd));
  }

  private problem(problem: VrrpSocketProblem): void {
    if (problem.kind === 'receive-failed') this.count.receiveErrors++;
    else this.count.malformed++;
    this.onError?.(problem);
  }

  private readable(error?: Error): void {
    this.rx.readable(this.n, this.fd, error, RECEIVE_BUDGET, this.handler);
  }

  /** Takes in the adverts already queued (DatagramReceiver.drain): the daemon calls it before acting on an expired Master_Down_Timer; returns how many. */
  drain(budget = DRAIN_BUDGET): number {
    return this.rx.drain(this.n, this.fd, budget, this.handler);
  }

  /**
   * The kernel's receive time of the packet just read (its SCM_TIMESTAMPNS, CLOCK_REALTIME)
   * on the monotonic clock, converted by the addon at this read; undefined without one.
   */
  private receivedAt(): number | undefined {
    return kernelReceiveTime(this.n, this.rx.control, this.rx.controlLength);
  }

  private receiveIPv4(length: number): void {
    const d = this.rx.data;
    if (length < IPV4_MIN_HEADER) {
      this.problem({ kind: 'malformed-ip-header', detail: `${length} bytes, shorter than an IPv4 header` });
      return;
    }
    const version = (d[0] as number) >> 4;
    const headerLength = ((d[0] as number) & 0x0f) * 4;
    const totalLength = d.readUInt16BE(2);
    if (version !== 4) {
      this.problem({ kind: 'malformed-ip-header', detail: `IP version ${version}` });
      return;
    }
    if (headerLength < IPV4_MIN_HEADER || headerLength > length) {
      this.problem({ kind: 'malformed-ip-header', detail: `header length ${headerLength} in a ${length}-byte packet` });
      return;
    }
    if (totalLength < headerLength || totalLength > length) {
      this.problem({ kind: 'malformed-ip-header', detail: `total length ${totalLength}, received ${length} bytes` });
      return;
    }
    if (d[9] !== IPPROTO_VRRP) {
      this.problem({ kind: 'malformed-ip-header', detail: `protocol ${d[9]}` });
      return;
    }
    const info = findControlMessage(this.rx.control, this.rx.controlLength, IPPROTO_IP, IP_PKTINFO, 12);
    const meta: VrrpPacketMeta = {
      src: this.addresses.get('ipv4', d, 12),
      dst: this.addresses.get('ipv4', d, 16),
      ttl: d[8] as number,
      ifindex: info >= 0 ? this.rx.control.readInt32LE(info) : this.ifindex,
      receivedAt: this.receivedAt(),
    };
    this.count.received++;
    this.onPacket(d.subarray(headerLength, totalLength), meta);
  }

  private receiveIPv6(length: number): void {
    const { control, from } = this.rx;
    const controlLength = this.rx.controlLength;
    const hop = findControlMessage(control, controlLength, IPPROTO_IPV6, IPV6_HOPLIMIT, 4);
    const info = findControlMessage(control, controlLength, IPPROTO_IPV6, IPV6_PKTINFO, 20);
    if (hop < 0 || info < 0) {
      this.problem({ kind: 'missing-metadata', detail: `no ${hop < 0 ? 'IPV6_HOPLIMIT' : 'IPV6_PKTINFO'} control message` });
      return;
    }
    if (this.rx.fromLength < 24 || from.readUInt16LE(0) !== AF_INET6) {
      this.problem({ kind: 'missing-metadata', detail: 'no IPv6 source address' });
      return;
    }
    const meta: VrrpPacketMeta = {
      src: this.addresses.get('ipv6', from, 8),
      dst: this.addresses.get('ipv6', control, info),
      ttl: control.readInt32LE(hop),
      ifindex: control.readInt32LE(info + 16),
      receivedAt: this.receivedAt(),
    };
    this.count.received++;
    this.onPacket(this.rx.data.subarray(0, length), meta);
  }
}
