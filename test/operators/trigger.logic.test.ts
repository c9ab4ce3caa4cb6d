import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { recordingContext } from '../../lib/testing/context.js';
import { TriggerLogic, triggerOperator, type TriggerOptions, type TriggerRecord, type TriggerRuleOptions } from '../../operators/trigger.js';
import { ev, HOUR, MIN } from '../support/events.js';

const T = 30 * MIN;
const cart = (id: string, t: number, extra: Partial<TributaryEvent> = {}) => ev(id, t, { event: 'add_to_cart', ...extra });
const buy = (id: string, t: number, extra: Partial<TributaryEvent> = {}) => ev(id, t, { event: 'purchase', ...extra });
const view = (id: string, t: number, productId: string | undefined, extra: Partial<TributaryEvent> = {}) =>
  ev(id, t, { event: 'product_viewed', properties: productId === undefined ? {} : { productId }, ...extra });

const pair = { first: { event: 'add_to_cart' }, then: { event: 'purchase' }, within: '30m' };
const ABSENCE: TriggerRuleOptions = { name: 'cart-abandoned', absence: pair };
const SEQUENCE: TriggerRuleOptions = { name: 'cart-then-buy', sequence: pair };
const THRESHOLD: TriggerRuleOptions = { name: 'viewed-3', threshold: { match: { event: 'product_viewed' }, count: 3, within: '24h', per: 'properties.productId' } };

const setup = (options: Partial<TriggerOptions> & Pick<TriggerOptions, 'rules'>) => {
  const ctx = recordingContext('trigger');
  const logic = new TriggerLogic(triggerOperator.resolve({ key: 'anonymousId', output: 'triggers', ...options }), ctx);
  return { ctx, logic };
};

/**
 * Runs the events in arrival order; before each event the watermark is moved to the given
 * value (when given), as the wiring would; then end of input. Returns `[rule, firedAt, causes]`.
 */
function run(options: Partial<TriggerOptions> & Pick<TriggerOptions, 'rules'>, steps: Array<TributaryEvent | number>) {
  const { ctx, logic } = setup(options);
  for (const s of steps) {
    if (typeof s === 'number') logic.advance(s);
    else assert.equal(logic.process(s, s.anonymousId as string), s, 'events pass through unchanged');
  }
  logic.advance(Infinity);
  const records = ctx.emitted.map(({ stream, record }) => {
    assert.equal(stream, 'triggers');
    return record as TriggerRecord;
  });
  return { ctx, records, brief: records.map((r) => [r.rule, r.firedAt, r.causes]) };
}

