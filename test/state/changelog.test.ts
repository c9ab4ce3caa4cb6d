// The change-logging store layer and restore from a changelog, without a broker: the changelog
// is an in-memory list of records with offsets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateEvents } from '../../lib/generate/index.js';
import { ChangeloggingStoreFactory } from '../../lib/state/changelog.js';
import { CHANGELOG_VALUE_VERSION, changelogTopic, decodeChangelogKey, decodeChangelogValue, encodeChangelogKey, encodeChangelogValue, type StoreChanges } from '../../lib/state/changelog-codec.js';
import { needsRestore, restoreFromChangelog, type ConsumedChangelogRecord, type RestoreProgress } from '../../lib/state/changelog-restore.js';
import { compareKeys, LmdbStoreFactory, MemoryStoreFactory, type KeyValueStore, type StoreKey } from '../../lib/state/index.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

type Backend = 'memory' | 'lmdb';
const BACKENDS: Backend[] = ['memory', 'lmdb'];

function factoryFor(backend: Backend, dir?: string): ChangeloggingStoreFactory {
  return new ChangeloggingStoreFactory(
    backend === 'memory' ? new MemoryStoreFactory() : new LmdbStoreFactory({ path: dir ?? tempDir('tributary-changelog-'), noSync: true }),
  );
}

/** Drained records, decoded, per store. */
function decoded(changes: StoreChanges[]) {
  return changes.map(({ store, records }) => ({
    store,
    records: records.map((r) => ({
      key: decodeChangelogKey(r.key),
      ...(r.value === null ? { tombstone: true } : decodeChangelogValue(r.value)),
    })),
  }));
}

const scan = <K extends StoreKey, V>(s: KeyValueStore<K, V>) => [...s.range()].map((e) => [e.key, e.value]);

/** A changelog topic partition in memory: records get consecutive offsets. */
class MemoryLog {
  records: ConsumedChangelogRecord[] = [];
  append(records: { key: Buffer; value: Buffer | null }[]): bigint {
    for (const r of records) this.records.push({ ...r, offset: String(this.records.length) });
    return BigInt(this.records.length - 1);
  }
  get endOffset(): bigint {
    return BigInt(this.records.length);
  }
  /** What compaction may leave: the last record per key, in offset order. */
  compacted(): ConsumedChangelogRecord[] {
    const last = new Map<string, ConsumedChangelogRecord>();
    for (const r of this.records) {
      const k = r.key!.toString('hex');
      last.delete(k);
      last.set(k, r);
    }
    return [...last.values()];
  }
}

/** The runner's commit: drain, "produce", record offsets, flush. */
async function commit(factory: ChangeloggingStoreFactory, logs: Map<string, MemoryLog>, partition = 0): Promise<void> {
  for (const { store, records } of factory.drainChanges()) {
    let log = logs.get(store);
    if (log === undefined) logs.set(store, (log = new MemoryLog()));
    factory.recordChangelogOffsets(store, partition, log.append(records));
  }
  await factory.flush();
}

