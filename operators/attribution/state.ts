/**
 * The per-key state of `attribution` ({@link JourneyState}) and the pure helpers that build a
 * key's new value from the old one (copy-on-write sorted lists).
 *
 * State, only through the store interface (so a Kafka task can restore it from a changelog):
 * `journeys` holds one value per operator key, `key → { touchpoints, pending }`: the key's
 * touchpoints of the last lookback and its conversions not yet attributed (the watermark has not
 * passed their time), each list sorted by (time, messageId). A key with neither has no entry.
 * Values are replaced, never modified. Timers are not state: they live in memory and are rebuilt
 * from `journeys` (one scan) when the logic is created.
 */
import type { KeyValueStore } from '../../lib/state/store.js';

/** A touchpoint as kept and as written in a record (without its credit). */
export interface Touchpoint {
  messageId: string;
  /** Event time. */
  at: number;
  channel: string | null;
  campaign: string | null;
}

/** A conversion waiting for the watermark to pass its time. */
export interface PendingConversion {
  messageId: string;
  at: number;
  value: number;
}

/** `journeys`: one value per key. */
export interface JourneyState {
  /** Sorted by (at, messageId), distinct messageIds. */
  touchpoints: readonly Touchpoint[];
  /** Sorted by (at, messageId), distinct messageIds. */
  pending: readonly PendingConversion[];
}

export type JourneyStore = KeyValueStore<string, JourneyState>;

interface Timed {
  messageId: string;
  at: number;
}

/** Journey order: by time, then messageId (code unit order), so arrival order never matters. */
export function journeyOrder(a: Timed, b: Timed): number {
  if (a.at !== b.at) return a.at - b.at;
  return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;
}

/** Index of the first item at or after time `at` (binary search). */
export function firstAtOrAfter(list: readonly Timed[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as Timed).at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A copy of `list` with `item` at its place in journey order, or `undefined` when an item with
 * the same messageId is already there (a duplicate: the first copy is kept).
 */
export function inserted<T extends Timed>(list: readonly T[], item: T): T[] | undefined {
  for (const x of list) if (x.messageId === item.messageId) return undefined;
  const out = list.slice();
  let i = out.length;
  while (i > 0 && journeyOrder(out[i - 1] as T, item) > 0) i--;
  out.splice(i, 0, item);
  return out;
}

/** The touchpoints a conversion at `t` credits: those at `t − lookback ≤ at ≤ t`, in journey order. */
export function creditedTouchpoints(touchpoints: readonly Touchpoint[], t: number, lookbackMs: number): Touchpoint[] {
  const from = firstAtOrAfter(touchpoints, t - lookbackMs);
  const to = firstAtOrAfter(touchpoints, t + 1);
  return touchpoints.slice(from, to);
}

/**
 * The touchpoints still needed once the watermark is `watermark`: those with
 * `at + lookback ≥ watermark` (a conversion that is not late, at `t ≥ watermark`, can credit
 * them). Returns `touchpoints` itself when none expired.
 */
export function unexpired(touchpoints: readonly Touchpoint[], watermark: number, lookbackMs: number): readonly Touchpoint[] {
  const i = firstAtOrAfter(touchpoints, watermark - lookbackMs);
  return i === 0 ? touchpoints : touchpoints.slice(i);
}

/** When the oldest touchpoint expires (`at + lookback + 1`), +∞ without touchpoints. */
export function nextExpiry(state: JourneyState, lookbackMs: number): number {
  const oldest = state.touchpoints[0];
  return oldest === undefined ? Infinity : oldest.at + lookbackMs + 1;
}

/** The empty journey. */
export const EMPTY_JOURNEY: JourneyState = Object.freeze({ touchpoints: Object.freeze([]) as readonly Touchpoint[], pending: Object.freeze([]) as readonly PendingConversion[] });
