// Scenario 3 of issue 5: two instances of the same pipeline; one is stopped mid-stream. Its
// partitions move to the survivor, which restores their stores from the changelogs; the outputs
// equal a single-instance (embedded) run over all the events.
//
// Deterministic design: A starts, B joins (A's tasks that move to B are restored there), the
// first half of the events is produced and processed by both, A stops gracefully (its tasks
// move to B, which restores them), the second half is produced and processed by B alone, B
// stops, and a final bounded run on B's state ends the input as the embedded run does. The
// source idleTimeout is 10m so no watermark advances with processing time meanwhile.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TributaryEvent } from '../../lib/event/event.js';
import { generateEvents } from '../../lib/generate/index.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { runKafka, type KafkaRunSummary } from '../../lib/runtime/kafka/runner.js';
import { caughtUp, compareWithEmbedded, personPartitioner, produceEvents, testAdapter, uniquePipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();
const PARTITIONS = 4;

/** Events without late arrivals (as in kafka.runner.test.ts), so neither runtime sees a late event. */
function testEvents(n: number, seed: number): TributaryEvent[] {
  return [...generateEvents({ events: n, seed, lateRate: 0, maxDisorderMs: 20_000 })] as TributaryEvent[];
}

/** Polls `check` every 200 ms until it is true, failing with `what` after `ms`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 60_000, detail = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${detail()}`);
    await sleep(200);
  }
}


const readyTasks = (lines: string[]) => new Set(lines.flatMap((l) => /^task (\d+_\d+): ready/.exec(l)?.[1] ?? []));

test('rebalance: an instance stops mid-stream, the survivor restores its tasks from the changelogs, outputs equal embedded', { skip, timeout: 300_000 }, async (t) => {
  const dir = tempDir();
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir, (def) => {
    def.source.idleTimeout = '10m';
  });
  const events = testEvents(4000, 23);
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const embedded = await runEmbedded({ topology: p.topology, input, outDir: join(dir, 'embedded') });
  assert.equal(embedded.late, 0);

  await createTopic(p.source, { partitions: PARTITIONS });
  const adapter = testAdapter();
  const partitionOf = personPartitioner(events, PARTITIONS);
  const half = Math.floor(events.length / 2);

  const app = p.topology.name;
  const allTasks = new Set<string>();
  for (const sub of p.topology.subTopologies) for (let i = 0; i < (sub.partitions === 1 ? 1 : PARTITIONS); i++) allTasks.add(`${sub.id}_${i}`);

  const start = (name: string, stateDir: string, logs: string[], abort: AbortController) =>
    runKafka({
      topology: p.topology, adapter: testAdapter(`tributary-test-${name}`), stateDir, signal: abort.signal,
      sessionTimeoutMs: 6000, tickMs: 200, log: (l) => logs.push(l),
    });
  const logsA: string[] = [];
  const logsB: string[] = [];
  const abortA = new AbortController();
  const abortB = new AbortController();
  t.after(() => {
    abortA.abort();
    abortB.abort();
  });
  const logs = () => `A:\n  ${logsA.join('\n  ')}\nB:\n  ${logsB.join('\n  ')}`;
  const t0 = performance.now();
  const runA = start('a', join(dir, 'state-a'), logsA, abortA);
  let summaryA: KafkaRunSummary | undefined;
  let failedA: unknown;
  void runA.then((s) => (summaryA = s), (e: unknown) => (failedA = e));
  await waitFor('instance A ready', () => readyTasks(logsA).size === allTasks.size || failedA !== undefined);
  assert.equal(failedA, undefined);

  // B joins: the group rebalances, each instance ends up with part of the tasks. The adapter
  // reports only what changes (a revoke, a new assignment): A keeps the tasks B did not get.
  const runB = start('b', join(dir, 'state-b'), logsB, abortB);
  let failedB: unknown;
  void runB.catch((e: unknown) => (failedB = e));
  let lastB = '';
  let stableSince = Date.now();
  await waitFor('B to hold a stable part of the tasks', () => {
    if (failedA !== undefined || failedB !== undefined) return true;
    const b = [...readyTasks(logsB)].sort().join(' ');
    if (b !== lastB) {
      lastB = b;
      stableSince = Date.now();
    }
    return b !== '' && Date.now() - stableSince > 3000;
  }, 60_000, logs);
  assert.equal(failedA, undefined, `A failed: ${String(failedA)}`);
  assert.equal(failedB, undefined, `B failed: ${String(failedB)}`);
  // The first half goes to both instances.
  await produceEvents(adapter, p.source, events.slice(0, half), p.topology.source.key, partitionOf);
  await waitFor('the first half to be processed', () => caughtUp(adapter, app, p.source), 60_000, logs);
  const bHeldBefore = readyTasks(logsB);
  const tasksOfA = () => new Set([...allTasks].filter((x) => !bHeldBefore.has(x)));
  const aHeld = tasksOfA();
  assert.ok(aHeld.size > 0 && bHeldBefore.size > 0, 'both instances hold tasks');
  t.diagnostic(`A holds ${[...aHeld].sort().join(' ')}; B holds ${[...bHeldBefore].sort().join(' ')}`);

  assert.equal(logsB.filter((l) => / ready on /.test(l)).length, bHeldBefore.size, 'B was assigned once: no further rebalance before A stops');
  // A stops gracefully (drain, commit, leave the group): its tasks move to B.
  const markB = logsB.length;
  abortA.abort();
  await runA;
  assert.ok(summaryA, 'A stopped with a summary');
  assert.equal(summaryA.interrupted, true);
  t.diagnostic(`A: ${summaryA.records} source records, ${summaryA.commits} commits`);
  assert.ok(summaryA.records > 0 && summaryA.records < half, 'A processed part of the first half');
  const movedTo = () => readyTasks(logsB.slice(markB));
  await waitFor('B to open A\'s tasks', () => failedB !== undefined || [...aHeld].every((x) => movedTo().has(x)), 60_000, logs);
  assert.equal(failedB, undefined, `B failed: ${String(failedB)}`);

  // B restored the stores of the tasks it did not hold before from their changelogs.
  const afterStop = logsB.slice(markB);
  for (const task of aHeld) {
    assert.ok(!bHeldBefore.has(task), `task ${task} was A's only`);
    const restoring = afterStop.filter((l) => l.startsWith(`task ${task}: restoring `));
    const restored = afterStop.filter((l) => l.startsWith(`task ${task}: restored `));
    assert.ok(restoring.length > 0 && restored.length > 0, `B restores task ${task} (A's): ${afterStop.filter((l) => l.startsWith(`task ${task}:`)).join(' | ')}`);
    assert.ok(restored.some((l) => !/: 0 records/.test(l)), `B applied changelog records for task ${task}: ${restored.join(' | ')}`);
  }
  // B keeps its own tasks open across the rebalance: nothing to reopen or restore for them.
  // Unless an offset commit of B's raced the rebalance and was refused (the group's generation
  // had moved on: seen under load): then the task reopens from its own flushed state.
  const failedCommit = (task: string) => afterStop.some((l) => l.startsWith(`task ${task}: commit failed`));
  for (const task of bHeldBefore) {
    const lines = afterStop.filter((l) => l.startsWith(`task ${task}: `));
    if (failedCommit(task)) t.diagnostic(`B's task ${task} reopened after a refused commit: ${lines.join(' | ')}`);
    else assert.deepEqual(lines, [], `B's own task ${task} stays open`);
  }

  // The rest of the stream goes to the survivor alone.
  await produceEvents(adapter, p.source, events.slice(half), p.topology.source.key, partitionOf);
  await waitFor('the second half to be processed', () => caughtUp(adapter, app, p.source), 60_000, logs);
  abortB.abort();
  const summaryB = await runB;
  assert.equal(summaryB.interrupted, true);
  t.diagnostic(`B: ${summaryB.records} source records, ${summaryB.restored.length} stores restored (${summaryB.restored.map((r) => `${r.task}/${r.store}: ${r.records}`).join(', ')})`);
  // A commit refused in a rebalance is at-least-once's one source of repeats: the task goes on
  // from its last commit, and what it had sent since comes out again.
  const refused = [...logsA, ...logsB].filter((l) => /commit failed/.test(l));
  if (refused.length === 0) {
    assert.equal(summaryA.records + summaryB.records, events.length, 'each source record processed once (graceful stops commit)');
  } else {
    t.diagnostic(`commits refused in a rebalance: ${refused.join(' | ')}`);
    assert.ok(summaryA.records + summaryB.records >= events.length, 'every source record processed');
  }

  // A bounded run on the survivor's state ends the input, as the embedded run does.
  const logsC: string[] = [];
  const final = await runKafka({
    topology: p.topology, adapter, stateDir: join(dir, 'state-b'), bounded: true, final: true, sessionTimeoutMs: 6000, tickMs: 200, log: (l) => logsC.push(l),
  });
  assert.equal(final.interrupted, false);
  assert.equal(final.records, 0, 'the final bounded run has no source record left to process');
  t.diagnostic(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const diffs = await compareWithEmbedded(adapter, p, join(dir, 'embedded'));
  for (const d of diffs) {
    t.diagnostic(`${d.stream}: ${d.got} through Kafka, ${d.want} embedded, ${d.missing.length} missing, ${d.extra.length} extra`);
  }
  for (const d of diffs) {
    assert.equal(embedded.streams[d.stream] ?? 0, d.want);
    if (refused.length > 0) {
      // Repeats of records embedded wrote are allowed then; anything lost or different is not.
      assert.deepEqual({ missing: d.missing.slice(0, 3), foreign: d.foreign.slice(0, 3), nMissing: d.missing.length, nForeign: d.foreign.length },
        { missing: [], foreign: [], nMissing: 0, nForeign: 0 }, `${d.stream}: the two-instance run lost or changed records\n${logs()}`);
      continue;
    }
    assert.deepEqual({ missing: d.missing.slice(0, 3), extra: d.extra.slice(0, 3), nMissing: d.missing.length, nExtra: d.extra.length },
      { missing: [], extra: [], nMissing: 0, nExtra: 0 }, `${d.stream}: the two-instance run differs from embedded\n${logs()}\nfinal:\n  ${logsC.join('\n  ')}`);
  }
});
