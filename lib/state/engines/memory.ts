/**
 * In-memory state store: a B+ tree ordered by {@link compareKeys}, so it iterates exactly like the
 * LMDB store. Nothing is durable; `flush()` resolves at once.
 *
 * @module
 */
import { type BoundKey, type BTree, expiryKey, keyOfExpiry, ownKey, validateExpiresAt, validateKey, validateWatermark } from '../key-order.js';
import { type RangePlan, firstPair, newKeyTree, nextPair, planRange } from '../range-plan.js';
import type { Entry, KeyPart, KeyValueStore, PutOptions, RangeOptions, StoreFactory, StoreKey } from '../store.js';

export interface MemoryStoreOptions {
  /**
   * Store a `structuredClone` of every value written (default `true`), so that mutating an object
   * after `put` does not change the stored state, as with LMDB, which stores an encoded copy.
   * Costs one clone per put (about 1 µs for a small object, more for big ones). Pass `false` on
   * hot paths whose callers never mutate a value after putting it.
   *
   * Reads return the stored object itself (no clone): treat values from `get`/`range` as
   * read-only unless you `put` them back. (LMDB returns a fresh decoded copy on every read.)
   */
  clone?: boolean;
}

interface Slot<V> {
  value: V;
  expiresAt: number | undefined;
}

/**
 * A {@link KeyValueStore} in memory.
 *
 * @example
 * ```ts
 * const store = new MemoryStore<[string, number], { count: number }>('windows');
 * store.put(['p1', 0], { count: 1 }, { expiresAt: 86_400_000 });
 * [...store.range({ prefix: ['p1'] })]; // [{ key: ['p1', 0], value: { count: 1 } }]
 * store.expire(86_400_000); // 1
 * ```
 */
export class MemoryStore<K extends StoreKey = StoreKey, V = unknown> implements KeyValueStore<K, V> {
  readonly name: string;
  private readonly clone: boolean;
  private readonly tree: BTree<BoundKey, Slot<V>> = newKeyTree();
  /** `[expiresAt, ...key]` of every entry written with `expiresAt`. */
  private readonly expiries: BTree<BoundKey, true> = newKeyTree();
  private closed = false;

  /** @param onClose called once when the store is closed (used by {@link MemoryStoreFactory}). */
  constructor(name = 'memory', options: MemoryStoreOptions = {}, private readonly onClose?: () => void) {
    this.name = name;
    this.clone = options.clone ?? true;
  }

  get(key: K): V | undefined {
    this.assertOpen();
    return this.tree.get(validateKey(this.name, key))?.value;
  }

  has(key: K): boolean {
    this.assertOpen();
    return this.tree.has(validateKey(this.name, key));
  }

  put(key: K, value: V, options?: PutOptions): void {
    this.assertOpen();
    const k = ownKey(validateKey(this.name, key));
    const expiresAt = validateExpiresAt(this.name, options?.expiresAt);
    const stored = this.clone ? structuredClone(value) : value;
    if (this.expiries.size > 0) {
      // Only an entry with an expiry has an index entry to remove (skip the lookup otherwise).
      const previous = this.tree.get(k);
      if (previous?.expiresAt !== undefined) this.expiries.delete(expiryKey(previous.expiresAt, k));
    }
    this.tree.set(k, { value: stored, expiresAt });
    if (expiresAt !== undefined) this.expiries.set(expiryKey(expiresAt, k), true);
  }

  expiresAtOf(key: K): number | undefined {
    this.assertOpen();
    return this.tree.get(validateKey(this.name, key))?.expiresAt;
  }

  delete(key: K): void {
    this.assertOpen();
    const k = validateKey(this.name, key);
    if (this.expiries.size > 0) {
      const previous = this.tree.get(k);
      if (previous?.expiresAt !== undefined) this.expiries.delete(expiryKey(previous.expiresAt, k));
    }
    this.tree.delete(k);
  }

  range(options?: RangeOptions<K>): IterableIterator<Entry<K, V>> {
    this.assertOpen();
    // Validate now, so bad bounds throw at the call rather than at the first next().
    return this.iterate(planRange(this.name, options));
  }

  private *iterate(plan: RangePlan): IterableIterator<Entry<K, V>> {
    if (plan.empty) return;
    let emitted = 0;
    let pair = firstPair(this.tree, plan);
    while (pair !== undefined && emitted < plan.limit) {
      emitted++;
      const key = pair[0];
      yield { key: key as K, value: pair[1].value };
      if (this.closed) return;
      pair = nextPair(this.tree, plan, key);
    }
  }

  expire(watermark: number): number {
    this.assertOpen();
    const w = validateWatermark(this.name, watermark);
    const due: BoundKey[] = [];
    for (const [ek] of this.expiries.entries()) {
      if (((ek as readonly KeyPart[])[0] as number) > w) break;
      due.push(ek);
    }
    for (const ek of due) {
      this.expiries.delete(ek);
      this.tree.delete(keyOfExpiry(ek as readonly KeyPart[]));
    }
    return due.length;
  }

  count(): number {
    this.assertOpen();
    return this.tree.size;
  }

  /** Nothing to make durable: resolves at once. */
  async flush(): Promise<void> {
    this.assertOpen();
  }

  clear(): void {
    this.assertOpen();
    this.tree.clear();
    this.expiries.clear();
  }

  /** Drops the data; later calls throw. */
  async close(): Promise<void> {
    if (!this.closed) this.onClose?.();
    this.closed = true;
    this.tree.clear();
    this.expiries.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`store "${this.name}" is closed`);
  }
}

/**
 * Memory stores by name. `open` returns the same store for the same name until it is closed.
 * Also keeps checkpoint metadata (`putMeta`/`getMeta`), like {@link LmdbStoreFactory}, so a
 * runner can use either factory.
 */
export class MemoryStoreFactory implements StoreFactory {
  private readonly stores = new Map<string, MemoryStore<StoreKey, unknown>>();
  private readonly meta = new Map<string, unknown>();
  private closed = false;

  constructor(private readonly options: MemoryStoreOptions = {}) {}

  open<K extends StoreKey, V>(name: string): KeyValueStore<K, V> {
    if (this.closed) throw new Error('store factory is closed');
    let store = this.stores.get(name);
    if (store === undefined) {
      const opened: MemoryStore<StoreKey, unknown> = new MemoryStore(name, this.options, () => {
        if (this.stores.get(name) === opened) this.stores.delete(name);
      });
      store = opened;
      this.stores.set(name, store);
    }
    return store as unknown as KeyValueStore<K, V>;
  }

  /** Records a metadata value (cloned) to go with the state, e.g. the runner's checkpoint. */
  putMeta(key: string, value: unknown): void {
    if (this.closed) throw new Error('store factory is closed');
    this.meta.set(key, structuredClone(value));
  }

  getMeta<T = unknown>(key: string): T | undefined {
    return this.meta.get(key) as T | undefined;
  }

  async flush(): Promise<void> {
    if (this.closed) throw new Error('store factory is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const store of [...this.stores.values()]) await store.close();
    this.stores.clear();
  }
}