const cases: Array<{ name: string; rules: TriggerRuleOptions[]; steps: Array<TributaryEvent | number>; fired: Array<[string, number, string[]]> }> = [
  // absence
  { name: 'absence: A without B fires at A + T', rules: [ABSENCE], steps: [cart('a', 0)], fired: [['cart-abandoned', T, ['a']]] },
  { name: 'absence: B within T cancels', rules: [ABSENCE], steps: [cart('a', 0), buy('b', 10 * MIN)], fired: [] },
  { name: 'absence: B exactly at A + T cancels (inclusive)', rules: [ABSENCE], steps: [cart('a', 0), buy('b', T)], fired: [] },
  { name: 'absence: B at A + T + 1ms does not cancel', rules: [ABSENCE], steps: [cart('a', 0), buy('b', T + 1)], fired: [['cart-abandoned', T, ['a']]] },
  { name: 'absence: B before A does not cancel it', rules: [ABSENCE], steps: [buy('b', 0), cart('a', MIN)], fired: [['cart-abandoned', MIN + T, ['a']]] },
  { name: 'absence: B at the same time as A cancels', rules: [ABSENCE], steps: [cart('a', MIN), buy('b', MIN)], fired: [] },
  { name: 'absence: out of order, B arrives before its A (not late) and still cancels', rules: [ABSENCE], steps: [buy('b', 20 * MIN), cart('a', 5 * MIN)], fired: [] },
  { name: 'absence: each A is its own instance; B cancels only those within T before it', rules: [ABSENCE], steps: [cart('a1', 0), cart('a2', 10 * MIN), buy('b', 35 * MIN)], fired: [['cart-abandoned', T, ['a1']]] },
  { name: 'absence: the same A twice is one instance', rules: [ABSENCE], steps: [cart('a', 0), cart('a', 0)], fired: [['cart-abandoned', T, ['a']]] },
  { name: 'absence: B of another key does not cancel', rules: [ABSENCE], steps: [cart('a', 0), buy('b', MIN, { anonymousId: 'a2' })], fired: [['cart-abandoned', T, ['a']]] },
  { name: 'absence: the watermark at A + T does not fire yet, A + T + 1 does', rules: [ABSENCE], steps: [cart('a', 0), T, buy('b', T)], fired: [] },
  // sequence
  { name: 'sequence: A then B within T fires on B', rules: [SEQUENCE], steps: [cart('a', 0), buy('b', 10 * MIN)], fired: [['cart-then-buy', 10 * MIN, ['a', 'b']]] },
  { name: 'sequence: B exactly T after A fires (inclusive)', rules: [SEQUENCE], steps: [cart('a', 0), buy('b', T)], fired: [['cart-then-buy', T, ['a', 'b']]] },
  { name: 'sequence: B T + 1ms after A does not fire', rules: [SEQUENCE], steps: [cart('a', 0), buy('b', T + 1)], fired: [] },
  { name: 'sequence: B before A does not fire', rules: [SEQUENCE], steps: [buy('b', 0), cart('a', MIN)], fired: [] },
  { name: 'sequence: out of order, B arrives first, fires when its A arrives (firedAt = B)', rules: [SEQUENCE], steps: [buy('b', 20 * MIN), cart('a', 5 * MIN)], fired: [['cart-then-buy', 20 * MIN, ['a', 'b']]] },
  { name: 'sequence: the latest A before B is the cause; each B fires once', rules: [SEQUENCE], steps: [cart('a1', 0), cart('a2', 5 * MIN), buy('b', 10 * MIN), buy('b2', 12 * MIN)], fired: [['cart-then-buy', 10 * MIN, ['a2', 'b']], ['cart-then-buy', 12 * MIN, ['a2', 'b2']]] },
  // threshold
  { name: 'threshold: 3 views of one product within 24h fire on the third', rules: [THRESHOLD], steps: [view('v1', 0, 'p'), view('v2', HOUR, 'p'), view('v3', 2 * HOUR, 'p')], fired: [['viewed-3', 2 * HOUR, ['v1', 'v2', 'v3']]] },
  { name: 'threshold: exactly 24h between first and third fires (inclusive)', rules: [THRESHOLD], steps: [view('v1', 0, 'p'), view('v2', HOUR, 'p'), view('v3', 24 * HOUR, 'p')], fired: [['viewed-3', 24 * HOUR, ['v1', 'v2', 'v3']]] },
  { name: 'threshold: 24h + 1ms does not', rules: [THRESHOLD], steps: [view('v1', 0, 'p'), view('v2', HOUR, 'p'), view('v3', 24 * HOUR + 1, 'p')], fired: [] },
  { name: 'threshold: per product: 3 views of different products do not fire', rules: [THRESHOLD], steps: [view('v1', 0, 'p'), view('v2', HOUR, 'q'), view('v3', 2 * HOUR, 'p')], fired: [] },
  { name: 'threshold: events without the per field are not counted', rules: [THRESHOLD], steps: [view('v1', 0, 'p'), view('v2', HOUR, undefined), view('v3', 2 * HOUR, 'p')], fired: [] },
  { name: 'threshold: the counted events are consumed: 5 views fire once, 6 twice', rules: [THRESHOLD], steps: [1, 2, 3, 4, 5, 6].map((i) => view(`v${i}`, i * MIN, 'p')), fired: [['viewed-3', 3 * MIN, ['v1', 'v2', 'v3']], ['viewed-3', 6 * MIN, ['v4', 'v5', 'v6']]] },
  { name: 'threshold: out of order, the third arrives first', rules: [THRESHOLD], steps: [view('v3', 2 * HOUR, 'p'), view('v1', 0, 'p'), view('v2', HOUR, 'p')], fired: [['viewed-3', 2 * HOUR, ['v1', 'v2', 'v3']]] },
  { name: 'threshold: the same messageId twice counts once', rules: [THRESHOLD], steps: [view('v1', 0, 'p'), view('v1', 0, 'p'), view('v2', HOUR, 'p')], fired: [] },
  // cooldown
  { name: 'cooldown: a second fire of the rule and key within cooldown is suppressed', rules: [{ ...ABSENCE, cooldown: '24h' }], steps: [cart('a1', 0), cart('a2', 40 * MIN)], fired: [['cart-abandoned', T, ['a1']]] },
  { name: 'cooldown: exactly cooldown later fires again', rules: [{ ...ABSENCE, cooldown: '1h' }], steps: [cart('a1', 0), cart('a2', HOUR)], fired: [['cart-abandoned', T, ['a1']], ['cart-abandoned', HOUR + T, ['a2']]] },
  { name: 'cooldown: per key: another key fires', rules: [{ ...ABSENCE, cooldown: '24h' }], steps: [cart('a1', 0), cart('a2', MIN, { anonymousId: 'k2' })], fired: [['cart-abandoned', T, ['a1']], ['cart-abandoned', MIN + T, ['a2']]] },
  { name: 'cooldown: 0s is no cooldown: a second fire a minute later goes out', rules: [{ ...ABSENCE, cooldown: '0s' }], steps: [cart('a1', 0), cart('a2', MIN)], fired: [['cart-abandoned', T, ['a1']], ['cart-abandoned', MIN + T, ['a2']]] },
  { name: 'cooldown: 0ms fires twice at the same time', rules: [{ ...ABSENCE, cooldown: '0ms' }], steps: [cart('a1', 0), cart('a2', 0)], fired: [['cart-abandoned', T, ['a2']], ['cart-abandoned', T, ['a1']]] }, // timers due together: by id
];

