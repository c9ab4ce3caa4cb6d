import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstAttempt } from '../../operators/funnel/attempt.js';
import { compareBuffered, withEvent, type BufferedEvent } from '../../operators/funnel/state.js';
import { MIN } from '../support/events.js';
import { rng } from '../support/random.js';

// The pure decision of a key's first attempt from its sorted buffered events. Steps view (mask
// 1), cart (2), purchase (4); within 60m.
const V = 1;
const C = 2;
const P = 4;
const W = 60 * MIN;
const sorted = (events: BufferedEvent[]) => [...events].sort(compareBuffered);
const decide = (events: BufferedEvent[], steps = 3) => firstAttempt(sorted(events), steps, W);
/** The attempt as `[messageIds reached, converted, closesAt]`. */
const shape = (events: BufferedEvent[], steps = 3) => {
  const s = sorted(events);
  const a = firstAttempt(s, steps, W);
  return a && [a.reached.map((i) => (s[i] as BufferedEvent)[1]), a.converted, a.closesAt];
};

test('funnel attempt: no step-1 event, no attempt', () => {
  assert.equal(decide([]), undefined);
  assert.equal(decide([[0, 'c', C], [MIN, 'p', P]]), undefined);
});

test('funnel attempt: in order, all steps: converted at the last step, closes then', () => {
  assert.deepEqual(shape([[0, 'v', V], [MIN, 'c', C], [2 * MIN, 'p', P]]), [['v', 'c', 'p'], true, 2 * MIN]);
});

test('funnel attempt: steps out of funnel order do not count (a purchase before the cart)', () => {
  assert.deepEqual(shape([[0, 'v', V], [MIN, 'p', P], [2 * MIN, 'c', C]]), [['v', 'c'], false, W]);
});

test('funnel attempt: events before the first step-1 event are ignored', () => {
  assert.deepEqual(shape([[0, 'c0', C], [MIN, 'v', V], [2 * MIN, 'c', C]]), [['v', 'c'], false, MIN + W]);
});

test('funnel attempt: the window is inclusive: a purchase exactly within after the view converts, 1ms later it does not', () => {
  assert.deepEqual(shape([[0, 'v', V], [MIN, 'c', C], [W, 'p', P]]), [['v', 'c', 'p'], true, W]);
  assert.deepEqual(shape([[0, 'v', V], [MIN, 'c', C], [W + 1, 'p', P]]), [['v', 'c'], false, W]);
});

test('funnel attempt: a later view does not restart the attempt; the earliest completion is taken', () => {
  // Restarting at v2 would convert (v2 → c → p within 60m of v2); the first view starts, and its window ends at 60m.
  assert.deepEqual(shape([[0, 'v1', V], [40 * MIN, 'v2', V], [50 * MIN, 'c', C], [90 * MIN, 'p', P]]), [['v1', 'c'], false, W]);
  // Two carts: the first one counts.
  assert.deepEqual(shape([[0, 'v', V], [MIN, 'c1', C], [2 * MIN, 'c2', C], [3 * MIN, 'p', P]]), [['v', 'c1', 'p'], true, 3 * MIN]);
});

test('funnel attempt: an event reaches at most one step', () => {
  // One event matching cart and purchase reaches cart only.
  assert.deepEqual(shape([[0, 'v', V], [MIN, 'cp', C | P]]), [['v', 'cp'], false, W]);
  assert.deepEqual(shape([[0, 'v', V], [MIN, 'cp', C | P], [2 * MIN, 'cp2', C | P]]), [['v', 'cp', 'cp2'], true, 2 * MIN]);
  // An event matching view and cart starts the attempt and does not also reach cart.
  assert.deepEqual(shape([[0, 'vc', V | C]]), [['vc'], false, W]);
  assert.deepEqual(shape([[0, 'vc', V | C], [MIN, 'vc2', V | C]], 2), [['vc', 'vc2'], true, MIN]);
});

test('funnel attempt: events of the same millisecond count in funnel order, whatever their ids and arrival', () => {
  const same: BufferedEvent[] = [[5, 'a-purchase', P], [5, 'b-cart', C], [5, 'c-view', V]];
  assert.deepEqual(shape(same), [['c-view', 'b-cart', 'a-purchase'], true, 5]);
  assert.deepEqual(shape([...same].reverse()), [['c-view', 'b-cart', 'a-purchase'], true, 5]);
});

test('funnel attempt: withEvent keeps the order compareBuffered defines, whatever the insertion order', () => {
  const rand = rng(3);
  const events: BufferedEvent[] = Array.from({ length: 300 }, () => [Math.floor(rand() * 50), `m${Math.floor(rand() * 40)}`, 1 << Math.floor(rand() * 3) | (rand() < 0.2 ? 4 : 0)] as BufferedEvent);
  for (let round = 0; round < 5; round++) {
    const shuffled = [...events].sort(() => rand() - 0.5);
    let list: BufferedEvent[] = [];
    for (const e of shuffled) list = withEvent(list, e);
    assert.deepEqual(list, sorted(events));
  }
});

test('funnel attempt: the decision equals a brute force over every way of choosing the steps', () => {
  // Brute force: the attempt starts at the first step-1 event; the furthest step reachable by
  // any increasing choice of later events within the window, the earliest completion time when
  // converted. Greedy must give the same furthest step, conversion and close time.
  const rand = rng(11);
  for (let round = 0; round < 300; round++) {
    const n = 1 + Math.floor(rand() * 7);
    const events = sorted(Array.from({ length: n }, (_, i) => [Math.floor(rand() * 8) * 10 * MIN, `m${i}`, 1 + Math.floor(rand() * 7)] as BufferedEvent));
    const a = firstAttempt(events, 3, W);
    const start = events.findIndex((e) => (e[2] & 1) !== 0);
    if (start < 0) {
      assert.equal(a, undefined);
      continue;
    }
    const end = (events[start] as BufferedEvent)[0] + W;
    let best = 1;
    let earliest = Infinity;
    const search = (from: number, step: number) => {
      if (step > best) best = step;
      if (step === 3) return;
      for (let j = from; j < events.length; j++) {
        const e = events[j] as BufferedEvent;
        if (e[0] > end || (e[2] & (1 << step)) === 0) continue;
        if (step + 1 === 3) earliest = Math.min(earliest, e[0]);
        search(j + 1, step + 1);
      }
    };
    search(start + 1, 1);
    assert.ok(a, `round ${round}`);
    assert.equal(a.reached.length, best, `round ${round}: furthest step`);
    assert.equal(a.converted, best === 3);
    assert.equal(a.closesAt, best === 3 ? earliest : end, `round ${round}: close time`);
  }
});
