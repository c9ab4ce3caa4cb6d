import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSourceNormalizer, futureTimestampProblem } from '../../lib/runtime/source-normalizer.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { ManualClock } from '../../lib/time/clock.js';
import { defaultRegistry } from '../../operators/index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 7);

test('futureTimestampProblem: at the bound passes, a millisecond past it is refused with the timestamp and the bound', () => {
  assert.equal(futureTimestampProblem(NOW + DAY, NOW, DAY), undefined);
  assert.equal(futureTimestampProblem(NOW - 50 * DAY, NOW, DAY), undefined);
  assert.equal(futureTimestampProblem(NOW + DAY + 1, NOW, DAY),
    'timestamp 2026-12-08T00:00:00.001Z is more than maxFutureSkew 1d ahead of processing time 2026-12-07T00:00:00.000Z (latest accepted: 2026-12-08T00:00:00.000Z)');
  assert.equal(futureTimestampProblem(NOW + 1, NOW, 0), 'timestamp 2026-12-07T00:00:00.001Z is more than maxFutureSkew 0ms ahead of processing time 2026-12-07T00:00:00.000Z (latest accepted: 2026-12-07T00:00:00.000Z)');
});

test('the source normaliser reads the clock: an event refused now passes once processing time has caught up', () => {
  const clock = new ManualClock(NOW);
  const normalize = createSourceNormalizer({ mapping: {}, maxFutureSkewMs: 60_000 }, clock);
  const ev = (timestamp: number) => ({ type: 'page', anonymousId: 'a', timestamp });
  assert.equal(normalize(ev(NOW + 30_000)).ok, true);
  const refused = normalize(ev(NOW + 120_000));
  assert.deepEqual(refused.ok ? undefined : refused.reason, 'future-timestamp');
  clock.advance(60_000);
  assert.equal(normalize(ev(NOW + 120_000)).ok, true);
  assert.equal(normalize(ev(NOW + 120_001)).ok, false);
  // Other rejections keep their reason.
  const missing = normalize({ type: 'page', anonymousId: 'a' });
  assert.equal(missing.ok ? undefined : missing.reason, 'missing-timestamp');
});

test('TestDriver: with `now` the bound applies to raw records (default 1d); without it processing time is 0 and none applies', async () => {
  const yaml = 'name: t\nsource: { key: anonymousId }\nsteps:\n  - dedupe: {}\n';
  const raw = [
    { messageId: 'm1', type: 'page', anonymousId: 'a', timestamp: NOW - DAY },
    { messageId: 'm2', type: 'page', anonymousId: 'a', timestamp: '2099-12-31T00:00:00Z' },
    { messageId: 'm3', type: 'page', anonymousId: 'a', timestamp: NOW + DAY },
  ];
  const timed = TestDriver.fromYaml(yaml, { registry: defaultRegistry, now: NOW });
  assert.equal(timed.topology.source.maxFutureSkewMs, DAY);
  timed.pipeRaw(raw);
  assert.deepEqual(timed.read('events').map((e) => e.messageId), ['m1', 'm3']);
  assert.deepEqual(timed.read('dead-letter').map((d) => [d.reason, d.source]), [['future-timestamp', 'test:2']]);
  assert.equal(timed.watermark(), NOW + DAY);
  await timed.close();

  const virtual = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  virtual.pipeRaw(raw);
  assert.deepEqual(virtual.read('events').map((e) => e.messageId), ['m1', 'm2']);
  assert.deepEqual(virtual.read('late').map((e) => e.messageId), ['m3']);
  await virtual.close();
});
