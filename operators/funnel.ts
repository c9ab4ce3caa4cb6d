/**
 * `funnel`: ordered conversion funnels per key in event time (Amplitude/Mixpanel-style): each
 * attempt — from an event matching the first step, through the later steps in order, within a
 * conversion window — becomes one record on the output stream. Events pass through unchanged.
 *
 * ```yaml
 * - funnel:
 *     key: sessionId
 *     steps:
 *       - { name: view, where: { event: product_viewed } }
 *       - { name: cart, where: { event: add_to_cart } }
 *       - { name: purchase, where: { event: purchase } }
 *     within: 1h
 *     output: funnels
 * ```
 *
 * One job per file: this one wires the operator (its definition and the RxJS operator). The
 * attempts' semantics and the per-key logic are in operators/funnel/logic.ts, how an attempt is
 * decided from the buffered events in operators/funnel/attempt.ts, the options and their
 * validation in operators/funnel/options.ts, the records in operators/funnel/records.ts, the
 * per-key state in operators/funnel/state.ts, the query API (a key's open attempt) in
 * operators/funnel/query.ts.
 */
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { defineOperator } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import { FunnelLogic } from './funnel/logic.js';
import { funnelOptionsSchema, resolveFunnelOptions, type FunnelConfig, type FunnelOptions } from './funnel/options.js';
import { funnelQuery } from './funnel/query.js';

export { FunnelLogic } from './funnel/logic.js';
export { firstAttempt, type Attempt } from './funnel/attempt.js';
export { funnelQuery, type FunnelKeyQuery } from './funnel/query.js';
export { funnelRecord, type FunnelRecord, type ReachedStep } from './funnel/records.js';
export { MAX_FUNNEL_STEPS, type FunnelConfig, type FunnelOptions, type FunnelStep, type FunnelStepOptions } from './funnel/options.js';
export { compareBuffered, type BufferedEvent, type FunnelKeyState } from './funnel/state.js';

/** The `funnel` operator definition (registry entry). */
export const funnelOperator = defineOperator<FunnelOptions, FunnelConfig>({
  name: 'funnel',
  summary: 'ordered conversion funnels per key in event time: one record per attempt (converted or dropped off after within)',
  optionsSchema: funnelOptionsSchema,
  resolve: resolveFunnelOptions,
  keyPaths: (c) => c.key,
  outputs: (c) => [{ stream: c.output, kind: 'funnels', key: ['key'] }],
  stores: () => ['keys'],
  create: (c, ctx) => new FunnelLogic(c, ctx),
  query: (c, store, key) => funnelQuery(c, store('keys'), key),
  // A key's state and its event list are replaced on every change, never modified in place.
  immutableState: true,
});

/**
 * `funnel` as a pipeable RxJS operator: events pass through unchanged; attempt records go to
 * `outputs.funnels` (or the stream named by `output`) when they close, and at the latest when
 * the source completes; late events go to `outputs.late`.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { funnel } from 'tributary/operators';
 * from(events).pipe(funnel({
 *   steps: [{ name: 'view', where: { event: 'product_viewed' } }, { name: 'purchase', where: { event: 'purchase' } }],
 *   within: '1h',
 *   outputs: { funnels: (r) => console.log(r.converted) },
 * })).subscribe();
 * ```
 */
export function funnel(options: Omit<FunnelOptions, 'output'> & { output?: string } & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(funnelOperator, { ...options, output: options.output ?? 'funnels' });
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    funnel: FunnelOptions;
  }
}
