import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { recordingContext } from '../../lib/testing/context.js';
import { SessionizeLogic, sessionizeOperator, type OpenSession, type SessionizeOptions, type SessionRecord } from '../../operators/sessionize.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { putBackStores } from '../support/store-spy.js';

const GAP = 30 * MIN;
const sid = (start: number, key = 'a1') => deriveId('session', key, start);

const setup = (options: SessionizeOptions = {}) => {
  const ctx = recordingContext('sessionize');
  const logic = new SessionizeLogic(sessionizeOperator.resolve({ key: 'anonymousId', output: 'sessions', ...options }), ctx);
  return { ctx, logic };
};
/** Processes events keyed by anonymousId; returns the sessionId each was annotated with. */
const run = (logic: SessionizeLogic, events: TributaryEvent[]) =>
  events.map((e) => logic.process(e, e.anonymousId as string).sessionId as string);
const closeAll = (ctx: ReturnType<typeof setup>['ctx'], logic: SessionizeLogic) => {
  logic.advance(Infinity);
  return ctx.emitted.map(({ stream, record }) => {
    assert.equal(stream, 'sessions');
    return record as SessionRecord;
  });
};

/** `[start, end, eventCount, starts of the ids in mergedFrom]` of one session of key a1. */
type Shape = [number, number, number, number[]];
const shape = (r: SessionRecord): Shape => {
  const starts = r.mergedFrom.map((id) => {
    for (const e of [r.start, ...Array.from({ length: 400 }, (_, i) => (i - 200) * 5 * MIN)]) if (sid(e) === id) return e;
    throw new Error(`mergedFrom id ${id} is not a session id of a1 on the 5-minute grid`);
  });
  return [r.start, r.end, r.eventCount, starts.sort((a, b) => a - b)];
};

