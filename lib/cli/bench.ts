/**
 * `tributary bench [<pipeline>] --events N [--repeat R] [--seed S] [--json <file>]`: the embedded
 * benchmark of a pipeline (default: the bundled cart-abandonment example) over generated events,
 * beside the runner floor (the same source, no steps), the pipeline's input-and-output floor (its
 * input parsed and its outputs written with their record ids, no steps, no state:
 * `lib/bench/floor.ts`) and the two hand-written dedupe baselines (`lib/bench/baselines/`), all
 * over one generated NDJSON file in the same invocation.
 *
 * Every run is a process of its own (pipeline cases: `bin/bench-child.ts` → `lib/bench/child.ts`;
 * baselines: their scripts), so CPU (`process.cpuUsage()` around the work) and peak RSS
 * (`process.resourceUsage().maxRSS`) are its own. The cases run interleaved `--repeat` times (all
 * once, then all again…); the table gives medians with min–max, as `benchmarks/embedded.bench.ts`.
 * Latency p50/p99: pipeline cases interpolate in the buckets of the run's
 * `tributary_processing_latency_seconds` histogram (every 64th record, the steps only); the
 * baselines time every 64th record themselves (parse, dedupe, write), exact.
 *
 * With `--brokers`, the same cases run against Kafka instead (`lib/bench/kafka.ts`): the generated
 * events are produced once into a source topic of the invocation's own (keyed as `tributary
 * produce` keys them), every run is a bounded, final Kafka run with its own application id (so
 * from offset 0, empty state, its own output and internal topics), and the baseline is a
 * hand-written kafkajs dedupe (consume, `Map` per partition, one send per batch, commit); every
 * topic the invocation made is deleted at the end. The fuller Kafka benchmark (latency under a
 * produce rate, restore times, Kafka Streams beside it) is `npm run bench:kafka` in the repository.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { InvalidArgumentError, type Command } from 'commander';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { BenchChildJob, BenchRunResult } from '../bench/child.js';
import { BENCH_SECURITY_ENV, benchRunId, deleteRunTopics, fillSourceTopic, kafkaRunDefinition } from '../bench/kafka.js';
import { generateEvents, writeEventsNdjson } from '../generate/index.js';
import type { OperatorRegistry } from '../operator/contract.js';
import { compilePipeline } from '../pipeline/compile.js';
import { DefinitionError } from '../pipeline/errors.js';
import { parsePipeline } from '../pipeline/load.js';
import type { SecurityFlags } from './kafka-connection.js';
import { connectionOf, runTool, toolAdapter, withAdmin, type KafkaConnection, type ToolContext } from './kafka-tools.js';
import type { CliIo } from './program.js';

const run = promisify(execFile);

/** The bundled example benchmarked without `<pipeline>` (examples/ ships in the package). */
export const DEFAULT_BENCH_PIPELINE = fileURLToPath(new URL('../../../examples/cart-abandonment/pipeline.yaml', import.meta.url));
const CHILD = fileURLToPath(new URL('../../bin/bench-child.js', import.meta.url));
const BASELINE = (name: string) => fileURLToPath(new URL(`../bench/baselines/${name}.js`, import.meta.url));

interface BenchOptions extends SecurityFlags {
  events: number;
  repeat: number;
  seed: number;
  json?: string;
  brokers?: string;
  partitions: number;
}

/** Where a run reads from: the generated file (embedded), or the invocation's source topic. */
type Target = { kind: 'file'; input: string } | { kind: 'kafka'; connection: KafkaConnection; topic: string; runId: string };

type CaseKind = 'pipeline' | 'floor' | 'io' | 'baseline';
interface BenchCase {
  name: string;
  kind: CaseKind;
  /** Pipeline, floor and io cases: the definition's text; baselines: the script's name. */
  what: string;
}

/** The definition's text with no steps (and no step outputs): the runner floor over the same source. */
export function floorPipeline(text: string): string {
  const def = parseYaml(text) as Record<string, unknown>;
  const { outputs: _outputs, ...rest } = def;
  return stringifyYaml({ ...rest, name: `${String(def.name)}-floor`, steps: [] });
}

