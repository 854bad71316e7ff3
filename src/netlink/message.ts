/**
 * The rtnetlink wire format, as pure functions: nlmsghdr, nlmsgerr (with the echoed
 * request and extended-ack TLVs), NLMSG_DONE, ifinfomsg, ifaddrmsg and rtattr (nested
 * too). Netlink integers are in host byte order (linux/netlink.h); attribute payloads
 * that carry addresses are raw network-order bytes.
 *
 * Decoding never throws on what the kernel (or anyone) hands us: a datagram decodes to
 * the messages it holds plus, if its framing broke, a DecodeError value; a message
 * whose framing is sound but whose body is not becomes a `malformed` message.
 * Encoding throws only on programming errors (an attribute longer than 65535 bytes).
 * The constants are in constants.ts.
 */
import { endianness } from 'node:os';
import { AF_UNSPEC } from '../net/af.js';
import {
  errnoName,
  IFADDRMSG_LEN,
  IFINFOMSG_LEN,
  NLM_F,
  NLMSG,
  NLMSG_ALIGNTO,
  NLMSG_HDRLEN,
  nlmsgAlign,
  NLMSGERR_ATTR,
  RTA_HDRLEN,
  RTM,
} from './constants.js';

const LE = endianness() === 'LE';

// ---------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------

export interface NlMsgHeader {
  /** nlmsg_len: header plus payload, unaligned. */
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** nlmsg_pid: the sender's port id (0 for the kernel). */
  readonly pid: number;
}

export interface RtAttr {
  /** The type without NLA_F_NESTED / NLA_F_NET_BYTEORDER. */
  readonly type: number;
  /** NLA_F_NESTED was set (the kernel does not set it on every nested attribute: don't rely on it). */
  readonly nestedFlag: boolean;
  readonly netByteOrder: boolean;
  /** The payload (a view into the datagram). */
  readonly data: Uint8Array;
}

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export interface IfInfoMsg {
  readonly family: number;
  /** ifi_type: ARPHRD_* (1 = Ethernet, 772 = loopback). */
  readonly type: number;
  readonly index: number;
  readonly flags: number;
  readonly change: number;
}

export interface IfAddrMsg {
  readonly family: number;
  readonly prefixLength: number;
  /** ifa_flags: only the low 8 bits; IFA_FLAGS carries all 32. */
  readonly flags: number;
  readonly scope: number;
  readonly index: number;
}

/** Extended ack (NETLINK_EXT_ACK): the kernel's own words on why it refused. */
export interface ExtAck {
  readonly message?: string;
  /** Byte offset in the request of the attribute at fault. */
  readonly offset?: number;
}

export interface NlMsgErr {
  /** Positive errno (the wire has it negated); 0 is an acknowledgement. */
  readonly errno: number;
  readonly code: string | undefined;
  /** The header of the request this answers. */
  readonly request: NlMsgHeader;
  /** The request's payload as echoed, empty when NLM_F_CAPPED (NETLINK_CAP_ACK). */
  readonly requestPayload: Uint8Array;
  readonly extAck: ExtAck;
}

export type DecodeErrorReason =
  | 'truncated-header'
  | 'bad-message-length'
  | 'truncated-body'
  | 'bad-attribute-length'
  | 'bad-attribute-value';

/** A decoding failure as a value: where, why, and what was found. */
export interface DecodeError {
  readonly kind: 'decode-error';
  readonly reason: DecodeErrorReason;
  /** Byte offset within the buffer that was being decoded. */
  readonly offset: number;
  readonly detail: string;
}

export function decodeError(reason: DecodeErrorReason, offset: number, detail: string): DecodeError {
  return { kind: 'decode-error', reason, offset, detail };
}

export function isDecodeError(value: unknown): value is DecodeError {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'decode-error';
}

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeError };

