// The operations endpoint of a Kafka run (memory broker): /readyz is 503 while the tasks restore
// their stores from the changelogs (held back by the test) and 200 once they process; /metrics
// shows the restore (records still to apply, then the records applied per store, equal to the
// run summary's), the assignment, one rebalance and the consumer lag back to 0.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KafkaAdapter } from '../../../lib/runtime/kafka/adapter.js';
import { runKafka, type KafkaRunSummary } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, memoryScenario, waitFor } from '../../support/memory-kafka.js';
import { parseSamples, sampleSum } from '../../support/prom-text.js';
import type { PipelineDefinition } from '../../../lib/pipeline/definition.js';

/** The adapter with every changelog read held until `open` resolves. */
function heldRestores(adapter: KafkaAdapter, open: Promise<void>): KafkaAdapter {
  return {
    ...adapter,
    readPartition: (topic, partition, options) => (async function* () {
      await open;
      yield* adapter.readPartition(topic, partition, options);
    })(),
  };
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

test('/readyz is 503 while tasks restore and 200 once they process; restore, assignment, rebalance and lag metrics', async (t) => {
  const events = testEvents(900, 5);
  const first = events.slice(0, 600);
  const s = await memoryScenario('examples/rees46-dedupe/pipeline.yaml', {
    events, produce: first, partitions: 3,
    edit: (def: PipelineDefinition) => {
      def.source = { topic: def.source.topic, format: 'json', key: ['userId', 'anonymousId'], timestamp: 'timestamp', allowedLateness: '30d' } as PipelineDefinition['source'];
    },
  });
  const app = s.p.topology.name;
  const stop1 = new AbortController();
  const abort = new AbortController();
  t.after(() => {
    stop1.abort();
    abort.abort();
  });
  const run1 = runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir: join(s.dir, 'state-1'), signal: stop1.signal, tickMs: 20 });
  await waitFor('run 1 to commit its input', () => caughtUp(s.kafka, app, s.p.source));
  stop1.abort();
  await run1;

  // Run 2 on an empty state directory: every store is restored, and the test holds the restores.
  let release!: () => void;
  const open = new Promise<void>((ok) => (release = ok));
  let port: number | undefined;
  let summary: KafkaRunSummary | undefined;
  const run2 = runKafka({
    topology: s.p.topology, adapter: heldRestores(s.kafka.adapter('run2'), open), stateDir: join(s.dir, 'state-2'), signal: abort.signal, tickMs: 20,
    metricsPort: 0, onMetricsServer: (p) => (port = p),
  }).then((x) => (summary = x));
  await waitFor('the operations endpoint', () => port !== undefined);
  const base = `http://127.0.0.1:${port}`;
  let ready = await get(`${base}/readyz`);
  for (let i = 0; i < 400 && !ready.text.includes('restoring'); i++) ready = await get(`${base}/readyz`);
  assert.deepEqual(ready, { status: 503, text: 'not ok: joining the group and restoring the first assignment\n' });
  let samples = parseSamples((await get(`${base}/metrics`)).text);
  const remaining = samples.filter((x) => x.name === 'tributary_restore_remaining_records' && x.value > 0);
  assert.ok(remaining.length > 0, 'records still to restore are reported');
  assert.equal(sampleSum(samples, 'tributary_ready'), 0);
  assert.equal((await get(`${base}/healthz`)).status, 200, 'restoring is not stuck');

  release();
  for (let i = 0; i < 400 && ready.status !== 200; i++) ready = await get(`${base}/readyz`);
  assert.deepEqual(ready, { status: 200, text: 'ok: processing 3 tasks\n' });
  await produceEvents(s.kafka.adapter('setup'), s.p.source, events.slice(600), s.p.topology.source.key, s.partitionOf);
  await waitFor('run 2 to commit the rest', () => caughtUp(s.kafka, app, s.p.source));
  samples = parseSamples((await get(`${base}/metrics`)).text);
  // The state endpoint on the same port, over the tasks this instance holds (all three).
  const seen = events[700] as (typeof events)[number];
  const state = await get(`${base}/state/dedupe/${encodeURIComponent(seen.messageId)}`);
  assert.equal(state.status, 200);
  assert.deepEqual(Object.keys(JSON.parse(state.text) as object), ['key', 'firstSeen', 'expiresAt']);
  assert.equal((JSON.parse(state.text) as { key: string }).key, seen.messageId);
  assert.equal((await get(`${base}/state/dedupe/never-sent`)).status, 404);
  abort.abort();
  await run2;
  assert.ok(summary);

  const restoredMetric = samples.filter((x) => x.name === 'tributary_restore_records_total').map((x) => `${x.labels.task} ${x.labels.store} ${x.value}`).sort();
  assert.deepEqual(restoredMetric, summary.restored.map((r) => `${r.task} ${r.store} ${r.records}`).sort());
  assert.ok(summary.restored.some((r) => r.records > 0));
  assert.equal(samples.filter((x) => x.name === 'tributary_restore_remaining_records' && x.value !== 0).length, 0);
  const lag = samples.filter((x) => x.name === 'tributary_consumer_lag_records').map((x) => `${x.labels.topic}/${x.labels.partition} ${x.value}`).sort();
  assert.deepEqual(lag, [0, 1, 2].map((p) => `${s.p.source}/${p} 0`));
  assert.deepEqual({
    assigned: sampleSum(samples, 'tributary_assigned_partitions'),
    rebalances: sampleSum(samples, 'tributary_rebalances_total'),
    ready: sampleSum(samples, 'tributary_ready'),
    source: sampleSum(samples, 'tributary_source_records_total'),
  }, { assigned: 3, rebalances: 1, ready: 1, source: 300 });
});
