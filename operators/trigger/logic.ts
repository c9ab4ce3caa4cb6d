/**
 * The per-key logic of `trigger` ({@link TriggerLogic}): its rules in event time, its state and
 * its timers. Wired by operators/trigger.ts.
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
 *
 * How a candidate becomes a record (channels, consent, cooldown, frequency cap) is in
 * operators/trigger/records.ts; the per-key state in operators/trigger/state.ts.
 *
 * Timers are in memory ({@link MemoryTimers}): one per pending instance (id and time as before,
 * so equal times fire in the same order) and one cleanup per key at its latest expiry; both are
 * rebuilt from `keys` with one scan when the logic is created (after a Kafka task restored its
 * stores or an embedded run reopened them). `advance` costs two heap peeks when nothing is due.
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import { getPath } from '../../lib/event/paths.js';
import type { OperatorContext, OperatorLogic } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import type { KeyValueStore } from '../../lib/state/store.js';
import { MemoryTimers } from '../../lib/time/timers.js';
import type { PairRule, SegmentRule, ThresholdRule, TriggerConfig, TriggerRule } from './options.js';
import { candidateRecord, gate } from './records.js';
import {
  atOrBeforeEnd,
  beforeEnd,
  compact,
  copyState,
  expiryOf,
  firstAtOrAfter,
  part,
  pruneState,
  ruleOf,
  slim,
  upsertEvent,
  upsertPair,
  type KeyState,
  type RuleState,
} from './state.js';

/** An absence instance's timer: `[rule, key, a, messageId]`. */
type PendingData = readonly [string, string, number, string];

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
      const due = expiryOf(this.config, value);
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
    const s = copyState(this.config, stored);
    this.draft = s;
    if (this.expiredTo !== -Infinity && pruneState(this.config, s, this.expiredTo) > 0) this.dirty = true;
    return s;
  }

  /** The current key's state of `rule`, created empty when it has none. */
  private ruleState(rule: TriggerRule): RuleState {
    const s = this.state();
    return ruleOf(s, rule.name) ?? (s.rules[rule.name] = {});
  }

  /**
   * Writes the current key's state back when it changed (deletes it when nothing is left), and
   * makes sure a cleanup timer will expire what it keeps.
   */
  private commit(): void {
    const s = this.draft;
    if (!s) return;
    const key = this.key;
    const empty = compact(s);
    this.draft = undefined;
    if (empty) {
      if (this.stored !== undefined) this.keys.delete(key);
      this.cleanups.cancel(key);
      return;
    }
    if (this.dirty) this.keys.put(key, s);
    if (this.cleanups.pending(key) === undefined) {
      const due = expiryOf(this.config, s);
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
    const record = candidateRecord(rule, this.key, firedAt, causes, idParts, transition);
    const subject = causes[causes.length - 1] as TributaryEvent;
    const s = this.state();
    const reason = gate(this.config, rule, s, subject, record);
    if (reason) {
      this.ctx.count(`suppressed-${reason}`, rule.name);
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
    this.ctx.count('fired', rule.name);
    this.ctx.emit(this.config.output, record);
  }
}

const timerId = (rule: string, key: string, messageId: string) => deriveId('pending', rule, key, messageId);
