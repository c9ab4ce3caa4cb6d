/**
 * Tributary's Kafka runtime against Kafka Streams 3.9.1, through the same broker, over the same
 * input topic, three workloads:
 *
 *   dedupe     drop copies of a messageId seen within 24h (Tributary: `dedupe: { key: messageId, ttl: 24h }`)
 *   sessions   sessions per first-of(userId, anonymousId), 30m gap, counted (`sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }`)
 *   chain      dedupe → sessions
 *
 *   npm run -s kafka:start                                  # or any broker
 *   KAFKA_BROKERS=127.0.0.1:9092 npm run -s bench:streams   # = build, then node dist/benchmarks/streams-compare.bench.js
 *   KAFKA_BROKERS=… node dist/benchmarks/streams-compare.bench.js --events 20000 --repeat 1
 *
 * Flags or environment (defaults shown): --events / BENCH_EVENTS=200000, --seed / BENCH_SEED=1,
 * --partitions / BENCH_PARTITIONS=3, --repeat / BENCH_REPEAT=3, --workloads / BENCH_WORKLOADS=dedupe,sessions,chain;
 * BENCH_JAVA_OPTS (JVM flags of the Kafka Streams app, none by default), BENCH_KS_COMMIT_MS=100
 * (its commit.interval.ms; Tributary's runners commit as often unless BENCH_COMMIT_INTERVAL_MS is set), --ks / BENCH_KS=1m,365d (which Kafka Streams runs where there are
 * session windows, see below), BENCH_CHILD_NODE_ARGS (node flags of Tributary's runner).
 *
 * The generated events are produced once, keyed by first-of(anonymousId, userId) as in
 * `kafka.bench.ts`. Then for every round and workload both systems run one after the other (the
 * order alternates between rounds), each in a child process of its own with a fresh
 * application id and state directory: Tributary's bounded `runKafka` (`kafka/runner-child.ts`)
 * and the Kafka Streams app of `benchmarks/kafka-streams/` (built with Maven when its jar is
 * missing). Both are at-least-once, one thread of processing, event time, 1m of allowed lateness
 * / grace. Where there are session windows the Kafka Streams app also runs with a 365-day grace
 * and every update emitted: with 1m it skips many records of a pre-produced input, with 365d
 * none, and its session table at the end can be compared with all of Tributary's sessions.
 * How a run is timed and its CPU and peak RSS read: `streams-compare/measure.ts`. The
 * outputs of the first round are read back and compared: `streams-compare/checks.ts`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { TributaryEvent } from '../lib/event/event.js';
import { generateEvents } from '../lib/generate/index.js';
import type { PipelineDefinition } from '../lib/pipeline/definition.js';
import { brokers, createTopic, deleteTopicsLike, env, fmt, list, log, mb, num, produceAll, topicRecords, uniqueSuffix } from './kafka/common.js';
import { startChild, startRunner } from './kafka/runner.js';

// Tributary's runners commit as often as the Kafka Streams app (BENCH_KS_COMMIT_MS) unless
// BENCH_COMMIT_INTERVAL_MS says otherwise (its children read it).
process.env.BENCH_COMMIT_INTERVAL_MS ??= process.env.BENCH_KS_COMMIT_MS?.trim() || '100';
import { eventsCheck, readLate, readMessageIds, readSessions, sessionsCheck, SESSION_KEY, type CheckResult } from './streams-compare/checks.js';
import { measureRun, type Measured } from './streams-compare/measure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STREAMS_APP = join(ROOT, 'benchmarks/kafka-streams');
const JAR = join(STREAMS_APP, 'target/streams-bench.jar');
const SOURCE_KEY = ['anonymousId', 'userId'];
/** Kafka Streams logs a warning per record its session windows skip as too late. */
const SKIPPING = /Skipping record for expired window/;

const WORKLOADS = ['dedupe', 'sessions', 'chain'] as const;
type Workload = (typeof WORKLOADS)[number];
const YEAR_MS = 365 * 24 * 3_600_000;

/** A system and its settings: Tributary, or the Kafka Streams app with a grace and an emit mode. */
interface Variant {
  label: string;
  system: 'tributary' | 'kafka-streams';
  graceMs?: number;
  emit?: 'final' | 'updates';
}
const TRIBUTARY: Variant = { label: 'Tributary', system: 'tributary' };
const STREAMS: Variant = { label: 'Kafka Streams', system: 'kafka-streams', graceMs: 60_000, emit: 'final' };
/**
 * Kafka Streams with a grace longer than the input's span: on a pre-produced input its session
 * windows skip many records with a 1m grace (see streams-compare/checks.ts); this one skips none
 * and emits every update (final results would never come: nothing closes).
 */
