/**
 * `topK` as a bounded Space-Saving summary (operators/aggregates/space-saving.ts): exact while
 * a window has at most `capacity` distinct values, within the documented bound beyond it; under
 * sliding windows, exact at any number of values (the window's exact counts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { recordingContext } from '../../lib/testing/context.js';
import { fold, initial, resolveAggregate, valueOf, type Acc } from '../../operators/aggregates/accumulators.js';
import { buildRunning, moveRunning, type EntryList } from '../../operators/aggregates/sliding.js';
import type { TopState } from '../../operators/aggregates/space-saving.js';
import { windowTop } from '../../operators/aggregates/window-top.js';
import { WindowAggregateLogic, windowAggregateOperator, type AggregateRecord, type WindowAggregateOptions } from '../../operators/window-aggregate.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { rng } from '../support/random.js';

type Top = Array<{ value: unknown; count: number }>;

/** Folds `values` (in order) into a topK state. */
function summary(values: readonly unknown[], k: number, capacity?: number) {
  const a = resolveAggregate('top', { topK: { path: 'v', k, ...(capacity === undefined ? {} : { capacity }) } });
  let acc: Acc = initial(a);
  values.forEach((v, t) => (acc = fold(a, acc, t, JSON.stringify(v))));
  return { a, state: acc as TopState, top: valueOf(a, acc, 0) as Top };
}

/** The exact top k of `values`: count descending, then JSON text ascending. */
function exactTop(values: readonly unknown[], k: number): Top {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(JSON.stringify(v), (counts.get(JSON.stringify(v)) ?? 0) + 1);
  return [...counts]
    .sort((p, q) => q[1] - p[1] || (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0))
    .slice(0, k)
    .map(([v, count]) => ({ value: JSON.parse(v) as unknown, count }));
}

/** A skewed stream: value r (0-based) with probability ∝ 1/(r+1), over `ids` values. */
function zipf(seed: number, n: number, ids: number): string[] {
  const rand = rng(seed);
  const cum: number[] = [];
  for (let r = 1, s = 0; r <= ids; r++) cum.push((s += 1 / r));
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = rand() * (cum[ids - 1] as number);
    let lo = 0;
    while ((cum[lo] as number) < x) lo++;
    out.push(`p${lo}`);
  }
  return out;
}

test('topK: the default capacity is max(1000, 10 × k); capacity is checked against k', () => {
  assert.equal(resolveAggregate('t', { topK: { path: 'v', k: 5 } }).capacity, 1000);
  assert.equal(resolveAggregate('t', { topK: { path: 'v', k: 300 } }).capacity, 3000);
  assert.equal(resolveAggregate('t', { topK: { path: 'v', k: 5, capacity: 5 } }).capacity, 5);
  assert.throws(() => resolveAggregate('t', { topK: { path: 'v', k: 5, capacity: 4 } }), /aggregates\.t\.topK\.capacity: must be a whole number ≥ k \(5\), e\.g\. 1000/);
  assert.throws(() => resolveAggregate('t', { topK: { path: 'v', k: 2, capacity: 2.5 } }), /aggregates\.t\.topK\.capacity/);
});

test('topK: Space-Saving by hand with 3 counters: the smallest counter (ties: the greatest value) is replaced, count m + 1, error m', () => {
  const s1 = summary(['a', 'a', 'b', 'c'], 2, 3);
  assert.deepEqual(s1.state, { c: [['"a"', 2], ['"b"', 1], ['"c"', 1]] }, 'within capacity: exact counters');
  const s2 = summary(['a', 'a', 'b', 'c', 'd'], 2, 3);
  assert.deepEqual(s2.state, { c: [['"a"', 2], ['"b"', 1], ['"d"', 2, 1]], o: 1 }, 'd replaces c (count 1, the greater text of the ties b, c)');
  assert.deepEqual(s2.top, [{ value: 'a', count: 2 }, { value: 'd', count: 2 }]);
  const s3 = summary(['a', 'a', 'b', 'c', 'd', 'e', 'e', 'a'], 3, 3);
  assert.deepEqual(s3.state, { c: [['"a"', 3], ['"d"', 2, 1], ['"e"', 3, 1]], o: 1 }, 'e replaces b, then counts on');
  assert.deepEqual(s3.top, [{ value: 'a', count: 3 }, { value: 'e', count: 3 }, { value: 'd', count: 2 }]);
});

test('topK: exact (the same values and counts as the whole multiset) while distinct values ≤ capacity, any k', () => {
  const rand = rng(11);
  const values = Array.from({ length: 5000 }, () => (rand() < 0.1 ? { sku: Math.floor(rand() * 7) } : Math.floor(rand() * rand() * 40)));
  const distinct = new Set(values.map((v) => JSON.stringify(v))).size;
  assert.ok(distinct > 40 && distinct <= 47, `${distinct} distinct`);
  for (const k of [1, 3, 10, 47]) {
    const { state, top } = summary(values, k, 47);
    assert.deepEqual(top, exactTop(values, k), `k ${k}`);
    assert.equal(state.o, undefined, 'never replaced a counter');
  }
  assert.deepEqual(summary(values, 3).top, exactTop(values, 3), 'default capacity');
});

