// An instance the group coordinator drops (no heartbeat within the session timeout: a paused
// process, a batch longer than the timeout; kafkajs then gives up with UNKNOWN_MEMBER_ID) joins
// again instead of stopping, as a Kafka Streams thread does after a missed rebalance: its tasks
// are lost (closed without committing), a new consumer joins as a new member, and the tasks it is
// given restore and go on. Outputs exact: nothing lost, nothing twice.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, diffWithEmbedded, exact, memoryScenario, slowSends, smallFetches, summarize, waitFor, type MemoryScenario } from '../../support/memory-kafka.js';

const allCaughtUp = (s: MemoryScenario) => [s.p.source, ...s.p.topology.subTopologies.slice(1).map((sub) => sub.input)].every((topic) => caughtUp(s.kafka, s.p.topology.name, topic));
const readyTasks = (lines: string[]) => lines.filter((l) => /^task \d+_\d+: ready on /.test(l)).length;

/** The run's outcome, and a check that throws its error once it failed (a wait then ends with it). */
function watched<T>(run: Promise<T>) {
  let error: Error | undefined;
  const outcome = run.then((v) => v, (e: Error) => (error = e));
  return { outcome, running: () => { if (error) throw error; return true; } };
}

test('dropped from the group while idle: the instance joins again as a new member, restores its tasks, goes on; outputs exact', async () => {
  const events = testEvents(800, 41);
  const half = events.length / 2;
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, produce: events.slice(0, half), partitions: 2, edit: (def) => { def.source.idleTimeout = '10m'; } });
  const { topology } = s.p;
  const logs: string[] = [];
  const abort = new AbortController();
  const { outcome, running } = watched(runKafka({ topology, adapter: s.kafka.adapter('a'), stateDir: join(s.dir, 'state-a'), signal: abort.signal, tickMs: 20, log: (l) => logs.push(l) }));
  await waitFor('A to process the first half', () => allCaughtUp(s) && readyTasks(logs) === 5);
  assert.deepEqual(s.kafka.broker.groupMembers(topology.name), ['a-000001']);

  s.kafka.broker.dropFromGroups('a');
  await waitFor('A to join again', () => running() && logs.some((l) => l === `joined consumer group ${topology.name} again`) && readyTasks(logs) === 10);
  assert.deepEqual(s.kafka.broker.groupMembers(topology.name), ['a-000002'], 'A is in the group again, as a new member');
  assert.deepEqual(logs.filter((l) => /consumer group/.test(l)), [
    `dropped from consumer group ${topology.name} (memory kafka: the coordinator is not aware of this member (a-000001 was dropped from group ${topology.name}: no heartbeat within the session timeout)): its tasks are lost (closed without committing); joining again`,
    `joined consumer group ${topology.name} again`,
  ]);

  await produceEvents(s.kafka.adapter('setup'), s.p.source, events.slice(half), topology.source.key, s.partitionOf);
  await waitFor('A to process the second half', () => allCaughtUp(s));
  abort.abort();
  const a = await outcome;
  assert.ok(!(a instanceof Error), `A failed: ${a instanceof Error ? a.message : ''}`);
  assert.equal(a.records, events.length, 'each source record processed once');
  assert.equal(a.replayed, 0);

  const final = await runKafka({ topology, adapter: s.kafka.adapter('c'), stateDir: join(s.dir, 'state-a'), bounded: true, final: true, tickMs: 20 });
  assert.equal(final.records, 0);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

test('exactly-once: dropped from the group mid-stream beside another instance: B takes over, A joins again; outputs exact', async () => {
  const events = testEvents(1200, 43);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, produce: [], partitions: 2, edit: (def) => {
    def.source.idleTimeout = '10m';
    def.guarantee = 'exactly-once';
  } });
  const { topology } = s.p;
  const logsA: string[] = [];
  const abortA = new AbortController();
  const abortB = new AbortController();
  // Small fetches and slow sends: many batches, so the drop comes in the middle of one.
  const start = (name: string, logs: string[], signal: AbortSignal) => watched(runKafka({
    topology, adapter: slowSends(smallFetches(s.kafka.adapter(name), 4096), 1), stateDir: join(s.dir, `state-${name}`), signal, tickMs: 20, log: (l) => logs.push(l),
  }));
  const runA = start('a', logsA, abortA.signal);
  const runB = start('b', [], abortB.signal);
  await waitFor('both in the group', () => s.kafka.broker.groupMembers(topology.name).length === 2);
  await produceEvents(s.kafka.adapter('setup'), s.p.source, events, topology.source.key, s.partitionOf);
  const committed = () => s.kafka.broker.committed(topology.name, s.p.source).reduce((n, o) => n + Math.max(0, Number(o.offset)), 0);
  await waitFor('a quarter of the source committed', () => committed() >= events.length / 4);
  s.kafka.broker.dropFromGroups('a');
  await waitFor('A to join again', () => runA.running() && logsA.some((l) => l === `joined consumer group ${topology.name} again`));
  await waitFor('both to process everything', () => runA.running() && runB.running() && allCaughtUp(s), 60_000);
  abortA.abort();
  abortB.abort();
  const [a, b] = await Promise.all([runA.outcome, runB.outcome]);
  assert.ok(!(a instanceof Error) && !(b instanceof Error), `a run failed: ${String(a instanceof Error ? a.message : '')} ${String(b instanceof Error ? b.message : '')}`);
  assert.ok(a.records > 0 && b.records > 0, `A ${a.records}, B ${b.records}`);
  assert.ok(a.records + b.records >= events.length, 'every source record processed (what A lost uncommitted, again)');

  const final = await runKafka({ topology, adapter: s.kafka.adapter('c'), stateDir: join(s.dir, 'state-b'), bounded: true, final: true, tickMs: 20 });
  assert.equal(final.records, 0);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
