/**
 * Embedded outputs: every stream to `<out-dir>/<stream>.ndjson`, one JSON record per line.
 * Writes are buffered and made durable (fsync) at checkpoints; the byte length of every file
 * is recorded in the checkpoint so a resumed run can cut the files back to it and replay,
 * which makes an interrupted-and-resumed run write exactly what an uninterrupted one does.
 */
import { closeSync, fsync, ftruncateSync, mkdirSync, openSync, writeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import type { DerivedRecord } from '../operator/contract.js';

/** Bytes each stream buffers before writing them to its file. */
const BUFFER_BYTES = 256 * 1024;

interface SinkFile {
  fd: number;
  /** Bytes in the file, buffered ones excluded. */
  bytes: number;
  /** Lines encoded as UTF-8, not yet written; allocated at the first write. */
  buffer: Buffer | undefined;
  used: number;
  records: number;
}

/**
 * NDJSON files per stream.
 *
 * @example
 * ```ts
 * const sinks = new FileSinks('out', ['events', 'dead-letter', 'late']);
 * sinks.write('events', { messageId: 'm1' });
 * await sinks.flush();
 * sinks.sizes(); // { events: 18, 'dead-letter': 0, late: 0 }
 * sinks.close();
 * ```
 */
export class FileSinks {
  private readonly files = new Map<string, SinkFile>();

  /**
   * @param truncateTo byte length to cut each file back to (resume); streams not listed start empty.
   */
  constructor(private readonly dir: string, streams: readonly string[], private readonly truncateTo: Record<string, number> = {}) {
    mkdirSync(dir, { recursive: true });
    for (const s of streams) this.file(s);
  }

  /** Path of a stream's file. */
  path(stream: string): string {
    return join(this.dir, `${stream}.ndjson`);
  }

  private file(stream: string): SinkFile {
    let f = this.files.get(stream);
    if (!f) {
      const fd = openSync(this.path(stream), 'a+');
      const want = this.truncateTo[stream] ?? 0;
      const size = fstatSync(fd).size;
      if (size < want) {
        // A resumed run appends after the checkpoint's bytes: a shorter file was changed since
        // (truncated, rewritten), and appending to it would misfile records without a word.
        closeSync(fd);
        throw new Error(`${this.path(stream)} has ${size} bytes but the checkpoint it resumes from wrote ${want}: the output was changed since; run again with --restart to start over, or restore the output`);
      }
      const keep = want;
      ftruncateSync(fd, keep);
      f = { fd, bytes: keep, buffer: undefined, used: 0, records: 0 };
      this.files.set(stream, f);
    }
    return f;
  }

  /**
   * Buffers one record as a line. The line is encoded straight into the stream's buffer: no
   * line string with its newline, no joined string of many lines, and the JSON text is garbage
   * as soon as it is copied (young, so collecting it is cheap).
   */
  write(stream: string, record: DerivedRecord): void {
    const f = this.files.get(stream) ?? this.file(stream);
    const text = JSON.stringify(record);
    f.records++;
    // A UTF-16 unit takes at most 3 UTF-8 bytes: room for the worst case, plus the newline.
    const room = text.length * 3 + 1;
    let buffer = f.buffer;
    if (buffer === undefined) buffer = f.buffer = Buffer.allocUnsafeSlow(BUFFER_BYTES);
    if (buffer.length - f.used < room) {
      this.drainFile(f);
      if (room > buffer.length) {
        f.bytes += writeSync(f.fd, `${text}\n`);
        return;
      }
    }
    const n = buffer.write(text, f.used);
    buffer[f.used + n] = 10;
    f.used += n + 1;
  }

  /** Writes a stream's buffered lines to its file (not yet durable). */
  private drainFile(f: SinkFile): void {
    if (f.used === 0 || f.buffer === undefined) return;
    let off = 0;
    while (off < f.used) off += writeSync(f.fd, f.buffer, off, f.used - off);
    f.bytes += f.used;
    f.used = 0;
  }

  /** Writes buffered lines to the files (not yet durable). */
  private drain(): void {
    for (const f of this.files.values()) this.drainFile(f);
  }

  /**
   * Writes and fsyncs every file: after this, `sizes()` bytes are durable. The fsyncs run in
   * libuv's thread pool, all files at once, so the event loop answers requests meanwhile; the
   * caller must not write until this resolves (what is written meanwhile is not covered).
   */
  async flush(): Promise<void> {
    this.drain();
    await Promise.all([...this.files.values()].map((f) => new Promise<void>((ok, ko) => fsync(f.fd, (e) => (e ? ko(e) : ok())))));
  }

  /** Byte length of each file including buffered lines (which are written first). */
  sizes(): Record<string, number> {
    this.drain();
    return Object.fromEntries([...this.files].map(([s, f]) => [s, f.bytes]));
  }

  /** Records written per stream by this process. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.files].map(([s, f]) => [s, f.records]));
  }

  close(): void {
    this.drain();
    for (const f of this.files.values()) closeSync(f.fd);
    this.files.clear();
  }
}
