/**
 * The per-key logic of `consent`: records the consent flags an event carries (per channel, by
 * event time) and annotates the event with the merged consent in force at its event time.
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import { getPath } from '../../lib/event/paths.js';
import type { OperatorContext, OperatorLogic } from '../../lib/operator/contract.js';
import type { KeyValueStore } from '../../lib/state/store.js';
import { annotateAt } from '../annotate-path.js';
import type { ConsentConfig } from './options.js';
import { flagsAt, readFlags, record, withinChannelLimit, type ConsentState } from './state.js';

/**
 * Per channel the value of the latest consent event by event time wins (ties: the later
 * arrival), so an older consent event arriving late never overrides a newer one. Each event
 * leaves with the consent in force at its own event time — per channel the latest value at or
 * before it — of the consent events that arrived before it (or with it): an event that passed
 * before an older consent event arrived is not changed afterwards, but it is never given a value
 * newer than itself, and the latest values (the state, the query) are the same in any arrival
 * order. An event before any known consent of its key passes unchanged. Flags that are not
 * booleans (or whose channel name is over 100 characters) are ignored and counted
 * (`invalid-consent`), and so are new channels of a key that has 64 (`consent-channel-limit`).
 * No timers: consent does not expire.
 *
 * @example
 * ```ts
 * const logic = new ConsentLogic(consentOperator.resolve({}), ctx);
 * logic.process(ev('i1', 10, { context: { consent: { email: true, sms: true } } }), 'p1');
 * logic.process(ev('i2', 20, { context: { consent: { sms: false } } }), 'p1'); // context.consent = { email: true, sms: false }
 * logic.process(ev('v1', 15), 'p1');                                             // context.consent = { email: true, sms: true }
 * ```
 */
export class ConsentLogic implements OperatorLogic {
  private readonly keys: KeyValueStore<string, ConsentState>;

  constructor(private readonly config: ConsentConfig, private readonly ctx: OperatorContext) {
    this.keys = ctx.store('keys');
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    const t = event.timestamp;
    const carried = readFlags(getPath(event, this.config.from));
    let state = this.keys.get(key);
    if (carried !== undefined) {
      if (carried.invalid > 0) this.ctx.count('invalid-consent');
      const { kept, refused } = withinChannelLimit(state, carried.flags);
      if (refused > 0) this.ctx.count('consent-channel-limit');
      // Changed in place and put back here, in this call (see `immutableState`).
      const recorded = kept.length > 0 ? record(state, t, kept, this.ctx.watermark()) : undefined;
      if (recorded !== undefined) this.keys.put(key, (state = recorded));
    }
    const flags = flagsAt(state, t);
    if (flags === undefined) return event;
    return annotateAt(this.ctx, event, this.config.field, flags);
  }
}
