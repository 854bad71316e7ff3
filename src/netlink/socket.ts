/**
 * NETLINK_ROUTE sockets over an abstract datagram transport.
 *
 * - `NetlinkRequester`: request/ack and dump exchanges, one at a time, matched by
 *   sequence number, each with a timeout. A dump collects its multipart replies up
 *   to NLMSG_DONE and is retried when the kernel flags it NLM_F_DUMP_INTR (the table
 *   changed while it was being dumped).
 * - `NetlinkEventSocket`: a socket bound to multicast groups, delivering every
 *   notification with its message type (RTM_NEWADDR and RTM_DELADDR stay distinct),
 *   and reporting receive-queue overruns (ENOBUFS: notifications were lost, so the
 *   listener must resynchronise from a dump).
 *
 * Requests and events use separate sockets so a burst of notifications can neither
 * delay nor be confused with an acknowledgement.
 *
 * The transport (a real socket from the native addon, or a fake in tests) is behind
 * `NetlinkTransport`, so this file is testable without the kernel.
 */
import { NetlinkError, syscallErrorInfo } from './errors.js';
import {
  decodeDatagram,
  encodeMessage,
  setMessageSeq,
  type AttrSpec,
  type DecodeError,
  type NetlinkMessage,
} from './message.js';
import { errorText } from '../base/error-text.js';
import { NLM_F, messageTypeName } from './constants.js';

export interface ReceiveHandlers {
  /** One received datagram (it may hold several netlink messages). */
  datagram(data: Uint8Array): void;
  /** A receive failure, e.g. SyscallError ENOBUFS when multicast messages were dropped. */
  error(err: unknown): void;
}

export interface NetlinkTransport {
  /** Sends one datagram to the kernel (port 0). Throws on a syscall failure. */
  send(datagram: Uint8Array): void;
  /** Starts delivering received datagrams; called once. */
  start(handlers: ReceiveHandlers): void;
  /**
   * Delivers, at once and without waiting, what is already in the receive queue (to the
   * handlers given to start). Optional: a transport without it delivers through its loop.
   */
  receiveNow?(): void;
  close(): void;
  /** Datagrams the transport dropped because they did not come from the kernel. */
  readonly dropped?: number;
}

export interface TransportOptions {
  /** RTMGRP_* bitmask bound to (0 for a request socket). */
  readonly groups: number;
  /** SO_RCVBUF(FORCE) in bytes, for event sockets that must absorb bursts. */
  readonly receiveBuffer?: number;
}

export type TransportFactory = (options: TransportOptions) => NetlinkTransport;

/** What a request concerns, for error messages: ("add address", "10.213.0.100/24 on eth0 (ifindex 2)"). */
export interface RequestContext {
  readonly operation: string;
  readonly object: string;
  readonly timeoutMs?: number;
}

export interface RequestSpec {
  readonly type: number;
  /** Flags besides NLM_F_REQUEST (and NLM_F_ACK, which requests always carry; NLM_F_DUMP for dumps). */
  readonly flags?: number;
  /** The fixed part: ifinfomsg, ifaddrmsg… */
  readonly body?: Uint8Array;
  readonly attrs?: readonly AttrSpec[];
}

/**
 * A request encoded ahead (flags NLM_F_REQUEST|NLM_F_ACK and the caller's, sequence number
 * 0): `NetlinkRequester.sendPrepared` writes the fresh sequence number into its header and
 * sends it, so a hot path (a VIP add at takeover) builds nothing. The bytes are the ones
 * `request` would build for the same spec (encodeMessage, one encoder).
 */
export interface PreparedRequest {
  readonly type: number;
  readonly datagram: Buffer;
  readonly context: RequestContext;
}

export function prepareRequest(spec: RequestSpec, context: RequestContext): PreparedRequest {
  const flags = NLM_F.REQUEST | NLM_F.ACK | (spec.flags ?? 0);
  return { type: spec.type, datagram: encodeMessage({ type: spec.type, flags, seq: 0 }, spec.body, spec.attrs ?? []), context };
}

export interface RequesterOptions {
  /** Default per-request timeout; 5000 ms. */
  readonly timeoutMs?: number;
  /** How many times a dump interrupted by a concurrent change is retried; 5. */
  readonly dumpRetries?: number;
  /** Called for replies that could not be decoded (besides failing the request they belong to). */
  readonly onDecodeError?: (error: DecodeError) => void;
}

interface Exchange {
  readonly seq: number;
  readonly dump: boolean;
  readonly context: RequestContext;
  readonly replies: NetlinkMessage[];
  interrupted: boolean;
  finish(result: { ok: true } | { ok: false; error: NetlinkError }): void;
}

