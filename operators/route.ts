/**
 * `route`: copies events to named outputs by condition. `mode: all` (default)
 * sends an event to every route it matches, `first` to the first only. Events continue
 * downstream unless `stop: true`, in which case an event that matched a route ends there
 * (counted as `routed`).
 */
import type { OperatorFunction } from 'rxjs';
import { compileCondition, conditionProblems, conditionSchema, type Condition, type Matcher } from '../lib/condition/condition.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { defineStatelessOperator, type OperatorContext, type OperatorLogic, EVENT_RECORD_KEY } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';

/** Options of `route`. */
export interface RouteOptions {
  routes: Array<{ when: Condition; output: string }>;
  mode?: 'all' | 'first';
  stop?: boolean;
  name?: string;
}

export interface RouteConfig {
  routes: Array<{ match: Matcher; output: string }>;
  mode: 'all' | 'first';
  stop: boolean;
}

/**
 * @example
 * ```ts
 * new RouteLogic(routeOperator.resolve({ routes: [{ when: { event: 'purchase' }, output: 'purchases' }] }), ctx).process(event, '');
 * ```
 */
export class RouteLogic implements OperatorLogic {
  constructor(private readonly config: RouteConfig, private readonly ctx: OperatorContext) {}

  process(event: TributaryEvent): TributaryEvent | null {
    let matched = false;
    for (const r of this.config.routes) {
      if (!r.match(event)) continue;
      matched = true;
      this.ctx.emit(r.output, event);
      if (this.config.mode === 'first') break;
    }
    if (matched && this.config.stop) {
      this.ctx.drop('routed');
      return null;
    }
    return event;
  }
}

const NAME = { type: 'string', pattern: '^[a-z][a-z0-9-]*$' };

export const routeOperator = defineStatelessOperator<RouteOptions, RouteConfig>({
  name: 'route',
  summary: 'copy events to named outputs by condition',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['routes'],
    properties: {
      routes: {
        type: 'array',
        minItems: 1,
        items: { type: 'object', additionalProperties: false, required: ['when', 'output'], properties: { when: conditionSchema, output: NAME } },
      },
      mode: { enum: ['all', 'first'] },
      stop: { type: 'boolean' },
      name: NAME,
    },
  },
  resolve(o) {
    const routes = o.routes.map((r, i) => {
      const problems = conditionProblems(r.when);
      if (problems.length) throw new Error(`routes[${i}].when: ${problems.join('; ')}`);
      return { match: compileCondition(r.when), output: r.output };
    });
    return { routes, mode: o.mode ?? 'all', stop: o.stop ?? false };
  },
  // Two routes may share an output; declare each stream once.
  outputs: (c) => [...new Set(c.routes.map((r) => r.output))].map((stream) => ({ stream, kind: 'routed', key: EVENT_RECORD_KEY })),
  create: (c, ctx) => new RouteLogic(c, ctx),
});

/**
 * `route` as an RxJS operator: routed copies go to `outputs[<output>]`.
 *
 * @example
 * ```ts
 * events$.pipe(routeEvents({ routes: [{ when: { event: 'purchase' }, output: 'purchases' }], outputs: { purchases: sink } }));
 * ```
 */
export function routeEvents(options: RouteOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(routeOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    route: RouteOptions;
  }
}
