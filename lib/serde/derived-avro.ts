/**
 * Avro schemas for the derived record streams, so that any output may be written
 * with `format: avro` (`outputs: { campaign-triggers: { format: avro } }`), plus the encoding of
 * a record of any stream kind with its schema.
 *
 * Schemas, all in the `tributary` namespace, one per stream kind (the `kind` an operator's
 * `outputs()` declares):
 *
 * | kind | schema |
 * |---|---|
 * | `events`, `duplicates`, `filtered-out`, `routed` | `tributary.Event` (schema/event.avsc); fields beyond the canonical ones (`personId`, `duplicateKey`, …) go to its `extra` |
 * | `late` | `tributary.LateEvent`: the fields of `tributary.Event` plus `watermark` |
 * | `triggers` | `tributary.Trigger` |
 * | `suppressed-triggers` | `tributary.SuppressedTrigger`: a trigger plus `reason` |
 * | `sessions` | `tributary.Session` (with `tributary.SessionEventRef`) |
 * | `identity-merges` | `tributary.IdentityMerge` |
 * | `aggregates` | `tributary.Aggregate` |
 * | `dead-letter` | `tributary.DeadLetter` |
 *
 * Representation, chosen so Java (`GenericRecord`/SpecificRecord) and Python (fastavro) readers
 * get typed values without a second parser:
 * - times (`firedAt`, `start`, `timestamp`, `windowStart`, `watermark`, …) are `long`
 *   `timestamp-millis`; counts and durations `long`; ids and names `string`; `status`/`reason`
 *   are `string`, not enums, so a new value never breaks an old reader.
 * - open-ended values — `payload` (triggers), `values` (aggregates) — are `map<JsonValue>`, the
 *   same recursive union `tributary.JsonValue` as the event schema (null | boolean | long |
 *   double | string | array | map): a count stays a long, a sum a double, a topK an array of maps.
 *   `eventCounts` (sessions) is `map<long>`.
 * - a field the record may lack (`personId`, `transition` of a trigger; `reason`, `detail`,
 *   `provisional` of a merge) is a `["null", T]` union and decodes as absent when null; `channel`
 *   (always present, null when the rule lists none) decodes as `null`.
 * - every other field of a record is kept by name in `extra: null | map<JsonValue>` (as in the
 *   event schema), so records with additional fields round-trip too.
 *
 * Limits: longs are integers within ±2⁵² (as in avro.ts); a late event's `watermark` must be
 * finite (it always is in Kafka mode: only the end of a bounded input makes it +∞). A stream
 * kind without a schema here (a custom operator's) cannot use `format: avro`.
 */
import avsc from 'avsc';
import type { Type } from 'avsc';
import type { TributaryEvent } from '../event/event.js';
import type { DerivedRecord } from '../operator/contract.js';
import {
  avroEventSchema, avroEventType, decodeAvroEvent, encodeAvroEvent, errorMessage, fromAvroRecord, fromJsonMap, MAX_AVRO_LONG, setOwn, toAvroRecord, toJsonMap,
  unwrapJson, wrapJson, type AvroReject, type JsonValueRecord, type Wrapped,
} from './avro.js';

const JSON_VALUE_SCHEMA = {
  type: 'record',
  name: 'JsonValue',
  doc: 'Any JSON value. value is null for JSON null; a long for integers within +-2^52 (except -0); a double for every other number; array and map recurse.',
  fields: [
    {
      name: 'value',
      type: ['null', 'boolean', 'long', 'double', 'string', { type: 'array', items: 'JsonValue' }, { type: 'map', values: 'JsonValue' }],
    },
  ],
};

const SESSION_EVENT_REF_SCHEMA = {
  type: 'record',
  name: 'SessionEventRef',
  doc: 'The entry or exit event of a session.',
  fields: [
    { name: 'messageId', type: 'string' },
    { name: 'event', type: 'string', doc: 'The event name of a track event, else the event type.' },
    { name: 'timestamp', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'page', type: ['null', 'string'], default: null, doc: 'URL or path of the page, or null.' },
  ],
};

/** How a field is converted; `optional` decodes null as absent, `nullable` as null. */
type Shape = 'string' | 'long' | 'timestamp' | 'boolean' | 'strings' | 'longMap' | 'jsonMap' | 'eventRef';
interface FieldSpec {
  name: string;
  shape: Shape;
  presence: 'required' | 'nullable' | 'optional';
  doc: string;
}

