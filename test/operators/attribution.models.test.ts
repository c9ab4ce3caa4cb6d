import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credits, firstTouch, lastTouch, linear, MODEL_NAMES, positionBased, timeDecay } from '../../operators/attribution.js';

const DAY = 86_400_000;
const U = { first: 0.4, last: 0.4 };
const params = { halfLifeMs: DAY, position: U };
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('models: one touchpoint gets the whole value under every model', () => {
  assert.deepEqual(credits(MODEL_NAMES, [5 * DAY], 9 * DAY, 100, params), {
    firstTouch: [100],
    lastTouch: [100],
    linear: [100],
    timeDecay: [100],
    positionBased: [100],
  });
});

test('models: two touchpoints (1d and 0d before the conversion, half-life 1d)', () => {
  assert.deepEqual(credits(MODEL_NAMES, [DAY, 2 * DAY], 2 * DAY, 60, params), {
    firstTouch: [60, 0],
    lastTouch: [0, 60],
    linear: [30, 30],
    // weights ½ and 1 over 1.5
    timeDecay: [20, 40],
    // two touchpoints share as first : last, 50/50 with the default 0.4 and 0.4
    positionBased: [30, 30],
  });
  assert.deepEqual(positionBased(2, 100, { first: 0.3, last: 0.5 }), [37.5, 62.5]);
  assert.deepEqual(positionBased(2, 100, { first: 0, last: 0 }), [50, 50], 'both shares 0: evenly');
});

test('models: three touchpoints 2d, 1d and 0d before the conversion', () => {
  const c = credits(MODEL_NAMES, [0, DAY, 2 * DAY], 2 * DAY, 70, params);
  assert.deepEqual(c, {
    firstTouch: [70, 0, 0],
    lastTouch: [0, 0, 70],
    linear: [70 / 3, 70 / 3, 70 / 3],
    // weights ¼, ½, 1 over 1.75
    timeDecay: [10, 20, 40],
    positionBased: [28, 14, 28],
  });
  assert.equal(c.linear[0], 23.333333333333332, 'full floats, no rounding');
  for (const m of MODEL_NAMES) assert.equal(sum(c[m]), 70, `${m} adds up to the value`);
});

test('models: five touchpoints, one a day; time decay 2^(−age/halfLife) normalised', () => {
  const times = [0, DAY, 2 * DAY, 3 * DAY, 4 * DAY];
  const c = credits(MODEL_NAMES, times, 4 * DAY, 31, params);
  assert.deepEqual(c.firstTouch, [31, 0, 0, 0, 0]);
  assert.deepEqual(c.lastTouch, [0, 0, 0, 0, 31]);
  assert.deepEqual(c.linear, [6.2, 6.2, 6.2, 6.2, 6.2]);
  // weights 1/16, 1/8, 1/4, 1/2, 1: total 31/16
  assert.deepEqual(c.timeDecay, [1, 2, 4, 8, 16]);
  assert.deepEqual(positionBased(5, 60, U), [24, 4, 4, 4, 24]);
  assert.deepEqual(positionBased(5, 100, { first: 0.5, last: 0.5 }), [50, 0, 0, 0, 50], 'first + last = 1: the middle gets nothing');
  for (const m of MODEL_NAMES) assert.equal(sum(c[m]), 31, `${m} adds up to the value`);
  // the conversion 1d after the last touchpoint: every weight halves, the shares stay
  assert.deepEqual(credits(['timeDecay'], times, 5 * DAY, 31, params), { timeDecay: [1, 2, 4, 8, 16] });
});

test('models: equal timestamps weigh the same; the first and last of them by journey order', () => {
  const c = credits(MODEL_NAMES, [DAY, DAY, DAY, DAY], 3 * DAY, 100, { halfLifeMs: 7 * DAY, position: U });
  assert.deepEqual(c, {
    firstTouch: [100, 0, 0, 0],
    lastTouch: [0, 0, 0, 100],
    linear: [25, 25, 25, 25],
    timeDecay: [25, 25, 25, 25],
    positionBased: [40, 10, 10, 40],
  });
});

test('models: very old touchpoints do not underflow the time-decay total; no touchpoint gives no credits', () => {
  // 2^(−10000) is 0 in floating point: weights are relative to the newest touchpoint
  assert.deepEqual(timeDecay([20_000 * DAY, 10_000 * DAY], DAY, 10), [0, 10]);
  assert.deepEqual(timeDecay([3 * DAY + 10_000 * DAY, 10_000 * DAY], DAY, 9), [1, 8]);
  assert.deepEqual([firstTouch(0, 5), lastTouch(0, 5), linear(0, 5), timeDecay([], DAY, 5), positionBased(0, 5, U)], [[], [], [], [], []]);
  assert.deepEqual(credits(['linear', 'lastTouch'], [0, 1], 1, 8, params), { linear: [4, 4], lastTouch: [0, 8] }, 'only the models asked for');
});
