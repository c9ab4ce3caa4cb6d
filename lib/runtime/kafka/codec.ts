/**
 * What the Kafka runner calls per record: a {@link SourceDecoder} turns a source message value
 * into a {@link SourceInput} (decoded, or rejected with a dead-letter reason), and a
 * {@link StreamEncoder} turns a derived record into the bytes of an output message, in the
 * stream's `format`.
 *
 * Both are synchronous on the common path and return a promise only when they must ask the
 * schema registry (a writer schema id not seen before; the first record of an Avro output).
 * A registry that cannot be reached is not the record's fault: those promises reject, and the
 * runner retries or stops — the record is never dead-lettered for it. An id the registry does
 * not know (404) is the record's fault (garbage after a 0 byte, or a record from another
 * registry) and dead-letters as `malformed-avro`.
 */
import type { Type } from 'avsc';
import type { DerivedRecord } from '../../operator/contract.js';
import type { CompiledStream } from '../../pipeline/compile.js';
import { CONFLUENT_MAGIC_BYTE, decodeAvroEvent, decodeConfluentAvroEvent, frameConfluent, unframeConfluent, type AvroDecodeResult } from '../../serde/avro.js';
import { encodeStreamAvro, streamAvroSchema } from '../../serde/derived-avro.js';
import { decodeJsonRecord } from '../../serde/json.js';
import { SchemaRegistryError, UnusableSchemaError, type SchemaRegistryClient } from '../../serde/schema-registry.js';
import type { SourceInput } from '../task.js';

/**
 * Decodes source message values.
 *
 * @example
 * ```ts
 * const input = await decoder.decode(message.value, `${topic}/${partition}/${message.offset}`);
 * task.ingest({ ...input, partition: String(partition) });
 * ```
 */
export interface SourceDecoder {
  /**
   * One message value → a source input (`partition` left unset: the runner sets it). Returns a
   * promise only while a new writer schema is fetched; rejects when the registry is unreachable.
   */
  decode(value: Buffer | null, source: string): SourceInput | Promise<SourceInput>;
}

/**
 * Options of {@link createSourceDecoder}.
 *
 * @example
 * ```ts
 * const opts: SourceDecoderOptions = { format: 'avro', maxRecordBytes: 1024 * 1024, registry };
 * ```
 */
export interface SourceDecoderOptions {
  format: 'json' | 'avro';
  /** A value longer than this many bytes is rejected `oversized`, before decoding. */
  maxRecordBytes: number;
  /** Resolves Confluent-framed Avro by the writer schema id; without it the current event schema is assumed. */
  registry?: SchemaRegistryClient;
}

const TOMBSTONE = 'null value (tombstone)';

/**
 * A decoder for the source's format.
 *
 * - `json`: {@link decodeJsonRecord} (`oversized`, `invalid-utf8`, `malformed-json`,
 *   `not-an-object`); `raw` is the text (base64 of the bytes when they are not UTF-8), as for a
 *   line of a file.
 * - `avro`: a value whose first byte is 0 and that has at least 5 bytes is the Confluent wire
 *   format: with a registry its writer schema is fetched by id (once) and resolved to
 *   `tributary.Event`; without one it is decoded with the current event schema. Any other
 *   value is a plain `tributary.Event` body. (So a plain body whose `messageId` is the empty
 *   string — its first byte is 0 — is taken for a framed one.) Undecodable bytes give
 *   `malformed-avro`; `raw` is base64 of the bytes.
 * - A null value (a tombstone) is rejected `malformed-json` / `malformed-avro` with detail
 *   `null value (tombstone)` and an empty `raw`.
 *
 * @example
 * ```ts
 * const decoder = createSourceDecoder({ format: 'json', maxRecordBytes: 1 << 20 });
 * decoder.decode(Buffer.from('{"type":"track"}'), 'events/0/42');
 * // { ok: true, value: { type: 'track' }, raw: '{"type":"track"}', source: 'events/0/42' }
 * ```
 */
