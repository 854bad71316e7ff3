/**
 * The real ports of the daemon (ports.ts): rtnetlink through src/netlink, VRRP adverts
 * through raw sockets (src/vrrp/io/transport.ts) and Ethernet frames through AF_PACKET
 * (src/net/packet-socket.ts). Everything here acts on the network namespace the process
 * runs in.
 *
 * Failures that come from the network (a send on a link that went down, a socket error)
 * are reported through the callbacks and counted, never thrown into the protocol core.
 */
import { isIPv6LinkLocal, type AddressFamily, type IpAddress } from '../net/address.js';
import type { MacAddress } from '../net/mac.js';
import { PacketSocket } from '../net/packet-socket.js';
import {
  Netlink,
  NetlinkWatcher,
  ProtoDownSwitch,
  applySysctls,
  confKey,
  prepareAddAddress,
  prepareRemoveAddress,
  restoreSysctls,
  vmacSysctls,
  writeSysctl,
  type AppliedSysctl,
  type Link,
  type NetlinkOptions,
  type PreparedAddress,
} from '../netlink/index.js';
import { vipAddressSpec } from '../netlink/vip.js';
import { VrrpSocket, type VrrpSocketProblem } from '../vrrp/io/transport.js';
import type { VirtualIp } from '../config/types.js';
import type { AddressEvent, FrameSender, LinkState, NetworkPorts, SocketPorts, VrrpChannel, VrrpChannelOptions } from './ports.js';
import { errorText } from '../base/error-text.js';

function linkState(link: Link): LinkState {
  return { index: link.index, name: link.name, up: link.up, carrier: link.carrier, mac: link.mac ?? undefined };
}

export class SystemNetwork implements NetworkPorts {
  private readonly watchers = new Set<NetlinkWatcher>();
  /**
   * The parent-side sysctls set for VMACs, per parent, with the VMACs that need them: put
   * back when the last VMAC on that parent is deleted (as keepalived does).
   */
  private readonly parentSysctls = new Map<number, { applied: AppliedSysctl[]; vmacs: Set<number> }>();
  private readonly vmacParent = new Map<number, number>();
  private protoDown: ProtoDownSwitch | undefined;
  private readonly troubles = new Set<(message: string) => void>();

  private constructor(private readonly nl: Netlink) {}

  /** `options`: the netlink transport and timeout (a fake kernel's transport in tests). */
  static open(options: NetlinkOptions = {}): SystemNetwork {
    return new SystemNetwork(Netlink.open(options));
  }

  async link(name: string): Promise<LinkState | undefined> {
    const link = await this.nl.getLink(name);
    return link ? linkState(link) : undefined;
  }

  async addresses(ifindex: number, family: AddressFamily): Promise<readonly { address: IpAddress; prefixLength: number; secondary: boolean }[]> {
    const entries = await this.nl.listAddresses(ifindex);
    return entries.filter((e) => e.family === family && !e.tentative && !e.dadFailed).map((e) => ({ address: e.address, prefixLength: e.prefixLength, secondary: e.secondary }));
  }

  /**
   * The add and remove requests of each configured VIP, encoded ahead by prepareAddresses,
   * keyed by the config's VirtualIp object (a reload brings new objects, so a changed VIP
   * gets new requests and the old ones go with the old config) and the ifindex.
   */
  private readonly prepared = new WeakMap<VirtualIp, Map<number, { add: PreparedAddress; remove: PreparedAddress }>>();

  prepareAddresses(ifindex: number, vips: readonly VirtualIp[]): void {
    for (const vip of vips) this.preparedFor(ifindex, vip);
  }

  private preparedFor(ifindex: number, vip: VirtualIp): { add: PreparedAddress; remove: PreparedAddress } {
    let byIndex = this.prepared.get(vip);
    if (!byIndex) {
      byIndex = new Map();
      this.prepared.set(vip, byIndex);
    }
    let entry = byIndex.get(ifindex);
    if (!entry) {
      const spec = vipAddressSpec(ifindex, vip);
      entry = { add: prepareAddAddress(spec), remove: prepareRemoveAddress(spec) };
      byIndex.set(ifindex, entry);
    }
    return entry;
  }

