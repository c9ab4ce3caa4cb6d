import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, Subject, toArray } from 'rxjs';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { joinIdentity, personIdFor, type PersonEvent } from '../../operators/join-identity.js';
import { tempDir } from '../support/tmp.js';

const MIN = 60_000;
type Ids = { userId?: string; anonymousId?: string };
const track = (m: string, t: number, ids: Ids): TributaryEvent => ({
  messageId: m, type: 'track', event: 'product_viewed', userId: ids.userId ?? null, anonymousId: ids.anonymousId ?? null, timestamp: t,
});
const identify = (m: string, t: number, userId: string, anonymousId: string): TributaryEvent => ({ messageId: m, type: 'identify', userId, anonymousId, timestamp: t });
const P = (id: string) => personIdFor(id);
const persons = (events: PersonEvent[]) => events.map((e) => [e.messageId, e.personId]);

const twoDevices = [
  track('m1', 0, { anonymousId: 'a1' }), identify('m2', MIN, 'u1', 'a1'),
  track('m3', 2 * MIN, { anonymousId: 'a2' }), identify('m4', 3 * MIN, 'u1', 'a2'), track('m5', 4 * MIN, { anonymousId: 'a2' }),
];

test('joinIdentity as an RxJS operator: every event with personId; merges to the identity-merges side output', async () => {
  const merges = new Subject<DerivedRecord>();
  const seen: DerivedRecord[] = [];
  merges.subscribe((r) => seen.push(r));
  const out = await firstValueFrom(from(twoDevices).pipe(joinIdentity({ outputs: { 'identity-merges': merges } }), toArray()));
  assert.deepEqual(persons(out), [['m1', P('anonymousId:a1')], ['m2', P('anonymousId:a1')], ['m3', P('anonymousId:a2')], ['m4', P('anonymousId:a1')], ['m5', P('anonymousId:a1')]]);
  assert.deepEqual(seen.map((r) => [r.status, r.personId, r.mergedPersonId, r.identifiers, r.messageId]), [
    ['merged', P('anonymousId:a1'), P('anonymousId:a2'), ['userId:u1', 'anonymousId:a2'], 'm4'],
  ]);
  assert.deepEqual(out[0], { ...twoDevices[0], personId: P('anonymousId:a1') });
  assert.equal('personId' in (twoDevices[0] as object), false, 'the input event is not mutated');
});

test('joinIdentity RxJS: a renamed output, and refusals reported there', async () => {
  const records: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([identify('m1', 0, 'u1', 'lap'), identify('m2', 1, 'u2', 'lap'), track('m3', 2, { anonymousId: 'lap' })]).pipe(
      joinIdentity({ output: 'merges', outputs: { merges: (r) => records.push(r) } }),
      toArray(),
    ),
  );
  assert.deepEqual(persons(out), [['m1', P('userId:u1')], ['m2', P('userId:u2')], ['m3', P('userId:u1')]]);
  assert.deepEqual(records.map((r) => [r.status, r.reason, r.messageId]), [['refused', 'max-user-ids', 'm2']]);
});

test('joinIdentity RxJS: late events (behind the watermark) go to the late output, not through', async () => {
  const late: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([track('m1', 10 * MIN, { anonymousId: 'a1' }), track('m2', 9 * MIN, { anonymousId: 'a2' }), identify('m3', 5 * MIN, 'u1', 'a2')]).pipe(
      joinIdentity({ allowedLateness: '2m', outputs: { late: (r) => late.push(r) } }),
      toArray(),
    ),
  );
  assert.deepEqual(persons(out), [['m1', P('anonymousId:a1')], ['m2', P('anonymousId:a2')]]);
  assert.deepEqual(late.map((r) => [r.messageId, r.watermark]), [['m3', 8 * MIN]]);
});

test('joinIdentity RxJS with an LMDB store: a service restarted mid-stream resolves as before', async () => {
  const dir = tempDir();
  const s1 = new LmdbStoreFactory({ path: dir });
  const live = new Subject<TributaryEvent>();
  const before: PersonEvent[] = [];
  const sub = live.pipe(joinIdentity({ stores: s1, checkpointEvery: 1 })).subscribe((e) => before.push(e));
  for (const e of twoDevices.slice(0, 3)) live.next(e);
  await s1.flush();
  sub.unsubscribe(); // the service stops without completing (a deploy)
  await s1.close();
  const s2 = new LmdbStoreFactory({ path: dir });
  const after = await firstValueFrom(from(twoDevices.slice(3)).pipe(joinIdentity({ stores: s2 }), toArray()));
  await s2.close();
  const uninterrupted = await firstValueFrom(from(twoDevices).pipe(joinIdentity(), toArray()));
  assert.deepEqual([...before, ...after], uninterrupted);
});

test('joinIdentity RxJS: an event with none of the identifiers is a dead letter; onBadRecord: fail errors', async () => {
  const dead: Array<{ reason: string }> = [];
  const passed = await firstValueFrom(from([track('m1', 0, {})]).pipe(joinIdentity({ outputs: { 'dead-letter': (d) => dead.push(d as { reason: string }) } }), toArray()));
  assert.deepEqual([passed.length, dead.map((d) => d.reason)], [0, ['missing-key']]);
  await assert.rejects(
    firstValueFrom(from([track('m1', 0, {})]).pipe(joinIdentity({ onBadRecord: 'fail' }), toArray())),
    /joinIdentity: missing-key: event m1 has none of the key fields userId, anonymousId/,
  );
});
