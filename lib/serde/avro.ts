/**
 * Avro (avsc) for canonical events: the `tributary.Event` schema shipped in
 * `schema/event.avsc`, single-record encoding, the Confluent schema-registry wire format, and
 * Avro object container files.
 *
 * Representation (see the schema's docs):
 * - canonical scalar fields are typed fields (`type` an enum, `timestamp` a
 *   `timestamp-millis` long, ids nullable strings);
 * - free-form JSON — `properties`, `traits`, `context`, and every other top-level field,
 *   gathered by name in `extra` — is `map<JsonValue>`, where `JsonValue` is a record wrapping
 *   a recursive union `null | boolean | long | double | string | array<JsonValue> |
 *   map<JsonValue>`. Types survive (a price stays a double, a flag a boolean, an array an
 *   array), unlike JSON-in-a-string. Integers within ±2⁵² (except `-0`) are `long`, other
 *   numbers `double`, so every JS number round-trips bit-exactly. (avsc mis-decodes negative
 *   longs below −2⁵², so larger magnitudes are never written as `long`; `timestamp` is limited
 *   to ±2⁵² ms, about ±142,000 years.)
 * - Absent `event`, `previousId`, `properties`, `traits`, `context` are Avro `null` and decode
 *   as absent (so an explicit `null` in those fields decodes as absent: the normaliser never
 *   produces one). `userId`/`anonymousId` decode as `null` when null.
 * - Values follow JSON semantics: object members that are `undefined` are skipped, `undefined`
 *   in arrays becomes `null`, `toJSON` is honoured (a `Date` becomes its ISO string); bigints,
 *   functions and symbols cannot be encoded.
 *
 * Decoding with this schema's types uses avsc's `wrapUnions: true` form internally; callers
 * only ever see plain {@link TributaryEvent}s.
 */
import { existsSync, readFileSync, createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import type { Type } from 'avsc';
import type { TributaryEvent } from '../event/event.js';

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
  reason: 'malformed-avro';
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
 * One item of {@link readAvroEventFile}: `index` is the 0-based position of the record in the file.
 *
 * @example
 * ```ts
 * for await (const item of readAvroEventFile('events.avro')) if (!item.ok) console.error(item.index, item.detail);
 * ```
 */
export type AvroFileItem = { ok: true; event: TributaryEvent; index: number } | (AvroReject & { index: number });

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
 * Largest magnitude written as an Avro `long`: 2⁵². avsc 5.7 refuses longs beyond ±(2⁵³−2) and
 * silently corrupts negative ones below −2⁵² (its zigzag decoding loses the sign), so larger
 * integers go as `double`, which holds them exactly.
 */
export const MAX_AVRO_LONG = 2 ** 52;

const CANONICAL = ['messageId', 'type', 'event', 'userId', 'anonymousId', 'previousId', 'timestamp', 'properties', 'traits', 'context'] as const;
const CANONICAL_SET = new Set<string>(CANONICAL);
const MAP_FIELDS = ['properties', 'traits', 'context'] as const;

let schemaPath: string | undefined;
let eventSchema: Record<string, unknown> | undefined;
let eventType: Type | undefined;

/**
 * The absolute path of `schema/event.avsc`, found by walking up from this module to the
 * package root (a directory with `package.json` and `schema/event.avsc`), so it works from
 * `lib/serde/` (sources) and `dist/lib/serde/` (compiled) alike.
 *
 * @example
 * ```ts
 * avroEventSchemaPath(); // '/work/main/schema/event.avsc'
 * ```
 */
export function avroEventSchemaPath(): string {
  if (schemaPath !== undefined) return schemaPath;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'schema', 'event.avsc');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) {
      schemaPath = candidate;
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`schema/event.avsc not found above ${dirname(fileURLToPath(import.meta.url))}`);
    dir = parent;
  }
}

/**
 * The parsed `schema/event.avsc` (JSON), e.g. to register with a schema registry.
 *
 * @example
 * ```ts
 * const schema = avroEventSchema(); // { type: 'record', name: 'Event', namespace: 'tributary', … }
 * await registry.register(JSON.stringify(schema));
 * ```
 */
export function avroEventSchema(): Record<string, unknown> {
  eventSchema ??= JSON.parse(readFileSync(avroEventSchemaPath(), 'utf8')) as Record<string, unknown>;
  return eventSchema;
}

