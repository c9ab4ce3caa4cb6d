// Scenario 6 of issue 5: a task's local store deleted (or corrupted) between two runs is rebuilt
// from its changelog before the task processes anything, and processing goes on with the
// results of one uninterrupted run. A live run over the first half of the input, stopped once it
// committed it, then a bounded run over the rest (same state directory), against one embedded
// run over all of it; between them the LMDB environments of some tasks are removed or
// overwritten with garbage. The restore is logged ("restoring", "restored") and listed in the
// summary with the changelog's record count. joinIdentity: a second-half event of a person known
// from the first half gets that person's id only if the graph survived; dedupe: second-half
// re-sends of first-half messages are caught only if the `seen` store survived.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TributaryEvent } from '../../lib/event/event.js';
import { generateEvents } from '../../lib/generate/index.js';
import type { PipelineDefinition } from '../../lib/pipeline/definition.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import type { KafkaAdapter } from '../../lib/runtime/kafka/client.js';
import { runKafka, type KafkaRunSummary } from '../../lib/runtime/kafka/runner.js';
import { taskStoreName } from '../../lib/runtime/kafka/topics.js';
import { changelogTopic } from '../../lib/state/changelog-codec.js';
import { caughtUp, jsonMultiset, ndjsonMultiset, personPartitioner, produceEvents, readTopic, testAdapter, uniquePipeline, waitForCommitted, type TestPipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();

function testEvents(n: number, seed: number): TributaryEvent[] {
  return [...generateEvents({ events: n, seed, lateRate: 0, maxDisorderMs: 20_000 })] as TributaryEvent[];
}

/** The cart-abandonment pipeline's source with joinIdentity as its only step (behind a one-partition repartition topic). */
function identityPipeline(dir: string): TestPipeline {
  return uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir, (def: PipelineDefinition) => {
    def.steps = [{ joinIdentity: { identifiers: ['userId', 'anonymousId'], output: 'identity-merges' } }] as PipelineDefinition['steps'];
    delete def.outputs;
  });
}

/** REES46 dedupe (messageId, ttl 24h) over JSON events; lateness 30d so no re-send is late. */
function dedupePipeline(dir: string): TestPipeline {
  return uniquePipeline('examples/rees46-dedupe/pipeline.yaml', dir, (def: PipelineDefinition) => {
    def.source = { topic: def.source.topic, format: 'json', key: ['userId', 'anonymousId'], timestamp: 'timestamp', allowedLateness: '30d' } as PipelineDefinition['source'];
  });
}

/** Every store of task `<sub>_<partition>` (its steps' stores and its task store). */
function storesOfTask(p: TestPipeline, task: string): string[] {
  const sub = p.topology.subTopologies[Number(task.split('_')[0])]!;
  return [...sub.steps.flatMap((name) => p.topology.steps.find((s) => s.name === name)?.stores ?? []), taskStoreName(sub.id)];
}

/** Records in each changelog partition of the stores of `tasks` (store → count), as the broker has them now. */
async function changelogCounts(adapter: KafkaAdapter, p: TestPipeline, tasks: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const task of tasks) {
    const partition = Number(task.split('_')[1]);
    for (const store of storesOfTask(p, task)) {
      const records = await readTopic(adapter, changelogTopic(p.topology.name, store));
      out.set(`${task} ${store}`, records.filter((r) => r.partition === partition).length);
    }
  }
  return out;
}

type Damage = 'delete' | 'corrupt' | 'none';

/** LMDB environments of `tasks` removed, or their data file overwritten with garbage. */
function damage(stateDir: string, app: string, tasks: string[], how: Damage): void {
  for (const task of tasks) {
    const dir = join(stateDir, app, task);
    assert.ok(existsSync(dir), `${dir} exists after the first run`);
    if (how === 'delete') rmSync(dir, { recursive: true, force: true });
    if (how === 'corrupt') {
      const data = join(dir, 'data.mdb');
      assert.ok(existsSync(data), `${data} exists`);
      writeFileSync(data, randomBytes(Math.max(statSync(data).size, 64 * 1024)));
    }
  }
}

interface Scenario {
  p: TestPipeline;
  first: TributaryEvent[];
  second: TributaryEvent[];
  partitions: number;
  /** Which tasks to damage (ids `<sub>_<partition>`; `*` = every task directory there is). */
  tasks: string[] | '*';
  how: Damage;
}

