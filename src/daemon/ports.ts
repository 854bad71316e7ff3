/**
 * What the daemon needs from the system, as interfaces: rtnetlink (links, addresses,
 * events, VMACs, sysctls) and sockets (VRRP adverts, Ethernet frames). The real
 * implementations are in system.ts.
 */
import type { AddressFamily, IpAddress } from '../net/address.js';
import type { MacAddress } from '../net/mac.js';
import type { PacketMeta } from '../vrrp/codec.js';
import type { VirtualIp } from '../config/types.js';

export interface LinkState {
  readonly index: number;
  readonly name: string;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** Carrier present (IFF_LOWER_UP / IFF_RUNNING). */
  readonly carrier: boolean;
  readonly mac: MacAddress | undefined;
}

export interface AddressEvent {
  readonly type: 'added' | 'removed';
  readonly ifindex: number;
  readonly address: IpAddress;
  readonly prefixLength: number;
}

export interface NetworkPorts {
  link(name: string): Promise<LinkState | undefined>;
  /** The addresses of one family on a link, in the kernel's order (primary first). */
  addresses(ifindex: number, family: AddressFamily): Promise<readonly { address: IpAddress; prefixLength: number; secondary: boolean }[]>;
  addAddress(ifindex: number, vip: VirtualIp): Promise<void>;
  removeAddress(ifindex: number, vip: VirtualIp): Promise<void>;
  /**
   * Builds ahead the requests that addAddress / removeAddress will send for these VIPs on
   * `ifindex` (at start and reload), so a takeover only sends them. Optional: a port
   * without it builds them when asked.
   */
  prepareAddresses?(ifindex: number, vips: readonly VirtualIp[]): void;
  /**
   * Link and address changes, as they happen; `onTrouble` hears lost notifications and
   * receive errors. Resolves, once watching, to a function that stops watching.
   */
  watch(onLink: (link: LinkState) => void, onAddress: (event: AddressEvent) => void, onTrouble: (message: string) => void): Promise<() => void>;
  writeSysctl(key: string, value: string): Promise<void>;
  /** Creates (or finds) a macvlan VMAC interface on `parentIndex`, sets it up, and returns it. */
  ensureVmac(name: string, parentIndex: number, mac: MacAddress, family: AddressFamily): Promise<LinkState>;
  deleteLink(index: number): Promise<void>;
  /**
   * Sets IFLA_PROTO_DOWN on a link (a VMAC), synchronously: applied when it returns (the
   * kernel handles an rtnetlink request inside the sendmsg carrying it), and after "off"
   * the link transmits (src/netlink/proto-down.ts). While on, nothing leaves the link but
   * it still receives. Throws when the request cannot be written; a refusal by the kernel,
   * or a kernel that could not promise transmission, is reported through watch's onTrouble.
   */
  setProtoDown(index: number, on: boolean): void;
  close(): void;
}

export interface VrrpChannelOptions {
  readonly family: AddressFamily;
  /** The interface the adverts are received on (and sent on, unless sendIfindex is given). */
  readonly ifname: string;
  readonly ifindex: number;
  /** The source address of our adverts (IPv4 primary address, IPv6 link-local). */
  readonly source: IpAddress;
  /** Multicast (join 224.0.0.18 / ff02::12) or unicast peers only. */
  readonly multicast: boolean;
}

/** A received packet's metadata: what the codec checks, the ingress interface, the kernel's receive time. */
export interface ChannelPacketMeta extends PacketMeta {
  readonly ifindex: number;
  /** When the kernel received it, on the daemon's monotonic clock (ms); absent when unknown (then the time it is handled counts). */
  readonly receivedAt?: number | undefined;
}

export interface VrrpChannel {
  /** Never throws: a failed send is reported through the channel's onError. */
  send(payload: Uint8Array, dst: IpAddress): void;
  /**
   * The same, at the end of the current callback with the others queued (one sendmmsg),
   * for an advert whose buffer stays as it is (VrrpNode's `soon`). Optional: without it,
   * send.
   */
  sendSoon?(payload: Uint8Array, dst: IpAddress): void;
  /**
   * Hands what is already queued on the socket to the packet callback, synchronously
   * (non-blocking reads; returns the number read). Called before acting on an expired
   * Master_Down_Timer (instances.ts).
   */
  drain(): number;
  close(): void;
  /** Packets received and sent, and receive-side drops (malformed IP header, truncated...). */
  counters(): { readonly received: number; readonly sent: number; readonly malformed: number; readonly receiveErrors: number };
}

export interface FrameSender {
  /** Throws SyscallError when the frame cannot be sent (the interface is down or gone). */
  send(frame: Uint8Array): void;
  close(): void;
}

export interface SocketPorts {
  openVrrp(options: VrrpChannelOptions, onPacket: (payload: Uint8Array, meta: ChannelPacketMeta) => void, onError: (message: string) => void): VrrpChannel;
  openFrames(ifname: string): FrameSender;
}

/** nftables through the nft program, for Accept_Mode false: see accept-filter.ts. */
export type { NftPort } from './accept-filter.js';
