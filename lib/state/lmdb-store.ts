/**
 * LMDB state stores (lmdb-js): one LMDB environment per {@link LmdbStoreFactory}, one named
 * database per store, writes buffered in memory until the factory's `flush()` commits every
 * store (and the checkpoint metadata) in one transaction.
 *
 * Layout of the environment (named databases; `maxDbs` must cover 3 per store + 1):
 * - `tributary/data/<store>`: key → value (msgpack, lmdb-js `structuredClone` mode);
 * - `tributary/expiry/<store>`: `[expiresAt, ...key]` → null, the expiry index, so
 *   `expire(watermark)` is a range scan from the smallest `expiresAt`;
 * - `tributary/expires-at/<store>`: key → expiresAt, for entries that have one, so a rewrite or a
 *   delete can find and remove the old index entry;
 * - `tributary/meta`: the factory's {@link LmdbStoreFactory.putMeta} values.
 *
 * Durability: `flush()` runs one synchronous, abortable LMDB write transaction
 * (`transactionSync`), whose commit returns only after the data is written and, unless `noSync`
 * is set, fsync'ed. So once `flush()` has resolved, the flushed state and metadata survive a
 * `kill -9` of the process (always: the writes are in the OS page cache) and a machine crash or
 * power loss (with the default `noSync: false`). Writes after the last flush are lost as a whole;
 * a flush is all-or-nothing (if it throws, nothing was committed and the buffered writes stay
 * buffered). The price: the commit, including the fsync, blocks the event loop. Measured with
 * `benchmarks/store.bench.ts` (2-core VM): a checkpoint of 100 puts takes 1.5-5 ms (0.3-0.5 ms
 * with `noSync`); a dedupe-like checkpoint of 10k inserts + 10k expiries over 200k live keys
 * about 130 ms (most of it LMDB page writes; `noSync` saves ~10%). After a mass delete LMDB's
 * freelist grows and every later commit pays a few ms more for it (not fsync related).
 *
 * lmdb-js options, and why:
 * - `noSync` (default false): true skips fsync. Faster commits; a process crash still keeps
 *   flushed data, a machine crash may lose the last flushes. Only for scratch state.
 * - `overlappingSync` (lmdb-js default on Linux): kept. It only changes how lmdb-js's
 *   *asynchronous* batched commits sync; the synchronous commits used here fsync before returning.
 * - `commitDelay`, `eventTurnBatching`: not used; they batch lmdb-js's asynchronous `put`s, and
 *   this store batches in its own write buffer instead (which reads must see anyway).
 * - `cache`: off. The write buffer already holds recent writes; lmdb-js's object cache would
 *   return shared objects and disables child transactions. A random read of flushed data costs
 *   ~2 µs (200k entries, decode included).
 * - `useVersions`: off (no conditional writes).
 * - `structuredClone: true` (fixed): values round-trip like `structuredClone` (Set, Map, Date,
 *   typed arrays), so the memory and LMDB stores agree; without it a Set reads back as an array.
 *   `-0` in a value reads back as 0. Set on the root, it reaches every child database's encoder
 *   (checked by the contract tests), although lmdb-js documents only `encoding`/`compression` as
 *   inherited. Keep it fixed for an environment: data written in one mode is not guaranteed to
 *   decode the same way in the other.
 * - `maxDbs`: lmdb-js defaults to 12; this store needs 3 per store + 1, hence 256 by default.
 * - `noMemInit: true`: skips zeroing malloc'ed pages (lmdb-js recommends it unless the database
 *   file could be read by someone who must not see leftover bytes of this process's own data).
 *
 * @module
 */
import { mkdirSync } from 'node:fs';
import * as lmdb from 'lmdb';
import type { Database, Key, RootDatabase } from 'lmdb';
import {
  type BoundKey,
  type BTree,
  KEY_PART_MAX,
  type RangePlan,
  beyond,
  compareBoundKeys,
  expiryKey,
  firstPair,
  keyOfExpiry,
  newKeyTree,
  nextPair,
  ownKey,
  planRange,
  validateExpiresAt,
  validateKey,
  validateWatermark,
} from './key-order.js';
import type { Entry, KeyPart, KeyValueStore, PutOptions, RangeOptions, StoreFactory, StoreKey } from './store.js';

export interface LmdbStoreFactoryOptions {
  /** Directory of the LMDB environment (created if missing). */
  path: string;
  /** Named databases the environment can hold: 3 per store + 1 (default 256, about 85 stores). */
  maxDbs?: number;
  /** Initial map size in bytes (lmdb-js grows the map as needed). */
  mapSize?: number;
  /** Skip fsync on commit (see the module notes). Default false. */
  noSync?: boolean;
  /** Page size of a new environment (default: the OS page size). */
  pageSize?: number;
}

