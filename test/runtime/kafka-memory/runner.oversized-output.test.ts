// A record that passes the input checks but whose output would be larger than a Kafka message may
// be (kafka.maxMessageBytes) is a dead letter `oversized`, and the partition goes on: the broker
// would refuse it at every commit of its task, so the run stopped on it and a restart stopped at
// the same offset again. Here the bound is set low (512 KiB, the least allowed) and the memory
// broker (which refuses batches over max.message.bytes as a broker does) stands in for Kafka;
// test/integration/kafka.dead-letter-size.test.ts runs the default bound against a real broker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePipeline, parsePipeline, runKafka } from '../../../lib/index.js';
import { defaultRegistry } from '../../../operators/index.js';
import { memoryTopicWith } from '../../support/memory-kafka.js';
import { tempDir } from '../../support/tmp.js';

const yamlText = `
name: oversized-output
source: { topic: clicks, key: [anonymousId] }
steps:
  - dedupe: { output: duplicates }
  - sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }
kafka: { maxMessageBytes: 524288 }
`;
const T0 = Date.UTC(2026, 0, 1);

test('Kafka (memory broker): an output or repartition record over kafka.maxMessageBytes is an oversized dead letter; the records after it pass', async () => {
  const event = (i: number, extra: Record<string, unknown> = {}) =>
    ({ messageId: `m${i}`, type: 'track', event: 'view', anonymousId: `a${i % 3}`, userId: null, timestamp: T0 + i * 1000, ...extra });
  // 30,000 × `9e20` is 150 KB of input and 660 KB once written again (900000000000000000000).
  const expands = `{"messageId":"m100","type":"track","event":"view","anonymousId":"a1","userId":null,"timestamp":${T0 + 2500},"properties":{"v":[${Array(30_000).fill('9e20').join(',')}]}}`;
  // 40 bytes under the bound: it fits the repartition topic (with its key and two short headers),
  // not the events sink once sessionize added its sessionId (49), nor `duplicates` (the event with
  // duplicateKey and firstSeenAt) for its duplicate.
  const padded = (i: number) => {
    const text = JSON.stringify(event(i, { properties: { blob: '' } }));
    return text.replace('"blob":""', `"blob":"${'x'.repeat(524_288 - 40 - text.length)}"`);
  };
  const values = [JSON.stringify(event(1)), JSON.stringify(event(2)), expands, JSON.stringify(event(3)), padded(4), padded(4), JSON.stringify(event(5))]
    .map((v) => Buffer.from(v));
  assert.equal(values[4]!.length, 524_288 - 40);

  const topology = compilePipeline(parsePipeline(yamlText, 'oversized-output.yaml', defaultRegistry), defaultRegistry);
  const { kafka, adapter } = await memoryTopicWith('clicks', values);

  const summary = await runKafka({ topology, adapter, stateDir: tempDir(), bounded: true, final: true, tickMs: 20 });
  const dead = kafka.broker.records('oversized-output-dead-letter').map((r) => JSON.parse(r.value!.toString()) as Record<string, string>)
    .sort((a, b) => a.source!.localeCompare(b.source!));
  // The first is too large for the repartition topic to sessionize (keyed otherwise); the second
  // is m4's duplicate, for `duplicates`; the third is m4 for the events sink once sessionize added
  // its sessionId, dead-lettered by the task that read it from the repartition topic.
  assert.deepEqual(dead.map((d) => [d.reason, d.source]), [
    ['oversized', 'clicks/0/2'],
    ['oversized', 'clicks/0/5'],
    ['oversized', 'oversized-output-sessionize-repartition/0/3'],
  ]);
  assert.match(dead[0]!.detail!, /^a record for repartition topic oversized-output-sessionize-repartition is 660165 bytes \(key, value and headers\), more than kafka\.maxMessageBytes 524288: a Kafka message is at most that/);
  assert.match(dead[1]!.detail!, /^a record for stream duplicates \(topic oversized-output-duplicates\) is 524298 bytes/);
  assert.match(dead[2]!.detail!, /^a record for stream events \(topic oversized-output-events\) is 524299 bytes/);
  // raw is cut as for every dead letter; the source offset points at the whole record.
  assert.deepEqual(dead.map((d) => d.raw!.length), [65_536, 65_536, 65_536]);
  assert.ok(dead[0]!.raw!.startsWith('{"messageId":"m100"'));
  const events = kafka.broker.records('oversized-output-events').map((r) => (JSON.parse(r.value!.toString()) as { messageId: string }).messageId);
  assert.deepEqual(events, ['m1', 'm2', 'm3', 'm5']);
  assert.equal(kafka.broker.records('oversized-output-duplicates').length, 0);
  assert.deepEqual({ deadLetters: summary.deadLetters, late: summary.late }, { deadLetters: { oversized: 3 }, late: 0 });
  // The summary counts what reached each topic: a record dead-lettered when it was encoded counts
  // as a dead letter only (it was counted in its own stream too).
  const inTopics = Object.fromEntries(Object.keys(summary.streams).map((s) => [s, kafka.broker.records(`oversized-output-${s}`).length]));
  assert.deepEqual(summary.streams, inTopics);
  assert.deepEqual([summary.streams.events, summary.streams['dead-letter'], summary.streams.duplicates], [4, 3, 0]);
});

