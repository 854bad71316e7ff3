/**
 * The daemon's VRRP sockets: one per interface, family and mode (multicast or unicast),
 * shared by the instances on it (the VRRP node tells them apart by VRID), opened by the
 * first instance and closed with the last.
 */
import type { Logger } from './logger.js';
import type { ChannelPacketMeta, SocketPorts, VrrpChannel, VrrpChannelOptions } from './ports.js';

export interface SocketCounters {
  readonly received: number;
  readonly sent: number;
  readonly malformed: number;
  readonly receiveErrors: number;
}

export class SocketPool {
  private readonly channels = new Map<string, { readonly channel: VrrpChannel; readonly users: Set<string> }>();

  constructor(
    private readonly sockets: SocketPorts,
    private readonly log: Logger,
    private readonly onPacket: (key: string, payload: Uint8Array, meta: ChannelPacketMeta) => void,
  ) {}

  /** "eth0/ipv4/multicast": the key of the socket an instance uses. */
  static keyOf(options: Pick<VrrpChannelOptions, 'ifname' | 'family' | 'multicast'>): string {
    return `${options.ifname}/${options.family}/${options.multicast ? 'multicast' : 'unicast'}`;
  }

  /** The socket for `options`, opened if no instance has it yet; `user` holds it until release. */
  acquire(user: string, options: VrrpChannelOptions): { readonly key: string; readonly channel: VrrpChannel } {
    const key = SocketPool.keyOf(options);
    let entry = this.channels.get(key);
    if (!entry) {
      const channel = this.sockets.openVrrp(
        options,
        (payload, meta) => this.onPacket(key, payload, meta),
        (message) => this.log.log('warn', 'socket-error', { socket: key, detail: message }),
      );
      entry = { channel, users: new Set() };
      this.channels.set(key, entry);
    }
    entry.users.add(user);
    return { key, channel: entry.channel };
  }

  /** `user` no longer needs the socket `key`; the last one out closes it. */
  release(key: string, user: string): void {
    const entry = this.channels.get(key);
    if (!entry) return;
    entry.users.delete(user);
    if (entry.users.size > 0) return;
    entry.channel.close();
    this.channels.delete(key);
  }

  /** Takes in what is queued on socket `key` (see VrrpChannel.drain); 0 when it is not open. */
  drain(key: string): number {
    return this.channels.get(key)?.channel.drain() ?? 0;
  }

  closeAll(): void {
    for (const entry of this.channels.values()) entry.channel.close();
    this.channels.clear();
  }

  keys(): string[] {
    return [...this.channels.keys()];
  }

  counters(): Record<string, SocketCounters> {
    const out: Record<string, SocketCounters> = {};
    for (const [key, entry] of this.channels) {
      const c = entry.channel.counters();
      out[key] = { received: c.received, sent: c.sent, malformed: c.malformed, receiveErrors: c.receiveErrors };
    }
    return out;
  }
}
