/**
 * The Confluent schema-registry wire format: framing an Avro body with the magic byte and
 * schema id, splitting a message back into both, and decoding a framed `tributary.Event`.
 */
import type { Type } from 'avsc';
import { decodeAvroEvent, type AvroDecodeResult, type AvroReject } from './avro-event-codec.js';

/**
 * Outcome of {@link unframeConfluent}.
 *
 * @example
 * ```ts
 * const r: ConfluentUnframeResult = unframeConfluent(message.value);
 * if (r.ok) decodeAvroEvent(r.body);
 * ```
 */
export type ConfluentUnframeResult = { ok: true; schemaId: number; body: Buffer } | AvroReject;

/**
 * The Confluent wire format's magic byte.
 *
 * @example
 * ```ts
 * frameConfluent(1, body)[0] === CONFLUENT_MAGIC_BYTE; // true
 * ```
 */
export const CONFLUENT_MAGIC_BYTE = 0;

/**
 * Frames an Avro body in the Confluent schema-registry wire format: magic byte `0`, the
 * schema id as a 4-byte big-endian integer, then the body. Throws `RangeError` for an id
 * that is not an integer in 0..2³¹−1 (the registry's ids are Java ints).
 *
 * @example
 * ```ts
 * frameConfluent(42, encodeAvroEvent(e)); // <Buffer 00 00 00 00 2a …>
 * ```
 */
export function frameConfluent(schemaId: number, body: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new RangeError(`schema id must be an integer in 0..2147483647, got ${schemaId}`);
  }
  const out = Buffer.allocUnsafe(5 + body.byteLength);
  out.writeUInt8(CONFLUENT_MAGIC_BYTE, 0);
  out.writeInt32BE(schemaId, 1);
  out.set(body, 5);
  return out;
}

/**
 * Splits a Confluent wire-format message into its schema id and Avro body (a view, not a
 * copy). A buffer shorter than the 5-byte header, a magic byte other than `0` (the detail
 * hints at JSON when it sees `{`), or a negative id give `malformed-avro`.
 *
 * @example
 * ```ts
 * unframeConfluent(frameConfluent(42, body)); // { ok: true, schemaId: 42, body }
 * unframeConfluent(Buffer.from('{"a":1}'));   // { ok: false, reason: 'malformed-avro', detail: 'magic byte 0x7b …' }
 * ```
 */
export function unframeConfluent(buf: Uint8Array): ConfluentUnframeResult {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 5) {
    return { ok: false, reason: 'malformed-avro', detail: `${b.length} bytes: too short for the Confluent wire format (magic byte + 4-byte schema id)` };
  }
  const magic = b.readUInt8(0);
  if (magic !== CONFLUENT_MAGIC_BYTE) {
    const hint = magic === 0x7b ? ' (looks like JSON)' : '';
    return { ok: false, reason: 'malformed-avro', detail: `magic byte 0x${magic.toString(16).padStart(2, '0')}${hint}, expected 0x00 of the Confluent wire format` };
  }
  const schemaId = b.readInt32BE(1);
  if (schemaId < 0) return { ok: false, reason: 'malformed-avro', detail: `negative schema id ${schemaId}` };
  return { ok: true, schemaId, body: b.subarray(5) };
}

/**
 * Decodes a Confluent wire-format message holding a `tributary.Event`. `writerTypeFor` maps the
 * schema id to the writer's type (e.g. from a registry cache); return `undefined` (or leave it
 * out) for ids written with this very schema.
 *
 * @example
 * ```ts
 * decodeConfluentAvroEvent(frameConfluent(7, encodeAvroEvent(e))); // { ok: true, event: e }
 * ```
 */
export function decodeConfluentAvroEvent(buf: Uint8Array, writerTypeFor?: (schemaId: number) => Type | undefined): AvroDecodeResult {
  const framed = unframeConfluent(buf);
  if (!framed.ok) return framed;
  const writerType = writerTypeFor?.(framed.schemaId);
  const r = decodeAvroEvent(framed.body, writerType === undefined ? undefined : { writerType });
  return r.ok ? r : { ...r, detail: `schema id ${framed.schemaId}: ${r.detail}` };
}

