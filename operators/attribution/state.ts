/**
 * The per-key state of `attribution` ({@link JourneyState}) and the helpers that change a key's
 * sorted lists in place (the logic puts the value back in the same call, which the operator's
 * `immutableState` allows: a copy of the list per touchpoint cost more than the insert).
 *
 * State, only through the store interface (so a Kafka task can restore it from a changelog):
 * `journeys` holds one value per operator key, `key → { touchpoints, pending }`: the key's
 * touchpoints of the last lookback and its conversions not yet attributed (the watermark has not
 * passed their time), each list sorted by (time, messageId). A key with neither has no entry.
 * Timers are not state: they live in memory and are rebuilt
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
  touchpoints: Touchpoint[];
  /** Sorted by (at, messageId), distinct messageIds. */
  pending: PendingConversion[];
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
 * Inserts `item` into `list` at its place in journey order; returns false, leaving `list` as it
 * was, when an item with the same messageId is already there (a duplicate: the first copy is kept).
 */
export function insertInOrder<T extends Timed>(list: T[], item: T): boolean {
  for (let k = 0; k < list.length; k++) if ((list[k] as T).messageId === item.messageId) return false;
  let i = list.length;
  while (i > 0 && journeyOrder(list[i - 1] as T, item) > 0) i--;
  if (i === list.length) list.push(item);
  else list.splice(i, 0, item);
  return true;
}

/** The touchpoints a conversion at `t` credits: those at `t − lookback ≤ at ≤ t`, in journey order. */
export function creditedTouchpoints(touchpoints: readonly Touchpoint[], t: number, lookbackMs: number): Touchpoint[] {
  const from = firstAtOrAfter(touchpoints, t - lookbackMs);
  const to = firstAtOrAfter(touchpoints, t + 1);
  return touchpoints.slice(from, to);
}

/**
 * Drops the touchpoints no longer needed once the watermark is `watermark`, keeping those with
 * `at + lookback ≥ watermark` (a conversion that is not late, at `t ≥ watermark`, can credit
 * them). Returns whether any was dropped.
 */
export function dropExpired(touchpoints: Touchpoint[], watermark: number, lookbackMs: number): boolean {
  const i = firstAtOrAfter(touchpoints, watermark - lookbackMs);
  if (i > 0) touchpoints.splice(0, i);
  return i > 0;
}

/** When the oldest touchpoint expires (`at + lookback + 1`), +∞ without touchpoints. */
export function nextExpiry(state: JourneyState, lookbackMs: number): number {
  const oldest = state.touchpoints[0];
  return oldest === undefined ? Infinity : oldest.at + lookbackMs + 1;
}
