/**
 * `topK` under sliding windows: the exact top k of the window, kept from the window's exact
 * count per distinct value (`Aux.counts` in `sliding.ts`), which gains 1 when an entry enters
 * and loses 1 when one leaves. A Space-Saving summary cannot take a value out; exact counts
 * can, so a sliding window never refolds its entries for `topK`, and its counts are exact at
 * any number of distinct values (`capacity` does not apply).
 *
 * The state is a `TopState` of the shape of an exact one (no `o`): the `k` first counters of
 * the window in report order (count descending, then value text), sorted by the text. It is
 * reported as any topK state. A state written before sliding windows kept only the k first
 * (all the window's counters, or a Space-Saving summary with `o`) is told apart by having more
 * than `k` counters or `o`, and rebuilt from the counts ({@link isWindowTop}).
 *
 * Memory: the counts hold one number per distinct value in the window (no more than the
 * entries the window holds already); the state holds `k` counters. Taking a value of the top k
 * out needs the best value outside it: an index of the counts (count → the values with it,
 * sorted by text; in memory only, built from the counts when first needed, again after a
 * restart or a copy) gives it among the values with the same or the next lower count, past at
 * most k values of the top k.
 */
import { lowerBound, type Counter, type TopState } from './space-saving.js';

/** Per counts map: count → the values with that count, sorted (same size as the counts; never stored). */
const levelsOf = new WeakMap<Map<string, number>, Map<number, string[]>>();

function levels(counts: Map<string, number>): Map<number, string[]> {
  let byCount = levelsOf.get(counts);
  if (byCount !== undefined) return byCount;
  byCount = new Map();
  for (const [v, n] of counts) {
    const level = byCount.get(n);
    if (level) level.push(v);
    else byCount.set(n, [v]);
  }
  for (const level of byCount.values()) level.sort();
  levelsOf.set(counts, byCount);
  return byCount;
}

/** The index of the first text ≥ `v` (`strict`: > `v`) in a sorted list. */
function textBound(xs: readonly string[], v: string, strict = false): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const x = xs[mid] as string;
    if (x < v || (strict && x === v)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Adds `delta` (±1) to the count of `v` (a count reaching 0 is deleted); returns the new count. */
export function bump(counts: Map<string, number>, v: string, delta: 1 | -1): number {
  const was = counts.get(v) ?? 0;
  const n = was + delta;
  if (n === 0) counts.delete(v);
  else counts.set(v, n);
  const byCount = levelsOf.get(counts);
  if (byCount !== undefined) {
    const from = byCount.get(was);
    if (from) {
      const j = textBound(from, v);
      if (from.length === 1) byCount.delete(was);
      else if (j === 0) from.shift(); // the oldest of increasing texts (ids, times): no copy
      else from.splice(j, 1);
    }
    if (n > 0) {
      const to = byCount.get(n);
      if (to) to.splice(textBound(to, v), 0, v);
      else byCount.set(n, [v]);
    }
  }
  return n;
}

const byText = (p: Counter, q: Counter): number => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0);
/** Report order: count descending, then text ascending. Negative when `p` comes first. */
const before = (p: Counter, q: Counter): number => q[1] - p[1] || byText(p, q);

const has = (c: readonly Counter[], v: string): boolean => c[lowerBound(c, v)]?.[0] === v;

/** Whether `state` is a sliding window's topK state for `k` (see the module notes). */
export const isWindowTop = (state: TopState, k: number): boolean => state.o === undefined && state.c.length <= k;

/** The state of a window from its counts: its `k` first counters. */
export function windowTop(counts: ReadonlyMap<string, number>, k: number): TopState {
  const best: Counter[] = [];
  for (const [v, n] of counts) {
    const x: Counter = [v, n];
    if (best.length === k && before(x, best[k - 1] as Counter) >= 0) continue;
    if (best.length === k) best.pop();
    let j = best.length;
    while (j > 0 && before(x, best[j - 1] as Counter) < 0) j--;
    best.splice(j, 0, x);
  }
  return { c: best.sort(byText) };
}

/** The state after the count of `v` rose to `n` (a new state). */
export function windowTopAdded(state: TopState, v: string, n: number, k: number): TopState {
  const c = state.c;
  const at = lowerBound(c, v);
  const out = c.slice();
  if (c[at]?.[0] === v) {
    out[at] = [v, n];
    return { c: out };
  }
  // Fewer than k counters: the state holds every value of the window.
  if (c.length < k) {
    out.splice(at, 0, [v, n]);
    return { c: out };
  }
  let last = 0;
  for (let j = 1; j < c.length; j++) if (before(c[j] as Counter, c[last] as Counter) > 0) last = j;
  const x: Counter = [v, n];
  if (before(x, c[last] as Counter) >= 0) return state;
  out.splice(last, 1);
  out.splice(lowerBound(out, v), 0, x);
  return { c: out };
}

/**
 * The state after the count of `v` fell to `n` (0: `v` left the window), with `counts`
 * already updated (a new state, or `state` when unchanged).
 */
export function windowTopRemoved(state: TopState, counts: Map<string, number>, v: string, n: number, k: number): TopState {
  const c = state.c;
  const at = lowerBound(c, v);
  if (c[at]?.[0] !== v) return state; // outside the k first, it stays outside
  const out = c.slice();
  const mine: Counter = [v, n];
  // With k counters, the values outside rank after (n + 1, v): those that can now rank before
  // (n, v) have count n + 1 (text after v) or n (text before v); the first of them, if any,
  // takes the place of v.
  let best: Counter | undefined;
  if (c.length === k) {
    const byCount = levels(counts);
    const above = byCount.get(n + 1) ?? [];
    for (let j = textBound(above, v, true); j < above.length && best === undefined; j++) if (!has(c, above[j] as string)) best = [above[j] as string, n + 1];
    const same = n > 0 ? (byCount.get(n) as string[]) : [];
    for (let j = 0; j < same.length && (same[j] as string) < v && best === undefined; j++) if (!has(c, same[j] as string)) best = [same[j] as string, n];
  }
  if (best !== undefined) {
    out.splice(at, 1);
    out.splice(lowerBound(out, best[0]), 0, best);
  } else if (n === 0) out.splice(at, 1);
  else out[at] = mine;
  return { c: out };
}
