/**
 * Incremental sliding windows (operators/aggregates/sliding.ts) against a full recomputation:
 * a reference that keeps every entry and, for every record, folds the window's entries in
 * (time, arrival) order with accumulators.ts `initial`/`fold`/`valuesOf` (topK: the exact top
 * k of the window, counted here) — and the restart of the one-value-per-key layout from LMDB.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { MemoryStoreFactory } from '../../lib/state/engines/memory.js';
import { compareKeys } from '../../lib/state/key-order.js';
import { recordingContext } from '../../lib/testing/context.js';
import { contributions, fold, initial, valuesOf, type Acc, type ResolvedAggregate } from '../../operators/aggregates/accumulators.js';
import { WindowAggregateLogic, windowAggregateOperator, type SlidingState, type WindowAggregateConfig, type WindowAggregateOptions } from '../../operators/window-aggregate.js';
import type { Contribution, EntryList } from '../../operators/aggregates/sliding.js';
import { flatten, type Chunk } from '../../operators/window-aggregate/chunks.js';
import { windowAggregateQuery } from '../../operators/window-aggregate/query.js';
import type { TimedChunk } from '../../operators/window-aggregate/state.js';
import { ev, MIN } from '../support/events.js';
import { rng } from '../support/random.js';

const STEP = 'wa';

/** Every aggregate kind, with float and integer sums, where-filters, ties, ±0 and huge integers. */
const AGGS: WindowAggregateOptions['aggregates'] = {
  n: { count: {} },
  carts: { count: {}, where: { event: 'add_to_cart' } },
  rev: { sum: 'properties.price' },
  irev: { sum: 'properties.units' },
  huge: { sum: 'properties.huge' },
  cartRev: { sum: 'properties.price', where: { event: 'add_to_cart' } },
  avgp: { avg: 'properties.price' },
  iavg: { avg: 'properties.units' },
  hi: { max: 'properties.price' },
  lo: { min: 'properties.price' },
  zlo: { min: 'properties.zero' },
  zhi: { max: 'properties.zero' },
  ihi: { max: 'properties.units' },
  f: { first: 'properties.page' },
  l: { last: 'properties.page' },
  fp: { first: 'properties.price', where: { event: 'purchase' } },
  lp: { last: 'properties.price', where: { event: 'purchase' } },
  d: { countDistinct: 'properties.productId' },
  top: { topK: { path: 'properties.category', k: 3 } },
  // 12 product ids, capacity 4: sliding windows are exact past it.
  topSmall: { topK: { path: 'properties.productId', k: 2, capacity: 4 } },
  rfm: { rfm: { monetary: 'properties.price', quantity: 'properties.qty', order: 'properties.orderId' }, where: { 'properties.orderId': { $not: { $regex: '^C' } } } },
  rfmInt: { rfm: { monetary: 'properties.units' } },
};

/** Aggregates that only purchases (a quarter of the events) or orders count in. */
const WHERE_AGGS: WindowAggregateOptions['aggregates'] = {
  orders: { count: {}, where: { event: 'purchase' } },
  revenue: { sum: 'properties.price', where: { event: 'purchase' } },
  avgp: { avg: 'properties.price', where: { event: 'purchase' } },
  hi: { max: 'properties.price', where: { event: 'purchase' } },
  f: { first: 'properties.page', where: { event: 'purchase' } },
  lastOrderAt: { last: 'timestamp', where: { event: 'purchase' } },
  d: { countDistinct: 'properties.productId', where: { event: 'purchase' } },
  rfm: { rfm: { monetary: 'properties.price', order: 'properties.orderId' }, where: { event: 'purchase', 'properties.orderId': { $not: { $regex: '^C' } } } },
};

/** A seeded stream: several keys, out-of-order times (never late for `lateness`), float prices. */
function stream(seed: number, count: number, keys: number, lateness: number, step: number): TributaryEvent[] {
  const rand = rng(seed);
  const out: TributaryEvent[] = [];
  let max = 0;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  for (let i = 0; i < count; i++) {
    max += Math.floor(rand() * step);
    const t = rand() < 0.3 ? max - Math.floor(rand() * lateness) : max;
    const properties: Record<string, unknown> = {
      price: pick([Math.round(rand() * 10_000) / 100, Math.floor(rand() * 50), 0.1, 0.2, 0.3, 1e-9, 'n/a', undefined]),
      units: pick([Math.floor(rand() * 20) - 5, 3, 7, 'x']),
      huge: pick([2 ** 52, 2 ** 52 + 1, -(2 ** 51), 3, 2 ** 53 - 1]),
      zero: pick([0, -0, 0, -0, 1, -1]),
      productId: `p${Math.floor(rand() * 12)}`,
      category: pick(['shoes', 'hats', 'bags', 'socks', 'belts']),
      qty: pick([1, 2, 3, -1, 0.5]),
      orderId: pick(['o1', 'o2', 'o3', 'C4', `o${i}`]),
    };
    if (rand() < 0.6) properties.page = `/p${Math.floor(rand() * 9)}`;
    const event = pick(['product_viewed', 'product_viewed', 'add_to_cart', 'purchase']);
    out.push(ev(`m${i}`, t, { anonymousId: `k${Math.floor(rand() * keys)}`, event, properties }));
  }
  return out;
}

