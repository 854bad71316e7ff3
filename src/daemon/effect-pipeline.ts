/**
 * One effect pipeline per VRRP instance (in the manner of etcd raft's `Ready`): the one
 * owner of what the router's actions do to the system besides adverts: the Accept_Mode
 * packet filter (accept-filter.ts), the VIPs (netlink) and the gratuitous ARP / NA bursts.
 *
 * The router's actions are applied in order by one worker; a batch that arrives while the
 * previous one is in flight waits for it. The worker reconciles rather than replays: an
 * add-vips or remove-vips sets what should be held, and after every completed step the
 * worker compares that with what it has installed, so an action superseded while in
 * flight (add then remove) stops the rest of the add and undoes what it did. When the
 * worker is idle, installed == what the router's last actions say (the invariant
 * test/daemon-shell-property.test.ts checks over random interleavings of completions).
 *
 * Order, RFC 5798 §6.4.3 (650): a master that is neither the address owner nor in
 * Accept_Mode "MUST NOT accept packets addressed to the IPvX address(es) associated with
 * the virtual router": the filter blocks a VIP before it is added, and lets it go only
 * after it is removed. Announcements (§6.4.2 (380) "Broadcast a gratuitous ARP request
 * on that interface containing the virtual router MAC address for each IPv4 address
 * associated with the virtual router", (395) an unsolicited NA for each IPv6 address) go
 * out only for VIPs really installed, only while they are held: a burst stops when the
 * instance leaves master. Its spacing goes through the daemon's Scheduler.
 *
 * Reports after the announcement at takeover, RFC 5798 §6.4.2 (375)-(395): "Send an
 * ADVERTISEMENT; ... Broadcast a gratuitous ARP request ... for each IPv4 address": clients
 * move their traffic on the gratuitous ARP, so nothing that can wait runs between the
 * advert and it (keepalived adds the VIPs and sends the GARPs, then notifies). A batch that
 * takes over (add-vips while the worker is idle) holds what reports it (the instance's
 * state-change event and the resource manager's nudge, given to apply as `report`) and the
 * pipeline's own events (vips-added, announced) in one outbox, released in the order they
 * were made right after the first round of the burst is sent, or when the worker stops
 * without one (a failed add: vips-added with it in `failed`, no announcement). Any other
 * batch reports at once, before its effects, as before. The takeover's adds and its first
 * round run in the turn of the loop that sent the advert: the VIP add's ack is read at
 * once (src/netlink/socket.ts), so every await on the way is a microtask.
 */
import { sameAddress, type IpAddress } from '../net/address.js';
import type { MacAddress } from '../net/mac.js';
import type { VirtualIp } from '../config/types.js';
import type { RouterAction } from '../vrrp/router.js';
import { announcementFrame } from '../netlink/vip.js';
import type { EventStream } from '../events/stream.js';
import type { AcceptFilter } from './accept-filter.js';
import type { Logger } from './logger.js';
import type { FrameSender, NetworkPorts } from './ports.js';
import type { Scheduler } from './scheduler.js';
import { errorText } from '../base/error-text.js';

export interface PipelinePorts {
  readonly net: Pick<NetworkPorts, 'link' | 'addresses' | 'addAddress' | 'removeAddress' | 'prepareAddresses' | 'setProtoDown'>;
  /** Absent when the daemon runs without nftables (then accept: false is refused at start). */
  readonly filter: AcceptFilter | undefined;
  readonly frames: FrameSender;
  readonly scheduler: Scheduler;
  readonly clock: () => number;
  readonly events: EventStream;
  readonly log: Logger;
  /** The source MAC of the announcements: the VMAC, or the interface's current MAC. */
  readonly mac: () => MacAddress | undefined;
}

export interface PipelineTarget {
  readonly instance: string;
  /** Where the VIPs go without a `dev` of their own: the VMAC or the instance's interface. */
  readonly ifindex: number;
  readonly ifname: string;
  /**
   * The VMAC, kept in protodown while not master (created so by ensureVmac): a backup
   * sends nothing from the virtual MAC (issue 10 §2). Undefined without VMAC.
   */
  readonly silentIndex?: number;
}

interface Installed {
  readonly vip: VirtualIp;
  readonly ifindex: number;
}

interface Burst {
  readonly key: object;
  readonly of: number;
  round: number;
  readonly reason: string;
}

function vipKey(v: VirtualIp): string {
  return `${v.address.text}/${v.prefixLength}/${v.dev ?? ''}/${v.label ?? ''}/${v.scope}`;
}

