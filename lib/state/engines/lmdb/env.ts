/**
 * LMDB state stores (lmdb-js): one LMDB environment per {@link LmdbStoreFactory}, one named
 * database per store (plus its expiry index), writes buffered in memory until the factory's
 * `flush()` commits every store (and the checkpoint metadata) in one transaction. This file opens
 * the environment and owns what is shared by its stores: the layout check, the named databases,
 * the metadata values, the flush and close. The stores themselves are in `store.ts`.
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
 *   (Encoding: `codec.ts`.)
 * - `tributary/expiry/<store>`: `[expiresAt, ...key]` → a 1-byte placeholder: the expiry index,
 *   so `expire(watermark)` is a range scan from the smallest `expiresAt` (`expiry.ts`).
 * - `tributary/meta`: the factory's {@link LmdbStoreFactory.putMeta} values.
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
 * flush with more CPU, and `useWritemap` was slower. A checkpoint's time is mostly the fsyncs of
 * an LMDB commit. After a mass delete LMDB's freelist grows and every later commit pays a little
 * more for it. The measured figures (`benchmarks/store.bench.ts`) are in `benchmarks/RESULTS.md`,
 * section "LMDB engine costs".
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
 *   return shared objects and disables child transactions. A random read of flushed data is cheap
 *   without it (figure in `benchmarks/RESULTS.md`).
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
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as lmdb from 'lmdb';
import type { Database, Key, RootDatabase } from 'lmdb';
import type { KeyValueStore, StoreFactory, StoreKey } from '../../store.js';
import { type Codec, type ValueCodec, decodeStored } from './codec.js';
import { StateCorruptedError, stateCorruption } from './corruption.js';
import { lmdbFileProblem } from './probe.js';
import { LmdbStore } from './store.js';

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

function layoutError(path: string, found: string): Error {
  return new Error(
    `LMDB state at ${path} uses ${found}; this version of Tributary reads and writes on-disk layout ` +
      `${LMDB_LAYOUT_VERSION} only and does not migrate state. Delete the directory to start from empty ` +
      `state (the embedded runner rebuilds it by re-running the input), or open it with the Tributary ` +
      `version that wrote it.`,
  );
}

/**
 * Deletes the LMDB environment at `path` (its data and lock files; the directory and anything
 * else in it stay). Only while no factory has it open.
 */
export function deleteLmdbEnvironment(path: string): void {
  for (const file of ['data.mdb', 'lock.mdb']) rmSync(join(path, file), { force: true });
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

  /**
   * Opens (or creates) the environment; throws if it was written with another layout, and a
   * {@link StateCorruptedError} if its data file is damaged (checked before LMDB maps it).
   */
  constructor(options: LmdbStoreFactoryOptions) {
    this.path = options.path;
    mkdirSync(options.path, { recursive: true });
    const dataFile = join(options.path, 'data.mdb');
    const problem = lmdbFileProblem(dataFile);
    if (problem) throw new StateCorruptedError(dataFile, problem);
    const rootOptions = {
      path: options.path,
      maxDbs: options.maxDbs ?? 256,
      noSync: options.noSync ?? false,
      noMemInit: true,
      structuredClone: true,
      ...(options.mapSize === undefined ? {} : { mapSize: options.mapSize }),
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    };
    try {
      this.root = lmdb.open(rootOptions);
    } catch (error) {
      throw stateCorruption(error, dataFile) ?? error;
    }
    try {
      this.checkLayout();
      this.metaDb = this.openDb(META_DB);
    } catch (error) {
      this.root.close().catch(() => undefined);
      throw stateCorruption(error, dataFile) ?? error;
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

  /** The names of the stores the environment holds (opened or not), sorted. */
  storeNames(): string[] {
    this.assertOpen();
    const prefix = 'tributary/data/';
    return [...this.root.getKeys()].map(String).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort();
  }

  /** The committed metadata keys, sorted. */
  metaKeys(): string[] {
    this.assertOpen();
    return [...this.metaDb.getKeys()].map(String).sort();
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
