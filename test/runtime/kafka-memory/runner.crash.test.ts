// `kill -9` of an exactly-once instance at an exact point (kafka.crash.test.ts kills the CLI on a
// broker): the process dies as one of its tasks commits its transaction, which stays open. A new
// instance (another machine: its own empty state directory) restores every task from the
// changelogs; its producers take the tasks' transactional ids, which aborts the dead instance's
// open transaction; it ends the input. A read_committed reader sees every record of the embedded
// run exactly once.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, summarize } from '../../support/memory-kafka.js';

test('exactly-once: the instance dies while committing a transaction; a new one restores, fences it, and the outputs are exact', async () => {
  const events = testEvents(2000, 5);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 3, edit: (def) => { def.guarantee = 'exactly-once'; } });
  const { topology } = s.p;
  const app = topology.name;
  const fault = s.kafka.broker.failNext('txCommit', { clientId: 'a', skip: 8, crash: true });
  const stopA = new AbortController();
  const unlisten = s.kafka.broker.onCrash(() => stopA.abort()); // the process is gone: its runner must not go on
  const outcome = await runKafka({ topology, adapter: s.kafka.adapter('a'), stateDir: join(s.dir, 'state-a'), signal: stopA.signal, tickMs: 20, maxPendingRecords: 100 })
    .then(() => 'stopped', (e: Error) => e.message);
  unlisten();
  assert.equal(fault.hits.length, 1);
  assert.match(fault.hits[0]!, /^a: commit of the transaction of .*-\d_\d \(the client crashed\)$/);
  assert.equal(outcome, 'memory kafka: client a crashed (broker.crash)', 'the runner fails with the error of the call it was in');
  const open = s.kafka.broker.transactions.openIds();
  assert.equal(open.length, 1, 'the dead instance left its transaction open');
  const committed = s.kafka.broker.committed(app, s.p.source).reduce((n, o) => n + Math.max(0, Number(o.offset)), 0);
  assert.ok(committed > 0 && committed < events.length, `mid-stream: ${committed} of ${events.length} source records committed`);

  const logs: string[] = [];
  const summary = await runKafka({ topology, adapter: s.kafka.adapter('b'), stateDir: join(s.dir, 'state-b'), bounded: true, tickMs: 20, log: (l) => logs.push(l) });
  assert.equal(summary.interrupted, false);
  assert.equal(summary.records, events.length - committed, 'the new instance goes on from the committed offsets');
  assert.ok(summary.restored.some((r) => r.records > 0), 'state restored from the changelogs');
  assert.deepEqual(s.kafka.broker.transactions.openIds(), []);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
