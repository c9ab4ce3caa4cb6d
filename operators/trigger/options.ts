/**
 * The options of `trigger`: what a pipeline writes ({@link TriggerOptions}), its JSON schema
 * and its resolution — rule parsing and validation — into the {@link TriggerConfig} the logic
 * runs on.
 */
import { compileCondition, conditionProblems, conditionSchema, type Condition, type Matcher } from '../../lib/condition/condition.js';
import { pathProblem } from '../../lib/event/paths.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../../lib/time/duration.js';

/** `first` then `then` within a duration (absence and sequence rules). */
export interface PairRuleOptions {
  first: Condition;
  then: Condition;
  within: Duration;
}

/** n matching events within a rolling duration. */
export interface ThresholdRuleOptions {
  match: Condition;
  count: number;
  within: Duration;
  /** Count per value of this field path (e.g. `properties.productId`). */
  per?: string;
}

/** One channel of an ordered channel list. */
export interface ChannelOption {
  channel: string;
  /** Condition on the subject event (the last cause); default always. */
  when?: Condition;
}

/** Entry into / exit from a condition (segment rules). */
export interface SegmentRuleOptions {
  /** Membership condition, on the event (e.g. on values windowAggregate annotated onto it). */
  condition: Condition;
  /** Which transitions fire. Default `entry`. */
  on?: 'entry' | 'exit' | 'both';
  /** Only events matching this are evaluated (e.g. `{ features: { $exists: true } }`). */
  where?: Condition;
}

/** One rule; exactly one of `absence`, `sequence`, `threshold`, `segment`. */
export interface TriggerRuleOptions {
  /** Rule name, unique in the step; the record's `rule`. */
  name: string;
  absence?: PairRuleOptions;
  sequence?: PairRuleOptions;
  threshold?: ThresholdRuleOptions;
  segment?: SegmentRuleOptions;
  /** No second record of this rule and key within this duration. Default none; `0s` is none too. */
  cooldown?: Duration;
  /** Ordered channel selection: the first whose `when` matches and whose consent is given. */
  channels?: ChannelOption[];
  /** Record payload: output field → field path of the subject event (missing → null). */
  payload?: Record<string, string>;
}

/** Options of `trigger` as written in a pipeline (a type alias: the builder treats options as plain records). */
export type TriggerOptions = {
  /** Key: a field path or a list of paths (first non-null). Default `[personId, userId, anonymousId]`. */
  key?: string | string[];
  rules: TriggerRuleOptions[];
  /** At most `max` records per key with `firedAt` within a rolling `per`, across rules. */
  frequencyCap?: { max: number; per: Duration };
  /** Consent gating; default none. */
  consent?: { field?: string; flag?: string };
  /** Stream of action records. Default `triggers`. */
  output?: string;
  /** Stream receiving suppressed candidates with `reason`. Default none (counted only). */
  suppressedOutput?: string;
  /** Step name, when a pipeline has two trigger steps. */
  name?: string;
};

/** A resolved absence or sequence rule. */
export interface PairRule {
  kind: 'absence' | 'sequence';
  name: string;
  first: Matcher;
  then: Matcher;
  withinMs: number;
  common: RuleCommon;
}

/** A resolved threshold rule. */
export interface ThresholdRule {
  kind: 'threshold';
  name: string;
  match: Matcher;
  count: number;
  withinMs: number;
  per: string | undefined;
  common: RuleCommon;
}

/** A resolved segment rule. */
export interface SegmentRule {
  kind: 'segment';
  name: string;
  condition: Matcher;
  where: Matcher | undefined;
  entry: boolean;
  exit: boolean;
  common: RuleCommon;
}

/** A resolved rule. */
export type TriggerRule = PairRule | ThresholdRule | SegmentRule;

/** Settings every rule kind shares, resolved. */
export interface RuleCommon {
  cooldownMs: number | undefined;
  channels: Array<{ channel: string; when: Matcher | undefined }> | undefined;
  payload: Array<[string, string]>;
  /** The payload's field paths, longest first. */
  payloadPaths: string[];
}

