/**
 * The options of `consent` ({@link ConsentOptions}), their JSON schema and their resolution.
 */
import { pathProblem } from '../../lib/event/paths.js';

/** Options of `consent` as written in a pipeline. */
export interface ConsentOptions {
  /** Key: a field path or a list of paths (first non-null). Default `personId`. */
  key?: string | string[];
  /** Where events carry consent flags (`{ <channel>: true|false }`). Default `context.consent`. */
  from?: string;
  /** Where each passing event gets the merged consent in force at its event time. Default `context.consent`. */
  field?: string;
  /** Step name, when a pipeline has two consent steps. */
  name?: string;
}

/** Resolved options. */
export interface ConsentConfig {
  key: string[];
  from: string;
  field: string;
}

const path = (description: string) => ({ description, type: 'string', minLength: 1 });

/** The JSON schema of {@link ConsentOptions}. */
export const consentOptionsSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  properties: {
    key: {
      description: 'key: a field path or list of paths, first non-null wins (default personId)',
      oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
    },
    from: path('field path of the consent flags events carry, { <channel>: true|false } (default context.consent)'),
    field: path('field path each passing event gets the merged consent in force at its event time at (default context.consent)'),
    name: { description: 'step name (default consent)', type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
  },
};

/** Validates `options` and applies the defaults. */
export function resolveConsentOptions(o: ConsentOptions): ConsentConfig {
  const config = {
    key: o.key === undefined ? ['personId'] : Array.isArray(o.key) ? o.key : [o.key],
    from: o.from ?? 'context.consent',
    field: o.field ?? 'context.consent',
  };
  for (const [option, p] of [['from', config.from], ['field', config.field]] as const) {
    const problem = pathProblem(p);
    if (problem) throw new Error(`${option}: ${JSON.stringify(p)} is not a field path (${problem})`);
  }
  return config;
}
