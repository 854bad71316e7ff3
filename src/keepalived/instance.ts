/**
 * One `vrrp_instance NAME { ... }` as an entry of vigil's `instances` (docs/config.md;
 * keepalived.conf(5) "VRRP instance(s)"). Keys are written in a fixed order; a keyword
 * vigil cannot express becomes a comment inside the entry and a warning.
 */
import { parsePrefix } from '../config/load.js';
import type { KaStatement } from './parse.js';
import { formatMs, ImportContext, readBool, readDuration, readInt, secondsToMs, splitScript, vigilName } from './context.js';
import { YMap, YSeq } from './yaml-out.js';

const KEY_ORDER = [
  'name', 'interface', 'vrid', 'version', 'priority', 'advert_interval', 'preempt', 'preempt_delay', 'accept',
  'virtual_ips', 'excluded_ips', 'unicast', 'authentication', 'vmac', 'garp', 'track_interfaces', 'checksum',
  'higher_prio_send_advert', 'lower_prio_no_advert', 'notify',
];

/** keepalived's per-instance garp keywords → vigil's garp keys; the value is a duration or a count. */
export const GARP_KEYS: Readonly<Record<string, { key: string; kind: 'duration' | 'count'; min: number }>> = {
  garp_master_delay: { key: 'master_delay', kind: 'duration', min: 0 },
  garp_master_repeat: { key: 'master_repeat', kind: 'count', min: 1 },
  garp_master_refresh: { key: 'master_refresh', kind: 'duration', min: 0 },
  garp_master_refresh_repeat: { key: 'master_refresh_repeat', kind: 'count', min: 1 },
  garp_lower_prio_repeat: { key: 'lower_prio_repeat', kind: 'count', min: 0 },
  garp_interval: { key: 'interval', kind: 'duration', min: 0 },
  gna_interval: { key: 'interval', kind: 'duration', min: 0 },
};

export const NOTIFY_KEYS: Readonly<Record<string, string>> = {
  notify_master: 'master',
  notify_backup: 'backup',
  notify_fault: 'fault',
  notify_stop: 'stop',
  notify_deleted: 'deleted',
  notify_master_rx_lower_pri: 'master_rx_lower_pri',
  notify: 'any',
};

/** Instance keywords vigil does not have, and why (docs/migrating-from-keepalived.md gives the same). */
export const INSTANCE_UNSUPPORTED: Readonly<Record<string, string>> = {
  smtp_alert: 'vigil sends no e-mail; use a notify script or an alert agent (notifiers.alerts)',
  dont_track_primary: "vigil always watches the instance's own interface (FAULT while it is down)",
  virtual_routes: 'vigil manages no routes; use an ocf resource (heartbeat:Route) in a group with runs_on: { master: INSTANCE }',
  virtual_rules: 'vigil manages no policy rules; use an exec or ocf resource in a group with runs_on: { master: INSTANCE }',
  lvs_sync_daemon_interface: 'vigil has no LVS (IPVS) support',
  promote_secondaries: 'vigil sets promote_secondaries only on VMAC interfaces',
  track_file: 'vigil has no track_file; a script health check (type script) that reads the file can do it',
  track_bfd: 'vigil has no BFD',
  mcast_src_ip: 'vigil chooses the source of multicast adverts itself; unicast.source sets it for unicast only',
  mcast_dst_ip: 'vigil sends to 224.0.0.18 / ff02::12 only',
  unicast_ttl: 'vigil sends and requires TTL 255 (RFC 5798 §5.1.1.3)',
  check_unicast_src: 'not available in vigil',
  unicast_fault_no_peer: 'not available in vigil',
  old_unicast_checksum: 'not available in vigil',
  skip_check_adv_addr: "vigil's address_list_check: log (its default) also accepts adverts whose addresses differ",
  native_ipv6: "vigil takes the family from virtual_ipaddress",
  debug: 'vigil has no per-instance debug level',
  notify_priority_changes: 'per instance not available; notifiers.fifo.priority_changes applies to the FIFO',
  garp_lower_prio_delay: 'vigil sends the lower-priority burst at once (garp.lower_prio_repeat)',
  garp_extra_if: 'vigil sends no periodic gratuitous ARP on other interfaces',
  vmac_garp_intvl: 'not available in vigil',
  down_timer_adverts: 'vigil uses RFC 5798\'s Master_Down_Interval (3 adverts plus skew)',
  timer_expired_backup: 'not available in vigil',
  thread_timer_expired: 'not available in vigil',
  use_ipvlan: 'vigil has macvlan VMACs only (use_vmac)',
  use_vmac_addr: 'vigil creates its VMAC interface itself (use_vmac)',
  vmac_xmit_base: 'vigil always sends adverts from the VMAC interface',
  track_src_ip: 'not available in vigil',
  vrf: 'vigil has no VRF support; run vigil inside the VRF (ip vrf exec)',
  owner_ignore_adverts: 'not available in vigil',
  kernel_rx_buf_size: 'not available in vigil',
  linkbeat_use_polling: 'vigil follows link state from netlink events',
  interface_up_down_delays: 'not available in vigil',
  no_virtual_ipaddress: 'vigil needs at least one virtual address',
  sync_group_tracking_weight: 'not available in vigil',
};

