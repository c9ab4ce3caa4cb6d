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
 * One job per file: this one wires the operator (its definition and the RxJS operator). The
 * rules' semantics and the per-key logic are in operators/trigger/logic.ts, the options and
 * their validation in operators/trigger/options.ts, how a candidate becomes a record in
 * operators/trigger/records.ts, the per-key state in operators/trigger/state.ts, the query API
 * (what is kept of a key: pending instances, cooldowns, cap, consent) in operators/trigger/query.ts.
 */
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { defineOperator } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import { TriggerLogic } from './trigger/logic.js';
import { triggerQuery } from './trigger/query.js';
import { resolveTriggerOptions, triggerOptionsSchema, type TriggerConfig, type TriggerOptions } from './trigger/options.js';

export { TriggerLogic } from './trigger/logic.js';
export { triggerQuery, type KeptEvent, type RuleQueryState, type TriggerKeyState, type TriggerQueryStores } from './trigger/query.js';

export type {
  ChannelOption,
  PairRule,
  PairRuleOptions,
  RuleCommon,
  SegmentRule,
  SegmentRuleOptions,
  ThresholdRule,
  ThresholdRuleOptions,
  TriggerConfig,
  TriggerOptions,
  TriggerRule,
  TriggerRuleOptions,
} from './trigger/options.js';
export type { SuppressedRecord, SuppressionReason, TriggerRecord } from './trigger/records.js';

/** The `trigger` operator definition (registry entry). */
export const triggerOperator = defineOperator<TriggerOptions, TriggerConfig>({
  name: 'trigger',
  summary: 'behavioral rules per key (absence, sequence, threshold, segment) → action records, with cooldown, frequency cap, consent and channels',
  optionsSchema: triggerOptionsSchema,
  resolve: resolveTriggerOptions,
  keyPaths: (c) => c.key,
  outputs: (c) => [{ stream: c.output, kind: 'triggers', key: ['key'] }, ...(c.suppressedOutput ? [{ stream: c.suppressedOutput, kind: 'suppressed-triggers', key: ['key'] }] : [])],
  stores: () => ['keys', 'segments'],
  create: (c, ctx) => new TriggerLogic(c, ctx),
  query: (c, store, key, watermark) => triggerQuery(c, { keys: store('keys'), segments: store('segments') }, key, watermark),
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
export function trigger(options: TriggerOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(triggerOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    trigger: TriggerOptions;
  }
}
