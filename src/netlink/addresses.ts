/**
 * Interface addresses over rtnetlink: adding and removing VIPs idempotently, listing.
 *
 * Identity, as the kernel sees it:
 * - IPv4: address + prefix length (+ peer) on the interface. 10.213.0.100/24 and
 *   10.213.0.100/32 are two different addresses; removal matches the prefix length.
 * - IPv6: the address alone on the interface. Adding fd13::100/64 when fd13::100/128
 *   exists is EEXIST, reported as `changed: false` — the existing prefix stays.
 * - Deleting an IPv4 primary address also deletes its secondaries (same subnet)
 *   unless net.ipv4.conf.<if>.promote_secondaries is 1.
 *
 * `parseAddress` is pure (message → AddressEntry) and used by the event watcher too.
 */
import { addressFromBytes, type AddressFamily, type IpAddress } from '../net/address.js';
import { NetlinkError } from './errors.js';
import { describeIndex } from './links.js';
import {
  attr,
  attrString,
  attrU32,
  decodeError,
  encodeIfAddrMsg,
  findAttr,
  type AttrSpec,
  type Decoded,
  type NetlinkMessage,
} from './message.js';
import { prepareRequest, type NetlinkRequester, type PreparedRequest } from './socket.js';
import { AF_INET, AF_INET6, AF_UNSPEC } from '../net/af.js';
import { IFA, IFA_F, NLM_F, RTM, RT_SCOPE, type ScopeName } from './constants.js';

export interface AddressSpec {
  readonly ifindex: number;
  readonly address: IpAddress;
  readonly prefixLength: number;
  /** IPv4 only (the kernel has no IPv6 labels); at most 15 bytes, conventionally "eth0:vip". */
  readonly label?: string;
  /** Defaults to 'universe'. The kernel ignores it for IPv6 and derives the scope from the address. */
  readonly scope?: ScopeName | number;
  /** IPv6: skip duplicate address detection (IFA_F_NODAD), as VRRP VIPs must (RFC 5798 §8.2). */
  readonly noDad?: boolean;
  /** Used in error messages instead of looking the name up ("eth0"). */
  readonly ifname?: string;
}

export interface AddressEntry {
  readonly family: AddressFamily;
  /** The interface's own address: IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL (IPv6). */
  readonly address: IpAddress;
  /** IFA_ADDRESS when it differs from `address` (a point-to-point peer). */
  readonly peer: IpAddress | null;
  readonly prefixLength: number;
  readonly ifindex: number;
  /** IFA_LABEL (IPv4 only). */
  readonly label: string | null;
  readonly scope: ScopeName | number;
  /** IFA_FLAGS (all 32 bits) or else ifa_flags. */
  readonly flags: number;
  readonly secondary: boolean;
  readonly tentative: boolean;
  readonly dadFailed: boolean;
  readonly deprecated: boolean;
  readonly permanent: boolean;
  readonly noDad: boolean;
}

export interface AddressChange {
  readonly changed: boolean;
}

const SCOPE_BY_VALUE: ReadonlyMap<number, ScopeName> = new Map(
  (Object.entries(RT_SCOPE) as [ScopeName, number][]).map(([name, value]) => [value, name]),
);

export function scopeName(value: number): ScopeName | number {
  return SCOPE_BY_VALUE.get(value) ?? value;
}

function scopeValue(scope: ScopeName | number): number {
  return typeof scope === 'number' ? scope : RT_SCOPE[scope];
}

type AddressMessage = Extract<NetlinkMessage, { kind: 'address' }>;

