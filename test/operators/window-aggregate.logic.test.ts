import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { MemoryStoreFactory } from '../../lib/state/engines/memory.js';
import { recordingContext } from '../../lib/testing/context.js';
import { WindowAggregateLogic, windowAggregateOperator, type AggregateRecord, type SlidingState, type WindowAggregateOptions } from '../../operators/window-aggregate.js';
import { flatten, type Chunk } from '../../operators/window-aggregate/chunks.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { spyStores } from '../support/store-spy.js';
import { rng } from '../support/random.js';

const AGGS: WindowAggregateOptions['aggregates'] = {
  n: { count: {} },
  carts: { count: {}, where: { event: 'add_to_cart' } },
  revenue: { sum: 'properties.price' },
  low: { min: 'properties.price' },
  high: { max: 'properties.price' },
  mean: { avg: 'properties.price' },
  firstPage: { first: 'properties.page' },
  lastPage: { last: 'properties.page' },
  bigRevenue: { sum: 'properties.price', where: { 'properties.price': { $gte: 10 } } },
};

const setup = (options: Partial<WindowAggregateOptions>) => {
  const ctx = recordingContext('wa');
  const config = windowAggregateOperator.resolve({ key: 'anonymousId', window: { tumbling: '1h' }, aggregates: AGGS, output: 'aggregates', ...options });
  return { ctx, logic: new WindowAggregateLogic(config, ctx), config };
};
const records = (ctx: ReturnType<typeof setup>['ctx']) =>
  ctx.emitted.map(({ stream, record }) => {
    assert.equal(stream, 'aggregates');
    return record as AggregateRecord;
  });

/** The values of AGGS computed directly from the events of one window (in arrival order). */
function expectedValues(events: TributaryEvent[]): Record<string, unknown> {
  const price = (e: TributaryEvent) => e.properties?.price;
  const nums = events.map(price).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const withPage = events.filter((e) => e.properties?.page !== undefined);
  let first: TributaryEvent | undefined;
  let last: TributaryEvent | undefined;
  for (const e of withPage) {
    if (!first || e.timestamp < first.timestamp) first = e;
    if (!last || e.timestamp >= last.timestamp) last = e;
  }
  return {
    n: events.length,
    carts: events.filter((e) => e.event === 'add_to_cart').length,
    revenue: nums.reduce((a, b) => a + b, 0),
    low: nums.length ? Math.min(...nums) : null,
    high: nums.length ? Math.max(...nums) : null,
    mean: nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : null,
    firstPage: first ? first.properties?.page : null,
    lastPage: last ? last.properties?.page : null,
    bigRevenue: nums.filter((v) => v >= 10).reduce((a, b) => a + b, 0),
  };
}

const finalId = (key: string, start: number) => deriveId('aggregate', 'wa', key, start, 'final');
const p = (price: unknown, page?: string) => ({ properties: page === undefined ? { price } : { price, page } });

const cases: Array<{ name: string; options?: Partial<WindowAggregateOptions>; events: TributaryEvent[]; windows: Array<[string, number, number, number[]]> }> = [
  {
    name: 'tumbling: windows are [k·size, (k+1)·size), an event at the end belongs to the next window',
    events: [ev('m1', 0, p(5, '/a')), ev('m2', HOUR - 1, p(20, '/b')), ev('m3', HOUR, p(1))],
    windows: [['a1', 0, HOUR, [0, 1]], ['a1', HOUR, 2 * HOUR, [2]]],
  },
  {
    name: 'tumbling: out-of-order events fold by event time (first/last by time, ties to arrival)',
    events: [ev('m1', 30 * MIN, p(3, '/late')), ev('m2', 10 * MIN, p(4, '/early')), ev('m3', 10 * MIN, p(7, '/early2')), ev('m4', 30 * MIN, p('x', '/last'))],
    windows: [['a1', 0, HOUR, [0, 1, 2, 3]]],
  },
  {
    name: 'non-numeric and missing values are skipped by sum/min/max/avg; where filters each aggregate',
    events: [ev('m1', 0, p('12')), ev('m2', 1, { event: 'add_to_cart' }), ev('m3', 2, p(Infinity)), ev('m4', 3, p(15, '/x'))],
    windows: [['a1', 0, HOUR, [0, 1, 2, 3]]],
  },
  {
    name: 'keys are separate',
    events: [ev('m1', 0, p(1)), ev('m2', 5, { ...p(2), anonymousId: 'b2' })],
    windows: [['a1', 0, HOUR, [0]], ['b2', 0, HOUR, [1]]],
  },
  {
    name: 'hopping: an event belongs to size/advance windows',
    options: { window: { hopping: '1h', advance: '30m' } },
    events: [ev('m1', 10 * MIN, p(1)), ev('m2', 40 * MIN, p(2)), ev('m3', 70 * MIN, p(4))],
    windows: [['a1', -30 * MIN, 30 * MIN, [0]], ['a1', 0, HOUR, [0, 1]], ['a1', 30 * MIN, 90 * MIN, [1, 2]], ['a1', HOUR, 2 * HOUR, [2]]],
  },
];

