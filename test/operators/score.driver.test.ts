import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { ev, MIN } from '../support/events.js';

const yaml = `
name: score-test
source:
  key: [userId]
  allowedLateness: 10m
steps:
  - windowAggregate:
      key: userId
      window: { sliding: 1h }
      aggregates:
        spent: { sum: properties.price }
        carts: { count: {}, where: { event: add_to_cart } }
      annotate: features
  - score:
      field: scores.risk
      logistic: { intercept: -2, coefficients: { features.carts: 1, features.spent: -0.01 } }
  - trigger:
      key: userId
      rules:
        - name: at-risk
          segment: { condition: { scores.risk: { $gte: 0.5 } }, on: both }
      output: risk-changes
`;
const sigma = (z: number) => 1 / (1 + Math.exp(-z));
const cart = (id: string, t: number, price?: unknown) => ev(id, t, { event: 'add_to_cart', userId: 'u1', anonymousId: null, properties: price === undefined ? {} : { price } });
const buy = (id: string, t: number, price: unknown) => ev(id, t, { event: 'purchase', userId: 'u1', anonymousId: null, properties: { price } });

const run = (events: TributaryEvent[]) => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe(events).end();
  const out = {
    scores: Object.fromEntries(d.read('events').map((e) => [e.messageId, (e.scores as { risk: number }).risk])),
    changes: d.read('risk-changes').map((r) => [r.transition, r.firedAt, r.causes]),
    late: d.read('late').map((e) => e.messageId),
    dead: d.read('dead-letter').map((e) => [e.reason, e.detail, JSON.parse(e.raw as string).messageId, e.source]),
  };
  return out;
};

test('score in a pipeline: features → score → segment trigger; entry and exit in event time', () => {
  const got = run([cart('c1', 0, 10), cart('c2', MIN, 10), cart('c3', 2 * MIN, 10), buy('b1', 3 * MIN, 200)]);
  assert.deepEqual(got.scores, { c1: sigma(-2 + 1 + -0.01 * 10), c2: sigma(-2 + 2 + -0.01 * 20), c3: sigma(-2 + 3 + -0.01 * 30), b1: sigma(-2 + 3 + -0.01 * 230) });
  assert.deepEqual(got.changes, [['entry', 2 * MIN, ['c3']], ['exit', 3 * MIN, ['b1']]]);
  assert.deepEqual([got.late, got.dead], [[], []]);
});

test('score in a pipeline, out of order: each event is scored on the features it carries (windowAggregate annotates what it knows when the event passes); a late event goes to late unscored', () => {
  const got = run([cart('c1', 0, 10), cart('c3', 2 * MIN, 10), cart('c2', MIN, 10), buy('b1', 3 * MIN, 200), cart('old', -20 * MIN, 1)]);
  // c3 passes before c2 arrived: its features are c1 and c3; c2's window (−1h, 1m] holds c1 and c2.
  assert.deepEqual(got.scores, { c1: sigma(-2 + 1 + -0.01 * 10), c3: sigma(-2 + 2 + -0.01 * 20), c2: sigma(-2 + 2 + -0.01 * 20), b1: sigma(-2 + 3 + -0.01 * 230) });
  assert.deepEqual(got.changes, [], 'no event carried three carts and 30 spent');
  assert.deepEqual([got.late, got.dead], [['old'], []]);
});

test('score in a pipeline: an event without a feature, or with a non-numeric one, is a dead letter with its reason and the step; the others go on', () => {
  const d = TestDriver.fromYaml(yaml.replace("features.spent: -0.01 }", "features.spent: -0.01, properties.discount: 2 }"), { registry: defaultRegistry });
  d.pipe([
    ev('a', 0, { event: 'add_to_cart', userId: 'u1', anonymousId: null, properties: { price: 1, discount: 0.5 } }),
    ev('b', MIN, { event: 'add_to_cart', userId: 'u1', anonymousId: null, properties: { price: 1 } }),
    ev('c', 2 * MIN, { event: 'add_to_cart', userId: 'u1', anonymousId: null, properties: { price: 1, discount: 'ten' } }),
  ]).end();
  assert.deepEqual(d.read('events').map((e) => [e.messageId, (e.scores as { risk: number }).risk]), [['a', sigma(-2 + 1 + -0.01 * 1 + 2 * 0.5)]]);
  assert.deepEqual(d.read('dead-letter').map((e) => [e.reason, e.detail, e.source]), [
    ['score-missing-feature', 'feature properties.discount is missing', 'step score'],
    ['score-invalid-feature', 'feature properties.discount is "ten", not a finite number', 'step score'],
  ]);
});