/** Resolved options. */
export interface TriggerConfig {
  key: string[];
  rules: TriggerRule[];
  cap: { max: number; perMs: number } | undefined;
  consent: { field: string; flag: string | undefined } | undefined;
  output: string;
  suppressedOutput: string | undefined;
}

const NAME = '^[a-z][a-z0-9-]*$';

const durationAt = (where: string, value: Duration): number => {
  const ms = parseDuration(value);
  if (ms <= 0) throw new Error(`${where}: ${JSON.stringify(value)} must be longer than 0 (e.g. 30m)`);
  return ms;
};

const matcherAt = (where: string, condition: unknown): Matcher => {
  const problems = conditionProblems(condition);
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
  return compileCondition(condition as Condition);
};

const pathAt = (where: string, path: string): string => {
  const problem = pathProblem(path);
  if (problem) throw new Error(`${where}: ${JSON.stringify(path)} is not a field path (${problem})`);
  return path;
};

function resolveRule(r: TriggerRuleOptions, i: number): TriggerRule {
  const at = `rules[${i}]`;
  const kinds = (['absence', 'sequence', 'threshold', 'segment'] as const).filter((k) => r[k] !== undefined);
  if (kinds.length !== 1) throw new Error(`${at} (${r.name}): give exactly one of absence, sequence, threshold, segment (got ${kinds.length === 0 ? 'none' : kinds.join(', ')})`);
  const common: RuleCommon = {
    // `cooldown: 0s` means no cooldown (nothing is stored for it).
    cooldownMs: r.cooldown === undefined || parseDuration(r.cooldown) === 0 ? undefined : durationAt(`${at}.cooldown`, r.cooldown),
    channels: r.channels?.map((c, j) => ({ channel: c.channel, when: c.when === undefined ? undefined : matcherAt(`${at}.channels[${j}].when`, c.when) })),
    payload: Object.entries(r.payload ?? {}).map(([field, path]) => [field, pathAt(`${at}.payload.${field}`, path)]),
    payloadPaths: [],
  };
  common.payloadPaths = [...new Set(common.payload.map(([, path]) => path))].sort((a, b) => b.length - a.length);
  if (r.threshold) {
    const o = r.threshold;
    if (!Number.isInteger(o.count) || o.count < 1) throw new Error(`${at}.threshold.count: ${String(o.count)} must be a whole number ≥ 1`);
    return {
      kind: 'threshold',
      name: r.name,
      match: matcherAt(`${at}.threshold.match`, o.match),
      count: o.count,
      withinMs: durationAt(`${at}.threshold.within`, o.within),
      per: o.per === undefined ? undefined : pathAt(`${at}.threshold.per`, o.per),
      common,
    };
  }
  if (r.segment) {
    const o = r.segment;
    const on = o.on ?? 'entry';
    if (!['entry', 'exit', 'both'].includes(on)) throw new Error(`${at}.segment.on: ${JSON.stringify(on)} must be entry, exit or both`);
    return {
      kind: 'segment',
      name: r.name,
      condition: matcherAt(`${at}.segment.condition`, o.condition),
      where: o.where === undefined ? undefined : matcherAt(`${at}.segment.where`, o.where),
      entry: on !== 'exit',
      exit: on !== 'entry',
      common,
    };
  }
  const kind = kinds[0] as 'absence' | 'sequence';
  const o = r[kind] as PairRuleOptions;
  return {
    kind,
    name: r.name,
    first: matcherAt(`${at}.${kind}.first`, o.first),
    then: matcherAt(`${at}.${kind}.then`, o.then),
    withinMs: durationAt(`${at}.${kind}.within`, o.within),
    common,
  };
}

const pairSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['first', 'then', 'within'],
  properties: {
    first: { ...conditionSchema, description: 'condition an event must match to start the rule (A)' },
    then: { ...conditionSchema, description: 'condition of the following event (B)' },
    within: { description: 'how long after A (inclusive)', type: 'string', pattern: DURATION_PATTERN },
  },
};

