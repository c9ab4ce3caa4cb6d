// `tributary run` against the real broker as a user runs it (the CLI with --metrics-port 0, ended
// by SIGTERM), scraped by a real Prometheus: the metrics read back through PromQL are exact, and
// every expression of the Grafana dashboard (examples/grafana/tributary.json) answers with data.
//
// Two runs of the cart-abandonment example (dedupe → joinIdentity → sessionize → windowAggregate
// → trigger): a first run over the first part of the input, stopped; then the run under test with
// a fresh state directory, which restores every store from its changelog and processes the rest.
// The input: generated events, re-sends right after their original (one of them straddles the
// two parts, so only the restored dedupe state recognises it), records that are not JSON, and
// events far behind the watermark at the end.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { generateEvents } from '../../lib/generate/index.js';
import { planTopics } from '../../lib/runtime/kafka/topics.js';
import { ROOT, tributaryAsync } from '../support/cli.js';
import { caughtUp, produceEvents, readTopic, testAdapter, uniquePipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason } from '../support/kafka.js';
import { prometheusSkipReason, requirePrometheus, startPrometheus, type Prometheus } from '../support/prometheus.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? prometheusSkipReason() : skipReason();

const N = 3000; // generated events: no duplicates, none late
const K = 40; // re-sends (same messageId and content), each right after its original
const P = 7; // poison records: not JSON
const L = 5; // copies of the first events under new messageIds, after all others: late

type Item = { kind: 'event' | 'duplicate' | 'late'; value: TributaryEvent } | { kind: 'poison'; value: Buffer };

function input(): Item[] {
  const events = [...generateEvents({ events: N, seed: 11, duplicateRate: 0, lateRate: 0, maxDisorderMs: 20_000 })] as TributaryEvent[];
  const out: Item[] = [];
  const dupEvery = Math.floor(N / K);
  const poisonEvery = Math.floor(N / P);
  events.forEach((e, i) => {
    out.push({ kind: 'event', value: e });
    if (i % dupEvery === dupEvery - 1 && i < dupEvery * K) out.push({ kind: 'duplicate', value: { ...e } });
    if (i % poisonEvery === poisonEvery - 1 && i < poisonEvery * P) out.push({ kind: 'poison', value: Buffer.from(`{"event": "track", "broken ${i}`) });
  });
  for (let i = 0; i < L; i++) out.push({ kind: 'late', value: { ...events[i]!, messageId: `late-${i}` } });
  return out;
}

/** Every PromQL expression of the dashboard's panels (and of panels nested in rows). */
function dashboardExpressions(): Array<{ panel: string; expr: string }> {
  interface Panel { title?: string; targets?: Array<{ expr?: string }>; panels?: Panel[] }
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'examples/grafana/tributary.json'), 'utf8')) as { panels: Panel[] };
  const out: Array<{ panel: string; expr: string }> = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? '?', expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return out;
}

interface Run {
  child: ReturnType<typeof tributaryAsync>;
  port: number;
  stderr: () => string;
  /** SIGTERM; resolves with the exit code (or signal). */
  stop: () => Promise<number | string>;
}