export function createSourceDecoder(opts: SourceDecoderOptions): SourceDecoder {
  const { maxRecordBytes, registry } = opts;
  if (opts.format === 'json') {
    return {
      decode(value, source) {
        if (value === null) return { ok: false, reason: 'malformed-json', detail: TOMBSTONE, raw: '', source };
        const r = decodeJsonRecord(value, { maxRecordBytes });
        if (r.ok) return { ok: true, value: r.value, raw: value.toString('utf8'), source };
        const raw = r.reason === 'invalid-utf8' ? value.toString('base64') : value.toString('utf8');
        return { ok: false, reason: r.reason, detail: r.detail, raw, source };
      },
    };
  }
  const result = (r: AvroDecodeResult, value: Buffer, source: string): SourceInput =>
    r.ok ? { ok: true, value: r.event, raw: value.toString('base64'), source } : { ok: false, reason: r.reason, detail: r.detail, raw: value.toString('base64'), source };
  const framed = (value: Buffer, source: string, writer: Type, schemaId: number, body: Buffer): SourceInput => {
    if (writer.typeName !== 'record') {
      return result({ ok: false, reason: 'malformed-avro', detail: `schema id ${schemaId} is a ${writer.typeName}, not a record: it cannot be read as tributary.Event` }, value, source);
    }
    const r = decodeAvroEvent(body, { writerType: writer });
    return result(r.ok ? r : { ...r, detail: `schema id ${schemaId}: ${r.detail}` }, value, source);
  };
  return {
    decode(value, source) {
      if (value === null) return { ok: false, reason: 'malformed-avro', detail: TOMBSTONE, raw: '', source };
      if (value.length > maxRecordBytes) {
        return { ok: false, reason: 'oversized', detail: `record is ${value.length} bytes, more than maxRecordBytes ${maxRecordBytes}`, raw: value.toString('base64'), source };
      }
      if (value.length < 5 || value[0] !== CONFLUENT_MAGIC_BYTE) return result(decodeAvroEvent(value), value, source);
      if (registry === undefined) return result(decodeConfluentAvroEvent(value), value, source);
      const u = unframeConfluent(value);
      if (!u.ok) return result(u, value, source);
      const { schemaId, body } = u;
      const cached = registry.cachedSchemaById(schemaId);
      if (cached !== undefined) return framed(value, source, cached, schemaId, body);
      return registry.schemaById(schemaId).then(
        (writer) => framed(value, source, writer, schemaId, body),
        (err: unknown) => {
          if (err instanceof SchemaRegistryError && err.status === 404) {
            return result({ ok: false, reason: 'malformed-avro', detail: `schema id ${schemaId} is not in the schema registry: ${err.message}` }, value, source);
          }
          // The registry answered, with a schema no record can be read with: the record is wrong.
          if (err instanceof UnusableSchemaError) {
            return result({ ok: false, reason: 'malformed-avro', detail: `schema id ${schemaId} cannot be used: ${err.message}` }, value, source);
          }
          // The registry did not answer (down, slow, a server error): the run's infrastructure.
          throw err;
        },
      );
    },
  };
}

/**
 * Encodes the records of one output stream.
 *
 * @example
 * ```ts
 * const value = await encoder.encode(record);
 * await producer.send({ topic: stream.topic, messages: [{ value }] });
 * ```
 */
export interface StreamEncoder {
  /** One record → the message value. Returns a promise only until the schema is registered. */
  encode(record: DerivedRecord): Buffer | Promise<Buffer>;
}

/**
 * Options of {@link createStreamEncoder}.
 *
 * @example
 * ```ts
 * const opts: StreamEncoderOptions = { stream, registry, subject: 'campaign-triggers-value' };
 * ```
 */
export interface StreamEncoderOptions {
  stream: CompiledStream;
  /** With a registry, Avro values are registered and framed in the Confluent wire format. */
  registry?: SchemaRegistryClient;
  /** The registry subject. Default `<topic>-value` (TopicNameStrategy). */
  subject?: string;
}

/**
 * An encoder for a stream's `format`: `json` writes `JSON.stringify(record)` (no newline);
 * `avro` writes the record with the schema of `stream.kind` (`streamAvroSchema`: the event
 * schema for `events`, `tributary.LateEvent` for `late`, the derived schemas for the others).
 * With a registry, the schema is registered under `subject` on the first record (a failure
 * rejects that call and is retried on the next) and every value is framed with its id; without
 * one, values are plain Avro bodies. Throws at creation for an Avro stream whose kind has no
 * schema, and per record (`TypeError`) for a record that does not fit the schema.
 *
 * @example
 * ```ts
 * const encoder = createStreamEncoder({ stream: topology.streams.find((s) => s.name === 'campaign-triggers')!, registry });
 * const value = await encoder.encode(trigger); // <Buffer 00 00 00 00 07 …>
 * ```
 */
export function createStreamEncoder(opts: StreamEncoderOptions): StreamEncoder {
  const { stream, registry } = opts;
  if (stream.format === 'json') {
    return {
      encode(record) {
        const text = JSON.stringify(record);
        if (typeof text !== 'string') throw new TypeError(`stream ${stream.name}: cannot encode ${typeof record} as JSON`);
        return Buffer.from(text, 'utf8');
      },
    };
  }
  let schema: Record<string, unknown>;
  try {
    schema = streamAvroSchema(stream.kind);
  } catch (err) {
    throw new Error(`stream ${stream.name} (topic ${stream.topic}) has format avro: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const encode = (record: DerivedRecord): Buffer => encodeStreamAvro(stream.kind, record);
  if (registry === undefined) return { encode };
  const subject = opts.subject ?? `${stream.topic}-value`;
  let id: number | undefined;
  let registering: Promise<number> | undefined;
  return {
    encode(record) {
      const body = encode(record);
      if (id !== undefined) return frameConfluent(id, body);
      registering ??= registry.register(subject, schema).then(
        (registered) => (id = registered),
        (err: unknown) => {
          registering = undefined;
          throw err;
        },
      );
      return registering.then((registered) => frameConfluent(registered, body));
    },
  };
}
