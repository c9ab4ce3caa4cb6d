import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { generateEvents } from '../../lib/generate/index.js';
import { deriveId } from '../../lib/operator/ids.js';
import { pipeline } from '../../lib/pipeline/builder.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { personIdFor } from '../../operators/join-identity.js';
import { tempDir } from '../support/tmp.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
type Ids = { userId?: string; anonymousId?: string };
const track = (m: string, t: number, ids: Ids): TributaryEvent => ({
  messageId: m, type: 'track', event: 'product_viewed', userId: ids.userId ?? null, anonymousId: ids.anonymousId ?? null, timestamp: T0 + t,
});
const identify = (m: string, t: number, userId: string, anonymousId: string): TributaryEvent => ({
  messageId: m, type: 'identify', userId, anonymousId, timestamp: T0 + t, traits: { email: `${userId}@example.com` },
});
const alias = (m: string, t: number, userId: string, previousId: string): TributaryEvent => ({
  messageId: m, type: 'alias', userId, anonymousId: null, previousId, timestamp: T0 + t,
});
const P = (id: string) => personIdFor(id);

const yaml = (extra = '') => `
name: identity-test
source:
  allowedLateness: 5m
steps:
  - joinIdentity: { identifiers: [userId, anonymousId], output: identity-merges${extra} }
`;
const driver = (stateDir?: string, text = yaml()) => TestDriver.fromYaml(text, { registry: defaultRegistry, stateDir });

/** Two devices of u1, the family laptop shared with u2, then an alias of u2 to u1. */
const journey: TributaryEvent[] = [
  track('m1', 0, { anonymousId: 'phone' }),
  track('m2', 1 * MIN, { anonymousId: 'laptop' }),
  identify('m3', 2 * MIN, 'u1', 'laptop'),
  track('m4', 3 * MIN, { anonymousId: 'phone', userId: 'u1' }), // a second device: phone's person (older) survives
  identify('m5', 4 * MIN, 'u2', 'laptop'), // the family laptop: refused
  track('m6', 5 * MIN, { anonymousId: 'laptop', userId: 'u2' }),
  track('m7', 6 * MIN, { anonymousId: 'laptop' }),
  alias('m8', 7 * MIN, 'u2', 'u1'), // u2 is u1 after all
  track('m9', 8 * MIN, { userId: 'u2' }),
];
const journeyPersons = [
  ['m1', P('anonymousId:phone')], ['m2', P('anonymousId:laptop')], ['m3', P('anonymousId:laptop')], ['m4', P('anonymousId:phone')],
  ['m5', P('userId:u2')], ['m6', P('userId:u2')], ['m7', P('anonymousId:phone')], ['m8', P('anonymousId:phone')], ['m9', P('anonymousId:phone')],
];
const journeyMerges = [
  {
    mergeId: deriveId('identity-merges', 'merged', P('anonymousId:phone'), P('anonymousId:laptop')),
    status: 'merged', personId: P('anonymousId:phone'), mergedPersonId: P('anonymousId:laptop'),
    identifiers: ['userId:u1', 'anonymousId:phone'], messageId: 'm4', timestamp: T0 + 3 * MIN, eventType: 'track',
  },
  {
    mergeId: deriveId('identity-merges', 'refused', 'anonymousId:laptop', 'userId:u2'),
    status: 'refused', personId: P('anonymousId:phone'), mergedPersonId: P('userId:u2'),
    identifiers: ['userId:u2', 'anonymousId:laptop'], messageId: 'm5', timestamp: T0 + 4 * MIN, eventType: 'identify',
    reason: 'max-user-ids', detail: 'userId:u2 and userId:u1 would be 2 user ids in one person (maxUserIds 1; only an alias merges user ids)',
  },
  {
    mergeId: deriveId('identity-merges', 'merged', P('anonymousId:phone'), P('userId:u2')),
    status: 'merged', personId: P('anonymousId:phone'), mergedPersonId: P('userId:u2'),
    identifiers: ['userId:u2', 'userId:u1'], messageId: 'm8', timestamp: T0 + 7 * MIN, eventType: 'alias',
  },
];

test('driver: a journey over two devices, a family laptop and an alias — events with personId, exact merge records', async () => {
  const d = driver();
  d.pipe(journey);
  const events = d.read('events');
  assert.deepEqual(events.map((e) => [e.messageId, e.personId]), journeyPersons);
  assert.deepEqual(events[2], { ...journey[2], personId: P('anonymousId:laptop') }, 'the event passes through unchanged, personId added');
  assert.deepEqual(d.read('identity-merges'), journeyMerges);
  assert.deepEqual(d.store('joinIdentity', 'absorbed').get(P('anonymousId:laptop')), P('anonymousId:phone'));
  assert.deepEqual(d.store('joinIdentity', 'absorbed').get(P('userId:u2')), P('anonymousId:phone'));
  await d.close();
});

