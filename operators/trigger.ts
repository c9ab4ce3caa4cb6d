/**
 * `trigger`: behavioral rules per key in event time; a rule that fires writes one
 * action record to the output stream. Events pass through unchanged.
 *
 * ```yaml
 * - trigger:
 *     key: personId
 *     rules:
 *       - name: cart-abandoned
 *         absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
 *         cooldown: 24h
 *         channels: [ { channel: push, when: { 'context.app': { $exists: true } } }, { channel: email } ]
 *         payload: { productId: properties.productId }
 *       - name: viewed-three-times
 *         threshold: { match: { event: product_viewed }, count: 3, within: 24h, per: properties.productId }
 *     frequencyCap: { max: 3, per: 1d }
 *     consent: { field: context.consent }        # per channel: context.consent.<channel> must be true
 *     output: campaign-triggers
 * ```
 *
 * Semantics, precisely (times are event times in ms; "within T" is inclusive, as in sessionize):
 *
 * - **absence** `{ first: A, then: B, within: T }`: every event matching A at `a` is a pending
 *   instance, unless an event matching B at `b` with `a ≤ b ≤ a + T` exists (seen before or after
 *   it, in any arrival order, as long as it is not late). B exactly at `a + T` still cancels.
 *   A pending instance fires when the watermark passes `a + T` (watermark > a + T), with
 *   `firedAt = a + T` and `causes = [A.messageId]`. Each A is its own instance (two carts, two
 *   candidates; `cooldown` keeps one). The same messageId twice is one instance. A durable timer per
 *   instance (at `a + T + 1`) does it, so it survives restarts and fires exactly once; end of
 *   input fires every pending one. An event matching both A and B cancels earlier instances,
 *   then starts one of its own.
 * - **sequence** `{ first: A, then: B, within: T }`: fires on B at `b` when an A at `a` with
 *   `b − T ≤ a ≤ b` (another event) is known; `firedAt = b`, `causes = [A, B]` (the latest such
 *   A known). A B that arrives before its A (out of order, not late) is kept until the watermark
 *   passes `b` and fires when the A arrives. Each B fires at most once; A's are not consumed.
 * - **threshold** `{ match: A, count: n, within: T, per?: path }`: fires when n events matching A
 *   (with the same value at `per`, when given; events without one are not counted) lie within a
 *   span of T (`last − first ≤ T`). Those n events are consumed: the next fire needs n new ones.
 *   `firedAt` = time of the latest of them, `causes` = their messageIds in time order. The same
 *   messageId at the same time counts once.
 * - **segment** `{ condition: C, on: entry | exit | both, where?: W }`: membership of the key in
 *   the segment is C evaluated on its events (typically on values a `windowAggregate` step
 *   annotated onto them, e.g. `{ 'features.revenue': { $gte: 1000 } }`); events not matching W
 *   (when given) are not evaluated. A key starts outside. When an event moves it in (entry) or
 *   out (exit) the rule fires on that event (`firedAt` = its time, `causes` = [it], the record
 *   has `transition: entry | exit`), if `on` asks for that transition. Membership follows event
 *   time: an event older than the one that last set it does not change it.
 * - **Candidates → action records.** A rule that fires makes a candidate; it becomes a record
 *   after, in this order: channel selection (the first of `channels` whose `when` matches the
 *   subject event — the last cause — and whose consent is given; no `channels`: `channel: null`),
 *   consent (see below), `cooldown` (per rule and key: suppressed when a record of this rule and
 *   key has `firedAt` less than `cooldown` before or after it — symmetric, because an
 *   out-of-order B can fire a sequence earlier than the last record), `frequencyCap` (per key across
 *   rules: suppressed when `max` records of this key have `firedAt` in `(firedAt − per, firedAt]`).
 *   A suppressed candidate is counted with `ctx.count('suppressed-<reason>')`
 *   (`tributary_step_outcomes_total{outcome}`) — reasons
 *   `no-channel`, `no-consent`, `cooldown`, `frequency-cap` — and, when `suppressedOutput` is
 *   set, written there with `reason`. Suppressed candidates do not start a cooldown or count
 *   against the cap. Never silent.
 * - **Consent.** The latest known consent object of the key (the `consent.field` of the latest
 *   event by event time that carries one, default `context.consent`). With `consent.flag`, every
 *   record needs `flag: true`; otherwise the chosen channel's flag must be `true`. Unknown consent
 *   suppresses. It is read when the candidate is made (for absence: when the watermark passes).
 * - **Record** (`TriggerRecord`): `triggerId = deriveId('trigger', rule, key, …)` of the causes
 *   that define the instance (absence: A; sequence: B; threshold: per value and the n causes;
 *   segment: the event and the transition), so replays and restarts give the same ids.
 * - **Counting.** Every event passes this step; suppressions are outcomes, not drops, so the run
 *   summary shows them as `counted suppressed-<reason> N`; fired records are the step's
 *   `records_out{stream}`.
 *
 * State, only through the store interface, one value per operator key in store `keys`
 * ({@link KeyState}, operators/trigger/state.ts): per rule its absence instances (`pending`), the
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
 * with nothing left is deleted (consent, like segment membership, is kept). Timers are in
 * memory ({@link MemoryTimers}): one per pending instance (id and time as before, so equal
 * times fire in the same order) and one cleanup per key at its latest expiry; both are rebuilt
 * from `keys` with one scan when the logic is created (after a Kafka task restored its stores
 * or an embedded run reopened them). `advance` costs two heap peeks when nothing is due.
 */
