/**
 * One run of the operations benchmark, in its own process: the cart-abandonment pipeline
 * embedded over the input file, with the operations server (`server: true`, port printed as
 * `PORT <n>` on stdout before the work starts) or without. Prints one JSON line at the end:
 * events, seconds, cpu (user + system µs around the run).
 *
 *   node dist/benchmarks/ops/child.js '{"input":"events.ndjson","server":true}'
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import * as ops from '../../operators/index.js';

const job = JSON.parse(process.argv[2] as string) as { input: string; server: boolean };
const yaml = readFileSync(new URL('../../../examples/cart-abandonment/pipeline.yaml', import.meta.url), 'utf8');
const topology = compilePipeline(parsePipeline(yaml, 'cart-abandonment', ops.defaultRegistry), ops.defaultRegistry);
const outDir = mkdtempSync(join(tmpdir(), 'tributary-bench-ops-'));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const summary = await runEmbedded({
  topology, input: job.input, outDir,
  ...(job.server ? { metricsPort: 0, onMetricsServer: (port: number) => console.log(`PORT ${port}`) } : {}),
});
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
rmSync(outDir, { recursive: true, force: true });
console.log(JSON.stringify({ events: summary.records, seconds, cpu: cpu.user + cpu.system }));