/** The JSON schema of {@link TriggerOptions} (the pipeline JSON schema is built from it). */
export const triggerOptionsSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: {
    key: {
      description: 'key: a field path or list of paths, first non-null wins (default [personId, userId, anonymousId])',
      oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
    },
    rules: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { description: 'rule name, unique in the step', type: 'string', pattern: NAME },
          absence: { ...pairSchema, description: 'A not followed by B within T: fires when the watermark passes A.time + T' },
          sequence: { ...pairSchema, description: 'A then B within T: fires on B' },
          threshold: {
            description: 'count matching events within a rolling T, optionally per field value',
            type: 'object',
            additionalProperties: false,
            required: ['match', 'count', 'within'],
            properties: {
              match: conditionSchema,
              count: { type: 'integer', minimum: 1 },
              within: { type: 'string', pattern: DURATION_PATTERN },
              per: { description: 'count per value of this field path', type: 'string', minLength: 1 },
            },
          },
          segment: {
            description: 'entry into / exit from a condition, e.g. over values a windowAggregate step annotated onto the events',
            type: 'object',
            additionalProperties: false,
            required: ['condition'],
            properties: {
              condition: conditionSchema,
              on: { description: 'which transitions fire (default entry)', enum: ['entry', 'exit', 'both'] },
              where: { ...conditionSchema, description: 'only events matching this are evaluated' },
            },
          },
          cooldown: { description: 'no second record of this rule and key within this duration (0s: no cooldown)', type: 'string', pattern: DURATION_PATTERN },
          channels: {
            description: 'ordered: the first whose `when` matches the subject event and whose consent is given',
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['channel'],
              properties: { channel: { type: 'string', minLength: 1 }, when: conditionSchema },
            },
          },
          payload: { description: 'record payload: field → field path of the subject event', type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
        },
      },
    },
    frequencyCap: {
      description: 'at most `max` records per key within a rolling `per`, across rules',
      type: 'object',
      additionalProperties: false,
      required: ['max', 'per'],
      properties: { max: { type: 'integer', minimum: 1 }, per: { type: 'string', pattern: DURATION_PATTERN } },
    },
    consent: {
      description: 'consent gating on the latest known consent flags of the key (default field context.consent; per channel unless flag is given)',
      type: 'object',
      additionalProperties: false,
      properties: { field: { type: 'string', minLength: 1 }, flag: { type: 'string', minLength: 1 } },
    },
    output: { description: 'stream receiving the action records (default triggers)', type: 'string', pattern: NAME },
    suppressedOutput: { description: 'stream receiving suppressed candidates with their reason', type: 'string', pattern: NAME },
    name: { description: 'step name (default trigger)', type: 'string', pattern: NAME },
  },
};

/** Validates `options` and resolves them (durations parsed, conditions compiled, defaults applied). */
export function resolveTriggerOptions(options: TriggerOptions): TriggerConfig {
  const rules = options.rules.map(resolveRule);
  const names = new Set<string>();
  for (const r of rules) {
    if (names.has(r.name)) throw new Error(`rules: the name ${JSON.stringify(r.name)} is used twice (rule names must be unique)`);
    names.add(r.name);
  }
  const cap = options.frequencyCap;
  if (cap && (!Number.isInteger(cap.max) || cap.max < 1)) throw new Error(`frequencyCap.max: ${String(cap.max)} must be a whole number ≥ 1`);
  return {
    key: options.key === undefined ? ['personId', 'userId', 'anonymousId'] : Array.isArray(options.key) ? options.key : [options.key],
    rules,
    cap: cap ? { max: cap.max, perMs: durationAt('frequencyCap.per', cap.per) } : undefined,
    consent: options.consent ? { field: pathAt('consent.field', options.consent.field ?? 'context.consent'), flag: options.consent.flag } : undefined,
    output: options.output ?? 'triggers',
    suppressedOutput: options.suppressedOutput,
  };
}
