import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { recordingContext } from '../../lib/testing/context.js';
import { ConsentLogic, consentOperator, type ConsentOptions, type ConsentState } from '../../operators/consent.js';
import { consentAt, flagsAt, record } from '../../operators/consent/state.js';
import { ev, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { putBackStores } from '../support/store-spy.js';

const setup = (options: ConsentOptions = {}) => {
  const ctx = recordingContext('consent');
  return { ctx, logic: new ConsentLogic(consentOperator.resolve(options), ctx), keys: ctx.stores.open<string, ConsentState>('consent.keys') };
};
const identify = (id: string, t: number, consent: Record<string, unknown>, personId = 'p1') => ev(id, t, { type: 'identify', event: null, personId, context: { consent } as never });
const view = (id: string, t: number, personId = 'p1') => ev(id, t, { personId });
const consentOf = (e: TributaryEvent | null) => e?.context?.consent;

test('consent in order: per channel the latest value wins, merged across events that carry some channels only', () => {
  const { logic } = setup();
  assert.deepEqual(consentOf(logic.process(view('v0', 0), 'p1')), undefined, 'nothing known yet: the event passes unchanged');
  assert.deepEqual(consentOf(logic.process(identify('i1', 10, { email: true, sms: true }), 'p1')), { email: true, sms: true });
  assert.deepEqual(consentOf(logic.process(view('v1', 20), 'p1')), { email: true, sms: true });
  assert.deepEqual(consentOf(logic.process(identify('i2', 30, { email: false }), 'p1')), { email: false, sms: true }, 'the sms flag is kept');
  assert.deepEqual(consentOf(logic.process(identify('i3', 40, { push: true }), 'p1')), { email: false, push: true, sms: true });
  assert.deepEqual(consentOf(logic.process(view('v2', 50), 'p1')), { email: false, push: true, sms: true });
  assert.deepEqual(consentOf(logic.process(view('x1', 50, 'p2'), 'p2')), undefined, 'keys are separate');
});

test('consent out of order: an older consent event arriving late does not override a newer one; each event gets the consent in force at its own time', () => {
  const { logic, keys } = setup();
  logic.process(identify('i2', 30, { email: false }), 'p1');
  // Older: email granted at 10 (overridden at 30 already), sms granted at 10 (new channel).
  assert.deepEqual(consentOf(logic.process(identify('i1', 10, { email: true, sms: true }), 'p1')), { email: true, sms: true }, 'in force at 10');
  assert.deepEqual(consentOf(logic.process(view('v1', 40), 'p1')), { email: false, sms: true }, 'the newer email value stands');
  assert.deepEqual(consentOf(logic.process(view('v0', 20), 'p1')), { email: true, sms: true }, 'an out-of-order event sees the consent of its time');
  assert.deepEqual(consentOf(logic.process(view('v-', 5), 'p1')), undefined, 'before any consent');
  assert.deepEqual(keys.get('p1'), { channels: [['email', [[10, true], [30, false]]], ['sms', [[10, true]]]] });
});

test('consent ties: two values of a channel at the same event time, the later arrival wins', () => {
  const { logic } = setup();
  logic.process(identify('i1', 10, { email: true }), 'p1');
  assert.deepEqual(consentOf(logic.process(identify('i2', 10, { email: false }), 'p1')), { email: false });
  assert.deepEqual(consentOf(logic.process(view('v1', 10), 'p1')), { email: false });
});

test('consent: non-boolean flags are ignored and counted invalid-consent; the event still passes, annotated with what is known', () => {
  const { ctx, logic } = setup();
  logic.process(identify('i1', 10, { email: true }), 'p1');
  const out = logic.process(identify('i2', 20, { email: 'no', sms: false }), 'p1');
  assert.deepEqual(consentOf(out), { email: true, sms: false });
  assert.deepEqual(consentOf(logic.process(ev('i3', 30, { personId: 'p1', context: { consent: 'none' as never } }), 'p1')), { email: true, sms: false }, 'a non-object is replaced by the merged consent');
  assert.deepEqual(ctx.counts, ['invalid-consent', 'invalid-consent']);
  assert.deepEqual([ctx.emitted, ctx.drops], [[], []]);
});

test('consent: from and field are configurable; other fields and the input event are not changed', () => {
  const { logic } = setup({ key: 'userId', from: 'traits.consent', field: 'consentNow' });
  const input = ev('i1', 10, { userId: 'u1', traits: { consent: { email: true } }, context: { channel: 'web', consent: { email: false } } });
  const out = logic.process(input, 'u1');
  assert.deepEqual(out, { ...input, consentNow: { email: true } });
  assert.deepEqual(input.context, { channel: 'web', consent: { email: false } });
  const annotated = setup().logic.process(identify('i1', 10, { email: true }), 'p1');
  assert.deepEqual(annotated?.context, { consent: { email: true } });
});

test('consent: a channel named like an Object.prototype property is an ordinary channel', () => {
  const { logic } = setup();
  const flags = JSON.parse('{"__proto__": true, "constructor": false}') as Record<string, boolean>;
  const out = consentOf(logic.process(identify('i1', 10, flags), 'p1'));
  assert.deepEqual(Object.entries(out ?? {}), [['__proto__', true], ['constructor', false]]);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
});

test('consent state: per channel only the latest value at or before the watermark and the later ones are kept', () => {
  const { ctx, logic, keys } = setup();
  logic.process(identify('i1', 10, { email: true }), 'p1');
  logic.process(identify('i2', 20, { email: false }), 'p1');
  logic.process(identify('i3', 40, { email: true, sms: true }), 'p1');
  assert.deepEqual(keys.get('p1')?.channels, [['email', [[10, true], [20, false], [40, true]]], ['sms', [[40, true]]]]);
  ctx.setWatermark(30); // no event before 30 can come: the value at 10 is in force at no later time
  logic.process(identify('i4', 50, { sms: false }), 'p1');
  assert.deepEqual(keys.get('p1')?.channels, [['email', [[20, false], [40, true]]], ['sms', [[40, true], [50, false]]]]);
  assert.deepEqual(consentOf(logic.process(view('v1', 30), 'p1')), { email: false }, 'the value kept answers for the watermark on');
});

test('consent out of order, 400 events: each event gets, per channel, the value of the latest consent event at or before its time among those that arrived before it; the latest values do not depend on the arrival order', () => {
  // 3 persons, events a minute apart, about a third with partial consent; the arrival order is
  // event time plus up to 5 minutes of jitter, the watermark 10 minutes behind (nothing is late).
  const rand = rng(11);
  const events: TributaryEvent[] = [];
  for (let i = 0; i < 400; i++) {
    const flags: Record<string, boolean> = {};
    for (const c of ['email', 'sms', 'push']) if (rand() < 0.15) flags[c] = rand() < 0.5;
    events.push(Object.keys(flags).length ? identify(`m${i}`, i * MIN, flags, `p${i % 3}`) : view(`m${i}`, i * MIN, `p${i % 3}`));
  }
  const jitter = new Map(events.map((e) => [e.messageId, e.timestamp + rand() * 5 * MIN]));
  const shuffled = [...events].sort((a, b) => (jitter.get(a.messageId) as number) - (jitter.get(b.messageId) as number));
  const run = (order: TributaryEvent[]) => {
    const { ctx, logic, keys } = setup();
    let max = -Infinity;
    const out = new Map<string, unknown>();
    for (const e of order) {
      assert.ok(e.timestamp >= max - 10 * MIN, 'not late');
      out.set(e.messageId, consentOf(logic.process(e, e.personId as string)));
      max = Math.max(max, e.timestamp);
      ctx.setWatermark(max - 10 * MIN);
    }
    const latest = ['p0', 'p1', 'p2'].map((p) => consentOperator.query?.(consentOperator.resolve({}), (n) => ctx.stores.open(`consent.${n}`), p, max));
    return { out, latest, stored: [...keys.range()].reduce((n, e) => n + e.value.channels.reduce((m, [, h]) => m + h.length, 0), 0) };
  };
  /** Independently: per channel, the latest (event time) value among the events that arrived before, at or before the event's time. */
  const expected = (order: TributaryEvent[]) => {
    const out = new Map<string, unknown>();
    order.forEach((e, i) => {
      const known = new Map<string, [number, boolean]>();
      for (const c of order.slice(0, i + 1)) {
        if (c.personId !== e.personId || c.timestamp > e.timestamp) continue;
        for (const [channel, granted] of Object.entries(c.context?.consent ?? {})) {
          if ((known.get(channel)?.[0] ?? -Infinity) <= c.timestamp) known.set(channel, [c.timestamp, granted]);
        }
      }
      out.set(e.messageId, known.size ? Object.fromEntries([...known].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([ch, [, g]]) => [ch, g])) : undefined);
    });
    return out;
  };
  const inOrder = run(events);
  const outOfOrder = run(shuffled);
  assert.deepEqual(inOrder.out, expected(events));
  assert.deepEqual(outOfOrder.out, expected(shuffled));
  const differs = events.filter((e) => JSON.stringify(inOrder.out.get(e.messageId)) !== JSON.stringify(outOfOrder.out.get(e.messageId))).length;
  assert.ok(differs > 0 && differs < 40, `an event that passed before an older consent event does not get it (${differs} events)`);
  assert.deepEqual(outOfOrder.latest, inOrder.latest);
  assert.ok(inOrder.latest.every((l) => l !== undefined));
  assert.ok(inOrder.stored < 3 * 3 * 3, `pruned to a few values per channel (${inOrder.stored} kept)`);
});

