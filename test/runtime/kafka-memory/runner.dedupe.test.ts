// One sub-topology through the Kafka runner over the memory broker: dedupe over 3 source
// partitions, bounded. The output topics hold exactly the embedded run's records, and each key's
// events keep their input order (the integration test kafka.runner.test.ts does this on a broker).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../../lib/event/event.js';
import { resolveKey } from '../../../lib/event/key.js';
import type { PipelineDefinition } from '../../../lib/pipeline/definition.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { canonical, testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, summarize, valuesByKey } from '../../support/memory-kafka.js';

test('dedupe (one sub-topology, 3 partitions, bounded): the output topics hold the embedded run\'s records, per key in input order', async () => {
  const events = testEvents(1500, 31);
  const s = await memoryScenario('examples/rees46-dedupe/pipeline.yaml', {
    events, partitions: 3,
    edit: (def: PipelineDefinition) => {
      def.source = { topic: def.source.topic, format: 'json', key: ['userId', 'anonymousId'], timestamp: 'timestamp', allowedLateness: '30d' } as PipelineDefinition['source'];
    },
  });
  assert.ok((s.embedded.streams.duplicates ?? 0) > 5, `the events have duplicates (${s.embedded.streams.duplicates})`);
  const logs: string[] = [];
  const summary = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('app'), stateDir: join(s.dir, 'state'), bounded: true, final: true, tickMs: 20, log: (l) => logs.push(l) });
  assert.equal(summary.interrupted, false);
  assert.equal(summary.records, events.length);
  assert.deepEqual(summary.streams, s.embedded.streams);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));

  // Per key (the source key: each key's events are in one partition), the input order.
  const key = s.p.topology.source.key as string[];
  const embedded = readFileSync(join(s.embeddedDir, 'events.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TributaryEvent);
  const want = new Map<string, string[]>();
  for (const e of embedded) {
    const k = resolveKey(e, key) as string;
    want.set(k, [...(want.get(k) ?? []), canonical(e)]);
  }
  const got = valuesByKey(s.kafka.broker.records(s.p.topics.events!));
  assert.equal(got.size, want.size);
  for (const [k, list] of want) assert.deepEqual(got.get(k), list, `order of key ${k}`);
  assert.deepEqual(logs.filter((l) => / ready on /.test(l)).map((l) => l.split(':')[0]).sort(), ['task 0_0', 'task 0_1', 'task 0_2']);
});
