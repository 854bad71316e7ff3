/**
 * The heartbeats' UDP transport: one socket per node (the native addon's socket, bind,
 * setsockopt, sendto and recvmsg), sending to a multicast group or to a list of unicast
 * peers and passing every datagram received, with its source and the time the kernel
 * received it, to a callback. It knows nothing of the heartbeat format: the receive path
 * (decodeHeartbeat, then Membership) is the caller's.
 *
 * Defaults:
 * - UDP port 5406 (beside corosync's 5405, so both can run on one host).
 * - IPv4 group 239.192.213.1: in 239.192.0.0/14, the IPv4 Organization-Local Scope of
 *   RFC 2365 (administratively scoped, never forwarded out of the organization; corosync
 *   also defaults into 239.192.0.0/16). The multicast TTL is 1, so heartbeats do not
 *   even leave the link.
 * - IPv6 group ff12::5406: transient (flag T), link-local scope (RFC 4291 §2.7), hop
 *   limit 1.
 *
 * Multicast: the socket is bound to the group address and port (so it receives only
 * that group's datagrams, not unicast nor other groups joined on the host), joins the
 * group on the local interface, sends through that interface (IP_MULTICAST_IF), with
 * TTL / hop limit 1 and multicast loopback off (a node never hears itself).
 * Unicast: the socket is bound to the local address and port and sends each
 * heartbeat to every peer at the same port.
 *
 * Receive time: SO_TIMESTAMPNS is on, so each datagram carries the kernel's receive time
 * (socket(7): "SO_TIMESTAMPNS ... the timestamp is returned as a struct timespec" in an
 * SCM_TIMESTAMPNS control message; it is CLOCK_REALTIME). The callback gets its age at
 * read time (src/net/receive-time.ts, the conversion the VRRP socket uses too), so a
 * caller converts it to any monotonic clock as `now() - ageMs`.
 * After a stall (SIGSTOP, a long pause) the heartbeats queued meanwhile are read late but
 * keep the time they arrived; `drain()` reads what is queued, synchronously, so the
 * caller can take them in before acting on an expired membership timer.
 *
 * Errors are reported through `onError`, never thrown: a failed send, a socket error,
 * and an exception thrown by `onMessage` itself (caught, so one bad datagram or one
 * bug in a handler cannot end the receive loop). Only `open` rejects, when the socket
 * cannot be set up.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { errorText } from '../../base/error-text.js';
import { parseIPv4, parseIPv6, type IPv4Address, type IPv6Address } from '../../net/address.js';
import { AF_INET, AF_INET6 } from '../../net/af.js';
import { ipMreqn, ipv6Mreq } from '../../net/mreq.js';
import { kernelReceiveAge } from '../../net/receive-time.js';
import { DatagramReceiver, type DatagramHandler } from '../../net/datagram-receiver.js';
import { parseSockaddr, sockaddrIn, sockaddrIn6 } from '../../net/sockaddr.js';
import {
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_UDP,
  IPV6_ADD_MEMBERSHIP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_V6ONLY,
  IP_ADD_MEMBERSHIP,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  SOCK_DGRAM,
  SOL_SOCKET,
  SO_TIMESTAMPNS,
  native,
  toSyscallError,
  type NativeBinding,
  type PollHandle,
} from '../../native/index.js';

export const HEARTBEAT_PORT = 5406;
export const HEARTBEAT_IPV4_GROUP = '239.192.213.1';
export const HEARTBEAT_IPV6_GROUP = 'ff12::5406';

export type HeartbeatFamily = 'ipv4' | 'ipv6';

export type HeartbeatDestination =
  | { readonly kind: 'multicast'; /** Default HEARTBEAT_IPV4_GROUP / HEARTBEAT_IPV6_GROUP. */ readonly group?: string }
  | { readonly kind: 'unicast'; readonly peers: readonly string[] };

export interface HeartbeatSource {
  readonly address: string;
  readonly port: number;
  readonly family: HeartbeatFamily;
}

