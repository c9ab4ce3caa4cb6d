// The expiry index of a changelogged store holds at most the current entry of a key: a put with
// another expiresAt or a delete removes the previous one, so a deleted key (an erased person's)
// leaves nothing behind in the index, in a running task or after a restore.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangeloggingStoreFactory, EXPIRY_INDEX_PREFIX } from '../../lib/state/changelog.js';
import { decodeChangelogKey } from '../../lib/state/changelog-codec.js';
import { LmdbStoreFactory, MemoryStoreFactory } from '../../lib/state/index.js';
import { tempDir } from '../support/tmp.js';

for (const backend of ['memory', 'lmdb'] as const) {
  test(`${backend}: rewrites and deletes leave no stale expiry index entries; expiry still logs tombstones`, () => {
    const inner: MemoryStoreFactory | LmdbStoreFactory = backend === 'memory' ? new MemoryStoreFactory() : new LmdbStoreFactory({ path: tempDir(), noSync: true });
    const factory = new ChangeloggingStoreFactory(inner);
    const store = factory.open<string | [string, number], number>('s');
    const index = () => [...inner.open(`${EXPIRY_INDEX_PREFIX}s`).range()].map((e) => e.key);
    store.put('p1', 1, { expiresAt: 10 });
    store.put('p1', 2, { expiresAt: 20 });
    store.put(['p2', 1], 1, { expiresAt: 15 });
    store.put('x'.repeat(1960), 1, { expiresAt: 30 });
    store.put('x'.repeat(1960), 2, { expiresAt: 40 });
    assert.deepEqual(index().map((k) => (Array.isArray(k) ? k[0] : k)), [15, 20, 40]);
    store.delete('p1');
    store.delete('x'.repeat(1960));
    assert.deepEqual(index(), [[15, 'p2', 1]]);
    store.put('p3', 1);
    store.delete('p3');
    factory.drainChanges();
    store.expire(100);
    assert.deepEqual(index(), []);
    assert.deepEqual(factory.drainChanges().flatMap((c) => c.records.map((r) => [decodeChangelogKey(r.key), r.value])), [[['p2', 1], null]]);
  });
}