import type { OperatorFunction } from 'rxjs';
import { compileCondition, conditionProblems, conditionSchema, type Condition, type Matcher } from '../lib/condition/condition.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { getPath, pathProblem, setPath } from '../lib/event/paths.js';
import { defineOperator, type DerivedRecord, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { deriveId } from '../lib/operator/ids.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';
import type { KeyValueStore } from '../lib/state/store.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../lib/time/duration.js';
import { MemoryTimers } from '../lib/time/timers.js';
import {
  atOrBeforeEnd,
  beforeEnd,
  dropExpired,
  eventTime,
  firstAtOrAfter,
  pairTime,
  ruleOf,
  upsertEvent,
  upsertPair,
  type KeyState,
  type RuleState,
} from './trigger/state.js';

/** `first` then `then` within a duration (absence and sequence rules). */
export interface PairRuleOptions {
  first: Condition;
  then: Condition;
  within: Duration;
}

/** n matching events within a rolling duration. */
export interface ThresholdRuleOptions {
  match: Condition;
  count: number;
  within: Duration;
  /** Count per value of this field path (e.g. `properties.productId`). */
  per?: string;
}

/** One channel of an ordered channel list. */
export interface ChannelOption {
  channel: string;
  /** Condition on the subject event (the last cause); default always. */
  when?: Condition;
}

/** Entry into / exit from a condition (segment rules). */
export interface SegmentRuleOptions {
  /** Membership condition, on the event (e.g. on values windowAggregate annotated onto it). */
  condition: Condition;
  /** Which transitions fire. Default `entry`. */
  on?: 'entry' | 'exit' | 'both';
  /** Only events matching this are evaluated (e.g. `{ features: { $exists: true } }`). */
  where?: Condition;
}

/** One rule; exactly one of `absence`, `sequence`, `threshold`, `segment`. */
export interface TriggerRuleOptions {
  /** Rule name, unique in the step; the record's `rule`. */
  name: string;
  absence?: PairRuleOptions;
  sequence?: PairRuleOptions;
  threshold?: ThresholdRuleOptions;
  segment?: SegmentRuleOptions;
  /** No second record of this rule and key within this duration. Default none. */
  cooldown?: Duration;
  /** Ordered channel selection: the first whose `when` matches and whose consent is given. */
  channels?: ChannelOption[];
  /** Record payload: output field → field path of the subject event (missing → null). */
  payload?: Record<string, string>;
}

/** Options of `trigger` as written in a pipeline (a type alias: the builder treats options as plain records). */
export type TriggerOptions = {
  /** Key: a field path or a list of paths (first non-null). Default `[personId, userId, anonymousId]`. */
  key?: string | string[];
  rules: TriggerRuleOptions[];
  /** At most `max` records per key with `firedAt` within a rolling `per`, across rules. */
  frequencyCap?: { max: number; per: Duration };
  /** Consent gating; default none. */
  consent?: { field?: string; flag?: string };
  /** Stream of action records. Default `triggers`. */
  output?: string;
  /** Stream receiving suppressed candidates with `reason`. Default none (counted only). */
  suppressedOutput?: string;
  /** Step name, when a pipeline has two trigger steps. */
  name?: string;
};

/** A resolved absence or sequence rule. */
export interface PairRule {
  kind: 'absence' | 'sequence';
  name: string;
  first: Matcher;
  then: Matcher;
  withinMs: number;
  common: RuleCommon;
}

/** A resolved threshold rule. */
export interface ThresholdRule {
  kind: 'threshold';
  name: string;
  match: Matcher;
  count: number;
  withinMs: number;
  per: string | undefined;
  common: RuleCommon;
}

/** A resolved segment rule. */
export interface SegmentRule {
  kind: 'segment';
  name: string;
  condition: Matcher;
  where: Matcher | undefined;
  entry: boolean;
  exit: boolean;
  common: RuleCommon;
}

/** A resolved rule. */
export type TriggerRule = PairRule | ThresholdRule | SegmentRule;

/** Settings every rule kind shares, resolved. */
export interface RuleCommon {
  cooldownMs: number | undefined;
  channels: Array<{ channel: string; when: Matcher | undefined }> | undefined;
  payload: Array<[string, string]>;
  /** The payload's field paths, longest first. */
  payloadPaths: string[];
}

/** Resolved options. */
export interface TriggerConfig {
  key: string[];
  rules: TriggerRule[];
  cap: { max: number; perMs: number } | undefined;
  consent: { field: string; flag: string | undefined } | undefined;
  output: string;
  suppressedOutput: string | undefined;
}

/** A record of the triggers output. */
export interface TriggerRecord extends DerivedRecord {
  triggerId: string;
  rule: string;
  key: string;
  /** `personId` of the subject event, when it has one. */
  personId?: string;
  /** Event time at which the rule fired. */
  firedAt: number;
  /** messageIds of the causing events, in event-time order. */
  causes: string[];
  /** The selected channel, null when the rule lists none. */
  channel: string | null;
  payload: Record<string, unknown>;
  /** Segment rules only: which transition fired. */
  transition?: 'entry' | 'exit';
}

/** Why a candidate did not become a record. */
export type SuppressionReason = 'no-channel' | 'no-consent' | 'cooldown' | 'frequency-cap';

/** A suppressed candidate as written to `suppressedOutput`. */
export interface SuppressedRecord extends TriggerRecord {
  reason: SuppressionReason;
}

/** An absence instance's timer: `[rule, key, a, messageId]`. */
type PendingData = readonly [string, string, number, string];

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A `per` value as a store key part. Key parts may not contain U+0000..U+0004 or lone
 * surrogates and keys have a size limit (see lib/state/store.ts): such values, and long ones,
 * are hashed instead of crashing the step.
 */
function part(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  let unsafe = s.length > 256 || LONE_SURROGATE.test(s);
  for (let i = 0; i < s.length && !unsafe; i++) unsafe = s.charCodeAt(i) <= 4;
  return unsafe ? deriveId('value', s) : s;
}

/**
 * The per-key logic of trigger, usable with plain calls (see the module notes for the exact
 * semantics).
 *
 * @example
 * ```ts
 * const ctx = recordingContext('trigger');
 * const logic = new TriggerLogic(triggerOperator.resolve({ rules: [{ name: 'cart', absence: { first: { event: 'add_to_cart' }, then: { event: 'purchase' }, within: '30m' } }] }), ctx);
 * logic.process(addToCart, 'p1');
 * logic.advance(Infinity); // ctx.emitted: one record on `triggers`, firedAt = addToCart.timestamp + 30m
 * ```
 */
export class TriggerLogic implements OperatorLogic {
  /** Everything of a key but segment membership, one value per key ({@link KeyState}). */
  private readonly keys: KeyValueStore<string, KeyState>;
  private readonly segments: KeyValueStore<readonly [string, string], { in: boolean; t: number }>;
  /** One per pending absence instance, at `a + T + 1` (rebuilt from `keys` on start). */
  private readonly timers = new MemoryTimers<PendingData>();
  /** One per key with facts that expire, at the latest expiry among them (rebuilt from `keys`). */
  private readonly cleanups = new MemoryTimers<null>();
  private readonly rulesByName: Map<string, TriggerRule>;
  /**
   * The watermark of the last `advance`: facts whose expiry is at or before it are gone (the
   * stores this replaces expired entries at the end of `advance`, after firing timers).
   */
  private expiredTo = -Infinity;
  // The key being worked on in this process()/timer call: its stored value, a private copy
  // (made on first need) and whether the copy differs from the stored value.
  private key = '';
  private stored: KeyState | undefined;
  private draft: KeyState | undefined;
  private dirty = false;

  constructor(private readonly config: TriggerConfig, private readonly ctx: OperatorContext) {
    this.keys = ctx.store('keys');
    this.segments = ctx.store('segments');
    this.rulesByName = new Map(config.rules.map((r) => [r.name, r]));
    // The stores were restored (Kafka) or reopened (embedded): re-arm every timer from them.
    for (const { key, value } of this.keys.range()) {
      for (const rule of config.rules) {
        if (rule.kind !== 'absence') continue;
        for (const e of ruleOf(value, rule.name)?.pending ?? []) {
          this.timers.register({ id: timerId(rule.name, key, e.messageId), time: e.timestamp + rule.withinMs + 1, data: [rule.name, key, e.timestamp, e.messageId] });
        }
      }
      const due = this.expiry(value);
      if (due !== -Infinity) this.cleanups.register({ id: key, time: due, data: null });
    }
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    this.open(key);
    if (this.config.consent) this.noteConsent(event);
    for (const rule of this.config.rules) {
      if (rule.kind === 'threshold') this.threshold(rule, event);
      else if (rule.kind === 'segment') this.segment(rule, event);
      else if (rule.kind === 'absence') this.absence(rule, event);
      else this.sequence(rule, event);
    }
    this.commit();
    return event;
  }

  /** Starts work on `key`; its value is read on first need ({@link state}). */
  private open(key: string): void {
    this.key = key;
    this.stored = undefined;
    this.draft = undefined;
    this.dirty = false;
  }

  /**
   * The working copy of the current key's state: fresh containers (the stored value may be
   * shared with the store, so it is never modified), facts expired by {@link expiredTo} removed.
   */
  private state(): KeyState {
    if (this.draft) return this.draft;
    const stored = (this.stored = this.keys.get(this.key));
    const s: KeyState = { rules: {} };
    if (stored) {
      for (const rule of this.config.rules) {
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
      if (stored.sent && this.config.cap) s.sent = stored.sent.slice();
      if (stored.consent) s.consent = stored.consent;
    }
    this.draft = s;
    if (this.expiredTo !== -Infinity) this.prune(s, this.expiredTo);
    return s;
  }

  /** The current key's state of `rule`, created empty when it has none. */
  private ruleState(rule: TriggerRule): RuleState {
    const s = this.state();
    return ruleOf(s, rule.name) ?? (s.rules[rule.name] = {});
  }

  /** Removes the facts whose expiry is at or before `watermark`. */
  private prune(s: KeyState, watermark: number): void {
    let n = 0;
    for (const rule of this.config.rules) {
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
    if (s.sent && this.config.cap) n += dropExpired(s.sent, pairTime, this.config.cap.perMs, watermark);
    if (n > 0) this.dirty = true;
  }

  /**
   * When every fact of `s` that expires has expired (−∞: none does). Pending instances and
   * consent do not expire.
   */
  private expiry(s: KeyState): number {
    let due = -Infinity;
    const later = (t: number) => {
      if (t > due) due = t;
    };
    for (const rule of this.config.rules) {
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
    const lastSent = this.config.cap ? s.sent?.at(-1) : undefined;
    if (lastSent && this.config.cap) later(lastSent[0] + this.config.cap.perMs + 1);
    return due;
  }

  /**
   * Writes the current key's state back when it changed (deletes it when nothing is left), and
   * makes sure a cleanup timer will expire what it keeps.
   */
  private commit(): void {
    const s = this.draft;
    if (!s) return;
    const key = this.key;
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
    this.draft = undefined;
    if (empty) {
      if (this.stored !== undefined) this.keys.delete(key);
      this.cleanups.cancel(key);
      return;
    }
    if (this.dirty) this.keys.put(key, s);
    if (this.cleanups.pending(key) === undefined) {
      const due = this.expiry(s);
      if (due !== -Infinity) this.cleanups.register({ id: key, time: due, data: null });
    }
  }

  private noteConsent(event: TributaryEvent): void {
    const flags = getPath(event, (this.config.consent as { field: string }).field);
    if (flags === null || typeof flags !== 'object') return;
    const s = this.state();
    if (s.consent && s.consent.t > event.timestamp) return;
    s.consent = { t: event.timestamp, flags };
    this.dirty = true;
  }

  private absence(rule: PairRule, event: TributaryEvent): void {
    const t = event.timestamp;
    const T = rule.withinMs;
    if (rule.then(event)) {
      const r = this.ruleState(rule);
      if (r.pending) {
        // Cancels every pending A with a ≤ t ≤ a + T.
        const kept: TributaryEvent[] = [];
        for (const a of r.pending) {
          if (a.messageId !== event.messageId && a.timestamp >= t - T && beforeEnd(a.timestamp, a.messageId, t)) this.timers.cancel(timerId(rule.name, this.key, a.messageId));
          else kept.push(a);
        }
        r.pending = kept;
      }
      // Kept while the watermark equals t (an A at t is not late and is cancelled by it).
      upsertPair((r.cancels ??= []), t, event.messageId);
      this.dirty = true;
    }
    if (rule.first(event)) {
      const r = this.ruleState(rule);
      for (const [b, id] of r.cancels ?? []) {
        if (b >= t && beforeEnd(b, id, t + T) && id !== event.messageId) return; // already followed by B
      }
      // The same A again replaces its instance (one timer per messageId).
      const pending = (r.pending ?? []).filter((a) => a.messageId !== event.messageId);
      upsertEvent(pending, slim(rule, event));
      r.pending = pending;
      this.timers.register({ id: timerId(rule.name, this.key, event.messageId), time: t + T + 1, data: [rule.name, this.key, t, event.messageId] });
      this.dirty = true;
    }
  }

  private sequence(rule: PairRule, event: TributaryEvent): void {
    const t = event.timestamp;
    const T = rule.withinMs;
    if (rule.then(event)) {
      const r = this.ruleState(rule);
      let a: TributaryEvent | undefined;
      // The latest A (by time, then messageId) with t − T ≤ a ≤ t, other than this event.
      const firsts = r.firsts ?? [];
      for (let i = firsts.length - 1; i >= 0; i--) {
        const f = firsts[i] as TributaryEvent;
        if (!atOrBeforeEnd(f.timestamp, f.messageId, t)) continue;
        if (f.timestamp < t - T) break;
        if (f.messageId !== event.messageId) {
          a = f;
          break;
        }
      }
      if (a) this.candidate(rule, t, [a, event], [event.messageId]);
      else {
        upsertEvent((r.thens ??= []), slim(rule, event));
        this.dirty = true;
      }
    }
    if (rule.first(event)) {
      const r = this.ruleState(rule);
      upsertEvent((r.firsts ??= []), slim(rule, event));
      this.dirty = true;
      if (r.thens) {
        const due: TributaryEvent[] = [];
        const kept: TributaryEvent[] = [];
        for (const b of r.thens) {
          if (b.messageId !== event.messageId && b.timestamp >= t && beforeEnd(b.timestamp, b.messageId, t + T)) due.push(b);
          else kept.push(b);
        }
        r.thens = kept;
        for (const b of due) this.candidate(rule, b.timestamp, [event, b], [b.messageId]);
      }
    }
  }

  private threshold(rule: ThresholdRule, event: TributaryEvent): void {
    if (!rule.match(event)) return;
    let per = '';
    if (rule.per !== undefined) {
      const v = getPath(event, rule.per);
      if (v === undefined || v === null || v === '') return;
      per = part(v);
    }
    const t = event.timestamp;
    const T = rule.withinMs;
    const r = this.ruleState(rule);
    const groups = (r.matches ??= []);
    let list = groups.find((g) => g[0] === per)?.[1];
    if (!list) groups.push([per, (list = [])]);
    const at = upsertEvent(list, slim(rule, event));
    this.dirty = true;
    // The events within T of this one: [lo, hi).
    const lo = firstAtOrAfter(list, t - T);
    let hi = at + 1;
    while (hi < list.length && beforeEnd((list[hi] as TributaryEvent).timestamp, (list[hi] as TributaryEvent).messageId, t + T)) hi++;
    const self = at - lo;
    const n = rule.count;
    for (let i = Math.max(0, self - n + 1); i <= self && i + n - 1 < hi - lo; i++) {
      const first = (list[lo + i] as TributaryEvent).timestamp;
      const last = (list[lo + i + n - 1] as TributaryEvent).timestamp;
      if (last - first > T) continue;
      const causes = list.splice(lo + i, n);
      this.candidate(rule, last, causes, [per, ...causes.map((e) => e.messageId)]);
      return;
    }
  }

  private segment(rule: SegmentRule, event: TributaryEvent): void {
    if (rule.where && !rule.where(event)) return;
    const key = this.key;
    const t = event.timestamp;
    const known = this.segments.get([rule.name, key]);
    if (known && known.t > t) return;
    const inside = rule.condition(event);
    const was = known?.in ?? false;
    if (!known || known.in !== inside || known.t !== t) this.segments.put([rule.name, key], { in: inside, t });
    if (inside === was) return;
    const transition = inside ? 'entry' : 'exit';
    if (inside ? rule.entry : rule.exit) this.candidate(rule, t, [event], [event.messageId, transition], transition);
  }

  /**
   * Fires the absence instances whose `a + T` the watermark has passed, then expires state: the
   * facts of the keys whose cleanup timer is due.
   */
  advance(watermark: number): void {
    if (this.timers.nextTime() <= watermark) this.timers.fireDue(watermark, (timer) => this.fire(timer.data));
    if (watermark > this.expiredTo) this.expiredTo = watermark;
    if (this.cleanups.nextTime() <= watermark) {
      this.cleanups.fireDue(watermark, (timer) => {
        this.open(timer.id);
        this.state(); // prunes
        this.commit(); // deletes the key when nothing is left, else sets the next cleanup
      });
    }
  }

  /** An absence instance is due: the watermark passed `a + T` with no B. */
  private fire([ruleName, key, a, messageId]: PendingData): void {
    const rule = this.rulesByName.get(ruleName);
    if (!rule || rule.kind !== 'absence') return;
    this.open(key);
    const r = ruleOf(this.state(), ruleName);
    const i = r?.pending?.findIndex((e) => e.timestamp === a && e.messageId === messageId) ?? -1;
    if (!r || i < 0) return;
    const [event] = (r.pending as TributaryEvent[]).splice(i, 1) as [TributaryEvent];
    this.dirty = true;
    this.candidate(rule, a + rule.withinMs, [event], [messageId]);
    this.commit();
  }

  /** Turns a fired rule into a record, or counts why not. */
  private candidate(rule: TriggerRule, firedAt: number, causes: TributaryEvent[], idParts: string[], transition?: 'entry' | 'exit'): void {
    const key = this.key;
    const subject = causes[causes.length - 1] as TributaryEvent;
    const payload: Record<string, unknown> = {};
    for (const [field, path] of rule.common.payload) payload[field] = getPath(subject, path) ?? null;
    const record: TriggerRecord = {
      triggerId: deriveId('trigger', rule.name, key, ...idParts),
      rule: rule.name,
      key,
      ...(typeof subject.personId === 'string' ? { personId: subject.personId } : {}),
      firedAt,
      causes: [...causes].sort((x, y) => x.timestamp - y.timestamp || (x.messageId < y.messageId ? -1 : 1)).map((e) => e.messageId),
      channel: null,
      payload,
      ...(transition ? { transition } : {}),
    };
    const s = this.state();
    const reason = this.gate(rule, s, subject, record);
    if (reason) {
      this.ctx.count(`suppressed-${reason}`);
      if (this.config.suppressedOutput) this.ctx.emit(this.config.suppressedOutput, { ...record, reason });
      return;
    }
    if (rule.common.cooldownMs !== undefined) {
      this.ruleState(rule).fired = firedAt;
      this.dirty = true;
    }
    if (this.config.cap) {
      upsertPair((s.sent ??= []), firedAt, record.triggerId);
      this.dirty = true;
    }
    this.ctx.emit(this.config.output, record);
  }

  /** Selects the channel (sets `record.channel`) and applies consent, cooldown and cap. */
  private gate(rule: TriggerRule, s: KeyState, subject: TributaryEvent, record: TriggerRecord): SuppressionReason | undefined {
    const consent = this.config.consent;
    const flags = consent ? (s.consent?.flags as Record<string, unknown> | undefined) : undefined;
    const allowed = (flag: string) => flags !== undefined && Object.hasOwn(flags, flag) && flags[flag] === true;
    const channels = rule.common.channels;
    if (channels) {
      let matched = false;
      let chosen: string | undefined;
      for (const c of channels) {
        if (c.when && !c.when(subject)) continue;
        matched = true;
        if (consent && consent.flag === undefined && !allowed(c.channel)) continue;
        chosen = c.channel;
        break;
      }
      if (chosen === undefined) return matched ? 'no-consent' : 'no-channel';
      record.channel = chosen;
    } else if (consent && consent.flag === undefined) return 'no-consent';
    if (consent?.flag !== undefined && !allowed(consent.flag)) return 'no-consent';
    const { cooldownMs } = rule.common;
    if (cooldownMs !== undefined) {
      const last = ruleOf(s, rule.name)?.fired;
      if (last !== undefined && Math.abs(record.firedAt - last) < cooldownMs) return 'cooldown';
    }
    const cap = this.config.cap;
    if (cap) {
      // Records of the key with firedAt in (firedAt − per, firedAt].
      let n = 0;
      for (const [at, id] of s.sent ?? []) {
        if (at >= record.firedAt - cap.perMs + 1 && beforeEnd(at, id, record.firedAt)) n++;
      }
      if (n >= cap.max) return 'frequency-cap';
    }
    return undefined;
  }
}

/**
 * What a rule keeps of an event in its state: what a record reads of a cause — `messageId`,
 * `timestamp`, `personId` and the payload paths — the whole event only when a channel condition
 * may read any field. Keeps state (and GC, and the encoded value) small: a threshold over views
 * otherwise stores every view of the window.
 */
function slim(rule: TriggerRule, event: TributaryEvent): TributaryEvent {
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

const timerId = (rule: string, key: string, messageId: string) => deriveId('pending', rule, key, messageId);

const NAME = '^[a-z][a-z0-9-]*$';

const durationAt = (where: string, value: Duration): number => {
  const ms = parseDuration(value);
  if (ms <= 0) throw new Error(`${where}: ${JSON.stringify(value)} must be longer than 0 (e.g. 30m)`);
  return ms;
};

const matcherAt = (where: string, condition: unknown): Matcher => {
  const problems = conditionProblems(condition);
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
  return compileCondition(condition as Condition);
};

const pathAt = (where: string, path: string): string => {
  const problem = pathProblem(path);
  if (problem) throw new Error(`${where}: ${JSON.stringify(path)} is not a field path (${problem})`);
  return path;
};

function resolveRule(r: TriggerRuleOptions, i: number): TriggerRule {
  const at = `rules[${i}]`;
  const kinds = (['absence', 'sequence', 'threshold', 'segment'] as const).filter((k) => r[k] !== undefined);
  if (kinds.length !== 1) throw new Error(`${at} (${r.name}): give exactly one of absence, sequence, threshold, segment (got ${kinds.length === 0 ? 'none' : kinds.join(', ')})`);
  const common: RuleCommon = {
    cooldownMs: r.cooldown === undefined ? undefined : durationAt(`${at}.cooldown`, r.cooldown),
    channels: r.channels?.map((c, j) => ({ channel: c.channel, when: c.when === undefined ? undefined : matcherAt(`${at}.channels[${j}].when`, c.when) })),
    payload: Object.entries(r.payload ?? {}).map(([field, path]) => [field, pathAt(`${at}.payload.${field}`, path)]),
    payloadPaths: [],
  };
  common.payloadPaths = [...new Set(common.payload.map(([, path]) => path))].sort((a, b) => b.length - a.length);
  if (r.threshold) {
    const o = r.threshold;
    if (!Number.isInteger(o.count) || o.count < 1) throw new Error(`${at}.threshold.count: ${String(o.count)} must be a whole number ≥ 1`);
    return {
      kind: 'threshold',
      name: r.name,
      match: matcherAt(`${at}.threshold.match`, o.match),
      count: o.count,
      withinMs: durationAt(`${at}.threshold.within`, o.within),
      per: o.per === undefined ? undefined : pathAt(`${at}.threshold.per`, o.per),
      common,
    };
  }
  if (r.segment) {
    const o = r.segment;
    const on = o.on ?? 'entry';
    if (!['entry', 'exit', 'both'].includes(on)) throw new Error(`${at}.segment.on: ${JSON.stringify(on)} must be entry, exit or both`);
    return {
      kind: 'segment',
      name: r.name,
      condition: matcherAt(`${at}.segment.condition`, o.condition),
      where: o.where === undefined ? undefined : matcherAt(`${at}.segment.where`, o.where),
      entry: on !== 'exit',
      exit: on !== 'entry',
      common,
    };
  }
  const kind = kinds[0] as 'absence' | 'sequence';
  const o = r[kind] as PairRuleOptions;
  return {
    kind,
    name: r.name,
    first: matcherAt(`${at}.${kind}.first`, o.first),
    then: matcherAt(`${at}.${kind}.then`, o.then),
    withinMs: durationAt(`${at}.${kind}.within`, o.within),
    common,
  };
}

const pairSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['first', 'then', 'within'],
  properties: {
    first: { ...conditionSchema, description: 'condition an event must match to start the rule (A)' },
    then: { ...conditionSchema, description: 'condition of the following event (B)' },
    within: { description: 'how long after A (inclusive)', type: 'string', pattern: DURATION_PATTERN },
  },
};

/** The `trigger` operator definition (registry entry). */
export const triggerOperator = defineOperator<TriggerOptions, TriggerConfig>({
  name: 'trigger',
  summary: 'behavioral rules per key (absence, sequence, threshold, segment) → action records, with cooldown, frequency cap, consent and channels',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['rules'],
    properties: {
      key: {
        description: 'key: a field path or list of paths, first non-null wins (default [personId, userId, anonymousId])',
        oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
      },
      rules: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            name: { description: 'rule name, unique in the step', type: 'string', pattern: NAME },
            absence: { ...pairSchema, description: 'A not followed by B within T: fires when the watermark passes A.time + T' },
            sequence: { ...pairSchema, description: 'A then B within T: fires on B' },
            threshold: {
              description: 'count matching events within a rolling T, optionally per field value',
              type: 'object',
              additionalProperties: false,
              required: ['match', 'count', 'within'],
              properties: {
                match: conditionSchema,
                count: { type: 'integer', minimum: 1 },
                within: { type: 'string', pattern: DURATION_PATTERN },
                per: { description: 'count per value of this field path', type: 'string', minLength: 1 },
              },
            },
            segment: {
              description: 'entry into / exit from a condition, e.g. over values a windowAggregate step annotated onto the events',
              type: 'object',
              additionalProperties: false,
              required: ['condition'],
              properties: {
                condition: conditionSchema,
                on: { description: 'which transitions fire (default entry)', enum: ['entry', 'exit', 'both'] },
                where: { ...conditionSchema, description: 'only events matching this are evaluated' },
              },
            },
            cooldown: { description: 'no second record of this rule and key within this duration', type: 'string', pattern: DURATION_PATTERN },
            channels: {
              description: 'ordered: the first whose `when` matches the subject event and whose consent is given',
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['channel'],
                properties: { channel: { type: 'string', minLength: 1 }, when: conditionSchema },
              },
            },
            payload: { description: 'record payload: field → field path of the subject event', type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
          },
        },
      },
      frequencyCap: {
        description: 'at most `max` records per key within a rolling `per`, across rules',
        type: 'object',
        additionalProperties: false,
        required: ['max', 'per'],
        properties: { max: { type: 'integer', minimum: 1 }, per: { type: 'string', pattern: DURATION_PATTERN } },
      },
      consent: {
        description: 'consent gating on the latest known consent flags of the key (default field context.consent; per channel unless flag is given)',
        type: 'object',
        additionalProperties: false,
        properties: { field: { type: 'string', minLength: 1 }, flag: { type: 'string', minLength: 1 } },
      },
      output: { description: 'stream receiving the action records (default triggers)', type: 'string', pattern: NAME },
      suppressedOutput: { description: 'stream receiving suppressed candidates with their reason', type: 'string', pattern: NAME },
      name: { description: 'step name (default trigger)', type: 'string', pattern: NAME },
    },
  },
  resolve(options) {
    const rules = options.rules.map(resolveRule);
    const names = new Set<string>();
    for (const r of rules) {
      if (names.has(r.name)) throw new Error(`rules: the name ${JSON.stringify(r.name)} is used twice (rule names must be unique)`);
      names.add(r.name);
    }
    const cap = options.frequencyCap;
    if (cap && (!Number.isInteger(cap.max) || cap.max < 1)) throw new Error(`frequencyCap.max: ${String(cap.max)} must be a whole number ≥ 1`);
    return {
      key: options.key === undefined ? ['personId', 'userId', 'anonymousId'] : Array.isArray(options.key) ? options.key : [options.key],
      rules,
      cap: cap ? { max: cap.max, perMs: durationAt('frequencyCap.per', cap.per) } : undefined,
      consent: options.consent ? { field: pathAt('consent.field', options.consent.field ?? 'context.consent'), flag: options.consent.flag } : undefined,
      output: options.output ?? 'triggers',
      suppressedOutput: options.suppressedOutput,
    };
  },
  keyPaths: (c) => c.key,
  outputs: (c) => [{ stream: c.output, kind: 'triggers', key: ['key'] }, ...(c.suppressedOutput ? [{ stream: c.suppressedOutput, kind: 'suppressed-triggers', key: ['key'] }] : [])],
  stores: () => ['keys', 'segments'],
  create: (c, ctx) => new TriggerLogic(c, ctx),
  // Stored values are replaced or deleted, never modified in place: a key's state is copied
  // (fresh containers; the kept events are shared and never modified) before it changes.
  immutableState: true,
});

/**
 * `trigger` as a pipeable RxJS operator: events pass through unchanged; action records go to
 * `outputs.triggers` (or the stream named by `output`); absence rules fire as the watermark
 * passes, and at the latest when the source completes.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { trigger } from 'tributary/operators';
 * from(events).pipe(trigger({
 *   key: 'anonymousId',
 *   rules: [{ name: 'cart-abandoned', absence: { first: { event: 'add_to_cart' }, then: { event: 'purchase' }, within: '30m' } }],
 *   outputs: { triggers: (r) => console.log(r.triggerId) },
 * })).subscribe();
 * ```
 */
export function trigger(options: TriggerOptions & RxWiringOptions): OperatorFunction<TributaryEvent, TributaryEvent> {
  return keyedOperator(triggerOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    trigger: TriggerOptions;
  }
}