interface Vip {
  map: YMap | string;
  readonly at: KaStatement;
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
}

/** Converts one vrrp_instance; undefined (with a warning) when it cannot be expressed at all. */
export function convertInstance(stmt: KaStatement, ctx: ImportContext, out: YSeq): YMap | undefined {
  const kaName = stmt.args[0] ?? '';
  const m = new YMap();
  const name = vigilName(kaName);
  if (kaName === '') ctx.warn(stmt, 'vrrp_instance without a name: named "_"', m);
  else if (name !== kaName) ctx.warn(stmt, `the name has characters vigil does not allow: written as "${name}"`, m);
  m.set('name', name);
  const defaults = ctx.defaults;
  let state: { value: string; stmt: KaStatement } | undefined;
  let nopreempt: KaStatement | undefined;
  let preemptDelay: { value: string; stmt: KaStatement } | undefined;
  let version: number | undefined = defaults.version;
  let versionStmt: KaStatement | undefined;
  let advert: KaStatement | undefined;
  let accept: boolean | undefined = defaults.strict ? false : undefined;
  let strict = defaults.strict;
  let unicastSource: { text: string; stmt: KaStatement } | undefined;
  const peers: { text: string; stmt: KaStatement }[] = [];
  let checksumAsV2 = defaults.checksumAsV2;
  let higher = defaults.higherPrioSendAdvert;
  let lower = defaults.lowerPrioNoAdvert;
  let auth: { stmt: KaStatement; type?: string; pass?: string; passStmt?: KaStatement } | undefined;
  const vips: Vip[] = [];
  const excluded: Vip[] = [];
  const garp = new Map(defaults.garp);
  const notify = new YMap();

  for (const s of stmt.block ?? []) {
    const k = s.keyword;
    const garpKey = GARP_KEYS[k];
    const notifyKey = NOTIFY_KEYS[k];
    if (garpKey !== undefined) {
      const v = garpKey.kind === 'duration' ? readDuration(s, ctx, m) : readInt(s, ctx, garpKey.min, 255, m);
      if (v !== undefined) garp.set(garpKey.key, v);
    } else if (notifyKey !== undefined) {
      notifyScript(s, notifyKey, ctx, notify, m);
    } else if (k in INSTANCE_UNSUPPORTED) {
      ctx.warn(s, `not supported: ${INSTANCE_UNSUPPORTED[k] ?? ''}`, m);
    } else {
      switch (k) {
        case 'state':
          state = { value: (s.args[0] ?? '').toUpperCase(), stmt: s };
          break;
        case 'interface':
          if (s.args[0] !== undefined && /^[^\s/:]{1,15}$/.test(s.args[0])) m.set('interface', s.args[0]);
          else ctx.warn(s, 'not an interface name vigil accepts (1 to 15 characters without "/" or ":")', m);
          break;
        case 'virtual_router_id': {
          const v = readInt(s, ctx, 1, 255, m);
          if (v !== undefined) m.set('vrid', v);
          break;
        }
        case 'priority': {
          const v = readInt(s, ctx, 1, 255, m);
          if (v !== undefined) m.set('priority', v);
          break;
        }
        case 'version': {
          const v = readInt(s, ctx, 2, 3, m);
          if (v !== undefined) {
            version = v;
            versionStmt = s;
          }
          break;
        }
        case 'advert_int':
          advert = s;
          break;
        case 'nopreempt':
          nopreempt = s;
          break;
        case 'preempt':
          nopreempt = undefined;
          break;
        case 'preempt_delay': {
          const v = readDuration(s, ctx, m);
          if (v !== undefined) preemptDelay = { value: v, stmt: s };
          break;
        }
        case 'accept':
          accept = true;
          break;
        case 'no_accept':
          accept = false;
          break;
        case 'strict_mode': {
          const v = readBool(s, ctx, m);
          if (v === true) {
            accept = false;
            strict = true;
          }
          if (v === true) ctx.note(s, 'vigil drops traffic to the VIPs as master (accept: false); the other strict checks are not made', m);
          break;
        }
        case 'higher_prio_send_advert':
          higher = readBool(s, ctx, m) ?? higher;
          break;
        case 'lower_prio_no_advert':
          lower = readBool(s, ctx, m) ?? lower;
          break;
        case 'v3_checksum_as_v2':
          checksumAsV2 = readBool(s, ctx, m) ?? checksumAsV2;
          break;
        case 'virtual_ipaddress':
          for (const line of s.block ?? []) readVip(line, 'virtual_ipaddress', ctx, m, vips, [vips, excluded]);
          if (s.block === undefined) ctx.warn(s, 'expected a { ... } block of addresses', m);
          break;
        case 'virtual_ipaddress_excluded':
          for (const line of s.block ?? []) readVip(line, 'virtual_ipaddress_excluded', ctx, m, excluded, [vips, excluded]);
          break;
        case 'unicast_src_ip':
          if (s.args[0] !== undefined && !('error' in parsePrefix(s.args[0])) && !s.args[0].includes('/')) unicastSource = { text: s.args[0], stmt: s };
          else ctx.warn(s, 'not an IP address; left out', m);
          break;
        case 'unicast_peer':
          for (const entry of s.block ?? []) {
            const addr = entry.keyword;
            const line = asEntry('unicast_peer', entry);
            if ('error' in parsePrefix(addr) || addr.includes('/')) {
              ctx.warn(line, 'not an IP address; left out', m);
              continue;
            }
            peers.push({ text: addr, stmt: line });
            if (entry.args.length > 0) ctx.warn(line, `${entry.args.join(' ')}: vigil requires TTL 255 from every peer (min_ttl/max_ttl not supported)`, m);
          }
          break;
        case 'use_vmac':
          if (s.args[0] !== undefined && /^[^\s/:]{1,15}$/.test(s.args[0])) m.set('vmac', new YMap().set('name', s.args[0]));
          else m.set('vmac', true);
          break;
        case 'authentication':
          auth = { stmt: s };
          for (const a of s.block ?? []) {
            if (a.keyword === 'auth_type') auth.type = (a.args[0] ?? '').toUpperCase();
            else if (a.keyword === 'auth_pass') {
              auth.pass = a.args.join(' ');
              auth.passStmt = a;
            } else ctx.warn(a, `not supported: vigil has PASS authentication only`, m);
          }
          break;
        case 'track_interface':
          for (const line of s.block ?? []) trackInterface(line, ctx, m);
          break;
        case 'track_script':
          for (const line of s.block ?? []) trackRef(asEntry(k, line), ctx, m, ctx.tracked, name);
          break;
        case 'track_process':
          for (const line of s.block ?? []) trackRef(asEntry(k, line), ctx, m, ctx.trackedProcesses, name);
          break;
        default:
          ctx.warn(s, 'not a vrrp_instance keyword vigil knows; left out', m);
      }
    }
  }

  // Required keys: without them keepalived itself refuses the instance or vigil cannot run it.
  const drop = (why: string): undefined => {
    ctx.warn(stmt, `instance left out: ${why}`, out);
    return undefined;
  };
  if (m.get('interface') === undefined) return drop('no interface (vigil needs the interface the adverts use)');
  if (m.get('vrid') === undefined) return drop('no virtual_router_id');

  // Family: keepalived takes it from the first VIP and moves VIPs of the other family to the excluded list.
  const family = vips[0]?.family ?? excluded[0]?.family;
  if (vips.length === 0) return drop('no virtual_ipaddress (vigil needs at least one virtual address)');
  checkLabels(vips, String(m.get('interface')), ctx, m);
  checkLabels(excluded, String(m.get('interface')), ctx, m);
  const kept: Vip[] = [];
  for (const v of vips) {
    if (v.family === family) kept.push(v);
    else {
      excluded.push(v);
      ctx.warn(v.at, `${v.address} is not of the instance's family (that of the first address): moved to excluded_ips (keepalived does the same)`, m);
    }
  }
  m.set('virtual_ips', seqOf(kept));
  if (excluded.length > 0) m.set('excluded_ips', seqOf(excluded));

  // Version: keepalived's default is 2 (vigil's 3), IPv6 is VRRPv3 only.
  let v = version ?? 2;
  if (family === 'ipv6' && v === 2) {
    if (versionStmt !== undefined || defaults.version === 2) ctx.warn(versionStmt ?? stmt, 'IPv6 needs VRRPv3: written as version 3 (keepalived does the same)', m);
    v = 3;
  }
  m.set('version', v);

  if (advert !== undefined) {
    const a = advertInterval(advert, v, ctx, m);
    if (a !== undefined) m.set('advert_interval', a);
  }

  // keepalived (vrrp.c): "nopreempt will not work with initial state MASTER - clearing",
  // "preempt delay will not work with initial state MASTER - clearing",
  // "preempt_delay is incompatible with nopreempt mode - resetting".
  const priority = typeof m.get('priority') === 'number' ? (m.get('priority') as number) : 100;
  if (state !== undefined) {
    if (state.value === 'MASTER' && priority !== 255) ctx.note(state.stmt, 'vigil starts every instance as backup and lets the election decide; keepalived does the same below priority 255', m);
    else if (state.value === 'BACKUP' && priority === 255) ctx.warn(state.stmt, 'at priority 255 vigil becomes master at once; keepalived waits 3 to 4 adverts when state is BACKUP', m);
    else if (state.value !== 'MASTER' && state.value !== 'BACKUP') ctx.warn(state.stmt, 'expected MASTER or BACKUP; left out', m);
    else ctx.note(state.stmt, 'vigil needs no initial state', m);
  }
  const stateMaster = state?.value === 'MASTER';
  if (nopreempt !== undefined) {
    if (stateMaster) ctx.warn(nopreempt, 'keepalived ignores nopreempt with state MASTER; so does this import (preempt stays true)', m);
    else if (priority === 255) ctx.warn(nopreempt, 'keepalived ignores nopreempt at priority 255; left out', m);
    else m.set('preempt', false);
  }
  if (preemptDelay !== undefined) {
    if (stateMaster) ctx.warn(preemptDelay.stmt, 'keepalived ignores preempt_delay with state MASTER; left out', m);
    else if (m.get('preempt') === false) ctx.warn(preemptDelay.stmt, 'keepalived ignores preempt_delay with nopreempt; left out', m);
    else if (strict) ctx.warn(preemptDelay.stmt, 'keepalived ignores preempt_delay in strict mode; left out', m);
    else m.set('preempt_delay', preemptDelay.value);
  }
  if (accept === false) m.set('accept', false);

  if (auth !== undefined) {
    if (v === 3) ctx.warn(auth.stmt, 'VRRPv3 has no authentication (RFC 5798 §9); keepalived ignores it too', m);
    else if (auth.type === 'PASS' && auth.pass !== undefined && auth.pass !== '') {
      let pass = auth.pass;
      if (Buffer.byteLength(pass, 'utf8') > 8) {
        pass = Buffer.from(pass, 'utf8').subarray(0, 8).toString('utf8').replace(/\uFFFD+$/, '');
        ctx.warn(auth.passStmt ?? auth.stmt, `the password is longer than 8 bytes: keepalived sends the first 8, written as "${pass}"`, m);
      }
      m.set('authentication', new YMap().set('type', 'pass').set('password', pass));
    } else if (auth.type === 'AH') ctx.warn(auth.stmt, 'not supported: vigil has no IPsec AH authentication; the instance is written without authentication and will not talk to AH peers', m);
    else ctx.warn(auth.stmt, 'expected auth_type PASS with an auth_pass; left out', m);
  }

  // unicast: the source and the peers of the instance's family, each peer once.
  const familyOf = (text: string): string => (text.includes(':') ? 'ipv6' : 'ipv4');
  const unicast = new YMap();
  const peerList = new YSeq();
  const seenPeers = new Set<string>();
  for (const p of peers) {
    const canonical = parsePrefix(p.text);
    const key = 'error' in canonical ? p.text : canonical.address.text;
    if (familyOf(p.text) !== family) ctx.warn(p.stmt, `not of the instance's family (${family ?? ''}); left out`, m);
    else if (seenPeers.has(key)) ctx.warn(p.stmt, 'the same peer again; listed once', m);
    else {
      seenPeers.add(key);
      peerList.push(p.text);
    }
  }
  if (unicastSource !== undefined) {
    if (familyOf(unicastSource.text) !== family) ctx.warn(unicastSource.stmt, `not of the instance's family (${family ?? ''}); left out`, m);
    else if (peerList.items.length === 0) ctx.warn(unicastSource.stmt, 'without unicast_peer keepalived sends multicast from this source; vigil chooses the multicast source itself: left out', m);
    else unicast.set('source', unicastSource.text);
  }
  if (peerList.items.length > 0) {
    unicast.set('peers', peerList);
    m.set('unicast', unicast);
  }
  if (garp.size > 0) {
    const g = new YMap();
    for (const [key, value] of garp) g.set(key, value);
    m.set('garp', g);
  }
  if (checksumAsV2) {
    if (v === 3 && family === 'ipv4') m.set('checksum', 'rfc9568');
  }
  if (higher !== undefined) m.set('higher_prio_send_advert', higher);
  if (lower !== undefined) m.set('lower_prio_no_advert', lower);
  if (notify.size > 0) m.set('notify', notify);

  // vigil allows one instance per name and per (interface, VRID, family); so does keepalived.
  const taken = [...ctx.instanceNames.values()];
  if (taken.includes(name)) return drop(`another instance is already named "${name}"`);
  const vridKey = `${String(m.get('interface'))}/${String(m.get('vrid'))}/${family ?? ''}`;
  const other = ctx.vrids.get(vridKey);
  if (other !== undefined) return drop(`instance ${other} already has VRID ${String(m.get('vrid'))} on ${String(m.get('interface'))}`);
  ctx.vrids.set(vridKey, name);
  ctx.instanceNames.set(kaName, name);
  reorder(m);
  out.push(m);
  return m;
}

