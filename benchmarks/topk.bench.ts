/**
 * Throughput of `topK` against `countDistinct` on the same input: one key whose events carry a
 * product id drawn from a Zipf-like distribution over 6,000 ids (about 5–6k distinct in a run),
 * through `windowAggregate` alone in a `Task` with LMDB state (benchmarks/embedded/task-alone.ts:
 * checkpoint every 10k events, outputs counted only):
 *
 *   npm run build && node dist/benchmarks/topk.bench.js [--events 30000] [--cases topK,countDistinct] [--windows tumbling,sliding 5m]
 *
 * Cases: a tumbling 30d window (one window for the whole run) with `emit: final`, the same with
 * `annotate` (every event reads the current top k), a sliding 1h window with `annotate` (10
 * events a second: nothing leaves the window in 60k events) and a sliding 5m window, `emit:
 * final` (3,000 events and ~1,500 distinct ids in a window: entries leave at every record;
 * sliding windows keep exact counts, so every capacity takes the same path there). `topK
 * capacity 8000` keeps every id of the run: exact in tumbling windows too.
 * Prints events/s and CPU µs per event per case (one run each, in this process; not asserted
 * anywhere). `countDistinct` over the same events in the same run is the baseline.
 */
import type { TributaryEvent } from '../lib/event/event.js';
import { Random } from '../lib/generate/random.js';
import { runTaskAlone } from './embedded/task-alone.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const events = Number(option('events') ?? 30_000);
const filter = (option('cases') ?? '').split(',').filter(Boolean);
const windowFilter = (option('windows') ?? '').split(',').filter(Boolean);

const IDS = 6000;
/** Zipf(1) over IDS ids: cumulative weights 1/r. */
const cumulative: number[] = [];
for (let r = 1, sum = 0; r <= IDS; r++) cumulative.push((sum += 1 / r));
function zipf(u: number): number {
  const x = u * (cumulative[IDS - 1] as number);
  let lo = 0;
  let hi = IDS - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cumulative[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const random = new Random(7);
const rand = () => random.next();
const input: TributaryEvent[] = [];
for (let i = 0; i < events; i++) {
  input.push({ messageId: `m${i}`, type: 'track', event: 'product_viewed', userId: 'u1', anonymousId: null, timestamp: 1_767_225_600_000 + i * 100, properties: { productId: `p${zipf(rand())}` } });
}
const distinct = new Set(input.map((e) => (e.properties as { productId: string }).productId)).size;

const AGG: Record<string, string> = {
  topK: '{ top: { topK: { path: properties.productId, k: 5 } } }',
  'topK capacity 100': '{ top: { topK: { path: properties.productId, k: 5, capacity: 100 } } }',
  'topK capacity 8000': '{ top: { topK: { path: properties.productId, k: 5, capacity: 8000 } } }',
  countDistinct: '{ d: { countDistinct: properties.productId } }',
};
const WINDOWS: Record<string, string> = {
  'tumbling 30d, final': 'window: { tumbling: 30d }',
  'tumbling 30d, annotate': 'window: { tumbling: 30d }, annotate: features',
  'sliding 1h, annotate': 'window: { sliding: 1h }, annotate: features',
  'sliding 5m, final': 'window: { sliding: 5m }',
};

console.log(`${events} events, one key, ${distinct} distinct product ids (Zipf over ${IDS})`);
for (const [agg, aggregates] of Object.entries(AGG)) {
  if (filter.length > 0 && !filter.includes(agg)) continue;
  for (const [window, options] of Object.entries(WINDOWS)) {
    if (windowFilter.length > 0 && !windowFilter.some((w) => window.startsWith(w))) continue;
    const yaml = `name: bench-topk\nsource: { key: userId, allowedLateness: 1m }\nsteps:\n  - windowAggregate: { key: userId, ${options}, aggregates: ${aggregates}, output: aggregates }\n`;
    const m = await runTaskAlone(yaml, input);
    console.log(`${agg.padEnd(18)} ${window.padEnd(24)} ${Math.round(m.events / m.seconds).toLocaleString('en-US').padStart(9)} events/s ${(m.cpu / m.events).toFixed(1).padStart(8)} CPU µs/event`);
  }
}
