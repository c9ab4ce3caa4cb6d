/**
 * `score`: online scoring. Computes a model over fields of each event — typically the features
 * a `windowAggregate` step annotated onto it — and writes the result at `field`
 * (e.g. `scores.churnRisk`), for a `trigger` segment rule or a sink downstream. Stateless.
 *
 * ```yaml
 * - score:
 *     field: scores.churnRisk
 *     logistic: { intercept: -1.2, coefficients: { rfm.frequency: -0.8, rfm.recencyDays: 0.05 } }
 * ```
 *
 * Models: `logistic` (`1 / (1 + e^−(b + Σ w·x))`), `linear` (`b + Σ w·x`), coefficients inline or
 * in a JSON `coefficientsFile`; or `module`, a user's CommonJS module exporting
 * `score(event) → number`, loaded once when the pipeline loads and run in-process (trusted code).
 * An event that cannot be scored is a dead letter, never a stop: `score-missing-feature`
 * (absent or null feature, unless `missing: zero`), `score-invalid-feature` (not a finite
 * number), `score-error` (the module threw or returned no finite number; a linear score
 * overflowed). Options in operators/score/options.ts, the decision in operators/score/model.ts.
 */
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { defineStatelessOperator } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import { ScoreLogic } from './score/logic.js';
import { resolveScoreOptions, scoreOptionsSchema, type ScoreConfig, type ScoreOptions } from './score/options.js';

export { ScoreLogic } from './score/logic.js';
export { resolveScoreOptions, type ScoreOptions, type ScoreConfig, type LinearModelOptions } from './score/options.js';
export { scoreEvent, sigmoid, type ScoreModel, type ScoreOutcome, type ScoreReason } from './score/model.js';

/** The `score` operator definition (registry entry). */
export const scoreOperator = defineStatelessOperator<ScoreOptions, ScoreConfig>({
  name: 'score',
  summary: 'online scoring: a logistic or linear model, or your own module, over event fields → the score at a field',
  optionsSchema: scoreOptionsSchema,
  resolve: (o) => resolveScoreOptions(o),
  create: (c, ctx) => new ScoreLogic(c, ctx),
});

/**
 * `score` as a pipeable RxJS operator; events that cannot be scored go to `outputs['dead-letter']`.
 *
 * @example
 * ```ts
 * events$.pipe(scoreEvents({ field: 'scores.churnRisk', logistic: { intercept: -1, coefficients: { 'features.frequency': -0.5 } } }));
 * ```
 */
export function scoreEvents(options: ScoreOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(scoreOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    score: ScoreOptions;
  }
}
