import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, Subject, toArray } from 'rxjs';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { ManualClock } from '../../lib/time/clock.js';
import { trigger, type TriggerOptions } from '../../operators/trigger.js';
import { ev, MIN } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const T = 30 * MIN;
const cart = (id: string, t: number, extra: Partial<TributaryEvent> = {}) => ev(id, t, { event: 'add_to_cart', ...extra });
const buy = (id: string, t: number, extra: Partial<TributaryEvent> = {}) => ev(id, t, { event: 'purchase', ...extra });
const options: TriggerOptions = {
  key: 'anonymousId',
  rules: [{ name: 'cart-abandoned', absence: { first: { event: 'add_to_cart' }, then: { event: 'purchase' }, within: '30m' } }],
};
const brief = (rs: DerivedRecord[]) => rs.map((r) => [r.key, r.firedAt, r.causes]);

test('trigger as an RxJS operator: events pass through unchanged; abandoned carts come out at completion', async () => {
  const triggers: DerivedRecord[] = [];
  const events = [cart('a', 0), cart('c', MIN, { anonymousId: 'a2' }), buy('b', 10 * MIN, { anonymousId: 'a2' })];
  const out = await firstValueFrom(from(events).pipe(trigger({ ...options, outputs: { triggers: (r) => triggers.push(r) } }), toArray()));
  assert.deepEqual(out, events);
  assert.deepEqual(brief(triggers), [['a1', T, ['a']]]);
});

test('trigger RxJS: a record comes out as soon as the watermark passes A + T, before completion; late events go to late', async () => {
  const input = new Subject<TributaryEvent>();
  const triggers: DerivedRecord[] = [];
  const late: DerivedRecord[] = [];
  const done = new Promise<void>((resolve) =>
    input.pipe(trigger({ ...options, allowedLateness: '1m', outputs: { triggers: (r) => triggers.push(r), late: (r) => late.push(r) } })).subscribe({ complete: resolve }),
  );
  input.next(cart('a', 0));
  input.next(ev('x', T + MIN)); // watermark 30m: not passed
  assert.deepEqual(triggers, []);
  input.next(ev('y', T + MIN + 1));
  assert.deepEqual(brief(triggers), [['a1', T, ['a']]]);
  input.next(buy('b', 20 * MIN)); // late: cancels nothing
  assert.deepEqual(late.map((r) => r.messageId), ['b']);
  input.complete();
  await done;
  assert.equal(triggers.length, 1);
});

test('trigger RxJS with an LMDB store: a service stopped with a pending cart and restarted fires it exactly once', async () => {
  const dir = tempDir();
  const got: DerivedRecord[] = [];
  const s1 = new LmdbStoreFactory({ path: dir });
  const live = new Subject<TributaryEvent>();
  const sub = live.pipe(trigger({ ...options, stores: s1, outputs: { triggers: (r) => got.push(r) } })).subscribe();
  live.next(cart('a', 0));
  live.next(ev('x', 10 * MIN));
  await s1.flush();
  sub.unsubscribe(); // a deploy: stops without completing
  await s1.close();
  assert.equal(got.length, 0);

  const s2 = new LmdbStoreFactory({ path: dir });
  await firstValueFrom(from([ev('y', 40 * MIN)]).pipe(trigger({ ...options, stores: s2, outputs: { triggers: (r) => got.push(r) } }), toArray()));
  await s2.flush();
  await s2.close();
  assert.deepEqual(brief(got), [['a1', T, ['a']]]);

  const s3 = new LmdbStoreFactory({ path: dir });
  await firstValueFrom(from([ev('z', 50 * MIN)]).pipe(trigger({ ...options, stores: s3, outputs: { triggers: (r) => got.push(r) } }), toArray()));
  await s3.close();
  assert.equal(got.length, 1, 'not again after another restart');
});

test('trigger RxJS with idleTimeout: a cart is abandoned while traffic is stopped', async () => {
  const clock = new ManualClock(0);
  const input = new Subject<TributaryEvent>();
  const triggers: DerivedRecord[] = [];
  const sub = input.pipe(trigger({ ...options, idleTimeout: '10s', idleCheckMs: 5, clock, outputs: { triggers: (r) => triggers.push(r) } })).subscribe();
  input.next(cart('a', 0));
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(triggers, []);
  clock.advance(10_000 + T + 1);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(brief(triggers), [['a1', T, ['a']]]);
  sub.unsubscribe();
});