export type NetlinkMessage =
  /** NLMSG_ERROR with error 0: the request succeeded. */
  | { readonly kind: 'ack'; readonly header: NlMsgHeader; readonly ack: NlMsgErr }
  /** NLMSG_ERROR with a non-zero error. */
  | { readonly kind: 'error'; readonly header: NlMsgHeader; readonly error: NlMsgErr }
  /** NLMSG_DONE: end of a multipart (dump) reply; errno is non-zero if the dump failed. */
  | { readonly kind: 'done'; readonly header: NlMsgHeader; readonly errno: number; readonly extAck: ExtAck }
  | { readonly kind: 'noop'; readonly header: NlMsgHeader }
  | { readonly kind: 'overrun'; readonly header: NlMsgHeader }
  /** RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK / RTM_SETLINK: header.type tells which. */
  | { readonly kind: 'link'; readonly header: NlMsgHeader; readonly ifinfo: IfInfoMsg; readonly attrs: readonly RtAttr[] }
  /** RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR: header.type tells which. */
  | { readonly kind: 'address'; readonly header: NlMsgHeader; readonly ifaddr: IfAddrMsg; readonly attrs: readonly RtAttr[] }
  /** Any other type (routes, neighbours…), undecoded. */
  | { readonly kind: 'other'; readonly header: NlMsgHeader; readonly payload: Uint8Array }
  /** Sound framing, unsound body: the header is still known (so its seq can be matched). */
  | { readonly kind: 'malformed'; readonly header: NlMsgHeader; readonly error: DecodeError };

export interface DecodedDatagram {
  readonly messages: readonly NetlinkMessage[];
  /** Set when the framing broke: messages after `error.offset` are lost. */
  readonly error: DecodeError | null;
}

// ---------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function readHeader(dv: DataView, offset: number): NlMsgHeader {
  return {
    length: dv.getUint32(offset, LE),
    type: dv.getUint16(offset + 4, LE),
    flags: dv.getUint16(offset + 6, LE),
    seq: dv.getUint32(offset + 8, LE),
    pid: dv.getUint32(offset + 12, LE),
  };
}

/** Parses a run of rtattrs filling `buf` (trailing padding of fewer than 4 bytes is allowed). */
export function decodeAttributes(buf: Uint8Array): Decoded<readonly RtAttr[]> {
  const dv = view(buf);
  const attrs: RtAttr[] = [];
  let offset = 0;
  while (buf.length - offset >= RTA_HDRLEN) {
    const length = dv.getUint16(offset, LE);
    const rawType = dv.getUint16(offset + 2, LE);
    if (length < RTA_HDRLEN || offset + length > buf.length) {
      return {
        ok: false,
        error: decodeError('bad-attribute-length', offset, `attribute type ${rawType & NLA_TYPE_MASK} has length ${length} with ${buf.length - offset} bytes left`),
      };
    }
    attrs.push({
      type: rawType & NLA_TYPE_MASK,
      nestedFlag: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      data: buf.subarray(offset + RTA_HDRLEN, offset + length),
    });
    offset += nlmsgAlign(length);
  }
  if (offset < buf.length && buf.length - offset >= NLMSG_ALIGNTO) {
    return { ok: false, error: decodeError('bad-attribute-length', offset, `${buf.length - offset} stray bytes after the attributes`) };
  }
  return { ok: true, value: attrs };
}

export function decodeIfInfoMsg(payload: Uint8Array): Decoded<IfInfoMsg> {
  if (payload.length < IFINFOMSG_LEN) {
    return { ok: false, error: decodeError('truncated-body', 0, `ifinfomsg needs ${IFINFOMSG_LEN} bytes, got ${payload.length}`) };
  }
  const dv = view(payload);
  return {
    ok: true,
    value: {
      family: dv.getUint8(0),
      type: dv.getUint16(2, LE),
      index: dv.getInt32(4, LE),
      flags: dv.getUint32(8, LE),
      change: dv.getUint32(12, LE),
    },
  };
}

