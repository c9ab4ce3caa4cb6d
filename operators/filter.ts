/**
 * `filter`: keeps the events that match a condition. The others are dropped
 * (counted as `filtered`) or, with `output`, sent to that stream.
 */
import type { OperatorFunction } from 'rxjs';
import { compileCondition, conditionProblems, conditionSchema, type Condition, type Matcher } from '../lib/condition/condition.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { defineStatelessOperator, type OperatorContext, type OperatorLogic, EVENT_RECORD_KEY } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';

/** Options of `filter`. */
export interface FilterOptions {
  /** Events matching this condition pass. */
  where: Condition;
  /** Stream for the events that do not match. Default: none (dropped, counted). */
  output?: string;
  name?: string;
}

export interface FilterConfig {
  where: Condition;
  match: Matcher;
  output: string | undefined;
}

/**
 * @example
 * ```ts
 * new FilterLogic(filterOperator.resolve({ where: { event: 'purchase' } }), ctx).process(event, '');
 * ```
 */
export class FilterLogic implements OperatorLogic {
  constructor(private readonly config: FilterConfig, private readonly ctx: OperatorContext) {}

  process(event: TributaryEvent): TributaryEvent | null {
    if (this.config.match(event)) return event;
    this.ctx.drop('filtered');
    if (this.config.output) this.ctx.emit(this.config.output, event);
    return null;
  }
}

const NAME = { type: 'string', pattern: '^[a-z][a-z0-9-]*$' };

export const filterOperator = defineStatelessOperator<FilterOptions, FilterConfig>({
  name: 'filter',
  summary: 'keep the events that match a condition; the rest are dropped or sent to an output',
  optionsSchema: { type: 'object', additionalProperties: false, required: ['where'], properties: { where: conditionSchema, output: NAME, name: NAME } },
  resolve(o) {
    const problems = conditionProblems(o.where);
    if (problems.length) throw new Error(`where: ${problems.join('; ')}`);
    return { where: o.where, match: compileCondition(o.where), output: o.output };
  },
  outputs: (c) => (c.output ? [{ stream: c.output, kind: 'filtered-out', key: EVENT_RECORD_KEY }] : []),
  create: (c, ctx) => new FilterLogic(c, ctx),
});

/**
 * `filter` as an RxJS operator.
 *
 * @example
 * ```ts
 * events$.pipe(filterEvents({ where: { 'context.channel': { $in: ['web', 'app'] } } }));
 * ```
 */
export function filterEvents(options: FilterOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(filterOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    filter: FilterOptions;
  }
}