const cases: Array<{ name: string; options?: SessionizeOptions; events: TributaryEvent[]; annotated: number[]; sessions: Shape[] }> = [
  {
    name: 'gap boundary: an event exactly gap after the last one still belongs (inclusive)',
    events: [ev('m1', 0), ev('m2', GAP)],
    annotated: [0, 0],
    sessions: [[0, GAP, 2, []]],
  },
  {
    name: 'gap boundary: gap + 1ms after the last event starts a new session',
    events: [ev('m1', 0), ev('m2', GAP + 1)],
    annotated: [0, GAP + 1],
    sessions: [[0, 0, 1, []], [GAP + 1, GAP + 1, 1, []]],
  },
  {
    name: 'in order: the gap counts from the last event, not from the start',
    events: [ev('m1', 0), ev('m2', 25 * MIN), ev('m3', 50 * MIN), ev('m4', 75 * MIN)],
    annotated: [0, 0, 0, 0],
    sessions: [[0, 75 * MIN, 4, []]],
  },
  {
    name: 'out of order: an event inside a session changes nothing but the counts',
    events: [ev('m1', 0), ev('m2', 20 * MIN), ev('m3', 10 * MIN)],
    annotated: [0, 0, 0],
    sessions: [[0, 20 * MIN, 3, []]],
  },
  {
    name: 'out of order: an event before the start within gap extends the session backwards; the old id goes to mergedFrom',
    events: [ev('m1', 60 * MIN), ev('m2', 30 * MIN)],
    annotated: [60 * MIN, 30 * MIN],
    sessions: [[30 * MIN, 60 * MIN, 2, [60 * MIN]]],
  },
  {
    name: 'out of order: exactly gap before the start still extends it (inclusive)',
    events: [ev('m1', 30 * MIN), ev('m2', 0)],
    annotated: [30 * MIN, 0],
    sessions: [[0, 30 * MIN, 2, [30 * MIN]]],
  },
  {
    name: 'out of order: more than gap before the start is a session of its own',
    events: [ev('m1', 30 * MIN + 1), ev('m2', 0)],
    annotated: [30 * MIN + 1, 0],
    sessions: [[0, 0, 1, []], [30 * MIN + 1, 30 * MIN + 1, 1, []]],
  },
  {
    name: 'out of order twice backwards: every id given out is in mergedFrom',
    events: [ev('m1', 60 * MIN), ev('m2', 40 * MIN), ev('m3', 20 * MIN), ev('m4', 50 * MIN)],
    annotated: [60 * MIN, 40 * MIN, 20 * MIN, 20 * MIN],
    sessions: [[20 * MIN, 60 * MIN, 4, [40 * MIN, 60 * MIN]]],
  },
  {
    name: 'bridge: an event within gap of two sessions merges them; the later id is absorbed',
    events: [ev('m1', 0), ev('m2', 50 * MIN), ev('m3', 25 * MIN)],
    annotated: [0, 50 * MIN, 0],
    sessions: [[0, 50 * MIN, 3, [50 * MIN]]],
  },
  {
    name: 'bridge: exactly gap from both sides still merges (inclusive on both)',
    events: [ev('m1', 40 * MIN), ev('m2', 100 * MIN), ev('m3', 70 * MIN)],
    annotated: [40 * MIN, 100 * MIN, 40 * MIN],
    sessions: [[40 * MIN, 100 * MIN, 3, [100 * MIN]]],
  },
  {
    name: 'bridge: gap + 1ms from the later session joins only the nearer one',
    events: [ev('m1', 40 * MIN), ev('m2', 100 * MIN + 1), ev('m3', 70 * MIN)],
    annotated: [40 * MIN, 100 * MIN + 1, 40 * MIN],
    sessions: [[40 * MIN, 70 * MIN, 2, []], [100 * MIN + 1, 100 * MIN + 1, 1, []]],
  },
  {
    name: 'bridge: the event joins the nearer (later) session, the earlier one absorbs it and its id survives',
    events: [ev('m1', 0), ev('m2', 50 * MIN), ev('m3', 28 * MIN)],
    annotated: [0, 50 * MIN, 0],
    sessions: [[0, 50 * MIN, 3, [50 * MIN]]],
  },
  {
    name: 'bridge: three sessions merged by two late arrivals; mergedFrom lists both absorbed ids',
    events: [ev('m1', 0), ev('m2', 45 * MIN), ev('m3', 90 * MIN), ev('m4', 70 * MIN), ev('m5', 20 * MIN)],
    annotated: [0, 45 * MIN, 90 * MIN, 45 * MIN, 0],
    sessions: [[0, 90 * MIN, 5, [45 * MIN, 90 * MIN]]],
  },
  {
    name: 'a bridge, then an extension backwards: both earlier ids end in mergedFrom',
    events: [ev('m1', 30 * MIN), ev('m2', 65 * MIN), ev('m3', 35 * MIN + 1), ev('m4', 5 * MIN)],
    annotated: [30 * MIN, 65 * MIN, 30 * MIN, 5 * MIN],
    sessions: [[5 * MIN, 65 * MIN, 4, [30 * MIN, 65 * MIN]]],
  },
  {
    name: 'maxDuration: a session may span exactly maxDuration (inclusive)',
    options: { maxDuration: '2h' },
    events: [0, 20, 40, 60, 80, 100, 120].map((m, i) => ev(`m${i}`, m * MIN)),
    annotated: [0, 0, 0, 0, 0, 0, 0],
    sessions: [[0, 2 * HOUR, 7, []]],
  },
  {
    name: 'maxDuration: an event that would make the span longer starts a new session',
    options: { maxDuration: '2h' },
    events: [0, 20, 40, 60, 80, 100, 120, 121].map((m, i) => ev(`m${i}`, m * MIN)),
    annotated: [0, 0, 0, 0, 0, 0, 0, 121 * MIN],
    sessions: [[0, 2 * HOUR, 7, []], [121 * MIN, 121 * MIN, 1, []]],
  },
  {
    name: 'maxDuration: one ms over splits (span maxDuration + 1ms)',
    options: { maxDuration: '2h' },
    events: [ev('m1', 0), ev('m2', 25 * MIN), ev('m3', 50 * MIN), ev('m4', 75 * MIN), ev('m5', 100 * MIN), ev('m6', 2 * HOUR + 1)],
    annotated: [0, 0, 0, 0, 0, 2 * HOUR + 1],
    sessions: [[0, 100 * MIN, 5, []], [2 * HOUR + 1, 2 * HOUR + 1, 1, []]],
  },
  {
    name: 'maxDuration: after a split, the next event joins the new session, not the full one',
    options: { maxDuration: '1h' },
    events: [ev('m1', 0), ev('m2', 30 * MIN), ev('m3', 60 * MIN), ev('m4', 70 * MIN), ev('m5', 65 * MIN)],
    annotated: [0, 0, 0, 70 * MIN, 65 * MIN],
    sessions: [[0, 60 * MIN, 3, []], [65 * MIN, 70 * MIN, 2, [70 * MIN]]],
  },
  {
    name: 'maxDuration: an out-of-order event that would stretch a full session backwards starts its own',
    options: { maxDuration: '1h' },
    events: [ev('m1', 60 * MIN), ev('m2', 90 * MIN), ev('m3', 120 * MIN), ev('m4', 50 * MIN), ev('m5', 55 * MIN)],
    annotated: [60 * MIN, 60 * MIN, 60 * MIN, 50 * MIN, 50 * MIN],
    sessions: [[50 * MIN, 55 * MIN, 2, []], [60 * MIN, 120 * MIN, 3, []]],
  },
  {
    name: 'maxDuration: a bridge whose merged span would exceed it does not merge',
    options: { maxDuration: '45m' },
    events: [ev('m1', 0), ev('m2', 50 * MIN), ev('m3', 25 * MIN)],
    annotated: [0, 50 * MIN, 0],
    sessions: [[0, 25 * MIN, 2, []], [50 * MIN, 50 * MIN, 1, []]],
  },
  {
    name: 'maxDuration: a bridge whose merged span is exactly maxDuration merges',
    options: { maxDuration: '50m' },
    events: [ev('m1', 0), ev('m2', 50 * MIN), ev('m3', 25 * MIN)],
    annotated: [0, 50 * MIN, 0],
    sessions: [[0, 50 * MIN, 3, [50 * MIN]]],
  },
  {
    name: 'duplicates: the same messageId twice is counted twice (dedupe first to count it once)',
    events: [ev('m1', 0), ev('m1', 0), ev('m2', MIN)],
    annotated: [0, 0, 0],
    sessions: [[0, MIN, 3, []]],
  },
];