/** An AddressEntry from an RTM_NEWADDR/RTM_DELADDR message, or a DecodeError. */
export function parseAddress(message: AddressMessage): Decoded<AddressEntry> {
  const { ifaddr, attrs } = message;
  let family: AddressFamily;
  if (ifaddr.family === AF_INET) family = 'ipv4';
  else if (ifaddr.family === AF_INET6) family = 'ipv6';
  else return { ok: false, error: decodeError('bad-attribute-value', 0, `address family ${ifaddr.family} is neither AF_INET nor AF_INET6`) };
  const size = family === 'ipv4' ? 4 : 16;
  const maxPrefix = size * 8;
  if (ifaddr.prefixLength > maxPrefix) {
    return { ok: false, error: decodeError('bad-attribute-value', 1, `prefix length ${ifaddr.prefixLength} exceeds ${maxPrefix}`) };
  }
  const read = (type: number, name: string): Decoded<IpAddress | null> => {
    const a = findAttr(attrs, type);
    if (!a) return { ok: true, value: null };
    if (a.data.length !== size) return { ok: false, error: decodeError('bad-attribute-value', 0, `${name} is ${a.data.length} bytes, expected ${size}`) };
    return { ok: true, value: addressFromBytes(family, a.data) };
  };
  const local = read(IFA.LOCAL, 'IFA_LOCAL');
  if (!local.ok) return local;
  const addr = read(IFA.ADDRESS, 'IFA_ADDRESS');
  if (!addr.ok) return addr;
  const address = local.value ?? addr.value;
  if (!address) return { ok: false, error: decodeError('bad-attribute-value', 0, 'neither IFA_LOCAL nor IFA_ADDRESS is present') };
  const peer = local.value && addr.value && !bytesEqual(local.value.bytes, addr.value.bytes) ? addr.value : null;
  const flags = attrU32(findAttr(attrs, IFA.FLAGS)) ?? ifaddr.flags;
  return {
    ok: true,
    value: {
      family,
      address,
      peer,
      prefixLength: ifaddr.prefixLength,
      ifindex: ifaddr.index,
      label: attrString(findAttr(attrs, IFA.LABEL)) ?? null,
      scope: scopeName(ifaddr.scope),
      flags,
      secondary: (flags & IFA_F.SECONDARY) !== 0 && family === 'ipv4',
      tentative: (flags & IFA_F.TENTATIVE) !== 0,
      dadFailed: (flags & IFA_F.DADFAILED) !== 0,
      deprecated: (flags & IFA_F.DEPRECATED) !== 0,
      permanent: (flags & IFA_F.PERMANENT) !== 0,
      noDad: (flags & IFA_F.NODAD) !== 0,
    },
  };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** "10.213.0.100/24 on eth0 (ifindex 2)"-style description without a lookup. */
function describeSpec(spec: AddressSpec): string {
  const where = spec.ifname !== undefined ? `${spec.ifname} (ifindex ${spec.ifindex})` : `ifindex ${spec.ifindex}`;
  return `${spec.address.text}/${spec.prefixLength} on ${where}`;
}

function validate(spec: AddressSpec, operation: string): void {
  const object = describeSpec(spec);
  const fail = (detail: string): never => {
    throw NetlinkError.local('EINVAL', operation, object, detail);
  };
  if (!Number.isInteger(spec.ifindex) || spec.ifindex <= 0 || spec.ifindex > 0x7fffffff) fail('an interface index is a positive integer');
  const expected = spec.address.family === 'ipv4' ? 4 : 16;
  if (spec.address.bytes.length !== expected) fail(`an ${spec.address.family} address is ${expected} bytes`);
  if (!Number.isInteger(spec.prefixLength) || spec.prefixLength < 0 || spec.prefixLength > expected * 8) {
    fail(`prefix length must be 0..${expected * 8}`);
  }
  if (spec.label !== undefined) {
    if (spec.address.family === 'ipv6') fail('labels exist for IPv4 addresses only');
    const bytes = Buffer.byteLength(spec.label, 'utf8');
    if (bytes === 0 || bytes > 15 || spec.label.includes('\0')) fail('a label is 1..15 bytes (IFNAMSIZ)');
  }
  if (spec.scope !== undefined) {
    const value = scopeValue(spec.scope);
    if (!Number.isInteger(value) || value < 0 || value > 255) fail('scope must be 0..255 or a scope name');
  }
}

function addressAttrs(spec: AddressSpec, flags: number, forDelete: boolean): AttrSpec[] {
  const attrs: AttrSpec[] = [attr.bytes(IFA.LOCAL, spec.address.bytes), attr.bytes(IFA.ADDRESS, spec.address.bytes)];
  if (spec.label !== undefined && !forDelete) attrs.push(attr.string(IFA.LABEL, spec.label));
  // ifa_flags has 8 bits; IFA_FLAGS carries all 32 (and the kernel prefers it).
  if (flags !== 0) attrs.push(attr.u32(IFA.FLAGS, flags));
  return attrs;
}

function familyValue(family: AddressFamily): number {
  return family === 'ipv4' ? AF_INET : AF_INET6;
}

async function withIfname(nl: NetlinkRequester, spec: AddressSpec, e: unknown, operation: string): Promise<never> {
  if (e instanceof NetlinkError && spec.ifname === undefined && e.code !== 'ETIMEDOUT' && e.code !== 'ECLOSED') {
    throw e.withContext(operation, `${spec.address.text}/${spec.prefixLength} on ${await describeIndex(nl, spec.ifindex)}`);
  }
  throw e;
}

/**
 * An address add or removal encoded ahead (prepareAddAddress / prepareRemoveAddress), for
 * `addPreparedAddress` / `removePreparedAddress`: at a takeover only the sequence number
 * is written before the send.
 */
export interface PreparedAddress {
  readonly spec: AddressSpec;
  readonly request: PreparedRequest;
}

/** The RTM_NEWADDR request (NLM_F_CREATE|NLM_F_EXCL) for `spec`, validated and encoded. */
export function prepareAddAddress(spec: AddressSpec): PreparedAddress {
  validate(spec, 'add');
  const flags = spec.noDad === true && spec.address.family === 'ipv6' ? IFA_F.NODAD : 0;
  const request = prepareRequest(
    {
      type: RTM.NEWADDR,
      flags: NLM_F.CREATE | NLM_F.EXCL,
      body: encodeIfAddrMsg({
        family: familyValue(spec.address.family),
        prefixLength: spec.prefixLength,
        flags: flags & 0xff,
        scope: scopeValue(spec.scope ?? 'universe'),
        index: spec.ifindex,
      }),
      attrs: addressAttrs(spec, flags, false),
    },
    { operation: 'add', object: describeSpec(spec) },
  );
  return { spec, request };
}

/** The RTM_DELADDR request for `spec`, validated and encoded. */
export function prepareRemoveAddress(spec: AddressSpec): PreparedAddress {
  validate(spec, 'remove');
  const request = prepareRequest(
    {
      type: RTM.DELADDR,
      body: encodeIfAddrMsg({
        family: familyValue(spec.address.family),
        prefixLength: spec.prefixLength,
        scope: scopeValue(spec.scope ?? 'universe'),
        index: spec.ifindex,
      }),
      attrs: addressAttrs(spec, 0, true),
    },
    { operation: 'remove', object: describeSpec(spec) },
  );
  return { spec, request };
}

/**
 * Adds an address (NLM_F_CREATE|NLM_F_EXCL). Already present (EEXIST) is success with
 * `changed: false`. Other failures reject with a NetlinkError naming the address and
 * interface (e.g. ENODEV for a missing ifindex).
 */
export async function addAddress(nl: NetlinkRequester, spec: AddressSpec): Promise<AddressChange> {
  // async: a spec that does not validate rejects, as before, rather than throwing.
  return addPreparedAddress(nl, prepareAddAddress(spec));
}

/** addAddress for a request encoded ahead. */
export async function addPreparedAddress(nl: NetlinkRequester, prepared: PreparedAddress): Promise<AddressChange> {
  try {
    await nl.sendPrepared(prepared.request);
    return { changed: true };
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'EEXIST') return { changed: false };
    return withIfname(nl, prepared.spec, e, 'add');
  }
}

