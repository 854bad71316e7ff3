/**
 * IFLA_PROTO_DOWN on a link, set synchronously: the request is written to a netlink socket
 * of its own and the kernel applies an rtnetlink request within the sendmsg(2) that
 * carries it (rtnetlink_rcv runs in the sender's context), so when `set` returns the
 * carrier is already off or on; the kernel's answer (an error, if any) arrives on that
 * socket afterwards and goes to `onError`. FRR's vrrpd keeps a backup's macvlan in
 * protodown the same way: with protodown on, the kernel transmits nothing from the link
 * (no IGMP/MLD report, no ARP or NA answer) but still delivers what it receives, so a
 * backup hears the master's adverts on its VMAC (measured on Linux 6.18 macvlan; the
 * daemon's VMAC lab test checks it).
 */
import { AF_UNSPEC } from '../net/af.js';
import { IFLA, NLM_F, RTM, errnoName } from './constants.js';
import { attr, decodeDatagram, encodeIfInfoMsg, encodeMessage } from './message.js';
import type { NetlinkTransport, TransportFactory } from './socket.js';
import { nativeTransport } from './transport.js';
import { errorText } from '../base/error-text.js';

/** The RTM_NEWLINK request that sets IFLA_PROTO_DOWN (acknowledged, so a failure is reported). */
export function protoDownRequest(index: number, on: boolean, seq: number): Buffer {
  return encodeMessage(
    { type: RTM.NEWLINK, flags: NLM_F.REQUEST | NLM_F.ACK, seq },
    encodeIfInfoMsg({ family: AF_UNSPEC, index }),
    [attr.u8(IFLA.PROTO_DOWN, on ? 1 : 0)],
  );
}

export class ProtoDownSwitch {
  private readonly transport: NetlinkTransport;
  private seq = Math.floor(Math.random() * 0x7fffffff) + 1;
  private readonly pending = new Map<number, { index: number; on: boolean }>();

  constructor(
    onError: (message: string) => void,
    factory: TransportFactory = nativeTransport,
  ) {
    this.transport = factory({ groups: 0 });
    this.transport.start({
      datagram: (d) => {
        for (const m of decodeDatagram(d).messages) {
          const what = this.pending.get(m.header.seq);
          this.pending.delete(m.header.seq);
          if (m.kind !== 'error') continue;
          const errno = m.error.errno;
          const target = what ? `protodown ${what.on ? 'on' : 'off'} on ifindex ${what.index}` : `protodown (seq ${m.header.seq})`;
          onError(`${target}: ${errnoName(errno) ?? `errno ${errno}`}${m.error.extAck.message ? `: ${m.error.extAck.message}` : ''}`);
        }
      },
      error: (e) => onError(`protodown socket: ${errorText(e)}`),
    });
  }

  /** Sets protodown on `index` now; throws SyscallError when the request cannot be written. */
  set(index: number, on: boolean): void {
    const seq = (this.seq = (this.seq % 0x7fffffff) + 1);
    if (this.pending.size > 64) this.pending.clear();
    this.pending.set(seq, { index, on });
    this.transport.send(protoDownRequest(index, on, seq));
  }

  close(): void {
    this.transport.close();
  }
}