const f = (name: string, shape: Shape, doc: string, presence: FieldSpec['presence'] = 'required'): FieldSpec => ({ name, shape, presence, doc });

const TRIGGER_FIELDS: FieldSpec[] = [
  f('triggerId', 'string', 'Deterministic id of this firing.'),
  f('rule', 'string', 'Rule name.'),
  f('key', 'string', 'The key the rule fired for.'),
  f('personId', 'string', 'personId of the subject event, when it has one.', 'optional'),
  f('firedAt', 'timestamp', 'Event time at which the rule fired.'),
  f('causes', 'strings', 'messageIds of the causing events, in event-time order.'),
  f('channel', 'string', 'The selected channel; null when the rule lists none.', 'nullable'),
  f('payload', 'jsonMap', 'The payload fields of the rule, from the subject event.'),
  f('transition', 'string', 'Segment rules only: entry or exit.', 'optional'),
];

interface RecordSpec {
  name: string;
  doc: string;
  fields: FieldSpec[];
}

const RECORD_TYPES: Record<string, RecordSpec> = {
  triggers: { name: 'Trigger', doc: 'A fired trigger rule.', fields: TRIGGER_FIELDS },
  'suppressed-triggers': {
    name: 'SuppressedTrigger',
    doc: 'A trigger candidate that was suppressed, and why.',
    fields: [...TRIGGER_FIELDS, f('reason', 'string', 'no-channel, no-consent, cooldown or frequency-cap.')],
  },
  sessions: {
    name: 'Session',
    doc: 'A closed session.',
    fields: [
      f('sessionId', 'string', 'Deterministic session id.'),
      f('key', 'string', 'The session key.'),
      f('start', 'timestamp', 'Event time of the first event.'),
      f('end', 'timestamp', 'Event time of the last event.'),
      f('durationMs', 'long', 'end - start.'),
      f('eventCount', 'long', 'Number of events.'),
      f('eventCounts', 'longMap', 'Events per name (event for track events, type for the others).'),
      f('firstEvent', 'eventRef', 'The first event.'),
      f('lastEvent', 'eventRef', 'The last event.'),
      f('channels', 'strings', 'Distinct context.channel values, sorted.'),
      f('mergedFrom', 'strings', 'Other ids given to events of this session, sorted.'),
    ],
  },
  'identity-merges': {
    name: 'IdentityMerge',
    doc: 'An identity merge or a refused merge.',
    fields: [
      f('mergeId', 'string', 'Deterministic id of the merge or refusal.'),
      f('status', 'string', 'merged or refused.'),
      f('personId', 'string', 'The survivor (for refused: the one that would have survived).'),
      f('mergedPersonId', 'string', 'The absorbed person (for refused: the one that would have been absorbed).'),
      f('identifiers', 'strings', 'The linking identifiers.'),
      f('messageId', 'string', 'The event that caused it.'),
      f('timestamp', 'timestamp', 'Its event time.'),
      f('eventType', 'string', 'Its type (identify, alias, track, ...).'),
      f('reason', 'string', 'Only on refused: the limit that refused it.', 'optional'),
      f('detail', 'string', 'Only on refused: what exceeded the limit.', 'optional'),
      f('provisional', 'boolean', 'Only on a correction of a provisional person id (Kafka mode).', 'optional'),
    ],
  },
  aggregates: {
    name: 'Aggregate',
    doc: 'The values of one window of one key.',
    fields: [
      f('id', 'string', 'Deterministic id of the record.'),
      f('key', 'string', 'The aggregation key.'),
      f('windowStart', 'timestamp', 'Window start (inclusive).'),
      f('windowEnd', 'timestamp', 'Window end.'),
      f('values', 'jsonMap', 'One entry per named aggregate.'),
      f('final', 'boolean', 'True for the final value of a closed window, false for an update.'),
    ],
  },
  'dead-letter': {
    name: 'DeadLetter',
    doc: 'A record that could not be processed.',
    fields: [
      f('reason', 'string', 'Why (malformed-json, malformed-avro, missing-timestamp, ...).'),
      f('detail', 'string', 'What exactly went wrong.', 'optional'),
      f('raw', 'string', 'The original text, or base64 of the original bytes.'),
      f('source', 'string', 'file:line, or topic/partition/offset.'),
    ],
  },
};

