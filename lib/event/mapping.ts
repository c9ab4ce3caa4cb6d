/**
 * How a source's records become canonical events (`source.mapping`): other layouts load
 * without code. Paths are dotted (`properties.productId`, `context.channel`).
 */

/**
 * How the event time field is read. `auto` accepts ISO-8601 strings (also `YYYY-MM-DD HH:MM:SS[ UTC]`, read as UTC), epoch-ms numbers and numeric strings.
 *
 * @example
 * ```ts
 * const format: TimestampFormat = 'epoch-s'; // "1569888000" → 1569888000000
 * ```
 */
export type TimestampFormat = 'auto' | 'iso' | 'epoch-ms' | 'epoch-s';

/**
 * Field mapping of a source definition.
 *
 * @example
 * ```ts
 * const rees46: SourceMapping = {
 *   fields: { timestamp: 'event_time', event: 'event_type', userId: 'user_id',
 *             'properties.productId': 'product_id', 'properties.price': 'price' },
 *   values: { event: { cart: 'add_to_cart', remove_from_cart: 'remove_from_cart' } },
 *   defaults: { type: 'track', 'context.channel': 'web' },
 *   messageId: 'hash',
 *   types: { 'properties.price': 'number' },
 * };
 * ```
 */
export interface SourceMapping {
  /**
   * Canonical path ← raw path. The value is moved, not copied: the raw field is removed, so
   * `user_id` does not linger beside `userId`. When the raw field is absent, the canonical
   * field is left as the record had it. Unmapped raw fields are kept as they are (pass-through).
   */
  fields?: Record<string, string>;
  /** Canonical path → (raw value → canonical value), applied after `fields`. Unlisted values pass unchanged. */
  values?: Record<string, Record<string, string | number | boolean | null>>;
  /** Canonical path → value used when the field is missing or empty (absent, `null` or `''`) after `fields` and `values`. */
  defaults?: Record<string, string | number | boolean | null>;
  /**
   * Where `messageId` comes from when the record has none: `hash` (default) derives a
   * deterministic id from the raw record's content, so identical rows get identical ids
   * and dedupe catches them; `require` sends such records to the dead-letter output.
   */
  messageId?: 'hash' | 'require';
  /** Default `auto`. */
  timestampFormat?: TimestampFormat;
  /**
   * Canonical path → type the value is converted to, applied after `fields`, `values` and
   * `defaults`. CSV cells are always strings, so numeric columns need this
   * (`{ 'properties.price': 'number', 'properties.quantity': 'integer' }`).
   * - `number`: a finite number, or a string that is one (`"35.79"`, `" 2 "`, `"1e3"`);
   * - `integer`: as `number`, and it must be whole (`"6"`, `6`, `"6.0"`);
   * - `boolean`: `true`/`false`, or (case-insensitive) `"true"`/`"false"`/`"1"`/`"0"`/`"yes"`/`"no"`;
   * - `string`: strings as they are, numbers and booleans as `String(v)`. On `userId`,
   *   `anonymousId` and `previousId` it also turns the default id clean-up
   *   (`"17850.0"` → `"17850"`) off, keeping the text verbatim.
   * Absent and null values are left alone. A value that does not convert rejects the record
   * with `invalid-field`.
   */
  types?: Record<string, FieldType>;
}

/**
 * Target types of {@link SourceMapping.types}.
 *
 * @example
 * ```ts
 * const types: Record<string, FieldType> = { 'properties.price': 'number', 'properties.quantity': 'integer' };
 * ```
 */
export type FieldType = 'string' | 'number' | 'integer' | 'boolean';

/**
 * The values of {@link FieldType}, for validation.
 *
 * @example
 * ```ts
 * FIELD_TYPES.includes('number'); // true
 * ```
 */
export const FIELD_TYPES: readonly FieldType[] = ['string', 'number', 'integer', 'boolean'];

/**
 * The record formats a source can read.
 *
 * @example
 * ```ts
 * const format: SourceFormat = 'csv';
 * ```
 */
export type SourceFormat = 'json' | 'csv' | 'avro';

/**
 * Why an input record was rejected; each is a distinct, documented dead-letter reason.
 *
 * @example
 * ```ts
 * const reason: RejectReason = 'missing-timestamp';
 * ```
 */
export type RejectReason =
  | 'malformed-json'      // not parseable as JSON
  | 'invalid-utf8'        // bytes that are not valid UTF-8 (a file line, a Kafka message value)
  | 'malformed-csv'       // wrong column count / unparseable CSV row
  | 'malformed-avro'      // bytes that do not decode with the event schema
  | 'not-an-object'       // JSON that is not an object (array, string, number, null)
  | 'oversized'           // larger than the source's maxRecordBytes
  | 'too-deep'            // JSON nested more than 256 levels (deeper overflows the stack of JSON.stringify and of recursive code)
  | 'missing-timestamp'   // no event-time field
  | 'invalid-timestamp'   // present but not a date / out of range
  | 'future-timestamp'    // more than the source's maxFutureSkew ahead of processing time
  | 'time-jump'           // more than the source's maxTimeJump ahead of its input partition's recent records
  | 'invalid-type'        // `type` not one of track, identify, alias, page, screen, forget
  | 'missing-event-name'  // a `track` event without `event`
  | 'missing-message-id'  // no messageId and the mapping says `require`
  | 'invalid-field'       // a canonical field of the wrong JSON type (e.g. userId an object)
  | 'missing-key'         // none of the source's key fields is present
  | 'invalid-schema'      // failed a validate step
  | 'invalid-key'         // a step's state store cannot hold the event's key (e.g. control characters, too long)
  | 'processing-error'    // a step threw while processing the event (the error message is the detail)
  | 'invalid-forget';     // a `forget` request that names nobody or cannot be applied
