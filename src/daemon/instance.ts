/**
 * One configured VRRP instance at the edge: it feeds the pure state machine with
 * received adverts, link and tracker changes and timer expiries, and carries out its
 * actions on real things (sockets, addresses, gratuitous ARP / NA) through ports.
 */
import type { IpAddress } from '../net/address.js';
import { decodeAdvert, encodeAdvertInto, type Advert, type PacketMeta } from '../vrrp/codec.js';
import { acceptAdvert, type AcceptancePolicy } from '../vrrp/acceptance.js';
import { emptyRejectCounts, REJECT_COUNTER, type RejectCounts, type RejectReason } from '../vrrp/rejection.js';
import { VirtualRouter, type RouterAction, type RouterConfig, type RouterEvent, type RouterStatus } from '../vrrp/router.js';
import { AUTH_DATA_LENGTH, AUTH_NONE, AUTH_SIMPLE_TEXT, PRIORITY_OWNER, type Priority } from '../vrrp/types.js';
import type { InstanceConfig, VirtualIp } from '../config/types.js';
import type { Logger } from './logger.js';
import type { EventStream } from '../events/stream.js';

/** Sends encoded adverts; the transport adds the IP header (TTL 255). */
export interface AdvertSender {
  send(payload: Uint8Array, dst: IpAddress): void;
}

/**
 * Carries out every action but send-advert (sent by the instance itself, first): the VIPs,
 * the Accept_Mode filter and the announcements, in order (effect-pipeline.ts).
 */
export interface EffectSink {
  apply(actions: readonly RouterAction[]): void;
}

export interface InstancePorts {
  readonly sender: AdvertSender;
  readonly effects: EffectSink;
  readonly log: Logger;
  /** The daemon's event stream: state changes are emitted here. */
  readonly events?: EventStream;
  /** Told after every state change (the resource manager follows mastership). */
  readonly stateChanged?: () => void;
}

const VRRP_MULTICAST: Readonly<Record<'ipv4' | 'ipv6', string>> = { ipv4: '224.0.0.18', ipv6: 'ff02::12' };

export class VrrpInstance {
  readonly router: VirtualRouter;
  readonly rejects: RejectCounts = emptyRejectCounts();
  private policy: AcceptancePolicy;
  private advertTemplate: Advert;
  private readonly sendBuffer = new Uint8Array(1500);
  private destinations: readonly IpAddress[];
  private currentConfig: InstanceConfig;
  /** Whether the router's actions say the VIPs are held (add-vips without remove-vips since). */
  vipsInstalled = false;
  lastStateChangeAt: number | undefined;

  constructor(
    config: InstanceConfig,
    readonly primaryAddress: IpAddress,
    routerConfig: RouterConfig,
    private readonly ports: InstancePorts,
    private readonly multicastGroup: IpAddress,
  ) {
    this.router = new VirtualRouter(routerConfig);
    this.currentConfig = config;
    this.policy = VrrpInstance.policyFor(config);
    this.advertTemplate = VrrpInstance.templateFor(config);
    this.destinations = config.unicast ? config.unicast.peers : [multicastGroup];
  }

  get config(): InstanceConfig {
    return this.currentConfig;
  }

  /**
   * Takes a reloaded config whose wire identity is unchanged (reload.ts decides). The
   * state machine keeps its state; the VIPs follow through the effect pipeline.
   */
  reconfigure(next: InstanceConfig, routerConfig: RouterConfig): void {
    this.currentConfig = next;
    this.router.reconfigure(routerConfig);
    this.policy = VrrpInstance.policyFor(next);
    this.advertTemplate = VrrpInstance.templateFor(next);
    this.destinations = next.unicast ? next.unicast.peers : [this.multicastGroup];
  }

  private static policyFor(config: InstanceConfig): AcceptancePolicy {
    const advertised = config.virtualIps.map((v) => v.address);
    return {
      version: config.version,
      family: config.family,
      vrid: config.vrid,
      isAddressOwner: config.priority === PRIORITY_OWNER,
      advertInterval: config.advertInterval,
      authentication: config.authentication,
      virtualAddresses: advertised,
      addressListCheck: config.addressListCheck,
    };
  }

  private static templateFor(config: InstanceConfig): Advert {
    const advertised = config.virtualIps.map((v) => v.address);
    return config.version === 3
        ? { version: 3, family: config.family, vrid: config.vrid, priority: config.priority, maxAdverInt: config.advertInterval, reserved: 0, addresses: advertised }
        : {
            version: 2,
            family: 'ipv4',
            vrid: config.vrid,
            priority: config.priority,
            adverIntSeconds: config.advertInterval / 100,
            authType: config.authentication.type === 'pass' ? AUTH_SIMPLE_TEXT : AUTH_NONE,
            authData: config.authentication.type === 'pass' ? config.authentication.password : new Uint8Array(AUTH_DATA_LENGTH),
            addresses: advertised,
          };
  }

