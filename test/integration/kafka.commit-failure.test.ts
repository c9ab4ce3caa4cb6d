// At-least-once commits that fail half way (issue 5, scenarios 2 and 5 made deterministic).
// A commit is: send outputs + changelog records, flush LMDB (state, changelog offsets, the input
// offset the state covers), commit the input offset with the changelog offsets as metadata. Two
// faults are injected into the real kafkajs adapter on the real broker:
// - a produce request that reached the broker but whose acknowledgement "was lost" (the chunk is
//   written, then the send throws): the changelog now holds records of input that will be
//   processed again. The reopened task must restore only up to the committed metadata, or those
//   events count twice in sessions, windows and triggers;
// - an offset commit that fails after the flush: the local state already covers the input; the
//   reopened task must go on from the state's own offset instead of processing it again.
// Either mistake shows as records the embedded run does not have (a session with an event
// counted twice, an aggregate one too high). Duplicates of whole records are allowed
// (at-least-once); missing or foreign records are not.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import type { KafkaAdapter, KafkaConsumer, KafkaProducer } from '../../lib/runtime/kafka/client.js';
import { runKafka } from '../../lib/runtime/kafka/runner.js';
import { compareWithEmbedded, personPartitioner, produceEvents, testAdapter, testEvents, uniquePipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();
const PARTITIONS = 3;

interface Faults {
  /** Producer sends (counted over every producer of the adapter) that write, then throw. */
  sends: Set<number>;
  /** Offset commits that throw before committing. */
  commits: Set<number>;
  injected: string[];
}

/** The real adapter with `faults` injected into its producers' sends and its consumers' commits. */
function faulty(real: KafkaAdapter, faults: Faults): KafkaAdapter {
  let sends = 0;
  let commits = 0;
  return {
    admin: () => real.admin(),
    readPartition: (topic, partition, options) => real.readPartition(topic, partition, options),
    async producer(options) {
      const p = await real.producer(options);
      const wrapped: KafkaProducer = {
        async send(records) {
          const n = ++sends;
          const sent = await p.send(records);
          if (faults.sends.has(n)) {
            faults.injected.push(`send ${n} (${records.length} records written, acknowledgement dropped)`);
            throw new Error(`injected: connection lost after send ${n} was written`);
          }
          return sent;
        },
        transaction: () => p.transaction(),
        disconnect: () => p.disconnect(),
      };
      return wrapped;
    },
    async consumer(options) {
      const c = await real.consumer(options);
      const wrapped: KafkaConsumer = Object.create(c) as KafkaConsumer;
      wrapped.commit = async (offsets) => {
        const n = ++commits;
        if (faults.commits.has(n)) {
          faults.injected.push(`offset commit ${n}`);
          throw new Error(`injected: offset commit ${n} failed (REBALANCE_IN_PROGRESS)`);
        }
        return c.commit(offsets);
      };
      return wrapped;
    },
  };
}

test('at-least-once: commits failing after the send or after the flush count nothing twice (cart-abandonment pipeline, 3 partitions)', { skip, timeout: 300_000 }, async (t) => {
  const dir = tempDir();
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir, (def) => {
    def.source.idleTimeout = '10m';
  });
  const events = testEvents(6000, 47);
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const embedded = await runEmbedded({ topology: p.topology, input, outDir: join(dir, 'embedded') });
  assert.equal(embedded.late, 0);

  const adapter = testAdapter();
  await createTopic(p.source, { partitions: PARTITIONS });
  await produceEvents(adapter, p.source, events, p.topology.source.key, personPartitioner(events, PARTITIONS));

  const faults: Faults = { sends: new Set([6, 13, 21, 34]), commits: new Set([5, 11, 18, 27]), injected: [] };
  const logs: string[] = [];
  const summary = await runKafka({
    topology: p.topology, adapter: faulty(testAdapter('tributary-faulty'), faults), stateDir: join(dir, 'state'),
    bounded: true, final: true, tickMs: 200, commitIntervalMs: 0, maxPendingRecords: 400, log: (l) => logs.push(l),
  });
  assert.equal(summary.interrupted, false);
  for (const f of faults.injected) t.diagnostic(`injected: ${f}`);
  const recoveries = logs.filter((l) => /: commit failed \(|going on from it|restoring/.test(l));
  for (const l of recoveries) t.diagnostic(l);
  assert.equal(faults.injected.length, 8, 'every fault was hit');
  assert.equal(logs.filter((l) => /: commit failed \(/.test(l)).length, 8, 'each fault made one task reopen');
  assert.ok(logs.some((l) => /past the committed .* \(an offset commit failed\); going on from it/.test(l)), 'a state flushed before a failed offset commit is adopted');
  assert.ok(summary.records >= events.length, `${summary.records} source records processed`);

  const diffs = await compareWithEmbedded(adapter, p, join(dir, 'embedded'));
  for (const d of diffs) t.diagnostic(`${d.stream}: ${d.got} through Kafka, ${d.want} embedded, ${d.missing.length} missing, ${d.extra.length} duplicates, ${d.foreign.length} foreign`);
  for (const d of diffs) {
    assert.equal(d.want, embedded.streams[d.stream] ?? 0);
    assert.deepEqual({ stream: d.stream, missing: d.missing.slice(0, 2), nMissing: d.missing.length }, { stream: d.stream, missing: [], nMissing: 0 });
    assert.deepEqual({ stream: d.stream, foreign: d.foreign.slice(0, 2), nForeign: d.foreign.length }, { stream: d.stream, foreign: [], nForeign: 0 });
  }
  t.diagnostic(`replayed events dropped downstream by sequence number: ${summary.replayed}`);
});