// A key whose state grows larger than a Kafka message (here two event names of 600,000
// characters in one session: 1.8 MB) made the broker refuse its changelog record at every
// commit: the task was reopened 5 times, replaying its outputs each time, and the run stopped.
// Now the value stays in memory and the local state only, said in the log (and counted by
// tributary_changelog_oversized_total); the run goes on and writes each event once. A task opened
// again from the changelog gets the key's last logged value: here none, so the session is gone.
test('Kafka (memory broker): a state value larger than a Kafka message stays local, the commit goes on; each event is written once', async () => {
  const yaml = `
name: big-state
source: { topic: clicks, key: [anonymousId] }
steps:
  - sessionize: { key: [anonymousId], gap: 30m, output: sessions }
`;
  const ev = (i: number, name = 'view') => ({ messageId: `m${i}`, type: 'track', event: name, anonymousId: 'a1', userId: null, timestamp: T0 + i * 1000 });
  const topology = compilePipeline(parsePipeline(yaml, 'big-state.yaml', defaultRegistry), defaultRegistry);
  const values = [ev(1), ev(2, 'x'.repeat(600_000)), ev(3, 'y'.repeat(600_000)), ev(4), ev(5)].map((e) => Buffer.from(JSON.stringify(e)));
  const { kafka, adapter } = await memoryTopicWith('clicks', values);

  const stateDir = tempDir();
  const logs: string[] = [];
  const first = await runKafka({ topology, adapter, stateDir, bounded: true, final: false, tickMs: 20, log: (line) => logs.push(line) });
  assert.equal(first.records, 5);
  const ids = () => kafka.broker.records('big-state-events').map((r) => (JSON.parse(r.value!.toString()) as { messageId: string }).messageId);
  assert.deepEqual(ids(), ['m1', 'm2', 'm3', 'm4', 'm5']);
  // Said once (two commits met the key too large here); the metric counts every one.
  const oversized = logs.filter((l) => l.includes('more than kafka.maxMessageBytes'));
  assert.equal(oversized.length, 1, logs.join('\n'));
  assert.match(oversized[0]!, /^task 0_0: a key of store sessionize\.sessions holds \d{7} bytes, more than kafka\.maxMessageBytes 1048000: kept in the local state but not written to its changelog/);
  assert.equal(logs.filter((l) => l.includes('reopening')).length, 0, logs.join('\n'));

  // The next run opens the task from the changelog, which never held the key (its store has no
  // changelog checkpoint): the session is gone, and nothing is written twice.
  const reopened: string[] = [];
  const second = await runKafka({ topology, adapter, stateDir, bounded: true, final: true, tickMs: 20, log: (line) => reopened.push(line) });
  assert.ok(reopened.some((l) => l.startsWith('task 0_0: restored sessionize.sessions: 0 records')), reopened.join('\n'));
  assert.deepEqual({ records: second.records, deadLetters: second.deadLetters, sessions: kafka.broker.records('big-state-sessions').length }, { records: 0, deadLetters: {}, sessions: 0 });
  assert.deepEqual(ids(), ['m1', 'm2', 'm3', 'm4', 'm5']);
});
