// An offset commit that fails after the task flushed its state (at-least-once): the outputs and
// changelog records of that commit went out and the local state covers the input, so the reopened
// task adopts the local state and goes on from its offset instead of processing the input again.
// Nothing is missing, nothing repeated (kafka.commit-failure.test.ts does this on a real broker).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, smallFetches, summarize } from '../../support/memory-kafka.js';

test('an offset commit failing once after the flush: the task goes on from its local state; outputs exact, none twice', async () => {
  const events = testEvents(1000, 53);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 1, edit: (def) => { def.source.idleTimeout = '10m'; } });
  // No timer commits (a bounded run ends without them): which commit the fault hits depends on
  // the input alone, not on when a timer fired.
  const NO_TICKS = 600_000;
  // Offset commits of the source task: the first one (where it starts), then one per fetched batch (32 KiB).
  const fault = s.kafka.broker.failNext('commit', { topic: s.p.source, skip: 2 });
  const logs: string[] = [];
  const summary = await runKafka({
    topology: s.p.topology, adapter: smallFetches(s.kafka.adapter('app'), 32 * 1024), stateDir: join(s.dir, 'state'), bounded: true, final: true, tickMs: NO_TICKS, commitIntervalMs: 0, maxPendingRecords: 100, log: (l) => logs.push(l),
  });
  assert.equal(summary.interrupted, false);
  assert.equal(fault.hits.length, 1);
  const [, failedAt] = new RegExp(`^app: offset commit of ${s.p.source}/0@(\\d+)$`).exec(fault.hits[0]!) ?? [];
  assert.ok(failedAt, fault.hits[0]);
  const recovery = logs.filter((l) => /: commit failed \(|going on from it|restoring /.test(l));
  assert.equal(recovery.length, 2, recovery.join('\n'));
  assert.match(recovery[0]!, /^task 0_0: commit failed \(.*\); reopening it from the last commit \(attempt 1 of 5\)$/);
  assert.match(recovery[1]!, new RegExp(`^task 0_0: local state covers input up to offset ${failedAt}, past the committed \\d+ \\(an offset commit failed\\); going on from it$`));
  assert.equal(summary.records, events.length, 'no source record processed twice');
  assert.equal(summary.replayed, 0);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
