/**
 * One configured VRRP instance at the daemon's edge: its config, its router (run by the
 * VRRP node, src/vrrp/node.ts), what it reports (state changes on the event stream,
 * status) and where its effects go (its pipeline, effect-pipeline.ts).
 */
import type { IpAddress } from '../net/address.js';
import { REJECT_COUNTER, type RejectCounts, type RejectReason } from '../vrrp/rejection.js';
import type { RouterAction, RouterConfig, RouterStatus, VirtualRouter } from '../vrrp/router.js';
import type { NodeInstanceConfig } from '../vrrp/node.js';
import type { InstanceConfig, VirtualIp } from '../config/types.js';
import type { Logger } from './logger.js';
import type { EventStream } from '../events/stream.js';

/**
 * Carries out every action but send-advert (sent by the node, first): the VIPs, the
 * Accept_Mode filter and the announcements, in order (effect-pipeline.ts).
 */
export interface EffectSink {
  /**
   * `report` makes the batch known (state-change event, stateChanged): at once before the
   * effects, or after the first announcement when the batch takes over (effect-pipeline.ts).
   */
  apply(actions: readonly RouterAction[], report?: () => void): void;
}

export interface InstancePorts {
  readonly effects: EffectSink;
  readonly log: Logger;
  /** The daemon's event stream: state changes are emitted here. */
  readonly events: EventStream;
  /** Told after every state change (the resource manager follows mastership). */
  readonly stateChanged?: () => void;
}

/** The node's view of an instance: its router config, what it advertises, where adverts go. */
export function nodeInstanceConfig(ic: InstanceConfig, channel: string, router: RouterConfig, multicastGroup: IpAddress): NodeInstanceConfig {
  return {
    name: ic.name,
    channel,
    router,
    virtualAddresses: ic.virtualIps.map((v) => v.address),
    authentication: ic.authentication,
    addressListCheck: ic.addressListCheck,
    checksum: ic.checksum,
    destinations: ic.unicast ? ic.unicast.peers : [multicastGroup],
  };
}

export class VrrpInstance {
  /** Whether the router's actions say the VIPs are held (add-vips without remove-vips since). */
  vipsInstalled = false;
  private currentConfig: InstanceConfig;

  constructor(
    config: InstanceConfig,
    readonly primaryAddress: IpAddress,
    readonly router: VirtualRouter,
    readonly rejects: RejectCounts,
    private readonly ports: InstancePorts,
  ) {
    this.currentConfig = config;
  }

  get config(): InstanceConfig {
    return this.currentConfig;
  }

  /** A reloaded config whose wire identity is unchanged (reload.ts decides); the node reconfigures the router. */
  reconfigure(next: InstanceConfig): void {
    this.currentConfig = next;
  }

  get name(): string {
    return this.config.name;
  }

  /** Logs an advert the codec or the receive checks dropped (the node counted it). */
  logRejection(reason: RejectReason, detail: string, src: IpAddress): void {
    this.ports.log.log('warn', 'advert-dropped', { instance: this.name, reason, counter: REJECT_COUNTER[reason], src: src.text, detail });
  }

  /**
   * The router's actions (adverts already sent by the node): effects to the pipeline, with
   * the report of the state changes (the event, the resource manager's nudge), which the
   * pipeline makes before the effects, or after the first gratuitous ARP / NA of a
   * takeover (effect-pipeline.ts).
   */
  perform(actions: readonly RouterAction[], now: number): void {
    let changes: Extract<RouterAction, { type: 'state-change' }>[] | undefined;
    for (const action of actions) {
      switch (action.type) {
        case 'state-change':
          (changes ??= []).push(action);
          break;
        case 'add-vips':
          this.vipsInstalled = true;
          break;
        case 'remove-vips':
          this.vipsInstalled = false;
          break;
        case 'send-advert':
        case 'announce':
          break;
      }
    }
    if (!changes) {
      this.ports.effects.apply(actions);
      return;
    }
    // What the router says now, read now: the report may run after later batches.
    const priority = this.router.effectivePriority;
    const master = this.router.status(now).master?.address ?? null;
    const events = changes.map((action) => ({
      kind: 'instance-state' as const,
      instance: this.name,
      vrid: this.config.vrid,
      family: this.config.family,
      interface: this.config.interface,
      from: action.from,
      to: action.to,
      reason: action.reason,
      detail: action.detail,
      priority,
      basePriority: this.config.priority,
      master,
    }));
    const stateChanged = this.ports.stateChanged;
    // The effects, in order, by the instance's pipeline (the next batch waits for this one).
    this.ports.effects.apply(actions, () => {
      for (const e of events) this.ports.events.emit(e);
      stateChanged?.();
    });
  }

  allVips(): VirtualIp[] {
    return [...this.config.virtualIps, ...this.config.excludedIps];
  }

  status(now: number): InstanceStatus {
    const rejected: Partial<Record<RejectReason, number>> = {};
    for (const [reason, count] of Object.entries(this.rejects) as [RejectReason, number][]) if (count > 0) rejected[reason] = count;
    return {
      ...this.router.status(now),
      interface: this.config.interface,
      primaryAddress: this.primaryAddress.text,
      virtualIps: this.allVips().map((v) => `${v.address.text}/${v.prefixLength}`),
      vipsInstalled: this.vipsInstalled,
      unicastPeers: this.config.unicast ? this.config.unicast.peers.map((p) => p.text) : [],
      rejected,
    };
  }
}

export interface InstanceStatus extends RouterStatus {
  readonly interface: string;
  readonly primaryAddress: string;
  readonly virtualIps: readonly string[];
  readonly vipsInstalled: boolean;
  readonly unicastPeers: readonly string[];
  readonly rejected: Partial<Record<RejectReason, number>>;
  /** The last state change, as the event stream told it (absent before the first). */
  readonly lastChange?: InstanceLastChange;
}

export interface InstanceLastChange {
  /** The event's sequence number on the daemon's stream. */
  readonly seq: number;
  /** Wall-clock time, ISO 8601. */
  readonly at: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  readonly detail: string;
}

