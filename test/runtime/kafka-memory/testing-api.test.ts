// What the README shows users: a pipeline run by the Kafka runner over `createMemoryKafka()`
// from `tributary/testing`, imported through the package's entry points only. Sessions by userId
// behind a repartition topic (the source is keyed by anonymousId), with the first offset commit
// failing; the records in the session topic are exactly the hand-computed ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePipeline, deriveId, parsePipeline, runKafka, type TributaryEvent } from '../../../lib/index.js';
import { createMemoryKafka } from '../../../lib/testing/index.js';
import { defaultRegistry } from '../../../operators/index.js';
import { MIN } from '../../support/events.js';
import { tempDir } from '../../support/tmp.js';

const yamlText = `
name: shop
source: { topic: shop-clicks, key: [anonymousId], timestamp: timestamp, allowedLateness: 1m }
steps:
  - dedupe: { key: messageId, ttl: 1h }
  - sessionize: { key: userId, gap: 30m, output: sessions }
outputs: { sessions: { topic: shop-sessions } }
`;

const view = (messageId: string, t: number, anonymousId: string, userId: string): TributaryEvent =>
  ({ messageId, type: 'track', event: 'product_viewed', anonymousId, userId, timestamp: t });

test('README: a Kafka pipeline tested without a broker (two sub-topologies, a failing offset commit): exact sessions', async () => {
  const events = [view('m1', 0, 'a1', 'u1'), view('m1', 0, 'a1', 'u1'), view('m2', 10 * MIN, 'a2', 'u1'), view('m3', 12 * MIN, 'a3', 'u2'), view('m4', 50 * MIN, 'a1', 'u1')];

  const topology = compilePipeline(parsePipeline(yamlText, 'shop.yaml', defaultRegistry), defaultRegistry);
  const kafka = createMemoryKafka();
  const adapter = kafka.adapter('shop');
  const admin = await adapter.admin();
  await admin.createTopics([{ name: 'shop-clicks', partitions: 2 }]);
  await admin.disconnect();
  const producer = await adapter.producer();
  await producer.send(events.map((e) => ({ topic: 'shop-clicks', key: Buffer.from(e.anonymousId as string), value: Buffer.from(JSON.stringify(e)) })));
  await producer.disconnect();
  const fault = kafka.broker.failNext('commit');
  const summary = await runKafka({ topology, adapter, stateDir: tempDir(), bounded: true, final: true, tickMs: 20 });

  // All five keys hash to partition 1; its task's first commit failed before it sent anything,
  // so it processed its five records again.
  assert.deepEqual(fault.hits, ['shop: offset commit of shop-clicks/1@0']);
  assert.deepEqual(kafka.broker.records('shop-clicks').map((r) => r.partition), [1, 1, 1, 1, 1]);
  assert.deepEqual({ records: summary.records, late: summary.late, streams: summary.streams, interrupted: summary.interrupted },
    { records: 10, late: 0, streams: { events: 4, 'dead-letter': 0, late: 0, forgotten: 0, sessions: 3 }, interrupted: false });
  const session = (key: string, start: number, end: number, first: string, last: string, count: number) => ({
    sessionId: deriveId('session', key, start), key, start, end, durationMs: end - start, eventCount: count, eventCounts: { product_viewed: count },
    firstEvent: { messageId: first, event: 'product_viewed', timestamp: start, page: null },
    lastEvent: { messageId: last, event: 'product_viewed', timestamp: end, page: null }, channels: [], mergedFrom: [],
  });
  const sessions = kafka.broker.records('shop-sessions').map((r) => JSON.parse(r.value!.toString()) as { start: number; key: string });
  assert.deepEqual(sessions.sort((a, b) => a.start - b.start || a.key.localeCompare(b.key)), [
    session('u1', 0, 10 * MIN, 'm1', 'm2', 2),
    session('u2', 12 * MIN, 12 * MIN, 'm3', 'm3', 1),
    session('u1', 50 * MIN, 50 * MIN, 'm4', 'm4', 1),
  ]);
});
