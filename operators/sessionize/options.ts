/**
 * The options of `sessionize`: what a pipeline writes ({@link SessionizeOptions}), its JSON
 * schema and its resolution into the {@link SessionizeConfig} the logic runs on.
 */
import { DURATION_PATTERN, parseDuration, type Duration } from '../../lib/time/duration.js';

/** Options of `sessionize` as written in a pipeline. */
export interface SessionizeOptions {
  /**
   * Session key: a field path or a list of paths (first non-null). Default
   * `[personId, anonymousId, userId]`: the person after `joinIdentity`; without it the device,
   * so that logging in mid-visit (an event that adds `userId`) does not split the session;
   * `userId` for server-side events that carry no device id.
   */
  key?: string | string[];
  /** Inactivity that ends a session, in event time (inclusive). Default `30m`. */
  gap?: Duration;
  /** Longest span `end − start` of one session (inclusive). Default `24h`. */
  maxDuration?: Duration;
  /** Stream that receives one record per closed session. Default: none (events are only annotated). */
  output?: string;
  /** Step name, when a pipeline has two sessionize steps. */
  name?: string;
}

/** Resolved options. */
export interface SessionizeConfig {
  key: string[];
  gapMs: number;
  maxDurationMs: number;
  output: string | undefined;
}

const positive = (option: string, value: Duration): number => {
  const ms = parseDuration(value);
  if (ms <= 0) throw new Error(`${option}: ${JSON.stringify(value)} must be longer than 0 (e.g. ${option === 'gap' ? '30m' : '24h'})`);
  return ms;
};

/** The JSON schema of {@link SessionizeOptions}. */
export const sessionizeOptionsSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  properties: {
    key: {
      description: 'session key: a field path or list of paths, first non-null wins (default [personId, anonymousId, userId])',
      oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
    },
    gap: { description: 'inactivity that ends a session, inclusive, in event time (default 30m)', type: 'string', pattern: DURATION_PATTERN },
    maxDuration: { description: 'longest span (end - start) of one session, inclusive (default 24h)', type: 'string', pattern: DURATION_PATTERN },
    output: { description: 'stream receiving one record per closed session', type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    name: { description: 'step name (default sessionize)', type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
  },
};

/** Resolves and validates {@link SessionizeOptions} into a {@link SessionizeConfig}. */
export function resolveSessionizeOptions(options: SessionizeOptions): SessionizeConfig {
  return {
    key: options.key === undefined ? ['personId', 'anonymousId', 'userId'] : Array.isArray(options.key) ? options.key : [options.key],
    gapMs: positive('gap', options.gap ?? '30m'),
    maxDurationMs: positive('maxDuration', options.maxDuration ?? '24h'),
    output: options.output,
  };
}
