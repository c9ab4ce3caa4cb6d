import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const yaml = `
name: dedupe-test
source:
  key: [anonymousId, userId]
  allowedLateness: 5m
steps:
  - dedupe: { ttl: 1h, output: duplicates }
`;
const driver = (stateDir?: string) => TestDriver.fromYaml(yaml, { registry: defaultRegistry, stateDir });
const ids = (records: readonly Record<string, unknown>[]) => records.map((r) => r.messageId);

test('driver: duplicates, out-of-order within lateness, late events, end of input', async () => {
  const d = driver();
  d.pipe([ev('m1', 10 * MIN), ev('m2', 12 * MIN), ev('m1', 13 * MIN), ev('m3', 8 * MIN) /* out of order, not late */]);
  assert.equal(d.watermark(), 8 * MIN);
  d.pipe(ev('m4', 1 * MIN)); // late: behind the watermark
  d.pipe(ev('m3', 9 * MIN)); // duplicate of an out-of-order event
  assert.deepEqual(ids(d.read('events')), ['m1', 'm2', 'm3']);
  assert.deepEqual(ids(d.read('duplicates')), ['m1', 'm3']);
  const late = d.read('late');
  assert.deepEqual(late.map((r) => [r.messageId, r.watermark]), [["m4", 8 * MIN]]);
  assert.deepEqual(['m1', 'm2', 'm3', 'm4'].map((k) => d.query('dedupe', k)), [
    { key: 'm1', firstSeen: 10 * MIN, expiresAt: 70 * MIN },
    { key: 'm2', firstSeen: 12 * MIN, expiresAt: 72 * MIN },
    { key: 'm3', firstSeen: 8 * MIN, expiresAt: 68 * MIN },
    undefined,
  ]);
  assert.equal(d.store('dedupe', 'seen').count(), 1, 'one segment holds the three keys');
  d.end();
  assert.equal(d.watermark(), Infinity);
  assert.equal(d.store('dedupe', 'seen').count(), 0, 'end of input expires every key');
  await d.close();
});

test('driver: expiry by event time, and a key seen again after expiry passes', async () => {
  const d = driver();
  d.pipe(ev('m1', 0));
  d.advanceWatermark(HOUR);
  assert.equal(d.store('dedupe', 'seen').count(), 1);
  d.pipe(ev('m1', HOUR)); // exactly ttl later: still a duplicate
  d.advanceWatermark(HOUR + 1);
  assert.equal(d.query('dedupe', 'm1'), undefined, 'its segment expired with it');
  assert.equal(d.store('dedupe', 'seen').count(), 0);
  d.pipe(ev('m1', 2 * HOUR));
  assert.deepEqual(ids(d.read('events')), ['m1', 'm1']);
  assert.deepEqual(ids(d.read('duplicates')), ['m1']);
  await d.close();
});

test('driver: raw records go through mapping and normalisation; bad ones to dead-letter', async () => {
  const d = driver();
  d.pipeRaw([
    { messageId: 'r1', type: 'track', event: 'view', anonymousId: 'a', timestamp: '2026-01-01T00:00:00Z' },
    { messageId: 'r2', type: 'track', event: 'view', timestamp: '2026-01-01T00:00:01Z' }, // no key
    { messageId: 'r3', type: 'track', event: 'view', anonymousId: 'a' }, // no timestamp
    { messageId: 'r1', type: 'track', event: 'view', anonymousId: 'a', timestamp: 1767225600000 },
  ]);
  assert.deepEqual(ids(d.read('events')), ['r1']);
  assert.deepEqual(ids(d.read('duplicates')), ['r1']);
  const dead = d.read('dead-letter');
  assert.deepEqual(dead.map((r) => [r.reason, r.source]), [['missing-key', 'test:2'], ['missing-timestamp', 'test:3']]);
  await d.close();
});

test('driver: restart from a persisted LMDB store remembers keys seen before it', async () => {
  const dir = tempDir();
  const first = driver(dir);
  first.pipe([ev('m1', 0), ev('m2', MIN)]);
  await first.close();
  const second = driver(dir);
  second.pipe([ev('m1', 2 * MIN), ev('m3', 2 * MIN), ev('m2', 3 * MIN)]);
  assert.deepEqual(ids(second.read('events')), ['m3']);
  assert.deepEqual(ids(second.read('duplicates')), ['m1', 'm2']);
  await second.close();
});

test('driver: counts in, out and dropped per step in the injected registry', async () => {
  const d = driver();
  d.pipe([ev('m1', 0), ev('m1', 1), ev('m2', 2)]);
  const text = await d.metrics.registry.metrics();
  assert.match(text, /tributary_step_records_in_total\{pipeline="dedupe-test",step="dedupe"\} 3/);
  assert.match(text, /tributary_step_records_dropped_total\{pipeline="dedupe-test",step="dedupe",reason="duplicate"\} 1/);
  assert.match(text, /tributary_step_records_out_total\{pipeline="dedupe-test",step="dedupe",stream="duplicates"\} 1/);
  assert.match(text, /tributary_output_records_total\{pipeline="dedupe-test",stream="events"\} 2/);
  await d.checkpoint();
  const after = await d.metrics.registry.metrics();
  assert.match(after, /tributary_store_entries\{pipeline="dedupe-test",task="embedded",store="dedupe.seen"\} 1/, "one segment holds both keys");
  assert.match(after, /tributary_watermark_seconds\{pipeline="dedupe-test",task="embedded"\} -299\.998/, 'highest event time 2 ms − 5m lateness');
  await d.close();
});

test('driver: a reopened driver continues with the persisted watermark, so lateness is classified as before', async () => {
  const dir = tempDir();
  const first = driver(dir);
  first.pipe(ev('m1', 60 * MIN));
  assert.equal(first.watermark(), 55 * MIN);
  await first.close();
  const second = driver(dir);
  assert.equal(second.watermark(), 55 * MIN);
  second.pipe(ev('m2', 50 * MIN));
  assert.deepEqual(ids(second.read('late')), ['m2']);
  await second.close();
});

test('driver: end-to-end latency is sampled every 64th event that reaches the end, on the pipe() path too', async () => {
  const d = driver();
  d.pipe(Array.from({ length: 130 }, (_, i) => ev(`u${i}`, i)));
  d.pipe(ev('u0', 200)); // a duplicate: it does not reach the end
  const text = await d.metrics.registry.metrics();
  assert.match(text, /tributary_end_to_end_latency_seconds_count\{pipeline="dedupe-test"\} 2\n/);
  await d.close();
});
