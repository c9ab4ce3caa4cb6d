// A store's changelog through the real broker: write a store through the change-logging layer,
// produce its changelog to a compacted topic with plain kafkajs, delete the local LMDB directory,
// restore by reading the topic (the runtime's partition reader) into a fresh LmdbStoreFactory,
// compare everything.
//
// Size: CHANGELOG_RESTORE_KEYS (default 100 000). The restore time is reported as a test
// diagnostic (not asserted), e.g.
//   CHANGELOG_RESTORE_KEYS=1000000 node scripts/test.mjs integration/changelog.restore
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { createKafkaJsAdapter } from '../../lib/runtime/kafka/client.js';
import { ChangeloggingStoreFactory } from '../../lib/state/changelog.js';
import { CHANGELOG_TOPIC_CONFIGS, type StoreChanges } from '../../lib/state/changelog-codec.js';
import { needsRestore, restoreFromChangelog } from '../../lib/state/changelog-restore.js';
import { LmdbStoreFactory, type StoreKey } from '../../lib/state/index.js';
import { createTopic, deleteTopics, kafkaBrokers, kafkaClient, skipReason, uniqueName } from '../support/kafka.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();
const KEYS = Number(process.env.CHANGELOG_RESTORE_KEYS ?? 100_000);
const PARTITION = 0;

/** Produces one store's drained records to `topic`, partition 0; returns the last offset. */
async function produce(kafka: Kafka, topic: string, changes: StoreChanges): Promise<bigint> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    let last = -1n;
    const chunk = 5000; // keeps a request well under the broker's 1 MB batch limit
    for (let i = 0; i < changes.records.length; i += chunk) {
      const messages = changes.records.slice(i, i + chunk).map((r) => ({ key: r.key, value: r.value, partition: PARTITION }));
      const [meta] = await producer.send({ topic, acks: -1, messages });
      last = BigInt(meta!.baseOffset!) + BigInt(messages.length - 1);
    }
    return last;
  } finally {
    await producer.disconnect();
  }
}

interface Expected {
  value: unknown;
  expiresAt: number | undefined;
}

test(`${KEYS} keys: changelog to a compacted topic, local LMDB deleted, restored identical`, { skip, timeout: Math.max(120_000, KEYS / 5) }, async (t) => {
  const kafka = kafkaClient('tributary-test-changelog');
  const topic = await createTopic(uniqueName('it-changelog'), { configs: { ...CHANGELOG_TOPIC_CONFIGS } });
  t.after(() => deleteTopics(topic));
  const dir = tempDir('tributary-changelog-it-');

  // 1. Write the store through the layer in commit intervals: puts (scalar and tuple keys,
  //    some with expiresAt), overwrites and deletes; each interval's changelog is produced
  //    before the state is flushed with the changelog offset.
  let factory = new ChangeloggingStoreFactory(new LmdbStoreFactory({ path: dir, noSync: true }));
  const model = new Map<string, Expected>();
  const r = rng(5);
  const keyOf = (i: number): StoreKey => (i % 3 === 0 ? `user-${i}` : [`user-${i % 1000}`, i]);
  const intervals = 4;
  let lastOffset = -1n;
  const writeStarted = performance.now();
  {
    const store = factory.open<StoreKey, unknown>('seen');
    for (let interval = 0; interval < intervals; interval++) {
      for (let i = interval; i < KEYS; i += intervals) {
        const key = keyOf(i);
        const expiresAt = i % 5 === 0 ? 1_700_000_000_000 + i : undefined;
        const value = i % 7 === 0 ? { n: i, tags: new Set([`t${i % 10}`]), at: new Date(i) } : { n: i, page: `/p/${i % 100}` };
        store.put(key, value, expiresAt === undefined ? undefined : { expiresAt });
        model.set(JSON.stringify(key), { value, expiresAt });
      }
      // Rewrite or delete some keys of earlier intervals (duplicates and tombstones in the log).
      for (let j = 0; j < KEYS / 50; j++) {
        const i = Math.floor(r() * KEYS);
        const key = keyOf(i);
        if (!model.has(JSON.stringify(key))) continue;
        if (r() < 0.5) {
          store.delete(key);
          model.delete(JSON.stringify(key));
        } else {
          store.put(key, { n: -i });
          model.set(JSON.stringify(key), { value: { n: -i }, expiresAt: undefined });
        }
      }
      const [changes] = factory.drainChanges();
      lastOffset = await produce(kafka, topic, changes!);
      factory.recordChangelogOffsets('seen', PARTITION, lastOffset);
      await factory.flush();
    }
  }
  const writeMs = performance.now() - writeStarted;
  const original = [...factory.open('seen').range()];
  assert.equal(original.length, model.size);
  await factory.close();

  // 2. The local state is lost.
  rmSync(dir, { recursive: true, force: true });

  // 3. A fresh factory finds nothing and restores from the earliest offset.
  factory = new ChangeloggingStoreFactory(new LmdbStoreFactory({ path: dir, noSync: true }));
  t.after(() => factory.close());
  const admin = kafka.admin();
  await admin.connect();
  const [offsets] = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const endOffset = BigInt(offsets!.high);
  assert.equal(endOffset, lastOffset + 1n);
  const decision = needsRestore(factory, 'seen', PARTITION, endOffset);
  assert.deepEqual(decision, { restore: true, wipe: true, reason: 'missing', from: 'earliest', upTo: String(endOffset - 1n), detail: 'no changelog checkpoint' });

  let progressReports = 0;
  const started = performance.now();
  const result = await restoreFromChangelog({
    records: createKafkaJsAdapter({ brokers: kafkaBrokers() ?? [], clientId: 'tributary-test-changelog', logLevel: 'nothing' }).readPartition(topic, PARTITION, { from: 'earliest', upTo: String(endOffset - 1n) }),
    factory, store: 'seen', partition: PARTITION, upTo: endOffset - 1n, wipe: decision.wipe,
    onProgress: () => progressReports++,
  });
  const restoreMs = performance.now() - started;
  t.diagnostic(`${KEYS} keys (${model.size} live, ${endOffset} changelog records): written+produced in ${(writeMs / 1000).toFixed(1)} s; ` +
    `restored ${result.applied} records (${result.puts} puts, ${result.deletes} tombstones) in ${(restoreMs / 1000).toFixed(2)} s ` +
    `(${Math.round(result.applied / (restoreMs / 1000))} records/s, consumer group join included)`);

  // 4. Identical contents, and the checkpoint says the store is complete.
  assert.ok(result.applied > 0 && result.applied <= Number(endOffset));
  assert.ok(progressReports >= 1);
  const restored = factory.open<StoreKey, unknown>('seen');
  assert.equal(restored.count(), model.size);
  assert.deepEqual([...restored.range()], original);
  assert.deepEqual(needsRestore(factory, 'seen', PARTITION, endOffset), { restore: false, reason: 'up-to-date', checkpoint: String(endOffset - 1n) });
  assert.deepEqual(factory.drainChanges(), [], 'restoring logs nothing');

  // expiresAt came back too: the same entries expire.
  const watermark = 1_700_000_000_000 + KEYS / 2;
  const due = [...model.values()].filter((e) => e.expiresAt !== undefined && e.expiresAt <= watermark).length;
  assert.ok(due > 0);
  assert.equal(restored.expire(watermark), due);
  const [tombstones] = factory.drainChanges();
  assert.equal(tombstones!.records.length, due);
  assert.ok(tombstones!.records.every((rec) => rec.value === null));
});
