/**
 * One Tributary Kafka runner in a process of its own (so its CPU and peak RSS are its own),
 * started by `startRunner` (`runner.ts`):
 *
 *   node dist/benchmarks/kafka/runner-child.js <pipeline file> <state dir> <bounded 0|1> [--hold]
 *
 * Prints `READY` at the runner's onReady and `RESULT <json>` (a `ChildResult`) when runKafka has
 * returned or SIGTERM stopped it; with `--hold` it then waits for its stdin to close.
 */
import { once } from 'node:events';
import { Registry } from 'prom-client';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import { createKafkaJsAdapter } from '../../lib/runtime/kafka/client.js';
import { runKafka } from '../../lib/runtime/kafka/runner.js';
import { defaultRegistry } from '../../operators/index.js';
import { brokers } from './common.js';
import type { ChildResult } from './runner.js';

const [file, stateDir, bounded, hold] = process.argv.slice(2);
if (!file || !stateDir) throw new Error('usage: runner-child.js <pipeline file> <state dir> <bounded 0|1> [--hold]');

const registry = new Registry();
let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const topology = compilePipeline(loadPipelineFile(file, defaultRegistry), defaultRegistry);
const adapter = createKafkaJsAdapter({ brokers: brokers(), clientId: `bench-${process.pid}`, logLevel: 'nothing' });
const abort = new AbortController();
process.once('SIGTERM', () => abort.abort());
const logs: string[] = [];
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let ready = 0;
let peakAtReady = 0;
const commitInterval = process.env.BENCH_COMMIT_INTERVAL_MS;
const summary = await runKafka({
  // final: the benchmarks compare a bounded run's outputs with every session and window closed at the end.
  topology, adapter, stateDir, bounded: bounded === '1', final: true, signal: abort.signal, registry,
  ...(commitInterval ? { commitIntervalMs: Number(commitInterval) } : {}),
  log: (l) => {
    logs.push(l);
    if (/restor|ready/.test(l)) process.stderr.write(`    [runner] ${l}\n`);
  },
  onReady: () => {
    ready = performance.now();
    peakAtReady = Math.max(peak, process.memoryUsage().rss);
    process.stdout.write('READY\n');
  },
});
const end = performance.now();
const cpu = process.cpuUsage(cpu0);
clearInterval(sample);
// Time inside the runner's commits (send outputs + changelogs, LMDB flush, offset commit).
const hist = (await registry.getSingleMetric('tributary_commit_latency_seconds')?.get())?.values ?? [];
const commitSeconds = hist.filter((v) => String((v as { metricName?: string }).metricName).endsWith('_sum')).reduce((a, v) => a + v.value, 0);
const result: ChildResult = {
  summary, commitSeconds, cpuUs: cpu.user + cpu.system, peakAtReady, wallMs: end - t0, readyMs: ready - t0, afterReadyMs: end - ready,
  peakRss: Math.max(peak, process.memoryUsage().rss), heap: process.memoryUsage().heapUsed, logs: logs.filter((l) => /restor/.test(l)),
};
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
if (hold === '--hold') {
  process.stdin.resume();
  await once(process.stdin, 'end');
}
