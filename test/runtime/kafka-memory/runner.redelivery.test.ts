// After a rebalance the consumer fetches every partition it keeps again from the group's
// committed offset (kafkajs does; the memory consumer does the same). A task that kept its
// partition has processed records past that offset and holds them for its next commit: it must
// not process them a second time. It did: in the chaos runs, events were written to `late` (the
// task's watermark had passed them) beside their first output, and exactly-once runs repeated
// outputs in the same transaction. Here A commits rarely, so a rebalance finds it with
// processed, uncommitted records on the partitions it keeps.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, diffWithEmbedded, exact, memoryScenario, summarize, waitFor } from '../../support/memory-kafka.js';

const readyTasks = (lines: string[]) => new Set(lines.flatMap((l) => /^task (\d+_\d+): ready/.exec(l)?.[1] ?? []));
const processed = (lines: string[]) => Math.max(0, ...lines.flatMap((l) => /^… (\d+) source records/.exec(l)?.[1] ?? []).map(Number));

test('exactly-once: a rebalance re-fetches the partitions a task keeps from the committed offset; what it processed since is not processed again; outputs exact', async (t) => {
  const events = testEvents(800, 43);
  const half = events.length / 2;
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', {
    events, produce: events.slice(0, half), partitions: 4, edit: (def) => {
      def.source.idleTimeout = '10m';
      def.guarantee = 'exactly-once';
    },
  });
  const { topology } = s.p;
  const app = topology.name;
  const inputs = [s.p.source, ...topology.subTopologies.slice(1).map((sub) => sub.input)];
  const start = (name: string, logs: string[], signal: AbortSignal, commitIntervalMs: number) => runKafka({
    topology, adapter: s.kafka.adapter(name), stateDir: join(s.dir, `state-${name}`), signal, tickMs: 20, commitIntervalMs, progressEveryMs: 20, log: (l) => logs.push(l),
  });
  const abortA = new AbortController();
  const abortB = new AbortController();
  t.after(() => {
    abortA.abort();
    abortB.abort();
  });
  // A commits every 10 minutes (so not in this test, until its stop).
  const logsA: string[] = [];
  const runA = start('a', logsA, abortA.signal, 600_000);
  await waitFor('A to process the first half', () => processed(logsA) === half);
  assert.ok(!caughtUp(s.kafka, app, s.p.source), 'A committed nothing yet');

  const logsB: string[] = [];
  const runB = start('b', logsB, abortB.signal, 100);
  await waitFor('B to open its tasks', () => readyTasks(logsB).size > 0);
  await produceEvents(s.kafka.adapter('setup'), s.p.source, events.slice(half), topology.source.key, s.partitionOf);
  await waitFor('A and B to process the second half', () => processed(logsA) + processed(logsB) >= events.length);
  abortA.abort();
  const a = await runA;
  await waitFor('B to take and process what A left', () => inputs.every((topic) => caughtUp(s.kafka, app, topic)));
  abortB.abort();
  const b = await runB;
  assert.ok(a.records > half, `A processed the first half and part of the second (${a.records})`);
  const final = await runKafka({ topology, adapter: s.kafka.adapter('c'), stateDir: join(s.dir, 'state-b'), bounded: true, final: true, tickMs: 20 });
  assert.equal(final.records, 0);
  assert.equal(b.interrupted, true);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