/** The reference: every entry kept, every record a full left fold over its window. */
class Reference {
  readonly emitted: Array<{ stream: string; record: unknown }> = [];
  private readonly keys = new Map<string, { entries: Array<{ t: number; c: Array<[number, unknown]> }>; pending: Set<number>; updates: number; lastUpdate: number | null; until: number }>();

  constructor(private readonly config: WindowAggregateConfig) {}

  private values(key: string, t: number): Record<string, unknown> {
    const { aggregates } = this.config;
    const acc: Acc[] = aggregates.map((a) => initial(a));
    const size = this.config.window.sizeMs;
    const inWindow = (this.keys.get(key)?.entries ?? []).map((e, seq) => ({ ...e, seq })).filter((e) => e.t > t - size && e.t <= t);
    inWindow.sort((a, b) => a.t - b.t || a.seq - b.seq);
    for (const e of inWindow) for (const [i, v] of e.c) acc[i] = fold(aggregates[i] as ResolvedAggregate, acc[i] as Acc, e.t, v);
    const values = valuesOf(aggregates, acc, t);
    aggregates.forEach((a, i) => {
      if (a.kind !== 'topK') return;
      const counts = new Map<string, number>();
      for (const e of inWindow) for (const [j, v] of e.c) if (j === i) counts.set(v as string, (counts.get(v as string) ?? 0) + 1);
      const sorted = [...counts].sort((p, q) => q[1] - p[1] || (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0));
      values[a.name] = sorted.slice(0, a.k).map(([v, count]) => ({ value: JSON.parse(v) as unknown, count }));
    });
    return values;
  }

  private record(key: string, t: number, final: boolean, n: number) {
    const start = t - this.config.window.sizeMs;
    const id = final ? deriveId('aggregate', STEP, key, start, 'final') : deriveId('aggregate', STEP, key, start, 'update', n);
    this.emitted.push({ stream: 'aggregates', record: { id, key, windowStart: start, windowEnd: t, values: this.values(key, t), final } });
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    const { sizeMs: size } = this.config.window;
    const t = event.timestamp;
    let k = this.keys.get(key);
    if (!k) this.keys.set(key, (k = { entries: [], pending: new Set(), updates: 0, lastUpdate: null, until: -Infinity }));
    k.entries.push({ t, c: contributions(this.config.aggregates, event) });
    k.pending.add(t);
    k.until = Math.max(k.until, t + size + this.config.graceMs);
    const interval = this.config.updateIntervalMs;
    if (this.config.emit === 'update' && (interval === 0 || k.lastUpdate === null || t >= k.lastUpdate + interval)) {
      k.updates++;
      k.lastUpdate = t;
      this.record(key, t, false, k.updates);
    }
    return this.config.annotate === undefined ? event : { ...event, [this.config.annotate]: this.values(key, t) };
  }

  advance(watermark: number): void {
    const grace = this.config.graceMs;
    const due: Array<{ time: number; id: string; key: string; t: number }> = [];
    for (const [key, k] of this.keys) {
      for (const t of k.pending) if (t + 1 + grace <= watermark) due.push({ time: t + 1 + grace, id: `s:${t}:${key}`, key, t });
    }
    due.sort((a, b) => a.time - b.time || compareKeys(a.id, b.id));
    for (const d of due) {
      this.keys.get(d.key)?.pending.delete(d.t);
      this.record(d.key, d.t, true, 0);
    }
    for (const [key, k] of this.keys) if (k.until <= watermark) this.keys.delete(key);
  }
}

interface Case {
  name: string;
  options: Partial<WindowAggregateOptions>;
  seed: number;
  count: number;
  keys: number;
  step: number;
}