export interface HeartbeatTransportError {
  readonly operation: 'send' | 'socket' | 'handler';
  readonly message: string;
  /** The peer or group a send was for. */
  readonly destination?: string;
  readonly cause: unknown;
}

export interface HeartbeatTransportOptions {
  /** Default 'ipv4'. */
  readonly family?: HeartbeatFamily;
  /** Default HEARTBEAT_PORT. */
  readonly port?: number;
  /**
   * The local address heartbeats are sent from (unicast: also bound to). Give it or
   * `interface` (its first address of the family is used); for IPv6 multicast the
   * interface is required (the group is link-scoped).
   */
  readonly localAddress?: string;
  readonly interface?: string;
  readonly destination: HeartbeatDestination;
  /**
   * One datagram: a view of the receive buffer, valid only during the call (copy what is
   * kept; the next datagram is read into the same bytes). `source` may be the object given
   * for the previous datagram from the same address. `ageMs`: how long before this call the
   * kernel received it (≥ 0; 0 when the datagram carried no timestamp).
   */
  readonly onMessage: (bytes: Buffer, source: HeartbeatSource, ageMs: number) => void;
  readonly onError: (error: HeartbeatTransportError) => void;
}

export interface SendReport {
  readonly sent: number;
  readonly failed: number;
}

function interfaceAddress(name: string, family: HeartbeatFamily): string {
  const list = networkInterfaces()[name];
  if (list === undefined) throw new Error(`no interface ${name}`);
  const want = family === 'ipv4' ? 'IPv4' : 'IPv6';
  const candidates = list.filter((a) => a.family === want);
  // IPv6: a global address if there is one, else the link-local one with its scope.
  const chosen = candidates.find((a) => family === 'ipv4' || !a.address.startsWith('fe80:')) ?? candidates[0];
  if (chosen === undefined) throw new Error(`interface ${name} has no ${want} address`);
  return chosen.address.startsWith('fe80:') ? `${chosen.address}%${name}` : chosen.address;
}

function checkAddress(text: string, family: HeartbeatFamily, what: string): void {
  const bare = text.split('%')[0] ?? '';
  if (family === 'ipv4' ? !isIPv4(bare) : !isIPv6(bare)) throw new Error(`${what} ${text} is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`);
}

/**
 * One datagram per readiness callback: the level-triggered poll calls again at once for
 * the rest (Node's loop polls with a zero timeout before it sleeps, so that costs no extra
 * epoll_wait), and the common wake-up — one heartbeat — ends without a second recvmsg that
 * would only return EAGAIN. Before a membership timer acts, drain() reads all that queued.
 */
const RECEIVE_BUDGET = 1;
/** At most this many datagrams per drain() (a default receive buffer holds a few hundred heartbeats). */
const DRAIN_BUDGET = 1024;
const RECEIVE_BUFFER = 65536;
const CONTROL_BUFFER = 128;

function parseAddress(text: string, family: HeartbeatFamily): IPv4Address | IPv6Address {
  const bare = text.split('%')[0] ?? '';
  const parsed = family === 'ipv4' ? parseIPv4(bare) : parseIPv6(bare);
  if (parsed instanceof Error) throw parsed;
  return parsed;
}


export class HeartbeatTransport {
  private closed = false;
  private poller: PollHandle | undefined;
  private readonly rx = new DatagramReceiver(RECEIVE_BUFFER, CONTROL_BUFFER);
  /** The view of `rx.data` handed to onMessage (remade only when the length changes). */
  private view: Buffer = this.rx.data.subarray(0, 0);
  /** The last datagram's sockaddr and the source parsed from it (sourceOf). */
  private readonly lastFrom = Buffer.alloc(28);
  private lastFromLength = 0;
  private lastSource: HeartbeatSource | undefined;
  private readonly handler: DatagramHandler = {
    isOpen: () => !this.closed,
    failed: (e) => {
      const err = toSyscallError(e, `heartbeat socket ${this.localAddress} port ${this.port}`);
      this.report({ operation: 'socket', message: errorText(err), cause: err });
    },
    datagram: (length, truncated) => this.receiveDatagram(length, truncated),
  };