for (const c of cases) {
  test(`windowAggregate logic: ${c.name}`, () => {
    const { ctx, logic } = setup(c.options ?? {});
    for (const e of c.events) logic.process(e, e.anonymousId as string);
    assert.deepEqual(records(ctx), [], 'nothing before the windows close');
    logic.advance(Infinity);
    const got = records(ctx).sort((a, b) => a.key.localeCompare(b.key) || a.windowStart - b.windowStart);
    assert.deepEqual(
      got,
      c.windows.map(([key, start, end, idx]) => ({ id: finalId(key, start), key, windowStart: start, windowEnd: end, values: expectedValues(idx.map((i) => c.events[i] as TributaryEvent)), final: true })),
    );
  });
}

test('windowAggregate logic: a window closes when the watermark reaches end + grace, in (close time, id) order, and its state is deleted', () => {
  const { ctx, logic } = setup({ grace: '10m', aggregates: { n: { count: {} } } });
  logic.process(ev('m1', 0), 'a1');
  logic.process(ev('m2', 5 * MIN), 'b1');
  logic.process(ev('m3', HOUR), 'a1');
  logic.advance(HOUR + 10 * MIN - 1);
  assert.deepEqual(records(ctx), []);
  logic.advance(HOUR + 10 * MIN);
  assert.deepEqual(records(ctx).map((r) => [r.key, r.windowStart, r.values.n]), [['a1', 0, 1], ['b1', 0, 1]].sort((a, b) => (`w:0:${a[0]}` < `w:0:${b[0]}` ? -1 : 1)));
  assert.deepEqual([...ctx.stores.open('wa.windows').range()].map((e) => [e.key, (e.value as Array<{ start: number }>).map((w) => w.start)]), [['a1', [HOUR]]], 'one value per key: its open windows');
  logic.advance(Infinity);
  assert.equal(records(ctx).length, 3);
  assert.equal(ctx.stores.open('wa.windows').count(), 0);
  assert.deepEqual(windowAggregateOperator.stores(windowAggregateOperator.resolve({ window: { tumbling: '1h' }, aggregates: { n: { count: {} } } })), ['windows', 'entries'], 'timers are in memory, not stored');
});

test('windowAggregate logic: emit update writes a record per change, rate-limited per key and window by updateInterval, then the final record', () => {
  const { ctx, logic } = setup({ emit: 'update', updateInterval: '10m', aggregates: { n: { count: {} } } });
  for (const [id, t] of [['m1', 0], ['m2', 5 * MIN], ['m3', 10 * MIN], ['m4', 11 * MIN], ['m5', 61 * MIN]] as const) logic.process(ev(id, t), 'a1');
  logic.advance(Infinity);
  const upd = (start: number, n: number) => deriveId('aggregate', 'wa', 'a1', start, 'update', n);
  assert.deepEqual(records(ctx).map((r) => [r.id, r.windowStart, r.values.n, r.final]), [
    [upd(0, 1), 0, 1, false],
    [upd(0, 2), 0, 3, false], // m2 at 5m suppressed (< 0 + 10m); m3 at 10m emits with both
    [upd(HOUR, 1), HOUR, 1, false],
    [finalId('a1', 0), 0, 4, true],
    [finalId('a1', HOUR), HOUR, 1, true],
  ]);
});

