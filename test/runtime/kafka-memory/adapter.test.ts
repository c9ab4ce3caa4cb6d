// The memory adapter against the behaviours the kafkajs adapter has on a real broker
// (test/integration/kafka.client.test.ts runs the same scenarios there): keyed records over
// partitions, commits and assignment callbacks, pause/resume, transactions and fencing, a second
// group member, backpressure inside a batch; plus what only the model offers (faults, crashes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { ConsumedRecord, KafkaAdapter, KafkaConsumer, TopicPartition } from '../../../lib/runtime/kafka/client.js';
import { createMemoryKafka, partitionForKey, type MemoryKafka } from '../../../lib/runtime/kafka/memory/index.js';

const text = (b: Buffer | null) => b?.toString() ?? '';
const sortTp = (tps: TopicPartition[]) => [...tps].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);

/** Lets the event loop turn until `done` holds (at most `turns` times). */
async function until(done: () => boolean, what: () => string, turns = 2000): Promise<void> {
  for (let i = 0; i < turns && !done(); i++) await tick();
  if (!done()) throw new Error(`not reached: ${what()}`);
}

async function createTopic(kafka: MemoryKafka, name: string, partitions = 1, configs: Record<string, string> = {}): Promise<string> {
  const admin = await kafka.adapter('admin').admin();
  assert.deepEqual(await admin.createTopics([{ name, partitions, configs }]), [name]);
  await admin.disconnect();
  return name;
}

/** A consumer of `topics` from the beginning that resolves and collects every record. */
async function collecting(kafka: KafkaAdapter, groupId: string, topics: string[], options: { readCommitted?: boolean; commit?: boolean } = {}) {
  const received: ConsumedRecord[] = [];
  const assigned: TopicPartition[][] = [];
  const revoked: TopicPartition[][] = [];
  const consumer = await kafka.consumer({ groupId, ...(options.readCommitted === undefined ? {} : { readCommitted: options.readCommitted }) });
  consumer.onAssign((p) => assigned.push(p));
  consumer.onRevoke((p) => revoked.push(p));
  await consumer.subscribe(topics, { fromBeginning: true });
  await consumer.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) {
        received.push(r);
        batch.resolveOffset(r.offset);
      }
      const last = batch.records.at(-1);
      if (options.commit && last) await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
      await batch.heartbeat();
    },
  });
  return { consumer, received, assigned, revoked };
}

test('keys go where kafkajs\'s default partitioner puts them (murmur2)', () => {
  const partitioner = kafkajs.Partitioners.DefaultPartitioner();
  for (const n of [1, 3, 6, 12]) {
    const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], offlineReplicas: [], partitionErrorCode: 0 }));
    for (const key of ['', 'a', 'ab', 'abc', 'alice', 'u-1234', 'ünïcödé', 'a-little-bit-longer-string']) {
      const want = partitioner({ topic: 't', partitionMetadata, message: { key: Buffer.from(key), value: null } });
      assert.equal(partitionForKey(Buffer.from(key), n), want, `${JSON.stringify(key)} over ${n}`);
    }
  }
});

