/**
 * Links (network interfaces) over rtnetlink: listing, lookup, admin up/down, and the
 * macvlan interfaces VRRP uses as virtual-MAC interfaces (VMACs).
 *
 * `parseLink` is pure (message → Link) and used by the event watcher too.
 */
import { macFromBytes, sameMac, type MacAddress } from '../net/mac.js';
import { NetlinkError } from './errors.js';
import {
  attr,
  attrNested,
  attrString,
  attrU32,
  attrU8,
  decodeError,
  encodeIfInfoMsg,
  findAttr,
  validInterfaceName,
  type Decoded,
  type NetlinkMessage,
} from './message.js';
import type { NetlinkRequester } from './socket.js';
import { AF_UNSPEC } from '../net/af.js';
import { IFF, IFLA, IFLA_INFO, IFLA_MACVLAN, MACVLAN_MODE, NLM_F, OPERSTATES, RTM, type OperState } from './constants.js';

export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source';

export interface Link {
  readonly index: number;
  readonly name: string;
  /** ifi_flags: IFF_* bits. */
  readonly flags: number;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** Carrier: IFF_LOWER_UP (the kernel reports it only while the link is admin-up). */
  readonly carrier: boolean;
  /** IFF_RUNNING: RFC 2863 operationally up. */
  readonly running: boolean;
  /** IFLA_OPERSTATE; 'unknown' when absent (e.g. loopback, dummy). */
  readonly operstate: OperState;
  /** IFLA_ADDRESS when it is 6 bytes long (Ethernet-like); null otherwise. */
  readonly mac: MacAddress | null;
  /** IFLA_LINKINFO/IFLA_INFO_KIND: 'macvlan', 'veth', 'bridge'…; null for physical devices and loopback. */
  readonly kind: string | null;
  /** IFLA_MASTER: the bridge/bond this link is enslaved to. */
  readonly master: number | null;
  /** IFLA_LINK: the parent (macvlan, vlan) or peer (veth) index. */
  readonly link: number | null;
  /** IFLA_LINK_NETNSID: set when `link` is an index in another namespace (e.g. a veth peer). */
  readonly linkNetnsId: number | null;
  readonly mtu: number | null;
  /** For kind 'macvlan': IFLA_MACVLAN_MODE. */
  readonly macvlanMode: MacvlanMode | null;
  /** ifi_type: ARPHRD_* (1 Ethernet, 772 loopback). */
  readonly arpType: number;
}

const MODE_BY_VALUE: ReadonlyMap<number, MacvlanMode> = new Map(
  (Object.entries(MACVLAN_MODE) as [MacvlanMode, number][]).map(([name, value]) => [value, name]),
);

type LinkMessage = Extract<NetlinkMessage, { kind: 'link' }>;

/** A Link from an RTM_NEWLINK/RTM_DELLINK message; a DecodeError if it lacks its name. */
export function parseLink(message: LinkMessage): Decoded<Link> {
  const { ifinfo, attrs } = message;
  const name = attrString(findAttr(attrs, IFLA.IFNAME));
  if (name === undefined) {
    return { ok: false, error: decodeError('bad-attribute-value', 0, `link ${ifinfo.index} has no IFLA_IFNAME`) };
  }
  const address = findAttr(attrs, IFLA.ADDRESS);
  const operValue = attrU8(findAttr(attrs, IFLA.OPERSTATE));
  let kind: string | null = null;
  let macvlanMode: MacvlanMode | null = null;
  const linkinfo = findAttr(attrs, IFLA.LINKINFO);
  if (linkinfo) {
    const info = attrNested(linkinfo);
    if (!info.ok) return { ok: false, error: { ...info.error, detail: `IFLA_LINKINFO of ${name}: ${info.error.detail}` } };
    kind = attrString(findAttr(info.value, IFLA_INFO.KIND)) ?? null;
    const data = findAttr(info.value, IFLA_INFO.DATA);
    if (kind === 'macvlan' && data) {
      const fields = attrNested(data);
      if (!fields.ok) return { ok: false, error: { ...fields.error, detail: `IFLA_INFO_DATA of ${name}: ${fields.error.detail}` } };
      const mode = attrU32(findAttr(fields.value, IFLA_MACVLAN.MODE));
      macvlanMode = mode === undefined ? null : (MODE_BY_VALUE.get(mode) ?? null);
    }
  }
  return {
    ok: true,
    value: {
      index: ifinfo.index,
      name,
      flags: ifinfo.flags,
      up: (ifinfo.flags & IFF.UP) !== 0,
      carrier: (ifinfo.flags & IFF.LOWER_UP) !== 0,
      running: (ifinfo.flags & IFF.RUNNING) !== 0,
      operstate: operValue === undefined ? 'unknown' : (OPERSTATES[operValue] ?? 'unknown'),
      mac: address !== undefined && address.data.length === 6 ? macFromBytes(address.data) : null,
      kind,
      master: attrU32(findAttr(attrs, IFLA.MASTER)) ?? null,
      link: attrU32(findAttr(attrs, IFLA.LINK)) ?? null,
      linkNetnsId: attrU32(findAttr(attrs, IFLA.LINK_NETNSID)) ?? null,
      mtu: attrU32(findAttr(attrs, IFLA.MTU)) ?? null,
      macvlanMode,
      arpType: ifinfo.type,
    },
  };
}

