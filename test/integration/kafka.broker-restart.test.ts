// Scenario 5 of issue 5: the broker is stopped and restarted mid-stream; the runner reconnects
// and nothing is lost. The test has a broker of its own (test/support/own-broker.ts), so the
// shared broker of the other test files is never stopped.
//
// Design: the runner (unbounded, at-least-once) reads the first half of the events; once it has
// written output the broker is stopped (SIGTERM), left down for 5 s and started again on the same
// port and data. The second half is produced, the runner must consume it all, then it is stopped
// and a bounded run on its state ends the input as the embedded run does. Every record of the
// embedded run must be in the outputs; duplicates (at-least-once) are allowed and reported.
// The source idleTimeout is 10m so no watermark advances with processing time during the outage
// (which would make later events late, a difference that is not a loss).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TributaryEvent } from '../../lib/event/event.js';
import { generateEvents } from '../../lib/generate/index.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { createKafkaJsAdapter, type KafkaAdapter } from '../../lib/runtime/kafka/client.js';
import { runKafka, type KafkaRunSummary } from '../../lib/runtime/kafka/runner.js';
import { caughtUp, compareWithEmbedded, personPartitioner, produceEvents, readTopic, uniquePipeline } from '../support/kafka-pipeline.js';
import { kafkaBrokers, skipReason } from '../support/kafka.js';
import { startOwnBroker, type OwnBroker } from '../support/own-broker.js';
import { tempDir } from '../support/tmp.js';

// Only where integration tests run (scripts/test.mjs found a way to run a broker).
const skip = kafkaBrokers() ? false : skipReason();
const PARTITIONS = 4;

let broker: OwnBroker | undefined;
after(async () => {
  await broker?.close();
});

