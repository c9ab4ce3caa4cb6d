import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, Subject, toArray } from 'rxjs';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { ManualClock } from '../../lib/time/clock.js';
import { sessionize, type SessionRecord } from '../../operators/sessionize.js';
import { ev, MIN } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const sid = (key: string, start: number) => deriveId('session', key, start);
const brief = (r: DerivedRecord) => {
  const s = r as SessionRecord;
  return [s.key, s.start, s.end, s.eventCount, s.mergedFrom];
};

test('sessionize as an RxJS operator: events annotated with sessionId, one session record each at completion', async () => {
  const sessions: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([ev('m1', 0), ev('m2', 10 * MIN, { anonymousId: 'a2' }), ev('m3', 30 * MIN), ev('m4', 61 * MIN)]).pipe(
      sessionize({ key: 'anonymousId', outputs: { sessions: (r) => sessions.push(r) } }),
      toArray(),
    ),
  );
  assert.deepEqual(out.map((e) => [e.messageId, e.sessionId]), [
    ['m1', sid('a1', 0)],
    ['m2', sid('a2', 10 * MIN)],
    ['m3', sid('a1', 0)],
    ['m4', sid('a1', 61 * MIN)],
  ]);
  // m4 moves the watermark to 61m, past a2's 10m + gap and a1's 30m + gap (closed in that
  // order); a1's second session closes at completion.
  assert.deepEqual(sessions.map(brief), [
    ['a2', 10 * MIN, 10 * MIN, 1, []],
    ['a1', 0, 30 * MIN, 2, []],
    ['a1', 61 * MIN, 61 * MIN, 1, []],
  ]);
});

test('sessionize RxJS: a session record is emitted as soon as the watermark passes end + gap, before completion', async () => {
  const input = new Subject<TributaryEvent>();
  const sessions: DerivedRecord[] = [];
  const events: TributaryEvent[] = [];
  const done = new Promise<void>((resolve) =>
    input.pipe(sessionize({ key: 'anonymousId', gap: '10m', allowedLateness: '1m', outputs: { sessions: (r) => sessions.push(r) } })).subscribe({
      next: (e) => events.push(e),
      complete: resolve,
    }),
  );
  input.next(ev('m1', 0));
  input.next(ev('m2', 11 * MIN)); // watermark 10m = end + gap: still open
  assert.equal(sessions.length, 0);
  input.next(ev('m3', 11 * MIN + 1)); // watermark 10m + 1ms > end + gap: closed
  assert.deepEqual(sessions.map(brief), [['a1', 0, 0, 1, []]]);
  input.complete();
  await done;
  assert.deepEqual(sessions.map(brief), [['a1', 0, 0, 1, []], ['a1', 11 * MIN, 11 * MIN + 1, 2, []]]);
  assert.equal(events.length, 3);
});

test('sessionize RxJS: out-of-order events within allowedLateness extend and merge; late ones go to the late output', async () => {
  const late = new Subject<DerivedRecord>();
  const lateSeen: DerivedRecord[] = [];
  late.subscribe((r) => lateSeen.push(r));
  const sessions: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([
      ev('m1', 60 * MIN),
      ev('m2', 110 * MIN), // another session (50m later)
      ev('m3', 85 * MIN), // bridges them
      ev('m4', 40 * MIN), // behind the watermark (110m − 1h = 50m): late
      ev('m5', 55 * MIN), // not late: extends the session backwards
    ]).pipe(sessionize({ key: 'anonymousId', allowedLateness: '1h', outputs: { sessions: (r) => sessions.push(r), late } }), toArray()),
  );
  assert.deepEqual(out.map((e) => [e.messageId, e.sessionId]), [
    ['m1', sid('a1', 60 * MIN)],
    ['m2', sid('a1', 110 * MIN)],
    ['m3', sid('a1', 60 * MIN)],
    ['m5', sid('a1', 55 * MIN)],
  ]);
  assert.deepEqual(lateSeen.map((r) => [r.messageId, r.watermark]), [['m4', 50 * MIN]]);
  assert.deepEqual(sessions.map(brief), [['a1', 55 * MIN, 110 * MIN, 4, [sid('a1', 110 * MIN), sid('a1', 60 * MIN)].sort()]]);
});

