/**
 * The corosync client addon (src/native/corosync.cc, built into
 * build/Release/vigil_corosync.node only where libvotequorum-dev and libcmap-dev are
 * installed): typed, loaded on first use. Where it was not built, `corosyncBinding()`
 * throws CorosyncUnavailableError, "corosync client libraries not available", naming
 * what to install.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorText } from '../base/error-text.js';

/** votequorum.h: VOTEQUORUM_NODESTATE_*. */
export const NODESTATE = { MEMBER: 1, DEAD: 2, LEAVING: 3 } as const;

/** What votequorum_dispatch delivered (votequorum_callbacks_t), as data. */
export type CorosyncNotification =
  /** votequorum_quorum_notification_fn: the quorate state and every node with its state. */
  | { readonly type: 'quorum'; readonly quorate: boolean; readonly nodes: readonly { readonly id: number; readonly state: number }[] }
  /** votequorum_nodelist_notification_fn: the new ring (membership) and its members. */
  | { readonly type: 'nodelist'; readonly ringId: { readonly nodeId: number; readonly seq: bigint }; readonly members: readonly number[] }
  /** votequorum_expectedvotes_notification_fn. */
  | { readonly type: 'expected'; readonly expectedVotes: number };

/** struct votequorum_info. */
export interface VotequorumInfo {
  readonly nodeId: number;
  readonly nodeState: number;
  readonly nodeVotes: number;
  readonly nodeExpectedVotes: number;
  readonly highestExpected: number;
  readonly totalVotes: number;
  readonly quorum: number;
  /** VOTEQUORUM_INFO_* bits (`flags` below). */
  readonly flags: number;
  readonly qdeviceVotes: number;
  readonly qdeviceName: string;
}

export interface CorosyncBinding {
  /** votequorum_initialize + trackstart(CS_TRACK_CURRENT | CS_TRACK_CHANGES) + cmap_initialize. */
  connect(): { readonly id: number; readonly fd: number; readonly localNodeId: number };
  /** votequorum_dispatch(CS_DISPATCH_ALL) after the descriptor became readable. Throws (code CS_ERR_LIBRARY) once corosync is gone. */
  dispatch(id: number): CorosyncNotification[];
  getinfo(id: number, nodeId: number): VotequorumInfo;
  setExpected(id: number, votes: number): void;
  /** cmap quorum.cancel_wait_for_all = 1 (pcs quorum unblock). */
  cancelWaitForAll(id: number): void;
  /** runtime.votequorum.wait_for_all_status. */
  waitingForAll(id: number): boolean;
  /** The token timeout and consensus in force, ms (runtime.config.totem.*); consensus 0 when unknown. */
  totem(id: number): { readonly token: number; readonly consensus: number };
  /** corosync.conf's nodelist: nodeid and name (ring0_addr when unnamed). */
  nodes(id: number): { readonly id: number; readonly name: string }[];
  disconnect(id: number): void;
  /** VOTEQUORUM_INFO_* from votequorum.h. */
  readonly flags: Readonly<Record<'TWONODE' | 'QUORATE' | 'WAIT_FOR_ALL' | 'LAST_MAN_STANDING' | 'AUTO_TIE_BREAKER' | 'ALLOW_DOWNSCALE' | 'QDEVICE_REGISTERED' | 'QDEVICE_ALIVE' | 'QDEVICE_CAST_VOTE' | 'QDEVICE_MASTER_WINS', number>>;
}

/** A library call that failed: its cs_error_t and name (CS_ERR_LIBRARY: corosync is not running or went away). */
export interface CorosyncErrorShape {
  readonly cs: number;
  readonly code: string;
  readonly call: string;
}

export function isCorosyncError(e: unknown): e is Error & CorosyncErrorShape {
  return e instanceof Error && typeof (e as Partial<CorosyncErrorShape>).cs === 'number' && typeof (e as Partial<CorosyncErrorShape>).call === 'string';
}

export class CorosyncUnavailableError extends Error {
  constructor(detail: string) {
    super(`corosync client libraries not available: ${detail}`);
    this.name = 'CorosyncUnavailableError';
  }
}

const ADDON_RELATIVE = path.join('build', 'Release', 'vigil_corosync.node');
let loaded: CorosyncBinding | undefined;

function findAddon(): string {
  const override = process.env['VIGIL_COROSYNC_ADDON'];
  if (override) return override;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) {
      const candidate = path.join(dir, ADDON_RELATIVE);
      if (existsSync(candidate)) return candidate;
      throw new CorosyncUnavailableError(
        `${candidate} was not built (install libvotequorum-dev, libcmap-dev and libcorosync-common-dev, then run npm run build:native)`,
      );
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new CorosyncUnavailableError(`no package.json above ${fileURLToPath(import.meta.url)} to find ${ADDON_RELATIVE} in`);
    dir = parent;
  }
}

/** The addon, loaded on first use; throws CorosyncUnavailableError where it was not built or cannot load. */
export function corosyncBinding(): CorosyncBinding {
  if (loaded) return loaded;
  const file = findAddon();
  try {
    loaded = createRequire(import.meta.url)(file) as CorosyncBinding;
  } catch (e) {
    throw new CorosyncUnavailableError(`${file}: ${errorText(e)}`);
  }
  return loaded;
}
