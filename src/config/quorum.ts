/**
 * The `quorum` section (docs/config.md, "quorum"; docs/reference/quorum.md): the node
 * list, the heartbeat transport and timing, the votequorum options and the two-node
 * tie-breaker.
 *
 * votequorum's refusals and corrections are the quorum engine's (`validateQuorumOptions`,
 * src/quorum/engine.ts), not a copy: this resolver gives it the options and puts each of
 * its issues at the key it names, so `vigil check-config` refuses what `vigil run` would.
 * What is checked here is what the engine does not see: addresses, the transport, timing.
 */
import { AddressParseError, parseIp, type IpAddress } from '../net/address.js';
import { DEFAULT_LAST_MAN_STANDING_WINDOW_MS, validateQuorumOptions, type QuorumConfigIssue, type QuorumOption } from '../quorum/engine.js';
import { toNodeId, toVotes, type QuorumNode, type TieBreakerNode } from '../quorum/types.js';
import type { ResolveContext } from './context.js';
import { QUORUM_DEFAULTS } from './defaults.js';
import { entries, given, orDefault, type Checked, type DurationText, type QuorumDocument, type TieBreakerDocument } from './document.js';
import type { KeyPath } from './locate.js';
import type { QuorumConfig, QuorumNodeConfig, TieBreakerConfig } from './types.js';
import { parseHostPort } from './units.js';

/** The quorum section's key for each option of the quorum engine (its issues name the option). */
const QUORUM_OPTION_KEYS: Readonly<Record<QuorumOption, string>> = {
  nodes: 'nodes',
  localId: 'node_id',
  expectedVotes: 'expected_votes',
  twoNode: 'two_node',
  waitForAll: 'wait_for_all',
  lastManStanding: 'last_man_standing',
  lastManStandingWindowMs: 'last_man_standing_window',
  autoTieBreaker: 'auto_tie_breaker',
  autoTieBreakerNode: 'auto_tie_breaker_node',
};

const P: KeyPath = ['quorum'];

