/**
 * SIGHUP, section by section, over a config the loader has already validated:
 *
 * 1. checks that refuse the whole reload before anything is applied: the resource model
 *    builds, the quorum section still names this node, its options hold and its key file
 *    reads;
 * 2. a quorum change that needs a restart (quorum-reload.ts: provider, section added or
 *    removed, cluster name) is refused alone: the running section stays in the config in
 *    force, the rest applies;
 * 3. the instances (Daemon.reload: unchanged ones untouched), then the resources and
 *    health checks (ResourceService.reload: unchanged ones untouched), then quorum
 *    (QuorumService.reload / CorosyncQuorum.reload: recomputed with the current members);
 * 4. each section that changed, or was refused, is told on the event stream
 *    (`section-reloaded`), after the instances' `reloaded`.
 */
import type { QuorumConfig, VigilConfig } from '../config/types.js';
import { ResourceManager } from '../resources/manager.js';
import type { NodeId } from '../quorum/types.js';
import type { Daemon } from './daemon.js';
import type { CorosyncQuorum } from './corosync-quorum.js';
import { quorumReloadRefusal } from './quorum-reload.js';
import type { QuorumService } from './quorum-service.js';
import type { PromotionControl } from './promotion.js';
import type { ResourceService } from './resource-service.js';

export interface ReloadParts {
  readonly daemon: Daemon;
  readonly resources: ResourceService;
  readonly quorum: QuorumService | CorosyncQuorum | undefined;
  /** Pacemaker's roles (promotion.ts): told the instances before the daemon starts an added one. */
  readonly promotion?: PromotionControl;
  /** Reads a quorum key file (authkey.ts readKeyFile). */
  readonly readKey: (file: string) => Promise<Buffer>;
  /** The local node of a quorum section (quorum-service.ts findLocalNode). */
  readonly localNode: (config: QuorumConfig) => NodeId | undefined;
}

/**
 * Applies `loaded` over the running `current`. Returns the config now in force (`loaded`,
 * or with the running quorum section where its change was refused). Throws, naming what
 * failed, with nothing applied when a check of step 1 fails.
 */
export async function reloadSections(parts: ReloadParts, current: VigilConfig, loaded: VigilConfig): Promise<VigilConfig> {
  const { daemon, resources, quorum } = parts;
  const refused = quorumReloadRefusal(current.quorum, loaded.quorum);
  const { quorum: _next, ...rest } = loaded;
  const config: VigilConfig = refused === undefined ? loaded : { ...rest, ...(current.quorum ? { quorum: current.quorum } : {}) };

  ResourceManager.check({ resources: config.resources.resources, groups: config.resources.groups });
  let key: Buffer | undefined;
  if (quorum?.provider === 'vigil' && config.quorum) {
    quorum.checkReload(config.quorum, parts.localNode(config.quorum));
    key = await parts.readKey(config.quorum.keyFile);
  }

  // The agents and health checker, when this config brings the first resource or check.
  await resources.prepare(config);
  // The instances the agent may name, and the role an added one starts in, before the daemon starts it.
  parts.promotion?.configure(config.instances);
  try {
    await daemon.reload(config);
  } catch (e) {
    parts.promotion?.configure(current.instances);
    throw e;
  }
  const resourceChanges = resources.reload(config).filter((c) => c.change !== 'unchanged');
  if (resourceChanges.length > 0) {
    daemon.events.emit({
      kind: 'section-reloaded',
      section: 'resources',
      changes: resourceChanges.map((c) => ({ name: c.kind === 'resource' ? c.name : `health_check ${c.name}`, change: c.change, detail: c.detail })),
    });
  }
  let quorumChanges: readonly { readonly name: string; readonly change: string; readonly detail: string }[] = [];
  if (config.quorum && quorum?.provider === 'vigil' && key) quorumChanges = await quorum.reload(config.quorum, key);
  else if (config.quorum && quorum?.provider === 'corosync') quorumChanges = quorum.reload(config.quorum);
  if (quorumChanges.length > 0 || refused !== undefined) {
    daemon.events.emit({ kind: 'section-reloaded', section: 'quorum', changes: quorumChanges, ...(refused === undefined ? {} : { refused }) });
  }
  return config;
}
