import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import type { SessionRecord } from '../../operators/sessionize.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { tempDir } from '../support/tmp.js';
import { rng } from '../support/random.js';

const yaml = (steps = '  - sessionize: { key: anonymousId, gap: 30m, maxDuration: 2h, output: sessions }\n') => `
name: sessionize-test
source:
  key: [anonymousId, userId]
  allowedLateness: 1h
  idleTimeout: 30s
steps:
${steps}`;
const driver = (stateDir?: string, steps?: string) => TestDriver.fromYaml(yaml(steps), { registry: defaultRegistry, stateDir });
const sid = (start: number, key = 'a1') => deriveId('session', key, start);

/**
 * The exact sessions record expected for `events` (all of one session, in arrival order):
 * first/last by event time (the earlier arrival on a tie for first, the later for last).
 */
function expected(key: string, events: TributaryEvent[], mergedFrom: number[] = []): SessionRecord {
  const start = Math.min(...events.map((e) => e.timestamp));
  const end = Math.max(...events.map((e) => e.timestamp));
  const ref = (e: TributaryEvent) => ({ messageId: e.messageId, event: e.type === 'track' ? (e.event as string) : e.type, timestamp: e.timestamp, page: null });
  const first = events.reduce((a, e) => (e.timestamp < a.timestamp ? e : a));
  const last = events.reduce((a, e) => (e.timestamp >= a.timestamp ? e : a));
  const eventCounts: Record<string, number> = {};
  for (const e of events) {
    const n = e.type === 'track' ? (e.event as string) : e.type;
    eventCounts[n] = (eventCounts[n] ?? 0) + 1;
  }
  const channels = [...new Set(events.map((e) => e.context?.channel).filter((c): c is string => typeof c === 'string'))].sort();
  return {
    sessionId: sid(start, key),
    key,
    start,
    end,
    durationMs: end - start,
    eventCount: events.length,
    eventCounts,
    firstEvent: ref(first),
    lastEvent: ref(last),
    channels,
    mergedFrom: mergedFrom.map((s) => sid(s, key)).sort(),
  };
}

const sessionsOf = (records: readonly DerivedRecord[]) => [...records].sort((a, b) => (a.start as number) - (b.start as number));

const E = {
  m1: ev('m1', 0, { context: { channel: 'web' } }),
  m2: ev('m2', 30 * MIN, { event: 'add_to_cart', context: { channel: 'app' } }),
  m3: ev('m3', 30 * MIN + 1),
  m4: ev('m4', 50 * MIN),
  m5: ev('m5', 25 * MIN, { type: 'identify', event: null, userId: 'u1' }),
};

const cases: Array<{ name: string; events: TributaryEvent[]; annotated: number[]; sessions: SessionRecord[] }> = [
  {
    name: 'an event exactly gap after the last one joins the session',
    events: [E.m1, E.m2],
    annotated: [0, 0],
    sessions: [expected('a1', [E.m1, E.m2])],
  },
  {
    name: 'an event gap + 1ms after the last one starts a new session',
    events: [E.m1, ev('m3', 30 * MIN + 1)],
    annotated: [0, 30 * MIN + 1],
    sessions: [expected('a1', [E.m1]), expected('a1', [ev('m3', 30 * MIN + 1)])],
  },
  {
    name: 'an out-of-order event before the start within gap extends the session backwards',
    events: [E.m4, E.m5],
    annotated: [50 * MIN, 25 * MIN],
    sessions: [expected('a1', [E.m4, E.m5], [50 * MIN])],
  },
  {
    name: 'an out-of-order event bridging two sessions merges them; mergedFrom lists the absorbed id',
    events: [E.m1, E.m4, E.m5],
    annotated: [0, 50 * MIN, 0],
    sessions: [expected('a1', [E.m1, E.m4, E.m5], [50 * MIN])],
  },
  {
    name: 'maxDuration (2h): a session may span exactly 2h',
    events: [0, 30, 60, 90, 120].map((m) => ev(`t${m}`, m * MIN)),
    annotated: [0, 0, 0, 0, 0],
    sessions: [expected('a1', [0, 30, 60, 90, 120].map((m) => ev(`t${m}`, m * MIN)))],
  },
  {
    name: 'maxDuration (2h): an event 2h + 1ms after the start starts a new session although within gap',
    events: [...[0, 30, 60, 90].map((m) => ev(`t${m}`, m * MIN)), ev('t120+1', 2 * HOUR + 1)],
    annotated: [0, 0, 0, 0, 2 * HOUR + 1],
    sessions: [expected('a1', [0, 30, 60, 90].map((m) => ev(`t${m}`, m * MIN))), expected('a1', [ev('t120+1', 2 * HOUR + 1)])],
  },
  {
    name: 'the same messageId twice is counted twice without dedupe',
    events: [E.m1, E.m1],
    annotated: [0, 0],
    sessions: [expected('a1', [E.m1, E.m1])],
  },
];

