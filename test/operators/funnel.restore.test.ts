import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import type { StoreFactory } from '../../lib/state/store.js';
import { recordingContext } from '../../lib/testing/context.js';
import { FunnelLogic, funnelOperator, type FunnelKeyState, type FunnelRecord } from '../../operators/funnel.js';
import { ev, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

// The logic over a real LMDB store, closed mid-stream and created again on the reopened store
// (as after a Kafka task restored its stores or an embedded run reopened its state): its timers
// are rebuilt from the `keys` store, and every open attempt closes exactly once, with the record
// and at the place in the output of an uninterrupted run. In both emit modes.

const LATENESS = 20 * MIN;
const STEPS = [
  { name: 'view', where: { event: 'product_viewed' } },
  { name: 'cart', where: { event: 'add_to_cart' } },
  { name: 'purchase', where: { event: 'purchase' } },
];

/** 900 events over 6 persons, partly out of order; none later than the lateness (the runtime drops those). */
function stream(): TributaryEvent[] {
  const rand = rng(29);
  const names = ['product_viewed', 'product_viewed', 'add_to_cart', 'add_to_cart', 'purchase', 'page_viewed'];
  const out: TributaryEvent[] = [];
  let t = 0;
  let watermark = -Infinity;
  for (let i = 0; out.length < 900; i++) {
    t += Math.floor(rand() * 2 * MIN);
    const at = t - (rand() < 0.25 ? Math.floor(rand() * 25 * MIN) : 0);
    if (at < watermark) continue;
    watermark = Math.max(watermark, at - LATENESS);
    out.push(ev(`m${i}`, at, { event: names[Math.floor(rand() * names.length)] as string, personId: `k${Math.floor(rand() * 6)}` }));
  }
  return out;
}

function feed(config: ReturnType<typeof funnelOperator.resolve>, stores: StoreFactory, events: TributaryEvent[], from: number) {
  const ctx = recordingContext('funnel', stores);
  const logic = new FunnelLogic(config, ctx);
  let watermark = from;
  for (const e of events) {
    logic.process(e, e.personId as string);
    watermark = Math.max(watermark, e.timestamp - LATENESS);
    logic.advance(watermark);
  }
  return { ctx, logic, watermark };
}

for (const emit of ['final', 'update'] as const) {
  test(`funnel over LMDB (emit ${emit}): closed mid-stream, reopened, a new logic: the same records as an uninterrupted run`, async () => {
    const config = funnelOperator.resolve({ steps: STEPS, within: '30m', emit, output: 'funnels' });
    const events = stream();
    const reference = feed(config, recordingContext('x').stores, events, -Infinity);
    reference.logic.advance(Infinity);
    const want = reference.ctx.emitted;
    const finals = want.map((e) => e.record as FunnelRecord).filter((r) => r.final);
    assert.ok(finals.length > 60 && finals.some((r) => r.converted) && finals.some((r) => r.droppedAfter === 'cart'), 'conversions and drop-offs');

    for (const cut of [1, 222, 450, 777, 899]) {
      const dir = tempDir();
      const first = new LmdbStoreFactory({ path: dir });
      const a = feed(config, first, events.slice(0, cut), -Infinity);
      await first.flush();
      await first.close();

      const second = new LmdbStoreFactory({ path: dir });
      const pending = [...second.open<string, FunnelKeyState>('funnel.keys').range()];
      assert.ok(pending.length > 0, `cut ${cut}: keys with state at the cut`);
      const b = feed(config, second, [], a.watermark);
      for (const { key, value } of pending) assert.equal(b.logic.pendingTimer(key), value.due, 'one timer per key at its due time');
      for (const e of events.slice(cut)) {
        b.logic.process(e, e.personId as string);
        b.watermark = Math.max(b.watermark, e.timestamp - LATENESS);
        b.logic.advance(b.watermark);
      }
      b.logic.advance(Infinity);
      assert.deepEqual([...a.ctx.emitted, ...b.ctx.emitted], want, `cut after ${cut} events`);
      assert.equal(second.open('funnel.keys').count(), 0, 'no state left');
      await second.close();
    }
  });
}
