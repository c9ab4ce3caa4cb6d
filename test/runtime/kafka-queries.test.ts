// Kafka-mode state queries as pure functions: where a key of a step lives (locateKey) and what an
// instance answers from the tasks it holds (queryHeldTasks), over compiled topologies, no broker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { compilePipeline, type Topology } from '../../lib/pipeline/compile.js';
import { loadPipelineFile, parsePipeline } from '../../lib/pipeline/load.js';
import { locateKey, queryHeldTasks, type QueryableTask } from '../../lib/runtime/kafka/queries.js';
import { StateNotFound } from '../../lib/runtime/state-server.js';
import { defaultRegistry } from '../../operators/index.js';
import { ROOT } from '../support/cli.js';

const compile = (yaml: string): Topology => compilePipeline(parsePipeline(yaml, '<test>', defaultRegistry), defaultRegistry);
const cart = compilePipeline(loadPipelineFile(join(ROOT, 'examples/cart-abandonment/pipeline.yaml'), defaultRegistry), defaultRegistry);
const many = compile(`
name: q
source: { topic: q-events, key: [anonymousId, userId] }
steps:
  - dedupe: { name: first }
  - joinIdentity: { mode: global-table }
  - dedupe: { name: again }
  - sessionize: { key: personId }
  - filter: { where: { event: purchase } }
  - dedupe: { name: orders, key: properties.orderId }
`);

test('locateKey, cart-abandonment over 3 partitions: dedupe by messageId → any source task; joinIdentity → its one task; personId steps → the murmur2 partition of the repartition topic', () => {
  assert.deepEqual(locateKey(cart, 'dedupe', 'm1', 3), { anyOf: ['0_0', '0_1', '0_2'], topic: 'behavior-events' });
  for (const key of ['userId:u1', 'p-0123']) {
    assert.deepEqual(locateKey(cart, 'joinIdentity', key, 3), { task: '1_0', topic: 'cart-abandonment-joinIdentity-repartition', partition: 0 });
  }
  const repartition = 'cart-abandonment-sessionize-repartition';
  for (const step of ['sessionize', 'windowAggregate', 'trigger']) {
    assert.deepEqual(locateKey(cart, step, 'u1', 3), { task: '2_1', topic: repartition, partition: 1 }, step);
    assert.deepEqual(locateKey(cart, step, 'u2', 3), { task: '2_0', topic: repartition, partition: 0 }, step);
  }
  assert.deepEqual(locateKey(cart, 'sessionize', 'u1', 1000), { task: '2_584', topic: repartition, partition: 584 });
  assert.equal(locateKey(cart, 'no-such-step', 'u1', 3), undefined);
  assert.throws(() => locateKey(cart, 'sessionize', 'u1', 0), /partitions must be a positive integer, got 0/);
});

test('locateKey, global-table joinIdentity and later sub-topologies over 4 partitions', () => {
  assert.deepEqual(locateKey(many, 'first', 'm1', 4), { anyOf: ['0_0', '0_1', '0_2', '0_3'], topic: 'q-events' });
  // Global-table mode: the resolver's one task holds every store (the lookups in 0_* read a copy).
  assert.deepEqual(locateKey(many, 'joinIdentity', 'anonymousId:a1', 4), { task: '1_0', topic: 'q-joinIdentity-resolver', partition: 0 });
  // After the resolver, a sub-topology without a key is fed keyed by messageId: dedupe by messageId is at its partition.
  assert.deepEqual(locateKey(many, 'again', 'm1', 4), { task: '2_0', topic: 'q-again-repartition', partition: 0 });
  assert.deepEqual(locateKey(many, 'again', 'm2', 4), { task: '2_3', topic: 'q-again-repartition', partition: 3 });
  assert.deepEqual(locateKey(many, 'sessionize', 'p-a', 4), { task: '3_0', topic: 'q-sessionize-repartition', partition: 0 });
  assert.deepEqual(locateKey(many, 'orders', 'o-1', 4), { task: '4_2', topic: 'q-orders-repartition', partition: 2 });
  assert.deepEqual(locateKey(many, 'orders', '42', 4), { task: '4_0', topic: 'q-orders-repartition', partition: 0 });
  assert.equal(locateKey(many, 'filter', 'x', 4), undefined, 'a stateless step has no state anywhere');
});

test('locateKey: a step keyed like the source topic is looked for in every source task (the producers\' partitioning is not assumed)', () => {
  const t = compile(`
name: s
source: { topic: s-events, key: [anonymousId, userId] }
steps:
  - sessionize: { key: [anonymousId, userId] }
`);
  assert.deepEqual(locateKey(t, 'sessionize', 'a1', 2), { anyOf: ['0_0', '0_1'], topic: 's-events' });
});

/** A held task whose state is `state` (key → value, per step). */
const held = (id: string, state: Record<string, Record<string, unknown>> = {}, ready = true): QueryableTask => ({
  id, ready, closed: false, task: { query: (step, key) => state[step]?.[key] },
});
const notFound = (message: string) => (e: unknown) => e instanceof StateNotFound && e.message === message;

test('queryHeldTasks: the owner task answers; a key of a task held elsewhere or still restoring is a StateNotFound naming it', () => {
  const tasks = [held('2_1', { sessionize: { u1: { key: 'u1', sessions: [] } } }), held('1_0', {}, false), held('0_0')];
  assert.deepEqual(queryHeldTasks(cart, 3, 'sessionize', 'u1', tasks), { key: 'u1', sessions: [] });
  assert.equal(queryHeldTasks(cart, 3, 'sessionize', 'u3', tasks), undefined, 'held here, no state: a plain 404');
  assert.equal(queryHeldTasks(cart, 3, 'no-such-step', 'u1', tasks), undefined);
  assert.throws(() => queryHeldTasks(cart, 3, 'sessionize', 'u2', tasks),
    notFound('key "u2" of step "sessionize" is in partition 0 of cart-abandonment-sessionize-repartition (task 2_0), which this instance does not hold'));
  assert.throws(() => queryHeldTasks(cart, 3, 'joinIdentity', 'userId:u1', tasks),
    notFound('key "userId:u1" of step "joinIdentity" is in partition 0 of cart-abandonment-joinIdentity-repartition (task 1_0), whose state this instance is still restoring; try again shortly'));
  assert.throws(() => queryHeldTasks(cart, 0, 'sessionize', 'u1', []), notFound('the run is starting: no task is open yet (key "u1" of step "sessionize")'));
});

test('queryHeldTasks: a key any task may hold is asked of every held one; not found with some tasks elsewhere is a StateNotFound, with all held a plain undefined', () => {
  const seen = { key: 'm1', firstSeen: 0, expiresAt: 86_400_000 };
  const tasks = [held('0_0'), held('0_2', { dedupe: { m1: seen } })];
  assert.deepEqual(queryHeldTasks(cart, 3, 'dedupe', 'm1', tasks), seen);
  assert.throws(() => queryHeldTasks(cart, 3, 'dedupe', 'm2', tasks),
    notFound('key "m2" of step "dedupe" is in none of this instance\'s tasks of behavior-events (0_0, 0_2); it may be in one not open on this instance (0_1)'));
  assert.throws(() => queryHeldTasks(cart, 3, 'dedupe', 'm2', [held('2_0')]),
    notFound('key "m2" of step "dedupe" may be in any partition of behavior-events (tasks 0_0, 0_1, 0_2), none of which is open on this instance'));
  assert.equal(queryHeldTasks(cart, 3, 'dedupe', 'm2', [...tasks, held('0_1')]), undefined);
});
