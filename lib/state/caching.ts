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
import { pack } from 'msgpackr';
import { keyId, ownKey, validateExpiresAt, validateKey, validateWatermark } from './key-order.js';
import { isExpiryAware, type Entry, type ExpiryAware, type KeyValueStore, type PutOptions, type RangeOptions, type StoreFactory, type StoreKey } from './store.js';

/** Default memory budget of one task's cache: 256 MiB. */
export const DEFAULT_CACHE_BYTES = 256 * 2 ** 20;

/** Estimated bytes of one cached entry besides its value (slot, key, map and heap entries). */
const ENTRY_OVERHEAD = 96;

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

interface Slot {
  id: string | number;
  key: StoreKey;
  value: unknown;
  present: boolean;
  /** NaN: no expiry. */
  expiresAt: number;
  dirty: boolean;
}

type Engine<K extends StoreKey, V> = KeyValueStore<K, V> & ExpiryAware<K>;

/** A tuple whose parts are all strings or numbers (a cached id then names the same key). */
function plainParts(key: readonly unknown[]): boolean {
  for (let i = 0; i < key.length; i++) {
    const t = typeof key[i];
    if (t !== 'string' && t !== 'number') return false;
  }
  return true;
}

/**
 * A store of a {@link CachingStoreFactory}; see the module notes.
 *
 * @example
 * ```ts
 * const stores = new CachingStoreFactory(new LmdbStoreFactory({ path: 'state' }));
 * const seen = stores.open<string, number>('dedupe.seen');
 * seen.put('m1', 1_000, { expiresAt: 86_401_000 });
 * seen.get('m1'); // 1000, from memory
 * await stores.flush(); // encoded and committed once
 * ```
 */
export class CachingStore<K extends StoreKey = StoreKey, V = unknown> implements KeyValueStore<K, V> {
  readonly name: string;
  private slots = new Map<string | number, Slot>();
  private dirty: Slot[] = [];
  private heapAt: number[] = [];
  private heapSlot: Slot[] = [];
  /** Present entries (exact while resident). */
  private live = 0;
  /** Open range iterators: writes go through to the engine meanwhile. */
  private iterating = 0;
  /** Highest watermark `expire` was called with since the last flush (the engine catches up at the flush). */
  private expiredTo = -Infinity;
  private closed = false;
  /** @internal Estimated bytes per entry (sampled). */
  bytesPerEntry = ENTRY_OVERHEAD + 32;

  /** @internal Use {@link CachingStoreFactory.open}. */
  constructor(
    private readonly engine: Engine<K, V>,
    /** @internal */ public resident: boolean,
    private readonly clone: boolean,
    private readonly onClose: () => void,
  ) {
    this.name = engine.name;
    if (resident) this.load();
  }

  /** Loads every entry of the engine (a resident store). */
  private load(): void {
    let sampled = 0;
    let bytes = 0;
    for (const { key, value } of this.engine.range()) {
      const expiresAt = this.engine.expiresAtOf(key) ?? NaN;
      const slot: Slot = { id: keyId(key), key, value, present: true, expiresAt, dirty: false };
      this.slots.set(slot.id, slot);
      this.live++;
      if (!Number.isNaN(expiresAt)) this.heapPush(expiresAt, slot);
      if (sampled < 64) {
        sampled++;
        bytes += pack(value).length;
      }
    }
    if (sampled > 0) this.bytesPerEntry = ENTRY_OVERHEAD + Math.ceil((3 * bytes) / sampled);
  }

  /** @internal Entries held in memory (present, deleted-but-dirty and clean read-through ones). */
  get cachedEntries(): number {
    return this.slots.size;
  }

  private lookup(key: K): Slot | undefined {
    // A key id names one key only for valid keys: check the shape of what is not a plain scalar.
    if (typeof key === 'object' && (key === null || !Array.isArray(key) || !plainParts(key))) validateKey(this.name, key);
    return this.slots.get(keyId(key));
  }