/**
 * The avsc `Type` of `tributary.Event` (loaded once, with `wrapUnions: true`). Use it as the
 * reader type when resolving another writer schema; encode and decode events with
 * {@link encodeAvroEvent} / {@link decodeAvroEvent}, which convert to and from plain events.
 *
 * @example
 * ```ts
 * const type = avroEventType();
 * type.name; // 'tributary.Event'
 * ```
 */
export function avroEventType(): Type {
  eventType ??= avsc.Type.forSchema(avroEventSchema() as avsc.Schema, { wrapUnions: true });
  return eventType;
}

/** @internal A union value in avsc's wrapUnions form (shared with derived-avro.ts). */
export type Wrapped = null | { [branch: string]: unknown };
/** @internal A `tributary.JsonValue` record. */
export interface JsonValueRecord {
  value: Wrapped;
}

function toJsonValue(v: unknown, where: string): JsonValueRecord {
  return { value: wrapJson(v, where) };
}

/** @internal Shared with derived-avro.ts. */
export function wrapJson(v: unknown, where: string): Wrapped {
  switch (typeof v) {
    case 'string':
      return { string: v };
    case 'boolean':
      return { boolean: v };
    case 'number':
      return Number.isInteger(v) && Math.abs(v) <= MAX_AVRO_LONG && !Object.is(v, -0) ? { long: v } : { double: v };
    case 'undefined':
      return null;
    case 'object': {
      if (v === null) return null;
      if (Array.isArray(v)) return { array: v.map((x, i) => toJsonValue(x, `${where}[${i}]`)) };
      const withJson = v as { toJSON?: (key?: string) => unknown };
      if (typeof withJson.toJSON === 'function') return wrapJson(withJson.toJSON(), where);
      return { map: toJsonMap(v as Record<string, unknown>, where) };
    }
    default:
      throw new TypeError(`${where}: a ${typeof v} cannot be encoded as a JSON value`);
  }
}

/** @internal Shared with derived-avro.ts. */
export function toJsonMap(obj: Record<string, unknown>, where: string): Record<string, JsonValueRecord> {
  const out: Record<string, JsonValueRecord> = {};
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    const jv = toJsonValue(v, `${where}.${k}`);
    if (k === '__proto__') Object.defineProperty(out, k, { value: jv, enumerable: true, writable: true, configurable: true });
    else out[k] = jv;
  }
  return out;
}

/** @internal Shared with derived-avro.ts. */
export function unwrapJson(w: Wrapped): unknown {
  if (w === null) return null;
  if ('string' in w) return w.string;
  if ('long' in w) return w.long;
  if ('double' in w) return w.double;
  if ('boolean' in w) return w.boolean;
  if ('array' in w) return (w.array as JsonValueRecord[]).map((x) => unwrapJson(x.value));
  if ('map' in w) return fromJsonMap(w.map as Record<string, JsonValueRecord>);
  throw new Error(`unexpected JsonValue branch ${Object.keys(w).join(',')}`);
}

/** @internal Shared with derived-avro.ts. */
export function fromJsonMap(m: Record<string, JsonValueRecord>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(m)) setOwn(out, k, unwrapJson((m[k] as JsonValueRecord).value));
  return out;
}

/** @internal Shared with derived-avro.ts. */
export function setOwn(obj: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  else obj[k] = v;
}

function nullableString(v: unknown, field: string): Wrapped {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new TypeError(`${field}: expected a string or null, got ${typeof v}`);
  return { string: v };
}

function optionalMap(v: unknown, field: string): Wrapped {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${field}: expected an object, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return { map: toJsonMap(v as Record<string, unknown>, field) };
}

/**
 * An event in the avsc `wrapUnions` form of `tributary.Event` (what `avroEventType()`
 * encodes). Exposed for container-file writers and custom pipelines; most callers want
 * {@link encodeAvroEvent}. Throws `TypeError` for a value that cannot be encoded.
 *
 * @example
 * ```ts
 * toAvroRecord({ messageId: 'm1', type: 'track', event: 'view', userId: null, anonymousId: 'a', timestamp: 0 });
 * // { messageId: 'm1', type: 'track', event: { string: 'view' }, userId: null, anonymousId: { string: 'a' }, … }
 * ```
 */