test('keyed records over 3 partitions: once each, per-key order, one partition per key, headers kept; commits and assignment callbacks', async () => {
  const kafka = createMemoryKafka();
  const topic = await createTopic(kafka, 'it-adapter', 3);
  const adapter = kafka.adapter();
  const keys = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
  const sent = Array.from({ length: 5 }, (_, seq) => keys.map((key) => ({ key, seq }))).flat();
  const producer = await adapter.producer();
  for (let i = 0; i < sent.length; i += 10) {
    await producer.send(sent.slice(i, i + 10).map((e) => ({
      topic, key: Buffer.from(e.key), value: Buffer.from(JSON.stringify(e)), headers: { seq: String(e.seq), bin: Buffer.from([0, 255]) }, timestamp: 1000 + e.seq,
    })));
  }
  await producer.disconnect();

  const { consumer, received, assigned, revoked } = await collecting(adapter, 'g', [topic], { commit: true });
  await until(() => received.length >= 30, () => `${received.length} of 30 records`);
  await consumer.disconnect();

  assert.deepEqual(received.map((r) => text(r.value)).sort(), sent.map((e) => JSON.stringify(e)).sort());
  for (const r of received) {
    const e = JSON.parse(text(r.value)) as { key: string; seq: number };
    assert.equal(text(r.key), e.key);
    assert.deepEqual(r.headers, { seq: Buffer.from(String(e.seq)), bin: Buffer.from([0, 255]) });
    assert.equal(r.timestamp, 1000 + e.seq);
  }
  for (const key of keys) {
    const mine = received.filter((r) => text(r.key) === key);
    assert.deepEqual(mine.map((r) => (JSON.parse(text(r.value)) as { seq: number }).seq), [0, 1, 2, 3, 4], `order of ${key}`);
    assert.deepEqual([...new Set(mine.map((r) => r.partition))], [partitionForKey(Buffer.from(key), 3)], `${key} lives in its partition`);
  }
  const all = [0, 1, 2].map((partition) => ({ topic, partition }));
  assert.deepEqual(assigned.map(sortTp), [all], 'one join, all three partitions');
  assert.deepEqual(revoked.map(sortTp), [all], 'disconnect revokes them');

  const admin = await adapter.admin();
  const ends = await admin.endOffsets(topic);
  assert.equal(ends.reduce((n, e) => n + Number(e.high) - Number(e.low), 0), 30);
  assert.deepEqual(await admin.fetchOffsets('g', topic), ends.map((e) => ({ partition: e.partition, offset: e.high })), 'committed = end offsets');
  await admin.disconnect();
});

test('a paused partition delivers nothing until resumed; the others keep flowing; pause() before run() throws', async () => {
  const kafka = createMemoryKafka();
  const topic = await createTopic(kafka, 'it-pause', 3);
  const adapter = kafka.adapter();
  const producer = await adapter.producer();
  await producer.send([0, 1, 2].flatMap((partition) => Array.from({ length: 5 }, (_, i) => ({
    topic, partition, key: Buffer.from(`k${partition}`), value: Buffer.from(`p${partition}-${i}`),
  }))));

  const received: ConsumedRecord[] = [];
  const consumer: KafkaConsumer = await adapter.consumer({ groupId: 'g' });
  assert.throws(() => consumer.pause([{ topic, partition: 1 }]), /consumer#run must be called first/);
  consumer.onAssign((partitions) => consumer.pause(partitions.filter((p) => p.partition === 1)));
  await consumer.subscribe([topic], { fromBeginning: true });
  await consumer.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) {
        received.push(r);
        batch.resolveOffset(r.offset);
      }
    },
  });
  await until(() => received.length >= 10, () => `${received.length} of 10`);
  for (let i = 0; i < 50; i++) await tick();
  assert.deepEqual(consumer.paused(), [{ topic, partition: 1 }]);
  assert.deepEqual([...new Set(received.map((r) => r.partition))].sort(), [0, 2]);
  assert.equal(received.length, 10);

  consumer.resume([{ topic, partition: 1 }]);
  await until(() => received.length >= 15, () => `${received.length} of 15 after resume`);
  assert.deepEqual(consumer.paused(), []);
  assert.deepEqual(received.filter((r) => r.partition === 1).map((r) => text(r.value)), ['p1-0', 'p1-1', 'p1-2', 'p1-3', 'p1-4']);
  await consumer.disconnect();
  assert.equal(received.length, 15);
});