test('windowAggregate logic: sliding windows cover (t − size, t] per event, final once the watermark passes t', () => {
  const { ctx, logic } = setup({ window: { sliding: '1h' }, aggregates: { n: { count: {} }, revenue: { sum: 'properties.price' } } });
  logic.process(ev('m1', 0, p(1)), 'a1');
  logic.process(ev('m2', 30 * MIN, p(2)), 'a1');
  logic.process(ev('m3', HOUR, p(4)), 'a1'); // (0, 1h]: m1 at 0 is out
  logic.process(ev('m4', 30 * MIN, p(8)), 'a1'); // same time as m2: one record for 30m
  logic.advance(30 * MIN);
  assert.deepEqual(records(ctx).map((r) => [r.windowStart, r.windowEnd, r.values]), [[-HOUR, 0, { n: 1, revenue: 1 }]]);
  logic.advance(Infinity);
  assert.deepEqual(records(ctx).map((r) => [r.windowStart, r.windowEnd, r.values, r.final, r.id]), [
    [-HOUR, 0, { n: 1, revenue: 1 }, true, finalId('a1', -HOUR)],
    [-30 * MIN, 30 * MIN, { n: 3, revenue: 11 }, true, finalId('a1', -30 * MIN)],
    [0, HOUR, { n: 3, revenue: 14 }, true, finalId('a1', 0)],
  ]);
  assert.equal(ctx.stores.open('wa.entries').count(), 0, 'entries expire once no record can include them');
});

test('windowAggregate logic: sliding entries are kept only within size + grace of the watermark', () => {
  const { ctx, logic } = setup({ window: { sliding: '1h' }, aggregates: { n: { count: {} } } });
  for (let i = 0; i < 10; i++) {
    logic.process(ev(`m${i}`, i * 20 * MIN), 'a1');
    logic.advance(i * 20 * MIN);
  }
  // watermark 180m: the final of 160m moved the window to (100m, 160m]: entries at or before 100m
  // are dropped, a bucket (1h / 32 = 112.5 s) at a time: 100m's bucket reaches past 100m, so it
  // stays until the next final (entries before a window are never read); 180m is pending.
  const stored = [...ctx.stores.open('wa.entries').range()];
  const chunks = ctx.stores.open<readonly [string, number], Chunk>('wa.chunks');
  const times = (state: SlidingState) => flatten(state, (start) => chunks.get(['a1', start]) as Chunk).ts;
  assert.deepEqual(stored.map((e) => [e.key, times(e.value as SlidingState), (e.value as SlidingState).p]), [['a1', [100 * MIN, 120 * MIN, 140 * MIN, 160 * MIN, 180 * MIN], [180 * MIN]]]);
  // Buckets of 1h / 32 (112.5 s): every entry alone in its bucket, the dropped ones deleted, the newest kept in the key's value.
  assert.deepEqual([...chunks.range()].map((e) => e.key[1]), [100 * MIN, 120 * MIN, 140 * MIN, 160 * MIN].map((t) => Math.floor(t / 112_500) * 112_500));
  assert.deepEqual((stored[0]?.value as SlidingState).l?.ts, [180 * MIN]);
  logic.advance(240 * MIN + 1);
  assert.equal(ctx.stores.open('wa.entries').count(), 0, 'the value expires with its last entry (180m + 60m)');
  assert.equal(chunks.count(), 0, 'and its buckets with it');
});

test('windowAggregate logic: sliding windows keep only the events that count in some aggregate, and the time of the key’s latest event', () => {
  const { ctx, logic } = setup({ window: { sliding: '1h' }, aggregates: { orders: { count: {}, where: { event: 'purchase' } }, spent: { sum: 'properties.price', where: { event: 'purchase' } } } });
  logic.process(ev('m1', 0, { event: 'page_viewed' }), 'a1');
  logic.process(ev('m2', 10 * MIN, { event: 'purchase', properties: { price: 5 } }), 'a1');
  logic.process(ev('m3', 20 * MIN, { event: 'add_to_cart' }), 'a1');
  logic.process(ev('m4', 30 * MIN, { event: 'page_viewed' }), 'a1');
  logic.process(ev('m5', 5 * MIN, { event: 'page_viewed' }), 'b1');
  const stored = ctx.stores.open<string, SlidingState>('wa.entries');
  const a1 = stored.get('a1') as SlidingState;
  assert.deepEqual([a1.b, a1.m, a1.l, a1.lt], [[Math.floor((10 * MIN) / 112_500) * 112_500], [1], { ts: [10 * MIN], cs: [[[0, 1], [1, 5]]] }, 30 * MIN], 'one entry, the purchase; the latest event at 30m');
  const b1 = stored.get('b1') as SlidingState;
  assert.deepEqual([b1.b, b1.m, b1.l, b1.lt], [[], [], null, 5 * MIN], 'a key none of whose events count has no entry, only its latest time');
  // The query: the window ending at the key's latest event, whether it counts or not.
  assert.deepEqual(logic.current('a1'), { windowStart: -30 * MIN, windowEnd: 30 * MIN, values: { orders: 1, spent: 5 } });
  assert.deepEqual(logic.current('b1'), { windowStart: 5 * MIN - HOUR, windowEnd: 5 * MIN, values: { orders: 0, spent: 0 } });
  // Every event still has its final record, and the key's value goes an hour after its latest event.
  logic.advance(Infinity);
  assert.deepEqual(records(ctx).map((r) => [r.key, r.windowEnd, r.values.orders]), [
    ['a1', 0, 0], ['b1', 5 * MIN, 0], ['a1', 10 * MIN, 1], ['a1', 20 * MIN, 1], ['a1', 30 * MIN, 1],
  ]);
  assert.equal(stored.count(), 0);
});

