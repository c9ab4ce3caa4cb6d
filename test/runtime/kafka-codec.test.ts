import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import avsc from 'avsc';
import type { TributaryEvent } from '../../lib/event/event.js';
import { generateEvents } from '../../lib/generate/index.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import type { CompiledStream } from '../../lib/pipeline/compile.js';
import { createSourceDecoder, createStreamEncoder } from '../../lib/runtime/kafka/codec.js';
import type { SourceInput } from '../../lib/runtime/task.js';
import { avroEventSchema, encodeAvroEvent, frameConfluent, toAvroRecord, unframeConfluent } from '../../lib/serde/avro.js';
import { decodeStreamAvro, streamAvroSchema } from '../../lib/serde/derived-avro.js';
import { SchemaRegistryClient } from '../../lib/serde/schema-registry.js';
import { TestDriver } from '../../lib/testing/index.js';
import { defaultRegistry } from '../../operators/index.js';

const SRC = 'behavior-events/3/42';
const EVENT: TributaryEvent = {
  messageId: 'm1', type: 'track', event: 'add_to_cart', userId: null, anonymousId: 'a1', previousId: 'p0', timestamp: 1767225600000,
  properties: { productId: 'p-1', price: 35.79, qty: 2 }, context: { channel: 'web' }, sentAt: '2026-01-01T00:00:01Z',
};

// --- an in-process Confluent registry ------------------------------------------------------
const requests: string[] = [];
const schemas = new Map<number, string>();
let nextId = 1;
let failPosts = 0;
let server: Server;
let url: string;
const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
  });

/** The event schema as an older version: no previousId, no extra (compatible: both have defaults). */
const OLD_EVENT_SCHEMA = {
  ...avroEventSchema(),
  fields: (avroEventSchema().fields as Array<{ name: string }>).filter((f) => f.name !== 'previousId' && f.name !== 'extra'),
};
const OLD_ID = 21;
const CURRENT_ID = 22;

before(async () => {
  schemas.set(OLD_ID, JSON.stringify(OLD_EVENT_SCHEMA));
  schemas.set(CURRENT_ID, JSON.stringify(avroEventSchema()));
  nextId = 100;
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    requests.push(`${req.method} ${req.url}`);
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify(json));
    };
    const get = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && get) {
      const schema = schemas.get(Number(get[1]));
      return schema === undefined ? reply(404, { error_code: 40403, message: 'Schema not found' }) : reply(200, { schema });
    }
    if (req.method === 'POST' && /^\/subjects\/[^/]+\/versions$/.test(req.url ?? '')) {
      if (failPosts > 0) {
        failPosts--;
        return reply(500, { error_code: 50001, message: 'Error in the backend data store' });
      }
      const id = nextId++;
      schemas.set(id, (JSON.parse(body) as { schema: string }).schema);
      return reply(200, { id });
    }
    reply(404, { error_code: 404, message: 'HTTP 404 Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function deadUrl(): Promise<string> {
  const dead = createServer();
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
  const port = (dead.address() as AddressInfo).port;
  await new Promise<void>((resolve) => dead.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

// --- JSON sources --------------------------------------------------------------------------
test('json: a good record, malformed, not an object, oversized, invalid UTF-8, a tombstone', () => {
  const d = createSourceDecoder({ format: 'json', maxRecordBytes: 40 });
  const cases: Array<[Buffer | null, SourceInput]> = [
    [Buffer.from('{"type":"track","event":"view"}'), { ok: true, value: { type: 'track', event: 'view' }, raw: '{"type":"track","event":"view"}', source: SRC }],
    [Buffer.from('{"type":'), { ok: false, reason: 'malformed-json', detail: 'Unexpected end of JSON input', raw: '{"type":', source: SRC }],
    [Buffer.from('[1,2]'), { ok: false, reason: 'not-an-object', detail: 'expected a JSON object, got an array', raw: '[1,2]', source: SRC }],
    [Buffer.from(`{"a":"${'x'.repeat(40)}"}`), { ok: false, reason: 'oversized', detail: 'record is 48 bytes, more than maxRecordBytes 40', raw: `{"a":"${'x'.repeat(40)}"}`, source: SRC }],
    [Buffer.from([0x7b, 0xff, 0x7d]), { ok: false, reason: 'invalid-utf8', detail: "not valid UTF-8: byte 1 of the value is 0xff (raw is the value's bytes in base64)", raw: 'e/99', source: SRC }],
    [null, { ok: false, reason: 'malformed-json', detail: 'null value (tombstone)', raw: '', source: SRC }],
  ];
  for (const [value, expected] of cases) assert.deepStrictEqual(d.decode(value, SRC), expected);
});

// --- Avro sources --------------------------------------------------------------------------
const { sentAt: _sentAt, ...eventWithoutExtra } = EVENT;
const decodedEvent = { ...EVENT }; // fromAvroRecord order differs; deepStrictEqual ignores key order

test('avro: a plain body decodes to the event; raw is base64 of the bytes', () => {
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 1 << 20 });
  const body = encodeAvroEvent(EVENT);
  assert.deepStrictEqual(d.decode(body, SRC), { ok: true, value: decodedEvent, raw: body.toString('base64'), source: SRC });
});

test('avro: a string whose bytes are not UTF-8 is a dead letter invalid-utf8 with the bytes as raw', () => {
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 1 << 20 });
  const body = Buffer.from(encodeAvroEvent({ messageId: 'mQ', type: 'page', userId: null, anonymousId: 'a', timestamp: 0 }));
  body[body.indexOf('mQ') + 1] = 0xc3; // a UTF-8 lead byte with no continuation
  assert.deepStrictEqual(d.decode(body, SRC), {
    ok: false, reason: 'invalid-utf8', detail: 'a string holds bytes that are not UTF-8 (1 replaced by U+FFFD on decoding)', raw: body.toString('base64'), source: SRC,
  });
});