/** undefined when the section has errors. */
export function resolveQuorum(raw: QuorumDocument, ctx: ResolveContext): QuorumConfig | undefined {
  const errorsBefore = ctx.errors.length;
  if (given(raw.provider) === 'corosync') return resolveCorosyncQuorum(raw, ctx);
  const nodes: QuorumNodeConfig[] = [];
  // Every node whose id and name the schema accepted, for the engine's rules (its address
  // does not matter to them), and where each is in the file.
  const engineNodes: QuorumNode[] = [];
  const engineNodeAt: number[] = [];
  const addresses = new Map<string, number>();
  const rawNodes = given(raw.nodes);
  entries(raw.nodes).forEach((checked, i) => {
    const np: KeyPath = [...P, 'nodes', i];
    const item = given(checked);
    const id = given(item?.id);
    const name = given(item?.name);
    const addressText = given(item?.address);
    const votesValue = orDefault(item?.votes, QUORUM_DEFAULTS.votes);
    if (id === undefined || name === undefined || addressText === undefined || votesValue === undefined) return;
    const votes = toVotes(votesValue);
    engineNodes.push({ id: toNodeId(id), name, votes });
    engineNodeAt.push(i);
    const address = parseIp(addressText);
    if (address instanceof AddressParseError) {
      ctx.error([...np, 'address'], `${JSON.stringify(addressText)} is not an IP address`);
      return;
    }
    const first = addresses.get(address.text);
    if (first !== undefined) {
      ctx.error([...np, 'address'], `address ${address.text} is already the one of node #${first} (line ${ctx.line([...P, 'nodes', first])})`);
      return;
    }
    addresses.set(address.text, i);
    nodes.push({ id: toNodeId(id), name, address, votes });
  });
  const nodeId = given(raw.node_id);

  const transport = orDefault(raw.transport, QUORUM_DEFAULTS.transport);
  const groupText = orDefault(raw.multicast_group, QUORUM_DEFAULTS.multicastGroup);
  const group = groupText === undefined ? undefined : parseIp(groupText, 'ipv4');
  if (group instanceof AddressParseError || (group !== undefined && ((group.bytes[0] ?? 0) & 0xf0) !== 0xe0)) {
    ctx.error([...P, 'multicast_group'], `${JSON.stringify(groupText)} is not an IPv4 multicast address (224.0.0.0/4)`);
  }
  const iface = given(raw.interface);
  if (transport === 'multicast') {
    if (raw.interface === undefined) ctx.error([...P, 'transport'], 'transport multicast needs quorum.interface, the interface to send and receive on');
    const v6 = nodes.find((n) => n.address.family !== 'ipv4');
    if (v6) ctx.error([...P, 'transport'], `transport multicast is IPv4 only; node ${v6.name} has ${v6.address.text} (use transport unicast)`);
  }
  const ms = (key: 'heartbeat_interval' | 'heartbeat_timeout' | 'last_man_standing_window', fallback: DurationText): number | undefined =>
    ctx.durationMs(orDefault(raw[key], fallback), [...P, key]);
  const heartbeatIntervalMs = ms('heartbeat_interval', QUORUM_DEFAULTS.heartbeatInterval);
  const heartbeatTimeoutMs = ms('heartbeat_timeout', QUORUM_DEFAULTS.heartbeatTimeout);
  if (heartbeatIntervalMs !== undefined && heartbeatIntervalMs < 10) ctx.error([...P, 'heartbeat_interval'], 'at least 10ms');
  if (heartbeatIntervalMs !== undefined && heartbeatTimeoutMs !== undefined && heartbeatTimeoutMs < 2 * heartbeatIntervalMs) {
    ctx.error([...P, 'heartbeat_timeout'], `${heartbeatTimeoutMs}ms is less than twice heartbeat_interval (${heartbeatIntervalMs}ms): one lost heartbeat would drop a member`);
  }
  const lastManStandingWindowMs = ms('last_man_standing_window', QUORUM_DEFAULTS.lastManStandingWindow);

  const rawAtbNode = given(raw.auto_tie_breaker_node);
  const atbList = typeof rawAtbNode === 'object' ? entries(rawAtbNode).map(given) : [];
  const autoTieBreakerNode: TieBreakerNode =
    typeof rawAtbNode === 'object' ? atbList.filter((v): v is number => v !== undefined).map(toNodeId) : (rawAtbNode ?? QUORUM_DEFAULTS.autoTieBreakerNode);
  const expectedVotes = given(raw.expected_votes);
  const flag = (value: Checked<boolean>, fallback: boolean): boolean => given(value) ?? fallback;
  // wait_for_all follows two_node as written (before auto_tie_breaker turns two_node off).
  const waitForAll = flag(raw.wait_for_all, flag(raw.two_node, QUORUM_DEFAULTS.twoNode));
  let twoNode = flag(raw.two_node, QUORUM_DEFAULTS.twoNode);
  let autoTieBreaker = flag(raw.auto_tie_breaker, QUORUM_DEFAULTS.autoTieBreaker);
  let lastManStanding = flag(raw.last_man_standing, QUORUM_DEFAULTS.lastManStanding);
  // The engine's rules need the whole node list: a list the schema refused in part waits
  // for its own errors to be mended.
  if (rawNodes !== undefined && engineNodes.length === rawNodes.length && atbList.every((v) => v !== undefined)) {
    const v = validateQuorumOptions({
      nodes: engineNodes,
      ...(nodeId !== undefined ? { localId: toNodeId(nodeId) } : {}),
      ...(expectedVotes !== undefined ? { expectedVotes } : {}),
      twoNode,
      waitForAll,
      lastManStanding,
      // A window that is not a duration has its own error already.
      lastManStandingWindowMs: lastManStandingWindowMs ?? DEFAULT_LAST_MAN_STANDING_WINDOW_MS,
      autoTieBreaker,
      autoTieBreakerNode,
    });
    const where = (issue: QuorumConfigIssue): KeyPath => {
      const key = QUORUM_OPTION_KEYS[issue.option];
      if (issue.entry === undefined) return [...P, key];
      if (issue.option !== 'nodes') return [...P, key, issue.entry.index];
      const at = engineNodeAt[issue.entry.index] ?? 0;
      return issue.entry.field === undefined ? [...P, key, at] : [...P, key, at, issue.entry.field];
    };
    const firstLine = (issue: QuorumConfigIssue): string =>
      issue.option === 'nodes' && issue.entry?.first !== undefined ? ` (line ${ctx.line([...P, 'nodes', engineNodeAt[issue.entry.first] ?? 0])})` : '';
    for (const e of v.errors) ctx.error(where(e), `${e.message}${firstLine(e)}`);
    for (const w of v.warnings) ctx.warn(where(w), w.message);
    ({ twoNode, autoTieBreaker, lastManStanding } = v.corrected);
  }
  const noQuorumPolicy = orDefault(raw.no_quorum_policy, QUORUM_DEFAULTS.noQuorumPolicy);
  if (noQuorumPolicy === 'ignore') {
    ctx.warn([...P, 'no_quorum_policy'], 'no_quorum_policy ignore: an inquorate node may become master; quorum protects nothing (wait_for_all included)');
  }

  const rawTb = given(raw.tie_breaker);
  const tieBreaker = rawTb === undefined ? undefined : resolveTieBreaker(rawTb, twoNode, ctx);
  if (rawTb === undefined && twoNode && noQuorumPolicy !== 'ignore') {
    ctx.warn(
      [...P, 'two_node'],
      'two_node without a tie_breaker: when the link between the two nodes is cut, both stay quorate and both become master (as corosync two_node without fencing); configure tie_breaker ping, tcp or fence',
    );
  }

  const clusterName = orDefault(raw.cluster_name, QUORUM_DEFAULTS.clusterName);
  const port = orDefault(raw.port, QUORUM_DEFAULTS.port);
  const keyFile = orDefault(raw.key_file, QUORUM_DEFAULTS.keyFile);
  if (ctx.errors.length > errorsBefore) return undefined;
  if (
    heartbeatIntervalMs === undefined ||
    heartbeatTimeoutMs === undefined ||
    lastManStandingWindowMs === undefined ||
    group === undefined ||
    group instanceof AddressParseError ||
    transport === undefined ||
    noQuorumPolicy === undefined ||
    clusterName === undefined ||
    port === undefined ||
    keyFile === undefined ||
    (rawTb !== undefined && tieBreaker === undefined)
  ) {
    return undefined;
  }
  return {
    provider: 'vigil',
    nodes,
    clusterName,
    ...(nodeId !== undefined ? { nodeId: toNodeId(nodeId) } : {}),
    transport,
    multicastGroup: group,
    ...(iface !== undefined ? { interface: iface } : {}),
    port,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    keyFile,
    ...(expectedVotes !== undefined ? { expectedVotes } : {}),
    twoNode,
    waitForAll,
    lastManStanding,
    lastManStandingWindowMs,
    autoTieBreaker,
    autoTieBreakerNode,
    noQuorumPolicy,
    ...(tieBreaker ? { tieBreaker } : {}),
    location: ctx.location(P),
  };
}

