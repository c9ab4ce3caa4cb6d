// A graceful stop that races with the task manager's own work must still end cleanly: what was
// processed is committed (or, when its commit failed, left to the partition's next owner), and
// the run resolves instead of failing on stores closed under a task that was still opening
// ("LMDB store factory at … is closed" made the CLI exit 1 after a SIGTERM in the chaos runs).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumedRecord, KafkaAdapter } from '../../../lib/runtime/kafka/adapter.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, diffWithEmbedded, exact, memoryScenario, summarize, waitFor } from '../../support/memory-kafka.js';

/** A promise and the function that resolves it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * The adapter whose admins hold the next `fetchOffsets` of `topic` (what opening a task of it
 * asks first) once armed, until released; and take 200 ms to disconnect, as over a network (the
 * run's last step before it reports its outcome).
 */
function heldOpen(adapter: KafkaAdapter, topic: string) {
  let armed = false;
  const entered = latch();
  const released = latch();
  return {
    arm: () => (armed = true),
    entered: entered.promise,
    release: released.open,
    adapter: {
      ...adapter,
      admin: async () => {
        const admin = await adapter.admin();
        return {
          ...admin,
          fetchOffsets: async (group: string, t: string) => {
            if (armed && t === topic) {
              armed = false;
              entered.open();
              await released.promise;
            }
            return admin.fetchOffsets(group, t);
          },
          disconnect: async () => {
            await sleep(200);
            await admin.disconnect();
          },
        };
      },
    } satisfies KafkaAdapter,
  };
}

test('stopped while a task reopens after a failed commit: the run ends cleanly, the next instance goes on, outputs exact', async () => {
  const events = testEvents(400, 31);
  const first = events.length - 1;
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, produce: events.slice(0, first), partitions: 1, edit: (def) => { def.source.idleTimeout = '10m'; } });
  const { topology } = s.p;
  const hold = heldOpen(s.kafka.adapter('a'), s.p.source);
  const abort = new AbortController();
  const logs: string[] = [];
  // Commits at most every second, no ticks: the last event's commit comes from the task's commit
  // timer, outside any batch (the consumer's leave does not wait for it).
  const run = runKafka({ topology, adapter: hold.adapter, stateDir: join(s.dir, 'state-a'), signal: abort.signal, tickMs: 600_000, commitIntervalMs: 1000, log: (l) => logs.push(l) });
  const outcome = run.then((summary) => summary, (error: Error) => error);
  await waitFor('A to commit the first part', () => caughtUp(s.kafka, topology.name, s.p.source));

  // The timer's commit of the last event fails; the task is reopened from the last commit, and
  // its reopen is held at its first step while the stop comes.
  const fault = s.kafka.broker.failNext('commit', { topic: s.p.source });
  hold.arm();
  await produceEvents(s.kafka.adapter('setup'), s.p.source, events.slice(first), topology.source.key, s.partitionOf);
  await hold.entered;
  assert.equal(fault.hits.length, 1);
  assert.ok(logs.some((l) => /^task 0_0: commit failed \(.*\); reopening it from the last commit \(attempt 1 of 5\)$/.test(l)), logs.join('\n'));
  abort.abort();
  // Before the reopen goes on, the stop closes what it closes (A leaves the group first).
  await waitFor('A to leave the group', () => s.kafka.broker.groupMembers(topology.name).length === 0, 5000).catch(() => undefined);
  hold.release();
  const a = await outcome;
  assert.ok(!(a instanceof Error), `the stop failed: ${a instanceof Error ? a.message : ''}`);
  assert.equal(a.interrupted, true);
  assert.equal(a.records, events.length, 'A processed every event (the last one\'s commit failed)');

  // Another instance, with a state directory of its own, goes on from what was committed.
  const b = await runKafka({ topology, adapter: s.kafka.adapter('b'), stateDir: join(s.dir, 'state-b'), bounded: true, final: true, tickMs: 20 });
  assert.equal(b.interrupted, false);
  assert.equal(b.records, 1, 'the event whose commit failed is processed again');
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

/** The adapter whose changelog reads (restores) hand over `first` records, then wait until released. */
function heldRestores(adapter: KafkaAdapter, first: number) {
  const entered = latch();
  const released = latch();
  return {
    entered: entered.promise,
    release: released.open,
    adapter: {
      ...adapter,
      readPartition: async function* (topic, partition, options): AsyncGenerator<ConsumedRecord> {
        let n = 0;
        for await (const record of adapter.readPartition(topic, partition, options)) {
          if (n++ === first) {
            entered.open();
            await released.promise;
          }
          yield record;
        }
      },
    } satisfies KafkaAdapter,
  };
}

test('stopped while its tasks restore: the run stops at once instead of restoring to the end; the next run restores the rest, outputs exact', async () => {
  const events = testEvents(600, 37);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 2, edit: (def) => { def.source.idleTimeout = '10m'; } });
  const { topology } = s.p;
  const abortA = new AbortController();
  const runA = runKafka({ topology, adapter: s.kafka.adapter('a'), stateDir: join(s.dir, 'state-a'), signal: abortA.signal, tickMs: 20 });
  const inputs = [s.p.source, ...topology.subTopologies.slice(1).map((sub) => sub.input)];
  await waitFor('A to process everything', () => inputs.every((topic) => caughtUp(s.kafka, topology.name, topic)));
  abortA.abort();
  const a = await runA;
  assert.equal(a.records, events.length);

  // B, on a state directory of its own, restores every task from the changelogs; the restore is
  // held after its first records, and B is stopped then.
  const hold = heldRestores(s.kafka.adapter('b'), 5);
  const abortB = new AbortController();
  const logsB: string[] = [];
  const runB = runKafka({ topology, adapter: hold.adapter, stateDir: join(s.dir, 'state-b'), signal: abortB.signal, tickMs: 20, log: (l) => logsB.push(l) });
  const outcomeB = runB.then((summary) => summary, (error: Error) => error);
  await hold.entered;
  abortB.abort();
  // The held restore gives up at its next record, once released.
  setTimeout(hold.release, 100);
  const b = await outcomeB;
  assert.ok(!(b instanceof Error), `the stop failed: ${b instanceof Error ? b.message : ''}`);
  assert.equal(b.records, 0);
  const started = logsB.filter((l) => /: restoring \S+ from /.test(l)).length;
  const finished = logsB.filter((l) => /: restored \S+: \d+ records/.test(l)).length;
  assert.ok(started > finished, `restores cut short by the stop (${started} started, ${finished} finished):\n${logsB.join('\n')}`);

  // The next run on B's state restores what is missing and ends the input: nothing lost, nothing twice.
  const c = await runKafka({ topology, adapter: s.kafka.adapter('c'), stateDir: join(s.dir, 'state-b'), bounded: true, final: true, tickMs: 20 });
  assert.equal(c.interrupted, false);
  assert.equal(c.records, 0);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
