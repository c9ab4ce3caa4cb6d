/**
 * The options of `funnel`: what a pipeline writes ({@link FunnelOptions}), its JSON schema and
 * its resolution into the {@link FunnelConfig} the logic runs on.
 */
import { compileCondition, conditionProblems, conditionSchema, type Condition, type Matcher } from '../../lib/condition/condition.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../../lib/time/duration.js';

/** One step of a funnel as written in a pipeline. */
export interface FunnelStepOptions {
  /** The step's name, unique in the funnel (it names the step in the records). */
  name: string;
  /** Which events reach this step (the condition language of `where`). */
  where: Condition;
}

/** Options of `funnel` as written in a pipeline. */
export interface FunnelOptions {
  /**
   * Funnel key: a field path or a list of paths (first non-null). Default `personId`; `sessionId`
   * (as annotated by `sessionize`) for per-session funnels.
   */
  key?: string | string[];
  /** The steps, in order (2 to {@link MAX_FUNNEL_STEPS}). */
  steps: FunnelStepOptions[];
  /** Conversion window, measured from the attempt's first-step event (inclusive). */
  within: Duration;
  /** `final` (default): one record per attempt when it closes; `update`: also one each time an attempt advances. */
  emit?: 'final' | 'update';
  /** Stream receiving the attempt records. */
  output: string;
  /** Step name, when a pipeline has two funnel steps. */
  name?: string;
}

/** A resolved funnel step. */
export interface FunnelStep {
  name: string;
  where: Matcher;
}

/** Resolved options. */
export interface FunnelConfig {
  key: string[];
  steps: FunnelStep[];
  withinMs: number;
  emit: 'final' | 'update';
  output: string;
}

/** The most steps a funnel may have (an event's matched steps are kept as a 32-bit mask). */
export const MAX_FUNNEL_STEPS = 31;

const NAME = '^[a-z][a-z0-9-]*$';

/** The JSON schema of {@link FunnelOptions}. */
export const funnelOptionsSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['steps', 'within', 'output'],
  properties: {
    key: {
      description: 'funnel key: a field path or list of paths, first non-null wins (default personId; sessionId for per-session funnels)',
      oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
    },
    steps: {
      description: 'the funnel steps in order, each { name, where: <condition> }',
      type: 'array',
      minItems: 2,
      maxItems: MAX_FUNNEL_STEPS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'where'],
        properties: {
          name: { type: 'string', minLength: 1 },
          where: { ...conditionSchema, description: 'events matching this reach the step' },
        },
      },
    },
    within: { description: 'conversion window from the first-step event, inclusive, in event time (e.g. 1h)', type: 'string', pattern: DURATION_PATTERN },
    emit: { description: 'final (default): one record per attempt when it closes; update: also one each time an attempt advances', enum: ['final', 'update'] },
    output: { description: 'stream receiving one record per funnel attempt', type: 'string', pattern: NAME },
    name: { description: 'step name (default funnel)', type: 'string', pattern: NAME },
  },
};

/** Resolves and validates {@link FunnelOptions} into a {@link FunnelConfig}. */
export function resolveFunnelOptions(options: FunnelOptions): FunnelConfig {
  const steps = options.steps;
  if (!Array.isArray(steps) || steps.length < 2) throw new Error('steps: give at least 2 steps, e.g. [{ name: view, where: { event: product_viewed } }, { name: purchase, where: { event: purchase } }]');
  if (steps.length > MAX_FUNNEL_STEPS) throw new Error(`steps: ${steps.length} steps; a funnel has at most ${MAX_FUNNEL_STEPS}`);
  const names = new Set<string>();
  const resolved = steps.map((s, i): FunnelStep => {
    if (typeof s?.name !== 'string' || s.name.length === 0) throw new Error(`steps[${i}].name: required, a non-empty string`);
    if (names.has(s.name)) throw new Error(`steps[${i}].name: ${JSON.stringify(s.name)} is used twice (step names must be unique)`);
    names.add(s.name);
    const problems = conditionProblems(s.where);
    if (problems.length > 0) throw new Error(`steps[${i}].where: ${problems.join('; ')}`);
    return { name: s.name, where: compileCondition(s.where) };
  });
  if (options.within === undefined) throw new Error('within: required, the conversion window (e.g. 1h)');
  let withinMs: number;
  try {
    withinMs = parseDuration(options.within);
  } catch (e) {
    throw new Error(`within: ${(e as Error).message}`, { cause: e });
  }
  if (withinMs <= 0) throw new Error(`within: ${JSON.stringify(options.within)} must be longer than 0 (e.g. 1h)`);
  const emit = options.emit ?? 'final';
  if (emit !== 'final' && emit !== 'update') throw new Error(`emit: ${JSON.stringify(emit)} must be final or update`);
  if (typeof options.output !== 'string' || options.output.length === 0) throw new Error('output: required, the stream receiving the funnel records (e.g. funnels)');
  return {
    key: options.key === undefined ? ['personId'] : Array.isArray(options.key) ? options.key : [options.key],
    steps: resolved,
    withinMs,
    emit,
    output: options.output,
  };
}
