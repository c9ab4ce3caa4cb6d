/**
 * The common condition `{ event: purchase }` (or several such keys) tested without sift: a
 * plain walk of each dotted path compared with `===`. sift walks into arrays, calls `toJSON`,
 * compares Dates by time and reads properties of strings, so whenever the walk meets anything
 * but plain objects and a primitive at the end, it answers "undecided" and the caller asks sift.
 * So the answer is always sift's (checked over generated and hostile records in
 * `test/condition/equality.test.ts`); only the cost differs: a third of a sift call.
 *
 * @module
 */

/** A condition value tested by `===`: a string, a finite number or a boolean. */
type Scalar = string | number | boolean;

/** One `path: scalar` pair, the path split at its dots. */
interface Pair {
  parts: readonly string[];
  value: Scalar;
}

/**
 * A tester for a condition whose keys are all field paths with a string, finite number or
 * boolean value, or `undefined` for any other condition. The tester returns whether the record
 * matches, or `undefined` when the walk met something only sift may judge (an array, a Date or
 * other object that is not plain, a property of a primitive).
 *
 * @example
 * ```ts
 * const t = plainEquality({ event: 'purchase', 'context.channel': 'web' });
 * t?.({ event: 'purchase', context: { channel: 'web' } }); // true
 * t?.({ event: ['purchase'] });                            // undefined: ask sift
 * ```
 */
export function plainEquality(condition: Record<string, unknown>): ((record: unknown) => boolean | undefined) | undefined {
  const pairs: Pair[] = [];
  for (const key of Object.keys(condition)) {
    const value = condition[key];
    if (key.startsWith('$') || key === '') return undefined;
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      pairs.push({ parts: key.split('.'), value });
    } else return undefined;
  }
  if (pairs.length === 0) return undefined;
  return (record) => {
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i] as Pair;
      const found = valueAt(record, pair.parts);
      if (found === UNDECIDED) return undefined;
      if (found !== pair.value) return false;
    }
    return true;
  };
}

/** Marks a walk that only sift may judge. */
const UNDECIDED: unique symbol = Symbol('undecided');

/** A plain object: Object.prototype or no prototype (what JSON.parse and object literals make). */
function isPlain(x: object): boolean {
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The primitive at `parts`, `undefined` when a part is missing (or only inherited), or
 * {@link UNDECIDED} when the walk meets an array, a non-plain object or a primitive before the
 * end, or ends at an object.
 */
function valueAt(record: unknown, parts: readonly string[]): unknown {
  let cur: unknown = record;
  for (let i = 0; i < parts.length; i++) {
    if (cur === undefined || cur === null) return undefined;
    if (typeof cur !== 'object' || Array.isArray(cur) || !isPlain(cur)) return UNDECIDED;
    const part = parts[i] as string;
    cur = Object.hasOwn(cur, part) ? (cur as Record<string, unknown>)[part] : undefined;
  }
  if (cur !== null && (typeof cur === 'object' || typeof cur === 'function')) return UNDECIDED;
  return cur;
}
