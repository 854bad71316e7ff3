/**
 * A virtual address as a resource, IPaddr2 in small, through rtnetlink (no `ip` fork):
 *
 * - start: the interface must exist (else ERR_INSTALLED: this node cannot run it) and be
 *   up with carrier (else ERR_GENERIC, the address is not added); the address is added
 *   (idempotent: already present is success; IPv6 with IFA_F_NODAD, as a moving address
 *   must not wait for DAD), then announced: `arpCount` gratuitous ARPs (IPv4) or
 *   unsolicited Neighbor Advertisements (IPv6) `arpIntervalMs` apart — the first before
 *   start resolves, the rest in the background (IPaddr2's arp_bg), cancelled by a stop.
 *   A failed announcement is reported in the detail but does not fail the start.
 * - stop: the address is removed (idempotent: absent, or no such interface, is success).
 * - monitor: SUCCESS when the address is on the interface and the link is up with
 *   carrier; NOT_RUNNING when the address (or the interface) is absent; ERR_GENERIC when
 *   it is present but the link is down or DAD failed.
 */
import { PacketSocket } from '../../net/packet-socket.js';
import { Netlink, type AddressSpec, type Link } from '../../netlink/index.js';
import { sameAddress, type IpAddress } from '../../net/address.js';
import { announcementFrame, vipAddressSpec } from '../../netlink/vip.js';
import { OCF, type OperationResult, type ResourceAgent, type ResourceSpec } from '../types.js';
import { guarded, result } from './common.js';
import type { FrameSink, VipOptions } from './context.js';
import { errorText } from '../../base/error-text.js';

export type VipSpec = Extract<ResourceSpec, { type: 'vip' }>;

function linkProblem(link: Link): string | undefined {
  if (!link.up) return `${link.name} is administratively down`;
  if (!link.carrier) return `${link.name} has no carrier`;
  return undefined;
}

export class VipAgent implements ResourceAgent {
  private nl: Netlink | undefined;
  private readonly ownNetlink: boolean;
  private readonly arpCount: number;
  private readonly arpIntervalMs: number;
  private readonly openFrames: (ifname: string) => FrameSink;
  private announceTimer: NodeJS.Timeout | undefined;
  private frames: FrameSink | undefined;
  /** Announcements sent and failed since the last start (for tests and status). */
  private sent = 0;
  private lastAnnounceError: string | undefined;
  private announcing: Promise<void> = Promise.resolve();
  private finishAnnouncing: () => void = () => undefined;

  constructor(
    readonly spec: VipSpec,
    options: VipOptions = {},
  ) {
    this.nl = options.netlink;
    this.ownNetlink = options.netlink === undefined;
    this.arpCount = Math.max(0, Math.floor(options.arpCount ?? 5));
    this.arpIntervalMs = Math.max(0, options.arpIntervalMs ?? 200);
    this.openFrames = options.openFrames ?? ((ifname) => PacketSocket.open({ interface: ifname }));
  }

  /** "10.213.0.100/24 on eth0". */
  get description(): string {
    return `${this.spec.address.text}/${this.spec.prefixLength} on ${this.spec.interface}`;
  }

  /** Resolves when the announcements of the last start are all sent (or cancelled). */
  announced(): Promise<{ sent: number; error?: string }> {
    return this.announcing.then(() => ({ sent: this.sent, ...(this.lastAnnounceError === undefined ? {} : { error: this.lastAnnounceError }) }));
  }

  private netlink(): Netlink {
    this.nl ??= Netlink.open();
    return this.nl;
  }

  private addressSpec(link: Link): AddressSpec {
    // The same request as the VRRP instances' VIPs (src/netlink/vip.ts).
    return vipAddressSpec(link.index, this.spec, link.name);
  }

  private async present(link: Link): Promise<{ present: boolean; dadFailed: boolean; prefixLength?: number }> {
    const entries = await this.netlink().listAddresses(link.index);
    const found = entries.find((e) => sameAddress(e.address, this.spec.address));
    if (!found) return { present: false, dadFailed: false };
    return { present: true, dadFailed: found.dadFailed, prefixLength: found.prefixLength };
  }

