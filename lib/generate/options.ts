/**
 * The options of the event generator: their types, validation and defaults, and the empty
 * ground-truth statistics a run starts from.
 */
/** Options of {@link generateEvents}. Rates are fractions of the events yielded. */
export interface GenerateOptions {
  /** Exactly this many events are yielded (duplicates included). */
  events: number;
  /** Same seed and options → identical stream. */
  seed: number;
  /** Event time of the beginning of the stream, epoch ms. Default 2026-01-01T00:00:00Z. */
  start?: number;
  /** Size of the customer population. Default `max(1, round(events / 40))`. */
  customers?: number;
  /** Size of the product catalogue. Default 2000. */
  products?: number;
  /**
   * Fraction of yielded events that are re-sends of an earlier event: same `messageId`,
   * identical content, arriving 1ms–60s after the original. Default 0.01.
   */
  duplicateRate?: number;
  /**
   * Fraction of yielded events that arrive after an event with a later timestamp, by at most
   * `maxDisorderMs`. Default 0.05.
   */
  outOfOrderRate?: number;
  /** Bound of the out-of-order disorder. Default 30 000 (30s). */
  maxDisorderMs?: number;
  /**
   * Fraction of yielded events that arrive after an event more than `lateByMs` newer (late
   * for any pipeline whose `allowedLateness` ≤ `lateByMs`). Default 0.002.
   */
  lateRate?: number;
  /**
   * How late a late event is: it arrives right after the first event that is between
   * `lateByMs` and about `2 × lateByMs` newer. Default 600 000 (10m).
   */
  lateByMs?: number;
}

/**
 * Ground truth about a generated stream, observed on the events as they are yielded. The
 * object returned by {@link generateWithStats} is updated live and is final once the stream
 * is exhausted. `outOfOrder`, `late` and `duplicates` are disjoint; `events` =
 * `duplicates` + the sum of `eventCounts`.
 */
export interface GenerateStats {
  /** Events yielded so far. */
  events: number;
  /** Yielded events whose `messageId` was already yielded (identical content). */
  duplicates: number;
  /**
   * Non-duplicate events yielded after an event with a later timestamp, by at most `lateByMs`
   * (in practice by at most `maxDisorderMs`, or up to `lateByMs` for a late-intended event
   * that did not overtake enough traffic).
   */
  outOfOrder: number;
  /** Non-duplicate events yielded after an event more than `lateByMs` newer. */
  late: number;
  /** Greatest observed disorder (max timestamp yielded before an event − its timestamp), ms. */
  maxDisorderMs: number;
  /** Distinct customers (persons) that produced at least one event. */
  customers: number;
  /**
   * Customer sessions started (consecutive events of one customer ≤ 25m apart, sessions
   * ≥ 45m apart). Per person, i.e. what `sessionize` by a perfectly resolved `personId` with a
   * 30m gap would find.
   */
  sessions: number;
  /** Distinct events per `event` name (track) or `type` (other calls); duplicates excluded. */
  eventCounts: Record<string, number>;
  /** Smallest and largest event time generated, epoch ms (null before the first event). */
  firstTimestamp: number | null;
  lastTimestamp: number | null;
  /** Peak number of events held in the reorder buffer (bounded-memory evidence). */
  maxBuffered: number;
}

/** 2026-01-01T00:00:00Z */
export const DEFAULT_START = Date.UTC(2026, 0, 1);

function checkRate(name: string, value: number, max: number): number {
  if (!(value >= 0 && value <= max)) throw new RangeError(`${name} must be between 0 and ${max}, got ${value}`);
  return value;
}

function checkInt(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  return value;
}
/** Options with defaults applied. */
export interface Resolved {
  events: number;
  seed: number;
  start: number;
  customers: number;
  products: number;
  duplicateRate: number;
  outOfOrderRate: number;
  maxDisorderMs: number;
  lateRate: number;
  lateByMs: number;
}

/** Validates `o` and applies the defaults. */
export function resolve(o: GenerateOptions): Resolved {
  const events = checkInt('events', o.events, 0);
  if (!Number.isFinite(o.seed)) throw new RangeError(`seed must be a finite number, got ${o.seed}`);
  const start = o.start ?? DEFAULT_START;
  if (!Number.isSafeInteger(start)) throw new RangeError(`start must be epoch milliseconds, got ${start}`);
  const r: Resolved = {
    events,
    seed: o.seed,
    start,
    customers: checkInt('customers', o.customers ?? Math.max(1, Math.round(events / 40)), 1),
    products: checkInt('products', o.products ?? 2000, 1),
    duplicateRate: checkRate('duplicateRate', o.duplicateRate ?? 0.01, 0.5),
    outOfOrderRate: checkRate('outOfOrderRate', o.outOfOrderRate ?? 0.05, 0.5),
    maxDisorderMs: checkInt('maxDisorderMs', o.maxDisorderMs ?? 30_000, 1),
    lateRate: checkRate('lateRate', o.lateRate ?? 0.002, 0.5),
    lateByMs: checkInt('lateByMs', o.lateByMs ?? 600_000, 1),
  };
  if (r.duplicateRate + r.outOfOrderRate + r.lateRate > 0.9) {
    throw new RangeError('duplicateRate + outOfOrderRate + lateRate must not exceed 0.9');
  }
  return r;
}

/** Statistics before the first event. */
export function emptyStats(): GenerateStats {
  return {
    events: 0, duplicates: 0, outOfOrder: 0, late: 0, maxDisorderMs: 0, customers: 0, sessions: 0,
    eventCounts: {}, firstTimestamp: null, lastTimestamp: null, maxBuffered: 0,
  };
}
