/**
 * The RxJS operators' options checked against each operator's own schema, the one a pipeline
 * definition's steps are checked against: a misspelt or misplaced option (`wehre`, `where` inside
 * `count`) or a wrong type (`key: 5`, `identifiers: 'userId'`) is an error when the operator is
 * made, not records silently counted wrong or every record a `missing-key` dead letter.
 *
 * @module
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

const ajv = new Ajv({ allErrors: true, strict: false });
/** Each operator's compiled schema (compiled on first use). */
const compiled = new WeakMap<object, ValidateFunction>();

/** One line per problem: the option's path, what is wrong, the offending key of an unknown one. */
function describe(e: ErrorObject): string {
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(options)';
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})`
    : e.keyword === 'enum' ? ` (${((e.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')})` : '';
  return `${path}: ${e.message ?? 'invalid'}${extra}`;
}

/**
 * The problems of `options` (without the `wiring` keys, and without keys whose value is
 * undefined) against the operator's options schema; empty when it conforms.
 *
 * @example
 * ```ts
 * optionsProblems(dedupeOperator, { ttl: 5 }, new Set()); // ['ttl: must be string']
 * ```
 */
export function optionsProblems(definition: { optionsSchema: Record<string, unknown> }, options: object, wiring: ReadonlySet<string>): string[] {
  let validate = compiled.get(definition);
  if (validate === undefined) compiled.set(definition, (validate = ajv.compile(definition.optionsSchema)));
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!wiring.has(k) && v !== undefined) own[k] = v;
  if (validate(own)) return [];
  return [...new Set((validate.errors ?? []).map(describe))];
}
