/**
 * One contract, two stores: every test here runs against MemoryStore and LmdbStore (a fresh
 * LMDB environment in a temp dir, removed afterwards). Data-shaping tests also run in three
 * write modes: all writes buffered, all flushed, and flushed-then-buffered (so the LMDB store's
 * merge of its write buffer over committed data is exercised).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lmdb from 'lmdb';
import { CachingStoreFactory } from '../../lib/state/caching.js';
import { ChangeloggingStoreFactory } from '../../lib/state/changelog.js';
import {
  compareKeys,
  InvalidKeyError,
  LmdbStoreFactory,
  MemoryStoreFactory,
  type Entry,
  type KeyValueStore,
  type RangeOptions,
  type StoreKey,
} from '../../lib/state/index.js';

interface Factory {
  open<K extends StoreKey, V>(name: string): KeyValueStore<K, V>;
  flush(): Promise<void>;
  close(): Promise<void>;
  putMeta(key: string, value: unknown): void;
  getMeta<T = unknown>(key: string): T | undefined;
}

interface Harness {
  name: string;
  /** Reads return the stored object itself (the caching layer); other stores return copies. */
  sharesValues?: boolean;
  create(): { factory: Factory; cleanup(): Promise<void> };
}

/** An LMDB environment in a temp dir with `wrap` around its factory. */
function lmdbHarness(name: string, wrap: (f: LmdbStoreFactory) => Factory, sharesValues = false): Harness {
  return {
    name,
    sharesValues,
    create() {
      const dir = mkdtempSync(join(tmpdir(), 'tributary-store-contract-'));
      const factory = wrap(new LmdbStoreFactory({ path: dir }));
      return {
        factory,
        async cleanup() {
          await factory.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

const harnesses: Harness[] = [
  // The caching layer as the runners use it: resident (everything fits), read-through (a budget
  // of 0 bytes), and over change logging with a 4 KiB budget, so stores turn read-through mid-test.
  lmdbHarness('Caching(LmdbStore), resident', (f) => new CachingStoreFactory(f), true),
  lmdbHarness('Caching(LmdbStore), read-through', (f) => new CachingStoreFactory(f, { maxBytes: 0 }), true),
  lmdbHarness('Caching(Changelogging(LmdbStore)), 4 KiB', (f) => new CachingStoreFactory(new ChangeloggingStoreFactory(f), { maxBytes: 4096 }), true),
  {
    name: 'MemoryStore',
    create() {
      const factory = new MemoryStoreFactory();
      return { factory, cleanup: () => factory.close() };
    },
  },
  {
    name: 'LmdbStore',
    create() {
      const dir = mkdtempSync(join(tmpdir(), 'tributary-store-contract-'));
      const factory = new LmdbStoreFactory({ path: dir });
      return {
        factory,
        async cleanup() {
          await factory.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'Changelogging(MemoryStore)',
    create() {
      const factory = new ChangeloggingStoreFactory(new MemoryStoreFactory());
      return { factory, cleanup: () => factory.close() };
    },
  },
  {
    name: 'Changelogging(LmdbStore)',
    create() {
      const dir = mkdtempSync(join(tmpdir(), 'tributary-store-contract-'));
      const factory = new ChangeloggingStoreFactory(new LmdbStoreFactory({ path: dir }));
      return {
        factory,
        async cleanup() {
          await factory.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

type Mode = 'buffered' | 'flushed' | 'mixed';
const MODES: Mode[] = ['buffered', 'flushed', 'mixed'];

/** lmdb-js's own key encoder (exported at run time, not declared): the ordering oracle. */
const keyValueToBuffer = (lmdb as unknown as { keyValueToBuffer(key: unknown): Uint8Array }).keyValueToBuffer;
const lmdbOrder = (a: StoreKey, b: StoreKey): number =>
  Buffer.compare(Buffer.from(keyValueToBuffer(a)), Buffer.from(keyValueToBuffer(b)));

const keysOf = <K, V>(it: Iterable<Entry<K, V>>): K[] => [...it].map((e) => e.key);
const entriesOf = <K, V>(it: Iterable<Entry<K, V>>): [K, V][] => [...it].map((e) => [e.key, e.value]);

/** Keys of the domain in lmdb-js order (verified against lmdb's encoder below). */
const ORDERED: StoreKey[] = [
  -Infinity,
  -1e21,
  -5,
  -0.5,
  0,
  5e-324,
  1,
  [1, -1],
  [1, 2],
  [1, 'x'],
  1.5,
  2,
  10,
  1e21,
  Infinity,
  '',
  '\u0005',
  '\u001b',
  '1',
  '10',
  '2',
  'A',
  'Z',
  'a',
  ['a', -Infinity],
  ['a', 1],
  ['a', 1, 'z'],
  ['a', 2],
  ['a', Infinity],
  ['a', ''],
  ['a', 'b'],
  ['a', 'b', 0],
  'a\u0005',
  'aa',
  'ab',
  'b',
  'z',
  '~',
  '\u00e9',
  '\u4e00',
  '\uffff',
  '\u{1F600}',
];

/** Deterministic shuffle (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = xs.slice();
  const r = rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('key order (compareKeys) matches lmdb-js byte order', () => {
  test('the documented order is lmdb-js order and compareKeys order', () => {
    for (let i = 0; i + 1 < ORDERED.length; i++) {
      const a = ORDERED[i]!;
      const b = ORDERED[i + 1]!;
      assert.equal(lmdbOrder(a, b), -1, `lmdb: ${JSON.stringify(a)} < ${JSON.stringify(b)}`);
      assert.equal(compareKeys(a, b), -1, `compareKeys: ${JSON.stringify(a)} < ${JSON.stringify(b)}`);
      assert.equal(compareKeys(b, a), 1);
      assert.equal(compareKeys(a, a), 0);
    }
  });

  test('random keys: compareKeys agrees with lmdb-js on every pair', () => {
    const r = rng(7);
    const strings = ['', 'a', 'ab', 'b', 'p1', 'p10', 'p1\uffff', '\u00ff', '\u0100', '\uffff', '\u{1F600}', '\u{10FFFF}', '\u001c', '\u0005x', 'x'.repeat(70)];
    const numbers = [-Infinity, -1e300, -2, -1, -0.1, 0, 1e-300, 0.1, 1, 1.0000000000000002, 2, 2 ** 53, 1e300, Infinity];
    const part = (): string | number => (r() < 0.5 ? numbers[Math.floor(r() * numbers.length)]! : strings[Math.floor(r() * strings.length)]!);
    const keys: StoreKey[] = [];
    for (let i = 0; i < 400; i++) {
      const n = r() < 0.3 ? 1 : 2 + Math.floor(r() * 3);
      keys.push(n === 1 ? part() : Array.from({ length: n }, part));
    }
    let checked = 0;
    for (const a of keys) {
      for (const b of keys) {
        assert.equal(compareKeys(a, b), lmdbOrder(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
        checked++;
      }
    }
    assert.equal(checked, 160_000);
  });

  test('lmdb-js facts the stores rely on', () => {
    // A one-part string tuple is the same key as the string; a one-part number tuple is not.
    assert.equal(lmdbOrder(['a'], 'a'), 0);
    assert.equal(lmdbOrder([1], 1), 1);
    // -0 encodes after every number (and reads back as garbage): the stores store 0.
    assert.equal(lmdbOrder(-0, Infinity), 1);
    // lmdb's own JS compareKeys uses UTF-16 order: wrong for astral vs U+E000..U+FFFF.
    assert.equal(lmdb.compareKeys('\uffff', '\u{1F600}'), 1);
    assert.equal(compareKeys('\uffff', '\u{1F600}'), -1);
  });
});

for (const h of harnesses) {
  describe(`${h.name} contract`, () => {
    let factory: Factory;
    let cleanup: () => Promise<void>;
    let seq = 0;
    before(() => {
      ({ factory, cleanup } = h.create());
    });
    after(() => cleanup());
    const fresh = <K extends StoreKey, V>(label: string): KeyValueStore<K, V> => factory.open<K, V>(`${label}-${++seq}`);

    /** Writes `ops` (functions) with the given mode: buffered, flushed, or half and half. */
    async function write(mode: Mode, ops: (() => void)[]): Promise<void> {
      const half = mode === 'mixed' ? Math.ceil(ops.length / 2) : mode === 'flushed' ? ops.length : 0;
      ops.slice(0, half).forEach((op) => op());
      if (half > 0) await factory.flush();
      ops.slice(half).forEach((op) => op());
    }

    test('get / put / has / delete, overwrite, missing keys', async () => {
      const s = fresh<string | [string, number], { n: number }>('basic');
      assert.equal(s.get('a'), undefined);
      assert.equal(s.has('a'), false);
      s.put('a', { n: 1 });
      s.put(['a', 1], { n: 2 });
      assert.deepEqual(s.get('a'), { n: 1 });
      assert.deepEqual(s.get(['a', 1]), { n: 2 });
      assert.equal(s.has('a'), true);
      s.put('a', { n: 3 });
      assert.deepEqual(s.get('a'), { n: 3 });
      await s.flush();
      assert.deepEqual(s.get('a'), { n: 3 });
      s.put('a', { n: 4 });
      assert.deepEqual(s.get('a'), { n: 4 });
      s.delete('a');
      s.delete('never-written');
      assert.equal(s.get('a'), undefined);
      assert.equal(s.has('a'), false);
      assert.deepEqual(s.get(['a', 1]), { n: 2 });
      await s.flush();
      assert.equal(s.get('a'), undefined);
      assert.equal(s.has('a'), false);
      assert.equal(s.count(), 1);
    });

    for (const mode of MODES) {
      test(`[${mode}] range returns every key in lmdb order (numbers, strings, tuples mixed)`, async () => {
        const s = fresh<StoreKey, number>('order');
        await write(
          mode,
          shuffled(ORDERED, 1).map((k) => () => s.put(k, ORDERED.indexOf(k))),
        );
        assert.deepEqual(keysOf(s.range()), ORDERED);
        assert.deepEqual(
          [...s.range()].map((e) => e.value),
          ORDERED.map((_, i) => i),
        );
        assert.deepEqual(keysOf(s.range({ reverse: true })), ORDERED.slice().reverse());
        assert.equal(s.count(), ORDERED.length);
      });
    }

    const TUPLES: [string, number | string][] = [
      ['p0', 9],
      ['p1', -1],
      ['p1', 5],
      ['p1', 7],
      ['p1', 'x'],
      ['p10', 1],
      ['p1\uffff', 1],
      ['p2', 0],
    ];
    const RANGES: { title: string; options: RangeOptions<StoreKey>; expected: StoreKey[] }[] = [
      { title: 'no bounds', options: {}, expected: [['p0', 9], 'p1', ['p1', -1], ['p1', 5], ['p1', 7], ['p1', 'x'], ['p10', 1], ['p1\uffff', 1], ['p2', 0]] },
      { title: 'start inclusive', options: { start: ['p1', 5] }, expected: [['p1', 5], ['p1', 7], ['p1', 'x'], ['p10', 1], ['p1\uffff', 1], ['p2', 0]] },
      { title: 'end exclusive', options: { end: ['p1', 7] }, expected: [['p0', 9], 'p1', ['p1', -1], ['p1', 5]] },
      { title: 'start and end', options: { start: ['p1', 5], end: ['p1', 'x'] }, expected: [['p1', 5], ['p1', 7]] },
      { title: 'start == end is empty', options: { start: ['p1', 5], end: ['p1', 5] }, expected: [] },
      { title: 'start > end is empty', options: { start: ['p2'], end: ['p1'] }, expected: [] },
      { title: "['p1']..['p2'] is a string prefix of part 0 (includes p10, p1\\uffff)", options: { start: ['p1'], end: ['p2'] }, expected: ['p1', ['p1', -1], ['p1', 5], ['p1', 7], ['p1', 'x'], ['p10', 1], ['p1\uffff', 1]] },
      { title: "['p1']..['p1', Infinity]: numeric second parts only", options: { start: ['p1'], end: ['p1', Infinity] }, expected: ['p1', ['p1', -1], ['p1', 5], ['p1', 7]] },
      { title: "['p1']..['p1\\uffff'] includes p10", options: { start: ['p1'], end: ['p1\uffff'] }, expected: ['p1', ['p1', -1], ['p1', 5], ['p1', 7], ['p1', 'x'], ['p10', 1]] },
      { title: "['p1', ...] exclusive of 'p1': start ['p1', -Infinity]", options: { start: ['p1', -Infinity], end: ['p1', Infinity] }, expected: [['p1', -1], ['p1', 5], ['p1', 7]] },
      { title: "prefix ['p1']: exactly the p1 tuples and the scalar 'p1'", options: { prefix: ['p1'] }, expected: ['p1', ['p1', -1], ['p1', 5], ['p1', 7], ['p1', 'x']] },
      { title: "prefix 'p1' (scalar) is the same", options: { prefix: 'p1' }, expected: ['p1', ['p1', -1], ['p1', 5], ['p1', 7], ['p1', 'x']] },
      { title: 'prefix reversed', options: { prefix: ['p1'], reverse: true }, expected: [['p1', 'x'], ['p1', 7], ['p1', 5], ['p1', -1], 'p1'] },
      { title: 'prefix with start', options: { prefix: ['p1'], start: ['p1', 6] }, expected: [['p1', 7], ['p1', 'x']] },
      { title: 'prefix with end', options: { prefix: ['p1'], end: ['p1', 7] }, expected: ['p1', ['p1', -1], ['p1', 5]] },
      { title: 'prefix reversed with end (exclusive lower)', options: { prefix: ['p1'], reverse: true, end: ['p1', 5] }, expected: [['p1', 'x'], ['p1', 7]] },
      { title: 'prefix reversed with start (inclusive upper)', options: { prefix: ['p1'], reverse: true, start: ['p1', 7] }, expected: [['p1', 7], ['p1', 5], ['p1', -1], 'p1'] },
      { title: 'prefix with no keys', options: { prefix: ['p3'] }, expected: [] },
      { title: 'two-part prefix', options: { prefix: ['p1', 5] }, expected: [['p1', 5]] },
      { title: 'reverse: start is the inclusive upper bound', options: { reverse: true, start: ['p1', 7] }, expected: [['p1', 7], ['p1', 5], ['p1', -1], 'p1', ['p0', 9]] },
      { title: 'reverse: end is the exclusive lower bound', options: { reverse: true, start: ['p1', 'x'], end: ['p1', 5] }, expected: [['p1', 'x'], ['p1', 7]] },
      { title: 'limit', options: { limit: 3 }, expected: [['p0', 9], 'p1', ['p1', -1]] },
      { title: 'limit with reverse and bounds', options: { reverse: true, start: ['p1', 'x'], limit: 2 }, expected: [['p1', 'x'], ['p1', 7]] },
      { title: 'limit 0', options: { limit: 0 }, expected: [] },
      { title: 'limit with prefix', options: { prefix: ['p1'], limit: 2 }, expected: ['p1', ['p1', -1]] },
    ];

    for (const mode of MODES) {
      test(`[${mode}] range bounds, reverse, limit, prefix`, async () => {
        const s = fresh<StoreKey, string>('bounds');
        await write(
          mode,
          shuffled<StoreKey>(['p1', ...TUPLES], 2).map((k) => () => s.put(k, JSON.stringify(k))),
        );
        for (const { title, options, expected } of RANGES) {
          assert.deepEqual(keysOf(s.range(options)), expected, title);
          assert.deepEqual(
            [...s.range(options)].map((e) => e.value),
            expected.map((k) => JSON.stringify(k)),
            `${title} (values)`,
          );
        }
      });
    }

    test('numeric prefixes: [1] covers 1 and [1, ...] but not 1.5', async () => {
      const s = fresh<StoreKey, number>('numprefix');
      const keys: StoreKey[] = [0, 1, [1, 0], [1, 'a'], [1, 'a', 2], 1.5, [2, 0]];
      for (const k of keys) s.put(k, 0);
      assert.deepEqual(keysOf(s.range({ prefix: [1] })), [1, [1, 0], [1, 'a'], [1, 'a', 2]]);
      assert.deepEqual(keysOf(s.range({ prefix: [1], reverse: true })), [[1, 'a', 2], [1, 'a'], [1, 0], 1]);
      assert.deepEqual(keysOf(s.range({ start: [1], end: [1, Infinity] })), [1, [1, 0]]);
      await s.flush();
      assert.deepEqual(keysOf(s.range({ prefix: [1] })), [1, [1, 0], [1, 'a'], [1, 'a', 2]]);
      assert.deepEqual(keysOf(s.range({ prefix: [1], reverse: true })), [[1, 'a', 2], [1, 'a'], [1, 0], 1]);
      assert.deepEqual(keysOf(s.range({ start: [1], end: [1, Infinity] })), [1, [1, 0]]);
      assert.deepEqual(keysOf(s.range({ start: [1, 'a'], reverse: true, end: 0 })), [[1, 'a'], [1, 0], 1]);
    });

    test('reads see unflushed writes and deletes; tombstones hide flushed values', async () => {
      const s = fresh<[string, number], string>('overlay');
      s.put(['k', 1], 'one');
      s.put(['k', 2], 'two');
      s.put(['k', 3], 'three');
      await s.flush();
      s.delete(['k', 2]);
      s.put(['k', 3], 'THREE');
      s.put(['k', 4], 'four');
      s.put(['k', 0], 'zero');
      const check = () => {
        assert.equal(s.get(['k', 2]), undefined);
        assert.equal(s.has(['k', 2]), false);
        assert.equal(s.get(['k', 3]), 'THREE');
        assert.equal(s.has(['k', 4]), true);
        assert.deepEqual(entriesOf(s.range()), [
          [['k', 0], 'zero'],
          [['k', 1], 'one'],
          [['k', 3], 'THREE'],
          [['k', 4], 'four'],
        ]);
        assert.deepEqual(keysOf(s.range({ reverse: true, limit: 3 })), [['k', 4], ['k', 3], ['k', 1]]);
        assert.deepEqual(keysOf(s.range({ start: ['k', 2], limit: 1 })), [['k', 3]]);
        assert.equal(s.count(), 4);
      };
      check();
      await s.flush();
      check();
      // Delete then re-put before a flush; delete of a buffered-only key.
      s.delete(['k', 1]);
      s.put(['k', 1], 'uno');
      s.put(['k', 9], 'nine');
      s.delete(['k', 9]);
      assert.deepEqual(entriesOf(s.range({ start: ['k', 1], end: ['k', 2] })), [[['k', 1], 'uno']]);
      assert.equal(s.get(['k', 9]), undefined);
      assert.equal(s.count(), 4);
      await s.flush();
      assert.equal(s.get(['k', 1]), 'uno');
      assert.equal(s.count(), 4);
    });

    for (const mode of MODES) {
      test(`[${mode}] expire removes exactly the entries with expiresAt <= watermark`, async () => {
        const s = fresh<string, number>('expire');
        await write(mode, [
          () => s.put('a', 1, { expiresAt: 10 }),
          () => s.put('b', 2, { expiresAt: 20 }),
          () => s.put('c', 3, { expiresAt: 20 }),
          () => s.put('d', 4, { expiresAt: 30 }),
          () => s.put('e', 5),
          () => s.put('f', 6, { expiresAt: 5 }),
          () => s.put('g', 7, { expiresAt: 40 }),
          () => s.put('h', 8, { expiresAt: 15 }),
        ]);
        s.put('f', 66); // rewritten without expiresAt: no longer expires
        s.put('g', 77, { expiresAt: 12 }); // rewritten with an earlier expiry
        s.put('b', 22, { expiresAt: 35 }); // rewritten with a later expiry
        s.delete('h'); // deleted: nothing to expire
        assert.equal(s.expire(9), 0);
        assert.equal(s.expire(10), 1); // a
        assert.deepEqual(keysOf(s.range()), ['b', 'c', 'd', 'e', 'f', 'g']);
        assert.equal(s.expire(20), 2); // c, g
        assert.equal(s.expire(20), 0);
        assert.deepEqual(keysOf(s.range()), ['b', 'd', 'e', 'f']);
        await s.flush();
        assert.equal(s.expire(20), 0);
        assert.deepEqual(keysOf(s.range()), ['b', 'd', 'e', 'f']);
        assert.equal(s.expire(35), 2); // d, b
        assert.equal(s.expire(1e15), 0);
        assert.deepEqual(entriesOf(s.range()), [
          ['e', 5],
          ['f', 66],
        ]);
        assert.equal(s.count(), 2);
        await s.flush();
        assert.equal(s.count(), 2);
        assert.equal(s.expire(Infinity), 0);
      });
    }

    test('expire with tuple keys, then rewrite of an expired key', async () => {
      const s = fresh<[string, number], string>('expire-tuples');
      s.put(['p1', 0], 'w0', { expiresAt: 100 });
      s.put(['p1', 60], 'w1', { expiresAt: 160 });
      s.put(['p2', 0], 'w2', { expiresAt: 100 });
      await s.flush();
      assert.equal(s.expire(100), 2);
      s.put(['p1', 0], 'again', { expiresAt: 500 });
      assert.deepEqual(entriesOf(s.range()), [
        [['p1', 0], 'again'],
        [['p1', 60], 'w1'],
      ]);
      await s.flush();
      assert.equal(s.expire(200), 1);
      assert.deepEqual(entriesOf(s.range()), [[['p1', 0], 'again']]);
      assert.equal(s.expire(499), 0);
      await s.flush();
      assert.equal(s.expire(500), 1);
      assert.equal(s.count(), 0);
    });

    for (const mode of MODES) {
      test(`[${mode}] count is exact`, async () => {
        const s = fresh<number, string>('count');
        await write(
          mode,
          Array.from({ length: 10 }, (_, i) => () => s.put(i, `v${i}`)),
        );
        assert.equal(s.count(), 10);
        s.put(3, 'again');
        s.delete(4);
        s.delete(4);
        s.delete(100);
        s.put(10, 'new');
        assert.equal(s.count(), 10);
        await s.flush();
        assert.equal(s.count(), 10);
      });
    }

    for (const mode of MODES) {
      test(`[${mode}] clear drops every entry; later writes are kept`, async () => {
        const s = fresh<string, number>('clear');
        const other = fresh<string, number>('clear-other');
        other.put('x', 1);
        await write(mode, [() => s.put('a', 1, { expiresAt: 5 }), () => s.put('b', 2), () => s.put('c', 3)]);
        s.clear();
        assert.equal(s.count(), 0);
        assert.equal(s.get('b'), undefined);
        assert.equal(s.has('c'), false);
        assert.deepEqual(keysOf(s.range()), []);
        assert.equal(s.expire(100), 0);
        s.put('z', 26);
        s.put('b', 20);
        assert.deepEqual(entriesOf(s.range()), [
          ['b', 20],
          ['z', 26],
        ]);
        await s.flush();
        assert.deepEqual(entriesOf(s.range()), [
          ['b', 20],
          ['z', 26],
        ]);
        assert.equal(s.count(), 2);
        assert.equal(s.expire(100), 0);
        assert.equal(other.get('x'), 1);
      });
    }

    const INVALID: [label: string, key: unknown, message: RegExp][] = [
      ['NaN', NaN, /NaN/],
      ['undefined', undefined, /undefined/],
      ['null', null, /null/],
      ['an object', { id: 1 }, /object/],
      ['a boolean', true, /true/],
      ['a bigint', 1n, /1n/],
      ['the empty tuple', [], /empty tuple/],
      ['a one-part tuple', ['p1'], /one-part tuple/],
      ['a nested tuple', ['a', ['b']], /nested array/],
      ['a tuple holding NaN', ['p1', NaN], /part 1 is NaN/],
      ['a tuple holding undefined', ['p1', undefined], /part 1 is undefined/],
      ['a tuple holding null', [null, 1], /part 0 is null/],
      ['a NUL character', 'a\u0000b', /U\+0000/],
      ['a lone surrogate', 'a\ud800', /lone surrogate/],
      ['an oversized key', 'k'.repeat(1969), /encoded key is 1969 bytes; the maximum is 1968/],
      ['an oversized tuple', ['k'.repeat(1000), 'é'.repeat(500)], /encoded key is 2001 bytes/],
    ];

    test('invalid keys are rejected with a message naming the store and the key', () => {
      const name = `invalid-${++seq}`;
      const s = factory.open<StoreKey, number>(name);
      for (const [label, key, message] of INVALID) {
        for (const [op, call] of [
          ['put', () => s.put(key as StoreKey, 1)],
          ['get', () => s.get(key as StoreKey)],
          ['has', () => s.has(key as StoreKey)],
          ['delete', () => s.delete(key as StoreKey)],
        ] as const) {
          assert.throws(call, (error: unknown) => {
            assert.ok(error instanceof InvalidKeyError, `${label} ${op}: ${String(error)}`);
            assert.match(error.message, new RegExp(`^store "${name}": invalid key `), `${label} ${op}`);
            assert.match(error.message, message, `${label} ${op}`);
            assert.equal(error.store, name);
            return true;
          });
        }
      }
      assert.throws(() => s.range({ start: NaN }), new RegExp(`store "${name}": invalid key NaN`));
      assert.throws(() => s.range({ end: [] }), /empty tuple/);
      assert.throws(() => s.range({ prefix: ['a', null as unknown as string] }), /part 1 is null/);
      assert.throws(() => s.range({ limit: -1 }), /limit must be a non-negative integer/);
      assert.throws(() => s.put('k', 1, { expiresAt: NaN }), /expiresAt must be a finite number/);
      assert.throws(() => s.expire(NaN), /watermark must be a number/);
      // The largest accepted key, and one-part tuples as bounds (they mean the part).
      s.put('k'.repeat(1968), 1, { expiresAt: 1 });
      assert.equal(s.get('k'.repeat(1968)), 1);
      assert.deepEqual(keysOf(s.range({ start: ['k'], end: ['l'] })), ['k'.repeat(1968)]);
      assert.equal(s.count(), 1);
    });

    test('-0 is stored as 0; Infinity keys round-trip', async () => {
      const s = fresh<StoreKey, string>('zero');
      s.put(-0, 'neg zero');
      s.put(['z', -0], 'tuple');
      s.put(-Infinity, 'lo');
      s.put(['z', Infinity], 'hi');
      assert.equal(s.get(0), 'neg zero');
      assert.equal(s.get(['z', 0]), 'tuple');
      await s.flush();
      const keys = keysOf(s.range());
      assert.deepEqual(keys, [-Infinity, 0, ['z', 0], ['z', Infinity]]);
      assert.ok(Object.is(keys[1], 0));
      assert.ok(Object.is((keys[2] as [string, number])[1], 0));
    });

    if (h.sharesValues) {
      test('values are shared: a read returns the object put, until it is written down and read back', async () => {
        const s = fresh<string, { n: number[] }>('shared');
        const value = { n: [1] };
        s.put('k', value);
        assert.equal(s.get('k'), value);
        value.n.push(2); // mutated and put back, as logic that owns a value does
        s.put('k', value);
        await factory.flush();
        assert.deepEqual(s.get('k'), { n: [1, 2] });
      });
    } else {
    test('stored values are copies: mutating after put changes nothing', async () => {
      const s = fresh<[string, number], { tags: string[]; at: Date; seen: Set<number>; m: Map<string, number> }>('values');
      const value = { tags: ['a'], at: new Date(1000), seen: new Set([1, 2]), m: new Map([['x', 1]]) };
      s.put(['v', 1], value);
      value.tags.push('mutated');
      value.seen.add(3);
      const expected = { tags: ['a'], at: new Date(1000), seen: new Set([1, 2]), m: new Map([['x', 1]]) };
      assert.deepEqual(s.get(['v', 1]), expected);
      await s.flush();
      assert.deepEqual(s.get(['v', 1]), expected);
      assert.deepEqual(entriesOf(s.range()), [[['v', 1], expected]]);
      const key: [string, number] = ['v', 2];
      s.put(key, expected);
      key[1] = 3; // mutating the caller's key array after put does not move the entry
      assert.deepEqual(keysOf(s.range()), [
        ['v', 1],
        ['v', 2],
      ]);
    });
    }

    test('writes while iterating: deletes behind and puts ahead of the cursor', async () => {
      const s = fresh<number, string>('iterate-mutate');
      for (let i = 0; i < 10; i++) s.put(i, `v${i}`);
      await s.flush();
      for (let i = 10; i < 20; i++) s.put(i, `v${i}`);
      const seen: number[] = [];
      for (const { key } of s.range()) {
        seen.push(key);
        s.delete(key);
        if (key === 5) s.put(25, 'ahead');
        if (key === 6) s.delete(7); // ahead: never yielded
      }
      assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 25]);
      assert.equal(s.count(), 0);
    });

    test('a flush in the middle of an iteration', async () => {
      const s = fresh<number, number>('iterate-flush');
      for (let i = 0; i < 10; i += 2) s.put(i, i);
      await s.flush();
      for (let i = 1; i < 10; i += 2) s.put(i, i);
      const seen: number[] = [];
      for (const { key, value } of s.range()) {
        seen.push(value);
        if (key === 3) {
          s.put(11, 11);
          s.delete(8);
          await factory.flush();
        }
      }
      assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 9, 11]);
      const back: number[] = [];
      for (const { key } of s.range({ reverse: true })) {
        back.push(key);
        if (key === 6) {
          s.put(-1, -1);
          await factory.flush();
        }
      }
      assert.deepEqual(back, [11, 9, 7, 6, 5, 4, 3, 2, 1, 0, -1]);
    });

    test('stores are independent; open returns the same store for a name', async () => {
      const a = fresh<string, number>('indep');
      const name = `indep-b-${++seq}`;
      const b = factory.open<string, number>(name);
      a.put('k', 1);
      b.put('k', 2);
      await factory.flush();
      assert.equal(a.get('k'), 1);
      assert.equal(b.get('k'), 2);
      assert.equal(factory.open<string, number>(name), b);
    });

    test('checkpoint metadata: buffered reads, flushed with the state', async () => {
      assert.equal(factory.getMeta('checkpoint'), undefined);
      const position = { position: 42, outputs: { events: 1024 } };
      factory.putMeta('checkpoint', position);
      position.position = 0;
      assert.deepEqual(factory.getMeta('checkpoint'), { position: 42, outputs: { events: 1024 } });
      await factory.flush();
      assert.deepEqual(factory.getMeta('checkpoint'), { position: 42, outputs: { events: 1024 } });
    });

    test('differential: a random workload gives the same answers as a sorted Map model', async () => {
      const s = fresh<StoreKey, number>('random');
      const model = new Map<string, { key: StoreKey; value: number; expiresAt: number | undefined }>();
      const r = rng(99);
      const pick = (): StoreKey => {
        const p = Math.floor(r() * 6);
        const q = Math.floor(r() * 8);
        return r() < 0.2 ? `s${p}` : r() < 0.5 ? [`s${p}`, q] : [p, `t${q}`];
      };
      const modelRange = (o: { start?: StoreKey; end?: StoreKey; reverse?: boolean; prefix?: StoreKey }) => {
        let keys = [...model.values()].map((e) => e.key).sort(compareKeys);
        if (o.reverse) keys = keys.reverse();
        return keys.filter((k) => {
          const cs = o.start === undefined ? 0 : compareKeys(k, o.start);
          const ce = o.end === undefined ? 0 : compareKeys(k, o.end);
          const inStart = o.start === undefined || (o.reverse ? cs <= 0 : cs >= 0);
          const inEnd = o.end === undefined || (o.reverse ? ce > 0 : ce < 0);
          const parts = typeof k === 'object' ? k : [k];
          const pre = o.prefix === undefined ? [] : typeof o.prefix === 'object' ? o.prefix : [o.prefix];
          const inPrefix = pre.every((p, i) => parts[i] === p);
          return inStart && inEnd && inPrefix;
        });
      };
      let watermark = 0;
      for (let step = 0; step < 3000; step++) {
        const op = r();
        const key = pick();
        const id = JSON.stringify(key);
        if (op < 0.45) {
          const expiresAt = r() < 0.5 ? watermark + Math.floor(r() * 50) : undefined;
          s.put(key, step, expiresAt === undefined ? undefined : { expiresAt });
          model.set(id, { key, value: step, expiresAt });
        } else if (op < 0.6) {
          s.delete(key);
          model.delete(id);
        } else if (op < 0.7) {
          watermark += Math.floor(r() * 10);
          let expected = 0;
          for (const [k, e] of model) {
            if (e.expiresAt !== undefined && e.expiresAt <= watermark) {
              model.delete(k);
              expected++;
            }
          }
          assert.equal(s.expire(watermark), expected, `step ${step}: expire(${watermark})`);
        } else if (op < 0.75) {
          await factory.flush();
        } else {
          assert.deepEqual(s.get(key), model.get(id)?.value, `step ${step}: get ${id}`);
          const bounds = { start: pick(), end: pick(), reverse: r() < 0.5 };
          assert.deepEqual(keysOf(s.range(bounds)), modelRange(bounds), `step ${step}: range ${JSON.stringify(bounds)}`);
          const prefix = r() < 0.5 ? `s${Math.floor(r() * 6)}` : Math.floor(r() * 6);
          const pr = { prefix, reverse: r() < 0.5 };
          assert.deepEqual(keysOf(s.range(pr)), modelRange(pr), `step ${step}: range ${JSON.stringify(pr)}`);
          assert.equal(s.count(), model.size, `step ${step}: count`);
        }
      }
    });

    test('closed stores refuse work', async () => {
      const s = fresh<string, number>('closing');
      s.put('a', 1);
      await s.close();
      assert.throws(() => s.get('a'), /store "closing-\d+" is closed/);
      assert.throws(() => s.put('a', 1), /is closed/);
    });
  });
}