  get name(): string {
    return this.config.name;
  }

  static multicastGroupText(family: 'ipv4' | 'ipv6'): string {
    return VRRP_MULTICAST[family];
  }

  /** Counts and logs an advert the codec or the receive checks dropped. */
  countRejection(reason: RejectReason, detail: string, src: IpAddress): void {
    this.rejects[reason]++;
    this.ports.log.log('warn', 'advert-dropped', { instance: this.name, reason, counter: REJECT_COUNTER[reason], src: src.text, detail });
  }

  /**
   * A packet for this instance's VRID arrived on its interface: decode it, check it, and
   * hand it to the state machine. Returns the router event to dispatch, or undefined.
   */
  receive(payload: Uint8Array, meta: PacketMeta): RouterEvent | undefined {
    const decoded = decodeAdvert(payload, meta, { v3Ipv4Checksum: this.config.checksum });
    if (!decoded.ok) {
      this.countRejection(decoded.reason, decoded.detail, meta.src);
      return undefined;
    }
    const accepted = acceptAdvert(decoded.advert, this.policy);
    if (!accepted.ok) {
      this.countRejection(accepted.reason, accepted.detail, meta.src);
      return undefined;
    }
    if (accepted.warning) {
      this.rejects[accepted.warning.reason]++;
      this.ports.log.log('warn', 'advert-address-list', { instance: this.name, src: meta.src.text, detail: accepted.warning.detail });
    }
    return { type: 'advert', advert: accepted.advert, src: meta.src };
  }

  /** Carries out the state machine's actions, in order. */
  perform(actions: readonly RouterAction[], now: number): void {
    // The adverts first: on becoming master RFC 5798 §6.4.2 (375) sends the ADVERTISEMENT
    // before anything else, and neither the log line nor the netlink request for the
    // VIPs should delay what the backups are waiting for.
    for (const action of actions) if (action.type === 'send-advert') this.sendAdvert(action.priority);
    for (const action of actions) {
      switch (action.type) {
        case 'state-change':
          this.lastStateChangeAt = now;
          this.ports.log.log(action.to === 'fault' ? 'warn' : 'info', 'state-change', {
            instance: this.name,
            vrid: this.config.vrid,
            family: this.config.family,
            from: action.from,
            to: action.to,
            reason: action.reason,
            detail: action.detail,
            priority: this.router.effectivePriority,
          });
          this.ports.events?.emit({
            kind: 'instance-state',
            instance: this.name,
            vrid: this.config.vrid,
            family: this.config.family,
            interface: this.config.interface,
            from: action.from,
            to: action.to,
            reason: action.reason,
            detail: action.detail,
            priority: this.router.effectivePriority,
            basePriority: this.config.priority,
            master: this.router.status(now).master?.address ?? null,
          });
          break;
        case 'send-advert':
          break;
        case 'add-vips':
          this.vipsInstalled = true;
          break;
        case 'remove-vips':
          this.vipsInstalled = false;
          break;
        case 'announce':
          break;
      }
    }
    // The effects, in order, by the instance's pipeline (the next batch waits for this one).
    this.ports.effects.apply(actions);
    if (this.ports.stateChanged && actions.some((a) => a.type === 'state-change')) this.ports.stateChanged();
  }

  allVips(): VirtualIp[] {
    return [...this.config.virtualIps, ...this.config.excludedIps];
  }

  private sendAdvert(priority: Priority): void {
    const advert: Advert = { ...this.advertTemplate, priority };
    for (const dst of this.destinations) {
      const length = encodeAdvertInto(this.sendBuffer, advert, { src: this.primaryAddress, dst }, { v3Ipv4Checksum: this.config.checksum });
      this.ports.sender.send(this.sendBuffer.subarray(0, length), dst);
    }
  }

  /**
   * Runs the advert encoder once without sending, so a backup's first takeover does not
   * pay for compiling it (a fresh backup has never sent an advert).
   */
  warmUp(): void {
    const advert: Advert = { ...this.advertTemplate, priority: this.config.priority };
    for (const dst of this.destinations) encodeAdvertInto(this.sendBuffer, advert, { src: this.primaryAddress, dst }, { v3Ipv4Checksum: this.config.checksum });
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
}

