/**
 * JSON records and NDJSON (one JSON object per line): decoding with dead-letter reasons
 * and encoding output lines.
 */
import type { RejectReason } from '../event/mapping.js';
import { InvalidLines, invalidUtf8Detail, Utf8LineDecoder, type InvalidLine } from './utf8-lines.js';

/**
 * Default {@link JsonDecodeOptions.maxRecordBytes}: 1 MiB.
 *
 * @example
 * ```ts
 * decodeJsonRecord(line, { maxRecordBytes: DEFAULT_MAX_RECORD_BYTES });
 * ```
 */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Options of {@link decodeJsonRecord} and {@link readNdjson}.
 *
 * @example
 * ```ts
 * const options: JsonDecodeOptions = { maxRecordBytes: 64 * 1024 };
 * ```
 */
export interface JsonDecodeOptions {
  /** A record (line) longer than this many UTF-8 bytes is rejected `oversized`. Default 1 MiB. */
  maxRecordBytes?: number;
}

/**
 * The reasons a JSON record is rejected.
 *
 * @example
 * ```ts
 * const reason: JsonRejectReason = 'malformed-json';
 * ```
 */
export type JsonRejectReason = Extract<RejectReason, 'malformed-json' | 'invalid-utf8' | 'not-an-object' | 'oversized' | 'too-deep'>;

/**
 * Nesting a record may have. Deeper values parse (JSON.parse is iterative) but overflow the stack
 * of JSON.stringify when the record is written, and of recursive code such as content ids: such
 * a record is a dead letter (`too-deep`) instead of a crash on every run.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Whether `value` nests objects/arrays more than `max` levels. Safe at any depth: it recurses at
 * most `max + 1` levels (a deeper value is answered there), and allocates nothing.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max <= 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestedDeeperThan(value[i], max - 1)) return true;
    return false;
  }
  for (const k in value) if (nestedDeeperThan((value as Record<string, unknown>)[k], max - 1)) return true;
  return false;
}

/** A UTF-16 surrogate without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** A `\\u` escape of a surrogate (D800–DFFF) in JSON text: the only way JSON decoded from UTF-8 gets one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * The first string (property name or value) in `value` that holds a lone surrogate, with its
 * path, or undefined. Recursion is bounded by the record's depth (checked before).
 */
export function loneSurrogateIn(value: unknown, path = ''): { path: string; text: string } | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? { path: path || '(the record)', text: value } : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = loneSurrogateIn(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  for (const k in value) {
    const at = path ? `${path}.${k}` : k;
    if (LONE_SURROGATE.test(k)) return { path: at, text: k };
    const found = loneSurrogateIn((value as Record<string, unknown>)[k], at);
    if (found) return found;
  }
  return undefined;
}

