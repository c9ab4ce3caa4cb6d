/**
 * The options of `windowAggregate`: what a pipeline writes ({@link WindowAggregateOptions}),
 * its JSON schema and its resolution into the {@link WindowAggregateConfig} the logic runs on.
 */
import { conditionSchema } from '../../lib/condition/condition.js';
import { aggregateSchema, resolveAggregate, type AggregateSpec, type ResolvedAggregate } from '../aggregates/accumulators.js';
import { DURATION_PATTERN, formatDuration, parseDuration, type Duration } from '../../lib/time/duration.js';

/** A window as written in a pipeline (exactly one kind). */
export type WindowSpec = { tumbling: Duration } | { hopping: Duration; advance: Duration } | { sliding: Duration } | { session: Duration };

/** Options of `windowAggregate` as written in a pipeline. */
export interface WindowAggregateOptions {
  /** Aggregation key: a field path or a list of paths (first non-null). Default `[personId, anonymousId, userId]`. */
  key?: string | string[];
  window: WindowSpec;
  /** Extra event time after a window's end before it closes. Default `0ms`. */
  grace?: Duration;
  /** Aggregates by name. */
  aggregates: Record<string, AggregateSpec>;
  /** `final` (default): one record per closed window; `update`: also a record per change. */
  emit?: 'final' | 'update';
  /** With `emit: update`: at most one update per key and window per this much event time. Default `0ms`. */
  updateInterval?: Duration;
  /** Stream receiving the aggregate records. Default: none. */
  output?: string;
  /** Field added to each passing event with the key's current values. Default: none. */
  annotate?: string;
  /** Step name, when a pipeline has two windowAggregate steps. */
  name?: string;
}

/** Resolved options. */
export interface WindowAggregateConfig {
  key: string[];
  /** `sizeMs` is the gap for session windows. */
  window: { kind: 'tumbling' | 'hopping' | 'sliding' | 'session'; sizeMs: number; advanceMs: number };
  graceMs: number;
  aggregates: ResolvedAggregate[];
  emit: 'final' | 'update';
  updateIntervalMs: number;
  output: string | undefined;
  annotate: string | undefined;
}

function positive(option: string, value: Duration, example: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (e) {
    throw new Error(`${option}: ${(e as Error).message}`, { cause: e });
  }
  if (ms <= 0) throw new Error(`${option}: ${JSON.stringify(value)} must be longer than 0 (e.g. ${example})`);
  return ms;
}

/** Windows one event may fall in (hopping size ÷ advance): each is state and work per event. */
export const MAX_HOPPING_WINDOWS = 10_000;

/** `ms` rounded up to whole seconds, or whole minutes from a minute on (a duration a user writes). */
const roundUp = (ms: number) => (ms >= 60_000 ? Math.ceil(ms / 60_000) * 60_000 : ms >= 1000 ? Math.ceil(ms / 1000) * 1000 : ms);

function resolveWindow(w: WindowSpec | undefined): WindowAggregateConfig['window'] {
  if (w === undefined || w === null || typeof w !== 'object') throw new Error('window: required, one of { tumbling: 1h }, { hopping: 1h, advance: 15m }, { sliding: 90d }, { session: 30m }');
  const kinds = (['tumbling', 'hopping', 'sliding', 'session'] as const).filter((k) => k in w);
  if (kinds.length !== 1) throw new Error(`window: give exactly one of tumbling, hopping, sliding, session (got ${kinds.join(', ') || 'none'})`);
  if ('tumbling' in w) {
    const size = positive('window.tumbling', w.tumbling, '1h');
    return { kind: 'tumbling', sizeMs: size, advanceMs: size };
  }
  if ('hopping' in w) {
    const size = positive('window.hopping', w.hopping, '1h');
    const adv = positive('window.advance', w.advance, '15m');
    if (adv > size) throw new Error(`window.advance: ${JSON.stringify(w.advance)} is longer than the window (${JSON.stringify(w.hopping)}); use an advance ≤ the size`);
    if (size / adv > MAX_HOPPING_WINDOWS) {
      throw new Error(`window.advance: ${JSON.stringify(w.advance)} puts each event in ${Math.ceil(size / adv)} windows of ${JSON.stringify(w.hopping)}, more than ${MAX_HOPPING_WINDOWS}; use an advance of at least ${formatDuration(roundUp(Math.ceil(size / MAX_HOPPING_WINDOWS)))}`);
    }
    return { kind: 'hopping', sizeMs: size, advanceMs: adv };
  }
  if ('session' in w) {
    const gap = positive('window.session', w.session, '30m');
    return { kind: 'session', sizeMs: gap, advanceMs: gap };
  }
  const size = positive('window.sliding', w.sliding, '90d');
  return { kind: 'sliding', sizeMs: size, advanceMs: size };
}

