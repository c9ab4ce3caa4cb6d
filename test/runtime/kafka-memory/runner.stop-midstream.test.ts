// A graceful stop while records still flow between sub-topologies: the final commits of the
// source tasks send their last events into the repartition topics, and the consumer may fetch
// them for downstream tasks whose final commit is already done. Those batches must be left to
// the partition's next owner: processed, their outputs would go out with their input offsets
// never committed, and come out a second time from the instance that takes the task over.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, slowSends, smallFetches, summarize, waitFor } from '../../support/memory-kafka.js';

for (const at of [0.2, 0.5, 0.8]) {
  test(`stopped with ${at * 100}% of the source committed, records in flight downstream: the next instance goes on, outputs exact, none twice`, async () => {
    const events = testEvents(1600, 23);
    const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 4, edit: (def) => { def.source.idleTimeout = '10m'; } });
    const { topology } = s.p;
    const committedSource = () => s.kafka.broker.committed(topology.name, s.p.source).reduce((n, o) => n + Number(o.offset), 0);
    const abort = new AbortController();
    const runA = runKafka({
      topology, adapter: slowSends(smallFetches(s.kafka.adapter('a'), 2048), 2), stateDir: join(s.dir, 'state-a'), signal: abort.signal, tickMs: 20, commitIntervalMs: 0,
    });
    await waitFor(`${at * 100}% of the source committed`, () => committedSource() >= events.length * at);
    abort.abort();
    const a = await runA;
    assert.equal(a.interrupted, true);
    assert.ok(a.records < events.length, `A stopped mid-stream (${a.records} of ${events.length})`);

    // Another instance, with a state directory of its own: every store restored from the changelogs.
    const b = await runKafka({ topology, adapter: s.kafka.adapter('b'), stateDir: join(s.dir, 'state-b'), bounded: true, final: true, tickMs: 20 });
    assert.equal(b.interrupted, false);
    assert.equal(a.records + b.records, events.length, 'each source record processed once');
    assert.equal(a.replayed + b.replayed, 0, 'no repartitioned event came twice');
    assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
  });
}