test('avro: Confluent framing without a registry decodes with the current schema', () => {
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 1 << 20 });
  const framed = frameConfluent(12345, encodeAvroEvent(EVENT));
  assert.deepStrictEqual(d.decode(framed, SRC), { ok: true, value: decodedEvent, raw: framed.toString('base64'), source: SRC });
});

test('avro: garbage, truncated, oversized and tombstone values are rejected with the reason', () => {
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 64 });
  const garbage = Buffer.from('{"type":"track"}');
  assert.deepStrictEqual(d.decode(garbage, SRC), {
    ok: false, reason: 'malformed-avro', detail: 'truncated: 16 bytes are not a whole tributary.Event', raw: garbage.toString('base64'), source: SRC,
  });
  const body = encodeAvroEvent({ messageId: 'm', type: 'page', userId: null, anonymousId: 'a', timestamp: 0 });
  const cut = d.decode(body.subarray(0, body.length - 1), SRC) as SourceInput;
  assert.deepStrictEqual(cut.ok ? undefined : [cut.reason, cut.detail], ['malformed-avro', `truncated: ${body.length - 1} bytes are not a whole tributary.Event`]);
  const big = Buffer.alloc(65, 1);
  assert.deepStrictEqual(d.decode(big, SRC), { ok: false, reason: 'oversized', detail: 'record is 65 bytes, more than maxRecordBytes 64', raw: big.toString('base64'), source: SRC });
  assert.deepStrictEqual(d.decode(null, SRC), { ok: false, reason: 'malformed-avro', detail: 'null value (tombstone)', raw: '', source: SRC });
  const framedGarbage = Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff]);
  assert.deepStrictEqual(d.decode(framedGarbage, SRC), {
    ok: false, reason: 'malformed-avro', detail: 'schema id 1: truncated: 2 bytes are not a whole tributary.Event', raw: 'AAAAAAH//w==', source: SRC,
  });
});

test('avro with a registry: the writer schema is fetched once; a hit decodes synchronously', async () => {
  requests.length = 0;
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 1 << 20, registry: new SchemaRegistryClient(url) });
  const framed = frameConfluent(CURRENT_ID, encodeAvroEvent(EVENT));
  const first = d.decode(framed, SRC);
  assert.ok(first instanceof Promise);
  assert.deepStrictEqual(await first, { ok: true, value: decodedEvent, raw: framed.toString('base64'), source: SRC });
  const second = d.decode(framed, SRC);
  assert.ok(!(second instanceof Promise));
  assert.deepStrictEqual(second, { ok: true, value: decodedEvent, raw: framed.toString('base64'), source: SRC });
  assert.deepEqual(requests, [`GET /schemas/ids/${CURRENT_ID}`]);
});

test('avro with a registry: a record written with an older compatible schema resolves to tributary.Event', async () => {
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 1 << 20, registry: new SchemaRegistryClient(url) });
  const oldType = avsc.Type.forSchema(OLD_EVENT_SCHEMA as avsc.Schema, { wrapUnions: true });
  const { previousId: _p, extra: _e, ...oldRecord } = toAvroRecord(EVENT);
  const framed = frameConfluent(OLD_ID, oldType.toBuffer(oldRecord));
  const { previousId: _prev, ...expected } = eventWithoutExtra;
  assert.deepStrictEqual(await d.decode(framed, SRC), { ok: true, value: expected, raw: framed.toString('base64'), source: SRC });
});

