/**
 * Range scans over ordered keys: {@link planRange} validates `RangeOptions` and reduces
 * start/end/prefix to two bounds, and the B+ tree helpers walk an in-memory key tree within
 * them (the memory store and the LMDB write buffer). Key order itself is `key-order.ts`.
 *
 * @module
 */
import { BTree, compareBoundKeys, KEY_PART_MAX, keyParts, validateBound, type BoundKey } from './key-order.js';
import type { RangeOptions } from './store.js';

/** One end of a range: a key (or internal bound) and whether a key equal to it is in range. @internal */
export interface Bound {
  key: BoundKey;
  inclusive: boolean;
}

/**
 * A validated range: iteration starts at `from` (always inclusive; the first key in iteration
 * order) and stops at the first key past `to`. @internal
 */
export interface RangePlan {
  reverse: boolean;
  limit: number;
  from: Bound | undefined;
  to: Bound | undefined;
  /** True when the bounds cannot contain any key. */
  empty: boolean;
}

/** Validates {@link RangeOptions} and reduces start/end/prefix to two bounds. @internal */
export function planRange(store: string, options: RangeOptions = {}): RangePlan {
  const reverse = options.reverse === true;
  let limit = Infinity;
  if (options.limit !== undefined) {
    if (!Number.isInteger(options.limit) || options.limit < 0) {
      throw new RangeError(`store "${store}": range limit must be a non-negative integer, got ${String(options.limit)}`);
    }
    limit = options.limit;
  }
  const start = options.start === undefined ? undefined : validateBound(store, options.start, 'start');
  const end = options.end === undefined ? undefined : validateBound(store, options.end, 'end');
  let prefixLow: Bound | undefined;
  let prefixHigh: Bound | undefined;
  if (options.prefix !== undefined) {
    const p = validateBound(store, options.prefix, 'prefix');
    prefixLow = { key: p, inclusive: true };
    prefixHigh = { key: [...keyParts(p), KEY_PART_MAX], inclusive: false };
  }
  let from: Bound | undefined;
  let to: Bound | undefined;
  if (!reverse) {
    // from = the higher of the lower bounds, to = the lower of the upper bounds.
    from = tighter(start === undefined ? undefined : { key: start, inclusive: true }, prefixLow, 1);
    to = tighter(end === undefined ? undefined : { key: end, inclusive: false }, prefixHigh, -1);
  } else {
    // Reverse: start is the (inclusive) upper bound, end the (exclusive) lower one.
    from = tighter(start === undefined ? undefined : { key: start, inclusive: true }, prefixHigh, -1);
    to = tighter(end === undefined ? undefined : { key: end, inclusive: false }, prefixLow, 1);
    if (from !== undefined) from = { key: from.key, inclusive: true }; // nothing equals a prefix's upper bound
  }
  let empty = limit === 0;
  if (!empty && from !== undefined && to !== undefined) empty = beyond({ reverse, to }, from.key);
  return { reverse, limit, from, to, empty };
}

/** Picks the tighter of two bounds; `sign` 1 keeps the higher key, -1 the lower. Ties: exclusive. */
function tighter(a: Bound | undefined, b: Bound | undefined, sign: 1 | -1): Bound | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const c = compareBoundKeys(a.key, b.key) * sign;
  if (c > 0) return a;
  if (c < 0) return b;
  return a.inclusive ? b : a;
}

/** True when `key` lies past the plan's `to` bound in iteration order. @internal */
export function beyond(plan: Pick<RangePlan, 'reverse' | 'to'>, key: BoundKey): boolean {
  const to = plan.to;
  if (to === undefined) return false;
  const c = compareBoundKeys(key, to.key);
  return plan.reverse ? c < 0 || (c === 0 && !to.inclusive) : c > 0 || (c === 0 && !to.inclusive);
}

/** The first pair of `tree` in the plan's range, or undefined. @internal */
export function firstPair<V>(tree: BTree<BoundKey, V>, plan: RangePlan): [BoundKey, V] | undefined {
  const from = plan.from;
  const pair = plan.reverse
    ? from === undefined
      ? tree.nextLowerPair(undefined)
      : tree.getPairOrNextLower(from.key)
    : from === undefined
      ? tree.nextHigherPair(undefined)
      : tree.getPairOrNextHigher(from.key);
  return pair === undefined || beyond(plan, pair[0]) ? undefined : pair;
}

/**
 * The pair after `cursor` in iteration order, or undefined past the range. Looks the tree up
 * again each step (O(log n)), so writes made while a range is being iterated are safe: keys
 * ahead of the cursor are seen as they are when reached.
 * @internal
 */
export function nextPair<V>(tree: BTree<BoundKey, V>, plan: RangePlan, cursor: BoundKey): [BoundKey, V] | undefined {
  const pair = plan.reverse ? tree.nextLowerPair(cursor) : tree.nextHigherPair(cursor);
  return pair === undefined || beyond(plan, pair[0]) ? undefined : pair;
}

/** A new tree ordered by {@link compareKeys}. @internal */
export function newKeyTree<V>(): BTree<BoundKey, V> {
  return new BTree<BoundKey, V>(undefined, compareBoundKeys);
}
