import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avsc from 'avsc';
import {
  avroEventSchema, avroEventSchemaPath, avroEventType, decodeAvroEvent, decodeConfluentAvroEvent, encodeAvroEvent,
  frameConfluent, readAvroEventFile, toAvroRecord, unframeConfluent, writeAvroEventFile,
} from '../../lib/serde/avro.js';
import type { AvroFileItem } from '../../lib/serde/avro.js';
import type { TributaryEvent } from '../../lib/event/event.js';

const T0 = 1569888000000;

const EVENTS: TributaryEvent[] = [
  { messageId: 'm1', type: 'track', event: 'add_to_cart', userId: null, anonymousId: 'a1', timestamp: T0, properties: { productId: '44600062', price: 35.79 }, context: { channel: 'web' } },
  {
    messageId: 'm2', type: 'identify', userId: 'u1', anonymousId: 'a1', timestamp: T0 + 1,
    traits: { email: 'x@example.com', vip: true, score: null },
    context: { channel: 'app', consent: { marketing: false, analytics: true }, device: { os: 'iOS', screen: [1170, 2532] } },
  },
  { messageId: 'm3', type: 'alias', userId: 'u1', anonymousId: null, previousId: 'a1', timestamp: T0 + 2 },
  { messageId: 'm4', type: 'page', userId: null, anonymousId: 'a2', timestamp: -1 },
  {
    messageId: 'm5', type: 'screen', event: 'Home', userId: 'u2', anonymousId: null, timestamp: T0,
    properties: {
      ints: [0, 1, -1, 2 ** 52, -(2 ** 52)], doubles: [0.1, -2.5, 1e300, 2 ** 60, -0, 5e-324, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -(2 ** 52) - 1],
      strings: ['', 'é', '\u0000', '😀'], bools: [true, false], nulls: [null], nested: { a: { b: { c: [[], {}, [null, { d: 'e' }]] } } },
      empty: {}, 'dotted.key': 1, '': 'empty key',
    },
    traits: {},
    personId: 'p-1', sessionId: 's-1', sentAt: '2019-10-01T00:00:01Z', extraObj: { k: [1, 'x', null] }, extraNull: null,
  },
];

test('the schema loads from the package root as tributary.Event', () => {
  assert.match(avroEventSchemaPath(), /schema[\\/]event\.avsc$/);
  assert.equal(avroEventType().name, 'tributary.Event');
  assert.equal(avroEventSchema().namespace, 'tributary');
  assert.equal(avroEventType(), avroEventType(), 'cached');
});

test('events round-trip exactly through Avro', () => {
  for (const e of EVENTS) {
    const r = decodeAvroEvent(encodeAvroEvent(e));
    assert.ok(r.ok, e.messageId);
    assert.deepEqual(r.event, e, e.messageId);
    assert.deepEqual(Object.keys(r.event), Object.keys(e), `${e.messageId}: key order`);
  }
  const r = decodeAvroEvent(encodeAvroEvent(EVENTS[4] as TributaryEvent));
  assert.ok(r.ok);
  const doubles = (r.event.properties as { doubles: number[] }).doubles;
  assert.ok(Object.is(doubles[4], -0), '-0 survives');
  // Which branch each number took (avsc corrupts negative longs below -2^52, so those are doubles).
  const wire = JSON.parse(JSON.stringify(avroEventType().fromBuffer(encodeAvroEvent(EVENTS[4] as TributaryEvent)))) as {
    properties: { map: Record<string, { value: { array: Array<{ value: Record<string, number> }> } }> };
  };
  const branches = (k: string): string[] => (wire.properties.map[k]?.value.array ?? []).map((x) => Object.keys(x.value)[0] as string);
  assert.deepEqual(branches('ints'), ['long', 'long', 'long', 'long', 'long']);
  assert.deepEqual(branches('doubles'), Array(9).fill('double'));
});

test('free-form values keep their Avro types (a price is a double, not a JSON string)', () => {
  const decoded = avroEventType().fromBuffer(encodeAvroEvent(EVENTS[0] as TributaryEvent)) as unknown;
  const raw = JSON.parse(JSON.stringify(decoded)) as Record<string, unknown>;
  assert.deepEqual(raw.properties, { map: { productId: { value: { string: '44600062' } }, price: { value: { double: 35.79 } } } });
  assert.deepEqual(raw.event, { string: 'add_to_cart' });
  assert.equal(raw.extra, null);
});

