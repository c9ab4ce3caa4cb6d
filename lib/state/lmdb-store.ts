/**
 * LMDB state stores (lmdb-js): one LMDB environment per {@link LmdbStoreFactory}, one named
 * database per store (plus its expiry index), writes buffered in memory until the factory's
 * `flush()` commits every store (and the checkpoint metadata) in one transaction.
 *
 * On-disk layout, version 2 (named databases; `maxDbs` must cover 2 per store + 2):
 * - `tributary/layout`: `'version'` → 2, written when the environment is created. A factory
 *   refuses to open an environment with another version, or with layout 1 (no version key, a
 *   `tributary/meta` database and three databases per store), with an error saying so. There is
 *   no migration: delete the directory (the embedded runner rebuilds state from its input).
 * - `tributary/data/<store>`: key → a header byte (0: no expiry; 1: the entry's `expiresAt`
 *   follows as a little-endian float64), then the value (msgpack, `structuredClone` mode).
 *   Keeping `expiresAt` with the value is what lets a rewrite or a delete find the old expiry
 *   index entry without a third database (layout 1 kept key → expiresAt in its own database).
 * - `tributary/expiry/<store>`: `[expiresAt, ...key]` → a 1-byte placeholder: the expiry index,
 *   so `expire(watermark)` is a range scan from the smallest `expiresAt`.
 * - `tributary/meta`: the factory's {@link LmdbStoreFactory.putMeta} values.
 *
 * LMDB operations per buffered write at flush (a put costs ~0.55 µs, a delete ~0.8 µs, a read
 * 0.1-0.5 µs; 2-core VM, lmdb 3.5.6, 4 KiB pages):
 * - put with `expiresAt`: 2 writes (data entry, index entry). Replacing an entry whose expiry
 *   differs adds 1 index delete; an unchanged expiry leaves the index alone (1 write).
 * - put without `expiresAt`: 1 write (+ 1 index delete if the old entry had an expiry).
 * - delete, or an entry `expire` removed: 1 data delete (+ 1 index delete if it had an expiry);
 *   nothing for a key known to be absent from committed data.
 * - plus, only while the store has ever used expiries and only when the key's committed entry is
 *   not known yet: 1 read of the old entry's header. It is known for a key the store just read
 *   (a `get`/`has` right before the `put`: the read-then-write pattern of the operators, dedupe
 *   included), for a key already written or deleted since the last flush whose state was known,
 *   and for an entry `expire` removed (the index entry names its `expiresAt`).
 * So dedupe's insert costs 2 LMDB writes and its expiry 2 deletes (layout 1: 3 writes + 1 read,
 * and 3 deletes + 1 read).
 *
 * `expire(watermark)` costs a comparison while nothing is due: the store keeps a lower bound of
 * the unhandled committed index entries and a min-heap of buffered expiries. When something is
 * due it reads the committed index ahead in chunks (64 up to 4096 keys per LMDB cursor), so the
 * one-due-entry-per-call pattern of an advancing watermark does not open a cursor per call. When
 * every committed entry has an expiry and all are due (typically the end of a bounded input,
 * watermark +∞), the flush drops both databases (as after `clear()`) instead of deleting entry by
 * entry.
 *
 * Write buffer: a `Map` from the key (a string form for tuples) to the key's slot in flat typed
 * arrays, the encoded entries in one arena buffer (so a buffered write allocates no object the
 * garbage collector has to copy until the flush), a min-heap of buffered expiries, and a B+ tree
 * in key order built only when a range scan needs it (then maintained until the next flush, so
 * a new key pays a tree insert in an interval where the store was range-scanned). Point reads
 * and writes cost one hash lookup and no key comparison.
 *
 * Durability: `flush()` runs one synchronous, abortable LMDB write transaction
 * (`transactionSync`), whose commit returns only after the data is written and, unless `noSync`
 * is set, fsync'ed. So once `flush()` has resolved, the flushed state and metadata survive a
 * `kill -9` of the process (always: the writes are in the OS page cache) and a machine crash or
 * power loss (with the default `noSync: false`). Writes after the last flush are lost as a whole;
 * a flush is all-or-nothing (if it throws, nothing was committed and the buffered writes stay
 * buffered). The price: the commit, including the fsync, blocks the event loop, and so do the
 * LMDB writes: `putSync`/`removeSync` inside the transaction, the cheapest path measured.
 * lmdb-js's asynchronous `batch` (writes on its write thread) took as long for a dedupe-like
 * flush (2.7 vs 2.8 µs per inserted + expired key) with 40% more CPU, and `useWritemap` was
 * slower (3.8 µs). Measured with `benchmarks/store.bench.ts`: a checkpoint of 100 puts takes
 * 1.2-5 ms (0.3-0.5 ms with `noSync`), mostly the fsyncs of an LMDB commit; a dedupe-like
 * checkpoint of 10k inserts + 10k expiries over 200k live keys about 75 ms (layout 1: ~135 ms).
 * After a mass delete LMDB's freelist grows and every later commit pays a few ms more for it.
 *
 * lmdb-js options, and why:
 * - `noSync` (default false): true skips fsync. Faster commits; a process crash still keeps
 *   flushed data, a machine crash may lose the last flushes. Only for scratch state.
 * - `overlappingSync` (lmdb-js default on Linux): kept. It only changes how lmdb-js's
 *   *asynchronous* batched commits sync; the synchronous commits used here fsync before returning.
 * - `useWritemap`: off. Slower here (above), lmdb-js discourages it (a stray pointer can corrupt
 *   the file), and it disables the child transactions nested `transactionSync` calls rely on.
 * - `commitDelay`, `eventTurnBatching`: not used; they batch lmdb-js's asynchronous `put`s, and
 *   this store batches in its own write buffer instead (which reads must see anyway).
 * - `cache`: off. The write buffer already holds recent writes; lmdb-js's object cache would
 *   return shared objects and disables child transactions. A random read of flushed data costs
 *   ~2 µs (200k entries, decode included).
 * - `useVersions`: off (no conditional writes).
 * - `structuredClone: true` (fixed): values round-trip like `structuredClone` (Set, Map, Date,
 *   typed arrays), so the memory and LMDB stores agree; without it a Set reads back as an array.
 *   `-0` in a value reads back as 0. Values are encoded with the msgpack encoder lmdb-js builds
 *   for the meta database from the root options (number values by the store itself, in msgpack
 *   int/float form: cheaper than a msgpackr call); the data databases hold raw bytes (header +
 *   msgpack) that the store decodes with it.
 * - `maxDbs`: lmdb-js defaults to 12; this store needs 2 per store + 2, hence 256 by default.
 * - `noMemInit: true`: skips zeroing malloc'ed pages (lmdb-js recommends it unless the database
 *   file could be read by someone who must not see leftover bytes of this process's own data).
 *
 * @module
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
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
  keyId,
} from './key-order.js';
import type { Entry, KeyPart, KeyValueStore, PutOptions, RangeOptions, StoreFactory, StoreKey } from './store.js';

export interface LmdbStoreFactoryOptions {
  /** Directory of the LMDB environment (created if missing). */
  path: string;
  /** Named databases the environment can hold: 2 per store + 2 (default 256, 127 stores). */
  maxDbs?: number;
  /** Initial map size in bytes (lmdb-js grows the map as needed). */
  mapSize?: number;
  /** Skip fsync on commit (see the module notes). Default false. */
  noSync?: boolean;
  /** Page size of a new environment (default: the OS page size). */
  pageSize?: number;
}