  start(timeoutMs: number): Promise<OperationResult> {
    return guarded(`start ${this.description}`, timeoutMs, async (start) => {
      this.cancelAnnouncements();
      const link = await this.netlink().getLink(this.spec.interface);
      if (!link) return result(OCF.ERR_INSTALLED, `start ${this.description}: no interface ${this.spec.interface} on this node`, start);
      const down = linkProblem(link);
      if (down !== undefined) return result(OCF.ERR_GENERIC, `start ${this.description}: ${down}; address not added`, start);
      const change = await this.netlink().addAddress(this.addressSpec(link));
      const what = change.changed ? `added ${this.description}` : `${this.description} already present`;
      const announced = this.announce(link, this.spec.address);
      return result(OCF.SUCCESS, `${what}; ${announced}`, start);
    });
  }

  stop(timeoutMs: number): Promise<OperationResult> {
    return guarded(`stop ${this.description}`, timeoutMs, async (start) => {
      this.cancelAnnouncements();
      const link = await this.netlink().getLink(this.spec.interface);
      if (!link) return result(OCF.SUCCESS, `stop ${this.description}: no interface ${this.spec.interface}, so no address`, start);
      const change = await this.netlink().removeAddress(this.addressSpec(link));
      return result(OCF.SUCCESS, change.changed ? `removed ${this.description}` : `${this.description} was not present`, start);
    });
  }

  monitor(timeoutMs: number): Promise<OperationResult> {
    return guarded(`monitor ${this.description}`, timeoutMs, async (start) => {
      const link = await this.netlink().getLink(this.spec.interface);
      if (!link) return result(OCF.NOT_RUNNING, `${this.description}: no interface ${this.spec.interface}`, start);
      const state = await this.present(link);
      if (!state.present) return result(OCF.NOT_RUNNING, `${this.description}: address not present`, start);
      if (state.dadFailed) return result(OCF.ERR_GENERIC, `${this.description}: duplicate address detection failed (dadfailed)`, start);
      const down = linkProblem(link);
      if (down !== undefined) return result(OCF.ERR_GENERIC, `${this.description}: address present but ${down}`, start);
      const prefix = state.prefixLength !== undefined && state.prefixLength !== this.spec.prefixLength ? ` (with prefix /${state.prefixLength})` : '';
      return result(OCF.SUCCESS, `${this.description}: present${prefix}, link up`, start);
    });
  }

  close(): void {
    this.cancelAnnouncements();
    if (this.ownNetlink) this.nl?.close();
    this.nl = undefined;
  }

  /** Sends the first announcement now and schedules the rest; says what it did. */
  private announce(link: Link, address: IpAddress): string {
    this.sent = 0;
    this.lastAnnounceError = undefined;
    const kind = address.family === 'ipv4' ? 'gratuitous ARP' : 'unsolicited NA';
    if (this.arpCount === 0) return `no ${kind} (arp count 0)`;
    if (!link.mac) return `no ${kind}: ${link.name} has no Ethernet address`;
    const frame = announcementFrame(address, link.mac);
    try {
      this.frames = this.openFrames(link.name);
    } catch (e) {
      this.lastAnnounceError = errorText(e);
      return `${kind} not sent: ${this.lastAnnounceError}`;
    }
    this.announcing = new Promise<void>((resolve) => (this.finishAnnouncing = resolve));
    const sendOne = (): boolean => {
      try {
        this.frames?.send(frame);
        this.sent++;
        return true;
      } catch (e) {
        this.lastAnnounceError = errorText(e);
        return false;
      }
    };
    const first = sendOne();
    if (!first || this.arpCount === 1) {
      this.cancelAnnouncements();
      return first ? `1 ${kind} sent` : `${kind} failed: ${this.lastAnnounceError ?? 'unknown error'}`;
    }
    const next = (): void => {
      this.announceTimer = undefined;
      if (!sendOne() || this.sent >= this.arpCount) {
        this.cancelAnnouncements();
        return;
      }
      this.announceTimer = setTimeout(next, this.arpIntervalMs);
    };
    this.announceTimer = setTimeout(next, this.arpIntervalMs);
    return `${this.arpCount} ${kind}s, ${this.arpIntervalMs} ms apart (first sent)`;
  }

  private cancelAnnouncements(): void {
    if (this.announceTimer !== undefined) clearTimeout(this.announceTimer);
    this.announceTimer = undefined;
    if (this.frames) {
      try {
        this.frames.close();
      } catch {
        // closing a socket on a vanished interface
      }
      this.frames = undefined;
    }
    this.finishAnnouncing();
  }
}
