import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, Subject, toArray } from 'rxjs';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { dedupe } from '../../operators/dedupe.js';
import { ev, MIN } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

test('dedupe as an RxJS operator: passes first occurrences, duplicates to a side output', async () => {
  const duplicates: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([ev('m1', 0), ev('m2', 1000), ev('m1', 2000), ev('m3', 3000), ev('m2', 3000)]).pipe(
      dedupe({ ttl: '1m', outputs: { duplicates: (r) => duplicates.push(r) } }),
      toArray(),
    ),
  );
  assert.deepEqual(out.map((e) => e.messageId), ['m1', 'm2', 'm3']);
  assert.deepEqual(duplicates.map((d) => [d.messageId, d.timestamp, d.firstSeenAt]), [['m1', 2000, 0], ['m2', 3000, 1000]]);
});

test('dedupe RxJS: late events (behind the watermark) go to the late output, not through', async () => {
  const late = new Subject<DerivedRecord>();
  const lateSeen: DerivedRecord[] = [];
  late.subscribe((r) => lateSeen.push(r));
  const out = await firstValueFrom(
    from([ev('m1', 10 * MIN), ev('m2', 9 * MIN), ev('m3', 5 * MIN)]).pipe(dedupe({ ttl: '1h', allowedLateness: '2m', outputs: { late } }), toArray()),
  );
  assert.deepEqual(out.map((e) => e.messageId), ['m1', 'm2']);
  assert.deepEqual(lateSeen.map((r) => [r.messageId, r.watermark]), [['m3', 8 * MIN]]);
});

test('dedupe RxJS with an LMDB store: a resubscription after restart remembers earlier keys', async () => {
  const dir = tempDir();
  const first = new LmdbStoreFactory({ path: dir });
  const a = await firstValueFrom(from([ev('m1', 0), ev('m2', 0)]).pipe(dedupe({ ttl: '1d', stores: first }), toArray()));
  assert.deepEqual(a.map((e) => e.messageId), ['m1', 'm2']);
  await first.close();
  // Note: completion moved the watermark to +∞, which expired every key. A service that runs
  // forever never completes; to show persisted state, restart from a store written mid-stream.
  const dir2 = tempDir();
  const s1 = new LmdbStoreFactory({ path: dir2 });
  const live = new Subject<ReturnType<typeof ev>>();
  const seen: string[] = [];
  const sub = live.pipe(dedupe({ ttl: '1d', stores: s1, checkpointEvery: 1 })).subscribe((e) => seen.push(e.messageId));
  live.next(ev('m1', 0));
  live.next(ev('m2', 0));
  await s1.flush();
  sub.unsubscribe(); // the service stops without completing (a crash or a deploy)
  await s1.close();
  const s2 = new LmdbStoreFactory({ path: dir2 });
  const b = await firstValueFrom(from([ev('m1', MIN), ev('m3', MIN)]).pipe(dedupe({ ttl: '1d', stores: s2 }), toArray()));
  await s2.close();
  assert.deepEqual(seen, ['m1', 'm2']);
  assert.deepEqual(b.map((e) => e.messageId), ['m3'], 'm1 was remembered across the restart');
});

test('dedupe RxJS: an event without its key field is a dead letter and the stream goes on; onBadRecord: fail errors instead', async () => {
  const dead: unknown[] = [];
  const passed = await firstValueFrom(from([ev('m1', 0, { properties: {} }), ev('m2', 1, { properties: { orderId: 'o2' } })])
    .pipe(dedupe({ key: 'properties.orderId', outputs: { 'dead-letter': (d) => dead.push(d) } }), toArray()));
  assert.deepEqual(passed.map((e) => e.messageId), ['m2']);
  assert.deepEqual(dead.map((d) => ({ ...(d as object), raw: undefined })), [{ reason: 'missing-key', detail: 'event m1 has none of the key fields properties.orderId', raw: undefined, source: 'rx dedupe' }]);
  await assert.rejects(
    firstValueFrom(from([ev('m1', 0, { properties: {} })]).pipe(dedupe({ key: 'properties.orderId', onBadRecord: 'fail' }), toArray())),
    /^Error: dedupe: missing-key: event m1 has none of the key fields properties\.orderId$/,
  );
});
