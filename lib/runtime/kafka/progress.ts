/**
 * Progress of a Kafka run, as the CLI prints it on stderr every few seconds: source records and
 * their rate since the last line, the share of that time spent processing, the consumer lag
 * (total and the tasks that lag most) and the source tasks' lowest watermark. The line is made
 * by a pure function from two snapshots; the runner takes the snapshots.
 */

/** What the runner knows at one moment. */
export interface ProgressSnapshot {
  /** performance.now() */
  at: number;
  records: number;
  /** Milliseconds spent processing batches so far. */
  busyMs: number;
  /** Records behind the high watermark, per task id (source and repartition tasks). */
  lag: Map<string, number>;
  /** The lowest watermark of the source tasks (ms), undefined before the first event. */
  watermark: number | undefined;
}

/**
 * One progress line from the previous snapshot to this one.
 *
 * @example
 * ```ts
 * progressLine(
 *   { at: 0, records: 0, busyMs: 0, lag: new Map(), watermark: undefined },
 *   { at: 5000, records: 50_000, busyMs: 4000, lag: new Map([['0_0', 120], ['0_1', 0]]), watermark: Date.UTC(2026, 0, 1) },
 * );
 * // '… 50000 source records, 10000 events/s (busy 80%), lag 120 (0_0 120), watermark 2026-01-01T00:00:00.000Z'
 * ```
 */
export function progressLine(before: ProgressSnapshot, now: ProgressSnapshot): string {
  const seconds = Math.max((now.at - before.at) / 1000, 1e-9);
  const rate = Math.round((now.records - before.records) / seconds);
  const busy = Math.min(100, Math.round((100 * (now.busyMs - before.busyMs)) / (now.at - before.at || 1)));
  const lagging = [...now.lag].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const total = lagging.reduce((a, [, n]) => a + n, 0);
  const top = lagging.slice(0, 3).map(([task, n]) => `${task} ${n}`).join(', ');
  const wm = now.watermark === undefined || !Number.isFinite(now.watermark) ? 'none yet' : new Date(now.watermark).toISOString();
  return `… ${now.records} source records, ${rate} events/s (busy ${busy}%), lag ${total}${top ? ` (${top}${lagging.length > 3 ? ', …' : ''})` : ''}, watermark ${wm}`;
}
