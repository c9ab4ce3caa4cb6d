import { createHash } from 'node:crypto';

/**
 * A deterministic id for a derived record: the same inputs give the same id on every
 * replay and retry, so downstream systems can de-duplicate (SPEC §4).
 *
 * @example
 * ```ts
 * deriveId('sessions', 'anon-1', 1569888000000); // 's-…' stable 32 hex chars
 * ```
 */
export function deriveId(kind: string, ...parts: ReadonlyArray<string | number>): string {
  const h = createHash('sha256');
  h.update(kind);
  for (const p of parts) {
    h.update('\u0000');
    h.update(typeof p === 'number' ? `n:${p}` : `s:${p}`);
  }
  return `${kind.slice(0, 1)}-${h.digest('hex').slice(0, 32)}`;
}