test('avro with a registry: an id the registry does not know dead-letters as malformed-avro', async () => {
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 1 << 20, registry: new SchemaRegistryClient(url) });
  const framed = frameConfluent(999, encodeAvroEvent(EVENT));
  assert.deepStrictEqual(await d.decode(framed, SRC), {
    ok: false, reason: 'malformed-avro', raw: framed.toString('base64'), source: SRC,
    detail: `schema id 999 is not in the schema registry: schema registry GET ${url}/schemas/ids/999: HTTP 404 Not Found (error_code 40403: Schema not found)`,
  });
});

test('avro with a registry: an id whose schema is not valid Avro, or not a record, dead-letters as malformed-avro; the id is asked once', async () => {
  schemas.set(31, JSON.stringify({ type: 'nonsense' }));
  schemas.set(32, JSON.stringify('string'));
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 1 << 20, registry: new SchemaRegistryClient(url) });
  const body = encodeAvroEvent(EVENT);
  requests.length = 0;
  const invalid = frameConfluent(31, body);
  const dead = (framed: Buffer, detail: string) => ({ ok: false, reason: 'malformed-avro', raw: framed.toString('base64'), source: SRC, detail });
  // Before, the registry's answer failed the task at every commit: the partition never got past the record.
  const expected = dead(invalid, `schema id 31 cannot be used: schema registry GET ${url}/schemas/ids/31: schema 31 is not a valid Avro schema: unknown type: "nonsense"`);
  assert.deepStrictEqual(await d.decode(invalid, SRC), expected);
  assert.deepStrictEqual(await d.decode(invalid, SRC), expected);
  const primitive = frameConfluent(32, Buffer.from([6, 0x61, 0x62, 0x63]));
  // Before: "does not decode as tributary.Event: Cannot read properties of undefined (reading 'length')".
  assert.deepStrictEqual(await d.decode(primitive, SRC), dead(primitive, 'schema id 32 is a string, not a record: it cannot be read as tributary.Event'));
  assert.deepEqual(requests, ['GET /schemas/ids/31', 'GET /schemas/ids/32']);
});

test('avro with an unreachable registry throws instead of dead-lettering', async () => {
  const dead = await deadUrl();
  const d = createSourceDecoder({ format: 'avro', maxRecordBytes: 1 << 20, registry: new SchemaRegistryClient(dead) });
  await assert.rejects(async () => d.decode(frameConfluent(CURRENT_ID, encodeAvroEvent(EVENT)), SRC), {
    name: 'SchemaRegistryError',
    message: new RegExp(`^schema registry GET ${dead.replaceAll('.', '\\.')}/schemas/ids/${CURRENT_ID} failed: `),
  });
});

// --- encoders ------------------------------------------------------------------------------
const PIPELINE = `
name: codec
source:
  key: [anonymousId, userId]
  allowedLateness: 1m
steps:
  - dedupe: { key: messageId, ttl: 24h, output: duplicates }
  - joinIdentity: { identifiers: [userId, anonymousId], output: identity-merges }
  - sessionize: { key: personId, gap: 30m, output: sessions }
  - windowAggregate:
      key: personId
      window: { tumbling: 1d }
      aggregates:
        orders: { count: {}, where: { event: purchase } }
        revenue: { sum: properties.revenue, where: { event: purchase } }
        top: { topK: { path: properties.productId, k: 2 } }
      output: customer-features
  - trigger:
      key: personId
      rules:
        - name: cart-abandoned
          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
          cooldown: 24h
          payload: { productId: properties.productId, price: properties.price }
      output: campaign-triggers
      suppressedOutput: suppressed
  - funnel:
      key: personId
      steps: [ { name: view, where: { event: product_viewed } }, { name: cart, where: { event: add_to_cart } }, { name: purchase, where: { event: purchase } } ]
      within: 1h
      output: funnels
  - attribution:
      key: personId
      touchpoints: { where: { type: { $in: [page, screen] } } }
      conversion: { where: { event: purchase }, value: properties.revenue }
      lookback: 7d
      output: attributions
      aggregateOutput: channel-credits
`;

