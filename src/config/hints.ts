/**
 * Hints for unknown keys: keepalived's names for vigil's keys, and "did you mean" by
 * edit distance. No I/O, no state.
 */

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** keepalived keywords people will bring along, and what they are called here. */
const KEEPALIVED_NAMES: Readonly<Record<string, string>> = {
  global_defs: 'global',
  vrrp_instance: 'instances',
  vrrp_sync_group: 'sync_groups',
  group: 'instances',
  virtual_router_id: 'vrid',
  advert_int: 'advert_interval',
  nopreempt: 'preempt: false',
  virtual_ipaddress: 'virtual_ips',
  virtual_ipaddress_excluded: 'excluded_ips',
  unicast_peer: 'unicast.peers',
  unicast_src_ip: 'unicast.source',
  auth_type: 'authentication.type',
  auth_pass: 'authentication.password',
  use_vmac: 'vmac',
  vmac_xmit_base: 'vmac',
  track_interface: 'track_interfaces',
  garp_master_delay: 'garp.master_delay',
  garp_master_repeat: 'garp.master_repeat',
  garp_master_refresh: 'garp.master_refresh',
  garp_master_refresh_repeat: 'garp.master_refresh_repeat',
  garp_lower_prio_repeat: 'garp.lower_prio_repeat',
  garp_lower_prio_delay: 'garp.lower_prio_delay',
  garp_interval: 'garp.interval',
  gna_interval: 'garp.interval',
  v3_checksum_as_v2: 'checksum: rfc9568',
  vrrp_rt_priority: 'realtime_priority',
  max_auto_priority: 'realtime_priority',
};

export function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  if (key === 'state') {
    return 'unknown key; vigil has no initial state: an instance starts as backup, or as master at priority 255';
  }
  const keepalived = KEEPALIVED_NAMES[key];
  if (keepalived !== undefined) return `unknown key; keepalived's ${key} is ${keepalived} here`;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = levenshtein(key.toLowerCase(), candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= Math.min(3, Math.floor(best.length / 3))) {
    return `unknown key; did you mean "${best}"?`;
  }
  return `unknown key; expected one of: ${allowed.join(', ')}`;
}
