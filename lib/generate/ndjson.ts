/**
 * Writes an event stream as NDJSON (one JSON object per line) with backpressure, for
 * `tributary generate --out file` and for benchmarks that need an input file.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { TributaryEvent } from '../event/event.js';

/** Options of {@link writeEventsNdjson}. */
export interface WriteNdjsonOptions {
  /** End the writable when done and wait until it has flushed ('finish'). Default false (e.g. stdout). */
  end?: boolean;
  /** Lines are batched into writes of about this many characters. Default 65 536. */
  batchChars?: number;
}

/**
 * Writes each event as one line of JSON, waiting for `drain` whenever the writable's buffer is
 * full, so memory stays bounded however long the (lazy) stream is. Resolves to the number of
 * events written; rejects if the writable errors.
 *
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs';
 * import { generateEvents, writeEventsNdjson } from './lib/generate/index.js';
 *
 * const n = await writeEventsNdjson(generateEvents({ events: 1_000_000, seed: 1 }),
 *   createWriteStream('events.ndjson'), { end: true });
 * ```
 */
export async function writeEventsNdjson(
  events: Iterable<TributaryEvent> | AsyncIterable<TributaryEvent>,
  writable: Writable,
  options: WriteNdjsonOptions = {},
): Promise<number> {
  const batchChars = options.batchChars ?? 65_536;
  let failure: unknown = null;
  const onError = (err: unknown): void => {
    failure ??= err;
  };
  writable.on('error', onError);
  let count = 0;
  let batch = '';
  const flush = async (): Promise<void> => {
    if (failure !== null) throw failure;
    if (writable.destroyed) throw new Error('writeEventsNdjson: the output stream was closed');
    const chunk = batch;
    batch = '';
    if (!writable.write(chunk)) await once(writable, 'drain'); // rejects on 'error'
  };
  try {
    if (Symbol.iterator in events) {
      // A synchronous source (the generator): no per-event await.
      for (const event of events) {
        batch += JSON.stringify(event) + '\n';
        count++;
        if (batch.length >= batchChars) await flush();
      }
    } else {
      for await (const event of events) {
        batch += JSON.stringify(event) + '\n';
        count++;
        if (batch.length >= batchChars) await flush();
      }
    }
    if (batch.length > 0) await flush();
    if (options.end === true) {
      writable.end();
      await finished(writable, { readable: false });
    }
    if (failure !== null) throw failure;
  } finally {
    writable.off('error', onError);
  }
  return count;
}
