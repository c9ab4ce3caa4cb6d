/**
 * The one state-store interface every operator uses, with a memory and an LMDB implementation
 * (`engines/memory.ts`, `engines/lmdb/`) that pass the same contract suite
 * (`test/state/store.contract.test.ts`).
 *
 * Reads are synchronous (an LMDB read costs about a function call). Writes are buffered and
 * become durable at {@link KeyValueStore.flush} (a checkpoint); a read or scan always sees the
 * store's own unflushed writes. Keys are ordered the way LMDB orders them, so tuple keys
 * (`[personId, windowStart]`) make range scans of one key's sessions or windows cheap.
 *
 * Key rules (enforced identically by both stores; see `key-order.ts`): numbers sort before
 * strings, numbers numerically, strings by code point, tuples part by part with a prefix first.
 * A one-part tuple is not a key (write `'p1'`, not `['p1']`), `-0` is stored as `0`, `NaN`,
 * `null`, `undefined`, objects, strings containing U+0000..U+0004 or lone surrogates, and keys
 * over 1968 encoded bytes are rejected with an error naming the store and the key.
 */

/** One element of a key: strings and numbers (not `NaN`; `±Infinity` sort at the ends). */
export type KeyPart = string | number;
/** A store key: a single part or an ordered tuple of parts. */
export type StoreKey = KeyPart | readonly KeyPart[];

/**
 * Bounds of a range scan: `start` inclusive, `end` exclusive (lmdb-js semantics). A bound may be
 * a shorter tuple than the keys (`['p1']` is the same bound as `'p1'`, which sorts before every
 * `['p1', ...]`). Note `start: ['p1'], end: ['p2']` also covers `['p10', ...]`: use `prefix` for
 * "every key whose tuple starts with these parts".
 */
export interface RangeOptions<K extends StoreKey = StoreKey> {
  start?: K | readonly KeyPart[];
  end?: K | readonly KeyPart[];
  /**
   * Only keys whose parts start with these parts (a scalar key `'p1'` counts as `['p1']`);
   * combined with `start`/`end` when given. `{ prefix: ['p1'] }` yields `'p1'`, `['p1', 5]`,
   * `['p1', 'x', 2]` but not `['p10', 1]`.
   */
  prefix?: KeyPart | readonly KeyPart[];
  /** Scan from `start` downwards; then `start` is the upper (inclusive) bound and `end` the lower (exclusive) one. */
  reverse?: boolean;
  limit?: number;
}

export interface Entry<K, V> {
  key: K;
  value: V;
}

/** Options of a single write. */
export interface PutOptions {
  /**
   * Event time (epoch ms) at which the entry may be removed: {@link KeyValueStore.expire}
   * with a watermark at or past it deletes the entry. Writing the key again replaces it.
   */
  expiresAt?: number;
}

/**
 * A key-value store for operator state.
 *
 * @example
 * ```ts
 * const store = new MemoryStore<[string, number], { count: number }>();
 * store.put(['p1', 0], { count: 1 }, { expiresAt: 86_400_000 });
 * store.get(['p1', 0]); // { count: 1 }
 * [...store.range({ start: ['p1'], end: ['p1', Infinity] })];
 * store.expire(86_400_000); // 1 entry removed
 * await store.flush();
 * ```
 */
export interface KeyValueStore<K extends StoreKey = StoreKey, V = unknown> {
  /** The store's name, unique within its task (e.g. `dedupe-seen`). */
  readonly name: string;
  get(key: K): V | undefined;
  has(key: K): boolean;
  put(key: K, value: V, options?: PutOptions): void;
  delete(key: K): void;
  /** Entries in key order within the bounds, unflushed writes included. */
  range(options?: RangeOptions<K>): IterableIterator<Entry<K, V>>;
  /** Deletes every entry whose `expiresAt` is at or before `watermark`; returns how many. */
  expire(watermark: number): number;
  /** Number of entries (exact for memory, unflushed writes included). */
  count(): number;
  /** Bytes the store takes in its file (committed pages), when the engine can tell (LMDB can). */
  bytes?(): number | undefined;
  /** Makes every buffered write durable (a checkpoint). Resolves when it is. */
  flush(): Promise<void>;
  /** Drops all entries (used when a store is rebuilt from its changelog). */
  clear(): void;
  /** Releases the store; unflushed writes are discarded (flush first to keep them). */
  close(): Promise<void>;
}

/**
 * What a layer above an engine store (the caching layer) needs besides {@link KeyValueStore}:
 * the `expiresAt` an entry was written with, so it can expire what it holds decoded.
 */
export interface ExpiryAware<K extends StoreKey = StoreKey> {
  /** The `expiresAt` of the entry at `key` (its buffered write included); undefined when it has none or is absent. */
  expiresAtOf(key: K): number | undefined;
}

/** Whether `store` can say an entry's `expiresAt` ({@link ExpiryAware}). */
export function isExpiryAware<K extends StoreKey>(store: KeyValueStore<K, unknown>): store is KeyValueStore<K, unknown> & ExpiryAware<K> {
  return typeof (store as Partial<ExpiryAware<K>>).expiresAtOf === 'function';
}

/** Creates the stores of one task (one LMDB environment, or memory), by name. */
export interface StoreFactory {
  open<K extends StoreKey, V>(name: string): KeyValueStore<K, V>;
  /** Flushes every store opened from this factory, atomically where the engine allows. */
  flush(): Promise<void>;
  /** Closes every store; unflushed writes are discarded (a close is not a checkpoint). */
  close(): Promise<void>;
}