export interface DumpResult {
  readonly messages: readonly NetlinkMessage[];
  /** How many times the dump had to be restarted because it was interrupted. */
  readonly retries: number;
}

/** Request/ack and dump exchanges on one socket, serialised. */
export class NetlinkRequester {
  private seq: number;
  private current: Exchange | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly timeoutMs: number;
  private readonly dumpRetries: number;
  /** Replies that matched no exchange (late answers to timed-out requests). */
  strayMessages = 0;

  constructor(
    private readonly transport: NetlinkTransport,
    private readonly options: RequesterOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.dumpRetries = options.dumpRetries ?? 5;
    // A random start keeps a restarted daemon from matching a predecessor's late replies.
    this.seq = Math.floor(Math.random() * 0x7fffffff) + 1;
    transport.start({ datagram: (d) => this.onDatagram(d), error: (e) => this.onReceiveError(e) });
  }

  /**
   * Sends a request with NLM_F_ACK and resolves with the replies that preceded the
   * acknowledgement (e.g. the RTM_NEWLINK answering an RTM_GETLINK); rejects with a
   * NetlinkError carrying the kernel's errno.
   */
  request(spec: RequestSpec, context: RequestContext): Promise<readonly NetlinkMessage[]> {
    return this.sendPrepared(prepareRequest(spec, context));
  }

  /**
   * `request` for a request encoded ahead (prepareRequest). Its buffer is reused: the
   * sequence number is written into it just before the send (exchanges are serialised and
   * the kernel copies the datagram inside sendmsg, so no two sends share it in flight).
   */
  sendPrepared(prepared: PreparedRequest): Promise<readonly NetlinkMessage[]> {
    return this.enqueue(() => this.exchange(prepared, prepared.context)).then((x) => x.messages);
  }

