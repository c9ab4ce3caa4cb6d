/**
 * How `funnel` decides a key's attempt from its buffered events ({@link firstAttempt}): a pure
 * function of the sorted events, so the same events give the same attempt in any arrival order,
 * before and after a restart.
 */
import type { BufferedEvent } from './state.js';

/** A key's first attempt, as far as its buffered events tell. */
export interface Attempt {
  /** Indices into the events of those that reached steps 1, 2, … in order (at least step 1). */
  reached: number[];
  /** Whether the last step was reached. */
  converted: boolean;
  /**
   * When the attempt is over: the time of the event that reached the last step when converted,
   * else `start + within`. It is final once the watermark passes this time (no event that could
   * change it can arrive any more); the key's next attempt starts after it.
   */
  closesAt: number;
}

/**
 * The first attempt of a key's buffered `events` (sorted by `compareBuffered`), or `undefined`
 * when none of them matches step 1.
 *
 * The attempt starts at the first event matching step 1, at `start`. The events after it, in
 * order and up to `start + withinMs` (inclusive), advance it greedily: an event matching the next
 * step reaches it (one step per event, so an event matching steps 2 and 3 reaches only one of
 * them); other events, later step-1 events included, change nothing. Greedy is the earliest
 * possible completion, and reaches the furthest step any choice of events could. The attempt is
 * converted at the event reaching the last step.
 *
 * @example
 * ```ts
 * // steps view, cart, purchase (masks 1, 2, 4); within 1h
 * firstAttempt([[0, 'v1', 1], [60_000, 'c1', 2], [120_000, 'p1', 4]], 3, 3_600_000);
 * // { reached: [0, 1, 2], converted: true, closesAt: 120000 }
 * ```
 */
export function firstAttempt(events: readonly BufferedEvent[], stepCount: number, withinMs: number): Attempt | undefined {
  let i = 0;
  while (i < events.length && ((events[i] as BufferedEvent)[2] & 1) === 0) i++;
  const first = events[i];
  if (first === undefined) return undefined;
  const end = first[0] + withinMs;
  const reached = [i];
  let next = 1;
  for (let j = i + 1; j < events.length && next < stepCount; j++) {
    const e = events[j] as BufferedEvent;
    if (e[0] > end) break;
    if ((e[2] & (1 << next)) !== 0) {
      reached.push(j);
      next++;
    }
  }
  const converted = next === stepCount;
  return { reached, converted, closesAt: converted ? (events[reached[reached.length - 1] as number] as BufferedEvent)[0] : end };
}
