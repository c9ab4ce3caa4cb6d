// The funnel step on the Kafka runner over the memory broker, its state restored from its
// changelog: a live run over the first half of the input, stopped once it committed it, every
// task's local state deleted, then a bounded final run over the rest. Attempts open at the cut
// (lateness 30d: none closes in run 1) continue from the restored `keys` store, and run 1 + run 2
// give exactly the records of one embedded run.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PipelineDefinition } from '../../../lib/pipeline/definition.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, diffWithEmbedded, exact, memoryScenario, summarize, waitFor } from '../../support/memory-kafka.js';

test('funnel on Kafka: the keys store restored from its changelog continues every open attempt; the records equal an embedded run', async (t) => {
  const events = testEvents(1500, 12);
  const first = events.slice(0, events.length / 2);
  const second = events.slice(events.length / 2);
  const s = await memoryScenario('examples/rees46-funnel/pipeline.yaml', {
    events, produce: first, partitions: 3,
    edit: (def: PipelineDefinition) => {
      def.source = { topic: def.source.topic, format: 'json', key: ['userId', 'anonymousId'], timestamp: 'timestamp', allowedLateness: '30d' } as PipelineDefinition['source'];
      const step = def.steps.find((x) => 'funnel' in x) as { funnel: { key: string[] } };
      step.funnel.key = ['userId', 'anonymousId'];
    },
  });
  assert.ok((s.embedded.streams.funnels ?? 0) > 50, `the reference run has attempts: ${JSON.stringify(s.embedded.streams)}`);
  const app = s.p.topology.name;
  const stateDir = join(s.dir, 'state');

  const stop = new AbortController();
  t.after(() => stop.abort());
  const running = runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir, signal: stop.signal, tickMs: 20 });
  await waitFor('run 1 to commit the first half', () => caughtUp(s.kafka, app, s.p.source));
  stop.abort();
  const run1 = await running;
  assert.equal(run1.interrupted, true);
  for (const task of readdirSync(join(stateDir, app))) rmSync(join(stateDir, app, task), { recursive: true, force: true });

  await produceEvents(s.kafka.adapter('setup'), s.p.source, second, s.p.topology.source.key, s.partitionOf);
  const run2 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run2'), stateDir, bounded: true, final: true, tickMs: 20 });
  assert.equal(run2.interrupted, false);
  const restored = run2.restored.filter((r) => r.store.endsWith('funnel.keys'));
  assert.ok(restored.length > 0 && restored.every((r) => r.records > 0), `funnel state restored: ${JSON.stringify(run2.restored)}`);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
