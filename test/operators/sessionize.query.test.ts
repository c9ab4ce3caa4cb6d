// GET /state/<sessionize step>/<key>: the key's open sessions, each as the record it would close
// with (without `key`) plus `closesAt`, read through the test driver; gone once closed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveId } from '../../lib/operator/ids.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { ev, MIN } from '../support/events.js';

const yaml = `
name: sessionize-query
source:
  key: [anonymousId, userId]
  allowedLateness: 10m
steps:
  - sessionize: { key: anonymousId, gap: 30m, output: sessions }
`;
const GAP = 30 * MIN;

test('sessionize query: the open sessions of a key, by start, exactly as they would close; unknown key → undefined; gone once closed', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe([
    ev('m1', 0, { properties: { url: '/p/1' } }),
    ev('m2', MIN, { event: 'add_to_cart', context: { channel: 'web' } }),
    ev('m3', 2 * MIN, { anonymousId: 'a2' }),
    ev('m4', 40 * MIN, { type: 'page', event: undefined }), // 39m after m2: a second session of a1
  ]);
  assert.equal(d.watermark(), 30 * MIN, 'the first session (closes at 1m + 30m) is still open');
  const first = {
    sessionId: deriveId('session', 'a1', 0),
    start: 0,
    end: MIN,
    durationMs: MIN,
    eventCount: 2,
    eventCounts: { add_to_cart: 1, product_viewed: 1 },
    firstEvent: { messageId: 'm1', event: 'product_viewed', timestamp: 0, page: '/p/1' },
    lastEvent: { messageId: 'm2', event: 'add_to_cart', timestamp: MIN, page: null },
    channels: ['web'],
    mergedFrom: [],
    closesAt: MIN + GAP,
  };
  const second = {
    sessionId: deriveId('session', 'a1', 40 * MIN),
    start: 40 * MIN,
    end: 40 * MIN,
    durationMs: 0,
    eventCount: 1,
    eventCounts: { page: 1 },
    firstEvent: { messageId: 'm4', event: 'page', timestamp: 40 * MIN, page: null },
    lastEvent: { messageId: 'm4', event: 'page', timestamp: 40 * MIN, page: null },
    channels: [],
    mergedFrom: [],
    closesAt: 40 * MIN + GAP,
  };
  assert.deepEqual(d.query('sessionize', 'a1'), { key: 'a1', sessions: [first, second] });
  assert.equal(d.query('sessionize', 'nobody'), undefined);

  d.advanceWatermark(MIN + GAP);
  assert.deepEqual(d.read('sessions'), [], 'a watermark at exactly end + gap closes nothing');
  d.advanceWatermark(MIN + GAP + 1);
  const { closesAt: _closesAt, ...closed } = first;
  assert.deepEqual(d.read('sessions'), [{ ...closed, key: 'a1' }], 'the record is what the query showed');
  assert.deepEqual(d.query('sessionize', 'a1'), { key: 'a1', sessions: [second] }, 'the closed session is gone');
  assert.deepEqual(d.query('sessionize', 'a2'), {
    key: 'a2',
    sessions: [{
      sessionId: deriveId('session', 'a2', 2 * MIN), start: 2 * MIN, end: 2 * MIN, durationMs: 0, eventCount: 1, eventCounts: { product_viewed: 1 },
      firstEvent: { messageId: 'm3', event: 'product_viewed', timestamp: 2 * MIN, page: null },
      lastEvent: { messageId: 'm3', event: 'product_viewed', timestamp: 2 * MIN, page: null },
      channels: [], mergedFrom: [], closesAt: 2 * MIN + GAP,
    }],
  });
  d.end();
  assert.equal(d.query('sessionize', 'a1'), undefined, 'end of input closes every session');
  assert.equal(d.query('sessionize', 'a2'), undefined);
  await d.close();
});

test('sessionize query: an out-of-order event that moves the start shows the new id, the old one in mergedFrom', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe([ev('m1', 10 * MIN), ev('m2', 5 * MIN)]);
  assert.deepEqual(d.query('sessionize', 'a1'), {
    key: 'a1',
    sessions: [{
      sessionId: deriveId('session', 'a1', 5 * MIN), start: 5 * MIN, end: 10 * MIN, durationMs: 5 * MIN, eventCount: 2, eventCounts: { product_viewed: 2 },
      firstEvent: { messageId: 'm2', event: 'product_viewed', timestamp: 5 * MIN, page: null },
      lastEvent: { messageId: 'm1', event: 'product_viewed', timestamp: 10 * MIN, page: null },
      channels: [], mergedFrom: [deriveId('session', 'a1', 10 * MIN)], closesAt: 10 * MIN + GAP,
    }],
  });
  await d.close();
});
