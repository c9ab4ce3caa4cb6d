import { test } from 'node:test';
import assert from 'node:assert/strict';
import avsc from 'avsc';
import { generateEvents } from '../../lib/generate/index.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { avroEventSchema } from '../../lib/serde/avro.js';
import {
  AVRO_STREAM_KINDS, decodeStreamAvro, derivedAvroSchema, encodeStreamAvro, streamAvroSchema, streamAvroType,
} from '../../lib/serde/derived-avro.js';
import { TestDriver } from '../../lib/testing/index.js';
import { defaultRegistry } from '../../operators/index.js';

// Every derived stream kind, produced by the real operators over a generated stream.
const PIPELINE = `
name: derived-avro
source:
  key: [anonymousId, userId]
  allowedLateness: 1m
steps:
  - dedupe: { key: messageId, ttl: 24h, output: duplicates }
  - joinIdentity: { identifiers: [userId, anonymousId], output: identity-merges, maxIdentifiersPerPerson: 3 }
  - sessionize: { key: personId, gap: 30m, output: sessions }
  - windowAggregate:
      key: personId
      window: { tumbling: 1d }
      emit: update
      aggregates:
        orders: { count: {}, where: { event: purchase } }
        revenue: { sum: properties.revenue, where: { event: purchase } }
        avgPrice: { avg: properties.price }
        minPrice: { min: properties.price }
        maxPrice: { max: properties.price }
        firstEvent: { first: event }
        lastOrderAt: { last: timestamp, where: { event: purchase } }
        products: { countDistinct: properties.productId }
        topProducts: { topK: { path: properties.productId, k: 2 } }
        rfm: { rfm: { monetary: properties.price } }
      output: aggregates
      annotate: features
  - trigger:
      key: personId
      rules:
        - name: cart-abandoned
          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
          cooldown: 24h
          channels: [{ channel: email, when: { userId: { $exists: true } } }, { channel: push }]
          payload: { productId: properties.productId, price: properties.price, features: features, nothing: properties.nope }
      consent: {}
      output: triggers
      suppressedOutput: suppressed
  - trigger:
      name: segments
      key: personId
      rules:
        - name: buyer
          segment: { condition: { features.orders: { $gte: 1 } }, on: both }
      output: segment-changes
  - funnel:
      key: personId
      steps:
        - { name: view, where: { event: product_viewed } }
        - { name: cart, where: { event: add_to_cart } }
        - { name: purchase, where: { event: purchase } }
      within: 1h
      emit: update
      output: funnels
  - attribution:
      key: personId
      touchpoints: { where: { $or: [ { event: { $in: [email_clicked, store_visit] } }, { type: { $in: [page, screen] }, name: Home } ] } }
      conversion: { where: { event: purchase }, value: properties.revenue }
      lookback: 7d
      output: attributions
      aggregateOutput: channel-credits
`;

const BAD_RAW = [
  { messageId: 'bad-1', type: 'track', event: 'view', anonymousId: 'a' },
  { messageId: 'bad-2', type: 'nonsense', anonymousId: 'a', timestamp: 0 },
  { messageId: 'bad-3', type: 'track', event: 'view', timestamp: 0 },
];

function run(): { driver: TestDriver; streams: Map<string, { kind: string; records: DerivedRecord[] }> } {
  const driver = TestDriver.fromYaml(PIPELINE, { registry: defaultRegistry });
  driver.pipeRaw(BAD_RAW);
  let last = 0;
  for (const e of generateEvents({ events: 4000, seed: 11 })) {
    driver.pipe(e);
    last = Math.max(last, e.timestamp);
  }
  // A conversion without touchpoints, and one after a touchpoint without a channel (attribution).
  driver.pipe({ messageId: 'solo-buy', type: 'track', event: 'purchase', userId: 'solo-1', anonymousId: null, timestamp: last + 1000, properties: { revenue: 12.5 } });
  driver.pipe({ messageId: 'solo-home', type: 'page', name: 'Home', userId: 'solo-2', anonymousId: null, timestamp: last + 2000 });
  driver.pipe({ messageId: 'solo-buy-2', type: 'track', event: 'purchase', userId: 'solo-2', anonymousId: null, timestamp: last + 3000, properties: { revenue: 3 } });
  // Erasure requests, with and without requestedBy: their audit records on `forgotten`.
  driver.pipe({ messageId: 'forget-1', type: 'forget', userId: 'user-1', anonymousId: null, timestamp: 0, properties: { requestedBy: 'dpo' } });
  driver.pipe({ messageId: 'forget-2', type: 'forget', userId: 'user-2', anonymousId: null, timestamp: 0 });
  driver.end();
  const streams = new Map<string, { kind: string; records: DerivedRecord[] }>();
  for (const s of driver.topology.streams) streams.set(s.name, { kind: s.kind, records: driver.read(s.name) });
  return { driver, streams };
}

