// The progress line of a Kafka run: rate since the last line, busy share, lag (total and the
// three tasks that lag most), the source tasks' lowest watermark.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressLine } from '../../lib/runtime/kafka/progress.js';

test('progress line: rate and busy share over the interval, lag total and top tasks, watermark', () => {
  const before = { at: 1000, records: 10_000, busyMs: 500, lag: new Map<string, number>(), watermark: undefined };
  assert.equal(progressLine(before, { ...before, at: 6000 }), '… 10000 source records, 0 events/s (busy 0%), lag 0, watermark none yet');
  const now = {
    at: 6000, records: 60_000, busyMs: 4500, watermark: Date.UTC(2026, 0, 1, 12),
    lag: new Map([['0_0', 5], ['0_1', 0], ['0_2', 700], ['1_0', 40], ['2_1', 40]]),
  };
  assert.equal(progressLine(before, now), '… 60000 source records, 10000 events/s (busy 80%), lag 785 (0_2 700, 1_0 40, 2_1 40, …), watermark 2026-01-01T12:00:00.000Z');
});
