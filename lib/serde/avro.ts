/**
 * Avro (avsc) for canonical events, the public entry of its parts: the `tributary.Event`
 * schema shipped in `schema/event.avsc` (avro-event-schema.ts), the conversion of events to
 * and from its records (avro-event-record.ts, with free-form JSON in avro-json-value.ts),
 * single-record encoding (avro-event-codec.ts), the Confluent schema-registry wire format
 * (confluent-wire.ts), and Avro object container files (avro-container-file.ts).
 *
 * Decoding with this schema's types uses avsc's `wrapUnions: true` form internally; callers
 * only ever see plain `TributaryEvent`s.
 */
export { MAX_AVRO_LONG, wrapJson, toJsonMap, unwrapJson, fromJsonMap, setOwn, type Wrapped, type JsonValueRecord } from './avro-json-value.js';
export { avroEventSchemaPath, avroEventSchema, avroEventType } from './avro-event-schema.js';
export { toAvroRecord, fromAvroRecord } from './avro-event-record.js';
export { errorMessage, encodeAvroEvent, decodeAvroEvent, type AvroReject, type AvroDecodeResult, type AvroDecodeOptions } from './avro-event-codec.js';
export { CONFLUENT_MAGIC_BYTE, frameConfluent, unframeConfluent, decodeConfluentAvroEvent, type ConfluentUnframeResult } from './confluent-wire.js';
export { readAvroEventFile, writeAvroEventFile, type AvroFileItem, type AvroFileWriteOptions } from './avro-container-file.js';
