// planTopics/ensureTopics without a broker: the topics a compiled pipeline needs, and what
// ensureTopics does against an in-memory admin.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePipeline, type Topology } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import type { KafkaAdapter, KafkaAdmin, TopicDescription, TopicSpec } from '../../lib/runtime/kafka/client.js';
import { ensureTopics, planTopics, topicMismatch, topicNameProblem } from '../../lib/runtime/kafka/topics.js';
import { defaultRegistry } from '../../operators/index.js';

const SHOP = `
name: shop
source: { topic: shop-in, key: anonymousId }
steps:
  - dedupe: {}
  - dedupe: { key: properties.orderId, output: duplicates }
sink: { topic: shop-out }
`;

const compile = (yaml: string): Topology => compilePipeline(parsePipeline(yaml, 'p.yaml', defaultRegistry), defaultRegistry);

test('planTopics: a repartition topic per re-keyed sub-topology, a compacted changelog per store, every output', () => {
  const plan = planTopics(compile(SHOP), 3);
  assert.deepEqual(plan.source, { topic: 'shop-in', partitions: 3 });
  assert.deepEqual(plan.topics.map((t) => [t.name, t.role, t.of, t.partitions, t.configs, t.strict]), [
    ['shop-dedupe-0.seen-changelog', 'changelog', 'dedupe-0.seen', 3, { 'cleanup.policy': 'compact' }, true],
    ['shop-_task.s0-changelog', 'changelog', '_task.s0', 3, { 'cleanup.policy': 'compact' }, true],
    ['shop-dedupe-1-repartition', 'repartition', 'dedupe-1', 3,
      { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'segment.bytes': '52428800' }, true],
    ['shop-dedupe-1.seen-changelog', 'changelog', 'dedupe-1.seen', 3, { 'cleanup.policy': 'compact' }, true],
    ['shop-_task.s1-changelog', 'changelog', '_task.s1', 3, { 'cleanup.policy': 'compact' }, true],
    ['shop-out', 'output', 'events', 3, {}, false],
    ['shop-dead-letter', 'output', 'dead-letter', 3, {}, false],
    ['shop-late', 'output', 'late', 3, {}, false],
    ['shop-forgotten', 'output', 'forgotten', 3, {}, false],
    ['shop-duplicates', 'output', 'duplicates', 3, {}, false],
  ]);
});

test('planTopics: streams sharing a topic make one output topic; sourcePartitions must be a positive integer', () => {
  const t = compile(`${SHOP}outputs: { late: { topic: shop-side }, dead-letter: { topic: shop-side } }\n`);
  const outputs = planTopics(t, 2).topics.filter((x) => x.role === 'output');
  assert.deepEqual(outputs.map((o) => [o.name, o.of]), [['shop-out', 'events'], ['shop-side', 'dead-letter,late'], ['shop-forgotten', 'forgotten'], ['shop-duplicates', 'duplicates']]);
  assert.throws(() => planTopics(t, 0), /sourcePartitions must be a positive integer, got 0/);
  assert.throws(() => planTopics(t, 1.5), /sourcePartitions must be a positive integer, got 1\.5/);
});

test('planTopics: illegal names, the source topic as an output, and one topic for two purposes are errors', () => {
  const withSink = (topic: string) => {
    const t = compile(SHOP);
    const events = t.streams.find((s) => s.name === 'events');
    assert.ok(events);
    events.topic = topic;
    return t;
  };
  assert.throws(() => planTopics(withSink('shop out'), 1),
    /topic name "shop out" \(output of events\) may only contain a-z, A-Z, 0-9, "\.", "_" and "-"/);
  assert.throws(() => planTopics(withSink('shop-in'), 1), /topic shop-in is the source topic and cannot also be the output of events/);
  assert.throws(() => planTopics(withSink('shop-dedupe-1-repartition'), 1),
    /topic shop-dedupe-1-repartition would be both the repartition of dedupe-1 and the output of events/);
  assert.equal(topicNameProblem('a'.repeat(250)), 'is 250 characters long (Kafka allows 249)');
  assert.equal(topicNameProblem('..'), 'cannot be ".."');
  assert.equal(topicNameProblem('shop-dedupe-0.seen-changelog'), undefined);
});

const describe = (name: string, partitions: number, configs: Record<string, string> = {}): TopicDescription => ({
  name,
  partitions: Array.from({ length: partitions }, (_, partition) => ({ partition, leader: 1, replicas: [1] })),
  configs,
});

