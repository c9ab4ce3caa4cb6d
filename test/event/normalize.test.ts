import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateMapping } from '../../lib/event/apply-mapping.js';
import { canonicalJson, contentMessageId } from '../../lib/event/content-id.js';
import { createNormalizer, normalizeEvent } from '../../lib/event/normalize.js';
import type { NormalizeResult } from '../../lib/event/normalize.js';
import type { SourceMapping } from '../../lib/event/mapping.js';
import type { TributaryEvent } from '../../lib/event/event.js';

const T0 = 1569888000000;

function ok(r: NormalizeResult): TributaryEvent {
  if (!r.ok) assert.fail(`expected an event, got ${r.reason}: ${r.detail}`);
  return r.event;
}

test('a canonical Segment event passes through, timestamp normalised', () => {
  const raw = {
    messageId: 'm1', type: 'track', event: 'add_to_cart', userId: null, anonymousId: 'a1',
    timestamp: '2019-10-01T00:00:00Z', properties: { productId: 'p1', price: 35.79 },
    context: { channel: 'web', consent: { marketing: true } }, sentAt: '2019-10-01T00:00:01Z', personId: 'p-1',
  };
  const event = ok(normalizeEvent(raw, undefined));
  assert.deepEqual(event, { ...raw, timestamp: T0 });
  assert.deepEqual(Object.keys(event), ['messageId', 'type', 'event', 'userId', 'anonymousId', 'timestamp', 'properties', 'context', 'sentAt', 'personId']);
  assert.equal(raw.timestamp, '2019-10-01T00:00:00Z', 'input not mutated');
});

