/**
 * The running windows of sliding keys, in memory only: per key `f`, the window of its last final
 * record, and `h`, the window ending at its latest event (`emit: update`, `annotate`). Both are
 * derived from the key's entries — moving a window gives, to the last bit, what a fold of the
 * window's entries gives (`aggregates/sliding.ts`, checked by
 * `test/operators/window-aggregate.incremental.test.ts`) — so they are a cache: a key missing
 * here (after a restart or a restore, or dropped to bound the memory) has its windows folded
 * afresh from its entries on its next event or final record, with the same results.
 *
 * They used to be part of the key's stored value, and were encoded again at every checkpoint
 * the key changed in: about 40 % of the bytes of the cart-abandonment pipeline's sliding state.
 * A value written that way still has them; {@link RunningWindows.of} takes them over once.
 *
 * @module
 */
import type { Running } from '../aggregates/sliding.js';

/** A key's running windows (null: fold afresh when needed). */
export interface KeyRunning {
  f: Running | null;
  h: Running | null;
}

/** A stored value that may still carry its windows (written before they moved here). */
interface MaybeCarrying {
  f?: Running | null;
  h?: Running | null;
}

/** Keys kept by default: about 300 B of JS heap each for three aggregates. */
export const DEFAULT_RUNNING_KEYS = 100_000;

/**
 * The running windows of at most `max` keys; past that the key kept longest is dropped (first
 * in, first out: a hit costs one map read, where keeping the map in use order cost a delete and
 * an insert per read, as much as the bytes it saved; a dropped key costs one fold of its window).
 *
 * @example
 * ```ts
 * const running = new RunningWindows();
 * const r = running.of('u1', storedValue); // { f: null, h: null } for a key not seen yet
 * r.f = buildRunning(aggregates, entries, size, t);
 * ```
 */
export class RunningWindows {
  private readonly keys = new Map<string, KeyRunning>();

  constructor(private readonly max = DEFAULT_RUNNING_KEYS) {}

  /**
   * The windows of `key`. `stored` is the key's value: windows it still carries (an earlier
   * layout) are taken over and removed from it, so its next write leaves them out.
   */
  of(key: string, stored: MaybeCarrying): KeyRunning {
    const keys = this.keys;
    let r = keys.get(key);
    if (r === undefined) {
      r = { f: stored.f ?? null, h: stored.h ?? null };
      keys.set(key, r);
      if (keys.size > this.max) keys.delete(keys.keys().next().value as string);
    }
    if (stored.f !== undefined || stored.h !== undefined) {
      delete stored.f;
      delete stored.h;
    }
    return r;
  }

  /** The windows of `key` if kept. */
  peek(key: string): KeyRunning | undefined {
    return this.keys.get(key);
  }

  /** Forgets `key` (its value was deleted). */
  delete(key: string): void {
    this.keys.delete(key);
  }

  /** Keys kept. */
  get size(): number {
    return this.keys.size;
  }
}
