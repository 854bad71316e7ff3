/**
 * The event stream on the control socket (a real Unix socket): history from the ring,
 * `since`, following new events, a slow reader dropped with a final line counting what it
 * lost (the daemon's queue stays bounded), and `vigil events`' text form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlServer, controlSocketPath, controlStream, type ControlRequest, type StreamLine } from '../src/daemon/control.js';
import { EventStream } from '../src/events/stream.js';
import type { StampedEvent } from '../src/events/types.js';
import { formatEvent } from '../src/cli/events.js';
import { until } from '../src/lab/wait.js';

/** The daemon's `events` command, as run.ts answers it. */
function handler(events: EventStream) {
  return (request: ControlRequest) => {
    if (request.command !== 'events') return { ok: false as const, error: 'unknown' };
    const since = request.args?.['since'];
    return {
      stream: true as const,
      header: { lastSeq: events.lastSeq },
      initial: events.since(typeof since === 'number' ? since : 0),
      ...(request.args?.['follow'] === true ? { follow: (push: (item: unknown) => void) => events.subscribe(push) } : {}),
    };
  };
}

test('events on the control socket: history, since, then following new events in order', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-events-'));
  const events = new EventStream({ keep: 5 });
  const server = await ControlServer.listen(dir, handler(events));
  try {
    for (let i = 0; i < 8; i++) events.emit({ kind: 'priority-changed', instance: 'gw', from: i, to: i + 1, basePriority: 100 });
    // History only: the ring's last 5, then the end.
    const got: StreamLine[] = [];
    const s = controlStream(dir, { command: 'events', args: { follow: false } }, (l) => got.push(l));
    await s.done;
    assert.deepEqual(got[0], { ok: true, result: { stream: true, lastSeq: 8 } });
    assert.deepEqual(got.slice(1, -1).map((l) => ('item' in l ? (l.item as StampedEvent).seq : -1)), [4, 5, 6, 7, 8]);
    assert.deepEqual(got.at(-1), { end: 'done' });
    // since 6, following.
    const seqs: number[] = [];
    const f = controlStream(dir, { command: 'events', args: { follow: true, since: 6 } }, (l) => {
      if ('item' in l) seqs.push((l.item as StampedEvent).seq);
    });
    await until(() => seqs.length === 2, () => `got ${seqs.join(',')}`);
    for (let i = 0; i < 100; i++) events.emit({ kind: 'maintenance', on: i % 2 === 0 });
    await until(() => seqs.length === 102, () => `got ${seqs.length}`);
    assert.deepEqual(seqs, Array.from({ length: 102 }, (_, i) => i + 7));
    // The daemon stopping ends a follower with a last line, and does not wait for it.
    const last: StreamLine[] = [];
    const g = controlStream(dir, { command: 'events', args: { follow: true, since: 108 } }, (l) => last.push(l));
    await until(() => last.length === 1, () => 'header');
    await server.close();
    await g.done;
    assert.deepEqual(last.at(-1), { end: 'stopped' });
    f.close();
    await f.done;
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events on the control socket: a reader that does not read is dropped with a final line saying how many were lost', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-events-'));
  const events = new EventStream();
  const server = await ControlServer.listen(dir, handler(events), { streamQueueLines: 200 });
  const s = createConnection(controlSocketPath(dir));
  try {
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    s.write(`${JSON.stringify({ command: 'events', args: { follow: true } })}\n`);
    s.pause(); // never reads: the kernel buffers fill, then the server's queue
    await new Promise((r) => setTimeout(r, 100));
    const big = 'x'.repeat(2000);
    for (let i = 0; i < 5000; i++) events.emit({ kind: 'reload-failed', config: 'c', detail: big });
    // Reading now: what was buffered, then the final line.
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.resume();
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines.at(-1) as { end?: string; lost?: number };
    assert.equal(last.end, 'overflow');
    const delivered = lines.filter((l) => 'item' in l).length;
    assert.ok(typeof last.lost === 'number' && last.lost > 0);
    assert.ok(delivered < 5000, `${delivered} delivered`);
    // Every event up to the drop is accounted for: delivered, or counted as lost (the queue held at most 200).
    assert.ok(last.lost <= 201, `lost ${last.lost}`);
    assert.ok(delivered + last.lost <= 5001);
  } finally {
    s.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil events: one text line per event, with time, sequence number, kind and what happened', () => {
  const e = {
    kind: 'instance-state',
    instance: 'gw',
    vrid: 51,
    family: 'ipv4',
    interface: 'eth0',
    from: 'backup',
    to: 'master',
    reason: 'master-down-timer',
    detail: 'no advert for 3.6s',
    priority: 90,
    basePriority: 100,
    master: '10.213.0.1',
    seq: 12,
    time: new Date(2026, 11, 3, 12, 0, 1, 234).getTime(),
    mono: 0,
  } as const;
  assert.equal(formatEvent(e), '2026-12-03 12:00:01.234 #12 instance-state gw: BACKUP -> MASTER (master-down-timer) prio 90/100 master 10.213.0.1 [eth0 vrid 51 ipv4] no advert for 3.6s');
  assert.equal(formatEvent({ kind: 'member-left', node: 2, name: 'b', silentMs: 1500, seq: 3, time: e.time, mono: 0 }), '2026-12-03 12:00:01.234 #3 member-left node=2 name=b silentMs=1500');
});
