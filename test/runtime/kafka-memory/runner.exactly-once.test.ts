// Exactly-once over the memory broker: each task's outputs, changelog records and input offset go
// in one transaction of its own transactional producer. A transaction commit that fails (here:
// the first one that wrote sessions) is aborted by the runner; its records stay in the log behind
// an abort marker, invisible to read_committed readers; the task reopens (a new producer with the
// same transactional id), processes that input again, and every stream ends up exactly as the
// embedded run's, with no duplicate (kafka.crash.test.ts checks the same guarantee on a broker).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { jsonMultiset, testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, summarize } from '../../support/memory-kafka.js';

test('exactly-once: a transaction commit fails; read_committed readers never see its records; every stream exact, no duplicate', async () => {
  const events = testEvents(1000, 61);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 3, edit: (def) => { def.guarantee = 'exactly-once'; } });
  const sessions = s.p.topics.sessions!;
  const fault = s.kafka.broker.failNext('txCommit', { topic: sessions });
  const logs: string[] = [];
  const summary = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('app'), stateDir: join(s.dir, 'state'), bounded: true, final: true, tickMs: 20, log: (l) => logs.push(l) });
  assert.equal(summary.interrupted, false);
  assert.equal(summary.guarantee, 'exactly-once');
  assert.equal(fault.hits.length, 1);
  const failed = logs.filter((l) => /: commit failed \(/.test(l));
  assert.equal(failed.length, 1);
  assert.match(failed[0]!, /^task 2_\d: commit failed \(memory kafka: injected txCommit failure: commit of the transaction of cart-abandonment-.*-2_\d\)/);

  // The aborted transaction's sessions are in the log, not in what read_committed readers get.
  const committed = jsonMultiset(s.kafka.broker.records(sessions));
  const everything = jsonMultiset(s.kafka.broker.records(sessions, { readCommitted: false }));
  const aborted = everything.length - committed.length;
  assert.ok(aborted > 0, 'the failed transaction had written sessions');
  assert.equal(new Set(everything).size, committed.length, 'the aborted ones were written again, committed');
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
  assert.deepEqual(s.kafka.broker.transactions.openIds(), [], 'no transaction left open');
});
