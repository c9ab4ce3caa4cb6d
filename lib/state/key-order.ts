/**
 * Key ordering and key validation shared by every state store.
 *
 * {@link compareKeys} reproduces, for the store key domain, the byte order in which lmdb-js
 * (`ordered-binary` key encoding, LMDB's default `memcmp` comparison) keeps keys, so that the
 * memory store and the LMDB store iterate identically. Facts checked against lmdb 3.5.6 /
 * ordered-binary 1.6.3 (and asserted in `test/state/store.contract.test.ts` against
 * lmdb's own encoder):
 *
 * - Every number sorts before every string. Numbers sort numerically, `-Infinity` first and
 *   `Infinity` last; `-0` is normalised to `0` (lmdb-js would encode `-0` with a byte that sorts
 *   after every number and decodes as garbage: `['\x18', null]`).
 * - Strings sort by Unicode code point (UTF-8 byte order), not by JavaScript's UTF-16 `<`:
 *   `'\uffff' < '😀'`. (lmdb's exported JS `compareKeys` uses `<` and gets this case wrong.)
 * - A tuple sorts part by part; a tuple that is a prefix of another sorts first; a scalar `x`
 *   sorts exactly like the one-part tuple `[x]`. So `'p1' < ['p1', -Infinity] < ['p1', 5] <
 *   ['p1', 'x'] < 'p10' < ['p10', 1] < 'p1\uffff' < 'p2'`.
 * - Consequences for bounds: `start: ['p1'], end: ['p2']` is a *string* prefix scan of the first
 *   part (it includes `['p10', 1]`); `end: ['p1', Infinity]` stops before the first string second
 *   part; `end: ['p1\uffff']` includes `'p10'`. For an exact tuple-prefix scan use the store's
 *   `prefix` range option, which both stores implement with an internal "after every tuple that
 *   starts with this prefix" bound.
 *
 * Keys the encoding cannot round-trip are rejected with an {@link InvalidKeyError} naming the
 * store and the key: `NaN`, `undefined`, `null`, booleans, objects, nested arrays, the empty
 * tuple, one-part tuple *keys* (lmdb-js stores `['a']` and `'a'` as the same key but `[1]` and
 * `1` as two different keys that both read back as `1`: write the scalar), strings containing
 * U+0000–U+0004 or lone surrogates (strings of 64+ UTF-16 units are encoded differently from
 * shorter ones in those cases and do not read back), and keys whose encoding exceeds
 * {@link MAX_KEY_BYTES}. Range *bounds* may be one-part tuples (`['p1']` means `'p1'`).
 *
 * @module
 */
import sortedBtree from 'sorted-btree';
import type { KeyPart, StoreKey } from './store.js';

/** The sorted-btree class (a CommonJS default export). */
export const BTree = sortedBtree.default;
/** A sorted-btree instance. */
export type BTree<K, V> = InstanceType<typeof sortedBtree.default<K, V>>;

/**
 * Largest encoded key size, in bytes, that a store accepts: LMDB's 1978-byte key limit (4 KiB
 * pages) minus the 10 bytes the LMDB store's expiry index puts in front of a key
 * (`[expiresAt, ...key]`). Strings count their UTF-8 length (+1 when they start with a character
 * below U+001C), numbers 9 bytes, and each tuple separator 1 byte.
 */
export const MAX_KEY_BYTES = 1968;

/**
 * Internal bound part that sorts after every key part. A bound `[...prefix, KEY_PART_MAX]` sorts
 * after every key that starts with `prefix` and before every key after them. Not a valid key.
 * @internal
 */
export const KEY_PART_MAX: unique symbol = Symbol('tributary.keyPartMax');

/** A key, or an internal bound that may end with {@link KEY_PART_MAX}. @internal */
export type BoundKey = StoreKey | readonly (KeyPart | typeof KEY_PART_MAX)[];

type AnyPart = KeyPart | typeof KEY_PART_MAX;

/** Raised for a key (or range bound) that a store cannot hold; names the store and the key. */
export class InvalidKeyError extends TypeError {
  readonly store: string;
  readonly key: unknown;
  constructor(store: string, key: unknown, reason: string) {
    super(`store "${store}": invalid key ${describeKey(key)}: ${reason}`);
    this.name = 'InvalidKeyError';
    this.store = store;
    this.key = key;
  }
}

/**
 * Compares two keys in lmdb-js order (see the module notes): negative when `a` sorts first, 0
 * when they are the same key, positive otherwise. Both arguments must be valid keys or bounds.
 */
export function compareKeys(a: StoreKey, b: StoreKey): number {
  return compareBoundKeys(a, b);
}

