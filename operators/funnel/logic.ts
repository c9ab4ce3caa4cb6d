/**
 * The per-key logic of `funnel` ({@link FunnelLogic}): ordered conversion funnels per key in
 * event time, their state and their close timers. Wired by operators/funnel.ts.
 *
 * Semantics, precisely (all times are event times in ms; `within` from the options):
 *
 * - **Attempts.** Per key, an attempt starts at an event matching step 1 when the key has no
 *   open attempt. Later events advance it one step at a time, in order: an event matching the
 *   next step reaches it (an event reaches at most one step; a step's time is never before the
 *   previous step's). A step-1 event while the attempt is open neither restarts it nor starts a
 *   second one (the first step-1 event starts; the attempt takes the earliest possible
 *   completion, as Amplitude and Mixpanel do). The key's next attempt starts at the first
 *   step-1 event after the attempt closed.
 * - **Window.** Only events at `t ≤ start + within` count (inclusive: a purchase exactly
 *   `within` after the first step converts; 1 ms later it does not).
 * - **Closing.** An attempt closes converted at the event reaching the last step (`c`), or
 *   dropped off at `start + within`. Its record is written once the watermark passes that time
 *   (watermark > c, or > start + within): then no event that could change the attempt can
 *   arrive without being late. End of input (watermark +∞) closes every attempt, converted or
 *   dropped off. Late events never reach the step (the runtime sends them to `late`).
 * - **Order.** The attempt is decided from the key's buffered matching events sorted by time
 *   (at the same time in funnel order, then messageId), by a pure function
 *   (operators/funnel/attempt.ts): an out-of-order event within the allowed lateness gives the
 *   same records as in order.
 * - **Emit.** `final` (default): one record per attempt when it closes (`final: true`).
 *   `update`: also a record (`final: false`) each time the key's open attempt, as its buffered
 *   events tell, starts or reaches a further step — at the event that made it so, or when an
 *   earlier attempt closed. An out-of-order event can move the start earlier; an update then
 *   reports the attempt from its new start.
 * - **Duplicates** count as the source gives them (the same messageId twice is two events):
 *   put `dedupe` first.
 * - **Bounds.** A key keeps at most 10,000 matching events (and 256 Ki characters of their
 *   messageIds) that may still count; a further matching event of that key goes to
 *   `dead-letter` (reason `funnel-key-full`) instead of growing it, until its attempts close.
 */
import type { OperatorContext, OperatorLogic } from '../../lib/operator/contract.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import { MemoryTimers } from '../../lib/time/timers.js';
import { firstAttempt, type Attempt } from './attempt.js';
import type { FunnelConfig } from './options.js';
import { funnelRecord } from './records.js';
import { bufferFull, firstAfter, withEvent, type BufferedEvent, type FunnelKeyState, type FunnelStore } from './state.js';

/**
 * The per-key logic of funnel, usable with plain calls (see the module notes for the exact
 * semantics).
 *
 * @example
 * ```ts
 * const ctx = recordingContext('funnel');
 * const logic = new FunnelLogic(funnelOperator.resolve({ steps, within: '1h', output: 'funnels' }), ctx);
 * logic.process(view, 'p1');
 * logic.process(purchase, 'p1');
 * logic.advance(Infinity); // ctx.emitted: one record on `funnels`
 * ```
 */
export class FunnelLogic implements OperatorLogic {
  private readonly keys: FunnelStore;
  /** One timer per key with state, at its `due`: memory only, rebuilt from `keys` here. */
  private readonly timers = new MemoryTimers<string>();

  constructor(private readonly config: FunnelConfig, private readonly ctx: OperatorContext) {
    this.keys = ctx.store<string, FunnelKeyState>('keys');
    for (const { key, value } of this.keys.range()) this.timers.register({ id: key, time: value.due, data: key });
  }