function vipText(v: VirtualIp): string {
  return `${v.address.text}/${v.prefixLength}`;
}

const NOTHING: readonly IpAddress[] = [];

/** Whether `list` holds `a` (a loop, no callback: it runs after every advert). */
function holds(list: readonly IpAddress[], a: IpAddress): boolean {
  for (const x of list) if (sameAddress(x, a)) return true;
  return false;
}

function sameSet(a: readonly IpAddress[], b: readonly IpAddress[]): boolean {
  if (a.length !== b.length) return false;
  for (const x of a) if (!holds(b, x)) return false;
  return true;
}

export class EffectPipeline {
  /** What the router's actions say: hold the VIPs (master) or not. */
  private held = false;
  /** The router's Accept_Mode decision of its last add-vips (or the reloaded config's). */
  private accept = true;
  private vips: readonly VirtualIp[];
  /** vipKey of each of `vips`, made when they are set: nextStep runs after every advert and builds no key then. */
  private vipKeys: readonly string[];
  /** The addresses of `vips`, made when they are set (wantBlocked). */
  private vipAddresses: readonly IpAddress[];
  private garpIntervalMs: number;
  /** What this pipeline has put in place, by vipKey. */
  private readonly installed = new Map<string, Installed>();
  /** Adds that failed since the VIPs were last asked for: not retried until asked again. */
  private readonly failed = new Set<string>();
  /** The addresses the filter was last asked to block for this instance. */
  private blocked: readonly IpAddress[] = [];
  /** An announcement asked for, waiting for the adds in flight. */
  private pendingAnnounce: { readonly repeat: number; readonly reason: string } | undefined;
  private burst: Burst | undefined;
  private working: Promise<void> | undefined;
  /** Asked for more while the worker ran: it runs once more. */
  private again = false;
  private batchAdded: { added: string[]; failed: string[] } = { added: [], failed: [] };
  private batchRemoved: { removed: string[]; failed: string[] } = { removed: [], failed: [] };
  private closed = false;
  /** The VMAC is in protodown (ensureVmac leaves it so). */
  private silenced: boolean;
  /** Reports held during a takeover, in the order they were made (see the header); undefined when not holding. */
  private outbox: (() => void)[] | undefined;
  /**
   * The announcement frames by source MAC and address, built ahead (at start, at reload,
   * on entering backup) so that a takeover only sends them.
   */
  private readonly frames = new Map<string, Uint8Array>();

  constructor(
    private readonly target: PipelineTarget,
    private readonly ports: PipelinePorts,
    vips: readonly VirtualIp[],
    garpIntervalMs: number,
  ) {
    this.vips = vips;
    this.vipKeys = vips.map(vipKey);
    this.vipAddresses = vips.map((v) => v.address);
    this.garpIntervalMs = garpIntervalMs;
    this.silenced = target.silentIndex !== undefined;
    this.prepareTakeover();
  }

  /**
   * Called before every advert of this instance is sent (the node sends a new master's
   * advert before it hands over the actions, RFC 5798 §6.4.2 (375)): a silenced VMAC would
   * drop it, so protodown is lifted first, synchronously: when setProtoDown returns the
   * link transmits (src/netlink/proto-down.ts; 0.26 ms in test/vmac-protodown-lab.test.ts).
   */
  beforeAdvert(): void {
    this.setSilent(false);
  }

  /** Protodown on the VMAC, at once; a failure is logged (the state machine goes on). */
  private setSilent(on: boolean): void {
    const index = this.target.silentIndex;
    if (index === undefined || this.silenced === on || this.closed) return;
    try {
      const started = performance.now();
      this.ports.net.setProtoDown(index, on);
      const ms = Math.round((performance.now() - started) * 1000) / 1000;
      this.silenced = on;
      this.ports.log.log('info', 'vmac-protodown', { instance: this.target.instance, interface: this.target.ifname, on, ms });
    } catch (e) {
      this.ports.log.log('error', 'vmac-protodown-failed', { instance: this.target.instance, interface: this.target.ifname, on, detail: errorText(e) });
    }
  }

  /** True while the router's actions say the VIPs are held (master). */
  get holding(): boolean {
    return this.held;
  }

  /** The VIPs installed now (for status and tests). */
  installedVips(): VirtualIp[] {
    return [...this.installed.values()].map((i) => i.vip);
  }

