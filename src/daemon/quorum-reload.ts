/**
 * The rules of a quorum reload, in one place: which changes of the `quorum:` section a
 * reload applies and which need a restart, and what changed (for the `section-reloaded`
 * event); the engine config a section makes is quorum-service.ts's engineConfigOf (this
 * file stays free of the engine: `vigil run` loads it only with a quorum section). The quorum service (quorum-service.ts) and
 * the corosync provider (corosync-quorum.ts) apply; `vigil run` (src/cli/run.ts) asks
 * `quorumReloadRefusal` first and keeps the running section when it refuses.
 */
import { canonical } from '../base/canonical.js';
import type { QuorumConfig } from '../config/types.js';
import type { NodeId } from '../quorum/types.js';

/**
 * Key rotation: after a reload with a new key, heartbeats go out signed with each key and
 * both are accepted, until every peer has been heard with the new key (each has been
 * reloaded too) or this long has passed; then the old key is forgotten. A peer reloaded
 * later than this loses the membership of the nodes that were reloaded before it.
 */
export const KEY_ROTATION_WINDOW_MS = 5 * 60_000;

/** Why the section `next` cannot replace `running` at a reload (it needs a restart), or undefined. */
export function quorumReloadRefusal(running: QuorumConfig | undefined, next: QuorumConfig | undefined): string | undefined {
  if (running === undefined && next === undefined) return undefined;
  if (running === undefined) return 'adding the quorum section takes effect on restart (every instance gets its quorum tracker when it is created)';
  if (next === undefined) return 'removing the quorum section takes effect on restart; the running quorum stays';
  if (running.provider !== next.provider) return `changing quorum.provider from ${running.provider} to ${next.provider} takes effect on restart; the running provider stays`;
  if (running.clusterName !== next.clusterName) return `changing quorum.cluster_name from ${running.clusterName} to ${next.clusterName} takes effect on restart (peers reloaded at another moment would ignore each other's heartbeats)`;
  return undefined;
}

/** The config file's name of a QuorumConfig field: heartbeatIntervalMs → heartbeat_interval. */
function fileKey(field: string): string {
  return field.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function shown(value: unknown): string {
  return value === undefined ? '(unset)' : canonical(value);
}

/** The options of the section that differ, by their name in the file, with the old and new value. */
export function quorumOptionChanges(old: QuorumConfig, next: QuorumConfig): { readonly name: string; readonly change: string; readonly detail: string }[] {
  const out: { name: string; change: string; detail: string }[] = [];
  const fields = new Set([...Object.keys(old), ...Object.keys(next)]);
  fields.delete('location');
  for (const f of fields) {
    const a = (old as unknown as Record<string, unknown>)[f];
    const b = (next as unknown as Record<string, unknown>)[f];
    if (canonical(a) !== canonical(b)) out.push({ name: fileKey(f), change: 'applied', detail: `${shown(a)} -> ${shown(b)}` });
  }
  return out;
}

/** What the heartbeat socket is bound to: a change needs a new socket. */
export function bindKey(config: QuorumConfig, localId: NodeId): string {
  const self = config.nodes.find((n) => n.id === localId);
  return canonical({
    transport: config.transport,
    port: config.port,
    self: self?.address,
    interface: config.transport === 'multicast' ? config.interface : undefined,
    group: config.transport === 'multicast' ? config.multicastGroup : undefined,
  });
}

/** Unicast: the addresses heartbeats go to (the other nodes of the local node's family); multicast: none. */
export function unicastPeers(config: QuorumConfig, localId: NodeId): string[] {
  if (config.transport !== 'unicast') return [];
  const self = config.nodes.find((n) => n.id === localId);
  return config.nodes.filter((n) => n.id !== localId && n.address.family === self?.address.family).map((n) => n.address.text);
}
