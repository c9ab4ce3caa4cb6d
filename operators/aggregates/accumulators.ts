/**
 * The aggregates of `windowAggregate`: how each kind reads an event, folds it into its state,
 * merges two states (session windows) and reports its value. States are JSON data, replaced on
 * every change and never modified in place.
 *
 * - `count: {}` — events. `sum`/`min`/`max`/`avg: path` — a finite number at the path (other
 *   events skipped; `sum` of nothing is 0, the others `null`). `sum` and `avg` skip a number
 *   larger in magnitude than {@link MAX_SUMMAND} too, so no window's sum can overflow.
 * - `first`/`last: path` — the value (any JSON, missing skipped) at the earliest/latest event
 *   by event time; the earlier arrival wins a tie for `first`, the later one for `last`.
 * - `countDistinct: path` — distinct values, exact up to 1000 then a HyperLogLog estimate
 *   (≈1.6 % relative standard error; see `hyperloglog.ts`).
 * - `topK: { path, k, capacity? }` — the `k` most frequent values as `[{ value, count }]`, by
 *   count (descending) then value (as JSON text, ascending), from a Space-Saving summary of
 *   `capacity` counters (default max(1000, 10 × k)): exact while the window has at most
 *   `capacity` distinct values; beyond, each count overestimates by at most the smallest
 *   counter ≤ N / capacity (N the events counted). See `space-saving.ts`. Sliding windows
 *   keep exact counts instead and are exact at any number of values (`window-top.ts`).
 * - `rfm: { monetary: path, quantity?: path, order?: path }` — `{ recencyMs, lastAt,
 *   frequency, monetary }`: `lastAt` is the latest event time, `recencyMs = windowEnd − lastAt`,
 *   `frequency` the distinct values of `order` (countDistinct rules; without `order`, the
 *   events), `monetary` the sum of `monetary × quantity` (× 1 without `quantity`) over events
 *   where they are finite numbers and their product is at most {@link MAX_SUMMAND} in magnitude.
 */
import { compileCondition, conditionProblems, type Condition, type Matcher } from '../../lib/condition/condition.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import { getPath, pathProblem } from '../../lib/event/paths.js';
import { addDistinct, countDistinct, distinctKey, EMPTY_DISTINCT, mergeDistinct, type DistinctState } from './hyperloglog.js';
import { addTop, defaultCapacity, EMPTY_TOP, mergeTop, reportTop, type TopState } from './space-saving.js';

/** One aggregate as written: exactly one kind, plus an optional `where`. */
export type AggregateSpec = (
  | { count: Record<string, never> }
  | { sum: string }
  | { min: string }
  | { max: string }
  | { avg: string }
  | { first: string }
  | { last: string }
  | { countDistinct: string }
  | { topK: { path: string; k: number; capacity?: number } }
  | { rfm: { monetary: string; quantity?: string; order?: string } }
) & { where?: Condition };

/** The aggregate kinds. */
export const AGGREGATE_KINDS = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'countDistinct', 'topK', 'rfm'] as const;
export type AggregateKind = (typeof AGGREGATE_KINDS)[number];

/** A resolved aggregate. */
export interface ResolvedAggregate {
  name: string;
  kind: AggregateKind;
  /** The field path (`monetary` for rfm; none for `count`). */
  path: string | undefined;
  /** topK: how many. */
  k: number;
  /** topK: the counters of its Space-Saving summary (0 for other kinds). */
  capacity: number;
  /** rfm: the quantity and order paths. */
  quantity: string | undefined;
  order: string | undefined;
  where: Matcher | undefined;
}

interface RfmState {
  last: number;
  n: number;
  m: number;
  orders: DistinctState;
}

/** The state of one aggregate. */
export type Acc = number | null | { s: number; n: number } | { t: number; v: unknown } | DistinctState | TopState | RfmState;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The largest magnitude a summed value (`sum`, `avg`, the monetary of `rfm`) may have: 2^992, so
 * that no sum of up to 2^32 of them (more entries than any window holds) overflows to ±Infinity.
 * Two values of 1.7e308 would otherwise make a key's sum Infinity for the window's whole length,
 * and every score of it invalid, from two records.
 */
export const MAX_SUMMAND = 2 ** 992;
const summable = (v: unknown): v is number => typeof v === 'number' && Math.abs(v) <= MAX_SUMMAND;

