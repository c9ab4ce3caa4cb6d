import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createBehaviorService, type BehaviorService, type EventResult } from '../../examples/embedded-service/service.js';
import { deriveId } from '../../lib/operator/ids.js';
import { personIdFor } from '../../operators/join-identity.js';

let svc: BehaviorService;
let base: string;
before(async () => {
  svc = createBehaviorService({ gap: '30m', allowedLateness: '1m' });
  await new Promise<void>((ok) => svc.server.listen(0, '127.0.0.1', () => ok()));
  base = `http://127.0.0.1:${(svc.server.address() as AddressInfo).port}`;
});
after(() => svc.close());

const at = (hh: number, mm: number) => Date.UTC(2026, 0, 1, hh, mm);
const track = (messageId: string, t: number, ids: { anonymousId?: string; userId?: string }, event = 'product_viewed', channel = 'web') => ({
  messageId, type: 'track', event, timestamp: new Date(t).toISOString(), context: { channel }, ...ids,
});
const post = async (body: unknown): Promise<EventResult[]> => {
  const res = await fetch(`${base}/events`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  return (await res.json()) as EventResult[];
};

test('embedded service: events in, person and session out; merges, refusals, late and bad events answered', async () => {
  const pA1 = personIdFor('anonymousId:a1');
  const pU2 = personIdFor('userId:u2');
  const s1 = deriveId('session', pA1, at(10, 0));

  assert.deepEqual(await post([track('m1', at(10, 0), { anonymousId: 'a1' }), track('m2', at(10, 5), { anonymousId: 'a1' }, 'add_to_cart')]), [
    { messageId: 'm1', status: 'ok', personId: pA1, sessionId: s1 },
    { messageId: 'm2', status: 'ok', personId: pA1, sessionId: s1 },
  ]);
  // Login on the laptop: the anonymous person keeps its id (first seen first) and gains u1.
  assert.deepEqual(await post({ messageId: 'm3', type: 'identify', anonymousId: 'a1', userId: 'u1', traits: { email: 'x@example.com' }, timestamp: new Date(at(10, 10)).toISOString() }), [
    { messageId: 'm3', status: 'ok', personId: pA1, sessionId: s1 },
  ]);
  // The same customer on a phone: a new device joins the person, and the same visit.
  assert.deepEqual(await post(track('m4', at(10, 12), { anonymousId: 'a2', userId: 'u1' }, 'purchase', 'app')), [
    { messageId: 'm4', status: 'ok', personId: pA1, sessionId: s1 },
  ]);
  // The family laptop: u2 on a1 is refused (one user id per person) and resolves to u2's own person.
  const [m5] = await post(track('m5', at(10, 20), { anonymousId: 'a1', userId: 'u2' }));
  assert.equal(m5?.status, 'ok');
  assert.equal((m5 as { personId: string }).personId, pU2);

  const [bad] = await post({ messageId: 'bad', type: 'track', event: 'x', anonymousId: 'a1' });
  assert.deepEqual({ ...bad, detail: undefined }, { messageId: 'bad', status: 'rejected', reason: 'missing-timestamp', detail: undefined });
  assert.match((bad as { detail: string }).detail, /timestamp/);

  // Three hours later: the watermark passes end + gap of both visits, which close.
  const [m6] = await post(track('m6', at(13, 0), { userId: 'u1' }));
  assert.equal((m6 as { personId: string }).personId, pA1);
  assert.notEqual((m6 as { sessionId: string }).sessionId, s1);
  assert.deepEqual(await post(track('late', at(9, 0), { anonymousId: 'a9' })), [{ messageId: 'late', status: 'late', watermark: at(12, 59) }]);

  const sessions = (await (await fetch(`${base}/sessions`)).json()) as Array<Record<string, unknown>>;
  assert.deepEqual(
    sessions.map((s) => [s.key, s.sessionId, s.start, s.end, s.eventCount, s.eventCounts, s.channels]),
    [
      [pA1, s1, at(10, 0), at(10, 12), 4, { product_viewed: 1, add_to_cart: 1, identify: 1, purchase: 1 }, ['app', 'web']],
      [pU2, deriveId('session', pU2, at(10, 20)), at(10, 20), at(10, 20), 1, { product_viewed: 1 }, ['web']],
    ].sort((a, b) => Number(a[2]) - Number(b[2])),
  );
  const merges = (await (await fetch(`${base}/merges`)).json()) as Array<Record<string, unknown>>;
  assert.deepEqual(merges.map((m) => [m.status, m.reason ?? null, m.messageId]), [['refused', 'max-user-ids', 'm5']]);
});
