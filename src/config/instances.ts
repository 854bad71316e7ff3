/**
 * The `instances` section (docs/config.md, "instances"): each VRRP instance resolved with
 * its defaults, and the rules between keys that a schema cannot express (one address
 * family per instance, VRRP version rules, intervals per version, duplicates within an
 * instance and between instances).
 */
import { AddressParseError, parseIp, type AddressFamily, type IpAddress } from '../net/address.js';
import { passwordAuthData, type V2Authentication } from '../vrrp/acceptance.js';
import { DEFAULT_ANNOUNCE, type AnnounceConfig } from '../vrrp/router.js';
import { ValueRangeError, toConfiguredPriority, toV2Interval, toV3Interval, toVrid, type Centiseconds, type VrrpVersion } from '../vrrp/types.js';
import type { ResolveContext } from './context.js';
import { INSTANCE_DEFAULTS, defaultVmacName } from './defaults.js';
import { entries, given, orDefault, type DurationText, type InstanceDocument, type VigilDocument, type VipEntry } from './document.js';
import { formatKeyPath, type KeyPath } from './locate.js';
import type { InstanceConfig, VirtualIp } from './types.js';
import { describe, familyName, parseDurationMicros, parsePrefix } from './units.js';

export interface ResolvedInstances {
  /** One per entry of the list, in its order; undefined where the entry has errors. */
  readonly instances: readonly (InstanceConfig | undefined)[];
  /** Every instance name written (valid or not), and its index: what other sections may refer to. */
  readonly names: ReadonlyMap<string, number>;
}

/** The instances, then the rules between them: unique names, VRIDs per interface and family, macvlan names. */
export function resolveInstances(doc: VigilDocument, ctx: ResolveContext): ResolvedInstances {
  const rawInstances = entries(doc.instances);
  const instances: (InstanceConfig | undefined)[] = [];
  const names = new Map<string, number>();
  const vrids = new Map<string, number>();
  const nameOf = (i: number): string | undefined => {
    const raw = given(rawInstances[i]);
    return raw === undefined ? undefined : given(raw.name);
  };
  rawInstances.forEach((item, i) => {
    const p: KeyPath = ['instances', i];
    const raw = given(item);
    if (raw === undefined) {
      instances.push(undefined);
      return;
    }
    const { config, identity } = resolveInstance(raw, p, ctx);
    instances.push(config);
    const name = given(raw.name);
    if (name !== undefined) {
      const first = names.get(name);
      if (first === undefined) names.set(name, i);
      else ctx.error([...p, 'name'], `duplicate instance name "${name}" (first at line ${ctx.line(['instances', first])})`);
    }
    if (identity !== undefined) {
      const key = `${identity.iface}\u0000${identity.vrid}\u0000${identity.family}`;
      const first = vrids.get(key);
      if (first === undefined) vrids.set(key, i);
      else {
        ctx.error(
          [...p, 'vrid'],
          `VRID ${identity.vrid} is already used for ${familyName(identity.family)} on ${identity.iface} by instance "${nameOf(first) ?? `#${first}`}" (line ${ctx.line(['instances', first])})`,
        );
      }
    }
  });
  // Two instances wanting one macvlan name (e.g. the same VRID with `vmac: true` on two interfaces: both "vrrp.VRID").
  const vmacs = new Map<string, number>();
  instances.forEach((config, i) => {
    if (config?.vmac === undefined) return;
    const first = vmacs.get(config.vmac.name);
    if (first === undefined) {
      vmacs.set(config.vmac.name, i);
      return;
    }
    const vmac = given(given(rawInstances[i])?.vmac);
    const named = typeof vmac === 'object' && given(vmac.name) !== undefined;
    ctx.error(
      named ? ['instances', i, 'vmac', 'name'] : ['instances', i, 'vmac'],
      `the vmac interface "${config.vmac.name}" is already the one of instance "${instances[first]?.name ?? `#${first}`}" (line ${ctx.line(['instances', first])}); give one of them another name: vmac: { name: ... }`,
    );
  });
  return { instances, names };
}