/**
 * provider corosync: membership, votes and votequorum's options are corosync.conf's; of
 * this section only no_quorum_policy applies (README "Larger clusters"). The other fields
 * keep their defaults (nodes empty) and are not used. undefined after an error.
 */
function resolveCorosyncQuorum(raw: QuorumDocument, ctx: ResolveContext): QuorumConfig | undefined {
  const errorsBefore = ctx.errors.length;
  for (const key of Object.keys(raw).filter((k) => k !== 'provider' && k !== 'no_quorum_policy')) {
    ctx.error([...P, key], `${key} does not apply with provider corosync: corosync.conf (totem, nodelist, quorum) decides; only no_quorum_policy is read here`);
  }
  const noQuorumPolicy = orDefault(raw.no_quorum_policy, QUORUM_DEFAULTS.noQuorumPolicy);
  if (noQuorumPolicy === 'ignore') {
    ctx.warn([...P, 'no_quorum_policy'], 'no_quorum_policy ignore: an inquorate node may become master; quorum protects nothing (wait_for_all included)');
  }
  const ms = (d: DurationText, key: string): number | undefined => ctx.durationMs(d, [...P, key]);
  const heartbeatIntervalMs = ms(QUORUM_DEFAULTS.heartbeatInterval, 'heartbeat_interval');
  const heartbeatTimeoutMs = ms(QUORUM_DEFAULTS.heartbeatTimeout, 'heartbeat_timeout');
  const lastManStandingWindowMs = ms(QUORUM_DEFAULTS.lastManStandingWindow, 'last_man_standing_window');
  const group = parseIp(QUORUM_DEFAULTS.multicastGroup);
  if (ctx.errors.length > errorsBefore || noQuorumPolicy === undefined || group instanceof AddressParseError) return undefined;
  if (heartbeatIntervalMs === undefined || heartbeatTimeoutMs === undefined || lastManStandingWindowMs === undefined) return undefined;
  return {
    provider: 'corosync',
    nodes: [],
    clusterName: QUORUM_DEFAULTS.clusterName,
    transport: QUORUM_DEFAULTS.transport,
    multicastGroup: group,
    port: QUORUM_DEFAULTS.port,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    keyFile: QUORUM_DEFAULTS.keyFile,
    twoNode: false,
    waitForAll: false,
    lastManStanding: false,
    lastManStandingWindowMs,
    autoTieBreaker: false,
    autoTieBreakerNode: QUORUM_DEFAULTS.autoTieBreakerNode,
    noQuorumPolicy,
    location: ctx.location(P),
  };
}