test('transactions: outputs and group offsets commit together; an aborted one leaves neither behind; endOffsets stops at an open transaction', async () => {
  const kafka = createMemoryKafka();
  const input = await createTopic(kafka, 'it-tx-in');
  const output = await createTopic(kafka, 'it-tx-out');
  const adapter = kafka.adapter();
  const plain = await adapter.producer();
  await plain.send(['i0', 'i1', 'i2', 'i3', 'i4', 'i5'].map((v) => ({ topic: input, key: Buffer.from('k'), value: Buffer.from(v) })));
  await assert.rejects(plain.transaction(), /the producer has no transactionalId/);

  const producer = await adapter.producer({ transactionalId: 'tx-1' });
  await assert.rejects(producer.send([{ topic: output, key: null, value: null }]), /transactional: send inside a transaction/);
  const admin = await adapter.admin();
  const inTransaction = async (values: string[], nextOffset: number, end: 'commit' | 'abort', beforeEnd?: () => Promise<void>) => {
    const tx = await producer.transaction();
    await tx.send(values.map((v) => ({ topic: output, key: Buffer.from('k'), value: Buffer.from(v) })));
    await tx.sendOffsets({ groupId: 'g', offsets: [{ topic: input, partition: 0, offset: String(nextOffset) }] });
    await beforeEnd?.();
    await (end === 'commit' ? tx.commit() : tx.abort());
  };
  await inTransaction(['o0', 'o1', 'o2'], 3, 'commit');
  await inTransaction(['x3', 'x4'], 5, 'abort', async () => {
    assert.deepEqual(await admin.endOffsets(output), [{ partition: 0, low: '0', high: '4' }], 'o0..o2 and their commit marker');
    assert.deepEqual(kafka.broker.records(output).map((r) => text(r.value)), ['o0', 'o1', 'o2'], 'read_committed: not the open transaction');
  });
  assert.deepEqual(await admin.fetchOffsets('g', input), [{ partition: 0, offset: '3' }], 'the aborted offsets are not committed');
  await inTransaction(['o3', 'o4', 'o5'], 6, 'commit');
  assert.deepEqual(await admin.endOffsets(output), [{ partition: 0, low: '0', high: '11' }], '8 records and 3 markers (commit, abort, commit)');
  await admin.disconnect();

  const committed = await collecting(adapter, 'read', [output]);
  const everything = await collecting(adapter, 'read-all', [output], { readCommitted: false });
  const resumed = await collecting(adapter, 'g', [input]);
  await until(() => committed.received.length >= 6 && everything.received.length >= 8, () => 'readers');
  await plain.send([{ topic: input, key: Buffer.from('k'), value: Buffer.from('i6') }]);
  await until(() => resumed.received.length >= 1, () => 'the group did not read the new input record');
  await Promise.all([committed.consumer.disconnect(), everything.consumer.disconnect(), resumed.consumer.disconnect()]);
  assert.deepEqual(committed.received.map((r) => text(r.value)), ['o0', 'o1', 'o2', 'o3', 'o4', 'o5']);
  assert.deepEqual(everything.received.map((r) => text(r.value)), ['o0', 'o1', 'o2', 'x3', 'x4', 'o3', 'o4', 'o5'], 'the aborted records are in the log');
  assert.deepEqual(resumed.received.map((r) => [r.offset, text(r.value)]), [['6', 'i6']], 'the group resumes at the offset the last transaction committed');
  const restored: string[] = [];
  for await (const r of adapter.readPartition(output, 0, { from: 'earliest', upTo: '10' })) restored.push(`${r.offset}:${text(r.value)}`);
  assert.deepEqual(restored, ['0:o0', '1:o1', '2:o2', '7:o3', '8:o4', '9:o5'], 'readPartition reads committed records and passes the markers');
});

test('a second member: partitions split without overlap, onRevoke before onAssign, and come back when it leaves', async () => {
  const kafka = createMemoryKafka();
  const topic = await createTopic(kafka, 'it-rebalance', 4);
  const member = async (clientId: string) => {
    const consumer = await kafka.adapter(clientId).consumer({ groupId: 'g' });
    const events: string[] = [];
    consumer.onAssign((p) => events.push(`+${sortTp(p).map((x) => x.partition).join(',')}`));
    consumer.onRevoke((p) => events.push(`-${sortTp(p).map((x) => x.partition).join(',')}`));
    await consumer.subscribe([topic]);
    await consumer.run({ eachBatch: async () => {} });
    return { consumer, events };
  };
  const parts = (c: KafkaConsumer) => sortTp(c.assignment()).map((x) => x.partition);
  const a = await member('a');
  assert.deepEqual(parts(a.consumer), [0, 1, 2, 3]);
  const b = await member('b');
  assert.deepEqual([parts(a.consumer), parts(b.consumer)], [[0, 2], [1, 3]], 'round-robin over the members sorted by id');
  assert.deepEqual(a.events, ['+0,1,2,3', '-1,3']);
  assert.deepEqual(b.events, ['+1,3']);
  await b.consumer.disconnect();
  assert.deepEqual(b.events, ['+1,3', '-1,3'], 'leaving revokes everything');
  assert.deepEqual(parts(a.consumer), [0, 1, 2, 3]);
  assert.equal(a.events.at(-1), '+1,3', 'a is told only about the partitions it gained');
  await a.consumer.disconnect();
});

