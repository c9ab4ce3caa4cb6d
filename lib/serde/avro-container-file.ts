/**
 * Avro object container files of canonical events: reading the events of a file or byte
 * stream (resolving its schema to `tributary.Event`) and writing events to a new file.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import avsc from 'avsc';
import type { Type } from 'avsc';
import type { TributaryEvent } from '../event/event.js';
import { checkRecords, isNothing, isRejected, type BlockDecoderInternals, type RejectedRecord } from './avro-container-records.js';
import { errorMessage, TOO_DEEP, type AvroReject } from './avro-event-codec.js';
import { avroValueEnd, AvroValueOverlong, AvroValueTruncated } from './avro-skip.js';
import { isStackOverflow } from './avro-skip.js';
import { fromAvroRecord, toAvroRecord } from './avro-event-record.js';
import { avroEventType } from './avro-event-schema.js';
import { MAX_JSON_DEPTH, nestedDeeperThan } from './json.js';

/**
 * One item of {@link readAvroEventFile}: `index` is the 0-based position of the record in the file.
 *
 * @example
 * ```ts
 * for await (const item of readAvroEventFile('events.avro')) if (!item.ok) console.error(item.index, item.detail);
 * ```
 */
export type AvroFileItem =
  | { ok: true; event: TributaryEvent; index: number }
  | ((AvroReject | { ok: false; reason: 'oversized'; detail: string }) & { index: number; /** The record's bytes in base64 (`invalid-utf8`, `too-deep` when avsc could not read it). */ raw?: string });

/**
 * Reads the events of an Avro object container file (a path, or a byte stream such as stdin).
 * The file's own schema is resolved to `tributary.Event` (older/newer versions with compatible
 * fields work); a file that is not an Avro container, or whose schema cannot be resolved, throws
 * before any item. Corruption after the header (bad sync marker, undecodable block, a
 * truncated last block) ends the read with one `malformed-avro` item after the good records —
 * the container format cannot resynchronise reliably past a broken block. (Flipped bytes
 * inside an uncompressed block can decode as different valid data: Avro has no checksums.) A
 * record with a string whose bytes are not UTF-8 is an `invalid-utf8` item, one nested more than
 * 256 levels a `too-deep` item, one longer than `maxRecordBytes` an `oversized` item, as a Kafka
 * message is (`avro-container-records.ts`); the records after it are read as usual.
 *
 * @example
 * ```ts
 * for await (const item of readAvroEventFile('events.avro')) {
 *   if (item.ok) handle(item.event); else deadLetter(item.reason, item.detail, `events.avro#${item.index}`);
 * }
 * ```
 */
export async function* readAvroEventFile(input: string | NodeJS.ReadableStream, options: { maxRecordBytes?: number } = {}): AsyncGenerator<AvroFileItem> {
  let checked: NodeJS.ReadableStream;
  try {
    checked = await withCheckedHeader(typeof input === 'string' ? createReadStream(input) : input);
  } catch (err) {
    throw new Error(`not a readable tributary.Event Avro container: ${errorMessage(err)}`, { cause: err });
  }
  const decoder: NodeJS.ReadableStream = checked.pipe(new avsc.streams.BlockDecoder({ readerSchema: avroEventType() }));
  let index = 0;
  let sawHeader = false;
  decoder.once('metadata', (writerType: Type) => {
    sawHeader = true;
    checkRecords(decoder as unknown as BlockDecoderInternals, writerType, options.maxRecordBytes);
  });
  try {
    for await (const value of decoder as AsyncIterable<Record<string, unknown> | RejectedRecord>) {
      if (isNothing(value)) continue;
      if (isRejected(value)) {
        yield { ok: false, reason: value.reason, detail: value.detail, ...(value.raw === '' ? {} : { raw: value.raw }), index };
        index += (value.record ? 1 : 0) + value.skipped;
        continue;
      }
      let event: TributaryEvent;
      try {
        event = fromAvroRecord(value);
      } catch (err) {
        const deep = isStackOverflow(err);
        yield { ok: false, reason: deep ? 'too-deep' : 'malformed-avro', detail: deep ? TOO_DEEP : errorMessage(err), index: index++ };
        continue;
      }
      if (nestedDeeperThan(event, MAX_JSON_DEPTH)) {
        yield { ok: false, reason: 'too-deep', detail: TOO_DEEP, index: index++ };
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

/** A container file's header (the Avro specification's): magic, metadata map, sync marker. */
const HEADER_TYPE = avsc.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
/** What the writer schema in a header is: `record`, another type's name, or why it is none. */
function schemaKind(bytes: Buffer | undefined): string {
  if (bytes === undefined) return 'missing';
  let schema: unknown;
  try {
    schema = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const type = typeof schema === 'string' ? schema : Array.isArray(schema) ? 'union' : (schema as { type?: unknown } | null)?.type;
  return type === 'record' ? 'record' : `a ${typeof type === 'string' ? JSON.stringify(type) : 'schema without a type'}`;
}

/** The block codecs the reader decompresses (avsc's built-in ones). */
const CODECS = ['null', 'deflate'];
/** Bytes a header may take: far more than a real one holds (a schema and a codec name). */
const HEADER_MAX_BYTES = 16 << 20;

/**
 * `input` once its container header is known to be whole and sound, as a stream of all its bytes.
 * A header whose metadata map announces 2^50 entries in 24 bytes made avsc's decoder spin for
 * ever, deaf to SIGTERM: the bounds walk (`avro-skip.ts`) over the bytes read so far answers
 * at once. Throws for a header that announces more than it holds, that is not complete at the
 * end of the input, or that is over 16 MiB.
 */
async function withCheckedHeader(input: NodeJS.ReadableStream): Promise<NodeJS.ReadableStream> {
  const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  for (let ended = false; ; ) {
    try {
      avroValueEnd(HEADER_TYPE, Buffer.concat(chunks), 0);
      const { meta } = HEADER_TYPE.decode(Buffer.concat(chunks), 0).value as { meta: Record<string, Buffer> };
      const codec = meta['avro.codec']?.toString('utf8') ?? 'null';
      if (!CODECS.includes(codec)) throw new Error(`its blocks are compressed with ${JSON.stringify(codec)}, which this reader cannot decompress (it reads ${CODECS.join(' and ')}): write the file again with one of those`);
      const kind = schemaKind(meta['avro.schema']);
      if (kind !== 'record') throw new Error(`its schema is ${kind}, not a record of events (the writer schema must be a record that resolves to tributary.Event)`);
      break;
    } catch (error) {
      if (error instanceof AvroValueOverlong) throw new Error(`the header announces more metadata than its ${size} bytes can hold`, { cause: error });
      if (!(error instanceof AvroValueTruncated)) throw error;
      if (ended) throw new Error(`no complete header (${size} bytes)`, { cause: error });
      if (size > HEADER_MAX_BYTES) throw new Error(`a header over ${HEADER_MAX_BYTES} bytes`, { cause: error });
    }
    const r = await it.next();
    if (r.done) ended = true;
    else {
      const chunk = Buffer.from(r.value);
      chunks.push(chunk);
      size += chunk.length;
    }
  }
  return Readable.from(
    (async function* () {
      yield Buffer.concat(chunks);
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    })(),
  );
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