test('windowAggregate logic: annotate adds the key current values right after the event', () => {
  const { logic } = setup({ window: { sliding: '1h' }, annotate: 'features', aggregates: { n: { count: {} }, spent: { sum: 'properties.price' } } });
  const out = [ev('m1', 0, p(3)), ev('m2', 10 * MIN, p(4)), ev('m3', 70 * MIN + 1, p(1))].map((e) => logic.process(e, 'a1').features);
  assert.deepEqual(out, [{ n: 1, spent: 3 }, { n: 2, spent: 7 }, { n: 1, spent: 1 }]);
  const tumbling = setup({ annotate: 'features', aggregates: { n: { count: {} } } }).logic;
  assert.deepEqual([ev('m1', 0), ev('m2', 10 * MIN), ev('m3', HOUR)].map((e) => tumbling.process(e, 'a1').features), [{ n: 1 }, { n: 2 }, { n: 1 }]);
  assert.deepEqual(tumbling.current('a1'), { windowStart: HOUR, windowEnd: 2 * HOUR, values: { n: 1 } });
  assert.equal(tumbling.current('zz'), undefined);
});

test('windowAggregate resolve: bad options are named with their fix', () => {
  const bad: Array<[Partial<WindowAggregateOptions>, RegExp]> = [
    [{ window: { tumbling: '0m' } }, /window.tumbling: "0m" must be longer than 0/],
    [{ window: { hopping: '30m', advance: '1h' } }, /window.advance: "1h" is longer than the window/],
    [{ window: {} as never }, /window: give exactly one of tumbling, hopping, sliding, session \(got none\)/],
    [{ aggregates: {} }, /aggregates: required/],
    [{ aggregates: { x: { sum: 'a', max: 'b' } as never } }, /aggregates.x: give exactly one of/],
    [{ aggregates: { x: { sum: 'a.__proto__.b' } } }, /aggregates.x.sum: /],
    [{ aggregates: { x: { count: {}, where: { event: { $where: '1' } } } } }, /aggregates.x.where.event.\$where: unknown operator \$where/],
    [{ aggregates: { x: { topK: { path: 'event', k: 0 } } } }, /aggregates.x.topK.k: must be a whole number ≥ 1/],
    [{ aggregates: { x: { rfm: { monetary: '' } } } }, /aggregates.x.rfm.monetary: must be a field path/],
    [{ window: { session: '0s' } }, /window.session: "0s" must be longer than 0/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => windowAggregateOperator.resolve({ window: { tumbling: '1h' }, aggregates: { n: { count: {} } }, ...options }), message);
  }
});