/** Kinds whose records are events, written with `tributary.Event` itself. */
const EVENT_KINDS = new Set(['events', 'duplicates', 'filtered-out', 'routed']);

/**
 * Every stream kind with an Avro schema: {@link streamAvroSchema} and {@link encodeStreamAvro} accept these.
 *
 * @example
 * ```ts
 * AVRO_STREAM_KINDS.includes('sessions'); // true
 * ```
 */
export const AVRO_STREAM_KINDS: readonly string[] = [...EVENT_KINDS, 'late', ...Object.keys(RECORD_TYPES)];

function avroFieldType(spec: FieldSpec, defined: Set<string>): unknown {
  const once = (name: string, schema: object): unknown => {
    if (defined.has(name)) return name;
    defined.add(name);
    return schema;
  };
  let t: unknown;
  switch (spec.shape) {
    case 'string':
    case 'boolean':
    case 'long':
      t = spec.shape;
      break;
    case 'timestamp':
      t = { type: 'long', logicalType: 'timestamp-millis' };
      break;
    case 'strings':
      t = { type: 'array', items: 'string' };
      break;
    case 'longMap':
      t = { type: 'map', values: 'long' };
      break;
    case 'jsonMap':
      t = { type: 'map', values: once('JsonValue', JSON_VALUE_SCHEMA) };
      break;
    case 'eventRef':
      t = once('SessionEventRef', SESSION_EVENT_REF_SCHEMA);
      break;
  }
  return spec.presence === 'required' ? t : ['null', t];
}

function recordSchema(spec: RecordSpec): Record<string, unknown> {
  const defined = new Set<string>();
  const fields: Array<Record<string, unknown>> = spec.fields.map((fs) => ({
    name: fs.name,
    type: avroFieldType(fs, defined),
    ...(fs.presence === 'required' ? {} : { default: null }),
    doc: fs.doc,
  }));
  fields.push({
    name: 'extra',
    type: ['null', { type: 'map', values: defined.has('JsonValue') ? 'JsonValue' : JSON_VALUE_SCHEMA }],
    default: null,
    doc: 'Every other field of the record, by name; null when there are none.',
  });
  return structuredClone({ type: 'record', name: spec.name, namespace: 'tributary', doc: spec.doc, fields });
}

let lateSchema: Record<string, unknown> | undefined;

function lateEventSchema(): Record<string, unknown> {
  if (lateSchema === undefined) {
    const event = structuredClone(avroEventSchema()) as { fields: unknown[] } & Record<string, unknown>;
    lateSchema = {
      ...event,
      name: 'LateEvent',
      doc: 'An event that arrived behind the watermark: the fields of tributary.Event plus the watermark it met.',
      fields: [...event.fields, { name: 'watermark', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'The watermark when the event arrived.' }],
    };
  }
  return lateSchema;
}

function unknownKind(kind: string): Error {
  return new Error(`no Avro schema for stream kind ${JSON.stringify(kind)} (Avro is available for ${AVRO_STREAM_KINDS.join(', ')}); use format: json for this output`);
}

/**
 * The Avro schema (JSON) of a derived stream kind: `triggers`, `suppressed-triggers`,
 * `sessions`, `identity-merges`, `aggregates`, `dead-letter`, or `late`. Throws for any other
 * kind (event-shaped kinds use {@link avroEventSchema}; see {@link streamAvroSchema}).
 *
 * @example
 * ```ts
 * derivedAvroSchema('triggers').name;      // 'Trigger' (namespace 'tributary')
 * await registry.register('campaign-triggers-value', derivedAvroSchema('triggers'));
 * ```
 */
export function derivedAvroSchema(kind: string): Record<string, unknown> {
  if (kind === 'late') return lateEventSchema();
  const spec = Object.hasOwn(RECORD_TYPES, kind) ? RECORD_TYPES[kind] : undefined;
  if (spec === undefined) throw unknownKind(kind);
  return recordSchema(spec);
}

/**
 * The Avro schema (JSON) used for records of a stream kind: `tributary.Event` for `events`,
 * `duplicates`, `filtered-out` and `routed`, else {@link derivedAvroSchema}. Throws for a kind
 * without a schema.
 *
 * @example
 * ```ts
 * streamAvroSchema('events').name;   // 'Event'
 * streamAvroSchema('sessions').name; // 'Session'
 * ```
 */
