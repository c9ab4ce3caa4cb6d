/**
 * UTF-8 checked a line at a time, for the line-based readers (NDJSON, CSV): bytes that are not
 * valid UTF-8 make their line a dead letter (`invalid-utf8`, raw = the line's bytes in base64),
 * as the same bytes in a Kafka message value are, instead of being read as U+FFFD.
 *
 * The common case stays one decode per chunk: a chunk is cut after its last line end (the rest
 * waits for the next chunk) and its whole lines are decoded at once with a fatal decoder. Only
 * when that throws are the chunk's lines decoded one by one to find the bad ones.
 */
import { isUtf8 } from 'node:buffer';

/** A line whose bytes are not valid UTF-8. */
export interface InvalidLine {
  /** Which line of the decoded text: 0 is the line the text starts in. */
  index: number;
  /** The line's bytes, without its `\n`. */
  bytes: Uint8Array;
  detail: string;
}

/** Text decoded from bytes, and its lines that were not valid UTF-8 (ascending; undefined: none). */
export interface DecodedLines {
  text: string;
  invalid: InvalidLine[] | undefined;
}

const LF = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];

/**
 * The offset of the first byte of `bytes` that does not belong to a valid UTF-8 sequence
 * (overlong forms, surrogates and code points past U+10FFFF are invalid), or -1.
 *
 * @example
 * ```ts
 * firstInvalidUtf8(Buffer.from([0x7b, 0xff, 0x7d])); // 1
 * firstInvalidUtf8(Buffer.from('héllo'));            // -1
 * ```
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const c = bytes[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i;
    const c1 = bytes[i + 1] as number;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) if (((bytes[i + k] as number) & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * The dead-letter detail of bytes that are not valid UTF-8: where the first bad byte is.
 *
 * @example
 * ```ts
 * invalidUtf8Detail(Buffer.from([0x7b, 0xff, 0x7d]), 'line'); // 'not valid UTF-8: byte 1 of the line is 0xff (raw is the line's bytes in base64)'
 * ```
 */
export function invalidUtf8Detail(bytes: Uint8Array, what: string): string {
  const at = firstInvalidUtf8(bytes);
  const where = at === -1 ? '' : `: byte ${at} of the ${what} is 0x${(bytes[at] as number).toString(16).padStart(2, '0')}`;
  return `not valid UTF-8${where} (raw is the ${what}'s bytes in base64)`;
}

/**
 * Decodes a byte stream into text cut at line ends, reporting the lines that are not valid
 * UTF-8. A line longer than `maxLineBytes` is not held whole: what has come of it is passed on
 * (invalid bytes as U+FFFD) for the reader to reject as oversized.
 *
 * @example
 * ```ts
 * const d = new Utf8LineDecoder(1 << 20);
 * d.push(Buffer.from('{"a":1}\n{"b":\xff}\n{"c"', 'latin1')); // { text: '{"a":1}\n{"b":�}\n', invalid: [{ index: 1, … }] }
 * d.end();                                                    // { text: '{"c"', invalid: undefined }
 * ```
 */
export class Utf8LineDecoder {
  private carry: Uint8Array | undefined;
  private started = false;
  private readonly fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly lenient = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(private readonly maxLineBytes: number) {}

