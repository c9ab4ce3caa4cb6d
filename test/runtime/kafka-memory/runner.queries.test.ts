// State queries in Kafka mode over the memory broker (runKafka's onQuery → TaskManager.query):
// dedupe → joinIdentity (global-table) → sessionize by personId over 3 partitions. One instance
// answers every key; with a second instance in the group each answers the keys of the tasks it
// holds and says, for the others, which partition and task own them. The partition it names is
// the one the record collector put the key's events in.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../../lib/event/event.js';
import { deriveId } from '../../../lib/operator/ids.js';
import { compilePipeline } from '../../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../../lib/pipeline/load.js';
import { createMemoryKafka } from '../../../lib/runtime/kafka/memory/index.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { StateNotFound } from '../../../lib/runtime/state-server.js';
import { defaultRegistry, personIdFor } from '../../../operators/index.js';
import { ev, MIN } from '../../support/events.js';
import { produceEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, recordingSends, waitFor } from '../../support/memory-kafka.js';
import { tempDir } from '../../support/tmp.js';

const yaml = `
name: q
source: { topic: q-events, key: [anonymousId, userId], allowedLateness: 1h, idleTimeout: 10m }
steps:
  - dedupe: { ttl: 1d }
  - joinIdentity: { mode: global-table }
  - sessionize: { key: personId, gap: 30m }
sink: { topic: q-enriched }
`;
type Query = (step: string, key: string) => unknown;
/** What a query answers: its value, or the StateNotFound message (anything else is rethrown). */
const ask = (query: Query, step: string, key: string): { value: unknown } | { notHere: string } => {
  try {
    return { value: query(step, key) };
  } catch (e) {
    if (e instanceof StateNotFound) return { notHere: e.message };
    throw e;
  }
};
const readyTasks = (lines: string[]) => [...new Set(lines.flatMap((l) => /^task (\d+_\d+): ready/.exec(l)?.[1] ?? []))].sort();