for (const c of cases) {
  test(`trigger logic: ${c.name}`, () => {
    const { brief, ctx } = run({ rules: c.rules }, c.steps);
    assert.deepEqual(brief, c.fired);
    assert.equal(ctx.counts.filter((d) => d !== 'suppressed-cooldown').length, 0);
  });
}

test('trigger logic: the action record, exactly', () => {
  const { records } = run({ rules: [{ ...ABSENCE, payload: { productId: 'properties.productId', missing: 'properties.nope' } }] }, [
    cart('a', 0, { personId: 'p-1', properties: { productId: 'sku-9' } }),
  ]);
  assert.deepEqual(records, [
    {
      triggerId: deriveId('trigger', 'cart-abandoned', 'a1', 'a'),
      rule: 'cart-abandoned',
      key: 'a1',
      personId: 'p-1',
      firedAt: T,
      causes: ['a'],
      channel: null,
      payload: { productId: 'sku-9', missing: null },
    },
  ]);
});

test('trigger logic: triggerIds are deterministic per rule kind and distinct', () => {
  const a = run({ rules: [ABSENCE, SEQUENCE, THRESHOLD] }, [cart('a', 0), buy('b', T + 1), ...[1, 2, 3].map((i) => view(`v${i}`, i, 'p'))]).records;
  const b = run({ rules: [ABSENCE, SEQUENCE, THRESHOLD] }, [cart('a', 0), buy('b', T + 1), ...[1, 2, 3].map((i) => view(`v${i}`, i, 'p'))]).records;
  assert.deepEqual(a.map((r) => r.rule).sort(), ['cart-abandoned', 'viewed-3']);
  assert.deepEqual(a.map((r) => r.triggerId), b.map((r) => r.triggerId));
  assert.equal(new Set(a.map((r) => r.triggerId)).size, a.length);
  assert.equal(a.find((r) => r.rule === 'viewed-3')?.triggerId, deriveId('trigger', 'viewed-3', 'a1', 'p', 'v1', 'v2', 'v3'));
});