  /** The text of the whole lines completed by `chunk` (a leading byte-order mark dropped). */
  push(chunk: Uint8Array): DecodedLines {
    let bytes = this.carry === undefined ? chunk : Buffer.concat([this.carry, chunk]);
    this.carry = undefined;
    if (!this.started) {
      // A byte-order mark may be split across chunks: wait for its third byte.
      if (bytes.length < 3 && bytes.length > 0 && bytes.every((b, k) => b === BOM[k])) {
        this.carry = bytes;
        return { text: '', invalid: undefined };
      }
      this.started = true;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    const last = bytes.lastIndexOf(LF);
    if (last === -1) {
      if (bytes.length <= this.maxLineBytes) {
        this.carry = bytes;
        return { text: '', invalid: undefined };
      }
      // A line past the limit: hand on what came of it, up to a complete character.
      const cut = bytes.length - incompleteTail(bytes);
      this.carry = cut < bytes.length ? bytes.slice(cut) : undefined;
      return { text: this.lenient.decode(bytes.subarray(0, cut)), invalid: undefined };
    }
    if (last + 1 < bytes.length) this.carry = bytes.slice(last + 1);
    return this.decodeLines(bytes.subarray(0, last + 1));
  }

  /** The rest: the last line when the input does not end with a line end. */
  end(): DecodedLines {
    const rest = this.carry;
    this.carry = undefined;
    if (rest === undefined || rest.length === 0) return { text: '', invalid: undefined };
    this.started = true;
    const bom = rest[0] === 0xef && rest[1] === 0xbb && rest[2] === 0xbf;
    return this.decodeLines(bom ? rest.subarray(3) : rest);
  }

  private decodeLines(bytes: Uint8Array): DecodedLines {
    try {
      return { text: this.fatal.decode(bytes), invalid: undefined };
    } catch {
      // Some line is not UTF-8: find which, decoding line by line.
    }
    // Replacement never takes a line end with it: the lenient text has the same lines.
    const invalid: InvalidLine[] = [];
    let start = 0;
    for (let index = 0; start < bytes.length; index++) {
      let nl = bytes.indexOf(LF, start);
      if (nl === -1) nl = bytes.length;
      const line = bytes.subarray(start, nl);
      if (!isUtf8(line)) invalid.push({ index, bytes: Uint8Array.from(line), detail: invalidUtf8Detail(line, 'line') });
      start = nl + 1;
    }
    return { text: this.lenient.decode(bytes), invalid };
  }
}

/** How many bytes at the end of `bytes` begin a character that is not complete yet (0–3). */
function incompleteTail(bytes: Uint8Array): number {
  let i = bytes.length - 1;
  let continuation = 0;
  while (i >= 0 && continuation < 3 && ((bytes[i] as number) & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i < 0) return 0;
  const c = bytes[i] as number;
  const need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
  return need > continuation ? continuation + 1 : 0;
}

/** A record rejected because one of its lines was not valid UTF-8. */
export interface InvalidUtf8Item {
  ok: false;
  reason: 'invalid-utf8';
  detail: string;
  line: number;
  raw: string;
}

/**
 * The invalid lines a reader has been told of, by line number, until the records holding them
 * are read.
 *
 * @example
 * ```ts
 * const lines = new InvalidLines();
 * lines.add(7, decoded.invalid ?? []);         // the text starts in line 7
 * lines.reject(8, 8, '{"b":�}');               // { ok: false, reason: 'invalid-utf8', line: 8, raw: 'eyJiIjr/fQ==', … }
 * ```
 */
export class InvalidLines {
  private readonly byLine = new Map<number, InvalidLine>();

  /** How many are waiting. */
  get size(): number {
    return this.byLine.size;
  }

  /** Records the invalid lines of a text that starts in line `firstLine`. */
  add(firstLine: number, lines: readonly InvalidLine[]): void {
    for (const l of lines) this.byLine.set(firstLine + l.index, l);
  }

  /** Forgets line `line` (read some other way, e.g. skipped as oversized). */
  drop(line: number): void {
    this.byLine.delete(line);
  }

  /**
   * The rejection of the record on lines `first`..`last` (its text `text`) when one of them was
   * not valid UTF-8, or undefined. Its raw is the record's bytes in base64.
   */
  reject(first: number, last: number, text: string): InvalidUtf8Item | undefined {
    if (this.byLine.size === 0) return undefined;
    let bad: InvalidLine | undefined;
    for (let l = first; l <= last && bad === undefined; l++) bad = this.byLine.get(l);
    if (bad === undefined) return undefined;
    const texts = text.split('\n');
    const bytes: Uint8Array[] = [];
    texts.forEach((t, k) => {
      const own = this.byLine.get(first + k);
      if (k > 0) bytes.push(Buffer.from('\n'));
      // The record's text has no line end; nor has its last line's bytes then.
      bytes.push(own === undefined ? Buffer.from(t, 'utf8') : k === texts.length - 1 ? withoutCr(own.bytes) : own.bytes);
    });
    for (let l = first; l <= last; l++) this.byLine.delete(l);
    return { ok: false, reason: 'invalid-utf8', detail: bad.detail, line: first, raw: Buffer.concat(bytes).toString('base64') };
  }
}

function withoutCr(bytes: Uint8Array): Uint8Array {
  return bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, -1) : bytes;
}