  /** A dump (NLM_F_DUMP): every reply message up to NLMSG_DONE. */
  dump(spec: RequestSpec, context: RequestContext): Promise<DumpResult> {
    return this.enqueue(async () => {
      for (let attempt = 0; ; attempt++) {
        const result = await this.exchange(spec, context);
        if (!result.interrupted) return { messages: result.messages, retries: attempt };
        if (attempt >= this.dumpRetries) {
          throw NetlinkError.local('EINTR', context.operation, context.object, `still interrupted after ${attempt + 1} attempts`);
        }
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.current?.finish({ ok: false, error: NetlinkError.local('ECLOSED', this.current.context.operation, this.current.context.object) });
    this.transport.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private nextSeq(): number {
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    return this.seq;
  }

  /** One exchange: a request encoded ahead (acknowledged), or a dump (`spec`, answered up to NLMSG_DONE). */
  private exchange(
    spec: RequestSpec | PreparedRequest,
    context: RequestContext,
  ): Promise<{ messages: readonly NetlinkMessage[]; interrupted: boolean }> {
    const dump = !('datagram' in spec);
    if (this.closed) return Promise.reject(NetlinkError.local('ECLOSED', context.operation, context.object));
    const seq = this.nextSeq();
    let datagram: Buffer;
    if ('datagram' in spec) {
      // Every acknowledged request (prepareRequest: NLM_F_REQUEST|NLM_F_ACK).
      datagram = spec.datagram;
      setMessageSeq(datagram, seq);
    } else {
      // A dump: not acknowledged (the kernel answers NLMSG_DONE).
      datagram = encodeMessage({ type: spec.type, flags: NLM_F.REQUEST | NLM_F.DUMP | (spec.flags ?? 0), seq }, spec.body, spec.attrs ?? []);
    }
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exchange: Exchange = {
        seq,
        dump,
        context,
        replies: [],
        interrupted: false,
        finish: (result) => {
          if (this.current !== exchange) return;
          this.current = undefined;
          if (timer !== undefined) clearTimeout(timer);
          if (result.ok) resolve({ messages: exchange.replies, interrupted: exchange.interrupted });
          else reject(result.error);
        },
      };
      this.current = exchange;
      try {
        this.transport.send(datagram);
      } catch (e) {
        const info = syscallErrorInfo(e);
        const error = info
          ? new NetlinkError({ errno: info.errno, code: info.code, operation: context.operation, object: context.object, kernelMessage: `${info.syscall || 'send'} failed`, cause: e })
          : NetlinkError.local('EINVAL', context.operation, context.object, errorText(e), e);
        exchange.finish({ ok: false, error });
        return;
      }
      // rtnetlink handles a request inside sendmsg (netlink_unicast_kernel -> rtnetlink_rcv,
      // the ack queued by netlink_ack before sendmsg returns): read it now rather than a turn
      // of the event loop later (0.7-0.9 ms on a VIP add at takeover). The replies go through
      // onDatagram, the one place they are matched; what is not there yet (a dump's later
      // parts, a slow kernel path) comes through the loop as before.
      this.transport.receiveNow?.();
      // The timeout is armed only for an exchange still waiting: a request answered inside
      // its sendmsg (a VIP add at takeover) creates no timer (arming it before the send was
      // 70-90 µs of the takeover's add step, trace medians).
      if (this.current !== exchange) return;
      const timeoutMs = context.timeoutMs ?? this.timeoutMs;
      timer = setTimeout(() => {
        exchange.finish({
          ok: false,
          error: NetlinkError.local('ETIMEDOUT', context.operation, context.object, `no answer to ${messageTypeName(spec.type)} seq ${seq} within ${timeoutMs} ms`),
        });
      }, timeoutMs);
    });
  }

  private onDatagram(data: Uint8Array): void {
    const decoded = decodeDatagram(data);
    for (const message of decoded.messages) this.onMessage(message);
    if (decoded.error) {
      this.options.onDecodeError?.(decoded.error);
      // The terminator of the current exchange may be among the lost bytes.
      const x = this.current;
      x?.finish({ ok: false, error: NetlinkError.local('EBADMSG', x.context.operation, x.context.object, `${decoded.error.reason}: ${decoded.error.detail}`) });
    }
  }

  private onMessage(message: NetlinkMessage): void {
    const x = this.current;
    if (!x || message.header.seq !== x.seq) {
      this.strayMessages++;
      return;
    }
    if ((message.header.flags & NLM_F.DUMP_INTR) !== 0) x.interrupted = true;
    switch (message.kind) {
      case 'ack':
        x.finish({ ok: true });
        return;
      case 'error':
        x.finish({ ok: false, error: NetlinkError.fromErrno(message.error.errno, x.context.operation, x.context.object, message.error.extAck.message) });
        return;
      case 'done':
        if (message.errno !== 0) {
          x.finish({ ok: false, error: NetlinkError.fromErrno(message.errno, x.context.operation, x.context.object, message.extAck.message) });
        } else if (x.dump) {
          x.finish({ ok: true });
        }
        return;
      case 'malformed':
        this.options.onDecodeError?.(message.error);
        x.finish({
          ok: false,
          error: NetlinkError.local('EBADMSG', x.context.operation, x.context.object, `${messageTypeName(message.header.type)}: ${message.error.reason}: ${message.error.detail}`),
        });
        return;
      case 'noop':
        return;
      default:
        x.replies.push(message);
    }
  }

  private onReceiveError(e: unknown): void {
    const x = this.current;
    if (!x) return;
    const info = syscallErrorInfo(e);
    x.finish({
      ok: false,
      error: info
        ? new NetlinkError({ errno: info.errno, code: info.code, operation: x.context.operation, object: x.context.object, kernelMessage: 'receive failed', cause: e })
        : NetlinkError.local('EBADMSG', x.context.operation, x.context.object, errorText(e), e),
    });
  }
}

export type EventSocketEvent =
  /** A notification, with its type intact (header.type: RTM_NEWADDR, RTM_DELLINK…). */
  | { readonly type: 'message'; readonly message: NetlinkMessage }
  /** The socket's receive queue overflowed: notifications were lost; resynchronise. */
  | { readonly type: 'overrun'; readonly error: unknown }
  /** A datagram (or message) that did not decode. */
  | { readonly type: 'decode-error'; readonly error: DecodeError }
  /** Any other receive failure. */
  | { readonly type: 'error'; readonly error: unknown };

/** A socket bound to RTMGRP_* groups, delivering notifications as they come. */
export class NetlinkEventSocket {
  private closed = false;

  constructor(
    private readonly transport: NetlinkTransport,
    listener: (event: EventSocketEvent) => void,
  ) {
    transport.start({
      datagram: (data) => {
        if (this.closed) return;
        const decoded = decodeDatagram(data);
        for (const message of decoded.messages) {
          if (this.closed) return;
          if (message.kind === 'malformed') listener({ type: 'decode-error', error: message.error });
          else listener({ type: 'message', message });
        }
        if (decoded.error && !this.closed) listener({ type: 'decode-error', error: decoded.error });
      },
      error: (error) => {
        if (this.closed) return;
        const info = syscallErrorInfo(error);
        listener(info?.code === 'ENOBUFS' ? { type: 'overrun', error } : { type: 'error', error });
      },
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
  }
}
