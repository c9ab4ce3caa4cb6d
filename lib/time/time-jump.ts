/**
 * The bound on how far one record's event time may jump ahead of its input partition
 * (`source.maxTimeJump`). The future bound (`maxFutureSkew`) compares with processing time, so it
 * cannot see a record dated today in a replay of last year's data: accepted, such a record would
 * move the watermark to today and send every later record of the replay to `late`.
 *
 * The stream's time here is the median of the event times of the partition's last 15 records
 * (every record with a valid timestamp counts, the refused ones too). One record far ahead of it
 * is a dead letter (`time-jump`) and moves nothing; a real jump (a gap in the data, a backfill
 * switching to later data) moves the median after 8 records: those 8 are refused, the 9th and
 * the rest are taken. Nothing is held back, so the rule decides
 * at once and the same input gives the same records on every run; the recent times go into the
 * checkpoint with the watermark, so a resumed run decides as an uninterrupted one.
 *
 * Not caught: a jump at the very first record of a partition (there is nothing to compare with).
 *
 * A live stream has a tighter bound (`source.maxFutureJump`, default 1h): a record dated more than
 * that after processing time is a `time-jump` too when it is more than that ahead of the median.
 * One record dated tomorrow (within `maxFutureSkew`, a day) would otherwise send the partition's
 * next day to `late`. A record dated up to processing time is never judged by it, so the first
 * records after a quiet hour are taken; a stream whose clock is hours ahead throughout (a time
 * zone mistake) loses its first 8 records per partition, as with any real jump. A replay of past
 * data never meets it.
 *
 * @module
 */
import type { Clock } from './clock.js';
import { formatDuration } from './duration.js';

/** Records per partition whose times make the stream's time (their median). */
export const TIME_JUMP_WINDOW = 15;

/** Recent event times of one partition, in arrival order (a ring once full). */
interface Recent {
  ring: number[];
  /** Where the next time goes in `ring` once it is full. */
  next: number;
}

/** The recent event times per partition, oldest first, as a checkpoint keeps them. */
export type TimeJumpSnapshot = Array<[string, number[]]>;

const iso = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));

/**
 * Decides, record by record, whether an event time jumps too far ahead of its partition.
 *
 * @example
 * ```ts
 * const guard = new TimeJumpGuard(30 * 86_400_000);
 * guard.check('0', Date.UTC(2026, 0, 1));       // undefined (taken)
 * guard.check('0', Date.UTC(2026, 0, 1, 0, 1)); // undefined
 * guard.check('0', Date.UTC(2026, 11, 7));
 * // 'timestamp 2026-12-07T00:00:00.000Z is more than maxTimeJump 30d ahead of its input (the median of its last 2 records: 2026-01-01T00:00:00.000Z)'
 * ```
 */
export class TimeJumpGuard {
  private readonly partitions = new Map<string, Recent>();

  /**
   * @param maxJumpMs how far past the median an event time may be; `Infinity`: no bound.
   * @param maxFutureJumpMs the same for an event time more than this after processing time.
   * @param clock processing time (read only for an event past `maxFutureJumpMs` of the median).
   */
  constructor(private readonly maxJumpMs: number, private readonly maxFutureJumpMs = Infinity, private readonly clock?: Clock) {}

  /**
   * Records `t` as the partition's latest time and returns why it jumps too far, or `undefined`
   * when it may be processed.
   */
  check(partition: string, t: number): string | undefined {
    if (this.maxJumpMs === Infinity && this.maxFutureJumpMs === Infinity) return undefined;
    let recent = this.partitions.get(partition);
    if (recent === undefined) this.partitions.set(partition, (recent = { ring: [], next: 0 }));
    const { ring } = recent;
    const n = ring.length;
    // t − median > bound, with the lower median (of 15: the 8th smallest), is: more than half
    // of the recent times are below t − bound. Counted, not sorted: a few compares per record.
    const bound = t - this.maxJumpMs;
    const futureBound = t - this.maxFutureJumpMs;
    let below = 0;
    let belowFuture = 0;
    for (let i = 0; i < n; i++) {
      const r = ring[i] as number;
      if (r < bound) below++;
      if (r < futureBound) belowFuture++;
    }
    const half = (n - 1) >> 1;
    let problem: string | undefined;
    if (n > 0 && below > half) {
      problem = `timestamp ${iso(t)} is more than maxTimeJump ${formatDuration(this.maxJumpMs)} ahead of its input (the median of its last ${n} records: ${iso(lowerMedian(ring))})`;
    } else if (n > 0 && belowFuture > half && this.clock !== undefined) {
      const now = this.clock.now();
      if (t - now > this.maxFutureJumpMs) {
        const jump = formatDuration(this.maxFutureJumpMs);
        problem = `timestamp ${iso(t)} is more than maxFutureJump ${jump} after processing time (${iso(now)}) and more than ${jump} ahead of its input (the median of its last ${n} records: ${iso(lowerMedian(ring))})`;
      }
    }
    add(recent, t);
    return problem;
  }

  /** The recent times per partition, oldest first. */
  snapshot(): TimeJumpSnapshot {
    return [...this.partitions].map(([p, r]) => [p, [...r.ring.slice(r.next), ...r.ring.slice(0, r.next)]]);
  }

  /** Replaces the recent times with a snapshot's (a resumed run, a restored task). */
  restore(snapshot: TimeJumpSnapshot | undefined): void {
    this.partitions.clear();
    for (const [p, times] of snapshot ?? []) {
      const recent: Recent = { ring: [], next: 0 };
      for (const t of times.slice(-TIME_JUMP_WINDOW)) add(recent, t);
      this.partitions.set(p, recent);
    }
  }
}

/** Adds `t` as the latest time, in place of the oldest once there are {@link TIME_JUMP_WINDOW}. */
function add(recent: Recent, t: number): void {
  if (recent.ring.length < TIME_JUMP_WINDOW) recent.ring.push(t);
  else {
    recent.ring[recent.next] = t;
    recent.next = (recent.next + 1) % TIME_JUMP_WINDOW;
  }
}

/** The lower median of `times` (not empty). */
function lowerMedian(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1] as number;
}