/** `text` with its surrogates shown as `\\uXXXX` escapes, cut to 60 units. */
function showSurrogates(text: string): string {
  const cut = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return cut.replace(/[\uD800-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/**
 * Outcome of {@link decodeJsonRecord}.
 *
 * @example
 * ```ts
 * const r: JsonDecodeResult = decodeJsonRecord('{"a":1}'); // { ok: true, value: { a: 1 } }
 * ```
 */
export type JsonDecodeResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; reason: JsonRejectReason; detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/**
 * The UTF-8 byte length of `text`, or `limit + 1` as soon as it is known to exceed `limit`.
 * Cheap for the common case: a string of n UTF-16 units takes between n and 3n bytes.
 */
function byteLengthOver(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return Buffer.byteLength(text, 'utf8') > limit;
}

/**
 * Decodes one JSON record (an NDJSON line without its newline, a Kafka message value) into an
 * object. Rejections: `oversized` (more than `maxRecordBytes` UTF-8 bytes, checked before
 * parsing), `invalid-utf8` (bytes that are not UTF-8; the detail says which byte),
 * `malformed-json` (empty input, or a syntax error — the detail is
 * the parser's message with its position), `not-an-object` (valid JSON that is an array,
 * string, number, boolean or null), `too-deep`, and `invalid-utf8` too for a string escape
 * that makes a lone surrogate (`"\\ud800"`): valid JSON, but text with no UTF-8 form. Stored
 * state, Kafka and Avro carry strings as UTF-8, where it would become U+FFFD: the record would
 * differ after a restart or a read from LMDB (a duplicate no longer found, a pending cart no
 * longer matched) from what it was in memory. A leading byte-order mark and surrounding whitespace
 * (including a trailing `\r`) are ignored.
 *
 * @example
 * ```ts
 * decodeJsonRecord('{"type":"track","event":"view"}'); // { ok: true, value: { type: 'track', event: 'view' } }
 * decodeJsonRecord('{"type":');   // { ok: false, reason: 'malformed-json', detail: 'Unexpected end of JSON input' }
 * decodeJsonRecord('[1,2]');      // { ok: false, reason: 'not-an-object', detail: 'expected a JSON object, got an array' }
 * ```
 */
export function decodeJsonRecord(input: string | Uint8Array, options?: JsonDecodeOptions): JsonDecodeResult {
  const max = options?.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  let text: string;
  if (typeof input === 'string') {
    if (byteLengthOver(input, max)) {
      return { ok: false, reason: 'oversized', detail: `record is ${Buffer.byteLength(input, 'utf8')} bytes, more than maxRecordBytes ${max}` };
    }
    text = input;
  } else {
    if (input.byteLength > max) {
      return { ok: false, reason: 'oversized', detail: `record is ${input.byteLength} bytes, more than maxRecordBytes ${max}` };
    }
    try {
      text = utf8.decode(input);
    } catch {
      return { ok: false, reason: 'invalid-utf8', detail: invalidUtf8Detail(input, 'value') };
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return { ok: false, reason: 'malformed-json', detail: 'empty record' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'malformed-json', detail: err instanceof Error ? err.message : String(err) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'not-an-object', detail: `expected a JSON object, got ${kind(value)}` };
  }
  // Only a text this long can nest that deep: short records pay nothing for the check.
  if (text.length > 2 * MAX_JSON_DEPTH && nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    return { ok: false, reason: 'too-deep', detail: `nested more than ${MAX_JSON_DEPTH} levels (objects and arrays)` };
  }
  // Only an escape makes a surrogate (decoded UTF-8 never holds one): most records have none.
  if (text.indexOf('\\u') >= 0 && SURROGATE_ESCAPE.test(text)) {
    const lone = loneSurrogateIn(value);
    if (lone) return { ok: false, reason: 'invalid-utf8', detail: `${showSurrogates(lone.path)} holds a lone surrogate ("${showSurrogates(lone.text)}"): text with no UTF-8 form` };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Encodes a record as one NDJSON line: compact JSON followed by `\n`. Newlines inside strings
 * are escaped by JSON, so the line never breaks. Throws `TypeError` for a value JSON cannot
 * represent at the top level (`undefined`, a function) or at all (a bigint, a cycle).
 *
 * @example
 * ```ts
 * encodeJsonLine({ messageId: 'm1', note: 'a\nb' }); // '{"messageId":"m1","note":"a\\nb"}\n'
 * ```
 */
export function encodeJsonLine(record: unknown): string {
  const text = JSON.stringify(record);
  if (typeof text !== 'string') throw new TypeError(`cannot encode ${typeof record} as a JSON line`);
  return `${text}\n`;
}

/**
 * One item of {@link readNdjson}: a decoded object, or a rejection; `line` is 1-based.
 *
 * @example
 * ```ts
 * for await (const item of readNdjson(process.stdin)) if (!item.ok) console.error(`stdin:${item.line}`, item.reason);
 * ```
 */
export type NdjsonItem =
  | { ok: true; value: Record<string, unknown>; line: number; raw: string }
  | { ok: false; reason: JsonRejectReason; detail: string; line: number; raw: string };

/**
 * Reads NDJSON from a string, a buffer, or a stream of chunks (a `Readable`, `process.stdin`):
 * one item per non-blank line, in order, with its 1-based line number and its raw text (for
 * dead letters). Lines may end in `\n` or `\r\n`; a last line without a newline counts; blank
 * lines are skipped. UTF-8 sequences split across chunks are handled; a line of bytes that are
 * not UTF-8 is rejected `invalid-utf8` (raw: its bytes in base64). A bad line is reported
 * and reading continues.
 *
 * @example
 * ```ts
 * for await (const item of readNdjson(fs.createReadStream('events.ndjson'))) {
 *   if (item.ok) handle(item.value); else deadLetter(item.reason, item.raw, `events.ndjson:${item.line}`);
 * }
 * ```
 */
export async function* readNdjson(
  input: string | Uint8Array | AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options?: JsonDecodeOptions,
): AsyncGenerator<NdjsonItem> {
  for await (const batch of readNdjsonBatches(input, options)) yield* batch;
}

/**
 * Lines decoded per batch of {@link readNdjsonBatches}. A 1 MiB read is a few thousand lines:
 * decoded all at once, their records would live until the last of them is processed and be
 * copied to the old generation by the collections meanwhile; a few hundred at a time die young,
 * where collecting them costs next to nothing.
 */
const BATCH_LINES = 256;

/**
 * {@link readNdjson} a batch at a time: arrays of up to a few hundred items, each decoded only
 * when its batch is asked for, so a reader loops over records synchronously, without a promise
 * per record.
 *
 * @example
 * ```ts
 * for await (const batch of readNdjsonBatches(fs.createReadStream('events.ndjson', { highWaterMark: 1 << 20 }))) {
 *   for (const item of batch) if (item.ok) handle(item.value);
 * }
 * ```
 */
export async function* readNdjsonBatches(
  input: string | Uint8Array | AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options?: JsonDecodeOptions,
): AsyncGenerator<NdjsonItem[]> {
  const splitter = new NdjsonSplitter(options);
  if (typeof input === 'string') {
    yield* splitter.batches(input.charCodeAt(0) === 0xfeff ? input.slice(1) : input, true);
    return;
  }
  const decoder = new Utf8LineDecoder(options?.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);
  if (input instanceof Uint8Array) {
    const whole = decoder.push(input);
    const rest = decoder.end();
    yield* splitter.batches(whole.text, false, whole.invalid);
    yield* splitter.batches(rest.text, true, rest.invalid);
    return;
  }
  for await (const chunk of input as AsyncIterable<string | Uint8Array>) {
    const d = typeof chunk === 'string' ? { text: chunk, invalid: undefined } : decoder.push(chunk);
    yield* splitter.batches(d.text, false, d.invalid);
  }
  const rest = decoder.end();
  yield* splitter.batches(rest.text, true, rest.invalid);
}

/** Splits text into NDJSON items across chunk boundaries (the state of {@link readNdjsonBatches}). */
class NdjsonSplitter {
  private pending = '';
  private line = 0;
  /** A line longer than maxRecordBytes being skipped to its end: its first KiB and its length so far. */
  private skipping: { head: string; chars: number } | undefined;
  private readonly max: number;
  /** Lines whose bytes were not UTF-8, until they are read. */
  private readonly invalid = new InvalidLines();
  /** The non-blank lines of the last {@link push} (or their rejection, already made), and their line numbers. */
  private readonly raws: Array<string | NdjsonItem> = [];
  private readonly lines: number[] = [];
  constructor(private readonly options: JsonDecodeOptions | undefined) {
    this.max = options?.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  /**
   * The items of the complete lines in `text` (and of the rest too when `final`), a batch at a
   * time, decoded as they are taken; `invalid`: its lines that were not UTF-8 (0: the line it starts in).
   */
  *batches(text: string, final: boolean, invalid?: readonly InvalidLine[]): Generator<NdjsonItem[]> {
    const n = this.push(text, final, invalid);
    for (let from = 0; from < n; from += BATCH_LINES) {
      const to = Math.min(n, from + BATCH_LINES);
      const out: NdjsonItem[] = new Array(to - from);
      for (let i = from; i < to; i++) {
        const raw = this.raws[i]!;
        out[i - from] = typeof raw === 'string' ? this.decode(raw, this.lines[i]!) : raw;
      }
      yield out;
    }
    this.raws.length = 0;
    this.lines.length = 0;
  }

  /** Collects the complete lines in `text` (and the rest too when `final`); returns how many. */
  private push(text: string, final: boolean, invalid?: readonly InvalidLine[]): number {
    this.raws.length = 0;
    this.lines.length = 0;
    if (invalid !== undefined) this.invalid.add(this.skipping ? this.line : this.line + 1, invalid);
    if (this.skipping) {
      // The rest of a line too long to keep: read past it without holding it.
      const nl = text.indexOf('\n');
      if (nl === -1 && !final) {
        this.skipping.chars += text.length;
        return 0;
      }
      const end = nl === -1 ? text.length : nl;
      this.skipped(this.skipping.head, this.skipping.chars + end);
      this.skipping = undefined;
      if (nl === -1) return this.raws.length;
      text = text.slice(nl + 1);
    }
    const all = this.pending.length > 0 ? this.pending + text : text;
    let start = 0;
    for (;;) {
      const nl = all.indexOf('\n', start);
      if (nl === -1) break;
      this.line++;
      this.one(all.slice(start, nl));
      start = nl + 1;
    }
    this.pending = start === 0 ? all : all.slice(start);
    if (!final && this.pending.length > this.max) {
      // No end in sight and already over the limit (characters ≤ bytes): stop buffering it.
      this.line++;
      this.skipping = { head: this.pending.slice(0, 1024), chars: this.pending.length };
      this.pending = '';
      return this.raws.length;
    }
    if (final && this.pending.length > 0) {
      this.line++;
      const last = this.pending;
      this.pending = '';
      this.one(last);
    }
    return this.raws.length;
  }

  private skipped(head: string, chars: number): void {
    this.invalid.drop(this.line);
    this.raws.push({
      ok: false, reason: 'oversized', line: this.line, raw: `${head}…`,
      detail: `line of ${chars} characters, more than maxRecordBytes ${this.max}; skipped without reading it whole (raw: its first 1024 characters)`,
    });
    this.lines.push(this.line);
  }

  private one(rawLine: string): void {
    const raw = rawLine.charCodeAt(rawLine.length - 1) === 13 ? rawLine.slice(0, -1) : rawLine;
    // Blank lines are skipped; only a line starting with a space-like character can be blank.
    const c = raw.charCodeAt(0);
    if (raw.length === 0 || ((c <= 32 || c >= 0xa0) && raw.trim() === '')) return;
    const invalid = this.invalid.reject(this.line, this.line, raw);
    this.raws.push(invalid ?? raw);
    this.lines.push(this.line);
  }

  private decode(raw: string, line: number): NdjsonItem {
    const r = decodeJsonRecord(raw, this.options);
    return r.ok ? { ok: true, value: r.value, line, raw } : { ok: false, reason: r.reason, detail: r.detail, line, raw };
  }
}
