/**
 * `vigil demo`: three real `vigil run` daemons in network namespaces on one bridge, and a
 * client namespace that pings the virtual address and captures the segment (tcpdump,
 * immediate mode, nanosecond timestamps). Shows the election, a crash of the master
 * (SIGKILL, and its link taken down: the host is gone) and a graceful handover of the
 * next master (SIGTERM: priority 0), each with its timeline from the capture: the old
 * master's last advert, the new master's first advert and gratuitous ARP, and how long
 * the client's pings went unanswered.
 *
 * Everything it creates is its own: namespaces with a per-run prefix (deleted at the end,
 * also on errors and on Ctrl-C, by the Lab's exit hook), addresses in 10.213.0.0/16, a
 * temporary directory for configs and runtime directories, and child processes ended by
 * their PIDs. The machine's own interfaces and sysctls are never touched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { formatCentiseconds, formatIssue, parseConfig } from '../config/load.js';
import { native } from '../native/index.js';
import { Capture, gratuitousArps, icmpEchoes, vrrpAdverts, type Frame } from './capture.js';
import { Lab } from './netns.js';
import { VigilProcess } from './vigil.js';
import { errorText } from '../base/error-text.js';
import { sleep } from './wait.js';

export const DEMO_VIP = '10.213.0.100';
const VIP_PREFIX = 24;
const INSTANCE = 'gw';
const DEFAULT_VRID = 51;

/** The vigil hosts and their priorities, highest first. */
const NODES = [
  { host: 'a', priority: 150 },
  { host: 'b', priority: 100 },
  { host: 'c', priority: 50 },
] as const;

export interface DemoOptions {
  /** The advertisement interval; a multiple of 10 ms. */
  readonly intervalMs: number;
  /** Prints one line (without the newline). */
  readonly say: (line: string) => void;
}

/** One change of master as the client saw it; times are CLOCK_REALTIME ms, `…AfterMs` relative to the signal. */
export interface FailoverTimeline {
  readonly kind: 'crash' | 'graceful';
  readonly oldMaster: string;
  readonly newMaster: string;
  readonly signal: 'SIGKILL' | 'SIGTERM';
  readonly signalAtMs: number;
  /** The old master's last advert with a priority above 0. */
  readonly lastAdvertMs: number;
  /** SIGTERM: the old master's priority-0 advert. */
  readonly zeroAdvertMs?: number;
  readonly firstAdvertMs: number;
  readonly garpMs: number;
  /** First advert of the new master minus the reference: the last advert (crash) or the priority-0 advert (graceful). */
  readonly takeoverMs: number;
  /** What RFC 5798 says takeoverMs should be: Master_Down_Interval (crash) or Skew_Time (graceful) of the new master. */
  readonly expectedMs: number;
  readonly lastReplyMs: number;
  readonly firstReplyMs: number;
  /** From the last echo reply before the change to the first one after it. */
  readonly pingGapMs: number;
  readonly pingsLost: number;
  /** The old master's exit status (0 after SIGTERM, "SIGKILL" after a crash). */
  readonly exitStatus: number | string;
}

export interface DemoReport {
  /** The namespaces' common prefix. */
  readonly prefix: string;
  readonly namespaces: readonly string[];
  readonly intervalMs: number;
  readonly vrid: number;
  readonly electedMaster: string;
  /** From launching the daemons to the master's state change, ms. */
  readonly electionMs: number;
  readonly crash: FailoverTimeline;
  readonly graceful: FailoverTimeline;
  /** The temporary directory of the configs and runtime directories (removed at the end). */
  readonly workDir: string;
  /** Whether every namespace of the run was gone afterwards. */
  readonly cleanedUp: boolean;
}

/** Why the namespace demo cannot run here, or undefined when it can. */
export function demoPrerequisites(): string | undefined {
  if (process.getuid?.() !== 0) {
    return 'vigil demo builds network namespaces and needs root: run it as root (e.g. sudo npm run demo), or run `vigil demo --simulated` for the simulator';
  }
  const missing: string[] = [];
  for (const [cmd, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['tcpdump', ['--version'], 'tcpdump'],
    ['ping', ['-V'], 'iputils-ping'],
  ] as const) {
    try {
      execFileSync(cmd, [...args], { stdio: 'ignore' });
    } catch {
      missing.push(`${cmd} (package ${pkg})`);
    }
  }
  if (missing.length > 0) return `vigil demo needs ${missing.join(', ')}: install ${missing.length === 1 ? 'it' : 'them'} (apt-get install -y iproute2 tcpdump iputils-ping), or run \`vigil demo --simulated\``;
  try {
    native();
  } catch (e) {
    return `vigil demo needs the native addon (npm run build:native): ${errorText(e)}`;
  }
  return undefined;
}

