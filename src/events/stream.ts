/**
 * One ordered stream of events per daemon. `emit` numbers and timestamps an event and
 * hands it to every subscriber synchronously, in subscription order, so every subscriber
 * sees every event in the same order. A subscriber that throws is counted and skipped; it
 * never stops the others or the emitter (the VRRP engine emits from its hot path).
 * Subscribers that do slow work (scripts, FIFO writes, D-Bus) queue it themselves.
 *
 * The stream keeps the most recent events (a bounded ring) for `vigil events` and for
 * subscribers that attach late and want to catch up from a sequence number.
 */
import type { StampedEvent, VigilEvent } from './types.js';
import { errorText } from '../base/error-text.js';

export type EventSubscriber = (event: StampedEvent) => void;

export interface EventSource {
  subscribe(subscriber: EventSubscriber): () => void;
  /** The kept events with seq > `after` (all kept ones without it), oldest first. */
  since(after?: number): readonly StampedEvent[];
  readonly lastSeq: number;
}

export interface EventStreamOptions {
  /** How many recent events to keep (default 1000). */
  readonly keep?: number;
  readonly wallClock?: () => number;
  readonly monotonic?: () => number;
}

export class EventStream implements EventSource {
  private seq = 0;
  private readonly ring: (StampedEvent | undefined)[];
  private readonly subscribers: EventSubscriber[] = [];
  private readonly wall: () => number;
  private readonly mono: () => number;
  /** Subscriber calls that threw. */
  subscriberErrors = 0;
  lastSubscriberError: string | undefined;

  constructor(options: EventStreamOptions = {}) {
    this.ring = new Array<StampedEvent | undefined>(Math.max(1, options.keep ?? 1000));
    this.wall = options.wallClock ?? Date.now;
    this.mono = options.monotonic ?? (() => performance.now());
  }

  get lastSeq(): number {
    return this.seq;
  }

  emit(event: VigilEvent): StampedEvent {
    const stamped = { ...event, seq: ++this.seq, time: this.wall(), mono: this.mono() } as StampedEvent;
    this.ring[stamped.seq % this.ring.length] = stamped;
    for (const s of this.subscribers) {
      try {
        s(stamped);
      } catch (e) {
        this.subscriberErrors++;
        this.lastSubscriberError = errorText(e);
      }
    }
    return stamped;
  }

  subscribe(subscriber: EventSubscriber): () => void {
    this.subscribers.push(subscriber);
    return () => {
      const i = this.subscribers.indexOf(subscriber);
      if (i >= 0) this.subscribers.splice(i, 1);
    };
  }

  since(after = 0): readonly StampedEvent[] {
    const out: StampedEvent[] = [];
    const first = Math.max(after + 1, this.seq - this.ring.length + 1, 1);
    for (let s = first; s <= this.seq; s++) {
      const e = this.ring[s % this.ring.length];
      if (e && e.seq === s) out.push(e);
    }
    return out;
  }
}
