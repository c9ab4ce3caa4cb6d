/**
 * The per-key state of `trigger`: one store value per operator key ({@link KeyState}), and the
 * ordered-list helpers its rules use. Lists keep the order the tuple-keyed stores they replace
 * iterated in — (event time, messageId), strings by code point — so every scan, and so every
 * record, comes out exactly as before.
 *
 * State, only through the store interface, one value per operator key in store `keys`
 * ({@link KeyState}): per rule its absence instances (`pending`), the
 * B's seen (`cancels`, expire when the watermark passes b), the sequence B's waiting for an A
 * (`thens`, same) and A's (`firsts`, expire at a + T), the threshold events per value
 * (`matches`, expire at t + T) and the cooldown's last `firedAt` (`fired`); per key the cap's
 * `[firedAt, triggerId]` list (`sent`, expires at firedAt + per) and the consent. Lists are kept
 * in (time, messageId) order, ids by code point, as the tuple-keyed stores they replace, so every
 * scan sees the same events in the same order. Segment membership stays one small entry per
 * `[rule, key]` in `segments` (kept while the key exists). An event costs one point read of its
 * key and at most one write (none when it touches no rule and carries no consent); the value is
 * copied (fresh containers, the kept events shared) before it changes and never modified after
 * a put. Facts expire inside the value when the key is touched or its cleanup timer fires,
 * exactly as the stores expired them (at the end of `advance`, after the timers fired); a key
 * with nothing left is deleted (consent, like segment membership, is kept).
 *
 * @module
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import { getPath, setPath } from '../../lib/event/paths.js';
import { deriveId } from '../../lib/operator/ids.js';
import type { TriggerConfig, TriggerRule } from './options.js';

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

/**
 * A private copy of the stored value `stored` for the rules of `config`: fresh containers (the
 * stored value may be shared with the store, so it is never modified), the kept events shared.
 */
export function copyState(config: TriggerConfig, stored: KeyState | undefined): KeyState {
  const s: KeyState = { rules: {} };
  if (stored) {
    for (const rule of config.rules) {
      const r = ruleOf(stored, rule.name);
      if (!r) continue;
      const copy: RuleState = {};
      if (rule.kind === 'absence') {
        if (r.pending) copy.pending = r.pending.slice();
        if (r.cancels) copy.cancels = r.cancels.slice();
      } else if (rule.kind === 'sequence') {
        if (r.thens) copy.thens = r.thens.slice();
        if (r.firsts) copy.firsts = r.firsts.slice();
      } else if (rule.kind === 'threshold' && r.matches) {
        copy.matches = r.matches.map(([per, list]) => [per, list.slice()]);
      }
      if (r.fired !== undefined && rule.common.cooldownMs !== undefined) copy.fired = r.fired;
      s.rules[rule.name] = copy;
    }
    if (stored.sent && config.cap) s.sent = stored.sent.slice();
    if (stored.consent) s.consent = stored.consent;
  }
  return s;
}

/** Removes the facts of `s` whose expiry is at or before `watermark`. Returns how many. */
export function pruneState(config: TriggerConfig, s: KeyState, watermark: number): number {
  let n = 0;
  for (const rule of config.rules) {
    const r = ruleOf(s, rule.name);
    if (!r) continue;
    if (r.cancels) n += dropExpired(r.cancels, pairTime, 0, watermark);
    if (r.thens) n += dropExpired(r.thens, eventTime, 0, watermark);
    if (rule.kind === 'sequence' && r.firsts) n += dropExpired(r.firsts, eventTime, rule.withinMs, watermark);
    if (rule.kind === 'threshold' && r.matches) for (const [, list] of r.matches) n += dropExpired(list, eventTime, rule.withinMs, watermark);
    const cooldownMs = rule.common.cooldownMs;
    if (r.fired !== undefined && cooldownMs !== undefined && r.fired + cooldownMs + 1 <= watermark) {
      delete r.fired;
      n++;
    }
  }
  if (s.sent && config.cap) n += dropExpired(s.sent, pairTime, config.cap.perMs, watermark);
  return n;
}