test('consent state: 5,000 random sequences of out-of-order, tied and repeated values, pruned at a moving watermark, answer as a model that keeps every value', () => {
  const rand = rng(3);
  for (let trial = 0; trial < 5000; trial++) {
    let state: ConsentState | undefined;
    const model = new Map<string, Array<[number, boolean]>>(); // every value, by time; a tie replaces
    let max = -Infinity;
    for (let k = 0; k < 10; k++) {
      const watermark = max - 3;
      const t = Math.max(Math.ceil(watermark), Math.floor(rand() * 12)); // never late
      const flags: Array<[string, boolean]> = [];
      for (const c of ['a', 'b']) if (rand() < 0.6) flags.push([c, rand() < 0.5]);
      state = record(state, t, flags, watermark) ?? state;
      for (const [c, g] of flags) {
        const h = model.get(c) ?? [];
        const i = h.findIndex(([x]) => x === t);
        if (i >= 0) h[i] = [t, g];
        else h.push([t, g]);
        model.set(c, h.sort((x, y) => x[0] - y[0]));
      }
      max = Math.max(max, t);
      for (let q = Math.max(0, Math.ceil(max - 3)); q <= 14; q++) {
        const want = [...model].sort(([x], [y]) => (x < y ? -1 : 1)).flatMap(([c, h]) => {
          const e = h.filter(([x]) => x <= q).pop();
          return e ? [[c, e[1]]] : [];
        });
        assert.deepEqual(consentAt(state, q).map(([c, g]) => [c, g]), want, `trial ${trial}, step ${k}, at ${q}`);
        // What an event is annotated with: the same, as the flags object (undefined: none).
        assert.deepEqual(Object.entries(flagsAt(state, q) ?? {}), want, `flags, trial ${trial}, step ${k}, at ${q}`);
        assert.equal(flagsAt(state, q) === undefined, want.length === 0);
      }
    }
  }
});

