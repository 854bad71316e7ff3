import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStream } from '../src/events/stream.js';
import type { StampedEvent } from '../src/events/types.js';

test('events are numbered without gaps and reach every subscriber in order', () => {
  let wall = 1000;
  const stream = new EventStream({ keep: 4, wallClock: () => wall++, monotonic: () => 5 });
  const a: number[] = [];
  const b: number[] = [];
  stream.subscribe((e) => a.push(e.seq));
  stream.subscribe(() => {
    throw new Error('bad subscriber');
  });
  stream.subscribe((e) => b.push(e.seq));
  for (let i = 0; i < 6; i++) stream.emit({ kind: 'node-standby', on: i % 2 === 0 });
  assert.deepEqual(a, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(b, [1, 2, 3, 4, 5, 6]);
  assert.equal(stream.subscriberErrors, 6);
  assert.equal(stream.lastSubscriberError, 'bad subscriber');
  // Only the last 4 are kept.
  assert.deepEqual(stream.since().map((e) => e.seq), [3, 4, 5, 6]);
  assert.deepEqual(stream.since(4).map((e) => e.seq), [5, 6]);
  const last = stream.since(5)[0] as StampedEvent;
  assert.equal(last.time, 1005);
  assert.equal(last.kind, 'node-standby');
});

test('an unsubscribed subscriber hears nothing more', () => {
  const stream = new EventStream();
  const seen: number[] = [];
  const off = stream.subscribe((e) => seen.push(e.seq));
  stream.emit({ kind: 'daemon-stopped' });
  off();
  stream.emit({ kind: 'daemon-stopped' });
  assert.deepEqual(seen, [1]);
});
