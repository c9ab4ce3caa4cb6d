// A stop must end even when a Kafka client's disconnect never returns (kafkajs ignores the
// disconnect of a consumer it is reconnecting, and waits for good for a batch that never ends):
// each step of the stop has a deadline, the step is named in the log and left behind, and the
// run reports what it committed. A chaos run with broker restarts once hung here after SIGTERM.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KafkaAdapter, KafkaConsumer } from '../../../lib/runtime/kafka/adapter.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { within } from '../../../lib/runtime/kafka/stop-deadline.js';
import { testEvents } from '../../support/kafka-pipeline.js';
import { caughtUp, memoryScenario, waitFor } from '../../support/memory-kafka.js';

/** The adapter whose consumers never finish disconnecting. */
function consumersThatHang(adapter: KafkaAdapter): KafkaAdapter {
  return {
    ...adapter,
    consumer: async (options) => {
      const consumer = await adapter.consumer(options);
      return new Proxy(consumer, {
        get(target, name, receiver) {
          if (name === 'disconnect') return () => new Promise<void>(() => undefined);
          const value: unknown = Reflect.get(target, name, receiver);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }) satisfies KafkaConsumer;
    },
  };
}

test('a consumer whose disconnect never returns: the stop leaves it behind after the deadline, names it, and reports every record committed', async () => {
  const events = testEvents(300, 41);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, partitions: 2, edit: (def) => { def.source.idleTimeout = '10m'; } });
  const { topology } = s.p;
  const abort = new AbortController();
  const logs: string[] = [];
  const run = runKafka({
    topology, adapter: consumersThatHang(s.kafka.adapter('a')), stateDir: join(s.dir, 'state-a'), signal: abort.signal,
    tickMs: 20, stopStepTimeoutMs: 300, log: (l) => logs.push(l),
  });
  const inputs = [s.p.source, ...topology.subTopologies.slice(1).map((sub) => sub.input)];
  await waitFor('A to process and commit everything', () => inputs.every((topic) => caughtUp(s.kafka, topology.name, topic)));
  abort.abort();
  const started = performance.now();
  const summary = await run;
  const took = performance.now() - started;
  assert.equal(summary.interrupted, true);
  assert.equal(summary.records, events.length);
  assert.deepEqual(logs.filter((l) => l.startsWith('stop: ')), ['stop: leaving the consumer group did not finish within 0.3 s; going on without it']);
  assert.ok(took >= 300 && took < 10_000, `the stop took ${took.toFixed(0)} ms`);
  assert.ok(inputs.every((topic) => caughtUp(s.kafka, topology.name, topic)), 'every input committed');
});

test('within: resolves when the work settles (a rejection too) without a line, or after the deadline with one', async () => {
  const lines: string[] = [];
  await within(Promise.resolve(1), 1000, 'quick', (l) => lines.push(l));
  await within(Promise.reject(new Error('failed')), 1000, 'failing', (l) => lines.push(l));
  await within(new Promise(() => undefined), 50, 'hanging', (l) => lines.push(l));
  assert.deepEqual(lines, ['stop: hanging did not finish within 0.05 s; going on without it']);
});