  async addAddress(ifindex: number, vip: VirtualIp): Promise<void> {
    await this.nl.addPreparedAddress(this.preparedFor(ifindex, vip).add);
  }

  async removeAddress(ifindex: number, vip: VirtualIp): Promise<void> {
    await this.nl.removePreparedAddress(this.preparedFor(ifindex, vip).remove);
  }

  async watch(onLink: (link: LinkState) => void, onAddress: (event: AddressEvent) => void, onTrouble: (message: string) => void): Promise<() => void> {
    const watcher = await this.nl.watch();
    this.watchers.add(watcher);
    this.troubles.add(onTrouble);
    watcher.on((event) => {
      switch (event.kind) {
        case 'link-added':
        case 'link-up':
        case 'link-down':
        case 'carrier-up':
        case 'carrier-down':
        case 'link-renamed':
          onLink(linkState(event.link));
          return;
        case 'link-removed':
          onLink({ ...linkState(event.link), up: false, carrier: false });
          return;
        case 'address-added':
        case 'address-removed':
          onAddress({
            type: event.kind === 'address-added' ? 'added' : 'removed',
            ifindex: event.ifindex,
            address: event.address,
            prefixLength: event.prefixLength,
          });
          return;
        case 'overrun':
          onTrouble('netlink notifications were lost (receive queue overrun); resynchronising');
          return;
        case 'resynced':
          return;
        case 'error':
          onTrouble(errorText(event.error));
          return;
      }
    });
    return () => {
      watcher.stop();
      this.watchers.delete(watcher);
      this.troubles.delete(onTrouble);
    };
  }

  setProtoDown(index: number, on: boolean): void {
    this.protoDown ??= new ProtoDownSwitch((message) => {
      for (const t of this.troubles) t(message);
    });
    this.protoDown.set(index, on);
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    await writeSysctl(key, value);
  }

  async ensureVmac(name: string, parentIndex: number, mac: MacAddress, family: AddressFamily): Promise<LinkState> {
    const parent = await this.nl.getLinkByIndex(parentIndex);
    if (!parent) throw new Error(`VMAC ${name}: parent interface ifindex ${parentIndex} does not exist`);
    const { link } = await this.nl.createMacvlan({ name, parentIndex, mac, mode: 'private' });
    // Sysctls before the link goes up: addr_gen_mode only takes effect then (RFC 5798 §7.4:
    // no link-local address derived from the virtual MAC).
    const settings = vmacSysctls(parent.name, name, { family });
    if (family === 'ipv6') settings.push({ key: confKey('ipv6', name, 'accept_dad'), value: '0', on: 'vmac', reason: 'virtual addresses move; no DAD' });
    await applySysctls(settings.filter((x) => x.on !== 'parent'));
    let parentEntry = this.parentSysctls.get(parentIndex);
    if (!parentEntry) {
      parentEntry = { applied: await applySysctls(settings.filter((x) => x.on === 'parent')), vmacs: new Set() };
      this.parentSysctls.set(parentIndex, parentEntry);
    }
    parentEntry.vmacs.add(link.index);
    this.vmacParent.set(link.index, parentIndex);
    // Silent until master (issue 10 §2, as FRR's vrrpd does): in protodown the VMAC sends
    // no IGMP/MLD report, answers no ARP/NS and sends nothing else from the virtual MAC,
    // but still receives the master's adverts. The effect pipeline lifts it on takeover.
    this.setProtoDown(link.index, true);
    await this.nl.setLinkUp(link.index, true);
    if (family === 'ipv6') {
      // The adverts of an IPv6 VMAC leave from the VMAC with the parent's link-local source
      // (RFC 5798 §5.1.2.1), so the VMAC carries that address too, as keepalived gives it.
      const parentLinkLocal = (await this.nl.listAddresses(parentIndex)).find((a) => a.family === 'ipv6' && isIPv6LinkLocal(a.address) && !a.tentative);
      if (parentLinkLocal) await this.nl.addAddress({ ifindex: link.index, address: parentLinkLocal.address, prefixLength: parentLinkLocal.prefixLength, noDad: true });
    }
    const up = await this.nl.getLinkByIndex(link.index);
    return linkState(up ?? link);
  }

