/**
 * One store of the caching layer: decoded entries in a `Map`, the dirty list, the expiry heap;
 * resident or read-through (see `caching.ts` for the layer as a whole).
 *
 * @module
 */
import { pack } from 'msgpackr';
import { ExpiryHeap } from './expiry-heap.js';
import { keyId, ownKey, validateExpiresAt, validateKey, validateWatermark } from './key-order.js';
import type { Entry, ExpiryAware, KeyValueStore, PutOptions, RangeOptions, StoreFactory, StoreKey } from './store.js';

/** Estimated bytes of one cached entry besides its value (slot, key, map and heap entries). */
export const ENTRY_OVERHEAD = 96;

interface Slot {
  id: string | number;
  key: StoreKey;
  value: unknown;
  present: boolean;
  /** NaN: no expiry. */
  expiresAt: number;
  dirty: boolean;
}

export type Engine<K extends StoreKey, V> = KeyValueStore<K, V> & ExpiryAware<K>;

/** A tuple whose parts are all strings or numbers (a cached id then names the same key). */
function plainParts(key: readonly unknown[]): boolean {
  for (let i = 0; i < key.length; i++) {
    const t = typeof key[i];
    if (t !== 'string' && t !== 'number') return false;
  }
  return true;
}

/**
 * A store of a {@link CachingStoreFactory}; see the notes of `caching.ts`.
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
  /** Where an unfinished {@link writeDownUntil} goes on in `dirty`. */
  private downFrom = 0;
  private expiries = new ExpiryHeap<Slot>();
  /** Present entries (exact while resident). */
  private live = 0;
  /** Open range iterators: writes go through to the engine meanwhile. */
  private iterating = 0;
  /** Highest watermark `expire` was called with since the last flush (the engine catches up at the flush). */
  private expiredTo = -Infinity;
  private closed = false;
  /** Reads, writes and deletes since {@link takeOperations} last took them (the metrics' counts). */
  private ops = { get: 0, put: 0, delete: 0 };
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
      if (!Number.isNaN(expiresAt)) this.pushExpiry(expiresAt, slot);
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
    this.ops.get++;
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
    this.ops.put++;
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
        if (!Number.isNaN(expiresAt)) this.pushExpiry(expiresAt, slot);
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
    this.ops.delete++;
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
    if (!Number.isNaN(expiresAt)) this.pushExpiry(expiresAt, slot);
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
    while (this.expiries.size > 0 && this.expiries.nextAt() <= w) {
      const at = this.expiries.nextAt();
      const slot = this.expiries.pop();
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

  bytes(): number | undefined {
    this.assertOpen();
    return this.engine.bytes?.();
  }

  /** The reads, writes and deletes made since the last call (and starts counting again). */
  takeOperations(): { get: number; put: number; delete: number } {
    const ops = this.ops;
    this.ops = { get: 0, put: 0, delete: 0 };
    return ops;
  }

  flush(): Promise<void> {
    this.assertOpen();
    return this.factory().flush();
  }

  clear(): void {
    this.assertOpen();
    this.slots = new Map();
    this.dirty = [];
    this.downFrom = 0;
    this.expiries.clear();
    this.live = 0;
    this.engine.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slots = new Map();
    this.dirty = [];
    this.downFrom = 0;
    this.expiries.clear();
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
    return this.writeDownUntil(Infinity).written;
  }

  /**
   * {@link writeDown} in slices: writes dirty keys down until `deadline` (`performance.now()`)
   * has passed; `done` once every one is. A key changed between two slices is written with its
   * latest value (a key written already is marked dirty again and comes later in the same pass).
   */
  writeDownUntil(deadline: number): { written: number; done: boolean } {
    // First what was due when `expire` ran (the cache already dropped it), so that a key written
    // since with an expiry at or before that watermark stays until the next `expire`.
    if (this.downFrom === 0 && this.expiredTo > -Infinity) {
      this.engine.expire(this.expiredTo);
      this.expiredTo = -Infinity;
    }
    const dirty = this.dirty;
    let written = 0;
    let sampled = 0;
    let bytes = 0;
    for (let i = this.downFrom; i < dirty.length; i++) {
      if (i > this.downFrom && (i & 255) === 0 && performance.now() >= deadline) {
        this.downFrom = i;
        return { written, done: false };
      }
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
    this.downFrom = 0;
    if (sampled > 0) this.bytesPerEntry = Math.round((this.bytesPerEntry + ENTRY_OVERHEAD + (3 * bytes) / sampled) / 2);
    return { written, done: true };
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
      this.downFrom = 0;
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

  private pushExpiry(at: number, slot: Slot): void {
    this.expiries.push(at, slot);
    // Mostly superseded pairs (keys rewritten with new expiries): rebuild from the live slots.
    if (this.expiries.size > 1024 && this.expiries.size > 4 * this.slots.size) {
      const live: Array<[number, Slot]> = [];
      for (const s of this.slots.values()) if (s.present && !Number.isNaN(s.expiresAt)) live.push([s.expiresAt, s]);
      this.expiries.rebuild(live);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`store "${this.name}" is closed`);
  }
}

