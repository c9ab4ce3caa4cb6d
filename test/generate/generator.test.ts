import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EVENT_TYPES } from '../../lib/event/event.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import {
  DEFAULT_START, Random, WeightedTable, generateEvents, generateWithStats, writeEventsNdjson,
} from '../../lib/generate/index.js';
import type { GenerateOptions, GenerateStats } from '../../lib/generate/index.js';

function collect(options: GenerateOptions): { events: TributaryEvent[]; stats: GenerateStats } {
  const { events, stats } = generateWithStats(options);
  return { events: [...events], stats };
}

function hashStream(options: GenerateOptions, limit = Infinity): string {
  const h = createHash('sha256');
  let n = 0;
  for (const e of generateEvents(options)) {
    h.update(JSON.stringify(e));
    h.update('\n');
    if (++n >= limit) break;
  }
  return h.digest('hex');
}

/** Observed disorder classification, independent of the generator's own bookkeeping. */
function observe(events: readonly TributaryEvent[], lateByMs: number) {
  const seen = new Set<string>();
  let maxSeen = -Infinity;
  let duplicates = 0;
  let outOfOrder = 0;
  let late = 0;
  const disorders: number[] = [];
  for (const e of events) {
    if (seen.has(e.messageId)) duplicates++;
    else {
      seen.add(e.messageId);
      if (e.timestamp < maxSeen - lateByMs) late++;
      else if (e.timestamp < maxSeen) {
        outOfOrder++;
        disorders.push(maxSeen - e.timestamp);
      }
    }
    maxSeen = Math.max(maxSeen, e.timestamp);
  }
  return { duplicates, outOfOrder, late, disorders, distinct: seen.size };
}

const base = collect({ events: 20_000, seed: 42 });

test('same seed gives an identical stream; another seed a different one', () => {
  const a = hashStream({ events: 20_000, seed: 42 });
  const b = hashStream({ events: 20_000, seed: 42 });
  const c = hashStream({ events: 20_000, seed: 43 });
  assert.equal(a, b);
  assert.notEqual(a, c);
  // Also equal to the materialised stream built at module load.
  const h = createHash('sha256');
  for (const e of base.events) h.update(JSON.stringify(e) + '\n');
  assert.equal(h.digest('hex'), a);
  // A prefix of a longer stream is not required to match, but the first events of two runs are.
  assert.equal(hashStream({ events: 1_000_000, seed: 5 }, 500), hashStream({ events: 1_000_000, seed: 5 }, 500));
});

test('yields exactly the requested number of events, duplicates included', () => {
  for (const events of [0, 1, 2, 7, 999, 12_345]) {
    let n = 0;
    for (const _ of generateEvents({ events, seed: events })) n++;
    assert.equal(n, events, `events: ${events}`);
  }
  const heavy = collect({ events: 5_000, seed: 1, duplicateRate: 0.5, outOfOrderRate: 0.2, lateRate: 0.1 });
  assert.equal(heavy.events.length, 5_000);
  assert.equal(heavy.stats.events, 5_000);
  assert.equal(base.events.length, 20_000);
  assert.equal(base.stats.events, 20_000);
});

test('generator return value is the final stats', () => {
  const it = generateEvents({ events: 300, seed: 9 });
  let r = it.next();
  let n = 0;
  while (r.done !== true) {
    n++;
    r = it.next();
  }
  assert.equal(n, 300);
  assert.equal(r.value.events, 300);
});

test('duplicates: injected count equals repeated messageIds, with identical content, after the original', () => {
  const first = new Map<string, string>();
  let repeats = 0;
  for (const e of base.events) {
    const json = JSON.stringify(e);
    const prior = first.get(e.messageId);
    if (prior === undefined) first.set(e.messageId, json);
    else {
      repeats++;
      assert.equal(json, prior, `duplicate ${e.messageId} differs from the original`);
    }
  }
  assert.equal(base.stats.duplicates, repeats);
  assert.ok(repeats > 20_000 * 0.006 && repeats < 20_000 * 0.014, `duplicates ${repeats}`);
  // messageIds are deterministic from the seed.
  assert.ok(base.events.every((e) => /^g-42-\d+$/.test(e.messageId)));
  const sum = Object.values(base.stats.eventCounts).reduce((a, b) => a + b, 0);
  assert.equal(sum + base.stats.duplicates, base.stats.events);
  assert.equal(first.size, sum);
});

