// The caching layer writes dirty keys down in slices when asked to (a checkpoint that lets the
// event loop answer requests): every key reaches LMDB with its latest value, also one changed
// between two slices, and the flush that slices is the same as one that does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CachingStoreFactory } from '../../lib/state/caching.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import type { CachingStore } from '../../lib/state/caching-store.js';
import { tempDir } from '../support/tmp.js';

test('writeDownUntil: slices of 256 dirty entries once the deadline passed; a key changed between slices is written with its latest value', async () => {
  const path = tempDir();
  const engine = new LmdbStoreFactory({ path });
  const stores = new CachingStoreFactory(engine);
  const s = stores.open<string, number>('t.s') as unknown as CachingStore<string, number>;
  for (let i = 0; i < 1000; i++) s.put(`k${String(i).padStart(4, '0')}`, i);
  const slices: number[] = [];
  let r = s.writeDownUntil(0); // deadline long past: one slice
  slices.push(r.written);
  s.put('k0001', -1); // written already: dirty again, comes later in the same pass
  s.put('k0999', -999); // not written yet: goes down with its latest value
  while (!r.done) {
    r = s.writeDownUntil(0);
    slices.push(r.written);
  }
  assert.deepEqual(slices, [256, 256, 256, 233], 'slices of 256 dirty entries; 1001 writes in all (k0001 twice)');
  await engine.flush();
  await stores.close();

  const reopened = new LmdbStoreFactory({ path });
  const back = reopened.open<string, number>('t.s');
  assert.equal(back.count(), 1000);
  assert.equal(back.get('k0001'), -1);
  assert.equal(back.get('k0999'), -999);
  assert.equal(back.get('k0500'), 500);
  await reopened.close();
});

test('a flush that slices its write-down (over 10 ms) keeps every key, as one that does not', async () => {
  const path = tempDir();
  const stores = new CachingStoreFactory(new LmdbStoreFactory({ path }));
  const a = stores.open<string, { v: string }>('t.a');
  const b = stores.open<string, number>('t.b');
  for (let i = 0; i < 200_000; i++) a.put(`a${i}`, { v: 'x'.repeat(i % 50) });
  for (let i = 0; i < 1000; i++) b.put(`b${i}`, i);
  await stores.flush();
  await stores.close();
  const reopened = new LmdbStoreFactory({ path });
  assert.equal(reopened.open('t.a').count(), 200_000);
  assert.deepEqual(reopened.open<string, { v: string }>('t.a').get('a199999'), { v: 'x'.repeat(199_999 % 50) });
  assert.equal(reopened.open('t.b').count(), 1000);
  await reopened.close();
});