/** `tributary run <pipeline> --brokers … --metrics-port 0 --state-dir <stateDir>`, once it announced its port. */
async function startRun(file: string, stateDir: string, after: (fn: () => void) => void): Promise<Run> {
  const child = tributaryAsync(['run', file, '--brokers', kafkaBrokers()!.join(','), '--metrics-port', '0', '--state-dir', stateDir]);
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? String(signal))));
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no operations endpoint announced in 30 s; stderr:\n${stderr}`)), 30_000);
    const look = () => {
      const m = /operations endpoint: http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on('data', look);
    void exited.then((code) => reject(new Error(`tributary run exited ${code} before announcing its endpoint; stderr:\n${stderr}`)));
  });
  return {
    child, port, stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still running 30 s after SIGTERM'), 30_000).unref());
      return Promise.race([exited, timeout]);
    },
  };
}

/** Records per topic, read back whole (committed records only). */
async function counts(topics: string[]): Promise<Map<string, number>> {
  const adapter = testAdapter();
  const out = new Map<string, number>();
  for (const topic of topics) out.set(topic, (await readTopic(adapter, topic)).length);
  return out;
}

test('tributary run --metrics-port scraped by Prometheus: exact metrics through PromQL, every dashboard expression answers', { skip, timeout: 150_000 }, async (t) => {
  requirePrometheus();
  const dir = tempDir();
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir);
  const pipeline = p.topology.name;
  const sel = `pipeline="${pipeline}"`;
  const plan = planTopics(p.topology, 1);
  const changelogs = plan.topics.filter((x) => x.role === 'changelog').map((x) => x.name);
  const outputTopics = [...new Set(p.topology.streams.map((s) => s.topic))];

  const items = input();
  assert.equal(items.length, N + K + P + L);
  // the first part ends right after the original of the middle re-send: its copy opens the second part
  const dupAt = items.map((x, i) => (x.kind === 'duplicate' ? i : -1)).filter((i) => i >= 0);
  const split = dupAt[Math.floor(dupAt.length / 2)]!;
  const first = items.slice(0, split);
  const second = items.slice(split);
  assert.equal(second[0]!.kind, 'duplicate');
  const of = (kind: Item['kind']) => second.filter((x) => x.kind === kind).length;

  const adapter = testAdapter();
  const inputs = p.topology.subTopologies.map((sub) => (sub.input === 'source' ? p.source : sub.input));
  /** Waits until the group committed the end of the source and of every repartition topic. */
  const allCommitted = async (r: Run, which: string) => {
    for (const deadline = Date.now() + 45_000; ;) {
      if ((await Promise.all(inputs.map((topic) => caughtUp(adapter, pipeline, topic)))).every(Boolean)) return;
      assert.ok(Date.now() < deadline, `${which}: ${inputs.join(', ')} not all committed to their end in 45 s; stderr:\n${r.stderr()}`);
      await new Promise((ok) => setTimeout(ok, 200));
    }
  };

  await createTopic(p.source, { partitions: 1 });
  await produceEvents(adapter, p.source, first.map((x) => x.value), ['anonymousId', 'userId']);

  // the first run: processes the first part, commits it and its changelogs, stops on SIGTERM
  const warmup = await startRun(p.file, join(dir, 'state-1'), (fn) => t.after(fn));
  await allCommitted(warmup, 'first run');
  assert.equal(await warmup.stop(), 0, `first run: exit code after SIGTERM; stderr:\n${warmup.stderr()}`);
  const changelogRecords = [...(await counts(changelogs)).values()].reduce((a, b) => a + b, 0);
  assert.ok(changelogRecords > 0, 'the first run wrote changelogs');
  const before = await counts(outputTopics);

  // the run under test: a fresh state directory (every store restored), then the second part
  const run = await startRun(p.file, join(dir, 'state-2'), (fn) => t.after(fn));
  const prom: Prometheus = await startPrometheus({ targets: [`127.0.0.1:${run.port}`] });
  t.after(() => prom.stop());
  await produceEvents(adapter, p.source, second.map((x) => x.value), ['anonymousId', 'userId']);

  const scalar = async (promql: string): Promise<number | undefined> => {
    const r = await prom.query(promql);
    return r.length === 1 ? r[0]!.value : undefined;
  };
  /** Waits (up to `ms`) for each query to be its one sample; fails with all of them as Prometheus last answered (null: no data). */
  const values = async (want: Record<string, number>, ms = 5_000) => {
    const deadline = Date.now() + ms;
    let got: Record<string, number | null> = {};
    for (;;) {
      got = {};
      for (const promql of Object.keys(want)) got[promql] = (await scalar(promql)) ?? null;
      if (Object.keys(want).every((q) => got[q] === want[q]) || Date.now() > deadline) break;
      await new Promise((ok) => setTimeout(ok, 250));
    }
    assert.deepEqual(got, want, 'Prometheus query results (null: no data)');
  };
  /** Waits (up to `ms`) for `promql` to be the one sample `want`; fails with what it last was. */
  const value = async (promql: string, want: number, ms = 5_000) => {
    await values({ [promql]: want }, ms);
  };

  // done: every source record read and nothing left in any input partition
  await value(`up{job="tributary"}`, 1, 20_000);
  await value(`sum(tributary_source_records_total{${sel}})`, second.length, 45_000);
  await value(`sum(tributary_consumer_lag_records{${sel}})`, 0, 30_000);
  await allCommitted(run, 'the run');
  // rate() over 30s needs two scrapes of every series: settle a few scrape intervals
  await new Promise((ok) => setTimeout(ok, 3_000));

  await t.test('source, dead letters, duplicates, late, ready', async () => {
    await values({
      [`sum(tributary_source_records_total{${sel}})`]: second.length,
      [`sum(tributary_dead_letter_records_total{${sel}, reason="malformed-json"})`]: of('poison'),
      [`sum(tributary_dead_letter_records_total{${sel}})`]: of('poison'),
      [`sum(tributary_source_invalid_records_total{${sel}, reason="malformed-json"})`]: of('poison'),
      // the straddling re-send too: its original is only in the restored dedupe state
      [`sum(tributary_step_records_dropped_total{${sel}, reason="duplicate"})`]: of('duplicate'),
      [`sum(tributary_step_records_in_total{${sel}, step="dedupe"})`]: of('event') + of('duplicate'),
      [`sum(tributary_late_records_total{${sel}})`]: L,
      [`tributary_ready{${sel}}`]: 1,
      [`tributary_assigned_partitions{${sel}}`]: p.topology.subTopologies.length,
      [`sum(tributary_rebalances_total{${sel}})`]: 1,
    });
  });

  await t.test('restore: every changelog record applied, none remaining', async () => {
    await values({
      [`sum(tributary_restore_records_total{${sel}})`]: changelogRecords,
      [`sum(tributary_restore_remaining_records{${sel}})`]: 0,
    });
  });

  await t.test('per-task gauges: watermark and its lag, store entries and bytes; last event time', async () => {
    const tasks = p.topology.subTopologies.length; // one partition each
    const want: Record<string, number> = {
      [`count(tributary_watermark_seconds{${sel}})`]: tasks,
      [`count(tributary_watermark_lag_seconds{${sel}})`]: tasks,
    };
    // each step's store lives in the one task of its sub-topology: one series per store
    const stores = plan.topics.filter((x) => x.role === 'changelog' && !x.of.startsWith('_')).length;
    want[`count(tributary_store_entries{${sel}, store!~"_.*"})`] = stores;
    want[`count(tributary_store_bytes{${sel}, store!~"_.*"})`] = stores;
    const latest = Math.max(...items.flatMap((x) => (x.kind === 'poison' ? [] : [x.value.timestamp])));
    want[`tributary_last_event_time_seconds{${sel}}`] = latest / 1000;
    await values(want);
  });

  await t.test('records out per stream = records the run added to its topic', async () => {
    const after = await counts(outputTopics);
    const want: Record<string, number> = {};
    for (const topic of outputTopics) {
      const streams = p.topology.streams.filter((s) => s.topic === topic).map((s) => s.name);
      want[`sum(tributary_output_records_total{${sel}, stream=~"${streams.join('|')}"}) or vector(0)`] = after.get(topic)! - before.get(topic)!;
    }
    await values(want);
  });

  await t.test('every PromQL expression of examples/grafana/tributary.json has a result', async () => {
    const expressions = dashboardExpressions();
    assert.ok(expressions.length >= 20, `the dashboard has ${expressions.length} expressions`);
    const empty: string[] = [];
    for (const { panel, expr } of expressions) {
      assert.match(expr, /pipeline="\$pipeline"/, `${panel}: ${expr} filters on the pipeline`);
      const promql = expr.replaceAll('$pipeline', pipeline).replaceAll('$__rate_interval', '30s').replaceAll('$__interval', '30s');
      const result = await prom.waitFor(promql, (r) => r.length > 0, 3_000).catch(() => []);
      if (result.length === 0) empty.push(`${panel}: ${expr}`);
    }
    assert.deepEqual(empty, [], 'dashboard expressions without a result');
  });

  assert.equal(await run.stop(), 0, `exit code after SIGTERM; stderr:\n${run.stderr()}`);
});
