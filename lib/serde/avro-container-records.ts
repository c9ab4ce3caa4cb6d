/**
 * The per-record checks of an Avro container file's reader, made where the record's bytes are
 * still at hand: avsc's block decoder reads each record through one private function (set when
 * the file's header is read, just before its `metadata` event; avsc 5.7), which
 * {@link checkRecords} wraps.
 *
 * - A string that is not UTF-8: avsc decodes such bytes as U+FFFD, and only the record's bytes
 *   tell a replaced byte from a real U+FFFD (`avro-utf8.ts`). The record is `invalid-utf8`.
 * - A record nested too deep for avsc's recursive reader (thousands of levels: the event
 *   schema's JSON values nest without bound): the reader overflows the stack, and the records
 *   after it could not be found any more. It is stepped over without recursion
 *   (`avro-skip.ts`) and is `too-deep`; the next record is read as usual.
 * - A record with a value avsc refuses to build (a long of 2^53 or more, which a JavaScript
 *   number cannot hold exactly; an enum index out of range): it is `malformed-avro` with its
 *   bytes, and the next record is read as usual.
 * - A record whose bytes announce more items than they can hold (avsc would build them all: a
 *   few bytes announcing 10⁹ items fill the heap), that ends past its block or whose bytes stop
 *   making sense: checked before avsc reads it. Where it ends is not known, so the rest of its
 *   block is skipped with it (`malformed-avro`, saying how many records), and the next block is
 *   read (blocks are framed by their size and sync marker: the reader finds the next one).
 *
 * - A record longer than the reader's `maxRecordBytes`: `oversized`, found from its bounds
 *   before avsc builds it (a 600 MB string would be built, then refused by V8).
 * - A block announcing 0 records: avsc waited for ever for one (the process exited 13 with no
 *   word). An empty one costs nothing ({@link isNothing}); bytes in one are `malformed-avro`.
 * - Bytes left in a block after the records it announced: `malformed-avro`, once, after them.
 *
 * A rejected record is handed on as a {@link RejectedRecord} with its bytes, in place of its value.
 *
 * @module
 */
import type { Type } from 'avsc';
import { TOO_DEEP } from './avro-event-codec.js';
import { avroValueEnd, AvroTypeNotWalkable, isStackOverflow } from './avro-skip.js';
import { invalidUtf8InAvro, replacementCount } from './avro-utf8.js';

const REJECTED = Symbol('rejected Avro record');

/** What the wrapped reader gives for a rejected record. */
export interface RejectedRecord {
  [REJECTED]: true;
  reason: 'invalid-utf8' | 'too-deep' | 'malformed-avro' | 'oversized';
  detail: string;
  /** The record's bytes in base64 ('' when where it ends is not known). */
  raw: string;
  /** Records of its block after it that were skipped with it (where they begin is not known). */
  skipped: number;
  /** False when no record's bytes were there (its block announced more records than it holds). */
  record: boolean;
}

/** Whether `value`, read by a wrapped reader, is a rejected record. */
export const isRejected = (value: object): value is RejectedRecord => REJECTED in value;

/** What the wrapped reader gives for an empty block (avsc needs an item per block read). */
const NOTHING = Object.freeze({ [Symbol.for('tributary.avro.nothing')]: true });
/** Whether `value`, read by a wrapped reader, stands for no record (an empty block). */
export const isNothing = (value: object): boolean => value === NOTHING;

/** avsc's read position over a block's bytes (its `Tap`). */
interface AvroTap {
  buf: Buffer;
  pos: number;
}

/** avsc's block decoder, as far as the reader uses its private parts (avsc 5.7). */
export interface BlockDecoderInternals {
  /** Reads one record from a block's bytes (set when the header is read, just before `metadata`). */
  _readValue?: (tap: AvroTap) => unknown;
  /** Records of the current block still to read (the one being read already taken off). */
  _remaining?: number;
  /** The read buffer of the file's bytes (what is left over after the last complete block). */
  _tap?: { buf?: unknown; pos?: unknown };
  /** Makes the callback a block's decompressed bytes are handed to (one per block, in file order). */
  _createBlockCallback?: (size: number, count: number, cb: () => void) => (cause: unknown, data?: Buffer) => void;
  /** The block codec's name. */
  _codec?: string;
}

/** Blocks whose records cannot be read (their bytes did not decompress), with why and how many records they hold. */
const unreadable = new WeakMap<Buffer, { why: string; count: number }>();
/** Each block's record count as its header announced it, and as avsc was given it (clamped). */
const counts = new WeakMap<Buffer, { announced: number; given: number }>();
/** Blocks with bytes left after the records they announced (one more read reports them). */
const trailing = new WeakSet<Buffer>();

const rejected = (reason: RejectedRecord['reason'], detail: string, bytes: Buffer | undefined, skipped = 0, record = true): RejectedRecord => ({
  [REJECTED]: true,
  reason,
  detail,
  raw: bytes === undefined ? '' : Buffer.from(bytes).toString('base64'),
  skipped,
  record,
});

/**
 * Wraps the decoder's block callbacks. avsc keeps a block's record count as `count | 0`: a count
 * of 2^32 became 0, the block vanished and the reader waited for ever (the process exited 13 with
 * no word); such a count is clamped (the records are read until the block's bytes end). A block
 * whose bytes do not decompress ended the read, and the blocks before it still queued were lost:
 * its records become one `malformed-avro` item, and the next block is read.
 */