  /**
   * Takes a batch of the router's actions (send-advert already done by the caller, first).
   * `report` tells the world about the batch (the state-change event, the resource
   * manager): run at once, before the effects, unless the batch takes over, then after
   * its first announcement (see the header). Never throws; the effects run in the
   * background, in order.
   */
  apply(actions: readonly RouterAction[], report?: () => void): void {
    if (this.closed) {
      if (report) this.release([report]);
      return;
    }
    if (!this.working && !this.outbox && actions.some((a) => a.type === 'add-vips')) this.outbox = [];
    if (report) this.notify(report);
    for (const action of actions) {
      switch (action.type) {
        case 'add-vips':
          if (!this.held) this.failed.clear();
          this.held = true;
          this.accept = action.accept;
          break;
        case 'remove-vips':
          this.held = false;
          this.failed.clear();
          this.stopAnnouncing();
          break;
        case 'state-change':
          // Leaving master ends any burst at once, before the removal is even started, and
          // silences the VMAC at once: no ARP/NA answer from the virtual MAC for a VIP that
          // is still being removed (a new master's GARP may already be out).
          if (action.to !== 'master') {
            this.stopAnnouncing();
            this.setSilent(true);
            if (action.to === 'backup') this.prepareTakeover();
          } else {
            this.setSilent(false);
          }
          break;
        case 'announce':
          if (this.held) this.pendingAnnounce = { repeat: action.repeat, reason: action.reason };
          break;
        case 'send-advert':
          break;
      }
    }
    this.kick();
  }

  /** Reload: the VIPs (and Accept_Mode) changed; a master moves to the new set. */
  reconfigure(vips: readonly VirtualIp[], accept: boolean, garpIntervalMs: number): void {
    this.vips = vips;
    this.vipKeys = vips.map(vipKey);
    this.vipAddresses = vips.map((v) => v.address);
    this.garpIntervalMs = garpIntervalMs;
    if (this.held) this.accept = accept;
    this.failed.clear();
    this.frames.clear();
    this.prepareTakeover();
    this.kick();
  }

  /** Re-announces the held VIPs (D-Bus SendGarp); false when they are not held. */
  announce(repeat: number, reason: string): boolean {
    if (!this.held || this.closed) return false;
    this.pendingAnnounce = { repeat, reason };
    this.kick();
    return true;
  }

  /**
   * An address went away without us (an admin, another program): if it is a VIP this
   * master holds, it is put back. Returns true when it will be.
   */
  addressRemoved(ifindex: number, address: IpAddress): boolean {
    if (this.closed) return false;
    for (const [key, entry] of this.installed) {
      if (entry.ifindex !== ifindex || !sameAddress(entry.vip.address, address)) continue;
      // Gone from the kernel whatever we do next: never announced again, never removed by us.
      this.installed.delete(key);
      if (!this.held || !this.vips.some((v) => vipKey(v) === key)) return false;
      this.ports.log.log('warn', 'vip-removed-externally', { instance: this.target.instance, address: address.text, interface: this.target.ifname, action: 'restoring' });
      this.kick();
      return true;
    }
    return false;
  }

  /**
   * Before the instance starts: VIPs a previous run left behind (kill -9, a crash) are
   * removed, as keepalived does at start: a backup holding them would answer ARP beside
   * the master. An address owner (255) keeps them: they are its own, it is master at once.
   */
  async removeStale(owner: boolean): Promise<void> {
    if (owner) return;
    for (const vip of this.vips) {
      try {
        const ifindex = await this.ifindexOf(vip);
        const present = await this.ports.net.addresses(ifindex, vip.address.family);
        if (!present.some((a) => sameAddress(a.address, vip.address))) continue;
        this.ports.log.log('warn', 'stale-vip-removed', { instance: this.target.instance, address: vipText(vip), detail: 'left over from an earlier run' });
        await this.ports.net.removeAddress(ifindex, vip);
      } catch (e) {
        this.ports.log.log('error', 'vip-remove-failed', { instance: this.target.instance, address: vipText(vip), detail: errorText(e) });
      }
    }
  }

  /** Resolves when the worker is idle (everything asked for so far is applied). */
  async settled(): Promise<void> {
    while (this.working) await this.working;
  }

  /** The instance is gone: no more effects (call after settled()). */
  close(): void {
    this.closed = true;
    this.stopAnnouncing();
    this.flushOutbox();
  }

  /** A report: held in the outbox during a takeover, made at once otherwise. */
  private notify(report: () => void): void {
    if (this.outbox) this.outbox.push(report);
    else this.release([report]);
  }

  private emit(event: Parameters<EventStream['emit']>[0]): void {
    this.notify(() => this.ports.events.emit(event));
  }

