/**
 * Encoding and decoding a record of any stream kind with its Avro schema: the record to an
 * unframed body of `streamAvroSchema(kind)` and back, with decode failures reported as
 * `malformed-avro` instead of thrown.
 */
import type { Type } from 'avsc';
import type { TributaryEvent } from '../event/event.js';
import type { DerivedRecord } from '../operator/contract.js';
import { decodeAvroEvent, encodeAvroEvent, errorMessage, type AvroReject } from './avro-event-codec.js';
import { fromAvroRecord, toAvroRecord } from './avro-event-record.js';
import { fromJsonMap, MAX_AVRO_LONG, setOwn, toJsonMap, unwrapJson, wrapJson, type JsonValueRecord, type Wrapped } from './avro-json-value.js';
import { EVENT_KINDS, RECORD_TYPES, type RecordSpec, type Shape } from './derived-avro-kinds.js';
import { streamAvroType } from './derived-avro-schema.js';

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

function double(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${where}: expected a finite number, got ${typeof v === 'number' ? String(v) : typeof v}`);
  return v;
}

function array(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new TypeError(`${where}: expected an array, got ${v === null ? 'null' : typeof v}`);
  return v;
}

/** A nullable string inside a nested record, in avsc's wrapped-union form. */
function nullableString(v: unknown, where: string): Wrapped {
  return v === null || v === undefined ? null : { string: string(v, where) };
}

function numberMap(v: unknown, where: string, number: (x: unknown, where: string) => number): Record<string, unknown> {
  const o = object(v, where);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) setOwn(out, k, number(o[k], `${where}.${k}`));
  return out;
}

function plainMap(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(m)) setOwn(out, k, m[k]);
  return out;
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
    case 'double':
      return double(v, where);
    case 'longs':
      return array(v, where).map((x, i) => long(x, `${where}[${i}]`));
    case 'doubleMap':
      return numberMap(v, where, double);
    case 'funnelSteps':
      return array(v, where).map((x, i) => {
        const o = object(x, `${where}[${i}]`);
        return { name: string(o.name, `${where}[${i}].name`), at: long(o.at, `${where}[${i}].at`), messageId: string(o.messageId, `${where}[${i}].messageId`) };
      });
    case 'creditedTouchpoints':
      return array(v, where).map((x, i) => {
        const o = object(x, `${where}[${i}]`);
        const at = `${where}[${i}]`;
        return {
          messageId: string(o.messageId, `${at}.messageId`),
          at: long(o.at, `${at}.at`),
          channel: nullableString(o.channel, `${at}.channel`),
          campaign: nullableString(o.campaign, `${at}.campaign`),
          credit: numberMap(o.credit, `${at}.credit`, double),
        };
      });
    case 'boolean':
      if (typeof v !== 'boolean') throw new TypeError(`${where}: expected a boolean, got ${typeof v}`);
      return v;
    case 'strings':
      if (!Array.isArray(v)) throw new TypeError(`${where}: expected an array of strings, got ${typeof v}`);
      return v.map((x, i) => string(x, `${where}[${i}]`));
    case 'longMap':
      return numberMap(v, where, long);
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
  double: 'double',
  timestamp: 'long',
  boolean: 'boolean',
  strings: 'array',
  longs: 'array',
  longMap: 'map',
  doubleMap: 'map',
  jsonMap: 'map',
  eventRef: 'tributary.SessionEventRef',
  funnelSteps: 'array',
  creditedTouchpoints: 'array',
};

function fromShape(shape: Shape, v: unknown): unknown {
  switch (shape) {
    case 'jsonMap':
      return fromJsonMap(v as Record<string, JsonValueRecord>);
    case 'longMap':
    case 'doubleMap':
      return plainMap(v as Record<string, unknown>);
    case 'funnelSteps':
      return (v as Array<{ name: string; at: number; messageId: string }>).map((x) => ({ name: x.name, at: x.at, messageId: x.messageId }));
    case 'creditedTouchpoints':
      return (v as Array<{ messageId: string; at: number; channel: Wrapped; campaign: Wrapped; credit: Record<string, unknown> }>).map((x) => ({
        messageId: x.messageId,
        at: x.at,
        channel: x.channel === null ? null : (x.channel.string as string),
        campaign: x.campaign === null ? null : (x.campaign.string as string),
        credit: plainMap(x.credit),
      }));
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
