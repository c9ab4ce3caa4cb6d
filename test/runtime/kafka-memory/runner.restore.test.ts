// Restore from the changelogs over the memory broker: a live run over the first half of the
// input, stopped once it committed it; every task's local state deleted; a bounded run over the
// rest. The second run restores each store from its changelog before processing (summary.restored:
// each store with every record its changelog partition holds), and run 1 + run 2 give the records
// of one embedded run: dedupe still catches second-half re-sends of first-half messages, which it
// can only do with the restored `seen` store (kafka.restore.test.ts does this on a broker).
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../../lib/event/event.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { storesOfSub } from '../../../lib/runtime/kafka/topics.js';
import { changelogTopic } from '../../../lib/state/changelog-codec.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { dedupeScenario } from '../../support/dedupe-halves.js';
import { caughtUp, diffWithEmbedded, exact, summarize, waitFor } from '../../support/memory-kafka.js';

/** First half, then the second half with re-sends of first-half messages spread through it. */
function withResends(events: TributaryEvent[]): { first: TributaryEvent[]; second: TributaryEvent[] } {
  const first = events.slice(0, events.length / 2);
  const rest = events.slice(events.length / 2);
  const resends = first.filter((_e, i) => i % 50 === 7);
  const second: TributaryEvent[] = [];
  rest.forEach((e, i) => {
    second.push(e);
    if (i % 20 === 0 && resends.length > 0) second.push(resends.shift()!);
  });
  second.push(...resends);
  return { first, second };
}

test('dedupe: every task\'s state deleted between two runs is restored from the changelogs; second-half re-sends are still duplicates', async (t) => {
  const { first, second } = withResends(testEvents(1000, 8));
  const s = await dedupeScenario(first, second);
  const app = s.p.topology.name;
  const stateDir = join(s.dir, 'state');

  // Run 1: live, stopped once it committed the first half (a bounded run would expire the ttl'd state).
  const stop = new AbortController();
  t.after(() => stop.abort());
  const running = runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir, signal: stop.signal, tickMs: 20 });
  await waitFor('run 1 to commit the first half', () => caughtUp(s.kafka, app, s.p.source));
  stop.abort();
  const run1 = await running;
  assert.equal(run1.interrupted, true);
  assert.equal(run1.records, first.length);
  assert.deepEqual(run1.restored, []);

  const tasks = readdirSync(join(stateDir, app)).sort();
  assert.deepEqual(tasks, ['0_0', '0_1', '0_2']);
  const want: string[] = [];
  const sub = s.p.topology.subTopologies[0]!;
  for (const task of tasks) {
    const partition = Number(task.split('_')[1]);
    for (const store of storesOfSub(s.p.topology, sub)) {
      const n = s.kafka.broker.records(changelogTopic(app, store)).filter((r) => r.partition === partition).length;
      if (n > 0) want.push(`${task} ${store} ${n}`);
    }
    rmSync(join(stateDir, app, task), { recursive: true, force: true });
  }
  assert.equal(want.length, 6, 'each task has seen-store and task-store records');

  await produceEvents(s.kafka.adapter('setup'), s.p.source, second, s.p.topology.source.key, s.partitionOf);
  const logs: string[] = [];
  const run2 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run2'), stateDir, bounded: true, final: true, tickMs: 20, log: (l) => logs.push(l) });
  assert.equal(run2.interrupted, false);
  assert.equal(run2.records, second.length);
  assert.deepEqual(run2.restored.map((r) => `${r.task} ${r.store} ${r.records}`).sort(), want.sort());
  assert.ok(run2.restored.every((r) => r.reason === 'missing'), JSON.stringify(run2.restored));
  for (const r of run2.restored) assert.ok(logs.some((l) => l.startsWith(`task ${r.task}: restored ${r.store}: ${r.records} records`)), `log of ${r.task} ${r.store}`);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