for (const c of cases) {
  test(`sessionize logic: ${c.name}`, () => {
    const { ctx, logic } = setup(c.options);
    assert.deepEqual(run(logic, c.events), c.annotated.map((s) => sid(s)));
    const records = closeAll(ctx, logic);
    assert.deepEqual(records.map(shape).sort((a, b) => a[0] - b[0]), c.sessions);
    // Every id an event was given is the session's id or listed in its mergedFrom.
    const annotated = new Set(c.annotated.map((s) => sid(s)));
    const covered = new Set(records.flatMap((r) => [r.sessionId, ...r.mergedFrom]));
    for (const id of annotated) assert.ok(covered.has(id), `id ${id} given to an event is in no session record`);
    for (const r of records) {
      assert.equal(r.sessionId, sid(r.start));
      assert.equal(r.durationMs, r.end - r.start);
      assert.deepEqual([...r.mergedFrom].sort(), r.mergedFrom, 'mergedFrom is sorted');
      assert.ok(!r.mergedFrom.includes(r.sessionId));
    }
    assert.equal(ctx.stores.open('sessionize.sessions').count(), 0, 'closed sessions leave no state');
  });
}

test('sessionize logic: the session record, exactly', () => {
  const { ctx, logic } = setup();
  const t0 = Date.UTC(2019, 9, 1);
  logic.process(ev('m1', t0 + 5 * MIN, { event: 'add_to_cart', context: { channel: 'web' }, properties: { path: '/cart' } }), 'a1');
  logic.process(ev('m2', t0, { type: 'page', event: null, context: { channel: 'web', page: { path: '/home', url: 'https://shop.example/home' } } }), 'a1');
  logic.process(ev('m3', t0 + 20 * MIN, { event: 'purchase', context: { channel: 'app' } }), 'a1');
  logic.process(ev('m4', t0 + 10 * MIN, { type: 'identify', event: null, userId: 'u1', context: {} }), 'a1');
  logic.process(ev('m5', t0 + 15 * MIN, { event: 'add_to_cart', properties: { url: 'https://shop.example/p/1', path: '/p/1' }, context: { channel: 'email' } }), 'a1');
  logic.advance(t0 + 50 * MIN);
  assert.deepEqual(ctx.emitted, [], 'open while the watermark is at end + gap');
  logic.advance(t0 + 50 * MIN + 1);
  assert.deepEqual(ctx.emitted, [
    {
      stream: 'sessions',
      record: {
        sessionId: sid(t0),
        key: 'a1',
        start: t0,
        end: t0 + 20 * MIN,
        durationMs: 20 * MIN,
        eventCount: 5,
        eventCounts: { add_to_cart: 2, identify: 1, page: 1, purchase: 1 },
        firstEvent: { messageId: 'm2', event: 'page', timestamp: t0, page: 'https://shop.example/home' },
        lastEvent: { messageId: 'm3', event: 'purchase', timestamp: t0 + 20 * MIN, page: null },
        channels: ['app', 'email', 'web'],
        mergedFrom: [sid(t0 + 5 * MIN)],
      },
    },
  ]);
});