test('trigger logic: the cooldown suppression is counted, never silent, and goes to suppressedOutput with its reason', () => {
  const { ctx, logic } = setup({ rules: [{ ...ABSENCE, cooldown: '24h' }], suppressedOutput: 'suppressed' });
  logic.process(cart('a1', 0), 'a1');
  logic.process(cart('a2', 40 * MIN), 'a1');
  logic.advance(Infinity);
  assert.deepEqual(ctx.counts, ['suppressed-cooldown']);
  assert.deepEqual(ctx.emitted.map(({ stream, record }) => [stream, record.causes, record.reason]), [
    ['triggers', ['a1'], undefined],
    ['suppressed', ['a2'], 'cooldown'],
  ]);
});

test('trigger logic: absence fires in (firedAt, id) order across keys, each exactly once', () => {
  const { ctx, logic } = setup({ rules: [ABSENCE] });
  logic.process(cart('x', 5 * MIN, { anonymousId: 'k2' }), 'k2');
  logic.process(cart('y', 0, { anonymousId: 'k1' }), 'k1');
  logic.advance(T);
  assert.equal(ctx.emitted.length, 0, 'watermark = A + T: not passed yet');
  logic.advance(T + 1);
  logic.advance(T + 1);
  assert.deepEqual(ctx.emitted.map((e) => e.record.key), ['k1']);
  logic.advance(Infinity);
  logic.advance(Infinity);
  assert.deepEqual(ctx.emitted.map((e) => [e.record.key, e.record.firedAt]), [['k1', T], ['k2', 5 * MIN + T]]);
});

test('trigger logic: state is bounded: after end of input nothing is pending and expired state is gone', () => {
  const { ctx } = run({ rules: [ABSENCE, SEQUENCE, THRESHOLD] }, [cart('a', 0), buy('b', 10 * MIN), view('v1', 0, 'p'), cart('a2', HOUR)]);
  assert.equal(ctx.stores.open('trigger.keys').count(), 0, 'no key keeps state');
});

test('trigger resolve: rejects bad rules with the place and the fix', () => {
  const bad: Array<[TriggerRuleOptions[], RegExp]> = [
    [[{ name: 'x' }], /rules\[0\] \(x\): give exactly one of absence, sequence, threshold, segment \(got none\)/],
    [[{ name: 'x', absence: pair, sequence: pair }], /got absence, sequence/],
    [[{ name: 'x', absence: { ...pair, first: { event: { $where: 'x' } } } }], /rules\[0\]\.absence\.first: event\.\$where: unknown operator/],
    [[{ name: 'x', absence: { ...pair, within: '0m' } }], /rules\[0\]\.absence\.within: "0m" must be longer than 0/],
    [[{ name: 'x', threshold: { match: {}, count: 0, within: '1h' } }], /rules\[0\]\.threshold\.count: 0 must be a whole number/],
    [[{ name: 'x', threshold: { match: {}, count: 2, within: '1h', per: 'a.__proto__' } }], /rules\[0\]\.threshold\.per: "a\.__proto__" is not a field path/],
    [[{ name: 'x', absence: pair, channels: [{ channel: 'push', when: { $where: 'y' } }] }], /rules\[0\]\.channels\[0\]\.when/],
    [[ABSENCE, ABSENCE], /the name "cart-abandoned" is used twice/],
  ];
  for (const [rules, message] of bad) assert.throws(() => triggerOperator.resolve({ rules }), message);
});