test('a duplicate is a copy: annotating the original in place does not change it', () => {
  const seen = new Map<string, TributaryEvent>();
  for (const e of generateEvents({ events: 5_000, seed: 3, duplicateRate: 0.2 })) {
    const prior = seen.get(e.messageId);
    if (prior !== undefined) {
      assert.equal(e.personId, undefined);
      assert.notEqual(e, prior);
    }
    e.personId = 'annotated';
    seen.set(e.messageId, e);
  }
});

test('out-of-order and late arrivals are near the configured rates (defaults)', () => {
  const n = 100_000;
  const { events, stats } = collect({ events: n, seed: 11 });
  const o = observe(events, 600_000);
  assert.equal(o.duplicates, stats.duplicates);
  assert.equal(o.outOfOrder, stats.outOfOrder);
  assert.equal(o.late, stats.late);
  assert.ok(Math.abs(o.outOfOrder / n - 0.05) < 0.01, `out-of-order ${o.outOfOrder / n}`);
  assert.ok(Math.abs(o.late / n - 0.002) < 0.0008, `late ${o.late / n}`);
  assert.ok(Math.abs(o.duplicates / n - 0.01) < 0.003, `duplicates ${o.duplicates / n}`);
  // Out-of-order disorder stays within maxDisorderMs (30s) for nearly all of them (a
  // late-intended event that overtook too little traffic may show a bigger, sub-late disorder).
  const within = o.disorders.filter((d) => d <= 30_000).length;
  assert.ok(within / o.disorders.length > 0.98, `within bound ${within}/${o.disorders.length}`);
  assert.ok(stats.maxBuffered < 1_000, `maxBuffered ${stats.maxBuffered}`);
});

test('custom rates and bounds are honoured, also in a sparse stream', () => {
  const n = 30_000;
  const opts = { events: n, seed: 12, outOfOrderRate: 0.1, maxDisorderMs: 5_000, lateRate: 0.01, lateByMs: 60_000, duplicateRate: 0.03 };
  const { events, stats } = collect(opts);
  const o = observe(events, 60_000);
  assert.equal(o.duplicates, stats.duplicates);
  assert.equal(o.late, stats.late);
  assert.equal(o.outOfOrder, stats.outOfOrder);
  assert.ok(Math.abs(o.outOfOrder / n - 0.1) < 0.015, `out-of-order ${o.outOfOrder / n}`);
  assert.ok(Math.abs(o.late / n - 0.01) < 0.003, `late ${o.late / n}`);
  assert.ok(Math.abs(o.duplicates / n - 0.03) < 0.006, `duplicates ${o.duplicates / n}`);
  const within = o.disorders.filter((d) => d <= 5_000).length;
  assert.ok(within / o.disorders.length > 0.95, `within bound ${within}/${o.disorders.length}`);

  // Few events over many customers: traffic is thin, the rates still hold.
  const sparse = collect({ events: 20_000, seed: 13, customers: 5_000 });
  const s = observe(sparse.events, 600_000);
  assert.ok(Math.abs(s.outOfOrder / 20_000 - 0.05) < 0.012, `sparse out-of-order ${s.outOfOrder / 20_000}`);
  assert.ok(s.late >= 20 && s.late <= 65, `sparse late ${s.late}`);

  // No disorder at all when every rate is 0: arrival order is event-time order.
  const clean = collect({ events: 10_000, seed: 14, duplicateRate: 0, outOfOrderRate: 0, lateRate: 0 });
  for (let i = 1; i < clean.events.length; i++) {
    assert.ok((clean.events[i] as TributaryEvent).timestamp >= (clean.events[i - 1] as TributaryEvent).timestamp);
  }
  assert.equal(clean.stats.duplicates + clean.stats.outOfOrder + clean.stats.late, 0);
});

