/**
 * The options of `joinIdentity`: what a pipeline writes ({@link JoinIdentityOptions}), its JSON
 * schema and its resolution, with defaults and validation, into the {@link JoinIdentityConfig}
 * the lookup and the resolver run on.
 */
import { pathProblem } from '../../lib/event/paths.js';
import { USER } from './identifiers.js';

/** Options of `joinIdentity` as written in a pipeline. */
export interface JoinIdentityOptions {
  /** Identifier fields (paths). Default `[userId, anonymousId]`; add traits such as `traits.emailHash`. */
  identifiers?: string[];
  /** Stream that receives merge and refusal records. Default `identity-merges`. */
  output?: string;
  /** User ids one person may hold; a link beyond it is refused unless it is an `alias`. Default 1. */
  maxUserIds?: number;
  /** Identifiers one person may hold; a link beyond it is refused. Default 100. */
  maxIdentifiersPerPerson?: number;
  /** Links that may be applied through one identifier; beyond it a link is refused. Default 50. */
  maxLinksPerIdentifier?: number;
  /**
   * How the Kafka runtime runs it (embedded runs are the same either way). `single-task`
   * (default): every event through one task behind a single-partition topic, person ids exactly
   * as embedded, at most one task's throughput. `global-table`: a lookup in every task over a
   * global table, one resolver task for the events that change the graph.
   */
  mode?: 'single-task' | 'global-table';
  /** Step name, when a pipeline has two joinIdentity steps. */
  name?: string;
}

/** Resolved options. */
export interface JoinIdentityConfig {
  identifiers: string[];
  output: string;
  maxUserIds: number;
  maxIdentifiersPerPerson: number;
  maxLinksPerIdentifier: number;
  mode: 'single-task' | 'global-table';
}

const MAX_PATH = 100;
const STREAM_NAME = '^[a-z][a-z0-9-]*$';

function positiveInt(name: string, value: number | undefined, dflt: number, min: number): number {
  const v = value ?? dflt;
  if (!Number.isInteger(v) || v < min) throw new Error(`joinIdentity.${name}: ${JSON.stringify(value)} is not an integer ≥ ${min}`);
  return v;
}

/** The JSON schema of {@link JoinIdentityOptions}. */
export const joinIdentityOptionsSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  properties: {
    identifiers: {
      description: 'identifier field paths (default [userId, anonymousId]); e.g. add traits.emailHash',
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: MAX_PATH, pattern: '^[^:#]+$' },
      minItems: 1,
      uniqueItems: true,
    },
    output: { description: 'stream receiving merge and refusal records (default identity-merges)', type: 'string', pattern: STREAM_NAME },
    maxUserIds: { description: 'user ids one person may hold; only an alias goes beyond (default 1)', type: 'integer', minimum: 1 },
    maxIdentifiersPerPerson: { description: 'identifiers one person may hold (default 100)', type: 'integer', minimum: 2 },
    maxLinksPerIdentifier: { description: 'links applied through one identifier (default 50)', type: 'integer', minimum: 1 },
    mode: {
      description: 'Kafka runtime: single-task (default; every event through one task, ids as embedded) or global-table (a lookup in every task, one resolver task; eventually consistent)',
      enum: ['single-task', 'global-table'],
    },
    name: { description: 'step name (default joinIdentity)', type: 'string', pattern: STREAM_NAME },
  },
};

/**
 * Resolves and validates the options: defaults applied, identifier paths checked.
 *
 * @example
 * ```ts
 * resolveJoinIdentityOptions({ identifiers: ['userId', 'traits.emailHash'] }).maxUserIds; // 1
 * ```
 */
export function resolveJoinIdentityOptions(options: JoinIdentityOptions): JoinIdentityConfig {
  const identifiers = options.identifiers ?? [USER, 'anonymousId'];
  if (identifiers.length === 0) throw new Error('joinIdentity.identifiers: list at least one field path (e.g. [userId, anonymousId])');
  for (const p of identifiers) {
    const problem = pathProblem(p) ?? (/[:#]/.test(p) ? 'contains ":" or "#"' : p.length > MAX_PATH ? `longer than ${MAX_PATH}` : undefined);
    if (problem) throw new Error(`joinIdentity.identifiers: ${JSON.stringify(p)} is not usable (${problem})`);
    if (p === 'personId') throw new Error('joinIdentity.identifiers: personId is what joinIdentity writes; it cannot be an identifier');
  }
  if (new Set(identifiers).size !== identifiers.length) throw new Error(`joinIdentity.identifiers: ${JSON.stringify(identifiers)} lists a field twice`);
  return {
    identifiers: [...identifiers],
    output: options.output ?? 'identity-merges',
    maxUserIds: positiveInt('maxUserIds', options.maxUserIds, 1, 1),
    maxIdentifiersPerPerson: positiveInt('maxIdentifiersPerPerson', options.maxIdentifiersPerPerson, 100, 2),
    maxLinksPerIdentifier: positiveInt('maxLinksPerIdentifier', options.maxLinksPerIdentifier, 50, 1),
    mode: options.mode ?? 'single-task',
  };
}
