// `kill -9` of an instance at an exact point (kafka.crash.test.ts kills the CLI on a broker), then
// a new instance on another machine (its own empty state directory) that restores every task
// from the changelogs and ends the input:
// - exactly-once: the process dies as a task commits its transaction, which stays open; the new
//   instance's producers take the tasks' transactional ids, which aborts it. A read_committed
//   reader sees every record of the embedded run exactly once;
// - at-least-once: the process dies right after a send of a source task reached the broker (its
//   offset not committed). The new instance processes that input again; its events carry the same
//   sequence numbers and the joinIdentity task drops every copy, so no stream has a duplicate.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ProducerRecord } from '../../../lib/runtime/kafka/adapter.js';
import { runKafka, SEQ_HEADER, TASK_HEADER } from '../../../lib/runtime/kafka/runner.js';
import type { FaultOptions } from '../../../lib/runtime/kafka/memory/index.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, recordingSends, smallFetches, summarize, type MemoryScenario } from '../../support/memory-kafka.js';

/** Runs instance `a` until the crash fault hits it; returns how its run ended. */
async function runUntilCrash(s: MemoryScenario, op: 'txCommit' | 'send', fault: FaultOptions, sent: ProducerRecord[] = []) {
  const armed = s.kafka.broker.failNext(op, { ...fault, clientId: 'a', crash: true });
  const stop = new AbortController();
  const unlisten = s.kafka.broker.onCrash(() => stop.abort()); // the process is gone: its runner must not go on
  const outcome = await runKafka({ topology: s.p.topology, adapter: smallFetches(recordingSends(s.kafka.adapter('a'), sent).adapter, 32 * 1024), stateDir: join(s.dir, 'state-a'), signal: stop.signal, tickMs: 20, commitIntervalMs: 0, maxPendingRecords: 100 })
    .then(() => 'stopped', (e: Error) => e.message);
  unlisten();
  assert.equal(outcome, 'memory kafka: client a crashed (broker.crash)', 'the runner fails with the error of the call it was in');
  assert.equal(armed.hits.length, 1);
  const committed = s.kafka.broker.committed(s.p.topology.name, s.p.source).reduce((n, o) => n + Math.max(0, Number(o.offset)), 0);
  assert.ok(committed > 0 && committed < s.embedded.records, `mid-stream: ${committed} of ${s.embedded.records} source records committed`);
  return { hit: armed.hits[0]!, committed };
}

test('exactly-once: the instance dies while committing a transaction; a new one restores, fences it, and the outputs are exact', async () => {
  const events = testEvents(1000, 5);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 3, edit: (def) => { def.guarantee = 'exactly-once'; } });
  const { hit, committed } = await runUntilCrash(s, 'txCommit', { skip: 8 });
  assert.match(hit, /^a: commit of the transaction of .*-\d_\d \(the client crashed\)$/);
  assert.equal(s.kafka.broker.transactions.openIds().length, 1, 'the dead instance left its transaction open');

  const summary = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('b'), stateDir: join(s.dir, 'state-b'), bounded: true, final: true, tickMs: 20 });
  assert.equal(summary.interrupted, false);
  assert.equal(summary.records, events.length - committed, 'the new instance goes on from the committed offsets');
  assert.ok(summary.restored.some((r) => r.records > 0), 'state restored from the changelogs');
  assert.deepEqual(s.kafka.broker.transactions.openIds(), []);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

test('at-least-once: the instance dies after a source task\'s send reached the broker; the copies are dropped downstream, outputs exact', async () => {
  const events = testEvents(1000, 5);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 3 });
  const repartition = s.p.topology.subTopologies[1]!.input;
  const sent: ProducerRecord[] = [];
  const { hit, committed } = await runUntilCrash(s, 'send', { topic: repartition, skip: 4, written: true }, sent);
  assert.match(hit, /\(written, then failed\) \(the client crashed\)$/);

  const summary = await runKafka({ topology: s.p.topology, adapter: recordingSends(s.kafka.adapter('b'), sent).adapter, stateDir: join(s.dir, 'state-b'), bounded: true, final: true, tickMs: 20 });
  assert.equal(summary.interrupted, false);
  assert.equal(summary.records, events.length - committed);
  assert.ok(summary.restored.some((r) => r.records > 0), 'state restored from the changelogs');
  // What went into the topic (the runner trims repartition topics when it stops).
  const seqs = sent.filter((r) => r.topic === repartition && r.headers?.[SEQ_HEADER]).map((r) => `${r.headers?.[TASK_HEADER]?.toString()} ${r.headers?.[SEQ_HEADER]?.toString()}`);
  const copies = seqs.length - new Set(seqs).size;
  // The crashed send's 100 events (maxPendingRecords), and those of any other task whose commit
  // was in flight when the process died (its send done, its offset commit not).
  assert.ok(copies >= 100, `${copies} events went out twice`);
  assert.equal(summary.replayed, copies, 'the new instance dropped every copy');
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