export function toAvroRecord(event: TributaryEvent): Record<string, unknown> {
  if (typeof event.messageId !== 'string') throw new TypeError(`messageId: expected a string, got ${typeof event.messageId}`);
  if (typeof event.timestamp !== 'number' || !Number.isInteger(event.timestamp) || Math.abs(event.timestamp) > MAX_AVRO_LONG) {
    throw new TypeError(`timestamp: expected integer epoch milliseconds, got ${String(event.timestamp)}`);
  }
  let extra: Record<string, JsonValueRecord> | undefined;
  for (const k of Object.keys(event)) {
    if (CANONICAL_SET.has(k)) continue;
    const v = event[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    extra ??= {};
    const jv = toJsonValue(v, k);
    if (k === '__proto__') Object.defineProperty(extra, k, { value: jv, enumerable: true, writable: true, configurable: true });
    else extra[k] = jv;
  }
  return {
    messageId: event.messageId,
    type: event.type,
    event: nullableString(event.event, 'event'),
    userId: nullableString(event.userId, 'userId'),
    anonymousId: nullableString(event.anonymousId, 'anonymousId'),
    previousId: nullableString(event.previousId, 'previousId'),
    timestamp: event.timestamp,
    properties: optionalMap(event.properties, 'properties'),
    traits: optionalMap(event.traits, 'traits'),
    context: optionalMap(event.context, 'context'),
    extra: extra === undefined ? null : { map: extra },
  };
}

function str(w: unknown): string | null {
  return w === null || w === undefined ? null : ((w as { string: string }).string ?? null);
}

/**
 * The plain event of a decoded `tributary.Event` record in avsc `wrapUnions` form (the
 * inverse of {@link toAvroRecord}); canonical fields first, then the `extra` fields.
 *
 * @example
 * ```ts
 * fromAvroRecord(avroEventType().fromBuffer(buf));
 * ```
 */
export function fromAvroRecord(rec: Record<string, unknown>): TributaryEvent {
  const out: Record<string, unknown> = { messageId: rec.messageId, type: rec.type };
  const ev = str(rec.event);
  if (ev !== null) out.event = ev;
  out.userId = str(rec.userId);
  out.anonymousId = str(rec.anonymousId);
  const prev = str(rec.previousId);
  if (prev !== null) out.previousId = prev;
  out.timestamp = rec.timestamp;
  for (const f of MAP_FIELDS) {
    const w = rec[f] as Wrapped | undefined;
    if (w !== null && w !== undefined) out[f] = fromJsonMap(w.map as Record<string, JsonValueRecord>);
  }
  const extra = rec.extra as Wrapped | undefined;
  if (extra !== null && extra !== undefined) {
    const m = extra.map as Record<string, JsonValueRecord>;
    for (const k of Object.keys(m)) {
      if (CANONICAL_SET.has(k)) continue; // a canonical field always wins over a stray `extra` entry
      setOwn(out, k, unwrapJson((m[k] as JsonValueRecord).value));
    }
  }
  return out as TributaryEvent;
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
 * index, an invalid length — give `malformed-avro` with the reason.
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
  let decoded: { value: unknown; offset: number };
  try {
    decoded = options?.writerType === undefined ? type.decode(b, 0) : type.decode(b, 0, resolverFor(options.writerType));
  } catch (err) {
    return { ok: false, reason: 'malformed-avro', detail: `does not decode as tributary.Event: ${errorMessage(err)}` };
  }
  if (decoded.offset < 0) return { ok: false, reason: 'malformed-avro', detail: `truncated: ${b.length} bytes are not a whole tributary.Event` };
  if (decoded.offset !== b.length) {
    return { ok: false, reason: 'malformed-avro', detail: `${b.length - decoded.offset} trailing bytes after a tributary.Event of ${decoded.offset} bytes` };
  }
  try {
    return { ok: true, event: fromAvroRecord(decoded.value as Record<string, unknown>) };
  } catch (err) {
    return { ok: false, reason: 'malformed-avro', detail: errorMessage(err) };
  }
}

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

/**
 * Reads the events of an Avro object container file (a path, or a byte stream such as stdin).
 * The file's own schema is resolved to `tributary.Event` (older/newer versions with compatible
 * fields work); a file that is not an Avro container, or whose schema cannot be resolved, throws
 * before any item. Corruption after the header (bad sync marker, undecodable block, a
 * truncated last block) ends the read with one `malformed-avro` item after the good records —
 * the container format cannot resynchronise reliably past a broken block. (Flipped bytes
 * inside an uncompressed block can decode as different valid data: Avro has no checksums.)
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
  });
  try {
    for await (const value of decoder as AsyncIterable<Record<string, unknown>>) {
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
  const tap = (decoder as unknown as { _tap?: { buf?: unknown; pos?: unknown } })._tap;
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