export function streamAvroSchema(kind: string): Record<string, unknown> {
  return EVENT_KINDS.has(kind) ? avroEventSchema() : derivedAvroSchema(kind);
}

const types = new Map<string, Type>();

/**
 * The avsc `Type` (`wrapUnions: true`) of {@link streamAvroSchema}, created once per kind.
 *
 * @example
 * ```ts
 * streamAvroType('aggregates').name; // 'tributary.Aggregate'
 * ```
 */
export function streamAvroType(kind: string): Type {
  if (EVENT_KINDS.has(kind)) return avroEventType();
  let t = types.get(kind);
  if (t === undefined) {
    t = avsc.Type.forSchema(derivedAvroSchema(kind) as avsc.Schema, { wrapUnions: true });
    types.set(kind, t);
  }
  return t;
}

// --- conversion to and from avsc's wrapUnions form -----------------------------------------

function long(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > MAX_AVRO_LONG) {
    throw new TypeError(`${where}: expected an integer within ±2^52, got ${typeof v === 'number' ? String(v) : typeof v}`);
  }
  return v;
}

function string(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new TypeError(`${where}: expected a string, got ${v === null ? 'null' : typeof v}`);
  return v;
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`${where}: expected an object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
  return v as Record<string, unknown>;
}

function toShape(shape: Shape, v: unknown, where: string): unknown {
  switch (shape) {
    case 'string':
      return string(v, where);
    case 'long':
    case 'timestamp':
      return long(v, where);
    case 'boolean':
      if (typeof v !== 'boolean') throw new TypeError(`${where}: expected a boolean, got ${typeof v}`);
      return v;
    case 'strings':
      if (!Array.isArray(v)) throw new TypeError(`${where}: expected an array of strings, got ${typeof v}`);
      return v.map((x, i) => string(x, `${where}[${i}]`));
    case 'longMap': {
      const o = object(v, where);
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o)) setOwn(out, k, long(o[k], `${where}.${k}`));
      return out;
    }
    case 'jsonMap':
      return toJsonMap(object(v, where), where);
    case 'eventRef': {
      const o = object(v, where);
      const page = o.page;
      return {
        messageId: string(o.messageId, `${where}.messageId`),
        event: string(o.event, `${where}.event`),
        timestamp: long(o.timestamp, `${where}.timestamp`),
        page: page === null || page === undefined ? null : { string: string(page, `${where}.page`) },
      };
    }
  }
}

const BRANCH: Record<Shape, string> = {
  string: 'string',
  long: 'long',
  timestamp: 'long',
  boolean: 'boolean',
  strings: 'array',
  longMap: 'map',
  jsonMap: 'map',
  eventRef: 'tributary.SessionEventRef',
};

function fromShape(shape: Shape, v: unknown): unknown {
  switch (shape) {
    case 'jsonMap':
      return fromJsonMap(v as Record<string, JsonValueRecord>);
    case 'longMap': {
      const out: Record<string, unknown> = {};
      const m = v as Record<string, unknown>;
      for (const k of Object.keys(m)) setOwn(out, k, m[k]);
      return out;
    }
    case 'eventRef': {
      const o = v as { messageId: string; event: string; timestamp: number; page: Wrapped };
      return { messageId: o.messageId, event: o.event, timestamp: o.timestamp, page: o.page === null ? null : (o.page.string as string) };
    }
    default:
      return v;
  }
}

function toSpecRecord(spec: RecordSpec, record: DerivedRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const known = new Set<string>();
  for (const fs of spec.fields) {
    known.add(fs.name);
    const v = record[fs.name];
    if (fs.presence === 'required') {
      if (v === undefined) throw new TypeError(`${fs.name}: missing (required in tributary.${spec.name})`);
      out[fs.name] = toShape(fs.shape, v, fs.name);
    } else {
      out[fs.name] = v === undefined || v === null ? null : { [BRANCH[fs.shape]]: toShape(fs.shape, v, fs.name) };
    }
  }
  let extra: Record<string, unknown> | undefined;
  for (const k of Object.keys(record)) {
    if (known.has(k)) continue;
    const v = record[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    extra ??= {};
    setOwn(extra, k, { value: wrapJson(v, k) });
  }
  out.extra = extra === undefined ? null : { map: extra };
  return out;
}

function fromSpecRecord(spec: RecordSpec, rec: Record<string, unknown>): DerivedRecord {
  const out: DerivedRecord = {};
  const known = new Set<string>();
  for (const fs of spec.fields) {
    known.add(fs.name);
    const v = rec[fs.name];
    if (fs.presence === 'required') out[fs.name] = fromShape(fs.shape, v);
    else if (v !== null && v !== undefined) out[fs.name] = fromShape(fs.shape, (v as Record<string, unknown>)[BRANCH[fs.shape]]);
    else if (fs.presence === 'nullable') out[fs.name] = null;
  }
  const extra = rec.extra as Wrapped | undefined;
  if (extra !== null && extra !== undefined) {
    const m = extra.map as Record<string, JsonValueRecord>;
    for (const k of Object.keys(m)) if (!known.has(k)) setOwn(out, k, unwrapJson((m[k] as JsonValueRecord).value));
  }
  return out;
}

/**
 * Encodes a record of a stream kind as a plain Avro body (no framing) with
 * {@link streamAvroSchema}`(kind)`. Throws for a kind without a schema, and `TypeError` naming
 * the field for a record that does not fit (a required field missing, a non-integer time…).
 *
 * @example
 * ```ts
 * const body = encodeStreamAvro('sessions', driver.read('sessions')[0]);
 * decodeStreamAvro('sessions', body); // { ok: true, record: { sessionId: …, … } }
 * ```
 */
export function encodeStreamAvro(kind: string, record: DerivedRecord): Buffer {
  if (EVENT_KINDS.has(kind)) return encodeAvroEvent(record as TributaryEvent);
  const type = streamAvroType(kind);
  let rec: Record<string, unknown>;
  if (kind === 'late') {
    const { watermark, ...event } = record;
    rec = { ...toAvroRecord(event as TributaryEvent), watermark: long(watermark, 'watermark') };
  } else {
    rec = toSpecRecord(RECORD_TYPES[kind] as RecordSpec, record);
  }
  try {
    return type.toBuffer(rec);
  } catch (err) {
    throw new TypeError(`cannot encode a ${kind} record as ${type.name ?? kind}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Outcome of {@link decodeStreamAvro}.
 *
 * @example
 * ```ts
 * const r: StreamAvroDecodeResult = decodeStreamAvro('triggers', body);
 * ```
 */
export type StreamAvroDecodeResult = { ok: true; record: DerivedRecord } | AvroReject;

/**
 * Decodes a plain Avro body of a stream kind (the inverse of {@link encodeStreamAvro});
 * `writerType` resolves an older/newer writer schema to the current one. Bytes that do not
 * decode give `malformed-avro`. Throws for a kind without a schema.
 *
 * @example
 * ```ts
 * decodeStreamAvro('triggers', encodeStreamAvro('triggers', record)); // { ok: true, record }
 * ```
 */
export function decodeStreamAvro(kind: string, buf: Uint8Array, writerType?: Type): StreamAvroDecodeResult {
  if (EVENT_KINDS.has(kind)) {
    const r = decodeAvroEvent(buf, writerType === undefined ? undefined : { writerType });
    return r.ok ? { ok: true, record: r.event } : r;
  }
  const type = streamAvroType(kind);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let decoded: { value: unknown; offset: number };
  try {
    decoded = writerType === undefined ? type.decode(b, 0) : type.decode(b, 0, type.createResolver(writerType));
  } catch (err) {
    return { ok: false, reason: 'malformed-avro', detail: `does not decode as ${type.name ?? kind}: ${errorMessage(err)}` };
  }
  if (decoded.offset < 0) return { ok: false, reason: 'malformed-avro', detail: `truncated: ${b.length} bytes are not a whole ${type.name ?? kind}` };
  if (decoded.offset !== b.length) return { ok: false, reason: 'malformed-avro', detail: `${b.length - decoded.offset} trailing bytes after a ${type.name ?? kind}` };
  const rec = decoded.value as Record<string, unknown>;
  if (kind === 'late') return { ok: true, record: { ...fromAvroRecord(rec), watermark: rec.watermark } };
  return { ok: true, record: fromSpecRecord(RECORD_TYPES[kind] as RecordSpec, rec) };
}
