import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { recordingContext } from '../../lib/testing/context.js';
import { FunnelLogic, funnelOperator, funnelQuery, type FunnelKeyState, type FunnelOptions, type FunnelRecord } from '../../operators/funnel.js';
import { ev, MIN } from '../support/events.js';
import { rng } from '../support/random.js';

// The logic with plain calls: the watermark is moved by hand (the runtime never hands it a
// late event), every emitted record is checked field by field.

const W = 60 * MIN;
const STEPS: FunnelOptions['steps'] = [
  { name: 'view', where: { event: 'product_viewed' } },
  { name: 'cart', where: { event: 'add_to_cart' } },
  { name: 'purchase', where: { event: 'purchase' } },
];

const setup = (options: Partial<FunnelOptions> = {}) => {
  const ctx = recordingContext('funnel');
  const config = funnelOperator.resolve({ steps: STEPS, within: '1h', output: 'funnels', ...options });
  return { ctx, config, logic: new FunnelLogic(config, ctx) };
};
const view = (id: string, t: number, key = 'p1') => ev(id, t, { event: 'product_viewed', personId: key });
const cart = (id: string, t: number, key = 'p1') => ev(id, t, { event: 'add_to_cart', personId: key });
const buy = (id: string, t: number, key = 'p1') => ev(id, t, { event: 'purchase', personId: key });
const other = (id: string, t: number, key = 'p1') => ev(id, t, { event: 'page_viewed', personId: key });
const feed = (logic: FunnelLogic, events: TributaryEvent[]) => {
  for (const e of events) assert.equal(logic.process(e, e.personId as string), e, 'events pass unchanged');
};
const records = (ctx: ReturnType<typeof setup>['ctx']) =>
  ctx.emitted.splice(0).map(({ stream, record }) => {
    assert.equal(stream, 'funnels');
    return record as FunnelRecord;
  });

/** The exact record of an attempt that reached `reached` (events in step order). */
function expected(reached: TributaryEvent[], final = true, key = 'p1'): FunnelRecord {
  const names = ['view', 'cart', 'purchase'];
  const start = (reached[0] as TributaryEvent).timestamp;
  const last = reached[reached.length - 1] as TributaryEvent;
  const converted = reached.length === 3;
  return {
    id: final ? deriveId('funnel', 'funnel', key, start) : deriveId('funnel', 'funnel', key, start, 'update', reached.length),
    key,
    funnel: 'funnel',
    startedAt: start,
    steps: reached.map((e, i) => ({ name: names[i] as string, at: e.timestamp, messageId: e.messageId })),
    furthestStep: reached.length,
    furthestStepName: names[reached.length - 1] as string,
    converted,
    droppedAfter: final && !converted ? (names[reached.length - 1] as string) : null,
    stepDurationsMs: reached.slice(1).map((e, i) => e.timestamp - (reached[i] as TributaryEvent).timestamp),
    totalMs: last.timestamp - start,
    final,
  };
}

test('funnel logic: in order, converted: the record comes once the watermark passes the purchase, not at it', () => {
  const { ctx, logic } = setup();
  const e = [view('v', 0), other('x', MIN), cart('c', 10 * MIN), buy('p', 25 * MIN)];
  feed(logic, e);
  logic.advance(25 * MIN);
  assert.deepEqual(records(ctx), []);
  logic.advance(25 * MIN + 1);
  assert.deepEqual(records(ctx), [expected([e[0]!, e[2]!, e[3]!])]);
  assert.equal(ctx.stores.open('funnel.keys').count(), 0, 'the key state goes with its attempt');
  logic.advance(Infinity);
  assert.deepEqual(records(ctx), []);
});

test('funnel logic: drop-off at start + within: not while the watermark equals it, once it passes it', () => {
  const { ctx, logic } = setup();
  const e = [view('v', 0), cart('c', 10 * MIN)];
  feed(logic, e);
  logic.advance(W);
  assert.deepEqual(records(ctx), []);
  assert.equal(logic.pendingTimer('p1'), W + 1);
  logic.advance(W + 1);
  assert.deepEqual(records(ctx), [expected(e)]);
  assert.equal(ctx.stores.open('funnel.keys').count(), 0);
});

