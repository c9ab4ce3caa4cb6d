/**
 * The committed half of an LMDB store's `expire(watermark)`: finding the committed entries whose
 * `expiresAt` is due in the store's expiry index and turning them into buffered deletes (the
 * buffered half, the write buffer's expiry heap, is in `store.ts` and `write-buffer.ts`).
 *
 * `expire(watermark)` costs a comparison while nothing is due: the store keeps a lower bound of
 * the unhandled committed index entries and a min-heap of buffered expiries. When something is
 * due it reads the committed index ahead in chunks (64 up to 4096 keys per LMDB cursor), so the
 * one-due-entry-per-call pattern of an advancing watermark does not open a cursor per call. When
 * every committed entry has an expiry and all are due (typically the end of a bounded input,
 * watermark +∞), the flush drops both databases (as after `clear()`) instead of deleting entry by
 * entry. Measured costs: `benchmarks/RESULTS.md`.
 *
 * @module
 */
import type { Database, Key, RangeOptions } from 'lmdb';
import { keyId, keyOfExpiry } from '../../key-order.js';
import type { KeyPart } from '../../store.js';
import { PRESENT, type WriteBuffer } from './write-buffer.js';

/** @internal What {@link CommittedExpiry} needs of the store it works for. */
export interface ExpiryHost {
  /** Entries in the committed data (LMDB's O(1) entry count). */
  committedCount(): number;
  /** PRESENT or ABSENT: whether the key of a write buffer slot has a committed entry. */
  committedState(slot: number): number;
  /** Hides the committed data and drops it at the next flush, as `clear()` does. */
  markCleared(): void;
}

/**
 * @internal The expiry of one LMDB store's committed entries: the read-ahead of its expiry index
 * and bounds of the committed `expiresAt`, kept between `expire` calls and across flushes.
 */
export class CommittedExpiry {
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
  floor = -Infinity;
  /** An upper bound of every committed `expiresAt` (NaN: unknown). */
  private ceiling = NaN;
  /** Bounds of the `expiresAt` of the index entries the store's `writePending` wrote. */
  private writtenMin = Infinity;
  private writtenMax = -Infinity;

  constructor(
    private readonly expiryIndex: Database<unknown, Key>,
    private readonly store: ExpiryHost,
  ) {}

  /** Entries in the expiry index (LMDB's O(1) entry count). */
  indexCount(): number {
    return (this.expiryIndex.getStats() as { entryCount: number }).entryCount;
  }

  /**
   * Makes the committed entries due at `w` buffered deletes in `buf` (those without a buffered
   * write or delete); returns how many.
   */
  expire(w: number, buf: WriteBuffer): number {
    // (Committed entries handled below since the last flush are buffered deletes by now.)
    if (this.allDue(w)) return this.expireAll(buf);
    let removed = 0;
    for (;;) {
      if (this.upcomingAt === this.upcoming.length && !this.readIndexAhead()) {
        this.floor = Infinity;
        break;
      }
      const ik = this.upcoming[this.upcomingAt]!;
      const expiresAt = ik[0] as number;
      if (expiresAt > w) {
        this.floor = expiresAt;
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
    const options: RangeOptions =
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
  private allDue(w: number): boolean {
    if (Number.isNaN(this.ceiling)) {
      let ceiling = -Infinity;
      for (const indexKey of this.expiryIndex.getKeys({ reverse: true, limit: 1 })) {
        ceiling = (indexKey as readonly KeyPart[])[0] as number;
      }
      this.ceiling = ceiling;
    }
    if (w < this.ceiling) return false;
    const n = this.indexCount();
    return n > 0 && n === this.store.committedCount();
  }

  /**
   * Every committed entry is due: hide and drop the committed data as `clear()` does (the flush
   * then empties both databases instead of deleting entry by entry) and keep the buffered writes.
   * Returns how many committed entries that removes: those without a buffered write or delete.
   */
  private expireAll(buf: WriteBuffer): number {
    let removed = this.store.committedCount();
    for (let slot = 0; slot < buf.slots; slot++) {
      if (this.store.committedState(slot) === PRESENT) removed--;
    }
    // From here on the buffered writes apply to empty committed data (see writePending, count).
    this.store.markCleared();
    return removed;
  }

  /** Forgets the index keys read ahead (the committed data is about to change or be hidden). */
  reset(): void {
    this.upcoming = [];
    this.upcomingAt = 0;
    this.upcomingLast = false;
    this.readAhead = 0;
  }

  /** The store's `writePending` wrote index entries with `expiresAt` in [min, max] (none: ∞, -∞). */
  written(min: number, max: number): void {
    this.writtenMin = min;
    this.writtenMax = max;
  }

  /** The flush committed; `cleared`: it emptied both databases before writing. */
  flushed(cleared: boolean): void {
    if (cleared) {
      this.floor = this.writtenMin;
      this.ceiling = this.writtenMax;
    } else {
      // Removals only raise the smallest and lower the largest committed expiry: the old bounds
      // stay bounds once widened by what this flush indexed (an unknown bound stays unknown).
      this.floor = Math.min(this.floor, this.writtenMin);
      this.ceiling = Math.max(this.ceiling, this.writtenMax);
    }
  }
}