test('JSON semantics for values JSON would change; impossible values throw', () => {
  const e = { messageId: 'm', type: 'track', event: 'x', userId: null, anonymousId: null, timestamp: T0, properties: { u: undefined, arr: [undefined], d: new Date(T0) }, gone: undefined } as TributaryEvent;
  const r = decodeAvroEvent(encodeAvroEvent(e));
  assert.ok(r.ok);
  assert.deepEqual(r.event, { messageId: 'm', type: 'track', event: 'x', userId: null, anonymousId: null, timestamp: T0, properties: { arr: [null], d: '2019-10-01T00:00:00.000Z' } });
  const base = { messageId: 'm', type: 'track', userId: null, anonymousId: null, timestamp: T0 } as TributaryEvent;
  assert.throws(() => encodeAvroEvent({ ...base, properties: { n: 1n } }), /properties\.n: a bigint/);
  assert.throws(() => encodeAvroEvent({ ...base, type: 'click' as never }), /cannot encode event as tributary\.Event \(invalid: type\)/);
  assert.throws(() => encodeAvroEvent({ ...base, timestamp: 1.5 }), /timestamp/);
  assert.throws(() => encodeAvroEvent({ ...base, userId: 5 as never }), /userId/);
  assert.throws(() => encodeAvroEvent({ ...base, properties: [] as never }), /properties/);
});

test('bytes that are not an event give malformed-avro', () => {
  const good = encodeAvroEvent(EVENTS[0] as TributaryEvent);
  const badEnum = Buffer.from(good);
  badEnum[1 + 2] = 0x7e; // type enum index (after the 2-char messageId: length byte + 2 bytes) → 63
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['truncated', good.subarray(0, good.length - 3), /truncated/],
    ['trailing bytes', Buffer.concat([good, Buffer.from([0])]), /1 trailing bytes/],
    ['JSON text', Buffer.from('{"messageId":"m1"}'), /./],
    ['empty', Buffer.alloc(0), /truncated/],
    ['bad enum index', badEnum, /does not decode as tributary\.Event/],
    ['bad union index', Buffer.from([2, 0x6d, 0, 0x10]), /./],
  ];
  for (const [name, buf, detail] of cases) {
    const r = decodeAvroEvent(buf);
    assert.equal(r.ok, false, name);
    if (!r.ok) {
      assert.equal(r.reason, 'malformed-avro', name);
      assert.match(r.detail, detail, `${name}: ${r.detail}`);
    }
  }
});

test('a writer schema of another version resolves to the current one', () => {
  const old = avsc.Type.forSchema({
    type: 'record', name: 'Event', namespace: 'tributary',
    fields: [
      { name: 'messageId', type: 'string' },
      { name: 'type', type: { type: 'enum', name: 'EventType', symbols: ['track', 'identify', 'alias', 'page', 'screen'] } },
      { name: 'event', type: ['null', 'string'], default: null },
      { name: 'userId', type: ['null', 'string'], default: null },
      { name: 'timestamp', type: 'long' },
    ],
  });
  const buf = old.toBuffer({ messageId: 'm1', type: 'track', event: 'view', userId: 'u1', timestamp: T0 });
  assert.deepEqual(decodeAvroEvent(buf, { writerType: old }), {
    ok: true, event: { messageId: 'm1', type: 'track', event: 'view', userId: 'u1', anonymousId: null, timestamp: T0 },
  });
});