test('topK: a skewed stream over capacity: the true top k is found, every count within [true, true + smallest counter ≤ N / capacity]', () => {
  const N = 20_000;
  const capacity = 100;
  const values = zipf(5, N, 3000);
  const truth = new Map<string, number>();
  for (const v of values) truth.set(JSON.stringify(v), (truth.get(JSON.stringify(v)) ?? 0) + 1);
  assert.ok(truth.size > 2000, `${truth.size} distinct, far over capacity`);
  const { state, top } = summary(values, 5, capacity);
  assert.equal(state.c.length, capacity);
  assert.equal(state.o, 1);
  assert.equal(state.c.reduce((s, x) => s + x[1], 0), N, 'the counts sum to N');
  const floor = Math.min(...state.c.map((x) => x[1]));
  assert.ok(floor <= N / capacity, `smallest counter ${floor} ≤ N/capacity ${N / capacity}`);
  for (const [v, count, error = 0] of state.c) {
    const t = truth.get(v) ?? 0;
    assert.ok(t <= count && count - error <= t && error <= floor, `${v}: true ${t}, count ${count}, error ${error}`);
  }
  for (const [v, t] of truth) if (t > floor) assert.ok(state.c.some((x) => x[0] === v), `${v} (${t} > ${floor}) has a counter`);
  const want = exactTop(values, 5);
  assert.deepEqual(top.map((x) => x.value), want.map((x) => x.value), 'the true top 5, in order');
  assert.deepEqual(want.map((x) => x.value), ['p0', 'p1', 'p2', 'p3', 'p4']);
  top.forEach((x, j) => assert.ok(x.count >= (want[j] as { count: number }).count && x.count - (want[j] as { count: number }).count <= floor, `${String(x.value)}: ${x.count} vs ${(want[j] as { count: number }).count}`));
});

const setup = (window: WindowAggregateOptions['window'], aggregates: WindowAggregateOptions['aggregates'], extra: Partial<WindowAggregateOptions> = {}) => {
  const ctx = recordingContext('wa');
  const config = windowAggregateOperator.resolve({ key: 'anonymousId', window, aggregates, output: 'aggregates', ...extra });
  return { ctx, logic: new WindowAggregateLogic(config, ctx), config };
};
const valuesOfRecords = (ctx: ReturnType<typeof setup>['ctx']) => ctx.emitted.map(({ record }) => [(record as AggregateRecord).windowEnd, (record as AggregateRecord).values.top]);
const sku = (id: string, t: number, v: string): TributaryEvent => ev(id, t, { properties: { sku: v } });

test('topK in windowAggregate: tumbling windows with capacity 3, exact records (the second window over capacity)', () => {
  const { ctx, logic } = setup({ tumbling: '1h' }, { top: { topK: { path: 'properties.sku', k: 2, capacity: 3 } } });
  const skus = ['a', 'a', 'b', 'c', 'b'];
  skus.forEach((v, j) => logic.process(sku(`m${j}`, j * MIN, v), 'a1'));
  ['a', 'a', 'b', 'c', 'd', 'e', 'e', 'a'].forEach((v, j) => logic.process(sku(`n${j}`, HOUR + j * MIN, v), 'a1'));
  logic.advance(Infinity);
  assert.deepEqual(valuesOfRecords(ctx), [
    [HOUR, [{ value: 'a', count: 2 }, { value: 'b', count: 2 }]],
    [2 * HOUR, [{ value: 'a', count: 3 }, { value: 'e', count: 3 }]],
  ]);
});

test('topK under sliding windows: exact counts within and over capacity, as entries leave', () => {
  const agg = { top: { topK: { path: 'properties.sku', k: 2, capacity: 2 } } };
  const { ctx, logic } = setup({ sliding: '10m' }, agg);
  // Window (t − 10m, t]: over capacity (3 values) at 3m, 4m, 11m and 13m, where a Space-Saving
  // fold of the window would overestimate (3m: c 2, 4m: c 3, 11m: a 2, 13m: b 2).
  const input: Array<[number, string]> = [[0, 'a'], [1, 'b'], [2, 'b'], [3, 'c'], [4, 'c'], [11, 'a'], [12, 'c'], [13, 'b']];
  input.forEach(([m, v], j) => logic.process(sku(`m${j}`, m * MIN, v), 'a1'));
  logic.advance(Infinity);
  assert.deepEqual(valuesOfRecords(ctx), [
    [0, [{ value: 'a', count: 1 }]],
    [MIN, [{ value: 'a', count: 1 }, { value: 'b', count: 1 }]],
    [2 * MIN, [{ value: 'b', count: 2 }, { value: 'a', count: 1 }]],
    [3 * MIN, [{ value: 'b', count: 2 }, { value: 'a', count: 1 }]], // a 1, b 2, c 1: a before c
    [4 * MIN, [{ value: 'b', count: 2 }, { value: 'c', count: 2 }]],
    [11 * MIN, [{ value: 'c', count: 2 }, { value: 'a', count: 1 }]], // (1m, 11m]: b 1, c 2, a 1 (a at 0m and b at 1m left)
    [12 * MIN, [{ value: 'c', count: 3 }, { value: 'a', count: 1 }]], // (2m, 12m]: the last b left
    [13 * MIN, [{ value: 'c', count: 2 }, { value: 'a', count: 1 }]], // (3m, 13m]: c 2, a 1, b 1
  ]);
  const expected = input.map(([m]) => [m * MIN, exactTop(input.filter(([u]) => u > m - 10 && u <= m).map(([, v]) => v), 2)]);
  assert.deepEqual(valuesOfRecords(ctx), expected, 'the exact top 2 of each window');
});

