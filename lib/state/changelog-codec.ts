/**
 * The changelog wire format and the names around it: topic names and configs, the encoded
 * key and value of a changelog record, offsets as checkpoints keep them.
 *
 * Wire format (stable: compaction compares keys byte for byte, so the key encoding must never
 * change for a topic):
 * - key: lmdb-js's ordered-binary encoding of the store key (`keyValueToBuffer`), the same bytes
 *   LMDB uses as the key. Tuples round-trip as tuples, scalars as scalars.
 * - value: a version byte (1), a flags byte (bit 0: an `expiresAt` follows as a little-endian
 *   float64), then the value as msgpack (msgpackr, `structuredClone` mode, records inline, so
 *   Set, Map, Date and typed arrays round-trip as with the LMDB store). A tombstone is `null`.
 *
 * @module
 */
import * as lmdb from 'lmdb';
import { Packr } from 'msgpackr';
import { validateKey } from './key-order.js';
import type { StoreKey } from './store.js';

/** One changelog record, encoded: Kafka message key and value (`null`: a tombstone). */
export interface ChangelogRecord {
  key: Buffer;
  value: Buffer | null;
}

/** The changelog records of one store since the last drain. */
export interface StoreChanges {
  store: string;
  records: ChangelogRecord[];
}

/** A decoded changelog value. */
export interface ChangelogValue {
  value: unknown;
  expiresAt: number | undefined;
}

/** A Kafka offset as kafkajs gives it (a decimal string), or a number / bigint. */
export type Offset = string | number | bigint;

/** Version byte of the changelog value format (see the module notes). */
export const CHANGELOG_VALUE_VERSION = 1;
/** Whether `value` is an offset as checkpoints and commit metadata keep it: a decimal string without a sign or leading zeros. */
export function isOffset(value: unknown): value is string {
  return typeof value === 'string' && /^(0|[1-9][0-9]*)$/.test(value);
}

/** Topic configs of a changelog topic (create it with the task's partition count). */
export const CHANGELOG_TOPIC_CONFIGS: Readonly<Record<string, string>> = Object.freeze({
  'cleanup.policy': 'compact',
});

/** `<app>-<store>-changelog`, checked against Kafka's topic name rules. */
export function changelogTopic(app: string, store: string): string {
  const topic = `${app}-${store}-changelog`;
  if (!/^[a-zA-Z0-9._-]+$/.test(topic) || topic.length > 249) {
    throw new Error(`changelog topic "${topic}" (app "${app}", store "${store}") is not a valid Kafka topic name: use [a-zA-Z0-9._-], at most 249 characters`);
  }
  return topic;
}

/** lmdb-js exports ordered-binary's encoder and decoder at run time but does not declare them. */
const ordered = lmdb as unknown as {
  keyValueToBuffer?: (key: unknown) => Uint8Array;
  bufferToKeyValue?: (bytes: Uint8Array) => unknown;
};
const keyValueToBuffer = ordered.keyValueToBuffer;
const bufferToKeyValue = ordered.bufferToKeyValue;
if (typeof keyValueToBuffer !== 'function' || typeof bufferToKeyValue !== 'function') {
  throw new Error('lmdb does not export keyValueToBuffer / bufferToKeyValue');
}

const packr = new Packr({ structuredClone: true });

/** The changelog key of a store key (a fresh buffer). Throws for an invalid key. */
export function encodeChangelogKey(key: StoreKey, store = 'changelog'): Buffer {
  // keyValueToBuffer returns a view of a buffer it reuses: copy.
  return Buffer.from(keyValueToBuffer!(validateKey(store, key)));
}

/** The store key of a changelog key. */
export function decodeChangelogKey(bytes: Uint8Array): StoreKey {
  if (bytes.length === 0) throw new Error('changelog key is empty');
  // bufferToKeyValue may decode from a shared buffer: give it a copy it can keep.
  return bufferToKeyValue!(Buffer.from(bytes)) as StoreKey;
}

/** The changelog value of a put (a fresh buffer). */
export function encodeChangelogValue(value: unknown, expiresAt: number | undefined): Buffer {
  const body = packr.pack(value);
  const header = expiresAt === undefined ? 2 : 10;
  const out = Buffer.allocUnsafe(header + body.length);
  out[0] = CHANGELOG_VALUE_VERSION;
  out[1] = expiresAt === undefined ? 0 : 1;
  if (expiresAt !== undefined) out.writeDoubleLE(expiresAt, 2);
  out.set(body, header);
  return out;
}

/** Decodes a changelog value; throws on an unknown version or a truncated value. */
export function decodeChangelogValue(bytes: Uint8Array): ChangelogValue {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 2) throw new Error(`changelog value of ${buf.length} bytes is truncated`);
  if (buf[0] !== CHANGELOG_VALUE_VERSION) {
    throw new Error(`changelog value version ${buf[0]} is not supported (this version reads ${CHANGELOG_VALUE_VERSION})`);
  }
  const flags = buf[1]!;
  if ((flags & ~1) !== 0) throw new Error(`changelog value flags ${flags} are not supported`);
  const hasExpiry = (flags & 1) === 1;
  if (hasExpiry && buf.length < 10) throw new Error('changelog value with expiresAt is truncated');
  const expiresAt = hasExpiry ? buf.readDoubleLE(2) : undefined;
  return { value: packr.unpack(buf.subarray(hasExpiry ? 10 : 2)), expiresAt };
}

/** Normalises an offset to a decimal string (throws for a negative or non-integer one). */
export function offsetString(offset: Offset, what = 'offset'): string {
  let n: bigint;
  try {
    n = BigInt(offset);
  } catch {
    throw new TypeError(`${what} must be an integer, got ${String(offset)}`);
  }
  if (n < 0n) throw new RangeError(`${what} must be >= 0, got ${String(offset)}`);
  return n.toString();
}