/** {@link compareKeys} extended to internal bounds ending with {@link KEY_PART_MAX}. @internal */
export function compareBoundKeys(a: BoundKey, b: BoundKey): number {
  // Fast paths for the common same-shape comparisons.
  if (typeof a === 'string') {
    if (typeof b === 'string') return compareStrings(a, b);
  } else if (typeof a === 'number') {
    if (typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  } else if (typeof b === 'object') {
    return compareTuples(a, b);
  }
  // A scalar against a tuple: the scalar is a one-part tuple.
  const aTuple = typeof a === 'object';
  const la = aTuple ? a.length : 1;
  const lb = typeof b === 'object' ? b.length : 1;
  const c = compareParts((aTuple ? a[0] : a) as AnyPart, (typeof b === 'object' ? b[0] : b) as AnyPart);
  return c !== 0 ? c : la === lb ? 0 : la < lb ? -1 : 1;
}

function compareTuples(a: readonly AnyPart[], b: readonly AnyPart[]): number {
  const la = a.length;
  const lb = b.length;
  const n = la < lb ? la : lb;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    // Distinct valid parts never compare equal (-0 === 0; NaN is not a valid part).
    if (x !== y) return compareParts(x, y);
  }
  return la === lb ? 0 : la < lb ? -1 : 1;
}

function compareParts(x: AnyPart, y: AnyPart): number {
  if (typeof x === 'number') {
    if (typeof y === 'number') return x < y ? -1 : x > y ? 1 : 0;
    return -1; // numbers sort before strings (and before the internal maximum)
  }
  if (typeof x === 'string') {
    if (typeof y === 'string') return compareStrings(x, y);
    return typeof y === 'number' ? 1 : -1;
  }
  return y === KEY_PART_MAX ? 0 : 1;
}

/** Any code unit at or above U+D800: only then can UTF-16 order differ from code point order. */
const HIGH_UNIT = /[\ud800-\uffff]/;

/** Code point (UTF-8 byte) order, which differs from UTF-16 `<` only around surrogates. */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  // They disagree only when, at the first difference, one unit is a surrogate and the other is
  // U+E000..U+FFFF, so both strings must hold a unit >= U+D800; otherwise native `<` is exact.
  if (!HIGH_UNIT.test(a) || !HIGH_UNIT.test(b)) return a < b ? -1 : 1;
  const la = a.length;
  const lb = b.length;
  const n = la < lb ? la : lb;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        // Surrogates (astral code points) sort after U+E000..U+FFFF in UTF-8.
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return la < lb ? -1 : 1;
}

/** Characters lmdb-js cannot round-trip in every string length, and lone surrogates. */
// eslint-disable-next-line no-control-regex -- U+0000..U+0004 are exactly what must be rejected
const BAD_STRING = /[\0-\x04]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkString(store: string, key: unknown, s: string): void {
  if (BAD_STRING.test(s)) {
    throw new InvalidKeyError(store, key, 'strings in keys may not contain U+0000..U+0004 or lone surrogates');
  }
}

/** Encoded size of a string part inside a tuple (ordered-binary: escape byte + UTF-8). */
function stringBytes(s: string): number {
  const c = s.charCodeAt(0);
  return Buffer.byteLength(s, 'utf8') + (c >= 28 ? 0 : 1);
}

function checkSize(store: string, key: unknown, parts: readonly KeyPart[] | KeyPart): void {
  // Cheap upper bound first (3 bytes per UTF-16 unit); exact UTF-8 length only near the limit.
  const list = typeof parts === 'object' ? parts : [parts];
  let bound = list.length - 1;
  for (const p of list) bound += typeof p === 'number' ? 9 : p.length * 3 + 1;
  if (bound <= MAX_KEY_BYTES) return;
  let exact = list.length - 1;
  for (const p of list) exact += typeof p === 'number' ? 9 : stringBytes(p);
  if (exact > MAX_KEY_BYTES) {
    throw new InvalidKeyError(store, key, `encoded key is ${exact} bytes; the maximum is ${MAX_KEY_BYTES}`);
  }
}

const KEY_TYPES = 'keys are strings, numbers (not NaN) or tuples of two or more of them';

/**
 * Validates a key for `store` and returns it normalised (`-0` becomes `0`; a tuple holding `-0`
 * is copied). Throws {@link InvalidKeyError} naming the store and the key otherwise.
 */
export function validateKey<K extends StoreKey>(store: string, key: K): K {
  if (typeof key === 'string') {
    checkString(store, key, key);
    if (key.length > 600) checkSize(store, key, key);
    return key;
  }
  if (typeof key === 'number') {
    if (key !== key) throw new InvalidKeyError(store, key, KEY_TYPES);
    return (key === 0 ? 0 : key) as K;
  }
  if (Array.isArray(key)) {
    const parts = key as readonly unknown[];
    if (parts.length < 2) {
      throw new InvalidKeyError(
        store,
        key,
        parts.length === 0
          ? 'the empty tuple is not a key'
          : 'a one-part tuple is not a key (LMDB does not distinguish it from its part consistently): use the part itself',
      );
    }
    return validateParts(store, key, parts) as unknown as K;
  }
  throw new InvalidKeyError(store, key, KEY_TYPES);
}

