/**
 * LmdbStore specifics the shared contract suite does not reach: the on-disk layout version check,
 * number values (encoded without msgpackr), the write buffer's compaction under many rewrites,
 * the committed expiry index read ahead in chunks, and the "every committed entry is due" path
 * that drops the databases at flush. Each checks the LMDB store against a MemoryStore doing the
 * same operations.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lmdb from 'lmdb';
import { LMDB_LAYOUT_VERSION, LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { MemoryStore } from '../../lib/state/engines/memory.js';
import type { Entry, KeyValueStore, StoreKey } from '../../lib/state/store.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-lmdb-internals-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const entriesOf = <K, V>(it: Iterable<Entry<K, V>>): [K, V][] => [...it].map((e) => [e.key, e.value]);

/** Applies the same operations to an LMDB store and a MemoryStore and compares what they see. */
function pair<K extends StoreKey, V>(stores: LmdbStoreFactory, name: string) {
  const a = stores.open<K, V>(name);
  const b = new MemoryStore<K, V>(name);
  const both = (fn: (s: KeyValueStore<K, V>) => unknown) => {
    const x = fn(a);
    const y = fn(b);
    assert.deepEqual(x, y);
    return x;
  };
  const same = (label: string) => {
    assert.deepEqual(entriesOf(a.range()), entriesOf(b.range()), `${label}: range`);
    assert.deepEqual(entriesOf(a.range({ reverse: true })), entriesOf(b.range({ reverse: true })), `${label}: reverse range`);
    assert.equal(a.count(), b.count(), `${label}: count`);
  };
  return { a, b, both, same };
}

describe('LMDB on-disk layout version', () => {
  test('a new environment is written with the current layout and reopens', async () => {
    const dir = tempDir();
    const first = new LmdbStoreFactory({ path: dir });
    first.open<string, number>('s').put('k', 1);
    await first.flush();
    await first.close();
    const env = lmdb.open({ path: dir, maxDbs: 8 });
    try {
      assert.equal(env.openDB('tributary/layout', {}).get('version'), LMDB_LAYOUT_VERSION);
    } finally {
      await env.close();
    }
    const again = new LmdbStoreFactory({ path: dir });
    try {
      assert.equal(again.open<string, number>('s').get('k'), 1);
    } finally {
      await again.close();
    }
  });

  test('an environment written with layout 1 (no version, a meta database) is refused with a clear message', async () => {
    const dir = tempDir();
    const env = lmdb.open({ path: dir, maxDbs: 8 });
    await env.openDB('tributary/meta', {}).put('checkpoint', { position: 1 });
    await env.openDB('tributary/expires-at/s', {}).put('k', 5);
    await env.close();
    assert.throws(
      () => new LmdbStoreFactory({ path: dir }),
      /uses on-disk layout 1 .*reads and writes on-disk layout 2 only.*Delete the directory/s,
    );
  });

  test('an environment written with another layout version is refused', async () => {
    const dir = tempDir();
    const env = lmdb.open({ path: dir, maxDbs: 8 });
    await env.openDB('tributary/layout', {}).put('version', 3);
    await env.close();
    assert.throws(() => new LmdbStoreFactory({ path: dir }), /uses on-disk layout 3;/);
    // Refusing did not change anything.
    const check = lmdb.open({ path: dir, maxDbs: 8 });
    try {
      assert.equal(check.openDB('tributary/layout', {}).get('version'), 3);
    } finally {
      await check.close();
    }
  });
});