const positive = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1, got "${v}"`);
  return Number(v);
};
const whole = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`${name} must be a whole number, got "${v}"`);
  return Number(v);
};

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

interface Stat {
  median: number;
  min: number;
  max: number;
}
const stat = (xs: readonly number[]): Stat => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

/** Per case: the figures of every run and their medians (what `--json` writes). */
export interface CaseReport {
  name: string;
  kind: CaseKind;
  /** Input records of the case (the generated count). */
  events: number;
  eventsPerSecond: Stat;
  cpuMicrosPerEvent: Stat;
  latencyP50Micros: Stat;
  latencyP99Micros: Stat;
  latencyMethod: string;
  peakRssBytes: Stat;
  counts: Record<string, number> | undefined;
  runs: BenchRunResult[];
}

function report(c: BenchCase, runs: BenchRunResult[]): CaseReport {
  return {
    name: c.name,
    kind: c.kind,
    events: median(runs.map((r) => r.events)),
    eventsPerSecond: stat(runs.map((r) => r.events / r.seconds)),
    cpuMicrosPerEvent: stat(runs.map((r) => r.cpu / r.events)),
    latencyP50Micros: stat(runs.map((r) => (r.latency?.p50 ?? NaN) * 1e6)),
    latencyP99Micros: stat(runs.map((r) => (r.latency?.p99 ?? NaN) * 1e6)),
    latencyMethod: c.kind === 'io' ? 'none: no step runs' : runs[0]?.latency?.method === 'samples' ? 'exact, every 64th record timed by the script' : 'interpolated in the processing-latency histogram buckets (every 64th record)',
    peakRssBytes: stat(runs.map((r) => r.peakRss)),
    counts: runs[0]?.counts,
    runs,
  };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number) => n.toFixed(1);
const mb = (n: number) => (n / 2 ** 20).toFixed(0);
const range = (s: Stat, fmt: (n: number) => string, runs: number) => (runs > 1 ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : fmt(s.median));

/** The table: one row per case, medians (min–max over the runs). */
export function benchTable(reports: readonly CaseReport[]): string {
  const lines = [
    '| case | events | events/s (median, min–max) | CPU µs/event | latency p50 µs | latency p99 µs | peak RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of reports) {
    const n = r.runs.length;
    // The io case runs no step: it has no processing latency.
    const lat = (s: Stat) => (r.kind === 'io' ? '–' : r.kind === 'baseline' ? range(s, fixed, n) : `~${range(s, fixed, n)}`);
    lines.push(`| ${r.name} | ${int(r.events)} | ${range(r.eventsPerSecond, int, n)} | ${range(r.cpuMicrosPerEvent, fixed, n)} | ${lat(r.latencyP50Micros)} | ${lat(r.latencyP99Micros)} | ${range(r.peakRssBytes, mb, n)} |`);
  }
  return lines.join('\n');
}

/** Runs one case in a new process and parses the JSON line it prints last (`runId`: the run's own topics and group). */
async function runCase(c: BenchCase, file: string, target: Target, dir: string, runId: string): Promise<BenchRunResult> {
  let argv: string[];
  const out = join(dir, `out-${runId}`);
  if (target.kind === 'kafka') {
    const job: BenchChildJob = { pipeline: kafkaRunDefinition(c.what, target.topic, runId), file, input: '', brokers: target.connection.brokers };
    argv = c.kind === 'baseline' ? [BASELINE('dedupe-kafka'), target.connection.brokers.join(','), target.topic, runId] : [CHILD, JSON.stringify(job)];
  } else if (c.kind === 'baseline') argv = [BASELINE(c.what), target.input, out];
  else {
    const job: BenchChildJob = { pipeline: c.what, file, input: target.input, ...(c.kind === 'io' ? { ioFloor: true } : {}) };
    argv = [CHILD, JSON.stringify(job)];
  }
  try {
    // TLS/SASL settings (keys, passwords) reach a child in its environment, never in its arguments.
    const env = target.kind === 'kafka' && target.connection.security ? { ...process.env, [BENCH_SECURITY_ENV]: JSON.stringify(target.connection.security) } : process.env;
    const { stdout } = await run(process.execPath, argv, { encoding: 'utf8', maxBuffer: 1 << 26, env });
    return JSON.parse(stdout.trim().split('\n').at(-1) as string) as BenchRunResult;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`bench case "${c.name}" failed: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export function registerBench(program: Command, io: CliIo, ctx: ToolContext, operators: OperatorRegistry): void {
  program
    .command('bench')
    .summary('embedded benchmark of a pipeline beside the runner floor, its input-and-output floor and two hand-written dedupe baselines, same input, same invocation')
    .description(
      'embedded benchmark of a pipeline over generated events, beside the runner floor (same source, no steps), its input and ' +
        'outputs alone (the input parsed, its outputs written with their record ids, no steps, no state) and two ' +
        'hand-written dedupe baselines (Map, lmdb-js) on the same input in the same invocation: events/s, CPU µs/event, ' +
        'processing latency p50/p99, peak RSS per case; each run a process of its own, cases interleaved over --repeat rounds, ' +
        'medians (min–max). Latency: pipeline rows (~) are interpolated in the buckets of the tributary_processing_latency_seconds ' +
        'histogram (every 64th record, the steps only), baseline rows time every 64th record themselves (exact). ' +
        'With --brokers the same through Kafka: the events produced once into a topic of the invocation\'s own, every run bounded with ' +
        'its own application id (from offset 0, empty state), a hand-written kafkajs dedupe as the baseline, every topic deleted at the end',
    )
    .argument('[pipeline]', 'pipeline definition (default: the bundled examples/cart-abandonment/pipeline.yaml)')
    .requiredOption('--events <n>', 'generated events (≥ 1)', positive('--events'))
    .option('--repeat <n>', 'rounds; every case runs once per round', positive('--repeat'), 3)
    .option('--seed <n>', 'generator seed', whole('--seed'), 1)
    .option('--json <file>', 'also write the table (and every run) as JSON to this file')
    .option('-b, --brokers <host:port,...>', 'benchmark through Kafka at these brokers instead of embedded (\'\' for the default: KAFKA_BROKERS, then 127.0.0.1:9092)')
    .option('--partitions <n>', 'with --brokers: partitions of the source topic', positive('--partitions'), 3)
    .addHelpText('after', '\nExample:\n  tributary bench --events 200000 --json bench.json\n  tributary bench examples/rees46-dedupe/pipeline.yaml --events 100000 --repeat 5\n  tributary bench --events 50000 --brokers 127.0.0.1:9092\n')
    .action(async (pipelineArg: string | undefined, opts: BenchOptions) => {
      const file = pipelineArg ?? DEFAULT_BENCH_PIPELINE;
      // Read once: a definition from a pipe (`/dev/stdin`, `<(…)`) gives its bytes only once.
      const text = readFileSync(file, 'utf8');
      ctx.load(file, text); // prints the issues and exits 2 when invalid
      const floor = floorPipeline(text);
      try {
        compilePipeline(parsePipeline(floor, `${file} (no steps)`, operators), operators);
      } catch (e) {
        if (!(e instanceof DefinitionError)) throw e;
        io.stderr(`${e.message}\n${file}: its source alone (the runner floor) is not a valid pipeline; nothing was run\n`);
        throw ctx.exit(2);
      }
      const shown = pipelineArg ?? 'examples/cart-abandonment/pipeline.yaml (bundled)';
      const kafka = opts.brokers !== undefined;
      const securityFlag = Object.entries(opts).find(([k, v]) => /^(tls|sasl)/.test(k) && v !== undefined)?.[0];
      if (!kafka && securityFlag) {
        io.stderr(`error: --${securityFlag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for a benchmark through Kafka: add --brokers\n`);
        throw ctx.exit(2);
      }
      const cases: BenchCase[] = kafka
        ? [
            { name: `pipeline ${shown}: Kafka runner, bounded, LMDB state, topics out`, kind: 'pipeline', what: text },
            { name: 'runner floor: the same source, no steps, through Kafka', kind: 'floor', what: floor },
            { name: 'hand-written dedupe, for scale: kafkajs, Map state', kind: 'baseline', what: 'dedupe-kafka' },
          ]
        : [
            { name: `pipeline ${shown}: embedded runner, LMDB state, files out`, kind: 'pipeline', what: text },
            { name: 'runner floor: the same source, no steps', kind: 'floor', what: floor },
            { name: 'its input and outputs alone: the input parsed, the pipeline\'s outputs written with their record ids; no steps, no state', kind: 'io', what: text },
            { name: 'hand-written dedupe, for scale: Map state', kind: 'baseline', what: 'dedupe-map' },
            { name: 'hand-written dedupe, for scale: lmdb-js state', kind: 'baseline', what: 'dedupe-lmdb' },
          ];
      const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
      const runs = new Map<BenchCase, BenchRunResult[]>(cases.map((c) => [c, []]));
      const rounds = async (target: Target) => {
        for (let round = 1; round <= opts.repeat; round++) {
          for (const [i, c] of cases.entries()) {
            const r = await runCase(c, file, target, dir, target.kind === 'kafka' ? `${target.runId}-r${round}c${i}` : `r${round}c${i}`);
            (runs.get(c) as BenchRunResult[]).push(r);
            io.stderr(`[${round}/${opts.repeat}] ${c.name}: ${int(r.events / r.seconds)} events/s, ${fixed(r.cpu / r.events)} CPU µs/event\n`);
          }
        }
      };
      try {
        if (kafka) {
          const topology = ctx.load(file, text);
          const connection = connectionOf(io, ctx, { ...opts, brokers: opts.brokers || undefined }, topology, file);
          const adapter = toolAdapter(connection, 'tributary-bench');
          const runId = benchRunId();
          const topic = `${runId}-source`;
          await runTool(io, ctx, connection, async () => {
            try {
              await withAdmin(adapter, (admin) => admin.createTopics([{ name: topic, partitions: opts.partitions }]));
              const key = topology.source.key ?? [];
              const sent = await fillSourceTopic(adapter, topic, opts.partitions, generateEvents({ events: opts.events, seed: opts.seed }), key);
              io.stderr(`produced ${int(sent)} generated events to ${topic} (${opts.partitions} partitions, keyed by ${key.join('|')})\n`);
              await rounds({ kind: 'kafka', connection, topic, runId });
            } finally {
              const deleted = await deleteRunTopics(adapter, runId).catch(() => []);
              io.stderr(`deleted the ${deleted.length} topics of this benchmark (${runId}-*)\n`);
            }
          });
        } else {
          const input = join(dir, 'events.ndjson');
          await writeEventsNdjson(generateEvents({ events: opts.events, seed: opts.seed }), createWriteStream(input), { end: true });
          await rounds({ kind: 'file', input });
        }
        const reports = cases.map((c) => report(c, runs.get(c) as BenchRunResult[]));
        const dead = reports[0]?.counts?.['dead-letter'] ?? 0;
        if (dead * 2 > opts.events) io.stderr(`warning: ${int(dead)} of ${int(opts.events)} generated events were dead letters in the pipeline case: its source does not fit the generated events, so the figures measure little\n`);
        const command = ['tributary', 'bench', ...(pipelineArg ? [pipelineArg] : []), '--events', String(opts.events), '--repeat', String(opts.repeat), '--seed', String(opts.seed),
          ...(kafka ? ['--brokers', opts.brokers || "''", '--partitions', String(opts.partitions)] : []), ...(opts.json ? ['--json', opts.json] : [])]
          .map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a))
          .join(' ');
        const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model.trim() ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` };
        io.stdout(
          `command: ${command}\n` +
            `machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, node ${machine.node} (${machine.platform})\n` +
            `${int(opts.events)} generated events (seed ${opts.seed})${kafka ? `, through Kafka at ${opts.brokers} (a source topic of ${opts.partitions} partitions)` : ''}, ${opts.repeat} interleaved round${opts.repeat > 1 ? 's' : ''}, one process per run, medians${opts.repeat > 1 ? ' (min–max)' : ''}\n\n` +
            `${benchTable(reports)}\n\n` +
            'CPU µs/event: user + system CPU of the run\'s process over the work, per input record (the figure to compare on a busy machine).\n' +
            'Latency ~: interpolated in the buckets of tributary_processing_latency_seconds (every 64th record, the steps only: no decode or output write);\n' +
            (kafka ? '' : 'input and outputs alone: the pipeline\'s outputs (from an untimed run) written again as JSON lines and fsynced, one record id each, after its input is parsed: what any implementation of it pays; pipeline minus this is its steps, state and checkpoints.\n') +
            (kafka
              ? 'baseline: every 64th record timed by the script (parse, dedupe, output queued; the sends are not in it), exact.\n' +
                'The baseline does one dedupe (the rules of `dedupe: { ttl: 24h }`, per partition) and commits after each batch\'s send: less than most pipelines, shown for scale.\n'
              : 'baselines: every 64th record timed by the script (parse, dedupe, write), exact.\n' +
                'The baselines do one dedupe (the rules of `dedupe: { ttl: 24h }` over the same file): less than most pipelines, shown for scale.\n'),
        );
        if (opts.json) {
          writeFileSync(opts.json, `${JSON.stringify({ command, machine, events: opts.events, seed: opts.seed, repeat: opts.repeat, pipeline: file, cases: reports }, null, 2)}\n`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
}
