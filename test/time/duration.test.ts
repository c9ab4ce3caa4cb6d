import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationHint, formatDuration, parseDuration } from '../../lib/time/duration.js';

test('parseDuration reads every unit: ms, s, m, h, d', () => {
  const cases: Array<[string | number, number]> = [
    ['500ms', 500], ['30s', 30_000], ['30m', 1_800_000], ['24h', 86_400_000], ['7d', 604_800_000], ['0s', 0], [250, 250],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input), ms, String(input));
});

test('parseDuration rejects what is not a duration, with the fix in the message', () => {
  const cases: Array<[string | number, RegExp]> = [
    ['30 minutes', /"30 minutes" is not a duration \(use 30m\)/],
    ['2 weeks', /use 14d/],
    ['1.5h', /use a number and one of ms, s, m, h, d/],
    ['30', /is not a duration/],
    ['-5s', /is not a duration/],
    [-1, /is not a duration/],
  ];
  for (const [input, re] of cases) assert.throws(() => parseDuration(input), re, String(input));
});

test('durationHint and formatDuration', () => {
  assert.equal(durationHint('10 secs'), 'use 10s');
  assert.equal(durationHint('3 hours'), 'use 3h');
  assert.equal(formatDuration(1_800_000), '30m');
  assert.equal(formatDuration(86_400_000), '1d');
  assert.equal(formatDuration(1500), '1500ms');
});
