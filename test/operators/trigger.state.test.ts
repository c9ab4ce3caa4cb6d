import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { MemoryStoreFactory } from '../../lib/state/engines/memory.js';
import type { StoreFactory } from '../../lib/state/store.js';
import { recordingContext } from '../../lib/testing/context.js';
import { TriggerLogic, triggerOperator, type TriggerOptions } from '../../operators/trigger.js';
import type { KeyState } from '../../operators/trigger/state.js';
import { compareIds } from '../../operators/trigger/state.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

// The per-key state layout: one value per key in store `keys`, timers in memory rebuilt from it.

const OPTIONS: TriggerOptions = {
  key: 'anonymousId',
  rules: [
    { name: 'cart-abandoned', absence: { first: { event: 'add_to_cart' }, then: { event: 'purchase' }, within: '30m' }, cooldown: '2h', channels: [{ channel: 'email' }], payload: { productId: 'properties.productId' } },
    { name: 'checkout', sequence: { first: { event: 'add_to_cart' }, then: { event: 'purchase' }, within: '1h' }, channels: [{ channel: 'push', when: { 'context.app': { $exists: true } } }, { channel: 'email' }] },
    { name: 'viewed-3', threshold: { match: { event: 'product_viewed' }, count: 3, within: '2h', per: 'properties.productId' }, cooldown: '10m', channels: [{ channel: 'push' }] },
    { name: 'big-spender', segment: { condition: { 'properties.price': { $gte: 50 } }, where: { 'properties.price': { $exists: true } }, on: 'both' }, channels: [{ channel: 'email' }] },
  ],
  frequencyCap: { max: 3, per: '1h' },
  consent: { field: 'context.consent' },
  output: 'triggers',
  suppressedOutput: 'suppressed',
};
const config = triggerOperator.resolve(OPTIONS);

/** Events over 6 keys, some out of order, some duplicated; numbers are watermark advances. */
function stream(seed: number, n = 1200): Array<TributaryEvent | number> {
  const rand = rng(seed);
  const out: Array<TributaryEvent | number> = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rand() * 4 * MIN);
    const at = t - (rand() < 0.2 ? Math.floor(rand() * 9 * MIN) : 0);
    const r = rand();
    const event = r < 0.2 ? 'add_to_cart' : r < 0.35 ? 'purchase' : r < 0.85 ? 'product_viewed' : 'page';
    const consent = rand() < 0.2 ? { consent: { push: rand() < 0.7, email: rand() < 0.8 } } : {};
    const app = rand() < 0.3 ? { app: { build: '1' } } : {};
    const price = rand() < 0.3 ? { price: Math.floor(rand() * 100) } : {};
    const e = ev(`m${i}`, at, { event, anonymousId: `k${Math.floor(rand() * 6)}`, properties: { productId: `p${Math.floor(rand() * 3)}`, ...price }, context: { ...consent, ...app } });
    out.push(e);
    if (rand() < 0.03) out.push({ ...e });
    out.push(t - 10 * MIN); // the watermark: 10m behind the latest event (so the jitter is never late)
  }
  return out;
}

/** Runs `steps` (events, and numbers: watermark advances) on `logic`. */
function feed(logic: TriggerLogic, steps: Array<TributaryEvent | number>): void {
  for (const s of steps) {
    if (typeof s === 'number') logic.advance(s);
    else logic.process(s, s.anonymousId as string);
  }
}

const outputs = (ctx: ReturnType<typeof recordingContext>) => ({ emitted: ctx.emitted, counts: ctx.counts });

test('trigger state: stopped at any point, flushed and reopened from LMDB, a new logic writes exactly the records of an uninterrupted run', async () => {
  const steps = stream(5);
  const reference = recordingContext('trigger');
  const uninterrupted = new TriggerLogic(config, reference);
  feed(uninterrupted, steps);
  uninterrupted.advance(Infinity);
  const want = outputs(reference);
  const rules = new Set(want.emitted.map((e) => `${e.stream}:${e.record.rule as string}`));
  for (const r of ['cart-abandoned', 'checkout', 'viewed-3', 'big-spender']) assert.ok(rules.has(`triggers:${r}`), `${r} fired`);
  for (const reason of ['cooldown', 'frequency-cap', 'no-consent']) assert.ok(want.counts.includes(`suppressed-${reason}`), `${reason} suppressed`);

  let restoredCarts = 0;
  for (const cut of [1, 301, steps.length >> 1, steps.length - 7]) {
    const dir = tempDir();
    let stores: StoreFactory = new LmdbStoreFactory({ path: dir });
    const ctx = recordingContext('trigger', stores);
    feed(new TriggerLogic(config, ctx), steps.slice(0, cut));
    const pendingCarts = [...stores.open<string, KeyState>('trigger.keys').range()].filter((e) => e.value.rules['cart-abandoned']?.pending?.length).length;
    await stores.flush();
    await stores.close();

    stores = new LmdbStoreFactory({ path: dir });
    const after = recordingContext('trigger', stores);
    if (cut > 300) {
      const restored = [...stores.open<string, KeyState>('trigger.keys').range()].filter((e) => e.value.rules['cart-abandoned']?.pending?.length).length;
      assert.equal(restored, pendingCarts, 'pending carts were restored');
      restoredCarts += restored;
    }
    const resumed = new TriggerLogic(config, after);
    feed(resumed, steps.slice(cut));
    resumed.advance(Infinity);
    assert.deepEqual({ emitted: [...ctx.emitted, ...after.emitted], counts: [...ctx.counts, ...after.counts] }, want, `cut after ${cut} steps`);
    await stores.close();
  }
  assert.ok(restoredCarts > 0, 'some cut left carts pending');
});