/** What an event contributes to each aggregate, as `[index, value]`, for those it counts in. */
export function contributions(aggregates: readonly ResolvedAggregate[], event: TributaryEvent): Array<[number, unknown]> {
  const out: Array<[number, unknown]> = [];
  for (let i = 0; i < aggregates.length; i++) {
    const a = aggregates[i] as ResolvedAggregate;
    if (a.where && !a.where(event)) continue;
    switch (a.kind) {
      case 'count':
        out.push([i, 1]);
        continue;
      case 'rfm': {
        const price = getPath(event, a.path as string);
        const qty = a.quantity === undefined ? 1 : getPath(event, a.quantity);
        // A product that overflows (1e20 × 1e300) or could make the sum overflow counts 0, as a
        // price or quantity that is not a finite number does: Infinity in the sum would poison
        // the key's monetary (and every score of it) for the window's whole length.
        const product = finite(price) && finite(qty) ? price * qty : 0;
        const amount = summable(product) ? product : 0;
        const order = a.order === undefined ? null : getPath(event, a.order);
        out.push([i, [order === undefined || order === null ? null : distinctKey(order), amount]]);
        continue;
      }
      default: {
        const v = getPath(event, a.path as string);
        if (v === undefined) continue;
        if (a.kind === 'countDistinct') out.push([i, distinctKey(v)]);
        else if (a.kind === 'topK') out.push([i, JSON.stringify(v)]);
        else if (a.kind === 'first' || a.kind === 'last') out.push([i, v]);
        else if (a.kind === 'sum' || a.kind === 'avg' ? summable(v) : finite(v)) out.push([i, v]);
      }
    }
  }
  return out;
}

/** The state before any event. */
export function initial(a: ResolvedAggregate): Acc {
  switch (a.kind) {
    case 'count':
    case 'sum':
      return 0;
    case 'countDistinct':
      return EMPTY_DISTINCT;
    case 'topK':
      return EMPTY_TOP;
    case 'rfm':
      return { last: -Infinity, n: 0, m: 0, orders: EMPTY_DISTINCT };
    default:
      return null;
  }
}

/** Folds one contribution of an event at `t` into a state (a new state). */
export function fold(a: ResolvedAggregate, acc: Acc, t: number, v: unknown): Acc {
  switch (a.kind) {
    case 'count':
      return (acc as number) + 1;
    case 'sum':
      return (acc as number) + (v as number);
    case 'min':
      return acc === null || (v as number) < (acc as number) ? (v as number) : acc;
    case 'max':
      return acc === null || (v as number) > (acc as number) ? (v as number) : acc;
    case 'avg': {
      const s = acc as { s: number; n: number } | null;
      return { s: (s?.s ?? 0) + (v as number), n: (s?.n ?? 0) + 1 };
    }
    case 'first': {
      const s = acc as { t: number; v: unknown } | null;
      return s === null || t < s.t ? { t, v } : s;
    }
    case 'last': {
      const s = acc as { t: number; v: unknown } | null;
      return s === null || t >= s.t ? { t, v } : s;
    }
    case 'countDistinct':
      return addDistinct(acc as DistinctState, v as string);
    case 'topK':
      return addTop(acc as TopState, v as string, a.capacity);
    case 'rfm': {
      const s = acc as RfmState;
      const [order, amount] = v as [string | null, number];
      return { last: Math.max(s.last, t), n: s.n + 1, m: s.m + amount, orders: order === null ? s.orders : addDistinct(s.orders, order) };
    }
  }
}

/** Merges the states of two windows (`x` the earlier one), for session windows. */
export function merge(a: ResolvedAggregate, x: Acc, y: Acc): Acc {
  switch (a.kind) {
    case 'count':
    case 'sum':
      return (x as number) + (y as number);
    case 'min':
    case 'max':
      if (x === null) return y;
      if (y === null) return x;
      return a.kind === 'min' ? Math.min(x as number, y as number) : Math.max(x as number, y as number);
    case 'avg': {
      const p = x as { s: number; n: number } | null;
      const q = y as { s: number; n: number } | null;
      return p === null ? q : q === null ? p : { s: p.s + q.s, n: p.n + q.n };
    }
    case 'first':
    case 'last': {
      const p = x as { t: number; v: unknown } | null;
      const q = y as { t: number; v: unknown } | null;
      if (p === null) return q;
      if (q === null) return p;
      return a.kind === 'first' ? (q.t < p.t ? q : p) : q.t >= p.t ? q : p;
    }
    case 'countDistinct':
      return mergeDistinct(x as DistinctState, y as DistinctState);
    case 'topK':
      return mergeTop(x as TopState, y as TopState, a.capacity);
    case 'rfm': {
      const p = x as RfmState;
      const q = y as RfmState;
      return { last: Math.max(p.last, q.last), n: p.n + q.n, m: p.m + q.m, orders: mergeDistinct(p.orders, q.orders) };
    }
  }
}

/** The reported value of a state, for a window ending at `windowEnd`. */
export function valueOf(a: ResolvedAggregate, acc: Acc, windowEnd: number): unknown {
  switch (a.kind) {
    case 'avg': {
      const s = acc as { s: number; n: number } | null;
      return s === null ? null : s.s / s.n;
    }
    case 'first':
    case 'last':
      return acc === null ? null : (acc as { t: number; v: unknown }).v;
    case 'countDistinct':
      return countDistinct(acc as DistinctState);
    case 'topK':
      return reportTop(acc as TopState, a.k);
    case 'rfm': {
      const s = acc as RfmState;
      if (s.n === 0) return null;
      return { recencyMs: windowEnd - s.last, lastAt: s.last, frequency: a.order === undefined ? s.n : countDistinct(s.orders), monetary: s.m };
    }
    default:
      return acc;
  }
}

