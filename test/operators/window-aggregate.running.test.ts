/**
 * The running windows of sliding keys are a cache of what the entries give (`running.ts`): kept
 * for a bounded number of keys, taken over from values written by earlier versions. That
 * dropping them changes no record is checked here (a logic keeping a few keys against one keeping
 * all) and by the restart tests (a restarted logic has none): `window-aggregate.driver.test.ts`
 * and `window-aggregate.topk-sliding.test.ts`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Running } from '../../operators/aggregates/sliding.js';
import { RunningWindows, type KeyRunning } from '../../operators/window-aggregate/running.js';

const run = (t: number): Running => ({ t, acc: [t], aux: [{ n: 1, bad: 0, abs: 0, counts: null }] });

test('RunningWindows: a key gets empty windows, then the same object on every read', () => {
  const r = new RunningWindows();
  const a: KeyRunning = r.of('a', {});
  assert.deepEqual(r.peek('a'), { f: null, h: null });
  a.f = run(5);
  assert.equal(r.of('a', {}), a);
  assert.equal(r.peek('a')?.f?.t, 5);
  assert.equal(r.peek('b'), undefined, 'peek does not add a key');
  r.delete('a');
  assert.deepEqual(r.of('a', {}), { f: null, h: null });
});

test('RunningWindows: past its bound the key kept longest is dropped first', () => {
  const r = new RunningWindows(3);
  for (const k of ['a', 'b', 'c']) r.of(k, {}).f = run(k.charCodeAt(0));
  r.of('a', {}); // a read does not keep a key longer
  r.of('d', {});
  assert.equal(r.size, 3);
  assert.equal(r.peek('a'), undefined);
  assert.deepEqual(['b', 'c', 'd'].map((k) => r.peek(k) !== undefined), [true, true, true]);
});

test('RunningWindows: windows a value of an earlier version carries are taken over and removed from it', () => {
  const r = new RunningWindows();
  const stored: { p: number[]; f?: Running | null; h?: Running | null } = { p: [1], f: run(7), h: run(9) };
  const got = r.of('k', stored);
  assert.equal(got.f?.t, 7);
  assert.equal(got.h?.t, 9);
  assert.deepEqual(stored, { p: [1] }, 'the next write of the value leaves them out');
  // A key already kept keeps its own (newer) windows; the value still loses the old ones.
  const again = { p: [1], f: run(1), h: null };
  assert.equal(r.of('k', again).f?.t, 7);
  assert.deepEqual(again, { p: [1] });
});

test('a sliding logic that keeps the running windows of 2, 6 or 10 of its 12 keys writes the same records and annotations as one that keeps all', async () => {
  // Keys dropped from the running windows are folded afresh from their entries on their next
  // event or final record: records and annotations must not change by a bit.
  const { recordingContext } = await import('../../lib/testing/context.js');
  const { WindowAggregateLogic, windowAggregateOperator } = await import('../../operators/window-aggregate.js');
  const { rng } = await import('../support/random.js');
  const config = windowAggregateOperator.resolve({
    key: 'anonymousId',
    window: { sliding: '2h' },
    emit: 'update',
    annotate: 'features',
    aggregates: { n: { count: {} }, revenue: { sum: 'properties.price' }, low: { min: 'properties.price' }, last: { last: 'properties.page' }, pages: { countDistinct: 'properties.page' } },
    output: 'aggregates',
  });
  const rand = rng(17);
  const events = Array.from({ length: 3000 }, (_, i) => ({
    messageId: `m${i}`, type: 'track' as const, event: 'view', userId: null, anonymousId: `k${Math.floor(rand() * 12)}`,
    timestamp: i * 20_000 - Math.floor(rand() * 600_000), properties: { price: Math.round(rand() * 1000) / 10, page: `/p${Math.floor(rand() * 9)}` },
  }));
  const run = (bound: number | undefined) => {
    const ctx = recordingContext('wa');
    const logic = new WindowAggregateLogic(config, ctx);
    if (bound !== undefined) (logic as unknown as { running: RunningWindows }).running = new RunningWindows(bound);
    const annotated: unknown[] = [];
    let max = -Infinity;
    for (const e of events) {
      if (e.timestamp <= max - 10 * 60_000) continue; // what the task would call late
      annotated.push((logic.process({ ...e }, e.anonymousId) as unknown as { features: unknown }).features);
      max = Math.max(max, e.timestamp);
      ctx.setWatermark(max - 10 * 60_000);
      logic.advance(max - 10 * 60_000);
    }
    logic.advance(Infinity);
    return { annotated, records: ctx.emitted.map((x) => x.record) };
  };
  const all = run(undefined);
  assert.ok(all.records.length > 3000, `${all.records.length} records`);
  for (const bound of [2, 6, 10]) {
    const some = run(bound);
    assert.deepStrictEqual(some.annotated, all.annotated, `annotations, ${bound} keys`);
    assert.deepStrictEqual(some.records, all.records, `records, ${bound} keys`);
  }
});