export function decodeIfAddrMsg(payload: Uint8Array): Decoded<IfAddrMsg> {
  if (payload.length < IFADDRMSG_LEN) {
    return { ok: false, error: decodeError('truncated-body', 0, `ifaddrmsg needs ${IFADDRMSG_LEN} bytes, got ${payload.length}`) };
  }
  const dv = view(payload);
  return {
    ok: true,
    value: {
      family: dv.getUint8(0),
      prefixLength: dv.getUint8(1),
      flags: dv.getUint8(2),
      scope: dv.getUint8(3),
      index: dv.getUint32(4, LE),
    },
  };
}

function decodeExtAck(tlvs: Uint8Array): ExtAck {
  // Extended-ack TLVs are advisory: if they are broken, there simply is no detail.
  const parsed = decodeAttributes(tlvs);
  if (!parsed.ok) return {};
  let message: string | undefined;
  let offset: number | undefined;
  for (const a of parsed.value) {
    if (a.type === NLMSGERR_ATTR.MSG) message = attrString(a);
    else if (a.type === NLMSGERR_ATTR.OFFS) offset = attrU32(a);
  }
  return { ...(message === undefined ? {} : { message }), ...(offset === undefined ? {} : { offset }) };
}

/** The body of an NLMSG_ERROR: errno, the echoed request header (and payload unless capped), ext-ack TLVs. */
export function decodeNlMsgErr(payload: Uint8Array, flags: number): Decoded<NlMsgErr> {
  if (payload.length < 4 + NLMSG_HDRLEN) {
    return { ok: false, error: decodeError('truncated-body', 0, `nlmsgerr needs ${4 + NLMSG_HDRLEN} bytes, got ${payload.length}`) };
  }
  const dv = view(payload);
  const raw = dv.getInt32(0, LE);
  const request = readHeader(dv, 4);
  const capped = (flags & NLM_F.CAPPED) !== 0;
  let echoedEnd = 4 + NLMSG_HDRLEN;
  if (!capped) {
    if (request.length < NLMSG_HDRLEN || 4 + request.length > payload.length) {
      return { ok: false, error: decodeError('truncated-body', 4, `echoed request claims ${request.length} bytes, ${payload.length - 4} present`) };
    }
    echoedEnd = 4 + request.length;
  }
  const requestPayload = payload.subarray(4 + NLMSG_HDRLEN, echoedEnd);
  const tlvStart = nlmsgAlign(echoedEnd);
  const extAck = (flags & NLM_F.ACK_TLVS) !== 0 && tlvStart < payload.length ? decodeExtAck(payload.subarray(tlvStart)) : {};
  // The kernel sends -errno; accept a positive value too rather than inventing a sign.
  const errno = raw === -2147483648 ? 2147483647 : Math.abs(raw);
  return { ok: true, value: { errno, code: errnoName(errno), request, requestPayload, extAck } };
}