/** A line of a list block (an address, an interface) reported under the block's keyword. */
function asEntry(parent: string, line: KaStatement): KaStatement {
  return { keyword: parent, args: [line.keyword, ...line.args], where: line.where };
}

/**
 * A label must be the device's name or start with "device:" (the kernel's rule); keepalived
 * lets the kernel refuse it when it adds the address, vigil's check-config refuses it first.
 */
function checkLabels(list: Vip[], iface: string, ctx: ImportContext, m: YMap): void {
  for (const v of list) {
    if (!(v.map instanceof YMap)) continue;
    const label = v.map.get('label');
    const dev = v.map.get('dev') ?? iface;
    if (typeof label !== 'string' || label === dev || label.startsWith(`${String(dev)}:`)) continue;
    v.map.delete('label');
    ctx.warn(v.at, `label ${label}: not "${String(dev)}" or "${String(dev)}:..." (the kernel's rule); left out`, m);
    if (v.map.size === 1) v.map = String(v.map.get('address'));
  }
}

function seqOf(vips: readonly Vip[]): YSeq {
  const s = new YSeq();
  for (const v of vips) s.push(v.map);
  return s;
}

/** Puts the entries in KEY_ORDER; the comments (in the order they were made) go right after the name. */
function reorder(m: YMap): void {
  const rank = (key: string): number => {
    const i = KEY_ORDER.indexOf(key);
    return i < 0 ? KEY_ORDER.length : i;
  };
  const entries = m.parts.filter((p) => p.kind === 'entry').sort((a, b) => rank(a.key) - rank(b.key));
  const comments = m.parts.filter((p) => p.kind === 'comment');
  m.parts.splice(0, m.parts.length, ...entries.slice(0, 1), ...comments, ...entries.slice(1));
}