/** Two bounded runs with damage between them; asserts the restore and that run 1 + run 2 = embedded over everything. */
async function twoRuns(dir: string, s: Scenario): Promise<{ run1: KafkaRunSummary; run2: KafkaRunSummary }> {
  const { p } = s;
  const all = [...s.first, ...s.second];
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, all.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const embedded = await runEmbedded({ topology: p.topology, input, outDir: join(dir, 'embedded') });
  assert.equal(embedded.late, 0);
  assert.deepEqual(embedded.deadLetters, {});

  await createTopic(p.source, { partitions: s.partitions });
  const adapter = testAdapter();
  const partitionOf = personPartitioner(all, s.partitions);
  const stateDir = join(dir, 'state');
  const app = p.topology.name;

  await produceEvents(adapter, p.source, s.first, p.topology.source.key, partitionOf);
  // Run 1 is a live run, stopped (SIGTERM-like) once it has committed the first half: a bounded
  // run would end with watermark +∞, closing sessions and expiring ttl'd state, which
  // is not where a continuing stream stands.
  const log1: string[] = [];
  const stop = new AbortController();
  const running = runKafka({ topology: p.topology, adapter, stateDir, signal: stop.signal, tickMs: 200, log: (l) => log1.push(l) });
  await waitForCommitted(adapter, app, p.source, s.first.length);
  // And every downstream task has committed its repartition topic to the end: stopped earlier,
  // a downstream task may not have processed anything yet, so it has nothing to restore later.
  for (const sub of p.topology.subTopologies.slice(1)) {
    for (const until = performance.now() + 60_000; !(await caughtUp(adapter, app, sub.input)); ) {
      assert.ok(performance.now() < until, `${app} did not commit ${sub.input} to its end within 60 s`);
      await sleep(100);
    }
  }
  stop.abort();
  const run1 = await running;
  assert.equal(run1.interrupted, true);
  assert.equal(run1.records, s.first.length);
  assert.deepEqual(run1.restored, [], 'a first run has nothing to restore');

  const present = readdirSync(join(stateDir, app)).sort();
  const tasks = s.tasks === '*' ? present : s.tasks;
  for (const t of tasks) assert.ok(present.includes(t), `task ${t} has state after run 1 (${present.join(', ')})`);
  const expected = await changelogCounts(adapter, p, tasks);
  damage(stateDir, app, tasks, s.how);

  await produceEvents(adapter, p.source, s.second, p.topology.source.key, partitionOf);
  const log2: string[] = [];
  const run2 = await runKafka({ topology: p.topology, adapter, stateDir, bounded: true, final: true, tickMs: 200, log: (l) => log2.push(l) });
  assert.equal(run2.interrupted, false);
  assert.equal(run2.records, s.second.length);

  if (s.how !== 'none') {
    // Every store of a damaged task whose changelog has records is restored with all of them;
    // an empty changelog leaves an empty store (nothing to restore); undamaged tasks are not restored.
    const want = [...expected].filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).sort();
    assert.ok(want.length > 0, 'the damaged tasks had changelogged state');
    const got = run2.restored.map((r) => `${r.task} ${r.store} ${r.records}`).sort();
    assert.deepEqual(got, want, 'summary.restored: the damaged tasks\' stores with their changelog record counts');
    for (const r of run2.restored) {
      assert.ok(log2.some((l) => l.startsWith(`task ${r.task}: restoring ${r.store} from ${changelogTopic(app, r.store)}/`)), `log: restoring ${r.task} ${r.store}\n${log2.join('\n')}`);
      assert.ok(log2.some((l) => l.startsWith(`task ${r.task}: restored ${r.store}: ${r.records} records`)), `log: restored ${r.task} ${r.store}`);
    }
    if (s.how === 'corrupt') assert.ok(run2.restored.every((r) => r.reason === 'missing' || r.reason === 'corrupt'), JSON.stringify(run2.restored));
  } else {
    assert.deepEqual(run2.restored, []);
  }

  // Run 1 + run 2 together: the records of one embedded run over everything.
  for (const stream of p.topology.streams) {
    const file = join(dir, 'embedded', `${stream.name}.ndjson`);
    const want = existsSync(file) ? ndjsonMultiset(readFileSync(file, 'utf8')) : [];
    const got = jsonMultiset(await readTopic(adapter, stream.topic));
    const missing = want.filter((x) => !got.includes(x));
    const extra = got.filter((x) => !want.includes(x));
    assert.deepEqual(
      { n: got.length, missing: missing.slice(0, 3), extra: extra.slice(0, 3), nMissing: missing.length, nExtra: extra.length },
      { n: want.length, missing: [], extra: [], nMissing: 0, nExtra: 0 },
      `${stream.name}: run 1 + run 2 through Kafka differ from one embedded run`,
    );
  }
  return { run1, run2 };
}

test('joinIdentity: every task\'s state deleted between two runs is restored from the changelogs; results as one run', { skip, timeout: 240_000 }, async () => {
  const dir = tempDir();
  const p = identityPipeline(dir);
  const events = testEvents(3000, 5);
  const { run2 } = await twoRuns(dir, { p, first: events.slice(0, 1500), second: events.slice(1500), partitions: 1, tasks: '*', how: 'delete' });
  assert.ok(run2.restored.some((r) => r.task === '1_0' && r.store.startsWith('joinIdentity')), 'the identity graph was restored');
});

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

for (const how of ['delete', 'none'] as const) {
  test(`dedupe: ${how === 'delete' ? 'every task\'s state deleted and restored' : 'state kept (control)'}; second-half re-sends of first-half messages are still duplicates`, { skip, timeout: 240_000 }, async () => {
    const dir = tempDir();
    const p = dedupePipeline(dir);
    const { first, second } = withResends(testEvents(2000, 8));
    await twoRuns(dir, { p, first, second, partitions: 3, tasks: how === 'delete' ? '*' : [], how });
  });
}

// Last in the file: when opening a garbage LMDB file crashes the process (SIGSEGV in lmdb-js,
// which the runner's catch around `new LmdbStoreFactory` cannot turn into a rebuild), the tests
// above have already reported.
test('joinIdentity: a corrupt LMDB data file of the joinIdentity task is rebuilt from the changelogs; results as one run', { skip, timeout: 240_000 }, async () => {
  const dir = tempDir();
  const p = identityPipeline(dir);
  const events = testEvents(3000, 6);
  await twoRuns(dir, { p, first: events.slice(0, 1500), second: events.slice(1500), partitions: 1, tasks: ['1_0'], how: 'corrupt' });
});

test('dedupe: a corrupt LMDB data file of one source task is rebuilt from the changelogs; results as one run', { skip, timeout: 240_000 }, async () => {
  const dir = tempDir();
  const p = dedupePipeline(dir);
  const { first, second } = withResends(testEvents(2000, 9));
  await twoRuns(dir, { p, first, second, partitions: 3, tasks: ['0_1'], how: 'corrupt' });
});
