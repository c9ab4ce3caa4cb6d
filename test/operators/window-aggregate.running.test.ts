/**
 * The running windows of sliding keys are a cache of what the entries give (`running.ts`): kept
 * for a bounded number of keys, taken over from values written by earlier versions. That
 * dropping them changes no record is checked by the restart tests (a restarted logic has none):
 * `window-aggregate.driver.test.ts` and `window-aggregate.topk-sliding.test.ts`.
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