const { streams } = run();

test('the operators produced every stream kind, with the optional fields in both states', () => {
  const counts = Object.fromEntries([...streams].map(([name, s]) => [`${name}:${s.kind}`, s.records.length]));
  for (const [key, n] of Object.entries(counts)) assert.ok(n > 0, `${key} is empty: ${JSON.stringify(counts)}`);
  const merges = streams.get('identity-merges')?.records ?? [];
  assert.ok(merges.some((r) => r.status === 'refused' && typeof r.reason === 'string' && typeof r.detail === 'string'), 'a refused merge');
  assert.ok(merges.some((r) => r.status === 'merged' && !('reason' in r)), 'a merged merge');
  const triggers = streams.get('triggers')?.records ?? [];
  const segments = streams.get('segment-changes')?.records ?? [];
  assert.ok(segments.some((r) => r.transition === 'entry' && r.channel === null) && segments.some((r) => r.transition === 'exit'), 'segment entry and exit');
  assert.ok(triggers.some((r) => r.transition === undefined && r.rule === 'cart-abandoned'), 'an absence trigger');
  assert.ok(triggers.some((r) => r.channel === 'email') && triggers.some((r) => r.channel === 'push'), 'both channels');
  const suppressed = streams.get('suppressed')?.records ?? [];
  assert.ok(suppressed.some((r) => r.channel === null), 'a suppressed record without a channel');
  const aggregates = streams.get('aggregates')?.records ?? [];
  assert.ok(aggregates.some((r) => r.final === true) && aggregates.some((r) => r.final === false), 'final and update aggregates');
  const forgotten = streams.get('forgotten')?.records ?? [];
  assert.deepEqual(forgotten.map((r) => r.requestedBy), ['dpo', null], 'requestedBy set and null');
  const sessions = streams.get('sessions')?.records ?? [];
  assert.ok(sessions.some((r) => (r.firstEvent as { page: unknown }).page === null) && sessions.some((r) => typeof (r.firstEvent as { page: unknown }).page === 'string'), 'pages null and set');
  const funnels = streams.get('funnels')?.records ?? [];
  assert.ok(funnels.some((r) => r.converted === true) && funnels.some((r) => typeof r.droppedAfter === 'string') && funnels.some((r) => r.final === false), 'converted, dropped and open funnel attempts');
  const attributions = streams.get('attributions')?.records ?? [];
  assert.ok(attributions.some((r) => (r.touchpoints as unknown[]).length > 1) && attributions.some((r) => (r.touchpoints as unknown[]).length === 0), 'conversions with touchpoints and without');
  assert.ok(attributions.some((r) => !Number.isInteger(r.value)), 'a conversion value that is not an integer');
  const credits = streams.get('channel-credits')?.records ?? [];
  assert.ok(credits.some((r) => r.channel === null) && credits.some((r) => typeof r.channel === 'string'), 'channel credits with and without a channel');
});

test('encode → decode round-trips every record of every stream exactly', () => {
  for (const [name, { kind, records }] of streams) {
    for (const [i, record] of records.entries()) {
      const body = encodeStreamAvro(kind, record);
      const decoded = decodeStreamAvro(kind, body);
      assert.ok(decoded.ok, `${name}[${i}]: ${decoded.ok ? '' : decoded.detail}`);
      assert.deepStrictEqual(decoded.record, record, `${name}[${i}]`);
    }
  }
});

