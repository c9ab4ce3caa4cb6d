/**
 * The file I/O of the hand-written dedupe baselines (`dedupe-map.ts`, `dedupe-lmdb.ts`):
 * NDJSON read in 1 MiB chunks and split into lines by hand, outputs written through a string
 * buffer with synchronous writes and fsynced on demand (a checkpoint). Plus the event fields a
 * dedupe needs: JSON.parse, timestamp (ISO string or epoch ms → epoch ms), source key and
 * messageId checks in the order Tributary's task applies them.
 *
 * Not run by itself; see the baselines:
 *
 *   node dist/lib/bench/baselines/dedupe-map.js <input.ndjson> <out-dir>
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

/** Calls `onLine` for every non-blank line of the file (a trailing `\r` removed), synchronously. */
export function forEachLine(path: string, onLine: (line: string) => void, chunkBytes = 1 << 20): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(chunkBytes);
  const decoder = new StringDecoder('utf8');
  const emit = (line: string) => {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l.trim() !== '') onLine(l);
  };
  let rest = '';
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      const text = rest + decoder.write(buf.subarray(0, n));
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        emit(text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
    if (rest !== '') emit(rest);
  } finally {
    closeSync(fd);
  }
}

/** An NDJSON output file: lines buffered in a string, written every ~64 KiB, fsynced by {@link sync}. */
export class NdjsonOutput {
  count = 0;
  private readonly fd: number;
  private buffer = '';

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  write(line: string): void {
    this.buffer += line + '\n';
    this.count++;
    if (this.buffer.length >= 65_536) this.drain();
  }

  /** Writes the buffer and fsyncs the file (part of a checkpoint). */
  sync(): void {
    this.drain();
    fsyncSync(this.fd);
  }

  close(): void {
    this.sync();
    closeSync(this.fd);
  }

  private drain(): void {
    if (this.buffer === '') return;
    writeSync(this.fd, this.buffer);
    this.buffer = '';
  }
}

/** The four outputs of a dedupe run, named like Tributary's streams. */
export function openOutputs(outDir: string) {
  mkdirSync(outDir, { recursive: true });
  const file = (name: string) => new NdjsonOutput(join(outDir, `${name}.ndjson`));
  return { events: file('events'), duplicates: file('duplicates'), late: file('late'), deadLetter: file('dead-letter') };
}
export type Outputs = ReturnType<typeof openOutputs>;

/** A parsed input line: the object, its event time and its messageId, or why it is rejected. */
export type ParsedLine =
  | { ok: true; event: Record<string, unknown>; t: number; messageId: string | undefined; timestampWasNumber: boolean }
  | { ok: false; reason: string };

/**
 * JSON.parse, timestamp to epoch ms, source key `[anonymousId, userId]` (first non-null) present.
 * The messageId is checked later (after lateness), as Tributary checks a step's key after the
 * source checks and the lateness check.
 */
export function parseLine(line: string): ParsedLine {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'invalid-json' };
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return { ok: false, reason: 'invalid-json' };
  const ts = event.timestamp;
  let t: number;
  if (typeof ts === 'number') t = ts;
  else if (typeof ts === 'string') t = Date.parse(ts);
  else return { ok: false, reason: 'missing-timestamp' };
  if (!Number.isFinite(t)) return { ok: false, reason: 'invalid-timestamp' };
  const anonymousId = event.anonymousId;
  const userId = event.userId;
  if ((anonymousId === undefined || anonymousId === null || anonymousId === '') && (userId === undefined || userId === null || userId === '')) {
    return { ok: false, reason: 'missing-key' };
  }
  const id = event.messageId;
  const messageId = id === undefined || id === null || id === '' ? undefined : String(id);
  return { ok: true, event, t, messageId, timestampWasNumber: typeof ts === 'number' };
}

/** The line to write for a passed event: the input line itself when its timestamp already was epoch ms. */
export function passedLine(line: string, p: { event: Record<string, unknown>; t: number; timestampWasNumber: boolean }): string {
  return p.timestampWasNumber ? line : JSON.stringify({ ...p.event, timestamp: p.t });
}

/** Peak RSS (bytes) and heap used now, for the JSON result line. */
export function memory(): { peakRss: number; heap: number } {
  return { peakRss: process.resourceUsage().maxRSS * 1024, heap: process.memoryUsage().heapUsed };
}
