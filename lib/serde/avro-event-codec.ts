/**
 * Single-record Avro encoding of canonical events: an event to an unframed `tributary.Event`
 * body and back, resolving older or newer writer schemas, with decode failures reported as
 * `malformed-avro` instead of thrown.
 */
import avsc from 'avsc';
import type { Type } from 'avsc';
import type { TributaryEvent } from '../event/event.js';
import { avroEventType } from './avro-event-schema.js';
import { avroValueEnd, AvroValueOverlong, AvroValueTruncated, isStackOverflow } from './avro-skip.js';
import { invalidUtf8InAvro } from './avro-utf8.js';
import { MAX_JSON_DEPTH, nestedDeeperThan } from './json.js';
import { fromAvroRecord, toAvroRecord } from './avro-event-record.js';

/**
 * Failure of a decode: always `malformed-avro`, with what went wrong.
 *
 * @example
 * ```ts
 * const r = decodeAvroEvent(bytes);
 * if (!r.ok) { const rej: AvroReject = r; console.error(rej.reason, rej.detail); }
 * ```
 */
export interface AvroReject {
  ok: false;
  reason: 'malformed-avro' | 'invalid-utf8' | 'too-deep';
  detail: string;
}

/**
 * Outcome of {@link decodeAvroEvent} and {@link decodeConfluentAvroEvent}.
 *
 * @example
 * ```ts
 * const r: AvroDecodeResult = decodeAvroEvent(bytes);
 * ```
 */
export type AvroDecodeResult = { ok: true; event: TributaryEvent } | AvroReject;

/** The detail of a `too-deep` Avro record (as a JSON record nested that deep is rejected). */
export const TOO_DEEP = `nested more than ${MAX_JSON_DEPTH} levels (objects and arrays)`;

/**
 * What is wrong with an event decoded from the Avro bytes `b` that decoding itself did not
 * catch, as a reject, or undefined: nested more than {@link MAX_JSON_DEPTH} levels (`too-deep`,
 * as a JSON record: deeper would overflow the stack of the code that writes it), or a string
 * whose bytes were not UTF-8 (`invalid-utf8`, `avro-utf8.ts`).
 */
export function checkDecoded(event: TributaryEvent, b: Uint8Array): AvroReject | undefined {
  if (nestedDeeperThan(event, MAX_JSON_DEPTH)) return { ok: false, reason: 'too-deep', detail: TOO_DEEP };
  const notUtf8 = invalidUtf8InAvro(event, b);
  return notUtf8 === undefined ? undefined : { ok: false, reason: 'invalid-utf8', detail: notUtf8 };
}

/**
 * A reject when `b` is not a whole value of `writer` by its bounds: it ends inside the value, or
 * announces more items than its bytes can hold (40 bytes announcing 10⁹ array items would fill
 * the heap in avsc). Other faults (a bad union index, trailing bytes) are left to the decoding,
 * which names them.
 */
function checkBounds(writer: Type, b: Buffer): AvroReject | undefined {
  try {
    avroValueEnd(writer, b);
  } catch (err) {
    if (err instanceof AvroValueTruncated) return { ok: false, reason: 'malformed-avro', detail: `truncated: ${b.length} bytes are not a whole tributary.Event` };
    if (err instanceof AvroValueOverlong) return { ok: false, reason: 'malformed-avro', detail: `does not decode as tributary.Event: ${err.message}` };
  }
  return undefined;
}

/** @internal Shared with derived-avro.ts. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Encodes an event as an Avro binary body (no framing) with the `tributary.Event` schema.
 * Throws `TypeError` naming the field when the event cannot be encoded (e.g. `type` not one
 * of the enum's symbols, a non-integer timestamp, a bigint in properties).
 *
 * @example
 * ```ts
 * const buf = encodeAvroEvent({ messageId: 'm1', type: 'track', event: 'view', userId: null,
 *   anonymousId: 'a1', timestamp: 1569888000000, properties: { price: 35.79, tags: ['x'] } });
 * decodeAvroEvent(buf); // { ok: true, event: { …the same event… } }
 * ```
 */
export function encodeAvroEvent(event: TributaryEvent): Buffer {
  const rec = toAvroRecord(event);
  const type = avroEventType();
  try {
    return type.toBuffer(rec);
  } catch (err) {
    const paths: string[] = [];
    type.isValid(rec, { errorHook: (path) => paths.push(path.join('.')) });
    throw new TypeError(`cannot encode event as tributary.Event${paths.length > 0 ? ` (invalid: ${paths.join(', ')})` : ''}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

const resolvers = new WeakMap<Type, avsc.Resolver>();

function resolverFor(writer: Type): avsc.Resolver {
  let r = resolvers.get(writer);
  if (r === undefined) {
    r = avroEventType().createResolver(writer);
    resolvers.set(writer, r);
  }
  return r;
}

/**
 * Options of {@link decodeAvroEvent}.
 *
 * @example
 * ```ts
 * decodeAvroEvent(bytes, { writerType: avsc.Type.forSchema(olderSchema) });
 * ```
 */
export interface AvroDecodeOptions {
  /**
   * The schema the bytes were written with, when it is not this `tributary.Event` (an older
   * or newer version): decoding resolves it to the current schema (avsc resolver, cached per
   * type). Create it with `wrapUnions: true` or leave avsc's default; either works.
   */
  writerType?: Type;
}

/**
 * Decodes an Avro binary body written with `tributary.Event` (or `options.writerType`) into
 * a plain event. Bytes that do not decode — truncated, trailing bytes, a bad enum or union
 * index, an invalid length — give `malformed-avro` with the reason; a string whose bytes are not
 * UTF-8 gives `invalid-utf8` (`avro-utf8.ts`), and a value nested more than 256 levels
 * `too-deep`, as in a JSON record.
 *
 * @example
 * ```ts
 * decodeAvroEvent(encodeAvroEvent(e));          // { ok: true, event: e }
 * decodeAvroEvent(Buffer.from('{"a":1}'));       // { ok: false, reason: 'malformed-avro', detail: … }
 * ```
 */
export function decodeAvroEvent(buf: Uint8Array, options?: AvroDecodeOptions): AvroDecodeResult {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = avroEventType();
  // Its bounds first, without building anything: avsc builds every item a block count announces.
  const bounds = checkBounds(options?.writerType ?? type, b);
  if (bounds !== undefined) return bounds;
  let decoded: { value: unknown; offset: number };
  try {
    decoded = options?.writerType === undefined ? type.decode(b, 0) : type.decode(b, 0, resolverFor(options.writerType));
  } catch (err) {
    if (isStackOverflow(err)) return { ok: false, reason: 'too-deep', detail: TOO_DEEP };
    return { ok: false, reason: 'malformed-avro', detail: `does not decode as tributary.Event: ${errorMessage(err)}` };
  }
  if (decoded.offset < 0) return { ok: false, reason: 'malformed-avro', detail: `truncated: ${b.length} bytes are not a whole tributary.Event` };
  if (decoded.offset !== b.length) {
    return { ok: false, reason: 'malformed-avro', detail: `${b.length - decoded.offset} trailing bytes after a tributary.Event of ${decoded.offset} bytes` };
  }
  let event: TributaryEvent;
  try {
    event = fromAvroRecord(decoded.value as Record<string, unknown>);
  } catch (err) {
    return { ok: false, reason: 'malformed-avro', detail: errorMessage(err) };
  }
  const rejected = checkDecoded(event, b);
  return rejected ?? { ok: true, event };
}