  private constructor(
    private readonly n: NativeBinding,
    private readonly fd: number,
    readonly family: HeartbeatFamily,
    readonly port: number,
    readonly localAddress: string,
    /** Where heartbeats go: the group, or the peers. */
    private dests: readonly string[],
    /** The sockaddr of each destination, in the order of `dests`. */
    private sockaddrs: readonly Buffer[],
    /** The sockaddr of a destination address (with its scope, for IPv6 link-local). */
    private readonly sockaddrOf: (address: string) => Buffer,
    private readonly multicast: boolean,
    private readonly onMessage: HeartbeatTransportOptions['onMessage'],
    private readonly onError: (error: HeartbeatTransportError) => void,
  ) {}

  /** Where heartbeats go: the group, or the peers. */
  get destinations(): readonly string[] {
    return this.dests;
  }

  /**
   * Unicast: sends to these peers from now on, on the same socket (a reload that changed
   * only the other nodes' addresses). Throws, changing nothing, for a bad address or none.
   */
  setPeers(peers: readonly string[]): void {
    if (this.multicast) throw new Error('heartbeat transport: setPeers on a multicast transport');
    for (const d of peers) checkAddress(d, this.family, 'peer');
    if (peers.length === 0) throw new Error('heartbeat transport: unicast needs at least one peer');
    const sockaddrs = peers.map(this.sockaddrOf);
    this.dests = [...peers];
    this.sockaddrs = sockaddrs;
  }

