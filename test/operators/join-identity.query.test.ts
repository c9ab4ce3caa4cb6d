// GET /state/<joinIdentity step>/<key>: the person behind a typed identifier or a person id
// (an absorbed one resolves to its survivor), `{ personId, identifiers, firstSeen, absorbed }`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry, personIdFor } from '../../operators/index.js';
import { ev } from '../support/events.js';

const yaml = `
name: identity-query
source:
  key: [anonymousId, userId]
steps:
  - joinIdentity: { identifiers: [userId, anonymousId] }
`;

test('joinIdentity query: a person by identifier, by its id and by an id it absorbed; unknown keys → undefined', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  const p1 = personIdFor('anonymousId:a1');
  const p2 = personIdFor('anonymousId:a2');
  d.pipe([ev('m1', 1000, { anonymousId: 'a1' }), ev('m2', 2000, { anonymousId: 'a2' })]);
  assert.deepEqual(d.query('joinIdentity', 'anonymousId:a2'), { personId: p2, identifiers: ['anonymousId:a2'], firstSeen: 2000, absorbed: [] });

  // a1 signs in as u1 (u1 joins a1's person), then a2 signs in as u1: a2's person is absorbed
  // into a1's, which was seen first.
  d.pipe([ev('m3', 3000, { type: 'identify', anonymousId: 'a1', userId: 'u1' }), ev('m4', 4000, { type: 'identify', anonymousId: 'a2', userId: 'u1' })]);
  assert.deepEqual(d.read('identity-merges').map((r) => [r.status, r.personId, r.mergedPersonId]), [['merged', p1, p2]]);
  const person = { personId: p1, identifiers: ['anonymousId:a1', 'userId:u1', 'anonymousId:a2'], firstSeen: 1000, absorbed: [p2] };
  for (const key of ['userId:u1', 'anonymousId:a1', 'anonymousId:a2', p1, p2]) assert.deepEqual(d.query('joinIdentity', key), person, key);

  for (const key of ['u1', 'userId:u2', 'anonymousId:u1', 'p-00000000000000000000000000000000']) assert.equal(d.query('joinIdentity', key), undefined, key);
  d.end();
  assert.deepEqual(d.query('joinIdentity', 'userId:u1'), person, 'identity never expires');
  await d.close();
});

test('joinIdentity query: a long identifier value is found as written (the step stores it hashed)', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  const long = 'x'.repeat(300);
  d.pipe(ev('m1', 0, { anonymousId: long }));
  const hashed = `anonymousId#${createHash('sha256').update(long).digest('hex').slice(0, 32)}`;
  const expected = { personId: personIdFor(hashed), identifiers: [hashed], firstSeen: 0, absorbed: [] };
  assert.deepEqual(d.read('events').map((e) => e.personId), [expected.personId]);
  assert.deepEqual(d.query('joinIdentity', `anonymousId:${long}`), expected);
  assert.deepEqual(d.query('joinIdentity', hashed), expected);
  await d.close();
});