test('sessionize logic: entry and exit page from properties.url, properties.path, context.page.url, context.page.path, else null', () => {
  const pages: Array<[Partial<TributaryEvent>, string | null]> = [
    [{ properties: { url: 'u', path: 'p' }, context: { page: { url: 'cu', path: 'cp' } } }, 'u'],
    [{ properties: { path: 'p' }, context: { page: { url: 'cu', path: 'cp' } } }, 'p'],
    [{ properties: {}, context: { page: { url: 'cu', path: 'cp' } } }, 'cu'],
    [{ context: { page: { path: 'cp' } } }, 'cp'],
    [{ properties: { url: '', path: 42 }, context: { page: null } }, null],
    [{}, null],
  ];
  for (const [extra, page] of pages) {
    const { ctx, logic } = setup();
    logic.process(ev('m1', 0, extra), 'a1');
    logic.advance(Infinity);
    const r = ctx.emitted[0]?.record as SessionRecord;
    assert.equal(r.firstEvent.page, page, JSON.stringify(extra));
    assert.equal(r.lastEvent.page, page);
  }
});

test('sessionize logic: equal timestamps: the first to arrive is the entry, the last to arrive the exit', () => {
  const { ctx, logic } = setup();
  run(logic, [ev('m1', 0), ev('m2', 0), ev('m3', 0)]);
  const [r] = closeAll(ctx, logic);
  assert.equal(r?.firstEvent.messageId, 'm1');
  assert.equal(r?.lastEvent.messageId, 'm3');
});

test('sessionize logic: event names that are Object.prototype members stay counts', () => {
  const { ctx, logic } = setup();
  run(logic, [ev('m1', 0, { event: '__proto__' }), ev('m2', 1, { event: 'constructor' }), ev('m3', 2, { event: '__proto__' })]);
  const [r] = closeAll(ctx, logic);
  assert.equal(JSON.stringify(r?.eventCounts), '{"__proto__":2,"constructor":1}');
  assert.equal(Object.getPrototypeOf(r?.eventCounts), Object.prototype);
});

test('sessionize logic: keys are separate, including a key that is a prefix of another', () => {
  const { ctx, logic } = setup();
  const ids = run(logic, [ev('m1', 0, { anonymousId: 'a1' }), ev('m2', MIN, { anonymousId: 'a10' }), ev('m3', 2 * MIN, { anonymousId: 'a1' })]);
  assert.deepEqual(ids, [sid(0, 'a1'), sid(MIN, 'a10'), sid(0, 'a1')]);
  const records = closeAll(ctx, logic);
  assert.deepEqual(records.map((r) => [r.key, r.start, r.end, r.eventCount]), [['a10', MIN, MIN, 1], ['a1', 0, 2 * MIN, 2]]);
});

test('sessionize logic: close when the watermark passes end + gap, not at it; the timer moves when it fires on a grown session', () => {
  const { ctx, logic } = setup();
  logic.process(ev('m1', 0), 'a1');
  assert.equal(logic.pendingClose(sid(0)), GAP + 1);
  logic.advance(20 * MIN);
  logic.process(ev('m2', 20 * MIN), 'a1');
  logic.process(ev('m3', 10 * MIN), 'a1');
  assert.equal(logic.pendingClose(sid(0)), GAP + 1, 'growing does not move the timer');
  logic.advance(GAP + 1); // the timer fires early: moved to the session's end + gap + 1, nothing closes
  assert.equal(ctx.emitted.length, 0);
  assert.equal(logic.pendingClose(sid(0)), 20 * MIN + GAP + 1);
  logic.advance(20 * MIN + GAP);
  assert.equal(ctx.emitted.length, 0);
  logic.advance(20 * MIN + GAP + 1);
  assert.deepEqual(ctx.emitted.map((e) => (e.record as SessionRecord).sessionId), [sid(0)]);
  assert.equal(logic.pendingClose(sid(0)), undefined);
  assert.equal(ctx.stores.open('sessionize.sessions').count(), 0);
});

