// The Kafka runner applies the file runner's rules to message values: a far-future timestamp
// (against the injected clock) is future-timestamp and does not move the watermark; bytes that
// are not UTF-8 are invalid-utf8 with the bytes in base64; U+FFFD written as UTF-8 is text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePipeline, parsePipeline, runKafka } from '../../../lib/index.js';
import { defaultRegistry } from '../../../operators/index.js';
import { memoryTopicWith } from '../../support/memory-kafka.js';
import { tempDir } from '../../support/tmp.js';

const yamlText = `
name: ingest-rules
source: { topic: clicks, key: [anonymousId], maxFutureSkew: 1h }
steps:
  - dedupe: {}
`;
const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 24 * 3_600_000; // processing time: a day after the first event

/** One bounded, final run of `yaml` over `values` in `topic` (memory broker), processing time `now`. */
async function boundedRun(yaml: string, topic: string, values: Buffer[], now: number) {
  const topology = compilePipeline(parsePipeline(yaml, 'p.yaml', defaultRegistry), defaultRegistry);
  const { kafka, adapter } = await memoryTopicWith(topic, values);
  const summary = await runKafka({ topology, adapter, stateDir: tempDir(), bounded: true, final: true, tickMs: 20, clock: { now: () => now } });
  return { kafka, summary };
}

test('Kafka (memory broker): future-timestamp against the injected clock, invalid-utf8 with raw bytes; 300 good values all pass, none late', async () => {
  const view = (i: number, timestamp: number | string, event = 'view') =>
    Buffer.from(JSON.stringify({ messageId: `m${i}`, type: 'track', event, anonymousId: `a${i % 7}`, timestamp }));
  const values: Buffer[] = [];
  for (let i = 0; i < 300; i++) values.push(view(i, T0 + i * 60_000));
  // 2099, and one 1h + 1ms past processing time; one just at the bound passes (last: it moves the watermark).
  values.splice(10, 0, view(1000, '2099-12-31T00:00:00Z'), view(1001, NOW + 3_600_001));
  values.push(view(1002, NOW + 3_600_000));
  const latin1 = Buffer.from('{"messageId":"m2000","type":"track","event":"caf\u00e9","anonymousId":"a1","timestamp":0}', 'latin1');
  values.splice(20, 0, latin1, view(2001, T0 + 17 * 60_000 + 1, '\ufffd'));

  const { kafka, summary } = await boundedRun(yamlText, 'clicks', values, NOW);
  assert.deepEqual({ records: summary.records, late: summary.late, streams: summary.streams },
    { records: 305, late: 0, streams: { events: 302, 'dead-letter': 3, late: 0, forgotten: 0 } });
  const dead = kafka.broker.records('ingest-rules-dead-letter').map((r) => JSON.parse(r.value!.toString()) as Record<string, string>);
  assert.deepEqual(dead.map((d) => [d.reason, d.source, d.detail]), [
    ['future-timestamp', 'clicks/0/10', 'timestamp 2099-12-31T00:00:00.000Z is more than maxFutureSkew 1h ahead of processing time 2026-01-02T00:00:00.000Z (latest accepted: 2026-01-02T01:00:00.000Z)'],
    ['future-timestamp', 'clicks/0/11', 'timestamp 2026-01-02T01:00:00.001Z is more than maxFutureSkew 1h ahead of processing time 2026-01-02T00:00:00.000Z (latest accepted: 2026-01-02T01:00:00.000Z)'],
    ['invalid-utf8', 'clicks/0/20', "not valid UTF-8: byte 48 of the value is 0xe9 (raw is the value's bytes in base64)"],
  ]);
  assert.equal(dead[2]?.raw, latin1.toString('base64'));
  const events = kafka.broker.records('ingest-rules-events').map((r) => JSON.parse(r.value!.toString()) as { messageId: string; event: string });
  assert.deepEqual(events.filter((e) => e.messageId === 'm1002' || e.messageId === 'm2001').map((e) => [e.messageId, e.event]), [['m2001', '\ufffd'], ['m1002', 'view']]);
});

// A live stream: one record dated tomorrow is within maxFutureSkew (a day), and before
// source.maxFutureJump it moved the watermark: every later record of its partition went to `late`.
test('Kafka (memory broker): one record dated tomorrow in a live stream is a time-jump dead letter; the records after it are not late', async () => {
  const live = `
name: live-jump
source: { topic: live, key: [anonymousId] }
steps:
  - dedupe: {}
`;
  const now = Date.UTC(2026, 11, 7, 12);
  const view = (i: number, timestamp: number) => Buffer.from(JSON.stringify({ messageId: `m${i}`, type: 'track', event: 'view', anonymousId: `a${i % 5}`, timestamp }));
  const values = Array.from({ length: 100 }, (_, i) => view(i, now - 100_000 + i * 1000));
  values.splice(50, 0, view(999, now + 23 * 3_600_000));
  const { kafka, summary } = await boundedRun(live, 'live', values, now);
  assert.deepEqual({ records: summary.records, late: summary.late, streams: summary.streams },
    { records: 101, late: 0, streams: { events: 100, 'dead-letter': 1, late: 0, forgotten: 0 } });
  const dead = kafka.broker.records('live-jump-dead-letter').map((r) => JSON.parse(r.value!.toString()) as Record<string, string>);
  assert.deepEqual(dead.map((d) => [d.reason, d.source]), [['time-jump', 'live/0/50']]);
  assert.match(dead[0]!.detail!, /^timestamp 2026-12-08T11:00:00\.000Z is more than maxFutureJump 1h after processing time \(2026-12-07T12:00:00\.000Z\)/);
});