describe('changelog encoding', () => {
  test('keys round-trip through the ordered-binary encoding (scalars, tuples, -0, ±Infinity)', () => {
    const keys: StoreKey[] = ['a', '', 'é😀', 0, -5.5, 1e21, Infinity, -Infinity, ['p1', 5], ['p1', 'x', 2], [1, 'b'], [-Infinity, 'z']];
    for (const key of keys) assert.deepEqual(decodeChangelogKey(encodeChangelogKey(key)), key, JSON.stringify(key));
    assert.equal(decodeChangelogKey(encodeChangelogKey(-0)), 0);
    assert.deepEqual(decodeChangelogKey(encodeChangelogKey(['a', -0])), ['a', 0]);
    // The bytes are lmdb's key bytes, so their order is the store order.
    const sorted = keys.slice().sort(compareKeys);
    const byBytes = keys.slice().sort((a, b) => Buffer.compare(encodeChangelogKey(a), encodeChangelogKey(b)));
    assert.deepEqual(byBytes, sorted);
    // Independent buffers (the encoder reuses its own).
    const a = encodeChangelogKey('a');
    encodeChangelogKey('b');
    assert.equal(decodeChangelogKey(a), 'a');
    assert.throws(() => encodeChangelogKey(['a'] as unknown as StoreKey, 'seen'), /store "seen": invalid key/);
  });

  test('values round-trip with a version byte and expiresAt; structured values survive', () => {
    const value = { n: 1, s: new Set(['a']), m: new Map([['k', [1, 2]]]), d: new Date(5), u: new Uint8Array([1, 2]), nested: { x: null } };
    const bytes = encodeChangelogValue(value, 1_700_000_000_123.5);
    assert.equal(bytes[0], CHANGELOG_VALUE_VERSION);
    assert.equal(bytes[1], 1);
    assert.deepEqual(decodeChangelogValue(bytes), { value, expiresAt: 1_700_000_000_123.5 });
    const plain = encodeChangelogValue(42, undefined);
    assert.deepEqual([...plain.subarray(0, 2)], [1, 0]);
    assert.deepEqual(decodeChangelogValue(plain), { value: 42, expiresAt: undefined });
    // Several values decoded out of order (msgpack records are inline, not shared state).
    const many = [{ a: 1 }, { a: 2, b: 'x' }, { c: [1] }].map((v) => encodeChangelogValue(v, undefined));
    assert.deepEqual(decodeChangelogValue(many[2]!).value, { c: [1] });
    assert.deepEqual(decodeChangelogValue(many[0]!).value, { a: 1 });
    const wrong = Buffer.from(plain);
    wrong[0] = 2;
    assert.throws(() => decodeChangelogValue(wrong), /version 2 is not supported/);
    assert.throws(() => decodeChangelogValue(Buffer.from([1])), /truncated/);
    assert.throws(() => decodeChangelogValue(Buffer.from([1, 1, 0])), /truncated/);
  });

  test('changelog topic names', () => {
    assert.equal(changelogTopic('shop', 'dedupe-seen'), 'shop-dedupe-seen-changelog');
    assert.throws(() => changelogTopic('shop', 'a/b'), /not a valid Kafka topic name/);
  });
});