test('trigger resolve: cooldown 0s / 0ms / 0 is accepted and means no cooldown', () => {
  for (const cooldown of ['0s', '0ms', '0m', 0]) {
    const config = triggerOperator.resolve({ rules: [{ ...ABSENCE, cooldown }] });
    assert.equal(config.rules[0]?.common.cooldownMs, undefined, String(cooldown));
  }
  assert.equal(triggerOperator.resolve({ rules: [{ ...ABSENCE, cooldown: '1s' }] }).rules[0]?.common.cooldownMs, 1000);
});

// Frequency cap, consent, channels.

const twoRules: TriggerRuleOptions[] = [ABSENCE, { name: 'any-view', threshold: { match: { event: 'product_viewed' }, count: 1, within: '1h' } }];
const outcome = (ctx: ReturnType<typeof setup>['ctx']) => ctx.emitted.map(({ stream, record }) => [stream, record.rule, record.firedAt, record.channel, record.reason]);

test('trigger logic: frequency cap per key across rules: at most max records with firedAt in (firedAt − per, firedAt]', () => {
  const { ctx, logic } = setup({ rules: twoRules, frequencyCap: { max: 2, per: '1h' }, suppressedOutput: 'suppressed' });
  logic.process(view('v1', 0, 'p'), 'a1'); // any-view at 0
  logic.process(cart('c', MIN), 'a1'); // cart-abandoned at 31m
  logic.process(view('v2', 10 * MIN, 'p'), 'a1'); // any-view at 10m: 2nd
  logic.advance(40 * MIN); // cart-abandoned at 31m: 3rd within 1h → capped
  logic.process(view('v3', HOUR, 'p'), 'a1'); // window (0, 1h]: 10m only (0 has left) → 2nd
  logic.process(view('v4', HOUR + 10 * MIN, 'p'), 'a1'); // (10m, 70m]: 1h → 2nd
  logic.process(view('v5', HOUR + 10 * MIN + 1, 'p', { anonymousId: 'k2' }), 'k2'); // another key
  logic.advance(Infinity);
  assert.deepEqual(outcome(ctx), [
    ['triggers', 'any-view', 0, null, undefined],
    ['triggers', 'any-view', 10 * MIN, null, undefined],
    ['suppressed', 'cart-abandoned', 31 * MIN, null, 'frequency-cap'],
    ['triggers', 'any-view', HOUR, null, undefined],
    ['triggers', 'any-view', HOUR + 10 * MIN, null, undefined],
    ['triggers', 'any-view', HOUR + 10 * MIN + 1, null, undefined],
  ]);
  assert.deepEqual(ctx.counts, ['suppressed-frequency-cap']);
});

test('trigger logic: a candidate suppressed by cooldown does not count against the cap; one capped does not start a cooldown', () => {
  const rules: TriggerRuleOptions[] = [{ ...ABSENCE, cooldown: '2h' }, { name: 'any-view', threshold: { match: { event: 'product_viewed' }, count: 1, within: '1h' } }];
  const { ctx, logic } = setup({ rules, frequencyCap: { max: 1, per: '1h' }, suppressedOutput: 'suppressed' });
  logic.process(view('v1', 0, 'p'), 'a1'); // any-view at 0: sent
  logic.process(cart('c1', 0), 'a1'); // cart at 30m: capped (1 in (−30m, 30m]) → no cooldown started
  logic.process(cart('c2', HOUR), 'a1'); // cart at 90m: not in cooldown, cap window (30m, 90m] empty → sent
  logic.process(cart('c3', HOUR + MIN), 'a1'); // cart at 91m: cooldown (1m after 90m)
  logic.advance(Infinity);
  assert.deepEqual(outcome(ctx), [
    ['triggers', 'any-view', 0, null, undefined],
    ['suppressed', 'cart-abandoned', T, null, 'frequency-cap'],
    ['triggers', 'cart-abandoned', HOUR + T, null, undefined],
    ['suppressed', 'cart-abandoned', HOUR + MIN + T, null, 'cooldown'],
  ]);
});