/** lmdb-js exports ordered-binary's encoder at run time but does not declare it. */
const keyValueToBuffer = (lmdb as unknown as { keyValueToBuffer?: (key: unknown) => Uint8Array }).keyValueToBuffer;
if (typeof keyValueToBuffer !== 'function') throw new Error('lmdb does not export keyValueToBuffer');

/** The msgpackr encoder lmdb-js attaches to each database. */
interface Codec {
  encoder: { encode(value: unknown): Uint8Array };
  decoder: { decode(bytes: Uint8Array): unknown };
}

const TOMBSTONE: unique symbol = Symbol('tributary.tombstone');

/** A buffered write: the encoded value (and its expiry), or a delete. */
type Pending = { bytes: Buffer; expiresAt: number | undefined } | typeof TOMBSTONE;

/**
 * Bytes of a bound that sorts after every key starting with `parts` and before every key after
 * them: the tuple encoding of `parts`, the part separator (0x00), then 0xFF (no key part encoding
 * starts with 0xFF: numbers start 0x08..0x17, strings 0x1B..0xF4).
 */
function prefixEndBytes(parts: readonly KeyPart[]): Buffer {
  // Encode [...parts, 0] so every part (including a trailing number) uses its in-tuple form,
  // then drop the 9 bytes of the final 0.
  const encoded = keyValueToBuffer!([...parts, 0]);
  const out = Buffer.alloc(encoded.length - 9 + 1);
  out.set(encoded.subarray(0, encoded.length - 9));
  out[out.length - 1] = 0xff;
  return out;
}

/** An lmdb-js bound for a validated bound key. */
function lmdbBound(key: BoundKey): Key {
  if (typeof key === 'object' && key[key.length - 1] === KEY_PART_MAX) {
    return prefixEndBytes(key.slice(0, -1) as KeyPart[]);
  }
  return key as Key;
}

/**
 * Creates the LMDB stores of one task, all in ONE LMDB environment at `path`, and commits them
 * together.
 *
 * @example
 * ```ts
 * const stores = new LmdbStoreFactory({ path: 'out/.state' });
 * const seen = stores.open<string, number>('dedupe.seen');
 * seen.put('k1', 1_700_000_000_000, { expiresAt: 1_700_000_060_000 });
 * stores.putMeta('checkpoint', { position: 10_000 });
 * await stores.flush(); // state + checkpoint, one transaction
 * await stores.close();
 * ```
 */
export class LmdbStoreFactory implements StoreFactory {
  readonly path: string;
  private readonly root: RootDatabase;
  private readonly metaDb: Database<unknown, Key>;
  private readonly metaPending = new Map<string, Pending>();
  private readonly stores = new Map<string, LmdbStore<StoreKey, unknown>>();
  private closed = false;

  constructor(options: LmdbStoreFactoryOptions) {
    this.path = options.path;
    mkdirSync(options.path, { recursive: true });
    const rootOptions = {
      path: options.path,
      maxDbs: options.maxDbs ?? 256,
      noSync: options.noSync ?? false,
      noMemInit: true,
      structuredClone: true,
      ...(options.mapSize === undefined ? {} : { mapSize: options.mapSize }),
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    };
    this.root = lmdb.open(rootOptions);
    this.metaDb = this.openDb('tributary/meta');
  }

  /** Opens (or returns the already open) store `name`. */
  open<K extends StoreKey, V>(name: string): KeyValueStore<K, V> {
    return this.openStore<K, V>(name);
  }