test('topK under sliding windows: a running window moved over capacity equals the window built from scratch and its exact top k, also from a window stored without counts', () => {
  const a = resolveAggregate('top', { topK: { path: 'v', k: 3, capacity: 4 } });
  const rand = rng(3);
  const list: EntryList = { ts: [], cs: [] };
  for (let j = 0; j < 400; j++) {
    list.ts.push(j);
    list.cs.push([[0, JSON.stringify(`v${Math.floor(rand() * rand() * 9)}`)]]);
  }
  const size = 25;
  const run = buildRunning([a], list, size, 30);
  const old = buildRunning([a], list, size, 30);
  (old.aux[0] as { counts: unknown }).counts = null; // as stored before topK kept counts
  for (let t = 31; t < 400; t += 1 + Math.floor(rand() * 4)) {
    moveRunning([a], list, size, run, t);
    moveRunning([a], list, size, old, t);
    const fresh = buildRunning([a], list, size, t);
    assert.deepEqual(run.acc, fresh.acc, `t ${t}`);
    assert.deepEqual(old.acc, fresh.acc, `t ${t} (old layout)`);
    const inWindow = list.cs.filter((_, j) => (list.ts[j] as number) > t - size && (list.ts[j] as number) <= t).map((c) => JSON.parse(c[0]?.[1] as string) as string);
    assert.deepEqual(valueOf(a, run.acc[0] as Acc, t), exactTop(inWindow, 3), `t ${t}: exact`);
  }
});

test('topK: a state written before the summary was bounded ({ c } of every value) is read as exact', () => {
  const a = resolveAggregate('top', { topK: { path: 'v', k: 2, capacity: 2 } });
  const stored: TopState = { c: [['"a"', 4], ['"b"', 1], ['"c"', 2]] };
  assert.deepEqual(valueOf(a, stored, 0), [{ value: 'a', count: 4 }, { value: 'c', count: 2 }]);
  assert.deepEqual(fold(a, stored, 0, '"b"'), { c: [['"a"', 4], ['"b"', 2], ['"c"', 2]] });
  assert.deepEqual(windowTop(new Map([['"b"', 1], ['"c"', 2], ['"a"', 4]]), 2), { c: [['"a"', 4], ['"c"', 2]] }, 'a sliding window keeps its k first, sorted by text');
});

test('topK across session windows: merged summaries are exact while the union fits, upper bounds within N / capacity beyond', () => {
  const agg = { top: { topK: { path: 'properties.sku', k: 3, capacity: 3 } } };
  const run = (events: TributaryEvent[]) => {
    const { ctx, logic } = setup({ session: '15m' }, agg);
    for (const e of events) logic.process(e, 'a1');
    logic.advance(Infinity);
    return valuesOfRecords(ctx).map(([, top]) => top);
  };
  // Two sessions (0–2m and 30–31m) bridged by an event at 15m; union a, b, c fits 3 counters.
  const fits = [sku('m1', 0, 'a'), sku('m2', 2 * MIN, 'a'), sku('m3', 30 * MIN, 'b'), sku('m4', 31 * MIN, 'c'), sku('m5', 15 * MIN, 'b')];
  assert.deepEqual(run(fits), [[{ value: 'a', count: 2 }, { value: 'b', count: 2 }, { value: 'c', count: 1 }]]);
  // Over capacity on both sides: every reported count is ≥ the true count and within N / capacity of it.
  const left = ['a', 'a', 'a', 'b', 'c', 'd', 'a'];
  const right = ['e', 'e', 'f', 'g', 'e', 'a'];
  const events = [...left.map((v, j) => sku(`l${j}`, j * 10_000, v)), ...right.map((v, j) => sku(`r${j}`, 30 * MIN + j * 10_000, v)), sku('bridge', 15 * MIN, 'e')];
  const [top] = run(events) as [Top];
  const all = [...left, ...right, 'e'];
  const bound = all.length / 3;
  assert.deepEqual(top.slice(0, 2).map((x) => x.value), ['a', 'e'], 'the two frequent values lead');
  for (const { value, count } of top) {
    const t = all.filter((v) => v === value).length;
    assert.ok(t <= count && count - t <= bound, `${String(value)}: ${count} vs true ${t} (bound ${bound})`);
  }
});
