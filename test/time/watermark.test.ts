import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../lib/time/clock.js';
import { WatermarkTracker } from '../../lib/time/watermark.js';

test('watermark = highest event time − allowed lateness, monotonic under out-of-order events', () => {
  const wm = new WatermarkTracker({ allowedLateness: 60_000, clock: new ManualClock() });
  assert.equal(wm.current(), -Infinity);
  wm.observe('0', 1_000_000);
  assert.equal(wm.current(), 940_000);
  wm.observe('0', 950_000); // out of order, not late: does not move the watermark back
  assert.equal(wm.current(), 940_000);
  assert.equal(wm.isLate(940_000), false, 'exactly at the watermark is not late');
  assert.equal(wm.isLate(939_999), true);
  wm.observe('0', 1_100_000);
  assert.equal(wm.current(), 1_040_000);
});

test('the watermark is the minimum over partitions; an idle partition stops holding it back', () => {
  const clock = new ManualClock(0);
  const wm = new WatermarkTracker({ allowedLateness: 0, idleTimeout: 30_000, clock });
  wm.observe('a', 100_000);
  wm.observe('b', 50_000);
  assert.equal(wm.current(), 50_000);
  clock.advance(10_000);
  wm.observe('a', 200_000);
  assert.equal(wm.current(), 50_000, 'b is not idle yet');
  clock.advance(25_000); // b silent for 35 s, a for 25 s
  assert.equal(wm.current(), 200_000, 'idle b released');
  wm.observe('b', 60_000); // b comes back behind: the watermark never moves backwards
  assert.equal(wm.current(), 200_000);
});

test('a registered partition without events holds the watermark until it is idle', () => {
  const clock = new ManualClock(0);
  const wm = new WatermarkTracker({ idleTimeout: 1_000, clock });
  wm.addPartition('quiet');
  wm.observe('busy', 5_000);
  assert.equal(wm.current(), -Infinity);
  clock.advance(1_000);
  wm.observe('busy', 6_000);
  assert.equal(wm.current(), 6_000);
});

test('end of bounded input: ended partitions release; all ended → +∞', () => {
  const wm = new WatermarkTracker({ allowedLateness: 1000, clock: new ManualClock() });
  wm.observe('a', 10_000);
  wm.observe('b', 20_000);
  wm.end('a');
  assert.equal(wm.current(), 19_000);
  wm.end('b');
  assert.equal(wm.current(), Infinity);
});

test('snapshot/restore keeps lateness classification across a restart', () => {
  const clock = new ManualClock();
  const wm = new WatermarkTracker({ allowedLateness: 5, clock });
  wm.observe('0', 100);
  const snap = structuredClone(wm.snapshot());
  const again = new WatermarkTracker({ allowedLateness: 5, clock });
  again.restore(snap);
  assert.equal(again.current(), 95);
  assert.equal(again.isLate(94), true);
  again.observe('0', 90);
  assert.equal(again.current(), 95);
});

test('all partitions idle: the watermark advances with processing time from the last event, so sessions close when traffic stops', () => {
  const clock = new ManualClock(1_000);
  const wm = new WatermarkTracker({ allowedLateness: 10_000, idleTimeout: 30_000, clock });
  wm.observe('0', 5_000_000);
  assert.equal(wm.current(), 4_990_000);
  clock.advance(29_999);
  assert.equal(wm.current(), 4_990_000, 'not idle yet');
  clock.advance(1);
  assert.equal(wm.current(), 4_990_000 + 30_000, 'idle: moved by the processing time since the last event');
  clock.advance(60_000);
  assert.equal(wm.current(), 4_990_000 + 90_000);
  wm.observe('0', 5_010_000); // traffic resumes behind the advanced watermark: never backwards
  assert.equal(wm.current(), 4_990_000 + 90_000);
});
