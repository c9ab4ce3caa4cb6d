// Scenario 2 of issue 5: `kill -9` of the runner (the CLI, as a user runs it) mid-stream, then a
// restart. At-least-once loses nothing (duplicates allowed); exactly-once loses nothing and a
// read_committed consumer sees every record exactly once: the outputs equal the embedded run's.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { tributary, tributaryAsync } from '../support/cli.js';
import { canonical, ndjsonMultiset, personPartitioner, produceEvents, topicMultiset, testAdapter, testEvents, uniquePipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();

/** What identifies a record of a stream kind, whatever an at-least-once replay did to its counts. */
function identity(kind: string): (r: Record<string, unknown>) => string {
  switch (kind) {
    case 'sessions': return (r) => String(r.sessionId);
    case 'triggers': return (r) => String(r.triggerId);
    case 'aggregates': return (r) => `${String(r.key)}|${String(r.windowStart)}|${String(r.windowEnd)}`;
    case 'identity-merges': return (r) => canonical(r);
    case 'dead-letter': return (r) => String(r.source);
    default: return (r) => String(r.messageId);
  }
}

for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
  test(`kill -9 mid-stream and restart (${guarantee}): nothing lost${guarantee === 'exactly-once' ? ', nothing twice' : ''}`, { skip, timeout: 300_000 }, async (t) => {
    const dir = tempDir();
    const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir, (def) => {
      def.guarantee = guarantee;
    });
    const events = testEvents(20_000, 5);
    const input = join(dir, 'events.ndjson');
    writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const embedded = await runEmbedded({ topology: p.topology, input, outDir: join(dir, 'embedded') });

    await createTopic(p.source, { partitions: 3 });
    const adapter = testAdapter();
    await produceEvents(adapter, p.source, events, p.topology.source.key, personPartitioner(events, 3));
    const brokers = kafkaBrokers()!.join(',');
    const state = join(dir, 'state');

    // First run: unbounded; killed right after its first input commit. (Polled on the source
    // topic, which exists from the start: the output topics appear only once the runner made
    // them, and asking for a missing topic's offsets makes kafkajs retry and fail.)
    const child = tributaryAsync(['run', p.file, '--brokers', brokers, '--state-dir', state]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const admin = await adapter.admin();
    const committedNow = async () =>
      (await admin.fetchOffsets(p.topology.name, p.source)).reduce((a, o) => a + (o.offset === '-1' ? 0n : BigInt(o.offset)), 0n);
    let committed: bigint;
    try {
      for (let i = 0; i < 1200 && (await committedNow()) === 0n; i++) await sleep(50);
      child.kill('SIGKILL');
      await new Promise((ok) => child.once('exit', ok));
      committed = await committedNow();
    } finally {
      await admin.disconnect();
    }
    t.diagnostic(`killed with ${committed} of ${events.length} source records committed`);
    assert.ok(committed < BigInt(events.length), `the kill came mid-stream (committed ${committed}); stderr:\n${stderr}`);

    // Restart, bounded: resumes from the commits, restores what the local stores miss.
    const again = tributary(['run', p.file, '--brokers', brokers, '--state-dir', state, '--bounded', '--final']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^done: pipeline /);

    let duplicates = 0;
    for (const stream of p.topology.streams) {
      const want = ndjsonMultiset(readFileSync(join(dir, 'embedded', `${stream.name}.ndjson`), 'utf8'));
      const got = await topicMultiset(adapter, stream);
      assert.equal(want.length, embedded.streams[stream.name] ?? 0);
      if (guarantee === 'exactly-once') {
        assert.equal(got.length, want.length, `${stream.name}: ${got.length} records, embedded ${want.length}`);
        assert.deepEqual(got, want, `${stream.name} differs`);
      } else {
        // At-least-once replays what was processed after the last offset commit against state
        // that already holds it (as Kafka Streams does): a session or aggregate can then count an
        // event twice. Nothing is lost: every record of the embedded run is there by its identity.
        const id = identity(stream.kind);
        const have = new Set(got.map((r) => id(JSON.parse(r) as Record<string, unknown>)));
        const missing = want.filter((r) => !have.has(id(JSON.parse(r) as Record<string, unknown>)));
        assert.deepEqual(missing.slice(0, 3), [], `${stream.name}: ${missing.length} records lost`);
        duplicates += got.length - want.length;
      }
    }
    if (guarantee === 'at-least-once') t.diagnostic(`${duplicates} duplicate output records after the crash (at-least-once)`);
  });
}
