import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { personIdFor } from '../../operators/join-identity.js';
import { heldBy, storeEntries } from '../support/forget.js';
import { tempDir } from '../support/tmp.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const NOW = Date.UTC(2026, 11, 7);
type Ids = { userId?: string; anonymousId?: string };
const track = (m: string, t: number, event: string, ids: Ids, properties: Record<string, unknown> = {}): TributaryEvent => ({
  messageId: m, type: 'track', event, userId: ids.userId ?? null, anonymousId: ids.anonymousId ?? null, timestamp: T0 + t, properties,
});
const identify = (m: string, t: number, userId: string, anonymousId: string): TributaryEvent => ({
  messageId: m, type: 'identify', userId, anonymousId, timestamp: T0 + t, traits: { email: `${userId}@example.com` },
});
const forget = (m: string, timestamp: number, ids: Ids, properties: Record<string, unknown> = {}): TributaryEvent => ({
  messageId: m, type: 'forget', userId: ids.userId ?? null, anonymousId: ids.anonymousId ?? null, timestamp, properties,
});

const PIPELINE = `
name: forget-test
source: { allowedLateness: 1m }
steps:
  - joinIdentity: { identifiers: [userId, anonymousId], output: identity-merges }
  - sessionize: { key: personId, gap: 30m, output: sessions }
  - windowAggregate:
      name: hourly
      key: personId
      window: { tumbling: 1h }
      aggregates: { events: { count: {} } }
      output: features
  - windowAggregate:
      name: products
      key: [properties.productId, anonymousId]
      window: { sliding: 1d }
      aggregates: { lastViewer: { last: anonymousId } }
      output: product-features
  - trigger:
      key: personId
      rules:
        - name: cart-abandoned
          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
      output: triggers
`;

/** X: two devices (two persons, merged by the second identify), a pending cart. Y: one device, a pending cart. */
const before: TributaryEvent[] = [
  track('x1', 0, 'product_viewed', { anonymousId: 'ax-phone' }, { productId: 'sku-x' }),
  track('y1', 30_000, 'product_viewed', { anonymousId: 'ay' }, { productId: 'sku-y' }),
  track('x2', 1 * MIN, 'add_to_cart', { anonymousId: 'ax-laptop' }),
  track('y2', 1 * MIN, 'add_to_cart', { anonymousId: 'ay' }),
  identify('x3', 2 * MIN, 'ux', 'ax-laptop'),
  identify('y3', 2 * MIN, 'uy', 'ay'),
  identify('x4', 3 * MIN, 'ux', 'ax-phone'),
];
const X_TERMS = ['ux', 'ax-phone', 'ax-laptop', 'ux@example.com', personIdFor('anonymousId:ax-phone'), personIdFor('anonymousId:ax-laptop'), personIdFor('userId:ux')];
const Y_TERMS = ['uy', 'ay', personIdFor('anonymousId:ay')];