test('mapping table: fields moved, values, defaults, types', () => {
  const cases: Array<{ name: string; raw: Record<string, unknown>; mapping: SourceMapping; expected: Record<string, unknown> }> = [
    {
      name: 'fields are moved, not copied; unmapped fields pass through',
      raw: { id: 'm1', event_name: 'view', user_id: 'u1', ts: T0, extra: { a: 1 } },
      mapping: { fields: { messageId: 'id', event: 'event_name', userId: 'user_id', timestamp: 'ts' } },
      expected: { messageId: 'm1', type: 'track', event: 'view', userId: 'u1', anonymousId: null, timestamp: T0, extra: { a: 1 } },
    },
    {
      name: 'nested raw and canonical paths; emptied raw parents stay',
      raw: { messageId: 'm1', type: 'track', e: { name: 'view', time: T0 }, sku: 'p1' },
      mapping: { fields: { event: 'e.name', timestamp: 'e.time', 'properties.productId': 'sku' } },
      expected: { messageId: 'm1', type: 'track', event: 'view', userId: null, anonymousId: null, timestamp: T0, properties: { productId: 'p1' }, e: {} },
    },
    {
      name: 'swapped fields read before written',
      raw: { messageId: 'm1', event: 'view', timestamp: T0, userId: 'A', anonymousId: 'B' },
      mapping: { fields: { userId: 'anonymousId', anonymousId: 'userId' } },
      expected: { messageId: 'm1', type: 'track', event: 'view', userId: 'B', anonymousId: 'A', timestamp: T0 },
    },
    {
      name: 'absent raw field leaves the canonical one as it was',
      raw: { messageId: 'm1', event: 'view', timestamp: T0, userId: 'u0' },
      mapping: { fields: { userId: 'user_id' } },
      expected: { messageId: 'm1', type: 'track', event: 'view', userId: 'u0', anonymousId: null, timestamp: T0 },
    },
    {
      name: 'values translate listed values only, numbers by their text',
      raw: { messageId: 'm1', event: 'cart', timestamp: T0, properties: { status: 2 } },
      mapping: { values: { event: { cart: 'add_to_cart' }, 'properties.status': { '2': 'shipped' } } },
      expected: { messageId: 'm1', type: 'track', event: 'add_to_cart', userId: null, anonymousId: null, timestamp: T0, properties: { status: 'shipped' } },
    },
    {
      name: 'values do not match inherited keys',
      raw: { messageId: 'm1', event: 'constructor', timestamp: T0 },
      mapping: { values: { event: { cart: 'add_to_cart' } } },
      expected: { messageId: 'm1', type: 'track', event: 'constructor', userId: null, anonymousId: null, timestamp: T0 },
    },
    {
      name: 'defaults fill absent, null and empty fields, not present ones',
      raw: { messageId: 'm1', event: 'view', timestamp: T0, context: { channel: '' }, properties: { currency: null, qty: 0 } },
      mapping: { defaults: { type: 'track', 'context.channel': 'web', 'properties.currency': 'EUR', 'properties.qty': 1, 'traits.tier': 'none' } },
      expected: {
        messageId: 'm1', type: 'track', event: 'view', userId: null, anonymousId: null, timestamp: T0,
        properties: { currency: 'EUR', qty: 0 }, traits: { tier: 'none' }, context: { channel: 'web' },
      },
    },
    {
      name: 'values run before defaults (defaults are canonical already)',
      raw: { messageId: 'm1', timestamp: T0 },
      mapping: { values: { event: { cart: 'add_to_cart' } }, defaults: { event: 'cart' } },
      expected: { messageId: 'm1', type: 'track', event: 'cart', userId: null, anonymousId: null, timestamp: T0 },
    },
    {
      name: 'types convert CSV strings; empty numeric cells are dropped',
      raw: { messageId: 'm1', event: 'view', timestamp: T0, properties: { price: ' 35.79 ', qty: '6', big: '1e3', flag: 'Yes', off: '0', code: 7, blank: '' } },
      mapping: {
        types: {
          'properties.price': 'number', 'properties.qty': 'integer', 'properties.big': 'integer', 'properties.flag': 'boolean',
          'properties.off': 'boolean', 'properties.code': 'string', 'properties.blank': 'number', 'properties.absent': 'number',
        },
      },
      expected: {
        messageId: 'm1', type: 'track', event: 'view', userId: null, anonymousId: null, timestamp: T0,
        properties: { price: 35.79, qty: 6, big: 1000, flag: true, off: false, code: '7' },
      },
    },
    {
      name: 'numeric ids become strings; integral decimal text is cleaned up',
      raw: { messageId: 12, event: 'view', timestamp: T0, userId: 541312140, anonymousId: '17850.0', previousId: 1.5 },
      mapping: {},
      expected: { messageId: '12', type: 'track', event: 'view', userId: '541312140', anonymousId: '17850', previousId: '1.5', timestamp: T0 },
    },
    {
      name: 'types string keeps id text verbatim',
      raw: { messageId: '0012.0', event: 'view', timestamp: T0, userId: '17850.0', anonymousId: 17850 },
      mapping: { types: { userId: 'string', anonymousId: 'string' } },
      expected: { messageId: '0012.0', type: 'track', event: 'view', userId: '17850.0', anonymousId: '17850', timestamp: T0 },
    },
    {
      name: 'empty ids are null; null optional fields are removed',
      raw: { messageId: 'm1', type: 'identify', event: null, timestamp: T0, userId: '', anonymousId: 'a', previousId: null, properties: null, traits: { email: 'x@y' }, context: null },
      mapping: {},
      expected: { messageId: 'm1', type: 'identify', userId: null, anonymousId: 'a', timestamp: T0, traits: { email: 'x@y' } },
    },
    {
      name: 'type defaults to track only when there is an event',
      raw: { messageId: 'm1', event: 'view', type: '', timestamp: T0 },
      mapping: {},
      expected: { messageId: 'm1', type: 'track', event: 'view', userId: null, anonymousId: null, timestamp: T0 },
    },
    {
      name: 'alias with previousId; timestampFormat epoch-s',
      raw: { messageId: 'm1', type: 'alias', userId: 'u1', previousId: 'a1', ts: '1569888000' },
      mapping: { fields: { timestamp: 'ts' }, timestampFormat: 'epoch-s' },
      expected: { messageId: 'm1', type: 'alias', userId: 'u1', anonymousId: null, previousId: 'a1', timestamp: T0 },
    },
  ];
  for (const c of cases) {
    const raw = structuredClone(c.raw);
    assert.deepEqual(ok(normalizeEvent(raw, c.mapping)), c.expected, c.name);
    assert.deepEqual(raw, c.raw, `${c.name}: input not mutated`);
  }
});