test('a rebalance waits for the batch in hand; commits of that member still count; heartbeat says REBALANCE_IN_PROGRESS', async () => {
  const kafka = createMemoryKafka();
  const topic = await createTopic(kafka, 'it-busy', 2);
  const adapter = kafka.adapter('a');
  const producer = await adapter.producer();
  await producer.send([{ topic, partition: 0, key: null, value: Buffer.from('x') }, { topic, partition: 1, key: null, value: Buffer.from('y') }]);
  let release: () => void = () => {};
  const heartbeats: string[] = [];
  let first = true;
  const a = await adapter.consumer({ groupId: 'g' });
  await a.subscribe([topic], { fromBeginning: true });
  const entered = new Promise<void>((entered) => {
    void a.run({
      eachBatch: async (batch) => {
        if (!first) return;
        first = false;
        entered();
        await new Promise<void>((ok) => (release = ok));
        await batch.heartbeat().then(() => heartbeats.push('ok'), (e: Error & { type?: string }) => heartbeats.push(e.type ?? e.message));
        batch.resolveOffset(batch.records[0]!.offset);
        await a.commit([{ topic, partition: batch.partition, offset: '1', metadata: 'm' }]);
      },
    });
  });
  await entered;
  const b = await kafka.adapter('b').consumer({ groupId: 'g' });
  await b.subscribe([topic]);
  let bJoined = false;
  void b.run({ eachBatch: async () => {} }).then(() => (bJoined = true));
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(bJoined, false, 'b waits while a is inside a batch');
  assert.deepEqual(kafka.broker.groupMembers('g'), ['a-000001', 'b-000002']);
  release();
  await until(() => bJoined, () => 'b joined');
  assert.deepEqual(heartbeats, ['REBALANCE_IN_PROGRESS']);
  assert.deepEqual(kafka.broker.committed('g', topic).filter((o) => o.offset !== '-1'), [{ partition: 0, offset: '1', metadata: 'm' }]);
  assert.deepEqual([a.assignment(), b.assignment()], [[{ topic, partition: 0 }], [{ topic, partition: 1 }]]);
  await Promise.all([a.disconnect(), b.disconnect()]);
});

test('a newer producer with the same transactional id fences the older one and aborts its open transaction', async () => {
  const kafka = createMemoryKafka();
  const output = await createTopic(kafka, 'it-fence');
  const adapter = kafka.adapter();
  const record = (v: string) => ({ topic: output, key: Buffer.from('k'), value: Buffer.from(v) });
  const idle = await adapter.producer({ transactionalId: 't' });
  const newer = await adapter.producer({ transactionalId: 't' });
  await assert.rejects(idle.transaction(), { type: 'PRODUCER_FENCED' });
  const tx = await newer.transaction();
  await tx.send([record('newer')]);
  await tx.commit();

  const zombie = await adapter.producer({ transactionalId: 't' });
  const stale = await zombie.transaction();
  await stale.send([record('zombie-1')]);
  assert.deepEqual((await (await adapter.admin()).endOffsets(output))[0]!.high, '2', 'the open transaction holds the LSO');
  const successor = await adapter.producer({ transactionalId: 't' });
  await assert.rejects(stale.send([record('zombie-2')]), { type: 'PRODUCER_FENCED' });
  await assert.rejects(stale.commit(), { type: 'PRODUCER_FENCED' });
  const tx2 = await successor.transaction();
  await tx2.send([record('successor')]);
  await tx2.commit();
  assert.deepEqual(kafka.broker.records(output).map((r) => text(r.value)), ['newer', 'successor']);
  assert.deepEqual(kafka.broker.records(output, { readCommitted: false }).map((r) => text(r.value)), ['newer', 'zombie-1', 'successor']);
});

test('backpressure inside a batch: stop after 3 records and batch.pause(); after resume the unresolved rest comes again, nothing twice', async () => {
  const kafka = createMemoryKafka();
  const topic = await createTopic(kafka, 'it-batch-pause');
  const adapter = kafka.adapter();
  const producer = await adapter.producer();
  await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic, key: Buffer.from('k'), value: Buffer.from(`v${i}`) })));
  const processed: string[] = [];
  let batches = 0;
  let resume: (() => void) | undefined;
  const consumer = await adapter.consumer({ groupId: 'g' });
  await consumer.subscribe([topic], { fromBeginning: true });
  await consumer.run({
    eachBatch: async (batch) => {
      batches += 1;
      for (const r of batch.records) {
        if (batches === 1 && processed.length === 3) {
          resume = batch.pause();
          return;
        }
        processed.push(`${r.offset}:${text(r.value)}`);
        batch.resolveOffset(r.offset);
      }
    },
  });
  await until(() => resume !== undefined, () => 'paused');
  for (let i = 0; i < 20; i++) await tick();
  assert.deepEqual(processed, ['0:v0', '1:v1', '2:v2']);
  assert.deepEqual(consumer.paused(), [{ topic, partition: 0 }]);
  resume?.();
  await until(() => processed.length >= 10, () => `${processed.length} of 10 after resume`);
  await consumer.disconnect();
  assert.deepEqual(processed, Array.from({ length: 10 }, (_, i) => `${i}:v${i}`));
  assert.equal(batches, 2);
});