  /** Releases the outbox, in order (a report that throws is logged; the others still run). */
  private flushOutbox(): void {
    const held = this.outbox;
    if (!held) return;
    this.outbox = undefined;
    this.release(held);
  }

  private release(reports: readonly (() => void)[]): void {
    for (const report of reports) {
      try {
        report();
      } catch (e) {
        this.ports.log.log('error', 'report-failed', { instance: this.target.instance, detail: errorText(e) });
      }
    }
  }

  private kick(): void {
    if (this.closed) return;
    if (this.working) {
      // The worker may already be past its last look at what is wanted (its promise not yet
      // settled): have it look again when it finishes, or this request would wait for the
      // next one (an announce due in the same turn of the loop as another was lost).
      this.again = true;
      return;
    }
    this.again = false;
    this.working = this.run().finally(() => {
      this.working = undefined;
      if (this.again) this.kick();
    });
  }

  private async run(): Promise<void> {
    for (let step = this.nextStep(); step; step = this.nextStep()) {
      try {
        await step();
      } catch (e) {
        this.ports.log.log('error', 'effect-failed', { instance: this.target.instance, detail: errorText(e) });
      }
    }
    this.flushEvents();
    if (this.pendingAnnounce && this.held && !this.closed) {
      const { repeat, reason } = this.pendingAnnounce;
      this.pendingAnnounce = undefined;
      this.startBurst(repeat, reason);
    }
    // After the takeover's first announcement (sent by startBurst just above), or when the
    // worker stops without one.
    this.flushOutbox();
  }

  /** The addresses the filter must block now: the desired ones while held without accept, and whatever is still installed. */
  private wantBlocked(): readonly IpAddress[] {
    if (this.accept) return NOTHING;
    const desired = this.held ? this.vipAddresses : NOTHING;
    let out: IpAddress[] | undefined;
    for (const i of this.installed.values()) {
      if (holds(desired, i.vip.address) || (out !== undefined && holds(out, i.vip.address))) continue;
      (out ??= [...desired]).push(i.vip.address);
    }
    // The steady master (everything installed is desired) builds no array.
    return out ?? desired;
  }

  /** The next thing to do to move toward what should be, or undefined when there is none. */
  private nextStep(): (() => Promise<void>) | undefined {
    if (this.closed) return undefined;
    const block = this.wantBlocked();
    // Block before adding; unblock (a subset) after removing: wantBlocked keeps the installed ones.
    if (!sameSet(block, this.blocked)) return () => this.setFilter(block);
    // Plain loops over keys made beforehand: a master passes here after every advert, and
    // what it allocated here lived long enough to be promoted into V8's old generation
    // (a 200-instance master's saw-tooth; README "Tests and benchmarks").
    if (this.held) {
      for (let i = 0; i < this.vips.length; i++) {
        const key = this.vipKeys[i] as string;
        const missing = this.vips[i] as VirtualIp;
        if (!this.installed.has(key) && !this.failed.has(key)) return () => this.add(missing);
      }
    }
    this.flushAdded();
    for (const key of this.installed.keys()) {
      if (this.held && this.vipKeys.includes(key)) continue;
      const entry = this.installed.get(key) as Installed;
      return () => this.remove(key, entry);
    }
    return undefined;
  }

  private async setFilter(block: readonly IpAddress[]): Promise<void> {
    this.blocked = block;
    const filter = this.ports.filter;
    if (!filter) {
      if (block.length > 0) this.ports.log.log('error', 'accept-filter-failed', { instance: this.target.instance, detail: 'accept: false needs nftables; packets to the VIPs are accepted' });
      return;
    }
    await (block.length > 0 ? filter.block(this.target.instance, block) : filter.unblock(this.target.instance));
  }

  private async ifindexOf(vip: VirtualIp): Promise<number> {
    if (!vip.dev) return this.target.ifindex;
    return (await this.ports.net.link(vip.dev))?.index ?? this.target.ifindex;
  }

  private async add(vip: VirtualIp): Promise<void> {
    const key = vipKey(vip);
    try {
      const ifindex = await this.ifindexOf(vip);
      await this.ports.net.addAddress(ifindex, vip);
      this.installed.set(key, { vip, ifindex });
      this.batchAdded.added.push(vipText(vip));
    } catch (e) {
      this.failed.add(key);
      this.batchAdded.failed.push(vipText(vip));
      this.ports.log.log('error', 'vip-add-failed', { instance: this.target.instance, address: vipText(vip), detail: errorText(e) });
    }
  }