/** RFC 5798 §6.1, in ms: Skew_Time and Master_Down_Interval for `priority` at `intervalMs`. */
export function skewTimeMs(priority: number, intervalMs: number): number {
  return ((256 - priority) * intervalMs) / 256;
}
export function masterDownIntervalMs(priority: number, intervalMs: number): number {
  return 3 * intervalMs + skewTimeMs(priority, intervalMs);
}

/** The default config that ships with the package (etc/vigil.yaml), if it can be found. */
function findDefaultConfig(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'etc', 'vigil.yaml');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}

/** etc/vigil.yaml (comments kept) with this node's priority and the demo's interval; a minimal config without it. */
function nodeConfig(priority: number, intervalMs: number): { text: string; vrid: number; from: string } {
  const interval = formatCentiseconds(intervalMs / 10);
  const file = findDefaultConfig();
  if (file !== undefined) {
    const doc = parseDocument(readFileSync(file, 'utf8'));
    doc.setIn(['instances', 0, 'priority'], priority);
    doc.setIn(['instances', 0, 'advert_interval'], interval);
    const vrid = doc.getIn(['instances', 0, 'vrid']);
    return { text: doc.toString(), vrid: typeof vrid === 'number' ? vrid : DEFAULT_VRID, from: file };
  }
  const text = [
    'instances:',
    `  - name: ${INSTANCE}`,
    '    interface: eth0',
    `    vrid: ${DEFAULT_VRID}`,
    `    priority: ${priority}`,
    `    advert_interval: ${interval}`,
    `    virtual_ips: [${DEMO_VIP}/${VIP_PREFIX}]`,
    '',
  ].join('\n');
  return { text, vrid: DEFAULT_VRID, from: 'a built-in minimal config' };
}

/** CLOCK_REALTIME in ms with sub-millisecond precision (tcpdump's timestamps are on the same clock). */
function realtimeMs(): number {
  return performance.timeOrigin + performance.now();
}

function rel(t: number, zero: number): string {
  const d = t - zero;
  return `${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(1).padStart(8)} ms`;
}