test('Confluent wire format: frame, unframe, decode', () => {
  const body = encodeAvroEvent(EVENTS[1] as TributaryEvent);
  const framed = frameConfluent(42, body);
  assert.deepEqual([...framed.subarray(0, 5)], [0, 0, 0, 0, 42]);
  assert.deepEqual(unframeConfluent(framed), { ok: true, schemaId: 42, body });
  assert.deepEqual([...frameConfluent(0x01020304, Buffer.alloc(0))], [0, 1, 2, 3, 4]);
  assert.deepEqual(decodeConfluentAvroEvent(framed), { ok: true, event: EVENTS[1] });
  let askedFor: number | undefined;
  assert.equal(decodeConfluentAvroEvent(framed, (id) => { askedFor = id; return undefined; }).ok, true);
  assert.equal(askedFor, 42);
  for (const bad of [-1, 1.5, 2 ** 31, Number.NaN]) assert.throws(() => frameConfluent(bad, body), RangeError, String(bad));

  const cases: Array<[string, Uint8Array, string]> = [
    ['empty', Buffer.alloc(0), '0 bytes: too short for the Confluent wire format (magic byte + 4-byte schema id)'],
    ['short', Buffer.from([0, 0, 0, 1]), '4 bytes: too short for the Confluent wire format (magic byte + 4-byte schema id)'],
    ['wrong magic', Buffer.from([1, 0, 0, 0, 1, 2]), 'magic byte 0x01, expected 0x00 of the Confluent wire format'],
    ['JSON', Buffer.from('{"a":1}'), 'magic byte 0x7b (looks like JSON), expected 0x00 of the Confluent wire format'],
    ['negative id', Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), 'negative schema id -1'],
  ];
  for (const [name, buf, detail] of cases) {
    assert.deepEqual(unframeConfluent(buf), { ok: false, reason: 'malformed-avro', detail }, name);
    assert.deepEqual(decodeConfluentAvroEvent(buf), { ok: false, reason: 'malformed-avro', detail }, name);
  }
  const truncated = decodeConfluentAvroEvent(frameConfluent(7, body.subarray(0, 3)));
  assert.equal(!truncated.ok && truncated.reason, 'malformed-avro');
  assert.match(!truncated.ok ? truncated.detail : '', /^schema id 7: truncated/);
});

async function collect(it: AsyncIterable<AvroFileItem>): Promise<AvroFileItem[]> {
  const out: AvroFileItem[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('Avro container files: write, read back (path and stream), deflate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-avro-'));
  try {
    for (const codec of ['null', 'deflate'] as const) {
      const path = join(dir, `events-${codec}.avro`);
      assert.equal(await writeAvroEventFile(path, EVENTS, { codec }), EVENTS.length);
      assert.deepEqual(readFileSync(path).subarray(0, 4), Buffer.from('Obj\x01', 'latin1'));
      const expected = EVENTS.map((event, index) => ({ ok: true, event, index }));
      assert.deepEqual(await collect(readAvroEventFile(path)), expected, codec);
      assert.deepEqual(await collect(readAvroEventFile(createReadStream(path))), expected, `${codec} stream`);
    }
    // Many events over several blocks, from an async source.
    async function* many(): AsyncGenerator<TributaryEvent> {
      for (let i = 0; i < 5000; i++) yield { messageId: `m${i}`, type: 'track', event: 'view', userId: null, anonymousId: `a${i % 7}`, timestamp: T0 + i };
    }
    const path = join(dir, 'many.avro');
    assert.equal(await writeAvroEventFile(path, many()), 5000);
    const items = await collect(readAvroEventFile(path));
    assert.equal(items.length, 5000);
    assert.deepEqual(items[4999], { ok: true, event: { messageId: 'm4999', type: 'track', event: 'view', userId: null, anonymousId: 'a1', timestamp: T0 + 4999 }, index: 4999 });

    // A corrupted block ends the read with one malformed-avro item after the good records.
    const bytes = readFileSync(path);
    const broken = join(dir, 'broken.avro');
    writeFileSync(broken, bytes.subarray(0, bytes.length - 10));
    const got = await collect(readAvroEventFile(broken));
    const last = got[got.length - 1];
    assert.ok(got.length > 1 && got.length < 5000, `${got.length} items`);
    assert.ok(got.slice(0, -1).every((i) => i.ok));
    assert.equal(last?.ok, false);
    assert.equal(!last?.ok && last?.reason, 'malformed-avro');
    assert.match(!last?.ok ? last?.detail ?? '' : '', /^truncated: \d+ bytes after record \d+ do not form a complete block$/);
    assert.equal(last?.index, got.length - 1);
    // A bad sync marker.
    const badSync = Buffer.from(bytes);
    badSync[badSync.length - 1] = (badSync[badSync.length - 1] as number) ^ 0xff;
    writeFileSync(broken, badSync);
    const got2 = await collect(readAvroEventFile(broken));
    const last2 = got2[got2.length - 1];
    assert.equal(!last2?.ok && last2?.reason, 'malformed-avro');
    assert.match(!last2?.ok ? last2?.detail ?? '' : '', /invalid sync marker/);
    // An empty file has no header.
    writeFileSync(broken, '');
    await assert.rejects(collect(readAvroEventFile(broken)), /no complete header/);

    // Not an Avro file at all, or a file of another schema: thrown before any item.
    const notAvro = join(dir, 'not.avro');
    writeFileSync(notAvro, '{"messageId":"m1"}\n');
    await assert.rejects(collect(readAvroEventFile(notAvro)), /not a readable tributary\.Event Avro container/);
    const other = join(dir, 'other.avro');
    const otherType = avsc.Type.forSchema({ type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] });
    await new Promise<void>((resolve, reject) => {
      const enc = avsc.createFileEncoder(other, otherType);
      enc.on('error', reject);
      enc.on('finish', () => setTimeout(resolve, 50));
      enc.end({ x: 1 });
    });
    await assert.rejects(collect(readAvroEventFile(other)), /not a readable tributary\.Event Avro container/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a string whose bytes are not UTF-8 is invalid-utf8, also in a map key; a real U+FFFD passes', () => {
  const event: TributaryEvent = { messageId: 'mX1', type: 'track', event: 'view', userId: null, anonymousId: 'a1', timestamp: 1_700_000_000_000, properties: { KEYz: 'ok', note: 'fine' } };
  const body = encodeAvroEvent(event);
  const spoil = (marker: string) => {
    const copy = Buffer.from(body);
    const at = copy.indexOf(marker);
    assert.ok(at >= 0, marker);
    copy[at + marker.length - 1] = 0xff;
    return copy;
  };
  assert.deepEqual(decodeAvroEvent(spoil('mX')), { ok: false, reason: 'invalid-utf8', detail: 'a string holds bytes that are not UTF-8 (1 replaced by U+FFFD on decoding)' });
  assert.deepEqual(decodeAvroEvent(spoil('KEYz')), { ok: false, reason: 'invalid-utf8', detail: 'a string holds bytes that are not UTF-8 (1 replaced by U+FFFD on decoding)' });
  const real: TributaryEvent = { ...event, messageId: 'm\uFFFD1', properties: { '\uFFFD': '\uFFFD\uFFFD' } };
  assert.deepStrictEqual(decodeAvroEvent(encodeAvroEvent(real)), { ok: true, event: real });
  // Both at once: one real U+FFFD, one invalid byte.
  const both = Buffer.from(encodeAvroEvent({ ...event, messageId: 'm\uFFFDX' }));
  both[both.indexOf('X', both.indexOf(Buffer.from('m\uFFFD')))] = 0xfe;
  assert.equal(decodeAvroEvent(both).ok, false);
});