test('topicMismatch: partition count and cleanup policy of internal topics; outputs are accepted as they are', () => {
  const topics = planTopics(compile(SHOP), 3).topics;
  const changelog = topics.find((x) => x.role === 'changelog');
  const repartition = topics.find((x) => x.role === 'repartition');
  assert.ok(changelog && repartition);
  assert.equal(topicMismatch(changelog, describe(changelog.name, 3, { 'cleanup.policy': 'compact' })), undefined);
  assert.equal(topicMismatch(changelog, describe(changelog.name, 2, { 'cleanup.policy': 'delete' })),
    'existing changelog topic shop-dedupe-0.seen-changelog (for dedupe-0.seen) has 2 partitions, needs 3 and has cleanup.policy=delete, needs compact');
  assert.equal(topicMismatch(repartition, describe(repartition.name, 3, { 'cleanup.policy': 'compact' })),
    'existing repartition topic shop-dedupe-1-repartition (for dedupe-1) has cleanup.policy=compact, needs delete');
  const output = planTopics(compile(SHOP), 3).topics.find((t) => t.role === 'output');
  assert.ok(output);
  assert.equal(topicMismatch(output, describe(output.name, 1, { 'cleanup.policy': 'compact' })), undefined);
});

/** An admin over an in-memory map of topics: enough for ensureTopics. */
function memoryAdapter(topics: Map<string, TopicDescription>, calls: string[], beingDeleted = new Set<string>()): KafkaAdapter {
  const admin: KafkaAdmin = {
    listTopics: async () => [...topics.keys()],
    createTopics: async (specs: TopicSpec[]) => {
      const created = specs.filter((s) => !topics.has(s.name) && !beingDeleted.delete(s.name)); // refused once
      for (const s of created) topics.set(s.name, describe(s.name, s.partitions, { 'cleanup.policy': 'delete', ...s.configs }));
      calls.push(`create ${created.map((s) => s.name).join(',')}`);
      return created.map((s) => s.name);
    },
    describeTopics: async (names) => names.flatMap((n) => topics.get(n) ?? []),
    deleteTopics: async () => { throw new Error('not used'); },
    fetchOffsets: async () => [],
    endOffsets: async () => [],
    deleteRecords: async () => {},
    groupMembers: async () => [],
    setOffsets: async () => {},
    offsetsForTime: async () => [],
    disconnect: async () => { calls.push('disconnect'); },
  };
  return {
    admin: async () => admin,
    producer: async () => { throw new Error('not used'); },
    consumer: async () => { throw new Error('not used'); },
    readPartition: () => { throw new Error('not used'); },
  };
}

test('ensureTopics creates what is missing, then finds everything in place; a mismatch fails before creating anything', async () => {
  const plan = planTopics(compile(SHOP), 3);
  const topics = new Map([['shop-out', describe('shop-out', 6)]]);
  const calls: string[] = [];
  const adapter = memoryAdapter(topics, calls);

  const first = await ensureTopics(adapter, plan);
  assert.deepEqual(first.existing, ['shop-out']);
  assert.deepEqual(first.created, plan.topics.map((t) => t.name).filter((n) => n !== 'shop-out'));
  assert.equal(topics.get('shop-dedupe-0.seen-changelog')?.configs['cleanup.policy'], 'compact');
  assert.equal(topics.get('shop-dedupe-1-repartition')?.partitions.length, 3);

  const again = await ensureTopics(adapter, plan);
  assert.deepEqual(again, { created: [], existing: plan.topics.map((t) => t.name) });
  assert.deepEqual(calls, [`create ${first.created.join(',')}`, 'disconnect', 'disconnect']);

  const other = new Map([
    ['shop-dedupe-0.seen-changelog', describe('shop-dedupe-0.seen-changelog', 3, { 'cleanup.policy': 'delete' })],
    ['shop-dedupe-1-repartition', describe('shop-dedupe-1-repartition', 1, { 'cleanup.policy': 'delete' })],
  ]);
  const otherCalls: string[] = [];
  await assert.rejects(ensureTopics(memoryAdapter(other, otherCalls), plan), {
    message: 'pipeline shop: existing changelog topic shop-dedupe-0.seen-changelog (for dedupe-0.seen) has cleanup.policy=delete, needs compact; '
      + 'existing repartition topic shop-dedupe-1-repartition (for dedupe-1) has 1 partitions, needs 3. Delete the topic or change the pipeline.',
  });
  assert.deepEqual(otherCalls, ['disconnect'], 'nothing created');
  assert.equal(other.size, 2);
});

test('ensureTopics creates again a topic whose first creation was refused because it was still being deleted', async () => {
  const plan = planTopics(compile(SHOP), 2);
  const topics = new Map<string, TopicDescription>();
  const calls: string[] = [];
  const result = await ensureTopics(memoryAdapter(topics, calls, new Set(['shop-dedupe-1-repartition'])), plan);
  assert.deepEqual([...result.created].sort(), plan.topics.map((t) => t.name).sort());
  assert.deepEqual(result.existing, []);
  assert.deepEqual(calls.slice(1), ['create shop-dedupe-1-repartition', 'disconnect']);
  assert.equal(topics.get('shop-dedupe-1-repartition')?.partitions.length, 2);
});
