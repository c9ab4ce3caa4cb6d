// Sequence numbers on repartition topics (at-least-once): a send that reached the broker but
// whose acknowledgement was lost fails the upstream task's commit after its events went out. The
// task reopens from its last committed offset and processes that input again, sending the same
// events with the same `tributary-task`/`tributary-seq` headers; the downstream task drops every
// copy it already has. kafka.commit-failure.test.ts injects the same fault on a real broker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka, SEQ_HEADER, TASK_HEADER } from '../../../lib/runtime/kafka/runner.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, recordingSends, summarize } from '../../support/memory-kafka.js';

test('a send written then failed: the upstream task reprocesses, the downstream drops exactly the replayed copies, outputs exact', async (t) => {
  const events = testEvents(1500, 47);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 3, edit: (def) => { def.source.idleTimeout = '10m'; } });
  const repartition = s.p.topology.subTopologies[1]!.input;
  // No timer commits (a bounded run ends without them): which commit the fault hits depends on
  // the input alone, not on when a timer fired.
  const NO_TICKS = 600_000;
  // The third send into the joinIdentity repartition topic (several commits per source task: maxPendingRecords 100).
  const fault = s.kafka.broker.failNext('send', { written: true, topic: repartition, skip: 2 });
  const logs: string[] = [];
  const { adapter, sent } = recordingSends(s.kafka.adapter('app'));
  const summary = await runKafka({
    topology: s.p.topology, adapter, stateDir: join(s.dir, 'state'), bounded: true, final: true, tickMs: NO_TICKS, commitIntervalMs: 0, maxPendingRecords: 100, log: (l) => logs.push(l),
  });
  assert.equal(summary.interrupted, false);
  assert.equal(fault.hits.length, 1, 'the fault was hit');
  assert.equal(logs.filter((l) => /: commit failed \(/.test(l)).length, 1, 'one task reopened');

  // The copies in the repartition topics: the same (task, seq) twice.
  let copies = 0;
  for (const sub of s.p.topology.subTopologies.slice(1)) {
    // What went into the topic (the runner trims repartition topics when it stops).
    const seqs = sent.filter((r) => r.topic === sub.input && r.headers?.[SEQ_HEADER]).map((r) => `${r.headers?.[TASK_HEADER]?.toString()} ${r.headers?.[SEQ_HEADER]?.toString()}`);
    copies += seqs.length - new Set(seqs).size;
  }
  t.diagnostic(`${fault.hits[0]}: ${copies} events sent twice, ${summary.replayed} dropped downstream`);
  // What the task sent since its last commit (every 100 events, maxPendingRecords, handed to the
  // producer ahead of the commit) goes out again when it reprocesses from that commit.
  assert.ok(copies >= 100 && copies % 100 === 0, `the events sent since the failed task's last commit went out twice: ${copies}`);
  assert.equal(summary.replayed, copies, 'every copy dropped downstream, nothing else');
  assert.ok(summary.records > events.length, `source records processed again: ${summary.records - events.length}`);
  // The source task's only outputs are repartition events: no stream has a duplicate.
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