function decodeBody(header: NlMsgHeader, payload: Uint8Array): NetlinkMessage {
  const malformed = (error: DecodeError): NetlinkMessage => ({ kind: 'malformed', header, error });
  switch (header.type) {
    case NLMSG.NOOP:
      return { kind: 'noop', header };
    case NLMSG.OVERRUN:
      return { kind: 'overrun', header };
    case NLMSG.ERROR: {
      const e = decodeNlMsgErr(payload, header.flags);
      if (!e.ok) return malformed(e.error);
      return e.value.errno === 0 ? { kind: 'ack', header, ack: e.value } : { kind: 'error', header, error: e.value };
    }
    case NLMSG.DONE: {
      // The payload is an int (0 or -errno); very old kernels sent none.
      if (payload.length < 4) return { kind: 'done', header, errno: 0, extAck: {} };
      const raw = view(payload).getInt32(0, LE);
      const extAck = (header.flags & NLM_F.ACK_TLVS) !== 0 && payload.length > 4 ? decodeExtAck(payload.subarray(4)) : {};
      return { kind: 'done', header, errno: raw === -2147483648 ? 2147483647 : Math.abs(raw), extAck };
    }
    case RTM.NEWLINK:
    case RTM.DELLINK:
    case RTM.GETLINK:
    case RTM.SETLINK: {
      const ifinfo = decodeIfInfoMsg(payload);
      if (!ifinfo.ok) return malformed(ifinfo.error);
      const attrs = decodeAttributes(payload.subarray(nlmsgAlign(IFINFOMSG_LEN)));
      if (!attrs.ok) return malformed({ ...attrs.error, offset: attrs.error.offset + IFINFOMSG_LEN });
      return { kind: 'link', header, ifinfo: ifinfo.value, attrs: attrs.value };
    }
    case RTM.NEWADDR:
    case RTM.DELADDR:
    case RTM.GETADDR: {
      const ifaddr = decodeIfAddrMsg(payload);
      if (!ifaddr.ok) return malformed(ifaddr.error);
      const attrs = decodeAttributes(payload.subarray(nlmsgAlign(IFADDRMSG_LEN)));
      if (!attrs.ok) return malformed({ ...attrs.error, offset: attrs.error.offset + IFADDRMSG_LEN });
      return { kind: 'address', header, ifaddr: ifaddr.value, attrs: attrs.value };
    }
    default:
      return { kind: 'other', header, payload };
  }
}

/**
 * Splits one received datagram into its messages (the kernel packs several into one,
 * notably in dumps) and decodes each. Never throws.
 */
export function decodeDatagram(buf: Uint8Array): DecodedDatagram {
  const dv = view(buf);
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const left = buf.length - offset;
    if (left < NLMSG_HDRLEN) {
      // Alignment padding after the last message is fine; anything longer is a cut header.
      if (left < NLMSG_ALIGNTO) break;
      return { messages, error: decodeError('truncated-header', offset, `${left} bytes left, a header needs ${NLMSG_HDRLEN}`) };
    }
    const header = readHeader(dv, offset);
    if (header.length < NLMSG_HDRLEN || header.length > left) {
      return { messages, error: decodeError('bad-message-length', offset, `nlmsg_len ${header.length} with ${left} bytes left`) };
    }
    const payload = buf.subarray(offset + NLMSG_HDRLEN, offset + header.length);
    messages.push(decodeBody(header, payload));
    offset += nlmsgAlign(header.length);
  }
  return { messages, error: null };
}

// ---------------------------------------------------------------------------------
// Attribute accessors (undefined when the attribute is missing or the wrong size)
// ---------------------------------------------------------------------------------

export function findAttr(attrs: readonly RtAttr[], type: number): RtAttr | undefined {
  return attrs.find((a) => a.type === type);
}

export function attrU8(a: RtAttr | undefined): number | undefined {
  return a !== undefined && a.data.length >= 1 ? (a.data[0] ?? 0) : undefined;
}

export function attrU16(a: RtAttr | undefined): number | undefined {
  return a !== undefined && a.data.length >= 2 ? view(a.data).getUint16(0, !a.netByteOrder && LE) : undefined;
}

export function attrU32(a: RtAttr | undefined): number | undefined {
  return a !== undefined && a.data.length >= 4 ? view(a.data).getUint32(0, !a.netByteOrder && LE) : undefined;
}

export function attrI32(a: RtAttr | undefined): number | undefined {
  return a !== undefined && a.data.length >= 4 ? view(a.data).getInt32(0, !a.netByteOrder && LE) : undefined;
}

/** A NUL-terminated (or unterminated) string attribute, decoded as UTF-8 up to the first NUL. */
export function attrString(a: RtAttr | undefined): string | undefined {
  if (a === undefined) return undefined;
  const nul = a.data.indexOf(0);
  return Buffer.from(a.data.buffer, a.data.byteOffset, nul === -1 ? a.data.length : nul).toString('utf8');
}

/** The attributes nested inside `a`, or a DecodeError if they don't parse. */
export function attrNested(a: RtAttr): Decoded<readonly RtAttr[]> {
  return decodeAttributes(a.data);
}