const CHANNELS: TriggerRuleOptions = {
  ...ABSENCE,
  channels: [{ channel: 'push', when: { 'context.app': { $exists: true } } }, { channel: 'email' }],
};
const consent = (flags: Record<string, boolean>, app = false) => ({ context: { consent: flags, ...(app ? { app: { name: 'shop' } } : {}) } });

const consentCases: Array<{ name: string; options: Partial<TriggerOptions>; events: TributaryEvent[]; out: Array<[string, string | null, string | undefined]> }> = [
  { name: 'channels: push when the cart was added in the app', options: { rules: [CHANNELS] }, events: [cart('c', 0, consent({}, true))], out: [['triggers', 'push', undefined]] },
  { name: 'channels: else email', options: { rules: [CHANNELS] }, events: [cart('c', 0)], out: [['triggers', 'email', undefined]] },
  {
    name: 'channels: no channel matches → suppressed no-channel',
    options: { rules: [{ ...ABSENCE, channels: [{ channel: 'push', when: { 'context.app': { $exists: true } } }] }] },
    events: [cart('c', 0)],
    out: [['suppressed', null, 'no-channel']],
  },
  { name: 'consent per channel: push consented', options: { rules: [CHANNELS], consent: {} }, events: [cart('c', 0, consent({ push: true }, true))], out: [['triggers', 'push', undefined]] },
  { name: 'consent per channel: push not consented, email is: falls through to email', options: { rules: [CHANNELS], consent: {} }, events: [cart('c', 0, consent({ push: false, email: true }, true))], out: [['triggers', 'email', undefined]] },
  { name: 'consent per channel: none consented → suppressed no-consent', options: { rules: [CHANNELS], consent: {} }, events: [cart('c', 0, consent({ push: false }, true))], out: [['suppressed', null, 'no-consent']] },
  { name: 'consent: unknown consent suppresses', options: { rules: [CHANNELS], consent: {} }, events: [cart('c', 0)], out: [['suppressed', null, 'no-consent']] },
  {
    name: 'consent: the latest known by event time wins (a later withdrawal, an earlier out-of-order grant)',
    options: { rules: [CHANNELS], consent: {} },
    events: [cart('c', 0, consent({ email: true })), ev('w', 10 * MIN, consent({ email: false })), ev('g', 5 * MIN, consent({ email: true }))],
    out: [['suppressed', null, 'no-consent']],
  },
  {
    name: 'consent: read when the absence fires: a grant after the cart (before A + T) counts',
    options: { rules: [CHANNELS], consent: {} },
    events: [cart('c', 0), ev('g', 10 * MIN, consent({ email: true }))],
    out: [['triggers', 'email', undefined]],
  },
  { name: 'consent flag: one flag for every channel', options: { rules: [CHANNELS], consent: { flag: 'marketing' } }, events: [cart('c', 0, consent({ marketing: true }, true))], out: [['triggers', 'push', undefined]] },
  { name: 'consent flag: missing → suppressed', options: { rules: [CHANNELS], consent: { flag: 'marketing' } }, events: [cart('c', 0, consent({ push: true }, true))], out: [['suppressed', 'push', 'no-consent']] },
  { name: 'consent without channels and without a flag suppresses (nothing to check)', options: { rules: [ABSENCE], consent: {} }, events: [cart('c', 0, consent({ email: true }))], out: [['suppressed', null, 'no-consent']] },
  { name: 'consent field: another path', options: { rules: [CHANNELS], consent: { field: 'traits.consent' } }, events: [cart('c', 0, { traits: { consent: { email: true } } })], out: [['triggers', 'email', undefined]] },
];

