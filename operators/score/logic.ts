/**
 * The logic of `score`: scores each event (operators/score/model.ts decides) and annotates it at
 * `field`, or sends it to `dead-letter` with the reason and counts the drop.
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import type { OperatorContext, OperatorLogic } from '../../lib/operator/contract.js';
import { annotateAt } from '../annotate-path.js';
import { scoreEvent } from './model.js';
import type { ScoreConfig } from './options.js';

/**
 * @example
 * ```ts
 * const logic = new ScoreLogic(scoreOperator.resolve({ field: 'risk', linear: { coefficients: { x: 2 } } }), ctx);
 * logic.process({ ...event, x: 3 }); // { …event, x: 3, risk: 6 }
 * logic.process(event);               // null, and a dead letter score-missing-feature
 * ```
 */
export class ScoreLogic implements OperatorLogic {
  constructor(private readonly config: ScoreConfig, private readonly ctx: OperatorContext) {}

  process(event: TributaryEvent): TributaryEvent | null {
    const outcome = scoreEvent(this.config.model, event, this.config.missing);
    if ('value' in outcome) return annotateAt(this.ctx, event, this.config.field, outcome.value);
    this.ctx.drop(outcome.reason);
    this.ctx.emit('dead-letter', { reason: outcome.reason, detail: outcome.detail, raw: JSON.stringify(event), source: `step ${this.ctx.step}` });
    return null;
  }
}
