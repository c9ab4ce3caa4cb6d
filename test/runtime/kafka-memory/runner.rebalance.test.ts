// Two instances of one pipeline in one process (two clients of one memory broker, separate state
// directories), as kafka.rebalance.test.ts runs them against a broker. A processes the first half
// alone; B joins mid-run and the group splits the tasks (B restores the stores of the tasks it
// takes from their changelogs); both process the second half; A stops gracefully and its tasks
// move to B, which restores them; a final bounded run on B's state ends the input. Every source
// record is processed once and the outputs are exactly the embedded run's: rebalances happen
// between batches and every batch is committed, so nothing is processed twice. Both guarantees.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka, type KafkaRunSummary } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, diffWithEmbedded, exact, memoryScenario, summarize, waitFor } from '../../support/memory-kafka.js';

const readyTasks = (lines: string[]) => new Set(lines.flatMap((l) => /^task (\d+_\d+): ready/.exec(l)?.[1] ?? []));

for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
  test(`rebalance (${guarantee}): B joins mid-run, A leaves later; restored tasks, every record processed once, outputs exact`, async (t) => {
    const events = testEvents(1200, 23);
    const half = events.length / 2;
    const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', {
      events, produce: events.slice(0, half), partitions: 4, edit: (def) => {
        def.source.idleTimeout = '10m';
        def.guarantee = guarantee;
      },
    });
    const { topology } = s.p;
    const app = topology.name;
    const inputs = [s.p.source, ...topology.subTopologies.slice(1).map((sub) => sub.input)];
    const allCaughtUp = () => inputs.every((topic) => caughtUp(s.kafka, app, topic));
    const start = (name: string, logs: string[], signal: AbortSignal) => runKafka({
      topology, adapter: s.kafka.adapter(name), stateDir: join(s.dir, `state-${name}`), signal, tickMs: 20, log: (l) => logs.push(l),
    });

    const logsA: string[] = [];
    const abortA = new AbortController();
    const abortB = new AbortController();
    t.after(() => {
      abortA.abort();
      abortB.abort();
    });
    const runA = start('a', logsA, abortA.signal);
    await waitFor('A to process the first half', allCaughtUp);
    assert.equal(readyTasks(logsA).size, 9, 'A holds all 9 tasks (4 + 1 + 4)');

    const logsB: string[] = [];
    const runB = start('b', logsB, abortB.signal);
    await waitFor('B to open its tasks', () => readyTasks(logsB).size > 0 && allCaughtUp());
    assert.deepEqual(s.kafka.broker.groupMembers(app), ['a-000001', 'b-000002']);
    const heldByB = [...readyTasks(logsB)].sort();
    assert.equal(heldByB.length, 4, `round-robin over 9 partitions gives B 4: ${heldByB.join(' ')}`);
    const restoredOnB = logsB.filter((l) => / restored .*: [1-9]\d* records/.test(l));
    assert.ok(restoredOnB.length > 0, 'B restored the state of the tasks it took');

    await produceEvents(s.kafka.adapter('setup'), s.p.source, events.slice(half), topology.source.key, s.partitionOf);
    await waitFor('both to process the second half', allCaughtUp);
    const markB = logsB.length;
    abortA.abort();
    const summaryA = await runA;
    assert.equal(summaryA.interrupted, true);
    await waitFor('B to take A\'s tasks', () => readyTasks(logsB).size === 9 && allCaughtUp());
    assert.ok(logsB.slice(markB).some((l) => / restored /.test(l)), 'B restored A\'s tasks');
    abortB.abort();
    const summaryB: KafkaRunSummary = await runB;
    assert.ok(summaryA.records > 0 && summaryB.records > 0, `A ${summaryA.records}, B ${summaryB.records}`);
    assert.equal(summaryA.records + summaryB.records, events.length, 'each source record processed once');
    assert.equal(summaryA.replayed + summaryB.replayed, 0);

    const final = await runKafka({ topology, adapter: s.kafka.adapter('c'), stateDir: join(s.dir, 'state-b'), bounded: true, final: true, tickMs: 20 });
    assert.equal(final.interrupted, false);
    assert.equal(final.records, 0, 'nothing left to process: the final run only ends the input');
    assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
  });
}
