import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { recordingContext } from '../../lib/testing/context.js';
import { AttributionLogic, attributionOperator, type AttributionOptions, type AttributionRecord, type ChannelCreditRecord } from '../../operators/attribution.js';
import { ev } from '../support/events.js';

const DAY = 86_400_000;
const L = 30 * DAY;
const OPTIONS: AttributionOptions = {
  key: 'anonymousId',
  touchpoints: { where: { event: { $in: ['email_clicked', 'ad_clicked'] } } },
  conversion: { where: { event: 'purchase' }, value: 'properties.revenue' },
  lookback: '30d',
  halfLife: '7d',
  aggregateOutput: 'channel-credits',
};

const email = (id: string, t: number, campaign = 'spring', extra: Partial<TributaryEvent> = {}) =>
  ev(id, t, { event: 'email_clicked', context: { channel: 'email', campaign: { name: campaign, source: 'newsletter' } }, ...extra });
const ad = (id: string, t: number, extra: Partial<TributaryEvent> = {}) =>
  ev(id, t, { event: 'ad_clicked', context: { channel: 'search' }, properties: { utm_campaign: 'brand' }, ...extra });
const buy = (id: string, t: number, revenue: unknown = 90, extra: Partial<TributaryEvent> = {}) => ev(id, t, { event: 'purchase', properties: { revenue }, ...extra });

const setup = (options: Partial<AttributionOptions> = {}) => {
  const ctx = recordingContext('attribution');
  const logic = new AttributionLogic(attributionOperator.resolve({ ...OPTIONS, ...options }), ctx);
  return { ctx, logic };
};

/** Feeds the events (a number moves the watermark there), then end of input; the records by stream. */
function run(steps: Array<TributaryEvent | number>, options: Partial<AttributionOptions> = {}) {
  const { ctx, logic } = setup(options);
  for (const s of steps) {
    if (typeof s === 'number') logic.advance(s);
    else assert.equal(logic.process(s, s.anonymousId as string), s, 'events pass through unchanged');
  }
  logic.advance(Infinity);
  const of = <T>(stream: string) => ctx.emitted.filter((e) => e.stream === stream).map((e) => e.record as T);
  return { ctx, logic, records: of<AttributionRecord>('attributions'), channels: of<ChannelCreditRecord>('channel-credits') };
}

const brief = (rs: AttributionRecord[]) => rs.map((r) => [r.conversionId, r.touchpoints.map((t) => t.messageId), r.unattributed]);

test('attribution: in order, the exact record once the watermark passes the conversion time, and the per-channel records', () => {
  const { ctx, logic } = setup();
  logic.process(email('c1', 0), 'a1');
  logic.process(ad('c2', 7 * DAY), 'a1');
  logic.process(buy('p1', 14 * DAY), 'a1');
  logic.advance(14 * DAY);
  assert.deepEqual(ctx.emitted, [], 'the watermark at the conversion time has not passed it');
  logic.advance(14 * DAY + 1);
  const id = deriveId('attribution', 'attribution', 'a1', 'p1');
  assert.deepEqual(ctx.emitted, [
    {
      stream: 'attributions',
      record: {
        id,
        key: 'a1',
        conversionId: 'p1',
        convertedAt: 14 * DAY,
        value: 90,
        touchpoints: [
          // ages 14d and 7d, half-life 7d: weights ½ and 1
          { messageId: 'c1', at: 0, channel: 'email', campaign: 'spring', credit: { firstTouch: 90, lastTouch: 0, linear: 45, timeDecay: 30, positionBased: 45 } },
          { messageId: 'c2', at: 7 * DAY, channel: 'search', campaign: 'brand', credit: { firstTouch: 0, lastTouch: 90, linear: 45, timeDecay: 60, positionBased: 45 } },
        ],
        unattributed: 0,
      },
    },
    {
      stream: 'channel-credits',
      record: {
        id: deriveId('channel-credit', 'attribution', 'a1', 'p1', '["email","spring"]'),
        key: 'a1', conversionId: 'p1', convertedAt: 14 * DAY, channel: 'email', campaign: 'spring', touchpoints: 1,
        credit: { firstTouch: 90, lastTouch: 0, linear: 45, timeDecay: 30, positionBased: 45 },
      },
    },
    {
      stream: 'channel-credits',
      record: {
        id: deriveId('channel-credit', 'attribution', 'a1', 'p1', '["search","brand"]'),
        key: 'a1', conversionId: 'p1', convertedAt: 14 * DAY, channel: 'search', campaign: 'brand', touchpoints: 1,
        credit: { firstTouch: 0, lastTouch: 90, linear: 45, timeDecay: 60, positionBased: 45 },
      },
    },
  ]);
  logic.advance(Infinity);
  assert.equal(ctx.emitted.length, 3, 'written once');
  assert.equal(ctx.stores.open('attribution.journeys').count(), 0, 'nothing kept after end of input');
});

