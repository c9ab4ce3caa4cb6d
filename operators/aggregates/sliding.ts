/**
 * Incremental sliding windows: the accumulators of one window `(t − size, t]` over a key's
 * entries (sorted by event time, ties in arrival order), moved forward as `t` grows, equal at
 * every step to a left fold (`initial`, then `fold` of each contribution in entry order) over
 * the entries in the window — to the last bit (topK: the exact top k of the window instead).
 *
 * Moving the window folds the entries that enter (they come after every entry in it, so this
 * is the fold's own order) and takes out those that leave (a prefix of the window):
 *
 * - `count`: −1. `countDistinct` and the orders of `rfm`: a count per distinct value; a value
 *   leaves the set when its count reaches 0 (the state is a function of the set: the sorted
 *   list up to 1000 values, else the HyperLogLog registers, rebuilt from the remaining values).
 *   `topK` keeps a count per distinct value too, and its state is the exact top k of those
 *   counts (`window-top.ts`), at any number of distinct values: where the window has at most
 *   `capacity` distinct values this is what the left fold reports; beyond, it is exact where
 *   the fold's Space-Saving summary would overestimate.
 * - `sum`, `avg` and the monetary of `rfm`: subtracted only when exact — every contribution in
 *   the window an integer and Σ|v| < 2^53, so every partial sum of any order is exact; otherwise
 *   that aggregate alone is refolded over the window (floating sums never drift by a digit).
 * - `min`/`max`: refolded only when the leaving value equals the current one. `first`: when a
 *   leaving entry contributed, the next contributing entry is found. `last` and the recency of
 *   `rfm` do not change while the aggregate still has a contribution in the window.
 * - Every aggregate returns to `initial` when its last contribution leaves.
 *
 * An entry inserted inside the window (an out-of-order event, for the head window of
 * `emit: update`/`annotate`) folds directly where the result does not depend on the order
 * (count, countDistinct, topK, first/last — ties go to the earlier
 * arrival, which the insert respects — exact sums, min/max unless tied); otherwise that
 * aggregate is refolded.
 */
import { fold, initial, type Acc, type ResolvedAggregate } from './accumulators.js';
import { distinctOfSet, type DistinctState } from './hyperloglog.js';
import type { TopState } from './space-saving.js';
import { bump, isWindowTop, windowTop, windowTopAdded, windowTopRemoved } from './window-top.js';

/** What one event contributes, as `[aggregate index, value]` (see `contributions`). */
export type Contribution = Array<[number, unknown]>;

/** A key's entries: times ascending (ties in arrival order) and what each contributes. */
export interface EntryList {
  ts: number[];
  cs: Contribution[];
}

/**
 * Read access to a key's entries in order, however they are kept: two arrays in memory
 * ({@link EntryList}), or time buckets loaded as they are reached (`window-aggregate/chunks.ts`).
 */
export interface Entries {
  readonly length: number;
  /** The time of entry `j`. */
  time(j: number): number;
  /** What entry `j` contributes. */
  contribution(j: number): Contribution;
  /** The index of the first entry with a time > `x`. */
  upperBound(x: number): number;
}

/** {@link Entries} over two arrays. */
class FlatEntries implements Entries {
  constructor(private readonly list: EntryList) {}
  get length(): number {
    return this.list.ts.length;
  }
  time(j: number): number {
    return this.list.ts[j] as number;
  }
  contribution(j: number): Contribution {
    return this.list.cs[j] as Contribution;
  }
  upperBound(x: number): number {
    return upperBound(this.list.ts, x);
  }
}

/** The entries of `list`, as {@link Entries} (arrays are read in place). */
export const entriesOf = (list: EntryList | Entries): Entries => ('ts' in list ? new FlatEntries(list) : list);

/** Per aggregate bookkeeping of a running window (plain data, stored with it). */
export interface Aux {
  /** Contributions in the window. */
  n: number;
  /** sum, avg, rfm: contributions (amounts) in the window that are not integers. */
  bad: number;
  /** sum, avg, rfm: Σ|v| of the integer contributions in the window. */
  abs: number;
  /** countDistinct, topK, rfm: occurrences of each distinct key (rfm: order) in the window (topK: null in windows stored before it kept them, which refold once). */
  counts: Map<string, number> | null;
}

/** The accumulators of the window `(t − size, t]`. */
export interface Running {
  t: number;
  acc: Acc[];
  aux: Aux[];
}

const SAFE = 2 ** 53;