const CHANNELS = new Set(['web', 'app', 'email', 'store']);

test('every event is a valid canonical event', () => {
  for (const e of base.events) {
    const where = JSON.stringify(e);
    assert.equal(typeof e.messageId, 'string', where);
    assert.ok(EVENT_TYPES.includes(e.type), where);
    if (e.type === 'track') assert.ok(typeof e.event === 'string' && e.event.length > 0, where);
    assert.ok(Number.isInteger(e.timestamp) && Number.isFinite(e.timestamp), where);
    assert.ok(e.timestamp >= DEFAULT_START && e.timestamp < DEFAULT_START + 120 * 86_400_000, where);
    assert.ok(e.userId === null || typeof e.userId === 'string', where);
    assert.ok(e.anonymousId === null || typeof e.anonymousId === 'string', where);
    assert.ok(e.userId !== null || e.anonymousId !== null, where);
    const ctx = e.context;
    assert.ok(ctx !== undefined && typeof ctx.channel === 'string' && CHANNELS.has(ctx.channel), where);
    assert.ok(ctx.consent !== undefined && typeof ctx.consent.email === 'boolean' && typeof ctx.consent.push === 'boolean', where);
    if (e.type === 'alias') assert.ok(typeof e.previousId === 'string' && typeof e.userId === 'string', where);
    if (e.type === 'identify') {
      assert.ok(typeof e.userId === 'string' && typeof e.anonymousId === 'string', where);
      assert.equal(typeof (e.traits as { email?: unknown }).email, 'string', where);
    }
    if (e.event === 'email_clicked') {
      assert.equal(ctx.channel, 'email', where);
      assert.ok(e.userId !== null && e.anonymousId === null, where);
    }
    if (e.event === 'store_visit') {
      assert.equal(ctx.channel, 'store', where);
      assert.ok(e.userId !== null && e.anonymousId === null, where);
    }
    if (ctx.channel === 'web' || ctx.channel === 'app') assert.ok(e.anonymousId !== null || e.type === 'alias', where);
    if (e.event === 'product_viewed' || e.event === 'add_to_cart') {
      const p = e.properties as Record<string, unknown>;
      assert.ok(typeof p.productId === 'string' && typeof p.category === 'string' && typeof p.price === 'number', where);
    }
    if (e.event === 'purchase') {
      const p = e.properties as Record<string, unknown>;
      assert.ok(typeof p.orderId === 'string' && typeof p.revenue === 'number' && (p.revenue as number) > 0, where);
      assert.ok(Array.isArray(p.products) && p.products.length > 0, where);
      const sum = (p.products as { price: number; quantity: number }[]).reduce((a, x) => a + x.price * x.quantity, 0);
      assert.ok(Math.abs(sum - (p.revenue as number)) < 0.01, where);
    }
  }
});

