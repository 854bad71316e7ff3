/**
 * Kernel parameters under /proc/sys, read and written by this process. /proc/sys/net
 * belongs to the network namespace of the process that opens it, so a daemon started
 * with `ip netns exec NS` changes only NS's values.
 *
 * Keys are given as path segments (['net', 'ipv4', 'conf', 'eth0.100', 'arp_ignore'])
 * or in sysctl(8)'s dotted form ('net.ipv4.conf.eth0.arp_ignore'). The dotted form
 * cannot name an interface whose name contains a dot (VLANs such as eth0.100): use
 * segments or `confKey()` for per-interface keys.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { errorText } from '../base/error-text.js';

export type SysctlKey = string | readonly string[];

export class SysctlError extends Error {
  constructor(
    readonly key: string,
    readonly operation: 'read' | 'write',
    readonly code: string,
    detail: string,
  ) {
    super(`${operation} sysctl ${key}: ${code} ${detail}`);
    this.name = 'SysctlError';
  }
}

const PROC_SYS = '/proc/sys';

function segmentsOf(key: SysctlKey): readonly string[] {
  return typeof key === 'string' ? key.split('.') : key;
}

/** Display form: dots between segments, '/' standing for a dot inside one (as sysctl(8) prints VLAN names). */
export function sysctlKeyText(key: SysctlKey): string {
  return segmentsOf(key)
    .map((s) => s.replaceAll('.', '/'))
    .join('.');
}

/** The /proc/sys path of a key; throws SysctlError for segments that could escape /proc/sys. */
export function sysctlPath(key: SysctlKey): string {
  const segments = segmentsOf(key);
  if (segments.length === 0) throw new SysctlError(sysctlKeyText(key), 'read', 'EINVAL', 'empty key');
  for (const s of segments) {
    if (s.length === 0 || s === '.' || s === '..' || s.includes('/') || s.includes('\0')) {
      throw new SysctlError(sysctlKeyText(key), 'read', 'EINVAL', `bad key segment ${JSON.stringify(s)}`);
    }
  }
  return `${PROC_SYS}/${segments.join('/')}`;
}

/** A per-interface key: confKey('ipv4', 'eth0', 'arp_ignore') → net.ipv4.conf.eth0.arp_ignore. */
export function confKey(family: 'ipv4' | 'ipv6', ifname: string, parameter: string): readonly string[] {
  return ['net', family, 'conf', ifname, parameter];
}

function codeOf(e: unknown): string {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'EIO';
}

/** The value, trimmed ("1", or "4096\t131072\t6291456" for vectors). */
export async function readSysctl(key: SysctlKey): Promise<string> {
  const path = sysctlPath(key);
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    throw new SysctlError(sysctlKeyText(key), 'read', codeOf(e), errorText(e));
  }
}

/**
 * Writes a value and returns the previous one (to restore later). Skips the write if
 * the value is already set. Verifies by reading back: some keys silently clamp.
 */
export async function writeSysctl(key: SysctlKey, value: string | number): Promise<{ previous: string; changed: boolean }> {
  const previous = await readSysctl(key);
  const text = String(value);
  if (previous === text) return { previous, changed: false };
  try {
    await writeFile(sysctlPath(key), `${text}\n`, 'utf8');
  } catch (e) {
    throw new SysctlError(sysctlKeyText(key), 'write', codeOf(e), errorText(e));
  }
  const now = await readSysctl(key);
  if (now !== text) throw new SysctlError(sysctlKeyText(key), 'write', 'EINVAL', `wrote ${text} but it reads back as ${now}`);
  return { previous, changed: true };
}

export interface SysctlSetting {
  readonly key: readonly string[];
  readonly value: string;
  /** Which interface it concerns ('vmac' or 'parent'), or 'global'. */
  readonly on: 'vmac' | 'parent' | 'global';
  readonly reason: string;
}

export interface VmacSysctlOptions {
  /** The VRRP instance's family; 'ipv4' by default. */
  readonly family?: 'ipv4' | 'ipv6';
  /** For an IPv4 instance: whether IPv6 VIPs live on the VMAC too (else IPv6 is disabled on it). */
  readonly ipv6Vips?: boolean;
}

