/**
 * The incremental CSV reader: frames records out of the text (quote-aware, line by line),
 * checks them against the header and turns each into a record or a rejection.
 */
import { parseFields } from './csv-fields.js';
import { CsvHeaderError, DEFAULT_CSV_MAX_RECORD_BYTES } from './csv-types.js';
import type { CsvItem, CsvReadOptions } from './csv-types.js';
import { InvalidLines, type InvalidLine } from './utf8-lines.js';

/** Characters of an oversized row kept as its dead letter's `raw` (as for an NDJSON line). */
const RAW_HEAD = 1024;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

const enum S {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

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
  private readonly maxLines: number;
  /** Lines whose bytes were not UTF-8, by line number, until their record is read. */
  private readonly invalid = new InvalidLines();
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
   * A row past `maxRecordBytes` with no line end yet: its first characters (the dead letter's
   * `raw`) and how many it had; the text up to its line end is dropped as it arrives, not held
   * (a 600 MB row took 86 s and 3.7 GB, then overflowed V8's longest string and stopped the run).
   */
  private skipping: { head: string; chars: number } | undefined;

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
    this.maxLines = options.maxRecordLines ?? 1;
    if (!Number.isInteger(this.maxLines) || this.maxLines < 1) throw new TypeError(`CSV maxRecordLines must be a whole number ≥ 1, got ${this.maxLines}`);
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
   * unusable header row. `invalid` lists the lines of `text` (0: the line it starts in) whose
   * bytes were not UTF-8 (see `Utf8LineDecoder`): their records are rejected `invalid-utf8`.
   *
   * @example
   * ```ts
   * new CsvRecordReader().push('\ufeffa,b\n1,2\n'); // [{ ok: true, record: { a: '1', b: '2' }, line: 2, raw: '1,2' }]
   * ```
   */
  push(text: string, invalid?: readonly InvalidLine[]): CsvItem[] {
    if (this.ended) throw new Error('CsvRecordReader: push after end');
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // Every line end before the buffer's end is counted: the text starts on this line.
    if (invalid !== undefined) this.invalid.add(this.line + this.newlinesInRecord, invalid);
    const out: CsvItem[] = [];
    if (this.skipping !== undefined) {
      const nl = text.indexOf('\n');
      if (nl === -1) {
        this.skipping.chars += text.length;
        return out;
      }
      this.skipping.chars += nl;
      this.endSkip(out);
      text = text.slice(nl + 1);
    }
    this.buf += text;
    this.drain(out, false);
    return out;
  }

  /** The oversized row being skipped ended (its line end, or the input's): its dead letter. */
  private endSkip(out: CsvItem[]): void {
    const { head, chars } = this.skipping as { head: string; chars: number };
    this.skipping = undefined;
    this.invalid.drop(this.line);
    out.push({ ok: false, reason: 'oversized', detail: `row is more than maxRecordBytes ${this.max} (${chars} characters); its first ${head.length} are kept as raw`, line: this.line, raw: head });
    this.line += 1;
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
    if (this.skipping !== undefined) this.endSkip(out);
    this.drain(out, true);
    return out;
  }

  private drain(out: CsvItem[], final: boolean): void {
    for (;;) {
      this.scanRecords(out);
      const pending = this.buf.length - this.recStart;
      if (this.state === S.Quoted && this.newlinesInRecord > 0 && (final || pending > this.max || this.newlinesInRecord >= this.maxLines)) {
        // Unclosed quote: give up on the record's first line only, and read on from the next.
        const where = this.maxLines === 1 ? 'on that line (a quoted cell cannot span lines)' : `within ${this.maxLines} lines`;
        this.rejectFirstLine(out, `unclosed quote: the quoted cell opened on line ${this.line} is not closed ${where}; the next line is read as a new row`);
        continue;
      }
      if (!final && this.header !== undefined && this.newlinesInRecord === 0 && pending > this.max && this.buf.indexOf('\n', this.recStart) === -1) {
        // One line past the bound and not ended yet: drop it as it arrives (see `skipping`).
        this.skipping = { head: this.buf.slice(this.recStart, this.recStart + RAW_HEAD), chars: pending };
        this.buf = '';
        this.recStart = 0;
        this.scan = 0;
        this.state = S.FieldStart;
        return;
      }
      if (final && this.recStart < this.buf.length) {
        const rest = this.buf.slice(this.recStart);
        if (this.newlinesInRecord === 0) this.emit(out, rest, this.line);
        else if (!this.emitSpanning(out, rest)) {
          this.rejectFirstLine(out, noRow(this.line));
          continue;
        }
        this.recStart = this.buf.length;
      }
      break;
    }
    this.buf = this.buf.slice(this.recStart);
    this.scan -= this.recStart;
    if (this.scan < 0) this.scan = 0;
    this.recStart = 0;
  }

  /** Rejects the first line of the record being framed and goes on from the next line. */
  private rejectFirstLine(out: CsvItem[], detail: string): void {
    const nl = this.buf.indexOf('\n', this.recStart);
    const raw = stripCr(this.buf.slice(this.recStart, nl));
    out.push(this.invalid.reject(this.line, this.line, raw) ?? { ok: false, reason: 'malformed-csv', detail, line: this.line, raw });
    this.recStart = nl + 1;
    this.scan = this.recStart;
    this.state = S.FieldStart;
    this.line += 1;
    this.newlinesInRecord = 0;
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
      let overLines = false;
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
            // Past maxRecordLines: stop here, the caller rejects the record's first line.
            else if (c === LF && ++this.newlinesInRecord >= this.maxLines) overLines = true;
            break;
          case S.QuoteInQuoted:
            if (c === QUOTE) state = S.Quoted;
            else if (c === delim) state = S.FieldStart;
            else if (c === LF) ended = true;
            else if (c !== CR) state = S.Unquoted; // junk after a closing quote: csv-parse decides
            break;
        }
        if (ended || overLines) break;
      }
      if (!ended) break;
      if (this.newlinesInRecord > 0 && !this.emitSpanning(out, buf.slice(this.recStart, i))) {
        // Quotes that frame several lines but do not make a row (a stray quote closed by another):
        // only the first line is rejected; the others are read again as rows of their own.
        this.rejectFirstLine(out, noRow(this.line));
        i = this.recStart;
        state = S.FieldStart;
        q = -1;
        continue;
      }
      if (this.newlinesInRecord === 0) this.emit(out, buf.slice(this.recStart, i), this.line);
      this.line += this.newlinesInRecord + 1;
      this.newlinesInRecord = 0;
      state = S.FieldStart;
      i += 1;
      this.recStart = i;
    }
    this.scan = i;
    this.state = state;
  }

  /** Emits a record framed over several lines when it makes a row; false (nothing emitted) when not. */
  private emitSpanning(out: CsvItem[], text: string): boolean {
    const items: CsvItem[] = [];
    this.emit(items, text, this.line);
    const item = items[0];
    if (item !== undefined && !item.ok && item.reason !== 'invalid-utf8') return false;
    out.push(...items);
    return true;
  }

  private emit(out: CsvItem[], text: string, line: number): void {
    const raw = stripCr(text);
    if (raw.length === 0) return;
    const invalid = this.invalid.reject(line, this.invalid.size === 0 ? line : line + countLf(raw), raw);
    if (invalid !== undefined) {
      if (this.header === undefined) throw new CsvHeaderError(`line ${line} is not valid UTF-8 (${invalid.detail})`);
      out.push(invalid);
      return;
    }
    if (this.header !== undefined && raw.length > this.max && Buffer.byteLength(raw, 'utf8') > this.max) {
      out.push({ ok: false, reason: 'oversized', detail: `row is ${Buffer.byteLength(raw, 'utf8')} bytes, more than maxRecordBytes ${this.max}`, line, raw });
      return;
    }
    const parsed = parseFields(raw, line, this.delimiter, this.relaxQuotes);
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
      const inner = parseFields(fields[0] as string, line, this.delimiter, this.relaxQuotes);
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

function noRow(line: number): string {
  return `unclosed quote: the quoted cell opened on line ${line} does not make a row with the lines after it; the next line is read as a new row`;
}

function countLf(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

function stripCr(s: string): string {
  return s.charCodeAt(s.length - 1) === CR ? s.slice(0, -1) : s;
}
