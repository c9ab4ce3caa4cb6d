/**
 * Embedded sources: a file or stdin read record by record into {@link SourceInput}s, each
 * with its place (`file:line`) for dead letters.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { readCsv } from '../serde/csv.js';
import { readNdjson } from '../serde/json.js';
import { readAvroEventFile } from '../serde/avro.js';
import type { SourceInput } from './task.js';

/** Input formats the embedded runner reads. */
export type InputFormat = 'json' | 'csv' | 'avro';

export interface ReadSourceOptions {
  maxRecordBytes?: number;
}

/**
 * Reads `path` (or stdin for `-`) as NDJSON, CSV or an Avro container file.
 *
 * @example
 * ```ts
 * for await (const input of readSource('examples/data/rees46-2019-10-01-head.csv', 'csv')) task.ingest(input);
 * ```
 */
export async function* readSource(path: string, format: InputFormat, options: ReadSourceOptions = {}): AsyncGenerator<SourceInput> {
  const name = path === '-' ? 'stdin' : basename(path);
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
  if (format === 'json') {
    for await (const item of readNdjson(stream, { maxRecordBytes: options.maxRecordBytes })) {
      const source = `${name}:${item.line}`;
      yield item.ok
        ? { ok: true, value: item.value, raw: item.raw, source }
        : { ok: false, reason: item.reason, detail: item.detail, raw: item.raw, source };
    }
  } else if (format === 'csv') {
    for await (const item of readCsv(stream, { maxRecordBytes: options.maxRecordBytes, unwrapQuotedRows: true })) {
      const source = `${name}:${item.line}`;
      yield item.ok
        ? { ok: true, value: item.record, raw: item.raw, source }
        : { ok: false, reason: item.reason, detail: item.detail, raw: item.raw, source };
    }
  } else {
    for await (const item of readAvroEventFile(stream)) {
      const source = `${name}#${item.index}`;
      yield item.ok
        ? { ok: true, value: item.event, raw: JSON.stringify(item.event), source }
        : { ok: false, reason: item.reason, detail: item.detail, raw: '', source };
    }
  }
}
