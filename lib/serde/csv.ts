/**
 * CSV records (RFC 4180) for the embedded runner: a header row names the columns, each
 * following row becomes `Record<column, string>`, and a bad row becomes a `malformed-csv`
 * rejection with its line number and raw text while reading goes on.
 *
 * How it reads:
 * - **Framing** (where a record ends) is done in csv-reader.ts, quote-aware: a record ends at
 *   a newline outside a quoted field, so quoted fields may hold commas, and line breaks only
 *   with `maxRecordLines` above its default 1 (see {@link CsvReadOptions.maxRecordLines}). **Fields**
 *   are parsed by csv-parse (csv-fields.ts), one record at a time. (csv-parse's own stream recovery after a quote
 *   error swallows the following rows, which would lose data; framing records first keeps one
 *   bad row from touching its neighbours.) Rows without any `"` take a fast path, `split`,
 *   which is exactly what csv-parse would produce for them.
 * - **Column count is strict**: a row with more or fewer cells than the header is rejected
 *   `malformed-csv` (never padded or truncated — csv-parse's `relax_column_count` stays off in
 *   spirit; the count is checked here so the run continues).
 * - With `relaxQuotes` (default on) a quote that neither opens nor properly closes a quoted cell
 *   is kept as text (`7" FRAME`, `"a"b`), as csv-parse's `relax_quotes` does; with
 *   `relaxQuotes: false` such rows are rejected `malformed-csv` with csv-parse's message.
 * - An unclosed quote could swallow the rest of the file; instead, when a quoted record reaches
 *   end of input, spans more than `maxRecordLines` lines (default 1: any line end) or grows past
 *   `maxRecordBytes` across several lines, or when a record over several lines does not make a
 *   row, its **first line** is rejected and reading resumes on the next line.
 * - Bytes that are not UTF-8 make their record `invalid-utf8` (raw: the bytes in base64), see
 *   utf8-lines.ts.
 * - A UTF-8 byte-order mark is stripped; `\n` and `\r\n` line ends are accepted; empty lines are
 *   skipped (they still count for line numbers).
 * - **Empty cells are absent**: `a,,c` gives `{ a, c }` with no `b`, so the mapping's
 *   `defaults` apply and `CustomerID` is not `""`. `keepEmpty: true` keeps them as `''`.
 * - `line` is the 1-based physical line where the record starts (the header is line 1).
 */
import { CsvRecordReader } from './csv-reader.js';
import { DEFAULT_CSV_MAX_RECORD_BYTES } from './csv-types.js';
import type { CsvItem, CsvReadOptions } from './csv-types.js';
import { Utf8LineDecoder } from './utf8-lines.js';

export { CsvRecordReader } from './csv-reader.js';
export { CsvHeaderError, DEFAULT_CSV_MAX_RECORD_BYTES } from './csv-types.js';
export type { CsvItem, CsvReadOptions, CsvRejectReason } from './csv-types.js';

/**
 * Reads CSV rows from a string, a buffer, or a stream of chunks (a `Readable`, `process.stdin`),
 * yielding one {@link CsvItem} per data row in order; see the module documentation for the
 * rules (header row, strict column count, empty cells absent, BOM stripped). UTF-8 sequences
 * split across chunks are handled. Throws {@link CsvHeaderError} for an unusable header.
 *
 * @example
 * ```ts
 * for await (const item of readCsv(fs.createReadStream('examples/data/rees46-2019-10-01-head.csv'))) {
 *   if (item.ok) normalize(item.record); else deadLetter(item.reason, item.raw, `rees46.csv:${item.line}`);
 * }
 * ```
 */
export async function* readCsv(
  input: string | Uint8Array | AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options?: CsvReadOptions,
): AsyncGenerator<CsvItem> {
  if (typeof input === 'string' || input instanceof Uint8Array) {
    yield* parseCsv(input, options);
    return;
  }
  const reader = new CsvRecordReader(options);
  const decoder = new Utf8LineDecoder(options?.maxRecordBytes ?? DEFAULT_CSV_MAX_RECORD_BYTES);
  for await (const chunk of input as AsyncIterable<string | Uint8Array>) {
    if (typeof chunk === 'string') yield* reader.push(chunk);
    else {
      const d = decoder.push(chunk);
      yield* reader.push(d.text, d.invalid);
    }
  }
  const tail = decoder.end();
  if (tail.text.length > 0) yield* reader.push(tail.text, tail.invalid);
  yield* reader.end();
}

/**
 * Reads a whole CSV text (or UTF-8 buffer) at once; see {@link readCsv}.
 *
 * @example
 * ```ts
 * parseCsv('a,b,c\n1,"x,y",3\n4,5\n6,,7\n');
 * // [ { ok: true, record: { a: '1', b: 'x,y', c: '3' }, line: 2, raw: '1,"x,y",3' },
 * //   { ok: false, reason: 'malformed-csv', detail: 'expected 3 columns (as the header), got 2', line: 3, raw: '4,5' },
 * //   { ok: true, record: { a: '6', c: '7' }, line: 4, raw: '6,,7' } ]
 * ```
 */
export function parseCsv(input: string | Uint8Array, options?: CsvReadOptions): CsvItem[] {
  const reader = new CsvRecordReader(options);
  if (typeof input === 'string') return [...reader.push(input), ...reader.end()];
  const decoder = new Utf8LineDecoder(options?.maxRecordBytes ?? DEFAULT_CSV_MAX_RECORD_BYTES);
  const whole = decoder.push(input);
  const rest = decoder.end();
  return [...reader.push(whole.text, whole.invalid), ...reader.push(rest.text, rest.invalid), ...reader.end()];
}
