/**
 * CSV records (RFC 4180) for the embedded runner: a header row names the columns, each
 * following row becomes `Record<column, string>`, and a bad row becomes a `malformed-csv`
 * rejection with its line number and raw text while reading goes on.
 *
 * How it reads:
 * - **Framing** (where a record ends) is done here, quote-aware: a record ends at a newline
 *   outside a quoted field, so quoted fields may hold commas and newlines. **Fields** are
 *   parsed by csv-parse, one record at a time. (csv-parse's own stream recovery after a quote
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
 *   end of input, or grows past `maxRecordBytes` across several lines, its **first line** is
 *   rejected and reading resumes on the next line.
 * - A UTF-8 byte-order mark is stripped; `\n` and `\r\n` line ends are accepted; empty lines are
 *   skipped (they still count for line numbers).
 * - **Empty cells are absent**: `a,,c` gives `{ a, c }` with no `b`, so the mapping's
 *   `defaults` apply and `CustomerID` is not `""`. `keepEmpty: true` keeps them as `''`.
 * - `line` is the 1-based physical line where the record starts (the header is line 1).
 */
import { parse as parseCsvSync } from 'csv-parse/sync';
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
}

/**
 * The reasons a CSV row is rejected.
 *
 * @example
 * ```ts
 * const reason: CsvRejectReason = 'malformed-csv';
 * ```
 */
export type CsvRejectReason = Extract<RejectReason, 'malformed-csv' | 'oversized'>;

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

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

