import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import { ManualClock } from '../../lib/time/clock.js';
import { joinIdentity, personIdFor } from '../../operators/join-identity.js';
import { sessionize } from '../../operators/sessionize.js';
import { ev, MIN } from '../support/events.js';

test('RxJS operators: a forget event is applied by each operator and passed on widened; the person\'s open session never closes', async () => {
  const forgotten: DerivedRecord[] = [];
  const sessions: DerivedRecord[] = [];
  const clock = new ManualClock(Date.UTC(2026, 11, 7));
  const request: TributaryEvent = { messageId: 'req-1', type: 'forget', userId: 'u1', anonymousId: null, timestamp: Date.UTC(2026, 11, 7), properties: { requestedBy: 'dpo' } };
  const out = await firstValueFrom(
    from([
      ev('m1', 0, { anonymousId: 'a1' }),
      ev('m2', 1 * MIN, { anonymousId: 'a1', userId: 'u1' }),
      ev('m3', 2 * MIN, { anonymousId: 'a2' }),
      request,
      ev('m4', 3 * MIN, { anonymousId: 'a1' }),
    ]).pipe(
      joinIdentity({ clock, outputs: { forgotten: (r) => forgotten.push(r) } }),
      sessionize({ key: 'personId', clock, outputs: { sessions: (r) => sessions.push(r), forgotten: (r) => forgotten.push(r) } }),
      toArray(),
    ),
  );
  const pa1 = personIdFor('anonymousId:a1');
  // The request comes out of the chain widened to everything joinIdentity knew of the person.
  assert.deepEqual(out.filter((e) => e.type === 'forget').map((e) => e.properties), [{
    requestedBy: 'dpo', identifiers: [{ field: 'userId', value: 'u1' }, { field: 'anonymousId', value: 'a1' }], personIds: [pa1],
  }]);
  assert.deepEqual(forgotten.map((r) => [r.id, r.task, r.stores, r.total]), [
    [deriveId('forgotten', 'req-1', 'rx joinIdentity'), 'rx joinIdentity', { 'joinIdentity.ids': 2, 'joinIdentity.absorbed': 0, 'joinIdentity.persons': 1, 'joinIdentity.links': 2, 'joinIdentity.refused': 0 }, 5],
    [deriveId('forgotten', 'req-1', 'rx sessionize'), 'rx sessionize', { 'sessionize.sessions': 1 }, 1],
  ]);
  // a1 after the request is a new person again (the same derived id) with a session of one event; a2's session is untouched.
  assert.deepEqual(sessions.map((s) => [s.key, s.eventCount]).sort(), [[pa1, 1], [personIdFor('anonymousId:a2'), 1]].sort());
});
