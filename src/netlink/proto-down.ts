/**
 * IFLA_PROTO_DOWN on a link, set synchronously: the request is written to a netlink socket
 * of its own and the kernel applies an rtnetlink request within the sendmsg(2) that
 * carries it (rtnetlink_rcv runs in the sender's context); the kernel's answer (an error,
 * if any) arrives on that socket afterwards and goes to `onError`. FRR's vrrpd keeps a
 * backup's macvlan in protodown the same way: with protodown on, the kernel transmits
 * nothing from the link (no IGMP/MLD report, no ARP or NA answer) but still delivers what
 * it receives, so a backup hears the master's adverts on its VMAC (measured on Linux 6.18
 * macvlan; the daemon's VMAC lab test checks it).
 *
 * Lifting protodown turns the carrier on at once, but the link transmits only once the
 * kernel's link watch has run for it (linkwatch_do_dev → dev_activate swaps the noop
 * qdisc, which drops every frame, for the real one), and that runs later, on a kworker.
 * A new master's first advert and gratuitous ARPs, sent right after, raced it and were
 * dropped without an error (the VMAC lab test caught a dual master at start: the higher
 * priority's first advert never left). So "off" carries an RTM_GETLINK for the link in
 * the same sendmsg: since Linux 6.8 rtnl_getlink runs linkwatch_sync_dev first ("so we
 * don't report a state that we're not actually going to honour immediately"), and the
 * link transmits when `set` returns. The reply's IFLA_OPERSTATE tells whether that
 * happened: a kernel without the sync answers with the link not yet up, and that is
 * reported to `onError` (what was sent right after may have been dropped).
 */
import { AF_UNSPEC } from '../net/af.js';
import { IFLA, NLM_F, OPERSTATES, RTM, errnoName } from './constants.js';
import { attr, attrU8, decodeDatagram, encodeIfInfoMsg, encodeMessage, findAttr } from './message.js';
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

/**
 * The RTM_GETLINK sent after "protodown off" in the same sendmsg: the kernel (≥ 6.8) runs
 * the link's pending link watch before it answers, so the link transmits from then on.
 * IFLA_EXT_MASK 0: no VF or stats extras in the answer.
 */
export function linkSyncRequest(index: number, seq: number): Buffer {
  return encodeMessage(
    { type: RTM.GETLINK, flags: NLM_F.REQUEST, seq },
    encodeIfInfoMsg({ family: AF_UNSPEC, index }),
    [attr.u32(IFLA.EXT_MASK, 0)],
  );
}

/** IF_OPER_UP: what a link reports once the link watch has activated it. */
const OPER_UP = OPERSTATES.indexOf('up');

interface Pending {
  readonly index: number;
  readonly on: boolean;
  /** The RTM_GETLINK that followed a "protodown off": its answer carries the operstate. */
  readonly sync: boolean;
}

export class ProtoDownSwitch {
  private readonly transport: NetlinkTransport;
  private seq = Math.floor(Math.random() * 0x7fffffff) + 1;
  private readonly pending = new Map<number, Pending>();

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
          if (m.kind === 'link' && what?.sync) {
            const oper = attrU8(findAttr(m.attrs, IFLA.OPERSTATE));
            if (oper !== undefined && oper !== OPER_UP) {
              onError(
                `protodown off on ifindex ${what.index}: the link was not yet transmitting when the request returned ` +
                  `(operstate ${OPERSTATES[oper] ?? oper}; a kernel before 6.8 does not run the link watch for RTM_GETLINK), ` +
                  'so the advert and announcements sent right after may have been dropped',
              );
            }
            continue;
          }
          if (m.kind !== 'error') continue;
          const errno = m.error.errno;
          const target = what ? `protodown ${what.on ? 'on' : 'off'} on ifindex ${what.index}` : `protodown (seq ${m.header.seq})`;
          onError(`${target}: ${errnoName(errno) ?? `errno ${errno}`}${m.error.extAck.message ? `: ${m.error.extAck.message}` : ''}`);
        }
      },
      error: (e) => onError(`protodown socket: ${errorText(e)}`),
    });
  }

  /**
   * Sets protodown on `index` now; when lifting it, the link transmits when this returns
   * (see the header). Throws SyscallError when the request cannot be written.
   */
  set(index: number, on: boolean): void {
    if (this.pending.size > 64) this.pending.clear();
    const seq = this.nextSeq();
    this.pending.set(seq, { index, on, sync: false });
    const request = protoDownRequest(index, on, seq);
    if (on) {
      this.transport.send(request);
      return;
    }
    // Only after "off": the link watch of "on" tears the qdisc down (dev_deactivate waits
    // for an RCU grace period), which the sender need not wait for.
    const syncSeq = this.nextSeq();
    this.pending.set(syncSeq, { index, on, sync: true });
    this.transport.send(Buffer.concat([request, linkSyncRequest(index, syncSeq)]));
  }

  private nextSeq(): number {
    return (this.seq = (this.seq % 0x7fffffff) + 1);
  }

  close(): void {
    this.transport.close();
  }
}