for (const c of consentCases) {
  test(`trigger logic: ${c.name}`, () => {
    const { ctx, logic } = setup({ rules: [ABSENCE], ...c.options, suppressedOutput: 'suppressed' });
    for (const e of c.events) logic.process(e, 'a1');
    logic.advance(Infinity);
    assert.deepEqual(ctx.emitted.map(({ stream, record }) => [stream, record.channel, record.reason]), c.out);
    assert.deepEqual(ctx.counts, c.out.filter((o) => o[0] === 'suppressed').map((o) => `suppressed-${o[2] as string}`));
  });
}

// Segments: entry into / exit from a condition over annotated values.

const rev = (id: string, t: number, revenue: number | undefined) => ev(id, t, revenue === undefined ? {} : { features: { revenue } });
const SEGMENT = (on?: 'entry' | 'exit' | 'both'): TriggerRuleOptions => ({
  name: 'high-value',
  segment: { condition: { 'features.revenue': { $gte: 1000 } }, where: { features: { $exists: true } }, ...(on ? { on } : {}) },
});
const segmentCases: Array<{ name: string; rule: TriggerRuleOptions; events: TributaryEvent[]; fired: Array<[number, string, string]> }> = [
  { name: 'segment: entry fires on the event that crosses in (inclusive $gte)', rule: SEGMENT(), events: [rev('r1', 0, 500), rev('r2', MIN, 1000), rev('r3', 2 * MIN, 1500)], fired: [[MIN, 'entry', 'r2']] },
  { name: 'segment: a key starts outside: the first event inside is an entry', rule: SEGMENT(), events: [rev('r1', 0, 2000)], fired: [[0, 'entry', 'r1']] },
  { name: 'segment: the first event outside is no exit', rule: SEGMENT('exit'), events: [rev('r1', 0, 10)], fired: [] },
  { name: 'segment: on exit only', rule: SEGMENT('exit'), events: [rev('r1', 0, 2000), rev('r2', MIN, 900)], fired: [[MIN, 'exit', 'r2']] },
  { name: 'segment: on both, in, out, in again', rule: SEGMENT('both'), events: [rev('r1', 0, 2000), rev('r2', MIN, 900), rev('r3', 2 * MIN, 1000)], fired: [[0, 'entry', 'r1'], [MIN, 'exit', 'r2'], [2 * MIN, 'entry', 'r3']] },
  { name: 'segment: events not matching where are not evaluated (no exit on an unannotated event)', rule: SEGMENT('both'), events: [rev('r1', 0, 2000), rev('r2', MIN, undefined)], fired: [[0, 'entry', 'r1']] },
  { name: 'segment: an event older than the one that last set the membership does not change it', rule: SEGMENT('both'), events: [rev('r2', MIN, 2000), rev('r1', 0, 10)], fired: [[MIN, 'entry', 'r2']] },
];
for (const c of segmentCases) {
  test(`trigger logic: ${c.name}`, () => {
    const { records } = run({ rules: [c.rule] }, c.events);
    assert.deepEqual(records.map((r) => [r.firedAt, r.transition, r.causes[0]]), c.fired);
    for (const r of records) assert.equal(r.triggerId, deriveId('trigger', 'high-value', 'a1', r.causes[0] as string, r.transition as string));
  });
}

test('trigger logic: threshold per values that cannot be store key parts (control characters, lone surrogates, long, non-strings) are counted, not a crash', () => {
  const values: unknown[] = ['a\u0000b', '\uD800x', 'y\uDC00', 'z'.repeat(3000), 42, { nested: true }];
  const events = values.flatMap((v, i) => [0, 1, 2].map((j) => ev(`v${i}-${j}`, i * HOUR + j * MIN, { properties: { productId: v } })));
  const { brief } = run({ rules: [THRESHOLD] }, events);
  assert.deepEqual(brief.map((b) => b[2]), values.map((_, i) => [0, 1, 2].map((j) => `v${i}-${j}`)));
});
