/**
 * The per-key state of `trigger`: one store value per operator key ({@link KeyState}), and the
 * ordered-list helpers its rules use. Lists keep the order the tuple-keyed stores they replace
 * iterated in — (event time, messageId), strings by code point — so every scan, and so every
 * record, comes out exactly as before.
 *
 * @module
 */
import type { TributaryEvent } from '../../lib/event/event.js';

/** One rule's part of a key's state (only the fields of its kind are ever set). */
export interface RuleState {
  /** absence: pending instances (the kept A's), by (time, messageId). */
  pending?: TributaryEvent[];
  /** absence: B's seen, `[time, messageId]`, by (time, messageId); expire when the watermark passes time. */
  cancels?: Array<[number, string]>;
  /** sequence: B's waiting for their A, by (time, messageId); expire when the watermark passes time. */
  thens?: TributaryEvent[];
  /** sequence: A's, by (time, messageId); expire at time + within. */
  firsts?: TributaryEvent[];
  /** threshold: per value → matching events by (time, messageId); expire at time + within. */
  matches?: Array<[string, TributaryEvent[]]>;
  /** cooldown: `firedAt` of the last record of this rule and key; expires at firedAt + cooldown. */
  fired?: number;
}

/** Everything `trigger` keeps of one key except segment membership: the value of store `keys`. */
export interface KeyState {
  /** By rule name (read with `Object.hasOwn`: a rule may be called `constructor`). */
  rules: Record<string, RuleState>;
  /** frequencyCap: `[firedAt, triggerId]` of the key's records, by (firedAt, triggerId); expire at firedAt + per. */
  sent?: Array<[number, string]>;
  /** The latest known consent flags of the key (by event time). */
  consent?: { t: number; flags: unknown };
}

/** A rule's state in `s`, if it has one. */
export function ruleOf(s: KeyState, name: string): RuleState | undefined {
  return Object.hasOwn(s.rules, name) ? s.rules[name] : undefined;
}

/** Compares strings by code point (UTF-8 byte order), as the stores order key parts. */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // A surrogate (D800–DFFF) starts a code point above FFFF: after E000–FFFF, unlike UTF-16 order.
      if (x >= 0xd800 && y >= 0xd800 && x < 0xe000 !== y < 0xe000) return x < 0xe000 ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** (time, id) order. */
export function compareAt(t1: number, id1: string, t2: number, id2: string): number {
  return t1 < t2 ? -1 : t1 > t2 ? 1 : compareIds(id1, id2);
}

/**
 * Whether `(t, id)` lies before the bound `[end, '\uffff']` — the exclusive upper bound the tuple
 * stores were scanned with for "time ≤ end" (an id at exactly `end` counts when it sorts below
 * U+FFFF, i.e. practically always).
 */
export function beforeEnd(t: number, id: string, end: number): boolean {
  if (t !== end) return t < end;
  const c = id.codePointAt(0);
  return c === undefined || c < 0xffff;
}

/** Whether `(t, id)` is at or below the inclusive bound `[end, '\uffff']` (a reverse scan's start). */
export function atOrBeforeEnd(t: number, id: string, end: number): boolean {
  return beforeEnd(t, id, end) || (t === end && id === '\uffff');
}

/**
 * Puts `e` into `list` (ordered by timestamp, messageId), replacing an event with the same
 * timestamp and messageId (a store put of the same key). Returns its index.
 */
export function upsertEvent(list: TributaryEvent[], e: TributaryEvent): number {
  let lo = 0;
  let hi = list.length;
  // Events mostly arrive in time order: check the end first.
  const last = list[hi - 1];
  if (last === undefined || compareAt(last.timestamp, last.messageId, e.timestamp, e.messageId) < 0) {
    list.push(e);
    return hi;
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = list[mid] as TributaryEvent;
    if (compareAt(m.timestamp, m.messageId, e.timestamp, e.messageId) < 0) lo = mid + 1;
    else hi = mid;
  }
  const at = list[lo];
  if (at !== undefined && at.timestamp === e.timestamp && at.messageId === e.messageId) list[lo] = e;
  else list.splice(lo, 0, e);
  return lo;
}

/** Puts `[t, id]` into `list` (ordered by t, id) unless it is there. */
export function upsertPair(list: Array<[number, string]>, t: number, id: string): void {
  let lo = 0;
  let hi = list.length;
  const last = list[hi - 1];
  if (last === undefined || compareAt(last[0], last[1], t, id) < 0) {
    list.push([t, id]);
    return;
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = list[mid] as [number, string];
    if (compareAt(m[0], m[1], t, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  const at = list[lo];
  if (at === undefined || at[0] !== t || at[1] !== id) list.splice(lo, 0, [t, id]);
}

/** Index of the first event of `list` (ordered by timestamp) at or after `t`. */
export function firstAtOrAfter(list: readonly TributaryEvent[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as TributaryEvent).timestamp < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Removes the leading entries whose expiry (`time(entry) + ttl + 1`, the `expiresAt` the stores
 * were given) is at or before `watermark`; `list` is ordered by time. Returns how many.
 */
export function dropExpired<E>(list: E[], time: (e: E) => number, ttl: number, watermark: number): number {
  let n = 0;
  while (n < list.length && time(list[n] as E) + ttl + 1 <= watermark) n++;
  if (n > 0) list.splice(0, n);
  return n;
}

export const eventTime = (e: TributaryEvent): number => e.timestamp;
export const pairTime = (p: readonly [number, string]): number => p[0];
