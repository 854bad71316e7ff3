/**
 * The fuzzer in the lab (issue 10 §4): malformed and mutated VRRP adverts and quorum
 * heartbeats (fuzz-packets.ts) injected at a running daemon while its peer adverts
 * normally, and abuse of its control socket (fuzz-control.ts). Used by
 * test/fuzz-lab.test.ts (a CI-sized slice) and bench/fuzz.ts (`npm run fuzz`, 10⁶ packets).
 *
 * The lab: `a` runs the daemon under fuzz, `b` its real peer, `c` injects. a is master of
 * an IPv4 and an IPv6 VRRPv3 instance and of an address-owner instance (priority 255),
 * backup of a VRRPv2 (password) and a VRRPv3 IPv4 instance whose master is b; both run
 * vigil's quorum (two_node). The packets go from c to a by unicast: a's VRRP sockets take
 * them on the same path as multicast adverts (the IPv4 socket is unbound, the IPv6 one is
 * bound to a's link-local address), and b is not flooded, so its adverts and heartbeats
 * keep their pace and any state change on a is a's own.
 *
 * Flow control instead of sleeps: after each batch the injector waits until a's socket
 * receive queues are empty (/proc/PID/net/raw, raw6, udp: rx_queue), so the kernel drops
 * nothing and every packet must show in a's counters; the kernel's drop counters of those
 * sockets are read too, and reported.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Lab } from './netns.js';
import { inNetns } from './inject.js';
import { sleep } from './wait.js';
import type { VigilProcess } from './vigil.js';
import { ip, type AddressFamily, type IPv4Address, type IPv6Address } from '../net/address.js';
import { sockaddrIn, sockaddrIn6 } from '../net/sockaddr.js';
import { AF_INET, AF_INET6 } from '../net/af.js';
import { IP_TTL, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_VRRP, IPV6_FREEBIND, IPV6_UNICAST_HOPS, SOCK_DGRAM, SOCK_RAW, native } from '../native/index.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import type { RejectionReason as HeartbeatReason } from '../quorum/membership.js';
import {
  Rng,
  knownHeartbeats,
  knownVrrpPackets,
  mutatedHeartbeat,
  mutatedVrrpPacket,
  mutationBases,
  type Addressing,
  type FuzzVrrpPacket,
  type HeartbeatTarget,
  type MutationBase,
  type VrrpExpect,
  type VrrpTarget,
} from './fuzz-packets.js';

// ---- the injector ---------------------------------------------------------------------

/** Raw VRRP and UDP sockets opened in the injecting host's namespace (they stay there), sending by unicast. */
export class Injector {
  private readonly n = native();
  private readonly ttl: Record<AddressFamily, number> = { ipv4: -1, ipv6: -1 };
  private readonly raw: Record<AddressFamily, number>;
  private readonly udp: number;
  /** IPv6, bound (IPV6_FREEBIND) to the target's own link-local address: forged adverts "from" the target. */
  private readonly spoof: number;
  private readonly vrrpDst: Record<AddressFamily, Uint8Array>;
  private readonly heartbeatDst: Uint8Array;
  sent = 0;

  constructor(lab: Lab, from: string, to: string, heartbeatPort: number) {
    const src = lab.host(from);
    const dst = lab.host(to);
    const opened = inNetns(src.ns, () => {
      const ifindex = this.n.ifNameToIndex('eth0');
      const v4 = this.n.socket(AF_INET, SOCK_RAW, IPPROTO_VRRP);
      const v6 = this.n.socket(AF_INET6, SOCK_RAW, IPPROTO_VRRP);
      this.n.bind(v6, sockaddrIn6(ip(src.ipv6LinkLocal) as IPv6Address, 0, ifindex));
      const udp = this.n.socket(AF_INET, SOCK_DGRAM, 0);
      const spoof = this.n.socket(AF_INET6, SOCK_RAW, IPPROTO_VRRP);
      this.n.setsockopt(spoof, IPPROTO_IPV6, IPV6_FREEBIND, 1);
      this.n.bind(spoof, sockaddrIn6(ip(dst.ipv6LinkLocal) as IPv6Address, 0, ifindex));
      this.n.setsockopt(spoof, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
      return { v4, v6, udp, spoof, ifindex };
    });
    this.raw = { ipv4: opened.v4, ipv6: opened.v6 };
    this.udp = opened.udp;
    this.spoof = opened.spoof;
    this.vrrpDst = { ipv4: sockaddrIn(ip(dst.ipv4) as IPv4Address), ipv6: sockaddrIn6(ip(dst.ipv6LinkLocal) as IPv6Address, 0, opened.ifindex) };
    this.heartbeatDst = sockaddrIn(ip(dst.ipv4) as IPv4Address, heartbeatPort);
  }

  /** The addresses the injected adverts carry: c's IPv4 / link-local to a's IPv4 / link-local. */
  static addressing(lab: Lab, from: string, to: string): Addressing {
    const s = lab.host(from);
    const d = lab.host(to);
    return { src: { ipv4: ip(s.ipv4), ipv6: ip(s.ipv6LinkLocal) }, dst: { ipv4: ip(d.ipv4), ipv6: ip(d.ipv6LinkLocal) } };
  }

  vrrp(p: FuzzVrrpPacket): void {
    const fd = this.raw[p.family];
    if (this.ttl[p.family] !== p.ttl) {
      if (p.family === 'ipv4') this.n.setsockopt(fd, IPPROTO_IP, IP_TTL, p.ttl);
      else this.n.setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, p.ttl);
      this.ttl[p.family] = p.ttl;
    }
    this.n.sendto(fd, p.payload, this.vrrpDst[p.family]);
    this.sent++;
  }