/** The on-disk layout this module reads and writes (see the module notes). */
export const LMDB_LAYOUT_VERSION = 2;
const LAYOUT_DB = 'tributary/layout';
const META_DB = 'tributary/meta';

/** lmdb-js exports ordered-binary's encoder at run time but does not declare it. */
const keyValueToBuffer = (lmdb as unknown as { keyValueToBuffer?: (key: unknown) => Uint8Array }).keyValueToBuffer;
if (typeof keyValueToBuffer !== 'function') throw new Error('lmdb does not export keyValueToBuffer');

/** The msgpackr encoder lmdb-js attaches to a database opened with the default encoding. */
interface Codec {
  encoder: { encode(value: unknown): Uint8Array };
  decoder: { decode(bytes: Uint8Array, options?: { start: number; end: number }): unknown };
}
type ValueCodec = Codec['decoder'] & Codec['encoder'];

/** Header byte of a data entry without / with an `expiresAt` (which then follows as float64 LE). */
const NO_EXPIRY = 0;
const HAS_EXPIRY = 1;
const EXPIRY_HEADER = 9;

/** Value of every expiry index entry (only its key matters). */
const INDEX_VALUE = lmdb.asBinary(Buffer.from([0]));

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

/** Scratch index key for a scalar store key (lmdb-js encodes a key before `putSync` returns). */
const INDEX_PAIR: [number, KeyPart] = [0, 0];

/** The expiry index key `[expiresAt, ...key]` (for a scalar key, the reused {@link INDEX_PAIR}). */
function indexKey(expiresAt: number, key: StoreKey): Key {
  if (typeof key === 'object') return expiryKey(expiresAt, key) as Key;
  INDEX_PAIR[0] = expiresAt;
  INDEX_PAIR[1] = key;
  return INDEX_PAIR;
}

/** Scratch space for {@link encodeValue}'s number encodings, and its views of each length. */
const NUMBER_BYTES = Buffer.alloc(9);
const NUMBER_VIEWS = [1, 2, 3, 5, 9].map((n) => NUMBER_BYTES.subarray(0, n));

/**
 * The msgpack encoding of a value (a view valid until the next call). Numbers, a common state
 * value (counters, timestamps), are encoded here, which costs a fraction of a msgpackr call:
 * unsigned 32-bit integers compactly, other 32-bit integers as int32, the rest as float64; `-0`
 * becomes 0 as with msgpackr. Everything else goes to msgpackr; msgpackr decodes both.
 */
