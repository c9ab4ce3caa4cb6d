/**
 * Synthetic behavioral event streams (`tributary generate`): deterministic from a seed, with
 * duplicates, out-of-order and late arrivals, and ground-truth statistics.
 *
 * @example
 * ```ts
 * import { generateWithStats, writeEventsNdjson } from './lib/generate/index.js';
 *
 * const { events, stats } = generateWithStats({ events: 1_000_000, seed: 42 });
 * await writeEventsNdjson(events, process.stdout);
 * console.error(stats.duplicates, stats.late, stats.customers);
 * ```
 */
export { generateEvents, generateWithStats, DEFAULT_START } from './generator.js';
export type { GenerateOptions, GenerateStats } from './generator.js';
export { writeEventsNdjson } from './ndjson.js';
export type { WriteNdjsonOptions } from './ndjson.js';
export { Random, WeightedTable, hash32 } from './random.js';
