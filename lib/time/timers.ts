import type { KeyValueStore, StoreKey } from '../state/store.js';

/** A pending event-time timer. */
export interface Timer<D = unknown> {
  /** Event time at which it fires (when the watermark reaches it). */
  time: number;
  /** Identity within its owner (e.g. the key it belongs to); registering the same id again moves it. */
  id: string;
  data: D;
}

type TimerKey = readonly ['t', number, string] | readonly ['i', string];

/**
 * Durable event-time timers kept in a state store, so they survive restarts: a timer fires
 * exactly once, when the watermark reaches its time, in (time, id) order.
 *
 * Two key spaces in one store: `['t', time, id] → data` (ordered by time, the firing scan)
 * and `['i', id] → time` (to move or cancel a timer by id).
 *
 * @example
 * ```ts
 * const timers = new TimerService(new MemoryStore('dedupe.timers'));
 * timers.register({ time: 5_000, id: 'k1', data: null });
 * timers.fireDue(10_000, (t) => console.log('fired', t.id)); // fired k1
 * ```
 */
export class TimerService<D = unknown> {
  /**
   * No pending timer is earlier than this (memory only, −∞ after a restart: then the first scan
   * starts at the beginning). Scans start here, so firing n timers does not walk n² deleted
   * entries of a write-buffered store (4 500 session closes took 22 s without it).
   */
  private floor = -Infinity;

  constructor(private readonly store: KeyValueStore<TimerKey, unknown>) {}

  /** Schedules (or moves) the timer `id` to `time`. */
  register(timer: Timer<D>): void {
    const previous = this.store.get(['i', timer.id]) as number | undefined;
    if (previous !== undefined) this.store.delete(['t', previous, timer.id]);
    if (timer.time < this.floor) this.floor = timer.time;
    this.store.put(['t', timer.time, timer.id], timer.data);
    this.store.put(['i', timer.id], timer.time);
  }

  /** Cancels the timer `id`; returns whether one was pending. */
  cancel(id: string): boolean {
    const time = this.store.get(['i', id]) as number | undefined;
    if (time === undefined) return false;
    this.store.delete(['t', time, id]);
    this.store.delete(['i', id]);
    return true;
  }

  /** The time the timer `id` is set for, if pending. */
  pending(id: string): number | undefined {
    return this.store.get(['i', id]) as number | undefined;
  }

  /**
   * Fires, in order, every timer with time ≤ `watermark`, including timers that firing
   * callbacks register at or before the watermark. Each is removed before its callback runs.
   * Returns how many fired.
   */
  fireDue(watermark: number, onFire: (timer: Timer<D>) => void): number {
    let fired = 0;
    for (;;) {
      const next = this.next();
      if (!next || next.time > watermark) return fired;
      this.store.delete(['t', next.time, next.id]);
      this.store.delete(['i', next.id]);
      fired++;
      onFire(next);
    }
  }

  /** The earliest pending timer. */
  next(): Timer<D> | undefined {
    if (this.floor === Infinity) return undefined;
    const start = this.floor === -Infinity ? ['t'] : ['t', this.floor];
    for (const { key, value } of this.store.range({ start, end: ['u'], limit: 1 })) {
      const [, time, id] = key as readonly ['t', number, string];
      this.floor = time;
      return { time, id, data: value as D };
    }
    this.floor = Infinity;
    return undefined;
  }

  /** Number of pending timers. */
  size(): number {
    let n = 0;
    for (const _ of this.store.range({ start: ['i'], end: ['j'] })) n++;
    return n;
  }
}

/**
 * `OperatorContext.timers` for one step: one {@link TimerService} per store name, made on first
 * use and reused, because a service's scan floor must see every write to its store.
 *
 * @example
 * ```ts
 * const timers = timersOf((name) => stores.open(`sessionize.${name}`));
 * timers() === timers('timers'); // true
 * ```
 */
export function timersOf(open: (name: string) => KeyValueStore<StoreKey, unknown>): <D>(name?: string) => TimerService<D> {
  const services = new Map<string, TimerService<unknown>>();
  return <D>(name = 'timers') => {
    let service = services.get(name);
    if (!service) services.set(name, (service = new TimerService(open(name) as KeyValueStore<TimerKey, unknown>)));
    return service as TimerService<D>;
  };
}
