import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import type { TriggerRecord } from '../../operators/trigger.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

const T = 30 * MIN;
const RULES = `
      rules:
        - name: cart-abandoned
          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
          cooldown: 24h
          payload: { productId: properties.productId }
        - name: checkout
          sequence: { first: { event: add_to_cart }, then: { event: purchase }, within: 1h }
        - name: viewed-3
          threshold: { match: { event: product_viewed }, count: 3, within: 24h, per: properties.productId }
`;
const yaml = (lateness = '10m') => `
name: trigger-test
source:
  key: [anonymousId, userId]
  allowedLateness: ${lateness}
  idleTimeout: 30s
steps:
  - trigger:
      key: anonymousId${RULES}      output: campaign-triggers
`;
const driver = (stateDir?: string, lateness?: string) => TestDriver.fromYaml(yaml(lateness), { registry: defaultRegistry, stateDir });
const cart = (id: string, t: number, extra: Partial<TributaryEvent> = {}) => ev(id, t, { event: 'add_to_cart', properties: { productId: 'sku-1' }, ...extra });
const buy = (id: string, t: number, extra: Partial<TributaryEvent> = {}) => ev(id, t, { event: 'purchase', ...extra });
const brief = (rs: TriggerRecord[]) => rs.map((r) => [r.rule, r.key, r.firedAt, r.causes]);

test('trigger driver: an abandoned cart fires when the watermark passes A + 30m, with the exact record; events pass through', async () => {
  const d = driver();
  const a = cart('a', 0);
  d.pipe([a, ev('x', T + 10 * MIN)]); // watermark 30m = A + T: not passed
  assert.deepEqual(d.read('events'), [a, ev('x', T + 10 * MIN)]);
  assert.deepEqual(d.read('campaign-triggers'), []);
  d.pipe(ev('y', T + 10 * MIN + 1)); // watermark 30m + 1ms
  assert.deepEqual(d.read('campaign-triggers'), [
    { triggerId: deriveId('trigger', 'cart-abandoned', 'a1', 'a'), rule: 'cart-abandoned', key: 'a1', firedAt: T, causes: ['a'], channel: null, payload: { productId: 'sku-1' } },
  ]);
  d.end();
  assert.deepEqual(d.read('campaign-triggers'), [], 'fired exactly once');
  await d.close();
});

test('trigger driver: a purchase exactly 30m after the cart cancels it (inclusive boundary), 30m + 1ms does not', async () => {
  const d = driver();
  d.pipe([cart('a', 0), buy('b', T)]);
  d.pipe([cart('a2', HOUR, { anonymousId: 'k2' }), buy('b2', HOUR + T + 1, { anonymousId: 'k2' })]);
  d.end();
  assert.deepEqual(brief(d.read('campaign-triggers')), [
    ['checkout', 'a1', T, ['a', 'b']],
    ['checkout', 'k2', HOUR + T + 1, ['a2', 'b2']],
    ['cart-abandoned', 'k2', HOUR + T, ['a2']],
  ]);
  await d.close();
});

test('trigger driver: a purchase arriving after the trigger fired is late (late output, counted) and cancels nothing', async () => {
  const d = driver();
  d.pipe([cart('a', 0), ev('x', T + 10 * MIN + 1)]); // watermark passes A + T: fires
  assert.deepEqual(brief(d.read('campaign-triggers')), [['cart-abandoned', 'a1', T, ['a']]]);
  d.pipe(buy('late-b', 20 * MIN)); // behind the watermark (30m + 1ms)
  assert.deepEqual(d.read('late').map((r) => [r.messageId, r.watermark]), [['late-b', T + 1]]);
  d.end();
  assert.deepEqual(d.read('campaign-triggers'), []);
  assert.match(await d.metrics.registry.metrics(), /tributary_late_records_total\{pipeline="trigger-test"\} 1/);
  await d.close();
});

test('trigger driver: an out-of-order purchase within allowedLateness still cancels', async () => {
  const d = driver();
  d.pipe([cart('a', 0), ev('x', 35 * MIN), buy('b', 25 * MIN)]); // watermark 25m: b is not late
  d.end();
  assert.deepEqual(brief(d.read('campaign-triggers')), [['checkout', 'a1', 25 * MIN, ['a', 'b']]]);
  await d.close();
});

test('trigger driver: end of input fires every pending absence, in firedAt order', async () => {
  const d = driver();
  d.pipe([cart('a', 0), cart('c', 5 * MIN, { anonymousId: 'k2' })]);
  assert.deepEqual(d.read('campaign-triggers'), []);
  d.end();
  assert.deepEqual(brief(d.read('campaign-triggers')), [['cart-abandoned', 'a1', T, ['a']], ['cart-abandoned', 'k2', 5 * MIN + T, ['c']]]);
  assert.equal(d.store('trigger', 'keys').count(), 0, 'no key keeps state');
  await d.close();
});