/** The two-node tie-breaker: at least one of ping, tcp and fence. undefined after an error. */
function resolveTieBreaker(raw: TieBreakerDocument, twoNode: boolean, ctx: ResolveContext): TieBreakerConfig | undefined {
  const tp: KeyPath = [...P, 'tie_breaker'];
  const errorsBefore = ctx.errors.length;
  let ping: IpAddress | undefined;
  const pingText = given(raw.ping);
  if (pingText !== undefined) {
    const parsed = parseIp(pingText);
    if (parsed instanceof AddressParseError) ctx.error([...tp, 'ping'], `${JSON.stringify(pingText)} is not an IP address`);
    else ping = parsed;
  }
  const tcpText = given(raw.tcp);
  const tcp = tcpText === undefined ? undefined : parseHostPort(tcpText);
  if (tcpText !== undefined && tcp === undefined) {
    ctx.error([...tp, 'tcp'], `${JSON.stringify(tcpText)} is not address:port (e.g. 10.213.0.250:80 or [fd13::250]:80)`);
  }
  const fence = given(raw.fence);
  const timeoutMs = ctx.durationMs(orDefault(raw.timeout, QUORUM_DEFAULTS.tieBreakerTimeout), [...tp, 'timeout']);
  const intervalMs = ctx.durationMs(orDefault(raw.interval, QUORUM_DEFAULTS.tieBreakerInterval), [...tp, 'interval']);
  if (raw.ping === undefined && raw.tcp === undefined && raw.fence === undefined) {
    ctx.error(tp, 'a tie_breaker needs at least one of ping, tcp and fence');
  }
  if (!twoNode) ctx.warn(tp, 'tie_breaker is only used with two_node (a two-node split); it is ignored here');
  if (ctx.errors.length > errorsBefore || timeoutMs === undefined || intervalMs === undefined) return undefined;
  return { ...(ping ? { ping } : {}), ...(tcp ? { tcp } : {}), ...(fence !== undefined ? { fence } : {}), timeoutMs, intervalMs };
}