for (const c of cases) {
  test(`sessionize driver: ${c.name}`, async () => {
    const d = driver();
    d.pipe(c.events);
    assert.deepEqual(d.read('events'), c.events.map((e, i) => ({ ...e, sessionId: sid(c.annotated[i] as number) })));
    d.end();
    assert.deepEqual(sessionsOf(d.read('sessions')), c.sessions);
    assert.deepEqual(d.read('late'), []);
    assert.equal(d.store('sessionize', 'sessions').count(), 0);
    await d.close();
  });
}

test('sessionize driver: with dedupe before it, a duplicate is counted once', async () => {
  const d = driver(undefined, '  - dedupe: { ttl: 1h, output: duplicates }\n  - sessionize: { key: anonymousId, output: sessions }\n');
  d.pipe([E.m1, E.m1, E.m4]);
  d.end();
  assert.deepEqual(d.read('duplicates').map((r) => r.messageId), ['m1']);
  assert.deepEqual(d.read('sessions'), [expected('a1', [E.m1]), expected('a1', [E.m4])]);
  await d.close();
});

test('sessionize driver: a late event goes to the late output (counted), never into a session', async () => {
  const d = driver();
  d.pipe([ev('m1', 120 * MIN), ev('m2', 130 * MIN)]); // watermark 70m (allowedLateness 1h)
  d.pipe(ev('late1', 70 * MIN - 1)); // behind the watermark: late, although within gap of the session
  d.pipe(ev('ok', 100 * MIN)); // not late: extends the session backwards
  assert.deepEqual(d.read('late').map((r) => [r.messageId, r.watermark]), [['late1', 70 * MIN]]);
  assert.deepEqual(d.read('events').map((r) => [r.messageId, r.sessionId]), [['m1', sid(120 * MIN)], ['m2', sid(120 * MIN)], ['ok', sid(100 * MIN)]]);
  d.end();
  assert.deepEqual(d.read('sessions'), [expected('a1', [ev('m1', 120 * MIN), ev('m2', 130 * MIN), ev('ok', 100 * MIN)], [120 * MIN])]);
  const text = await d.metrics.registry.metrics();
  assert.match(text, /tributary_late_records_total\{pipeline="sessionize-test"\} 1/);
  assert.match(text, /tributary_step_records_in_total\{pipeline="sessionize-test",step="sessionize"\} 3/);
  await d.close();
});

test('sessionize driver: an event without the session key goes to dead-letter, named by step', async () => {
  const d = driver(undefined, '  - sessionize: { key: userId, output: sessions }\n');
  d.pipe([ev('m1', 0, { userId: 'u1' }), ev('m2', MIN)]);
  assert.deepEqual(d.read('events').map((r) => r.messageId), ['m1']);
  assert.deepEqual(d.read('dead-letter').map((r) => [r.reason, r.detail]), [['missing-key', 'steps[0].sessionize: none of the key fields userId is set']]);
  await d.close();
});

test('sessionize driver: closes when the watermark passes end + gap, not when it reaches it', async () => {
  const d = driver();
  d.pipe([E.m1, E.m2]);
  d.advanceWatermark(60 * MIN);
  assert.deepEqual(d.read('sessions'), []);
  d.advanceWatermark(60 * MIN + 1);
  assert.deepEqual(d.read('sessions'), [expected('a1', [E.m1, E.m2])]);
  // An event gap + 1ms after the closed session's end is a new session, not the old one reopened.
  d.pipe(ev('m9', 60 * MIN + 1));
  d.end();
  assert.deepEqual(d.read('sessions'), [expected('a1', [ev('m9', 60 * MIN + 1)])]);
  await d.close();
});