test('nested objects the mapping touches are copied, untouched ones shared', () => {
  const raw = { messageId: 'm1', event: 'view', timestamp: T0, properties: { price: '1' }, context: { ip: 'x' } };
  const event = ok(normalizeEvent(raw, { types: { 'properties.price': 'number' } }));
  assert.deepEqual(raw.properties, { price: '1' });
  assert.notEqual(event.properties, raw.properties);
  assert.equal(event.context, raw.context);
});

test('messageId hash: deterministic, from the raw record, key order irrelevant', () => {
  const mapping: SourceMapping = { fields: { event: 'e', timestamp: 't' } };
  const a = ok(normalizeEvent({ e: 'view', t: T0, sku: 'p1' }, mapping));
  const b = ok(normalizeEvent({ sku: 'p1', t: T0, e: 'view' }, mapping));
  const c = ok(normalizeEvent({ e: 'view', t: T0, sku: 'p2' }, mapping));
  assert.match(a.messageId, /^h-[0-9a-f]{32}$/);
  assert.equal(a.messageId, b.messageId);
  assert.notEqual(a.messageId, c.messageId);
  assert.equal(a.messageId, contentMessageId({ e: 'view', t: T0, sku: 'p1' }));
  // The same raw record gives the same id under a different mapping (the hash is of the raw record).
  const d = ok(normalizeEvent({ e: 'view', t: T0, sku: 'p1' }, { ...mapping, defaults: { 'context.channel': 'web' } }));
  assert.equal(d.messageId, a.messageId);
});

test('canonicalJson sorts keys at every level', () => {
  const cases: Array<[unknown, string]> = [
    [{ b: 1, a: { d: [1, 'x'], c: null } }, '{"a":{"c":null,"d":[1,"x"]},"b":1}'],
    [{ u: undefined, f: () => 1, n: Number.NaN }, '{"n":null}'],
    [[undefined, 1n], '[null,1]'],
    [new Date(T0), '"2019-10-01T00:00:00.000Z"'],
    ['é"\n', '"é\\"\\n"'],
  ];
  for (const [value, text] of cases) assert.equal(canonicalJson(value), text);
});

test('options.key rejects events without a key, createNormalizer compiles once', () => {
  const normalize = createNormalizer({ fields: { userId: 'user_id' } }, { key: ['anonymousId', 'userId'] });
  assert.equal(ok(normalize({ event: 'view', timestamp: T0, user_id: 'u1' })).userId, 'u1');
  const r = normalize({ event: 'view', timestamp: T0 });
  assert.deepEqual(r, { ok: false, reason: 'missing-key', detail: 'none of the key fields anonymousId, userId has a value' });
});

test('a JSON __proto__ member stays a harmless own field', () => {
  const raw = JSON.parse('{"messageId":"m1","event":"view","timestamp":1569888000000,"__proto__":{"polluted":true}}') as unknown;
  const event = ok(normalizeEvent(raw, undefined));
  assert.equal(Object.getPrototypeOf(event), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(event, '__proto__')?.value, { polluted: true });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('invalid mappings are refused up front', () => {
  const bad: SourceMapping = {
    fields: { 'properties.__proto__': 'x', ok: 'a..b' },
    types: { 'properties.price': 'float' as never },
    timestampFormat: 'rfc2822' as never,
  };
  assert.deepEqual(validateMapping(bad), [
    'fields: invalid field path "properties.__proto__": segment "__proto__" is not allowed',
    'fields: invalid field path "a..b": empty segment',
    'types.properties.price: unknown type "float" (expected string, number, integer, boolean)',
    'timestampFormat: unknown format "rfc2822"',
  ]);
  assert.throws(() => normalizeEvent({}, bad), TypeError);
  assert.throws(() => createNormalizer(undefined, { key: ['constructor'] }), TypeError);
  assert.deepEqual(validateMapping(undefined), []);
});
