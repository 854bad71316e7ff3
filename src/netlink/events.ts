/**
 * A watcher turning rtnetlink notifications into typed, state-aware events:
 * link added/removed, admin up/down, carrier up/down, renamed; address added/removed.
 *
 * The kernel sends RTM_NEWLINK for any change of a link (flags, MTU, statistics…), so
 * the watcher keeps the last known state of each link and reports what changed. It
 * seeds that state with a dump when started (no events for what already exists) and,
 * when notifications were lost (ENOBUFS on the event socket), dumps again and reports
 * the differences as events marked `synthetic: true`.
 *
 * Notifications arriving while a dump runs are held and applied after it, so a change
 * racing the dump is reported, not lost; applying one twice is harmless because events
 * come from comparing states.
 */
import type { AddressFamily, IpAddress } from '../net/address.js';
import { parseAddress, listAddresses, type AddressEntry } from './addresses.js';
import { isLinkStateMessage, listLinks, parseLink, type Link } from './links.js';
import { type DecodeError, type NetlinkMessage } from './message.js';
import type { EventSocketEvent, NetlinkEventSocket, NetlinkRequester } from './socket.js';
import { RTM } from './constants.js';

interface LinkEventBase {
  readonly index: number;
  readonly name: string;
  readonly link: Link;
  /** The notification type this came from; for synthetic events, the one the kernel would have sent. */
  readonly messageType: 'RTM_NEWLINK' | 'RTM_DELLINK';
  /** Inferred from a resynchronisation dump rather than received as a notification. */
  readonly synthetic: boolean;
}

export type LinkEvent =
  | (LinkEventBase & { readonly kind: 'link-added' })
  | (LinkEventBase & { readonly kind: 'link-removed' })
  | (LinkEventBase & { readonly kind: 'link-up' })
  | (LinkEventBase & { readonly kind: 'link-down' })
  | (LinkEventBase & { readonly kind: 'carrier-up' })
  | (LinkEventBase & { readonly kind: 'carrier-down' })
  | (LinkEventBase & { readonly kind: 'link-renamed'; readonly previousName: string });

export interface AddressEvent {
  readonly kind: 'address-added' | 'address-removed';
  readonly family: AddressFamily;
  readonly address: IpAddress;
  readonly prefixLength: number;
  readonly ifindex: number;
  /** IFA_LABEL (IPv4); null for IPv6. */
  readonly label: string | null;
  /** The interface's name if the watcher knows it. */
  readonly ifname: string | null;
  readonly entry: AddressEntry;
  readonly messageType: 'RTM_NEWADDR' | 'RTM_DELADDR';
  readonly synthetic: boolean;
}

export type NetlinkEvent =
  | LinkEvent
  | AddressEvent
  /** Notifications were lost (receive queue overrun); a resynchronisation follows. */
  | { readonly kind: 'overrun' }
  /** The resynchronisation after an overrun finished; its differences were reported before this. */
  | { readonly kind: 'resynced'; readonly links: number; readonly addresses: number }
  /** A notification that did not decode, a failed resynchronisation, a receive failure. */
  | { readonly kind: 'error'; readonly error: unknown; readonly decodeError?: DecodeError };

export type NetlinkEventListener = (event: NetlinkEvent) => void;

function addressKey(e: AddressEntry): string {
  // IPv6 addresses are unique per interface whatever their prefix; IPv4 ones are not.
  return e.family === 'ipv6' ? `6|${e.ifindex}|${e.address.text}` : `4|${e.ifindex}|${e.address.text}/${e.prefixLength}|${e.peer?.text ?? ''}`;
}

export class NetlinkWatcher {
  private readonly linkState = new Map<number, Link>();
  private readonly addressState = new Map<string, AddressEntry>();
  private readonly listeners = new Set<NetlinkEventListener>();
  private held: NetlinkMessage[] | null = [];
  private eventSocket: NetlinkEventSocket | undefined;
  private resyncing: Promise<void> | undefined;
  /** An overrun arrived while a dump ran: the dump may have missed it, so dump again after. */
  private resyncAgain = false;
  private stopped = false;

