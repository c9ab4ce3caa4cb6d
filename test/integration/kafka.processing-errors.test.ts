// A record a step throws on, through the real broker: with the default policy it is one record on
// the dead-letter topic (reason processing-error, the error, headers naming the source record)
// and every other stream holds exactly what the embedded run writes; with
// `onProcessingError: fail` the run stops with the error, commits nothing past the record, and a
// run with the default policy then completes the same outputs, nothing lost, nothing twice.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { DEAD_LETTER_HEADERS, runKafka } from '../../lib/runtime/kafka/runner.js';
import { ProcessingError } from '../../lib/runtime/task.js';
import { compareWithEmbedded, personPartitioner, produceEvents, readTopic, testAdapter, testEvents, type TestPipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason, uniqueName } from '../support/kafka.js';
import { poisonRegistry } from '../support/poison.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();

/** dedupe → poison (throws on `poisoned`) → sessionize by another key (a repartition hop). */
function poisonedPipeline(dir: string, poisoned: string[], policy?: 'fail'): TestPipeline {
  const name = uniqueName('poisoned');
  const yaml = `name: ${name}
source: { topic: ${name}-in, key: [anonymousId, userId], allowedLateness: 1m }
steps:
  - dedupe: {}
  - poison: { throwOn: ${JSON.stringify(poisoned)} }
  - sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }
${policy ? `onProcessingError: ${policy}\n` : ''}`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const topology = compilePipeline(parsePipeline(yaml, file, poisonRegistry), poisonRegistry);
  return { file, topology, topics: Object.fromEntries(topology.streams.map((s) => [s.name, s.topic])), source: `${name}-in` };
}

/** The same pipeline with another policy (same name, topics and state). */
function withPolicy(p: TestPipeline, policy: 'dead-letter' | 'fail'): TestPipeline {
  return { ...p, topology: { ...p.topology, onProcessingError: policy } };
}

async function assertAsEmbedded(p: TestPipeline, events: TributaryEvent[], poisoned: string[], dir: string): Promise<void> {
  const adapter = testAdapter();
  const input = join(dir, 'in.ndjson');
  writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const embeddedDir = join(dir, 'embedded');
  const embedded = await runEmbedded({ topology: withPolicy(p, 'dead-letter').topology, input, outDir: embeddedDir });
  assert.deepEqual(embedded.deadLetters, { 'processing-error': poisoned.length });
  for (const diff of await compareWithEmbedded(adapter, p, embeddedDir)) {
    if (diff.stream === 'dead-letter') continue;
    assert.deepEqual({ stream: diff.stream, missing: diff.missing.length, extra: diff.extra.length }, { stream: diff.stream, missing: 0, extra: 0 }, `${diff.stream} as embedded`);
  }
  // One dead letter per poisoned event, its headers naming where it is in the source topic.
  const source = await readTopic(adapter, p.source);
  const expected = poisoned.map((id) => {
    const r = source.find((s) => (JSON.parse(s.value!.toString()) as TributaryEvent).messageId === id)!;
    return JSON.stringify([id, 'processing-error', `steps[1].poison (poison) threw on this record: boom on ${id}`, `${r.topic}/${r.partition}/${r.offset}`, r.topic, String(r.partition), r.offset]);
  }).sort();
  const letters = (await readTopic(adapter, p.topics['dead-letter']!)).map((r) => {
    const v = JSON.parse(r.value!.toString()) as { reason: string; detail: string; raw: string; source: string };
    const h = (n: string) => r.headers[n]?.toString();
    assert.equal(h(DEAD_LETTER_HEADERS.reason), v.reason);
    assert.equal(h(DEAD_LETTER_HEADERS.detail), v.detail);
    return JSON.stringify([(JSON.parse(v.raw) as TributaryEvent).messageId, v.reason, v.detail, v.source, h(DEAD_LETTER_HEADERS.topic), h(DEAD_LETTER_HEADERS.partition), h(DEAD_LETTER_HEADERS.offset)]);
  }).sort();
  assert.deepEqual(letters, expected);
}

test('a record an operator throws on is a processing-error dead letter; every other record as embedded', { skip, timeout: 180_000 }, async () => {
  const dir = tempDir();
  const events = testEvents(900, 41);
  const poisoned = [events[100]!, events[450]!, events[800]!].map((e) => e.messageId);
  const p = poisonedPipeline(dir, poisoned);
  await createTopic(p.source, { partitions: 3 });
  const adapter = testAdapter();
  await produceEvents(adapter, p.source, events, p.topology.source.key, personPartitioner(events, 3));
  const summary = await runKafka({ topology: p.topology, adapter, stateDir: join(dir, 'state'), bounded: true, final: true, tickMs: 200 });
  assert.equal(summary.interrupted, false);
  assert.equal(summary.records, events.length);
  assert.deepEqual(summary.deadLetters, { 'processing-error': 3 });
  await assertAsEmbedded(p, events, poisoned, dir);
});

test('onProcessingError: fail stops the run at the record, committing nothing past it; the default policy then completes it exactly', { skip, timeout: 180_000 }, async () => {
  const dir = tempDir();
  const events = testEvents(900, 43);
  const poisoned = [events[600]!.messageId];
  const p = poisonedPipeline(dir, poisoned, 'fail');
  await createTopic(p.source, { partitions: 3 });
  const adapter = testAdapter();
  await produceEvents(adapter, p.source, events, p.topology.source.key, personPartitioner(events, 3));
  const stateDir = join(dir, 'state');
  const started = Date.now();
  await assert.rejects(runKafka({ topology: p.topology, adapter, stateDir, bounded: true, final: true, tickMs: 200 }), (e: unknown) => {
    assert.ok(e instanceof ProcessingError, String(e));
    assert.match(e.message, new RegExp(`^${p.source}/\\d/\\d+: steps\\[1\\]\\.poison \\(poison\\) threw on this record: boom on ${poisoned[0]} \\(onProcessingError: fail`));
    return true;
  });
  assert.ok(Date.now() - started < 60_000, 'stopped, not looping');
  // The poisoned record's partition committed nothing past it.
  const source = await readTopic(adapter, p.source);
  const at = source.find((r) => (JSON.parse(r.value!.toString()) as TributaryEvent).messageId === poisoned[0])!;
  const admin = await adapter.admin();
  const committed = (await admin.fetchOffsets(p.topology.name, p.source)).find((o) => o.partition === at.partition)!;
  await admin.disconnect();
  assert.ok(BigInt(committed.offset) <= BigInt(at.offset), `committed ${committed.offset}, poisoned record at ${at.offset}`);

  const summary = await runKafka({ topology: withPolicy(p, 'dead-letter').topology, adapter, stateDir, bounded: true, final: true, tickMs: 200 });
  assert.equal(summary.interrupted, false);
  assert.deepEqual(summary.deadLetters, { 'processing-error': 1 });
  await assertAsEmbedded(p, events, poisoned, dir);
});
