/**
 * `windowAggregate`: named aggregates per key over event-time windows. Events pass
 * through (optionally annotated with the key's current values); aggregate records go to the
 * `output` stream.
 *
 * One job per file: this one wires the operator (its definition and the RxJS operator). The
 * windows' semantics and the per-key logic are in operators/window-aggregate/logic.ts, the
 * options and their validation in operators/window-aggregate/options.ts, the state layout in
 * operators/window-aggregate/state.ts, the query API in operators/window-aggregate/query.ts;
 * the accumulators and sliding helpers in operators/aggregates/.
 */
import type { OperatorFunction } from 'rxjs';
import { defineOperator } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { WindowAggregateLogic } from './window-aggregate/logic.js';
import { resolveWindowAggregateOptions, windowAggregateOptionsSchema, type WindowAggregateConfig, type WindowAggregateOptions } from './window-aggregate/options.js';
import { windowAggregateQuery } from './window-aggregate/query.js';
import type { OpenWindow, SlidingState } from './window-aggregate/state.js';

export { AGGREGATE_KINDS, type AggregateSpec, type AggregateKind, type ResolvedAggregate, type Acc } from './aggregates/accumulators.js';
export type { WindowSpec, WindowAggregateOptions, WindowAggregateConfig } from './window-aggregate/options.js';
export type { WindowState, OpenWindow, SlidingEntry, SlidingState } from './window-aggregate/state.js';
export { WindowAggregateLogic, type AggregateRecord } from './window-aggregate/logic.js';
export { windowAggregateQuery, type CurrentValues, type WindowAggregateStores } from './window-aggregate/query.js';

/** The `windowAggregate` operator definition (registry entry). */
export const windowAggregateOperator = defineOperator<WindowAggregateOptions, WindowAggregateConfig>({
  name: 'windowAggregate',
  summary: 'named aggregates (count, sum, min, max, avg, first, last, countDistinct, topK, rfm) per key over tumbling, hopping, sliding or session event-time windows',
  optionsSchema: windowAggregateOptionsSchema,
  resolve: resolveWindowAggregateOptions,
  keyPaths: (c) => c.key,
  outputs: (c) => (c.output ? [{ stream: c.output, kind: 'aggregates', key: ['key'] }] : []),
  // Timers are in memory, rebuilt from these when the logic is created.
  stores: (c) => (c.window.kind === 'sliding' ? ['windows', 'entries', 'chunks'] : ['windows', 'entries']),
  query: (c, store, key) => windowAggregateQuery(c, { windows: store('windows'), entries: store('entries'), chunks: store('chunks') }, key),
  create: (c, ctx) => new WindowAggregateLogic(c, ctx),
  // Stored values are replaced, or (sliding) changed in place and put back in the same call.
  immutableState: true,
});

/**
 * `windowAggregate` as a pipeable RxJS operator: events pass through (annotated when
 * `annotate` is set); aggregate records go to `outputs.aggregates` (or the stream named by
 * `output`); late events go to `outputs.late`.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { windowAggregate } from 'tributary/operators';
 * from(events)
 *   .pipe(windowAggregate({ key: 'userId', window: { tumbling: '1h' }, aggregates: { views: { count: {} } }, outputs: { aggregates: (r) => console.log(r) } }))
 *   .subscribe();
 * ```
 */
export function windowAggregate(options: WindowAggregateOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  const output = options.output ?? (options.outputs?.aggregates ? 'aggregates' : undefined);
  return keyedOperator(windowAggregateOperator, { ...options, output });
}

/** Store value types, for reading a step's stores from outside (`driver.store`): both stores are keyed by the operator key. */
export type { OpenWindow as WindowAggregateWindows, SlidingState as WindowAggregateEntries };

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    windowAggregate: WindowAggregateOptions;
  }
}
