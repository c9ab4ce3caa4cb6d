/**
 * The one condition language of Tributary: `where` filters, trigger `first`/`then` matchers,
 * channel conditions and segments all use it. It is MongoDB-style query matching by
 * [sift](https://github.com/crcn/sift.js) over an allowlist of operators — no `$where`, no code:
 * a condition is data, validated when the pipeline is loaded.
 *
 * - `{ event: purchase }` — equality on a dotted path (`properties.price`, `context.channel`).
 * - `{ 'properties.price': { $gte: 100 } }` — comparisons `$eq $ne $gt $gte $lt $lte`.
 * - `{ event: { $in: [add_to_cart, purchase] } }` — `$in $nin $all $size $elemMatch`.
 * - `{ 'traits.email': { $exists: true } }`, `{ 'properties.url': { $regex: '^/checkout' } }`.
 * - `{ $or: [ … ] }`, `$and`, `$nor`, and `{ field: { $not: { … } } }`.
 * A condition object with several keys means all of them (implicit `$and`).
 */
import v8 from 'node:v8';
import sift from 'sift';
import { pathProblem } from '../event/paths.js';
import { plainEquality } from './equality.js';

// A `$regex` like ^(a+)+$ backtracks exponentially on some values (35 a's and a b: hours) and
// would stall the pipeline on one record. V8 switches a regexp that backtracks excessively to
// its linear-time engine (same results, no backtracking) when this flag is on; set once, for
// every regexp the process compiles. Patterns that engine cannot run (backreferences) are
// refused at validation instead.
v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

// sift is CommonJS: its named exports are read off the default export.
const { $all, $and, $elemMatch, $eq, $exists, $gt, $gte, $in, $lt, $lte, $ne, $nin, $nor, $not, $options, $or, $regex, $size, createQueryTester } = sift;

/** A condition as written in a pipeline. */
export type Condition = Record<string, unknown>;

const OPERATIONS = { $all, $and, $elemMatch, $eq, $exists, $gt, $gte, $in, $lt, $lte, $ne, $nin, $nor, $not, $options, $or, $regex, $size };

/** The operators a condition may use (no `$where`, `$type`, `$mod`: data only). */
export const CONDITION_OPERATORS: readonly string[] = Object.keys(OPERATIONS);

/** A compiled condition. */
export type Matcher = (record: unknown) => boolean;

/**
 * Lists what is wrong with a condition (unknown `$` operators, bad regexes); empty when valid.
 * Paths in the messages are relative to the condition.
 *
 * @example
 * ```ts
 * conditionProblems({ event: { $where: 'x' } }); // ['event.$where: unknown operator $where (allowed: $all, $and, …)']
 * ```
 */
export function conditionProblems(condition: unknown, path = ''): string[] {
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (condition === null || typeof condition !== 'object') return path ? [] : ['a condition must be a mapping, e.g. { event: purchase }'];
  if (Array.isArray(condition)) return condition.flatMap((c, i) => conditionProblems(c, `${path}[${i}]`));
  const problems: string[] = [];
  for (const [k, v] of Object.entries(condition as Record<string, unknown>)) {
    if (k.startsWith('$')) {
      if (!CONDITION_OPERATORS.includes(k)) {
        problems.push(`${at(k)}: unknown operator ${k} (allowed: ${CONDITION_OPERATORS.join(', ')})`);
        continue;
      }
      if (k === '$regex' && typeof v === 'string') {
        try {
          new RegExp(v);
          // The linear-time engine (below) cannot run backreferences: such a pattern could backtrack without bound.
          if (/\\[1-9]|\\k</.test(v)) problems.push(`${at(k)}: ${JSON.stringify(v)} uses a backreference, which can take exponential time on some values; rewrite it without one`);
        } catch (e) {
          problems.push(`${at(k)}: ${(e as Error).message}`);
        }
      }
      if ((k === '$and' || k === '$or' || k === '$nor') && !Array.isArray(v)) problems.push(`${at(k)}: must be a list of conditions`);
      if ((k === '$in' || k === '$nin' || k === '$all') && !Array.isArray(v)) problems.push(`${at(k)}: must be a list of values`);
    } else {
      const bad = pathProblem(k);
      if (bad !== undefined) problems.push(`${at(k)}: ${JSON.stringify(k)} is not a usable field path (${bad}); write a dotted path of field names, e.g. properties.price`);
    }
    if (v !== null && typeof v === 'object') problems.push(...conditionProblems(v, at(k)));
  }
  return problems;
}

/**
 * Compiles a condition; throws an Error listing its problems.
 *
 * @example
 * ```ts
 * const isBigPurchase = compileCondition({ event: 'purchase', 'properties.revenue': { $gte: 100 } });
 * isBigPurchase({ event: 'purchase', properties: { revenue: 120 } }); // true
 * ```
 */
export function compileCondition(condition: Condition): Matcher {
  const problems = conditionProblems(condition);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const test = createQueryTester(condition, { operations: OPERATIONS });
  // `{ event: purchase }` and the like: a plain walk, asking sift only where it is undecided.
  const fast = plainEquality(condition);
  if (fast === undefined) return (record) => test(record);
  return (record) => fast(record) ?? test(record);
}

/** JSON Schema of a condition, for operator option schemas. */
export const conditionSchema = { type: 'object', description: 'a condition: MongoDB-style query on dotted paths (see lib/condition/condition.ts)' } as const;
