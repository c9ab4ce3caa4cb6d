/**
 * Avro for the derived record streams, the public entry of its parts: the stream kinds with a
 * schema and their fields (derived-avro-kinds.ts), the schema and avsc `Type` of each kind
 * (derived-avro-schema.ts, which also documents the representation), and the encoding of a
 * record of any kind with its schema (derived-avro-codec.ts).
 */
export { AVRO_STREAM_KINDS } from './derived-avro-kinds.js';
export { derivedAvroSchema, streamAvroSchema, streamAvroType } from './derived-avro-schema.js';
export { encodeStreamAvro, decodeStreamAvro, type StreamAvroDecodeResult } from './derived-avro-codec.js';
