/**
 * Avro object container files of canonical events: reading the events of a file or byte
 * stream (resolving its schema to `tributary.Event`) and writing events to a new file.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import avsc from 'avsc';
import type { TributaryEvent } from '../event/event.js';
import { errorMessage, type AvroReject } from './avro-event-codec.js';
import { fromAvroRecord, toAvroRecord } from './avro-event-record.js';
import { avroEventType } from './avro-event-schema.js';
import { invalidUtf8InAvro, replacementCount } from './avro-utf8.js';

/**
 * One item of {@link readAvroEventFile}: `index` is the 0-based position of the record in the file.
 *
 * @example
 * ```ts
 * for await (const item of readAvroEventFile('events.avro')) if (!item.ok) console.error(item.index, item.detail);
 * ```
 */
export type AvroFileItem = { ok: true; event: TributaryEvent; index: number } | (AvroReject & { index: number; /** The record's bytes in base64 (`invalid-utf8`). */ raw?: string });

/** What the wrapped record reader gives for a record with a string that is not UTF-8. */
interface NotUtf8 {
  [NOT_UTF8]: string;
  raw: string;
}
const NOT_UTF8 = Symbol('not UTF-8');

/** avsc's block decoder, as far as the reader below uses its private parts (avsc 5.7). */
interface BlockDecoderInternals {
  /** Reads one record from a block's bytes (set when the header is read, just before `metadata`). */
  _readValue?: (tap: { buf: Buffer; pos: number }) => unknown;
  /** The read buffer of the file's bytes (what is left over after the last complete block). */
  _tap?: { buf?: unknown; pos?: unknown };
}

/**
 * Wraps the decoder's record reader so that a record whose strings hold U+FFFD is checked
 * against its own bytes (`avro-utf8.ts`): avsc decodes bytes that are not UTF-8 as U+FFFD, and
 * only the record's bytes tell a replaced byte from a real U+FFFD. The bytes are those of the
 * decompressed block, where the record was just read.
 */
function checkUtf8(decoder: BlockDecoderInternals): void {
  const read = decoder._readValue;
  if (typeof read !== 'function') return;
  decoder._readValue = (tap) => {
    const from = tap.pos;
    const value = read(tap);
    if (replacementCount(value) === 0) return value;
    const bytes = tap.buf.subarray(from, tap.pos);
    const why = invalidUtf8InAvro(value, bytes);
    return why === undefined ? value : ({ [NOT_UTF8]: why, raw: Buffer.from(bytes).toString('base64') } satisfies NotUtf8);
  };
}

/**
 * Reads the events of an Avro object container file (a path, or a byte stream such as stdin).
 * The file's own schema is resolved to `tributary.Event` (older/newer versions with compatible
 * fields work); a file that is not an Avro container, or whose schema cannot be resolved, throws
 * before any item. Corruption after the header (bad sync marker, undecodable block, a
 * truncated last block) ends the read with one `malformed-avro` item after the good records —
 * the container format cannot resynchronise reliably past a broken block. (Flipped bytes
 * inside an uncompressed block can decode as different valid data: Avro has no checksums.) A
 * record with a string whose bytes are not UTF-8 is an `invalid-utf8` item with the record's
 * bytes in `raw` (base64), as a Kafka message is, instead of an event with U+FFFD in it.
 *
 * @example
 * ```ts
 * for await (const item of readAvroEventFile('events.avro')) {
 *   if (item.ok) handle(item.event); else deadLetter(item.reason, item.detail, `events.avro#${item.index}`);
 * }
 * ```
 */
export async function* readAvroEventFile(input: string | NodeJS.ReadableStream): AsyncGenerator<AvroFileItem> {
  const opts = { readerSchema: avroEventType() };
  const decoder: NodeJS.ReadableStream =
    typeof input === 'string' ? avsc.createFileDecoder(input, opts) : input.pipe(new avsc.streams.BlockDecoder(opts));
  let index = 0;
  let sawHeader = false;
  decoder.once('metadata', () => {
    sawHeader = true;
    checkUtf8(decoder as unknown as BlockDecoderInternals);
  });
  try {
    for await (const value of decoder as AsyncIterable<Record<string, unknown> | NotUtf8>) {
      if (NOT_UTF8 in value) {
        yield { ok: false, reason: 'invalid-utf8', detail: value[NOT_UTF8], raw: value.raw, index: index++ };
        continue;
      }
      let event: TributaryEvent;
      try {
        event = fromAvroRecord(value);
      } catch (err) {
        yield { ok: false, reason: 'malformed-avro', detail: errorMessage(err), index: index++ };
        continue;
      }
      yield { ok: true, event, index: index++ };
    }
  } catch (err) {
    if (!sawHeader) throw new Error(`not a readable tributary.Event Avro container: ${errorMessage(err)}`, { cause: err });
    yield { ok: false, reason: 'malformed-avro', detail: `container file broken after ${index} records: ${errorMessage(err)}`, index };
    return;
  }
  if (!sawHeader) throw new Error('not a readable tributary.Event Avro container: no complete header');
  // avsc's BlockDecoder silently drops an incomplete last block (a truncated file); its
  // private read buffer tells how many bytes were left over.
  const tap = (decoder as unknown as BlockDecoderInternals)._tap;
  if (tap !== undefined && Buffer.isBuffer(tap.buf) && typeof tap.pos === 'number' && tap.buf.length > tap.pos) {
    const rest = tap.buf.length - tap.pos;
    yield { ok: false, reason: 'malformed-avro', detail: `truncated: ${rest} bytes after record ${index} do not form a complete block`, index };
  }
}

/**
 * Options of {@link writeAvroEventFile}.
 *
 * @example
 * ```ts
 * await writeAvroEventFile('out.avro', events, { codec: 'deflate' });
 * ```
 */
export interface AvroFileWriteOptions {
  /** Block compression: `null` (default) or `deflate`. */
  codec?: 'null' | 'deflate';
}

/**
 * Writes events to an Avro object container file with the `tributary.Event` schema (for tests,
 * fixtures and replays); resolves with the number written once the file is flushed and closed.
 *
 * @example
 * ```ts
 * await writeAvroEventFile('/tmp/events.avro', events, { codec: 'deflate' }); // events.length
 * ```
 */
export async function writeAvroEventFile(
  path: string,
  events: Iterable<TributaryEvent> | AsyncIterable<TributaryEvent>,
  options?: AvroFileWriteOptions,
): Promise<number> {
  let count = 0;
  async function* records(): AsyncGenerator<Record<string, unknown>> {
    for await (const e of events as AsyncIterable<TributaryEvent>) {
      count++;
      yield toAvroRecord(e);
    }
  }
  const encoder = new avsc.streams.BlockEncoder(avroEventType(), { codec: options?.codec ?? 'null' });
  await pipeline(Readable.from(records()), encoder, createWriteStream(path));
  return count;
}
