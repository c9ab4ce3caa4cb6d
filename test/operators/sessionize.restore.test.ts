import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import type { StoreFactory } from '../../lib/state/store.js';
import { recordingContext } from '../../lib/testing/context.js';
import { SessionizeLogic, sessionizeOperator, type OpenSession, type SessionRecord, type SessionState } from '../../operators/sessionize.js';
import { ev, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

// The logic over a real LMDB store, closed mid-stream and created again on the reopened store
// (as after a Kafka task restored its stores or an embedded run reopened its state): its close
// timers are rebuilt from the `sessions` store, and every pending session closes exactly once
// with the record and at the place in the output of an uninterrupted run.

const GAP = 30 * MIN;
const LATENESS = 60 * MIN;
const options = sessionizeOperator.resolve({ key: 'anonymousId', gap: '30m', maxDuration: '2h', output: 'sessions' });

/** 800 events over 5 keys, partly out of order; none later than the lateness (the runtime drops those). */
function stream(): TributaryEvent[] {
  const rand = rng(21);
  const out: TributaryEvent[] = [];
  let t = 0;
  let watermark = -Infinity;
  for (let i = 0; out.length < 800; i++) {
    t += Math.floor(rand() * 9 * MIN);
    const at = t - (rand() < 0.25 ? Math.floor(rand() * 70 * MIN) : 0);
    if (at < watermark) continue;
    watermark = Math.max(watermark, at - LATENESS);
    out.push(ev(`m${i}`, at, { anonymousId: `k${Math.floor(rand() * 5)}`, event: rand() < 0.2 ? 'add_to_cart' : 'product_viewed', context: { channel: rand() < 0.3 ? 'app' : 'web' } }));
  }
  return out;
}

/** Runs `events` through a logic on `stores`, advancing the watermark (max event time − lateness) after each. */
function feed(stores: StoreFactory, events: TributaryEvent[], from: number) {
  const ctx = recordingContext('sessionize', stores);
  const logic = new SessionizeLogic(options, ctx);
  let watermark = from;
  const annotated = events.map((e) => {
    const id = logic.process(e, e.anonymousId as string).sessionId as string;
    watermark = Math.max(watermark, e.timestamp - LATENESS);
    logic.advance(watermark);
    return id;
  });
  return { ctx, logic, annotated, watermark };
}

test('sessionize over LMDB: closed mid-stream, reopened, a new logic: the same annotations and session records as an uninterrupted run', async () => {
  const events = stream();
  const reference = feed(recordingContext('x').stores, events, -Infinity);
  reference.logic.advance(Infinity);
  const want = { annotated: reference.annotated, emitted: reference.ctx.emitted };
  assert.ok(want.emitted.length > 50 && want.emitted.some((e) => (e.record as SessionRecord).mergedFrom.length > 0), 'sessions, some merged');

  for (const cut of [1, 97, 400, 613, 799]) {
    const dir = tempDir();
    const first = new LmdbStoreFactory({ path: dir });
    const a = feed(first, events.slice(0, cut), -Infinity);
    await first.flush();
    await first.close();

    const second = new LmdbStoreFactory({ path: dir });
    const pending = [...second.open<string, OpenSession[]>('sessionize.sessions').range()];
    assert.ok(pending.length > 0, `cut ${cut}: sessions were open at the cut`);
    const b = feed(second, [], a.watermark);
    for (const { value } of pending) for (const s of value) assert.equal(b.logic.pendingClose(s.id), s.end + GAP + 1, 'one timer per open session at end + gap + 1');
    const rest = events.slice(cut).map((e) => {
      const id = b.logic.process(e, e.anonymousId as string).sessionId as string;
      b.watermark = Math.max(b.watermark, e.timestamp - LATENESS);
      b.logic.advance(b.watermark);
      return id;
    });
    b.logic.advance(Infinity);
    assert.deepEqual({ annotated: [...a.annotated, ...rest], emitted: [...a.ctx.emitted, ...b.ctx.emitted] }, want, `cut after ${cut} events`);
    assert.equal(second.open('sessionize.sessions').count(), 0, 'no state left');
    await second.close();
  }
});

test('sessionize over LMDB: state in the earlier layout ([key, start] → session) is regrouped per key and closes the same way', async () => {
  const dir = tempDir();
  const state = (id: string, end: number, messageId: string): SessionState => {
    const ref = { messageId, event: 'product_viewed', timestamp: end, page: null };
    return { id, end, count: 1, counts: [['product_viewed', 1]], first: ref, last: ref, channels: [], mergedFrom: [] };
  };
  const old = new LmdbStoreFactory({ path: dir });
  const earlier = old.open<[string, number], SessionState>('sessionize.sessions');
  earlier.put(['k2', 0], state(deriveId('session', 'k2', 0), 0, 'x'));
  earlier.put(['k1', 50 * MIN], state(deriveId('session', 'k1', 50 * MIN), 50 * MIN, 'b'));
  earlier.put(['k1', 0], state(deriveId('session', 'k1', 0), 0, 'a'));
  await old.flush();
  await old.close();

  const stores = new LmdbStoreFactory({ path: dir });
  const ctx = recordingContext('sessionize', stores);
  const logic = new SessionizeLogic(options, ctx);
  const layout = () => [...stores.open<string, OpenSession[]>('sessionize.sessions').range()].map((e) => [e.key, e.value.map((s) => s.start)]);
  assert.deepEqual(layout(), [['k1', [0, 50 * MIN]], ['k2', [0]]]);
  // An event bridging k1's two sessions merges them, as it would have before the restart.
  assert.equal(logic.process(ev('c', 25 * MIN, { anonymousId: 'k1' }), 'k1').sessionId, deriveId('session', 'k1', 0));
  logic.advance(Infinity);
  assert.deepEqual(
    ctx.emitted.map((e) => [(e.record as SessionRecord).key, (e.record as SessionRecord).start, (e.record as SessionRecord).eventCount]),
    [['k2', 0, 1], ['k1', 0, 3]],
    'in close-time order: k2 at gap + 1, k1 at 50m + gap + 1',
  );
  assert.equal(stores.open('sessionize.sessions').count(), 0);
  await stores.close();
});
