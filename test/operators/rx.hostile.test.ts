/**
 * One hostile record through an RxJS operator, between good ones: it becomes a dead letter with a
 * reason and the stream goes on with the same records as without it. Each case here stopped the
 * stream (or the process) before: found by an audit of the operator library.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, toArray, type OperatorFunction } from 'rxjs';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import type { IncomingEvent } from '../../lib/operator/rx.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import { dedupe, funnel, sessionize, windowAggregate } from '../../operators/index.js';

const T = Date.UTC(2026, 0, 1);
const ev = (id: string, s: number, extra: Record<string, unknown> = {}): TributaryEvent =>
  ({ messageId: id, type: 'track', event: 'view', userId: 'u', anonymousId: null, timestamp: T + s * 1000, ...extra }) as TributaryEvent;

/** Runs `events` through `make(outputs)`; the main stream's ids and the side outputs' records. */
async function run(make: (outputs: Record<string, (r: DerivedRecord) => void>) => OperatorFunction<IncomingEvent, TributaryEvent>, events: unknown[]) {
  const side: Record<string, DerivedRecord[]> = {};
  const outputs = new Proxy({} as Record<string, (r: DerivedRecord) => void>, { get: (_t, name: string) => (r: DerivedRecord) => (side[name] ??= []).push(r) });
  const main = await firstValueFrom(from(events as IncomingEvent[]).pipe(make(outputs), toArray()));
  return { main: main.map((e) => e.messageId), side, dead: (side['dead-letter'] ?? []).map((d) => [d.reason, d.detail]) };
}

test('rx: null, undefined and an event whose fields throw when read are dead letters; the stream goes on', async () => {
  const throwing = Object.defineProperty({ messageId: 'x', type: 'track' }, 'timestamp', { get() { throw new Error('boom'); }, enumerable: true });
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const r = await run((outputs) => dedupe({ outputs }), [ev('a', 1), null, undefined, throwing, revoked.proxy, ev('b', 2)]);
  assert.deepEqual(r.main, ['a', 'b']);
  assert.deepEqual(r.dead, [
    ['not-an-object', 'an event is an object, not null'],
    ['not-an-object', 'an event is an object, not undefined'],
    ['invalid-field', 'the event could not be read: boom'],
    ['invalid-field', "the event could not be read: Cannot perform 'get' on a proxy that has been revoked"],
  ]);
});

test('rx: an event without messageId nested 5,000 levels deep is too-deep (its content id recursed past the stack)', async () => {
  const deep = JSON.parse(`{"type":"track","event":"view","userId":"u","timestamp":"2026-01-01T00:00:05Z","properties":{"x":${'['.repeat(5000)}${']'.repeat(5000)}}}`) as unknown;
  const r = await run((outputs) => dedupe({ outputs }), [ev('a', 1), deep, ev('b', 9)]);
  assert.deepEqual(r.main, ['a', 'b']);
  assert.deepEqual(r.dead, [['too-deep', 'nested too deep to read (objects and arrays)']]);
});

test('rx: a number timestamp outside 1900–2099 is invalid-timestamp, not a watermark jump; funnel no longer fires a timer for ever at 1e16', async () => {
  const s = await run((outputs) => sessionize({ key: 'userId', output: 'sessions', outputs }), [ev('a', 1), ev('h', 0, { userId: 'other', timestamp: 1e20 }), ev('b', 3)]);
  assert.deepEqual(s.main, ['a', 'b'], 'b is not late');
  assert.equal(s.side.late, undefined);
  assert.deepEqual(s.dead.map(([reason]) => reason), ['invalid-timestamp']);
  const f = await run(
    (outputs) => funnel({ key: 'userId', steps: [{ name: 'view', where: { event: 'view' } }, { name: 'cart', where: { event: 'add_to_cart' } }], within: '1h', output: 'funnels', outputs }),
    [ev('a', 1), ev('h', 0, { event: 'add_to_cart', timestamp: 1e16 }), ev('b', 2, { event: 'add_to_cart' })],
  );
  assert.deepEqual(f.main, ['a', 'b']);
  assert.deepEqual(f.dead.map(([reason]) => reason), ['invalid-timestamp']);
  assert.equal(f.side.funnels?.length, 1);
});

test('rx: a key field whose getter throws is a processing-error dead letter; the records after it are processed', async () => {
  const bad = Object.defineProperty(ev('bad', 2), 'userId', { get() { throw new Error('boom'); }, enumerable: true });
  const r = await run((outputs) => sessionize({ key: 'userId', output: 'sessions', outputs }), [ev('a', 1), bad, ev('b', 3)]);
  assert.deepEqual(r.main, ['a', 'b']);
  assert.deepEqual(r.dead, [['processing-error', 'sessionize could not handle this record: boom']]);
  assert.equal(r.side.sessions?.length, 1);
});

test('rx: a timer that throws (a topK over a Symbol value) is a dead letter, as in the runners; the other windows close', async () => {
  const r = await run(
    (outputs) => windowAggregate({ key: 'userId', window: { tumbling: '1h' }, aggregates: { top: { topK: { path: 'properties.v', k: 3 } } }, output: 'features', outputs }),
    [ev('a', 1, { properties: { v: 'x' } }), ev('bad', 2, { userId: 'v', properties: { v: Symbol('s') } }), ev('b', 3, { properties: { v: 'y' } })],
  );
  assert.deepEqual(r.main, ['a', 'bad', 'b']);
  assert.deepEqual(r.dead.map(([reason, detail]) => [reason, /^windowAggregate threw firing timer w:\d+:v \(due \d+, watermark Infinity\): /.test(detail as string)]), [['processing-error', true]]);
  assert.deepEqual(r.side.features?.map((f) => [f.key, (f as unknown as { values: unknown }).values]), [['u', { top: [{ value: 'x', count: 1 }, { value: 'y', count: 1 }] }]]);
});