function namespacesWithPrefix(prefix: string): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`vigil demo: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function vipHolders(lab: Lab, hosts: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const h of hosts) {
    const r = await lab.exec(h, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'], true);
    if (r.stdout.includes(` ${DEMO_VIP}/`)) found.push(h);
  }
  return found;
}

/** Runs the demo; the lab and every process and file of it are gone when it settles (resolved or rejected). */
export async function runNamespaceDemo(options: DemoOptions): Promise<DemoReport> {
  const { say, intervalMs } = options;
  const hosts = [...NODES.map((n) => n.host), 'client'];
  const work = mkdtempSync(path.join(tmpdir(), 'vigil-demo-'));
  // On Ctrl-C the Lab's hook deletes the namespaces and kills the children, then exits: remove the files then too.
  const removeWork = (): void => rmSync(work, { recursive: true, force: true });
  process.on('exit', removeWork);
  let lab: Lab | undefined;
  let prefix = '';
  try {
    lab = await Lab.create({ hosts, prefix: 'vgd' });
    prefix = lab.prefix;
    const l = lab;
    const client = l.host('client');
    const configs = NODES.map((n) => ({ ...n, ...nodeConfig(n.priority, intervalMs) }));
    const vrid = configs[0]?.vrid ?? DEFAULT_VRID;

    say(`vigil demo: ${NODES.length} vigil daemons in network namespaces, VRID ${vrid}, VIP ${DEMO_VIP}/${VIP_PREFIX}, advert interval ${intervalMs} ms`);
    say(`lab: bridge in ${l.switchNs}; client ${client.ns} ${client.ipv4}`);
    for (const n of NODES) {
      const h = l.host(n.host);
      say(`     node ${n.host}: ${h.ns} ${h.ipv4} ${h.mac}, priority ${n.priority}`);
    }
    say(`config: ${configs[0]?.from ?? '?'} with each node's priority and advert_interval ${formatCentiseconds(intervalMs / 10)}, in ${work}`);
    for (const c of configs) {
      const text = c.text;
      const check = parseConfig(text, `${c.host}/vigil.yaml`);
      if (!check.ok) throw new Error(`the demo's config for ${c.host} is invalid:\n${check.errors.map(formatIssue).join('\n')}`);
      mkdirSync(path.join(work, c.host), { recursive: true });
      writeFileSync(path.join(work, c.host, 'vigil.yaml'), text);
    }

    const capture = await Capture.start(l, 'client', 'vrrp or arp or icmp');
    say(`capture: tcpdump --immediate-mode --time-stamp-precision=nano on the client\n`);

    // 1. Election.
    say('1. election: every node starts as backup; the highest priority has the shortest Master_Down_Interval');
    const t0 = performance.now();
    const nodes = new Map<string, VigilProcess>();
    for (const n of NODES) nodes.set(n.host, VigilProcess.spawn(l, n.host, path.join(work, n.host, 'vigil.yaml'), path.join(work, n.host, 'run')));
    const node = (h: string): VigilProcess => {
      const v = nodes.get(h);
      if (v === undefined) throw new Error(`no node ${h}`);
      return v;
    };
    const startTimeout = 15000;
    await Promise.all([...nodes.values()].map((v) => v.waitFor((e) => e.event === 'started', 'started', startTimeout)));
    const [first, second, third] = NODES;
    const electTimeout = masterDownIntervalMs(first.priority, intervalMs) + 10000;
    const elected = await node(first.host).waitState(INSTANCE, 'master', electTimeout);
    await sleep(intervalMs + 50);
    const lines: [number, string][] = [];
    for (const n of NODES) {
      for (const e of node(n.host).events) {
        if (e.event === 'started') lines.push([e.receivedAt, `${n.host}  vigil run started (pid ${String(e['pid'])}, priority ${n.priority})`]);
        if (e.event === 'state-change') lines.push([e.receivedAt, `${n.host}  ${String(e['from'])} -> ${String(e['to'])} (${String(e['reason'])})`]);
      }
    }
    lines.sort((x, y) => x[0] - y[0]);
    for (const [at, line] of lines) say(`   ${rel(at, t0)}  ${line}`);
    for (const n of [second, third]) {
      if (node(n.host).state() !== 'backup') throw new Error(`vigil demo: ${n.host} is ${node(n.host).state() ?? 'in no state'} after the election, expected backup`);
    }
    await until(`${DEMO_VIP} on ${first.host} alone`, 3000, async () => ((await vipHolders(l, NODES.map((n) => n.host))).join() === first.host ? true : undefined));
    const electionMs = elected.receivedAt - t0;
    const startedAt = node(first.host).events.find((e) => e.event === 'started')?.receivedAt ?? t0;
    say(
      `   master: ${first.host}, ${(elected.receivedAt - startedAt).toFixed(0)} ms after its start (Master_Down_Interval at ${first.priority} = ${masterDownIntervalMs(first.priority, intervalMs).toFixed(1)} ms); ${[second, third].map((n) => n.host).join(' and ')} backup; VIP ${DEMO_VIP} on ${first.host}`,
    );

    // The client pings the VIP every 10 ms from here on (its output is not needed: the capture has every echo).
    l.spawn('client', 'ping', ['-n', '-q', '-i', '0.01', DEMO_VIP], { stdio: 'ignore' });
    const firstReply = await until('a ping reply from the VIP', 3000, () => icmpEchoes(capture.frames()).find((x) => x.kind === 'reply' && x.src === DEMO_VIP));
    say(`   client ${client.ipv4} pings ${DEMO_VIP} every 10 ms; answered by ${macHost(l, firstReply.ethSrc)}\n`);
    await sleep(Math.max(500, 1.5 * intervalMs));

    // 2. Crash.
    say(`2. crash: vigil on ${first.host} is killed (SIGKILL) and ${first.host}'s eth0 goes down at once: the host is gone, no priority-0 advert`);
    const crashAt = realtimeMs();
    node(first.host).signal('SIGKILL');
    await l.link(first.host, false);
    const crashStatus = await node(first.host).waitExit(5000);
    const crashFrom = node(second.host).events.length;
    await node(second.host).waitState(INSTANCE, 'master', masterDownIntervalMs(second.priority, intervalMs) + 5000, crashFrom);
    await until(`${DEMO_VIP} on ${second.host}`, 3000, async () => ((await vipHolders(l, [second.host])).length === 1 ? true : undefined));
    await until('ping replies from the new master', 5000, () => replyAfter(capture.frames(), crashAt, l.host(second.host).mac));
    await sleep(200);
    const crash = timeline(l, capture.frames(), {
      kind: 'crash',
      oldMaster: first.host,
      newMaster: second.host,
      signal: 'SIGKILL',
      signalAtMs: crashAt,
      expectedMs: masterDownIntervalMs(second.priority, intervalMs),
      exitStatus: crashStatus,
    });
    printTimeline(say, crash, first.priority, second.priority);
    if (node(third.host).state() !== 'backup') throw new Error(`vigil demo: ${third.host} is ${node(third.host).state() ?? 'in no state'}, expected backup`);
    say('');
    await sleep(Math.max(500, 1.5 * intervalMs));

    // 3. Graceful handover.
    say(`3. handover: vigil on ${second.host} is stopped gracefully (SIGTERM): it sends priority 0 and removes the VIP; ${third.host} waits only Skew_Time`);
    const stopFrom = node(third.host).events.length;
    const stopAt = realtimeMs();
    node(second.host).signal('SIGTERM');
    const stopStatus = await node(second.host).waitExit(5000);
    await node(third.host).waitState(INSTANCE, 'master', masterDownIntervalMs(third.priority, intervalMs) + 5000, stopFrom);
    await until(`${DEMO_VIP} on ${third.host}`, 3000, async () => ((await vipHolders(l, [third.host])).length === 1 ? true : undefined));
    await until('ping replies from the new master', 5000, () => replyAfter(capture.frames(), stopAt, l.host(third.host).mac));
    await sleep(200);
    const graceful = timeline(l, await capture.stop(), {
      kind: 'graceful',
      oldMaster: second.host,
      newMaster: third.host,
      signal: 'SIGTERM',
      signalAtMs: stopAt,
      expectedMs: skewTimeMs(third.priority, intervalMs),
      exitStatus: stopStatus,
    });
    printTimeline(say, graceful, second.priority, third.priority);

    const namespaces = [l.switchNs, ...hosts.map((h) => l.host(h).ns)];
    await l.destroy();
    lab = undefined;
    const left = namespacesWithPrefix(prefix);
    say(`\ncleanup: daemons, tcpdump and ping ended by PID; namespaces ${prefix}* deleted${left.length > 0 ? ` (left: ${left.join(', ')})` : ''}; ${work} removed`);
    return { prefix, namespaces, intervalMs, vrid, electedMaster: first.host, electionMs, crash, graceful, workDir: work, cleanedUp: left.length === 0 };
  } finally {
    if (lab !== undefined) await lab.destroy();
    removeWork();
    process.removeListener('exit', removeWork);
  }
}

