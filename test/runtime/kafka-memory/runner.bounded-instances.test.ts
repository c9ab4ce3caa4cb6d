// A bounded run on two instances: B starts when A is ready and they share the tasks; the first to
// finish leaves the group and the other reopens its tasks, some downstream of an upstream task
// whose `end` marker the leaver had already taken. The ended upstream task says `end` again on
// each tick, so the reopened tasks end too: both runs finish, and together the outputs are exact.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka, type KafkaRunSummary } from '../../../lib/runtime/kafka/runner.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, summarize } from '../../support/memory-kafka.js';

test('bounded, two instances: tasks reopened after the other instance left still learn the end of input; outputs exact', async () => {
  const events = testEvents(2400, 23);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 4, edit: (def) => { def.source.idleTimeout = '10m'; } });
  const { topology } = s.p;
  // Stopped after 20 s if they have not ended by then (interrupted: the assertions below fail).
  const stop = AbortSignal.timeout(20_000);
  const start = (name: string, onReady?: () => void) => runKafka({
    topology, adapter: s.kafka.adapter(name), stateDir: join(s.dir, `state-${name}`), bounded: true, final: true, tickMs: 20, maxPendingRecords: 50, signal: stop, ...(onReady ? { onReady } : {}),
  });
  let runB: Promise<KafkaRunSummary> | undefined;
  const a = await start('a', () => (runB = start('b')));
  assert.ok(runB, 'B started');
  const b = await runB;
  assert.deepEqual([a.interrupted, b.interrupted], [false, false], 'both bounded runs ended by themselves');
  assert.ok(a.records > 0 && b.records > 0, `A ${a.records}, B ${b.records}`);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
