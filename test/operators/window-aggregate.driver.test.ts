import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { windowAggregateOperator, windowAggregateQuery, type AggregateRecord } from '../../operators/window-aggregate.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

const STEP = `  - windowAggregate:
      key: anonymousId
      window: WINDOW
      emit: EMIT
      aggregates:
        views: { count: {} }
        carts: { count: {}, where: { event: add_to_cart } }
        spent: { sum: properties.price }
        top: { max: properties.price }
        avgPrice: { avg: properties.price }
        lastPage: { last: properties.page }
EXTRA      output: aggregates
      annotate: features
`;
const EXTRA_AGGREGATES = `        pages: { countDistinct: properties.page }
        topPages: { topK: { path: properties.page, k: 2 } }
        rfm: { rfm: { monetary: properties.price, order: properties.page }, where: { event: add_to_cart } }
`;
const yaml = (window = '{ tumbling: 1h }', emit = 'final', extra = '') => `
name: window-test
source:
  key: [anonymousId, userId]
  allowedLateness: 30m
steps:
${STEP.replace('WINDOW', window).replace('EMIT', emit).replace('EXTRA', extra)}`;
const driver = (stateDir?: string, window?: string, emit?: string, extra?: string) => TestDriver.fromYaml(yaml(window, emit, extra), { registry: defaultRegistry, stateDir });
const fid = (key: string, start: number) => deriveId('aggregate', 'windowAggregate', key, start, 'final');

test('windowAggregate driver: final records when the watermark passes the window end, late events to late, the rest at end of input', async () => {
  const d = driver();
  d.pipe([ev('m1', 0, { properties: { price: 10, page: '/a' } }), ev('m2', 20 * MIN, { event: 'add_to_cart', properties: { price: 4 } })]);
  d.pipe(ev('m3', 95 * MIN, { properties: { price: 1, page: '/c' } })); // watermark 65m: closes [0, 1h)
  assert.deepEqual(d.read('aggregates'), [
    { id: fid('a1', 0), key: 'a1', windowStart: 0, windowEnd: HOUR, values: { views: 2, carts: 1, spent: 14, top: 10, avgPrice: 7, lastPage: '/a' }, final: true },
  ]);
  d.pipe(ev('late', 50 * MIN)); // behind the watermark (65m): late, never counted
  assert.deepEqual(d.read('late').map((r) => [r.messageId, r.watermark]), [['late', 65 * MIN]]);
  assert.deepEqual(
    d.read('events').map((e) => [e.messageId, e.features]),
    [
      ['m1', { views: 1, carts: 0, spent: 10, top: 10, avgPrice: 10, lastPage: '/a' }],
      ['m2', { views: 2, carts: 1, spent: 14, top: 10, avgPrice: 7, lastPage: '/a' }],
      ['m3', { views: 1, carts: 0, spent: 1, top: 1, avgPrice: 1, lastPage: '/c' }],
    ],
  );
  const config = windowAggregateOperator.resolve({ key: 'anonymousId', window: { tumbling: '1h' }, aggregates: { views: { count: {} }, carts: { count: {}, where: { event: 'add_to_cart' } }, spent: { sum: 'properties.price' }, top: { max: 'properties.price' }, avgPrice: { avg: 'properties.price' }, lastPage: { last: 'properties.page' } } });
  const stores = { windows: d.store<never, never>('windowAggregate', 'windows'), entries: d.store<never, never>('windowAggregate', 'entries'), chunks: d.store<never, never>('windowAggregate', 'chunks') };
  assert.deepEqual(windowAggregateQuery(config, stores, 'a1'), { windowStart: HOUR, windowEnd: 2 * HOUR, values: { views: 1, carts: 0, spent: 1, top: 1, avgPrice: 1, lastPage: '/c' } });
  d.end();
  assert.deepEqual(d.read('aggregates').map((r) => [r.key, r.windowStart, r.final, (r.values as Record<string, unknown>).views]), [['a1', HOUR, true, 1]]);
  assert.equal(windowAggregateQuery(config, stores, 'a1'), undefined, 'closed windows are deleted');
  await d.close();
});

test('windowAggregate driver: emit update writes a record per event and the final one at close', async () => {
  const d = driver(undefined, '{ tumbling: 1h }', 'update');
  d.pipe([ev('m1', 0), ev('m2', MIN)]).end();
  assert.deepEqual(d.read('aggregates').map((r) => [r.windowStart, (r.values as Record<string, unknown>).views, r.final]), [[0, 1, false], [0, 2, false], [0, 2, true]]);
  await d.close();
});

test('windowAggregate driver: a pipeline with the step is accepted by the schema and rejected with a named problem when wrong', () => {
  assert.throws(() => TestDriver.fromYaml(yaml('{ tumbling: 1 hour }'), { registry: defaultRegistry }), /tumbling/);
  assert.throws(() => TestDriver.fromYaml(yaml().replace('{ event: add_to_cart }', '{ event: { $where: x } }'), { registry: defaultRegistry }), /\$where/);
});

function stream(): TributaryEvent[] {
  const rand = rng(5);
  const out: TributaryEvent[] = [];
  let t = 0;
  for (let i = 0; i < 600; i++) {
    t += Math.floor(rand() * 4 * MIN);
    const jitter = rand() < 0.2 ? Math.floor(rand() * 40 * MIN) : 0; // > 30m: late
    out.push(ev(`m${i}`, t - jitter, { anonymousId: `k${Math.floor(rand() * 5)}`, event: rand() < 0.2 ? 'add_to_cart' : 'product_viewed', properties: { price: Math.floor(rand() * 50), page: `/p${i % 7}` } }));
  }
  return out;
}

const restartCases = [
  ['{ tumbling: 1h }', 'final', ''],
  ['{ hopping: 1h, advance: 20m }', 'update', ''],
  ['{ sliding: 2h }', 'final', ''],
  ['{ sliding: 2h }', 'update', EXTRA_AGGREGATES],
  ['{ session: 10m }', 'update', EXTRA_AGGREGATES],
  ['{ hopping: 2h, advance: 30m }', 'final', EXTRA_AGGREGATES],
] as const;
for (const [window, emit, extra] of restartCases) {
  test(`windowAggregate driver: ${window} ${emit}${extra ? ' with countDistinct, topK and rfm' : ''}, stopped mid-stream and resumed from its LMDB store, writes exactly the records of an uninterrupted run`, async () => {
    const events = stream();
    const streams = ['events', 'aggregates', 'late', 'dead-letter'];
    const reference = driver(undefined, window, emit, extra);
    reference.pipe(events).end();
    const want = Object.fromEntries(streams.map((s) => [s, reference.read(s)]));
    await reference.close();
    assert.ok((want.aggregates?.length ?? 0) > 50 && (want.late?.length ?? 0) > 0, 'the stream has windows and late events');
    assert.ok((want.aggregates as AggregateRecord[]).every((r, i, all) => all.findIndex((x) => x.id === r.id) === i), 'record ids are unique');

    for (const cut of [1, 250, 599]) {
      const dir = tempDir();
      const first = driver(dir, window, emit, extra);
      first.pipe(events.slice(0, cut));
      const got = Object.fromEntries(streams.map((s) => [s, first.read(s)]));
      await first.close();
      const second = driver(dir, window, emit, extra);
      second.pipe(events.slice(cut)).end();
      for (const s of streams) got[s]?.push(...second.read(s));
      await second.close();
      assert.deepEqual(got, want, `cut after ${cut} events`);
    }
  });
}