/** advert_int: VRRPv3 whole centiseconds 0.01..40.95 s; VRRPv2 whole seconds 1..255. */
function advertInterval(s: KaStatement, version: number, ctx: ImportContext, m: YMap): string | undefined {
  const text = s.args[0] ?? '';
  if (!/^[0-9]+(\.[0-9]*)?$/.test(text)) {
    ctx.warn(s, `expected seconds, got ${JSON.stringify(text)}; left out (1s)`, m);
    return undefined;
  }
  const ms = secondsToMs(text);
  if (version === 2) {
    const seconds = Math.min(255, Math.max(1, Math.round(ms / 1000)));
    if (seconds * 1000 !== ms) ctx.warn(s, `VRRPv2 adverts are whole seconds 1..255: written as ${seconds}s`, m);
    return `${seconds}s`;
  }
  const cs = Math.min(4095, Math.max(1, Math.round(ms / 10)));
  if (cs * 10 !== ms) ctx.warn(s, `VRRPv3 adverts are whole centiseconds 0.01..40.95 s: written as ${formatMs(cs * 10)}`, m);
  return formatMs(cs * 10);
}

const SCOPES = new Set(['global', 'site', 'link', 'host']);

/** `ADDR[/LEN] [dev IF] [scope S] [label L] [brd B] ...` (keepalived.conf(5) virtual_ipaddress). */
function readVip(line: KaStatement, parent: string, ctx: ImportContext, m: YMap, into: Vip[], all: readonly (readonly Vip[])[]): void {
  const text = line.keyword;
  const at = asEntry(parent, line);
  const parsed = parsePrefix(text);
  if ('error' in parsed) {
    ctx.warn(at, `${parsed.error}; left out`, m);
    return;
  }
  const family = parsed.address.family;
  const canonical = `${parsed.address.text}/${parsed.prefixLength}`;
  if (all.some((list) => list.some((v) => v.address.split('/')[0] === parsed.address.text))) {
    ctx.warn(at, 'the same address again: vigil takes each address once; the first one is kept', m);
    return;
  }
  const entry = new YMap().set('address', text);
  const args = [...line.args];
  const dropped: string[] = [];
  while (args.length > 0) {
    const word = args.shift() ?? '';
    const value = args[0];
    switch (word) {
      case 'dev':
        if (value !== undefined && /^[^\s/:]{1,15}$/.test(value)) entry.set('dev', value);
        else dropped.push(`dev ${value ?? ''}`);
        args.shift();
        break;
      case 'label':
        if (family === 'ipv4' && value !== undefined && value.length <= 15) entry.set('label', value);
        else dropped.push(`label ${value ?? ''}`);
        args.shift();
        break;
      case 'scope':
        if (value !== undefined && SCOPES.has(value)) {
          if (value !== 'global') entry.set('scope', value);
        } else dropped.push(`scope ${value ?? ''}`);
        args.shift();
        break;
      case 'brd':
      case 'broadcast':
      case 'peer':
      case 'preferred_lft':
      case 'track_group':
        dropped.push(`${word} ${value ?? ''}`.trim());
        args.shift();
        break;
      default:
        dropped.push(word);
    }
  }
  if (dropped.length > 0) {
    ctx.warn(at, `${dropped.join(', ')}: not supported for a virtual address (vigil has address, dev, label and scope; the kernel computes the broadcast address)`, m);
  }
  into.push({ map: entry.size === 1 ? text : entry, at, family, address: canonical });
}

