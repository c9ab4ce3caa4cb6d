// Forgetting a person through Kafka, on a broker given as an adapter (the memory broker, or a
// real one): the cart-abandonment pipeline (3 sub-topologies: dedupe on the source partitions,
// joinIdentity behind a one-partition topic, the personId-keyed steps behind another) runs live
// over the first part of the events; a forget request for a person with several identifiers and
// a merged person id goes to every source partition; then no task's LMDB store, and no latest
// changelog value, holds any identifier or person id of that person, and a fresh instance
// restored from the changelogs (empty state directory) holds none either.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { KafkaAdapter } from '../../lib/runtime/kafka/adapter.js';
import { runKafka } from '../../lib/runtime/kafka/runner.js';
import { storesOfSub } from '../../lib/runtime/kafka/topics.js';
import { changelogTopic, decodeChangelogKey, decodeChangelogValue } from '../../lib/state/changelog-codec.js';
import { personIdFor } from '../../operators/join-identity.js';
import { heldBy, lmdbEntries, type StateEntry } from './forget.js';
import { caughtUp, personPartitioner, produceEvents, readTopic, testEvents, uniquePipeline, waitForCommitted, type TestPipeline } from './kafka-pipeline.js';

export interface ForgetScenario {
  adapter: KafkaAdapter;
  dir: string;
  partitions: number;
  /** Creates the source topic. */
  createSource: (topic: string, partitions: number) => Promise<void>;
  /** Sends the request `{ userId }` to every partition of the source topic (the CLI on a real broker). */
  sendForget: (p: TestPipeline, userId: string, requestId: string) => Promise<void>;
  /** Called with the pipeline once made (topic cleanup). */
  onPipeline?: (p: TestPipeline) => void;
  tickMs: number;
}

/** The user with the most identifiers (user ids through aliases, devices through identifies) among `events`, and every term that can name them. */
export function subjectOf(events: TributaryEvent[]): { userId: string; terms: string[] } {
  const ids = new Map<string, Set<string>>();
  for (const e of events) {
    if (!e.userId) continue;
    const set = ids.get(e.userId) ?? new Set<string>();
    if (e.type === 'identify' && e.anonymousId) set.add(`anonymousId:${e.anonymousId}`);
    if (e.type === 'alias' && e.previousId) set.add(`userId:${e.previousId}`);
    ids.set(e.userId, set);
  }
  const [userId, set] = [...ids].sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : 1))[0]!;
  const typed = [`userId:${userId}`, ...set];
  return { userId, terms: [...typed, ...typed.map((t) => t.slice(t.indexOf(':') + 1)), ...typed.map((t) => personIdFor(t))] };
}

/** The latest value of every key of every changelog of the pipeline (tombstones: the key is gone). */
async function latestChangelogValues(adapter: KafkaAdapter, p: TestPipeline, partitions: number): Promise<StateEntry[]> {
  const out: StateEntry[] = [];
  const app = p.topology.name;
  const stores = new Set(p.topology.subTopologies.flatMap((sub) => storesOfSub(p.topology, sub)));
  assert.ok(partitions > 0);
  for (const store of stores) {
    const latest = new Map<string, StateEntry | undefined>();
    for (const r of await readTopic(adapter, changelogTopic(app, store))) {
      if (r.key === null) continue;
      const key = decodeChangelogKey(r.key);
      const id = `${r.partition} ${JSON.stringify(key)}`;
      latest.set(id, r.value === null ? undefined : { store, key, value: decodeChangelogValue(r.value).value });
    }
    for (const e of latest.values()) if (e) out.push(e);
  }
  return out;
}

async function stateOfTasks(stateDir: string): Promise<StateEntry[]> {
  const out: StateEntry[] = [];
  for (const task of readdirSync(stateDir)) out.push(...(await lmdbEntries(join(stateDir, task))).map((e) => ({ ...e, store: `${task} ${e.store}` })));
  return out;
}

