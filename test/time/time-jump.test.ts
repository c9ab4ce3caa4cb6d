import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../lib/time/clock.js';
import { TIME_JUMP_WINDOW, TimeJumpGuard } from '../../lib/time/time-jump.js';
import { rng } from '../support/random.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

test('time jump: one record far ahead of its partition is refused and moves nothing; the next records are judged as before', () => {
  const guard = new TimeJumpGuard(30 * DAY);
  const refused: number[] = [];
  const times = [T0, T0 + 60_000, T0 + 120_000, Date.UTC(2026, 11, 7), T0 + 180_000, T0 + 31 * DAY, T0 + 240_000];
  times.forEach((t, i) => void (guard.check('0', t) !== undefined && refused.push(i)));
  assert.deepEqual(refused, [3, 5]);
  assert.equal(
    new TimeJumpGuard(30 * DAY).check('0', T0) ?? guard.check('0', Date.UTC(2026, 11, 7)),
    'timestamp 2026-12-07T00:00:00.000Z is more than maxTimeJump 30d ahead of its input (the median of its last 7 records: 2026-01-01T00:03:00.000Z)',
  );
  // Exactly maxTimeJump past the median is taken; partitions are judged apart.
  const edge = new TimeJumpGuard(30 * DAY);
  edge.check('0', T0);
  assert.equal(edge.check('0', T0 + 30 * DAY), undefined);
  assert.equal(edge.check('1', T0 + 400 * DAY), undefined, 'the first record of a partition has nothing to compare with');
  assert.equal(new TimeJumpGuard(Infinity).check('0', T0) ?? 'none', 'none');
});

test('time jump: a real jump is refused for its first 8 records and taken from the 9th on', () => {
  const guard = new TimeJumpGuard(30 * DAY);
  for (let i = 0; i < 40; i++) assert.equal(guard.check('0', T0 + i * 1000), undefined);
  const later = Array.from({ length: 12 }, (_, i) => guard.check('0', T0 + 100 * DAY + i * 1000) === undefined);
  assert.deepEqual(later, [false, false, false, false, false, false, false, false, true, true, true, true]);
  assert.equal(TIME_JUMP_WINDOW, 15);
});

test('time jump: a guard restored from a snapshot decides as the one that went on (random times, 3 partitions)', () => {
  const random = rng(11);
  const times = Array.from({ length: 3000 }, (_, i) => ({ p: String(Math.floor(random() * 3)), t: T0 + i * 60_000 + (random() < 0.02 ? Math.floor(random() * 200) * DAY : 0) - Math.floor(random() * 3) * DAY }));
  const whole = new TimeJumpGuard(30 * DAY);
  const expected = times.map(({ p, t }) => whole.check(p, t));
  assert.ok(expected.filter((x) => x !== undefined).length > 10, 'some refused');
  let guard = new TimeJumpGuard(30 * DAY);
  const got = times.map(({ p, t }, i) => {
    if (i % 97 === 0) {
      // Through JSON, as a checkpoint stores it.
      const snapshot = JSON.parse(JSON.stringify(guard.snapshot())) as ReturnType<TimeJumpGuard['snapshot']>;
      guard = new TimeJumpGuard(30 * DAY);
      guard.restore(snapshot);
    }
    return guard.check(p, t);
  });
  assert.deepEqual(got, expected);
  // A model: the lower median of the partition's last 15 times before each record.
  const recent = new Map<string, number[]>();
  const model = times.map(({ p, t }) => {
    const r = recent.get(p) ?? [];
    const sorted = [...r].sort((a, b) => a - b);
    const median = sorted.length === 0 ? t : (sorted[(sorted.length - 1) >> 1] as number);
    recent.set(p, [...r, t].slice(-15));
    return t - median > 30 * DAY;
  });
  assert.deepEqual(expected.map((x) => x !== undefined), model);
});

test('future jump: a record more than maxFutureJump after processing time and ahead of its partition is refused; past the clock, or within the bound, it is taken', () => {
  const H = 3_600_000;
  const NOW = Date.UTC(2026, 11, 7, 12);
  const clock = new ManualClock(NOW);
  const guard = new TimeJumpGuard(30 * 24 * H, H, clock);
  // A live partition: records a few seconds behind processing time.
  for (let i = 0; i < 15; i++) assert.equal(guard.check('0', NOW - 60_000 + i * 1000), undefined);
  // Tomorrow (within a day's maxFutureSkew, far within 30d): refused, and it moves nothing.
  assert.equal(guard.check('0', NOW + 23 * H),
    'timestamp 2026-12-08T11:00:00.000Z is more than maxFutureJump 1h after processing time (2026-12-07T12:00:00.000Z) and more than 1h ahead of its input (the median of its last 15 records: 2026-12-07T11:59:07.000Z)');
  assert.equal(guard.check('0', NOW), undefined);
  // An hour after processing time exactly: taken (the bound is "more than").
  assert.equal(guard.check('0', NOW + H), undefined);
  // After a quiet partition: 5h after its last records but not after processing time: taken.
  clock.advance(5 * H);
  assert.equal(guard.check('0', NOW + 5 * H), undefined);
  // A clock 3h ahead throughout (a time zone mistake): its first 8 records are refused, then the
  // median has moved and the rest are taken.
  const shifted = new TimeJumpGuard(30 * 24 * H, H, clock);
  for (let i = 0; i < 15; i++) shifted.check('1', NOW + 5 * H - 60_000 + i * 1000);
  const verdicts = Array.from({ length: 12 }, (_, i) => shifted.check('1', NOW + 8 * H + i * 1000) === undefined);
  assert.deepEqual(verdicts, [false, false, false, false, false, false, false, false, true, true, true, true]);
  // Without a clock (or an infinite bound) the rule is off: the 30d bound alone applies.
  const noClock = new TimeJumpGuard(30 * 24 * H, H);
  for (let i = 0; i < 15; i++) noClock.check('0', NOW - 60_000 + i * 1000);
  assert.equal(noClock.check('0', NOW + 23 * H), undefined);
});
