/**
 * Embedded outputs: every stream to `<out-dir>/<stream>.ndjson`, one JSON record per line.
 * Writes are buffered and made durable (fsync) at checkpoints; the byte length of every file
 * is recorded in the checkpoint so a resumed run can cut the files back to it and replay,
 * which makes an interrupted-and-resumed run write exactly what an uninterrupted one does.
 */
import { closeSync, fsync, ftruncateSync, mkdirSync, openSync, writeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import type { DerivedRecord } from '../operator/contract.js';

const FLUSH_AT = 1 << 20;

interface SinkFile {
  fd: number;
  bytes: number;
  pending: string[];
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
  private pendingTotal = 0;

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
      f = { fd, bytes: keep, pending: [], records: 0 };
      this.files.set(stream, f);
    }
    return f;
  }

  write(stream: string, record: DerivedRecord): void {
    const f = this.files.get(stream) ?? this.file(stream);
    const line = JSON.stringify(record) + '\n';
    f.pending.push(line);
    f.records++;
    // UTF-16 units: a bound of the bytes within 3×, enough to decide when to drain; the exact
    // byte count comes from the write.
    this.pendingTotal += line.length;
    if (this.pendingTotal >= FLUSH_AT) this.drain();
  }

  /** Writes buffered lines to the files (not yet durable). */
  private drain(): void {
    for (const f of this.files.values()) {
      if (f.pending.length === 0) continue;
      f.bytes += writeSync(f.fd, f.pending.join(''));
      f.pending = [];
    }
    this.pendingTotal = 0;
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
