// Commits that keep failing at one input offset. While the brokers cannot be reached (a transient
// error: a restart, an outage) the task is reopened from its last commit and tried again until
// the task timeout; then, as on any other error after five attempts, the run stops with one line
// that says what happened and what to do.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryKafkaError } from '../../../lib/runtime/kafka/memory/index.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, smallFetches, summarize } from '../../support/memory-kafka.js';

const scenario = () => memoryScenario('examples/cart-abandonment/pipeline.yaml', { events: testEvents(600, 47), partitions: 1, edit: (def) => { def.source.idleTimeout = '10m'; } });
const options = { bounded: true, final: true, tickMs: 20, commitIntervalMs: 0 } as const;
/** The source task's sends (into the repartition topic): a failed one fails its commit before anything is flushed. */
const sends = (s: Awaited<ReturnType<typeof scenario>>) => ({ topic: s.p.topology.subTopologies[1]!.input, skip: 1 });

test('commits failing 8 times in a row at one offset (brokers unreachable), within the task timeout: the task keeps reopening, the run goes on; outputs exact', async () => {
  const s = await scenario();
  const fault = s.kafka.broker.failNext('send', { ...sends(s), times: 8 });
  const logs: string[] = [];
  const summary = await runKafka({ topology: s.p.topology, adapter: smallFetches(s.kafka.adapter('app'), 32 * 1024), stateDir: join(s.dir, 'state'), ...options, taskTimeoutMs: 60_000, log: (l) => logs.push(l) });
  assert.equal(summary.interrupted, false);
  assert.equal(fault.hits.length, 8);
  const attempts = logs.flatMap((l) => /^task 0_0: commit failed \(memory kafka: injected send failure: .*\); reopening it from the last commit \(attempt (.*)\)$/.exec(l)?.[1] ?? []);
  assert.deepEqual(attempts.map((a) => a.replace(/failing for \d+ s/, 'failing for N s')), [
    '1 of 5', '2 of 5', '3 of 5', '4 of 5', '5 of 5',
    '6, failing for N s of the 60 s allowed', '7, failing for N s of the 60 s allowed', '8, failing for N s of the 60 s allowed',
  ]);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

test('commits failing at one offset past the task timeout (brokers unreachable): the run stops with one line saying what to do', async () => {
  const s = await scenario();
  s.kafka.broker.failNext('send', { ...sends(s), times: 1_000_000 });
  const started = performance.now();
  const error = await runKafka({ topology: s.p.topology, adapter: smallFetches(s.kafka.adapter('app'), 32 * 1024), stateDir: join(s.dir, 'state'), ...options, taskTimeoutMs: 400 })
    .then(() => undefined, (e: Error) => e);
  assert.ok(error, 'the run failed');
  assert.ok(performance.now() - started >= 400, 'not before the task timeout');
  assert.match(error.message, /^task 0_0: failed \d+ times in a row over 0 s at input offset \d+ \(memory kafka: injected send failure: .*\); check that the brokers are up and the topics writable, then run again$/);
});

test('commits failing at one offset with an error that is not transient: the run stops after five attempts', async () => {
  const s = await scenario();
  const fault = s.kafka.broker.failNext('send', { ...sends(s), times: 1_000_000, error: new MemoryKafkaError('TOPIC_AUTHORIZATION_FAILED', 'memory kafka: not authorized to write') });
  const error = await runKafka({ topology: s.p.topology, adapter: smallFetches(s.kafka.adapter('app'), 32 * 1024), stateDir: join(s.dir, 'state'), ...options, taskTimeoutMs: 60_000 })
    .then(() => undefined, (e: Error) => e);
  assert.equal(fault.hits.length, 6);
  assert.match(error?.message ?? '', /^task 0_0: failed 6 times in a row at input offset \d+ \(memory kafka: not authorized to write\); check that the brokers are up and the topics writable, then run again$/);
});
