/**
 * The common conditions — `{ event: purchase }`, `$eq`, `$in` of such values, and `$and` / `$or`
 * of them — tested without sift: a plain walk of each dotted path compared with `===`. sift
 * walks into arrays, calls `toJSON`, compares Dates by time and reads properties of strings, so
 * whenever the walk meets anything but plain objects and a primitive at the end, it answers
 * "undecided" and the caller asks sift.
 * So the answer is always sift's (checked over generated and hostile records in
 * `test/condition/equality.test.ts`); only the cost differs: a third of a sift call for an
 * equality, a tenth for an `$or` of `$in`s.
 *
 * @module
 */

/** A condition value tested by `===`: a string, a finite number or a boolean. */
type Scalar = string | number | boolean;

/** A compiled part of a condition: true or false, or undefined when only sift may judge. */
type Tester = (record: unknown) => boolean | undefined;

const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/**
 * A tester for a condition made only of field paths compared with a string, finite number or
 * boolean (`{ event: purchase }`, `{ event: { $eq: purchase } }`, `{ event: { $in: [a, b] } }`),
 * combined by implicit and, `$and` and `$or`; `undefined` for any other condition. The tester
 * returns whether the record matches, or `undefined` when a walk met something only sift may
 * judge (an array, a Date or other object that is not plain, a property of a primitive).
 *
 * @example
 * ```ts
 * const t = plainEquality({ $or: [{ event: { $in: ['purchase', 'refund'] } }, { 'context.channel': 'web' }] });
 * t?.({ event: 'purchase' });   // true
 * t?.({ event: ['purchase'] }); // undefined: ask sift
 * ```
 */
export function plainEquality(condition: Record<string, unknown>): Tester | undefined {
  const parts: Tester[] = [];
  for (const key of Object.keys(condition)) {
    const value = condition[key];
    let t: Tester | undefined;
    if (key === '$or' || key === '$and') t = combined(key, value);
    else if (key.startsWith('$') || key === '') return undefined;
    else t = field(key.split('.'), value);
    if (t === undefined) return undefined;
    parts.push(t);
  }
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : joined(parts, false);
}

/** `$or` / `$and` of conditions that are all of the plain kind. */
function combined(op: '$or' | '$and', list: unknown): Tester | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const parts: Tester[] = [];
  for (const c of list) {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) return undefined;
    const t = plainEquality(c as Record<string, unknown>);
    if (t === undefined) return undefined;
    parts.push(t);
  }
  return joined(parts, op === '$or');
}

/**
 * The parts joined by or (`decisive` true: the first true decides) or by and (`decisive` false:
 * the first false decides). No part deciding and one undecided: sift judges the whole.
 */
function joined(parts: readonly Tester[], decisive: boolean): Tester {
  return (record) => {
    let undecided = false;
    for (let i = 0; i < parts.length; i++) {
      const r = (parts[i] as Tester)(record);
      if (r === decisive) return decisive;
      if (r === undefined) undecided = true;
    }
    return undecided ? undefined : !decisive;
  };
}

/** One `path: scalar`, `path: { $eq: scalar }` or `path: { $in: [scalars] }`. */
function field(path: readonly string[], value: unknown): Tester | undefined {
  let accepted: readonly Scalar[];
  if (isScalar(value)) accepted = [value];
  else if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1) {
    const [op, arg] = Object.entries(value)[0] as [string, unknown];
    if (op === '$eq' && isScalar(arg)) accepted = [arg];
    else if (op === '$in' && Array.isArray(arg) && arg.length > 0 && arg.every(isScalar)) accepted = arg as Scalar[];
    else return undefined;
  } else return undefined;
  if (accepted.length === 1) {
    const only = accepted[0];
    return (record) => {
      const found = valueAt(record, path);
      return found === UNDECIDED ? undefined : found === only;
    };
  }
  return (record) => {
    const found = valueAt(record, path);
    return found === UNDECIDED ? undefined : accepted.includes(found as Scalar);
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