  get(key: K): V | undefined {
    this.assertOpen();
    let slot = this.lookup(key);
    if (slot === undefined) {
      const k = validateKey(this.name, key);
      if (this.resident) return undefined;
      const value = this.engine.get(k);
      if (value === undefined) return undefined;
      slot = this.insert(k, value, this.engine.expiresAtOf(k) ?? NaN);
    } else if (!this.resident) {
      // Least recently used first out: move the key to the end of the map's order.
      this.slots.delete(slot.id);
      this.slots.set(slot.id, slot);
    }
    if (!slot.present) return undefined;
    return (this.clone ? structuredClone(slot.value) : slot.value) as V;
  }

  has(key: K): boolean {
    this.assertOpen();
    const slot = this.lookup(key);
    if (slot !== undefined) return slot.present;
    const k = validateKey(this.name, key);
    return !this.resident && this.engine.has(k);
  }

  put(key: K, value: V, options?: PutOptions): void {
    this.assertOpen();
    const e = options?.expiresAt;
    const expiresAt = e === undefined ? NaN : (validateExpiresAt(this.name, e) as number);
    const stored = this.clone ? structuredClone(value) : value;
    let slot = this.lookup(key);
    if (slot === undefined) {
      const k = ownKey(validateKey(this.name, key));
      slot = this.insert(k, stored, expiresAt);
    } else {
      if (!slot.present) this.live++;
      slot.value = stored;
      slot.present = true;
      if (expiresAt !== slot.expiresAt) {
        slot.expiresAt = expiresAt;
        if (!Number.isNaN(expiresAt)) this.heapPush(expiresAt, slot);
      }
    }
    if (this.writesThrough()) {
      this.engine.put(slot.key as K, value, options);
      slot.dirty = false;
    } else {
      this.markDirty(slot);
    }
  }

  delete(key: K): void {
    this.assertOpen();
    const slot = this.lookup(key);
    if (slot === undefined) {
      const k = validateKey(this.name, key);
      if (!this.resident || this.iterating > 0) this.engine.delete(k);
      return;
    }
    this.remove(slot);
  }

  private remove(slot: Slot): void {
    if (slot.present) this.live--;
    slot.present = false;
    slot.value = undefined;
    slot.expiresAt = NaN;
    if (this.writesThrough()) {
      this.engine.delete(slot.key as K);
      slot.dirty = false;
      this.slots.delete(slot.id);
    } else {
      this.markDirty(slot);
    }
  }

  private insert(key: StoreKey, value: unknown, expiresAt: number): Slot {
    const slot: Slot = { id: keyId(key), key, value, present: true, expiresAt, dirty: false };
    this.slots.set(slot.id, slot);
    this.live++;
    if (!Number.isNaN(expiresAt)) this.heapPush(expiresAt, slot);
    return slot;
  }

  private markDirty(slot: Slot): void {
    if (slot.dirty) return;
    slot.dirty = true;
    this.dirty.push(slot);
  }

  private writesThrough(): boolean {
    return !this.resident || this.iterating > 0;
  }

  range(options?: RangeOptions<K>): IterableIterator<Entry<K, V>> {
    this.assertOpen();
    this.writeDown();
    const inner = this.engine.range(options);
    this.iterating++;
    return this.overlay(inner);
  }

  private *overlay(inner: IterableIterator<Entry<K, V>>): IterableIterator<Entry<K, V>> {
    try {
      for (const entry of inner) {
        const slot = this.slots.get(keyId(entry.key));
        if (slot === undefined) {
          yield entry;
        } else if (slot.present) {
          yield { key: entry.key, value: (this.clone ? structuredClone(slot.value) : slot.value) as V };
        }
      }
    } finally {
      this.iterating--;
    }
  }

  expire(watermark: number): number {
    this.assertOpen();
    const w = validateWatermark(this.name, watermark);
    let removed = 0;
    while (this.heapAt.length > 0 && this.heapAt[0]! <= w) {
      const at = this.heapAt[0]!;
      const slot = this.heapPop();
      if (!slot.present || slot.expiresAt !== at || this.slots.get(slot.id) !== slot) continue;
      if (this.resident) {
        this.remove(slot);
        removed++;
      } else {
        // Written through already: the engine expires it below; forget the cached copy.
        this.slots.delete(slot.id);
        this.live--;
      }
    }
    if (!this.resident) return this.engine.expire(w);
    if (w > this.expiredTo) this.expiredTo = w;
    return removed;
  }

  count(): number {
    this.assertOpen();
    if (this.resident) return this.live;
    return this.engine.count();
  }