test('sessionize driver: the watermark moved by later events closes earlier sessions of every key', async () => {
  const d = driver();
  d.pipe([ev('a', 0, { anonymousId: 'k1' }), ev('b', 20 * MIN, { anonymousId: 'k2' }), ev('c', 95 * MIN, { anonymousId: 'k3' })]);
  assert.deepEqual(d.read('sessions').map((r) => r.key), ['k1'], 'watermark 35m: past k1 (0 + 30m), not k2 (20m + 30m)');
  d.pipe(ev('d', 111 * MIN, { anonymousId: 'k3' }));
  assert.deepEqual(d.read('sessions').map((r) => r.key), ['k2'], 'watermark 51m: past k2');
  d.end();
  assert.deepEqual(d.read('sessions').map((r) => [r.key, r.start, r.end]), [['k3', 95 * MIN, 111 * MIN]]);
  await d.close();
});

test('sessionize driver: closes on idle: with every partition silent, the watermark advances with processing time', async () => {
  const d = driver();
  d.pipe(E.m1); // watermark −1h (allowedLateness 1h)
  d.advanceTime(29_000);
  assert.equal(d.watermark(), -HOUR);
  // Idle from 30s (idleTimeout) on: watermark = −1h + processing time since the last event.
  d.advanceTime(90 * MIN - 29_000);
  assert.equal(d.watermark(), 30 * MIN);
  assert.deepEqual(d.read('sessions'), [], 'at end + gap the session is still open');
  d.advanceTime(1);
  assert.deepEqual(d.read('sessions'), [expected('a1', [E.m1])]);
  await d.close();
});

test('sessionize driver: end of input closes every open session', async () => {
  const d = driver();
  d.pipe([E.m1, ev('x', 5 * MIN, { anonymousId: 'a2' })]);
  assert.deepEqual(d.read('sessions'), []);
  d.end();
  assert.deepEqual(d.read('sessions'), [expected('a1', [E.m1]), expected('a2', [ev('x', 5 * MIN, { anonymousId: 'a2' })])]);
  await d.close();
});

/** 600 events over 6 keys: mostly in order, some out of order within lateness, some late, some duplicated. */
function stream(): TributaryEvent[] {
  const rand = rng(7);
  const out: TributaryEvent[] = [];
  let t = 0;
  for (let i = 0; i < 600; i++) {
    t += Math.floor(rand() * 8 * MIN);
    const jitter = rand() < 0.2 ? Math.floor(rand() * 75 * MIN) : 0; // > 1h: late
    const e = ev(`m${i}`, t - jitter, { anonymousId: `k${Math.floor(rand() * 6)}`, event: rand() < 0.1 ? 'add_to_cart' : 'product_viewed', context: { channel: rand() < 0.3 ? 'app' : 'web' } });
    out.push(e);
    if (rand() < 0.03) out.push({ ...e });
  }
  return out;
}

test('sessionize driver: a run stopped mid-stream and resumed from its LMDB store writes exactly the records of an uninterrupted run', async () => {
  const events = stream();
  const streams = ['events', 'sessions', 'late', 'dead-letter'];
  const reference = driver();
  reference.pipe(events).end();
  const want = Object.fromEntries(streams.map((s) => [s, reference.read(s)]));
  await reference.close();
  assert.ok((want.sessions?.length ?? 0) > 20 && (want.late?.length ?? 0) > 0, 'the stream has sessions and late events');
  assert.ok(want.sessions?.some((s) => (s.mergedFrom as string[]).length > 0), 'the stream has merges or backwards extensions');

  for (const cut of [1, 150, 333, 599]) {
    const dir = tempDir();
    const first = driver(dir);
    first.pipe(events.slice(0, cut));
    const got = Object.fromEntries(streams.map((s) => [s, first.read(s)]));
    const watermark = first.watermark();
    await first.close();
    const second = driver(dir);
    // The driver checkpoints its watermark with the state (as the embedded runner does), so the
    // events after the cut are classified late or not exactly as in the uninterrupted run.
    assert.equal(second.watermark(), watermark);
    second.pipe(events.slice(cut)).end();
    for (const s of streams) got[s]?.push(...second.read(s));
    await second.close();
    assert.deepEqual(got, want, `cut after ${cut} events`);
  }
});