export async function forgetScenario(s: ForgetScenario): Promise<void> {
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', s.dir, (def) => {
    def.source.idleTimeout = '10m';
  });
  s.onPipeline?.(p);
  const app = p.topology.name;
  const events = testEvents(3000, 5);
  const first = events.slice(0, 2400);
  const subject = subjectOf(first);
  await s.createSource(p.source, s.partitions);
  await produceEvents(s.adapter, p.source, first, p.topology.source.key, personPartitioner(events, s.partitions));

  const stateDir = join(s.dir, 'state');
  const stop = new AbortController();
  const running = runKafka({ topology: p.topology, adapter: s.adapter, stateDir, signal: stop.signal, tickMs: s.tickMs });
  try {
    await waitForCommitted(s.adapter, app, p.source, first.length);
    await allCaughtUp(s.adapter, p);
    const before = heldBy(await latestChangelogValues(s.adapter, p, s.partitions), subject.terms);
    assert.ok(before.length >= 5, `the person is in the changelogs before the request: ${JSON.stringify(before)}`);

    await s.sendForget(p, subject.userId, 'req-kafka');
    // One audit record per task: dedupe's tasks (one per source partition), joinIdentity's, and the personId-keyed steps' (one per partition).
    const tasks = p.topology.subTopologies.reduce((n, sub) => n + (sub.partitions === 1 ? 1 : s.partitions), 0);
    let audit: Array<Record<string, unknown>> = [];
    for (const until = performance.now() + 60_000; audit.length < tasks; await sleep(100)) {
      assert.ok(performance.now() < until, `${tasks} audit records within 60 s, got ${audit.length}`);
      audit = (await readTopic(s.adapter, p.topics.forgotten as string)).map((r) => JSON.parse(r.value!.toString()) as Record<string, unknown>);
    }
    await allCaughtUp(s.adapter, p);
    stop.abort();
    await running;
    assert.deepEqual(audit.map((r) => r.task).sort(), p.topology.subTopologies.flatMap((sub) => Array.from({ length: sub.partitions === 1 ? 1 : s.partitions }, (_, i) => `${sub.id}_${i}`)).sort());
    assert.ok(audit.every((r) => r.requestId === 'req-kafka'), JSON.stringify(audit));
    assert.deepEqual(heldBy(audit.map((r) => ({ store: 'forgotten', key: r.id, value: r })), subject.terms), [], 'the audit names nobody');
    const removed = audit.reduce((n, r) => n + (r.total as number), 0);
    assert.ok(removed >= before.length, `removed ${removed} entries, the changelogs held the person in ${before.length}`);
    const identity = audit.find((r) => r.task === '1_0') as { stores: Record<string, number> };
    assert.ok(identity.stores['joinIdentity.persons']! >= 1 && identity.stores['joinIdentity.ids']! >= 3, JSON.stringify(identity));
  } finally {
    stop.abort();
    await running.catch(() => undefined);
  }

  const local = await stateOfTasks(join(stateDir, app));
  assert.ok(local.length > 100, 'the others\' state is there');
  assert.deepEqual(heldBy(local, subject.terms), [], 'no LMDB store holds the person');
  assert.deepEqual(heldBy(await latestChangelogValues(s.adapter, p, s.partitions), subject.terms), [], 'no latest changelog value holds the person');

  // A fresh instance: empty state directory, every store restored from its changelog.
  rmSync(stateDir, { recursive: true, force: true });
  const restored = await runKafka({ topology: p.topology, adapter: s.adapter, stateDir, bounded: true, final: false, tickMs: s.tickMs });
  assert.ok(restored.restored.length > 0, 'the stores were restored from the changelogs');
  const again = await stateOfTasks(join(stateDir, app));
  assert.ok(again.length > 100, 'the others\' state is restored');
  assert.deepEqual(heldBy(again, subject.terms), [], 'no restored store holds the person');
}

async function allCaughtUp(adapter: KafkaAdapter, p: TestPipeline): Promise<void> {
  for (const sub of p.topology.subTopologies) {
    const topic = sub.input === 'source' ? p.source : sub.input;
    for (const until = performance.now() + 60_000; !(await caughtUp(adapter, p.topology.name, topic)); await sleep(100)) {
      assert.ok(performance.now() < until, `${p.topology.name} did not commit ${topic} to its end within 60 s`);
    }
  }
}