/** Writes `value` to `path` through avsc's container `encoder` (any schema, any codec). */
async function writeContainer(path: string, encoder: InstanceType<typeof avsc.streams.BlockEncoder>, value: unknown): Promise<void> {
  const chunks: Buffer[] = [];
  encoder.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((ok) => encoder.on('end', ok));
  encoder.end(value);
  await done;
  writeFileSync(path, Buffer.concat(chunks));
}

test('a container file whose blocks use a codec the reader lacks (snappy) is refused before any record, naming the codecs it reads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-avro-codec-'));
  const path = join(dir, 'snappy.avro');
  const snappy = { codec: 'snappy', codecs: { snappy: (buf: Buffer, cb: (e: Error | null, b?: Buffer) => void) => cb(null, buf) } };
  await writeContainer(path, new avsc.streams.BlockEncoder(avroEventType(), snappy as never), toAvroRecord({ messageId: 'm1', type: 'track', event: 'view', userId: 'u', anonymousId: null, timestamp: Date.UTC(2026, 0, 1) }));
  await assert.rejects(async () => {
    for await (const item of readAvroEventFile(path)) void item;
  }, { message: 'not a readable tributary.Event Avro container: its blocks are compressed with "snappy", which this reader cannot decompress (it reads null and deflate): write the file again with one of those' });
  rmSync(dir, { recursive: true, force: true });
});

test('a container file whose writer schema is not a record ("string") is refused from the header, saying so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-avro-schema-'));
  const path = join(dir, 'strings.avro');
  await writeContainer(path, new avsc.streams.BlockEncoder(avsc.Type.forSchema('string')), 'hello');
  await assert.rejects(async () => {
    for await (const item of readAvroEventFile(path)) void item;
  }, { message: 'not a readable tributary.Event Avro container: its schema is a "string", not a record of events (the writer schema must be a record that resolves to tributary.Event)' });
  rmSync(dir, { recursive: true, force: true });
});
