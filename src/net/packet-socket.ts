/**
 * An AF_PACKET / SOCK_RAW socket on one interface: sends whole Ethernet frames (the
 * gratuitous ARP and unsolicited NA frames of src/vrrp/announce-frames.ts) and, when
 * asked, receives frames of one ethertype.
 *
 * The socket is created with protocol 0, which receives nothing, and then bound to the
 * interface (and to the ethertype when receiving): created with a protocol it would
 * queue frames from every interface until the bind.
 */
import { type MacAddress, macFromBytes } from './mac.js';
import { SOCKADDR_LL_LENGTH, sockaddrLl } from './sockaddr.js';
import {
  ARPHRD_ETHER,
  type NativeBinding,
  type PollHandle,
  SOCK_RAW,
  SyscallError,
  native,
  syscall,
  toSyscallError,
} from '../native/index.js';
import { AF_PACKET } from './af.js';

const ETH_HEADER_LENGTH = 14;
const RECEIVE_BUFFER = 65536;
const RECEIVE_BUDGET = 256;

export interface PacketFrameMeta {
  readonly ifindex: number;
  /** The ethertype, host order. */
  readonly protocol: number;
  /** PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST or PACKET_OUTGOING (our own sends). */
  readonly pktType: number;
  /** The sender's hardware address. */
  readonly src: MacAddress;
}

export interface PacketReceiveOptions {
  /** The ethertype to receive, host order (ETH_P_ARP, ETH_P_IPV6, ETH_P_ALL). */
  readonly protocol: number;
  /** One frame, from the Ethernet header on. A view into a reused buffer: copy it to keep it. */
  readonly onFrame: (frame: Uint8Array, meta: PacketFrameMeta) => void;
  readonly onError?: (error: SyscallError | Error) => void;
}

export interface PacketSocketOptions {
  /** The interface name, e.g. 'eth0'. */
  readonly interface: string;
  /** Receive frames too; without it the socket only sends. */
  readonly receive?: PacketReceiveOptions;
}

export class PacketSocket {
  readonly ifname: string;
  readonly ifindex: number;
  readonly fd: number;

  private readonly n: NativeBinding;
  private readonly poller: PollHandle | undefined;
  private readonly receive: PacketReceiveOptions | undefined;
  /** A sockaddr_ll reused for every send: protocol and destination patched in. */
  private readonly to: Buffer;
  private buffers: { data: Buffer; from: Buffer; control: Buffer; lengths: Int32Array } | undefined;
  private isClosed = false;

  /** Opens and binds the socket. Throws SyscallError naming the interface. */
  static open(options: PacketSocketOptions): PacketSocket {
    return new PacketSocket(options);
  }

  private constructor(options: PacketSocketOptions) {
    const n = native();
    this.n = n;
    this.ifname = options.interface;
    this.receive = options.receive;
    this.ifindex = syscall(options.interface, () => n.ifNameToIndex(options.interface));
    this.fd = syscall(options.interface, () => n.socket(AF_PACKET, SOCK_RAW, 0));
    this.to = sockaddrLl({ ifindex: this.ifindex, hatype: ARPHRD_ETHER, addr: new Uint8Array(6) });
    try {
      const protocol = this.receive?.protocol ?? 0;
      n.bind(this.fd, sockaddrLl({ protocol, ifindex: this.ifindex }));
      if (this.receive) {
        this.buffers = {
          data: Buffer.alloc(RECEIVE_BUFFER),
          from: Buffer.alloc(SOCKADDR_LL_LENGTH),
          control: Buffer.alloc(0),
          lengths: new Int32Array(4),
        };
        this.poller = n.poll(this.fd, (error) => this.readable(error));
      }
    } catch (e) {
      n.close(this.fd);
      throw toSyscallError(e, options.interface);
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Sends one whole Ethernet frame (destination MAC, source MAC, ethertype, payload; no
   * FCS). Throws SyscallError (e.g. ENETDOWN when the interface is down).
   */
  send(frame: Uint8Array): void {
    if (this.isClosed) throw new Error(`packet socket on ${this.ifname} is closed`);
    if (frame.length < ETH_HEADER_LENGTH) throw new RangeError(`a ${frame.length}-byte frame has no Ethernet header`);
    // sll_protocol (network order, as in the frame) and sll_addr (the destination MAC).
    this.to[2] = frame[12] as number;
    this.to[3] = frame[13] as number;
    this.to.set(frame.subarray(0, 6), 12);
    syscall(this.ifname, () => this.n.sendto(this.fd, frame, this.to));
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.poller?.stop();
    syscall(this.ifname, () => this.n.close(this.fd));
  }

  private readable(error?: Error): void {
    const receive = this.receive;
    const b = this.buffers;
    if (this.isClosed || !receive || !b) return;
    if (error) {
      receive.onError?.(toSyscallError(error, this.ifname) as Error);
      return;
    }
    for (let i = 0; i < RECEIVE_BUDGET && !this.isClosed; i++) {
      let got: boolean;
      try {
        got = this.n.recvmsgInto(this.fd, b.data, b.from, b.control, b.lengths);
      } catch (e) {
        receive.onError?.(toSyscallError(e, this.ifname) as Error);
        return;
      }
      if (!got) return;
      const length = Math.min(b.lengths[0] ?? 0, b.data.length);
      const meta: PacketFrameMeta = {
        ifindex: b.from.readInt32LE(4),
        protocol: b.from.readUInt16BE(2),
        pktType: b.from.readUInt8(10),
        src: macFromBytes(b.from, 12),
      };
      receive.onFrame(b.data.subarray(0, length), meta);
    }
  }
}