  async deleteLink(index: number): Promise<void> {
    await this.nl.deleteLink(index, { expectKind: 'macvlan' });
    // The VMAC's own keys went with it; the parent's are put back after its last VMAC.
    const parentIndex = this.vmacParent.get(index);
    this.vmacParent.delete(index);
    const entry = parentIndex === undefined ? undefined : this.parentSysctls.get(parentIndex);
    if (parentIndex === undefined || !entry) return;
    entry.vmacs.delete(index);
    if (entry.vmacs.size > 0) return;
    this.parentSysctls.delete(parentIndex);
    await restoreSysctls(entry.applied);
  }

  close(): void {
    for (const w of this.watchers) w.stop();
    this.watchers.clear();
    this.protoDown?.close();
    this.protoDown = undefined;
    this.nl.close();
  }
}

function problemText(problem: VrrpSocketProblem): string {
  return problem.kind === 'receive-failed' ? `${problem.kind}: ${problem.error.message}` : `${problem.kind}: ${problem.detail}`;
}

export class SystemSockets implements SocketPorts {
  openVrrp(
    options: VrrpChannelOptions,
    onPacket: Parameters<SocketPorts['openVrrp']>[1],
    onError: (message: string) => void,
  ): VrrpChannel {
    const socket = VrrpSocket.open({
      family: options.family,
      interface: options.ifname,
      source: options.source,
      mode: options.multicast ? 'multicast' : 'unicast',
      onPacket,
      onError: (problem) => onError(problemText(problem)),
    });
    const sendFailed = (dst: IpAddress, e: unknown): void => onError(`send to ${dst.text}: ${errorText(e)}`);
    return {
      send(payload, dst) {
        try {
          socket.send(payload, dst);
        } catch (e) {
          // ENETUNREACH / ENETDOWN while the link is down: the state machine is told by
          // the link watcher; here it is only reported.
          sendFailed(dst, e);
        }
      },
      sendSoon(payload, dst) {
        try {
          socket.sendSoon(payload, dst, sendFailed);
        } catch (e) {
          sendFailed(dst, e);
        }
      },
      drain: () => socket.drain(),
      close: () => socket.close(),
      counters: () => socket.counters,
    };
  }

  /**
   * One packet socket per interface, shared by the instances announcing on it (and closed
   * with the last of them): closing an AF_PACKET socket waits for an RCU grace period in
   * the kernel, about 14 ms, which made a daemon with 200 instances take 3 s to stop.
   */
  private readonly frameSockets = new Map<string, { socket: PacketSocket | undefined; users: number }>();

  openFrames(ifname: string): FrameSender {
    let shared = this.frameSockets.get(ifname);
    if (!shared) {
      shared = { socket: undefined, users: 0 };
      this.frameSockets.set(ifname, shared);
    }
    shared.users++;
    const entry = shared;
    // Opened now, when it can be: opening and binding at the first announcement put 0.25-0.4
    // ms between a takeover's advert and its gratuitous ARP (trace on the 10 ms failover
    // bench). The socket is bound with protocol 0, so it receives nothing while it waits.
    if (!entry.socket) {
      try {
        entry.socket = PacketSocket.open({ interface: ifname });
      } catch {
        // The interface is not there yet: opened at the first send, which reports the error.
      }
    }
    let closed = false;
    return {
      send(frame) {
        entry.socket ??= PacketSocket.open({ interface: ifname });
        entry.socket.send(frame);
      },
      close: () => {
        if (closed) return;
        closed = true;
        if (--entry.users > 0) return;
        entry.socket?.close();
        entry.socket = undefined;
        this.frameSockets.delete(ifname);
      },
    };
  }
}