test('the stream has the expected content: names, channels, journeys, popularity', () => {
  const counts = base.stats.eventCounts;
  for (const name of ['page', 'screen', 'identify', 'alias', 'product_viewed', 'products_searched', 'add_to_cart',
    'remove_from_cart', 'checkout_started', 'purchase', 'email_clicked', 'store_visit', 'consent_updated']) {
    assert.ok((counts[name] ?? 0) > 0, `no ${name}`);
  }
  const total = 20_000 - base.stats.duplicates;
  assert.ok((counts.product_viewed ?? 0) / total > 0.25);
  assert.ok((counts.add_to_cart ?? 0) > (counts.purchase ?? 0));
  assert.ok((counts.alias ?? 0) / total < 0.01);

  const channels = new Set(base.events.map((e) => e.context?.channel));
  assert.deepEqual([...channels].sort(), ['app', 'email', 'store', 'web']);

  // Zipf-like product popularity: the most viewed product is far above the median one.
  const views = new Map<string, number>();
  for (const e of base.events) {
    if (e.event === 'product_viewed') {
      const id = (e.properties as { productId: string }).productId;
      views.set(id, (views.get(id) ?? 0) + 1);
    }
  }
  const sorted = [...views.values()].sort((a, b) => b - a);
  assert.ok((sorted[0] as number) > 10 * (sorted[Math.floor(sorted.length / 2)] as number));

  // Consent changes: some user's flags differ between two of their events.
  const consentByUser = new Map<string, Set<string>>();
  for (const e of base.events) {
    if (e.userId === null) continue;
    const set = consentByUser.get(e.userId) ?? new Set<string>();
    set.add(JSON.stringify(e.context?.consent));
    consentByUser.set(e.userId, set);
  }
  assert.ok([...consentByUser.values()].some((s) => s.size > 1));

  // Abandoned carts: some anonymousId adds to cart and never purchases.
  const added = new Set<string>();
  const bought = new Set<string>();
  for (const e of base.events) {
    if (e.anonymousId === null) continue;
    if (e.event === 'add_to_cart') added.add(e.anonymousId);
    if (e.event === 'purchase') bought.add(e.anonymousId);
  }
  assert.ok([...added].filter((a) => !bought.has(a)).length > 0);

  assert.equal(base.stats.customers, 500);
  assert.ok(base.stats.sessions > 500 && base.stats.sessions < 20_000 / 2);
});

test('identities: identify links an anonymousId seen earlier anonymously; later events carry both ids', () => {
  const sorted = [...new Map(base.events.map((e) => [e.messageId, e])).values()].sort((a, b) => a.timestamp - b.timestamp);
  const firstAnonymous = new Map<string, number>();
  const identified = new Map<string, { userId: string; at: number }>();
  const users = new Set<string>();
  let identifies = 0;
  let aliases = 0;
  for (const e of sorted) {
    if (e.type === 'identify') {
      identifies++;
      const anon = e.anonymousId as string;
      const first = firstAnonymous.get(anon);
      assert.ok(first !== undefined && first < e.timestamp, `identify ${e.messageId} of an unseen anonymousId ${anon}`);
      const prior = identified.get(anon);
      assert.ok(prior === undefined || prior.userId === e.userId, 'a device identifies one user');
      identified.set(anon, { userId: e.userId as string, at: e.timestamp });
      users.add(e.userId as string);
    } else if (e.type === 'alias') {
      aliases++;
      assert.notEqual(e.previousId, e.userId);
    } else if (e.anonymousId !== null) {
      const id = identified.get(e.anonymousId);
      if (id === undefined) {
        assert.equal(e.userId, null, `${e.messageId}: userId before the device was identified`);
        if (!firstAnonymous.has(e.anonymousId)) firstAnonymous.set(e.anonymousId, e.timestamp);
      } else {
        assert.equal(e.userId, id.userId, `${e.messageId}: an identified device's event without its userId`);
      }
    }
  }
  assert.ok(identifies > 100, `identifies ${identifies}`);
  assert.ok(aliases > 0);
  // Users seen on several devices (cross-device journeys).
  const devicesPerUser = new Map<string, number>();
  for (const { userId } of identified.values()) devicesPerUser.set(userId, (devicesPerUser.get(userId) ?? 0) + 1);
  assert.ok([...devicesPerUser.values()].some((n) => n > 1));
  assert.ok([...devicesPerUser.values()].every((n) => n <= 3));
});

test('options: start, customers and validation', () => {
  const start = Date.UTC(2025, 5, 1);
  const { events, stats } = collect({ events: 2_000, seed: 2, start, customers: 10 });
  assert.ok(events.every((e) => e.timestamp >= start));
  assert.ok(stats.customers <= 10);
  const users = new Set(events.filter((e) => e.type === 'identify').map((e) => e.userId));
  assert.ok(users.size <= 10);
  assert.throws(() => generateEvents({ events: -1, seed: 1 }), RangeError);
  assert.throws(() => generateEvents({ events: 1.5, seed: 1 }), RangeError);
  assert.throws(() => generateEvents({ events: 10, seed: Number.NaN }), RangeError);
  assert.throws(() => generateEvents({ events: 10, seed: 1, duplicateRate: 2 }), RangeError);
  assert.throws(() => generateEvents({ events: 10, seed: 1, customers: 0 }), RangeError);
});

