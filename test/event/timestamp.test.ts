import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTimestamp, parseTimestamp, TIMESTAMP_MAX_MS, TIMESTAMP_MIN_MS } from '../../lib/event/timestamp.js';
import type { TimestampFormat } from '../../lib/event/mapping.js';

const T0 = 1569888000000; // 2019-10-01T00:00:00Z

test('accepted forms give epoch ms UTC', () => {
  const cases: Array<[unknown, TimestampFormat, number]> = [
    ['2019-10-01 00:00:00 UTC', 'auto', T0], // REES46
    ['2019-10-01 00:00:00 UTC', 'iso', T0],
    ['2019-10-01 00:00:00', 'auto', T0], // no zone = UTC
    ['2010-12-01 08:26:00', 'auto', 1291191960000], // Online Retail
    ['2019-10-01T00:00:00Z', 'auto', T0],
    ['2019-10-01t00:00:00z', 'auto', T0],
    ['2019-10-01T00:00:00.000Z', 'auto', T0],
    ['2019-10-01T00:00:00.123456Z', 'auto', T0 + 123], // sub-ms truncated
    ['2019-10-01T00:00:00,5Z', 'auto', T0 + 500],
    ['2019-10-01T02:00:00+02:00', 'auto', T0],
    ['2019-10-01T02:00:00+0200', 'auto', T0],
    ['2019-10-01T02:00:00+02', 'auto', T0],
    ['2019-09-30T19:00:00-05:00', 'auto', T0],
    ['2019-10-01 02:00:00 +02:00', 'auto', T0],
    ['2019-10-01T00:00Z', 'auto', T0],
    ['2019-10-01', 'auto', T0],
    ['  2019-10-01T00:00:00Z  ', 'auto', T0],
    ['2020-02-29T00:00:00Z', 'auto', Date.UTC(2020, 1, 29)], // leap day
    ['2000-02-29T00:00:00Z', 'auto', Date.UTC(2000, 1, 29)],
    [T0, 'auto', T0],
    [T0 + 0.9, 'auto', T0],
    [String(T0), 'auto', T0],
    [new Date(T0), 'auto', T0],
    [T0, 'epoch-ms', T0],
    [String(T0), 'epoch-ms', T0],
    [1569888000, 'epoch-s', T0],
    ['1569888000', 'epoch-s', T0],
    [1569888000.25, 'epoch-s', T0 + 250],
    [-86400000, 'auto', -86400000], // 1969-12-31 is fine
    [TIMESTAMP_MIN_MS, 'auto', TIMESTAMP_MIN_MS],
    [TIMESTAMP_MAX_MS - 1, 'auto', TIMESTAMP_MAX_MS - 1],
  ];
  for (const [value, format, ms] of cases) {
    assert.deepEqual(parseTimestamp(value, format), { ok: true, ms }, `${String(value)} as ${format}`);
  }
});

test('missing and invalid timestamps give the exact reason', () => {
  const cases: Array<[unknown, TimestampFormat, 'missing-timestamp' | 'invalid-timestamp']> = [
    [undefined, 'auto', 'missing-timestamp'],
    [null, 'auto', 'missing-timestamp'],
    ['', 'auto', 'missing-timestamp'],
    ['   ', 'iso', 'missing-timestamp'],
    [Number.NaN, 'auto', 'invalid-timestamp'],
    [Number.POSITIVE_INFINITY, 'epoch-ms', 'invalid-timestamp'],
    ['NaN', 'auto', 'invalid-timestamp'],
    ['not a date', 'auto', 'invalid-timestamp'],
    ['2019-02-30 00:00:00', 'auto', 'invalid-timestamp'], // no such day
    ['2019-02-29T00:00:00Z', 'auto', 'invalid-timestamp'], // not a leap year
    ['1900-02-29T00:00:00Z', 'auto', 'invalid-timestamp'], // century, not a leap year
    ['2019-13-01T00:00:00Z', 'auto', 'invalid-timestamp'],
    ['2019-00-10T00:00:00Z', 'auto', 'invalid-timestamp'],
    ['2019-10-01T24:00:00Z', 'auto', 'invalid-timestamp'],
    ['2019-10-01T23:60:00Z', 'auto', 'invalid-timestamp'],
    ['2019-10-01T23:59:60Z', 'auto', 'invalid-timestamp'],
    ['2019-10-01T00:00:00+19:00', 'auto', 'invalid-timestamp'],
    ['2019-10-01T00:00:00+02:75', 'auto', 'invalid-timestamp'],
    ['Tue, 01 Oct 2019 00:00:00 GMT', 'auto', 'invalid-timestamp'], // not ISO
    ['1899-12-31T23:59:59Z', 'auto', 'invalid-timestamp'], // out of range
    ['2100-01-01T00:00:00Z', 'auto', 'invalid-timestamp'],
    [TIMESTAMP_MAX_MS, 'auto', 'invalid-timestamp'],
    [T0 * 1000, 'auto', 'invalid-timestamp'], // microseconds passed as ms
    [T0, 'epoch-s', 'invalid-timestamp'], // ms passed as seconds
    [T0, 'iso', 'invalid-timestamp'], // iso wants strings
    ['2019-10-01T00:00:00Z', 'epoch-ms', 'invalid-timestamp'],
    [true, 'auto', 'invalid-timestamp'],
    [{ t: 1 }, 'auto', 'invalid-timestamp'],
    [[T0], 'auto', 'invalid-timestamp'],
    [new Date(Number.NaN), 'auto', 'invalid-timestamp'],
  ];
  for (const [value, format, reason] of cases) {
    const r = parseTimestamp(value, format);
    assert.equal(r.ok, false, `${String(value)} as ${format}`);
    if (!r.ok) {
      assert.equal(r.reason, reason, `${String(value)} as ${format}`);
      assert.ok(r.detail.length > 0);
    }
  }
});

test('the detail names the problem', () => {
  const r = parseTimestamp('2019-02-30 00:00:00', 'auto');
  assert.deepEqual(r, { ok: false, reason: 'invalid-timestamp', detail: '"2019-02-30 00:00:00": day 30 does not exist in 2019-02' });
});

test('formatTimestamp writes ISO UTC', () => {
  assert.equal(formatTimestamp(T0), '2019-10-01T00:00:00.000Z');
});