function checkBlocks(decoder: BlockDecoderInternals): void {
  const create = decoder._createBlockCallback;
  if (typeof create !== 'function') return;
  decoder._createBlockCallback = function (this: BlockDecoderInternals, size, count, cb) {
    // 0 as 1: avsc reads one item per block and waits for ever on a block of none.
    const given = count > 0 && count <= 0x7fffffff ? count : count === 0 ? 1 : 0x7fffffff;
    const inner = create.call(this, size, given, cb);
    return (cause, data) => {
      if (!cause) {
        if (data !== undefined) counts.set(data, { announced: count, given });
        return inner(null, data);
      }
      const placeholder = Buffer.alloc(1);
      unreadable.set(placeholder, { why: `a block's bytes do not decompress (${decoder._codec ?? 'codec'}: ${cause instanceof Error ? cause.message : String(cause)})`, count });
      inner(null, placeholder);
    };
  };
}

/**
 * Wraps the decoder's record reader (call it on `metadata`, with the file's writer type) so that
 * records are checked as the module notes say. The bytes are those of the decompressed block.
 */
export function checkRecords(decoder: BlockDecoderInternals, writerType: Type, maxRecordBytes = Infinity): void {
  const read = decoder._readValue;
  if (typeof read !== 'function') return;
  checkBlocks(decoder);
  const readChecked = (tap: AvroTap): unknown => {
    const from = tap.pos;
    const lost = unreadable.get(tap.buf);
    if (lost !== undefined) {
      decoder._remaining = 0;
      tap.pos = tap.buf.length;
      return rejected('malformed-avro', `${lost.why}: its ${lost.count} records are skipped`, undefined, Math.max(0, lost.count - 1));
    }
    const count = counts.get(tap.buf);
    if (count?.announced === 0 || trailing.has(tap.buf)) {
      decoder._remaining = 0;
      tap.pos = tap.buf.length;
      if (from >= tap.buf.length) return NOTHING;
      const what = count?.announced === 0 ? 'a block announced 0 records' : `a block announced ${count?.announced ?? 'fewer'} records`;
      return rejected('malformed-avro', `${what} but holds ${tap.buf.length - from} bytes more: they are skipped`, undefined, 0, false);
    }
    if (from >= tap.buf.length) {
      // No bytes left in the block: not a broken record, a block announcing more than it holds.
      const held = count === undefined ? undefined : count.given - (decoder._remaining ?? 0) - 1;
      decoder._remaining = 0;
      return rejected('malformed-avro', `a block announced ${count?.announced ?? 'more'} records but its bytes hold ${held ?? 'fewer'}`, undefined, 0, false);
    }
    // The record's bounds first, without building it (avsc builds every item a count announces).
    let end: number;
    try {
      end = avroValueEnd(writerType, tap.buf, from);
    } catch (error) {
      if (error instanceof AvroTypeNotWalkable) return read(tap); // no check possible: as before
      // Where this record ends is not known (its bytes run past the block, announce more than
      // they hold, or stop making sense), so neither is where the next one begins: the rest of
      // its block goes with it, and the reader goes on with the next block (blocks are framed).
      const skipped = decoder._remaining ?? 0;
      decoder._remaining = 0;
      tap.pos = tap.buf.length;
      return rejected('malformed-avro', `${error instanceof Error ? error.message : String(error)}${skipped > 0 ? `; the ${skipped} records after it in its block could not be found and are skipped` : ''}`, undefined, skipped);
    }
    if (end - from > maxRecordBytes) {
      tap.pos = end;
      return rejected('oversized', `record is ${end - from} bytes, more than maxRecordBytes ${maxRecordBytes}`, undefined);
    }
    let value: unknown;
    try {
      value = read(tap);
    } catch (error) {
      // Where it ends is known: only this record goes. Too deep for avsc's recursion, or a value
      // avsc refuses (a long past 2^53, an enum index out of range): either would otherwise end
      // the read of the whole file.
      tap.pos = end;
      const bytes = tap.buf.subarray(from, end);
      if (isStackOverflow(error)) return rejected('too-deep', TOO_DEEP, bytes);
      return rejected('malformed-avro', `the record does not decode: ${error instanceof Error ? error.message : String(error)}`, bytes);
    }
    let replaced: number;
    try {
      replaced = replacementCount(value);
    } catch (error) {
      // Deep enough to overflow the count: the reader rejects it as too deep when it converts it.
      if (isStackOverflow(error)) return value;
      throw error;
    }
    if (replaced === 0) return value;
    const bytes = tap.buf.subarray(from, tap.pos);
    const why = invalidUtf8InAvro(value, bytes);
    return why === undefined ? value : rejected('invalid-utf8', why, bytes);
  };
  decoder._readValue = (tap) => {
    const item = readChecked(tap);
    // The block's last announced record read and bytes left: one more read reports them.
    const count = counts.get(tap.buf);
    if (decoder._remaining === 0 && tap.pos < tap.buf.length && count !== undefined && count.announced > 0 && count.announced <= 0x7fffffff) {
      trailing.add(tap.buf);
      decoder._remaining = 1;
    }
    return item;
  };
}