test('trigger driver: idle: with traffic stopped, the watermark advances with processing time and the absence fires', async () => {
  const d = driver();
  d.pipe(cart('a', 0)); // watermark −10m
  d.advanceTime(29_000);
  assert.equal(d.watermark(), -10 * MIN, 'not idle yet');
  // Idle from 30s on: watermark = −10m + processing time since the last event.
  d.advanceTime(40 * MIN - 29_000);
  assert.equal(d.watermark(), T);
  assert.deepEqual(d.read('campaign-triggers'), []);
  d.advanceTime(1);
  assert.deepEqual(brief(d.read('campaign-triggers')), [['cart-abandoned', 'a1', T, ['a']]]);
  await d.close();
});

test('trigger driver: restart from LMDB: a pending absence timer fires exactly once after the restart', async () => {
  const dir = tempDir();
  const first = driver(dir);
  first.pipe([cart('a', 0), ev('x', 20 * MIN)]);
  assert.deepEqual(first.read('campaign-triggers'), []);
  await first.close();

  const second = driver(dir);
  assert.equal(second.watermark(), 10 * MIN, 'the watermark was restored');
  second.pipe(ev('y', T + 10 * MIN + 1)); // passes A + T
  assert.deepEqual(brief(second.read('campaign-triggers')), [['cart-abandoned', 'a1', T, ['a']]]);
  second.end();
  assert.deepEqual(second.read('campaign-triggers'), []);
  await second.close();

  const third = driver(dir);
  third.end();
  assert.deepEqual(third.read('campaign-triggers'), [], 'not again after a second restart');
  await third.close();
});

test('trigger driver: restart from LMDB: a purchase after the restart cancels the cart from before it', async () => {
  const dir = tempDir();
  const first = driver(dir);
  first.pipe(cart('a', 0));
  await first.close();
  const second = driver(dir);
  second.pipe(buy('b', 29 * MIN)).end();
  assert.deepEqual(brief(second.read('campaign-triggers')), [['checkout', 'a1', 29 * MIN, ['a', 'b']]]);
  await second.close();
});

/** 800 events over 8 keys: carts, purchases, views of 3 products; some out of order, some late, some duplicated. */
function stream(): TributaryEvent[] {
  const rand = rng(11);
  const out: TributaryEvent[] = [];
  let t = 0;
  for (let i = 0; i < 800; i++) {
    t += Math.floor(rand() * 6 * MIN);
    const jitter = rand() < 0.2 ? Math.floor(rand() * 15 * MIN) : 0; // > 10m: late
    const r = rand();
    const event = r < 0.2 ? 'add_to_cart' : r < 0.3 ? 'purchase' : 'product_viewed';
    const e = ev(`m${i}`, t - jitter, { anonymousId: `k${Math.floor(rand() * 8)}`, event, properties: { productId: `p${Math.floor(rand() * 3)}` } });
    out.push(e);
    if (rand() < 0.03) out.push({ ...e });
  }
  return out;
}

test('trigger driver: a run stopped at any point and resumed from its LMDB store writes exactly the records of an uninterrupted run', async () => {
  const events = stream();
  const streams = ['events', 'campaign-triggers', 'late'];
  const reference = driver();
  reference.pipe(events).end();
  const want = Object.fromEntries(streams.map((s) => [s, reference.read(s)]));
  await reference.close();
  const rules = new Set((want['campaign-triggers'] ?? []).map((r) => r.rule));
  assert.deepEqual([...rules].sort(), ['cart-abandoned', 'checkout', 'viewed-3'], 'every rule kind fired');
  assert.ok((want.late?.length ?? 0) > 0, 'the stream has late events');

  for (const cut of [1, 200, 401, 799]) {
    const dir = tempDir();
    const first = driver(dir);
    first.pipe(events.slice(0, cut));
    const got = Object.fromEntries(streams.map((s) => [s, first.read(s)]));
    await first.close();
    const second = driver(dir);
    second.pipe(events.slice(cut)).end();
    for (const s of streams) got[s]?.push(...second.read(s));
    await second.close();
    assert.deepEqual(got, want, `cut after ${cut} events`);
  }
});