test('windowAggregate logic: randomized streams agree with a direct recomputation (tumbling, hopping, sliding)', () => {
  for (const window of [{ tumbling: '1h' }, { hopping: '1h', advance: '20m' }, { sliding: '45m' }, { session: '6m' }] as const) {
    const rand = rng(11);
    const { ctx, logic, config } = setup({ window, aggregates: AGGS });
    const events: TributaryEvent[] = [];
    let max = 0;
    const lateness = 15 * MIN;
    for (let i = 0; i < 400; i++) {
      max += Math.floor(rand() * 3 * MIN);
      const t = max - Math.floor(rand() * 20 * MIN);
      const price = rand() < 0.8 ? Math.floor(rand() * 30) : 'n/a';
      const e = ev(`m${i}`, t, { anonymousId: `k${Math.floor(rand() * 3)}`, event: rand() < 0.2 ? 'add_to_cart' : 'product_viewed', properties: rand() < 0.5 ? { price, page: `/p${i}` } : { price } });
      const wm = Math.max(...[0, ...events.map((x) => x.timestamp)]) - lateness;
      if (t < wm) continue; // late: the task would route it to `late`
      events.push(e);
      logic.process(e, e.anonymousId as string);
      logic.advance(Math.max(...events.map((x) => x.timestamp)) - lateness);
    }
    logic.advance(Infinity);
    const { sizeMs: size, advanceMs: adv, kind } = config.window;
    const want: AggregateRecord[] = [];
    for (const key of ['k0', 'k1', 'k2']) {
      const mine = events.filter((e) => e.anonymousId === key);
      if (kind === 'session') {
        // Every accepted event ends up in the session of its time-sorted run with gaps ≤ gap.
        const sorted = [...mine].sort((a, b) => a.timestamp - b.timestamp);
        let run: TributaryEvent[] = [];
        const flush = () => {
          if (run.length === 0) return;
          const start = (run[0] as TributaryEvent).timestamp;
          const end = (run[run.length - 1] as TributaryEvent).timestamp;
          const set = new Set(run);
          want.push({ id: finalId(key, start), key, windowStart: start, windowEnd: end, values: expectedValues(mine.filter((e) => set.has(e))), final: true });
          run = [];
        };
        for (const e of sorted) {
          if (run.length > 0 && e.timestamp - (run[run.length - 1] as TributaryEvent).timestamp > size) flush();
          run.push(e);
        }
        flush();
        continue;
      }
      if (kind === 'sliding') {
        for (const t of [...new Set(mine.map((e) => e.timestamp))].sort((a, b) => a - b)) {
          want.push({ id: finalId(key, t - size), key, windowStart: t - size, windowEnd: t, values: expectedValues(mine.filter((e) => e.timestamp > t - size && e.timestamp <= t).sort((a, b) => a.timestamp - b.timestamp)), final: true });
        }
        continue;
      }
      const starts = new Set<number>();
      for (const e of mine) for (let s = Math.floor(e.timestamp / adv) * adv; s > e.timestamp - size; s -= adv) starts.add(s);
      for (const s of [...starts].sort((a, b) => a - b)) {
        want.push({ id: finalId(key, s), key, windowStart: s, windowEnd: s + size, values: expectedValues(mine.filter((e) => e.timestamp >= s && e.timestamp < s + size)), final: true });
      }
    }
    const got = records(ctx).sort((a, b) => a.key.localeCompare(b.key) || a.windowStart - b.windowStart);
    assert.ok(want.length > 20, `${kind}: enough windows`);
    assert.deepEqual(got, want, kind);
  }
});

test('windowAggregate logic: session windows join within gap (inclusive), bridge and merge, close at end + gap + 1', () => {
  const { ctx, logic } = setup({ window: { session: '10m' }, emit: 'update', aggregates: { n: { count: {} }, firstPage: { first: 'properties.page' } } });
  logic.process(ev('m1', 0, p(1, '/a')), 'a1');
  logic.process(ev('m2', 25 * MIN, p(1, '/c')), 'a1'); // a second session: 25m > 0 + 10m
  logic.process(ev('m3', 35 * MIN, p(1, '/d')), 'a1'); // exactly gap after m2: joins
  logic.process(ev('m4', 12 * MIN, p(1, '/b')), 'a1'); // within gap of neither (0 + 10m < 12m, 12m + 10m < 25m)
  logic.process(ev('m5', 18 * MIN), 'a1'); // bridges [12m] and [25m, 35m]
  logic.advance(45 * MIN);
  assert.deepEqual(records(ctx).filter((r) => r.final).map((r) => [r.windowStart, r.windowEnd]), [[0, 0]], '[12m, 35m] stays open until the watermark passes 35m + 10m');
  logic.advance(45 * MIN + 1);
  const upd = (start: number, n: number) => deriveId('aggregate', 'wa', 'a1', start, 'update', n);
  assert.deepEqual(records(ctx).map((r) => [r.id, r.windowStart, r.windowEnd, r.values, r.final]), [
    [upd(0, 1), 0, 0, { n: 1, firstPage: '/a' }, false],
    [upd(25 * MIN, 1), 25 * MIN, 25 * MIN, { n: 1, firstPage: '/c' }, false],
    [upd(25 * MIN, 2), 25 * MIN, 35 * MIN, { n: 2, firstPage: '/c' }, false],
    [upd(12 * MIN, 1), 12 * MIN, 12 * MIN, { n: 1, firstPage: '/b' }, false],
    [upd(12 * MIN, 2), 12 * MIN, 35 * MIN, { n: 4, firstPage: '/b' }, false],
    [finalId('a1', 0), 0, 0, { n: 1, firstPage: '/a' }, true],
    [finalId('a1', 12 * MIN), 12 * MIN, 35 * MIN, { n: 4, firstPage: '/b' }, true],
  ]);
  assert.equal(ctx.stores.open('wa.windows').count(), 0);
});