function produced(): Array<{ stream: CompiledStream; records: DerivedRecord[] }> {
  const driver = TestDriver.fromYaml(PIPELINE, { registry: defaultRegistry });
  driver.pipeRaw([{ messageId: 'bad', type: 'track', event: 'x', anonymousId: 'a' }]);
  for (const e of generateEvents({ events: 3000, seed: 5 })) driver.pipe(e);
  driver.pipe({ messageId: 'forget-1', type: 'forget', userId: 'user-1', anonymousId: null, timestamp: 0, properties: { requestedBy: 'dpo' } });
  driver.end();
  return driver.topology.streams.map((stream) => ({ stream, records: driver.read(stream.name).slice(0, 20) }));
}
const PRODUCED = produced();

test('the pipeline produced records on every stream kind', () => {
  assert.deepEqual(
    PRODUCED.map(({ stream, records }) => [stream.name, stream.kind, records.length > 0]),
    [
      ['events', 'events', true], ['dead-letter', 'dead-letter', true], ['late', 'late', true], ['forgotten', 'forgotten', true], ['duplicates', 'duplicates', true],
      ['identity-merges', 'identity-merges', true], ['sessions', 'sessions', true], ['customer-features', 'aggregates', true],
      ['campaign-triggers', 'triggers', true], ['suppressed', 'suppressed-triggers', true],
      ['funnels', 'funnels', true], ['attributions', 'attributions', true], ['channel-credits', 'channel-credits', true],
    ],
  );
});

test('json encoders write JSON.stringify(record)', () => {
  for (const { stream, records } of PRODUCED) {
    const enc = createStreamEncoder({ stream: { ...stream, format: 'json' } });
    for (const r of records) assert.deepEqual(enc.encode(r), Buffer.from(JSON.stringify(r)));
  }
});

test('avro encoders without a registry write plain bodies that decode to the same records', () => {
  for (const { stream, records } of PRODUCED) {
    const enc = createStreamEncoder({ stream: { ...stream, format: 'avro' } });
    for (const r of records) {
      const value = enc.encode(r);
      assert.ok(Buffer.isBuffer(value));
      assert.deepStrictEqual(decodeStreamAvro(stream.kind, value), { ok: true, record: r }, `${stream.name}`);
    }
  }
});

test('avro encoders with a registry register the schema under <topic>-value once and frame every value', async () => {
  const registry = new SchemaRegistryClient(url);
  for (const { stream, records } of PRODUCED) {
    requests.length = 0;
    const enc = createStreamEncoder({ stream: { ...stream, format: 'avro' }, registry });
    const values = await Promise.all(records.map((r) => enc.encode(r)));
    assert.deepEqual(requests, [`POST /subjects/${encodeURIComponent(`${stream.topic}-value`)}/versions`], stream.name);
    const id = (unframeConfluent(values[0] as Buffer) as { schemaId: number }).schemaId;
    assert.equal(schemas.get(id), JSON.stringify(streamAvroSchema(stream.kind)));
    values.forEach((v, i) => {
      const u = unframeConfluent(v);
      assert.ok(u.ok);
      assert.equal(u.schemaId, id);
      assert.deepStrictEqual(decodeStreamAvro(stream.kind, u.body), { ok: true, record: records[i] });
    });
    const again = enc.encode(records[0] as DerivedRecord);
    assert.ok(Buffer.isBuffer(again), 'synchronous once registered');
    assert.deepEqual(again, values[0]);
    assert.equal(requests.length, 1);
  }
});

test('an explicit subject is used; a failed registration rejects and the next record retries', async () => {
  requests.length = 0;
  failPosts = 1;
  const stream = PRODUCED.find((p) => p.stream.kind === 'triggers') as { stream: CompiledStream; records: DerivedRecord[] };
  const enc = createStreamEncoder({ stream: { ...stream.stream, format: 'avro' }, registry: new SchemaRegistryClient(url), subject: 'triggers-v1' });
  await assert.rejects(async () => enc.encode(stream.records[0] as DerivedRecord), { name: 'SchemaRegistryError', status: 500 });
  const value = await enc.encode(stream.records[0] as DerivedRecord);
  assert.equal(value[0], 0);
  assert.deepEqual(requests, ['POST /subjects/triggers-v1/versions', 'POST /subjects/triggers-v1/versions']);
});

test('an avro stream of a kind without a schema is refused when the encoder is created', () => {
  const stream: CompiledStream = { name: 'custom', producer: 'x', kind: 'routed-ish', topic: 'app-custom', format: 'avro' };
  assert.throws(() => createStreamEncoder({ stream }), /^Error: stream custom \(topic app-custom\) has format avro: no Avro schema for stream kind "routed-ish"/);
});