test('trigger driver: HOUR-long run of carts with cooldown 24h gives one record per key per day', async () => {
  const d = driver();
  for (let i = 0; i < 10; i++) d.pipe(cart(`c${i}`, i * HOUR));
  d.end();
  assert.deepEqual(brief(d.read('campaign-triggers')).filter((r) => r[0] === 'cart-abandoned'), [['cart-abandoned', 'a1', T, ['c0']]]);
  const text = await d.metrics.registry.metrics();
  assert.match(text, /tributary_step_outcomes_total\{pipeline="trigger-test",step="trigger",outcome="suppressed-cooldown"\} 9/);
  await d.close();
});

test('trigger driver: segment over values windowAggregate annotated: entering and leaving "high value" (sum of revenue in the last 7d ≥ 1000)', async () => {
  const d = TestDriver.fromYaml(
    `
name: segment-test
source: { key: [anonymousId, userId], allowedLateness: 0ms }
steps:
  - windowAggregate:
      key: anonymousId
      window: { sliding: 7d }
      aggregates:
        revenue: { sum: properties.revenue, where: { event: purchase } }
      annotate: features
  - trigger:
      key: anonymousId
      rules:
        - name: high-value
          segment: { condition: { features.revenue: { $gte: 1000 } }, on: both }
          payload: { revenue: features.revenue }
      output: segment-changes
`,
    { registry: defaultRegistry },
  );
  const DAY = 24 * HOUR;
  d.pipe([
    buy('p1', 0, { properties: { revenue: 600 } }),
    buy('p2', DAY, { properties: { revenue: 400 } }), // 1000 in the last 7d: entry
    ev('v1', 3 * DAY),
    ev('v2', 7 * DAY + 1), // p1 has left the window (t − 7d, t]: 400, exit
  ]);
  d.end();
  assert.deepEqual(
    d.read<TriggerRecord>('segment-changes').map((r) => [r.transition, r.firedAt, r.causes, r.payload]),
    [
      ['entry', DAY, ['p2'], { revenue: 1000 }],
      ['exit', 7 * DAY + 1, ['v2'], { revenue: 400 }],
    ],
  );
  await d.close();
});

test('trigger driver: channels, consent and frequency cap from YAML; suppressions counted by reason in the metrics and written to the suppressed output', async () => {
  const d = TestDriver.fromYaml(
    `
name: gating-test
source: { key: [anonymousId, userId], allowedLateness: 0ms }
steps:
  - trigger:
      key: anonymousId
      rules:
        - name: cart-abandoned
          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
          channels:
            - { channel: push, when: { context.app: { $exists: true } } }
            - { channel: email }
        - name: big-view
          threshold: { match: { event: product_viewed, properties.price: { $gte: 100 } }, count: 1, within: 1h }
          channels: [ { channel: email } ]
      frequencyCap: { max: 1, per: 1d }
      consent: { field: context.consent }
      output: campaign-triggers
      suppressedOutput: suppressed-triggers
`,
    { registry: defaultRegistry },
  );
  const consent = (flags: Record<string, boolean>, app = false) => ({ context: { consent: flags, ...(app ? { app: { build: '1' } } : {}) } });
  d.pipe([
    cart('c1', 0, { anonymousId: 'app-user', ...consent({ push: true, email: true }, true) }), // push
    cart('c2', 0, { anonymousId: 'web-user', ...consent({ push: true, email: true }) }), // email (no app)
    cart('c3', 0, { anonymousId: 'no-consent', ...consent({ push: false, email: false }, true) }), // suppressed no-consent
    ev('v1', MIN, { anonymousId: 'web-user', properties: { price: 150 } }), // big-view, email: first record of web-user → sent
  ]);
  d.end(); // web-user's cart at 30m: capped (1 per day, big-view at 1m was sent)
  assert.deepEqual(
    d.read<TriggerRecord>('campaign-triggers').map((r) => [r.rule, r.key, r.channel]),
    [
      ['big-view', 'web-user', 'email'],
      ['cart-abandoned', 'app-user', 'push'],
    ],
  );
  assert.deepEqual(
    d.read('suppressed-triggers').map((r) => [r.rule, r.key, r.reason]).sort((x, y) => String(x[1]).localeCompare(String(y[1]))),
    [
      ['cart-abandoned', 'no-consent', 'no-consent'],
      ['cart-abandoned', 'web-user', 'frequency-cap'],
    ],
  );
  const text = await d.metrics.registry.metrics();
  assert.match(text, /tributary_step_outcomes_total\{pipeline="gating-test",step="trigger",outcome="suppressed-no-consent"\} 1/);
  assert.match(text, /tributary_step_outcomes_total\{pipeline="gating-test",step="trigger",outcome="suppressed-frequency-cap"\} 1/);
  await d.close();
});
