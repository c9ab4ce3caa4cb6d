// Repartition hops through the Kafka runner over the memory broker: the cart-abandonment pipeline
// is three sub-topologies (dedupe by source key over 3 partitions → joinIdentity in one task →
// sessionize/windowAggregate/trigger by personId over 3 partitions). Bounded, it gives the embedded
// run's records on every stream; the end of input travelled as `end` watermark markers from every
// upstream task into every partition of each repartition topic, so every downstream task ended.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../../lib/event/event.js';
import type { KafkaAdapter, ProducerRecord } from '../../../lib/runtime/kafka/adapter.js';
import { runKafka, TASK_HEADER, WATERMARK_HEADER } from '../../../lib/runtime/kafka/runner.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, summarize } from '../../support/memory-kafka.js';

test('cart-abandonment (3 sub-topologies, 2 repartition hops, bounded): every stream equals the embedded run; end markers reached every downstream task', async () => {
  const events = testEvents(1500, 11);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 3 });
  assert.ok((s.embedded.streams.sessions ?? 0) > 50, `sessions: ${s.embedded.streams.sessions}`);
  const logs: string[] = [];
  // Every record the runner sends (the repartition topics are trimmed when it stops).
  const sent: ProducerRecord[] = [];
  const adapter = s.kafka.adapter('app');
  const spy: KafkaAdapter = {
    ...adapter,
    producer: async (options) => {
      const p = await adapter.producer(options);
      return { ...p, send: (records) => (sent.push(...records), p.send(records)) };
    },
  };
  const summary = await runKafka({ topology: s.p.topology, adapter: spy, stateDir: join(s.dir, 'state'), bounded: true, final: true, tickMs: 20, log: (l) => logs.push(l) });
  assert.equal(summary.interrupted, false, 'every task ended');
  assert.equal(summary.records, events.length);
  assert.equal(summary.replayed, 0);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
  assert.deepEqual(logs.filter((l) => / ready on /.test(l)).map((l) => l.split(':')[0]).sort(),
    ['task 0_0', 'task 0_1', 'task 0_2', 'task 1_0', 'task 2_0', 'task 2_1', 'task 2_2']);

  // Output records keyed by the fields their operator declares: sessions and features by `key`,
  // identity merges by `personId`.
  for (const [stream, field] of [['sessions', 'key'], ['customer-features', 'key'], ['identity-merges', 'personId']] as const) {
    const records = s.kafka.broker.records(s.p.topics[stream]!);
    assert.ok(records.length > 0, stream);
    assert.deepEqual(records.filter((r) => r.key?.toString() !== (JSON.parse(r.value!.toString()) as Record<string, string>)[field]).length, 0, `${stream} keyed by ${field}`);
  }

  // The end of input as markers: from each upstream task, into each partition downstream (an
  // ended task says it again on each tick until the run ends: each pair at least once).
  const ends = (topic: string) => [...new Set(sent
    .filter((r) => r.topic === topic && r.value === null && r.headers?.[WATERMARK_HEADER]?.toString() === 'end')
    .map((r) => `${r.partition} from ${r.headers?.[TASK_HEADER]?.toString()}`))].sort();
  const [, identity, personal] = s.p.topology.subTopologies;
  assert.deepEqual(ends(identity!.input), ['0 from 0_0', '0 from 0_1', '0 from 0_2']);
  assert.deepEqual(ends(personal!.input), ['0 from 1_0', '1 from 1_0', '2 from 1_0']);

  // Per person (the key of the last sub-topology), the enriched events in their input order.
  const order = (list: TributaryEvent[]) => {
    const m = new Map<string, string[]>();
    for (const e of list) m.set(String(e.personId), [...(m.get(String(e.personId)) ?? []), e.messageId]);
    return m;
  };
  const embedded = readFileSync(join(s.embeddedDir, 'events.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TributaryEvent);
  const enriched = s.kafka.broker.records(s.p.topics.events!).map((r) => JSON.parse(r.value!.toString()) as TributaryEvent);
  assert.deepEqual(order(enriched), order(embedded));
});

test('repartition topics are trimmed to what their tasks committed (deleteRecords), when a run stops', async () => {
  const events = testEvents(600, 13);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 3 });
  const summary = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('app'), stateDir: join(s.dir, 'state'), bounded: true, final: true, tickMs: 20 });
  assert.equal(summary.interrupted, false);
  const admin = await s.kafka.adapter('check').admin();
  for (const sub of s.p.topology.subTopologies.slice(1)) {
    const committed = s.kafka.broker.committed(s.p.topology.name, sub.input);
    const offsets = await admin.endOffsets(sub.input);
    assert.ok(offsets.length > 0);
    for (const w of offsets) {
      const c = committed.find((o) => o.partition === w.partition);
      assert.ok(c && BigInt(c.offset) > 0n, `${sub.input}/${w.partition} committed`);
      assert.equal(w.low, c.offset, `${sub.input}/${w.partition}: records before the committed offset deleted`);
    }
  }
  await admin.disconnect();
});
