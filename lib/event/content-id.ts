/**
 * The content id of a record without a `messageId`: identical records get identical ids,
 * whatever their key order.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * The canonical JSON text of a value: object keys sorted (by UTF-16 code units) at every
 * level, no whitespace, `undefined`/function members dropped as `JSON.stringify` does,
 * `toJSON` honoured (dates), bigints as their digits. Equal data gives equal text whatever
 * the key order it was built in.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: { d: [1, 'x'], c: null } }); // '{"a":{"c":null,"d":[1,"x"]},"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null';
    default:
      break;
  }
  if (value === null) return 'null';
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return canonicalJson(withJson.toJSON());
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * The content-derived message id used by `messageId: 'hash'`: `h-` followed by the first 32
 * hex digits (128 bits) of SHA-256 over {@link canonicalJson} of the raw record.
 *
 * @example
 * ```ts
 * contentMessageId({ event_type: 'view', product_id: '44600062' }); // 'h-…' (34 chars, stable)
 * ```
 */
export function contentMessageId(raw: unknown): string {
  return `h-${createHash('sha256').update(canonicalJson(raw)).digest('hex').slice(0, 32)}`;
}