// ---------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------

export type AttrSpec =
  | { readonly type: number; readonly value: Uint8Array }
  | { readonly type: number; readonly nested: readonly AttrSpec[]; readonly nestedFlag?: boolean };

function u32Bytes(value: number): Uint8Array {
  const b = new Uint8Array(4);
  view(b).setUint32(0, value >>> 0, LE);
  return b;
}

/** Builders for attribute specs (host byte order for integers). */
export const attr = {
  bytes: (type: number, value: Uint8Array): AttrSpec => ({ type, value }),
  u8: (type: number, value: number): AttrSpec => ({ type, value: Uint8Array.of(value & 0xff) }),
  u16: (type: number, value: number): AttrSpec => {
    const b = new Uint8Array(2);
    view(b).setUint16(0, value & 0xffff, LE);
    return { type, value: b };
  },
  u32: (type: number, value: number): AttrSpec => ({ type, value: u32Bytes(value) }),
  i32: (type: number, value: number): AttrSpec => {
    const b = new Uint8Array(4);
    view(b).setInt32(0, value | 0, LE);
    return { type, value: b };
  },
  /** NUL-terminated, as the kernel's NLA_STRING / NLA_NUL_STRING policies both accept. */
  string: (type: number, value: string): AttrSpec => {
    const text = Buffer.from(value, 'utf8');
    const b = new Uint8Array(text.length + 1);
    b.set(text);
    return { type, value: b };
  },
  nested: (type: number, children: readonly AttrSpec[], nestedFlag = false): AttrSpec => ({ type, nested: children, nestedFlag }),
};

function attrLength(spec: AttrSpec): number {
  if ('value' in spec) return RTA_HDRLEN + spec.value.length;
  let total = RTA_HDRLEN;
  for (const child of spec.nested) total += nlmsgAlign(attrLength(child));
  return total;
}

function writeAttr(out: Uint8Array, dv: DataView, offset: number, spec: AttrSpec): number {
  const length = attrLength(spec);
  if (length > 0xffff) throw new RangeError(`attribute type ${spec.type} is ${length} bytes; rta_len is 16 bits`);
  const type = 'nested' in spec && spec.nestedFlag === true ? spec.type | NLA_F_NESTED : spec.type;
  dv.setUint16(offset, length, LE);
  dv.setUint16(offset + 2, type, LE);
  if ('value' in spec) {
    out.set(spec.value, offset + RTA_HDRLEN);
  } else {
    let inner = offset + RTA_HDRLEN;
    for (const child of spec.nested) inner += writeAttr(out, dv, inner, child);
  }
  return nlmsgAlign(length);
}

/** The attributes, each padded to 4 bytes. */
export function encodeAttributes(specs: readonly AttrSpec[]): Buffer {
  let total = 0;
  for (const s of specs) total += nlmsgAlign(attrLength(s));
  const out = Buffer.alloc(total);
  const dv = view(out);
  let offset = 0;
  for (const s of specs) offset += writeAttr(out, dv, offset, s);
  return out;
}

export function encodeIfInfoMsg(m: Partial<IfInfoMsg> = {}): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  const dv = view(b);
  dv.setUint8(0, m.family ?? AF_UNSPEC);
  dv.setUint16(2, m.type ?? 0, LE);
  dv.setInt32(4, m.index ?? 0, LE);
  dv.setUint32(8, (m.flags ?? 0) >>> 0, LE);
  dv.setUint32(12, (m.change ?? 0) >>> 0, LE);
  return b;
}

export function encodeIfAddrMsg(m: Partial<IfAddrMsg> = {}): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  const dv = view(b);
  dv.setUint8(0, m.family ?? AF_UNSPEC);
  dv.setUint8(1, m.prefixLength ?? 0);
  dv.setUint8(2, (m.flags ?? 0) & 0xff);
  dv.setUint8(3, m.scope ?? 0);
  dv.setUint32(4, (m.index ?? 0) >>> 0, LE);
  return b;
}

