// Scenario 1 of issue 5: the cart-abandonment pipeline (examples/cart-abandonment) over the same events
// gives the same records through Kafka as embedded: the same multiset on every stream, and the
// events of each source key in their input order. Bounded run, three source partitions, each
// person's events in one partition (as a producer keyed by customer puts them). Identity
// resolution depends on the order a person's events are seen in: split over partitions it is
// eventually consistent instead (README, "joinIdentity in Kafka mode").
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { runKafka } from '../../lib/runtime/kafka/runner.js';
import { ndjsonMultiset, personPartitioner, produceEvents, readTopic, topicMultiset, testAdapter, testEvents, uniquePipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();

test('cart-abandonment pipeline: Kafka (3 partitions, bounded) gives the records of the embedded run', { skip, timeout: 240_000 }, async () => {
  const dir = tempDir();
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir);
  const events = testEvents(4000, 11);
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const embedded = await runEmbedded({ topology: p.topology, input, outDir: join(dir, 'embedded') });
  assert.equal(embedded.late, 0);

  await createTopic(p.source, { partitions: 3 });
  const adapter = testAdapter();
  await produceEvents(adapter, p.source, events, p.topology.source.key, personPartitioner(events, 3));
  const logs: string[] = [];
  const summary = await runKafka({ topology: p.topology, adapter, stateDir: join(dir, 'state'), bounded: true, final: true, log: (l) => logs.push(l), tickMs: 200 });
  assert.equal(summary.interrupted, false);
  assert.equal(summary.records, events.length);

  for (const stream of p.topology.streams) {
    const file = join(dir, 'embedded', `${stream.name}.ndjson`);
    const want = ndjsonMultiset(readFileSync(file, 'utf8'));
    const got = await topicMultiset(adapter, stream);
    assert.equal(got.length, want.length, `${stream.name}: ${got.length} records through Kafka, ${want.length} embedded`);
    const missing = want.filter((x) => !got.includes(x));
    const extra = got.filter((x) => !want.includes(x));
    assert.deepEqual({ missing: missing.slice(0, 3), extra: extra.slice(0, 3), nMissing: missing.length }, { missing: [], extra: [], nMissing: 0 }, `${stream.name} differs`);
    assert.equal(embedded.streams[stream.name] ?? 0, want.length);
  }
  // Per person (the key of the last sub-topology, so one partition of the sink topic), the
  // enriched events keep their input order.
  const enriched = await readTopic(adapter, p.topics.events!);
  const orderOf = (list: TributaryEvent[]) => {
    const m = new Map<string, string[]>();
    for (const e of list) {
      const k = String(e.personId);
      m.set(k, [...(m.get(k) ?? []), e.messageId]);
    }
    return m;
  };
  const embeddedEvents = readFileSync(join(dir, 'embedded', 'events.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TributaryEvent);
  const kafkaEvents = enriched.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset))).map((r) => JSON.parse(r.value!.toString()) as TributaryEvent);
  const wantOrder = orderOf(embeddedEvents);
  const gotOrder = orderOf(kafkaEvents);
  assert.equal(gotOrder.size, wantOrder.size);
  for (const [k, ids] of gotOrder) assert.deepEqual(ids, wantOrder.get(k), `order of person ${k}`);
  assert.ok(logs.some((l) => /task 2_0: ready/.test(l)), 'three sub-topologies: source, joinIdentity (one task), personId');
});
