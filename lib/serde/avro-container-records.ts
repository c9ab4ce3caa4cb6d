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
 *
 * A rejected record is handed on as a {@link RejectedRecord} with its bytes, in place of its value.
 *
 * @module
 */
import type { Type } from 'avsc';
import { TOO_DEEP } from './avro-event-codec.js';
import { isStackOverflow, skipAvroValue, type AvroTap } from './avro-skip.js';
import { invalidUtf8InAvro, replacementCount } from './avro-utf8.js';

const REJECTED = Symbol('rejected Avro record');

/** What the wrapped reader gives for a rejected record. */
export interface RejectedRecord {
  [REJECTED]: true;
  reason: 'invalid-utf8' | 'too-deep';
  detail: string;
  /** The record's bytes in base64. */
  raw: string;
}

/** Whether `value`, read by a wrapped reader, is a rejected record. */
export const isRejected = (value: object): value is RejectedRecord => REJECTED in value;

/** avsc's block decoder, as far as the reader uses its private parts (avsc 5.7). */
export interface BlockDecoderInternals {
  /** Reads one record from a block's bytes (set when the header is read, just before `metadata`). */
  _readValue?: (tap: AvroTap) => unknown;
  /** The read buffer of the file's bytes (what is left over after the last complete block). */
  _tap?: { buf?: unknown; pos?: unknown };
}

const rejected = (reason: RejectedRecord['reason'], detail: string, bytes: Buffer): RejectedRecord => ({
  [REJECTED]: true,
  reason,
  detail,
  raw: Buffer.from(bytes).toString('base64'),
});

/**
 * Wraps the decoder's record reader (call it on `metadata`, with the file's writer type) so that
 * records are checked as the module notes say. The bytes are those of the decompressed block.
 */
export function checkRecords(decoder: BlockDecoderInternals, writerType: Type): void {
  const read = decoder._readValue;
  if (typeof read !== 'function') return;
  decoder._readValue = (tap) => {
    const from = tap.pos;
    let value: unknown;
    try {
      value = read(tap);
    } catch (error) {
      if (!isStackOverflow(error)) throw error;
      tap.pos = from;
      skipAvroValue(writerType, tap);
      return rejected('too-deep', TOO_DEEP, tap.buf.subarray(from, tap.pos));
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
}
