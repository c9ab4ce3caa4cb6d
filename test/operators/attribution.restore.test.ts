import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import type { StoreFactory } from '../../lib/state/store.js';
import { recordingContext } from '../../lib/testing/context.js';
import { AttributionLogic, attributionOperator, type AttributionRecord, type JourneyState } from '../../operators/attribution.js';
import { ev, HOUR } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';
import { putBackStores } from '../support/store-spy.js';

// The logic over a real LMDB store, closed mid-stream and created again on the reopened store
// (as after a Kafka task restored its stores or an embedded run reopened its state): its
// conversion and cleanup timers are rebuilt from the `journeys` store, and every conversion is
// written exactly once, with the record and at the place of an uninterrupted run.

const DAY = 24 * HOUR;
const LOOKBACK = 3 * DAY;
const LATENESS = 6 * HOUR;
const options = attributionOperator.resolve({
  key: 'anonymousId',
  touchpoints: { where: { event: { $in: ['email_clicked', 'ad_clicked'] } } },
  conversion: { where: { event: 'purchase' }, value: 'properties.revenue' },
  lookback: '3d',
  halfLife: '1d',
  aggregateOutput: 'channel-credits',
});

/** 1000 events over 6 keys and 20 days, a quarter out of order (none later than the lateness), some duplicated. */
function stream(): TributaryEvent[] {
  const rand = rng(7);
  const out: TributaryEvent[] = [];
  let t = 0;
  let watermark = -Infinity;
  for (let i = 0; out.length < 1000; i++) {
    t += Math.floor(rand() * 30 * 60_000);
    const at = t - (rand() < 0.25 ? Math.floor(rand() * 8 * HOUR) : 0);
    if (at < watermark) continue;
    watermark = Math.max(watermark, at - LATENESS);
    const r = rand();
    const anonymousId = `k${Math.floor(rand() * 6)}`;
    const e =
      r < 0.15
        ? ev(`m${i}`, at, { anonymousId, event: 'purchase', properties: { revenue: Math.floor(rand() * 100) } })
        : r < 0.6
          ? ev(`m${i}`, at, { anonymousId, event: 'email_clicked', context: { channel: 'email', campaign: { name: `n${Math.floor(rand() * 3)}` } } })
          : r < 0.8
            ? ev(`m${i}`, at, { anonymousId, event: 'ad_clicked', context: { channel: rand() < 0.5 ? 'search' : 'social' } })
            : ev(`m${i}`, at, { anonymousId });
    out.push(e);
    if (rand() < 0.03) out.push(e);
  }
  return out;
}

/** Runs `events` through a new logic on `stores`, advancing the watermark (max event time − lateness) after each. */
function feed(stores: StoreFactory, events: TributaryEvent[], from: number, afterEachCall: () => void = () => undefined) {
  const ctx = recordingContext('attribution', stores);
  const logic = new AttributionLogic(options, ctx);
  let watermark = from;
  for (const e of events) {
    logic.process(e, e.anonymousId as string);
    afterEachCall();
    watermark = Math.max(watermark, e.timestamp - LATENESS);
    logic.advance(watermark);
    afterEachCall();
  }
  return { ctx, logic, watermark };
}

test('attribution over LMDB: closed mid-stream, reopened, a new logic: the same records as an uninterrupted run', async () => {
  const events = stream();
  const reference = feed(recordingContext('x').stores, events, -Infinity);
  reference.logic.advance(Infinity);
  const want = reference.ctx.emitted;
  const records = want.filter((e) => e.stream === 'attributions').map((e) => e.record as AttributionRecord);
  assert.ok(records.length > 100, `conversions: ${records.length}`);
  assert.ok(records.some((r) => r.touchpoints.length >= 3) && records.some((r) => r.touchpoints.length === 0), 'long journeys and unattributed conversions');
  assert.equal(new Set(records.map((r) => r.id)).size, records.length, 'one record per conversion, duplicates included');

  for (const cut of [2, 150, 499, 733, 990]) {
    const dir = tempDir();
    const first = new LmdbStoreFactory({ path: dir });
    const a = feed(first, events.slice(0, cut), -Infinity);
    await first.flush();
    await first.close();

    const second = new LmdbStoreFactory({ path: dir });
    const kept = [...second.open<string, JourneyState>('attribution.journeys').range()];
    assert.ok(kept.length > 0, `cut ${cut}: journeys were kept at the cut`);
    for (const { value } of kept) {
      for (const t of value.touchpoints) assert.ok(t.at + LOOKBACK >= a.watermark, `cut ${cut}: no expired touchpoint kept`);
      for (const p of value.pending) assert.ok(p.at >= a.watermark, `cut ${cut}: no conversion kept the watermark passed`);
    }
    const b = feed(second, events.slice(cut), a.watermark);
    b.logic.advance(Infinity);
    assert.deepEqual([...a.ctx.emitted, ...b.ctx.emitted], want, `cut after ${cut} events`);
    assert.equal(second.open('attribution.journeys').count(), 0, 'no state left');
    await second.close();
  }
});

test('attribution changes a stored value only to put it back in the same call (immutableState: stores hand out their own objects)', () => {
  assert.equal(attributionOperator.immutableState, true);
  const events = stream();
  const reference = feed(recordingContext('x').stores, events, -Infinity);
  reference.logic.advance(Infinity);
  const { stores, check } = putBackStores();
  const checked = feed(stores, events, -Infinity, check);
  checked.logic.advance(Infinity);
  check();
  assert.deepEqual(checked.ctx.emitted, reference.ctx.emitted);
  assert.ok(reference.ctx.emitted.length > 10, `records to compare (${reference.ctx.emitted.length})`);
});
