// The RxJS operators inside a service take events as they arrive: Segment-style events
// (ISO timestamps, context, sentAt) are normalised; what cannot be taken (an unreadable
// timestamp, no key, a key the store refuses) goes to the `dead-letter` side output with its
// reason and the stream goes on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import { dedupe, sessionize } from '../../operators/index.js';

const segment = (messageId: string, iso: string, extra: Record<string, unknown> = {}) => ({
  type: 'track', event: 'Product Viewed', messageId, anonymousId: 'a1', userId: null, timestamp: iso,
  sentAt: iso, receivedAt: iso, context: { page: { path: '/p/1' } }, properties: { productId: 'p1' }, ...extra,
});

test('Segment-style events through dedupe and sessionize: normalised, a copy dropped, bad records dead-lettered, the stream goes on', async () => {
  const dead: Array<{ reason: string; detail: string; source: string }> = [];
  const duplicates: string[] = [];
  const sessions: Array<{ eventCount: number }> = [];
  const deadLetter = (d: unknown) => dead.push(d as (typeof dead)[number]);
  const input = [
    segment('m1', '2026-01-01T10:00:00.000Z'),
    segment('m2', '2026-01-01T10:05:00.000Z'),
    segment('m1', '2026-01-01T10:00:00.000Z'), // a redelivery
    segment('m3', 'yesterday'), // no readable time
    segment('m5', '2026-01-01T10:06:00.000Z', { anonymousId: 'x'.repeat(3000) }), // a session key the store refuses
    segment('m4', '2026-01-01T10:07:00.000Z'),
  ];
  const out = await firstValueFrom(from(input).pipe(
    dedupe({ ttl: '1h', allowedLateness: '10m', output: 'duplicates', outputs: { duplicates: (d) => duplicates.push(String(d.messageId)), 'dead-letter': deadLetter } }),
    sessionize({ key: ['userId', 'anonymousId'], gap: '30m', allowedLateness: '10m', outputs: { sessions: (s) => sessions.push(s as { eventCount: number }), 'dead-letter': deadLetter } }),
    toArray(),
  ));
  assert.deepEqual(out.map((e) => [e.messageId, e.timestamp, typeof e.sessionId]), [
    ['m1', Date.UTC(2026, 0, 1, 10), 'string'],
    ['m2', Date.UTC(2026, 0, 1, 10, 5), 'string'],
    ['m4', Date.UTC(2026, 0, 1, 10, 7), 'string'],
  ]);
  assert.deepEqual(duplicates, ['m1']);
  assert.deepEqual(dead.map((d) => [d.reason, d.source]), [['invalid-timestamp', 'rx dedupe'], ['invalid-key', 'rx sessionize']]);
  assert.match(dead[1]?.detail ?? '', /^sessionize threw on this record: /);
  assert.deepEqual(sessions.map((s) => s.eventCount), [3]);
});