test('attribution: every arrival order of a journey (within lateness) gives the same records; equal times ordered by messageId', () => {
  // c0 and c2 at the same time: journey order c1, c0, c2 whatever the arrival.
  const events = [email('c1', 0), ad('c2', 7 * DAY), email('c0', 7 * DAY, 'summer'), buy('p1', 14 * DAY), buy('p2', 14 * DAY, 30)];
  const orders: TributaryEvent[][] = [];
  const permute = (rest: TributaryEvent[], done: TributaryEvent[]) => {
    if (rest.length === 0) orders.push(done);
    rest.forEach((e, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...done, e]));
  };
  permute(events, []);
  assert.equal(orders.length, 120);
  const reference = run(orders[0] as TributaryEvent[]);
  assert.deepEqual(brief(reference.records), [
    ['p1', ['c1', 'c0', 'c2'], 0],
    ['p2', ['c1', 'c0', 'c2'], 0],
  ]);
  const p1 = reference.records[0] as AttributionRecord;
  assert.deepEqual(p1.touchpoints.map((t) => t.credit), [
    { firstTouch: 90, lastTouch: 0, linear: 30, timeDecay: 18, positionBased: 36 },
    { firstTouch: 0, lastTouch: 0, linear: 30, timeDecay: 36, positionBased: 18 },
    { firstTouch: 0, lastTouch: 90, linear: 30, timeDecay: 36, positionBased: 36 },
  ]);
  for (const order of orders.slice(1)) {
    const r = run(order);
    assert.deepEqual(r.records, reference.records, order.map((e) => e.messageId).join(' '));
    assert.deepEqual(r.channels, reference.channels);
  }
});

test('attribution: duplicates: the same touchpoint and the same conversion twice count once', () => {
  const { records, ctx } = run([email('c1', 0), email('c1', 0), buy('p1', DAY, 10), email('c1', 0), buy('p1', DAY, 10)]);
  assert.deepEqual(brief(records), [['p1', ['c1'], 0]]);
  assert.deepEqual(records[0]?.touchpoints[0]?.credit, { firstTouch: 10, lastTouch: 10, linear: 10, timeDecay: 10, positionBased: 10 });
  assert.deepEqual(ctx.counts, ['duplicate-touchpoint', 'duplicate-touchpoint', 'duplicate-conversion']);
});

test('attribution: lookback bounds are inclusive: exactly 30d before and the same millisecond count; 1ms more or after do not', () => {
  const t = 40 * DAY;
  const { records } = run([email('too-old', t - L - 1), email('oldest', t - L), email('same-ms', t), email('after', t + 1), buy('p1', t, 12)]);
  assert.deepEqual(brief(records), [['p1', ['oldest', 'same-ms'], 0]]);
  const w = 2 ** (-30 / 7); // the weight of a touchpoint 30d old, half-life 7d (the newest weighs 1)
  assert.deepEqual(records[0]?.touchpoints.map((x) => x.credit.timeDecay), [(12 * w) / (w + 1), 12 / (w + 1)]);
});

test('attribution: several conversions share touchpoints; each credits its own lookback', () => {
  const { records, channels } = run([email('c1', 0), ad('c2', DAY), buy('p1', 2 * DAY, 20), email('c3', 3 * DAY), buy('p2', 4 * DAY, 30), buy('p3', L + 2 * DAY, 40)]);
  assert.deepEqual(brief(records), [
    ['p1', ['c1', 'c2'], 0],
    ['p2', ['c1', 'c2', 'c3'], 0],
    // 30d + 2d: c1 (at 0) is out of its lookback, c2 (1d) too; c3 (3d) in
    ['p3', ['c3'], 0],
  ]);
  assert.deepEqual(records[1]?.touchpoints.map((x) => x.credit.positionBased), [12, 6, 12]);
  assert.deepEqual(
    channels.map((c) => [c.conversionId, c.channel, c.campaign, c.touchpoints, c.credit.linear]),
    [
      ['p1', 'email', 'spring', 1, 10],
      ['p1', 'search', 'brand', 1, 10],
      ['p2', 'email', 'spring', 2, 20],
      ['p2', 'search', 'brand', 1, 10],
      ['p3', 'email', 'spring', 1, 40],
    ],
  );
});

