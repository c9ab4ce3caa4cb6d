/**
 * Converting canonical events to and from records of the `tributary.Event` schema in avsc's
 * `wrapUnions` form (what `avroEventType()` encodes and decodes).
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
 */
import type { TributaryEvent } from '../event/event.js';
import { fromJsonMap, MAX_AVRO_LONG, setOwn, toJsonMap, toJsonValue, unwrapJson, type JsonValueRecord, type Wrapped } from './avro-json-value.js';

const CANONICAL = ['messageId', 'type', 'event', 'userId', 'anonymousId', 'previousId', 'timestamp', 'properties', 'traits', 'context'] as const;
const CANONICAL_SET = new Set<string>(CANONICAL);
const MAP_FIELDS = ['properties', 'traits', 'context'] as const;

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