/** `{ <name>: value }` of a window's states. */
export function valuesOf(aggregates: readonly ResolvedAggregate[], acc: readonly Acc[], windowEnd: number): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (let i = 0; i < aggregates.length; i++) {
    const a = aggregates[i] as ResolvedAggregate;
    const v = valueOf(a, acc[i] as Acc, windowEnd);
    // defineProperty for names the prototype has: an aggregate named `__proto__` stays data.
    if (a.name in values) Object.defineProperty(values, a.name, { value: v, enumerable: true, writable: true, configurable: true });
    else values[a.name] = v;
  }
  return values;
}

function checkedPath(at: string, p: unknown): string {
  if (typeof p !== 'string' || p.length === 0) throw new Error(`${at}: must be a field path, e.g. properties.price`);
  const problem = pathProblem(p);
  if (problem) throw new Error(`${at}: ${problem}`);
  return p;
}

/** Resolves one aggregate; throws an Error naming `aggregates.<name>…` and the fix. */
export function resolveAggregate(name: string, spec: AggregateSpec): ResolvedAggregate {
  const at = `aggregates.${name}`;
  if (spec === null || typeof spec !== 'object') throw new Error(`${at}: must be a mapping like { sum: properties.price }`);
  const kinds = AGGREGATE_KINDS.filter((k) => Object.prototype.hasOwnProperty.call(spec, k));
  const kind = kinds[0];
  if (kind === undefined || kinds.length > 1) throw new Error(`${at}: give exactly one of ${AGGREGATE_KINDS.join(', ')} (got ${kinds.join(', ') || 'none'})`);
  const raw = (spec as Record<string, unknown>)[kind];
  let path: string | undefined;
  let k = 0;
  let capacity = 0;
  let quantity: string | undefined;
  let order: string | undefined;
  if (kind === 'topK') {
    const o = raw as { path?: unknown; k?: unknown; capacity?: unknown };
    path = checkedPath(`${at}.topK.path`, o?.path);
    if (typeof o.k !== 'number' || !Number.isInteger(o.k) || o.k < 1) throw new Error(`${at}.topK.k: must be a whole number ≥ 1, e.g. 5`);
    k = o.k;
    capacity = defaultCapacity(k);
    if (o.capacity !== undefined) {
      if (typeof o.capacity !== 'number' || !Number.isInteger(o.capacity) || o.capacity < k) {
        throw new Error(`${at}.topK.capacity: must be a whole number ≥ k (${k}), e.g. ${defaultCapacity(k)}; counts are exact up to that many distinct values`);
      }
      capacity = o.capacity;
    }
  } else if (kind === 'rfm') {
    const o = raw as { monetary?: unknown; quantity?: unknown; order?: unknown };
    path = checkedPath(`${at}.rfm.monetary`, o?.monetary);
    if (o.quantity !== undefined) quantity = checkedPath(`${at}.rfm.quantity`, o.quantity);
    if (o.order !== undefined) order = checkedPath(`${at}.rfm.order`, o.order);
  } else if (kind !== 'count') {
    path = checkedPath(`${at}.${kind}`, raw);
  }
  let where: Matcher | undefined;
  if (spec.where !== undefined) {
    const problems = conditionProblems(spec.where);
    if (problems.length > 0) throw new Error(problems.map((p) => (p.startsWith('a condition') ? `${at}.where: ${p}` : `${at}.where.${p}`)).join('; '));
    where = compileCondition(spec.where);
  }
  return { name, kind, path, k, capacity, quantity, order, where };
}

const pathSchema = { type: 'string', minLength: 1 };

/** JSON Schema of one aggregate (for the operator's options schema). */
export function aggregateSchema(conditionSchema: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      count: { type: 'object', additionalProperties: false, description: 'number of events' },
      sum: { ...pathSchema, description: 'sum of a numeric field' },
      min: { ...pathSchema, description: 'smallest value of a numeric field (null when none)' },
      max: { ...pathSchema, description: 'largest value of a numeric field (null when none)' },
      avg: { ...pathSchema, description: 'mean of a numeric field (null when none)' },
      first: { ...pathSchema, description: 'value of the field at the earliest event' },
      last: { ...pathSchema, description: 'value of the field at the latest event' },
      countDistinct: { ...pathSchema, description: 'distinct values of a field: exact up to 1000, then a HyperLogLog estimate (~1.6% standard error)' },
      topK: {
        type: 'object',
        additionalProperties: false,
        required: ['path', 'k'],
        description: 'the k most frequent values of a field, with counts (Space-Saving: exact up to capacity distinct values, then each count overestimates by at most N/capacity; sliding windows: always exact)',
        properties: {
          path: pathSchema,
          k: { type: 'integer', minimum: 1 },
          capacity: { type: 'integer', minimum: 1, description: 'counters kept (default max(1000, 10 × k)); at least k; not used by sliding windows' },
        },
      },
      rfm: {
        type: 'object',
        additionalProperties: false,
        required: ['monetary'],
        description: 'recency, frequency (distinct orders) and monetary (sum of monetary × quantity)',
        properties: { monetary: pathSchema, quantity: pathSchema, order: pathSchema },
      },
      where: { ...conditionSchema, description: 'only events matching this condition count' },
    },
  };
}
