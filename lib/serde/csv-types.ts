/**
 * The contract of the CSV reader: its options, the items it yields (a record or a
 * rejection), and the error for an unusable header row.
 */
import type { RejectReason } from '../event/mapping.js';

/**
 * Default {@link CsvReadOptions.maxRecordBytes}: 1 MiB.
 *
 * @example
 * ```ts
 * new CsvRecordReader({ maxRecordBytes: 4 * DEFAULT_CSV_MAX_RECORD_BYTES });
 * ```
 */
export const DEFAULT_CSV_MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Options of {@link readCsv}, {@link parseCsv} and {@link CsvRecordReader}.
 *
 * @example
 * ```ts
 * const options: CsvReadOptions = { delimiter: ';', unwrapQuotedRows: true };
 * ```
 */
export interface CsvReadOptions {
  /** Cell delimiter, one character other than `"`, `\r`, `\n`. Default `,`. */
  delimiter?: string;
  /** Column names when the input has no header row; every line is then data. */
  columns?: readonly string[];
  /** Keep empty cells as `''` instead of leaving them out. Default `false`. */
  keepEmpty?: boolean;
  /** Keep `"` inside unquoted cells as text (csv-parse `relax_quotes`). Default `true`. */
  relaxQuotes?: boolean;
  /**
   * Recover rows that an export quoted whole: a row that parses as one cell which itself is a
   * valid row of the header's width (`"536381,82567,""AIRLINE LOUNGE,METAL SIGN"",2,…"`, 119
   * rows of the UCI Online Retail file) is read as that row. Default `false`: such rows are
   * rejected `malformed-csv` like any other wrong column count.
   */
  unwrapQuotedRows?: boolean;
  /** A record longer than this many UTF-8 bytes is rejected `oversized`. Default 1 MiB. */
  maxRecordBytes?: number;
  /**
   * How many lines a record may span (a quoted cell holding line breaks). Default 1: a quoted
   * cell cannot span lines, so a quote left open at the end of its line rejects that line only
   * (a stray quote closed by another one lines later would otherwise merge the rows between
   * into one cell). Above 1, a quote still open after this many lines rejects its first line,
   * and so does a record over several lines that does not make a row; reading goes on from the
   * next line either way.
   */
  maxRecordLines?: number;
}

/**
 * The reasons a CSV row is rejected.
 *
 * @example
 * ```ts
 * const reason: CsvRejectReason = 'malformed-csv';
 * ```
 */
export type CsvRejectReason = Extract<RejectReason, 'malformed-csv' | 'oversized' | 'invalid-utf8'>;

/**
 * One CSV row as read: a record, or a rejection; `raw` is the row's text without its line end.
 *
 * @example
 * ```ts
 * const [item]: CsvItem[] = parseCsv('a,b\n1,2\n'); // { ok: true, record: { a: '1', b: '2' }, line: 2, raw: '1,2' }
 * ```
 */
export type CsvItem =
  | { ok: true; record: Record<string, string>; line: number; raw: string }
  | { ok: false; reason: CsvRejectReason; detail: string; line: number; raw: string };

/**
 * Thrown when the header row is unusable (duplicate column names, a parse error): the file as a whole cannot be read.
 *
 * @example
 * ```ts
 * parseCsv('a,a\n1,2\n'); // throws CsvHeaderError: CSV header: duplicate column name "a"
 * ```
 */
export class CsvHeaderError extends Error {
  /**
   * @param message what is wrong with the header.
   *
   * @example
   * ```ts
   * throw new CsvHeaderError('duplicate column name "price"');
   * ```
   */
  constructor(message: string) {
    super(`CSV header: ${message}`);
    this.name = 'CsvHeaderError';
  }
}
