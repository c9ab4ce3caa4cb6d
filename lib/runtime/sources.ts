/**
 * Embedded sources: a file or stdin read record by record into {@link SourceInput}s, each
 * with its place (`file:line`) for dead letters.
 */
import { createReadStream } from 'node:fs';
import { addAbortSignal } from 'node:stream';
import { basename } from 'node:path';
import { readCsv } from '../serde/csv.js';
import { readNdjsonBatches } from '../serde/json.js';
import { readAvroEventFile } from '../serde/avro.js';
import type { SourceInput } from './task.js';

/** Input formats the embedded runner reads. */
export type InputFormat = 'json' | 'csv' | 'avro';

export interface ReadSourceOptions {
  maxRecordBytes?: number;
  /** CSV: lines a record may span (default 1). */
  maxRecordLines?: number;
  /**
   * Stops the read: the input stream is destroyed, so a read waiting for input (a quiet stdin, a
   * pipe, an endless line from /dev/zero) ends at once with an AbortError instead of at the next record.
   */
  signal?: AbortSignal;
}

/**
 * Reads `path` (or stdin for `-`) as NDJSON, CSV or an Avro container file, a batch of records at
 * a time (NDJSON: the lines of one 1 MiB read), so the caller's loop over records is synchronous.
 * A record's `source` is left for {@link sourceOf} to build (`file:line`), which only a dead letter needs.
 *
 * @example
 * ```ts
 * for await (const batch of readSourceBatches('examples/data/rees46-2019-10-01-head.csv', 'csv')) {
 *   for (const input of batch) task.ingest(input);
 * }
 * ```
 */
export async function* readSourceBatches(path: string, format: InputFormat, options: ReadSourceOptions = {}): AsyncGenerator<SourceInput[]> {
  const origin = path === '-' ? 'stdin' : basename(path);
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
  if (options.signal) addAbortSignal(options.signal, stream);
  if (format === 'json') {
    for await (const items of readNdjsonBatches(stream, { maxRecordBytes: options.maxRecordBytes })) {
      const batch: SourceInput[] = new Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        batch[i] = item.ok
          ? { ok: true, value: item.value, raw: item.raw, origin, line: item.line }
          : { ok: false, reason: item.reason, detail: item.detail, raw: item.raw, origin, line: item.line };
      }
      yield batch;
    }
    return;
  }
  let batch: SourceInput[] = [];
  const full = () => batch.length >= 1024;
  if (format === 'csv') {
    for await (const item of readCsv(stream, { maxRecordBytes: options.maxRecordBytes, maxRecordLines: options.maxRecordLines, unwrapQuotedRows: true })) {
      batch.push(
        item.ok
          ? { ok: true, value: item.record, raw: item.raw, origin, line: item.line }
          : { ok: false, reason: item.reason, detail: item.detail, raw: item.raw, origin, line: item.line },
      );
      if (full()) {
        yield batch;
        batch = [];
      }
    }
  } else {
    for await (const item of readAvroEventFile(stream, { maxRecordBytes: options.maxRecordBytes })) {
      const source = `${origin}#${item.index}`;
      batch.push(
        item.ok
          ? { ok: true, value: item.event, raw: JSON.stringify(item.event), source }
          : { ok: false, reason: item.reason, detail: item.detail, raw: item.raw ?? '', source },
      );
      if (full()) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * {@link readSourceBatches} a record at a time.
 *
 * @example
 * ```ts
 * for await (const input of readSource('events.ndjson', 'json')) task.ingest(input);
 * ```
 */
export async function* readSource(path: string, format: InputFormat, options: ReadSourceOptions = {}): AsyncGenerator<SourceInput> {
  for await (const batch of readSourceBatches(path, format, options)) yield* batch;
}