test('sessionize logic: after a merge one timer remains, under the surviving id, and one record is emitted', () => {
  const { ctx, logic } = setup();
  run(logic, [ev('m1', 0), ev('m2', 50 * MIN)]);
  assert.equal(logic.pendingClose(sid(0)), GAP + 1);
  assert.equal(logic.pendingClose(sid(50 * MIN)), 50 * MIN + GAP + 1);
  run(logic, [ev('m3', 28 * MIN)]);
  assert.equal(logic.pendingClose(sid(50 * MIN)), undefined, 'the absorbed session has no timer left');
  assert.equal(logic.pendingClose(sid(0)), 50 * MIN + GAP + 1, 'the id changed (the later session was the target): a new timer');
  assert.deepEqual(
    [...ctx.stores.open('sessionize.sessions').range()].map((e) => [e.key, (e.value as OpenSession[]).map((s) => [s.start, s.id, s.end])]),
    [['a1', [[0, sid(0), 50 * MIN]]]],
  );
  logic.advance(Infinity);
  assert.equal(ctx.emitted.length, 1);
});

test('sessionize logic: the sessions store holds one value per key, its open sessions sorted by start; a key with none has no entry', () => {
  const { ctx, logic } = setup({ maxDuration: '1h' });
  const sessions = ctx.stores.open<string, OpenSession[]>('sessionize.sessions');
  const layout = () => [...sessions.range()].map((e) => [e.key, e.value.map((s) => [s.start, s.end, s.count])]);
  run(logic, [ev('m1', 100 * MIN), ev('m2', 0), ev('m3', 10 * MIN, { anonymousId: 'a10' }), ev('m4', 25 * MIN), ev('m5', 70 * MIN)]);
  assert.deepEqual(layout(), [
    ['a1', [[0, 25 * MIN, 2], [70 * MIN, 100 * MIN, 2]]],
    ['a10', [[10 * MIN, 10 * MIN, 1]]],
  ]);
  // Within gap of both a1 sessions: joins the nearer one backwards; merging the other would exceed 1h.
  run(logic, [ev('m6', 50 * MIN)]);
  assert.deepEqual(layout()[0], ['a1', [[0, 25 * MIN, 2], [50 * MIN, 100 * MIN, 3]]]);
  logic.advance(25 * MIN + GAP + 1);
  assert.deepEqual(layout(), [['a1', [[50 * MIN, 100 * MIN, 3]]]], 'the closed sessions left their lists; a10 has no entry');
  logic.advance(Infinity);
  assert.deepEqual(layout(), []);
  assert.deepEqual(sessionizeOperator.stores(sessionizeOperator.resolve({})), ['sessions'], 'no timers store');
});

test('sessionize logic: sessions closing at once come out in (close time, id) order', () => {
  const { ctx, logic } = setup();
  run(logic, [ev('m1', 10 * MIN, { anonymousId: 'b' }), ev('m2', 0, { anonymousId: 'a' }), ev('m3', 0, { anonymousId: 'c' })]);
  logic.advance(Infinity);
  const order = [sid(0, 'a'), sid(0, 'c')].sort();
  assert.deepEqual(ctx.emitted.map((e) => (e.record as SessionRecord).sessionId), [...order, sid(10 * MIN, 'b')]);
});

test('sessionize logic: no output configured → events annotated, sessions closed without records', () => {
  const ctx = recordingContext('sessionize');
  const logic = new SessionizeLogic(sessionizeOperator.resolve({ key: 'anonymousId' }), ctx);
  assert.equal(logic.process(ev('m1', 0), 'a1').sessionId, sid(0));
  logic.advance(Infinity);
  assert.deepEqual(ctx.emitted, []);
  assert.deepEqual(ctx.drops, []);
  assert.equal(ctx.stores.open('sessionize.sessions').count(), 0);
});

test('sessionize logic: the event passes through unchanged apart from sessionId', () => {
  const { logic } = setup();
  const e = ev('m1', 0, { properties: { price: 1 }, custom: 'kept' });
  const out = logic.process(e, 'a1');
  assert.deepEqual(out, { ...e, sessionId: sid(0) });
  assert.equal(e.sessionId, undefined, 'the input object is not mutated');
});

