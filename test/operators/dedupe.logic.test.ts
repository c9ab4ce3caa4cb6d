import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { recordingContext } from '../../lib/testing/context.js';
import { DedupeLogic, dedupeOperator } from '../../operators/dedupe.js';
import { ev, MIN } from '../support/events.js';

const TTL = 10 * MIN;
const setup = () => {
  const ctx = recordingContext('dedupe');
  const logic = new DedupeLogic(dedupeOperator.resolve({ ttl: '10m', output: 'duplicates' }), ctx);
  return { ctx, logic };
};
const run = (logic: DedupeLogic, events: TributaryEvent[]) =>
  events.map((e) => (logic.process(e, e.messageId) ? 'pass' : 'drop'));

const cases: Array<{ name: string; events: TributaryEvent[]; expect: string[] }> = [
  { name: 'exact duplicate is dropped', events: [ev('m1', 0), ev('m1', 0)], expect: ['pass', 'drop'] },
  { name: 'different ids both pass', events: [ev('m1', 0), ev('m2', 0)], expect: ['pass', 'pass'] },
  { name: 'a copy exactly ttl later is still a duplicate (inclusive bound)', events: [ev('m1', 0), ev('m1', TTL)], expect: ['pass', 'drop'] },
  { name: 'a copy more than ttl later passes and starts a new ttl window', events: [ev('m1', 0), ev('m1', TTL + 1), ev('m1', 2 * TTL)], expect: ['pass', 'pass', 'drop'] },
  { name: 'out of order: the copy arrives before the original', events: [ev('m1', 5 * MIN), ev('m1', 1 * MIN)], expect: ['pass', 'drop'] },
  { name: 'three copies: two dropped', events: [ev('m1', 0), ev('m1', 1), ev('m1', 2)], expect: ['pass', 'drop', 'drop'] },
];

for (const c of cases) {
  test(`dedupe logic: ${c.name}`, () => {
    const { logic, ctx } = setup();
    assert.deepEqual(run(logic, c.events), c.expect);
    const dropped = c.expect.filter((x) => x === 'drop').length;
    assert.deepEqual(ctx.drops, Array(dropped).fill('duplicate'));
    assert.equal(ctx.emitted.length, dropped);
    for (const { stream } of ctx.emitted) assert.equal(stream, 'duplicates');
  });
}

test('dedupe logic: the duplicate record carries the event, its key and first-seen time', () => {
  const { logic, ctx } = setup();
  logic.process(ev('m1', 1000), 'm1');
  logic.process(ev('m1', 1500, { anonymousId: 'other' }), 'm1');
  assert.deepEqual(ctx.emitted, [
    { stream: 'duplicates', record: { ...ev('m1', 1500, { anonymousId: 'other' }), duplicateKey: 'm1', firstSeenAt: 1000 } },
  ]);
});

test('dedupe logic: state expires when the watermark passes first-seen + ttl, not before', () => {
  const { logic, ctx } = setup();
  logic.process(ev('m1', 0), 'm1');
  logic.process(ev('m2', MIN), 'm2');
  const seen = ctx.stores.open('dedupe.seen');
  logic.advance(TTL);
  assert.equal(logic.size(), 2, 'at exactly first + ttl the key is still remembered');
  assert.equal(seen.count(), 1, 'in one segment');
  logic.advance(TTL + 1);
  // m1 is past its ttl but shares a segment with m2: remembered, yet no longer a duplicate.
  assert.equal(logic.firstSeen('m1'), 0);
  assert.notEqual(logic.process(ev('m1', TTL + 1), 'm1'), null);
  logic.advance(MIN + TTL + 1);
  assert.equal(logic.firstSeen('m2'), undefined, 'the first segment went with its last key');
  assert.equal(logic.firstSeen('m1'), TTL + 1, 'm1 seen again lives in the open segment');
  logic.advance(Infinity);
  assert.equal(logic.size(), 0);
  assert.equal(seen.count(), 0, 'end of input empties the store');
});

test('dedupe logic: no output configured → duplicates only counted', () => {
  const ctx = recordingContext('dedupe');
  const logic = new DedupeLogic(dedupeOperator.resolve({}), ctx);
  logic.process(ev('m1', 0), 'm1');
  assert.equal(logic.process(ev('m1', 0), 'm1'), null);
  assert.deepEqual(ctx.emitted, []);
  assert.deepEqual(ctx.drops, ['duplicate']);
});

test('dedupe options resolve with defaults and reject bad durations', () => {
  assert.deepEqual(dedupeOperator.resolve({}), { key: ['messageId'], ttlMs: 86_400_000, output: undefined });
  assert.deepEqual(dedupeOperator.resolve({ key: 'properties.orderId', ttl: '7d' }), { key: ['properties.orderId'], ttlMs: 604_800_000, output: undefined });
  assert.throws(() => dedupeOperator.resolve({ ttl: '1 day' }), /use 1d/);
});

test('dedupe logic: state of the earlier per-key layout (key → first-seen time) is filed into segments when the logic opens', () => {
  const ctx = recordingContext('dedupe');
  const seen = ctx.stores.open<string, number>('dedupe.seen');
  seen.put('m2', 2 * MIN, { expiresAt: 2 * MIN + TTL + 1 });
  seen.put('m1', 1 * MIN, { expiresAt: 1 * MIN + TTL + 1 });
  const logic = new DedupeLogic(dedupeOperator.resolve({ ttl: '10m', output: 'duplicates' }), ctx);
  assert.deepEqual([logic.firstSeen('m1'), logic.firstSeen('m2'), logic.size()], [1 * MIN, 2 * MIN, 2]);
  assert.deepEqual([...ctx.stores.open('dedupe.seen').range()], [{ key: 0, value: { keys: ['m1', 'm2'], at: [1 * MIN, 2 * MIN], expiresAt: 2 * MIN + TTL + 1 } }]);
  assert.deepEqual(run(logic, [ev('m1', 3 * MIN), ev('m3', 3 * MIN)]), ['drop', 'pass']);
  logic.advance(2 * MIN + TTL + 1);
  assert.deepEqual([logic.firstSeen('m1'), logic.firstSeen('m3')], [undefined, 3 * MIN], 'the filed segment expires like any other');
});