const cases: Case[] = [
  { name: 'sliding 30m, final', options: { window: { sliding: '30m' } }, seed: 1, count: 1500, keys: 3, step: 3 * MIN },
  { name: 'sliding 30m, update and annotate', options: { window: { sliding: '30m' }, emit: 'update', annotate: 'features' }, seed: 2, count: 1500, keys: 3, step: 3 * MIN },
  { name: 'sliding 2h with grace, update every 10m', options: { window: { sliding: '2h' }, grace: '7m', emit: 'update', updateInterval: '10m' }, seed: 3, count: 1500, keys: 2, step: 2 * MIN },
  { name: 'sliding 5m (windows mostly replaced), annotate', options: { window: { sliding: '5m' }, annotate: 'features' }, seed: 4, count: 1200, keys: 4, step: 4 * MIN },
  { name: 'sliding 1d, one key, many entries per window', options: { window: { sliding: '1d' }, emit: 'update', annotate: 'features' }, seed: 5, count: 1200, keys: 1, step: 2 * MIN },
  // Every aggregate with a `where`: most entries count nowhere and keep only their time.
  { name: 'sliding 2h, most entries count in no aggregate, update and annotate', options: { window: { sliding: '2h' }, emit: 'update', annotate: 'features', aggregates: WHERE_AGGS }, seed: 6, count: 1500, keys: 3, step: 2 * MIN },
  { name: 'sliding 30m, most entries count in no aggregate, final', options: { window: { sliding: '30m' }, aggregates: WHERE_AGGS }, seed: 10, count: 1500, keys: 2, step: 3 * MIN },
];

function run(config: WindowAggregateConfig, events: TributaryEvent[], lateness: number, logic: { process(e: TributaryEvent, k: string): TributaryEvent | null; advance(w: number): void }, from = 0, to = events.length, max = -Infinity) {
  const passed: Array<TributaryEvent | null> = [];
  for (const e of events.slice(from, to)) {
    passed.push(logic.process(e, e.anonymousId as string));
    max = Math.max(max, e.timestamp);
    logic.advance(max - lateness);
  }
  return { passed, max };
}

for (const c of cases) {
  test(`windowAggregate incremental sliding = full recomputation, record for record: ${c.name}`, () => {
    const lateness = 20 * MIN;
    const events = stream(c.seed, c.count, c.keys, lateness, c.step);
    const config = windowAggregateOperator.resolve({ key: 'anonymousId', window: { sliding: '1h' }, aggregates: AGGS, output: 'aggregates', ...c.options });
    // No clone: the operator declares immutableState (the rx wiring skips the clone too).
    const ctx = recordingContext(STEP, new MemoryStoreFactory({ clone: false }));
    const logic = new WindowAggregateLogic(config, ctx);
    const reference = new Reference(config);
    const got = run(config, events, lateness, logic).passed;
    const want = run(config, events, lateness, reference).passed;
    logic.advance(Infinity);
    reference.advance(Infinity);
    assert.ok(reference.emitted.length >= c.count * 0.8, 'records for most events');
    assert.deepEqual(got, want, 'passing events (annotated)');
    assert.deepEqual(ctx.emitted, reference.emitted, 'records, in order');
    assert.equal(ctx.stores.open(`${STEP}.entries`).count(), 0, 'state expires');
  });
}

test('windowAggregate incremental sliding: countDistinct past 1000 values (HyperLogLog) and back, exactly as a refold', () => {
  const rand = rng(9);
  const events: TributaryEvent[] = [];
  for (let i = 0; i < 3000; i++) {
    // A window of 1200 events holds ~1165 distinct values at first, then 300.
    const v = i < 1800 ? `u${Math.floor(rand() * 20_000)}` : `u${i % 300}`;
    events.push(ev(`m${i}`, i * 1000, { properties: { productId: v, category: v.slice(0, 3) } }));
  }
  const config = windowAggregateOperator.resolve({ key: 'anonymousId', window: { sliding: '1200s' }, aggregates: { d: { countDistinct: 'properties.productId' }, top: { topK: { path: 'properties.category', k: 2 } } }, output: 'aggregates' });
  const ctx = recordingContext(STEP, new MemoryStoreFactory({ clone: false }));
  const logic = new WindowAggregateLogic(config, ctx);
  run(config, events, 0, logic);
  logic.advance(Infinity);
  const records = ctx.emitted.map((e) => e.record as { windowEnd: number; values: { d: number } });
  assert.equal(records.length, events.length);
  // The reference fold (slow: every fold copies the distinct list) on a sample of the records.
  records.forEach((r, n) => {
    if (n % 37 !== 0 && n !== records.length - 1) return;
    const acc: Acc[] = config.aggregates.map((a) => initial(a));
    for (const e of events) {
      if (e.timestamp <= r.windowEnd - 1_200_000 || e.timestamp > r.windowEnd) continue;
      for (const [i, v] of contributions(config.aggregates, e)) acc[i] = fold(config.aggregates[i] as ResolvedAggregate, acc[i] as Acc, e.timestamp, v);
    }
    assert.deepEqual(r.values, valuesOf(config.aggregates, acc, r.windowEnd), `record ${n}`);
  });
  const counts = records.map((r) => r.values.d);
  assert.ok(Math.max(...counts) > 1000 && counts[counts.length - 1] === 300, 'crosses the exact limit both ways');
});