function encodeValue(codec: ValueCodec, value: unknown): Uint8Array {
  if (typeof value !== 'number') return codec.encode(value);
  const b = NUMBER_BYTES;
  if (value >>> 0 === value) {
    if (value < 0x80) {
      b[0] = value;
      return NUMBER_VIEWS[0]!;
    }
    if (value < 0x100) {
      b[0] = 0xcc;
      b[1] = value;
      return NUMBER_VIEWS[1]!;
    }
    if (value < 0x10000) {
      b[0] = 0xcd;
      b.writeUInt16BE(value, 1);
      return NUMBER_VIEWS[2]!;
    }
    b[0] = 0xce;
    b.writeUInt32BE(value, 1);
    return NUMBER_VIEWS[3]!;
  }
  if (value >> 0 === value) {
    b[0] = 0xd2;
    b.writeInt32BE(value, 1);
    return NUMBER_VIEWS[3]!;
  }
  b[0] = 0xcb;
  b.writeDoubleBE(value, 1);
  return NUMBER_VIEWS[4]!;
}

/** The `expiresAt` in a data entry's header. */
function storedExpiresAt(bytes: Buffer): number | undefined {
  return bytes[0] === HAS_EXPIRY ? bytes.readDoubleLE(1) : undefined;
}

/** The value of the data entry at `bytes[start..end)`. */
function decodeStored(codec: ValueCodec, bytes: Uint8Array, start: number, end: number): unknown {
  return codec.decode(bytes, { start: start + (bytes[start] === HAS_EXPIRY ? EXPIRY_HEADER : 1), end });
}