describe('LmdbStore internals', () => {
  test('number values round-trip, buffered and committed (-0 reads back as 0)', async () => {
    const stores = new LmdbStoreFactory({ path: tempDir() });
    try {
      const s = stores.open<number, number>('numbers');
      const values = [
        ...[0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 31],
        ...[-1, -32, -33, -129, -32_769, -(2 ** 31), -(2 ** 31) - 1],
        ...[0.5, -1.25, 1_767_225_667_908, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, 1e300, Infinity, -Infinity, NaN],
      ];
      values.forEach((v, i) => s.put(i, v));
      s.put(-1, -0);
      const check = () => {
        values.forEach((v, i) => assert.ok(Object.is(s.get(i), v), `value ${v}: got ${s.get(i)}`));
        assert.ok(Object.is(s.get(-1), 0));
        assert.deepEqual(
          [...s.range()].map((e) => e.value),
          [0, ...values],
        );
      };
      check();
      await stores.flush();
      check();
    } finally {
      await stores.close();
    }
  });

  test('many rewrites of a few keys between flushes (write buffer compaction) keep reads, ranges and expiry right', async () => {
    const stores = new LmdbStoreFactory({ path: tempDir() });
    try {
      const { a, both, same } = pair<[string, number], { n: number; pad: string }>(stores, 'rewrites');
      for (let i = 0; i < 20; i++) both((s) => s.put(['k', i], { n: -1, pad: '' }, { expiresAt: 1_000_000 }));
      await stores.flush();
      // A range scan builds the sorted view of the buffer, which compaction must rebuild too.
      assert.equal([...a.range({ prefix: ['k'] })].length, 20);
      for (let step = 0; step < 6000; step++) {
        const k: [string, number] = ['k', step % 10];
        const value = { n: step, pad: 'x'.repeat(step % 200) };
        if (step % 7 === 3) both((s) => s.delete(k));
        else both((s) => s.put(k, value, step % 3 === 0 ? undefined : { expiresAt: step + (step % 50) }));
        if (step % 500 === 0) both((s) => s.expire(step - 100));
        if (step % 1000 === 999) same(`step ${step}`);
      }
      both((s) => s.get(['k', 3]));
      same('before flush');
      both((s) => s.expire(5990));
      same('after expire');
      await stores.flush();
      same('after flush');
      both((s) => s.expire(Infinity));
      same('after expire all');
      await stores.flush();
      same('after second flush');
    } finally {
      await stores.close();
    }
  });

  test('expire reads the committed index ahead in chunks: results equal a scan, across flushes', async () => {
    const stores = new LmdbStoreFactory({ path: tempDir() });
    try {
      const { both, same } = pair<string, number>(stores, 'chunks');
      for (let i = 0; i < 5000; i++) both((s) => s.put(`e${i}`, i, { expiresAt: i }));
      both((s) => s.put('forever', -1));
      await stores.flush();
      // Small steps, so the read-ahead refills many times within one flush interval.
      for (let w = 0; w < 3000; w += 7) both((s) => s.expire(w));
      // Writes between expiries: a rewrite of a key ahead of the cursor decides for that key.
      both((s) => s.put('e4000', 40, { expiresAt: 10_000 }));
      both((s) => s.delete('e4001'));
      both((s) => s.put('e4002', 42));
      same('mid interval');
      await stores.flush();
      same('flushed');
      for (let w = 3000; w <= 6000; w += 13) both((s) => s.expire(w));
      same('second interval');
      await stores.flush();
      same('second flush');
      both((s) => s.expire(Infinity));
      await stores.flush();
      same('end');
    } finally {
      await stores.close();
    }
  });

  test('when every committed entry is due, buffered writes survive and counts stay exact', async () => {
    const stores = new LmdbStoreFactory({ path: tempDir() });
    try {
      const { a, both, same } = pair<string, string>(stores, 'all-due');
      for (let i = 0; i < 300; i++) both((s) => s.put(`k${i}`, `v${i}`, { expiresAt: i }));
      await stores.flush();
      both((s) => s.expire(10)); // part of the index first (the cursor moves)
      both((s) => s.put('k5', 'rewritten', { expiresAt: 100_000 })); // was already expired
      both((s) => s.put('k200', 'rewritten')); // now without expiry
      both((s) => s.delete('k201'));
      both((s) => s.put('new', 'n', { expiresAt: 50 }));
      both((s) => s.get('k250'));
      // Every committed entry is due at 1000: the databases are dropped at flush.
      both((s) => s.expire(1000));
      same('after expire');
      assert.deepEqual(entriesOf(a.range()), [
        ['k200', 'rewritten'],
        ['k5', 'rewritten'],
      ]);
      both((s) => s.put('late', 'l', { expiresAt: 10 }));
      await stores.flush();
      same('after flush');
      both((s) => s.expire(10));
      same('after expiring a write made after the drop');
      await stores.flush();
      same('end');
    } finally {
      await stores.close();
    }
  });

  test('a read before a write (known committed state) and a write without one give the same index', async () => {
    const dir = tempDir();
    const stores = new LmdbStoreFactory({ path: dir });
    try {
      const { a, both, same } = pair<string, number>(stores, 'known');
      for (let i = 0; i < 10; i++) both((s) => s.put(`k${i}`, i, { expiresAt: 100 + i }));
      await stores.flush();
      both((s) => s.get('k1'));
      both((s) => s.put('k1', 11, { expiresAt: 500 })); // old expiry known from the get
      both((s) => s.put('k2', 12, { expiresAt: 500 })); // old expiry read at flush
      both((s) => s.has('k3'));
      both((s) => s.delete('k3'));
      both((s) => s.get('absent'));
      both((s) => s.put('absent', 1, { expiresAt: 105 }));
      await stores.flush();
      same('flushed');
      assert.equal(a.expire(109), 8);
      assert.equal(a.expire(500), 2);
    } finally {
      await stores.close();
    }
  });
});
