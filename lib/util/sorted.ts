/**
 * Sorted string lists (distinct values kept in code-unit order): sets small enough to live in
 * one state value (a session's channels, countDistinct's exact phase).
 */

/**
 * The index of the first element ≥ `v` (binary search).
 *
 * @example
 * ```ts
 * lowerBound(['a', 'c'], 'b'); // 1
 * ```
 */
export function lowerBound(sorted: readonly string[], v: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