function layoutError(path: string, found: string): Error {
  return new Error(
    `LMDB state at ${path} uses ${found}; this version of Tributary reads and writes on-disk layout ` +
      `${LMDB_LAYOUT_VERSION} only and does not migrate state. Delete the directory to start from empty ` +
      `state (the embedded runner rebuilds it by re-running the input), or open it with the Tributary ` +
      `version that wrote it.`,
  );
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
  private readonly codec: ValueCodec;
  private readonly metaPending = new Map<string, Buffer | undefined>();
  private readonly stores = new Map<string, LmdbStore<StoreKey, unknown>>();
  private closed = false;

  /** Opens (or creates) the environment; throws if it was written with another layout. */
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
    try {
      this.checkLayout();
      this.metaDb = this.openDb(META_DB);
    } catch (error) {
      this.root.close().catch(() => undefined);
      throw error;
    }
    const codec = this.metaDb as unknown as Codec;
    this.codec = { encode: (v) => codec.encoder.encode(v), decode: (b, o) => codec.decoder.decode(b, o) };
  }

  /** Checks the layout version, writing it into a new environment. */
  private checkLayout(): void {
    const existing = (name: string) =>
      this.root.openDB<unknown, Key>(name, { create: false } as lmdb.DatabaseOptions) as Database<unknown, Key> | undefined;
    const version = existing(LAYOUT_DB)?.get('version');
    if (version === LMDB_LAYOUT_VERSION) return;
    if (version !== undefined) throw layoutError(this.path, `on-disk layout ${JSON.stringify(version)}`);
    // Layout 2 writes the version before it opens the meta database, so meta without a version
    // is layout 1. Neither: a new environment (or one whose creation stopped before this point).
    if (existing(META_DB) !== undefined) {
      throw layoutError(this.path, 'on-disk layout 1 (three databases per store, no layout version)');
    }
    const created = this.openDb(LAYOUT_DB);
    this.root.transactionSync(() => created.putSync('version', LMDB_LAYOUT_VERSION));
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
      const codec = this.codec;
      // Values are raw bytes (header + msgpack) that the store writes itself; lmdb-js hands this
      // decoder a view of its read buffer (no copy) when a range scan reads values.
      const dataEncoding = {
        encode(): never {
          throw new Error('internal: data entries are written as bytes');
        },
        decode: (bytes: Uint8Array, end?: unknown) => decodeStored(codec, bytes, 0, typeof end === 'number' ? end : bytes.length),
      };
      store = new LmdbStore(
        name,
        this.openDb(`tributary/data/${name}`, { encoder: dataEncoding }),
        this.openDb(`tributary/expiry/${name}`, { encoding: 'binary' }),
        codec,
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
    // msgpackr returns a view of a buffer it reuses: copy.
    this.metaPending.set(key, Buffer.from(this.codec.encode(value)));
  }

  /** The metadata value for `key`, including one buffered since the last flush. */
  getMeta<T = unknown>(key: string): T | undefined {
    this.assertOpen();
    if (this.metaPending.has(key)) {
      const bytes = this.metaPending.get(key);
      return bytes === undefined ? undefined : (this.codec.decode(bytes) as T);
    }
    return this.metaDb.get(key) as T | undefined;
  }

  /** Removes a metadata value at the next flush. */
  deleteMeta(key: string): void {
    this.assertOpen();
    this.metaPending.set(key, undefined);
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
      for (const [key, bytes] of this.metaPending) {
        if (bytes === undefined) this.metaDb.removeSync(key);
        else this.metaDb.putSync(key, lmdb.asBinary(bytes));
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

  private openDb(name: string, options: object = {}): Database<unknown, Key> {
    try {
      return this.root.openDB<unknown, Key>(name, options as lmdb.DatabaseOptions);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes('MDB_DBS_FULL') || message.includes('maxDbs')) {
        throw new Error(
          `LMDB environment ${this.path}: cannot open database "${name}": too many named databases ` +
            `(each store uses 2; raise the maxDbs option of LmdbStoreFactory)`,
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

interface FactoryLink {
  flush(): Promise<void>;
  closed(store: LmdbStore<StoreKey, unknown>): void;
}

/** What the store knows about the committed entry of a key (saves a read at flush). */
const UNKNOWN = 0;
const ABSENT = 1;
const PRESENT = 2;

const INITIAL_SLOTS = 256;
const INITIAL_ARENA = 16 * 1024;

/**
 * The write buffer of one store. Each key written or deleted since the last flush has a *slot*:
 * its key in an array, its numbers in typed arrays, and a put's data entry bytes (header +
 * value) in one arena buffer, so a buffered write allocates no object the garbage collector has
 * to copy until the flush. A rewrite reuses the key's slot (and its arena bytes when the new
 * entry fits); the arena is compacted when superseded bytes outgrow live ones. The expiry heap
 * holds (slot, expiresAt) pairs and skips those whose slot has changed since.
 */
class WriteBuffer {
  /** id ({@link idOf}) → the key's slot. */
  index = new Map<string | number, number>();
  /** Slots in use (one per key). */
  slots = 0;
  keys: StoreKey[] = [];
  /** A put's data entry is `arena[start, end)`; a delete has start -1. */
  start = new Float64Array(INITIAL_SLOTS);
  end = new Float64Array(INITIAL_SLOTS);
  /** A put's `expiresAt` (NaN: none). */
  expiresAt = new Float64Array(INITIAL_SLOTS);
  /** UNKNOWN, ABSENT or PRESENT, and the committed entry's `expiresAt` (NaN: none). */
  committed = new Uint8Array(INITIAL_SLOTS);
  committedExpiresAt = new Float64Array(INITIAL_SLOTS);
  arena = Buffer.allocUnsafeSlow(INITIAL_ARENA);
  used = 0;
  /** Bytes of the arena that live entries use. */
  liveBytes = 0;
  /** Min-heap of buffered puts with an `expiresAt`: their slots, and the `expiresAt` pushed. */
  heapSlots = new Int32Array(INITIAL_SLOTS);
  heapKeys = new Float64Array(INITIAL_SLOTS);
  heapSize = 0;
  /** key → slot in key order; built by the first range scan, then maintained. */
  sorted: BTree<BoundKey, number> | undefined;

  get size(): number {
    return this.slots;
  }

  /** Empties the buffer (keeping its capacity unless it is much larger than what was used). */
  reset(): void {
    this.index = new Map();
    this.keys = [];
    if (this.start.length > 65_536 && this.slots < this.start.length / 4) this.allocate(INITIAL_SLOTS);
    if (this.heapSlots.length > 65_536 && this.heapSize < this.heapSlots.length / 4) this.allocateHeap(INITIAL_SLOTS);
    if (this.arena.length > 1 << 20 && this.used < this.arena.length / 4) this.arena = Buffer.allocUnsafeSlow(INITIAL_ARENA);
    this.slots = 0;
    this.used = 0;
    this.liveBytes = 0;
    this.heapSize = 0;
    this.sorted = undefined;
  }

  isPut(slot: number): boolean {
    return this.start[slot]! >= 0;
  }

  value(slot: number, codec: ValueCodec): unknown {
    return decodeStored(codec, this.arena, this.start[slot]!, this.end[slot]!);
  }

  /** The data entry bytes of a put (a view, valid until the next write). */
  bytes(slot: number): Buffer {
    return this.arena.subarray(this.start[slot]!, this.end[slot]!);
  }

  /** A slot for a key not buffered yet, with what is known of its committed entry. */
  newSlot(key: StoreKey, id: string | number, committed: number, committedExpiresAt: number): number {
    if (this.slots === this.start.length) this.grow(this.start.length * 2);
    const slot = this.slots++;
    this.keys[slot] = key;
    this.start[slot] = -1;
    this.end[slot] = -1;
    this.expiresAt[slot] = NaN;
    this.committed[slot] = committed;
    this.committedExpiresAt[slot] = committedExpiresAt;
    this.index.set(id, slot);
    this.sorted?.set(key, slot);
    return slot;
  }

  /** Makes `slot` a put of `encoded` (the msgpack value) with `expiresAt`. */
  put(slot: number, encoded: Uint8Array, expiresAt: number | undefined): void {
    const header = expiresAt === undefined ? 1 : EXPIRY_HEADER;
    const size = header + encoded.length;
    const oldStart = this.start[slot]!;
    let at: number;
    if (oldStart >= 0 && this.end[slot]! - oldStart >= size) {
      at = oldStart; // fits where the old entry was
      this.liveBytes -= this.end[slot]! - oldStart;
    } else {
      this.drop(slot);
      if (this.used + size > this.arena.length) this.makeArenaRoom(size);
      at = this.used;
      this.used += size;
    }
    const arena = this.arena;
    if (expiresAt === undefined) {
      arena[at] = NO_EXPIRY;
    } else {
      arena[at] = HAS_EXPIRY;
      arena.writeDoubleLE(expiresAt, at + 1);
    }
    arena.set(encoded, at + header);
    this.liveBytes += size;
    this.start[slot] = at;
    this.end[slot] = at + size;
    if (expiresAt === undefined) {
      this.expiresAt[slot] = NaN;
    } else {
      this.expiresAt[slot] = expiresAt;
      this.pushExpiry(slot, expiresAt);
    }
  }

  /** Makes `slot` a delete. */
  delete(slot: number): void {
    this.drop(slot);
    this.start[slot] = -1;
    this.end[slot] = -1;
    this.expiresAt[slot] = NaN;
  }

  /** Releases the arena bytes of a put (they become garbage until compaction). */
  private drop(slot: number): void {
    const start = this.start[slot]!;
    if (start >= 0) this.liveBytes -= this.end[slot]! - start;
  }

  /** Whether some buffered put (perhaps rewritten since) had an `expiresAt` at or before `w`. */
  hasExpiryDue(w: number): boolean {
    return this.heapSize > 0 && this.heapKeys[0]! <= w;
  }

  /**
   * Removes the heap's smallest pair; returns its slot when that slot is still a put with that
   * `expiresAt`, else -1 (rewritten, deleted or already expired since it was pushed).
   */
  popExpiry(): number {
    const slots = this.heapSlots;
    const keys = this.heapKeys;
    const top = slots[0]!;
    const topKey = keys[0]!;
    const n = --this.heapSize;
    if (n > 0) {
      const last = slots[n]!;
      const e = keys[n]!;
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && keys[child + 1]! < keys[child]!) child++;
        if (keys[child]! >= e) break;
        slots[i] = slots[child]!;
        keys[i] = keys[child]!;
        i = child;
      }
      slots[i] = last;
      keys[i] = e;
    }
    return this.start[top]! >= 0 && this.expiresAt[top] === topKey ? top : -1;
  }

  private pushExpiry(slot: number, e: number): void {
    if (this.heapSize === this.heapSlots.length) {
      // Mostly superseded pairs (a key rewritten with ever new expiries): rebuild from the slots.
      if (this.heapSize > 2 * this.slots + 1024) this.rebuildHeap();
      if (this.heapSize === this.heapSlots.length) this.allocateHeap(this.heapSlots.length * 2);
    }
    const slots = this.heapSlots;
    const keys = this.heapKeys;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= e) break;
      slots[i] = slots[parent]!;
      keys[i] = keys[parent]!;
      i = parent;
    }
    slots[i] = slot;
    keys[i] = e;
  }

  private rebuildHeap(): void {
    this.heapSize = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      const e = this.expiresAt[slot]!;
      if (this.start[slot]! >= 0 && !Number.isNaN(e)) this.pushExpiry(slot, e);
    }
  }

  /** Out of arena: compact when most of it is superseded bytes, else grow. */
  private makeArenaRoom(size: number): void {
    if (this.used - this.liveBytes > this.liveBytes + size) {
      const old = this.arena;
      this.arena = Buffer.allocUnsafeSlow(Math.max(INITIAL_ARENA, 2 * (this.liveBytes + size)));
      let at = 0;
      for (let slot = 0; slot < this.slots; slot++) {
        const s = this.start[slot]!;
        if (s < 0) continue;
        const e = this.end[slot]!;
        this.arena.set(old.subarray(s, e), at);
        this.start[slot] = at;
        this.end[slot] = at + (e - s);
        at += e - s;
      }
      this.used = at;
    }
    if (this.used + size > this.arena.length) {
      const arena = Buffer.allocUnsafeSlow(Math.max(this.arena.length * 2, this.used + size));
      arena.set(this.arena.subarray(0, this.used));
      this.arena = arena;
    }
  }

  private allocate(capacity: number): void {
    this.start = new Float64Array(capacity);
    this.end = new Float64Array(capacity);
    this.expiresAt = new Float64Array(capacity);
    this.committed = new Uint8Array(capacity);
    this.committedExpiresAt = new Float64Array(capacity);
  }

  private allocateHeap(capacity: number): void {
    const { heapSlots, heapKeys } = this;
    this.heapSlots = new Int32Array(capacity);
    this.heapKeys = new Float64Array(capacity);
    this.heapSlots.set(heapSlots.subarray(0, Math.min(this.heapSize, capacity)));
    this.heapKeys.set(heapKeys.subarray(0, Math.min(this.heapSize, capacity)));
  }

  private grow(capacity: number): void {
    const { start, end, expiresAt, committed, committedExpiresAt } = this;
    this.allocate(capacity);
    this.start.set(start);
    this.end.set(end);
    this.expiresAt.set(expiresAt);
    this.committed.set(committed);
    this.committedExpiresAt.set(committedExpiresAt);
  }

  /** The slots in key order (built on first use). */
  sortedTree(): BTree<BoundKey, number> {
    if (this.sorted === undefined) {
      const tree = newKeyTree<number>();
      for (let slot = 0; slot < this.slots; slot++) tree.set(this.keys[slot]!, slot);
      this.sorted = tree;
    }
    return this.sorted;
  }
}

/**
 * One store of an {@link LmdbStoreFactory}. Writes go to an in-memory write buffer that `get`,
 * `has`, `range`, `count` and `expire` merge with the committed data; the factory's flush commits
 * and empties it.
 *
 * Values are encoded at `put` (so encoding errors surface there) and decoded on every read,
 * buffered or committed: a read always returns a fresh copy.
 */
export class LmdbStore<K extends StoreKey = StoreKey, V = unknown> implements KeyValueStore<K, V> {
  readonly name: string;
  /** Buffered writes since the last flush. */
  private buf = new WriteBuffer();
  /** `clear()` was called since the last flush: committed data is hidden and dropped at flush. */
  private cleared = false;
  /** Bumped by every flush and clear, so open iterators re-read committed data. */
  private generation = 0;
  /** Whether any entry may have an expiry (skips the expiry bookkeeping at flush otherwise). */
  private expiryInUse: boolean;
  /**
   * Committed expiry index keys read ahead by `expire` since the last flush, the next one to
   * handle, and whether the index ends after them. Read in growing chunks, so the steady
   * one-or-two-due-per-call pattern does not open an LMDB cursor per call.
   */
  private upcoming: (readonly KeyPart[])[] = [];
  private upcomingAt = 0;
  private upcomingLast = false;
  private readAhead = 0;
  /**
   * A lower bound of the `expiresAt` of the committed index entries `expire` has not handled yet
   * (-Infinity: unknown), so `expire` skips the index while nothing can be due.
   */
  private committedExpiryFloor = -Infinity;
  /** An upper bound of every committed `expiresAt` (NaN: unknown). */
  private committedExpiryCeiling = NaN;
  /** The last key read from committed data by `get`/`has` and what was found (for `put`). */
  private lastReadId: string | number | undefined;
  private lastReadState = UNKNOWN;
  private lastReadExpiresAt = NaN;
  /** Bounds of the `expiresAt` of the index entries {@link writePending} wrote. */
  private writtenExpiryMin = Infinity;
  private writtenExpiryMax = -Infinity;
  private closed = false;

  /** @internal Use {@link LmdbStoreFactory.open}. */
  constructor(
    name: string,
    private readonly data: Database<unknown, Key>,
    private readonly expiryIndex: Database<unknown, Key>,
    private readonly codec: ValueCodec,
    private readonly factory: FactoryLink,
  ) {
    this.name = name;
    this.expiryInUse = this.indexCount() > 0;
  }

  /** @internal Whether there are buffered writes. */
  get dirty(): boolean {
    return this.cleared || this.buf.size > 0;
  }

  get(key: K): V | undefined {
    this.assertOpen();
    const k = validateKey(this.name, key);
    const id = keyId(k);
    const slot = this.buf.index.get(id);
    if (slot !== undefined) return this.buf.isPut(slot) ? (this.buf.value(slot, this.codec) as V) : undefined;
    if (this.cleared) return undefined;
    const bytes = this.readCommitted(id, k);
    return bytes === undefined ? undefined : (decodeStored(this.codec, bytes, 0, bytes.length) as V);
  }

  has(key: K): boolean {
    this.assertOpen();
    const k = validateKey(this.name, key);
    const id = keyId(k);
    const slot = this.buf.index.get(id);
    if (slot !== undefined) return this.buf.isPut(slot);
    return !this.cleared && this.readCommitted(id, k) !== undefined;
  }

  expiresAtOf(key: K): number | undefined {
    this.assertOpen();
    const k = validateKey(this.name, key);
    const slot = this.buf.index.get(keyId(k));
    if (slot !== undefined) {
      const e = this.buf.expiresAt[slot]!;
      return this.buf.isPut(slot) && !Number.isNaN(e) ? e : undefined;
    }
    if (this.cleared) return undefined;
    const bytes = this.data.getBinaryFast(k as Key);
    return bytes === undefined ? undefined : storedExpiresAt(bytes);
  }

  /**
   * Reads the committed entry of `k` (a view of lmdb-js's read buffer, valid until the next read)
   * and remembers what was found, for a `put` of the same key that follows.
   */
  private readCommitted(id: string | number, k: StoreKey): Buffer | undefined {
    const bytes = this.data.getBinaryFast(k as Key);
    this.lastReadId = id;
    if (bytes === undefined) {
      this.lastReadState = ABSENT;
      this.lastReadExpiresAt = NaN;
    } else {
      this.lastReadState = PRESENT;
      this.lastReadExpiresAt = storedExpiresAt(bytes) ?? NaN;
    }
    return bytes;
  }

  put(key: K, value: V, options?: PutOptions): void {
    this.assertOpen();
    const k = ownKey(validateKey(this.name, key));
    const expiresAt = validateExpiresAt(this.name, options?.expiresAt);
    this.write(k, keyId(k), encodeValue(this.codec, value), expiresAt);
    if (expiresAt !== undefined) this.expiryInUse = true;
  }

  delete(key: K): void {
    this.assertOpen();
    const k = ownKey(validateKey(this.name, key));
    this.write(k, keyId(k), undefined, undefined);
  }

  /** Buffers a put or delete (`encoded` undefined) of `k`. */
  private write(k: StoreKey, id: string | number, encoded: Uint8Array | undefined, expiresAt: number | undefined): void {
    const buf = this.buf;
    let slot = buf.index.get(id);
    if (slot === undefined) {
      // What is known of the committed entry (kept while the key stays buffered).
      if (this.cleared) slot = buf.newSlot(k, id, ABSENT, NaN);
      else if (id === this.lastReadId) slot = buf.newSlot(k, id, this.lastReadState, this.lastReadExpiresAt);
      else slot = buf.newSlot(k, id, UNKNOWN, NaN);
    }
    if (encoded === undefined) buf.delete(slot);
    else buf.put(slot, encoded, expiresAt);
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
        const tree = this.buf.sortedTree();
        const buffered = cursor === undefined ? firstPair(tree, plan) : nextPair(tree, plan, cursor);
        if (buffered === undefined && peeked === undefined) return;
        const c =
          buffered === undefined ? 1 : peeked === undefined ? -1 : compareBoundKeys(buffered[0], peeked.key) * direction;
        if (c <= 0) {
          cursor = buffered![0];
          if (c === 0) peeked = this.nextCommitted(plan, committed);
          const slot = buffered![1];
          if (!this.buf.isPut(slot)) continue;
          emitted++;
          yield { key: cursor as K, value: this.buf.value(slot, this.codec) as V };
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
   * buffer's expiry heap, committed ones from the committed expiry index, read in key order from
   * its start (and, between flushes, from where the previous call stopped). Each part costs one
   * comparison while its smallest `expiresAt` is past the watermark. Returns how many.
   */
  expire(watermark: number): number {
    this.assertOpen();
    const w = validateWatermark(this.name, watermark);
    const removed = this.buf.hasExpiryDue(w) ? this.expireBuffered(w) : 0;
    if (w < this.committedExpiryFloor || this.cleared || !this.expiryInUse) return removed;
    return removed + this.expireCommitted(w);
  }

  private expireBuffered(w: number): number {
    const buf = this.buf;
    let removed = 0;
    while (buf.hasExpiryDue(w)) {
      const slot = buf.popExpiry();
      if (slot < 0) continue; // rewritten or deleted since
      buf.delete(slot);
      removed++;
    }
    return removed;
  }

  private expireCommitted(w: number): number {
    // (Committed entries handled below since the last flush are buffered deletes by now.)
    if (this.allCommittedDue(w)) return this.expireAllCommitted();
    const buf = this.buf;
    let removed = 0;
    for (;;) {
      if (this.upcomingAt === this.upcoming.length && !this.readIndexAhead()) {
        this.committedExpiryFloor = Infinity;
        break;
      }
      const ik = this.upcoming[this.upcomingAt]!;
      const expiresAt = ik[0] as number;
      if (expiresAt > w) {
        this.committedExpiryFloor = expiresAt;
        break;
      }
      this.upcomingAt++;
      const key = keyOfExpiry(ik);
      const id = keyId(key);
      // A buffered write or delete of the key decides (its own expiry was handled above).
      if (buf.index.has(id)) continue;
      buf.newSlot(key, id, PRESENT, expiresAt);
      removed++;
    }
    return removed;
  }

  /** Reads the next chunk of committed expiry index keys; false at the end of the index. */
  private readIndexAhead(): boolean {
    if (this.upcomingLast) return false;
    this.readAhead = Math.min(4096, Math.max(64, this.readAhead * 2));
    const last = this.upcoming[this.upcoming.length - 1];
    const options: lmdb.RangeOptions =
      last === undefined ? { limit: this.readAhead } : { start: last as Key, exclusiveStart: true, limit: this.readAhead };
    const keys: (readonly KeyPart[])[] = [];
    for (const key of this.expiryIndex.getKeys(options)) keys.push(key as readonly KeyPart[]);
    this.upcoming = keys;
    this.upcomingAt = 0;
    this.upcomingLast = keys.length < this.readAhead;
    return keys.length > 0;
  }

  /**
   * Whether every committed entry has an expiry at or before `w` (every data entry is indexed and
   * the largest indexed `expiresAt` is due). Cheap: an upper bound of the committed expiries is
   * kept across flushes; the counts are read only when it is due.
   */
  private allCommittedDue(w: number): boolean {
    if (Number.isNaN(this.committedExpiryCeiling)) {
      let ceiling = -Infinity;
      for (const indexKey of this.expiryIndex.getKeys({ reverse: true, limit: 1 })) {
        ceiling = (indexKey as readonly KeyPart[])[0] as number;
      }
      this.committedExpiryCeiling = ceiling;
    }
    if (w < this.committedExpiryCeiling) return false;
    const n = this.indexCount();
    return n > 0 && n === this.committedCount();
  }

  /**
   * Every committed entry is due: hide and drop the committed data as `clear()` does (the flush
   * then empties both databases instead of deleting entry by entry) and keep the buffered writes.
   * Returns how many committed entries that removes: those without a buffered write or delete.
   */
  private expireAllCommitted(): number {
    let removed = this.committedCount();
    for (let slot = 0; slot < this.buf.slots; slot++) {
      if (this.committedState(slot) === PRESENT) removed--;
    }
    // From here on the buffered writes apply to empty committed data (see writePending, count).
    this.markCleared();
    return removed;
  }

  /**
   * Exact count: committed entries (LMDB's O(1) entry count) adjusted for the buffered writes,
   * each checked against the committed data unless already known, so O(buffered writes).
   */
  count(): number {
    this.assertOpen();
    const buf = this.buf;
    let n = this.cleared ? 0 : this.committedCount();
    for (let slot = 0; slot < buf.slots; slot++) {
      const committed = !this.cleared && this.committedState(slot) === PRESENT;
      if (!buf.isPut(slot)) {
        if (committed) n--;
      } else if (!committed) n++;
    }
    return n;
  }

  private committedState(slot: number): number {
    const state = this.buf.committed[slot]!;
    if (state !== UNKNOWN) return state;
    return this.data.doesExist(this.buf.keys[slot] as Key) ? PRESENT : ABSENT;
  }

  private committedCount(): number {
    return (this.data.getStats() as { entryCount: number }).entryCount;
  }

  private indexCount(): number {
    return (this.expiryIndex.getStats() as { entryCount: number }).entryCount;
  }

  /** Flushes the whole factory (every store and the metadata, one transaction). */
  flush(): Promise<void> {
    this.assertOpen();
    return this.factory.flush();
  }

  clear(): void {
    this.assertOpen();
    this.buf.reset();
    this.markCleared();
  }

  private markCleared(): void {
    this.cleared = true;
    this.resetReads();
    this.generation++;
  }

  /** Forgets what was read from committed data (it is about to change or be hidden). */
  private resetReads(): void {
    this.upcoming = [];
    this.upcomingAt = 0;
    this.upcomingLast = false;
    this.readAhead = 0;
    this.lastReadId = undefined;
  }

  /** Releases the store; its unflushed writes are discarded. The environment stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.buf = new WriteBuffer();
    this.factory.closed(this as unknown as LmdbStore<StoreKey, unknown>);
  }

  /**
   * @internal Writes the buffer into the factory's open write transaction: per buffered write, the
   * data entry and, when its expiry changed, the index entries (see the module notes for costs).
   * Leaves the buffer as it is (a failed commit keeps it).
   */
  writePending(): void {
    const buf = this.buf;
    if (this.cleared) {
      this.data.clearSync();
      this.expiryIndex.clearSync();
    }
    const trackExpiry = this.expiryInUse;
    let min = Infinity;
    let max = -Infinity;
    for (let slot = 0; slot < buf.slots; slot++) {
      const key = buf.keys[slot]!;
      let committed = this.cleared ? ABSENT : buf.committed[slot]!;
      let old = committed === PRESENT ? buf.committedExpiresAt[slot]! : NaN;
      if (committed === UNKNOWN && trackExpiry) {
        const bytes = this.data.getBinaryFast(key as Key);
        committed = bytes === undefined ? ABSENT : PRESENT;
        old = bytes === undefined ? NaN : (storedExpiresAt(bytes) ?? NaN);
      }
      const put = buf.isPut(slot);
      const next = put ? buf.expiresAt[slot]! : NaN;
      const hasOld = !Number.isNaN(old);
      const hasNext = !Number.isNaN(next);
      if (hasOld !== hasNext || (hasOld && old !== next)) {
        if (hasOld) this.expiryIndex.removeSync(indexKey(old, key));
        if (hasNext) this.expiryIndex.putSync(indexKey(next, key), INDEX_VALUE);
      }
      if (hasNext) {
        if (next < min) min = next;
        if (next > max) max = next;
      }
      if (put) this.data.putSync(key as Key, lmdb.asBinary(buf.bytes(slot)));
      else if (committed !== ABSENT) this.data.removeSync(key as Key);
    }
    this.writtenExpiryMin = min;
    this.writtenExpiryMax = max;
  }

  /** @internal The factory committed {@link writePending}: empty the buffer. */
  flushed(): void {
    if (this.cleared) {
      this.committedExpiryFloor = this.writtenExpiryMin;
      this.committedExpiryCeiling = this.writtenExpiryMax;
    } else {
      // Removals only raise the smallest and lower the largest committed expiry: the old bounds
      // stay bounds once widened by what this flush indexed (an unknown bound stays unknown).
      this.committedExpiryFloor = Math.min(this.committedExpiryFloor, this.writtenExpiryMin);
      this.committedExpiryCeiling = Math.max(this.committedExpiryCeiling, this.writtenExpiryMax);
    }
    this.buf.reset();
    this.cleared = false;
    this.resetReads();
    this.generation++;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`store "${this.name}" is closed`);
  }
}

/** LMDB's meta-page magic number (MDB_MAGIC), right after the first page's header. */
const LMDB_MAGIC = 0xbeefc0de;

/** Why an LMDB data file cannot be opened safely, or undefined (absent, empty or sound meta pages). */
export function lmdbFileProblem(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(32);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n === 0) return undefined;
    // The magic follows the page header: 16 bytes in LMDB 0.9, 24 in the LMDB 1.x lmdb-js ships.
    const magicAt = (offset: number) => n >= offset + 4 && head.readUInt32LE(offset) === LMDB_MAGIC;
    if (!magicAt(24) && !magicAt(16)) return `${file} is not an LMDB data file (bad meta page)`;
    return undefined;
  } finally {
    closeSync(fd);
  }
}
