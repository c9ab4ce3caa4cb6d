/**
 * The per-key logic of `attribution` ({@link AttributionLogic}): multi-touch attribution in event
 * time, its state and its timers. Wired by operators/attribution.ts.
 *
 * Semantics, precisely (times are event times in ms, L = `lookback`):
 *
 * - **Conversions and touchpoints.** An event matching `conversion.where` is a conversion; one
 *   matching `touchpoints.where` and not `conversion.where` is a touchpoint. A conversion is never
 *   a touchpoint, neither of itself nor of a later conversion. Every event passes on unchanged.
 * - **Which touchpoints.** A conversion at `t` credits the key's touchpoints at `t − L ≤ a ≤ t`
 *   (both bounds inclusive: a touchpoint exactly L before, or at the same millisecond, counts;
 *   one 1 ms after does not), in journey order: by time, then by messageId. The order never
 *   depends on arrival, so "first" and "last" among touchpoints of equal time are the smaller and
 *   the larger messageId.
 * - **When.** The record is written once the watermark passes `t` (watermark > t), so every
 *   touchpoint that is not late has arrived: an out-of-order touchpoint within the allowed
 *   lateness gives the same record as in order; a late one goes to `late` and counts for
 *   nothing. Conversions due at the same watermark come out in (time, key, messageId) order. End
 *   of input (watermark +∞) writes every pending conversion.
 * - **Credits.** Per the models of operators/attribution/models.ts; each model's credits add up to
 *   the value (full floats, no rounding). A conversion without touchpoints gives a record with
 *   `touchpoints: []` and `unattributed: value` (0 otherwise).
 * - **Value.** `conversion.value` is a field path (a number, or a string holding one); without
 *   one every conversion is worth 1. A conversion whose value is missing or not a finite number
 *   is not recorded: it becomes a dead letter (`invalid-conversion-value`) and the event passes
 *   on, so the pipeline goes on.
 * - **Duplicates.** The same messageId is one touchpoint, and one conversion: a second copy while
 *   the first is kept is ignored (counted `duplicate-touchpoint`, `duplicate-conversion`). A copy
 *   of an attributed conversion with the same time is late.
 * - **Expiry.** A touchpoint at `a` is forgotten once the watermark passes `a + L`: no conversion
 *   that could credit it can still arrive. State is the key's touchpoints of the last L and its
 *   pending conversions, so it stays bounded.
 *
 * Timers are in memory ({@link MemoryTimers}): one per pending conversion at `t + 1`, one
 * cleanup per key at its oldest touchpoint's `a + L + 1`; both rebuilt from `journeys` when the
 * logic is created (a restart from LMDB, a Kafka task after its restore).
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import type { OperatorContext, OperatorLogic } from '../../lib/operator/contract.js';
import { safeJson } from '../../lib/runtime/records.js';
import { MemoryTimers } from '../../lib/time/timers.js';
import type { AttributionConfig } from './options.js';
import { channelRecords, conversionRecord, conversionValueOf, touchpointOf } from './records.js';
import { creditedTouchpoints, dropExpired, insertInOrder, nextExpiry, type JourneyState, type JourneyStore } from './state.js';

/** A conversion timer: the key and the conversion's messageId. */
type ConversionData = readonly [key: string, messageId: string];

const conversionTimerId = (key: string, messageId: string) => `${key}\u0000${messageId}`;

/**
 * The per-key logic of attribution, usable with plain calls (see the module notes).
 *
 * @example
 * ```ts
 * const ctx = recordingContext('attribution');
 * const logic = new AttributionLogic(attributionOperator.resolve({ touchpoints: { where: { event: 'email_clicked' } }, conversion: { where: { event: 'purchase' } } }), ctx);
 * logic.process(click, 'p1');
 * logic.process(purchase, 'p1');
 * logic.advance(Infinity); // ctx.emitted: one record on `attributions`
 * ```
 */
export class AttributionLogic implements OperatorLogic {
  private readonly journeys: JourneyStore;
  private readonly conversions = new MemoryTimers<ConversionData>();
  private readonly cleanups = new MemoryTimers<null>();