/**
 * The advertisement interval. Its ranges are the router's (src/vrrp/types.ts: RFC 5798
 * §5.2.7, 1..4095 centiseconds; RFC 3768 §5.3.7, 1..255 seconds): their constructors decide,
 * and a refusal is put here in the file's terms.
 */
/**
 * garp.lower_prio_delay when not given: the span of the other side's become-master burst
 * (master_repeat copies, interval apart; a cluster shares its garp settings) plus half an
 * Advertisement_Interval for its VIP add and the wire. The corrective burst then follows
 * the spurious master's last gratuitous ARP, and the neighbours point back at the master
 * within one advertisement interval of the spurious advert (issue 10 §1), where
 * keepalived's default waits garp_master_delay (5 s).
 */
export function defaultLowerPriorityDelayMs(masterRepeat: number, garpIntervalMs: number, advertInterval: Centiseconds): number {
  return Math.max(0, masterRepeat - 1) * garpIntervalMs + (advertInterval * 10) / 2;
}

function interval(value: DurationText | undefined, version: VrrpVersion | undefined, p: KeyPath, ctx: ResolveContext): Centiseconds | undefined {
  const d = parseDurationMicros(value);
  if (d === undefined || version === undefined) return undefined;
  if ('error' in d) {
    ctx.error(p, d.error);
    return undefined;
  }
  const shown = describe(value);
  const inRange = (make: () => Centiseconds, range: string): Centiseconds | undefined => {
    try {
      return make();
    } catch (e) {
      if (!(e instanceof ValueRangeError)) throw e;
      ctx.error(p, `${shown} is out of range for ${range}`);
      return undefined;
    }
  };
  if (version === 3) {
    if (d.us % 10_000 !== 0) {
      ctx.error(p, `${shown} is not a whole number of centiseconds (VRRPv3 counts the interval in units of 10ms)`);
      return undefined;
    }
    return inRange(() => toV3Interval(d.us / 10_000), 'VRRPv3: 10ms to 40.95s');
  }
  if (d.us % 1_000_000 !== 0) {
    ctx.error(p, `${shown} is not a whole number of seconds (VRRPv2 advertises whole seconds, 1s to 255s)`);
    return undefined;
  }
  return inRange(() => toV2Interval(d.us / 1_000_000), 'VRRPv2: 1s to 255s');
}

/** A virtual address, written as a string or as a mapping. */
function resolveVip(item: VipEntry, p: KeyPath, iface: string | undefined, ctx: ResolveContext): VirtualIp | undefined {
  const entry = typeof item === 'string' ? { address: item } : item;
  const text = given(entry.address);
  if (text === undefined) return undefined;
  const addressPath = typeof item === 'string' ? p : [...p, 'address'];
  const parsed = parsePrefix(text);
  if ('error' in parsed) {
    ctx.error(addressPath, parsed.error);
    return undefined;
  }
  const dev = given(entry.dev);
  const label = given(entry.label);
  if (label !== undefined) {
    const device = dev ?? iface;
    if (parsed.address.family === 'ipv6') {
      ctx.error([...p, 'label'], 'address labels are IPv4 only');
      return undefined;
    }
    if (device !== undefined && label !== device && !label.startsWith(`${device}:`)) {
      ctx.error([...p, 'label'], `"${label}" must be the device name "${device}" or start with "${device}:"`);
      return undefined;
    }
  }
  return {
    address: parsed.address,
    prefixLength: parsed.prefixLength,
    ...(dev !== undefined ? { dev } : {}),
    ...(label !== undefined ? { label } : {}),
    scope: given(entry.scope) ?? 'global',
  };
}

type Identity = { iface: string; vrid: number; family: AddressFamily };

