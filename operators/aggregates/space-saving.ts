/**
 * The bounded summary of `topK`: Space-Saving (Metwally, Agrawal, El Abbadi, "Efficient
 * computation of frequent and top-k elements in data streams", ICDT 2005) with `capacity`
 * counters, for tumbling, hopping and session windows (sliding windows keep exact counts and
 * report from them: `window-top.ts`; the report order and `reportTop` are shared).
 *
 * - While a window has at most `capacity` distinct values, every value has its own counter and
 *   the counts are exact (the summary is the window's multiset).
 * - A value without a counter, when all are taken, replaces the counter with the smallest count
 *   `m` (ties: the greatest value text, the one reported last) and gets count `m + 1`, error `m`.
 *   From then on the summary is approximate: a reported count is never below the true count and
 *   overestimates it by at most its error, which is at most the smallest counter, itself at most
 *   N / capacity (N = the events counted in the window; the counts always sum to N). Every value
 *   whose true count exceeds the smallest counter has a counter, so a value occurring more than
 *   N / capacity times is never missed.
 * - Merging two summaries (session windows): a value's count is the sum of its counts in both,
 *   taking for a summary without its counter that summary's floor (its smallest count once it
 *   has replaced a counter, else 0), and errors likewise; the `capacity` largest are kept. Exact
 *   when both were exact and the union has at most `capacity` values; else counts stay upper
 *   bounds that overestimate by at most N / capacity.
 *
 * States are JSON data, never modified in place: counters `[value as JSON text, count]` (exact)
 * or `[text, count, error]` (error > 0), sorted by the text, and `o: 1` once a counter has been
 * replaced (a state without `o`, as every state written before the summary was bounded, is
 * exact).
 */

/** One counter: `[value as JSON text, count]`, or `[text, count, error]` when it overestimates. */
export type Counter = [string, number] | [string, number, number];

/** A topK state. */
export interface TopState {
  /** The counters, sorted by the text. */
  c: Counter[];
  /** 1 once a counter has been replaced: the counts may overestimate. */
  o?: 1;
}

/** The default number of counters of a `topK` with `k`: max(1000, 10 × k). */
export const defaultCapacity = (k: number): number => Math.max(1000, 10 * k);

export const EMPTY_TOP: TopState = { c: [] };

const errorOf = (c: Counter): number => (c.length === 3 ? c[2] : 0);
const counter = (v: string, n: number, e: number): Counter => (e > 0 ? [v, n, e] : [v, n]);

/** The index of the first counter whose text is ≥ `v` (counters sorted by text). */
export function lowerBound(c: readonly Counter[], v: string): number {
  let lo = 0;
  let hi = c.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((c[mid] as Counter)[0] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Report order: count descending, then text ascending. Negative when `p` comes first. */
const before = (p: Counter, q: Counter): number => q[1] - p[1] || (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0);

/** The counter a new value replaces: the smallest count, the greatest text among ties. */
function victim(c: readonly Counter[]): number {
  let at = 0;
  for (let j = 1; j < c.length; j++) if ((c[j] as Counter)[1] <= (c[at] as Counter)[1]) at = j;
  return at;
}

/** Folds one occurrence of `v` (a new state). */
export function addTop(state: TopState, v: string, capacity: number): TopState {
  const c = state.c;
  const at = lowerBound(c, v);
  const hit = c[at];
  if (hit && hit[0] === v) {
    const out = c.slice();
    out[at] = counter(v, hit[1] + 1, errorOf(hit));
    return state.o ? { c: out, o: 1 } : { c: out };
  }
  if (c.length < capacity) {
    const out = c.slice();
    out.splice(at, 0, [v, 1]);
    return state.o ? { c: out, o: 1 } : { c: out };
  }
  const gone = victim(c);
  const m = (c[gone] as Counter)[1];
  const out = c.slice();
  out.splice(gone, 1);
  out.splice(lowerBound(out, v), 0, counter(v, m + 1, m));
  return { c: out, o: 1 };
}

/** The floor of a state: no value without a counter occurred more often. */
const floorOf = (s: TopState): number => (s.o && s.c.length > 0 ? Math.min(...s.c.map((x) => x[1])) : 0);

/** Merges two states (session windows; see the module notes). */
export function mergeTop(x: TopState, y: TopState, capacity: number): TopState {
  const fx = floorOf(x);
  const fy = floorOf(y);
  const ys = new Map(y.c.map((q) => [q[0], q]));
  const all: Counter[] = [];
  for (const p of x.c) {
    const q = ys.get(p[0]);
    ys.delete(p[0]);
    all.push(counter(p[0], p[1] + (q ? q[1] : fy), errorOf(p) + (q ? errorOf(q) : fy)));
  }
  for (const q of ys.values()) all.push(counter(q[0], q[1] + fx, errorOf(q) + fx));
  let o = x.o === 1 || y.o === 1;
  let kept = all;
  if (all.length > capacity) {
    kept = all.sort(before).slice(0, capacity);
    o = true;
  }
  kept.sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0));
  return o ? { c: kept, o: 1 } : { c: kept };
}

/** The `k` first counters in report order (count descending, then text), as `[{ value, count }]`. */
export function reportTop(state: TopState, k: number): Array<{ value: unknown; count: number }> {
  const best: Counter[] = [];
  for (const x of state.c) {
    if (best.length === k && before(x, best[k - 1] as Counter) >= 0) continue;
    let j = Math.min(best.length, k - 1);
    if (best.length === k) best.pop();
    while (j > 0 && before(x, best[j - 1] as Counter) < 0) j--;
    best.splice(j, 0, x);
  }
  return best.map(([v, count]) => ({ value: JSON.parse(v) as unknown, count }));
}