/**
 * When every fact of `s` that expires has expired (−∞: none does). Pending instances and
 * consent do not expire.
 */
export function expiryOf(config: TriggerConfig, s: KeyState): number {
  let due = -Infinity;
  const later = (t: number) => {
    if (t > due) due = t;
  };
  for (const rule of config.rules) {
    const r = ruleOf(s, rule.name);
    if (!r) continue;
    const lastCancel = r.cancels?.at(-1);
    if (lastCancel) later(lastCancel[0] + 1);
    const lastThen = r.thens?.at(-1);
    if (lastThen) later(lastThen.timestamp + 1);
    if (rule.kind === 'sequence') {
      const lastFirst = r.firsts?.at(-1);
      if (lastFirst) later(lastFirst.timestamp + rule.withinMs + 1);
    }
    if (rule.kind === 'threshold') {
      for (const [, list] of r.matches ?? []) {
        const last = list.at(-1);
        if (last) later(last.timestamp + rule.withinMs + 1);
      }
    }
    if (r.fired !== undefined && rule.common.cooldownMs !== undefined) later(r.fired + rule.common.cooldownMs + 1);
  }
  const lastSent = config.cap ? s.sent?.at(-1) : undefined;
  if (lastSent && config.cap) later(lastSent[0] + config.cap.perMs + 1);
  return due;
}

/** Drops the empty lists and rules of `s` before it is written. Returns whether nothing is left. */
export function compact(s: KeyState): boolean {
  let empty = s.consent === undefined;
  if (s.sent?.length === 0) delete s.sent;
  else if (s.sent) empty = false;
  for (const name of Object.keys(s.rules)) {
    const r = s.rules[name] as RuleState;
    if (r.pending?.length === 0) delete r.pending;
    if (r.cancels?.length === 0) delete r.cancels;
    if (r.thens?.length === 0) delete r.thens;
    if (r.firsts?.length === 0) delete r.firsts;
    if (r.matches) {
      const groups = r.matches.filter(([, list]) => list.length > 0);
      if (groups.length === 0) delete r.matches;
      else if (groups.length !== r.matches.length) r.matches = groups;
    }
    if (r.pending || r.cancels || r.thens || r.firsts || r.matches || r.fired !== undefined) empty = false;
    else delete s.rules[name];
  }
  return empty;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A `per` value as a store key part. Key parts may not contain U+0000..U+0004 or lone
 * surrogates and keys have a size limit (see lib/state/store.ts): such values, and long ones,
 * are hashed instead of crashing the step.
 */
export function part(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  let unsafe = s.length > 256 || LONE_SURROGATE.test(s);
  for (let i = 0; i < s.length && !unsafe; i++) unsafe = s.charCodeAt(i) <= 4;
  return unsafe ? deriveId('value', s) : s;
}

/**
 * What a rule keeps of an event in its state: what a record reads of a cause — `messageId`,
 * `timestamp`, `personId` and the payload paths — the whole event only when a channel condition
 * may read any field. Keeps state (and GC, and the encoded value) small: a threshold over views
 * otherwise stores every view of the window.
 */
export function slim(rule: TriggerRule, event: TributaryEvent): TributaryEvent {
  // A copy: a later step may still annotate the passing event in place.
  if (rule.common.channels?.some((c) => c.when !== undefined)) return { ...event };
  const out = { messageId: event.messageId, timestamp: event.timestamp } as TributaryEvent;
  if (typeof event.personId === 'string') out.personId = event.personId;
  // Longest paths first: a shorter path set later replaces the objects a longer one created,
  // so the stored value never shares (and setPath never writes into) the event's objects.
  for (const path of rule.common.payloadPaths) {
    const v = getPath(event, path);
    if (v !== undefined) setPath(out as unknown as Record<string, unknown>, path, v);
  }
  return out;
}
