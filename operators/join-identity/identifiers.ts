/**
 * The identifiers of `joinIdentity`: how a field value becomes a typed identifier
 * (`<field path>:<value>`, hashed when long or unstorable), and the person id a new person
 * derives from its first identifier.
 */
import { createHash } from 'node:crypto';
import { deriveId } from '../../lib/operator/ids.js';

/** A typed identifier: `<field path>:<value>` (or `<field path>#<hash>` for long/odd values). */
export type Identifier = string;

const MAX_PLAIN_VALUE = 200;
// Store keys refuse U+0000..U+0004 (LMDB's key encoding uses them) and lone surrogates.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /[\u0000-\u0004]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The identifier path of user ids: the preferred anchor, and the one an `alias` needs. */
export const USER = 'userId';

/**
 * The typed identifier of a field value.
 *
 * @example
 * ```ts
 * identifierOf('userId', 'u1');            // 'userId:u1'
 * identifierOf('traits.emailHash', 'x'.repeat(500)); // 'traits.emailHash#…' (hashed)
 * ```
 */
export function identifierOf(path: string, value: string): Identifier {
  if (value.length <= MAX_PLAIN_VALUE && !UNSTORABLE.test(value)) return `${path}:${value}`;
  // UTF-8 turns every lone surrogate into U+FFFD, so two values that differ only there would hash
  // alike (two customers, one person): such a value is hashed as its UTF-16 code units instead.
  const bytes = LONE_SURROGATE.test(value) ? Buffer.from(value, 'utf16le') : Buffer.from(value, 'utf8');
  return `${path}#${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}`;
}

/**
 * The person id a new person gets from its first identifier. Deterministic, so a lookup that
 * misses can compute it without the resolver.
 *
 * @example
 * ```ts
 * personIdFor('anonymousId:a1'); // 'p-…' (32 hex chars)
 * ```
 */
export function personIdFor(identifier: Identifier): string {
  return deriveId('person', identifier);
}

/** Whether an identifier is a user id (`userId:…` or hashed `userId#…`). */
export const isUserId = (id: Identifier): boolean => id.startsWith('userId:') || id.startsWith('userId#');