test('attribution: touchpoints expire once the watermark passes at + lookback; a conversion after that is unattributed', () => {
  const { ctx, logic } = setup();
  const journeys = ctx.stores.open('attribution.journeys');
  logic.process(email('c1', 0), 'a1');
  logic.advance(L);
  assert.equal(journeys.count(), 1, 'kept while the watermark equals at + lookback (a conversion then still credits it)');
  logic.process(buy('p1', L, 5), 'a1');
  logic.advance(L + 1);
  assert.equal(journeys.count(), 0, 'the conversion written, the touchpoint expired: nothing left');
  logic.process(buy('p2', L + 1, 7), 'a1');
  logic.advance(Infinity);
  const records = ctx.emitted.filter((e) => e.stream === 'attributions').map((e) => e.record as AttributionRecord);
  assert.deepEqual(brief(records), [['p1', ['c1'], 0], ['p2', [], 7]]);
  assert.deepEqual(records[1], { id: deriveId('attribution', 'attribution', 'a1', 'p2'), key: 'a1', conversionId: 'p2', convertedAt: L + 1, value: 7, touchpoints: [], unattributed: 7 });
  assert.deepEqual(
    ctx.emitted.filter((e) => e.stream === 'channel-credits').map((e) => e.record).at(-1),
    {
      id: deriveId('channel-credit', 'attribution', 'a1', 'p2', '[null,null]'),
      key: 'a1', conversionId: 'p2', convertedAt: L + 1, channel: null, campaign: null, touchpoints: 0,
      credit: { firstTouch: 7, lastTouch: 7, linear: 7, timeDecay: 7, positionBased: 7 },
    },
    'an unattributed conversion: one aggregate record with the whole value, channel and campaign null',
  );
});

test('attribution: end of input writes every pending conversion, in (time, key, messageId) order', () => {
  const { records } = run([
    email('c1', 0, 'spring', { anonymousId: 'k2' }),
    buy('p9', 5 * DAY, 1, { anonymousId: 'k2' }),
    buy('p2', 3 * DAY, 1, { anonymousId: 'k2' }),
    buy('p1', 3 * DAY, 1, { anonymousId: 'k2' }),
    buy('p0', 3 * DAY, 1, { anonymousId: 'k1' }),
  ]);
  assert.deepEqual(records.map((r) => [r.key, r.conversionId, r.convertedAt]), [
    ['k1', 'p0', 3 * DAY],
    ['k2', 'p1', 3 * DAY],
    ['k2', 'p2', 3 * DAY],
    ['k2', 'p9', 5 * DAY],
  ]);
});

test('attribution: a conversion that also matches the touchpoints is not a touchpoint, of itself or of a later conversion', () => {
  const campaign = (id: string, t: number, event: string, revenue?: number) =>
    ev(id, t, { event, properties: revenue === undefined ? {} : { revenue }, context: { channel: 'web', campaign: 'spring' } });
  const { records } = run([campaign('v1', 0, 'page_viewed'), campaign('p1', DAY, 'purchase', 10), campaign('p2', 2 * DAY, 'purchase', 20)], {
    touchpoints: { where: { 'context.campaign': { $exists: true } } },
  });
  assert.deepEqual(brief(records), [['p1', ['v1'], 0], ['p2', ['v1'], 0]]);
  assert.deepEqual(records[0]?.touchpoints[0], { messageId: 'v1', at: 0, channel: 'web', campaign: 'spring', credit: { firstTouch: 10, lastTouch: 10, linear: 10, timeDecay: 10, positionBased: 10 } });
});