  /**
   * @param requester the request socket used for dumps
   * @param openEvents opens the event socket (bound to LINK, IPV4_IFADDR, IPV6_IFADDR) with this watcher's listener
   */
  constructor(
    private readonly requester: NetlinkRequester,
    private readonly openEvents: (listener: (event: EventSocketEvent) => void) => NetlinkEventSocket,
  ) {}

  /** Subscribes; returns the function that unsubscribes. */
  on(listener: NetlinkEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens the event socket first, then dumps the current state, then applies what arrived meanwhile. */
  async start(): Promise<void> {
    if (this.eventSocket) return;
    this.eventSocket = this.openEvents((e) => this.onSocketEvent(e));
    try {
      await this.seed(false);
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.eventSocket?.close();
    this.listeners.clear();
  }

  /** The links as last known. */
  links(): Link[] {
    return [...this.linkState.values()].sort((a, b) => a.index - b.index);
  }

  link(nameOrIndex: string | number): Link | undefined {
    if (typeof nameOrIndex === 'number') return this.linkState.get(nameOrIndex);
    for (const l of this.linkState.values()) if (l.name === nameOrIndex) return l;
    return undefined;
  }

  /** The addresses as last known, optionally of one interface. */
  addresses(ifindex?: number): AddressEntry[] {
    const all = [...this.addressState.values()];
    return ifindex === undefined ? all : all.filter((a) => a.ifindex === ifindex);
  }

  private emit(event: NetlinkEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch {
        // A listener's failure is its own; the others still hear the event.
      }
    }
  }

  private onSocketEvent(e: EventSocketEvent): void {
    if (this.stopped) return;
    switch (e.type) {
      case 'message':
        if (this.held) this.held.push(e.message);
        else this.apply(e.message, false);
        return;
      case 'overrun':
        this.emit({ kind: 'overrun' });
        void this.resync();
        return;
      case 'decode-error':
        this.emit({ kind: 'error', error: new Error(`undecodable notification: ${e.error.reason}: ${e.error.detail}`), decodeError: e.error });
        return;
      case 'error':
        this.emit({ kind: 'error', error: e.error });
        return;
    }
  }

  private resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.held ??= [];
    this.resyncing = this.seed(true)
      .then(
        () => this.emit({ kind: 'resynced', links: this.linkState.size, addresses: this.addressState.size }),
        (error: unknown) => {
          this.emit({ kind: 'error', error });
          // Keep going with what we have: apply what was held.
          this.release();
        },
      )
      .finally(() => {
        this.resyncing = undefined;
        if (this.resyncAgain && !this.stopped) {
          this.resyncAgain = false;
          void this.resync();
        }
      });
    return this.resyncing;
  }

