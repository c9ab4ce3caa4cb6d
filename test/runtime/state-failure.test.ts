// An error from the state engine (a damaged LMDB file, a full or read-only disk) met while a step
// uses its stores is not the record's: it stops the run instead of making every following record
// a dead letter; against Kafka the task is reopened from its last commit (where a damaged file is
// rebuilt from the changelogs), and a failure that stays stops the run with advice about the
// task's state directory rather than the brokers.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { failureAdvice, whatFailed } from '../../lib/runtime/kafka/kafka-errors.js';
import { SchemaRegistryError } from '../../lib/serde/schema-registry.js';
import { runKafka } from '../../lib/runtime/kafka/runner.js';
import { StateCorruptedError } from '../../lib/state/engines/lmdb/corruption.js';
import { InvalidKeyError } from '../../lib/state/key-order.js';
import { stateEngineFailure } from '../../lib/state/failure.js';
import { createMemoryKafka } from '../../lib/runtime/kafka/memory/index.js';
import { poisonRegistry } from '../support/poison.js';
import { tempDir } from '../support/tmp.js';

test('stateEngineFailure: damaged files and refusing disks, through causes; a step\'s own error is not one', () => {
  assert.equal(stateEngineFailure(new Error('MDB_PAGE_NOTFOUND: Requested page not found')), true);
  assert.equal(stateEngineFailure(new Error('commit failed', { cause: new Error('MDB_MAP_FULL: Environment mapsize limit reached') })), true);
  assert.equal(stateEngineFailure(new StateCorruptedError('s/data.mdb', 'meta pages')), true);
  assert.equal(stateEngineFailure(Object.assign(new Error('write failed'), { code: 'ENOSPC' })), true);
  assert.equal(stateEngineFailure(Object.assign(new Error('read-only'), { code: 'EROFS' })), true);
  assert.equal(stateEngineFailure(new Error('boom on m3')), false);
  assert.equal(stateEngineFailure(Object.assign(new Error('no such file'), { code: 'ENOENT' })), false);
  assert.equal(stateEngineFailure('MDB_CORRUPTED'), false);
  // A record cannot pass for a broken disk: its values appear inside messages, never first.
  assert.equal(stateEngineFailure(new InvalidKeyError('dedupe.seen', 'MDB_CORRUPTED\u0000', 'strings in keys may not contain U+0000..U+0004')), false);
  assert.equal(stateEngineFailure(new Error('score: the module threw on value "MDB_PANIC"')), false);
  assert.equal(failureAdvice(new Error('MDB_MAP_FULL'), 'st/app/0_1'), 'check the disk under st/app/0_1 (space, permissions), or delete that directory: the task rebuilds it from its changelogs; then run again');
  assert.equal(failureAdvice(new Error('Connection error'), 'st/app/0_1'), 'check that the brokers are up and the topics writable, then run again');
  // A schema registry that does not answer is named, not the brokers (its error, or the cause of one).
  const down = new SchemaRegistryError('schema registry GET http://user:pw@registry:8081/schemas/ids/7 failed: fetch failed', 'http://registry:8081/schemas/ids/7', undefined, undefined, undefined);
  assert.equal(failureAdvice(down, 'st/app/0_1'), 'check that the schema registry at http://registry:8081 is up and answers, then run again');
  assert.equal(failureAdvice(new Error('decode failed', { cause: down }), 'st/app/0_1'), 'check that the schema registry at http://registry:8081 is up and answers, then run again');
  assert.equal(whatFailed(new Error('MDB_PAGE_NOTFOUND: Requested page not found')), 'its state store failed');
  assert.equal(whatFailed(new Error('The coordinator is not available')), 'commit failed');
});

test('Kafka: a state failure at one record reopens the task from its last commit, and when it stays, stops the run naming the task\'s state directory; nothing is dead-lettered', async () => {
  const dir = tempDir();
  const yaml = `name: state-failure-${process.pid}
source: { topic: sf-in-${process.pid}, key: anonymousId, allowedLateness: 1m }
steps:
  - poison: { stateFailureOn: [m3] }
`;
  const topology = compilePipeline(parsePipeline(yaml, 'p.yaml', poisonRegistry), poisonRegistry);
  const kafka = createMemoryKafka();
  const admin = await kafka.adapter('setup').admin();
  await admin.createTopics([{ name: `sf-in-${process.pid}`, partitions: 1 }]);
  await admin.disconnect();
  const producer = await kafka.adapter('setup').producer();
  await producer.send([1, 2, 3, 4].map((i) => ({ topic: `sf-in-${process.pid}`, key: Buffer.from('a'), value: Buffer.from(JSON.stringify({ messageId: `m${i}`, type: 'track', event: 'view', anonymousId: 'a', timestamp: 1_767_225_600_000 + i * 60_000 })) })));
  await producer.disconnect();
  const logs: string[] = [];
  const stateDir = join(dir, 'state');
  await assert.rejects(runKafka({ topology, adapter: kafka.adapter('a'), stateDir, tickMs: 20, log: (l) => logs.push(l) }), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.equal(e.message, `task 0_0: failed 6 times in a row before its first commit (MDB_PAGE_NOTFOUND: Requested page not found); check the disk under ${join(stateDir, topology.name, '0_0')} (space, permissions), or delete that directory: the task rebuilds it from its changelogs; then run again`);
    return true;
  });
  assert.equal(logs.filter((l) => /^task 0_0: its state store failed \(MDB_PAGE_NOTFOUND: Requested page not found\); reopening it from the last commit \(attempt [1-5] of 5\)$/.test(l)).length, 5, logs.join('\n'));
  const reader = await kafka.adapter('reader').admin();
  const dead = await reader.endOffsets(`${topology.name}-dead-letter`);
  await reader.disconnect();
  assert.deepEqual(dead.map((w) => w.high), ['0']);
});
