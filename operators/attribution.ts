/**
 * `attribution`: multi-touch marketing attribution per key in event time. Each conversion is
 * credited to the key's touchpoints of the lookback before it under five models (first touch,
 * last touch, linear, time decay, position based); one record per conversion goes to the output
 * once the watermark passes the conversion's time, and optionally one per conversion and
 * (channel, campaign) to the aggregate output. Events pass through unchanged.
 *
 * ```yaml
 * - attribution:
 *     key: personId
 *     touchpoints: { where: { event: { $in: [email_clicked, ad_clicked] } } }   # channel: context.channel
 *     conversion: { where: { event: purchase }, value: properties.revenue }
 *     lookback: 30d
 *     halfLife: 7d
 *     output: attributions
 *     aggregateOutput: channel-credits
 * ```
 *
 * One job per file: this one wires the operator (its definition and the RxJS operator). The
 * semantics and the per-key logic are in operators/attribution/logic.ts, the models in
 * operators/attribution/models.ts, the options in operators/attribution/options.ts, the records
 * in operators/attribution/records.ts, the per-key state in operators/attribution/state.ts, the
 * query API in operators/attribution/query.ts.
 */
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { defineOperator } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import { AttributionLogic } from './attribution/logic.js';
import { attributionOptionsSchema, resolveAttributionOptions, type AttributionConfig, type AttributionOptions } from './attribution/options.js';
import { attributionQuery } from './attribution/query.js';

export { AttributionLogic } from './attribution/logic.js';
export { MODEL_NAMES, credits, firstTouch, lastTouch, linear, positionBased, timeDecay, type ModelName, type ModelParams } from './attribution/models.js';
export type { AttributionConfig, AttributionOptions } from './attribution/options.js';
export { attributionQuery, type AttributionKeyState } from './attribution/query.js';
export type { AttributionRecord, ChannelCreditRecord, CreditedTouchpoint, Credits } from './attribution/records.js';
export type { JourneyState, PendingConversion, Touchpoint } from './attribution/state.js';

/** The `attribution` operator definition (registry entry). */
export const attributionOperator = defineOperator<AttributionOptions, AttributionConfig>({
  name: 'attribution',
  summary: 'multi-touch attribution per key in event time: each conversion credited to the touchpoints of its lookback (first/last touch, linear, time decay, position based)',
  optionsSchema: attributionOptionsSchema,
  resolve: resolveAttributionOptions,
  keyPaths: (c) => c.key,
  outputs: (c) => [{ stream: c.output, kind: 'attributions', key: ['key'] }, ...(c.aggregateOutput ? [{ stream: c.aggregateOutput, kind: 'channel-credits', key: ['key'] }] : [])],
  stores: () => ['journeys'],
  create: (c, ctx) => new AttributionLogic(c, ctx),
  query: (c, store, key, watermark) => attributionQuery(c, store('journeys'), key, watermark),
  // A key's journey is changed in place only to be put back in the same call (logic.ts).
  immutableState: true,
});

/**
 * `attribution` as a pipeable RxJS operator: events pass through unchanged; conversion records go
 * to `outputs.attributions` (or the stream named by `output`) once the watermark passes their
 * time, and at the latest when the source completes; aggregate records to the stream named by
 * `aggregateOutput`.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { attribution } from 'tributary/operators';
 * from(events).pipe(attribution({
 *   key: 'userId',
 *   touchpoints: { where: { event: 'email_clicked' } },
 *   conversion: { where: { event: 'purchase' }, value: 'properties.revenue' },
 *   outputs: { attributions: (r) => console.log(r.conversionId, r.touchpoints) },
 * })).subscribe();
 * ```
 */
export function attribution(options: AttributionOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(attributionOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    attribution: AttributionOptions;
  }
}