test('a forget request erases the person from every step, is never late, never moves the watermark, and the person starts fresh', async () => {
  const dir = tempDir();
  let d = TestDriver.fromYaml(PIPELINE, { registry: defaultRegistry, stateDir: dir, now: NOW });
  d.pipe(before);
  assert.deepEqual(heldBy(await entriesOf(d), X_TERMS).length > 0, true, 'X is in the state before the request');
  const watermark = d.watermark();
  d.read('identity-merges');
  d.read('events');
  // Dated a year after the stream: not late, and the watermark stays where it was.
  d.pipe(forget('req-1', NOW, { userId: 'ux' }, { requestedBy: 'dpo@example.com' }));
  assert.equal(d.watermark(), watermark);
  assert.deepEqual([d.read('events'), d.read('late'), d.read('dead-letter')], [[], [], []]);
  assert.deepEqual(d.read('forgotten'), [{
    id: deriveId('forgotten', 'req-1', 'embedded'), requestId: 'req-1', requestedBy: 'dpo@example.com', task: 'embedded', at: NOW,
    stores: {
      // ids: ux, ax-phone, ax-laptop; persons: the survivor; absorbed: the other device's person; links: the three identifiers.
      'joinIdentity.ids': 3, 'joinIdentity.absorbed': 1, 'joinIdentity.persons': 1, 'joinIdentity.links': 3, 'joinIdentity.refused': 0,
      // One open session under each of X's two person ids (before and after the merge), likewise the hourly window.
      'sessionize.sessions': 2, 'hourly.windows': 2, 'hourly.entries': 0,
      // sku-x's sliding window remembers X's device as its last viewer: it goes whole; so do the
      // windows keyed by X's devices (events without a productId). Their entries are in each key's
      // newest bucket, held in the key's value: no older bucket in `chunks`.
      'products.windows': 0, 'products.entries': 3, 'products.chunks': 0,
      'trigger.keys': 1, 'trigger.segments': 0,
    },
    total: 16,
  }]);
  await d.close();

  // Restart from the persisted store: nothing of X in any store, Y untouched.
  d = TestDriver.fromYaml(PIPELINE, { registry: defaultRegistry, stateDir: dir, now: NOW });
  const after = await entriesOf(d);
  assert.deepEqual(heldBy(after, X_TERMS), []);
  assert.deepEqual(new Set(heldBy(after, Y_TERMS).map((e) => e.store)), new Set(['joinIdentity.ids', 'joinIdentity.persons', 'joinIdentity.links', 'sessionize.sessions', 'hourly.windows', 'products.entries', 'trigger.keys']));
  // X comes back on the phone: a new person, a new session of one event; X's pending cart never fires, Y's does.
  d.pipe(track('x5', 4 * MIN, 'product_viewed', { anonymousId: 'ax-phone' }));
  d.end();
  const sessions = d.read<{ key: string; eventCount: number }>('sessions');
  assert.deepEqual(sessions.map((s) => [s.key, s.eventCount]).sort(), [[personIdFor('anonymousId:ax-phone'), 1], [personIdFor('anonymousId:ay'), 3]].sort());
  assert.deepEqual(d.read<{ key: string; causes: string[] }>('triggers').map((t) => [t.key, t.causes]), [[personIdFor('anonymousId:ay'), ['y2']]]);
  const features = d.read<{ key: string; values: { events: number } }>('features').filter((f) => f.key === personIdFor('anonymousId:ax-phone'));
  assert.deepEqual(features.map((f) => f.values.events), [1]);
  await d.close();
});

test('an out-of-order request (dated before the watermark) is applied, not sent to late; a request naming nobody is a dead letter', () => {
  const d = TestDriver.fromYaml(PIPELINE, { registry: defaultRegistry });
  d.pipe(before);
  d.pipe(forget('req-old', 0, { anonymousId: 'ax-laptop' }));
  d.pipe(forget('req-none', 0, {}));
  assert.deepEqual(d.read('late'), []);
  assert.deepEqual(d.read('forgotten').map((r) => [r.requestId, r.requestedBy, r.total]), [['req-old', null, 16]]);
  assert.deepEqual(d.read('dead-letter').map((r) => [r.reason, r.detail]), [['invalid-forget', 'a forget request names nobody: set userId, anonymousId or properties.personId']]);
  // A person id no store can hold as a key: a dead letter, and the pipeline goes on.
  d.pipe(forget('req-long', 0, {}, { personId: 'p'.repeat(3000) }));
  assert.deepEqual(d.read('dead-letter').map((r) => [r.reason, String(r.detail).slice(0, 88)]), [['invalid-forget', 'the request could not be applied in full (send it again once fixed): store "joinIdentity']]);
  assert.deepEqual(d.read('forgotten'), []);
  // By person id only: the same person (already gone), nothing left to remove.
  d.pipe(forget('req-pid', 0, {}, { personId: personIdFor('anonymousId:ax-phone') }));
  assert.deepEqual(d.read('forgotten').map((r) => [r.requestId, r.total]), [['req-pid', 0]]);
  d.end();
  // Without a restart too: X's open session and pending cart are gone with their state.
  assert.deepEqual(d.read<{ key: string }>('sessions').map((s) => s.key), [personIdFor('anonymousId:ay')]);
  assert.deepEqual(d.read<{ key: string }>('triggers').map((t) => t.key), [personIdFor('anonymousId:ay')]);
});