function resolveInstance(raw: InstanceDocument, p: KeyPath, ctx: ResolveContext): { config: InstanceConfig | undefined; identity: Identity | undefined } {
  const name = given(raw.name);
  const iface = given(raw.interface);
  const vridValue = given(raw.vrid);
  const vrid = vridValue === undefined ? undefined : toVrid(vridValue);
  const version = orDefault(raw.version, INSTANCE_DEFAULTS.version);
  const priorityValue = orDefault(raw.priority, INSTANCE_DEFAULTS.priority);
  const priority = priorityValue === undefined ? undefined : toConfiguredPriority(priorityValue);

  // Addresses; the family comes from the virtual IPs.
  let family: AddressFamily | undefined;
  let familyFrom = 0;
  const seen = new Map<string, KeyPath>();
  const noteDuplicate = (vip: VirtualIp, at: KeyPath): void => {
    const key = `${vip.address.family} ${vip.address.text}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, at);
    else ctx.error(at, `${vip.address.text} is already listed at ${formatKeyPath(first)} (line ${ctx.line(first)})`);
  };
  const virtualIps: VirtualIp[] = [];
  const rawVips = entries(raw.virtual_ips);
  let vipsOk = rawVips.length > 0;
  rawVips.forEach((checked, j) => {
    const at: KeyPath = [...p, 'virtual_ips', j];
    const item = given(checked);
    const vip = item === undefined ? undefined : resolveVip(item, at, iface, ctx);
    if (item === undefined || vip === undefined) {
      vipsOk = false;
      return;
    }
    const vipFamily = vip.address.family;
    if (family === undefined) {
      family = vipFamily;
      familyFrom = j;
    } else if (vipFamily !== family) {
      ctx.error(
        typeof item === 'string' ? at : [...at, 'address'],
        `${vip.address.text} is ${familyName(vipFamily)}, but virtual_ips[${familyFrom}] is ${familyName(family)}: an instance's virtual_ips are all of one family (use a second instance for the other)`,
      );
      vipsOk = false;
      return;
    }
    noteDuplicate(vip, at);
    virtualIps.push(vip);
  });
  const excludedIps: VirtualIp[] = [];
  entries(raw.excluded_ips).forEach((checked, j) => {
    const at: KeyPath = [...p, 'excluded_ips', j];
    const item = given(checked);
    const vip = item === undefined ? undefined : resolveVip(item, at, iface, ctx);
    if (vip === undefined) {
      vipsOk = false;
      return;
    }
    noteDuplicate(vip, at);
    excludedIps.push(vip);
  });

  // RFC 5798 §1: VRRPv3 is the version for IPv6; RFC 3768 (VRRPv2) is IPv4 only.
  if (family === 'ipv6' && version === 2) {
    ctx.error([...p, 'version'], 'IPv6 needs VRRPv3 (version: 3): VRRPv2 is IPv4 only');
  }

  const advertInterval = interval(orDefault(raw.advert_interval, INSTANCE_DEFAULTS.advertInterval), version, [...p, 'advert_interval'], ctx);
  const preempt = orDefault(raw.preempt, INSTANCE_DEFAULTS.preempt);
  const managedBy = orDefault(raw.managed_by, INSTANCE_DEFAULTS.managedBy);
  const preemptDelayMs = ctx.durationMs(orDefault(raw.preempt_delay, INSTANCE_DEFAULTS.preemptDelay), [...p, 'preempt_delay']);
  if (priority === 255 && raw.preempt === false) {
    ctx.warn([...p, 'preempt'], 'preempt: false is ignored at priority 255: the address owner always takes over');
  }
  if (raw.preempt === false && preemptDelayMs !== undefined && preemptDelayMs > 0) {
    ctx.warn([...p, 'preempt_delay'], 'preempt_delay is ignored with preempt: false');
  }

  // Unicast.
  let unicast: InstanceConfig['unicast'];
  let unicastOk = true;
  const rawUnicast = given(raw.unicast);
  if (rawUnicast !== undefined) {
    const address = (value: string | undefined, at: KeyPath): IpAddress | undefined => {
      if (value === undefined) {
        unicastOk = false;
        return undefined;
      }
      const parsed = parseIp(value);
      if (parsed instanceof AddressParseError) {
        ctx.error(at, `${JSON.stringify(value)} is not an IP address`);
        unicastOk = false;
        return undefined;
      }
      if (family !== undefined && parsed.family !== family) {
        ctx.error(at, `${parsed.text} is an ${familyName(parsed.family)} address, but this instance is ${familyName(family)} (the family of its virtual_ips)`);
        unicastOk = false;
        return undefined;
      }
      return parsed;
    };
    const source = rawUnicast.source === undefined ? undefined : address(given(rawUnicast.source), [...p, 'unicast', 'source']);
    const peers: IpAddress[] = [];
    const peerSeen = new Map<string, number>();
    entries(rawUnicast.peers).forEach((value, j) => {
      const at: KeyPath = [...p, 'unicast', 'peers', j];
      const peer = address(given(value), at);
      if (peer === undefined) return;
      const first = peerSeen.get(peer.text);
      if (first !== undefined) {
        ctx.error(at, `${peer.text} is already listed at unicast.peers[${first}]`);
        unicastOk = false;
        return;
      }
      peerSeen.set(peer.text, j);
      peers.push(peer);
    });
    if (unicastOk) unicast = { ...(source !== undefined ? { source } : {}), peers };
  }

  // Authentication: RFC 3768 §5.3.6 (VRRPv2 only; RFC 5798 removed it).
  let authentication: V2Authentication = { type: 'none' };
  let authOk = true;
  const rawAuth = given(raw.authentication);
  if (rawAuth !== undefined) {
    const password = given(rawAuth.password);
    const type = given(rawAuth.type);
    if (type === 'pass') {
      if (version === 3) {
        ctx.error([...p, 'authentication'], 'authentication is VRRPv2 only (VRRPv3 has none); remove it or set version: 2');
        authOk = false;
      } else if (password !== undefined) {
        const bytes = Buffer.byteLength(password, 'utf8');
        if (bytes > 8) {
          ctx.error([...p, 'authentication', 'password'], `the password is ${bytes} bytes long; VRRPv2 carries at most 8`);
          authOk = false;
        } else {
          authentication = { type: 'pass', password: passwordAuthData(password) };
        }
      }
    } else if (type === 'none' && rawAuth.password !== undefined) {
      ctx.error([...p, 'authentication', 'password'], 'a password needs type: pass');
      authOk = false;
    }
  }

  // VMAC.
  let vmac: InstanceConfig['vmac'];
  const rawVmac = given(raw.vmac);
  if ((rawVmac === true || typeof rawVmac === 'object') && family !== undefined && vrid !== undefined) {
    const named = typeof rawVmac === 'object' ? given(rawVmac.name) : undefined;
    vmac = { name: named ?? defaultVmacName(family, vrid) };
  }

  // Gratuitous ARP / NA.
  const garp = given(raw.garp) ?? {};
  const masterDelayMs = ctx.durationMs(orDefault(garp.master_delay, INSTANCE_DEFAULTS.garpMasterDelay), [...p, 'garp', 'master_delay']);
  const masterRefreshMs = ctx.durationMs(orDefault(garp.master_refresh, INSTANCE_DEFAULTS.garpMasterRefresh), [...p, 'garp', 'master_refresh']);
  const garpIntervalMs = ctx.durationMs(orDefault(garp.interval, INSTANCE_DEFAULTS.garpInterval), [...p, 'garp', 'interval']);
  const masterRepeat = orDefault(garp.master_repeat, DEFAULT_ANNOUNCE.masterRepeat);
  const masterRefreshRepeat = orDefault(garp.master_refresh_repeat, DEFAULT_ANNOUNCE.masterRefreshRepeat);
  const lowerPriorityRepeat = orDefault(garp.lower_prio_repeat, DEFAULT_ANNOUNCE.lowerPriorityRepeat);
  const lowerPriorityDelayGiven = given(garp.lower_prio_delay);
  const lowerPriorityDelayMs =
    lowerPriorityDelayGiven === undefined ? undefined : ctx.durationMs(lowerPriorityDelayGiven, [...p, 'garp', 'lower_prio_delay']);

  // Tracking.
  const trackInterfaces: { name: string; weight: number }[] = [];
  const tracked = new Map<string, number>();
  let trackOk = true;
  entries(raw.track_interfaces).forEach((checked, j) => {
    const at: KeyPath = [...p, 'track_interfaces', j];
    const item = given(checked);
    const trackName = typeof item === 'string' ? item : given(item?.name);
    if (trackName === undefined) {
      trackOk = false;
      return;
    }
    const weight = typeof item === 'object' ? orDefault(item.weight, 0) : 0;
    if (weight === undefined) {
      trackOk = false;
      return;
    }
    const first = tracked.get(trackName);
    if (first !== undefined) {
      ctx.error(at, `interface "${trackName}" is already tracked at track_interfaces[${first}]`);
      trackOk = false;
      return;
    }
    tracked.set(trackName, j);
    trackInterfaces.push({ name: trackName, weight });
  });

  // Checksum (IPv4 VRRPv3 only: RFC 9568 §5.2.8 against RFC 5798 §5.2.8).
  const checksum = orDefault(raw.checksum, INSTANCE_DEFAULTS.checksum);
  if (raw.checksum !== undefined && (version === 2 || family === 'ipv6')) {
    ctx.warn([...p, 'checksum'], `checksum only applies to IPv4 VRRPv3; ignored for ${family === 'ipv6' ? 'IPv6' : 'VRRPv2'}`);
  } else if (checksum === 'either') {
    ctx.warn(
      [...p, 'checksum'],
      'checksum: either accepts adverts with and without the IPv4 pseudo-header; use it while migrating, then settle on rfc5798 or rfc9568',
    );
  }

  const acceptMode = orDefault(raw.accept, INSTANCE_DEFAULTS.accept);
  const higherPrioritySendAdvert = orDefault(raw.higher_prio_send_advert, INSTANCE_DEFAULTS.higherPrioritySendAdvert);
  const lowerPriorityNoAdvert = orDefault(raw.lower_prio_no_advert, INSTANCE_DEFAULTS.lowerPriorityNoAdvert);
  const addressListCheck = orDefault(raw.address_list_check, INSTANCE_DEFAULTS.addressListCheck);

  const identity = iface !== undefined && vrid !== undefined && family !== undefined ? { iface, vrid, family } : undefined;
  if (
    name === undefined ||
    iface === undefined ||
    vrid === undefined ||
    version === undefined ||
    priority === undefined ||
    family === undefined ||
    !vipsOk ||
    advertInterval === undefined ||
    preempt === undefined ||
    preemptDelayMs === undefined ||
    managedBy === undefined ||
    acceptMode === undefined ||
    !unicastOk ||
    !authOk ||
    masterDelayMs === undefined ||
    masterRefreshMs === undefined ||
    garpIntervalMs === undefined ||
    masterRepeat === undefined ||
    masterRefreshRepeat === undefined ||
    lowerPriorityRepeat === undefined ||
    (lowerPriorityDelayGiven !== undefined && lowerPriorityDelayMs === undefined) ||
    (garp.lower_prio_delay !== undefined && lowerPriorityDelayGiven === undefined) ||
    !trackOk ||
    checksum === undefined ||
    higherPrioritySendAdvert === undefined ||
    lowerPriorityNoAdvert === undefined ||
    addressListCheck === undefined
  ) {
    return { config: undefined, identity };
  }
  const announce: AnnounceConfig = {
    masterRepeat,
    masterDelayMs,
    masterRefreshMs,
    masterRefreshRepeat,
    lowerPriorityRepeat,
    lowerPriorityDelayMs: lowerPriorityDelayMs ?? defaultLowerPriorityDelayMs(masterRepeat, garpIntervalMs, advertInterval),
  };
  const config: InstanceConfig = {
    name,
    interface: iface,
    vrid,
    family,
    version,
    priority,
    advertInterval,
    preempt,
    preemptDelayMs,
    managedBy,
    acceptMode,
    virtualIps,
    excludedIps,
    ...(unicast !== undefined ? { unicast } : {}),
    authentication,
    ...(vmac !== undefined ? { vmac } : {}),
    announce,
    garpIntervalMs,
    trackInterfaces,
    checksum,
    higherPrioritySendAdvert,
    lowerPriorityNoAdvert,
    addressListCheck,
    location: ctx.location(p),
  };
  return { config, identity };
}
