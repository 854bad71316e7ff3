/**
 * Reading what is queued on a non-blocking datagram socket (raw VRRP, UDP heartbeats)
 * through the addon's recvmsg into buffers allocated once: the one loop both transports
 * run from their poll callback and from drain() (a caller about to act on an expired
 * timer takes in what already arrived first). Nothing is allocated per datagram here.
 */
import { MSG_TRUNC, type NativeBinding } from '../native/index.js';

/** What a transport does with each datagram and each failure; created once per transport. */
export interface DatagramHandler {
  /** False once the socket is closed: the loop stops. */
  readonly isOpen: () => boolean;
  /** recvmsg threw (the loop stops, what was read stays read). */
  readonly failed: (error: unknown) => void;
  /** One datagram of `length` bytes in `data` (its source in `from`, control messages in `control`); `truncated`: longer than the buffer and cut (MSG_TRUNC). */
  readonly datagram: (length: number, truncated: boolean) => void;
}

/**
 * The two entry points every receiver has, one rule: the poll callback, and drain() for a
 * caller about to act on an expired timer. Subclasses read with recvmsg or recvmmsg.
 */
export abstract class QueuedDatagramReader {
  /** The poll callback: an error (the socket's) goes to `failed`, else up to `budget` datagrams are read. */
  readable(n: NativeBinding, fd: number, error: Error | undefined, budget: number, handler: DatagramHandler): void {
    if (!handler.isOpen()) return;
    if (error) handler.failed(error);
    else this.receive(n, fd, budget, handler);
  }

  /**
   * Takes in, synchronously, what is already queued (at most `budget`), as the poll
   * callback would: for a caller about to act on an expired timer. After a stall (a
   * SIGSTOP, a long GC pause) the event loop runs expired timers before it polls, so what
   * arrived during the stall would otherwise be read only after the timer acted.
   */
  drain(n: NativeBinding, fd: number, budget: number, handler: DatagramHandler): number {
    return handler.isOpen() ? this.receive(n, fd, budget, handler) : 0;
  }

  /** Reads at most `budget` queued datagrams from `fd`, handing each to `handler`; returns how many were read. */
  abstract receive(n: NativeBinding, fd: number, budget: number, handler: DatagramHandler): number;
}

export class DatagramReceiver extends QueuedDatagramReader {
  readonly data: Buffer;
  /** The source sockaddr (sockaddr_in6 is the longest: 28 bytes). */
  readonly from = Buffer.alloc(28);
  readonly control: Buffer;
  /** recvmsgInto's out: data length, sockaddr length, control length, flags. */
  readonly lengths = new Int32Array(4);

  constructor(dataBytes: number, controlBytes: number) {
    super();
    this.data = Buffer.alloc(dataBytes);
    this.control = Buffer.alloc(controlBytes);
  }

  /** The sockaddr's length of the last datagram read. */
  get fromLength(): number {
    return this.lengths[1] ?? 0;
  }

  /** The control messages' length of the last datagram read. */
  get controlLength(): number {
    return this.lengths[2] ?? 0;
  }

  /** Reads at most `budget` queued datagrams from `fd` (recvmsg is non-blocking), handing each to `handler`; returns how many were read. */
  override receive(n: NativeBinding, fd: number, budget: number, handler: DatagramHandler): number {
    let read = 0;
    for (let i = 0; i < budget && handler.isOpen(); i++) {
      let got: boolean;
      try {
        got = n.recvmsgInto(fd, this.data, this.from, this.control, this.lengths);
      } catch (e) {
        handler.failed(e);
        return read;
      }
      if (!got) return read;
      read++;
      handler.datagram(this.lengths[0] ?? 0, ((this.lengths[3] ?? 0) & MSG_TRUNC) !== 0);
    }
    return read;
  }
}