test('sessionize RxJS with an LMDB store: a service stopped mid-stream and restarted closes the same sessions as one that ran through', async () => {
  const events = [ev('m1', 0), ev('m2', 20 * MIN, { anonymousId: 'a2' }), ev('m3', 25 * MIN), ev('m4', 70 * MIN, { anonymousId: 'a2' }), ev('m5', 75 * MIN), ev('m6', 80 * MIN)];
  const reference: DerivedRecord[] = [];
  const refEvents = await firstValueFrom(from(events).pipe(sessionize({ key: 'anonymousId', outputs: { sessions: (r) => reference.push(r) } }), toArray()));

  const dir = tempDir();
  const s1 = new LmdbStoreFactory({ path: dir });
  const live = new Subject<TributaryEvent>();
  const got: DerivedRecord[] = [];
  const passed: TributaryEvent[] = [];
  const sub = live.pipe(sessionize({ key: 'anonymousId', stores: s1, outputs: { sessions: (r) => got.push(r) } })).subscribe((e) => passed.push(e));
  for (const e of events.slice(0, 3)) live.next(e);
  await s1.flush();
  sub.unsubscribe(); // stops without completing (a deploy)
  await s1.close();
  const s2 = new LmdbStoreFactory({ path: dir });
  const rest = await firstValueFrom(from(events.slice(3)).pipe(sessionize({ key: 'anonymousId', stores: s2, outputs: { sessions: (r) => got.push(r) } }), toArray()));
  await s2.close();
  assert.deepEqual([...passed, ...rest], refEvents);
  assert.deepEqual(got, reference);
  assert.equal(reference.length, 4);
});

test('sessionize RxJS: an event without any key field is a dead letter; onBadRecord: fail errors', async () => {
  const dead: Array<{ reason: string; detail: string }> = [];
  const passed = await firstValueFrom(from([ev('m1', 0, { anonymousId: null })]).pipe(sessionize({ key: ['personId', 'anonymousId', 'userId'], outputs: { 'dead-letter': (d) => dead.push(d as { reason: string; detail: string }) } }), toArray()));
  assert.deepEqual([passed.length, dead], [0, [{ reason: 'missing-key', detail: 'event m1 has none of the key fields personId, anonymousId, userId', raw: dead[0] && (dead[0] as unknown as { raw: string }).raw, source: 'rx sessionize' }]]);
  await assert.rejects(
    firstValueFrom(from([ev('m1', 0, { anonymousId: null })]).pipe(sessionize({ key: ['personId', 'anonymousId', 'userId'], onBadRecord: 'fail' }), toArray())),
    /none of the key fields personId, anonymousId, userId/,
  );
});

test('sessionize RxJS with idleTimeout: a session closes while traffic is stopped', async () => {
  const clock = new ManualClock(0);
  const input = new Subject<ReturnType<typeof ev>>();
  const sessions: Record<string, unknown>[] = [];
  const sub = input
    .pipe(sessionize({ key: 'anonymousId', gap: '30m', idleTimeout: '10s', idleCheckMs: 5, clock, outputs: { sessions: (s) => sessions.push(s) }, output: 'sessions' }))
    .subscribe();
  input.next(ev('m1', 0));
  input.next(ev('m2', 60_000));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(sessions.length, 0, 'not idle yet');
  clock.advance(10_000 + 30 * 60_000 + 1); // idle, then the gap passes in processing time
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(sessions.map((s) => [s.start, s.end, s.eventCount]), [[0, 60_000, 2]]);
  sub.unsubscribe();
});
