/**
 * Avro strings that were not UTF-8. avsc decodes a string's bytes as Node does, putting U+FFFD
 * where they are not UTF-8, so a record with such bytes would pass with its text silently
 * changed. A value whose strings (map keys included) hold more U+FFFD than its encoded bytes hold
 * the UTF-8 of U+FFFD (EF BF BD) had bytes replaced: it is rejected `invalid-utf8`, as a JSON record
 * with such bytes is. Every decoded event's strings are searched for U+FFFD (a walk of the
 * event, a fraction of the decoding); the bytes are scanned only when one is found. A stray
 * EF BF BD inside a number's bytes can only hide a replacement, never invent one.
 *
 * @module
 */

/** U+FFFD in every string of `value` (object keys included). */
export function replacementCount(value: unknown): number {
  if (typeof value === 'string') return countIn(value);
  if (typeof value !== 'object' || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const v of value) n += replacementCount(v);
    return n;
  }
  for (const k of Object.keys(value)) n += countIn(k) + replacementCount((value as Record<string, unknown>)[k]);
  return n;
}

function countIn(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\uFFFD'); i >= 0; i = s.indexOf('\uFFFD', i + 1)) n++;
  return n;
}

/** EF BF BD sequences in `bytes`. */
function encodedReplacements(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xef && bytes[i + 1] === 0xbf && bytes[i + 2] === 0xbd) n++;
  return n;
}

/**
 * Why `value`, decoded from `bytes`, is not what they say (bytes that are not UTF-8 in some
 * string), or undefined.
 *
 * @example
 * ```ts
 * invalidUtf8InAvro({ messageId: 'm\uFFFD' }, bytesWithAnInvalidByte); // 'a string holds bytes that are not UTF-8 (…)'
 * ```
 */
export function invalidUtf8InAvro(value: unknown, bytes: Uint8Array): string | undefined {
  const decoded = replacementCount(value);
  if (decoded === 0) return undefined;
  const encoded = encodedReplacements(bytes);
  if (decoded <= encoded) return undefined;
  return `a string holds bytes that are not UTF-8 (${decoded - encoded} replaced by U+FFFD on decoding)`;
}
