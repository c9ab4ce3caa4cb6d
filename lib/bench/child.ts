/**
 * One pipeline case of `tributary bench`, run in a process of its own so that its CPU time and
 * peak RSS are its own. The entry is `bin/bench-child.ts` (lib never imports the operators: the
 * registry is handed in there), started by `lib/cli/bench.ts` as
 *
 *   node dist/bin/bench-child.js '<job JSON>'
 *
 * with the job `{ pipeline, file, input, brokers?, ioFloor? }` (the definition's text, its name for
 * messages, the generated NDJSON file; with brokers, the Kafka runner over the definition's source
 * topic; with ioFloor, the pipeline's input-and-output floor, `floor.ts`).
 * Runs the embedded runner (LMDB state in a fresh temporary directory, files out, a checkpoint
 * every 10 000 records) or the Kafka runner (bounded, final) and prints one JSON line: events (input records),
 * seconds, cpu (user + system µs, `process.cpuUsage()` around the run only: compiling the
 * pipeline excluded), peakRss (bytes, `process.resourceUsage().maxRSS`, setup included), heap,
 * counts per output stream, and latency: p50/p99 seconds of the per-record processing time,
 * interpolated in the buckets of the run's `tributary_processing_latency_seconds` histogram
 * (every 64th record, the steps only: no decode, no output write).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { OperatorRegistry } from '../operator/contract.js';
import { compilePipeline } from '../pipeline/compile.js';
import { parsePipeline } from '../pipeline/load.js';
import { runEmbedded } from '../runtime/embedded.js';
import { pipelineFloor } from './floor.js';
import { benchSecurity } from './kafka.js';
import { createKafkaJsAdapter } from '../runtime/kafka/client.js';
import { runKafka } from '../runtime/kafka/runner.js';

export interface BenchChildJob {
  /** The pipeline definition's text. */
  pipeline: string;
  /** Its file name, for messages. */
  file: string;
  /** The generated NDJSON input (embedded runs). */
  input: string;
  /** Against Kafka: the brokers; the definition names its source topic (filled already) and its own application id. */
  brokers?: string[];
  /** The pipeline's input-and-output floor instead of the pipeline (`floor.ts`; embedded only). */
  ioFloor?: boolean;
}

/** p50/p99 of a run, in seconds, and how they were obtained. */
export interface Latency {
  p50: number;
  p99: number;
  method: 'histogram' | 'samples';
}

/** One run of one case, as the child (or a baseline script) prints it. */
export interface BenchRunResult {
  events: number;
  seconds: number;
  /** User + system CPU µs. */
  cpu: number;
  peakRss: number;
  heap: number;
  counts?: Record<string, number>;
  latency?: Latency;
}

/**
 * The q-quantile of a cumulative histogram, linear within the bucket it falls in (Prometheus's
 * histogram_quantile): `buckets` are [upper bound, cumulative count] in increasing order, +Inf last.
 */
export function histogramQuantile(q: number, buckets: ReadonlyArray<readonly [number, number]>): number {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of buckets) {
    if (cumulative >= rank) {
      // Beyond the last finite bound there is nothing to interpolate towards: the bound itself.
      if (!Number.isFinite(le)) return lower;
      const inBucket = cumulative - below;
      return inBucket === 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket;
    }
    lower = le;
    below = cumulative;
  }
  return lower;
}

/** p50/p99 of the run's `tributary_processing_latency_seconds` histogram (all label sets summed). */
export async function processingLatency(registry: Registry): Promise<Latency> {
  const metric = registry.getSingleMetric('tributary_processing_latency_seconds');
  const byBound = new Map<number, number>();
  if (metric) {
    for (const v of (await metric.get()).values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
      if (!v.metricName?.endsWith('_bucket')) continue;
      const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
      byBound.set(le, (byBound.get(le) ?? 0) + v.value);
    }
  }
  const buckets = [...byBound].sort((a, b) => a[0] - b[0]);
  return { p50: histogramQuantile(0.5, buckets), p99: histogramQuantile(0.99, buckets), method: 'histogram' };
}

/** Runs the job with `registry`'s operators and returns what the JSON line reports. */
export async function runBenchJob(job: BenchChildJob, operators: OperatorRegistry): Promise<BenchRunResult> {
  if (job.ioFloor) return pipelineFloor(job.pipeline, job.file, job.input, operators);
  const topology = compilePipeline(parsePipeline(job.pipeline, job.file, operators), operators);
  const outDir = mkdtempSync(join(tmpdir(), 'tributary-bench-run-'));
  try {
    const registry = new Registry();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // Against Kafka: a bounded, final run from offset 0 of the source with empty state (the
    // definition's application id is the run's own), at-least-once or as the definition says.
    const summary = job.brokers
      ? await runKafka({ topology, adapter: createKafkaJsAdapter({ brokers: job.brokers, security: benchSecurity(), clientId: `bench-${process.pid}`, logLevel: 'nothing' }), stateDir: outDir, bounded: true, final: true, registry })
      : await runEmbedded({ topology, input: job.input, format: 'json', outDir, registry });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      events: summary.records,
      seconds,
      cpu: cpu.user + cpu.system,
      peakRss: process.resourceUsage().maxRSS * 1024,
      heap: process.memoryUsage().heapUsed,
      counts: summary.streams,
      latency: await processingLatency(registry),
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** The child's main: the job from argv[2], one JSON line on stdout. */
export async function benchChildMain(operators: OperatorRegistry): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as BenchChildJob;
  console.log(JSON.stringify(await runBenchJob(job, operators)));
}
