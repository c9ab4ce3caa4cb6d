/**
 * Avro schemas for the derived record streams, so that any output may be written
 * with `format: avro` (`outputs: { campaign-triggers: { format: avro } }`): the schema (JSON)
 * and avsc `Type` of each stream kind, built from the field lists in derived-avro-kinds.ts.
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
 * | `funnels` | `tributary.FunnelAttempt` (with `tributary.FunnelStep`) |
 * | `attributions` | `tributary.Attribution` (with `tributary.CreditedTouchpoint`) |
 * | `channel-credits` | `tributary.ChannelCredit` |
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
 *   `eventCounts` (sessions) is `map<long>`; attribution values and credits are `double` (a
 *   credit per model is `map<double>`, keyed by the model's name).
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
import { avroEventSchema, avroEventType } from './avro-event-schema.js';
import { AVRO_STREAM_KINDS, EVENT_KINDS, RECORD_TYPES, type FieldSpec, type RecordSpec } from './derived-avro-kinds.js';

/** Event times: epoch milliseconds, Avro's `timestamp-millis` (a `long`). */
const TIMESTAMP_MILLIS = Object.freeze({ type: 'long', logicalType: 'timestamp-millis' });

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
    { name: 'timestamp', type: TIMESTAMP_MILLIS },
    { name: 'page', type: ['null', 'string'], default: null, doc: 'URL or path of the page, or null.' },
  ],
};

const FUNNEL_STEP_SCHEMA = {
  type: 'record',
  name: 'FunnelStep',
  fields: [
    { name: 'name', type: 'string', doc: 'The step name.' },
    { name: 'at', type: TIMESTAMP_MILLIS, doc: 'Event time of the event that reached it.' },
    { name: 'messageId', type: 'string', doc: 'That event.' },
  ],
};

const CREDITED_TOUCHPOINT_SCHEMA = {
  type: 'record',
  name: 'CreditedTouchpoint',
  fields: [
    { name: 'messageId', type: 'string', doc: 'The touchpoint event.' },
    { name: 'at', type: TIMESTAMP_MILLIS, doc: 'Its event time.' },
    { name: 'channel', type: ['null', 'string'], default: null, doc: 'Its channel, or null.' },
    { name: 'campaign', type: ['null', 'string'], default: null, doc: 'Its campaign, or null.' },
    { name: 'credit', type: { type: 'map', values: 'double' }, doc: 'Its credit per model.' },
  ],
};

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
    case 'double':
      t = spec.shape;
      break;
    case 'longs':
      t = { type: 'array', items: 'long' };
      break;
    case 'doubleMap':
      t = { type: 'map', values: 'double' };
      break;
    case 'funnelSteps':
      t = { type: 'array', items: once('FunnelStep', FUNNEL_STEP_SCHEMA) };
      break;
    case 'creditedTouchpoints':
      t = { type: 'array', items: once('CreditedTouchpoint', CREDITED_TOUCHPOINT_SCHEMA) };
      break;
    case 'timestamp':
      t = TIMESTAMP_MILLIS;
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
      fields: [...event.fields, { name: 'watermark', type: TIMESTAMP_MILLIS, doc: 'The watermark when the event arrived.' }],
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