test('faults: a send written then failed, a failed offset commit, a failed transaction commit; a crashed client is out of its group', async () => {
  const kafka = createMemoryKafka();
  const topic = await createTopic(kafka, 'it-faults', 2);
  const a = kafka.adapter('a');
  const producer = await a.producer({ idempotent: true });
  const lost = kafka.broker.failNext('send', { written: true });
  const refused = kafka.broker.failNext('send', { skip: 1, error: new Error('boom') });
  await assert.rejects(producer.send([{ topic, partition: 0, key: null, value: Buffer.from('w') }]), { type: 'INJECTED' });
  await producer.send([{ topic, partition: 0, key: null, value: Buffer.from('ok') }]);
  await assert.rejects(producer.send([{ topic, partition: 0, key: null, value: Buffer.from('never') }]), /boom/);
  assert.deepEqual(kafka.broker.records(topic).map((r) => text(r.value)), ['w', 'ok']);
  assert.deepEqual([lost.hits, refused.hits], [['a: send of 1 records to it-faults (written, then failed)'], ['a: send of 1 records to it-faults']]);

  const txp = await a.producer({ transactionalId: 'tx' });
  kafka.broker.failNext('txCommit');
  const tx = await txp.transaction();
  await tx.send([{ topic, partition: 1, key: null, value: Buffer.from('in-tx') }]);
  await assert.rejects(tx.commit(), { type: 'INJECTED' });
  assert.deepEqual(kafka.broker.records(topic).map((r) => text(r.value)), ['w', 'ok'], 'still open: invisible');
  await tx.abort();
  assert.deepEqual(kafka.broker.records(topic, { readCommitted: false }).map((r) => text(r.value)), ['w', 'ok', 'in-tx']);

  const consumer = await a.consumer({ groupId: 'g' });
  await consumer.subscribe([topic], { fromBeginning: true });
  await consumer.run({ eachBatch: async () => {} });
  kafka.broker.failNext('commit', { topic });
  await assert.rejects(consumer.commit([{ topic, partition: 0, offset: '1' }]), { type: 'INJECTED' });
  assert.deepEqual(kafka.broker.committed('g', topic), [{ partition: 0, offset: '-1' }, { partition: 1, offset: '-1' }]);
  await consumer.commit([{ topic, partition: 0, offset: '1' }]);

  const b = await kafka.adapter('b').consumer({ groupId: 'g' });
  await b.subscribe([topic]);
  await b.run({ eachBatch: async () => {} });
  assert.equal(b.assignment().length, 1);
  kafka.broker.crash('a');
  assert.deepEqual(kafka.broker.groupMembers('g'), ['b-000002']);
  assert.deepEqual(sortTp(b.assignment()).map((tp) => tp.partition), [0, 1], 'the survivor holds everything');
  await assert.rejects(consumer.commit([{ topic, partition: 0, offset: '2' }]), { type: 'NETWORK_EXCEPTION' });
  await assert.rejects(producer.send([{ topic, key: null, value: null }]), /client a crashed/);
  const again = await kafka.adapter('a').producer();
  await again.send([{ topic, partition: 0, key: null, value: Buffer.from('after') }]);
  await consumer.disconnect();
  await b.disconnect();
});

