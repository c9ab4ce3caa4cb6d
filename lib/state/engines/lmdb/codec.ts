/**
 * How the LMDB engine encodes what it stores: a data entry is a header byte (0: no expiry; 1: the
 * entry's `expiresAt` follows as a little-endian float64), then the value in msgpack
 * (`structuredClone` mode, with a fast path for numbers); an expiry index entry is the key
 * `[expiresAt, ...key]` with a 1-byte placeholder value. Also the key bounds handed to lmdb-js
 * range scans. (The on-disk layout as a whole is described in `env.ts`.)
 *
 * @module
 */
import * as lmdb from 'lmdb';
import type { Key } from 'lmdb';
import { type BoundKey, KEY_PART_MAX, expiryKey } from '../../key-order.js';
import type { KeyPart, StoreKey } from '../../store.js';

/** lmdb-js exports ordered-binary's encoder at run time but does not declare it. */
const keyValueToBuffer = (lmdb as unknown as { keyValueToBuffer?: (key: unknown) => Uint8Array }).keyValueToBuffer;
if (typeof keyValueToBuffer !== 'function') throw new Error('lmdb does not export keyValueToBuffer');

/** The msgpackr encoder lmdb-js attaches to a database opened with the default encoding. */
export interface Codec {
  encoder: { encode(value: unknown): Uint8Array };
  decoder: { decode(bytes: Uint8Array, options?: { start: number; end: number }): unknown };
}
export type ValueCodec = Codec['decoder'] & Codec['encoder'];

/** Header byte of a data entry without / with an `expiresAt` (which then follows as float64 LE). */
export const NO_EXPIRY = 0;
export const HAS_EXPIRY = 1;
export const EXPIRY_HEADER = 9;

/** Value of every expiry index entry (only its key matters). */
export const INDEX_VALUE = lmdb.asBinary(Buffer.from([0]));

/**
 * Bytes of a bound that sorts after every key starting with `parts` and before every key after
 * them: the tuple encoding of `parts`, the part separator (0x00), then 0xFF (no key part encoding
 * starts with 0xFF: numbers start 0x08..0x17, strings 0x1B..0xF4).
 */
export function prefixEndBytes(parts: readonly KeyPart[]): Buffer {
  // Encode [...parts, 0] so every part (including a trailing number) uses its in-tuple form,
  // then drop the 9 bytes of the final 0.
  const encoded = keyValueToBuffer!([...parts, 0]);
  const out = Buffer.alloc(encoded.length - 9 + 1);
  out.set(encoded.subarray(0, encoded.length - 9));
  out[out.length - 1] = 0xff;
  return out;
}

/** An lmdb-js bound for a validated bound key. */
export function lmdbBound(key: BoundKey): Key {
  if (typeof key === 'object' && key[key.length - 1] === KEY_PART_MAX) {
    return prefixEndBytes(key.slice(0, -1) as KeyPart[]);
  }
  return key as Key;
}

/** Scratch index key for a scalar store key (lmdb-js encodes a key before `putSync` returns). */
const INDEX_PAIR: [number, KeyPart] = [0, 0];

/** The expiry index key `[expiresAt, ...key]` (for a scalar key, the reused {@link INDEX_PAIR}). */
export function indexKey(expiresAt: number, key: StoreKey): Key {
  if (typeof key === 'object') return expiryKey(expiresAt, key) as Key;
  INDEX_PAIR[0] = expiresAt;
  INDEX_PAIR[1] = key;
  return INDEX_PAIR;
}

/** Scratch space for {@link encodeValue}'s number encodings, and its views of each length. */
const NUMBER_BYTES = Buffer.alloc(9);
const NUMBER_VIEWS = [1, 2, 3, 5, 9].map((n) => NUMBER_BYTES.subarray(0, n));

/**
 * The msgpack encoding of a value (a view valid until the next call). Numbers, a common state
 * value (counters, timestamps), are encoded here, which costs a fraction of a msgpackr call:
 * unsigned 32-bit integers compactly, other 32-bit integers as int32, the rest as float64; `-0`
 * becomes 0 as with msgpackr. Everything else goes to msgpackr; msgpackr decodes both.
 */
export function encodeValue(codec: ValueCodec, value: unknown): Uint8Array {
  if (typeof value !== 'number') return codec.encode(value);
  const b = NUMBER_BYTES;
  if (value >>> 0 === value) {
    if (value < 0x80) {
      b[0] = value;
      return NUMBER_VIEWS[0]!;
    }
    if (value < 0x100) {
      b[0] = 0xcc;
      b[1] = value;
      return NUMBER_VIEWS[1]!;
    }
    if (value < 0x10000) {
      b[0] = 0xcd;
      b.writeUInt16BE(value, 1);
      return NUMBER_VIEWS[2]!;
    }
    b[0] = 0xce;
    b.writeUInt32BE(value, 1);
    return NUMBER_VIEWS[3]!;
  }
  if (value >> 0 === value) {
    b[0] = 0xd2;
    b.writeInt32BE(value, 1);
    return NUMBER_VIEWS[3]!;
  }
  b[0] = 0xcb;
  b.writeDoubleBE(value, 1);
  return NUMBER_VIEWS[4]!;
}

/** The `expiresAt` in a data entry's header. */
export function storedExpiresAt(bytes: Buffer): number | undefined {
  return bytes[0] === HAS_EXPIRY ? bytes.readDoubleLE(1) : undefined;
}

/** The value of the data entry at `bytes[start..end)`. */
export function decodeStored(codec: ValueCodec, bytes: Uint8Array, start: number, end: number): unknown {
  return codec.decode(bytes, { start: start + (bytes[start] === HAS_EXPIRY ? EXPIRY_HEADER : 1), end });
}
