import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LmdbStoreFactory } from '../../lib/state/lmdb-store.js';
import { MemoryStoreFactory } from '../../lib/state/memory-store.js';
import type { StoreFactory } from '../../lib/state/store.js';
import { TimerService, type Timer } from '../../lib/time/timers.js';
import { tempDir } from '../support/tmp.js';

const backends: Array<[string, () => StoreFactory]> = [
  ['memory', () => new MemoryStoreFactory()],
  ['lmdb', () => new LmdbStoreFactory({ path: tempDir() })],
];

for (const [backend, make] of backends) {
  describe(`timers over ${backend}`, () => {
    test('fire in (time, id) order, only up to the watermark, each once', async () => {
      const stores = make();
      const timers = new TimerService<string>(stores.open('s.timers'));
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
      await stores.close();
    });

    test('a timer registered earlier than every pending one, or after all fired, still fires', async () => {
      const stores = make();
      const timers = new TimerService<null>(stores.open('s.timers'));
      timers.register({ time: 500, id: 'late', data: null });
      assert.equal(timers.next()?.id, 'late');
      timers.register({ time: 100, id: 'early', data: null });
      const fired: string[] = [];
      timers.fireDue(1000, (t) => fired.push(t.id));
      assert.equal(timers.next(), undefined);
      timers.register({ time: 50, id: 'after-empty', data: null });
      timers.fireDue(1000, (t) => fired.push(t.id));
      assert.deepEqual(fired, ['early', 'late', 'after-empty']);
      await stores.close();
    });

    test('re-registering moves a timer; cancel removes it', async () => {
      const stores = make();
      const timers = new TimerService<null>(stores.open('s.timers'));
      timers.register({ time: 100, id: 'x', data: null });
      timers.register({ time: 500, id: 'x', data: null });
      timers.register({ time: 150, id: 'y', data: null });
      assert.equal(timers.pending('x'), 500);
      assert.equal(timers.cancel('y'), true);
      assert.equal(timers.cancel('y'), false);
      const fired: Timer<null>[] = [];
      timers.fireDue(1000, (t) => fired.push(t));
      assert.deepEqual(fired, [{ time: 500, id: 'x', data: null }]);
      await stores.close();
    });

    test('a callback may register timers that are already due: they fire in the same call', async () => {
      const stores = make();
      const timers = new TimerService<number>(stores.open('s.timers'));
      timers.register({ time: 10, id: 'first', data: 1 });
      const fired: string[] = [];
      timers.fireDue(Infinity, (t) => {
        fired.push(t.id);
        if (t.data < 3) timers.register({ time: t.time + 10, id: `next-${t.data}`, data: t.data + 1 });
      });
      assert.deepEqual(fired, ['first', 'next-1', 'next-2']);
      await stores.close();
    });
  });
}

test('timers survive a restart of an LMDB store and fire exactly once after it', async () => {
  const dir = tempDir();
  const first = new LmdbStoreFactory({ path: dir });
  const t1 = new TimerService<string>(first.open('s.timers'));
  t1.register({ time: 1_000, id: 'cart-1', data: 'abandoned?' });
  t1.register({ time: 2_000, id: 'cart-2', data: 'abandoned?' });
  assert.equal(t1.fireDue(1_500, () => undefined), 1);
  await first.flush();
  await first.close();

  const second = new LmdbStoreFactory({ path: dir });
  const t2 = new TimerService<string>(second.open('s.timers'));
  const fired: string[] = [];
  t2.fireDue(Infinity, (t) => fired.push(t.id));
  assert.deepEqual(fired, ['cart-2']);
  await second.close();
});
