// consent through the Kafka runner over the memory broker, restored from its changelog: a live
// run over the first half, stopped once it committed it; every task's local state deleted; a
// bounded run over the second half, whose events carry no consent of their own. They leave with
// the consent the first half gave, which the second run only knows from the restored store; the
// output topics hold exactly the records of one embedded run.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../../lib/event/event.js';
import type { PipelineDefinition } from '../../../lib/pipeline/definition.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, diffWithEmbedded, exact, memoryScenario, summarize, waitFor } from '../../support/memory-kafka.js';

test('consent: every task\'s state deleted between two runs is restored from the changelog; second-half events get the first half\'s consent', async (t) => {
  const events = testEvents(1000, 12);
  const first = events.slice(0, 500);
  const second = events.slice(500).map((e) => {
    const { consent: _dropped, ...context } = e.context ?? {};
    return { ...e, context } as TributaryEvent;
  });
  assert.ok(first.filter((e) => e.context?.consent).length > 400, 'the generated events carry consent');
  const s = await memoryScenario('examples/rees46-dedupe/pipeline.yaml', {
    events: [...first, ...second], produce: first, partitions: 3,
    edit: (def: PipelineDefinition) => {
      def.source = { topic: def.source.topic, format: 'json', key: ['userId', 'anonymousId'], timestamp: 'timestamp', allowedLateness: '30d' } as PipelineDefinition['source'];
      def.steps = [{ consent: { key: ['userId', 'anonymousId'] } }];
      delete def.outputs;
    },
  });
  const app = s.p.topology.name;
  const stateDir = join(s.dir, 'state');
  const stop = new AbortController();
  t.after(() => stop.abort());
  const running = runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir, signal: stop.signal, tickMs: 20 });
  await waitFor('run 1 to commit the first half', () => caughtUp(s.kafka, app, s.p.source));
  stop.abort();
  const run1 = await running;
  assert.equal(run1.records, first.length);
  for (const task of readdirSync(join(stateDir, app))) rmSync(join(stateDir, app, task), { recursive: true, force: true });

  await produceEvents(s.kafka.adapter('setup'), s.p.source, second, s.p.topology.source.key, s.partitionOf);
  const run2 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run2'), stateDir, bounded: true, final: true, tickMs: 20 });
  assert.equal(run2.records, second.length);
  assert.ok(run2.restored.some((r) => r.store === 'consent.keys' && r.records > 0), JSON.stringify(run2.restored));
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
  const secondIds = new Set(second.map((e) => e.messageId));
  const annotated = s.kafka.broker.records(s.p.topics.events!).map((r) => JSON.parse(String(r.value)) as TributaryEvent).filter((e) => secondIds.has(e.messageId) && e.context?.consent).length;
  assert.ok(annotated > 300, `second-half events left with the consent of the restored state (${annotated})`);
});