test('funnel logic: the window is inclusive: a purchase exactly within after the view converts; 1ms later it starts nothing', () => {
  const a = setup();
  const e = [view('v', 0), cart('c', MIN), buy('p', W)];
  feed(a.logic, e);
  a.logic.advance(Infinity);
  assert.deepEqual(records(a.ctx), [expected(e)]);

  const b = setup();
  const late = [view('v', 0), cart('c', MIN), buy('p', W + 1)];
  feed(b.logic, late);
  b.logic.advance(Infinity);
  assert.deepEqual(records(b.ctx), [expected(late.slice(0, 2))]);
});

test('funnel logic: out of order within lateness: every arrival order of the same events gives the same records', () => {
  const e = [view('v1', 0), view('v2', 5 * MIN), cart('c1', 10 * MIN), buy('p0', 8 * MIN), cart('c2', 20 * MIN), buy('p1', 30 * MIN), view('v3', 31 * MIN), view('v4', 100 * MIN), cart('c4', 100 * MIN)];
  // p0 before the cart does not count; v3 starts the next attempt (31m → 91m); v4 is after it.
  const want = [expected([e[0]!, e[2]!, e[5]!]), expected([e[6]!]), expected([e[7]!, e[8]!])];
  const rand = rng(5);
  for (let round = 0; round < 200; round++) {
    const order = round === 0 ? e : [...e].sort(() => rand() - 0.5);
    const { ctx, logic } = setup();
    // The watermark trails the highest time seen by the full span: no event is ever late.
    let max = -Infinity;
    for (const x of order) {
      feed(logic, [x]);
      max = Math.max(max, x.timestamp);
      logic.advance(max - 100 * MIN);
    }
    logic.advance(Infinity);
    assert.deepEqual(records(ctx), want, `order ${order.map((x) => x.messageId).join(' ')}`);
  }
});

test('funnel logic: an out-of-order view before the attempt start moves the start earlier (same record as in order)', () => {
  const { ctx, logic } = setup();
  const e = [cart('c', 10 * MIN), view('v2', 5 * MIN), view('v1', 2 * MIN), buy('p', 70 * MIN)];
  feed(logic, e);
  logic.advance(Infinity);
  // Window of v1: 2m → 62m: the purchase at 70m is outside; the next attempt needs a view after 62m.
  assert.deepEqual(records(ctx), [expected([e[2]!, e[0]!])]);
});

test('funnel logic: a second attempt starts at the first view after the first attempt closed', () => {
  const { ctx, logic } = setup();
  const e = [view('v1', 0), cart('c1', MIN), buy('p1', 2 * MIN), view('same', 2 * MIN), view('v2', 3 * MIN), view('v3', 4 * MIN), cart('c2', 5 * MIN)];
  feed(logic, e);
  logic.advance(2 * MIN + 1);
  assert.deepEqual(records(ctx), [expected([e[0]!, e[1]!, e[2]!])], 'the view at the purchase time belongs to the closed attempt');
  logic.advance(Infinity);
  assert.deepEqual(records(ctx), [expected([e[4]!, e[6]!])]);
});

test('funnel logic: after a drop-off, views inside the closed window start nothing; the next view after it does', () => {
  const { ctx, logic } = setup();
  const e = [view('v1', 0), view('v2', 30 * MIN), cart('c', 61 * MIN), view('v3', W + 1), cart('c3', W + 2)];
  feed(logic, e);
  logic.advance(Infinity);
  assert.deepEqual(records(ctx), [expected([e[0]!]), expected([e[3]!, e[4]!])]);
  assert.equal(ctx.stores.open('funnel.keys').count(), 0);
});

test('funnel logic: end of input closes every open attempt as dropped off, keys in due order', () => {
  const { ctx, logic } = setup();
  const e = [view('a', 0, 'k2'), view('b', MIN, 'k1'), cart('c', 2 * MIN, 'k1')];
  feed(logic, e);
  logic.advance(Infinity);
  assert.deepEqual(records(ctx), [expected([e[0]!], true, 'k2'), expected([e[1]!, e[2]!], true, 'k1')]);
});