function macHost(lab: Lab, mac: string): string {
  for (const h of lab.hosts.values()) if (h.mac === mac) return h.name;
  return mac;
}

function replyAfter(frames: readonly Frame[], after: number, mac: string): true | undefined {
  return icmpEchoes(frames).some((x) => x.kind === 'reply' && x.src === DEMO_VIP && x.timeMs > after && x.ethSrc === mac) ? true : undefined;
}

function timeline(
  lab: Lab,
  frames: readonly Frame[],
  t: Pick<FailoverTimeline, 'kind' | 'oldMaster' | 'newMaster' | 'signal' | 'signalAtMs' | 'expectedMs' | 'exitStatus'>,
): FailoverTimeline {
  const oldHost = lab.host(t.oldMaster);
  const newHost = lab.host(t.newMaster);
  const adverts = vrrpAdverts(frames);
  const fromOld = adverts.filter((x) => x.src.text === oldHost.ipv4);
  const lastAdvert = fromOld.filter((x) => x.priority > 0).at(-1);
  const zero = t.kind === 'graceful' ? fromOld.find((x) => x.priority === 0 && x.timeMs >= t.signalAtMs - 50) : undefined;
  const firstAdvert = adverts.find((x) => x.src.text === newHost.ipv4 && x.timeMs > t.signalAtMs);
  const garp = gratuitousArps(frames).find((g) => g.ip === DEMO_VIP && g.senderMac === newHost.mac && g.timeMs > t.signalAtMs);
  const echoes = icmpEchoes(frames).filter((x) => x.src === DEMO_VIP || x.dst === DEMO_VIP);
  const replies = echoes.filter((x) => x.kind === 'reply');
  const firstReply = replies.find((x) => x.timeMs > t.signalAtMs && x.ethSrc === newHost.mac);
  if (lastAdvert === undefined) throw new Error(`vigil demo: no advert from ${t.oldMaster} was captured`);
  if (t.kind === 'graceful' && zero === undefined) throw new Error(`vigil demo: no priority-0 advert from ${t.oldMaster} was captured`);
  if (firstAdvert === undefined) throw new Error(`vigil demo: no advert from ${t.newMaster} after the ${t.signal}`);
  if (garp === undefined) throw new Error(`vigil demo: no gratuitous ARP for ${DEMO_VIP} from ${t.newMaster}`);
  if (firstReply === undefined) throw new Error(`vigil demo: no ping reply from ${t.newMaster}`);
  const lastReply = replies.filter((x) => x.timeMs < firstReply.timeMs && x.ethSrc === oldHost.mac).at(-1);
  if (lastReply === undefined) throw new Error(`vigil demo: no ping reply from ${t.oldMaster} before the change`);
  // By sequence number: while the client cannot resolve the VIP's MAC its requests wait in the kernel and are not all on the wire.
  const answered = new Set(replies.map((x) => x.seq));
  let pingsLost = 0;
  for (let seq = (lastReply.seq + 1) & 0xffff; seq !== firstReply.seq; seq = (seq + 1) & 0xffff) if (!answered.has(seq)) pingsLost++;
  const reference = zero?.timeMs ?? lastAdvert.timeMs;
  return {
    ...t,
    lastAdvertMs: lastAdvert.timeMs,
    ...(zero !== undefined ? { zeroAdvertMs: zero.timeMs } : {}),
    firstAdvertMs: firstAdvert.timeMs,
    garpMs: garp.timeMs,
    takeoverMs: firstAdvert.timeMs - reference,
    lastReplyMs: lastReply.timeMs,
    firstReplyMs: firstReply.timeMs,
    pingGapMs: firstReply.timeMs - lastReply.timeMs,
    pingsLost,
  };
}