for (const backend of BACKENDS) {
  describe(`ChangeloggingStoreFactory over ${backend}`, () => {
    test('drainChanges: one record per changed key with its current state, grouped by store', async () => {
      const factory = factoryFor(backend);
      try {
        const s = factory.open<StoreKey, unknown>('s');
        const t = factory.open<string, number>('t');
        s.put('a', { v: 1 });
        s.put(['p1', 5], 'x', { expiresAt: 100 });
        s.put('a', { v: 2 }); // latest write wins
        s.put('b', 1);
        s.delete('b'); // deleted within the interval: a tombstone
        s.delete('never'); // a delete of an absent key is still logged (the changelog may hold it)
        t.put('k', 7, { expiresAt: 50 });
        assert.deepEqual(decoded(factory.drainChanges()), [
          {
            store: 's',
            records: [
              { key: 'a', value: { v: 2 }, expiresAt: undefined },
              { key: ['p1', 5], value: 'x', expiresAt: 100 },
              { key: 'b', tombstone: true },
              { key: 'never', tombstone: true },
            ],
          },
          { store: 't', records: [{ key: 'k', value: 7, expiresAt: 50 }] },
        ]);
        assert.deepEqual(factory.drainChanges(), [], 'drained');
        await factory.flush();

        // Expiry: tombstones for what expire removed (committed and buffered), nothing for
        // entries rewritten since without an expiry or with a later one.
        s.put(['p1', 6], 'y', { expiresAt: 120 });
        s.put(['p2', 1], 'z', { expiresAt: 90 });
        s.put(['p2', 1], 'z2'); // no expiry any more
        s.put('c', 3, { expiresAt: 110 });
        s.put('c', 4, { expiresAt: 500 }); // later expiry
        factory.drainChanges();
        assert.equal(s.expire(99), 0);
        assert.deepEqual(factory.drainChanges(), []);
        assert.equal(s.expire(120), 2);
        assert.deepEqual(decoded(factory.drainChanges()), [
          { store: 's', records: [{ key: ['p1', 5], tombstone: true }, { key: ['p1', 6], tombstone: true }] },
        ]);
        assert.equal(s.expire(1000), 1);
        assert.deepEqual(decoded(factory.drainChanges()), [{ store: 's', records: [{ key: 'c', tombstone: true }] }]);
        await factory.flush();

        // clear: a tombstone for every entry; writes after it are kept.
        s.put('d', 1);
        s.clear();
        s.put('e', 2, { expiresAt: 10 });
        assert.deepEqual(decoded(factory.drainChanges()), [
          {
            store: 's',
            records: [
              { key: 'd', tombstone: true },
              { key: 'a', tombstone: true },
              { key: ['p2', 1], tombstone: true },
              { key: 'e', value: 2, expiresAt: 10 },
            ],
          },
        ]);
        assert.equal(s.expire(10), 1);
        assert.deepEqual(decoded(factory.drainChanges()), [{ store: 's', records: [{ key: 'e', tombstone: true }] }]);
        assert.deepEqual(scan(s), []);
        assert.deepEqual(scan(t), [['k', 7]]);
      } finally {
        await factory.close();
      }
    });

    test('values are captured at drain as the store holds them (a mutation after put is not logged)', async () => {
      const factory = factoryFor(backend);
      try {
        const s = factory.open<string, { n: number }>('s');
        const v = { n: 1 };
        s.put('a', v);
        v.n = 2;
        assert.deepEqual(decoded(factory.drainChanges())[0]!.records, [{ key: 'a', value: { n: 1 }, expiresAt: undefined }]);
      } finally {
        await factory.close();
      }
    });

    test('keys too long for the expiry index still expire with a tombstone', async () => {
      const factory = factoryFor(backend);
      try {
        const s = factory.open<StoreKey, number>('long');
        const long: StoreKey = [1, 'k'.repeat(1958)]; // the largest key the stores accept
        const long2: StoreKey = [2, 'k'.repeat(1958)];
        s.put(long, 1, { expiresAt: 5 });
        s.put(long2, 2, { expiresAt: 5 });
        s.put('short', 3, { expiresAt: 5 });
        await factory.flush();
        factory.drainChanges();
        assert.equal(s.expire(5), 3);
        const records = decoded(factory.drainChanges())[0]!.records;
        assert.deepEqual(records.map((r) => r.key).sort(compareKeys), ['short', long, long2].sort(compareKeys));
        assert.ok(records.every((r) => 'tombstone' in r));
      } finally {
        await factory.close();
      }
    });

    test('differential: a random workload reads like the unwrapped store, and its changelog rebuilds it', async () => {
      const plain = backend === 'memory' ? new MemoryStoreFactory() : new LmdbStoreFactory({ path: tempDir(), noSync: true });
      const factory = factoryFor(backend);
      const replica = new MemoryStoreFactory();
      try {
        const p = plain.open<StoreKey, number>('r');
        const s = factory.open<StoreKey, number>('r');
        const copy = replica.open<StoreKey, number>('r');
        const r = rng(7);
        const pick = (): StoreKey => {
          const a = Math.floor(r() * 6);
          const b = Math.floor(r() * 8);
          return r() < 0.3 ? `s${a}` : r() < 0.6 ? [`s${a}`, b] : [a, `t${b}`];
        };
        let watermark = 0;
        for (let step = 0; step < 4000; step++) {
          const op = r();
          const key = pick();
          if (op < 0.45) {
            const options = r() < 0.5 ? { expiresAt: watermark + Math.floor(r() * 50) } : undefined;
            p.put(key, step, options);
            s.put(key, step, options);
          } else if (op < 0.6) {
            p.delete(key);
            s.delete(key);
          } else if (op < 0.7) {
            watermark += Math.floor(r() * 10);
            assert.equal(s.expire(watermark), p.expire(watermark), `step ${step}: expire`);
          } else if (op < 0.71) {
            p.clear();
            s.clear();
          } else if (op < 0.76) {
            // Apply the drained changelog to the replica, then flush: the replica equals the store.
            for (const { records } of factory.drainChanges()) {
              for (const rec of records) {
                const k = decodeChangelogKey(rec.key);
                if (rec.value === null) copy.delete(k);
                else copy.put(k, decodeChangelogValue(rec.value).value as number);
              }
            }
            assert.deepEqual(scan(copy), scan(s), `step ${step}: replica`);
            await Promise.all([plain.flush(), factory.flush()]);
          } else {
            assert.deepEqual(s.get(key), p.get(key));
            assert.equal(s.has(key), p.has(key));
            const bounds = { start: pick(), end: pick(), reverse: r() < 0.5 };
            assert.deepEqual([...s.range(bounds)], [...p.range(bounds)], `step ${step}: range`);
            const prefix = r() < 0.5 ? `s${Math.floor(r() * 6)}` : Math.floor(r() * 6);
            assert.deepEqual([...s.range({ prefix })], [...p.range({ prefix })], `step ${step}: prefix`);
            assert.equal(s.count(), p.count(), `step ${step}: count`);
          }
        }
      } finally {
        await Promise.all([plain.close(), factory.close(), replica.close()]);
      }
    });

    test('store names of the expiry index are reserved; open returns the same store', async () => {
      const factory = factoryFor(backend);
      try {
        assert.throws(() => factory.open('tributary.changelog-expiry/x'), /reserved/);
        assert.equal(factory.open('a'), factory.open('a'));
      } finally {
        await factory.close();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Restore from a changelog: dedupe-like and sessionize-like workloads over generated events.

const HOUR = 3_600_000;
const SESSION_GAP = 30 * 60_000;

interface Session {
  start: number;
  end: number;
  events: number;
  types: Set<string>;
}

/**
 * Runs `events` generated events through a dedupe store (messageId → first timestamp, expiring
 * an hour after it) and a sessionize store ([person, sessionStart] → session, expiring two hours
 * after its end; closed sessions' predecessors deleted), committing every `commitEvery` events.
 */
async function runWorkload(factory: ChangeloggingStoreFactory, logs: Map<string, MemoryLog>, events: number, commitEvery: number) {
  const seen = factory.open<string, number>('dedupe-seen');
  const sessions = factory.open<[string, number], Session>('sessions');
  let watermark = -Infinity;
  let n = 0;
  for (const e of generateEvents({ events, seed: 11, customers: 300 })) {
    watermark = Math.max(watermark, e.timestamp - 60_000);
    if (seen.has(e.messageId)) continue;
    seen.put(e.messageId, e.timestamp, { expiresAt: e.timestamp + HOUR });
    const person = e.userId ?? e.anonymousId ?? 'unknown';
    const last = [...sessions.range({ prefix: [person], reverse: true, limit: 1 })][0];
    if (last !== undefined && e.timestamp - last.value.end <= SESSION_GAP && e.timestamp >= last.value.start) {
      const s = last.value;
      s.end = Math.max(s.end, e.timestamp);
      s.events++;
      s.types.add(e.event ?? e.type);
      sessions.put(last.key, s, { expiresAt: s.end + 2 * HOUR });
    } else {
      if (last !== undefined && last.value.events < 2) sessions.delete(last.key); // drop one-event sessions
      sessions.put([person, e.timestamp], { start: e.timestamp, end: e.timestamp, events: 1, types: new Set([e.event ?? e.type]) },
        { expiresAt: e.timestamp + 2 * HOUR });
    }
    if (++n % 500 === 0) {
      seen.expire(watermark);
      sessions.expire(watermark);
    }
    if (n % commitEvery === 0) await commit(factory, logs);
  }
  await commit(factory, logs);
  return { seen, sessions };
}

for (const backend of BACKENDS) {
  describe(`restore over ${backend}`, () => {
    for (const compacted of [false, true]) {
      test(`dedupe-like and sessionize-like stores restore exactly from the ${compacted ? 'compacted' : 'full'} changelog`, async () => {
        const logs = new Map<string, MemoryLog>();
        const source = factoryFor(backend);
        const target = factoryFor(backend);
        try {
          const { seen, sessions } = await runWorkload(source, logs, 12_000, 1000);
          // Most entries expired along the way (tombstones); some are live at the end.
          assert.ok(seen.count() > 100 && sessions.count() > 50, `workload too small: ${seen.count()} / ${sessions.count()}`);
          assert.ok(logs.get('dedupe-seen')!.records.length > 10_000 && logs.get('sessions')!.records.length > 1000);
          assert.ok(logs.get('dedupe-seen')!.records.some((r) => r.value === null), 'expiry tombstones were logged');
          for (const name of ['dedupe-seen', 'sessions']) {
            const log = logs.get(name)!;
            const decision = needsRestore(target, name, 0, log.endOffset);
            assert.deepEqual(decision, { restore: true, wipe: true, reason: 'missing', from: 'earliest', upTo: String(log.endOffset - 1n), detail: 'no changelog checkpoint' });
            const progress: RestoreProgress[] = [];
            const result = await restoreFromChangelog({
              records: compacted ? log.compacted() : log.records,
              factory: target, store: name, partition: 0, upTo: log.endOffset - 1n, wipe: decision.wipe,
              batchSize: 2000, onProgress: (p) => progress.push(p),
            });
            assert.equal(result.checkpoint, String(log.endOffset - 1n));
            assert.equal(result.applied, compacted ? log.compacted().length : log.records.length);
            assert.ok(progress.length >= 2 && progress.at(-1)!.done && !progress[0]!.done, 'progress reported per batch');
            assert.deepEqual(needsRestore(target, name, 0, log.endOffset), { restore: false, reason: 'up-to-date', checkpoint: String(log.endOffset - 1n) });
          }
          assert.deepEqual(target.drainChanges(), [], 'a restore logs nothing');
          const seen2 = target.open<string, number>('dedupe-seen');
          const sessions2 = target.open<[string, number], Session>('sessions');
          assert.deepEqual(scan(seen2), scan(seen));
          assert.deepEqual(scan(sessions2), scan(sessions));
          // Expiry continues on the restored stores, tombstones included.
          assert.equal(seen2.expire(Infinity), seen.expire(Infinity));
          assert.equal(sessions2.expire(Infinity), sessions.expire(Infinity));
          const tombstones = (f: ChangeloggingStoreFactory) =>
            decoded(f.drainChanges()).map(({ store, records }) => [store, records.map((r) => r.key).sort(compareKeys)]);
          assert.deepEqual(tombstones(target), tombstones(source));
          assert.deepEqual(scan(seen2), []);
        } finally {
          await Promise.all([source.close(), target.close()]);
        }
      });
    }

    test('behind: restore from checkpoint + 1 continues the local state', async () => {
      const dir = tempDir();
      const logs = new Map<string, MemoryLog>();
      const source = factoryFor(backend);
      const replica = factoryFor(backend, dir);
      try {
        const s = source.open<string, number>('s');
        for (let i = 0; i < 50; i++) s.put(`k${i}`, i, { expiresAt: i });
        await commit(source, logs);
        const log = logs.get('s')!;
        await restoreFromChangelog({ records: log.records, factory: replica, store: 's', partition: 0, upTo: log.endOffset - 1n });
        const upTo = log.endOffset - 1n;
        for (let i = 0; i < 20; i++) s.delete(`k${i}`);
        s.expire(30);
        s.put('new', 1);
        await commit(source, logs);
        const decision = needsRestore(replica, 's', 0, log.endOffset);
        assert.deepEqual(decision, { restore: true, wipe: false, reason: 'behind', from: String(upTo + 1n), upTo: String(log.endOffset - 1n), checkpoint: String(upTo) });
        const rest = log.records.filter((r) => BigInt(r.offset) >= BigInt(decision.restore ? decision.from : 0));
        const result = await restoreFromChangelog({ records: rest, factory: replica, store: 's', partition: 0, upTo: log.endOffset - 1n });
        assert.equal(result.applied, rest.length);
        assert.deepEqual(scan(replica.open('s')), scan(s));
        assert.deepEqual(scan(replica.open('s')).map(([k]) => k), ['new', ...Array.from({ length: 19 }, (_, i) => `k${i + 31}`)].sort(compareKeys));
      } finally {
        await Promise.all([source.close(), replica.close()]);
      }
    });

    test('records past upTo are not applied; undecodable records fail the restore and nothing is flushed', async () => {
      const factory = factoryFor(backend);
      try {
        const rec = (key: StoreKey, value: number | null, offset: number): ConsumedChangelogRecord =>
          ({ key: encodeChangelogKey(key), value: value === null ? null : encodeChangelogValue(value, undefined), offset: String(offset) });
        const result = await restoreFromChangelog({
          records: (async function* () {
            yield rec('a', 1, 3);
            yield rec('b', 2, 4);
            yield rec('a', null, 7);
            yield rec('c', 3, 8); // past upTo
            throw new Error('the restore read past upTo');
          })(),
          factory, store: 's', partition: 2, upTo: 7,
        });
        assert.deepEqual(result, { applied: 3, puts: 2, deletes: 1, checkpoint: '7', elapsedMs: result.elapsedMs });
        assert.deepEqual(scan(factory.open('s')), [['b', 2]]);
        assert.equal(factory.changelogCheckpoint('s', 2), '7');
        await assert.rejects(
          restoreFromChangelog({ records: [rec('x', 1, 8), { key: Buffer.from('k'), value: Buffer.from([9, 0]), offset: '9' }], factory, store: 's', partition: 2, upTo: 9 }),
          /offset 9 is undecodable: Error: changelog value version 9/,
        );
        const s = factory.openStore('s');
        s.put('dirty', 1);
        await assert.rejects(restoreFromChangelog({ records: [], factory, store: 's', partition: 2, upTo: 9 }), /undrained changes/);
      } finally {
        await factory.close();
      }
    });
  });
}

describe('needsRestore', () => {
  test('up to date, behind, missing, corrupt checkpoint, ahead of the changelog, empty', async () => {
    const factory = factoryFor('memory');
    try {
      assert.deepEqual(needsRestore(factory, 's', 0, 0), { restore: false, reason: 'up-to-date', checkpoint: undefined });
      assert.deepEqual(needsRestore(factory, 's', 0, '10'),
        { restore: true, wipe: true, reason: 'missing', from: 'earliest', upTo: '9', detail: 'no changelog checkpoint' });
      factory.open('s').put('local', 1);
      factory.drainChanges();
      assert.equal(needsRestore(factory, 's', 0, 0).restore, true, 'local data without a checkpoint is wiped');
      factory.recordChangelogOffsets('s', 0, 9);
      assert.deepEqual(needsRestore(factory, 's', 0, 10n), { restore: false, reason: 'up-to-date', checkpoint: '9' });
      assert.deepEqual(needsRestore(factory, 's', 0, '25'), { restore: true, wipe: false, reason: 'behind', from: '10', upTo: '24', checkpoint: '9' });
      assert.equal(needsRestore(factory, 's', 1, 25).restore, true, 'checkpoints are per partition');
      assert.deepEqual(needsRestore(factory, 's', 0, 5), {
        restore: true, wipe: true, reason: 'ahead', from: 'earliest', upTo: '4',
        detail: 'checkpoint 9 is past the changelog end offset 5 (topic recreated or truncated?)',
      });
      // At-least-once: restore only up to what the committed input offset covers.
      assert.deepEqual(needsRestore(factory, 's', 0, '25', '19'), { restore: true, wipe: false, reason: 'behind', from: '10', upTo: '19', checkpoint: '9' });
      assert.deepEqual(needsRestore(factory, 's', 0, '25', '9'), { restore: false, reason: 'up-to-date', checkpoint: '9' });
      assert.deepEqual(needsRestore(factory, 's', 0, '25', '40'), { restore: true, wipe: false, reason: 'behind', from: '10', upTo: '24', checkpoint: '9' },
        'a committed offset past the end is capped at the end');
      assert.deepEqual(needsRestore(factory, 's', 0, '25', '6'), {
        restore: true, wipe: true, reason: 'ahead', from: 'earliest', upTo: '6',
        detail: 'checkpoint 9 is past 6, the last changelog offset the committed input covers (a commit failed after the state was flushed)',
      });
      assert.deepEqual(needsRestore(factory, 's', 0, '25', -1), {
        restore: true, wipe: true, reason: 'ahead', from: 'earliest', upTo: '-1',
        detail: 'checkpoint 9 is past -1, the last changelog offset the committed input covers (a commit failed after the state was flushed)',
      });
      factory.putMeta('changelog-offset/s/0', { garbage: true });
      assert.deepEqual(needsRestore(factory, 's', 0, 25), {
        restore: true, wipe: true, reason: 'corrupt', from: 'earliest', upTo: '24', detail: 'checkpoint {"garbage":true} is not an offset',
      });
      // The wipe drops local data and the checkpoint.
      await restoreFromChangelog({ records: [], factory, store: 's', partition: 0, upTo: -1, wipe: true });
      assert.deepEqual(scan(factory.open('s')), []);
      assert.equal(factory.changelogCheckpoint('s', 0), undefined);
    } finally {
      await factory.close();
    }
  });

  test('LMDB: the checkpoint is committed with the state, and only at flush', async () => {
    const dir = tempDir();
    let factory = factoryFor('lmdb', dir);
    factory.open('s').put('a', 1);
    factory.drainChanges();
    factory.recordChangelogOffsets('s', 0, 4);
    await factory.flush();
    factory.open('s').put('b', 2);
    factory.recordChangelogOffsets('s', 0, 5);
    await factory.close(); // not flushed: neither 'b' nor offset 5
    factory = factoryFor('lmdb', dir);
    try {
      assert.deepEqual(scan(factory.open('s')), [['a', 1]]);
      assert.deepEqual(needsRestore(factory, 's', 0, 6), { restore: true, wipe: false, reason: 'behind', from: '5', upTo: '5', checkpoint: '4' });
    } finally {
      await factory.close();
    }
  });
});
