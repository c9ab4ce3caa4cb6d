/**
 * The options of `attribution`: what a pipeline writes ({@link AttributionOptions}), its JSON
 * schema and its resolution into the {@link AttributionConfig} the logic runs on.
 */
import { compileCondition, conditionProblems, conditionSchema, type Condition, type Matcher } from '../../lib/condition/condition.js';
import { pathProblem } from '../../lib/event/paths.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../../lib/time/duration.js';
import { MODEL_NAMES, type ModelName } from './models.js';

/** A field path, or a list of paths of which the first holding a usable value wins. */
type Paths = string | string[];

/** Options of `attribution` as written in a pipeline. */
export interface AttributionOptions {
  /** Whose journey: a field path or a list of paths (first non-null). Default `personId`. */
  key?: Paths;
  /** Which events are touchpoints, and where their channel and campaign are. */
  touchpoints: {
    where: Condition;
    /** Default `context.channel`. */
    channel?: Paths;
    /** Default `[context.campaign.name, context.campaign, properties.utm_campaign]`. */
    campaign?: Paths;
  };
  /** Which events are conversions, and where their value is (default: every conversion is worth 1). */
  conversion: { where: Condition; value?: string };
  /** How far before a conversion a touchpoint still counts (inclusive). Default `30d`. */
  lookback?: Duration;
  /** The models computed, in any order. Default all five. */
  models?: ModelName[];
  /** timeDecay: the age at which a touchpoint weighs half. Default `7d`. */
  halfLife?: Duration;
  /** positionBased: the shares of the first and the last touchpoint. Default 0.4 and 0.4. */
  position?: { first?: number; last?: number };
  /** Stream of one record per conversion. Default `attributions`. */
  output?: string;
  /** Stream of one record per conversion and (channel, campaign). Default: none. */
  aggregateOutput?: string;
  /** Step name, when a pipeline has two attribution steps. */
  name?: string;
}

/** Resolved options. */
export interface AttributionConfig {
  key: string[];
  touchpoint: Matcher;
  channel: string[];
  campaign: string[];
  conversion: Matcher;
  /** The value path; `undefined`: every conversion is worth 1. */
  value: string | undefined;
  lookbackMs: number;
  /** The selected models in the canonical order of {@link MODEL_NAMES}. */
  models: ModelName[];
  halfLifeMs: number;
  position: { first: number; last: number };
  output: string;
  aggregateOutput: string | undefined;
}

const NAME = '^[a-z][a-z0-9-]*$';
const pathsSchema = (description: string) => ({
  description,
  oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
});

/** The JSON schema of {@link AttributionOptions}. */
export const attributionOptionsSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['touchpoints', 'conversion'],
  properties: {
    key: pathsSchema('whose journey: a field path or list of paths, first non-null wins (default personId)'),
    touchpoints: {
      type: 'object',
      additionalProperties: false,
      required: ['where'],
      properties: {
        where: { ...conditionSchema, description: 'condition an event must match to be a touchpoint' },
        channel: pathsSchema('where the channel is (default context.channel)'),
        campaign: pathsSchema('where the campaign is (default [context.campaign.name, context.campaign, properties.utm_campaign])'),
      },
    },
    conversion: {
      type: 'object',
      additionalProperties: false,
      required: ['where'],
      properties: {
        where: { ...conditionSchema, description: 'condition an event must match to be a conversion (it is then never a touchpoint)' },
        value: { description: 'field path of the conversion value, e.g. properties.revenue (default: every conversion is worth 1)', type: 'string', minLength: 1 },
      },
    },
    lookback: { description: 'how long before a conversion a touchpoint counts, inclusive (default 30d)', type: 'string', pattern: DURATION_PATTERN },
    models: { description: 'models computed (default all)', type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...MODEL_NAMES] } },
    halfLife: { description: 'timeDecay: age at which a touchpoint weighs half (default 7d)', type: 'string', pattern: DURATION_PATTERN },
    position: {
      description: 'positionBased: shares of the first and last touchpoint, the middle ones share the rest (default 0.4, 0.4)',
      type: 'object',
      additionalProperties: false,
      properties: { first: { type: 'number', minimum: 0, maximum: 1 }, last: { type: 'number', minimum: 0, maximum: 1 } },
    },
    output: { description: 'stream receiving one record per conversion (default attributions)', type: 'string', pattern: NAME },
    aggregateOutput: { description: 'stream receiving one record per conversion and (channel, campaign)', type: 'string', pattern: NAME },
    name: { description: 'step name (default attribution)', type: 'string', pattern: NAME },
  },
};

const positive = (option: string, value: Duration, example: string): number => {
  const ms = parseDuration(value);
  if (ms <= 0) throw new Error(`${option}: ${JSON.stringify(value)} must be longer than 0 (e.g. ${example})`);
  return ms;
};

const matcherAt = (where: string, condition: unknown): Matcher => {
  const problems = conditionProblems(condition);
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
  return compileCondition(condition as Condition);
};

const pathsAt = (where: string, paths: Paths | undefined, fallback: string[]): string[] => {
  const list = paths === undefined ? fallback : Array.isArray(paths) ? paths : [paths];
  for (const p of list) {
    const problem = pathProblem(p);
    if (problem) throw new Error(`${where}: ${JSON.stringify(p)} is not a field path (${problem}); write e.g. context.channel`);
  }
  return list;
};

const share = (where: string, v: number | undefined): number => {
  if (v === undefined) return 0.4;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw new Error(`${where}: ${String(v)} must be a number from 0 to 1 (e.g. 0.4)`);
  return v;
};

/** Resolves and validates {@link AttributionOptions} into an {@link AttributionConfig}. */
export function resolveAttributionOptions(options: AttributionOptions): AttributionConfig {
  if (!options.touchpoints || typeof options.touchpoints !== 'object') throw new Error('touchpoints: give { where: <condition> }, e.g. { where: { event: email_clicked } }');
  if (!options.conversion || typeof options.conversion !== 'object') throw new Error('conversion: give { where: <condition> }, e.g. { where: { event: purchase }, value: properties.revenue }');
  const models = options.models ?? [...MODEL_NAMES];
  for (const m of models) {
    if (!MODEL_NAMES.includes(m)) throw new Error(`models: ${JSON.stringify(m)} is not a model (use ${MODEL_NAMES.join(', ')})`);
  }
  const first = share('position.first', options.position?.first);
  const last = share('position.last', options.position?.last);
  if (first + last > 1) throw new Error(`position: first + last is ${first + last}, more than 1 (the middle touchpoints share 1 − first − last)`);
  const value = options.conversion.value === undefined ? undefined : pathsAt('conversion.value', options.conversion.value, [])[0];
  return {
    key: pathsAt('key', options.key, ['personId']),
    touchpoint: matcherAt('touchpoints.where', options.touchpoints.where),
    channel: pathsAt('touchpoints.channel', options.touchpoints.channel, ['context.channel']),
    campaign: pathsAt('touchpoints.campaign', options.touchpoints.campaign, ['context.campaign.name', 'context.campaign', 'properties.utm_campaign']),
    conversion: matcherAt('conversion.where', options.conversion.where),
    value,
    lookbackMs: positive('lookback', options.lookback ?? '30d', '30d'),
    models: MODEL_NAMES.filter((m) => models.includes(m)),
    halfLifeMs: positive('halfLife', options.halfLife ?? '7d', '7d'),
    position: { first, last },
    output: options.output ?? 'attributions',
    aggregateOutput: options.aggregateOutput,
  };
}
