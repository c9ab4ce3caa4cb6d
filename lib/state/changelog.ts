/**
 * Change logging for state stores (every state store has a compacted changelog topic),
 * after Kafka Streams' `ChangeLoggingKeyValueBytesStore`, adapted to Tributary's stores.
 *
 * {@link ChangeloggingStoreFactory} wraps any {@link StoreFactory} that keeps checkpoint metadata
 * (`putMeta`/`getMeta`: {@link MemoryStoreFactory}, {@link LmdbStoreFactory}). Every store it
 * opens behaves exactly like the wrapped store for reads and writes, and also remembers which keys
 * changed since the last {@link ChangeloggingStoreFactory.drainChanges}: puts, deletes, entries
 * removed by `expire` and by `clear`. `drainChanges()` turns them into changelog records, one per
 * changed key (the latest write wins), holding the key's state now: its value and `expiresAt`, or
 * a tombstone. Behind the caching layer (`caching.ts`) a store here is handed each changed key
 * once per commit (the cache's write-down), so its change map is no larger than the cache's dirty
 * set.
 *
 * The runner's commit, per task (at-least-once):
 * 1. `drainChanges()` → produce each store's records to `<app>-<store>-changelog`
 *    ({@link changelogTopic}), partition = the task's partition; wait for the acks.
 * 2. `recordChangelogOffsets(store, partition, lastOffset)` for each store produced to.
 * 3. `factory.flush()`: state and those offsets in one LMDB transaction.
 * 4. Commit the input offsets.
 * If producing fails, close the factory without flushing and resume from the last commit.
 *
 * Wire format: `changelog-codec.ts`.
 *
 * Expiry: the stores do not say which keys `expire` removed, so each changelogged store keeps an
 * expiry index of its own, a sibling store named {@link EXPIRY_INDEX_PREFIX}`<store>` holding
 * `[expiresAt, ...key]` → 0 for every put with an `expiresAt` (flushed with the state; a key too
 * long for that is listed in the value of `[expiresAt, hash of the key]` instead). `expire(w)`
 * reads the due index entries, notes which of their keys are present, lets the store expire, and
 * logs a tombstone for each key that was present and is gone. A put or delete removes the key's
 * previous index entry (so a deleted key, an erased person's, leaves nothing behind in the index).
 * Cost: one read of the stored `expiresAt` per put and delete, one more write per put with an
 * `expiresAt`, and per expired key two `has` reads and one index delete. The index store is a
 * store of the wrapped factory: with LMDB a changelogged store uses 4 named databases, not 2
 * (raise `maxDbs` past 4 per store + 2). `clear()` reads every key once (to log its tombstone).
 * A store must always be opened through this layer (or restored into it), or its index misses
 * entries and their expiry is not logged.
 *
 * @module
 */
import { InvalidKeyError, keyId, validateExpiresAt, validateKey, validateWatermark } from './key-order.js';
import type { Entry, ExpiryAware, KeyPart, KeyValueStore, PutOptions, RangeOptions, StoreFactory, StoreKey } from './store.js';

import { encodeChangelogKey, encodeChangelogValue, offsetString, type ChangelogRecord, type ChangelogValue, type Offset, type StoreChanges } from './changelog-codec.js';

/** A {@link StoreFactory} that also keeps checkpoint metadata committed with the state. */
export interface CheckpointedStoreFactory extends StoreFactory {
  putMeta(key: string, value: unknown): void;
  getMeta<T = unknown>(key: string): T | undefined;
}

/** Prefix of the sibling store holding a changelogged store's expiry index. */
export const EXPIRY_INDEX_PREFIX = 'tributary.changelog-expiry/';
/** Prefix of the metadata keys of changelog checkpoints: `<prefix><store>/<partition>`. */
export const CHANGELOG_CHECKPOINT_PREFIX = 'changelog-offset/';

