/**
 * The daemon's door to rtnetlink: one request socket for changes and dumps, and (when
 * watching) a separate event socket bound to the LINK, IPV4_IFADDR and IPV6_IFADDR
 * groups. Both belong to the network namespace the process runs in.
 *
 *   const nl = await Netlink.open();
 *   const eth0 = await nl.getLink('eth0');
 *   await nl.addAddress({ ifindex: eth0.index, address: ip('10.213.0.100'), prefixLength: 24 });
 *   const watcher = await nl.watch();
 *   watcher.on((e) => { if (e.kind === 'address-removed') … });
 *   nl.close();
 */
import {
  addAddress,
  addPreparedAddress,
  removePreparedAddress,
  type PreparedAddress,
  listAddresses,
  removeAddress,
  type AddressChange,
  type AddressEntry,
  type AddressSpec,
  type ListAddressesOptions,
} from './addresses.js';
import { NetlinkWatcher } from './events.js';
import {
  createMacvlan,
  deleteLink,
  getLink,
  getLinkByIndex,
  listLinks,
  setLinkUp,
  type DeleteLinkOptions,
  type Link,
  type LinkChange,
  type MacvlanSpec,
} from './links.js';
import { NetlinkEventSocket, NetlinkRequester, type EventSocketEvent, type TransportFactory } from './socket.js';
import { nativeTransport } from './transport.js';
import { RTMGRP } from './constants.js';

export interface NetlinkOptions {
  /** The datagram transport; the native addon's netlink socket by default. */
  readonly transport?: TransportFactory;
  /** Per-request timeout; 5000 ms. */
  readonly timeoutMs?: number;
  /** Receive buffer of the event socket, to absorb bursts (e.g. many VIPs at once); 4 MiB. */
  readonly eventReceiveBuffer?: number;
}

export class Netlink {
  private readonly watchers = new Set<NetlinkWatcher>();
  private closed = false;

  private constructor(
    readonly requester: NetlinkRequester,
    private readonly transport: TransportFactory,
    private readonly eventReceiveBuffer: number,
  ) {}

  /** Opens the request socket. Throws (SyscallError) if netlink is unavailable. */
  static open(options: NetlinkOptions = {}): Netlink {
    const transport = options.transport ?? nativeTransport;
    const requester = new NetlinkRequester(transport({ groups: 0 }), { ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
    return new Netlink(requester, transport, options.eventReceiveBuffer ?? 4 * 1024 * 1024);
  }

  listLinks(): Promise<Link[]> {
    return listLinks(this.requester);
  }

  /** The link of that name, or undefined. */
  getLink(name: string): Promise<Link | undefined> {
    return getLink(this.requester, name);
  }

  getLinkByIndex(index: number): Promise<Link | undefined> {
    return getLinkByIndex(this.requester, index);
  }

  setLinkUp(index: number, up: boolean): Promise<void> {
    return setLinkUp(this.requester, index, up);
  }

  createMacvlan(spec: MacvlanSpec): Promise<LinkChange> {
    return createMacvlan(this.requester, spec);
  }

  deleteLink(index: number, options?: DeleteLinkOptions): Promise<{ changed: boolean }> {
    return deleteLink(this.requester, index, options);
  }

  addAddress(spec: AddressSpec): Promise<AddressChange> {
    return addAddress(this.requester, spec);
  }

  removeAddress(spec: AddressSpec): Promise<AddressChange> {
    return removeAddress(this.requester, spec);
  }

  /** addAddress for a request encoded ahead (prepareAddAddress). */
  addPreparedAddress(prepared: PreparedAddress): Promise<AddressChange> {
    return addPreparedAddress(this.requester, prepared);
  }

  /** removeAddress for a request encoded ahead (prepareRemoveAddress). */
  removePreparedAddress(prepared: PreparedAddress): Promise<AddressChange> {
    return removePreparedAddress(this.requester, prepared);
  }

  /** All addresses, those of one interface (`listAddresses(2)`), or filtered by options. */
  listAddresses(filter?: number | ListAddressesOptions): Promise<AddressEntry[]> {
    return listAddresses(this.requester, typeof filter === 'number' ? { ifindex: filter } : (filter ?? {}));
  }

  /**
   * Opens an event socket and starts a watcher on it (seeded with the current links and
   * addresses). Stopped by `watcher.stop()` or by `close()`.
   */
  async watch(): Promise<NetlinkWatcher> {
    const watcher = new NetlinkWatcher(
      this.requester,
      (listener: (event: EventSocketEvent) => void) =>
        new NetlinkEventSocket(
          this.transport({ groups: RTMGRP.LINK | RTMGRP.IPV4_IFADDR | RTMGRP.IPV6_IFADDR, receiveBuffer: this.eventReceiveBuffer }),
          listener,
        ),
    );
    this.watchers.add(watcher);
    try {
      await watcher.start();
    } catch (e) {
      this.watchers.delete(watcher);
      throw e;
    }
    return watcher;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) w.stop();
    this.watchers.clear();
    this.requester.close();
  }
}

export { NetlinkError } from './errors.js';
export type { AddressChange, AddressEntry, AddressSpec, ListAddressesOptions, PreparedAddress } from './addresses.js';
export { prepareAddAddress, prepareRemoveAddress } from './addresses.js';
export type { DeleteLinkOptions, Link, LinkChange, MacvlanMode, MacvlanSpec } from './links.js';
export type { AddressEvent, LinkEvent, NetlinkEvent, NetlinkEventListener } from './events.js';
export { NetlinkWatcher } from './events.js';
export type { NetlinkTransport, TransportFactory, TransportOptions } from './socket.js';
export {
  applySysctls,
  confKey,
  readSysctl,
  restoreSysctls,
  vmacSysctls,
  writeSysctl,
  SysctlError,
  type AppliedSysctl,
  type SysctlKey,
  type SysctlSetting,
} from './sysctl.js';
export { ProtoDownSwitch, protoDownRequest } from './proto-down.js';