test('a session, a trigger and a merge decode field for field as a plain avsc reader sees them', () => {
  const session = streams.get('sessions')?.records[0] as DerivedRecord;
  const plain = avsc.Type.forSchema(derivedAvroSchema('sessions') as avsc.Schema).fromBuffer(encodeStreamAvro('sessions', session)) as Record<string, unknown>;
  assert.equal(plain.sessionId, session.sessionId);
  assert.equal(plain.start, session.start);
  assert.deepEqual(plain.eventCounts, session.eventCounts);
  assert.deepEqual(plain.channels, session.channels);
  assert.equal(plain.extra, null);
});

test('records with fields beyond the schema keep them in extra', () => {
  const record = { ...(streams.get('aggregates')?.records[0] as DerivedRecord), note: 'x', nested: { a: [1, 2.5, null, true] } };
  const decoded = decodeStreamAvro('aggregates', encodeStreamAvro('aggregates', record));
  assert.deepStrictEqual(decoded, { ok: true, record });
});

test('schemas are namespaced tributary.*, one per kind, and parse with avsc', () => {
  const names = Object.fromEntries(AVRO_STREAM_KINDS.map((k) => [k, streamAvroType(k).name]));
  assert.deepEqual(names, {
    events: 'tributary.Event', duplicates: 'tributary.Event', 'filtered-out': 'tributary.Event', routed: 'tributary.Event',
    late: 'tributary.LateEvent', triggers: 'tributary.Trigger', 'suppressed-triggers': 'tributary.SuppressedTrigger',
    sessions: 'tributary.Session', 'identity-merges': 'tributary.IdentityMerge', aggregates: 'tributary.Aggregate',
    funnels: 'tributary.FunnelAttempt', attributions: 'tributary.Attribution', 'channel-credits': 'tributary.ChannelCredit',
    forgotten: 'tributary.Forgotten', 'dead-letter': 'tributary.DeadLetter',
  });
  assert.equal(streamAvroSchema('events'), avroEventSchema());
  const late = derivedAvroSchema('late') as { fields: Array<{ name: string }> };
  assert.deepEqual(late.fields.map((f) => f.name), [...(avroEventSchema() as { fields: Array<{ name: string }> }).fields.map((f) => f.name), 'watermark']);
  const trigger = derivedAvroSchema('triggers') as { fields: Array<{ name: string; type: unknown }> };
  assert.deepEqual(trigger.fields.map((f) => f.name), ['triggerId', 'rule', 'key', 'personId', 'firedAt', 'causes', 'channel', 'payload', 'transition', 'extra']);
  assert.deepEqual(trigger.fields.find((f) => f.name === 'firedAt')?.type, { type: 'long', logicalType: 'timestamp-millis' });
});

test('a kind without a schema is refused with the list of kinds', () => {
  assert.throws(() => derivedAvroSchema('custom'), /no Avro schema for stream kind "custom" \(Avro is available for events, duplicates, filtered-out, routed, late, triggers, suppressed-triggers, sessions, identity-merges, aggregates, funnels, attributions, channel-credits, forgotten, dead-letter\)/);
});

test('a record that does not fit names the field', () => {
  const trigger = streams.get('triggers')?.records[0] as DerivedRecord;
  assert.throws(() => encodeStreamAvro('triggers', { ...trigger, firedAt: 1.5 }), { name: 'TypeError', message: 'firedAt: expected an integer within ±2^52, got 1.5' });
  assert.throws(() => encodeStreamAvro('triggers', { ...trigger, rule: undefined }), { name: 'TypeError', message: 'rule: missing (required in tributary.Trigger)' });
  assert.throws(() => encodeStreamAvro('late', { ...(streams.get('late')?.records[0] as DerivedRecord), watermark: Infinity }), { name: 'TypeError', message: 'watermark: expected an integer within ±2^52, got Infinity' });
});

test('garbage and truncated bodies are malformed-avro', () => {
  const body = encodeStreamAvro('sessions', streams.get('sessions')?.records[0] as DerivedRecord);
  const truncated = decodeStreamAvro('sessions', body.subarray(0, body.length - 3));
  assert.equal(truncated.ok, false);
  assert.match(truncated.ok ? '' : truncated.detail, /^truncated: \d+ bytes are not a whole tributary\.Session$/);
  assert.deepEqual(decodeStreamAvro('sessions', Buffer.concat([body, Buffer.from([1])])), { ok: false, reason: 'malformed-avro', detail: '1 trailing bytes after a tributary.Session' });
});