  flush(): Promise<void> {
    this.assertOpen();
    return this.factory().flush();
  }

  clear(): void {
    this.assertOpen();
    this.slots = new Map();
    this.dirty = [];
    this.heapAt = [];
    this.heapSlot = [];
    this.live = 0;
    this.engine.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slots = new Map();
    this.dirty = [];
    this.heapAt = [];
    this.heapSlot = [];
    await this.engine.close();
    this.onClose();
  }

  /** @internal Set by the factory: flushing a store flushes its factory. */
  factory: () => StoreFactory = () => {
    throw new Error('internal: store without factory');
  };

  /**
   * @internal Lets the engine expire up to the highest watermark seen, then hands it every dirty
   * key (a put with its expiry, or a delete). Returns how many keys were written.
   */
  writeDown(): number {
    // First what was due when `expire` ran (the cache already dropped it), so that a key written
    // since with an expiry at or before that watermark stays until the next `expire`.
    if (this.expiredTo > -Infinity) {
      this.engine.expire(this.expiredTo);
      this.expiredTo = -Infinity;
    }
    const dirty = this.dirty;
    let written = 0;
    let sampled = 0;
    let bytes = 0;
    for (let i = 0; i < dirty.length; i++) {
      const slot = dirty[i]!;
      if (!slot.dirty) continue;
      slot.dirty = false;
      written++;
      if (slot.present) {
        this.engine.put(slot.key as K, slot.value as V, Number.isNaN(slot.expiresAt) ? undefined : { expiresAt: slot.expiresAt });
        if (sampled < 16 && (i & 63) === 0) {
          sampled++;
          bytes += pack(slot.value).length;
        }
      } else {
        this.engine.delete(slot.key as K);
        if (this.slots.get(slot.id) === slot) this.slots.delete(slot.id);
      }
    }
    this.dirty = [];
    if (sampled > 0) this.bytesPerEntry = Math.round((this.bytesPerEntry + ENTRY_OVERHEAD + (3 * bytes) / sampled) / 2);
    return written;
  }

  /** @internal Estimated bytes held in memory. */
  estimatedBytes(): number {
    return this.slots.size * this.bytesPerEntry;
  }

  /**
   * @internal Keeps at most `bytes` (estimated) of clean entries, dropping the least recently
   * used first; a resident store becomes read-through. Call right after a write-down.
   */
  shrinkTo(bytes: number): void {
    if (this.resident) {
      this.resident = false;
      this.dirty = [];
    }
    const keep = Math.max(0, Math.floor(bytes / this.bytesPerEntry));
    let excess = this.slots.size - keep;
    if (excess <= 0) return;
    for (const [id, slot] of this.slots) {
      if (excess <= 0) break;
      if (slot.dirty) continue;
      this.slots.delete(id);
      if (slot.present) this.live--;
      excess--;
    }
    // Dropped slots still in the heap are skipped when popped (no longer in the map).
  }

  private heapPush(at: number, slot: Slot): void {
    const a = this.heapAt;
    const s = this.heapSlot;
    let i = a.length;
    a.push(at);
    s.push(slot);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      s[i] = s[p]!;
      i = p;
    }
    a[i] = at;
    s[i] = slot;
    // Mostly superseded pairs (keys rewritten with new expiries): rebuild from the live slots.
    if (a.length > 1024 && a.length > 4 * this.slots.size) this.rebuildHeap();
  }

  private heapPop(): Slot {
    const a = this.heapAt;
    const s = this.heapSlot;
    const top = s[0]!;
    const lastAt = a.pop()!;
    const lastSlot = s.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && a[c + 1]! < a[c]!) c++;
        if (a[c]! >= lastAt) break;
        a[i] = a[c]!;
        s[i] = s[c]!;
        i = c;
      }
      a[i] = lastAt;
      s[i] = lastSlot;
    }
    return top;
  }

  private rebuildHeap(): void {
    this.heapAt = [];
    this.heapSlot = [];
    for (const slot of this.slots.values()) {
      if (slot.present && !Number.isNaN(slot.expiresAt)) this.heapPush(slot.expiresAt, slot);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`store "${this.name}" is closed`);
  }
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

  /** Writes down, commits the wrapped factory, then keeps the memory budget. */
  async flush(): Promise<void> {
    this.writeDown();
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
