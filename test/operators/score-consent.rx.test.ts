import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { consentEvents } from '../../operators/consent.js';
import { scoreEvents } from '../../operators/score.js';
import { ev, MIN } from '../support/events.js';

test('score as an RxJS operator: annotates the events it can score, the others to the dead-letter output', async () => {
  const dead: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([ev('m1', 0, { properties: { price: 10 } }), ev('m2', MIN, { properties: {} }), ev('m3', 2 * MIN, { properties: { price: 4 } })]).pipe(
      scoreEvents({ field: 'scores.value', linear: { intercept: 1, coefficients: { 'properties.price': 0.5 } }, outputs: { 'dead-letter': (r) => dead.push(r) } }),
      toArray(),
    ),
  );
  assert.deepEqual(out.map((e) => [e.messageId, e.scores]), [['m1', { value: 6 }], ['m3', { value: 3 }]]);
  assert.deepEqual(dead.map((d) => [d.reason, d.detail]), [['score-missing-feature', 'feature properties.price is missing']]);
});

test('consent as an RxJS operator: every event of a key leaves with the merged consent in force at its time', async () => {
  const out = await firstValueFrom(
    from([
      ev('i1', 0, { userId: 'u1', context: { consent: { email: true, sms: true } } }),
      ev('i2', 2 * MIN, { userId: 'u1', context: { consent: { sms: false } } }),
      ev('v1', MIN, { userId: 'u1' }),
      ev('v2', 3 * MIN, { userId: 'u1', context: { channel: 'web' } }),
    ]).pipe(consentEvents({ key: 'userId', allowedLateness: '5m' }), toArray()),
  );
  assert.deepEqual(out.map((e) => [e.messageId, e.context]), [
    ['i1', { consent: { email: true, sms: true } }],
    ['i2', { consent: { email: true, sms: false } }],
    ['v1', { consent: { email: true, sms: true } }],
    ['v2', { channel: 'web', consent: { email: true, sms: false } }],
  ]);
});
