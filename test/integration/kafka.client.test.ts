// The kafkajs adapter (lib/runtime/kafka/client.ts) against the real broker: keyed batches over
// partitions with a group, assignment callbacks and explicit commits, pause/resume of one
// partition, and transactions that commit outputs and group offsets atomically.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import {
  createKafkaJsAdapter,
  type ConsumedRecord,
  type KafkaAdapter,
  type KafkaConsumer,
  type KafkaProducer,
  type TopicPartition,
} from '../../lib/runtime/kafka/client.js';
import { createTopic, deleteTopics, kafkaBrokers, skipReason, uniqueName } from '../support/kafka.js';

const skip = kafkaBrokers() ? false : skipReason();

const adapter = (): KafkaAdapter => createKafkaJsAdapter({ brokers: kafkaBrokers() ?? [], clientId: 'tributary-it', logLevel: 'nothing' });

const text = (b: Buffer | null) => b?.toString() ?? '';

/** Polls `done` every 50 ms until it holds, or fails after `timeoutMs` with `what()`. */
async function until(done: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what()}`);
    await sleep(50);
  }
}

/** Starts a consumer of `topics` from the beginning that resolves and collects every record. */
async function collecting(kafka: KafkaAdapter, groupId: string, topics: string[], options: { readCommitted?: boolean; commit?: boolean } = {}) {
  const received: ConsumedRecord[] = [];
  const assigned: TopicPartition[][] = [];
  const revoked: TopicPartition[][] = [];
  const consumer = await kafka.consumer({ groupId, maxWaitTimeInMs: 100, ...(options.readCommitted === undefined ? {} : { readCommitted: options.readCommitted }) });
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
      if (options.commit && last) {
        await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
      }
      await batch.heartbeat();
    },
  });
  return { consumer, received, assigned, revoked };
}

const sortTp = (tps: TopicPartition[]) => [...tps].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);

test('keyed records over 3 partitions: once each, per-key order, one partition per key, headers kept; commits and assignment callbacks',
  { skip, timeout: 90_000 }, async (t) => {
    const topic = await createTopic(uniqueName('it-adapter'), { partitions: 3 });
    t.after(() => deleteTopics(topic));
    const kafka = adapter();
    const groupId = uniqueName('it-adapter-group');

    const keys = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
    const sent = Array.from({ length: 5 }, (_, seq) => keys.map((key) => ({ key, seq }))).flat();
    const producer = await kafka.producer();
    try {
      for (let i = 0; i < sent.length; i += 10) {
        await producer.send(sent.slice(i, i + 10).map((e) => ({
          topic, key: Buffer.from(e.key), value: Buffer.from(JSON.stringify(e)), headers: { seq: String(e.seq), bin: Buffer.from([0, 255]) },
        })));
      }
    } finally {
      await producer.disconnect();
    }

    const { consumer, received, assigned, revoked } = await collecting(kafka, groupId, [topic], { commit: true });
    try {
      await until(() => received.length >= 30, () => `${received.length} of 30 records`);
      await sleep(500); // duplicates would show now
    } finally {
      await consumer.disconnect();
    }

    assert.equal(received.length, 30);
    assert.deepEqual(received.map((r) => text(r.value)).sort(), sent.map((e) => JSON.stringify(e)).sort());
    for (const r of received) {
      const e = JSON.parse(text(r.value)) as { key: string; seq: number };
      assert.equal(text(r.key), e.key);
      assert.equal(r.topic, topic);
      assert.deepEqual(r.headers, { seq: Buffer.from(String(e.seq)), bin: Buffer.from([0, 255]) });
      assert.ok(r.timestamp > 0);
    }
    for (const key of keys) {
      const mine = received.filter((r) => text(r.key) === key);
      assert.deepEqual(mine.map((r) => (JSON.parse(text(r.value)) as { seq: number }).seq), [0, 1, 2, 3, 4], `order of ${key}`);
      assert.equal(new Set(mine.map((r) => r.partition)).size, 1, `${key} lives in one partition`);
    }
    const all = [0, 1, 2].map((partition) => ({ topic, partition }));
    assert.deepEqual(assigned.map(sortTp), [all], 'one join, all three partitions');
    assert.deepEqual(revoked.map(sortTp), [all], 'disconnect revokes them');

    const admin = await kafka.admin();
    try {
      const ends = await admin.endOffsets(topic);
      assert.equal(ends.reduce((n, e) => n + Number(e.high) - Number(e.low), 0), 30);
      const committed = await admin.fetchOffsets(groupId, topic);
      assert.deepEqual(committed, ends.map((e) => ({ partition: e.partition, offset: e.high })), 'committed = end offsets');
    } finally {
      await admin.disconnect();
    }
  });

test('a paused partition delivers nothing until resumed; the others keep flowing', { skip, timeout: 90_000 }, async (t) => {
  const topic = await createTopic(uniqueName('it-pause'), { partitions: 3 });
  t.after(() => deleteTopics(topic));
  const kafka = adapter();

  const producer = await kafka.producer();
  try {
    await producer.send([0, 1, 2].flatMap((partition) => Array.from({ length: 5 }, (_, i) => ({
      topic, partition, key: Buffer.from(`k${partition}`), value: Buffer.from(`p${partition}-${i}`),
    }))));
  } finally {
    await producer.disconnect();
  }

  const received: ConsumedRecord[] = [];
  const consumer: KafkaConsumer = await kafka.consumer({ groupId: uniqueName('it-pause-group'), maxWaitTimeInMs: 100 });
  try {
    // Paused on assignment, before the first fetch: kafkajs's pause() works only once run() began.
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
    await until(() => received.length >= 10, () => `${received.length} of the 10 records of partitions 0 and 2`);
    await sleep(1500); // several fetch rounds (maxWait 100 ms) without partition 1
    assert.deepEqual(consumer.paused(), [{ topic, partition: 1 }]);
    assert.deepEqual([...new Set(received.map((r) => r.partition))].sort(), [0, 2]);
    assert.equal(received.length, 10);

    consumer.resume([{ topic, partition: 1 }]);
    await until(() => received.length >= 15, () => `${received.length} of 15 records after resume`);
    await sleep(300);
    assert.deepEqual(consumer.paused(), []);
    assert.deepEqual(received.filter((r) => r.partition === 1).map((r) => text(r.value)), ['p1-0', 'p1-1', 'p1-2', 'p1-3', 'p1-4']);
    assert.equal(received.length, 15);
  } finally {
    await consumer.disconnect();
  }
});

test('transactions: outputs and group offsets commit together; an aborted one leaves neither behind', { skip, timeout: 120_000 }, async (t) => {
  const input = await createTopic(uniqueName('it-tx-in'));
  const output = await createTopic(uniqueName('it-tx-out'));
  t.after(() => deleteTopics(input, output));
  const kafka = adapter();
  const groupId = uniqueName('it-tx-group');

  const plain = await kafka.producer();
  try {
    await plain.send(['i0', 'i1', 'i2', 'i3', 'i4', 'i5'].map((v) => ({ topic: input, key: Buffer.from('k'), value: Buffer.from(v) })));
  } finally {
    await plain.disconnect();
  }

  const producer = await kafka.producer({ transactionalId: uniqueName('it-tx-id') });
  try {
    await assert.rejects(plain.transaction(), /the producer has no transactionalId/);
    const inTransaction = async (values: string[], nextOffset: number, end: 'commit' | 'abort', beforeEnd?: () => Promise<void>) => {
      const tx = await producer.transaction();
      await tx.send(values.map((v) => ({ topic: output, key: Buffer.from('k'), value: Buffer.from(v) })));
      await tx.sendOffsets({ groupId, offsets: [{ topic: input, partition: 0, offset: String(nextOffset) }] });
      await beforeEnd?.();
      await (end === 'commit' ? tx.commit() : tx.abort());
    };
    const admin = await kafka.admin();
    try {
      await inTransaction(['o0', 'o1', 'o2'], 3, 'commit'); // input 0..2 processed
      // input 3..4 processed, then the task failed. While open, endOffsets is the last stable
      // offset (kafkajs lists offsets read_committed): o0..o2 and their commit marker.
      await inTransaction(['x3', 'x4'], 5, 'abort', async () => {
        assert.deepEqual(await admin.endOffsets(output), [{ partition: 0, low: '0', high: '4' }]);
      });
      assert.deepEqual(await admin.fetchOffsets(groupId, input), [{ partition: 0, offset: '3' }], 'the aborted offsets are not committed');
    } finally {
      await admin.disconnect();
    }
    await inTransaction(['o3', 'o4', 'o5'], 6, 'commit'); // the retry
  } finally {
    await producer.disconnect();
  }

  const committed = await collecting(kafka, uniqueName('it-tx-read'), [output]);
  const everything = await collecting(kafka, uniqueName('it-tx-read-all'), [output], { readCommitted: false });
  const resumed = await collecting(kafka, groupId, [input]); // the transactional group: starts at its committed offset
  try {
    await until(() => committed.received.length >= 6 && everything.received.length >= 8 && resumed.assigned.length > 0,
      () => `read_committed ${committed.received.length}/6, read_uncommitted ${everything.received.length}/8, group assigned: ${resumed.assigned.length > 0}`);
    const next = await kafka.producer();
    try {
      await next.send([{ topic: input, key: Buffer.from('k'), value: Buffer.from('i6') }]);
    } finally {
      await next.disconnect();
    }
    await until(() => resumed.received.length >= 1, () => 'the group did not read the new input record');
    await sleep(1000);
  } finally {
    await Promise.all([committed.consumer.disconnect(), everything.consumer.disconnect(), resumed.consumer.disconnect()]);
  }
  assert.deepEqual(committed.received.map((r) => text(r.value)), ['o0', 'o1', 'o2', 'o3', 'o4', 'o5']);
  assert.deepEqual(everything.received.map((r) => text(r.value)), ['o0', 'o1', 'o2', 'x3', 'x4', 'o3', 'o4', 'o5'], 'the aborted records are in the log');
  assert.deepEqual(resumed.received.map((r) => [r.offset, text(r.value)]), [['6', 'i6']], 'the group resumes at the offset the last transaction committed');
});

test('a second member of the group: the partitions split without overlap, onRevoke/onAssign report the moves, and come back when it leaves',
  { skip, timeout: 120_000 }, async (t) => {
    const topic = await createTopic(uniqueName('it-rebalance'), { partitions: 4 });
    t.after(() => deleteTopics(topic));
    const kafka = adapter();
    const groupId = uniqueName('it-rebalance-group');
    const member = async () => {
      const consumer = await kafka.consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 300, sessionTimeout: 10_000 });
      const events: string[] = [];
      consumer.onAssign((p) => events.push(`+${sortTp(p).map((x) => x.partition).join(',')}`));
      consumer.onRevoke((p) => events.push(`-${sortTp(p).map((x) => x.partition).join(',')}`));
      await consumer.subscribe([topic]);
      await consumer.run({ eachBatch: async () => {} });
      return { consumer, events };
    };
    const parts = (c: KafkaConsumer) => sortTp(c.assignment()).map((x) => x.partition);

    const a = await member();
    let aOpen = true;
    t.after(() => (aOpen ? a.consumer.disconnect() : undefined));
    await until(() => parts(a.consumer).length === 4, () => `a has ${parts(a.consumer)}`);
    const b = await member();
    try {
      await until(() => parts(a.consumer).length === 2 && parts(b.consumer).length === 2,
        () => `a has [${parts(a.consumer)}], b has [${parts(b.consumer)}]`);
      assert.deepEqual([...parts(a.consumer), ...parts(b.consumer)].sort(), [0, 1, 2, 3], 'disjoint and complete');
      assert.deepEqual(a.events, ['+0,1,2,3', `-${[0, 1, 2, 3].filter((p) => !parts(a.consumer).includes(p)).join(',')}`]);
      assert.deepEqual(b.events, [`+${parts(b.consumer).join(',')}`]);
    } finally {
      await b.consumer.disconnect();
    }
    const bHad = b.events[0]?.slice(1);
    assert.deepEqual(b.events, [`+${bHad}`, `-${bHad}`], 'leaving revokes everything');
    await until(() => parts(a.consumer).length === 4, () => `a has [${parts(a.consumer)}] after b left`);
    assert.equal(a.events.at(-1), `+${bHad}`, 'a is told only about the partitions it gained');
    await a.consumer.disconnect();
    aOpen = false;
  });

test('a newer producer with the same transactional id fences the older one, idle or inside a transaction (aborted)',
  { skip, timeout: 90_000 }, async (t) => {
    const output = await createTopic(uniqueName('it-fence'));
    t.after(() => deleteTopics(output));
    const kafka = adapter();
    const transactionalId = uniqueName('it-fence-task-0');
    const record = (v: string) => ({ topic: output, key: Buffer.from('k'), value: Buffer.from(v) });

    // (a) An idle producer whose first transaction comes after its successor appeared: kafkajs
    // would re-run InitProducerId at that first transaction() and fence the successor instead.
    const idle = await kafka.producer({ transactionalId });
    const newer = await kafka.producer({ transactionalId });
    try {
      await assert.rejects(async () => {
        const tx = await idle.transaction();
        await tx.send([record('idle-zombie')]);
        await tx.commit();
      });
      const tx = await newer.transaction();
      await tx.send([record('newer')]);
      await tx.commit();
    } finally {
      await Promise.all([idle.disconnect().catch(() => {}), newer.disconnect()]);
    }

    // (b) A producer with an open transaction when its successor appears.
    const zombie = await kafka.producer({ transactionalId });
    let successor: KafkaProducer | undefined;
    try {
      const stale = await zombie.transaction();
      await stale.send([record('zombie-1')]); // in flight when the task moves to another instance
      successor = await kafka.producer({ transactionalId }); // fences the zombie, aborts its transaction
      await assert.rejects(stale.send([record('zombie-2')]).then(() => stale.commit()));
      const tx = await successor.transaction();
      await tx.send([record('successor')]);
      await tx.commit();
    } finally {
      await Promise.all([zombie.disconnect().catch(() => {}), successor?.disconnect()]);
    }

    const read = await collecting(kafka, uniqueName('it-fence-read'), [output]);
    try {
      await until(() => read.received.length >= 2, () => `${read.received.length} of 2 committed records arrived`);
      await sleep(1000);
    } finally {
      await read.consumer.disconnect();
    }
    assert.deepEqual(read.received.map((r) => text(r.value)), ['newer', 'successor']);
  });

test('backpressure inside a batch: stop after 3 records and batch.pause(); after resume the unresolved rest comes again, nothing twice',
  { skip, timeout: 90_000 }, async (t) => {
    const topic = await createTopic(uniqueName('it-batch-pause'));
    t.after(() => deleteTopics(topic));
    const kafka = adapter();
    const producer = await kafka.producer();
    try {
      await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic, key: Buffer.from('k'), value: Buffer.from(`v${i}`) })));
    } finally {
      await producer.disconnect();
    }

    const processed: string[] = [];
    let batches = 0;
    let resume: (() => void) | undefined;
    const consumer = await kafka.consumer({ groupId: uniqueName('it-batch-pause-group'), maxWaitTimeInMs: 100 });
    try {
      await consumer.subscribe([topic], { fromBeginning: true });
      await consumer.run({
        eachBatch: async (batch) => {
          batches += 1;
          for (const r of batch.records) {
            if (batches === 1 && processed.length === 3) { // "the outputs are full"
              resume = batch.pause();
              return;
            }
            processed.push(`${r.offset}:${text(r.value)}`);
            batch.resolveOffset(r.offset);
          }
        },
      });
      await until(() => resume !== undefined, () => `paused after ${processed.length} records`);
      await sleep(1000);
      assert.deepEqual(processed, ['0:v0', '1:v1', '2:v2']);
      assert.deepEqual(consumer.paused(), [{ topic, partition: 0 }]);
      resume?.();
      await until(() => processed.length >= 10, () => `${processed.length} of 10 after resume`);
      await sleep(500);
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual(processed, Array.from({ length: 10 }, (_, i) => `${i}:v${i}`));
  });

test('a client that fails half way through connecting is disconnected: no socket left open to keep the process alive',
  { skip, timeout: 60_000 }, async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    // The broker takes the connection, then refuses InitProducerId: the timeout is over its
    // transaction.max.timeout.ms (15 min by default).
    await assert.rejects(adapter().producer({ transactionalId: uniqueName('tx-refused'), transactionTimeout: 3_600_000 }), /transaction timeout/i);
    await sleep(200);
    assert.equal(sockets(), before);
  });