test('memory stays bounded while streaming 300k events', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const baseline = process.memoryUsage().heapUsed;
  const samples: number[] = [];
  const { events, stats } = generateWithStats({ events: 300_000, seed: 21 });
  let n = 0;
  for (const e of events) {
    if (e.timestamp < 0) throw new Error('unreachable');
    if (++n % 50_000 === 0) {
      gc();
      samples.push(process.memoryUsage().heapUsed - baseline);
    }
  }
  const mb = samples.map((b) => Math.round(b / 1e6));
  assert.equal(n, 300_000);
  // Live memory is O(customers): flat as the stream goes on, far below materialising it.
  assert.ok(Math.max(...samples) < 80e6, `heap growth MB ${mb.join(' ')}`);
  assert.ok((samples[samples.length - 2] as number) - (samples[0] as number) < 15e6, `heap growth MB ${mb.join(' ')}`);
  assert.ok(stats.maxBuffered < 1_000, `maxBuffered ${stats.maxBuffered}`);
});

test('writeEventsNdjson writes one JSON line per event with backpressure', async () => {
  const chunks: string[] = [];
  let drains = 0;
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      setImmediate(cb);
    },
  });
  slow.on('drain', () => drains++);
  const n = await writeEventsNdjson(generateEvents({ events: 3_000, seed: 4 }), slow, { end: true, batchChars: 4096 });
  assert.equal(n, 3_000);
  assert.ok(drains > 0, 'backpressure was exercised');
  assert.ok(slow.writableFinished);
  const lines = chunks.join('').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 3_000);
  const expected = [...generateEvents({ events: 3_000, seed: 4 })];
  assert.deepEqual(lines.map((l) => JSON.parse(l) as unknown), JSON.parse(JSON.stringify(expected)) as unknown);

  // Async sources work too, and a failing output rejects.
  async function* some() {
    yield* generateEvents({ events: 10, seed: 1 });
  }
  const sink: string[] = [];
  const ok = new Writable({ write(c: Buffer, _e, cb) { sink.push(c.toString()); cb(); } });
  assert.equal(await writeEventsNdjson(some(), ok), 10);
  assert.equal(sink.join('').split('\n').length, 11);
  const broken = new Writable({ highWaterMark: 16, write(_c, _e, cb) { cb(new Error('disk full')); } });
  await assert.rejects(writeEventsNdjson(generateEvents({ events: 5_000, seed: 1 }), broken, { batchChars: 64 }), /disk full/);
});

test('Random: deterministic, in range; WeightedTable follows its weights', () => {
  const a = new Random(1);
  const b = new Random(1);
  const c = new Random(2);
  const xs = Array.from({ length: 100 }, () => a.uint32());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b.uint32()));
  assert.notDeepEqual(xs, Array.from({ length: 100 }, () => c.uint32()));
  let sum = 0;
  for (let i = 0; i < 10_000; i++) {
    const x = a.next();
    assert.ok(x >= 0 && x < 1);
    const k = a.int(3, 5);
    assert.ok(k >= 3 && k <= 5 && Number.isInteger(k));
    sum += a.exponential(2);
  }
  assert.ok(Math.abs(sum / 10_000 - 2) < 0.15);
  assert.equal(a.hex(16).length, 16);
  const table = new WeightedTable([1, 0, 3]);
  const hits = [0, 0, 0];
  for (let i = 0; i < 8_000; i++) (hits[table.sample(a)] as number)++;
  assert.equal(hits[1], 0);
  assert.ok(Math.abs((hits[2] as number) / 8_000 - 0.75) < 0.03);
  assert.throws(() => a.pick([]), RangeError);
});
