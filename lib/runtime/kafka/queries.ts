/**
 * State queries in Kafka mode (`GET /state/<step>/<key>`): which task holds a key's state
 * ({@link locateKey}, pure), and the answer from the tasks this instance holds
 * ({@link queryHeldTasks}: the value, `undefined`, or a {@link StateNotFound} naming the owner).
 *
 * A step's state is split over the tasks of its sub-topology, one per partition of the
 * sub-topology's input topic; an instance answers from the tasks it holds only:
 *
 * - a sub-topology with one task (a `global` step such as joinIdentity, the resolver of a
 *   `global-table` one) → that task, partition 0 of its input;
 * - a sub-topology reading a repartition topic keyed by the step's own key → the partition the
 *   record collector put the key's events in: Kafka's default partitioner (murmur2) over the key
 *   value's UTF-8 bytes (a sub-topology without a key is fed keyed by `messageId`);
 * - otherwise (the step's key is not what its input is partitioned by: dedupe by `messageId` in
 *   the source sub-topology, any step on the source topic, whose producers' partitioning is not
 *   known) → any task of the sub-topology: each one held is asked.
 *
 * A `global-table` step (joinIdentity `mode: global-table`) is answered by its resolver task,
 * which holds every store of the step (the lookups only read a copy of `ids` and `absorbed`).
 */
import type { Topology } from '../../pipeline/compile.js';
import { StateNotFound } from '../state-server.js';
import { partitionForKey } from './partitioner.js';

/** Where a key's state is: one task (`<sub-topology>_<partition>`), or any task of a sub-topology. */
export type KeyLocation =
  | { task: string; topic: string; partition: number }
  | { anyOf: string[]; topic: string };

const sameKey = (a: readonly string[] | undefined, b: readonly string[] | undefined) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The task that holds `key` of `step`, or the tasks that may; `undefined` for an unknown step or
 * one without state. `partitions` is the partition count of the input topics of the keyed
 * sub-topologies: the source topic's, which every repartition topic shares (a one-task
 * sub-topology has one partition whatever it says).
 *
 * @example
 * ```ts
 * // cart-abandonment over 3 partitions: sessionize (key personId) reads a repartition topic keyed by personId
 * locateKey(topology, 'sessionize', 'p-1', 3); // { task: '2_1', topic: 'cart-abandonment-sessionize-repartition', partition: 1 }
 * locateKey(topology, 'dedupe', 'm1', 3);      // { anyOf: ['0_0', '0_1', '0_2'], topic: 'behavior-events' }
 * locateKey(topology, 'joinIdentity', 'userId:u1', 3); // { task: '1_0', topic: 'cart-abandonment-joinIdentity-repartition', partition: 0 }
 * ```
 */
export function locateKey(topology: Topology, step: string, key: string, partitions: number): KeyLocation | undefined {
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`locateKey: partitions must be a positive integer, got ${partitions}`);
  const s = topology.steps.find((x) => x.name === step);
  if (!s || s.stores.length === 0) return undefined;
  // A global-table step is in its lookups' sub-topology too; its state is in the resolver's.
  const sub = topology.subTopologies.find((x) => x.steps.includes(step) && !x.lookups?.includes(step));
  if (!sub) return undefined;
  const topic = sub.input === 'source' ? (topology.source.topic ?? 'the source topic') : sub.input;
  if (sub.partitions === 1) return { task: `${sub.id}_0`, topic, partition: 0 };
  if (sub.input !== 'source' && sameKey(sub.key ?? ['messageId'], s.key)) {
    const partition = partitionForKey(Buffer.from(key, 'utf8'), partitions);
    return { task: `${sub.id}_${partition}`, topic, partition };
  }
  return { anyOf: Array.from({ length: partitions }, (_, p) => `${sub.id}_${p}`), topic };
}

/** A task as {@link queryHeldTasks} needs it (a `KafkaTask`). */
export interface QueryableTask {
  readonly id: string;
  readonly ready: boolean;
  readonly closed: boolean;
  readonly task: { query(step: string, key: string): unknown };
}

/**
 * `key`'s state in `step` from the tasks this instance holds: the step's `query` result, or
 * `undefined` (unknown step, no state for the key in a task that would hold it). Throws
 * {@link StateNotFound} (a 404 with its message) when the task that holds the key, or some task
 * that may, is not open on this instance.
 *
 * @example
 * ```ts
 * queryHeldTasks(topology, 3, 'sessionize', 'p-1', manager.tasks.values());
 * // throws: key "p-1" of step "sessionize" is in partition 1 of cart-abandonment-sessionize-repartition (task 2_1), which this instance does not hold
 * ```
 */
export function queryHeldTasks(topology: Topology, partitions: number, step: string, key: string, tasks: Iterable<QueryableTask>): unknown {
  if (partitions < 1) throw new StateNotFound(`the run is starting: no task is open yet (key ${JSON.stringify(key)} of step ${JSON.stringify(step)})`);
  const where = locateKey(topology, step, key, partitions);
  if (!where) return undefined;
  const held = new Map<string, QueryableTask>();
  for (const t of tasks) if (!t.closed) held.set(t.id, t);
  const what = `key ${JSON.stringify(key)} of step ${JSON.stringify(step)}`;
  if ('task' in where) {
    const t = held.get(where.task);
    const place = `partition ${where.partition} of ${where.topic} (task ${where.task})`;
    if (!t) throw new StateNotFound(`${what} is in ${place}, which this instance does not hold`);
    if (!t.ready) throw new StateNotFound(`${what} is in ${place}, whose state this instance is still restoring; try again shortly`);
    return t.task.query(step, key);
  }
  const asked: string[] = [];
  for (const id of where.anyOf) {
    const t = held.get(id);
    if (!t?.ready) continue;
    asked.push(id);
    const value = t.task.query(step, key);
    if (value !== undefined) return value;
  }
  if (asked.length === where.anyOf.length) return undefined;
  const others = where.anyOf.filter((id) => !asked.includes(id));
  if (asked.length === 0) throw new StateNotFound(`${what} may be in any partition of ${where.topic} (tasks ${where.anyOf.join(', ')}), none of which is open on this instance`);
  throw new StateNotFound(`${what} is in none of this instance's tasks of ${where.topic} (${asked.join(', ')}); it may be in one not open on this instance (${others.join(', ')})`);
}
