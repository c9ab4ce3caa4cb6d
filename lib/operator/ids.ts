import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';

/**
 * A deterministic id for a derived record: the same inputs give the same id on every
 * replay and retry, so downstream systems can de-duplicate.
 *
 * @example
 * ```ts
 * deriveId('sessions', 'anon-1', 1569888000000); // 's-…' stable 32 hex chars
 * ```
 */
export function deriveId(kind: string, ...parts: ReadonlyArray<string | number>): string {
  // One string hashed in one call (crypto.hash, Node ≥ 20.12): the same bytes as updating a hash
  // part by part, at a third of the cost.
  let text = kind;
  for (const p of parts) text += (typeof p === 'number' ? '\u0000n:' : '\u0000s:') + p;
  return `${kind.slice(0, 1)}-${hashHex(text).slice(0, 32)}`;
}

const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
const hashHex: (text: string) => string =
  typeof oneShot === 'function' ? (text) => oneShot('sha256', text, 'hex') : (text) => createHash('sha256').update(text).digest('hex');
