/**
 * The records a task reads and writes besides events: source input (decoded, or rejected by the
 * decoder, with where it came from), dead letters, and the error that stops a run on a record
 * when the pipeline says `onProcessingError: fail`.
 */
import type { RejectReason } from '../event/mapping.js';
import type { DerivedRecord } from '../operator/contract.js';

/** One record read from a source, decoded to a plain object or already rejected by the decoder. */
export type SourceInput = (
  | { ok: true; value: unknown; raw: string; partition?: string }
  | { ok: false; reason: RejectReason; detail: string; raw: string; partition?: string }
) &
  // Where it came from: `source` as written, or `origin` and `line`, joined only for a dead letter.
  ({ source: string; origin?: undefined; line?: undefined } | { source?: undefined; origin: string; line: number });

/** The raw text of a record and where it came from (for dead letters). */
export type RecordOrigin = { raw: string } & ({ source: string } | { source?: undefined; origin: string; line: number });

/** Where a source record came from: `file:line`, or `topic/partition/offset`. */
export function sourceOf(input: { source?: string; origin?: string; line?: number }): string {
  return input.source ?? `${input.origin}:${input.line}`;
}

/** A record on the dead-letter stream. */
export interface DeadLetterRecord extends DerivedRecord {
  reason: RejectReason;
  detail: string;
  /** The original text (or base64 of bytes). */
  raw: string;
  /** `file:line`, or `topic/partition/offset`. */
  source: string;
}

/**
 * A step threw while processing a record (or firing a timer) and the pipeline says
 * `onProcessingError: fail`: the run stops here, nothing past the record is committed.
 */
export class ProcessingError extends Error {
  constructor(
    message: string,
    /** The step's name. */
    readonly step: string,
    /** Where the record came from (`file:line`, `topic/partition/offset`), or `step <name>` for a timer. */
    readonly source: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProcessingError';
  }
}

/** JSON of a record for a dead letter, or a note when it cannot be written as JSON. */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (error) {
    return `(not representable as JSON: ${error instanceof Error ? error.message : String(error)})`;
  }
}