/**
 * Whether a link message describes the link itself. The kernel also sends
 * RTM_NEWLINK/RTM_DELLINK with ifi_family AF_BRIDGE to the LINK group for bridge-port
 * changes: an AF_BRIDGE RTM_DELLINK means "no longer a bridge port", not "deleted".
 */
export function isLinkStateMessage(message: LinkMessage): boolean {
  return message.ifinfo.family === AF_UNSPEC;
}

function linksFrom(messages: readonly NetlinkMessage[], operation: string, object: string): Link[] {
  const links: Link[] = [];
  for (const m of messages) {
    if (m.kind !== 'link' || !isLinkStateMessage(m)) continue;
    const parsed = parseLink(m);
    if (!parsed.ok) throw NetlinkError.local('EBADMSG', operation, object, `${parsed.error.reason}: ${parsed.error.detail}`);
    links.push(parsed.value);
  }
  return links;
}

export async function listLinks(nl: NetlinkRequester): Promise<Link[]> {
  const result = await nl.dump({ type: RTM.GETLINK, body: encodeIfInfoMsg({ family: AF_UNSPEC }) }, { operation: 'list', object: 'links' });
  return linksFrom(result.messages, 'list', 'links').sort((a, b) => a.index - b.index);
}

/** The link named `name`, or undefined if there is none. */
export async function getLink(nl: NetlinkRequester, name: string): Promise<Link | undefined> {
  if (!validInterfaceName(name)) throw NetlinkError.local('EINVAL', 'get link', JSON.stringify(name), 'not a valid interface name');
  try {
    const replies = await nl.request(
      { type: RTM.GETLINK, body: encodeIfInfoMsg({ family: AF_UNSPEC }), attrs: [attr.string(IFLA.IFNAME, name)] },
      { operation: 'get link', object: name },
    );
    return linksFrom(replies, 'get link', name)[0];
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'ENODEV') return undefined;
    throw e;
  }
}

/** The link with index `index`, or undefined if there is none. */
export async function getLinkByIndex(nl: NetlinkRequester, index: number): Promise<Link | undefined> {
  checkIndex(index, 'get link');
  try {
    const replies = await nl.request(
      { type: RTM.GETLINK, body: encodeIfInfoMsg({ family: AF_UNSPEC, index }) },
      { operation: 'get link', object: `ifindex ${index}` },
    );
    return linksFrom(replies, 'get link', `ifindex ${index}`)[0];
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'ENODEV') return undefined;
    throw e;
  }
}

function checkIndex(index: number, operation: string): void {
  if (!Number.isInteger(index) || index <= 0 || index > 0x7fffffff) {
    throw NetlinkError.local('EINVAL', operation, `ifindex ${String(index)}`, 'an interface index is a positive integer');
  }
}

/** "eth0 (ifindex 2)" when the name can be found, "ifindex 2" otherwise; never throws. */
export async function describeIndex(nl: NetlinkRequester, index: number): Promise<string> {
  try {
    const link = await getLinkByIndex(nl, index);
    return link ? `${link.name} (ifindex ${index})` : `ifindex ${index} (no such link)`;
  } catch {
    return `ifindex ${index}`;
  }
}

/** Sets IFF_UP (admin state) on or off; a no-op for the kernel if it already is. */
export async function setLinkUp(nl: NetlinkRequester, index: number, up: boolean): Promise<void> {
  const operation = up ? 'set up' : 'set down';
  checkIndex(index, operation);
  try {
    await nl.request(
      { type: RTM.NEWLINK, body: encodeIfInfoMsg({ family: AF_UNSPEC, index, flags: up ? IFF.UP : 0, change: IFF.UP }) },
      { operation, object: `ifindex ${index}` },
    );
  } catch (e) {
    if (e instanceof NetlinkError) throw e.withContext(operation, await describeIndex(nl, index));
    throw e;
  }
}

export interface MacvlanSpec {
  readonly name: string;
  readonly parentIndex: number;
  readonly mac: MacAddress;
  readonly mode: 'private' | 'vepa' | 'bridge' | 'passthru';
}

export interface LinkChange {
  readonly changed: boolean;
  readonly link: Link;
}