/** Events without late arrivals (as in kafka.runner.test.ts), so neither runtime sees a late event. */
function testEvents(n: number, seed: number): TributaryEvent[] {
  return [...generateEvents({ events: n, seed, lateRate: 0, maxDisorderMs: 20_000 })] as TributaryEvent[];
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms: number, detail = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${detail()}`);
    await sleep(250);
  }
}

async function endOffsets(adapter: KafkaAdapter, topic: string) {
  const admin = await adapter.admin();
  try {
    return await admin.endOffsets(topic);
  } finally {
    await admin.disconnect();
  }
}


test('broker restart mid-stream: the runner reconnects, nothing is lost (at-least-once)', { skip, timeout: 400_000 }, async (t) => {
  const t0 = performance.now();
  broker = await startOwnBroker((l) => t.diagnostic(l));
  const own = broker;
  const adapter = createKafkaJsAdapter({ brokers: [own.brokers], clientId: 'tributary-test-restart', logLevel: 'nothing' });

  const dir = tempDir();
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir, (def) => {
    def.source.idleTimeout = '10m';
  });
  const events = testEvents(12_000, 31);
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const embedded = await runEmbedded({ topology: p.topology, input, outDir: join(dir, 'embedded') });
  assert.equal(embedded.late, 0);

  const admin = await adapter.admin();
  await admin.createTopics([{ name: p.source, partitions: PARTITIONS }]).finally(() => admin.disconnect());
  const partitionOf = personPartitioner(events, PARTITIONS);
  const half = Math.floor(events.length / 2);

  const logs: string[] = [];
  const abort = new AbortController();
  t.after(() => abort.abort());
  const stateDir = join(dir, 'state');
  const run = runKafka({
    topology: p.topology, adapter: createKafkaJsAdapter({ brokers: [own.brokers], clientId: 'tributary-runner', logLevel: 'nothing' }),
    stateDir, signal: abort.signal, sessionTimeoutMs: 6000, tickMs: 200, log: (l) => logs.push(`${((performance.now() - t0) / 1000).toFixed(1)}s ${l}`),
  });
  let summary: KafkaRunSummary | undefined;
  let failure: unknown;
  const failed = (): unknown => failure; // read through a call: assert.equal narrows `failure`
  const finished = run.then((s) => (summary = s), (e: unknown) => (failure = e));
  const dump = () => `runner log:\n  ${logs.join('\n  ')}`;
  await waitFor('the runner to be ready', () => failed() !== undefined || logs.filter((l) => / ready on /.test(l)).length === 9, 60_000, dump);
  assert.equal(failed(), undefined, `runner failed: ${String(failed())}`);

  await produceEvents(adapter, p.source, events.slice(0, half), p.topology.source.key, partitionOf);
  const sink = p.topics.events!;
  // The sink topic exists only once the runner created it: a missing one is "no output yet".
  await waitFor('output on the sink topic', async () => (await endOffsets(adapter, sink).catch(() => [])).some((w) => BigInt(w.high) > 0n), 60_000, dump);

  // Mid-stream: the broker goes away for a while and comes back on the same port and data.
  const down = performance.now();
  const written = (await endOffsets(adapter, sink)).reduce((a, w) => a + Number(w.high), 0);
  await own.stop();
  t.diagnostic(`${written} enriched events written when the broker went down (${half} events in the first half)`);
  t.diagnostic(`broker stopped at ${((down - t0) / 1000).toFixed(1)} s`);
  await sleep(5000);
  await own.restart();
  t.diagnostic(`broker back after ${((performance.now() - down) / 1000).toFixed(1)} s; runner ${failed() === undefined ? 'still running' : `failed: ${String(failed())}`}`);

  await produceEvents(adapter, p.source, events.slice(half), p.topology.source.key, partitionOf);
  await waitFor('the runner to consume the whole source after the restart', async () => failed() !== undefined || await caughtUp(adapter, p.topology.name, p.source), 180_000, dump);
  const crash = failed();
  assert.equal(crash, undefined, `the runner must survive a broker restart, but it failed: ${crash instanceof Error ? crash.stack : String(crash)}\n${dump()}`);
  abort.abort();
  await finished;
  const recoveries = logs.filter((l) => /commit failed|unusable|restoring/.test(l));
  t.diagnostic(`runner recoveries: ${recoveries.length}`);
  for (const l of recoveries.slice(0, 20)) t.diagnostic(`  ${l}`);
  const stopError = failed();
  assert.equal(stopError, undefined, `runner failed while stopping: ${stopError instanceof Error ? stopError.stack : String(stopError)}`);
  assert.ok(summary, 'runner stopped with a summary');
  t.diagnostic(`runner: ${summary.records} source records (${events.length} events), ${summary.commits} commits`);
  assert.ok(summary.records >= events.length, 'every source record processed at least once');

  // A bounded run on the same state ends the input, as the embedded run does.
  const final = await runKafka({ topology: p.topology, adapter, stateDir, bounded: true, final: true, sessionTimeoutMs: 6000, tickMs: 200 });
  assert.equal(final.interrupted, false);
  t.diagnostic(`final bounded run: ${final.records} source records left`);

  const diffs = await compareWithEmbedded(adapter, p, join(dir, 'embedded'));
  let duplicates = 0;
  for (const d of diffs) {
    duplicates += d.extra.length;
    t.diagnostic(`${d.stream}: ${d.got} through Kafka, ${d.want} embedded, ${d.missing.length} missing, ${d.extra.length} duplicates`);
  }
  // Enriched events by messageId: which ones are missing altogether, which carry another personId.
  const personOf = new Map<string, string>();
  for (const l of readFileSync(join(dir, 'embedded', 'events.ndjson'), 'utf8').split('\n').filter(Boolean)) {
    const e = JSON.parse(l) as TributaryEvent;
    personOf.set(e.messageId, String(e.personId));
  }
  const seen = new Map<string, Set<string>>();
  for (const r of await readTopic(adapter, sink)) {
    const e = JSON.parse(r.value!.toString()) as TributaryEvent;
    seen.set(e.messageId, (seen.get(e.messageId) ?? new Set()).add(String(e.personId)));
  }
  const absent = [...personOf.keys()].filter((m) => !seen.has(m));
  const otherPerson = [...seen].filter(([m, ps]) => [...ps].some((x) => x !== personOf.get(m)));
  t.diagnostic(`enriched events: ${absent.length} messageIds absent, ${otherPerson.length} with another personId than embedded${otherPerson.length ? ` (e.g. ${otherPerson.slice(0, 3).map(([m, ps]) => `${m}: ${[...ps].join('/')} vs ${personOf.get(m)}`).join('; ')})` : ''}`);
  // Where duplicates start: records written twice into the repartition topics (by the runner's
  // producer, or by processing an input twice).
  for (const sub of p.topology.subTopologies) {
    if (sub.input === 'source') continue;
    const recs = (await readTopic(adapter, sub.input)).filter((r) => r.value !== null);
    const firstAt = new Map<string, string>();
    const dups: string[] = [];
    for (const r of recs.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))) {
      const v = r.value!.toString();
      const at = `${r.partition}/${r.offset}`;
      if (firstAt.has(v)) dups.push(`${firstAt.get(v)}→${at}`);
      else firstAt.set(v, at);
    }
    t.diagnostic(`${sub.input}: ${recs.length} events, ${dups.length} written twice${dups.length ? ` (first/second offsets e.g. ${dups.slice(0, 4).join(', ')} … ${dups.slice(-2).join(', ')})` : ''}`);
  }
  t.diagnostic(`duplicates in all: ${duplicates}; total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Nothing lost: every enriched event is there, with the personId of the embedded run.
  assert.deepEqual(absent.slice(0, 5), [], `${absent.length} enriched events lost across the broker restart`);
  assert.deepEqual(otherPerson.slice(0, 3), [], 'enriched events with another identity than embedded');
  // Every record of every stream is there (duplicates allowed). A failed commit must not leave
  // state that already holds what will be processed again (restores stop at the committed
  // changelog offsets; replays on repartition topics are dropped by sequence number), or
  // re-processed events count twice in sessions and windows and the embedded records are
  // missing, replaced by other ones.
  for (const d of diffs) {
    assert.equal(embedded.streams[d.stream] ?? 0, d.want);
    assert.deepEqual({ missing: d.missing.slice(0, 3), nMissing: d.missing.length }, { missing: [], nMissing: 0 }, `${d.stream}: records of the embedded run missing after the broker restart`);
    assert.deepEqual(d.foreign.slice(0, 3), [], `${d.stream}: records the embedded run does not have`);
  }
});
