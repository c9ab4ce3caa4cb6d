import type { Clock } from './clock.js';
import type { TimeJumpSnapshot } from './time-jump.js';

/** Options of a {@link WatermarkTracker}. */
export interface WatermarkOptions {
  /** Bounded out-of-orderness in ms: watermark = highest event time seen − allowedLateness. Default 0. */
  allowedLateness?: number;
  /** Processing-time ms after which a silent partition stops holding the watermark back. Default: never. */
  idleTimeout?: number;
  clock: Clock;
}

interface PartitionState {
  maxEventTime: number;
  lastSeen: number;
  ended: boolean;
}

/** What a tracker persists in a checkpoint, so a resumed run classifies lateness as before. */
export interface WatermarkSnapshot {
  partitions: Array<[string, number, boolean]>;
  floor: number;
  emitted: number;
  /** Recent event times per source partition, for `source.maxTimeJump` (absent in earlier checkpoints). */
  recent?: TimeJumpSnapshot;
}

/**
 * Event-time watermarks. Per input partition the watermark is the highest event
 * time seen minus `allowedLateness`; the tracker's watermark is the minimum over partitions
 * that are neither idle nor ended, and never moves backwards. An ended (bounded) partition
 * counts as +∞; when every partition has ended the watermark is +∞. When every partition is
 * idle, the watermark advances with processing time from the last event on (traffic stopped:
 * sessions and absence timers must still close).
 *
 * @example
 * ```ts
 * const wm = new WatermarkTracker({ allowedLateness: 60_000, clock: new ManualClock() });
 * wm.observe('p0', 1_000_000);
 * wm.current();            // 940000
 * wm.isLate(900_000);      // true: goes to the late output
 * wm.end('p0');
 * wm.current();            // Infinity
 * ```
 */
export class WatermarkTracker {
  private readonly lateness: number;
  private readonly idleTimeout: number;
  private readonly clock: Clock;
  private readonly partitions = new Map<string, PartitionState>();
  private floor = -Infinity;
  private emitted = -Infinity;

  constructor(options: WatermarkOptions) {
    this.lateness = options.allowedLateness ?? 0;
    this.idleTimeout = options.idleTimeout ?? Infinity;
    this.clock = options.clock;
  }

  /** Registers a partition before its first event, so it holds the watermark back from the start. */
  addPartition(partition: string): void {
    if (!this.partitions.has(partition)) {
      this.partitions.set(partition, { maxEventTime: -Infinity, lastSeen: this.clock.now(), ended: false });
    }
  }

  /** Records an event's time on its partition (`now`: processing time, read by the caller once per event). Call after {@link isLate}. */
  observe(partition: string, eventTime: number, now = this.clock.now()): void {
    let p = this.partitions.get(partition);
    if (!p) {
      p = { maxEventTime: -Infinity, lastSeen: 0, ended: false };
      this.partitions.set(partition, p);
    }
    if (eventTime > p.maxEventTime) p.maxEventTime = eventTime;
    p.lastSeen = now;
    p.ended = false;
  }

  /** Whether an event at `eventTime` is older than the current watermark. */
  isLate(eventTime: number): boolean {
    return eventTime < this.current();
  }

  /** Marks a bounded partition as finished: it no longer holds the watermark back. */
  end(partition: string): void {
    const p = this.partitions.get(partition);
    if (p) p.ended = true;
    else this.partitions.set(partition, { maxEventTime: Infinity, lastSeen: this.clock.now(), ended: true });
  }

  /** Forces the watermark to at least `time` (the test driver's "advance the watermark"). */
  advanceTo(time: number): void {
    if (time > this.floor) this.floor = time;
  }

  /** The current watermark, monotonic (`now`: processing time, for idle partitions). */
  current(now = this.clock.now()): number {
    let min = Infinity;
    let active = 0;
    for (const p of this.partitions.values()) {
      if (p.ended) continue;
      if (now - p.lastSeen >= this.idleTimeout) continue;
      active++;
      const wm = p.maxEventTime - this.lateness;
      if (wm < min) min = wm;
    }
    if (active === 0 && this.partitions.size > 0) {
      const allEnded = [...this.partitions.values()].every((p) => p.ended);
      // Everything ended → +∞. Everything idle → traffic has stopped: assume event time flows
      // with processing time from the last event on, so sessions and absence timers still
      // close. Live sources see event time ≈ processing time, so this is the
      // watermark they would have reached; a replay of old data advances by the idle time only.
      min = allEnded ? Infinity : this.highestPartitionWatermark() + (now - this.lastActivity());
    } else if (active === 0) {
      min = -Infinity;
    }
    const wm = Math.max(min, this.floor);
    if (wm > this.emitted) this.emitted = wm;
    return this.emitted;
  }

  private lastActivity(): number {
    let last = -Infinity;
    for (const p of this.partitions.values()) if (!p.ended && p.lastSeen > last) last = p.lastSeen;
    return last;
  }

  private highestPartitionWatermark(): number {
    let max = -Infinity;
    for (const p of this.partitions.values()) if (!p.ended) max = Math.max(max, p.maxEventTime - this.lateness);
    return max;
  }

  snapshot(): WatermarkSnapshot {
    return {
      partitions: [...this.partitions].map(([id, p]) => [id, p.maxEventTime, p.ended]),
      floor: this.floor,
      emitted: this.emitted,
    };
  }

  restore(snapshot: WatermarkSnapshot): void {
    this.partitions.clear();
    const now = this.clock.now();
    for (const [id, max, ended] of snapshot.partitions) this.partitions.set(id, { maxEventTime: max, lastSeen: now, ended });
    this.floor = snapshot.floor;
    this.emitted = snapshot.emitted;
  }
}
