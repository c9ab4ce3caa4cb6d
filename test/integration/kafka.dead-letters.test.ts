// Scenario 4 of issue 5: poison pills (malformed JSON, JSON that is not an object, an event
// without a timestamp or without any key field, bytes that are not Avro, a Confluent-framed
// record whose schema id the registry does not know, …) interleaved with good events go to the
// dead-letter topic, one record each, with headers naming the source record
// (topic, partition, offset as read back from the source topic) and the reason; every other
// output stream holds exactly what an embedded run over the good events alone writes.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { resolveKey } from '../../lib/event/key.js';
import { generateEvents } from '../../lib/generate/index.js';
import type { PipelineDefinition } from '../../lib/pipeline/definition.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import type { KafkaAdapter } from '../../lib/runtime/kafka/client.js';
import { DEAD_LETTER_HEADERS, runKafka, type KafkaRunSummary } from '../../lib/runtime/kafka/runner.js';
import { avroEventSchema, decodeAvroEvent, encodeAvroEvent, frameConfluent } from '../../lib/serde/avro.js';
import { arrayBombAvroEvent, deepAvroEvent, invalidUtf8AvroEvent } from '../support/avro-hostile.js';
import { SchemaRegistryClient } from '../../lib/serde/schema-registry.js';
import { canonical, ndjsonMultiset, personPartitioner, produceEvents, readTopic, topicMultiset, testAdapter, uniquePipeline, type TestPipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();

function testEvents(n: number, seed: number): TributaryEvent[] {
  return [...generateEvents({ events: n, seed, lateRate: 0, maxDisorderMs: 20_000 })] as TributaryEvent[];
}

/** A bad source value, the reason it must be dead-lettered with, and the `raw` the dead letter must carry. */
interface Bad {
  reason: string;
  value: Buffer;
  raw: string;
}

/** The good items with the bad ones spread evenly between them (none first, none last). */
function interleave<T>(good: T[], bad: T[]): T[] {
  const out: T[] = [];
  let next = 0;
  good.forEach((g, i) => {
    while (next < bad.length && i === Math.floor(((next + 1) * good.length) / (bad.length + 1))) out.push(bad[next++] as T);
    out.push(g);
  });
  return out;
}

/**
 * The dead-letter topic holds exactly one record per bad value, with the reason and source
 * headers of where that value is in the source topic, and a JSON value {reason, detail, raw, source}.
 */
async function assertDeadLetters(adapter: KafkaAdapter, p: TestPipeline, bad: Bad[], summary: KafkaRunSummary): Promise<void> {
  const source = await readTopic(adapter, p.source);
  const expected = bad.map((b) => {
    const at = source.filter((r) => r.value !== null && r.value.equals(b.value));
    assert.equal(at.length, 1, `the bad value ${b.value.toString('base64')} is once in the source topic`);
    const r = at[0]!;
    return canonical({ reason: b.reason, topic: r.topic, partition: String(r.partition), offset: r.offset, raw: b.raw, source: `${r.topic}/${r.partition}/${r.offset}` });
  }).sort();
  const letters = await readTopic(adapter, p.topics['dead-letter']!);
  const got = letters.map((r) => {
    const h = (name: string) => r.headers[name]?.toString();
    const value = JSON.parse(r.value!.toString()) as { reason: string; detail: string; raw: string; source: string };
    assert.deepEqual(Object.keys(value).sort(), ['detail', 'raw', 'reason', 'source'], 'dead-letter value fields');
    assert.equal(h(DEAD_LETTER_HEADERS.reason), value.reason, 'header reason = value reason');
    assert.ok(value.detail.length > 0, 'a detail');
    assert.equal(h(DEAD_LETTER_HEADERS.detail), value.detail.slice(0, 1000), 'header detail');
    return canonical({
      reason: h(DEAD_LETTER_HEADERS.reason), topic: h(DEAD_LETTER_HEADERS.topic), partition: h(DEAD_LETTER_HEADERS.partition),
      offset: h(DEAD_LETTER_HEADERS.offset), raw: value.raw, source: value.source,
    });
  }).sort();
  assert.deepEqual(got, expected, 'dead letters: one per bad input, headers and value naming it');
  const byReason: Record<string, number> = {};
  for (const b of bad) byReason[b.reason] = (byReason[b.reason] ?? 0) + 1;
  assert.deepEqual(summary.deadLetters, byReason, 'summary dead letters by reason');
  assert.equal(summary.streams['dead-letter'], bad.length);
}

/** Every stream but dead-letter: the multiset of the embedded run's file. */
async function assertStreamsAsEmbedded(adapter: KafkaAdapter, p: TestPipeline, embeddedDir: string, embeddedStreams: Record<string, number>): Promise<void> {
  for (const stream of p.topology.streams) {
    if (stream.name === 'dead-letter') continue;
    let want: string[] = [];
    try {
      want = ndjsonMultiset(readFileSync(join(embeddedDir, `${stream.name}.ndjson`), 'utf8'));
    } catch {
      want = [];
    }
    const got = await topicMultiset(adapter, stream);
    assert.equal(got.length, want.length, `${stream.name}: ${got.length} records through Kafka, ${want.length} embedded`);
    const missing = want.filter((x) => !got.includes(x));
    const extra = got.filter((x) => !want.includes(x));
    assert.deepEqual({ missing: missing.slice(0, 3), extra: extra.slice(0, 3), nMissing: missing.length }, { missing: [], extra: [], nMissing: 0 }, `${stream.name} differs`);
    assert.equal(embeddedStreams[stream.name] ?? 0, want.length);
  }
}

test('JSON source (cart-abandonment pipeline): poison pills go to dead-letter with reason and source headers; all else as embedded over the good events', { skip, timeout: 240_000 }, async () => {
  const dir = tempDir();
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir);
  const good = testEvents(1500, 23);
  const template = good.find((e) => e.type === 'track' && e.anonymousId) as TributaryEvent;
  const { timestamp: _ts, ...noTimestamp } = { ...template, messageId: 'poison-no-timestamp' };
  const json = (reason: string, v: unknown): Bad => {
    const text = JSON.stringify(v);
    return { reason, value: Buffer.from(text), raw: text };
  };
  const notUtf8 = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
  // UTF-8 bytes whose JSON escape makes a lone surrogate: a string with no UTF-8 form.
  const loneSurrogate = Buffer.from(JSON.stringify({ ...template, messageId: 'SURR' }).replace('"SURR"', '"\\ud800-poison"'));
  const bad: Bad[] = [
    { reason: 'malformed-json', value: Buffer.from('{"messageId":"poison-truncated","type":"track",'), raw: '{"messageId":"poison-truncated","type":"track",' },
    json('not-an-object', [{ ...template, messageId: 'poison-array' }]),
    json('not-an-object', 'a JSON string'),
    json('missing-timestamp', noTimestamp),
    json('missing-key', { ...template, messageId: 'poison-no-key', userId: null, anonymousId: null }),
    json('invalid-timestamp', { ...template, messageId: 'poison-bad-timestamp', timestamp: 'not a date' }),
    json('invalid-type', { ...template, messageId: 'poison-bad-type', type: 'purchase' }),
    { reason: 'invalid-utf8', value: notUtf8, raw: notUtf8.toString('base64') },
    { reason: 'invalid-utf8', value: loneSurrogate, raw: loneSurrogate.toString('base64') },
    // Dated an hour ago, within maxFutureSkew, but months ahead of the rest of its partition: it
    // would move the watermark and make the partition's later events late.
    json('time-jump', { ...template, messageId: 'poison-today', timestamp: Date.now() - 3_600_000 }),
    json('missing-timestamp', { ...noTimestamp, messageId: 'poison-no-timestamp-2' }),
  ];

  const input = join(dir, 'good.ndjson');
  writeFileSync(input, good.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const embedded = await runEmbedded({ topology: p.topology, input, outDir: join(dir, 'embedded') });
  assert.deepEqual(embedded.deadLetters, {});
  assert.equal(embedded.late, 0);

  await createTopic(p.source, { partitions: 3 });
  const adapter = testAdapter();
  // Good events by person over 3 partitions; the bad values (Buffers) into partition 0 between them.
  await produceEvents(adapter, p.source, interleave<TributaryEvent | Buffer>(good, bad.map((b) => b.value)), p.topology.source.key, personPartitioner(good, 3));
  const summary = await runKafka({ topology: p.topology, adapter, stateDir: join(dir, 'state'), bounded: true, final: true, tickMs: 200 });
  assert.equal(summary.interrupted, false);
  assert.equal(summary.records, good.length + bad.length);
  assert.equal(summary.late, 0);

  await assertDeadLetters(adapter, p, bad, summary);
  await assertStreamsAsEmbedded(adapter, p, join(dir, 'embedded'), embedded.streams);
});

/** Produces raw values with their keys (null when none). */
async function produceValues(adapter: KafkaAdapter, topic: string, items: Array<{ value: Buffer; key: string | undefined }>): Promise<void> {
  const producer = await adapter.producer({ idempotent: true });
  try {
    for (let i = 0; i < items.length; i += 500) {
      await producer.send(items.slice(i, i + 500).map(({ value, key }) => ({ topic, key: key === undefined ? null : Buffer.from(key), value })));
    }
  } finally {
    await producer.disconnect();
  }
}

/** The REES46 dedupe pipeline reading Avro events from Kafka (no CSV mapping). */
function avroPipeline(dir: string): TestPipeline {
  return uniquePipeline('examples/rees46-dedupe/pipeline.yaml', dir, (def: PipelineDefinition) => {
    def.source = { topic: def.source.topic, format: 'avro', key: ['userId', 'anonymousId'], timestamp: 'timestamp', allowedLateness: '1m' } as PipelineDefinition['source'];
  });
}

/** A schema registry that knows the event schema as id 1 and nothing else (404). */
function stubRegistry(): SchemaRegistryClient {
  const schema = JSON.stringify(avroEventSchema());
  const fetchStub = (async (input: string | URL | Request) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const m = /\/schemas\/ids\/(\d+)$/.exec(url);
    const body = m && m[1] === '1' ? { schema } : { error_code: 40403, message: 'Schema not found' };
    return new Response(JSON.stringify(body), { status: m && m[1] === '1' ? 200 : 404, headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' } });
  }) as typeof fetch;
  return new SchemaRegistryClient('http://registry.test', { fetch: fetchStub });
}

for (const withRegistry of [true, false]) {
  test(`Avro source (${withRegistry ? 'with' : 'without'} a schema registry): undecodable values and keyless events dead-lettered; all else as embedded`, { skip, timeout: 240_000 }, async () => {
    const dir = tempDir();
    const p = avroPipeline(dir);
    const good = testEvents(1200, withRegistry ? 31 : 37);
    // Plain bodies and Confluent-framed ones (id 1: the event schema) alternate. Without a
    // registry a framed value is decoded with the current event schema, whatever its id.
    const goodValues = good.map((e, i) => (i % 2 === 0 ? encodeAvroEvent(e) : frameConfluent(withRegistry ? 1 : 4242, encodeAvroEvent(e))));
    const template = good.find((e) => e.type === 'track' && e.userId) as TributaryEvent;
    const avro = (reason: string, value: Buffer): Bad => ({ reason, value, raw: value.toString('base64') });
    const bad: Bad[] = [
      avro('malformed-avro', Buffer.from('{"messageId":"poison-json-in-avro","type":"track"}')),
      avro('malformed-avro', Buffer.from('this is not avro at all, just some text')),
      avro('malformed-avro', frameConfluent(withRegistry ? 1 : 4242, Buffer.from('garbage after a valid header'))),
      avro('malformed-avro', Buffer.concat([encodeAvroEvent({ ...template, messageId: 'poison-trailing' }), Buffer.from([1, 2, 3])])),
      avro('missing-key', encodeAvroEvent({ ...template, messageId: 'poison-no-key', userId: null, anonymousId: null })),
      avro('missing-key', frameConfluent(withRegistry ? 1 : 4242, encodeAvroEvent({ ...template, messageId: 'poison-no-key-framed', userId: null, anonymousId: null }))),
      // Hostile bodies (test/support/avro-hostile.ts): an array announcing 10^9 items (avsc would
      // fill the heap building them), values nested past 256 levels (8,000: past avsc's stack; a
      // raw of 53 KB, under the dead letter's 64 KB), a string that is not UTF-8.
      avro('malformed-avro', arrayBombAvroEvent({ ...template, messageId: 'poison-array-bomb' }, 1e9)),
      avro('malformed-avro', frameConfluent(withRegistry ? 1 : 4242, arrayBombAvroEvent({ ...template, messageId: 'poison-array-bomb-framed' }, 1e9))),
      avro('too-deep', deepAvroEvent({ ...template, messageId: 'poison-deep-300' }, 300)),
      avro('too-deep', frameConfluent(withRegistry ? 1 : 4242, deepAvroEvent({ ...template, messageId: 'poison-deep-8000' }, 8_000))),
      avro('invalid-utf8', invalidUtf8AvroEvent({ ...template, messageId: 'poison-not-utf8' })),
    ];
    // With a registry, a schema id it does not know is the record's fault.
    if (withRegistry) bad.push(avro('malformed-avro', frameConfluent(999, encodeAvroEvent({ ...template, messageId: 'poison-unknown-schema-id' }))));

    // The embedded run reads the good events as the Kafka decoder sees them (Avro round trip).
    const input = join(dir, 'good.ndjson');
    writeFileSync(input, good.map((e) => {
      const d = decodeAvroEvent(encodeAvroEvent(e));
      assert.ok(d.ok);
      return JSON.stringify(d.event);
    }).join('\n') + '\n');
    const embedded = await runEmbedded({ topology: p.topology, input, format: 'json', outDir: join(dir, 'embedded') });
    assert.deepEqual(embedded.deadLetters, {});
    assert.equal(embedded.late, 0);

    await createTopic(p.source, { partitions: 2 });
    const adapter = testAdapter();
    // Keyed by the source key as a producer keyed by customer would (a re-send has the key of
    // its original, so dedupe needs no repartition); the bad values without a key.
    const keyOf = new Map(goodValues.map((v, i) => [v, resolveKey(good[i]!, p.topology.source.key!)]));
    await produceValues(adapter, p.source, interleave<Buffer>(goodValues, bad.map((b) => b.value)).map((value) => ({ value, key: keyOf.get(value) })));
    const summary = await runKafka({
      topology: p.topology, adapter, stateDir: join(dir, 'state'), bounded: true, final: true, tickMs: 200,
      ...(withRegistry ? { schemaRegistry: stubRegistry() } : {}),
    });
    assert.equal(summary.interrupted, false);
    assert.equal(summary.records, good.length + bad.length);

    await assertDeadLetters(adapter, p, bad, summary);
    await assertStreamsAsEmbedded(adapter, p, join(dir, 'embedded'), embedded.streams);
  });
}
