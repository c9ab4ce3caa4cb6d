/**
 * One LMDB store: `get`, `has`, `put`, `delete`, `range`, `count`, `expire` and `clear` over one
 * named database, with the writes since the last flush held in a write buffer
 * (`write-buffer.ts`) that every read merges over the committed data; the factory (`env.ts`)
 * flushes all its stores in one transaction, calling {@link LmdbStore.writePending} and then
 * {@link LmdbStore.flushed} on each. The expiry of committed entries is in `expiry.ts`.
 *
 * LMDB operations per buffered write at flush (what each costs is measured in
 * `benchmarks/RESULTS.md`, section "LMDB engine costs"):
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
 * @module
 */
import * as lmdb from 'lmdb';
import type { Database, Key } from 'lmdb';
import { type BoundKey, compareBoundKeys, ownKey, validateExpiresAt, validateKey, validateWatermark, keyId } from '../../key-order.js';
import { type RangePlan, beyond, firstPair, nextPair, planRange } from '../../range-plan.js';
import type { Entry, KeyValueStore, PutOptions, RangeOptions, StoreKey } from '../../store.js';
import { INDEX_VALUE, type ValueCodec, decodeStored, encodeValue, indexKey, lmdbBound, storedExpiresAt } from './codec.js';
import { CommittedExpiry } from './expiry.js';
import { ABSENT, PRESENT, UNKNOWN, WriteBuffer } from './write-buffer.js';

/** What a store needs of its factory. */
interface FactoryLink {
  flush(): Promise<void>;
  closed(store: LmdbStore<StoreKey, unknown>): void;
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
  /** Expiry of committed entries: the read-ahead of the expiry index and bounds of its `expiresAt`. */
  private readonly expiry: CommittedExpiry;
  /** The last key read from committed data by `get`/`has` and what was found (for `put`). */
  private lastReadId: string | number | undefined;
  private lastReadState = UNKNOWN;
  private lastReadExpiresAt = NaN;
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
    this.expiry = new CommittedExpiry(expiryIndex, {
      committedCount: () => this.committedCount(),
      committedState: (slot) => this.committedState(slot),
      markCleared: () => this.markCleared(),
    });
    this.expiryInUse = this.expiry.indexCount() > 0;
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
    if (w < this.expiry.floor || this.cleared || !this.expiryInUse) return removed;
    return removed + this.expiry.expire(w, this.buf);
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

  /** Bytes of the store's committed pages (its B-tree and its expiry index). */
  bytes(): number {
    this.assertOpen();
    return pagesBytes(this.data.getStats()) + pagesBytes(this.expiryIndex.getStats());
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
    this.expiry.reset();
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
    this.expiry.written(min, max);
  }

  /** @internal The factory committed {@link writePending}: empty the buffer. */
  flushed(): void {
    this.expiry.flushed(this.cleared);
    this.buf.reset();
    this.cleared = false;
    this.resetReads();
    this.generation++;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`store "${this.name}" is closed`);
  }
}

/** Bytes of the pages an LMDB database's statistics count. */
function pagesBytes(stats: unknown): number {
  const s = stats as { pageSize?: number; treeBranchPageCount?: number; treeLeafPageCount?: number; overflowPages?: number };
  return (s.pageSize ?? 4096) * ((s.treeBranchPageCount ?? 0) + (s.treeLeafPageCount ?? 0) + (s.overflowPages ?? 0));
}