test('a duplicate request removes nothing more; a request through a source mapping is read in the canonical fields', () => {
  const mapped = PIPELINE.replace('source: { allowedLateness: 1m }', 'source: { allowedLateness: 1m, mapping: { fields: { userId: user_id, anonymousId: device } } }');
  const d = TestDriver.fromYaml(mapped, { registry: defaultRegistry });
  d.pipeRaw(before.map(({ userId, anonymousId, ...rest }) => ({ ...rest, user_id: userId, device: anonymousId })));
  d.pipeRaw([{ messageId: 'req-1', type: 'forget', userId: 'uy', timestamp: NOW }, { messageId: 'req-1', type: 'forget', userId: 'uy', timestamp: NOW }]);
  assert.deepEqual(d.read('dead-letter'), []);
  // Y: ids uy + ay, one person, links of both, a session, an hourly window, the windows of sku-y and ay, the pending cart.
  assert.deepEqual(d.read('forgotten').map((r) => [r.requestId, r.id, r.total]), [
    ['req-1', deriveId('forgotten', 'req-1', 'embedded'), 10],
    ['req-1', deriveId('forgotten', 'req-1', 'embedded'), 0],
  ]);
});

test('dedupe keyed by an identifier forgets only the subject\'s keys of a segment', () => {
  const d = TestDriver.fromYaml('name: d\nsource: {}\nsteps:\n  - dedupe: { key: userId, ttl: 1h, output: duplicates }\n', { registry: defaultRegistry });
  d.pipe([track('a', 0, 'v', { userId: 'u1' }), track('b', 1000, 'v', { userId: 'u2' }), track('c', 2000, 'v', { userId: 'u1' })]);
  assert.deepEqual(d.read('duplicates').map((e) => e.messageId), ['c']);
  d.pipe(forget('req', NOW, { userId: 'u1' }));
  assert.deepEqual(d.read('forgotten').map((r) => r.stores), [{ 'dedupe.seen': 1 }]);
  assert.deepEqual([...d.store<number, { keys: string[] }>('dedupe', 'seen').range()].map((e) => e.value.keys), [['u2']]);
  d.pipe([track('e', 3000, 'v', { userId: 'u1' }), track('f', 4000, 'v', { userId: 'u2' })]);
  assert.deepEqual(d.read('events').map((e) => e.messageId), ['a', 'b', 'e'], 'u1 starts fresh');
  assert.deepEqual(d.read('duplicates').map((e) => e.messageId), ['f'], 'u2 is still remembered');
});

test('dedupe by messageId remembers no person: nothing to forget', () => {
  const d = TestDriver.fromYaml('name: d\nsource: {}\nsteps:\n  - dedupe: { ttl: 1h }\n', { registry: defaultRegistry });
  d.pipe([track('a', 0, 'v', { userId: 'u1' }), forget('req', NOW, { userId: 'u1' }), track('a', 1000, 'v', { userId: 'u1' })]);
  assert.deepEqual(d.read('forgotten').map((r) => r.stores), [{ 'dedupe.seen': 0 }]);
  assert.deepEqual(d.read('events').map((e) => e.messageId), ['a']);
});

async function entriesOf(d: TestDriver) {
  await d.checkpoint();
  return storeEntries((name) => d.store(name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)), d.topology.steps.flatMap((s) => s.stores));
}
