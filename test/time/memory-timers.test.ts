import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareKeys } from '../../lib/state/key-order.js';
import { MemoryTimers, type Timer } from '../../lib/time/timers.js';
import { rng } from '../support/random.js';

test('memory timers fire in (time, id) order, only up to the watermark, each once', () => {
  const timers = new MemoryTimers<string>();
  timers.register({ time: 300, id: 'c', data: 'C' });
  timers.register({ time: 100, id: 'b', data: 'B' });
  timers.register({ time: 100, id: 'a', data: 'A' });
  timers.register({ time: 200, id: 'd', data: 'D' });
  const fired: string[] = [];
  assert.equal(timers.fireDue(99, (t) => fired.push(t.data)), 0);
  assert.equal(timers.fireDue(200, (t) => fired.push(t.data)), 3);
  assert.deepEqual(fired, ['A', 'B', 'D']);
  assert.equal(timers.fireDue(200, (t) => fired.push(t.data)), 0, 'never twice');
  assert.equal(timers.size(), 1);
  assert.equal(timers.nextTime(), 300);
});

test('memory timers: moving, cancelling and registering from a callback', () => {
  const timers = new MemoryTimers<number>();
  timers.register({ time: 50, id: 'x', data: 1 });
  timers.register({ time: 10, id: 'x', data: 2 }); // moved earlier
  timers.register({ time: 20, id: 'y', data: 3 });
  assert.equal(timers.cancel('y'), true);
  assert.equal(timers.cancel('y'), false);
  assert.equal(timers.pending('x'), 10);
  const fired: Array<[string, number, number]> = [];
  timers.fireDue(100, (t) => {
    fired.push([t.id, t.time, t.data]);
    if (t.id === 'x') timers.register({ time: 60, id: 'z', data: 4 }); // due in the same round
  });
  assert.deepEqual(fired, [['x', 10, 2], ['z', 60, 4]]);
  assert.equal(timers.size(), 0);
  assert.equal(timers.next(), undefined);
  assert.equal(timers.nextTime(), Infinity);
});

/** The obvious model: every pending timer in a map, due ones sorted by (time, id) at each firing. */
class ModelTimers {
  private readonly pendingById = new Map<string, Timer<number>>();
  register(t: Timer<number>): void {
    this.pendingById.set(t.id, { ...t });
  }
  cancel(id: string): boolean {
    return this.pendingById.delete(id);
  }
  pending(id: string): number | undefined {
    return this.pendingById.get(id)?.time;
  }
  size(): number {
    return this.pendingById.size;
  }
  /** The earliest pending timer in (time, id) order. */
  next(): Timer<number> | undefined {
    return [...this.pendingById.values()].sort((x, y) => x.time - y.time || compareKeys(x.id, y.id))[0];
  }
  fireDue(watermark: number, onFire: (t: Timer<number>) => void): void {
    for (;;) {
      const due = [...this.pendingById.values()].filter((t) => t.time <= watermark);
      if (due.length === 0) return;
      due.sort((a, b) => a.time - b.time || compareKeys(a.id, b.id));
      const next = due[0]!;
      this.pendingById.delete(next.id);
      onFire(next);
    }
  }
}

// Few ids: every id moved and cancelled often. Many ids: deep heaps, where a timer moved later
// waits in its old place until it reaches the top (moves are mostly later, as a session's are).
for (const { label, ids, later } of [
  // Ids around the surrogate range, where UTF-16 and code point order differ.
  { label: 'ids in code point order', ids: ['a', 'b', 'k1', 'k10', 'k2', '\uffff', '\u{1F600}', 'é', 'z'], later: 0 },
  { label: '300 ids, moves mostly later', ids: Array.from({ length: 300 }, (_, i) => `k${i}`), later: 0.8 },
]) {
  test(`memory timers match a sorted model over 20,000 random operations (${label})`, () => {
    const random = rng(7);
    const memory = new MemoryTimers<number>();
    const model = new ModelTimers();
    let watermark = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = random();
      const id = ids[Math.floor(random() * ids.length)]!;
      if (r < 0.6) {
        const pending = model.pending(id);
        const time = pending !== undefined && random() < later ? pending + 1 + Math.floor(random() * 40) : watermark + Math.floor(random() * 50);
        const t: Timer<number> = { time, id, data: i };
        memory.register(t);
        model.register(t);
      } else if (r < 0.75) {
        assert.equal(memory.cancel(id), model.cancel(id));
      } else {
        watermark += Math.floor(random() * 30);
        const a: Array<[number, string, number]> = [];
        const b: Array<[number, string, number]> = [];
        memory.fireDue(watermark, (t) => a.push([t.time, t.id, t.data]));
        model.fireDue(watermark, (t) => b.push([t.time, t.id, t.data]));
        assert.deepEqual(a, b, `round ${i}`);
      }
      assert.equal(memory.size(), model.size());
      assert.equal(memory.pending(id), model.pending(id));
      const next = model.next();
      assert.equal(memory.nextTime(), next?.time ?? Infinity, `round ${i}`);
      assert.deepEqual(memory.next(), next, `round ${i}`);
    }
  });
}