/** `IF [weight N [reverse]]`. */
function trackInterface(line: KaStatement, ctx: ImportContext, m: YMap): void {
  const name = line.keyword;
  const at = asEntry('track_interface', line);
  if (!/^[^\s/:]{1,15}$/.test(name)) {
    ctx.warn(at, 'not an interface name vigil accepts; left out', m);
    return;
  }
  const list = m.seq('track_interfaces');
  if (list.items.some((t) => t === name || (t instanceof YMap && t.get('name') === name))) {
    ctx.warn(at, 'the same interface again; tracked once (the first line counts)', m);
    return;
  }
  if (line.args[0] === 'weight') {
    const w = readInt(at, ctx, -254, 254, m, 2);
    if (line.args[2] === 'reverse') ctx.warn(at, 'reverse is not supported: the weight applies as written', m);
    list.push(w === undefined || w === 0 ? name : new YMap().set('name', name).set('weight', w));
  } else {
    if (line.args.length > 0) ctx.warn(at, `${line.args.join(' ')}: not understood; tracked without a weight (FAULT while down)`, m);
    list.push(name);
  }
}

/** A track_script / track_process line: `NAME [weight N [reverse]]`, resolved once the scripts are known. */
function trackRef(line: KaStatement, ctx: ImportContext, m: YMap, refs: Map<string, { script: string; weight?: number; where: KaStatement }[]>, instance: string): void {
  let weight: number | undefined;
  if (line.args[1] === 'weight') weight = readInt(line, ctx, -254, 254, m, 2);
  if (line.args.includes('reverse')) ctx.warn(line, 'reverse is not supported: the weight applies as written', m);
  const list = refs.get(instance) ?? [];
  list.push({ script: line.args[0] ?? '', ...(weight !== undefined ? { weight } : {}), where: line });
  refs.set(instance, list);
}