function validateParts(store: string, key: unknown, parts: readonly unknown[]): readonly KeyPart[] {
  let copy: KeyPart[] | undefined;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (typeof p === 'string') {
      checkString(store, key, p);
    } else if (typeof p === 'number') {
      if (p !== p) throw new InvalidKeyError(store, key, `part ${i} is NaN; ${KEY_TYPES}`);
      if (p === 0 && 1 / p < 0) {
        copy ??= parts.slice() as KeyPart[];
        copy[i] = 0;
      }
    } else {
      throw new InvalidKeyError(store, key, `part ${i} is ${describePart(p)}; ${KEY_TYPES}`);
    }
  }
  const out = copy ?? (parts as readonly KeyPart[]);
  checkSize(store, key, out);
  return out;
}

/**
 * Validates a range bound: a key, or a tuple of any length from one part (a one-part tuple is
 * returned as its scalar part, which is how lmdb-js orders a one-part string tuple and how the
 * LMDB store passes every one-part bound).
 * @internal
 */
export function validateBound(store: string, bound: unknown, what: string): StoreKey {
  if (Array.isArray(bound)) {
    const parts = bound as readonly unknown[];
    if (parts.length === 0) throw new InvalidKeyError(store, bound, `${what}: the empty tuple is not a bound`);
    const out = validateParts(store, bound, parts);
    return out.length === 1 ? (out[0] as KeyPart) : out;
  }
  return validateKey(store, bound as StoreKey);
}

/** Returns a key safe to keep (tuples are copied and frozen unless already frozen). @internal */
export function ownKey<K extends StoreKey>(key: K): K {
  return typeof key === 'object' && !Object.isFrozen(key) ? (Object.freeze(key.slice()) as unknown as K) : key;
}

/** The parts of a key (a scalar is a one-part tuple). @internal */
export function keyParts(key: StoreKey): readonly KeyPart[] {
  return typeof key === 'object' ? key : [key];
}

/** Checks an `expiresAt` put option; returns it (or undefined). @internal */
export function validateExpiresAt(store: string, expiresAt: unknown): number | undefined {
  if (expiresAt === undefined) return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) {
    throw new TypeError(`store "${store}": expiresAt must be a finite number (epoch ms), got ${describePart(expiresAt)}`);
  }
  return expiresAt === 0 ? 0 : expiresAt;
}

/** Checks an `expire` watermark. @internal */
export function validateWatermark(store: string, watermark: unknown): number {
  if (typeof watermark !== 'number' || watermark !== watermark) {
    throw new TypeError(`store "${store}": expire watermark must be a number, got ${describePart(watermark)}`);
  }
  return watermark;
}

/** `[expiresAt, ...key]`, the key of an expiry index entry. @internal */
export function expiryKey(expiresAt: number, key: StoreKey): readonly KeyPart[] {
  return typeof key === 'object' ? [expiresAt, ...key] : [expiresAt, key];
}

/** The store key of an expiry index key `[expiresAt, ...key]`. @internal */
export function keyOfExpiry(indexKey: readonly KeyPart[]): StoreKey {
  return indexKey.length === 2 ? (indexKey[1] as KeyPart) : Object.freeze(indexKey.slice(1));
}

/** A short, safe rendering of a (possibly invalid) key for error messages. */
export function describeKey(key: unknown): string {
  const s = Array.isArray(key) ? `[${(key as unknown[]).map(describePart).join(', ')}]` : describePart(key);
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

function describePart(p: unknown): string {
  switch (typeof p) {
    case 'string':
      return JSON.stringify(p.length > 100 ? `${p.slice(0, 97)}...` : p);
    case 'number':
      return Object.is(p, -0) ? '-0' : String(p);
    case 'bigint':
      return `${p}n`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return p.toString();
    case 'function':
      return 'a function';
    case 'boolean':
      return String(p);
    default:
      if (p === null) return 'null';
      if (Array.isArray(p)) return 'a nested array';
      try {
        return `an object ${JSON.stringify(p)?.slice(0, 60) ?? ''}`.trimEnd();
      } catch {
        return 'an object';
      }
  }
}

/**
 * A validated key as one `Map` key (write buffers, change sets): scalars are themselves; a
 * tuple is its parts, each prefixed by U+0001 (number) or U+0002 (string). Key strings cannot
 * contain U+0000..U+0004, so no tuple id equals a string key or another tuple's id; `String(n)`
 * is exact for every number (`-0` is normalised to `0` before).
 *
 * @example
 * ```ts
 * keyId(['p1', 5]); // '\u0002p1\u00015'
 * ```
 */
export function keyId(key: StoreKey): string | number {
  if (typeof key !== 'object') return key;
  let id = '';
  for (let i = 0; i < key.length; i++) {
    const part = key[i]!;
    id += (typeof part === 'number' ? '\u0001' : '\u0002') + part;
  }
  return id;
}