  /** An IPv6 advert with the target's own link-local address as its source (the checksum must be made for that source). */
  vrrpFromTarget(payload: Uint8Array): void {
    this.n.sendto(this.spoof, payload, this.vrrpDst.ipv6);
    this.sent++;
  }

  heartbeat(payload: Uint8Array): void {
    this.n.sendto(this.udp, payload, this.heartbeatDst);
    this.sent++;
  }

  close(): void {
    for (const fd of [this.raw.ipv4, this.raw.ipv6, this.udp, this.spoof]) this.n.close(fd);
  }
}

// ---- the target's sockets, seen from /proc ------------------------------------------------

export interface QueueState {
  /** Bytes waiting in the receive queues. */
  readonly queued: number;
  /** Datagrams the kernel dropped on those sockets since they opened. */
  readonly drops: number;
}

/** rx_queue and drops of `pid`'s sockets in /proc/PID/net/{file} whose local port (raw: protocol) is `port`. */
export function socketQueues(pid: number, files: readonly ('raw' | 'raw6' | 'udp' | 'udp6')[], port: number): QueueState {
  let queued = 0;
  let drops = 0;
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of files) {
    const lines = readFileSync(`/proc/${pid}/net/${file}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const cols = line.trim().split(/\s+/);
      if (!cols[1]?.toUpperCase().endsWith(hex)) continue;
      queued += parseInt(cols[4]?.split(':')[1] ?? '0', 16);
      drops += Number(cols[cols.length - 1]);
    }
  }
  return { queued, drops };
}

/** Waits (polling every millisecond) until the queues are empty, at most `timeoutMs`; returns whether they emptied. */
export async function drained(read: () => QueueState, timeoutMs = 5000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (read().queued > 0) {
    if (performance.now() > deadline) return false;
    await sleep(1);
  }
  return true;
}

// ---- process measurements -------------------------------------------------------------------

export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU time (user + system) of `pid` in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime), counted from 1 with pid and comm: here 11 and 12 from 0.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

// ---- counters ------------------------------------------------------------------------------------

/** "instance:NAME:REASON" or "socket:FAMILY:REASON". */
export function expectKey(e: Exclude<VrrpExpect, { kind: 'any' }>): string {
  return e.kind === 'instance' ? `instance:${e.instance}:${e.reason}` : `socket:${e.family}:${e.reason}`;
}

/** Every drop counter of a's VRRP side, by expectKey, plus "transport:malformed" (IP-level drops). */
export function vrrpCounters(st: DaemonStatus): Map<string, number> {
  const out = new Map<string, number>();
  const add = (k: string, n: number): void => void out.set(k, (out.get(k) ?? 0) + n);
  for (const i of st.instances) for (const [reason, n] of Object.entries(i.rejected)) add(`instance:${i.name}:${reason}`, n ?? 0);
  for (const [socket, counts] of Object.entries(st.socketRejects)) {
    const family = socket.includes('/ipv6/') ? 'ipv6' : 'ipv4';
    for (const [reason, n] of Object.entries(counts)) add(`socket:${family}:${reason}`, n ?? 0);
  }
  for (const s of Object.values(st.sockets)) add('transport:malformed', s.malformed + s.receiveErrors);
  return out;
}

export function heartbeatCounters(st: DaemonStatus): Map<string, number> {
  const out = new Map<string, number>();
  for (const [reason, n] of Object.entries(st.quorum?.heartbeats.rejected ?? {})) out.set(reason, n ?? 0);
  return out;
}

function delta(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) !== 0) out.set(k, v - (before.get(k) ?? 0));
  return out;
}

function total(m: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

/** Polls status until `counters` stop changing for 3 polls (the daemon has read everything). */
async function settledCounters(p: VigilProcess, counters: (st: DaemonStatus) => Map<string, number>): Promise<Map<string, number>> {
  let last = '';
  let same = 0;
  for (;;) {
    const m = counters(await p.status());
    const text = JSON.stringify([...m].sort());
    same = text === last ? same + 1 : 0;
    if (same >= 2) return m;
    last = text;
    await sleep(100);
  }
}

// ---- a run -----------------------------------------------------------------------------------

export interface FuzzPhase {
  readonly name: string;
  readonly sent: number;
  /** Packets with a known reason, by key; the mutated ones under "any". */
  readonly expected: ReadonlyMap<string, number>;
  /** What the daemon's counters grew by, by key. */
  readonly counted: ReadonlyMap<string, number>;
  /** Datagrams the kernel dropped on a's sockets (never reached the daemon). */
  readonly kernelDrops: number;
  /** Mismatches, each as "KEY: sent N, counted M"; empty when every packet was counted where expected. */
  readonly mismatches: readonly string[];
  readonly seconds: number;
  /** Log lines the daemon wrote during the phase. */
  readonly logLines: number;
  readonly cpuMs: number;
  /** RSS after the first batches (warm-up) and at the end. */
  readonly rssKb: { readonly warm: number; readonly end: number };
}

export interface PhaseOptions {
  readonly packets: number;
  readonly seed: number;
  /** Packets per batch before waiting for the queues (default 64). */
  readonly batch?: number;
  readonly onProgress?: (sent: number) => void;
}

/** Compares per key (known) or in total (mutated: every packet counted under some reason). */
function compare(expected: ReadonlyMap<string, number>, counted: ReadonlyMap<string, number>, kernelDrops: number): string[] {
  const out: string[] = [];
  const any = expected.get('any');
  if (any !== undefined) {
    const n = total(counted);
    if (n + kernelDrops !== any) out.push(`mutated: sent ${any}, counted ${n} under ${counted.size} reasons, kernel drops ${kernelDrops}`);
    return out;
  }
  for (const [k, n] of expected) if ((counted.get(k) ?? 0) !== n) out.push(`${k}: sent ${n}, counted ${counted.get(k) ?? 0}`);
  for (const [k, n] of counted) if (!expected.has(k)) out.push(`${k}: sent 0, counted ${n}`);
  if (kernelDrops > 0) out.push(`the kernel dropped ${kernelDrops} datagrams on the daemon's sockets`);
  return out;
}

async function runPhase(
  name: string,
  target: VigilProcess,
  opts: PhaseOptions,
  next: () => { readonly key: string; readonly send: () => void },
  queues: () => QueueState,
  counters: (st: DaemonStatus) => Map<string, number>,
): Promise<FuzzPhase> {
  const batch = opts.batch ?? 64;
  const pid = target.pid;
  const before = await settledCounters(target, counters);
  const drops0 = queues().drops;
  const logMark = target.events.length;
  const cpu0 = cpuMs(pid);
  const started = performance.now();
  const expected = new Map<string, number>();
  let warm = NaN;
  let sent = 0;
  while (sent < opts.packets) {
    const n = Math.min(batch, opts.packets - sent);
    for (let i = 0; i < n; i++) {
      const p = next();
      p.send();
      expected.set(p.key, (expected.get(p.key) ?? 0) + 1);
    }
    sent += n;
    if (!(await drained(queues))) throw new Error(`${name}: the daemon on ${target.host} did not read its sockets within 5 s after ${sent} packets`);
    if (Number.isNaN(warm) && sent >= Math.min(opts.packets, Math.max(2000, opts.packets / 10))) warm = rssKb(pid);
    if (opts.onProgress && sent % (batch * 256) < batch) opts.onProgress(sent);
    if (target.exited) throw new Error(`${name}: vigil on ${target.host} exited (${String(target.exitStatus)}) after ${sent} packets; stderr: ${target.stderr}`);
  }
  const after = await settledCounters(target, counters);
  const seconds = (performance.now() - started) / 1000;
  const kernelDrops = queues().drops - drops0;
  const counted = delta(after, before);
  return {
    name,
    sent,
    expected,
    counted,
    kernelDrops,
    mismatches: compare(expected, counted, kernelDrops),
    seconds,
    logLines: target.events.length - logMark,
    cpuMs: cpuMs(pid) - cpu0,
    rssKb: { warm, end: rssKb(pid) },
  };
}

/** Known-reason VRRP packets: every reason of rejection.ts that the wire can carry, for each target. */
export function vrrpKnownPhase(target: VigilProcess, inj: Injector, targets: readonly VrrpTarget[], a: Addressing, opts: PhaseOptions): Promise<FuzzPhase> {
  const rng = new Rng(opts.seed);
  // One round of every generator at a time, so each reason appears in every slice of the run.
  let pending: FuzzVrrpPacket[] = [];
  return runPhase(
    'vrrp-known',
    target,
    opts,
    () => {
      if (pending.length === 0) pending = knownVrrpPackets(targets, a, rng, 256);
      const p = pending.shift() as FuzzVrrpPacket;
      if (p.expect.kind === 'any') throw new Error('a known packet without a reason');
      return { key: expectKey(p.expect), send: () => inj.vrrp(p) };
    },
    () => socketQueues(target.pid, ['raw', 'raw6'], IPPROTO_VRRP),
    vrrpCounters,
  );
}

/** Mutations of valid adverts (keepalived's vectors and ours): each must be counted under some reason. */
export function vrrpMutatedPhase(target: VigilProcess, inj: Injector, targets: readonly VrrpTarget[], vectors: readonly MutationBase[], a: Addressing, opts: PhaseOptions): Promise<FuzzPhase> {
  const rng = new Rng(opts.seed);
  const bases = mutationBases(targets, vectors, a, rng);
  return runPhase(
    'vrrp-mutated',
    target,
    opts,
    () => {
      const p = mutatedVrrpPacket(bases, rng);
      return { key: 'any', send: () => inj.vrrp(p) };
    },
    () => socketQueues(target.pid, ['raw', 'raw6'], IPPROTO_VRRP),
    vrrpCounters,
  );
}

/** Heartbeats: forged, replayed, truncated, other cluster... (`mutated`: bit flips, cuts, extensions, in total). */
export function heartbeatPhase(target: VigilProcess, inj: Injector, hb: HeartbeatTarget, port: number, mutated: boolean, opts: PhaseOptions): Promise<FuzzPhase> {
  const rng = new Rng(opts.seed);
  let pending: { payload: Buffer; reason: HeartbeatReason | 'any' }[] = [];
  return runPhase(
    mutated ? 'heartbeat-mutated' : 'heartbeat-known',
    target,
    opts,
    () => {
      if (pending.length === 0) pending = mutated ? Array.from({ length: 64 }, () => mutatedHeartbeat(hb, rng)) : knownHeartbeats(hb, rng, 240);
      const h = pending.shift() as { payload: Buffer; reason: HeartbeatReason | 'any' };
      return { key: h.reason, send: () => inj.heartbeat(h.payload) };
    },
    () => socketQueues(target.pid, ['udp'], port),
    heartbeatCounters,
  );
}

/** The reasons counted in a phase, sorted, for reports. */
export function phaseSummary(p: FuzzPhase): string {
  const reasons = [...p.counted].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}=${n}`).join(' ');
  return `${p.name}: ${p.sent} packets in ${p.seconds.toFixed(1)} s (${Math.round(p.sent / p.seconds)}/s), ${p.mismatches.length === 0 ? 'all counted' : `MISMATCH ${p.mismatches.join('; ')}`}, kernel drops ${p.kernelDrops}, CPU ${(p.cpuMs / 10 / p.seconds).toFixed(0)} % of a core, RSS ${p.rssKb.warm} -> ${p.rssKb.end} kB, ${p.logLines} log lines (${(p.logLines / p.seconds).toFixed(1)}/s); ${reasons}`;
}


// ---- the fuzz lab ------------------------------------------------------------------------------

export const FUZZ_HOSTS = ['a', 'b', 'c'] as const;
export const FUZZ_CLUSTER = 'fuzz';
export const FUZZ_HEARTBEAT_PORT = 5406;
const PASSWORD = 'fuzzpw';

/** The instances of the fuzz lab: a's view (b has the complementary priorities; the owner instance is a's alone). */
export function fuzzTargets(): VrrpTarget[] {
  return [
    { instance: 'v3m', version: 3, family: 'ipv4', vrid: 51, intervalCs: 10, vips: [ip('10.213.0.151')], addressListDrop: true },
    { instance: 'v6m', version: 3, family: 'ipv6', vrid: 53, intervalCs: 10, vips: [ip('fe80::13:1:153'), ip('fd13::153')], addressListDrop: true },
    { instance: 'own', version: 3, family: 'ipv4', vrid: 54, intervalCs: 10, vips: [ip('10.213.0.154')], owner: true, addressListDrop: true },
    { instance: 'v2b', version: 2, family: 'ipv4', vrid: 52, intervalCs: 100, vips: [ip('10.213.0.152')], password: PASSWORD, addressListDrop: true },
    { instance: 'v3b', version: 3, family: 'ipv4', vrid: 55, intervalCs: 10, vips: [ip('10.213.0.155')], addressListDrop: true },
  ];
}

/** a's state per instance: master where a has the higher priority. */
export const FUZZ_A_STATES: Readonly<Record<string, 'master' | 'backup'>> = { v3m: 'master', v6m: 'master', own: 'master', v2b: 'backup', v3b: 'backup' };

function instanceBlock(t: VrrpTarget, priority: number): string {
  const prefix = t.family === 'ipv4' ? 24 : 64;
  return [
    `  - name: ${t.instance}`,
    '    interface: eth0',
    `    vrid: ${t.vrid}`,
    `    version: ${t.version}`,
    `    priority: ${priority}`,
    `    advert_interval: ${t.intervalCs * 10}ms`,
    `    virtual_ips: [${t.vips.map((v) => `${v.text}/${prefix}`).join(', ')}]`,
    '    address_list_check: drop',
    ...(t.password !== undefined ? [`    authentication: { type: pass, password: ${t.password} }`] : []),
  ].join('\n');
}

/** The config of `host` (a or b) in the fuzz lab. */
export function fuzzConfig(lab: Lab, host: 'a' | 'b', keyFile: string): string {
  const blocks: string[] = [];
  for (const t of fuzzTargets()) {
    if (t.owner === true && host === 'b') continue;
    const aMaster = FUZZ_A_STATES[t.instance] === 'master';
    const priority = t.owner === true ? 255 : (host === 'a') === aMaster ? 200 : 100;
    blocks.push(instanceBlock(t, priority));
  }
  return [
    'instances:',
    ...blocks,
    'quorum:',
    `  cluster_name: ${FUZZ_CLUSTER}`,
    `  key_file: ${keyFile}`,
    '  two_node: true',
    '  heartbeat_interval: 100ms',
    // 1 s rather than 300 ms: a daemon whose loop stalls past the timeout (a busy shared
    // host) reads its peer's queued heartbeat only after expiring it, and logs a leave and a
    // join in the same millisecond (a known limit, reported; the VRRP side drains its socket
    // first). The fuzz checks that forged heartbeats move nothing, not that limit.
    '  heartbeat_timeout: 1s',
    '  nodes:',
    `    - { id: 1, name: a, address: ${lab.host('a').ipv4} }`,
    `    - { id: 2, name: b, address: ${lab.host('b').ipv4} }`,
    '',
  ].join('\n');
}

export function fuzzHeartbeatTarget(key: Uint8Array): HeartbeatTarget {
  return { cluster: FUZZ_CLUSTER, key, localId: 1, peerId: 2, nodeIds: [1, 2] };
}

/** The worst gap between consecutive adverts of each VRID sent by `src` in `adverts`, in ms. */
export function worstGaps(adverts: readonly { readonly timeMs: number; readonly src: { readonly text: string }; readonly vrid: number }[], src: readonly string[]): Map<number, { worst: number; count: number }> {
  const last = new Map<number, number>();
  const out = new Map<number, { worst: number; count: number }>();
  for (const ad of adverts) {
    if (!src.includes(ad.src.text)) continue;
    const prev = last.get(ad.vrid);
    const cur = out.get(ad.vrid) ?? { worst: 0, count: 0 };
    out.set(ad.vrid, { worst: prev === undefined ? cur.worst : Math.max(cur.worst, ad.timeMs - prev), count: cur.count + 1 });
    last.set(ad.vrid, ad.timeMs);
  }
  return out;
}

/** The VRRP payloads of the golden vectors in `dir` (test/vectors: real keepalived packets), to mutate. */
export function vectorBases(dir: string): MutationBase[] {
  const out: MutationBase[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const v = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as { frame?: boolean; payload_hex?: string; ip?: { version?: number; next_header?: number; protocol?: number } | null };
    if (v.frame === true || v.ip == null || typeof v.payload_hex !== 'string') continue;
    const payload = Buffer.from(v.payload_hex, 'hex');
    if (payload.length < 8 || ((payload[0] ?? 0) & 0x0f) !== 1) continue; // VRRP adverts only
    out.push({ family: v.ip.version === 6 ? 'ipv6' : 'ipv4', payload });
  }
  return out;
}
