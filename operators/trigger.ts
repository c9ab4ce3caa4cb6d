/**
 * `trigger` (SPEC §4.5): behavioral rules per key in event time; a rule that fires writes one
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
 * State, only through the store interface: `pending` absence instances `[rule, key, a, messageId]`
 * with one timer each in `timers`; `thens` B's seen `[rule, key, b, messageId]` (expire when the
 * watermark passes b); `firsts` sequence A's (expire at a + T); `matches` threshold events
 * `[rule, key, per, t, messageId]` (expire at t + T); `fired` last record time per `[rule, key]`;
 * `sent` `[key, firedAt, triggerId]` for the cap; `consent` per key; `segments` membership per
 * `[rule, key]` (kept while the key exists: one small entry per key and segment rule).
 */
import type { OperatorFunction } from 'rxjs';
import { compileCondition, conditionProblems, conditionSchema, type Condition, type Matcher } from '../lib/condition/condition.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { getPath, pathProblem, setPath } from '../lib/event/paths.js';
import { defineOperator, type DerivedRecord, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { deriveId } from '../lib/operator/ids.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';
import type { KeyPart, KeyValueStore } from '../lib/state/store.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../lib/time/duration.js';
import type { TimerService } from '../lib/time/timers.js';

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

/** A record of the triggers output (SPEC §4.7). */
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

type RuleKey = readonly [string, string, number, string];
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
  private readonly pending: KeyValueStore<RuleKey, TributaryEvent>;
  private readonly thens: KeyValueStore<RuleKey, TributaryEvent>;
  private readonly firsts: KeyValueStore<RuleKey, TributaryEvent>;
  private readonly matches: KeyValueStore<readonly KeyPart[], TributaryEvent>;
  private readonly fired: KeyValueStore<readonly [string, string], number>;
  private readonly sent: KeyValueStore<readonly [string, number, string], number>;
  private readonly consents: KeyValueStore<string, { t: number; flags: unknown }>;
  private readonly segments: KeyValueStore<readonly [string, string], { in: boolean; t: number }>;
  private readonly timers: TimerService<PendingData>;
  private readonly rulesByName: Map<string, TriggerRule>;

  constructor(private readonly config: TriggerConfig, private readonly ctx: OperatorContext) {
    this.pending = ctx.store('pending');
    this.thens = ctx.store('thens');
    this.firsts = ctx.store('firsts');
    this.matches = ctx.store('matches');
    this.fired = ctx.store('fired');
    this.sent = ctx.store('sent');
    this.consents = ctx.store('consent');
    this.segments = ctx.store('segments');
    this.timers = ctx.timers<PendingData>();
    this.rulesByName = new Map(config.rules.map((r) => [r.name, r]));
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    if (this.config.consent) this.noteConsent(event, key);
    for (const rule of this.config.rules) {
      if (rule.kind === 'threshold') this.threshold(rule, event, key);
      else if (rule.kind === 'segment') this.segment(rule, event, key);
      else if (rule.kind === 'absence') this.absence(rule, event, key);
      else this.sequence(rule, event, key);
    }
    return event;
  }

  private noteConsent(event: TributaryEvent, key: string): void {
    const flags = getPath(event, (this.config.consent as { field: string }).field);
    if (flags === null || typeof flags !== 'object') return;
    const known = this.consents.get(key);
    if (known && known.t > event.timestamp) return;
    this.consents.put(key, { t: event.timestamp, flags });
  }

  private absence(rule: PairRule, event: TributaryEvent, key: string): void {
    const t = event.timestamp;
    const T = rule.withinMs;
    if (rule.then(event)) {
      // Cancels every pending A with a ≤ t ≤ a + T.
      for (const { key: k } of [...this.pending.range({ start: [rule.name, key, t - T], end: [rule.name, key, t, '\uffff'] })]) {
        if (k[3] === event.messageId) continue;
        this.pending.delete(k);
        this.timers.cancel(timerId(rule.name, key, k[3]));
      }
      // +1: kept while the watermark equals t (an A at t is not late and is cancelled by it).
      this.thens.put([rule.name, key, t, event.messageId], slim(rule, event), { expiresAt: t + 1 });
    }
    if (rule.first(event)) {
      for (const { key: k } of this.thens.range({ start: [rule.name, key, t], end: [rule.name, key, t + T, '\uffff'] })) {
        if (k[3] !== event.messageId) return; // already followed by B
      }
      const id = timerId(rule.name, key, event.messageId);
      const previous = this.timers.pending(id);
      if (previous !== undefined) this.pending.delete([rule.name, key, previous - T - 1, event.messageId]);
      this.pending.put([rule.name, key, t, event.messageId], slim(rule, event));
      this.timers.register({ id, time: t + T + 1, data: [rule.name, key, t, event.messageId] });
    }
  }

  private sequence(rule: PairRule, event: TributaryEvent, key: string): void {
    const t = event.timestamp;
    const T = rule.withinMs;
    if (rule.then(event)) {
      let a: TributaryEvent | undefined;
      // Reverse scan: from the latest A at or before t down to t − T (a tuple prefix sorts first, so
      // the exclusive lower bound [.., t − T] still includes every A at t − T).
      for (const { key: k, value } of this.firsts.range({ start: [rule.name, key, t, '\uffff'], end: [rule.name, key, t - T], reverse: true })) {
        if (k[3] !== event.messageId) {
          a = value;
          break;
        }
      }
      if (a) this.candidate(rule, key, t, [a, event], [event.messageId]);
      else this.thens.put([rule.name, key, t, event.messageId], slim(rule, event), { expiresAt: t + 1 });
    }
    if (rule.first(event)) {
      this.firsts.put([rule.name, key, t, event.messageId], slim(rule, event), { expiresAt: t + T + 1 });
      for (const { key: k, value } of [...this.thens.range({ start: [rule.name, key, t], end: [rule.name, key, t + T, '\uffff'] })]) {
        if (k[3] === event.messageId) continue;
        this.thens.delete(k);
        this.candidate(rule, key, k[2], [event, value], [value.messageId]);
      }
    }
  }

  private threshold(rule: ThresholdRule, event: TributaryEvent, key: string): void {
    if (!rule.match(event)) return;
    let per = '';
    if (rule.per !== undefined) {
      const v = getPath(event, rule.per);
      if (v === undefined || v === null || v === '') return;
      per = part(v);
    }
    const t = event.timestamp;
    const T = rule.withinMs;
    this.matches.put([rule.name, key, per, t, event.messageId], slim(rule, event), { expiresAt: t + T + 1 });
    const near = [...this.matches.range({ start: [rule.name, key, per, t - T], end: [rule.name, key, per, t + T, '\uffff'] })];
    const self = near.findIndex((e) => e.key[4] === event.messageId && e.key[3] === t);
    const n = rule.count;
    for (let i = Math.max(0, self - n + 1); i <= self && i + n - 1 < near.length; i++) {
      const window = near.slice(i, i + n);
      const first = window[0]?.value.timestamp as number;
      const last = window[n - 1]?.value.timestamp as number;
      if (last - first > T) continue;
      for (const e of window) this.matches.delete(e.key);
      const causes = window.map((e) => e.value);
      this.candidate(rule, key, last, causes, [per, ...causes.map((e) => e.messageId)]);
      return;
    }
  }

  private segment(rule: SegmentRule, event: TributaryEvent, key: string): void {
    if (rule.where && !rule.where(event)) return;
    const t = event.timestamp;
    const known = this.segments.get([rule.name, key]);
    if (known && known.t > t) return;
    const inside = rule.condition(event);
    const was = known?.in ?? false;
    if (!known || known.in !== inside || known.t !== t) this.segments.put([rule.name, key], { in: inside, t });
    if (inside === was) return;
    const transition = inside ? 'entry' : 'exit';
    if (inside ? rule.entry : rule.exit) this.candidate(rule, key, t, [event], [event.messageId, transition], transition);
  }

  /** Fires the absence instances whose `a + T` the watermark has passed, then expires state. */
  advance(watermark: number): void {
    this.timers.fireDue(watermark, (timer) => {
      const [ruleName, key, a, messageId] = timer.data;
      const event = this.pending.get([ruleName, key, a, messageId]);
      const rule = this.rulesByName.get(ruleName);
      if (!event || !rule || rule.kind !== 'absence') return;
      this.pending.delete([ruleName, key, a, messageId]);
      this.candidate(rule, key, a + rule.withinMs, [event], [messageId]);
    });
    this.thens.expire(watermark);
    this.firsts.expire(watermark);
    this.matches.expire(watermark);
    this.fired.expire(watermark);
    this.sent.expire(watermark);
  }

  /** Turns a fired rule into a record, or counts why not. */
  private candidate(rule: TriggerRule, key: string, firedAt: number, causes: TributaryEvent[], idParts: string[], transition?: 'entry' | 'exit'): void {
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
    const reason = this.gate(rule, key, subject, record);
    if (reason) {
      this.ctx.count(`suppressed-${reason}`);
      if (this.config.suppressedOutput) this.ctx.emit(this.config.suppressedOutput, { ...record, reason });
      return;
    }
    const { cooldownMs } = rule.common;
    if (cooldownMs !== undefined) this.fired.put([rule.name, key], firedAt, { expiresAt: firedAt + cooldownMs + 1 });
    const cap = this.config.cap;
    if (cap) this.sent.put([key, firedAt, record.triggerId], 1, { expiresAt: firedAt + cap.perMs + 1 });
    this.ctx.emit(this.config.output, record);
  }

  /** Selects the channel (sets `record.channel`) and applies consent, cooldown and cap. */
  private gate(rule: TriggerRule, key: string, subject: TributaryEvent, record: TriggerRecord): SuppressionReason | undefined {
    const consent = this.config.consent;
    const flags = consent ? (this.consents.get(key)?.flags as Record<string, unknown> | undefined) : undefined;
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
      const last = this.fired.get([rule.name, key]);
      if (last !== undefined && Math.abs(record.firedAt - last) < cooldownMs) return 'cooldown';
    }
    const cap = this.config.cap;
    if (cap) {
      let n = 0;
      for (const _ of this.sent.range({ start: [key, record.firedAt - cap.perMs + 1], end: [key, record.firedAt, '\uffff'] })) n++;
      if (n >= cap.max) return 'frequency-cap';
    }
    return undefined;
  }
}

/**
 * What a rule keeps of an event in its state: the identity fields, `personId` and the payload
 * paths — the whole event only when a channel condition may read any field. Keeps state (and
 * GC) small: a threshold over views otherwise stores every view of the window.
 */
function slim(rule: TriggerRule, event: TributaryEvent): TributaryEvent {
  if (rule.common.channels?.some((c) => c.when !== undefined)) return event;
  const out: TributaryEvent = { messageId: event.messageId, type: event.type, timestamp: event.timestamp, userId: event.userId, anonymousId: event.anonymousId };
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
  outputs: (c) => [{ stream: c.output, kind: 'triggers' }, ...(c.suppressedOutput ? [{ stream: c.suppressedOutput, kind: 'suppressed-triggers' }] : [])],
  stores: () => ['pending', 'thens', 'firsts', 'matches', 'fired', 'sent', 'consent', 'segments', 'timers'],
  create: (c, ctx) => new TriggerLogic(c, ctx),
  // Stored events and values are replaced or deleted, never modified in place.
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