  private release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const m of held) this.apply(m, false);
  }

  /** Dumps links and addresses; reports differences as synthetic events if `report`. */
  private async seed(report: boolean): Promise<void> {
    this.held ??= [];
    const links = await listLinks(this.requester);
    const addresses = await listAddresses(this.requester);
    if (this.stopped) return;
    const seenLinks = new Set<number>();
    for (const link of links) {
      seenLinks.add(link.index);
      if (report) this.updateLink(link, true);
      else this.linkState.set(link.index, link);
    }
    for (const [index, old] of [...this.linkState]) {
      if (seenLinks.has(index)) continue;
      this.linkState.delete(index);
      if (report) this.emit({ kind: 'link-removed', index, name: old.name, link: old, messageType: 'RTM_DELLINK', synthetic: true });
    }
    const seenAddresses = new Set<string>();
    for (const entry of addresses) {
      const key = addressKey(entry);
      seenAddresses.add(key);
      if (report) this.addAddressEntry(entry, true);
      else this.addressState.set(key, entry);
    }
    for (const [key, old] of [...this.addressState]) {
      if (seenAddresses.has(key)) continue;
      this.addressState.delete(key);
      if (report) this.emitAddress('address-removed', old, true);
    }
    this.release();
  }

  private apply(message: NetlinkMessage, synthetic: boolean): void {
    if (message.kind === 'link') {
      if (!isLinkStateMessage(message)) return; // AF_BRIDGE port notifications
      const parsed = parseLink(message);
      if (!parsed.ok) {
        this.emit({ kind: 'error', error: new Error(`undecodable link notification: ${parsed.error.detail}`), decodeError: parsed.error });
        return;
      }
      if (message.header.type === RTM.DELLINK) this.removeLink(parsed.value, synthetic);
      else if (message.header.type === RTM.NEWLINK) this.updateLink(parsed.value, synthetic);
    } else if (message.kind === 'address') {
      const parsed = parseAddress(message);
      if (!parsed.ok) {
        this.emit({ kind: 'error', error: new Error(`undecodable address notification: ${parsed.error.detail}`), decodeError: parsed.error });
        return;
      }
      if (message.header.type === RTM.DELADDR) this.removeAddressEntry(parsed.value, synthetic);
      else if (message.header.type === RTM.NEWADDR) this.addAddressEntry(parsed.value, synthetic);
    }
  }

  private updateLink(link: Link, synthetic: boolean): void {
    const old = this.linkState.get(link.index);
    this.linkState.set(link.index, link);
    const base = { index: link.index, name: link.name, link, messageType: 'RTM_NEWLINK' as const, synthetic };
    if (!old) {
      this.emit({ ...base, kind: 'link-added' });
      // A link that appears already up is also reported up (and with carrier), so a
      // listener tracking "up" needs only the up/down events.
      if (link.up) this.emit({ ...base, kind: 'link-up' });
      if (link.carrier) this.emit({ ...base, kind: 'carrier-up' });
      return;
    }
    if (old.name !== link.name) this.emit({ ...base, kind: 'link-renamed', previousName: old.name });
    if (old.up !== link.up) this.emit({ ...base, kind: link.up ? 'link-up' : 'link-down' });
    if (old.carrier !== link.carrier) this.emit({ ...base, kind: link.carrier ? 'carrier-up' : 'carrier-down' });
  }

  private removeLink(link: Link, synthetic: boolean): void {
    const old = this.linkState.get(link.index);
    this.linkState.delete(link.index);
    // Addresses go with their link; the kernel sends RTM_DELADDR for them too, before the RTM_DELLINK.
    for (const [key, entry] of [...this.addressState]) {
      if (entry.ifindex !== link.index) continue;
      this.addressState.delete(key);
      this.emitAddress('address-removed', entry, true);
    }
    if (old) this.emit({ kind: 'link-removed', index: link.index, name: link.name, link, messageType: 'RTM_DELLINK', synthetic });
  }

  private addAddressEntry(entry: AddressEntry, synthetic: boolean): void {
    const key = addressKey(entry);
    const existed = this.addressState.has(key);
    this.addressState.set(key, entry);
    if (!existed) this.emitAddress('address-added', entry, synthetic);
  }

  private removeAddressEntry(entry: AddressEntry, synthetic: boolean): void {
    const key = addressKey(entry);
    const existed = this.addressState.delete(key);
    if (existed) this.emitAddress('address-removed', entry, synthetic);
  }

  private emitAddress(kind: AddressEvent['kind'], entry: AddressEntry, synthetic: boolean): void {
    this.emit({
      kind,
      family: entry.family,
      address: entry.address,
      prefixLength: entry.prefixLength,
      ifindex: entry.ifindex,
      label: entry.label,
      ifname: this.linkState.get(entry.ifindex)?.name ?? entry.label?.split(':')[0] ?? null,
      entry,
      messageType: kind === 'address-added' ? 'RTM_NEWADDR' : 'RTM_DELADDR',
      synthetic,
    });
  }
}