/** The index of the first time > `x`. */
export function upperBound(ts: readonly number[], x: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ts[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const summed = (a: ResolvedAggregate) => a.kind === 'sum' || a.kind === 'avg' || a.kind === 'rfm';
const counted = (a: ResolvedAggregate) => a.kind === 'countDistinct' || a.kind === 'topK' || a.kind === 'rfm';

function freshAux(a: ResolvedAggregate): Aux {
  return { n: 0, bad: 0, abs: 0, counts: counted(a) ? new Map() : null };
}

/** The number a summed aggregate adds (rfm: the amount). */
const amountOf = (a: ResolvedAggregate, v: unknown): number => (a.kind === 'rfm' ? (v as [unknown, number])[1] : (v as number));
/** The distinct key a counted aggregate adds, or null. */
const keyOf = (a: ResolvedAggregate, v: unknown): string | null => (a.kind === 'rfm' ? (v as [string | null, number])[0] : (v as string));

function auxAdd(a: ResolvedAggregate, aux: Aux, v: unknown): void {
  aux.n++;
  if (summed(a)) {
    const x = amountOf(a, v);
    if (Number.isInteger(x)) aux.abs += Math.abs(x);
    else aux.bad++;
  }
  if (aux.counts) {
    const k = keyOf(a, v);
    if (k !== null) bump(aux.counts, k, 1);
  }
}

/** Folds the contribution `v` of an entry at `t` into aggregate `i` of `run` (topK: its window state, from the counts). */
function add(a: ResolvedAggregate, run: Running, i: number, t: number, v: unknown): void {
  const aux = run.aux[i] as Aux;
  auxAdd(a, aux, v);
  if (a.kind === 'topK') run.acc[i] = windowTopAdded(run.acc[i] as TopState, v as string, (aux.counts as Map<string, number>).get(v as string) as number, a.k);
  else run.acc[i] = fold(a, run.acc[i] as Acc, t, v);
}

/** Whether the sum of the window is exact (so a subtraction or a reordering is too). */
const exact = (aux: Aux) => aux.bad === 0 && aux.abs < SAFE;

/** Folds the contributions of the entries `[lo, hi)` to aggregate `i` into `run` from scratch. */
function refold(aggregates: readonly ResolvedAggregate[], list: Entries, lo: number, hi: number, run: Running, i: number): void {
  const a = aggregates[i] as ResolvedAggregate;
  const top = a.kind === 'topK';
  let acc = initial(a);
  const aux = freshAux(a);
  for (let j = lo; j < hi; j++) {
    for (const [k, v] of list.contribution(j)) {
      if (k !== i) continue;
      if (!top) acc = fold(a, acc, list.time(j), v);
      auxAdd(a, aux, v);
    }
  }
  run.acc[i] = top ? windowTop(aux.counts as Map<string, number>, a.k) : acc;
  run.aux[i] = aux;
}

/** `first` after its first contribution left: the first contributing entry of `[lo, hi)`. */
function nextFirst(list: Entries, lo: number, hi: number, i: number): Acc {
  for (let j = lo; j < hi; j++) {
    for (const [k, v] of list.contribution(j)) if (k === i) return { t: list.time(j), v };
  }
  return null;
}

/** The window `(t − size, t]` folded from scratch. */
export function buildRunning(aggregates: readonly ResolvedAggregate[], entries: EntryList | Entries, size: number, t: number): Running {
  const list = entriesOf(entries);
  const run: Running = { t, acc: aggregates.map((a) => initial(a)), aux: aggregates.map((a) => freshAux(a)) };
  const lo = list.upperBound(t - size);
  const hi = list.upperBound(t);
  for (let j = lo; j < hi; j++) {
    const tj = list.time(j);
    for (const [i, v] of list.contribution(j)) {
      const a = aggregates[i] as ResolvedAggregate;
      if (a.kind !== 'topK') run.acc[i] = fold(a, run.acc[i] as Acc, tj, v);
      auxAdd(a, run.aux[i] as Aux, v);
    }
  }
  // topK: its k first values, from the counts at the end.
  aggregates.forEach((a, i) => {
    if (a.kind === 'topK') run.acc[i] = windowTop((run.aux[i] as Aux).counts as Map<string, number>, a.k);
  });
  return run;
}

/** Removes `v` from a sorted distinct list (the exact phase), a new state. */
function withoutDistinct(state: DistinctState, v: string): DistinctState | undefined {
  if (!('exact' in state)) return undefined;
  const at = state.exact.indexOf(v);
  if (at < 0) return state;
  const out = state.exact.slice();
  out.splice(at, 1);
  return { exact: out };
}

/** The distinct state of the keys in the window (the same as folding them in any order). */
const distinctOf = (counts: Map<string, number>): DistinctState => distinctOfSet([...counts.keys()]);

/** A running window's own copy (accumulators are replaced, never changed in place; the bookkeeping is copied). */
export function cloneRunning(run: Running): Running {
  return { t: run.t, acc: run.acc.slice(), aux: run.aux.map((x) => ({ n: x.n, bad: x.bad, abs: x.abs, counts: x.counts === null ? null : new Map(x.counts) })) };
}

/** What taking a contribution out needs: nothing more, a refold of the aggregate, or a left fold of its sum only. */
const OK = 0;
const REFOLD = 1;
const RESUM = 2;
type Outcome = typeof OK | typeof REFOLD | typeof RESUM;

/**
 * Takes the contribution `v` of a leaving entry out of aggregate `i` (`resumming`: its sum is
 * refolded afterwards anyway).
 */
function remove(a: ResolvedAggregate, run: Running, i: number, v: unknown, resumming: boolean): Outcome {
  const aux = run.aux[i] as Aux;
  const acc = run.acc[i] as Acc;
  const wasExact = summed(a) && !resumming && exact(aux);
  aux.n--;
  if (summed(a)) {
    const x = amountOf(a, v);
    if (Number.isInteger(x)) aux.abs -= Math.abs(x);
    else aux.bad--;
  }
  let gone = false; // a distinct key left the set
  let key: string | null = null;
  let left = 0; // the key's count after
  if (aux.counts) {
    key = keyOf(a, v);
    if (key !== null) {
      left = bump(aux.counts, key, -1);
      gone = left === 0;
    }
  }
  if (aux.n === 0) {
    run.acc[i] = initial(a);
    run.aux[i] = freshAux(a);
    return OK;
  }
  switch (a.kind) {
    case 'count':
      run.acc[i] = (acc as number) - 1;
      return OK;
    case 'sum':
      if (!wasExact) return RESUM;
      run.acc[i] = (acc as number) - (v as number);
      return OK;
    case 'avg': {
      const s = acc as { s: number; n: number };
      run.acc[i] = { s: wasExact ? s.s - (v as number) : s.s, n: s.n - 1 };
      return wasExact ? OK : RESUM;
    }
    case 'min':
    case 'max':
      return v === acc ? REFOLD : OK;
    case 'first':
      return REFOLD;
    case 'last':
      return OK;
    case 'countDistinct':
      if (gone) run.acc[i] = withoutDistinct(acc as DistinctState, key as string) ?? distinctOf(aux.counts as Map<string, number>);
      return OK;
    case 'topK':
      // Counts and state are current (`upgradeTops` at the start of every move).
      run.acc[i] = windowTopRemoved(acc as TopState, aux.counts as Map<string, number>, v as string, left, a.k);
      return OK;
    case 'rfm': {
      const s = acc as { last: number; n: number; m: number; orders: DistinctState };
      let orders = s.orders;
      if (gone) orders = withoutDistinct(orders, key as string) ?? distinctOf(aux.counts as Map<string, number>);
      run.acc[i] = { last: s.last, n: s.n - 1, m: wasExact ? s.m - (v as [unknown, number])[1] : s.m, orders };
      return wasExact ? OK : RESUM;
    }
  }
}

/** The sum part of a sum/avg/rfm aggregate as the left fold over `[lo, hi)` computes it (the rest is exact already). */
function resum(aggregates: readonly ResolvedAggregate[], list: Entries, lo: number, hi: number, run: Running, i: number): void {
  const a = aggregates[i] as ResolvedAggregate;
  const aux = run.aux[i] as Aux;
  let sum = 0;
  aux.bad = 0;
  aux.abs = 0;
  for (let j = lo; j < hi; j++) {
    for (const [k, v] of list.contribution(j)) {
      if (k !== i) continue;
      const x = amountOf(a, v);
      sum = sum + x;
      if (Number.isInteger(x)) aux.abs += Math.abs(x);
      else aux.bad++;
    }
  }
  const acc = run.acc[i] as Acc;
  if (a.kind === 'sum') run.acc[i] = sum;
  else if (a.kind === 'avg') run.acc[i] = acc === null ? null : { s: sum, n: (acc as { n: number }).n };
  else run.acc[i] = { ...(acc as { last: number; n: number; m: number; orders: DistinctState }), m: sum };
}

/**
 * Rebuilds the topK states of `run` written before sliding windows kept the exact top k (all
 * the window's counters, a Space-Saving summary, or no counts at all: refolded over its
 * window); returns the aggregates refolded.
 */
function upgradeTops(aggregates: readonly ResolvedAggregate[], list: Entries, size: number, run: Running): Set<number> | undefined {
  let refolded: Set<number> | undefined;
  aggregates.forEach((a, i) => {
    if (a.kind !== 'topK') return;
    const counts = (run.aux[i] as Aux).counts;
    if (counts === null) {
      refold(aggregates, list, list.upperBound(run.t - size), list.upperBound(run.t), run, i);
      (refolded ??= new Set()).add(i);
    } else if (!isWindowTop(run.acc[i] as TopState, a.k)) run.acc[i] = windowTop(counts, a.k);
  });
  return refolded;
}

/** Moves `run` forward to the window `(t − size, t]` (`t ≥ run.t`). */
export function moveRunning(aggregates: readonly ResolvedAggregate[], entries: EntryList | Entries, size: number, run: Running, t: number): void {
  const list = entriesOf(entries);
  if (t - size >= run.t) {
    // Nothing of the old window stays: fold the new one.
    const fresh = buildRunning(aggregates, list, size, t);
    run.t = t;
    run.acc = fresh.acc;
    run.aux = fresh.aux;
    return;
  }
  upgradeTops(aggregates, list, size, run);
  const outFrom = list.upperBound(run.t - size);
  const outTo = list.upperBound(t - size);
  const inFrom = list.upperBound(run.t);
  const inTo = list.upperBound(t);
  let refolds: Set<number> | undefined;
  let resums: Set<number> | undefined;
  for (let j = outFrom; j < outTo; j++) {
    for (const [i, v] of list.contribution(j)) {
      if (refolds?.has(i)) {
        (run.aux[i] as Aux).n--; // kept for `first`; a refold rebuilds the rest
        continue;
      }
      const outcome = remove(aggregates[i] as ResolvedAggregate, run, i, v, resums?.has(i) ?? false);
      if (outcome === REFOLD) (refolds ??= new Set()).add(i);
      else if (outcome === RESUM) (resums ??= new Set()).add(i);
    }
  }
  for (let j = inFrom; j < inTo; j++) {
    const tj = list.time(j);
    for (const [i, v] of list.contribution(j)) {
      if (refolds?.has(i)) {
        (run.aux[i] as Aux).n++;
        continue;
      }
      add(aggregates[i] as ResolvedAggregate, run, i, tj, v);
    }
  }
  run.t = t;
  if (refolds) {
    for (const i of refolds) {
      // `first`: its first contribution left; the next one is the first contributing entry.
      if ((aggregates[i] as ResolvedAggregate).kind === 'first') run.acc[i] = nextFirst(list, outTo, inTo, i);
      else refold(aggregates, list, outTo, inTo, run, i);
    }
  }
  if (resums) for (const i of resums) resum(aggregates, list, outTo, inTo, run, i);
}

/**
 * Folds the entry at index `j` (already inserted in `list`, with `run.t − size < t ≤ run.t`)
 * into `run`: appended when it is the window's last entry, else inserted.
 */
export function insertIntoRunning(aggregates: readonly ResolvedAggregate[], entries: EntryList | Entries, size: number, run: Running, j: number): void {
  const list = entriesOf(entries);
  const t = list.time(j);
  const hi = list.upperBound(run.t);
  const last = j === hi - 1;
  // A refold here is over the window with the new entry: it is folded already.
  const refolded = upgradeTops(aggregates, list, size, run);
  for (const [i, v] of list.contribution(j)) {
    if (refolded?.has(i)) continue;
    const a = aggregates[i] as ResolvedAggregate;
    const before = run.acc[i] as Acc;
    add(a, run, i, t, v);
    if (last) continue;
    // Inside the window: order matters for inexact sums and for min/max ties (0 and −0).
    if (summed(a) && !exact(run.aux[i] as Aux)) resum(aggregates, list, list.upperBound(run.t - size), hi, run, i);
    else if ((a.kind === 'min' || a.kind === 'max') && v === before) refold(aggregates, list, list.upperBound(run.t - size), hi, run, i);
  }
}
