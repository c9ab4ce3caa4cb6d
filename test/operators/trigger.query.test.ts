// GET /state/<trigger step>/<key>: pending absence instances, sequence and threshold progress,
// segment membership, cooldowns, the frequency cap's records and consent, read through the test
// driver; fired instances and expired facts are gone, and a key with nothing left → undefined.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveId } from '../../lib/operator/ids.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { ev, HOUR, MIN } from '../support/events.js';

const DAY = 24 * HOUR;
const yaml = `
name: trigger-query
source:
  key: [anonymousId, userId]
  allowedLateness: 10m
steps:
  - trigger:
      key: anonymousId
      rules:
        - name: cart-abandoned
          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
          cooldown: 24h
        - name: checkout
          sequence: { first: { event: add_to_cart }, then: { event: purchase }, within: 1h }
        - name: viewed-2
          threshold: { match: { event: product_viewed }, count: 2, within: 1h, per: properties.productId }
        - name: gold
          segment: { condition: { properties.tier: gold }, where: { properties.tier: { $exists: true } } }
      frequencyCap: { max: 5, per: 1d }
      consent: { field: context.consent, flag: marketing }
      output: campaign-triggers
`;

test('trigger query: every kind of rule state of a key, exactly; after the absence fires its instance is gone and the cooldown and cap show', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe([
    ev('c1', 0, { event: 'add_to_cart', context: { consent: { marketing: true } } }),
    ev('v1', MIN, { properties: { productId: 'sku-9' } }),
    ev('t1', 2 * MIN, { event: 'tier_changed', properties: { tier: 'gold' } }),
  ]);
  const gold = { triggerId: deriveId('trigger', 'gold', 'a1', 't1', 'entry'), firedAt: 2 * MIN };
  assert.deepEqual(d.read('campaign-triggers').map((r) => ({ triggerId: r.triggerId, firedAt: r.firedAt })), [gold]);
  const checkout = { name: 'checkout', kind: 'sequence', firsts: [{ messageId: 'c1', timestamp: 0, expiresAt: HOUR }] };
  const viewed = { name: 'viewed-2', kind: 'threshold', matches: [{ per: 'sku-9', events: [{ messageId: 'v1', timestamp: MIN, expiresAt: MIN + HOUR }] }] };
  const segment = { name: 'gold', kind: 'segment', segment: { inside: true, since: 2 * MIN } };
  const consent = { timestamp: 0, flags: { marketing: true } };
  assert.deepEqual(d.query('trigger', 'a1'), {
    key: 'a1',
    rules: [{ name: 'cart-abandoned', kind: 'absence', pending: [{ messageId: 'c1', timestamp: 0, firesAt: 30 * MIN }] }, checkout, viewed, segment],
    frequencyCap: { max: 5, sent: [{ ...gold, expiresAt: 2 * MIN + DAY }] },
    consent,
  });
  assert.equal(d.query('trigger', 'nobody'), undefined);

  d.advanceWatermark(30 * MIN + 1); // the cart fires
  const cart = { triggerId: deriveId('trigger', 'cart-abandoned', 'a1', 'c1'), firedAt: 30 * MIN };
  assert.deepEqual(d.read('campaign-triggers').map((r) => ({ triggerId: r.triggerId, firedAt: r.firedAt })), [cart]);
  assert.deepEqual(d.query('trigger', 'a1'), {
    key: 'a1',
    rules: [{ name: 'cart-abandoned', kind: 'absence', cooldown: { lastFiredAt: 30 * MIN, until: 30 * MIN + DAY } }, checkout, viewed, segment],
    frequencyCap: { max: 5, sent: [{ ...gold, expiresAt: 2 * MIN + DAY }, { ...cart, expiresAt: 30 * MIN + DAY }] },
    consent,
  });

  // Past every expiry: what expires is gone (before the step's cleanup rewrote the key), consent
  // and segment membership stay.
  d.advanceWatermark(30 * MIN + DAY + 1);
  assert.deepEqual(d.query('trigger', 'a1'), { key: 'a1', rules: [segment], consent });
  await d.close();
});

test('trigger query: a key whose only state was a pending cart and a sequence start is gone once the cart fired and the start expired', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe(ev('c2', 0, { anonymousId: 'a2', event: 'add_to_cart' }));
  assert.deepEqual(d.query('trigger', 'a2'), {
    key: 'a2',
    rules: [
      { name: 'cart-abandoned', kind: 'absence', pending: [{ messageId: 'c2', timestamp: 0, firesAt: 30 * MIN }] },
      { name: 'checkout', kind: 'sequence', firsts: [{ messageId: 'c2', timestamp: 0, expiresAt: HOUR }] },
    ],
  });
  d.advanceWatermark(30 * MIN + 1);
  assert.deepEqual(d.read('campaign-triggers'), [], 'no consent known: suppressed, so no cooldown starts');
  assert.deepEqual(d.query('trigger', 'a2'), { key: 'a2', rules: [{ name: 'checkout', kind: 'sequence', firsts: [{ messageId: 'c2', timestamp: 0, expiresAt: HOUR }] }] });
  d.advanceWatermark(HOUR + 1);
  assert.equal(d.query('trigger', 'a2'), undefined);
  assert.equal(d.store('trigger', 'keys').count(), 0);
  await d.close();
});

test('trigger query: a purchase cancels the pending cart and fires the sequence; out-of-order purchases wait in thens', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe([ev('b0', 20 * MIN, { anonymousId: 'a3', event: 'purchase', context: { consent: { marketing: true } } })]);
  assert.deepEqual(d.query('trigger', 'a3'), {
    key: 'a3',
    rules: [{ name: 'checkout', kind: 'sequence', thens: [{ messageId: 'b0', timestamp: 20 * MIN }] }],
    consent: { timestamp: 20 * MIN, flags: { marketing: true } },
  });
  d.pipe(ev('c3', 15 * MIN, { anonymousId: 'a3', event: 'add_to_cart' })); // before the purchase: cancelled at once, and completes the sequence
  assert.deepEqual(d.read('campaign-triggers').map((r) => [r.rule, r.firedAt, r.causes]), [['checkout', 20 * MIN, ['c3', 'b0']]]);
  const sent = [{ triggerId: deriveId('trigger', 'checkout', 'a3', 'b0'), firedAt: 20 * MIN, expiresAt: 20 * MIN + DAY }];
  assert.deepEqual(d.query('trigger', 'a3'), {
    key: 'a3',
    rules: [{ name: 'checkout', kind: 'sequence', firsts: [{ messageId: 'c3', timestamp: 15 * MIN, expiresAt: 15 * MIN + HOUR }] }],
    frequencyCap: { max: 5, sent },
    consent: { timestamp: 20 * MIN, flags: { marketing: true } },
  });
  await d.close();
});
