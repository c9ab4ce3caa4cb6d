import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileCondition, conditionProblems } from '../../lib/condition/condition.js';

const purchase = { type: 'track', event: 'purchase', properties: { revenue: 120, products: [{ id: 'p1' }, { id: 'p2' }], url: '/checkout/done' }, context: { channel: 'web', consent: { email: true } } };
const view = { type: 'track', event: 'product_viewed', properties: { productId: 'p1', price: 5 }, context: { channel: 'app' } };

const cases: Array<[string, Record<string, unknown>, boolean, boolean]> = [
  ['equality', { event: 'purchase' }, true, false],
  ['dotted path', { 'context.channel': 'app' }, false, true],
  ['implicit and', { event: 'purchase', 'context.channel': 'web' }, true, false],
  ['comparison', { 'properties.revenue': { $gte: 100 } }, true, false],
  ['missing field is not greater', { 'properties.price': { $gt: 1 } }, false, true],
  ['$in', { event: { $in: ['add_to_cart', 'purchase'] } }, true, false],
  ['$nin', { event: { $nin: ['purchase'] } }, false, true],
  ['$exists', { 'context.consent.email': { $exists: true } }, true, false],
  ['$regex', { 'properties.url': { $regex: '^/checkout' } }, true, false],
  ['$or', { $or: [{ event: 'purchase' }, { 'properties.price': { $lt: 10 } }] }, true, true],
  ['$not', { event: { $not: { $eq: 'purchase' } } }, false, true],
  ['$elemMatch on arrays', { 'properties.products': { $elemMatch: { id: 'p2' } } }, true, false],
  ['$size', { 'properties.products': { $size: 2 } }, true, false],
  ['$nor', { $nor: [{ event: 'purchase' }] }, false, true],
];

for (const [name, condition, onPurchase, onView] of cases) {
  test(`condition: ${name}`, () => {
    const m = compileCondition(condition);
    assert.equal(m(purchase), onPurchase, 'purchase');
    assert.equal(m(view), onView, 'view');
  });
}

test('condition: code is never run — $where and unknown operators are rejected with the allowed list', () => {
  assert.deepEqual(conditionProblems({ $where: 'this.x == 1' }).map((p) => p.split(' (')[0]), ['$where: unknown operator $where']);
  assert.throws(() => compileCondition({ event: { $where: 'x' } }), /event\.\$where: unknown operator \$where \(allowed: \$all, \$and/);
  assert.throws(() => compileCondition({ 'properties.x': { $function: {} } }), /unknown operator \$function/);
});

test('condition: malformed operators are named', () => {
  assert.deepEqual(conditionProblems({ $or: { event: 'x' } }), ['$or: must be a list of conditions']);
  assert.deepEqual(conditionProblems({ event: { $in: 'purchase' } }), ['event.$in: must be a list of values']);
  assert.match(conditionProblems({ 'properties.url': { $regex: '(' } })[0] ?? '', /^properties\.url\.\$regex: Invalid regular expression/);
});