function describeMacvlan(spec: MacvlanSpec): string {
  return `${spec.name} (macvlan ${spec.mode}, ${spec.mac.text}, parent ifindex ${spec.parentIndex})`;
}

function macvlanDifferences(link: Link, spec: MacvlanSpec): string[] {
  const diffs: string[] = [];
  if (link.kind !== 'macvlan') diffs.push(`kind is ${link.kind ?? 'none'}`);
  if (link.link !== spec.parentIndex) diffs.push(`parent is ifindex ${link.link ?? 'none'}`);
  if (!link.mac || !sameMac(link.mac, spec.mac)) diffs.push(`MAC is ${link.mac?.text ?? 'none'}`);
  if (link.macvlanMode !== spec.mode) diffs.push(`mode is ${link.macvlanMode ?? 'unknown'}`);
  return diffs;
}

/**
 * Creates a macvlan interface (left admin-down, as the kernel creates it) with the
 * given MAC on the parent. Idempotent: if a link of that name already exists with the
 * same kind, parent, MAC and mode, returns it with `changed: false`; if it exists but
 * differs, rejects with EEXIST saying how.
 */
export async function createMacvlan(nl: NetlinkRequester, spec: MacvlanSpec): Promise<LinkChange> {
  const operation = 'create macvlan';
  const object = describeMacvlan(spec);
  if (!validInterfaceName(spec.name)) throw NetlinkError.local('EINVAL', operation, object, 'not a valid interface name (1-15 bytes, no "/", ":" or spaces)');
  checkIndex(spec.parentIndex, operation);
  if (spec.mac.bytes.length !== 6) throw NetlinkError.local('EINVAL', operation, object, 'a MAC is 6 bytes');
  const existing = await getLink(nl, spec.name);
  if (existing) return sameOrConflict(existing, spec, operation, object);
  try {
    await nl.request(
      {
        type: RTM.NEWLINK,
        flags: NLM_F.CREATE | NLM_F.EXCL,
        body: encodeIfInfoMsg({ family: AF_UNSPEC }),
        attrs: [
          attr.string(IFLA.IFNAME, spec.name),
          attr.u32(IFLA.LINK, spec.parentIndex),
          attr.bytes(IFLA.ADDRESS, spec.mac.bytes),
          attr.nested(IFLA.LINKINFO, [
            attr.string(IFLA_INFO.KIND, 'macvlan'),
            attr.nested(IFLA_INFO.DATA, [attr.u32(IFLA_MACVLAN.MODE, MACVLAN_MODE[spec.mode])]),
          ]),
        ],
      },
      { operation, object },
    );
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'EEXIST') {
      // Created by someone else between our lookup and our request.
      const raced = await getLink(nl, spec.name);
      if (raced) return sameOrConflict(raced, spec, operation, object);
    }
    throw e;
  }
  const created = await getLink(nl, spec.name);
  if (!created) throw NetlinkError.local('EBADMSG', operation, object, 'the kernel acknowledged the creation but the link is not there');
  return { changed: true, link: created };
}

function sameOrConflict(existing: Link, spec: MacvlanSpec, operation: string, object: string): LinkChange {
  const diffs = macvlanDifferences(existing, spec);
  if (diffs.length === 0) return { changed: false, link: existing };
  throw new NetlinkError({
    errno: 17,
    code: 'EEXIST',
    operation,
    object,
    kernelMessage: `${spec.name} (ifindex ${existing.index}) already exists and differs: ${diffs.join(', ')}`,
  });
}

export interface DeleteLinkOptions {
  /**
   * Refuse unless the link is of this kind (e.g. 'macvlan'): a daemon deleting its
   * VMACs by index must never delete a physical interface whose index was reused.
   */
  readonly expectKind?: string;
}

/** Deletes a link. Idempotent: a missing link is `changed: false`. */
export async function deleteLink(nl: NetlinkRequester, index: number, options: DeleteLinkOptions = {}): Promise<{ changed: boolean }> {
  const operation = 'delete link';
  checkIndex(index, operation);
  if (options.expectKind !== undefined) {
    const link = await getLinkByIndex(nl, index);
    if (!link) return { changed: false };
    if (link.kind !== options.expectKind) {
      throw new NetlinkError({
        errno: 1,
        code: 'EPERM',
        operation,
        object: `${link.name} (ifindex ${index})`,
        kernelMessage: `refused: its kind is ${link.kind ?? 'none (physical)'}, expected ${options.expectKind}`,
      });
    }
  }
  try {
    await nl.request({ type: RTM.DELLINK, body: encodeIfInfoMsg({ family: AF_UNSPEC, index }) }, { operation, object: `ifindex ${index}` });
    return { changed: true };
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'ENODEV') return { changed: false };
    if (e instanceof NetlinkError) throw e.withContext(operation, await describeIndex(nl, index));
    throw e;
  }
}