const enum S {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

type Fields = { ok: true; fields: string[] } | { ok: false; detail: string };

/**
 * An incremental CSV reader: feed text with {@link CsvRecordReader.push}, finish with
 * {@link CsvRecordReader.end}; each returns the items completed so far, in input order.
 * {@link readCsv} and {@link parseCsv} wrap it.
 *
 * @example
 * ```ts
 * const reader = new CsvRecordReader();
 * reader.push('a,b\n1,');  // [] — the row is not complete yet
 * reader.push('2\n');      // [{ ok: true, record: { a: '1', b: '2' }, line: 2, raw: '1,2' }]
 * reader.end();            // []
 * ```
 */
export class CsvRecordReader {
  private readonly delimiter: string;
  private readonly delimCode: number;
  private readonly keepEmpty: boolean;
  private readonly relaxQuotes: boolean;
  private readonly unwrap: boolean;
  private readonly max: number;
  private header: readonly string[] | undefined;
  private buf = '';
  private recStart = 0;
  private scan = 0;
  private state: S = S.FieldStart;
  private line = 1;
  private newlinesInRecord = 0;
  private started = false;
  private ended = false;

  /**
   * @param options see {@link CsvReadOptions}.
   *
   * @example
   * ```ts
   * const reader = new CsvRecordReader({ delimiter: ';', keepEmpty: true });
   * ```
   */
  constructor(options: CsvReadOptions = {}) {
    const d = options.delimiter ?? ',';
    if (d.length !== 1 || d === '"' || d === '\n' || d === '\r') {
      throw new TypeError(`CSV delimiter must be one character other than a quote or line break, got ${JSON.stringify(d)}`);
    }
    this.delimiter = d;
    this.delimCode = d.charCodeAt(0);
    this.keepEmpty = options.keepEmpty ?? false;
    this.relaxQuotes = options.relaxQuotes ?? true;
    this.unwrap = options.unwrapQuotedRows ?? false;
    this.max = options.maxRecordBytes ?? DEFAULT_CSV_MAX_RECORD_BYTES;
    if (options.columns !== undefined) this.header = this.checkHeader([...options.columns]);
  }

  /**
   * The column names: from the options, or from the header row once read.
   *
   * @example
   * ```ts
   * const r = new CsvRecordReader(); r.push('a,b\n'); r.columns; // ['a', 'b']
   * ```
   */
  get columns(): readonly string[] | undefined {
    return this.header;
  }

  /**
   * Feeds more text; returns the items it completes. Throws {@link CsvHeaderError} for an
   * unusable header row.
   *
   * @example
   * ```ts
   * new CsvRecordReader().push('\ufeffa,b\n1,2\n'); // [{ ok: true, record: { a: '1', b: '2' }, line: 2, raw: '1,2' }]
   * ```
   */
  push(text: string): CsvItem[] {
    if (this.ended) throw new Error('CsvRecordReader: push after end');
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.buf += text;
    const out: CsvItem[] = [];
    this.drain(out, false);
    return out;
  }

  /**
   * Ends the input; returns the last items (a final row without a newline, a row with an
   * unclosed quote as rejections).
   *
   * @example
   * ```ts
   * const r = new CsvRecordReader(); r.push('a,b\n1,2'); r.end(); // [{ ok: true, record: { a: '1', b: '2' }, line: 2, raw: '1,2' }]
   * ```
   */
  end(): CsvItem[] {
    if (this.ended) return [];
    this.ended = true;
    const out: CsvItem[] = [];
    this.drain(out, true);
    return out;
  }

  private drain(out: CsvItem[], final: boolean): void {
    for (;;) {
      this.scanRecords(out);
      const pending = this.buf.length - this.recStart;
      if (this.state === S.Quoted && this.newlinesInRecord > 0 && (final || pending > this.max)) {
        // Unclosed quote: give up on the record's first line only, and read on from the next.
        const nl = this.buf.indexOf('\n', this.recStart);
        const raw = stripCr(this.buf.slice(this.recStart, nl));
        out.push({ ok: false, reason: 'malformed-csv', detail: `unclosed quote: the quoted cell opened on line ${this.line} is not closed`, line: this.line, raw });
        this.recStart = nl + 1;
        this.scan = this.recStart;
        this.state = S.FieldStart;
        this.line += 1;
        this.newlinesInRecord = 0;
        continue;
      }
      break;
    }
    if (final && this.recStart < this.buf.length) {
      this.emit(out, this.buf.slice(this.recStart), this.line);
      this.recStart = this.buf.length;
    }
    this.buf = this.buf.slice(this.recStart);
    this.scan -= this.recStart;
    if (this.scan < 0) this.scan = 0;
    this.recStart = 0;
  }

  /** Finds complete records from `scan` on and emits them. */
  private scanRecords(out: CsvItem[]): void {
    const buf = this.buf;
    const delim = this.delimCode;
    let i = this.scan;
    let state = this.state;
    let q = -1; // position of the next quote at or after i (buf.length when none); searched lazily
    for (;;) {
      if (state === S.FieldStart && i === this.recStart) {
        // Fast path: a whole line without quotes is a record as it stands.
        const nl = buf.indexOf('\n', i);
        if (nl === -1) break;
        if (q < i) {
          q = buf.indexOf('"', i);
          if (q === -1) q = buf.length;
        }
        if (q > nl) {
          this.emit(out, buf.slice(i, nl), this.line);
          this.line += 1;
          i = nl + 1;
          this.recStart = i;
          continue;
        }
      }
      let ended = false;
      for (; i < buf.length; i++) {
        const c = buf.charCodeAt(i);
        switch (state) {
          case S.FieldStart:
            if (c === QUOTE) state = S.Quoted;
            else if (c === LF) ended = true;
            else if (c !== delim) state = S.Unquoted;
            break;
          case S.Unquoted:
            if (c === delim) state = S.FieldStart;
            else if (c === LF) ended = true;
            break;
          case S.Quoted:
            if (c === QUOTE) state = S.QuoteInQuoted;
            else if (c === LF) this.newlinesInRecord++;
            break;
          case S.QuoteInQuoted:
            if (c === QUOTE) state = S.Quoted;
            else if (c === delim) state = S.FieldStart;
            else if (c === LF) ended = true;
            else if (c !== CR) state = S.Unquoted; // junk after a closing quote: csv-parse decides
            break;
        }
        if (ended) break;
      }
      if (!ended) break;
      this.emit(out, buf.slice(this.recStart, i), this.line);
      this.line += this.newlinesInRecord + 1;
      this.newlinesInRecord = 0;
      state = S.FieldStart;
      i += 1;
      this.recStart = i;
    }
    this.scan = i;
    this.state = state;
  }

  private emit(out: CsvItem[], text: string, line: number): void {
    const raw = stripCr(text);
    if (raw.length === 0) return;
    if (this.header !== undefined && raw.length > this.max && Buffer.byteLength(raw, 'utf8') > this.max) {
      out.push({ ok: false, reason: 'oversized', detail: `row is ${Buffer.byteLength(raw, 'utf8')} bytes, more than maxRecordBytes ${this.max}`, line, raw });
      return;
    }
    const parsed = this.fields(raw, line);
    if (this.header === undefined) {
      if (!parsed.ok) throw new CsvHeaderError(parsed.detail);
      this.header = this.checkHeader(parsed.fields);
      return;
    }
    if (!parsed.ok) {
      out.push({ ok: false, reason: 'malformed-csv', detail: parsed.detail, line, raw });
      return;
    }
    let fields = parsed.fields;
    const width = this.header.length;
    if (fields.length !== width && this.unwrap && fields.length === 1 && raw.startsWith('"')) {
      const inner = this.fields(fields[0] as string, line);
      if (inner.ok && inner.fields.length === width) fields = inner.fields;
    }
    if (fields.length !== width) {
      out.push({ ok: false, reason: 'malformed-csv', detail: `expected ${width} columns (as the header), got ${fields.length}`, line, raw });
      return;
    }
    const record: Record<string, string> = {};
    for (let c = 0; c < width; c++) {
      const v = fields[c] as string;
      if (v === '' && !this.keepEmpty) continue;
      const name = this.header[c] as string;
      if (name === '__proto__') Object.defineProperty(record, name, { value: v, enumerable: true, writable: true, configurable: true });
      else record[name] = v;
    }
    out.push({ ok: true, record, line, raw });
  }

  private fields(text: string, line: number): Fields {
    if (!text.includes('"')) return { ok: true, fields: text.split(this.delimiter) };
    try {
      const rows = parseCsvSync(text, {
        delimiter: this.delimiter,
        record_delimiter: '\n',
        relax_quotes: this.relaxQuotes,
        relax_column_count: true,
        skip_empty_lines: false,
        bom: false,
      }) as string[][];
      const row = rows[0];
      if (rows.length !== 1 || row === undefined) return { ok: false, detail: `expected one record, parsed ${rows.length}` };
      return { ok: true, fields: row };
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      // csv-parse numbers lines within the single record it was given; report file lines.
      return { ok: false, detail: msg.replace(/\bline (\d+)/g, (_m, n: string) => `line ${line + Number(n) - 1}`) };
    }
  }

  private checkHeader(names: string[]): readonly string[] {
    const seen = new Set<string>();
    const header = names.map((n, i) => (n === '' ? `column${i + 1}` : n));
    for (const n of header) {
      if (seen.has(n)) throw new CsvHeaderError(`duplicate column name ${JSON.stringify(n)}`);
      seen.add(n);
    }
    return Object.freeze(header);
  }
}

function stripCr(s: string): string {
  return s.charCodeAt(s.length - 1) === CR ? s.slice(0, -1) : s;
}

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
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of input as AsyncIterable<string | Uint8Array>) {
    yield* reader.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
  const tail = decoder.decode();
  if (tail.length > 0) yield* reader.push(tail);
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
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8').decode(input);
  return [...reader.push(text), ...reader.end()];
}