export interface HeaderSpec {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid?: number;
}

/** One complete message: header, the fixed body (ifinfomsg, ifaddrmsg…), then the attributes. */
export function encodeMessage(header: HeaderSpec, body: Uint8Array = new Uint8Array(0), attrs: readonly AttrSpec[] = []): Buffer {
  const encodedAttrs = encodeAttributes(attrs);
  const bodyLength = attrs.length > 0 ? nlmsgAlign(body.length) : body.length;
  const length = NLMSG_HDRLEN + bodyLength + encodedAttrs.length;
  const out = Buffer.alloc(nlmsgAlign(length));
  const dv = view(out);
  dv.setUint32(0, length, LE);
  dv.setUint16(4, header.type, LE);
  dv.setUint16(6, header.flags, LE);
  dv.setUint32(8, header.seq >>> 0, LE);
  dv.setUint32(12, (header.pid ?? 0) >>> 0, LE);
  out.set(body, NLMSG_HDRLEN);
  out.set(encodedAttrs, NLMSG_HDRLEN + bodyLength);
  return out;
}

/** Writes nlmsg_seq (header bytes 8..11, host byte order) of an encoded message in place. */
export function setMessageSeq(message: Buffer, seq: number): void {
  view(message).setUint32(8, seq >>> 0, LE);
}

/**
 * An NLMSG_ERROR as the kernel builds it (for tests and fakes): `errno` positive (0 = ack),
 * echoing `request` in full unless `capped`, with an optional ext-ack message.
 */
export function encodeNlMsgErr(
  errno: number,
  request: Uint8Array,
  options: { readonly seq?: number; readonly pid?: number; readonly capped?: boolean; readonly extAckMessage?: string } = {},
): Buffer {
  const reqView = view(request);
  const reqHeaderLength = request.length >= NLMSG_HDRLEN ? NLMSG_HDRLEN : request.length;
  const reqLength = request.length >= 4 ? Math.min(reqView.getUint32(0, LE), request.length) : 0;
  const echoed = options.capped === true ? request.subarray(0, reqHeaderLength) : request.subarray(0, reqLength);
  const echoBuf = Buffer.alloc(NLMSG_HDRLEN);
  echoBuf.set(echoed.subarray(0, NLMSG_HDRLEN));
  const body = Buffer.alloc(4 + Math.max(NLMSG_HDRLEN, echoed.length));
  view(body).setInt32(0, -errno, LE);
  body.set(echoBuf, 4);
  body.set(echoed.subarray(NLMSG_HDRLEN), 4 + NLMSG_HDRLEN);
  const seq = options.seq ?? (request.length >= 12 ? reqView.getUint32(8, LE) : 0);
  let flags = options.capped === true ? NLM_F.CAPPED : 0;
  const tlvs: AttrSpec[] = [];
  if (options.extAckMessage !== undefined) {
    flags |= NLM_F.ACK_TLVS;
    tlvs.push(attr.string(NLMSGERR_ATTR.MSG, options.extAckMessage));
  }
  return encodeMessage({ type: NLMSG.ERROR, flags, seq, pid: options.pid ?? 0 }, body, tlvs);
}

/** An NLMSG_DONE ending a dump (errno positive or 0). */
export function encodeDone(seq: number, errno = 0, pid = 0): Buffer {
  const body = Buffer.alloc(4);
  view(body).setInt32(0, -errno, LE);
  return encodeMessage({ type: NLMSG.DONE, flags: NLM_F.MULTI, seq, pid }, body);
}

/** Checks a name fits IFNAMSIZ (16 with the NUL) and has no '/', NUL or whitespace, as dev_valid_name() requires. */
export function validInterfaceName(name: string): boolean {
  if (name.length === 0 || Buffer.byteLength(name, 'utf8') > 15) return false;
  if (name === '.' || name === '..') return false;
  return !/[/:\s\0]/.test(name);
}