  /** {@link open} with the concrete type. */
  openStore<K extends StoreKey, V>(name: string): LmdbStore<K, V> {
    this.assertOpen();
    if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
      throw new TypeError(`invalid store name ${JSON.stringify(name)}: a non-empty string without NUL`);
    }
    let store = this.stores.get(name);
    if (store === undefined) {
      store = new LmdbStore(
        name,
        this.openDb(`tributary/data/${name}`),
        this.openDb(`tributary/expiry/${name}`),
        this.openDb(`tributary/expires-at/${name}`),
        {
          flush: () => this.flush(),
          closed: (s) => {
            if (this.stores.get(name) === s) this.stores.delete(name);
          },
        },
      );
      this.stores.set(name, store);
    }
    return store as unknown as LmdbStore<K, V>;
  }

  /**
   * Buffers a metadata value (e.g. the runner's checkpoint: input position, output offsets) that
   * the next {@link flush} commits in the same transaction as the state.
   */
  putMeta(key: string, value: unknown): void {
    this.assertOpen();
    this.metaPending.set(key, { bytes: encode(this.metaDb, value), expiresAt: undefined });
  }

  /** The metadata value for `key`, including one buffered since the last flush. */
  getMeta<T = unknown>(key: string): T | undefined {
    this.assertOpen();
    const pending = this.metaPending.get(key);
    if (pending !== undefined) return pending === TOMBSTONE ? undefined : (decode(this.metaDb, pending.bytes) as T);
    return this.metaDb.get(key) as T | undefined;
  }

  /** Removes a metadata value at the next flush. */
  deleteMeta(key: string): void {
    this.assertOpen();
    this.metaPending.set(key, TOMBSTONE);
  }

  /**
   * Commits every store's buffered writes and the buffered metadata in ONE LMDB transaction,
   * synchronously (see the module notes on durability), then empties the write buffers. If the
   * commit fails nothing is written and the buffers are kept.
   */
  async flush(): Promise<void> {
    this.assertOpen();
    const dirty = [...this.stores.values()].filter((s) => s.dirty);
    if (dirty.length === 0 && this.metaPending.size === 0) return;
    this.root.transactionSync(() => {
      for (const store of dirty) store.writePending();
      for (const [key, pending] of this.metaPending) {
        if (pending === TOMBSTONE) this.metaDb.removeSync(key);
        else this.metaDb.putSync(key, lmdb.asBinary(pending.bytes));
      }
    });
    for (const store of dirty) store.flushed();
    this.metaPending.clear();
  }

  /** Closes every store and the environment. Unflushed writes are discarded. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const store of [...this.stores.values()]) await store.close();
    this.closed = true;
    this.metaPending.clear();
    await this.root.close();
  }

  private openDb(name: string): Database<unknown, Key> {
    try {
      return this.root.openDB<unknown, Key>(name, {});
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes('MDB_DBS_FULL') || message.includes('maxDbs')) {
        throw new Error(
          `LMDB environment ${this.path}: cannot open database "${name}": too many named databases ` +
            `(each store uses 3; raise the maxDbs option of LmdbStoreFactory)`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`LMDB store factory at ${this.path} is closed`);
  }
}

function encode(db: Database<unknown, Key>, value: unknown): Buffer {
  // msgpackr returns a view of a buffer it reuses: copy.
  return Buffer.from((db as unknown as Codec).encoder.encode(value));
}

function decode(db: Database<unknown, Key>, bytes: Buffer): unknown {
  return (db as unknown as Codec).decoder.decode(bytes);
}

interface FactoryLink {
  flush(): Promise<void>;
  closed(store: LmdbStore<StoreKey, unknown>): void;
}

/**
 * One store of an {@link LmdbStoreFactory}. Writes go to an in-memory write buffer (a B+ tree of
 * key → encoded value or tombstone, ordered like LMDB) that `get`, `has`, `range`, `count` and
 * `expire` merge with the committed data; the factory's flush commits and empties it.
 *
 * Values are encoded at `put` (so encoding errors surface there) and decoded on every read,
 * buffered or committed: a read always returns a fresh copy.
 */
export class LmdbStore<K extends StoreKey = StoreKey, V = unknown> implements KeyValueStore<K, V> {
  readonly name: string;
  /** Buffered writes since the last flush. */
  private pending: BTree<BoundKey, Pending> = newKeyTree();
  /** `[expiresAt, ...key]` of buffered puts that have an expiry. */
  private pendingExpiries: BTree<BoundKey, true> = newKeyTree();
  /** `clear()` was called since the last flush: committed data is hidden and dropped at flush. */
  private cleared = false;
  /** Bumped by every flush and clear, so open iterators re-read committed data. */
  private generation = 0;
  /** Whether any entry may have an expiry (skips the expiry bookkeeping at flush otherwise). */
  private expiryInUse: boolean;
  /** Last committed expiry index key `expire` has handled since the last flush. */
  private expireScanned: readonly KeyPart[] | undefined;
  private closed = false;

  /** @internal Use {@link LmdbStoreFactory.open}. */
  constructor(
    name: string,
    private readonly data: Database<unknown, Key>,
    private readonly expiryIndex: Database<unknown, Key>,
    private readonly expiresAt: Database<unknown, Key>,
    private readonly factory: FactoryLink,
  ) {
    this.name = name;
    this.expiryInUse = (this.expiresAt.getStats() as { entryCount: number }).entryCount > 0;
  }