test('deleteRecords moves the log start; compaction keeps the last record per key and readPartition passes the gaps', async () => {
  const kafka = createMemoryKafka();
  const topic = await createTopic(kafka, 'it-compact', 1, { 'cleanup.policy': 'compact' });
  const adapter = kafka.adapter();
  const producer = await adapter.producer();
  await producer.send(['a1', 'b1', 'a2', 'c1', 'b2', 'a3'].map((v) => ({ topic, key: Buffer.from(v[0]!), value: Buffer.from(v) })));
  assert.equal(kafka.broker.compact(topic), 3);
  const read = async (from: string, upTo: string) => {
    const out: string[] = [];
    for await (const r of adapter.readPartition(topic, 0, { from, upTo })) out.push(`${r.offset}:${text(r.value)}`);
    return out;
  };
  assert.deepEqual(await read('earliest', '5'), ['3:c1', '4:b2', '5:a3']);
  assert.deepEqual(await read('0', '2'), [], 'ends once the position passes upTo, across the gap');
  const admin = await adapter.admin();
  assert.deepEqual((await admin.describeTopics([topic, 'missing']))[0]!.configs['cleanup.policy'], 'compact');
  await admin.deleteRecords(topic, [{ partition: 0, offset: '4' }]);
  assert.deepEqual(await admin.endOffsets(topic), [{ partition: 0, low: '4', high: '6' }]);
  assert.deepEqual(await read('earliest', '5'), ['4:b2', '5:a3']);
  await admin.disconnect();
});

test('admin and produce: created names only, configs with defaults, no auto-creation, tombstones, keyless round-robin, batch size limit', async () => {
  const kafka = createMemoryKafka({ clock: { now: () => 42 } });
  const adapter = kafka.adapter();
  const admin = await adapter.admin();
  assert.deepEqual(await admin.createTopics([{ name: 't1', partitions: 2, configs: { 'cleanup.policy': 'compact' } }, { name: 't2', partitions: 1 }]), ['t1', 't2']);
  assert.deepEqual(await admin.createTopics([{ name: 't1', partitions: 5 }, { name: 't3', partitions: 1 }]), ['t3'], 'an existing topic is left as it is');
  await assert.rejects(admin.createTopics([{ name: 'a b', partitions: 1 }]), { type: 'INVALID_TOPIC_EXCEPTION' });
  await assert.rejects(admin.createTopics([{ name: 'zero', partitions: 0 }]), { type: 'INVALID_PARTITIONS' });
  assert.deepEqual(await admin.listTopics(), ['t1', 't2', 't3']);
  assert.deepEqual(await admin.describeTopics(['t1', 'nope']), [{
    name: 't1',
    partitions: [{ partition: 0, leader: 1, replicas: [1] }, { partition: 1, leader: 1, replicas: [1] }],
    configs: { 'cleanup.policy': 'compact', 'retention.ms': '604800000', 'max.message.bytes': '1048588', 'message.timestamp.type': 'CreateTime' },
  }]);
  await assert.rejects(admin.fetchOffsets('g', 'nope'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });

  const producer = await adapter.producer();
  await assert.rejects(producer.send([{ topic: 'nope', key: null, value: null }]), /topic nope does not exist/);
  await assert.rejects(producer.send([{ topic: 't1', partition: 2, key: null, value: null }]), /topic t1 has no partition 2/);
  assert.deepEqual(await producer.send([
    { topic: 't1', key: null, value: Buffer.from('x') }, { topic: 't1', key: null, value: Buffer.from('y') },
    { topic: 't1', key: null, value: Buffer.from('z') }, { topic: 't2', key: Buffer.from('k'), value: null },
  ]), [{ topic: 't1', partition: 0, baseOffset: '0' }, { topic: 't1', partition: 1, baseOffset: '0' }, { topic: 't2', partition: 0, baseOffset: '0' }]);
  assert.deepEqual(kafka.broker.records('t1').map((r) => `${r.partition}/${r.offset} ${text(r.value)} @${r.timestamp}`), ['0/0 x @42', '0/1 z @42', '1/0 y @42']);
  assert.deepEqual(kafka.broker.records('t2').map((r) => [text(r.key), r.value]), [['k', null]], 'a tombstone keeps its null value');
  await assert.rejects(producer.send(Array.from({ length: 3 }, () => ({ topic: 't3', key: null, value: Buffer.alloc(400_000) }))), { type: 'MESSAGE_TOO_LARGE' });
  assert.deepEqual(kafka.broker.records('t3'), [], 'nothing of a refused send is written');

  await admin.deleteTopics(['t2', 'nope']);
  assert.deepEqual(await admin.listTopics(), ['t1', 't3']);
  await admin.disconnect();
  await assert.rejects(admin.listTopics(), { type: 'NOT_CONNECTED' });
});
