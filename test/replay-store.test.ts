/**
 * The heartbeat replay state in state_dir (src/daemon/replay-store.ts): written atomically,
 * read back with the margin a crash can lose, a malformed file named in the error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadReplayFloors, replayStatePath, saveReplayState } from '../src/daemon/replay-store.js';
import { Membership } from '../src/quorum/membership.js';
import { toNodeId, toVotes } from '../src/quorum/types.js';

test('replay store: saved, then read back as floors past what a crash could have lost; the membership refuses up to them', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(loadReplayFloors(dir, 50).size, 0, 'no file: first start');
  const epoch = (1_700_000_000_000n << 16n) | 7n;
  saveReplayState(path.join(dir, 'state'), new Map([[toNodeId(2), { epoch, sequence: 1000n }]]));
  assert.equal(statSync(replayStatePath(path.join(dir, 'state'))).mode & 0o777, 0o600);
  const floors = loadReplayFloors(path.join(dir, 'state'), 50);
  // 1 s of 50 ms heartbeats, twice over, plus one.
  assert.deepEqual(floors.get(toNodeId(2)), { epoch, sequence: 1041n });
  const m = new Membership({ nodes: [{ id: toNodeId(1), name: 'a', votes: toVotes(1) }, { id: toNodeId(2), name: 'b', votes: toVotes(1) }], localId: toNodeId(1), timeoutMs: 200 });
  for (const [id, f] of floors) m.raiseReplayFloor(id, f);
  const hb = (sequence: bigint, e = epoch) => ({ report: { id: toNodeId(2), expectedVotes: 2, quorate: true, waitingForAll: false }, votes: toVotes(1), epoch: e, sequence });
  assert.equal(m.heartbeat(hb(1000n), '10.213.0.2', 0).accepted, false, 'the last saved one');
  assert.equal(m.heartbeat(hb(1041n), '10.213.0.2', 0).accepted, false, 'one accepted after the last write, lost in a crash');
  assert.equal(m.heartbeat(hb(1042n), '10.213.0.2', 0).accepted, true, 'the peer\'s current heartbeats');
  assert.equal(m.heartbeat(hb(0n, epoch + 1n), '10.213.0.2', 0).accepted, true, 'a peer that restarted (a new epoch)');
});

test('replay store: a malformed file is refused with its path', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(replayStatePath(dir), '{"version":1,"peers":{"2":{"epoch":"x","sequence":"1"}}}');
  assert.throws(() => loadReplayFloors(dir, 50), new RegExp(`${replayStatePath(dir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the heartbeat replay state is malformed \\(bad entry for node 2\\)`));
});
