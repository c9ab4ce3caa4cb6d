/**
 * The per-key state of `sessionize` ({@link OpenSession}) and the helpers that build a key's
 * new value from the old one (copy-on-write sorted lists and counts) or, for an event that only
 * grows one session, change it in place ({@link addCountInPlace}, {@link insertSorted}).
 *
 * State, only through the store interface (so a Kafka task can restore it from a changelog):
 * `sessions` holds one value per operator key, `key → OpenSession[]` (that key's open sessions,
 * sorted by start, each its start and {@link SessionState}); a key without open sessions has no
 * entry. An event costs one `get` and one `put` of its key (a binary search and a short scan of
 * that key's few open sessions finds the candidates); a close costs one `get` and one `put`, or
 * a `delete` when it was the key's last open session. A value is changed in place only to be
 * put back in the same call (what the operator's `immutableState` allows).
 * The close timers are not state: they live in memory ({@link MemoryTimers}, one per open
 * session at `end + gap + 1`, id = session id) and are rebuilt from `sessions` (one scan) when
 * the logic is created, i.e. after a Kafka task restored its stores or an embedded run reopened
 * its LMDB state; closing from rebuilt timers gives the same records in the same order. State
 * written by the earlier layout (`[key, start] → SessionState`) is regrouped per key then.
 */
import type { KeyValueStore } from '../../lib/state/store.js';
import { lowerBound } from '../../lib/util/sorted.js';
import type { SessionEventRef } from './records.js';

/** The state of an open session (its key and start are where it is stored). */
export interface SessionState {
  id: string;
  end: number;
  count: number;
  /** `[name, count]`, sorted by name (an array, so event names like `__proto__` stay data). */
  counts: Array<[string, number]>;
  first: SessionEventRef;
  last: SessionEventRef;
  /** Sorted, distinct. */
  channels: string[];
  /** Sorted, distinct. */
  mergedFrom: string[];
}

/** An open session as stored in its key's list: its start and its state. */
export interface OpenSession extends SessionState {
  start: number;
}

/** `sessions`: operator key → that key's open sessions, sorted by start (never empty). */
export type SessionStore = KeyValueStore<string, readonly OpenSession[]>;

/** Index of the first session whose start is ≥ `start` (binary search). */
export function firstFrom(list: readonly OpenSession[], start: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as OpenSession).start < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A copy of `list` without the sessions in `removed`, with `session` at its place by start
 * (replacing one with the same start, as a put of the same store key did).
 */
export function replaced(list: readonly OpenSession[], removed: readonly OpenSession[], session: OpenSession): OpenSession[] {
  const out: OpenSession[] = [];
  let placed = false;
  for (const s of list) {
    if (removed.includes(s)) continue;
    if (!placed && s.start >= session.start) {
      out.push(session);
      placed = true;
      if (s.start === session.start) continue;
    }
    out.push(s);
  }
  if (!placed) out.push(session);
  return out;
}

/** Inserts `v` into a sorted distinct list (copy-on-write). */
export function withSorted(list: string[], v: string): string[] {
  const lo = lowerBound(list, v);
  if (list[lo] === v) return list;
  const out = list.slice();
  out.splice(lo, 0, v);
  return out;
}

/** The union of two sorted distinct lists (copy-on-write). */
export function unionSorted(a: string[], b: string[]): string[] {
  let out = a;
  for (const v of b) out = withSorted(out, v);
  return out;
}

/** A copy of `counts` with `n` added to `name` (kept sorted by name). */
export function addCount(counts: Array<[string, number]>, name: string, n: number): Array<[string, number]> {
  const out = counts.map(([k, c]): [string, number] => [k, c]);
  let i = 0;
  while (i < out.length && (out[i] as [string, number])[0] < name) i++;
  const at = out[i];
  if (at && at[0] === name) at[1] += n;
  else out.splice(i, 0, [name, n]);
  return out;
}

/** Inserts `v` into a sorted distinct list in place (nothing when it is there). */
export function insertSorted(list: string[], v: string): void {
  const lo = lowerBound(list, v);
  if (list[lo] !== v) list.splice(lo, 0, v);
}

/** Adds one to `name` in `counts` in place (kept sorted by name). */
export function addCountInPlace(counts: Array<[string, number]>, name: string): void {
  let i = 0;
  while (i < counts.length && (counts[i] as [string, number])[0] < name) i++;
  const at = counts[i];
  if (at && at[0] === name) at[1] += 1;
  else counts.splice(i, 0, [name, 1]);
}
