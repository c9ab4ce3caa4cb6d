// A rejected record near or over maxRecordBytes must not stop the pipeline: its dead letter
// carries the first 64 KiB of it (the source offset points at the whole record), so the broker
// (1 MB records by default) takes it. Before, the dead letter of a 5 MB record (oversized) or of
// a 990 KB line of quotes (malformed-json, twice as long once escaped) was refused by the
// broker, every commit of the task failed and the run exited 1 on that record, again after each
// restart.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { tributary } from '../support/cli.js';
import { produceEvents, readTopic, testAdapter, testEvents, uniquePipeline } from '../support/kafka-pipeline.js';
import { createTopic, deleteTopics, kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();
const MAX = 64 * 1024;

/** The cart pipeline under names of its own, its source topic (one partition) taking records up to 8 MiB. */
async function cartPipelineTakingLargeRecords(t: TestContext) {
  const dir = tempDir();
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir);
  t.after(() => deleteTopics(p.source, ...Object.values(p.topics)));
  await createTopic(p.source, { partitions: 1, configs: { 'max.message.bytes': String(8 * 1024 * 1024) } });
  return { dir, p };
}

test('dead letters of huge records are cut to 64 KiB of raw: the run goes on', { skip, timeout: 300_000 }, async (t) => {
  const { dir, p } = await cartPipelineTakingLargeRecords(t);
  const [a, b, c] = testEvents(3, 4);
  const huge = Buffer.from(JSON.stringify({ ...a, messageId: 'huge', properties: { blob: 'y'.repeat(5 * 1024 * 1024) } }));
  const quotes = Buffer.from(`{"a":${'"'.repeat(990_000)}`);
  const adapter = testAdapter();
  await produceEvents(adapter, p.source, [a!, huge, b!, quotes, c!], p.topology.source.key, () => 0);

  const run = tributary(['run', p.file, '--brokers', kafkaBrokers()!.join(','), '--state-dir', join(dir, 'state'), '--bounded', '--final', '--quiet']);
  assert.equal(run.code, 0, run.stderr);

  const letters = (await readTopic(adapter, p.topics['dead-letter']!)).map((r) => JSON.parse(r.value!.toString()) as { reason: string; detail: string; raw: string; source: string });
  assert.deepEqual(letters.map((l) => [l.reason, l.source, l.raw.length]), [
    ['oversized', `${p.source}/0/1`, MAX],
    ['malformed-json', `${p.source}/0/3`, MAX],
  ]);
  assert.equal(letters[0]!.raw, huge.toString('utf8').slice(0, MAX));
  assert.match(letters[0]!.detail, new RegExp(`^record is ${huge.length} bytes, more than maxRecordBytes 1048576 \\(raw: the first ${MAX} of ${huge.length} characters\\)$`));
  assert.equal(letters[1]!.raw, quotes.toString('utf8').slice(0, MAX));
  assert.match(letters[1]!.detail, new RegExp(`\\(raw: the first ${MAX} of ${quotes.length} characters\\)$`));
  const events = (await readTopic(adapter, p.topics.events!)).map((r) => (JSON.parse(r.value!.toString()) as { messageId: string }).messageId).sort();
  assert.deepEqual(events, [a!.messageId, b!.messageId, c!.messageId].sort());
});

// A record within maxRecordBytes whose output is larger than a Kafka message may be: 60,000
// numbers written `9e20` (300 KB) are written again as 900000000000000000000 (1.3 MB) on the way
// to joinIdentity's repartition topic. The broker refused that record at every commit: the task
// was reopened 5 times, the run exited 1, and a restart stopped at the same offset again. Now it is
// a dead letter `oversized` (over kafka.maxMessageBytes, default 1,048,000) and the run goes on.
test('an output record larger than a Kafka message is an oversized dead letter: the run goes on', { skip, timeout: 300_000 }, async (t) => {
  const { dir, p } = await cartPipelineTakingLargeRecords(t);
  const [a, b, c] = testEvents(3, 4);
  const text = JSON.stringify({ ...a, messageId: 'expands', properties: { v: [] } }).replace('"v":[]', `"v":[${Array(60_000).fill('9e20').join(',')}]`);
  const expands = Buffer.from(text);
  const adapter = testAdapter();
  await produceEvents(adapter, p.source, [a!, expands, b!, c!], p.topology.source.key, () => 0);

  const run = tributary(['run', p.file, '--brokers', kafkaBrokers()!.join(','), '--state-dir', join(dir, 'state'), '--bounded', '--final', '--quiet']);
  assert.equal(run.code, 0, run.stderr);

  const repartition = p.topology.subTopologies[1]!.input;
  const letters = (await readTopic(adapter, p.topics['dead-letter']!)).map((r) => JSON.parse(r.value!.toString()) as { reason: string; detail: string; raw: string; source: string });
  assert.deepEqual(letters.map((l) => [l.reason, l.source, l.raw.length]), [['oversized', `${p.source}/0/1`, MAX]]);
  assert.match(letters[0]!.detail, new RegExp(`^a record for repartition topic ${repartition} is 13\\d{5} bytes \\(key, value and headers\\), more than kafka\\.maxMessageBytes 1048000: a Kafka message is at most that`));
  assert.ok(letters[0]!.raw.startsWith('{"messageId":"expands"'));
  const events = (await readTopic(adapter, p.topics.events!)).map((r) => (JSON.parse(r.value!.toString()) as { messageId: string }).messageId).sort();
  assert.deepEqual(events, [a!.messageId, b!.messageId, c!.messageId].sort());
});
