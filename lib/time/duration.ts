/**
 * Durations as pipelines write them: `500ms`, `30s`, `30m`, `24h`, `7d`.
 */

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The pattern a duration string must match; also used by the pipeline JSON Schema. The digits
 * allowed per unit keep every duration at most {@link MAX_DURATION_MS} (99999d, about 270 years),
 * so event time plus a duration stays an exact number of milliseconds.
 */
export const DURATION_PATTERN = '^(?:(0|[1-9][0-9]{0,12})(ms)|(0|[1-9][0-9]{0,9})(s)|(0|[1-9][0-9]{0,7})(m)|(0|[1-9][0-9]{0,5})(h)|(0|[1-9][0-9]{0,4})(d))$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
/** A duration as written, whatever its size: a whole number and a unit. */
const WRITTEN_RE = /^(0|[1-9][0-9]*)(ms|s|m|h|d)$/;

/** The longest duration: 9999999999999ms (any duration the pattern admits is at most this). */
export const MAX_DURATION_MS = 9_999_999_999_999;
const TOO_LONG = 'is too long a duration (at most 99999d, about 270 years; use a shorter one)';

/** A duration as written in a definition (`30m`) or already in milliseconds. */
export type Duration = string | number;

/**
 * Parses a duration to milliseconds; throws a message that says how to write it.
 *
 * @example
 * ```ts
 * parseDuration('30m'); // 1_800_000
 * parseDuration(250);   // 250 (already ms)
 * ```
 */
export function parseDuration(value: Duration): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= MAX_DURATION_MS) return value;
    throw new Error(value > MAX_DURATION_MS ? `${value} ${TOO_LONG}` : `${value} is not a duration (use a whole number of milliseconds or e.g. 30m)`);
  }
  const m = DURATION_RE.exec(value.trim());
  if (!m) throw new Error(`${shown(value)} ${durationProblem(value)}`);
  const at = m.findIndex((g, i) => i > 0 && i % 2 === 0 && g !== undefined);
  return Number(m[at - 1]) * (UNITS[m[at] as string] as number);
}

/**
 * What is wrong with a string that does not match {@link DURATION_PATTERN}, and the fix:
 * `is not a duration (use 30m)`, or `is too long a duration (…)` for a well-written one too large.
 *
 * @example
 * ```ts
 * durationProblem('30 minutes'); // 'is not a duration (use 30m)'
 * durationProblem('100000d');    // 'is too long a duration (at most 99999d, about 270 years; use a shorter one)'
 * ```
 */
export function durationProblem(value: string): string {
  return WRITTEN_RE.test(value.trim()) ? TOO_LONG : `is not a duration (${durationHint(value)})`;
}

/** A value quoted for a message, cut to its first 40 characters. */
const shown = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

/** A short fix for a badly written duration: `"30 minutes"` → `use 30m`. */
export function durationHint(value: string): string {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(value);
  if (m) {
    const n = m[1] as string;
    const word = (m[2] as string).toLowerCase();
    const unit = word.startsWith('ms') || word.startsWith('milli') ? 'ms'
      : word.startsWith('s') ? 's'
      : word.startsWith('mi') || word === 'm' ? 'm'
      : word.startsWith('h') ? 'h'
      : word.startsWith('d') ? 'd'
      : word.startsWith('w') ? 'w' : undefined;
    if (unit === 'w') return `use ${Number(n) * 7}d`;
    if (unit && Number.isInteger(Number(n))) return `use ${n}${unit}`;
  }
  return 'use a number and one of ms, s, m, h, d, e.g. 30m';
}

/**
 * Formats milliseconds as the largest exact unit: `1800000` → `30m`.
 *
 * @example
 * ```ts
 * formatDuration(86_400_000); // '1d'
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms === Infinity) return '∞';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNITS[unit] as number;
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