const STREAM = '^[a-z][a-z0-9-]*$';

/** The JSON schema of {@link WindowAggregateOptions}. */
export const windowAggregateOptionsSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['window', 'aggregates'],
  properties: {
    key: {
      description: 'aggregation key: a field path or list of paths, first non-null wins (default [personId, anonymousId, userId])',
      oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
    },
    window: {
      description: 'one of { tumbling: 1h }, { hopping: 1h, advance: 15m }, { sliding: 90d }, { session: 30m }',
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['tumbling'], properties: { tumbling: { type: 'string', pattern: DURATION_PATTERN } } },
        { type: 'object', additionalProperties: false, required: ['hopping', 'advance'], properties: { hopping: { type: 'string', pattern: DURATION_PATTERN }, advance: { type: 'string', pattern: DURATION_PATTERN } } },
        { type: 'object', additionalProperties: false, required: ['sliding'], properties: { sliding: { type: 'string', pattern: DURATION_PATTERN } } },
        { type: 'object', additionalProperties: false, required: ['session'], properties: { session: { type: 'string', pattern: DURATION_PATTERN } } },
      ],
    },
    grace: { description: 'extra event time after a window end before it closes (default 0ms)', type: 'string', pattern: DURATION_PATTERN },
    aggregates: { description: 'aggregates by name', type: 'object', minProperties: 1, additionalProperties: aggregateSchema(conditionSchema) },
    emit: { description: 'final (default): one record per closed window; update: also a record per change', enum: ['final', 'update'] },
    updateInterval: { description: 'with emit: update, at most one update per key and window per this much event time (default 0ms)', type: 'string', pattern: DURATION_PATTERN },
    output: { description: 'stream receiving the aggregate records', type: 'string', pattern: STREAM },
    annotate: { description: 'field added to each passing event with the key current values', type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    name: { description: 'step name (default windowAggregate)', type: 'string', pattern: STREAM },
  },
};

/** Resolves and validates {@link WindowAggregateOptions} into a {@link WindowAggregateConfig}. */
export function resolveWindowAggregateOptions(options: WindowAggregateOptions): WindowAggregateConfig {
  const aggregates = options.aggregates;
  if (aggregates === null || typeof aggregates !== 'object' || Object.keys(aggregates).length === 0) throw new Error('aggregates: required, e.g. { orders: { count: {} } }');
  const grace = options.grace === undefined ? 0 : parseDuration(options.grace);
  return {
    key: options.key === undefined ? ['personId', 'anonymousId', 'userId'] : Array.isArray(options.key) ? options.key : [options.key],
    window: resolveWindow(options.window),
    graceMs: grace,
    aggregates: Object.entries(aggregates).map(([name, spec]) => resolveAggregate(name, spec)),
    emit: options.emit ?? 'final',
    updateIntervalMs: options.updateInterval === undefined ? 0 : parseDuration(options.updateInterval),
    output: options.output,
    annotate: options.annotate,
  };
}
