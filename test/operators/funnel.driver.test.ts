import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { TestDriver } from '../../lib/testing/driver.js';
import type { FunnelKeyQuery, FunnelKeyState, FunnelRecord } from '../../operators/funnel.js';
import { defaultRegistry } from '../../operators/index.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

// The funnel step in a pipeline run by the test driver (the Task the runners use): lateness,
// dead letters, dedupe before it, the query, and a restart from its LMDB state.

const FUNNEL = `  - funnel:
      key: personId
      steps:
        - { name: view, where: { event: product_viewed } }
        - { name: cart, where: { event: add_to_cart } }
        - { name: purchase, where: { event: purchase } }
      within: 1h
      output: funnels
`;
const yaml = (steps = FUNNEL) => `
name: funnel-test
source:
  key: [personId]
  allowedLateness: 30m
steps:
${steps}`;
const driver = (stateDir?: string, steps?: string) => TestDriver.fromYaml(yaml(steps), { registry: defaultRegistry, stateDir });
const at = (name: string) => (id: string, t: number, key = 'p1') => ev(id, t, { event: name, personId: key });
const view = at('product_viewed');
const cart = at('add_to_cart');
const buy = at('purchase');
/** `[key, startedAt, reached messageIds, converted, droppedAfter]` of a record. */
const shape = (r: FunnelRecord) => [r.key, r.startedAt, r.steps.map((s) => s.messageId), r.converted, r.droppedAfter];

test('funnel driver: a late event goes to late and changes nothing; one within lateness counts', async () => {
  const d = driver();
  d.pipe([view('v', 40 * MIN), cart('c', 70 * MIN)]); // watermark 40m (allowedLateness 30m)
  d.pipe(view('late', 40 * MIN - 1)); // behind the watermark: late, although it would start an earlier attempt
  d.pipe(buy('ok', 80 * MIN)); // not late
  assert.deepEqual(d.read('late').map((r) => [r.messageId, r.watermark]), [['late', 40 * MIN]]);
  d.end();
  const [r, ...rest] = d.read<FunnelRecord>('funnels');
  assert.deepEqual(rest, []);
  assert.deepEqual(r, {
    id: deriveId('funnel', 'funnel', 'p1', 40 * MIN),
    key: 'p1',
    funnel: 'funnel',
    startedAt: 40 * MIN,
    steps: [{ name: 'view', at: 40 * MIN, messageId: 'v' }, { name: 'cart', at: 70 * MIN, messageId: 'c' }, { name: 'purchase', at: 80 * MIN, messageId: 'ok' }],
    furthestStep: 3,
    furthestStepName: 'purchase',
    converted: true,
    droppedAfter: null,
    stepDurationsMs: [30 * MIN, 10 * MIN],
    totalMs: 40 * MIN,
    final: true,
  });
  assert.deepEqual(d.read('events').map((e) => e.messageId), ['v', 'c', 'ok'], 'events pass through unchanged, the late one excepted');
  await d.close();
});

test('funnel driver: an out-of-order view within lateness moves the start earlier, exactly as in order', async () => {
  const events = [view('v2', 20 * MIN), cart('c', 25 * MIN), view('v1', 10 * MIN), buy('p', 75 * MIN), view('v3', 80 * MIN)];
  const runs = [events, [...events].sort((a, b) => a.timestamp - b.timestamp)].map((list) => {
    const d = driver();
    d.pipe(list).end();
    assert.deepEqual(d.read('late'), []);
    return d.read<FunnelRecord>('funnels');
  });
  assert.deepEqual(runs[0], runs[1]);
  // v1's window ends at 70m: the purchase at 75m is outside it; v3 starts the next attempt.
  assert.deepEqual(runs[0]?.map(shape), [['p1', 10 * MIN, ['v1', 'c'], false, 'cart'], ['p1', 80 * MIN, ['v3'], false, 'view']]);
});

test('funnel driver: the record is written when the watermark passes start + within', async () => {
  const d = driver();
  d.pipe([view('v', 0), cart('c', MIN)]);
  d.advanceWatermark(HOUR);
  assert.deepEqual(d.read('funnels'), []);
  assert.deepEqual((d.query('funnel', 'p1') as FunnelKeyQuery).attempt?.closesAt, HOUR);
  d.advanceWatermark(HOUR + 1);
  assert.deepEqual(d.read<FunnelRecord>('funnels').map(shape), [['p1', 0, ['v', 'c'], false, 'cart']]);
  assert.equal(d.query('funnel', 'p1'), undefined);
  assert.equal(d.store('funnel', 'keys').count(), 0);
  await d.close();
});

test('funnel driver: an event without the funnel key goes to dead-letter, the pipeline goes on', async () => {
  const d = driver();
  d.pipe([ev('x', 0, { event: 'product_viewed' }), view('v', MIN)]);
  assert.deepEqual(d.read('dead-letter').map((r) => [r.reason, r.detail]), [['missing-key', 'steps[0].funnel: none of the key fields personId is set']]);
  d.end();
  assert.deepEqual(d.read<FunnelRecord>('funnels').map(shape), [['p1', MIN, ['v'], false, 'view']]);
  await d.close();
});