test('windowAggregate logic: countDistinct is exact up to 1000 values, then a HyperLogLog estimate within 5% (documented standard error 1.6%)', () => {
  const { ctx, logic } = setup({ aggregates: { users: { countDistinct: 'properties.u' }, big: { countDistinct: 'properties.v' } } });
  const rand = rng(3);
  const truth = new Set<number>();
  for (let i = 0; i < 30_000; i++) {
    const v = Math.floor(rand() * 20_000);
    truth.add(v);
    // Exactly 1000 distinct values of u (500 even residues as strings, 500 odd ones as numbers), each many times.
    logic.process(ev(`m${i}`, i, { properties: { u: i % 2 === 0 ? String(i % 1000) : i % 1000, v } }), 'a1');
  }
  logic.advance(Infinity);
  const values = (records(ctx)[0] as AggregateRecord).values as { users: number; big: number };
  const one = setup({ aggregates: { u: { countDistinct: 'properties.u' } } });
  for (let i = 0; i <= 1000; i++) one.logic.process(ev(`m${i}`, i, { properties: { u: i } }), 'a1');
  one.logic.advance(Infinity);
  const estimate = ((records(one.ctx)[0] as AggregateRecord).values as { u: number }).u;
  assert.ok(Math.abs(estimate - 1001) / 1001 < 0.05, `1001 values: an estimate (${estimate})`);
  assert.equal(values.users, 1000, 'exact at the limit');
  const error = Math.abs(values.big - truth.size) / truth.size;
  assert.ok(truth.size > 15_000 && error < 0.05, `estimate ${values.big} vs ${truth.size} (error ${(error * 100).toFixed(2)}%)`);
});

test('windowAggregate logic: countDistinct, topK and rfm merge across session windows exactly as if folded in one', () => {
  const aggregates: WindowAggregateOptions['aggregates'] = {
    products: { countDistinct: 'properties.sku' },
    top: { topK: { path: 'properties.sku', k: 2 } },
    rfm: { rfm: { monetary: 'properties.price', quantity: 'properties.qty', order: 'properties.order' }, where: { 'properties.order': { $not: { $regex: '^C' } } } },
  };
  const events = [
    ev('m1', 0, { properties: { sku: 'a', price: 2.5, qty: 2, order: 'o1' } }),
    ev('m2', 30 * MIN, { properties: { sku: 'b', price: 1, qty: 3, order: 'o2' } }),
    ev('m3', 31 * MIN, { properties: { sku: 'b', price: 1, qty: -3, order: 'C9' } }),
    ev('m4', 15 * MIN, { properties: { sku: 'a', price: 4, qty: 1, order: 'o2' } }), // bridges the two sessions
    ev('m5', 16 * MIN, { properties: { sku: 'c', price: 'x', qty: 1, order: 'o3' } }),
  ];
  const run = (window: WindowAggregateOptions['window']) => {
    const { ctx, logic } = setup({ window, aggregates });
    for (const e of events) logic.process(e, 'a1');
    logic.advance(Infinity);
    return records(ctx).map((r) => r.values);
  };
  const want = {
    products: 3,
    top: [{ value: 'a', count: 2 }, { value: 'b', count: 2 }],
    rfm: { recencyMs: 0, lastAt: 30 * MIN, frequency: 3, monetary: 5 + 3 + 4 },
  };
  assert.deepEqual(run({ session: '15m' }), [{ ...want, rfm: { ...want.rfm, recencyMs: 31 * MIN - 30 * MIN } }]);
  assert.deepEqual(run({ tumbling: '1h' }), [{ ...want, rfm: { ...want.rfm, recencyMs: HOUR - 30 * MIN } }]);
});

