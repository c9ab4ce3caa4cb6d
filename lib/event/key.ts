/**
 * Partitioning keys (`source.key`): the first of a list of field paths that holds a
 * usable value. The `missing-key` rejection itself is applied by the runner (or by
 * `normalizeEvent` when given `key`).
 */
import { getPath } from './paths.js';

/**
 * The key of `event`: the value at the first path of `keyPaths` that is a non-empty string,
 * a finite number or a boolean, as a string; `undefined` when none is. `null`, `''`, objects
 * and arrays are skipped (they are not usable keys), so `[anonymousId, userId]` falls through
 * a null `anonymousId` to `userId`. Numbers are written as by `String(n)`.
 *
 * @example
 * ```ts
 * resolveKey({ anonymousId: null, userId: 'u1' }, ['anonymousId', 'userId']); // 'u1'
 * resolveKey({ properties: { sku: 42 } }, 'properties.sku');                 // '42'
 * resolveKey({ userId: null }, ['userId']);                                   // undefined
 * ```
 */
export function resolveKey(event: unknown, keyPaths: string | readonly string[]): string | undefined {
  // Per event on every keyed step: no array for a single path, an index loop (no iterator).
  if (typeof keyPaths === 'string') return usableKey(getPath(event, keyPaths));
  for (let i = 0; i < keyPaths.length; i++) {
    const k = usableKey(getPath(event, keyPaths[i] as string));
    if (k !== undefined) return k;
  }
  return undefined;
}

/** `v` as a key: a non-empty string, a finite number or a boolean as a string; else undefined. */
function usableKey(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * The key paths of a source definition's `key` (a path or a list of paths) as a list.
 *
 * @example
 * ```ts
 * keyPathList('userId');                    // ['userId']
 * keyPathList(['anonymousId', 'userId']);   // ['anonymousId', 'userId']
 * ```
 */
export function keyPathList(key: string | readonly string[]): readonly string[] {
  return typeof key === 'string' ? [key] : key;
}
