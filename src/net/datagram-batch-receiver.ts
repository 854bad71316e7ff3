/**
 * The batch form of DatagramReceiver (src/net/datagram-receiver.ts): what is queued on a
 * non-blocking datagram socket read with recvmmsg(2), up to BATCH datagrams per syscall
 * and per call into the addon, into slots allocated once. A backup hears the adverts of a
 * master's instances in bursts (the master sends the Adver_Timers due together in one
 * wake-up, src/vrrp/timers.ts ADVER_TIMER_EARLY_MS): one recvmmsg takes in a burst where
 * recvmsg took one call per datagram plus the one that found the queue empty.
 *
 * Same surface as DatagramReceiver: the handler reads the current datagram through
 * `data`, `from`, `control`, `fromLength` and `controlLength`, which point at its slot
 * while `datagram` runs. Nothing is allocated per datagram.
 */
import { MSG_TRUNC, type NativeBinding } from '../native/index.js';
import { QueuedDatagramReader, type DatagramHandler } from './datagram-receiver.js';

/** Datagrams per recvmmsg. */
const BATCH = 16;
/** The source sockaddr slot (sockaddr_in6 is the longest: 28 bytes). */
const FROM_SLOT = 28;

export class DatagramBatchReceiver extends QueuedDatagramReader {
  private readonly dataSlots: Buffer[] = [];
  private readonly fromSlots: Buffer[] = [];
  private readonly controlSlots: Buffer[] = [];
  private readonly dataAll: Buffer;
  private readonly fromAll: Buffer;
  private readonly controlAll: Buffer;
  /** recvmmsgInto's out per datagram: data length, sockaddr length, control length, flags. */
  private readonly lengths = new Int32Array(4 * BATCH);
  /** lengths' first 4·k entries, k = 1..BATCH: a smaller batch when the budget is nearly spent. */
  private readonly outs: Int32Array[] = [];
  private current = 0;

  /** `dataBytes` per datagram, as DatagramReceiver's buffer (the pages of a slot are touched only as far as the kernel writes). */
  constructor(
    private readonly dataBytes: number,
    private readonly controlBytes: number,
  ) {
    super();
    this.dataAll = Buffer.allocUnsafeSlow(dataBytes * BATCH);
    this.fromAll = Buffer.alloc(FROM_SLOT * BATCH);
    this.controlAll = Buffer.alloc(controlBytes * BATCH);
    for (let i = 0; i < BATCH; i++) {
      this.dataSlots.push(this.dataAll.subarray(i * dataBytes, (i + 1) * dataBytes));
      this.fromSlots.push(this.fromAll.subarray(i * FROM_SLOT, (i + 1) * FROM_SLOT));
      this.controlSlots.push(this.controlAll.subarray(i * controlBytes, (i + 1) * controlBytes));
      this.outs.push(this.lengths.subarray(0, 4 * (i + 1)));
    }
  }

  /** The current datagram's bytes (its slot). */
  get data(): Buffer {
    return this.dataSlots[this.current] as Buffer;
  }

  /** The current datagram's source sockaddr. */
  get from(): Buffer {
    return this.fromSlots[this.current] as Buffer;
  }

  /** The current datagram's control messages. */
  get control(): Buffer {
    return this.controlSlots[this.current] as Buffer;
  }

  get fromLength(): number {
    return this.lengths[4 * this.current + 1] ?? 0;
  }

  get controlLength(): number {
    return this.lengths[4 * this.current + 2] ?? 0;
  }

  /** Reads at most `budget` queued datagrams from `fd`, BATCH per recvmmsg, handing each to `handler`; returns how many were read. */
  override receive(n: NativeBinding, fd: number, budget: number, handler: DatagramHandler): number {
    let read = 0;
    while (read < budget && handler.isOpen()) {
      const want = Math.min(BATCH, budget - read);
      let got: number;
      try {
        got = n.recvmmsgInto(fd, this.dataAll, this.dataBytes, this.fromAll, FROM_SLOT, this.controlAll, this.controlBytes, this.outs[want - 1] as Int32Array);
      } catch (e) {
        handler.failed(e);
        return read;
      }
      for (let i = 0; i < got && handler.isOpen(); i++) {
        this.current = i;
        read++;
        handler.datagram(this.lengths[4 * i] ?? 0, ((this.lengths[4 * i + 3] ?? 0) & MSG_TRUNC) !== 0);
      }
      this.current = 0;
      // Fewer than asked: the queue was empty when the kernel looked.
      if (got < want) return read;
    }
    return read;
  }
}