  /** The steps `event` matches, as a mask (bit i = step i + 1). */
  private maskOf(event: TributaryEvent): number {
    let mask = 0;
    this.config.steps.forEach((step, i) => {
      if (step.where(event)) mask |= 1 << i;
    });
    return mask;
  }

  process(event: TributaryEvent, key: string): TributaryEvent | null {
    const mask = this.maskOf(event);
    if (mask === 0) return event;
    const entry: BufferedEvent = [event.timestamp, event.messageId, mask];
    const s = this.keys.get(key);
    const full = s === undefined ? undefined : bufferFull(s.events);
    if (full !== undefined) {
      // A key flooding the step (a bot) must not stall it or outgrow a changelog record: the event is refused, visibly.
      this.ctx.emit('dead-letter', { reason: 'funnel-key-full', detail: `funnel key ${JSON.stringify(key)}: ${full}`, raw: JSON.stringify(event), source: `step ${this.ctx.step}` });
      this.ctx.drop('key-full');
      return null;
    }
    this.settle(key, s === undefined ? [entry] : withEvent(s.events, entry), s?.updated);
    return event;
  }

  /**
   * Stores the key's `events` (non-empty) with its due time, reports its open attempt when it
   * changed (`emit: update`) and sets its timer.
   */
  private settle(key: string, events: readonly BufferedEvent[], updated: FunnelKeyState['updated'], attempt: Attempt | undefined = firstAttempt(events, this.config.steps.length, this.config.withinMs)): void {
    if (attempt !== undefined && this.config.emit === 'update') {
      const start = (events[attempt.reached[0] as number] as BufferedEvent)[0];
      const furthest = attempt.reached.length;
      if (updated === undefined || updated[0] !== start || updated[1] !== furthest) {
        this.ctx.emit(this.config.output, funnelRecord(this.ctx.step, this.config, key, events, attempt, false));
        updated = [start, furthest];
      }
    }
    const due = attempt !== undefined ? attempt.closesAt + 1 : (events[events.length - 1] as BufferedEvent)[0] + 1;
    const s: FunnelKeyState = updated === undefined ? { events, due } : { events, due, updated };
    this.keys.put(key, s);
    this.timers.register({ id: key, time: due, data: key });
  }

  /** The time the timer of `key` is set for, if one is pending (tests, diagnostics). */
  pendingTimer(key: string): number | undefined {
    return this.timers.pending(key);
  }

  /**
   * Closes the attempts whose close time the watermark passed, in (due, key) order, each key's in
   * start order; forgets the events no attempt can use any more.
   */
  advance(watermark: number): void {
    if (watermark < this.timers.nextTime()) return;
    this.timers.fireDue(watermark, ({ data: key }) => this.close(key, watermark));
  }

  private close(key: string, watermark: number): void {
    const s = this.keys.get(key);
    if (s === undefined) return;
    const { steps, withinMs } = this.config;
    let events = s.events;
    let updated = s.updated;
    let attempt = firstAttempt(events, steps.length, withinMs);
    while (attempt !== undefined && attempt.closesAt < watermark) {
      this.ctx.emit(this.config.output, funnelRecord(this.ctx.step, this.config, key, events, attempt, true));
      // The next attempt starts after this one closed: the events up to its close time are spent.
      events = events.slice(firstAfter(events, attempt.closesAt));
      updated = undefined;
      attempt = firstAttempt(events, steps.length, withinMs);
    }
    // Events before the first step-1 event and behind the watermark can start or advance nothing:
    // an attempt that could still use them would start at a step-1 event that is not late.
    const startIndex = attempt === undefined ? events.length : (attempt.reached[0] as number);
    let stale = 0;
    while (stale < startIndex && (events[stale] as BufferedEvent)[0] < watermark) stale++;
    if (stale > 0) {
      events = events.slice(stale);
      if (attempt !== undefined) attempt = { ...attempt, reached: attempt.reached.map((i) => i - stale) };
    }
    if (events.length === 0) {
      this.keys.delete(key);
      return;
    }
    this.settle(key, events, updated, attempt);
  }
}
