/**
 * Event-time parsing: every accepted form becomes epoch milliseconds UTC.
 *
 * Accepted, by {@link TimestampFormat}:
 * - `auto` (default): a finite number (epoch ms), a numeric string (epoch ms, e.g.
 *   `"1569888000000"`), a `Date`, or a date-time string as for `iso`.
 * - `iso`: strings only —
 *   - ISO-8601 / RFC 3339 with a zone: `2019-10-01T00:00:00Z`, `2019-10-01T02:00:00.5+02:00`,
 *     `+0200` and `+02` offsets too;
 *   - the SQL-ish form `YYYY-MM-DD HH:MM[:SS[.fff]]` optionally followed by ` UTC`, `Z` or an
 *     offset (REES46's `2019-10-01 00:00:00 UTC`);
 *   - a date alone `YYYY-MM-DD` (midnight).
 *   **A date-time without a zone is read as UTC**, never as the machine's local time, so a run
 *   gives the same result everywhere (Online Retail's `2010-12-01 08:26:00` is taken as UTC).
 *   Fractions finer than a millisecond are truncated.
 * - `epoch-ms`: a finite number or numeric string, milliseconds.
 * - `epoch-s`: a finite number or numeric string, seconds (fractions allowed).
 *
 * Rejected: `undefined`, `null`, `''` (→ `missing-timestamp`); anything else unparseable,
 * `NaN`/`Infinity`, impossible calendar dates (`2019-02-30`, hour 24, second 60), offsets beyond
 * ±18:00, and instants outside {@link TIMESTAMP_MIN_MS}..{@link TIMESTAMP_MAX_MS} — within 100
 * years either side of 2000-01-01 — (→ `invalid-timestamp`). The range check also catches the
 * usual unit mix-up of microseconds or nanoseconds passed as milliseconds. It does not catch
 * seconds passed as milliseconds (those land in January 1970): declare `epoch-s` for those.
 */
import type { TimestampFormat } from './mapping.js';

/**
 * Earliest accepted instant: 1900-01-01T00:00:00Z.
 *
 * @example
 * ```ts
 * parseTimestamp(TIMESTAMP_MIN_MS - 1).ok; // false
 * ```
 */
export const TIMESTAMP_MIN_MS = Date.UTC(1900, 0, 1);
/**
 * First rejected instant after the accepted range: 2100-01-01T00:00:00Z (exclusive bound).
 *
 * @example
 * ```ts
 * parseTimestamp(TIMESTAMP_MAX_MS - 1).ok; // true
 * ```
 */
export const TIMESTAMP_MAX_MS = Date.UTC(2100, 0, 1);

/**
 * Result of {@link parseTimestamp}.
 *
 * @example
 * ```ts
 * const r: TimestampResult = parseTimestamp('2019-10-01 00:00:00 UTC');
 * if (r.ok) console.log(r.ms); else console.log(r.reason, r.detail);
 * ```
 */
export type TimestampResult =
  | { ok: true; ms: number }
  | { ok: false; reason: 'missing-timestamp' | 'invalid-timestamp'; detail: string };

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:\s*(?:([Zz]|UTC|GMT)|([+-])(\d{2})(?::?(\d{2}))?))?$/;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a value of type ${typeof value}`;
}

function invalid(value: unknown, why: string): TimestampResult {
  return { ok: false, reason: 'invalid-timestamp', detail: `${describe(value)}: ${why}` };
}

function inRange(value: unknown, ms: number): TimestampResult {
  if (!Number.isFinite(ms)) return invalid(value, 'not a finite number');
  const t = Math.floor(ms);
  if (t < TIMESTAMP_MIN_MS || t >= TIMESTAMP_MAX_MS) {
    return invalid(value, 'outside the accepted range 1900-01-01..2099-12-31 (UTC)');
  }
  return { ok: true, ms: t };
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : (MONTH_DAYS[month - 1] ?? 0);
}

function parseDateTime(value: string, text: string): TimestampResult {
  const m = DATE_TIME.exec(text);
  if (m === null) return invalid(value, 'not an ISO-8601 date-time or epoch number');
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12) return invalid(value, `month ${month} does not exist`);
  if (day < 1 || day > daysInMonth(year, month)) return invalid(value, `day ${day} does not exist in ${m[1]}-${m[2]}`);
  if (hour > 23) return invalid(value, `hour ${hour} is out of range`);
  if (minute > 59) return invalid(value, `minute ${minute} is out of range`);
  if (second > 59) return invalid(value, `second ${second} is out of range`);
  let offsetMin = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (om > 59 || oh * 60 + om > 18 * 60) return invalid(value, 'zone offset out of range');
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, millis);
  return inRange(value, d.getTime() - offsetMin * 60_000);
}

function parseNumber(value: unknown, n: number, unit: 'ms' | 's'): TimestampResult {
  if (!Number.isFinite(n)) return invalid(value, 'not a finite number');
  return inRange(value, unit === 's' ? n * 1000 : n);
}

/**
 * Parses an event time into epoch milliseconds UTC, or says why it cannot.
 * See the module documentation for the accepted forms; zone-less date-times are UTC.
 *
 * @example
 * ```ts
 * parseTimestamp('2019-10-01 00:00:00 UTC', 'auto'); // { ok: true, ms: 1569888000000 }
 * parseTimestamp('2019-10-01T02:00:00+02:00');       // { ok: true, ms: 1569888000000 }
 * parseTimestamp(1569888000, 'epoch-s');             // { ok: true, ms: 1569888000000 }
 * parseTimestamp('2019-02-30 00:00:00', 'auto');     // { ok: false, reason: 'invalid-timestamp', … }
 * parseTimestamp(undefined);                         // { ok: false, reason: 'missing-timestamp', … }
 * ```
 */
export function parseTimestamp(value: unknown, format: TimestampFormat = 'auto'): TimestampResult {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
    return { ok: false, reason: 'missing-timestamp', detail: value === undefined ? 'no timestamp field' : `timestamp is ${describe(value)}` };
  }
  switch (format) {
    case 'epoch-ms':
    case 'epoch-s': {
      const unit = format === 'epoch-s' ? 's' : 'ms';
      if (typeof value === 'number') return parseNumber(value, value, unit);
      if (typeof value === 'string' && NUMERIC.test(value.trim())) return parseNumber(value, Number(value.trim()), unit);
      return invalid(value, `not a number of epoch ${unit === 's' ? 'seconds' : 'milliseconds'}`);
    }
    case 'iso':
      if (typeof value !== 'string') return invalid(value, 'timestampFormat iso expects a string');
      return parseDateTime(value, value.trim());
    case 'auto': {
      if (typeof value === 'number') return parseNumber(value, value, 'ms');
      if (value instanceof Date) return inRange(value, value.getTime());
      if (typeof value !== 'string') return invalid(value, 'not a date-time string or epoch number');
      const text = value.trim();
      if (NUMERIC.test(text)) return parseNumber(value, Number(text), 'ms');
      return parseDateTime(value, text);
    }
    default:
      return invalid(value, `unknown timestampFormat ${describe(format)}`);
  }
}

/**
 * Formats epoch milliseconds as an ISO-8601 UTC string (for messages and dead letters).
 *
 * @example
 * ```ts
 * formatTimestamp(1569888000000); // '2019-10-01T00:00:00.000Z'
 * ```
 */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}
