/**
 * Processing time, injected. Operator code never reads the wall clock: event time drives
 * every window, session, TTL and trigger; processing time only detects idle partitions and
 * feeds metrics. Tests use {@link ManualClock}.
 */
export interface Clock {
  /** Processing time, epoch milliseconds. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that only moves when told to.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * clock.advance(30_000);
 * clock.now(); // 30000
 * ```
 */
export class ManualClock implements Clock {
  constructor(private time = 0) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
  set(time: number): void {
    this.time = time;
  }
}