/**
 * Removes an address. Not present (EADDRNOTAVAIL) is success with `changed: false`.
 * For IPv4 the prefix length must match the configured one, as for `ip addr del`.
 */
export async function removeAddress(nl: NetlinkRequester, spec: AddressSpec): Promise<AddressChange> {
  return removePreparedAddress(nl, prepareRemoveAddress(spec));
}

/** removeAddress for a request encoded ahead. */
export async function removePreparedAddress(nl: NetlinkRequester, prepared: PreparedAddress): Promise<AddressChange> {
  try {
    await nl.sendPrepared(prepared.request);
    return { changed: true };
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'EADDRNOTAVAIL') return { changed: false };
    return withIfname(nl, prepared.spec, e, 'remove');
  }
}

export interface ListAddressesOptions {
  readonly ifindex?: number;
  readonly family?: AddressFamily;
}

/** Every address, or those of one interface and/or family, in the kernel's order. */
export async function listAddresses(nl: NetlinkRequester, options: ListAddressesOptions = {}): Promise<AddressEntry[]> {
  const family = options.family === undefined ? AF_UNSPEC : familyValue(options.family);
  const object = options.ifindex === undefined ? 'addresses' : `addresses of ifindex ${options.ifindex}`;
  const result = await nl.dump({ type: RTM.GETADDR, body: encodeIfAddrMsg({ family }) }, { operation: 'list', object });
  const entries: AddressEntry[] = [];
  for (const m of result.messages) {
    if (m.kind !== 'address') continue;
    const parsed = parseAddress(m);
    if (!parsed.ok) throw NetlinkError.local('EBADMSG', 'list', object, `${parsed.error.reason}: ${parsed.error.detail}`);
    if (options.ifindex !== undefined && parsed.value.ifindex !== options.ifindex) continue;
    if (options.family !== undefined && parsed.value.family !== options.family) continue;
    entries.push(parsed.value);
  }
  return entries;
}