test('attribution: a conversion without a usable value is a dead letter and the event passes on; a numeric string is read; without a value path it is worth 1', () => {
  const { records, ctx } = run([email('c1', 0), buy('bad', DAY, 'n/a'), ev('none', DAY, { event: 'purchase', properties: {} }), buy('str', DAY, ' 12.5 '), buy('inf', DAY, Infinity)]);
  assert.deepEqual(records.map((r) => [r.conversionId, r.value]), [['str', 12.5]]);
  assert.deepEqual(
    ctx.emitted.filter((e) => e.stream === 'dead-letter').map((e) => [e.record.reason, e.record.detail, e.record.source]),
    [
      ['invalid-conversion-value', 'attribution: conversion bad: the value at properties.revenue is "n/a", not a finite number', 'step attribution'],
      ['invalid-conversion-value', 'attribution: conversion none: the value at properties.revenue is missing, not a finite number', 'step attribution'],
      ['invalid-conversion-value', 'attribution: conversion inf: the value at properties.revenue is Infinity, not a finite number', 'step attribution'],
    ],
  );
  assert.equal(JSON.parse(ctx.emitted.find((e) => e.stream === 'dead-letter')?.record.raw as string).messageId, 'bad');
  const ones = run([email('c1', 0), buy('p1', DAY, 'ignored')], { conversion: { where: { event: 'purchase' } }, models: ['linear'] });
  assert.deepEqual(ones.records.map((r) => [r.value, r.touchpoints[0]?.credit]), [[1, { linear: 1 }]]);
});

test('attribution: channel and campaign: defaults (campaign name, campaign string, utm_campaign, else null) and custom paths', () => {
  const touch = (id: string, t: number, extra: Partial<TributaryEvent>) => ev(id, t, { event: 'email_clicked', ...extra });
  const { records } = run([
    touch('a', 0, { context: { channel: 'email', campaign: { name: 'n1' } } }),
    touch('b', 1, { context: { channel: 'web', campaign: 's1' } }),
    touch('c', 2, { context: { channel: 'app' }, properties: { utm_campaign: 'u1' } }),
    touch('d', 3, { context: { campaign: { source: 'x' } } }),
    buy('p', 4, 4),
  ]);
  assert.deepEqual(records[0]?.touchpoints.map((t) => [t.messageId, t.channel, t.campaign]), [['a', 'email', 'n1'], ['b', 'web', 's1'], ['c', 'app', 'u1'], ['d', null, null]]);
  const custom = run([touch('a', 0, { properties: { source: 'google', cid: 7 } }), buy('p', 1, 1)], { touchpoints: { where: { event: 'email_clicked' }, channel: ['properties.medium', 'properties.source'], campaign: 'properties.cid' } });
  assert.deepEqual(custom.records[0]?.touchpoints.map((t) => [t.channel, t.campaign]), [['google', '7']]);
});

test('attribution options: defaults, and refusals that name the option', () => {
  const c = attributionOperator.resolve({ touchpoints: { where: { event: 'email_clicked' } }, conversion: { where: { event: 'purchase' } } });
  assert.deepEqual(
    { key: c.key, channel: c.channel, campaign: c.campaign, value: c.value, lookbackMs: c.lookbackMs, models: c.models, halfLifeMs: c.halfLifeMs, position: c.position, output: c.output, aggregateOutput: c.aggregateOutput },
    {
      key: ['personId'], channel: ['context.channel'], campaign: ['context.campaign.name', 'context.campaign', 'properties.utm_campaign'], value: undefined,
      lookbackMs: L, models: ['firstTouch', 'lastTouch', 'linear', 'timeDecay', 'positionBased'], halfLifeMs: 7 * DAY, position: { first: 0.4, last: 0.4 }, output: 'attributions', aggregateOutput: undefined,
    },
  );
  assert.deepEqual(attributionOperator.resolve({ ...OPTIONS, models: ['timeDecay', 'firstTouch'] }).models, ['firstTouch', 'timeDecay'], 'canonical order');
  const refused = (o: Partial<AttributionOptions>, re: RegExp) => assert.throws(() => attributionOperator.resolve({ ...OPTIONS, ...o }), re);
  refused({ position: { first: 0.7, last: 0.4 } }, /^Error: position: first \+ last is 1\.1/);
  refused({ position: { first: -1 } }, /position\.first: -1 must be a number from 0 to 1/);
  refused({ models: ['markov' as never] }, /models: "markov" is not a model/);
  refused({ lookback: '0s' }, /lookback: "0s" must be longer than 0/);
  refused({ halfLife: '7 days' }, /7 days/);
  refused({ touchpoints: { where: { event: { $where: 'x' } } } }, /touchpoints\.where: event\.\$where: unknown operator/);
  refused({ conversion: { where: { event: 'purchase' }, value: 'a..b' } }, /conversion\.value: "a\.\.b" is not a field path/);
});