test('windowAggregate sliding: what one event writes stays bounded as the key’s history grows (its bucket and the key’s index), not the whole window', () => {
  // Every put, as JSON bytes, per store: the state a checkpoint would encode for that key.
  const written = new Map<string, number[]>();
  const stores = spyStores(new MemoryStoreFactory(), (name, _key, value) => void (written.get(name) ?? written.set(name, []).get(name)!).push(JSON.stringify(value).length));
  const ctx = recordingContext('wa', stores);
  const config = windowAggregateOperator.resolve({ key: 'anonymousId', window: { sliding: '90d' }, aggregates: { n: { count: {} }, revenue: { sum: 'properties.price' } }, output: 'aggregates' });
  const logic = new WindowAggregateLogic(config, ctx);
  // 3,000 events of one key, 5 minutes apart (10.4 days, all inside the 90-day window).
  for (let i = 0; i < 3000; i++) {
    logic.process(ev(`m${i}`, i * 5 * MIN, p(i % 7)), 'a1');
    logic.advance(i * 5 * MIN);
  }
  assert.deepEqual((records(ctx).at(-1) as AggregateRecord).values, { n: 2999, revenue: [...Array(2999).keys()].reduce((s, i) => s + (i % 7), 0) }, 'the window holds every event but the one still pending');
  const last = (name: string) => (written.get(name) as number[]).slice(-1000);
  const head = Math.max(...last('wa.entries'));
  // A bucket is 90d / 32 = 2.8 days (~810 events here): the key's value holds the newest one and
  // the index; an older bucket is written once, when the next one begins.
  assert.equal((written.get('wa.chunks') as number[]).length, 3, 'three buckets sealed, each written once');
  const chunk = 0;  // What the layout before buckets wrote per event: every entry of the key in its value.
  const state = ctx.stores.open<string, SlidingState>('wa.entries').get('a1') as SlidingState;
  const chunks = ctx.stores.open<readonly [string, number], Chunk>('wa.chunks');
  const whole = JSON.stringify(flatten(state, (start) => chunks.get(['a1', start]) as Chunk)).length;
  assert.ok(chunk + head < whole / 2, `the last events write ${chunk + head} bytes each at most, under half of the key's ${whole} bytes of entries`);
  assert.ok(head < 40_000, `one bucket and the index: ${head} bytes`);
});

test('windowAggregate logic: sum, avg and the monetary of rfm skip a number over 2^992 in magnitude, so two records of 1.7e308 cannot make a window Infinity; min and max take it', () => {
  const aggregates: WindowAggregateOptions['aggregates'] = {
    revenue: { sum: 'properties.price' },
    mean: { avg: 'properties.price' },
    high: { max: 'properties.price' },
    rfm: { rfm: { monetary: 'properties.price' } },
  };
  const events = [
    ev('m1', 0, { properties: { price: 1.7e308 } }),
    ev('m2', MIN, { properties: { price: 10 } }),
    ev('m3', 2 * MIN, { properties: { price: -1.7e308 } }),
    ev('m4', 3 * MIN, { properties: { price: 1.7e308 } }),
    ev('m5', 4 * MIN, { properties: { price: 2 ** 992 } }),
  ];
  const recency: Array<[WindowAggregateOptions['window'], number]> = [[{ tumbling: '1h' }, HOUR - 4 * MIN], [{ session: '15m' }, 0], [{ sliding: '1h' }, 0]];
  for (const [window, recencyMs] of recency) {
    const { ctx, logic } = setup({ window, aggregates });
    for (const e of events) logic.process(e, 'a1');
    logic.advance(Infinity);
    const last = records(ctx).at(-1)?.values;
    assert.deepEqual(last, { revenue: 10 + 2 ** 992, mean: (10 + 2 ** 992) / 2, high: 1.7e308, rfm: { recencyMs, lastAt: 4 * MIN, frequency: 5, monetary: 10 + 2 ** 992 } }, JSON.stringify(window));
    assert.ok(Number.isFinite(last?.revenue), 'finite');
  }
});
