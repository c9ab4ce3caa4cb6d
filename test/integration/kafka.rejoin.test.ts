// A consumer the group coordinator dropped (its process paused longer than the session timeout,
// so no heartbeat came) joins again by itself in kafkajs, as a new member. What the old member
// held may have been processed by another member meanwhile, and fetching starts over at the
// committed offsets, so the adapter reports the whole old assignment revoked, then the new one
// assigned in full: the runner closes those tasks without committing and reopens them from
// their last commit, instead of processing the same records a second time into the same state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafkaJsAdapter, type TopicPartition } from '../../lib/runtime/kafka/client.js';
import { createTopic, deleteTopics, kafkaBrokers, skipReason, uniqueName } from '../support/kafka.js';

const skip = kafkaBrokers() ? false : skipReason();

test('dropped by the coordinator after a pause longer than the session timeout: the old assignment is revoked in full, the new one assigned in full',
  { skip, timeout: 90_000 }, async (t) => {
    const topic = uniqueName('rejoin');
    await createTopic(topic, { partitions: 2 });
    t.after(() => deleteTopics(topic));
    const events: string[] = [];
    const list = (tps: TopicPartition[]) => tps.map((tp) => tp.partition).sort().join(',');
    const kafka = createKafkaJsAdapter({ brokers: kafkaBrokers() ?? [], clientId: 'tributary-it-rejoin', logLevel: 'nothing' });
    // The broker's smallest session timeout (group.min.session.timeout.ms).
    const consumer = await kafka.consumer({ groupId: uniqueName('rejoin-group'), sessionTimeout: 6000, heartbeatInterval: 1000, maxWaitTimeInMs: 100 });
    t.after(() => consumer.disconnect());
    consumer.onAssign((tps) => events.push(`assign ${list(tps)}`));
    consumer.onRevoke((tps) => events.push(`revoke ${list(tps)}`));
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run({ eachBatch: async () => undefined });
    assert.deepEqual(events, ['assign 0,1']);

    // The whole process stops for 10 s (a stop-the-world pause, a batch that never yields).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
    const deadline = performance.now() + 40_000;
    while (events.length < 3 && performance.now() < deadline) await sleep(100);
    assert.deepEqual(events, ['assign 0,1', 'revoke 0,1', 'assign 0,1']);
    assert.deepEqual(consumer.assignment().map((tp) => tp.partition).sort(), [0, 1]);
  });