/**
 * notify_* "SCRIPT ARGS" [USER [GROUP]]: vigil's notify keys take "PATH [ARG ...]", split
 * on blanks (docs/config.md, notify scripts). An argument with a blank in it (keepalived's
 * single quotes) and a per-script user cannot be expressed.
 */
export function notifyScript(s: KaStatement, key: string, ctx: ImportContext, notify: YMap, comments: YMap): void {
  const command = scriptCommand(s, ctx, comments, 'notify');
  if (command !== undefined) notify.set(key, command);
  if (s.args.length > 1) ctx.warn(s, `runs as ${s.args.slice(1).join(':')} in keepalived: vigil has one notifiers.script_user for all scripts`, comments);
}

/** A script line as vigil's "PATH [ARG ...]", or undefined (warned) when it cannot be one. */
export function scriptCommand(s: KaStatement, ctx: ImportContext, comments: YMap, what: string): string | undefined {
  const argv = splitScript(s.args[0] ?? '');
  const program = argv[0];
  if (program === undefined) {
    ctx.warn(s, 'no script given; left out', comments);
    return undefined;
  }
  if (!program.startsWith('/')) {
    ctx.warn(s, `vigil runs ${what} scripts by absolute path only; ${program} left out`, comments);
    return undefined;
  }
  const spaced = argv.slice(1).filter((a) => /\s/.test(a) || a === '');
  if (spaced.length > 0) {
    ctx.warn(s, `the arguments ${spaced.map((a) => JSON.stringify(a)).join(', ')} hold blanks, which vigil's "PATH ARG ..." cannot carry: written without arguments (use a wrapper script)`, comments);
    return program;
  }
  return argv.join(' ');
}