test('sessionize logic: without a maxDuration limit, any arrival order gives the sessions of the sorted events split on gaps > gap', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rand = rng(seed);
    const n = 2 + Math.floor(rand() * 20);
    const times = Array.from({ length: n }, () => Math.floor(rand() * 12) * 10 * MIN + (rand() < 0.2 ? 1 : 0));
    const events = times.map((t, i) => ev(`m${i}`, t));
    const { ctx, logic } = setup({ maxDuration: '7d' });
    const annotated = run(logic, events);
    const records = closeAll(ctx, logic);
    // The reference: sort, split where the next event is more than gap after the previous one.
    const sorted = [...times].sort((a, b) => a - b);
    const expected: Array<[number, number, number]> = [];
    for (const t of sorted) {
      const last = expected.at(-1);
      if (last && t - last[1] <= GAP) {
        last[1] = t;
        last[2]++;
      } else expected.push([t, t, 1]);
    }
    const got = records.map((r): [number, number, number] => [r.start, r.end, r.eventCount]).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(got, expected, `seed ${seed}: times ${times.join(',')}`);
    // Each event's id belongs to the session that contains it.
    events.forEach((e, i) => {
      const r = records.find((x) => x.start <= e.timestamp && e.timestamp <= x.end) as SessionRecord;
      assert.ok(r.sessionId === annotated[i] || r.mergedFrom.includes(annotated[i] as string), `seed ${seed}: event ${i}`);
    });
  }
});

test('sessionize logic: with maxDuration, any arrival order keeps the invariants (disjoint, span ≤ maxDuration, every event and id accounted for)', () => {
  const MAX = 45 * MIN;
  for (let seed = 1; seed <= 300; seed++) {
    const rand = rng(seed);
    const n = 2 + Math.floor(rand() * 25);
    const times = Array.from({ length: n }, () => Math.floor(rand() * 30) * 5 * MIN);
    const events = times.map((t, i) => ev(`m${i}`, t));
    const { ctx, logic } = setup({ maxDuration: '45m' });
    const annotated = run(logic, events);
    const records = closeAll(ctx, logic).sort((a, b) => a.start - b.start);
    assert.equal(records.reduce((a, r) => a + r.eventCount, 0), n, `seed ${seed}`);
    records.forEach((r, i) => {
      assert.ok(r.end - r.start <= MAX, `seed ${seed}: span`);
      const next = records[i + 1];
      if (next) assert.ok(r.end < next.start, `seed ${seed}: sessions overlap`);
      assert.equal(r.eventCount, times.filter((t) => r.start <= t && t <= r.end).length, `seed ${seed}: count`);
    });
    events.forEach((e, i) => {
      const r = records.find((x) => x.start <= e.timestamp && e.timestamp <= x.end);
      assert.ok(r && (r.sessionId === annotated[i] || r.mergedFrom.includes(annotated[i] as string)), `seed ${seed}: event ${i}`);
    });
  }
});

test('sessionize logic: changes a stored value only to put it back in the same call (safe over a memory store without cloning)', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rand = rng(seed);
    const events = Array.from({ length: 30 }, (_, i) =>
      ev(`m${i}`, Math.floor(rand() * 30) * 5 * MIN, { event: rand() < 0.3 ? 'add_to_cart' : 'product_viewed', context: { channel: rand() < 0.5 ? 'web' : 'app' } }),
    );
    const outcome = (checked?: ReturnType<typeof putBackStores>) => {
      const ctx = recordingContext('sessionize', checked?.stores);
      const logic = new SessionizeLogic(sessionizeOperator.resolve({ key: 'anonymousId', maxDuration: '45m', output: 'sessions' }), ctx);
      const annotated = events.map((e, i) => {
        const id = logic.process(e, e.anonymousId as string).sessionId as string;
        checked?.check();
        if (i % 7 === 6) logic.advance(e.timestamp - 30 * MIN);
        checked?.check();
        return id;
      });
      logic.advance(Infinity);
      checked?.check();
      return { annotated, emitted: ctx.emitted };
    };
    assert.deepEqual(outcome(putBackStores()), outcome(), `seed ${seed}`);
  }
});

test('sessionize options resolve with defaults and reject bad durations', () => {
  assert.deepEqual(sessionizeOperator.resolve({}), { key: ['personId', 'anonymousId', 'userId'], gapMs: GAP, maxDurationMs: 24 * HOUR, output: undefined });
  assert.deepEqual(sessionizeOperator.resolve({ key: 'userId', gap: '5m', maxDuration: '2h', output: 'sessions' }), { key: ['userId'], gapMs: 5 * MIN, maxDurationMs: 2 * HOUR, output: 'sessions' });
  assert.throws(() => sessionizeOperator.resolve({ gap: '30 minutes' }), /use 30m/);
  assert.throws(() => sessionizeOperator.resolve({ gap: '0m' }), /gap: "0m" must be longer than 0/);
  assert.throws(() => sessionizeOperator.resolve({ maxDuration: '0s' }), /maxDuration: "0s" must be longer than 0/);
});