test('funnel logic: events that match no step are not kept; steps without a step 1 go once the watermark passes them', () => {
  const { ctx, logic } = setup();
  feed(logic, [other('x', 0), cart('c', MIN), buy('p', 2 * MIN)]);
  const keys = ctx.stores.open<string, FunnelKeyState>('funnel.keys');
  assert.deepEqual(keys.get('p1')?.events, [[MIN, 'c', 2], [2 * MIN, 'p', 4]]);
  assert.equal(logic.pendingTimer('p1'), 2 * MIN + 1, 'a view not late yet could still use them');
  logic.advance(2 * MIN);
  assert.equal(keys.count(), 1);
  logic.advance(2 * MIN + 1);
  assert.equal(keys.count(), 0);
  assert.deepEqual(records(ctx), []);
});

test('funnel logic: duplicates count as the source gives them (the same view twice: the copy is a second view)', () => {
  const { ctx, logic } = setup({ steps: [STEPS[0]!, { name: 'view-again', where: { event: 'product_viewed' } }] });
  feed(logic, [view('v', 0), view('v', 0)]);
  logic.advance(Infinity);
  const [r] = records(ctx);
  assert.deepEqual([r?.converted, r?.steps], [true, [{ name: 'view', at: 0, messageId: 'v' }, { name: 'view-again', at: 0, messageId: 'v' }]]);
});

test('funnel logic: emit update: a record each time the attempt starts or advances, then the final one', () => {
  const { ctx, logic } = setup({ emit: 'update' });
  const e = [view('v', 0), view('v2', MIN), other('x', 2 * MIN), cart('c', 3 * MIN), cart('c2', 4 * MIN), buy('p', 5 * MIN), view('n', 6 * MIN)];
  feed(logic, e);
  assert.deepEqual(records(ctx), [expected([e[0]!], false), expected([e[0]!, e[3]!], false), expected([e[0]!, e[3]!, e[5]!], false)]);
  logic.advance(5 * MIN + 1);
  // The final record, then the next attempt's start (its view was buffered while the first was open).
  assert.deepEqual(records(ctx), [expected([e[0]!, e[3]!, e[5]!]), expected([e[6]!], false)]);
  logic.advance(Infinity);
  assert.deepEqual(records(ctx), [expected([e[6]!])]);
});

test('funnel logic: emit update with an out-of-order earlier view: an update reports the attempt from its new start', () => {
  const { ctx, logic } = setup({ emit: 'update' });
  const e = [view('v2', 10 * MIN), cart('c', 20 * MIN), view('v1', 5 * MIN)];
  feed(logic, e);
  assert.deepEqual(records(ctx), [expected([e[0]!], false), expected([e[0]!, e[1]!], false), expected([e[2]!, e[1]!], false)]);
  logic.advance(Infinity);
  assert.deepEqual(records(ctx), [expected([e[2]!, e[1]!])]);
});

test('funnel logic: the query shows the open attempt as it stands, with when it closes', () => {
  const { config, logic, ctx } = setup();
  feed(logic, [view('v', 0), cart('c', MIN), cart('c2', 2 * MIN)]);
  const keys = ctx.stores.open<string, FunnelKeyState>('funnel.keys');
  const { id: _id, key: _key, final: _final, funnel: _funnel, ...record } = expected([view('v', 0), cart('c', MIN)], false);
  assert.deepEqual(funnelQuery(config, keys, 'p1'), { key: 'p1', attempt: { ...record, closesAt: W }, buffered: 3 });
  assert.equal(funnelQuery(config, keys, 'nobody'), undefined);
});

test('funnel logic: options are checked with messages naming the option', () => {
  const resolve = (o: Partial<FunnelOptions>) => () => funnelOperator.resolve({ steps: STEPS, within: '1h', output: 'funnels', ...o } as FunnelOptions);
  assert.throws(resolve({ steps: [STEPS[0]!] }), /steps: give at least 2 steps/);
  assert.throws(resolve({ steps: [STEPS[0]!, { ...STEPS[1]!, name: 'view' }] }), /steps\[1\]\.name: "view" is used twice/);
  assert.throws(resolve({ steps: [STEPS[0]!, { name: 'x', where: { event: { $where: 'x' } } }] }), /steps\[1\]\.where: event\.\$where: unknown operator/);
  assert.throws(resolve({ within: '0s' }), /within: "0s" must be longer than 0/);
  assert.throws(resolve({ emit: 'sometimes' as 'final' }), /emit: "sometimes" must be final or update/);
  assert.deepEqual(funnelOperator.resolve({ steps: STEPS, within: '1h', output: 'f' }).key, ['personId']);
});
