// The real broker of the test run with plain kafkajs: what the Kafka runtime relies on
// (per-key order and partition affinity, transactions with read_committed) holds there.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { Consumer } from 'kafkajs';
import { createTopic, deleteTopics, kafkaBrokers, kafkaClient, skipReason, uniqueName } from '../support/kafka.js';

const skip = kafkaBrokers() ? false : skipReason();

interface Received {
  partition: number;
  key: string;
  value: string;
}

/**
 * Consumes `topic` from the beginning until `count` messages arrived, then a little longer so
 * that duplicates or extra records would show, and disconnects.
 */
async function consume(consumer: Consumer, topic: string, count: number, timeoutMs = 30_000): Promise<Received[]> {
  const received: Received[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`got ${received.length} of ${count} messages from ${topic} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer.run({
        eachMessage: async ({ partition, message }) => {
          received.push({ partition, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
          if (received.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
    await sleep(500);
  } finally {
    await consumer.disconnect();
  }
  return received;
}

test('30 keyed JSON messages over 3 partitions come back once each, in order per key, one partition per key',
  { skip, timeout: 60_000 }, async (t) => {
    const topic = await createTopic(uniqueName('it-produce-consume'), { partitions: 3 });
    t.after(() => deleteTopics(topic));
    const kafka = kafkaClient();

    const keys = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
    const sent = Array.from({ length: 5 }, (_, seq) => keys.map((key) => ({ key, seq, page: `/p/${key}/${seq}` }))).flat();
    const producer = kafka.producer();
    await producer.connect();
    try {
      for (let i = 0; i < sent.length; i += 10) { // three requests, so order holds across them too
        await producer.send({
          topic,
          messages: sent.slice(i, i + 10).map((e) => ({ key: e.key, value: JSON.stringify(e) })),
        });
      }
    } finally {
      await producer.disconnect();
    }

    const received = await consume(kafka.consumer({ groupId: uniqueName('it-group'), maxWaitTimeInMs: 200 }), topic, 30);

    assert.deepEqual(received.map((r) => r.value).sort(), sent.map((e) => JSON.stringify(e)).sort());
    const events = received.map((r) => ({ ...r, event: JSON.parse(r.value) as { key: string; seq: number } }));
    for (const r of events) assert.equal(r.key, r.event.key, 'the message key is the event key');
    for (const key of keys) {
      const mine = events.filter((r) => r.key === key);
      assert.deepEqual(mine.map((r) => r.event.seq), [0, 1, 2, 3, 4], `order of ${key}`);
      assert.equal(new Set(mine.map((r) => r.partition)).size, 1, `${key} lives in one partition`);
    }
    assert.ok(new Set(events.map((r) => r.partition)).size > 1, 'the keys spread over several partitions');
  });

test('a read_committed consumer sees the committed transactions only', { skip, timeout: 60_000 }, async (t) => {
  const topic = await createTopic(uniqueName('it-transactions'));
  t.after(() => deleteTopics(topic));
  const kafka = kafkaClient();

  const producer = kafka.producer({ transactionalId: uniqueName('it-tx'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const inTransaction = async (values: string[], end: 'commit' | 'abort') => {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: values.map((value) => ({ key: 'k', value })) });
      await (end === 'commit' ? tx.commit() : tx.abort());
    };
    await inTransaction(['c1', 'c2', 'c3'], 'commit');
    await inTransaction(['a1', 'a2'], 'abort');
    await inTransaction(['c4'], 'commit'); // lies behind the aborted records: reading it means they were passed
  } finally {
    await producer.disconnect();
  }

  const committed = await consume(kafka.consumer({ groupId: uniqueName('it-committed'), maxWaitTimeInMs: 200 }), topic, 4);
  assert.deepEqual(committed.map((r) => r.value), ['c1', 'c2', 'c3', 'c4']);

  // The aborted records are in the log: read_committed is what hides them.
  const everything = await consume(
    kafka.consumer({ groupId: uniqueName('it-uncommitted'), readUncommitted: true, maxWaitTimeInMs: 200 }), topic, 6);
  assert.deepEqual(everything.map((r) => r.value), ['c1', 'c2', 'c3', 'a1', 'a2', 'c4']);
});
