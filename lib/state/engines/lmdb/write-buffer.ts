/**
 * The write buffer of one LMDB store: the writes and deletes made since the last flush, which
 * the store's reads merge over the committed data and the factory's flush writes in one LMDB
 * transaction.
 *
 * A `Map` from the key (a string form for tuples) to the key's slot in flat typed arrays, the
 * encoded entries in one arena buffer (so a buffered write allocates no object the garbage
 * collector has to copy until the flush), a min-heap of buffered expiries, and a B+ tree in key
 * order built only when a range scan needs it (then maintained until the next flush, so a new key
 * pays a tree insert in an interval where the store was range-scanned). Point reads and writes
 * cost one hash lookup and no key comparison.
 *
 * @module
 */
import { type BoundKey, type BTree } from '../../key-order.js';
import { newKeyTree } from '../../range-plan.js';
import type { StoreKey } from '../../store.js';
import { EXPIRY_HEADER, HAS_EXPIRY, NO_EXPIRY, type ValueCodec, decodeStored } from './codec.js';

/** What the store knows about the committed entry of a key (saves a read at flush). */
export const UNKNOWN = 0;
export const ABSENT = 1;
export const PRESENT = 2;

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
export class WriteBuffer {
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
