/**
 * Record formats: JSON/NDJSON, CSV and Avro (with the Confluent wire format and container
 * files), each decoding to plain records or events and reporting bad input as a dead-letter
 * reason instead of throwing.
 *
 * @example
 * ```ts
 * import { decodeJsonRecord, parseCsv, decodeAvroEvent } from './lib/serde/index.js';
 * const r = decodeJsonRecord('{"event":"view"}'); // { ok: true, value: { event: 'view' } }
 * ```
 */
export * from './json.js';
export * from './csv.js';
export * from './avro.js';
