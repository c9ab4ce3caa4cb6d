/**
 * The caching layer: decoded state objects in memory in front of an engine store (LMDB, or
 * LMDB behind change logging), in the role of Kafka Streams' caching store and Quix's
 * transaction cache.
 *
 * - **Reads** of a cached key cost one `Map` lookup and return the cached object itself: no
 *   decode, no copy. Values read from a store belong to the store: logic may mutate one only to
 *   `put` it back in the same step (operators declare `immutableState` when they never mutate).
 * - **Writes** replace the cached object and mark the key dirty. Nothing is encoded and the key is
 *   validated only when it first enters the cache. {@link CachingStoreFactory.writeDown} hands
 *   each dirty key to the engine once (a put with its `expiresAt`, or a delete), which encodes it;
 *   {@link CachingStoreFactory.flush} does that and commits the engine (one LMDB transaction with
 *   the runner's checkpoint record). Behind change logging the same write-down is the changelog
 *   batch: one record per changed key per commit.
 * - **Resident or read-through.** A store whose entries fit the factory's memory budget is loaded
 *   whole when opened and stays *resident*: a miss means absent, with no engine read, and
 *   `expire` and `count` are answered from memory. A store that does not fit (at open, or when it
 *   grows past the budget at a flush) is *read-through*: a miss reads the engine and caches the
 *   decoded entry; writes go through to the engine's own write buffer at once (so its `expire`,
 *   `count` and `range` stay exact), and clean entries are evicted least recently used first
 *   after each flush. The budget (`maxBytes`, default 256 MiB per task) is an estimate: entries ×
 *   (96 B + 3 × their msgpack size, sampled).
 * - **Expiry.** Cached entries with an `expiresAt` sit in a min-heap; `expire(w)` pops the due
 *   ones. In a resident store they become dirty deletes. At the flush the engine's own `expire`
 *   runs once for the highest watermark seen, so its indexes (and a changelog's tombstones) catch
 *   up in one pass per checkpoint instead of one per event.
 * - **Range scans** are served by the engine after the dirty keys were written down, with cached
 *   objects substituted for the engine's copies; while an iterator is open, writes go through to
 *   the engine too, so puts ahead of the cursor are seen and deletes ahead are hidden. Operators
 *   keep range scans off their per-event path (one value per key).
 *
 * @module
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CachingStore, ENTRY_OVERHEAD } from './caching-store.js';
import { isExpiryAware, type KeyValueStore, type StoreFactory, type StoreKey } from './store.js';

/** Default memory budget of one task's cache: 256 MiB. */
export const DEFAULT_CACHE_BYTES = 256 * 2 ** 20;

export interface CachingStoreFactoryOptions {
  /** Estimated bytes of decoded state this factory's stores may hold in memory (see the module notes). */
  maxBytes?: number;
}

export interface CachingOpenOptions {
  /** Copy values on `put` and `get` (for logic that mutates what it reads). Default false. */
  clone?: boolean;
}

/** What the caching factory needs of the factory below it. */
export interface EngineFactory extends StoreFactory {
  putMeta?(key: string, value: unknown): void;
  getMeta?<T = unknown>(key: string): T | undefined;
}

/**
 * Wraps the stores of one task in the caching layer (see the module notes). Checkpoint metadata
 * passes through to the wrapped factory.
 *
 * @example
 * ```ts
 * const engine = new LmdbStoreFactory({ path: 'out/.state' });
 * const stores = new CachingStoreFactory(engine, { maxBytes: 64 * 2 ** 20 });
 * const sessions = stores.open<string, object[]>('sessionize.sessions');
 * sessions.put('p1', [{ start: 0, end: 10 }]);
 * await stores.flush(); // written down once, one LMDB transaction
 * ```
 */
export class CachingStoreFactory implements StoreFactory {
  readonly maxBytes: number;
  private readonly stores = new Map<string, CachingStore<StoreKey, unknown>>();

  constructor(readonly inner: EngineFactory, options: CachingStoreFactoryOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_BYTES;
    if (!(this.maxBytes >= 0)) throw new RangeError(`cache size must be >= 0 bytes, got ${String(options.maxBytes)}`);
  }

  open<K extends StoreKey, V>(name: string, options: CachingOpenOptions = {}): KeyValueStore<K, V> {
    let store = this.stores.get(name);
    if (store === undefined) {
      const engine = this.inner.open<StoreKey, unknown>(name);
      if (!isExpiryAware(engine)) throw new TypeError(`store "${name}": the caching layer needs an engine that can tell expiries`);
      const budget = this.maxBytes - this.estimatedBytes();
      const entries = engine.count();
      const resident = entries * (ENTRY_OVERHEAD + 32) < budget;
      const opened: CachingStore<StoreKey, unknown> = new CachingStore(engine, resident, options.clone ?? false, () => {
        if (this.stores.get(name) === opened) this.stores.delete(name);
      });
      opened.factory = () => this;
      store = opened;
      this.stores.set(name, store);
    }
    return store as unknown as KeyValueStore<K, V>;
  }

  /** The open stores (for their metrics). */
  opened(): IterableIterator<CachingStore<StoreKey, unknown>> {
    return this.stores.values();
  }

  /** Estimated bytes held by every store. */
  estimatedBytes(): number {
    let n = 0;
    for (const s of this.stores.values()) n += s.estimatedBytes();
    return n;
  }

  /**
   * Hands every store's dirty keys to the wrapped stores without committing them (Kafka: before
   * the changelog batch is drained). Returns how many keys were written.
   */
  writeDown(): number {
    let n = 0;
    for (const s of this.stores.values()) n += s.writeDown();
    return n;
  }

  /**
   * Writes down, commits the wrapped factory, then keeps the memory budget. Writing down lets
   * the event loop run every 10 ms (requests to the operations endpoint are answered); the
   * caller should not change the stores until this resolves.
   */
  async flush(): Promise<void> {
    let deadline = performance.now() + 10;
    for (const s of this.stores.values()) {
      while (!s.writeDownUntil(deadline).done) {
        await yieldToLoop();
        deadline = performance.now() + 10;
      }
    }
    await this.inner.flush();
    this.keepBudget();
  }

  /** Over budget: the biggest stores become read-through and drop clean entries. */
  private keepBudget(): void {
    let total = this.estimatedBytes();
    if (total <= this.maxBytes) return;
    const bySize = [...this.stores.values()].sort((a, b) => b.estimatedBytes() - a.estimatedBytes());
    for (const s of bySize) {
      if (total <= this.maxBytes) break;
      const before = s.estimatedBytes();
      const others = total - before;
      s.shrinkTo(Math.max(0, this.maxBytes - others) / 2);
      total = others + s.estimatedBytes();
    }
  }

  putMeta(key: string, value: unknown): void {
    if (!this.inner.putMeta) throw new TypeError('the wrapped store factory keeps no checkpoint metadata');
    this.inner.putMeta(key, value);
  }

  getMeta<T = unknown>(key: string): T | undefined {
    if (!this.inner.getMeta) throw new TypeError('the wrapped store factory keeps no checkpoint metadata');
    return this.inner.getMeta<T>(key);
  }

  /** Closes every store and the wrapped factory; unflushed writes are discarded. */
  async close(): Promise<void> {
    for (const s of [...this.stores.values()]) await s.close();
    await this.inner.close();
  }
}