function printTimeline(say: (line: string) => void, t: FailoverTimeline, oldPriority: number, newPriority: number): void {
  const z = t.signalAtMs;
  say(`   timeline on the client's capture, relative to the ${t.signal} (${new Date(z).toISOString()}):`);
  const rows: [number, string][] = [
    [t.lastAdvertMs, `last advert from ${t.oldMaster} (priority ${oldPriority})`],
    [z, `${t.signal} sent to vigil on ${t.oldMaster}`],
    [t.lastReplyMs, `last ping reply from ${t.oldMaster}`],
    [t.firstAdvertMs, `first advert from ${t.newMaster} (priority ${newPriority})`],
    [t.garpMs, `first gratuitous ARP for ${DEMO_VIP} from ${t.newMaster}`],
    [t.firstReplyMs, `first ping reply from ${t.newMaster}`],
  ];
  if (t.zeroAdvertMs !== undefined) rows.push([t.zeroAdvertMs, `priority-0 advert from ${t.oldMaster}`]);
  rows.sort((a, b) => a[0] - b[0]);
  for (const [time, what] of rows) say(`     ${rel(time, z)}  ${what}`);
  const since = t.kind === 'crash' ? `${t.oldMaster}'s last advert` : 'the priority-0 advert';
  const rule = t.kind === 'crash' ? `Master_Down_Interval at ${newPriority}` : `Skew_Time at ${newPriority}`;
  say(`   ${t.newMaster} took over ${t.takeoverMs.toFixed(1)} ms after ${since} (${rule} = ${t.expectedMs.toFixed(1)} ms); gratuitous ARP ${(t.garpMs - t.firstAdvertMs).toFixed(1)} ms after its first advert`);
  say(`   the client's pings went unanswered for ${t.pingGapMs.toFixed(1)} ms (${t.pingsLost} lost); ${t.oldMaster} exited with ${typeof t.exitStatus === 'number' ? `status ${t.exitStatus}` : t.exitStatus}`);
}
