import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeEvent } from '../../lib/event/normalize.js';
import type { NormalizeOptions } from '../../lib/event/normalize.js';
import type { RejectReason, SourceMapping } from '../../lib/event/mapping.js';

const T0 = 1569888000000;
const base = { messageId: 'm1', type: 'track', event: 'view', userId: 'u1', anonymousId: null, timestamp: T0 };

interface Case {
  name: string;
  raw: unknown;
  mapping?: SourceMapping;
  options?: NormalizeOptions;
  reason: RejectReason;
  detail?: string;
}

const cases: Case[] = [
  { name: 'array', raw: [base], reason: 'not-an-object', detail: 'expected an object, got an array' },
  { name: 'null', raw: null, reason: 'not-an-object', detail: 'expected an object, got null' },
  { name: 'string', raw: 'event', reason: 'not-an-object', detail: 'expected an object, got string' },
  { name: 'number', raw: 42, reason: 'not-an-object' },
  { name: 'no timestamp', raw: { ...base, timestamp: undefined }, reason: 'missing-timestamp', detail: 'no timestamp field' },
  { name: 'null timestamp', raw: { ...base, timestamp: null }, reason: 'missing-timestamp', detail: 'timestamp is null' },
  { name: 'mapped timestamp column absent', raw: { ...base, timestamp: undefined }, mapping: { fields: { timestamp: 'event_time' } }, reason: 'missing-timestamp' },
  { name: 'unparseable timestamp', raw: { ...base, timestamp: 'yesterday' }, reason: 'invalid-timestamp', detail: '"yesterday": not an ISO-8601 date-time or epoch number' },
  { name: 'impossible date', raw: { ...base, timestamp: '2019-02-30 00:00:00 UTC' }, reason: 'invalid-timestamp' },
  { name: 'out of range', raw: { ...base, timestamp: 1e16 }, reason: 'invalid-timestamp' },
  { name: 'wrong unit for format', raw: { ...base, timestamp: '2019-10-01T00:00:00Z' }, mapping: { timestampFormat: 'epoch-s' }, reason: 'invalid-timestamp' },
  { name: 'unknown type', raw: { ...base, type: 'click' }, reason: 'invalid-type', detail: 'type "click" is not one of track, identify, alias, page, screen, forget' },
  { name: 'type wrong case', raw: { ...base, type: 'Track' }, reason: 'invalid-type' },
  { name: 'type not a string', raw: { ...base, type: 1 }, reason: 'invalid-type' },
  { name: 'no type and no event', raw: { ...base, type: undefined, event: undefined }, reason: 'invalid-type', detail: 'no type, and no event name to imply track' },
  { name: 'track without event', raw: { ...base, event: undefined }, reason: 'missing-event-name', detail: 'a track event needs an event name; event is absent' },
  { name: 'track with empty event', raw: { ...base, event: '' }, reason: 'missing-event-name' },
  { name: 'track with null event', raw: { ...base, event: null }, reason: 'missing-event-name' },
  { name: 'required messageId absent', raw: { ...base, messageId: undefined }, mapping: { messageId: 'require' }, reason: 'missing-message-id', detail: 'no messageId, and the source mapping says messageId: require' },
  { name: 'required messageId empty', raw: { ...base, messageId: '' }, mapping: { messageId: 'require' }, reason: 'missing-message-id' },
  { name: 'userId an object', raw: { ...base, userId: { id: 1 } }, reason: 'invalid-field', detail: 'userId: an object is not a string, number or null' },
  { name: 'anonymousId an array', raw: { ...base, anonymousId: ['a'] }, reason: 'invalid-field' },
  { name: 'previousId a boolean', raw: { ...base, previousId: true }, reason: 'invalid-field' },
  { name: 'messageId an object', raw: { ...base, messageId: { id: 1 } }, reason: 'invalid-field', detail: 'messageId: an object is not a string or number' },
  { name: 'event a number', raw: { ...base, event: 5 }, reason: 'invalid-field', detail: 'event: 5 is not a string' },
  { name: 'properties a string', raw: { ...base, properties: 'x' }, reason: 'invalid-field', detail: 'properties: "x" is not an object' },
  { name: 'context an array', raw: { ...base, context: [] }, reason: 'invalid-field' },
  { name: 'traits a number', raw: { ...base, type: 'identify', traits: 1 }, reason: 'invalid-field' },
  {
    name: 'typed number that is not one',
    raw: { ...base, price: 'abc' },
    mapping: { fields: { 'properties.price': 'price' }, types: { 'properties.price': 'number' } },
    reason: 'invalid-field',
    detail: 'properties.price: "abc" is not a number',
  },
  { name: 'typed integer with a fraction', raw: { ...base, properties: { qty: '1.5' } }, mapping: { types: { 'properties.qty': 'integer' } }, reason: 'invalid-field', detail: 'properties.qty: "1.5" is not an integer' },
  { name: 'typed boolean', raw: { ...base, properties: { ok: 'maybe' } }, mapping: { types: { 'properties.ok': 'boolean' } }, reason: 'invalid-field' },
  { name: 'typed string given an object', raw: { ...base, properties: { o: {} } }, mapping: { types: { 'properties.o': 'string' } }, reason: 'invalid-field' },
  { name: 'no key at all', raw: { ...base, userId: null }, options: { key: ['anonymousId', 'userId'] }, reason: 'missing-key', detail: 'none of the key fields anonymousId, userId has a value' },
  { name: 'key field empty', raw: { ...base, userId: '' }, options: { key: 'userId' }, reason: 'missing-key' },
];

test('every rejection gives its exact reason', () => {
  for (const c of cases) {
    const r = normalizeEvent(c.raw, c.mapping, c.options);
    assert.equal(r.ok, false, c.name);
    if (r.ok) continue;
    assert.equal(r.reason, c.reason, `${c.name}: ${r.detail}`);
    if (c.detail !== undefined) assert.equal(r.detail, c.detail, c.name);
    else assert.ok(r.detail.length > 0, c.name);
  }
});

test('the first failing check decides (order: type, event, ids, messageId, timestamp, objects, key)', () => {
  const r = normalizeEvent({ type: 'nope', userId: {}, timestamp: 'x' }, undefined);
  assert.equal(!r.ok && r.reason, 'invalid-type');
  const r2 = normalizeEvent({ event: 'view', userId: {}, timestamp: 'x' }, undefined);
  assert.equal(!r2.ok && r2.reason, 'invalid-field');
  const r3 = normalizeEvent({ event: 'view', timestamp: 'x' }, { messageId: 'require' });
  assert.equal(!r3.ok && r3.reason, 'missing-message-id');
});
