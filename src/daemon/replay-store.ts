/**
 * The heartbeat replay state kept across a restart of the receiver (issue 10 §5): the
 * highest (epoch, sequence) accepted from each peer, in global.state_dir/heartbeat-replay.json,
 * written at most once per SAVE_EVERY_MS (and at stop), atomically (a temporary file
 * renamed over the old one).
 *
 * A daemon that crashes loses what it accepted since its last write, at most
 * SAVE_EVERY_MS of heartbeats. So at start each peer's floor is its saved sequence plus
 * the heartbeats it could have sent in that time (twice over, for a peer with a shorter
 * interval than ours): a heartbeat captured before the restart is refused as a replay.
 * The price: after a restart shorter than SAVE_EVERY_MS, a peer counts again once its
 * sequence passes the floor (at most 2 × SAVE_EVERY_MS of its heartbeats), or at once
 * when it restarted too (a new epoch).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EpochSequence } from '../quorum/replay.js';
import type { NodeId } from '../quorum/types.js';

export const REPLAY_STATE_FILE = 'heartbeat-replay.json';
/** The most often the file is written. */
export const SAVE_EVERY_MS = 1000;

interface Saved {
  readonly version: 1;
  readonly peers: Readonly<Record<string, { readonly epoch: string; readonly sequence: string }>>;
}

export function replayStatePath(stateDir: string): string {
  return path.join(stateDir, REPLAY_STATE_FILE);
}

/**
 * The floors to put back at start: each saved peer's sequence plus the heartbeats it can
 * have sent in SAVE_EVERY_MS at `heartbeatIntervalMs`, twice over. An absent file gives
 * none (first start); an unreadable one throws with the file named.
 */
export function loadReplayFloors(stateDir: string, heartbeatIntervalMs: number): Map<NodeId, EpochSequence> {
  const file = replayStatePath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`${file}: cannot read the heartbeat replay state: ${(e as Error).message}`);
  }
  const margin = BigInt(2 * Math.ceil(SAVE_EVERY_MS / Math.max(1, heartbeatIntervalMs)) + 1);
  const out = new Map<NodeId, EpochSequence>();
  try {
    const saved = JSON.parse(text) as Saved;
    if (saved.version !== 1 || typeof saved.peers !== 'object' || saved.peers === null) throw new Error('not version 1');
    for (const [id, at] of Object.entries(saved.peers)) {
      if (!/^\d+$/.test(id) || !/^\d+$/.test(at.epoch) || !/^\d+$/.test(at.sequence)) throw new Error(`bad entry for node ${id}`);
      out.set(Number(id) as NodeId, { epoch: BigInt(at.epoch), sequence: BigInt(at.sequence) + margin });
    }
  } catch (e) {
    throw new Error(`${file}: the heartbeat replay state is malformed (${(e as Error).message}); remove it to start without it`);
  }
  return out;
}

/** Writes `state` atomically. Throws with the file named. */
export function saveReplayState(stateDir: string, state: ReadonlyMap<NodeId, EpochSequence>): void {
  const file = replayStatePath(stateDir);
  const peers: Record<string, { epoch: string; sequence: string }> = {};
  for (const [id, at] of state) peers[String(id)] = { epoch: at.epoch.toString(), sequence: at.sequence.toString() };
  const saved: Saved = { version: 1, peers };
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(saved)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (e) {
    throw new Error(`${file}: cannot write the heartbeat replay state: ${(e as Error).message}`);
  }
}