  /** @internal Whether there are buffered writes. */
  get dirty(): boolean {
    return this.cleared || this.pending.size > 0;
  }

  get(key: K): V | undefined {
    this.assertOpen();
    const k = validateKey(this.name, key);
    const p = this.pending.get(k);
    if (p !== undefined) return p === TOMBSTONE ? undefined : (decode(this.data, p.bytes) as V);
    if (this.cleared) return undefined;
    return this.data.get(k as Key) as V | undefined;
  }

  has(key: K): boolean {
    this.assertOpen();
    const k = validateKey(this.name, key);
    const p = this.pending.get(k);
    if (p !== undefined) return p !== TOMBSTONE;
    return !this.cleared && this.data.doesExist(k as Key);
  }

  put(key: K, value: V, options?: PutOptions): void {
    this.assertOpen();
    const k = ownKey(validateKey(this.name, key));
    const expiresAt = validateExpiresAt(this.name, options?.expiresAt);
    const bytes = encode(this.data, value);
    this.unindexPending(k);
    this.pending.set(k, { bytes, expiresAt });
    if (expiresAt !== undefined) {
      this.pendingExpiries.set(expiryKey(expiresAt, k), true);
      this.expiryInUse = true;
    }
  }

  delete(key: K): void {
    this.assertOpen();
    const k = ownKey(validateKey(this.name, key));
    this.unindexPending(k);
    this.pending.set(k, TOMBSTONE);
  }

  private unindexPending(k: StoreKey): void {
    if (this.pendingExpiries.size === 0) return; // nothing indexed: skip the lookup
    const previous = this.pending.get(k);
    if (previous !== undefined && previous !== TOMBSTONE && previous.expiresAt !== undefined) {
      this.pendingExpiries.delete(expiryKey(previous.expiresAt, k));
    }
  }

  /**
   * Entries in key order, buffered writes merged over committed data (a buffered write or delete
   * hides the committed entry). Writes made while iterating are safe: keys ahead of the cursor
   * are read as they are when reached; a flush in the middle re-opens the committed-data cursor
   * after the last key. An unfinished iterator holds an LMDB read transaction: finish it or
   * `break` (which closes it).
   */
  range(options?: RangeOptions<K>): IterableIterator<Entry<K, V>> {
    this.assertOpen();
    return this.iterate(planRange(this.name, options));
  }

  private *iterate(plan: RangePlan): IterableIterator<Entry<K, V>> {
    if (plan.empty) return;
    const direction = plan.reverse ? -1 : 1;
    let generation = this.generation;
    let cursor: BoundKey | undefined; // last key consumed (yielded or hidden)
    let committed = this.openCommitted(plan, undefined);
    let peeked = this.nextCommitted(plan, committed);
    let emitted = 0;
    try {
      while (emitted < plan.limit) {
        if (this.closed) return;
        if (generation !== this.generation) {
          // Flushed or cleared since the last step: the buffer was emptied into (or dropped with)
          // the committed data, so re-read committed data after the cursor.
          generation = this.generation;
          committed?.return?.();
          committed = this.openCommitted(plan, cursor);
          peeked = this.nextCommitted(plan, committed);
        }
        const buffered = cursor === undefined ? firstPair(this.pending, plan) : nextPair(this.pending, plan, cursor);
        if (buffered === undefined && peeked === undefined) return;
        const c =
          buffered === undefined ? 1 : peeked === undefined ? -1 : compareBoundKeys(buffered[0], peeked.key) * direction;
        if (c <= 0) {
          cursor = buffered![0];
          if (c === 0) peeked = this.nextCommitted(plan, committed);
          const p = buffered![1];
          if (p === TOMBSTONE) continue;
          emitted++;
          yield { key: cursor as K, value: decode(this.data, p.bytes) as V };
        } else {
          const entry = peeked!;
          cursor = entry.key;
          peeked = this.nextCommitted(plan, committed);
          emitted++;
          yield { key: entry.key as K, value: entry.value as V };
        }
      }
    } finally {
      committed?.return?.();
    }
  }

  private openCommitted(plan: RangePlan, after: BoundKey | undefined): Iterator<{ key: Key; value: unknown }> | undefined {
    if (this.cleared) return undefined;
    if (after !== undefined) {
      return this.data.getRange({ start: after as Key, exclusiveStart: true, reverse: plan.reverse })[Symbol.iterator]();
    }
    const options: lmdb.RangeOptions = { reverse: plan.reverse };
    if (plan.from !== undefined) options.start = lmdbBound(plan.from.key);
    return this.data.getRange(options)[Symbol.iterator]();
  }