test('consent limits: channel names over 100 characters are invalid; a key keeps at most 64 channels, new ones beyond are counted and ignored', () => {
  const { ctx, logic, keys } = setup();
  const many = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`c${String(i).padStart(2, '0')}`, true]));
  logic.process(identify('i1', 10, { ...many, ['x'.repeat(101)]: true }), 'p1');
  assert.equal(keys.get('p1')?.channels.length, 64);
  assert.deepEqual(ctx.counts, ['invalid-consent', 'consent-channel-limit']);
  const out = consentOf(logic.process(identify('i2', 20, { c00: false, c69: false }), 'p1'));
  assert.equal(out?.c00, false, 'a known channel still changes');
  assert.equal(Object.hasOwn(out ?? {}, 'c69'), false);
  assert.deepEqual(ctx.counts, ['invalid-consent', 'consent-channel-limit', 'consent-channel-limit']);
});

test('consent changes a stored value only to put it back in the same call (immutableState: stores hand out their own objects); the same events as with copying stores', () => {
  assert.equal(consentOperator.immutableState, true);
  const rand = rng(11);
  const events: TributaryEvent[] = [];
  for (let i = 0; i < 400; i++) {
    const t = i * 10 - Math.floor(rand() * 60); // out of order by up to 6 events
    const person = `p${Math.floor(rand() * 4)}`;
    const flags: Record<string, boolean> = {};
    for (const c of ['email', 'sms', 'push']) if (rand() < 0.4) flags[c] = rand() < 0.5;
    events.push(rand() < 0.7 ? identify(`i${i}`, t, flags, person) : view(`v${i}`, t, person));
  }
  const run = (stores?: ReturnType<typeof putBackStores>) => {
    const ctx = recordingContext('consent', stores?.stores);
    const logic = new ConsentLogic(consentOperator.resolve({}), ctx);
    let watermark = -Infinity;
    return events.map((e) => {
      watermark = Math.max(watermark, e.timestamp - 40);
      ctx.setWatermark(watermark);
      const out = logic.process(e, e.personId as string);
      stores?.check();
      return consentOf(out);
    });
  };
  const copying = run();
  const inPlace = run(putBackStores());
  assert.deepEqual(inPlace, copying);
  assert.ok(copying.filter((c) => c !== undefined).length > 300, 'most events carry merged consent');
});
