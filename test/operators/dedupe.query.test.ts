// GET /state/<dedupe step>/<key>: a key's first occurrence, `{ key, firstSeen, expiresAt }`, read
// through the test driver; gone once the watermark passes firstSeen + ttl.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { ev, HOUR, MIN } from '../support/events.js';

const yaml = `
name: dedupe-query
source:
  key: [anonymousId, userId]
  allowedLateness: 5m
steps:
  - dedupe: { ttl: 1h, output: duplicates }
`;
const orders = `
name: dedupe-orders-query
source:
  key: [anonymousId, userId]
steps:
  - dedupe: { name: orders, key: properties.orderId, ttl: 1d }
`;

test('dedupe query: first-seen time and expiry per key; a duplicate does not move them; unknown key → undefined', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe([ev('m1', 10 * MIN), ev('m2', 12 * MIN), ev('m1', 13 * MIN)]);
  assert.deepEqual(d.read('duplicates').map((r) => r.messageId), ['m1']);
  assert.deepEqual(d.query('dedupe', 'm1'), { key: 'm1', firstSeen: 10 * MIN, expiresAt: 70 * MIN });
  assert.deepEqual(d.query('dedupe', 'm2'), { key: 'm2', firstSeen: 12 * MIN, expiresAt: 72 * MIN });
  assert.equal(d.query('dedupe', 'm9'), undefined);
  assert.equal(d.query('no-such-step', 'm1'), undefined);
  await d.close();
});

test('dedupe query: a numeric idempotency key is asked for as its string', async () => {
  const d = TestDriver.fromYaml(orders, { registry: defaultRegistry });
  d.pipe([ev('m1', 0, { properties: { orderId: 42 } }), ev('m2', MIN, { properties: { orderId: 42 } })]);
  assert.deepEqual(d.read('events').map((r) => r.messageId), ['m1']);
  assert.deepEqual(d.query('orders', '42'), { key: '42', firstSeen: 0, expiresAt: 24 * HOUR });
  await d.close();
});

test('dedupe query: gone once the watermark passes firstSeen + ttl, even while its segment is kept; a key seen again starts over', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe([ev('m1', 0), ev('m2', 2 * MIN)]);
  d.advanceWatermark(HOUR);
  assert.deepEqual(d.query('dedupe', 'm1'), { key: 'm1', firstSeen: 0, expiresAt: HOUR }, 'the bound is inclusive: still remembered');
  d.advanceWatermark(HOUR + 1);
  assert.equal(d.query('dedupe', 'm1'), undefined, 'ttl passed');
  assert.equal(d.store('dedupe', 'seen').count(), 1, 'the segment stays until m2 expires too');
  assert.deepEqual(d.query('dedupe', 'm2'), { key: 'm2', firstSeen: 2 * MIN, expiresAt: HOUR + 2 * MIN });
  d.advanceWatermark(HOUR + 2 * MIN + 1);
  assert.equal(d.query('dedupe', 'm2'), undefined);
  assert.equal(d.store('dedupe', 'seen').count(), 0);
  d.pipe(ev('m1', 2 * HOUR));
  assert.deepEqual(d.query('dedupe', 'm1'), { key: 'm1', firstSeen: 2 * HOUR, expiresAt: 3 * HOUR });
  d.end();
  assert.equal(d.query('dedupe', 'm1'), undefined, 'end of input expires every key');
  await d.close();
});