  private nextCommitted(
    plan: RangePlan,
    it: Iterator<{ key: Key; value: unknown }> | undefined,
  ): { key: StoreKey; value: unknown } | undefined {
    if (it === undefined) return undefined;
    const r = it.next();
    if (r.done === true) return undefined;
    const key = r.value.key as StoreKey;
    if (beyond(plan, key)) {
      it.return?.();
      return undefined;
    }
    return { key, value: r.value.value };
  }

  /**
   * Deletes the entries whose `expiresAt` is at or before `watermark`: buffered ones from the
   * buffer's expiry index, committed ones by scanning the committed expiry index from its start
   * (and, between flushes, from where the previous call stopped). Returns how many.
   */
  expire(watermark: number): number {
    this.assertOpen();
    const w = validateWatermark(this.name, watermark);
    let removed = 0;
    const due: BoundKey[] = [];
    for (const [ek] of this.pendingExpiries.entries()) {
      if (((ek as readonly KeyPart[])[0] as number) > w) break;
      due.push(ek);
    }
    for (const ek of due) {
      this.pendingExpiries.delete(ek);
      this.pending.set(keyOfExpiry(ek as readonly KeyPart[]), TOMBSTONE);
      removed++;
    }
    if (this.cleared || !this.expiryInUse) return removed;
    const scan: lmdb.RangeOptions =
      this.expireScanned === undefined ? {} : { start: this.expireScanned as Key, exclusiveStart: true };
    for (const indexKey of this.expiryIndex.getKeys(scan)) {
      const ik = indexKey as readonly KeyPart[];
      if ((ik[0] as number) > w) break;
      this.expireScanned = ik;
      const key = keyOfExpiry(ik);
      // A buffered write or delete of the key decides (its own expiry was handled above).
      if (this.pending.has(key)) continue;
      this.pending.set(key, TOMBSTONE);
      removed++;
    }
    return removed;
  }

  /**
   * Exact count: committed entries (LMDB's O(1) entry count) adjusted for the buffered writes,
   * each checked against the committed data, so O(buffered writes).
   */
  count(): number {
    this.assertOpen();
    let n = this.cleared ? 0 : this.committedCount();
    for (const [k, p] of this.pending.entries()) {
      const committed = !this.cleared && this.data.doesExist(k as Key);
      if (p === TOMBSTONE) {
        if (committed) n--;
      } else if (!committed) n++;
    }
    return n;
  }

  private committedCount(): number {
    return (this.data.getStats() as { entryCount: number }).entryCount;
  }

  /** Flushes the whole factory (every store and the metadata, one transaction). */
  flush(): Promise<void> {
    this.assertOpen();
    return this.factory.flush();
  }

  clear(): void {
    this.assertOpen();
    this.pending = newKeyTree();
    this.pendingExpiries = newKeyTree();
    this.cleared = true;
    this.expireScanned = undefined;
    this.generation++;
  }

  /** Releases the store; its unflushed writes are discarded. The environment stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending = newKeyTree();
    this.pendingExpiries = newKeyTree();
    this.factory.closed(this as unknown as LmdbStore<StoreKey, unknown>);
  }

  /** @internal Writes the buffer into the factory's open write transaction. */
  writePending(): void {
    if (this.cleared) {
      this.data.clearSync();
      this.expiryIndex.clearSync();
      this.expiresAt.clearSync();
    }
    const trackExpiry = this.expiryInUse;
    for (const [key, p] of this.pending.entries()) {
      const k = key as Key;
      const next = p === TOMBSTONE ? undefined : p.expiresAt;
      if (trackExpiry) {
        const old = this.expiresAt.get(k) as number | undefined;
        if (old !== next) {
          if (old !== undefined) this.expiryIndex.removeSync(expiryKey(old, key as StoreKey) as Key);
          if (next !== undefined) {
            this.expiryIndex.putSync(expiryKey(next, key as StoreKey) as Key, null);
            this.expiresAt.putSync(k, next);
          } else {
            this.expiresAt.removeSync(k);
          }
        }
      }
      if (p === TOMBSTONE) this.data.removeSync(k);
      else this.data.putSync(k, lmdb.asBinary(p.bytes));
    }
  }

  /** @internal The factory committed {@link writePending}: empty the buffer. */
  flushed(): void {
    this.pending = newKeyTree();
    this.pendingExpiries = newKeyTree();
    this.cleared = false;
    this.expireScanned = undefined;
    this.generation++;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`store "${this.name}" is closed`);
  }
}
