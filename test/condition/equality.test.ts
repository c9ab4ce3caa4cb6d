import assert from 'node:assert/strict';
import { test } from 'node:test';
import siftModule from 'sift';
import { compileCondition } from '../../lib/condition/condition.js';
import { plainEquality } from '../../lib/condition/equality.js';
import { generateEvents } from '../../lib/generate/index.js';

class Box {
  constructor(readonly event: string) {}
}

/** Records where sift does what a plain walk would not: arrays, Dates, toJSON, properties of primitives, inherited names. */
const hostile: unknown[] = [
  { event: ['purchase'] },
  { event: [['purchase']] },
  { event: ['add_to_cart', 'purchase'] },
  { context: [{ channel: 'web' }, { channel: 'app' }] },
  { context: { channel: ['web'] } },
  { properties: { price: new Date(10) } },
  { properties: { price: { toJSON: () => 10 } } },
  { properties: { price: '10' } },
  { properties: { price: 10 } },
  { properties: { price: -0 } },
  { properties: null },
  { properties: 'price' },
  { name: 'abc' },
  { a: [1, 2] },
  { a: { b: [1] } },
  { a: { b: 1 } },
  { a: { 0: 1 } },
  { flag: true },
  { flag: 'true' },
  { x: 0 },
  { x: '0' },
  { x: false },
  {},
  Object.create(null) as object,
  Object.assign(Object.create(null) as object, { event: 'purchase' }),
  new Box('purchase'),
  { event: new Box('purchase') },
  JSON.parse('{"__proto__": "x", "event": "purchase"}') as unknown,
  JSON.parse('{"constructor": "x"}') as unknown,
  { toString: 'x' },
  null,
  'purchase',
  ['purchase'],
  { type: 'page', name: ['Home'] },
  { type: ['page'], name: 'Home' },
  { type: 'page', name: 'Home' },
  { event: 'email_clicked', name: new Date(0) },
  { event: 'store_visit', context: { channel: null } },
  { event: null, type: 'track' },
  { type: 'track', event: 'product_viewed', context: { channel: ['web'] } },
  { type: 'track', event: 'product_viewed', context: { channel: 'app' } },
];

const conditions: Array<Record<string, unknown>> = [
  { event: 'purchase' },
  { event: 'product_viewed', type: 'track' },
  { 'context.channel': 'web' },
  { 'properties.price': 10 },
  { 'properties.price': 0 },
  { 'properties.revenue': 3.18 },
  { 'a.b': 1 },
  { 'a.0': 1 },
  { 'a.length': 2 },
  { 'name.length': 3 },
  { constructor: 'x' },
  { toString: 'x' },
  { __proto__: 'x' } as Record<string, unknown>,
  JSON.parse('{"__proto__": "x"}') as Record<string, unknown>,
  { flag: true },
  { x: 0 },
  { x: '0' },
  { x: false },
  { 'a.b.c': 'z' },
  { event: { $eq: 'purchase' } },
  { event: { $in: ['purchase', 'add_to_cart'] } },
  { 'properties.price': { $in: [10, 0, '10'] } },
  { flag: { $in: [true] } },
  { $or: [{ event: { $in: ['email_clicked', 'store_visit'] } }, { type: { $in: ['page', 'screen'] }, name: 'Home' }] },
  { $or: [{ 'context.channel': 'web' }, { event: ['purchase'] }] },
  { $or: [{ event: 'purchase' }, { 'a.b': 1 }] },
  { $and: [{ type: 'track' }, { $or: [{ event: 'purchase' }, { 'properties.price': 10 }] }] },
  { $and: [{ event: 'product_viewed' }, { 'context.channel': { $in: ['web', 'app'] } }] },
];

test('plainEquality: the answer is sift’s on generated events and hostile records, and most generated events are decided without sift', () => {
  const records: unknown[] = [...generateEvents({ events: 3000, seed: 7 }), ...hostile];
  let compared = 0;
  let decided = 0;
  for (const condition of conditions) {
    const reference = siftModule.default(condition);
    // Paths such as `constructor` are refused when a pipeline loads; the walk must still agree.
    let compiled: ((record: unknown) => boolean) | undefined;
    try {
      compiled = compileCondition(condition);
    } catch {
      compiled = undefined;
    }
    const fast = plainEquality(condition);
    for (const record of records) {
      const expected = reference(record);
      if (compiled) assert.equal(compiled(record), expected, `${JSON.stringify(condition)} on ${JSON.stringify(record)}`);
      const own = fast?.(record);
      if (own !== undefined) {
        decided++;
        assert.equal(own, expected, `fast path: ${JSON.stringify(condition)} on ${JSON.stringify(record)}`);
      }
      compared++;
    }
  }
  assert.equal(compared, conditions.length * (3000 + hostile.length));
  assert.ok(decided > 0.9 * conditions.length * 3000, `decided ${decided} of ${compared}`);
});

test('plainEquality: leaves to sift what it cannot judge by a plain walk', () => {
  const t = plainEquality({ event: 'purchase' });
  assert.ok(t);
  assert.equal(t({ event: 'purchase' }), true);
  assert.equal(t({ event: 'view' }), false);
  assert.equal(t({}), false);
  assert.equal(t({ event: ['purchase'] }), undefined);
  assert.equal(t({ event: new Date(0) }), undefined);
  assert.equal(t(new Box('purchase')), undefined);
  assert.equal(t('purchase'), undefined);
  assert.equal(plainEquality({ 'properties.price': 10 })?.({ properties: 'x' }), undefined);
});

test('plainEquality: only conditions made of field paths with a string, finite number or boolean', () => {
  assert.equal(plainEquality({}), undefined);
  assert.equal(plainEquality({ event: { $in: [] } }), undefined);
  assert.equal(plainEquality({ event: { $in: ['a', null] } }), undefined);
  assert.equal(plainEquality({ event: { $in: ['a'], $eq: 'a' } }), undefined);
  assert.equal(plainEquality({ event: { $ne: 'a' } }), undefined);
  assert.equal(plainEquality({ $or: [{ event: 'a' }, { event: { $exists: true } }] }), undefined);
  assert.equal(plainEquality({ $or: [] }), undefined);
  assert.equal(plainEquality({ $nor: [{ event: 'a' }] }), undefined);
  assert.equal(plainEquality({ event: null }), undefined);
  assert.equal(plainEquality({ event: ['a'] }), undefined);
  assert.equal(plainEquality({ event: 'a', price: { $gt: 1 } }), undefined);
  assert.equal(plainEquality({ x: Number.NaN }), undefined);
  assert.ok(plainEquality({ event: 'a', 'context.channel': 'web', n: 1, ok: true }));
  assert.ok(plainEquality({ $or: [{ event: { $in: ['a', 'b'] } }, { $and: [{ type: 'page' }, { name: { $eq: 'Home' } }] }] }));
});
