/**
 * The heartbeats' UDP transport (node:dgram): one socket per node, sending to a
 * multicast group or to a list of unicast peers and passing every datagram received, with
 * its source, to a callback. It knows nothing of the heartbeat format: the receive path
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
 * Errors are reported through `onError`, never thrown: a failed send, a socket error,
 * and an exception thrown by `onMessage` itself (caught, so one bad datagram or one
 * bug in a handler cannot end the receive loop). Only `open` rejects, when the socket
 * cannot be set up.
 */
import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';

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
  readonly onMessage: (bytes: Buffer, source: HeartbeatSource) => void;
  readonly onError: (error: HeartbeatTransportError) => void;
}

export interface SendReport {
  readonly sent: number;
  readonly failed: number;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
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

export class HeartbeatTransport {
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly family: HeartbeatFamily,
    readonly port: number,
    readonly localAddress: string,
    /** Where heartbeats go: the group, or the peers. */
    readonly destinations: readonly string[],
    private readonly onError: (error: HeartbeatTransportError) => void,
  ) {}

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
    // IPv6 multicast names the interface as a scope ("::%eth0"), as dgram expects.
    const ifaceV6 = family === 'ipv6' ? (options.interface ?? local.split('%')[1]) : undefined;
    if (family === 'ipv6' && multicast && ifaceV6 === undefined) throw new Error('heartbeat transport: IPv6 multicast needs an interface');
    const multicastInterface = family === 'ipv4' ? local : `::%${ifaceV6 ?? ''}`;

    const socket = dgram.createSocket({ type: family === 'ipv4' ? 'udp4' : 'udp6', ...(family === 'ipv6' ? { ipv6Only: true } : {}) });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        const bindAddress = multicast ? (family === 'ipv4' ? (group ?? '') : `${group ?? ''}%${ifaceV6 ?? ''}`) : local;
        socket.bind({ port, address: bindAddress, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (multicast) {
        socket.addMembership(group ?? '', multicastInterface);
        socket.setMulticastInterface(multicastInterface);
        socket.setMulticastTTL(1);
        socket.setMulticastLoopback(false);
      }
    } catch (e) {
      try {
        socket.close();
      } catch {
        // not bound
      }
      throw new Error(`heartbeat transport: cannot set up ${family} ${multicast ? `multicast ${group ?? ''}` : 'unicast'} on ${local} port ${port}: ${describe(e)}`, { cause: e });
    }
    const transport = new HeartbeatTransport(socket, family, port, local, destinations, options.onError);
    socket.on('error', (e) => transport.report({ operation: 'socket', message: describe(e), cause: e }));
    socket.on('message', (msg, rinfo) => {
      try {
        options.onMessage(msg, { address: rinfo.address, port: rinfo.port, family: rinfo.family === 'IPv6' ? 'ipv6' : 'ipv4' });
      } catch (e) {
        transport.report({ operation: 'handler', message: `the heartbeat handler threw: ${describe(e)}`, cause: e });
      }
    });
    return transport;
  }

  private report(error: HeartbeatTransportError): void {
    try {
      this.onError(error);
    } catch {
      // An error handler that throws has nowhere further to report to.
    }
  }

  /** Sends `bytes` to the group or to every peer. Never rejects: failures go to onError and are counted. */
  send(bytes: Uint8Array): Promise<SendReport> {
    if (this.closed) return Promise.resolve({ sent: 0, failed: this.destinations.length });
    // One promise per round, not one per destination: this runs for every heartbeat.
    return new Promise<SendReport>((resolve) => {
      let pending = this.destinations.length;
      let sent = 0;
      const done = (ok: boolean): void => {
        if (ok) sent++;
        if (--pending === 0) resolve({ sent, failed: this.destinations.length - sent });
      };
      for (const destination of this.destinations) {
        try {
          this.socket.send(bytes, this.port, destination, (e) => {
            if (e) this.report({ operation: 'send', message: `send to ${destination}: ${describe(e)}`, destination, cause: e });
            done(!e);
          });
        } catch (e) {
          this.report({ operation: 'send', message: `send to ${destination}: ${describe(e)}`, destination, cause: e });
          done(false);
        }
      }
    });
  }

  /** Sends `bytes` to one address (at the transport's port, or `port`), e.g. a reply. */
  sendTo(bytes: Uint8Array, address: string, port: number = this.port): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      try {
        this.socket.send(bytes, port, address, (e) => {
          if (e) this.report({ operation: 'send', message: `send to ${address}: ${describe(e)}`, destination: address, cause: e });
          resolve(!e);
        });
      } catch (e) {
        this.report({ operation: 'send', message: `send to ${address}: ${describe(e)}`, destination: address, cause: e });
        resolve(false);
      }
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
