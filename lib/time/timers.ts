/**
 * Event-time timers. They live in memory: an operator keeps in its own state what each timer is
 * for (an open session, a window, a pending cart) and registers its timers again from that state
 * when it is created, which happens after a task's stores were reopened or restored. So timers
 * are as durable as the state, and no store entry is written or scanned per timer.
 *
 * @module
 */
import { compareKeys } from '../state/key-order.js';

/** A pending event-time timer. */
export interface Timer<D = unknown> {
  /** Event time at which it fires (when the watermark reaches it). */
  time: number;
  /** Identity within its owner (e.g. the key it belongs to); registering the same id again moves it. */
  id: string;
  data: D;
}

interface HeapEntry<D> {
  time: number;
  id: string;
  data: D;
  /** Where the entry is in the heap array (kept by every move, so it can be moved or removed in place). */
  at: number;
}

/** (time, id) order, ids in code point order like the store keys the durable timers used. */
function before<D>(a: HeapEntry<D>, b: HeapEntry<D>): boolean {
  if (a.time !== b.time) return a.time < b.time;
  return compareKeys(a.id, b.id) < 0;
}

/** A timer whose callback threw. */
export interface TimerFailure {
  id: string;
  time: number;
  error: unknown;
}

/**
 * Thrown by {@link MemoryTimers.fireDue} after it fired every due timer, when some callbacks
 * threw: each failed timer is removed like the others (it never fires again).
 */
export class TimerFailures extends Error {
  constructor(readonly failures: readonly TimerFailure[]) {
    const first = failures[0] as TimerFailure;
    super(`${failures.length} timer${failures.length === 1 ? '' : 's'} failed; first ${first.id}: ${first.error instanceof Error ? first.error.message : String(first.error)}`);
    this.name = 'TimerFailures';
  }
}

/**
 * Event-time timers in memory: a binary heap ordered by (time, id) (ids in code point order, as
 * store keys are) and a map from id to its pending entry. Nothing is stored (see the module
 * notes): the owner re-registers its timers from its state when it is created.
 *
 * Costs: register, move and cancel O(log n), in place (an entry knows its position in the heap:
 * moving a timer allocates nothing and leaves nothing behind); `next` O(1); `fireDue` O(log n)
 * per timer fired.
 *
 * @example
 * ```ts
 * const timers = new MemoryTimers<string>();
 * timers.register({ time: 5_000, id: 'k1', data: 'cart' });
 * timers.fireDue(10_000, (t) => console.log('fired', t.id, t.data)); // fired k1 cart
 * ```
 */
export class MemoryTimers<D = unknown> {
  private heap: HeapEntry<D>[] = [];
  private readonly byId = new Map<string, HeapEntry<D>>();

  /** Schedules (or moves) the timer `id` to `time`. */
  register(timer: Timer<D>): void {
    const previous = this.byId.get(timer.id);
    if (previous !== undefined) {
      previous.data = timer.data;
      if (previous.time === timer.time) return;
      const earlier = timer.time < previous.time;
      previous.time = timer.time;
      if (earlier) this.up(previous);
      else this.down(previous);
      return;
    }
    const entry: HeapEntry<D> = { time: timer.time, id: timer.id, data: timer.data, at: this.heap.length };
    this.byId.set(timer.id, entry);
    this.heap.push(entry);
    this.up(entry);
  }

  /** Cancels the timer `id`; returns whether one was pending. */
  cancel(id: string): boolean {
    const entry = this.byId.get(id);
    if (entry === undefined) return false;
    this.byId.delete(id);
    this.removeAt(entry.at);
    return true;
  }

  /** The time the timer `id` is set for, if pending. */
  pending(id: string): number | undefined {
    return this.byId.get(id)?.time;
  }

  /**
   * Fires, in (time, id) order, every timer with time ≤ `watermark`, including timers that
   * firing callbacks register at or before the watermark. Each is removed before its callback
   * runs. Returns how many fired. A callback that throws does not stop the others: after the
   * last due timer fired, {@link TimerFailures} lists those that threw.
   */
  fireDue(watermark: number, onFire: (timer: Timer<D>) => void): number {
    let fired = 0;
    let failed: TimerFailure[] | undefined;
    for (;;) {
      // Read afresh: a callback may clear the timers.
      const top = this.heap[0];
      if (top === undefined || top.time > watermark) break;
      this.removeAt(0);
      this.byId.delete(top.id);
      fired++;
      try {
        onFire({ time: top.time, id: top.id, data: top.data });
      } catch (error) {
        // One timer whose callback throws must not keep the others from firing.
        (failed ??= []).push({ id: top.id, time: top.time, error });
      }
    }
    if (failed) throw new TimerFailures(failed);
    return fired;
  }

  /** The earliest pending timer. */
  next(): Timer<D> | undefined {
    const top = this.heap[0];
    return top === undefined ? undefined : { time: top.time, id: top.id, data: top.data };
  }

  /** Time of the earliest pending timer, +∞ when none (no allocation: the per-event check). */
  nextTime(): number {
    return this.heap[0]?.time ?? Infinity;
  }

  /** Number of pending timers. */
  size(): number {
    return this.byId.size;
  }

  /** Drops every timer (the operator's state was cleared). */
  clear(): void {
    this.heap = [];
    this.byId.clear();
  }

  /** Removes the entry at `i`: the last entry takes its place and moves up or down from there. */
  private removeAt(i: number): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (i === heap.length) return;
    const gone = heap[i]!;
    heap[i] = last;
    last.at = i;
    if (before(last, gone)) this.up(last);
    else this.down(last);
  }

  /** Moves `entry` towards the root while it sorts before its parent. */
  private up(entry: HeapEntry<D>): void {
    const heap = this.heap;
    let i = entry.at;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(entry, p)) break;
      heap[i] = p;
      p.at = i;
      i = parent;
    }
    heap[i] = entry;
    entry.at = i;
  }

  /** Moves `entry` towards the leaves while a child sorts before it. */
  private down(entry: HeapEntry<D>): void {
    const heap = this.heap;
    const n = heap.length;
    let i = entry.at;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
      const child = heap[c]!;
      if (!before(child, entry)) break;
      heap[i] = child;
      child.at = i;
      i = c;
    }
    heap[i] = entry;
    entry.at = i;
  }
}