test('Kafka queries: one instance answers every key; with two, each answers its tasks\' keys and names the owner of the others', async (t) => {
  const dir = tempDir('tributary-memkafka-');
  writeFileSync(join(dir, 'q.yaml'), yaml);
  const topology = compilePipeline(loadPipelineFile(join(dir, 'q.yaml'), defaultRegistry), defaultRegistry);
  const kafka = createMemoryKafka();
  const admin = await kafka.adapter('setup').admin();
  await admin.createTopics([{ name: 'q-events', partitions: 3 }]);
  await admin.disconnect();
  const inputs = ['q-events', 'q-joinIdentity-resolver', 'q-sessionize-repartition'];
  const allCaughtUp = () => inputs.every((topic) => caughtUp(kafka, 'q', topic));
  const produce = (events: TributaryEvent[]) => produceEvents(kafka.adapter('setup'), 'q-events', events, topology.source.key);

  const abort = new AbortController();
  t.after(() => abort.abort());
  const start = (name: string, logs: string[], onQuery: (q: Query) => void) => {
    const { adapter, sent } = recordingSends(kafka.adapter(name));
    return { sent, run: runKafka({ topology, adapter, stateDir: join(dir, `state-${name}`), signal: abort.signal, tickMs: 20, log: (l) => logs.push(l), onQuery }) };
  };
  let queryA: Query | undefined;
  const logsA: string[] = [];
  const a = start('a', logsA, (q) => (queryA = q));
  assert.ok(queryA, 'onQuery is called at start');

  // First sightings, then the rest once they went through (so each session's events reach it in time order).
  await produce([ev('m1', 0, { anonymousId: 'a1' }), ev('m3', 2 * MIN, { anonymousId: 'a2' }), ev('m5', 4 * MIN, { anonymousId: 'a3', type: 'page' })]);
  await waitFor('the first sightings to be processed', () => readyTasks(logsA).length === 7 && allCaughtUp());
  await produce([ev('m2', MIN, { anonymousId: 'a1', event: 'add_to_cart' }), ev('m1', 0, { anonymousId: 'a1' }), ev('m4', 3 * MIN, { type: 'identify', anonymousId: 'a1', userId: 'u1' })]);
  await waitFor('the rest to be processed', allCaughtUp);

  const p1 = personIdFor('anonymousId:a1');
  const firstSeen = { key: 'm1', firstSeen: 0, expiresAt: 24 * 60 * MIN };
  // m4's lookup handed out u1's own provisional person id; the resolver put u1 into a1's person
  // and recorded that id as absorbed, so it resolves too.
  const provisional = personIdFor('userId:u1');
  const person = { personId: p1, identifiers: ['anonymousId:a1', 'userId:u1'], firstSeen: 0, absorbed: [provisional] };
  const ref = (messageId: string, event: string, timestamp: number) => ({ messageId, event, timestamp, page: null });
  const sessions = {
    key: p1,
    sessions: [{
      sessionId: deriveId('session', p1, 0), start: 0, end: 3 * MIN, durationMs: 3 * MIN, eventCount: 3,
      eventCounts: { add_to_cart: 1, identify: 1, product_viewed: 1 },
      firstEvent: ref('m1', 'product_viewed', 0), lastEvent: ref('m4', 'identify', 3 * MIN),
      channels: [], mergedFrom: [], closesAt: 33 * MIN,
    }],
  };
  const q = queryA;
  assert.deepEqual(ask(q, 'dedupe', 'm1'), { value: firstSeen });
  assert.deepEqual(ask(q, 'joinIdentity', 'userId:u1'), { value: person });
  assert.deepEqual(ask(q, 'joinIdentity', p1), { value: person });
  assert.deepEqual(ask(q, 'joinIdentity', provisional), { value: person });
  assert.deepEqual(ask(q, 'sessionize', p1), { value: sessions });
  for (const [step, key] of [['dedupe', 'm9'], ['joinIdentity', 'userId:u9'], ['sessionize', 'p-none'], ['no-such-step', 'x']] as const) {
    assert.deepEqual(ask(q, step, key), { value: undefined }, `${step} ${key}: every task is here, so no state is a plain 404`);
  }

  // B joins: round-robin over the sorted input topics' partitions gives it 0_1, 1_0 and 2_1.
  let queryB: Query | undefined;
  const logsB: string[] = [];
  const b = start('b', logsB, (qb) => (queryB = qb));
  await waitFor('B to open its tasks', () => readyTasks(logsB).length === 3 && allCaughtUp());
  assert.deepEqual(readyTasks(logsB), ['0_1', '1_0', '2_1']);
  const qb = queryB as Query;

  // The person's events went to the partition the query names (as the record collector keyed them).
  const placed = [...a.sent, ...b.sent].filter((r) => r.topic === 'q-sessionize-repartition' && r.key?.toString() === p1).map((r) => r.partition);
  assert.ok(placed.length >= 3);
  assert.deepEqual([...new Set(placed)], [1]);

  // sessionize by personId: partition 1 of the repartition topic, task 2_1, now on B (restored from its changelogs).
  assert.deepEqual(ask(qb, 'sessionize', p1), { value: sessions });
  assert.deepEqual(ask(q, 'sessionize', p1), {
    notHere: `key "${p1}" of step "sessionize" is in partition 1 of q-sessionize-repartition (task 2_1), which this instance does not hold`,
  });
  // a3's person: partition 0, task 2_0, on A.
  const p3 = personIdFor('anonymousId:a3');
  const page = ref('m5', 'page', 4 * MIN);
  assert.deepEqual(ask(q, 'sessionize', p3), {
    value: {
      key: p3,
      sessions: [{
        sessionId: deriveId('session', p3, 4 * MIN), start: 4 * MIN, end: 4 * MIN, durationMs: 0, eventCount: 1, eventCounts: { page: 1 },
        firstEvent: page, lastEvent: page, channels: [], mergedFrom: [], closesAt: 34 * MIN,
      }],
    },
  });
  assert.deepEqual(ask(qb, 'sessionize', p3), {
    notHere: `key "${p3}" of step "sessionize" is in partition 0 of q-sessionize-repartition (task 2_0), which this instance does not hold`,
  });
  // joinIdentity in global-table mode: the resolver's one task, also on B.
  assert.deepEqual(ask(qb, 'joinIdentity', 'userId:u1'), { value: person });
  assert.deepEqual(ask(q, 'joinIdentity', 'userId:u1'), {
    notHere: 'key "userId:u1" of step "joinIdentity" is in partition 0 of q-joinIdentity-resolver (task 1_0), which this instance does not hold',
  });
  // dedupe by messageId: in the source partition m1 was produced to (keyed by a1: partition 2), asked of every source task held.
  assert.deepEqual(ask(q, 'dedupe', 'm1'), { value: firstSeen });
  assert.deepEqual(ask(qb, 'dedupe', 'm1'), {
    notHere: 'key "m1" of step "dedupe" is in none of this instance\'s tasks of q-events (0_1); it may be in one not open on this instance (0_0, 0_2)',
  });
  assert.deepEqual(ask(q, 'dedupe', 'm9'), {
    notHere: 'key "m9" of step "dedupe" is in none of this instance\'s tasks of q-events (0_0, 0_2); it may be in one not open on this instance (0_1)',
  });

  abort.abort();
  const [summaryA, summaryB] = await Promise.all([a.run, b.run]);
  assert.deepEqual([summaryA.interrupted, summaryB.interrupted], [true, true]);
});