  constructor(private readonly config: AttributionConfig, private readonly ctx: OperatorContext) {
    this.journeys = ctx.store('journeys');
    // The stores were restored (Kafka) or reopened (embedded): re-arm every timer from them.
    for (const { key, value } of this.journeys.range()) {
      for (const p of value.pending) this.conversions.register({ id: conversionTimerId(key, p.messageId), time: p.at + 1, data: [key, p.messageId] });
      this.scheduleCleanup(key, value);
    }
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    if (this.config.conversion(event)) this.convert(event, key);
    else if (this.config.touchpoint(event)) this.touch(event, key);
    return event;
  }

  private convert(event: TributaryEvent, key: string): void {
    const v = conversionValueOf(event, this.config.value);
    if ('problem' in v) {
      this.ctx.count('invalid-conversion-value');
      this.ctx.emit('dead-letter', { reason: 'invalid-conversion-value', detail: `${this.ctx.step}: ${v.problem}`, raw: safeJson(event), source: `step ${this.ctx.step}` });
      return;
    }
    // The key's value is changed in place and put back here, in this call (see `immutableState`).
    const state = this.journeys.get(key) ?? { touchpoints: [], pending: [] };
    if (!insertInOrder(state.pending, { messageId: event.messageId, at: event.timestamp, value: v.value })) {
      this.ctx.count('duplicate-conversion');
      return;
    }
    this.journeys.put(key, state);
    this.conversions.register({ id: conversionTimerId(key, event.messageId), time: event.timestamp + 1, data: [key, event.messageId] });
  }

  private touch(event: TributaryEvent, key: string): void {
    const state = this.journeys.get(key) ?? { touchpoints: [], pending: [] };
    if (!insertInOrder(state.touchpoints, touchpointOf(event, this.config))) {
      this.ctx.count('duplicate-touchpoint');
      return;
    }
    this.journeys.put(key, state);
    this.scheduleCleanup(key, state);
  }

  /** Sets the key's cleanup timer at its oldest touchpoint's expiry (moves it when that changed). */
  private scheduleCleanup(key: string, state: JourneyState): void {
    const due = nextExpiry(state, this.config.lookbackMs);
    if (due === Infinity) this.cleanups.cancel(key);
    else if (this.cleanups.pending(key) !== due) this.cleanups.register({ id: key, time: due, data: null });
  }

  /**
   * Writes the conversions the watermark has passed, in (time, key, messageId) order, then
   * forgets the touchpoints it has expired.
   */
  advance(watermark: number): void {
    if (this.conversions.nextTime() <= watermark) this.conversions.fireDue(watermark, ({ data }) => this.attribute(data[0], data[1]));
    if (this.cleanups.nextTime() <= watermark) this.cleanups.fireDue(watermark, ({ id }) => this.expire(id, watermark));
  }

  /** A conversion is due: its record (and aggregate records), and it leaves the state. */
  private attribute(key: string, messageId: string): void {
    const state = this.journeys.get(key);
    const i = state?.pending.findIndex((p) => p.messageId === messageId) ?? -1;
    if (!state || i < 0) return;
    const conversion = state.pending[i] as JourneyState['pending'][number];
    const record = conversionRecord(this.config, this.ctx.step, key, conversion, creditedTouchpoints(state.touchpoints, conversion.at, this.config.lookbackMs));
    state.pending.splice(i, 1);
    this.save(key, state);
    this.ctx.emit(this.config.output, record);
    if (this.config.aggregateOutput) for (const r of channelRecords(this.config, this.ctx.step, record)) this.ctx.emit(this.config.aggregateOutput, r);
  }

  /** The key's cleanup is due: drops its expired touchpoints, and sets the next cleanup. */
  private expire(key: string, watermark: number): void {
    const state = this.journeys.get(key);
    if (!state) return;
    if (dropExpired(state.touchpoints, watermark, this.config.lookbackMs)) this.save(key, state);
    this.scheduleCleanup(key, state);
  }

  /** Puts the key's state, or deletes it when nothing is left. */
  private save(key: string, state: JourneyState): void {
    if (state.touchpoints.length === 0 && state.pending.length === 0) this.journeys.delete(key);
    else this.journeys.put(key, state);
  }
}
