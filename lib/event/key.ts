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
  const paths = typeof keyPaths === 'string' ? [keyPaths] : keyPaths;
  for (const path of paths) {
    const v = getPath(event, path);
    if (typeof v === 'string') {
      if (v.length > 0) return v;
    } else if (typeof v === 'number') {
      if (Number.isFinite(v)) return String(v);
    } else if (typeof v === 'boolean') {
      return String(v);
    }
  }
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