const STREAMS_NO_SKIP: Variant = { label: 'Kafka Streams, grace 365d', system: 'kafka-streams', graceMs: YEAR_MS, emit: 'updates' };

const args = process.argv.slice(2);
function option(flag: string, name: string, dflt: string): string {
  const i = args.indexOf(`--${flag}`);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : env(name, dflt);
}
function count(flag: string, name: string, dflt: number): number {
  const n = Number(option(flag, name, String(dflt)));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${flag} (${name}) must be a positive integer, got ${option(flag, name, '')}`);
  return n;
}

/** Builds the Kafka Streams app when its jar is missing or older than its sources. */
function ensureStreamsApp(): void {
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).error) fail('java not found: the Kafka Streams side needs Java 17+ on the PATH');
  const sources = [join(STREAMS_APP, 'pom.xml'), ...readdirSync(join(STREAMS_APP, 'src'), { recursive: true, encoding: 'utf8' }).map((f) => join(STREAMS_APP, 'src', f))];
  const built = existsSync(JAR) ? statSync(JAR).mtimeMs : 0;
  if (sources.every((f) => statSync(f).mtimeMs <= built)) return;
  if (spawnSync('mvn', ['-v'], { stdio: 'ignore' }).error) {
    if (built === 0) fail(`mvn not found: install Maven to build ${JAR} (mvn -q -B -f benchmarks/kafka-streams/pom.xml package)`);
    log(`mvn not found: using ${JAR}, older than its sources`);
    return;
  }
  log('building the Kafka Streams app: mvn -q -B -f benchmarks/kafka-streams/pom.xml package');
  execFileSync('mvn', ['-q', '-B', '-f', join(STREAMS_APP, 'pom.xml'), 'package'], { stdio: 'inherit' });
}

function fail(message: string): never {
  console.error(`streams-compare: ${message}`);
  process.exit(1);
}

function pipeline(workload: Workload, name: string, input: string): PipelineDefinition {
  const dedupe = { dedupe: { key: 'messageId', ttl: '24h' } };
  const sessionize = { sessionize: { key: SESSION_KEY, gap: '30m', output: 'sessions' } };
  return {
    name,
    source: { topic: input, format: 'json', key: SOURCE_KEY, timestamp: 'timestamp', allowedLateness: '1m' },
    steps: workload === 'dedupe' ? [dedupe] : workload === 'sessions' ? [sessionize] : [dedupe, sessionize],
  };
}

interface Run extends Measured<unknown> {
  variant: Variant;
  workload: Workload;
  /** Application id = consumer group = the prefix of every topic of the run. */
  group: string;
  /** Records per output topic, by stream name (events, sessions, late). */
  outputs: Record<string, number>;
  topics: Record<string, string>;
}

async function runTributary(workload: Workload, input: string, events: number, dir: string): Promise<Run> {
  const name = `cmp-${workload}-trib-${uniqueSuffix()}`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(pipeline(workload, name, input)));
  const stateDir = join(dir, name);
  const m = await measureRun(startRunner(file, stateDir, true, { hold: true }), name, input, events);
  rmSync(stateDir, { recursive: true, force: true });
  const topics = { events: `${name}-events`, late: `${name}-late`, ...(workload === 'dedupe' ? {} : { sessions: `${name}-sessions` }) };
  return { ...m, variant: TRIBUTARY, workload, group: name, topics, outputs: await counts(topics) };
}

async function runStreams(variant: Variant, workload: Workload, input: string, events: number, partitions: number, dir: string): Promise<Run> {
  const appId = `cmp-${workload}-ks-${uniqueSuffix()}`;
  const stateDir = join(dir, appId);
  const topics = { events: `${appId}-events`, ...(workload === 'dedupe' ? {} : { sessions: `${appId}-sessions` }) };
  // Created up front with the input's partition count, as Tributary creates its outputs (a
  // broker would otherwise auto-create them with its default of one partition on first send).
  // Kafka Streams gives an output record its input's event time (Tributary: the time of the
  // send), which for this input is months ago: without retention.ms -1 the broker deletes them
  // at its next retention check, before they are read back.
  for (const topic of Object.values(topics)) await createTopic(topic, partitions, { 'retention.ms': '-1' });
  const jvm = list('BENCH_JAVA_OPTS', '').flatMap((a) => a.split(/\s+/)).filter(Boolean);
  let skipped = 0;
  const child = startChild('java', [
    ...jvm, `-Dbench.commitMs=${num('BENCH_KS_COMMIT_MS', 100)}`, `-Dbench.graceMs=${variant.graceMs}`, `-Dbench.emit=${variant.emit}`, '-jar', JAR,
    workload, brokers().join(','), input, String(events), appId, stateDir, topics.events, topics.sessions ?? `${appId}-sessions`,
  ], { hold: true, stderrLine: (line) => (SKIPPING.test(line) ? skipped++ : log(line)) });
  const m = await measureRun(child, appId, input, events);
  if (skipped > 0) log(`  (${fmt(skipped)} "Skipping record for expired window" warnings of Kafka Streams not shown)`);
  rmSync(stateDir, { recursive: true, force: true });
  return { ...m, variant, workload, group: appId, topics, outputs: await counts(topics) };
}

async function counts(topics: Record<string, string>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [stream, topic] of Object.entries(topics)) out[stream] = await topicRecords(topic);
  return out;
}

/** Reads the outputs of one workload back and compares Tributary's with each Kafka Streams run's. */
async function check(workload: Workload, input: readonly TributaryEvent[], partitions: number, trib: Run, others: readonly Run[]): Promise<CheckResult> {
  const late = await readLate(trib.topics.late as string);
  const tribIds = await readMessageIds(trib.topics.events as string);
  const [first] = others;
  if (!first) return { ok: true, lines: [] };
  const ev = eventsCheck(input, workload !== 'sessions', tribIds, late, await readMessageIds(first.topics.events as string));
  const results = [ev];
  if (workload !== 'dedupe') {
    const tribSessions = await readSessions(trib.topics.sessions as string);
    for (const ks of others) {
      const updates = ks.variant.emit === 'updates';
      const c = sessionsCheck(input, partitions, tribSessions, await readSessions(ks.topics.sessions as string, updates), late,
        { closedOnly: !updates, dropped: Number((ks.result as { droppedRecords?: number }).droppedRecords ?? 0) });
      results.push({ ok: c.ok, lines: c.lines.map((l, i) => (i === 0 ? `${ks.variant.label}: ${l}` : l)) });
    }
  }
  return { ok: results.every((r) => r.ok), lines: results.flatMap((r) => r.lines) };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
const range = (xs: readonly number[], f: (n: number) => string) =>
  (xs.length > 1 ? `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})` : f(median(xs)));

function table(runs: readonly Run[], events: number, workloads: readonly Workload[]): string[] {
  const lines = [
    '| workload | system | events/s (median, min–max) | s ready → committed | CPU s (process) | CPU µs/event (ready → committed) | peak RSS MB |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  const ratios = ['| workload | against | events/s | CPU s (process) | CPU µs/event | peak RSS |', '|---|---|---:|---:|---:|---:|'];
  for (const w of workloads) {
    const stats = (v: Variant) => {
      const rs = runs.filter((r) => r.workload === w && r.variant === v);
      return rs.length === 0 ? undefined : {
        rs,
        rate: rs.map((r) => events / r.seconds),
        cpu: median(rs.map((r) => r.cpuTotal)),
        perEvent: median(rs.map((r) => (r.cpuAfterReady / events) * 1e6)),
        rss: median(rs.map((r) => r.peakRss)),
      };
    };
    const t = stats(TRIBUTARY);
    for (const v of variants(w)) {
      const s = stats(v);
      if (!s) continue;
      lines.push(`| ${w} | ${v.label} | ${range(s.rate, fmt)} | ${median(s.rs.map((r) => r.seconds)).toFixed(2)} | ${s.cpu.toFixed(1)} | ${s.perEvent.toFixed(1)} | ${mb(s.rss)} |`);
      if (t && v !== TRIBUTARY) {
        ratios.push(`| ${w} | ${v.label} | ${(median(t.rate) / median(s.rate)).toFixed(2)} | ${(t.cpu / s.cpu).toFixed(2)} | ${(t.perEvent / s.perEvent).toFixed(2)} | ${(t.rss / s.rss).toFixed(2)} |`);
      }
    }
  }
  return [...lines, '', 'Tributary / Kafka Streams (ratio of medians; events/s above 1: Tributary faster; CPU and RSS below 1: Tributary uses less):', '', ...ratios];
}

/**
 * What runs for a workload: Tributary and Kafka Streams; where there are session windows, the
 * Kafka Streams runs `--ks` names (`1m`: grace 1m, final results; `365d`: grace 365d, updates).
 */
function variants(w: Workload): Variant[] {
  if (w === 'dedupe') return [TRIBUTARY, STREAMS];
  const ks = option('ks', 'BENCH_KS', '1m,365d').split(',').map((k) => k.trim());
  for (const k of ks) if (k !== '1m' && k !== '365d') fail(`--ks ${k}: the Kafka Streams session runs are 1m and/or 365d`);
  return [TRIBUTARY, ...(ks.includes('1m') ? [STREAMS] : []), ...(ks.includes('365d') ? [STREAMS_NO_SKIP] : [])];
}

async function main(): Promise<void> {
  brokers();
  const events = count('events', 'BENCH_EVENTS', 200_000);
  const seed = count('seed', 'BENCH_SEED', 1);
  const partitions = count('partitions', 'BENCH_PARTITIONS', 3);
  const repeat = count('repeat', 'BENCH_REPEAT', 3);
  const workloads = option('workloads', 'BENCH_WORKLOADS', WORKLOADS.join(',')).split(',').map((w) => w.trim()) as Workload[];
  for (const w of workloads) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w} (${WORKLOADS.join(', ')})`);
  ensureStreamsApp();

  const dir = mkdtempSync(join(tmpdir(), 'tributary-streams-compare-'));
  const input = `cmp-input-${uniqueSuffix()}`;
  const runs: Run[] = [];
  const checks: string[] = [];
  let ok = true;
  try {
    const generated = [...generateEvents({ events, seed })] as TributaryEvent[];
    await createTopic(input, partitions);
    const rate = await produceAll(input, generated, SOURCE_KEY);
    log(`produced ${fmt(events)} events into ${input} (${partitions} partitions, keyed by ${SOURCE_KEY.join('|')}) at ${fmt(rate)}/s`);
    for (let round = 1; round <= repeat; round++) {
      for (const w of workloads) {
        const order = round % 2 === 1 ? variants(w) : variants(w).reverse();
        const done: Run[] = [];
        for (const v of order) {
          const r = v === TRIBUTARY ? await runTributary(w, input, events, dir) : await runStreams(v, w, input, events, partitions, dir);
          done.push(r);
          runs.push(r);
          log(`[${round}/${repeat}] ${w} ${v.label}: ${fmt(events / r.seconds)} events/s (${r.seconds.toFixed(2)} s ready → committed${r.doneBy === 'result' ? ', by its end' : ''}), ` +
            `CPU ${r.cpuTotal.toFixed(1)} s (${((r.cpuAfterReady / events) * 1e6).toFixed(1)} µs/event after ready), peak RSS ${mb(r.peakRss)} MB; outputs ${JSON.stringify(r.outputs)}; ${JSON.stringify(detail(r))}`);
        }
        const trib = done.find((r) => r.variant === TRIBUTARY) as Run;
        const others = variants(w).filter((v) => v !== TRIBUTARY).map((v) => done.find((r) => r.variant === v) as Run);
        if (round === 1) {
          const c = await check(w, generated, partitions, trib, others);
          ok &&= c.ok;
          checks.push(`${w}:`, ...c.lines.map((l) => `- ${l}`));
          for (const l of c.lines) log(`  ${w} ${l}`);
        } else {
          for (const r of done) {
            const first = runs.find((x) => x.variant === r.variant && x.workload === w) as Run;
            if (JSON.stringify(first.outputs) === JSON.stringify(r.outputs)) continue;
            // Kafka Streams' skipped records and cached updates depend on timing; Tributary's outputs may not.
            const tributary = r.variant === TRIBUTARY;
            ok &&= !tributary;
            checks.push(`${w}: ${r.variant.label} round ${round} wrote ${JSON.stringify(r.outputs)}, round 1 ${JSON.stringify(first.outputs)}` +
              (tributary ? '  ← outputs differ between rounds' : ' (records skipped and updates emitted depend on timing)'));
          }
        }
        for (const r of done) await deleteTopicsLike(r.group);
      }
    }
  } finally {
    await deleteTopicsLike(input);
    rmSync(dir, { recursive: true, force: true });
  }
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr.split('\n')[0];
  console.log([
    `${fmt(events)} generated events (seed ${seed}; 1% duplicates, 5% out of order, 0.2% late) in ${partitions} partitions, keyed by ${SOURCE_KEY.join('|')}; ` +
    `${repeat} round(s), both systems per workload in each, alternating which goes first. events/s = input events / (READY → the group committed all input and repartition offsets).`,
    '',
    ...table(runs, events, workloads),
    '',
    'Outputs (first round):',
    ...checks,
    '',
    `command: ${['node', ...process.execArgv, 'dist/benchmarks/streams-compare.bench.js', ...args].join(' ')}`,
    `node ${process.version}; ${java}; Kafka Streams 3.9.1 (commit.interval.ms ${num('BENCH_KS_COMMIT_MS', 100)}, JVM flags: ${env('BENCH_JAVA_OPTS', 'none')}); brokers ${process.env.KAFKA_BROKERS}`,
  ].join('\n'));
  if (!ok) process.exitCode = 1;
}

/** The per-run figures each system reports about itself (summary or RESULT line). */
function detail(r: Run): Record<string, unknown> {
  const res = r.result as Record<string, unknown>;
  if (r.variant.system === 'kafka-streams') return { consumed: res.events, duplicates: res.duplicates, droppedRecords: res.droppedRecords };
  const s = res.summary as { records: number; late: number; streams: Record<string, number>; commits: number };
  return { records: s.records, late: s.late, streams: s.streams, commits: s.commits };
}

await main();