/**
 * Runs `events` up to `cut` on LMDB state, flushes and closes it, optionally rewrites the stored
 * state (`rewrite`), reopens it with a new logic and runs the rest to +∞; asserts that the passing
 * events and the records equal one uninterrupted run's.
 */
async function assertResumes(
  config: WindowAggregateConfig,
  events: TributaryEvent[],
  lateness: number,
  cut: number,
  label: string,
  rewrite?: (stores: LmdbStoreFactory) => void,
): Promise<void> {
  const whole = recordingContext(STEP);
  const wholeLogic = new WindowAggregateLogic(config, whole);
  const want = run(config, events, lateness, wholeLogic).passed;
  wholeLogic.advance(Infinity);
  const dir = mkdtempSync(join(tmpdir(), 'wa-restart-'));
  try {
    let stores = new LmdbStoreFactory({ path: dir });
    const first = recordingContext(STEP, stores);
    const a = run(config, events, lateness, new WindowAggregateLogic(config, first), 0, cut);
    rewrite?.(stores);
    await stores.flush();
    await stores.close();
    stores = new LmdbStoreFactory({ path: dir });
    const second = recordingContext(STEP, stores);
    const logic = new WindowAggregateLogic(config, second);
    const b = run(config, events, lateness, logic, cut, events.length, a.max);
    logic.advance(Infinity);
    await stores.close();
    assert.deepEqual([...a.passed, ...b.passed], want, `${label}: passing events, cut ${cut}`);
    assert.deepEqual([...first.emitted, ...second.emitted], whole.emitted, `${label}: records, cut ${cut}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('windowAggregate: every window kind, stopped after a flush, reopened from LMDB and resumed by a new logic, writes the records of an uninterrupted run', async () => {
  const lateness = 20 * MIN;
  const events = stream(7, 900, 3, lateness, 3 * MIN);
  const windows: Array<Partial<WindowAggregateOptions>> = [
    { window: { sliding: '45m' }, emit: 'update', annotate: 'features' },
    { window: { sliding: '45m' }, grace: '5m' },
    // Most events count nowhere: after the restart the head window ends at the key's latest event, which may be one of them.
    { window: { sliding: '45m' }, emit: 'update', annotate: 'features', aggregates: WHERE_AGGS },
    { window: { tumbling: '1h' }, emit: 'update', annotate: 'features' },
    { window: { hopping: '1h', advance: '20m' }, grace: '3m' },
    { window: { session: '8m' }, emit: 'update', annotate: 'features' },
  ];
  // Without ±0: LMDB reads a stored −0 back as 0 (a property of the store, as before this layout).
  const aggregates = Object.fromEntries(Object.entries(AGGS).filter(([name]) => name !== 'zlo' && name !== 'zhi'));
  for (const options of windows) {
    const config = windowAggregateOperator.resolve({ key: 'anonymousId', window: { sliding: '1h' }, aggregates, output: 'aggregates', ...options });
    for (const cut of [1, 333, 700]) await assertResumes(config, events, lateness, cut, JSON.stringify(options));
  }
});

/**
 * A key's entries as the earlier layouts kept them: every event's time in `ts` (here the
 * counting entries' and the key's latest: all the current layout keeps, and all an upgrade
 * reads of the others) and the counting entries in `c`.
 */
function everyTime(value: SlidingState, chunks: { get(key: readonly [string, number]): unknown }, key: string): { ts: number[]; c: EntryList } {
  const c = flatten(value, (start) => chunks.get([key, start]) as Chunk);
  const ts = c.ts.slice();
  if (value.lt > (ts.at(-1) ?? -Infinity)) ts.push(value.lt);
  return { ts, c };
}

/** The layout of buckets that kept every event's time: `{ w, b, n, m, l }` with buckets `{ ts, c }`, the newest in `l`. */
function timedBuckets(ts: number[], c: EntryList, w: number): { index: { w: number; b: number[]; n: number[]; m: number[]; l: TimedChunk | null }; chunks: Map<number, TimedChunk> } {
  const index = { w, b: [] as number[], n: [] as number[], m: [] as number[], l: null as TimedChunk | null };
  const chunks = new Map<number, TimedChunk>();
  const bucket = (t: number): [number, TimedChunk] => {
    const start = Math.floor(t / w) * w;
    let chunk = chunks.get(start);
    if (chunk === undefined) {
      chunks.set(start, (chunk = { ts: [], c: { ts: [], cs: [] } }));
      index.b.push(start);
      index.n.push(0);
      index.m.push(0);
    }
    return [index.b.indexOf(start), chunk];
  };
  for (const t of ts) {
    const [i, chunk] = bucket(t);
    chunk.ts.push(t);
    index.n[i] = (index.n[i] as number) + 1;
  }
  c.ts.forEach((t, k) => {
    const [i, chunk] = bucket(t);
    chunk.c.ts.push(t);
    chunk.c.cs.push(c.cs[k] as Contribution);
    index.m[i] = (index.m[i] as number) + 1;
  });
  const newest = index.b.at(-1);
  if (newest !== undefined) {
    index.l = chunks.get(newest) as TimedChunk;
    chunks.delete(newest);
  }
  return { index, chunks };
}

const LAYOUTS = {
  cs: 'every entry in the value, a contribution list per entry (`cs`)',
  c: 'every entry in the value, the counting ones apart (`ts` and `c`)',
  timed: "buckets that kept every event's time (`n`, buckets `{ ts, c }`)",
} as const;

for (const [layout, what] of Object.entries(LAYOUTS) as Array<[keyof typeof LAYOUTS, string]>) {
  test(`windowAggregate sliding: state written by an earlier layout (${what}), reopened from LMDB, is rewritten in the current one and resumes with the records of an uninterrupted run`, async () => {
    const lateness = 20 * MIN;
    const events = stream(8, 900, 3, lateness, 3 * MIN);
    const aggregates = Object.fromEntries(Object.entries(AGGS).filter(([name]) => name !== 'zlo' && name !== 'zhi'));
    const variants = [
      { window: { sliding: '45m' }, emit: 'update', annotate: 'features' },
      { window: { sliding: '45m' }, grace: '5m', aggregates: WHERE_AGGS },
      { window: { sliding: '45m' }, emit: 'update', annotate: 'features', aggregates: WHERE_AGGS },
    ] as Array<Partial<WindowAggregateOptions>>;
    for (const options of variants) {
      const config = windowAggregateOperator.resolve({ key: 'anonymousId', window: { sliding: '1h' }, aggregates, output: 'aggregates', ...options });
      for (const cut of [333, 700]) {
        await assertResumes(config, events, lateness, cut, JSON.stringify(options), (stores) => {
          // Rewrite every value as the earlier layout stored it.
          const entries = stores.open<string, SlidingState>(`${STEP}.entries`);
          const chunks = stores.open<readonly [string, number], unknown>(`${STEP}.chunks`);
          let rewritten = 0;
          const query = (key: string) => windowAggregateQuery(config, { windows: stores.open(`${STEP}.windows`), entries: entries as never, chunks: chunks as never }, key);
          const current = [...entries.range()].map(({ key }) => [key, query(key)]);
          for (const { key, value } of [...entries.range()]) {
            const { ts, c } = everyTime(value, chunks, key);
            for (const start of value.b) chunks.delete([key, start]);
            const { w, b: _b, m: _m, l: _l, lt: _lt, ...rest } = value;
            if (layout === 'timed') {
              const { index, chunks: older } = timedBuckets(ts, c, w);
              for (const [start, chunk] of older) chunks.put([key, start], chunk);
              entries.put(key, { ...rest, ...index } as never);
            } else if (layout === 'c') entries.put(key, { ...rest, ts, c } as never, { expiresAt: value.until });
            else {
              // `cs` parallel to `ts`, [] for an entry that counts nowhere.
              let k = 0;
              const cs = ts.map((t) => (k < c.ts.length && c.ts[k] === t ? c.cs[k++] : []));
              assert.equal(k, c.ts.length, 'every contribution has its entry');
              entries.put(key, { ...rest, ts, cs } as never, { expiresAt: value.until });
            }
            rewritten++;
          }
          if (layout !== 'timed') assert.equal(chunks.count(), 0, 'no buckets left: the earlier layouts kept every entry in the value');
          assert.ok(rewritten > 0, 'some state to rewrite');
          // The query API reads the earlier layout as it is, and answers as before.
          assert.deepEqual(current.map(([key]) => [key, query(key as string)]), current, 'the query API reads the earlier layout');
        });
      }
    }
  });
}
