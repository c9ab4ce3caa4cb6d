/**
 * The `tributary.JsonValue` representation of free-form JSON in Avro: converting plain JSON
 * values to and from avsc's `wrapUnions` form of the recursive union `null | boolean | long |
 * double | string | array<JsonValue> | map<JsonValue>` (shared by the event and derived schemas).
 *
 * Integers within ±2⁵² (except `-0`) are `long`, other numbers `double`, so every JS number
 * round-trips bit-exactly. Values follow JSON semantics: object members that are `undefined`
 * are skipped, `undefined` in arrays becomes `null`, `toJSON` is honoured; bigints, functions
 * and symbols cannot be encoded.
 */

/**
 * Largest magnitude written as an Avro `long`: 2⁵². avsc 5.7 refuses longs beyond ±(2⁵³−2) and
 * silently corrupts negative ones below −2⁵² (its zigzag decoding loses the sign), so larger
 * integers go as `double`, which holds them exactly.
 */
export const MAX_AVRO_LONG = 2 ** 52;

/** @internal A union value in avsc's wrapUnions form (shared with derived-avro.ts). */
export type Wrapped = null | { [branch: string]: unknown };
/** @internal A `tributary.JsonValue` record. */
export interface JsonValueRecord {
  value: Wrapped;
}

/** @internal Shared with avro-event-record.ts. */
export function toJsonValue(v: unknown, where: string): JsonValueRecord {
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
