/**
 * The per-key state of `funnel` ({@link FunnelKeyState}) and the order its buffered events are
 * kept in.
 *
 * State, only through the store interface (so a Kafka task restores it from its changelog and an
 * embedded run reopens it from LMDB): store `keys` holds one value per funnel key — the key's
 * events that match at least one step and may still count (`[time, messageId, steps mask]`,
 * sorted by {@link compareBuffered}), the watermark at which the key's timer is due, and with
 * `emit: update` which provisional attempt was last reported. A key whose attempt closed with
 * nothing else buffered has no entry. Values are replaced, never modified in place. The timers
 * are not state: one per key in memory, rebuilt from `due` when the logic is created.
 */
import type { KeyValueStore } from '../../lib/state/store.js';

/** A buffered event: its time, its messageId and the steps it matches (bit i = step i + 1). */
export type BufferedEvent = readonly [time: number, messageId: string, mask: number];

/** What `funnel` keeps of one key: the value of store `keys`. */
export interface FunnelKeyState {
  /** The key's matching events that may still count, sorted by {@link compareBuffered}. Never empty. */
  events: readonly BufferedEvent[];
  /** The watermark at which the key's timer fires: the first attempt's close time + 1, else the last event's time + 1. */
  due: number;
  /** With `emit: update`: `[startedAt, furthestStep]` of the last update written for the key's open attempt. */
  updated?: readonly [number, number];
}

/** `keys`: funnel key → its state. */
export type FunnelStore = KeyValueStore<string, FunnelKeyState>;

/**
 * The most events one key may keep: its matching events within an attempt's window plus the
 * allowed lateness. Far beyond any person (a bot); it bounds the work per event and keeps the
 * key's value well under a Kafka record's 1 MB as a changelog record.
 */
export const MAX_BUFFERED_EVENTS = 10_000;
/** The most characters of messageIds one key may keep (same reason). */
export const MAX_BUFFERED_ID_CHARS = 256 * 1024;

/** Why `events` can take no further event, or `undefined` when it can. */
export function bufferFull(events: readonly BufferedEvent[]): string | undefined {
  if (events.length >= MAX_BUFFERED_EVENTS) return `the key already keeps ${events.length} events that may still count (at most ${MAX_BUFFERED_EVENTS})`;
  if (events.length < 1000) return undefined;
  let chars = 0;
  for (const e of events) chars += e[1].length;
  return chars >= MAX_BUFFERED_ID_CHARS ? `the key already keeps ${chars} characters of messageIds that may still count (at most ${MAX_BUFFERED_ID_CHARS})` : undefined;
}

/** The 0-based index of the first step `mask` matches. */
export function firstStepOf(mask: number): number {
  return 31 - Math.clz32(mask & -mask);
}

/**
 * The order events are taken in: by time; at the same time in funnel order (by the first step
 * each matches), then by messageId, then by mask. A total order that does not depend on arrival,
 * so an out-of-order event gives the same result as in order, and a view and a purchase logged
 * in the same millisecond count as view then purchase.
 */
export function compareBuffered(a: BufferedEvent, b: BufferedEvent): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  const sa = firstStepOf(a[2]);
  const sb = firstStepOf(b[2]);
  if (sa !== sb) return sa - sb;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[2] - b[2];
}

/** A copy of the sorted `events` with `e` inserted in its place (after any equal one). */
export function withEvent(events: readonly BufferedEvent[], e: BufferedEvent): BufferedEvent[] {
  let lo = 0;
  let hi = events.length;
  // Events mostly arrive in time order: check the end first.
  const last = events[hi - 1];
  if (last === undefined || compareBuffered(last, e) <= 0) lo = hi;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBuffered(events[mid] as BufferedEvent, e) <= 0) lo = mid + 1;
    else hi = mid;
  }
  const out = events.slice();
  out.splice(lo, 0, e);
  return out;
}

/** Index of the first event of the sorted `events` whose time is after `t`. */
export function firstAfter(events: readonly BufferedEvent[], t: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[mid] as BufferedEvent)[0] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