  private async remove(key: string, entry: Installed): Promise<void> {
    // Gone from what we hold whatever the outcome: a removal that failed is not retried.
    this.installed.delete(key);
    try {
      await this.ports.net.removeAddress(entry.ifindex, entry.vip);
      this.batchRemoved.removed.push(vipText(entry.vip));
    } catch (e) {
      this.batchRemoved.failed.push(vipText(entry.vip));
      this.ports.log.log('error', 'vip-remove-failed', { instance: this.target.instance, address: vipText(entry.vip), detail: errorText(e) });
    }
  }

  private flushAdded(): void {
    const { added, failed } = this.batchAdded;
    if (added.length === 0 && failed.length === 0) return;
    this.batchAdded = { added: [], failed: [] };
    this.emit({ kind: 'vips-added', instance: this.target.instance, interface: this.target.ifname, addresses: added, failed });
  }

  private flushEvents(): void {
    this.flushAdded();
    const { removed, failed } = this.batchRemoved;
    if (removed.length === 0 && failed.length === 0) return;
    this.batchRemoved = { removed: [], failed: [] };
    this.emit({ kind: 'vips-removed', instance: this.target.instance, interface: this.target.ifname, addresses: removed, failed });
  }

  /** A new burst replaces one still running (its remaining copies would repeat the same frames). */
  private startBurst(repeat: number, reason: string): void {
    this.stopAnnouncing();
    if (repeat <= 0) return;
    const burst: Burst = { key: {}, of: repeat, round: 0, reason };
    this.burst = burst;
    if (this.garpIntervalMs <= 0) {
      while (this.burst === burst && burst.round < burst.of) this.sendRound(burst);
      if (this.burst === burst) this.burst = undefined;
      return;
    }
    this.sendRound(burst);
    this.armBurst(burst);
  }

  private armBurst(burst: Burst): void {
    if (this.burst !== burst) return;
    if (burst.round >= burst.of) {
      this.burst = undefined;
      return;
    }
    this.ports.scheduler.set(burst.key, this.ports.clock() + this.garpIntervalMs, () => {
      if (this.burst !== burst) return;
      this.sendRound(burst);
      this.armBurst(burst);
    });
  }

  /** One copy for every VIP held and installed; a failure ends the burst. */
  private sendRound(burst: Burst): void {
    burst.round++;
    if (!this.held || this.closed) {
      this.stopAnnouncing();
      return;
    }
    const mac = this.ports.mac();
    if (!mac) {
      this.ports.log.log('warn', 'announce-skipped', { instance: this.target.instance, detail: `no MAC address known for ifindex ${this.target.ifindex}` });
      this.stopAnnouncing();
      return;
    }
    const addresses = this.installedVips().map((v) => v.address);
    if (addresses.length === 0) return;
    try {
      for (const a of addresses) this.ports.frames.send(this.frameFor(a, mac));
    } catch (e) {
      this.ports.log.log('warn', 'announce-failed', { instance: this.target.instance, detail: errorText(e) });
      this.stopAnnouncing();
      return;
    }
    this.emit({ kind: 'announced', instance: this.target.instance, addresses: addresses.map((a) => a.text), round: burst.round, of: burst.of, reason: burst.reason });
  }

  private frameFor(address: IpAddress, mac: MacAddress): Uint8Array {
    const key = `${mac.text} ${address.text}`;
    let frame = this.frames.get(key);
    if (!frame) {
      // A MAC that changes now and then must not grow the cache without end.
      if (this.frames.size >= 4 * Math.max(1, this.vips.length)) this.frames.clear();
      frame = announcementFrame(address, mac);
      this.frames.set(key, frame);
    }
    return frame;
  }

  /**
   * The frames of the configured VIPs from the current MAC (when it is known), and their
   * rtnetlink add/remove requests (those on the instance's interface; a VIP with its own
   * `dev` is looked up at the add).
   */
  private prepareTakeover(): void {
    const mac = this.ports.mac();
    if (mac) for (const v of this.vips) this.frameFor(v.address, mac);
    try {
      this.ports.net.prepareAddresses?.(this.target.ifindex, this.vips.filter((v) => !v.dev));
    } catch {
      // A VIP the kernel request cannot carry: the add at takeover builds it again and
      // reports the error there (vip-add-failed), in the one place failures are reported.
    }
  }

  private stopAnnouncing(): void {
    this.pendingAnnounce = undefined;
    if (!this.burst) return;
    this.ports.scheduler.set(this.burst.key, undefined, () => undefined);
    this.burst = undefined;
  }
}
