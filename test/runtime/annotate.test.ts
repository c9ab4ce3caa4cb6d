// How a step's annotation reaches an event: a copy when the caller keeps the event (`Task.pipe`,
// the RxJS operators), in place when the runner made it; the copy's field order and an own
// `__proto__` field are those of the object literal `{ ...event, [field]: value }`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { annotatedCopy } from '../../lib/operator/contract.js';

const event = (): TributaryEvent => ({ messageId: 'm1', type: 'track', event: 'view', userId: 'u1', anonymousId: null, timestamp: 5, properties: { sku: 'a' } });

test('annotatedCopy: a new object with the field set, the event unchanged; an existing field keeps its place', () => {
  const e = event();
  const copy = annotatedCopy(e, 'sessionId', 's-1');
  assert.notEqual(copy, e);
  assert.deepEqual(e, event(), 'the original is unchanged');
  assert.deepEqual(Object.keys(copy), [...Object.keys(e), 'sessionId']);
  assert.equal(copy.properties, e.properties, 'a shallow copy, as the spread');
  const again = annotatedCopy(copy, 'userId', 'u2');
  assert.deepEqual(Object.keys(again), Object.keys(copy));
  assert.equal(again.userId, 'u2');
});

test('annotatedCopy: a field named __proto__ is an own data property, the prototype untouched', () => {
  const copy = annotatedCopy(event(), '__proto__', { polluted: true }) as unknown as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(copy, '__proto__'), { value: { polluted: true }, enumerable: true, writable: true, configurable: true });
  assert.equal((copy as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(JSON.parse(JSON.stringify(copy)).__proto__, { polluted: true });
});