test('trigger state: a cart pending at the restart fires exactly once, from the rebuilt timer', async () => {
  const dir = tempDir();
  const options = triggerOperator.resolve({ key: 'anonymousId', rules: [OPTIONS.rules[0]!], output: 'triggers' });
  let stores: StoreFactory = new LmdbStoreFactory({ path: dir });
  let ctx = recordingContext('trigger', stores);
  new TriggerLogic(options, ctx).process(ev('a', 0, { event: 'add_to_cart' }), 'a1');
  await stores.flush();
  await stores.close();
  for (const round of [1, 2]) {
    stores = new LmdbStoreFactory({ path: dir });
    ctx = recordingContext('trigger', stores);
    const logic = new TriggerLogic(options, ctx);
    logic.advance(30 * MIN);
    assert.equal(ctx.emitted.length, 0, 'the watermark at A + T has not passed it');
    logic.advance(30 * MIN + 1);
    logic.advance(Infinity);
    assert.deepEqual(ctx.emitted.map((e) => [e.record.rule, e.record.firedAt, e.record.causes]), round === 1 ? [['cart-abandoned', 30 * MIN, ['a']]] : []);
    await stores.flush();
    await stores.close();
  }
});

test('trigger state: one value per key; facts expire inside it as the watermark passes, and a key with nothing left is deleted even if never touched again', () => {
  const ctx = recordingContext('trigger');
  const logic = new TriggerLogic(config, ctx);
  const keys = ctx.stores.open<string, KeyState>('trigger.keys');
  logic.process(ev('v1', 0, { properties: { productId: 'p' } }), 'k1');
  logic.process(ev('v2', MIN, { properties: { productId: 'p' } }), 'k1');
  logic.process(ev('b1', MIN, { event: 'purchase', anonymousId: 'k2' }), 'k2');
  assert.deepEqual([...keys.range()].map((e) => e.key), ['k1', 'k2']);
  assert.deepEqual(keys.get('k1')?.rules['viewed-3']?.matches?.map(([per, list]) => [per, list.map((e) => e.messageId)]), [['p', ['v1', 'v2']]]);
  logic.advance(MIN + 1); // k2's B (kept while the watermark equals its time) has expired
  assert.equal(keys.get('k2'), undefined);
  logic.advance(2 * HOUR); // v1 expires at 0 + 2h + 1
  assert.deepEqual(keys.get('k1')?.rules['viewed-3']?.matches?.map(([per, list]) => [per, list.map((e) => e.messageId)]), [['p', ['v1', 'v2']]]);
  logic.advance(2 * HOUR + MIN + 1);
  assert.equal(keys.count(), 0, 'nothing left');
});

test('trigger state: the cleanup timers are rebuilt from the store too', () => {
  const stores = new MemoryStoreFactory();
  const ctx = recordingContext('trigger', stores);
  new TriggerLogic(config, ctx).process(ev('v1', 0, { properties: { productId: 'p' } }), 'k1');
  const keys = stores.open<string, KeyState>('trigger.keys');
  assert.equal(keys.count(), 1);
  const logic = new TriggerLogic(config, recordingContext('trigger', stores));
  logic.advance(2 * HOUR + 1);
  assert.equal(keys.count(), 0);
});

test('trigger state: consent is kept while the rest of the key expires', () => {
  const ctx = recordingContext('trigger');
  const logic = new TriggerLogic(config, ctx);
  logic.process(ev('v1', 0, { properties: { productId: 'p' }, context: { consent: { email: true } } }), 'k1');
  logic.advance(Infinity);
  assert.deepEqual(ctx.stores.open<string, KeyState>('trigger.keys').get('k1'), { rules: {}, consent: { t: 0, flags: { email: true } } });
});

test('trigger state: a stored value is never modified after it was put (immutableState: the store may hand out the object itself)', () => {
  assert.equal(triggerOperator.immutableState, true);
  const stores = new MemoryStoreFactory({ clone: false });
  const ctx = recordingContext('trigger', stores);
  const logic = new TriggerLogic(config, ctx);
  const keys = stores.open<string, KeyState>('trigger.keys');
  const seen: Array<[KeyState, string]> = [];
  for (const s of stream(8, 400)) {
    if (typeof s === 'number') logic.advance(s);
    else logic.process(s, s.anonymousId as string);
    for (const { value } of keys.range()) seen.push([value, JSON.stringify(value)]);
    if (seen.length > 2000) seen.splice(0, 1000);
  }
  logic.advance(Infinity);
  for (const [value, json] of seen) assert.equal(JSON.stringify(value), json);
});

test('trigger state: ids compare by code point, as store keys do', () => {
  const ids = ['b', 'a', '\uffff', '\ud83d\ude00', 'a\uffff', '', '\ue000', 'ab'];
  assert.deepEqual([...ids].sort(compareIds), ['', 'a', 'ab', 'a\uffff', 'b', '\ue000', '\uffff', '\ud83d\ude00']);
});