/** FNV-1a of a key id (32 bits): the index key of keys too long to be part of one. */
function hashOf(id: string | number): number {
  const s = String(id);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function ownKey(key: StoreKey): StoreKey {
  return typeof key === 'object' ? Object.freeze(key.slice()) : key;
}

/** What is known of a changed key: deleted, or put with this `expiresAt`. */
interface Change {
  key: StoreKey;
  deleted: boolean;
  expiresAt: number | undefined;
}

/**
 * A store that logs its changes for {@link ChangeloggingStoreFactory.drainChanges}; reads and
 * writes are those of the wrapped store.
 */
export class ChangeloggingStore<K extends StoreKey = StoreKey, V = unknown> implements KeyValueStore<K, V> {
  readonly name: string;
  /** @internal Changes since the last drain, by key id, in first-change order. */
  changes = new Map<string | number, Change>();
  /**
   * Smallest `expiresAt` that may be in the expiry index: NaN until read; entries below it are
   * gone (or buffered deletes).
   */
  private floor = NaN;
  private closed = false;

  /** @internal Use {@link ChangeloggingStoreFactory.open}. */
  constructor(
    readonly inner: KeyValueStore<K, V>,
    private readonly index: KeyValueStore<readonly KeyPart[], number | StoreKey[]>,
    private readonly onClose: () => void,
  ) {
    this.name = inner.name;
  }

  get(key: K): V | undefined {
    return this.inner.get(key);
  }

  has(key: K): boolean {
    return this.inner.has(key);
  }

  range(options?: RangeOptions<K>): IterableIterator<Entry<K, V>> {
    return this.inner.range(options);
  }

  expiresAtOf(key: K): number | undefined {
    const inner = this.inner as KeyValueStore<K, V> & Partial<ExpiryAware<K>>;
    if (typeof inner.expiresAtOf !== 'function') throw new TypeError(`store "${this.name}": the wrapped store cannot tell expiries`);
    return inner.expiresAtOf(key);
  }

  count(): number {
    return this.inner.count();
  }

  bytes(): number | undefined {
    return this.inner.bytes?.();
  }

  put(key: K, value: V, options?: PutOptions): void {
    const before = this.previousExpiry(key);
    this.inner.put(key, value, options);
    const expiresAt = options?.expiresAt === undefined ? undefined : validateExpiresAt(this.name, options.expiresAt);
    const k = validateKey(this.name, key);
    if (before !== undefined && before !== expiresAt) this.unindexExpiry(k, before);
    this.log(k, false, expiresAt);
  }

  delete(key: K): void {
    const before = this.previousExpiry(key);
    this.inner.delete(key);
    const k = validateKey(this.name, key);
    this.log(k, true, undefined);
    if (before !== undefined) this.unindexExpiry(k, before);
  }

  /** The `expiresAt` the key is stored with now, before a write replaces or deletes it. */
  private previousExpiry(key: K): number | undefined {
    return (this.inner as Partial<ExpiryAware<K>>).expiresAtOf?.(key);
  }

  private unindexExpiry(key: StoreKey, expiresAt: number): void {
    try {
      this.index.delete([expiresAt, ...(typeof key === 'object' ? key : [key])]);
    } catch (error) {
      if (!(error instanceof InvalidKeyError)) throw error;
      const ik = [expiresAt, hashOf(keyId(key))];
      const listed = this.index.get(ik);
      const keys = (Array.isArray(listed) ? (listed as StoreKey[]) : []).filter((k) => keyId(k) !== keyId(key));
      if (keys.length > 0) this.index.put(ik, keys);
      else this.index.delete(ik);
    }
  }

  private log(key: StoreKey, deleted: boolean, expiresAt: number | undefined): void {
    const id = keyId(key);
    const change = this.changes.get(id);
    if (change === undefined) {
      this.changes.set(id, { key: ownKey(key), deleted, expiresAt });
    } else {
      change.deleted = deleted;
      change.expiresAt = expiresAt;
    }
    if (expiresAt !== undefined) this.indexExpiry(key, expiresAt);
  }

  private indexExpiry(key: StoreKey, expiresAt: number): void {
    try {
      this.index.put([expiresAt, ...(typeof key === 'object' ? key : [key])], 0);
    } catch (error) {
      if (!(error instanceof InvalidKeyError)) throw error;
      // The key is too long to be part of an index key: list it under [expiresAt, hash].
      const ik = [expiresAt, hashOf(keyId(key))];
      const listed = this.index.get(ik);
      const keys = Array.isArray(listed) ? (listed as StoreKey[]) : [];
      if (!keys.some((k) => keyId(k) === keyId(key))) this.index.put(ik, [...keys, key]);
    }
    if (!(this.floor <= expiresAt)) this.floor = Number.isNaN(this.floor) ? NaN : expiresAt;
  }

  /**
   * Deletes what the wrapped store's `expire` deletes, and logs a tombstone for each key it
   * removed (found through the expiry index, see the module notes). Returns the store's count.
   */
  expire(watermark: number): number {
    const w = validateWatermark(this.name, watermark);
    // Nothing in the index is due (a NaN floor is unknown: read the index).
    if (this.closed || this.floor > w) return this.inner.expire(watermark);
    const due: (readonly KeyPart[])[] = [];
    let next = Infinity;
    const start = Number.isNaN(this.floor) ? undefined : [this.floor];
    for (const { key: ik } of this.index.range(start === undefined ? {} : { start })) {
      const at = ik[0] as number;
      if (at > w) {
        next = at;
        break;
      }
      due.push(ik);
    }
    const present = new Map<string | number, StoreKey>();
    const check = (key: StoreKey) => {
      const id = keyId(key);
      if (!present.has(id) && this.inner.has(key as K)) present.set(id, key);
    };
    for (const ik of due) {
      if (ik.length === 2 && typeof ik[1] === 'number') {
        // A scalar number key, or the hash of long keys listed in the value.
        const listed = this.index.get(ik) as unknown;
        if (Array.isArray(listed)) {
          for (const key of listed as StoreKey[]) check(key);
          continue;
        }
      }
      check((ik.length === 2 ? ik[1]! : ik.slice(1)) as StoreKey);
    }
    const removed = this.inner.expire(watermark);
    for (const key of present.values()) {
      if (!this.inner.has(key as K)) this.log(key, true, undefined);
    }
    for (const ik of due) this.index.delete(ik);
    this.floor = next;
    return removed;
  }

  /** Logs a tombstone for every entry, then clears the store (and its expiry index). */
  clear(): void {
    const keys: StoreKey[] = [];
    for (const { key } of this.inner.range()) keys.push(key);
    this.inner.clear();
    this.index.clear();
    this.floor = Infinity;
    for (const key of keys) this.log(key, true, undefined);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  /** Closes the store; its undrained changes are dropped with its unflushed writes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.changes = new Map();
    await this.inner.close();
    await this.index.close();
    this.onClose();
  }

  /** @internal The encoded records of the changes since the last drain; forgets them. */
  drain(): ChangelogRecord[] {
    const records: ChangelogRecord[] = [];
    for (const change of this.changes.values()) {
      const key = encodeChangelogKey(change.key, this.name);
      if (change.deleted) {
        records.push({ key, value: null });
      } else {
        records.push({ key, value: encodeChangelogValue(this.inner.get(change.key as K), change.expiresAt) });
      }
    }
    this.changes = new Map();
    return records;
  }

  /** Whether there are undrained changes. */
  get hasChanges(): boolean {
    return this.changes.size > 0;
  }

  /**
   * @internal Applies a restored change without logging it (the expiry index is maintained):
   * `value` undefined is a tombstone.
   */
  applyRestored(key: StoreKey, value: ChangelogValue | undefined): void {
    const before = this.previousExpiry(key as K);
    if (before !== undefined && before !== value?.expiresAt) this.unindexExpiry(validateKey(this.name, key), before);
    if (value === undefined) {
      this.inner.delete(key as K);
    } else {
      this.inner.put(key as K, value.value as V, value.expiresAt === undefined ? undefined : { expiresAt: value.expiresAt });
      if (value.expiresAt !== undefined) this.indexExpiry(validateKey(this.name, key), value.expiresAt);
    }
  }

  /** @internal Drops every entry without logging (a restore from scratch). */
  wipe(): void {
    this.inner.clear();
    this.index.clear();
    this.floor = Infinity;
    this.changes = new Map();
  }
}

/**
 * Wraps a {@link CheckpointedStoreFactory}: its stores log their changes (see the module notes),
 * and it keeps each store partition's changelog checkpoint in the wrapped factory's metadata.
 *
 * @example
 * ```ts
 * const stores = new ChangeloggingStoreFactory(new LmdbStoreFactory({ path: 'state/app/0' }));
 * const seen = stores.open<string, number>('dedupe-seen');
 * seen.put('m1', 1, { expiresAt: 60_000 });
 * for (const { store, records } of stores.drainChanges()) {
 *   const sent = await producer.send({ topic: changelogTopic('app', store),
 *     messages: records.map((r) => ({ ...r, partition: 0 })) });
 *   stores.recordChangelogOffsets(store, 0, BigInt(sent[0]!.baseOffset!) + BigInt(records.length - 1));
 * }
 * await stores.flush(); // state + changelog checkpoints, one transaction
 * ```
 */
export class ChangeloggingStoreFactory implements CheckpointedStoreFactory {
  private readonly stores = new Map<string, ChangeloggingStore<StoreKey, unknown>>();

  constructor(readonly inner: CheckpointedStoreFactory) {}

  open<K extends StoreKey, V>(name: string): KeyValueStore<K, V> {
    return this.openStore<K, V>(name);
  }

  /** {@link open} with the concrete type. */
  openStore<K extends StoreKey, V>(name: string): ChangeloggingStore<K, V> {
    if (typeof name === 'string' && name.startsWith(EXPIRY_INDEX_PREFIX)) {
      throw new TypeError(`store name "${name}" is reserved (prefix ${EXPIRY_INDEX_PREFIX})`);
    }
    let store = this.stores.get(name);
    if (store === undefined) {
      const inner = this.inner.open<StoreKey, unknown>(name);
      const index = this.inner.open<readonly KeyPart[], number | StoreKey[]>(`${EXPIRY_INDEX_PREFIX}${name}`);
      const opened: ChangeloggingStore<StoreKey, unknown> = new ChangeloggingStore(inner, index, () => {
        if (this.stores.get(name) === opened) this.stores.delete(name);
      });
      store = opened;
      this.stores.set(name, store);
    }
    return store as unknown as ChangeloggingStore<K, V>;
  }

  /**
   * The changelog records of every store changed since the last drain, one per changed key with
   * its current state, grouped by store (stores without changes are left out). Forgets them.
   */
  drainChanges(): StoreChanges[] {
    const out: StoreChanges[] = [];
    for (const store of this.stores.values()) {
      if (store.hasChanges) out.push({ store: store.name, records: store.drain() });
    }
    return out;
  }

  /**
   * Records that the local state of `store` is complete up to changelog `offset` (inclusive) of
   * `partition`; committed by the next {@link flush}, in the same transaction as the state.
   */
  recordChangelogOffsets(store: string, partition: number, offset: Offset): void {
    this.inner.putMeta(checkpointKey(store, partition), offsetString(offset));
  }

  /** The checkpointed changelog offset of a store partition, as stored (validate before use). */
  changelogCheckpoint(store: string, partition: number): unknown {
    return this.inner.getMeta(checkpointKey(store, partition));
  }

  /** @internal Forgets the checkpoint of a store partition at the next flush. */
  clearChangelogCheckpoint(store: string, partition: number): void {
    const inner = this.inner as CheckpointedStoreFactory & { deleteMeta?: (key: string) => void };
    if (typeof inner.deleteMeta === 'function') inner.deleteMeta(checkpointKey(store, partition));
    else inner.putMeta(checkpointKey(store, partition), undefined);
  }

  putMeta(key: string, value: unknown): void {
    this.inner.putMeta(key, value);
  }

  getMeta<T = unknown>(key: string): T | undefined {
    return this.inner.getMeta<T>(key);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  async close(): Promise<void> {
    for (const store of [...this.stores.values()]) await store.close();
    await this.inner.close();
  }
}

function checkpointKey(store: string, partition: number): string {
  if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`partition must be an integer >= 0, got ${partition}`);
  return `${CHANGELOG_CHECKPOINT_PREFIX}${store}/${partition}`;
}