test('funnel driver: with dedupe before it, a duplicated cart is one event', async () => {
  const steps = [{ name: 'cart', where: { event: 'add_to_cart' } }, { name: 'cart-again', where: { event: 'add_to_cart' } }];
  const withDedupe = `  - dedupe: { ttl: 1h }\n  - funnel: { steps: ${JSON.stringify(steps)}, within: 1h, output: funnels }\n`;
  const without = `  - funnel: { steps: ${JSON.stringify(steps)}, within: 1h, output: funnels }\n`;
  const converted = (text: string) => {
    const d = driver(undefined, text);
    d.pipe([cart('c', 0), cart('c', 0)]).end();
    return d.read<FunnelRecord>('funnels').map((r) => r.converted);
  };
  assert.deepEqual(converted(without), [true], 'without dedupe the copy reaches the second step');
  assert.deepEqual(converted(withDedupe), [false]);
});

/** 700 events over 8 persons: mostly in order, some out of order within lateness, some late, some duplicated. */
function stream(): TributaryEvent[] {
  const rand = rng(17);
  const names = ['product_viewed', 'product_viewed', 'product_viewed', 'add_to_cart', 'add_to_cart', 'purchase', 'page_viewed'];
  const out: TributaryEvent[] = [];
  let t = 0;
  for (let i = 0; i < 700; i++) {
    t += Math.floor(rand() * 3 * MIN);
    const jitter = rand() < 0.2 ? Math.floor(rand() * 40 * MIN) : 0; // > 30m: late
    const e = ev(`m${i}`, t - jitter, { event: names[Math.floor(rand() * names.length)] as string, personId: `k${Math.floor(rand() * 8)}` });
    out.push(e);
    if (rand() < 0.03) out.push({ ...e });
  }
  return out;
}

test('funnel driver: a run stopped mid-attempt and resumed from its LMDB store writes exactly the records of an uninterrupted run', async () => {
  const events = stream();
  const streams = ['events', 'funnels', 'late', 'dead-letter'];
  const reference = driver();
  reference.pipe(events).end();
  const want = Object.fromEntries(streams.map((s) => [s, reference.read(s)]));
  await reference.close();
  const funnels = want.funnels as FunnelRecord[];
  assert.ok(funnels.length > 40 && funnels.some((r) => r.converted) && funnels.some((r) => r.furthestStep === 2), 'the stream has conversions and drop-offs after the cart');
  assert.ok((want.late?.length ?? 0) > 0, 'and late events');

  for (const cut of [5, 200, 351, 699]) {
    const dir = tempDir();
    const first = driver(dir);
    first.pipe(events.slice(0, cut));
    const got = Object.fromEntries(streams.map((s) => [s, first.read(s)]));
    const open = [...first.store<string, FunnelKeyState>('funnel', 'keys').range()];
    assert.ok(open.some(({ value }) => value.events.some((e) => (e[2] & 1) !== 0)), `cut ${cut}: an attempt is open at the cut`);
    const watermark = first.watermark();
    await first.close();
    const second = driver(dir);
    assert.equal(second.watermark(), watermark);
    second.pipe(events.slice(cut)).end();
    for (const s of streams) got[s]?.push(...second.read(s));
    assert.equal(second.store('funnel', 'keys').count(), 0, 'no state left after end of input');
    await second.close();
    assert.deepEqual(got, want, `cut after ${cut} events`);
  }
});

test('funnel driver: a key flooding the step: beyond 10,000 kept events a matching event goes to dead-letter, the rest goes on', async () => {
  const d = driver();
  const flood = Array.from({ length: 10_001 }, (_, i) => view(`v${i}`, i));
  d.pipe([...flood, view('other', 5, 'p2'), ev('x', 10_001, { event: 'page_viewed', personId: 'p1' })]);
  const dead = d.read('dead-letter');
  assert.deepEqual(dead.map((r) => [r.reason, r.detail, r.source, JSON.parse(r.raw as string).messageId]), [
    ['funnel-key-full', 'funnel key "p1": the key already keeps 10000 events that may still count (at most 10000)', 'step funnel', 'v10000'],
  ]);
  assert.equal(d.read('events').length, 10_002, 'every other event passes, events matching no step included');
  d.end();
  assert.deepEqual(d.read<FunnelRecord>('funnels').map(shape), [['p1', 0, ['v0'], false, 'view'], ['p2', 5, ['other'], false, 'view']]);
  const text = await d.metrics.registry.metrics();
  assert.match(text, /tributary_step_records_dropped_total\{pipeline="funnel-test",step="funnel",reason="key-full"\} 1/);
  await d.close();
});

test('funnel driver: per-session funnels after sessionize (key sessionId): a cart in the next session does not advance the view of the previous one', async () => {
  const steps = `  - sessionize: { key: personId, gap: 30m }\n${FUNNEL.replace('key: personId', 'key: sessionId')}`;
  const d = driver(undefined, steps);
  const e = [view('v1', 0), view('v2', 31 * MIN), cart('c2', 40 * MIN), cart('c3', 75 * MIN)];
  d.pipe(e).end();
  const sid = (start: number) => deriveId('session', 'p1', start);
  assert.deepEqual(d.read('events').map((x) => [x.messageId, x.sessionId]), [['v1', sid(0)], ['v2', sid(31 * MIN)], ['c2', sid(31 * MIN)], ['c3', sid(75 * MIN)]]);
  assert.deepEqual(d.read<FunnelRecord>('funnels').map(shape), [
    [sid(0), 0, ['v1'], false, 'view'],
    [sid(31 * MIN), 31 * MIN, ['v2', 'c2'], false, 'cart'],
  ]);
  await d.close();
});