/**
 * The kernel parameters keepalived applies around an IPv4 VMAC (macvlan) interface.
 * From keepalived's vrrp_if_config.c (set_interface_parameters) and vrrp_vmac.c:
 *
 *   vmac interface:
 *     arp_ignore=1          don't answer ARP on it for addresses of the parent, and
 *                           answer only for addresses configured on the VMAC itself
 *     accept_local=1        accept packets with a local source address: we must hear
 *                           another instance multicasting over the same parent
 *     rp_filter=0           receive on the VMAC although it has no route back (it may
 *                           carry no address at all)
 *     promote_secondaries=1 removing one VIP must not take the others in its subnet
 *   parent interface:
 *     arp_ignore=1          the parent must not answer ARP for the VIPs (they are on the
 *                           VMAC; with arp_ignore=0 the parent would answer with its own MAC)
 *     arp_filter=1          and not for our own addresses from the wrong interface
 *   (keepalived saves the parent's previous arp_ignore/arp_filter and restores them when
 *   the last VMAC on it goes away.)
 *
 * keepalived does NOT set arp_announce on either interface: the VRRP state machine sends
 * gratuitous ARP from the VMAC with the virtual MAC itself.
 *
 * Caveat (not included here, because it is global): the effective rp_filter of an
 * interface is max(conf.all.rp_filter, conf.<if>.rp_filter), so rp_filter=0 on the VMAC
 * has no effect while net.ipv4.conf.all.rp_filter is 1 or 2 (the kernel's default is 0;
 * some distributions raise it). keepalived's clear_rp_filter() then raises
 * default.rp_filter and every interface's rp_filter to all's value and sets all to 0.
 *
 * IPv6: for an IPv4 instance without IPv6 VIPs keepalived disables IPv6 on the VMAC
 * (disable_ipv6=1). For IPv6 instances (and IPv4 ones with IPv6 VIPs) it sets
 * IFLA_INET6_ADDR_GEN_MODE=none so the kernel does not derive a link-local address from
 * the virtual MAC (RFC 5798 §7.4 — the sysctl equivalent is addr_gen_mode=1, effective
 * if written before the link is brought up), and adds the parent's link-local address.
 */
export function vmacSysctls(parent: string, vmac: string, options: VmacSysctlOptions = {}): SysctlSetting[] {
  const family = options.family ?? 'ipv4';
  const settings: SysctlSetting[] = [];
  if (family === 'ipv4') {
    settings.push(
      { key: confKey('ipv4', vmac, 'arp_ignore'), value: '1', on: 'vmac', reason: 'answer ARP only for addresses on the VMAC itself' },
      { key: confKey('ipv4', vmac, 'accept_local'), value: '1', on: 'vmac', reason: "hear other routers' adverts sent over the same parent" },
      { key: confKey('ipv4', vmac, 'rp_filter'), value: '0', on: 'vmac', reason: 'receive on the VMAC although it has no return route' },
      { key: confKey('ipv4', vmac, 'promote_secondaries'), value: '1', on: 'vmac', reason: 'removing one VIP keeps the others of its subnet' },
      { key: confKey('ipv4', parent, 'arp_ignore'), value: '1', on: 'parent', reason: 'the parent must not answer ARP for the VIPs with its own MAC' },
      { key: confKey('ipv4', parent, 'arp_filter'), value: '1', on: 'parent', reason: 'answer ARP for own addresses only from the interface routing them' },
      // Replies from a VIP are routed out of the parent; without this its ARP requests carry
      // the VIP as sender with the parent's MAC, and neighbours re-learn the VIP at that MAC.
      { key: confKey('ipv4', parent, 'arp_announce'), value: '2', on: 'parent', reason: "ARP requests from the parent carry the parent's own address, never a VIP of the VMAC" },
    );
    if (options.ipv6Vips !== true) {
      settings.push({ key: confKey('ipv6', vmac, 'disable_ipv6'), value: '1', on: 'vmac', reason: 'no IPv6 (and no link-local from the virtual MAC) on an IPv4-only VMAC' });
    }
  }
  if (family === 'ipv6' || options.ipv6Vips === true) {
    settings.push({ key: confKey('ipv6', vmac, 'addr_gen_mode'), value: '1', on: 'vmac', reason: 'no link-local derived from the virtual MAC (RFC 5798 §7.4); write before the VMAC goes up' });
    settings.push({ key: confKey('ipv6', vmac, 'accept_ra'), value: '0', on: 'vmac', reason: 'no SLAAC address derived from the virtual MAC: two backups would both hold it (issue 10 §2)' });
  }
  return settings;
}

export interface AppliedSysctl {
  readonly key: readonly string[];
  readonly value: string;
  readonly previous: string;
  readonly changed: boolean;
}

/** Applies settings in order, returning what each was before (for restoring). Stops at the first failure. */
export async function applySysctls(settings: readonly { key: SysctlKey; value: string }[]): Promise<AppliedSysctl[]> {
  const applied: AppliedSysctl[] = [];
  for (const s of settings) {
    const { previous, changed } = await writeSysctl(s.key, s.value);
    applied.push({ key: segmentsOf(s.key), value: s.value, previous, changed });
  }
  return applied;
}

/** Puts back the previous values of what `applySysctls` changed, in reverse order. */
export async function restoreSysctls(applied: readonly AppliedSysctl[]): Promise<void> {
  for (const a of [...applied].reverse()) if (a.changed) await writeSysctl(a.key, a.previous);
}