  /** Opens and binds the socket; rejects if it cannot be set up. */
  static async open(options: HeartbeatTransportOptions): Promise<HeartbeatTransport> {
    const family = options.family ?? 'ipv4';
    const port = options.port ?? HEARTBEAT_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port ${port} is out of range (1..65535)`);
    const local = options.localAddress ?? (options.interface !== undefined ? interfaceAddress(options.interface, family) : undefined);
    if (local === undefined) throw new Error('heartbeat transport: give a local address or an interface');
    checkAddress(local, family, 'local address');
    const multicast = options.destination.kind === 'multicast';
    const group = options.destination.kind === 'multicast' ? (options.destination.group ?? (family === 'ipv4' ? HEARTBEAT_IPV4_GROUP : HEARTBEAT_IPV6_GROUP)) : undefined;
    const destinations = options.destination.kind === 'multicast' ? [group ?? ''] : [...options.destination.peers];
    for (const d of destinations) checkAddress(d, family, multicast ? 'group' : 'peer');
    if (group !== undefined) {
      const ok = family === 'ipv4' ? /^2(2[4-9]|3[0-9])\./.test(group) : group.toLowerCase().startsWith('ff');
      if (!ok) throw new Error(`group ${group} is not a multicast address`);
    }
    if (!multicast && destinations.length === 0) throw new Error('heartbeat transport: unicast needs at least one peer');
    // IPv6: the interface scopes the multicast group and link-local addresses.
    const ifaceV6 = family === 'ipv6' ? (options.interface ?? local.split('%')[1]) : undefined;
    if (family === 'ipv6' && multicast && ifaceV6 === undefined) throw new Error('heartbeat transport: IPv6 multicast needs an interface');

    const where = `${family} ${multicast ? `multicast ${group ?? ''}` : 'unicast'} on ${local} port ${port}`;
    const n = native();
    let fd: number;
    try {
      fd = n.socket(family === 'ipv4' ? AF_INET : AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    } catch (e) {
      throw new Error(`heartbeat transport: cannot set up ${where}: ${errorText(toSyscallError(e, where, 'socket'))}`, { cause: e });
    }
    let step = 'socket';
    const option = (name: string, level: number, opt: number, value: number | Buffer): void => {
      step = `setsockopt(${name})`;
      n.setsockopt(fd, level, opt, value);
    };
    let sockaddrOf: (address: string) => Buffer;
    try {
      option('SO_TIMESTAMPNS', SOL_SOCKET, SO_TIMESTAMPNS, 1);
      if (family === 'ipv4') {
        const localIp = parseAddress(local, 'ipv4') as IPv4Address;
        // Multicast: bound to the group (only its datagrams, not unicast nor other groups).
        step = 'bind';
        n.bind(fd, sockaddrIn(multicast ? (parseAddress(group ?? '', 'ipv4') as IPv4Address) : localIp, port));
        if (multicast) {
          option('IP_ADD_MEMBERSHIP', IPPROTO_IP, IP_ADD_MEMBERSHIP, ipMreqn(parseAddress(group ?? '', 'ipv4') as IPv4Address, localIp, 0));
          option('IP_MULTICAST_IF', IPPROTO_IP, IP_MULTICAST_IF, ipMreqn(undefined, localIp, 0));
          option('IP_MULTICAST_TTL', IPPROTO_IP, IP_MULTICAST_TTL, 1);
          option('IP_MULTICAST_LOOP', IPPROTO_IP, IP_MULTICAST_LOOP, 0);
        }
        sockaddrOf = (d) => sockaddrIn(parseAddress(d, 'ipv4') as IPv4Address, port);
      } else {
        step = 'if_nametoindex';
        const ifindex = ifaceV6 !== undefined ? n.ifNameToIndex(ifaceV6) : 0;
        const scoped = (a: IPv6Address): number => (a.bytes[0] === 0xfe && ((a.bytes[1] ?? 0) & 0xc0) === 0x80) || a.bytes[0] === 0xff ? ifindex : 0;
        option('IPV6_V6ONLY', IPPROTO_IPV6, IPV6_V6ONLY, 1);
        const bindTo = parseAddress(multicast ? (group ?? '') : local, 'ipv6') as IPv6Address;
        step = 'bind';
        n.bind(fd, sockaddrIn6(bindTo, port, scoped(bindTo)));
        if (multicast) {
          const g = parseAddress(group ?? '', 'ipv6') as IPv6Address;
          option('IPV6_ADD_MEMBERSHIP', IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, ipv6Mreq(g, ifindex));
          option('IPV6_MULTICAST_IF', IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex);
          option('IPV6_MULTICAST_HOPS', IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1);
          option('IPV6_MULTICAST_LOOP', IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
        }
        sockaddrOf = (d) => {
          const a = parseAddress(d, 'ipv6') as IPv6Address;
          return sockaddrIn6(a, port, scoped(a));
        };
      }
    } catch (e) {
      n.close(fd);
      throw new Error(`heartbeat transport: cannot set up ${where}: ${errorText(toSyscallError(e, where, step))}`, { cause: e });
    }
    const transport = new HeartbeatTransport(n, fd, family, port, local, destinations, destinations.map(sockaddrOf), sockaddrOf, multicast, options.onMessage, options.onError);
    try {
      transport.poller = n.poll(fd, (error) => transport.readable(error));
    } catch (e) {
      n.close(fd);
      throw new Error(`heartbeat transport: cannot poll ${where}: ${errorText(e)}`, { cause: e });
    }
    return Promise.resolve(transport);
  }

  private report(error: HeartbeatTransportError): void {
    try {
      this.onError(error);
    } catch {
      // An error handler that throws has nowhere further to report to.
    }
  }

  private readable(error?: Error): void {
    this.rx.readable(this.n, this.fd, error, RECEIVE_BUDGET, this.handler);
  }

  /** Takes in the heartbeats already queued (DatagramReceiver.drain), before the membership acts on an expired timer; returns how many. */
  drain(budget = DRAIN_BUDGET): number {
    return this.rx.drain(this.n, this.fd, budget, this.handler);
  }

  /** One heartbeat datagram read into `rx`: its age from the kernel's timestamp, its source, to onMessage. */
  private receiveDatagram(length: number, truncated: boolean): void {
    if (truncated) {
      this.report({ operation: 'socket', message: `a datagram longer than ${RECEIVE_BUFFER} bytes was cut and dropped`, cause: undefined });
      return;
    }
    const ageMs = kernelReceiveAge(this.n, this.rx.control, this.rx.controlLength);
    const source = this.sourceOf(this.rx.fromLength);
    // The view of the last length is kept: heartbeats all have one length.
    if (this.view.length !== length) this.view = this.rx.data.subarray(0, length);
    try {
      this.onMessage(this.view, source, ageMs);
    } catch (e) {
      this.report({ operation: 'handler', message: `the heartbeat handler threw: ${errorText(e)}`, cause: e });
    }
  }

  /** The source of the datagram in `rx`: the previous one's object when its sockaddr is the same bytes (a peer sends from one address and port). */
  private sourceOf(fromLength: number): HeartbeatSource {
    const from = this.rx.from;
    const last = this.lastFrom;
    if (this.lastSource !== undefined && fromLength === this.lastFromLength) {
      let same = true;
      for (let i = 0; i < fromLength && same; i++) same = from[i] === last[i];
      if (same) return this.lastSource;
    }
    const parsed = parseSockaddr(from.subarray(0, fromLength));
    let source: HeartbeatSource;
    if (parsed.kind === 'inet') source = { address: parsed.address.text, port: parsed.port, family: 'ipv4' };
    else if (parsed.kind === 'inet6') {
      let scope = '';
      if (parsed.scopeId !== 0) {
        try {
          scope = `%${this.n.ifIndexToName(parsed.scopeId)}`;
        } catch {
          scope = `%${parsed.scopeId}`;
        }
      }
      source = { address: `${parsed.address.text}${scope}`, port: parsed.port, family: 'ipv6' };
    } else source = { address: '', port: 0, family: this.family };
    from.copy(last, 0, 0, fromLength);
    this.lastFromLength = fromLength;
    this.lastSource = source;
    return source;
  }

  private sendOne(bytes: Uint8Array, destination: string, sockaddr: Buffer): boolean {
    try {
      this.n.sendto(this.fd, bytes, sockaddr);
      return true;
    } catch (e) {
      const err = toSyscallError(e, `heartbeat to ${destination}`, 'sendto');
      this.report({ operation: 'send', message: `send to ${destination}: ${errorText(err)}`, destination, cause: err });
      return false;
    }
  }

  /** Sends `bytes` to the group or to every peer. Never rejects: failures go to onError and are counted. */
  send(bytes: Uint8Array): Promise<SendReport> {
    if (this.closed) return Promise.resolve({ sent: 0, failed: this.dests.length });
    let sent = 0;
    this.dests.forEach((destination, i) => {
      const sockaddr = this.sockaddrs[i];
      if (sockaddr !== undefined && this.sendOne(bytes, destination, sockaddr)) sent++;
    });
    return Promise.resolve({ sent, failed: this.dests.length - sent });
  }

  /** Sends `bytes` to one address (at the transport's port, or `port`), e.g. a reply. */
  sendTo(bytes: Uint8Array, address: string, port: number = this.port): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    let sockaddr: Buffer;
    try {
      checkAddress(address, this.family, 'address');
      const a = parseAddress(address, this.family);
      const scope = this.family === 'ipv6' && address.includes('%') ? this.n.ifNameToIndex(address.split('%')[1] ?? '') : 0;
      sockaddr = a.family === 'ipv4' ? sockaddrIn(a, port) : sockaddrIn6(a, port, scope);
    } catch (e) {
      this.report({ operation: 'send', message: `send to ${address}: ${errorText(e)}`, destination: address, cause: e });
      return Promise.resolve(false);
    }
    return Promise.resolve(this.sendOne(bytes, address, sockaddr));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.poller?.stop();
    try {
      this.n.close(this.fd);
    } catch {
      // already closed
    }
    return Promise.resolve();
  }
}