test('driver: an event with no identifier goes to dead-letter (missing-key); late events go to late', async () => {
  const d = driver();
  d.pipeRaw([
    { messageId: 'r1', type: 'track', event: 'view', anonymousId: 'a1', timestamp: T0 + 10 * MIN },
    { messageId: 'r2', type: 'track', event: 'view', userId: null, anonymousId: '', timestamp: T0 + 10 * MIN },
    { messageId: 'r3', type: 'track', event: 'view', anonymousId: 'a1', timestamp: T0 + 1 * MIN }, // behind the watermark (10m − 5m)
  ]);
  assert.deepEqual(d.read('events').map((e) => [e.messageId, e.personId]), [['r1', P('anonymousId:a1')]]);
  const dead = d.read('dead-letter');
  assert.deepEqual(dead.map((r) => [r.reason, r.source, r.detail]), [['missing-key', 'test:2', 'steps[0].joinIdentity: none of the key fields userId, anonymousId is set']]);
  assert.deepEqual(d.read('late').map((r) => [r.messageId, r.watermark, r.personId]), [['r3', T0 + 5 * MIN, undefined]]);
  assert.deepEqual(d.read('identity-merges'), []);
  await d.close();
});

test('driver: restart from the persisted LMDB store resolves exactly like an uninterrupted run (hand-made journey)', async () => {
  const whole = driver();
  whole.pipe(journey);
  const expected = { events: whole.read('events'), merges: whole.read('identity-merges') };
  await whole.close();
  for (const cut of [2, 3, 4, 5, 7]) {
    const dir = tempDir();
    const first = driver(dir);
    first.pipe(journey.slice(0, cut));
    const got = { events: first.read('events'), merges: first.read('identity-merges') };
    await first.close();
    const second = driver(dir);
    second.pipe(journey.slice(cut));
    got.events.push(...second.read('events'));
    got.merges.push(...second.read('identity-merges'));
    await second.close();
    assert.deepEqual(got, expected, `cut after ${cut} events`);
  }
});

test('driver: restart from LMDB mid-way through a generated stream gives outputs identical to an uninterrupted run', async () => {
  const text = yaml().replace('allowedLateness: 5m', 'allowedLateness: 1h'); // with lateRate 0, no late events: the driver does not persist the watermark
  const events = [...generateEvents({ events: 6000, seed: 7, customers: 150, lateRate: 0 })];
  const whole = driver(undefined, text);
  whole.pipe(events);
  const expected = { events: whole.read('events'), merges: whole.read('identity-merges'), late: whole.read('late') };
  await whole.close();
  assert.equal(expected.late.length, 0);
  assert.ok(expected.merges.length > 20, `a stream with merges (${expected.merges.length})`);
  const dir = tempDir();
  const first = driver(dir, text);
  first.pipe(events.slice(0, 3000));
  const got = { events: first.read('events'), merges: first.read('identity-merges'), late: first.read('late') };
  await first.close();
  const second = driver(dir, text);
  second.pipe(events.slice(3000));
  got.events.push(...second.read('events'));
  got.merges.push(...second.read('identity-merges'));
  await second.close();
  assert.deepEqual(got, expected);
});

test('driver: joinIdentity after dedupe, built with the typed builder; a configured trait links devices', async () => {
  const def = pipeline('identity-built')
    .source({ key: ['anonymousId', 'userId'], allowedLateness: '1m' })
    .step('dedupe', { ttl: '1h' })
    .step('joinIdentity', { identifiers: ['userId', 'anonymousId', 'traits.emailHash'], maxLinksPerIdentifier: 5 })
    .build();
  const d = new TestDriver(def, { registry: defaultRegistry });
  d.pipe([
    { ...track('m1', 0, { anonymousId: 'a1' }), traits: { emailHash: 'h1' } },
    { ...track('m1', 0, { anonymousId: 'a1' }), traits: { emailHash: 'h1' } }, // duplicate: dropped before joinIdentity
    { ...track('m2', 1, { anonymousId: 'a2' }) },
    { ...track('m3', 2, { anonymousId: 'a2' }), traits: { emailHash: 'h1' } },
  ]);
  assert.deepEqual(d.read('events').map((e) => [e.messageId, e.personId]), [['m1', P('anonymousId:a1')], ['m2', P('anonymousId:a2')], ['m3', P('anonymousId:a1')]]);
  assert.deepEqual(d.read('identity-merges').map((r) => [r.status, r.personId, r.mergedPersonId, r.identifiers]), [
    ['merged', P('anonymousId:a1'), P('anonymousId:a2'), ['anonymousId:a2', 'traits.emailHash:h1']],
  ]);
  assert.deepEqual(d.topology.streams.map((s) => s.name), ['events', 'dead-letter', 'late', 'forgotten', 'identity-merges']);
  const metrics = await d.metrics.registry.metrics();
  assert.match(metrics, /tributary_step_records_out_total\{pipeline="identity-built",step="joinIdentity",stream="identity-merges"\} 1/);
  await d.close();
});

test('driver: option errors name the file, the place and the fix', () => {
  assert.throws(() => parsePipeline(yaml(', maxUserIds: 0'), 'p.yaml', defaultRegistry), /p\.yaml:\d+:\d+ steps\[0\]\.joinIdentity\.maxUserIds/);
  assert.throws(() => parsePipeline(yaml(', identifers: [userId]'), 'p.yaml', defaultRegistry), /steps\[0\]\.joinIdentity\.identifers: unknown key \(did you mean identifiers\?\)/);
});
