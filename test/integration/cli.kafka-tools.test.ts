// The Kafka tools of the command line (topics, produce, consume, reset) run as a user runs them
// (`node dist/bin/tributary.js …`) against the real broker: topics listed with partitions and
// sizes, produce → consume round trips with keys where the runtime's partitioner puts them, Avro
// output decoded, the application reset tool, and the new user's path from an empty broker to a
// consumed campaign-triggers topic. Errors and help need no broker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { resolveKey } from '../../lib/event/key.js';
import { partitionForKey } from '../../lib/runtime/kafka/partitioner.js';
import { planTopics } from '../../lib/runtime/kafka/topics.js';
import { avroEventSchema, encodeAvroEvent, frameConfluent } from '../../lib/serde/avro.js';
import { streamAvroSchema } from '../../lib/serde/derived-avro.js';
import { BIN, ROOT, tributary, tributaryAsync } from '../support/cli.js';
import { canonical, testAdapter, uniquePipeline } from '../support/kafka-pipeline.js';
import { createTopic, deleteTopics, kafkaBrokers, kafkaClient, skipReason, uniqueName } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();
const brokers = () => ['--brokers', (kafkaBrokers() ?? []).join(',')];

/** `tributary …` that must exit 0. */
function ok(args: string[]): string {
  const r = tributary(args);
  assert.equal(r.code, 0, `tributary ${args.join(' ')}\n${r.stderr}`);
  return r.stdout;
}

/** The rows of `tributary topics`: name → [role, partitions, records]. */
function topicRows(stdout: string): Record<string, [string, string, string]> {
  const lines = stdout.split('\n').filter(Boolean);
  const header = lines.findIndex((l) => l.startsWith('TOPIC '));
  assert.ok(header >= 0, stdout);
  const rows: Record<string, [string, string, string]> = {};
  for (const line of lines.slice(header + 1)) {
    const cells = line.split(/\s{2,}/);
    if (cells.length !== 5) break;
    rows[cells[0] as string] = [cells[1] as string, cells[3] as string, cells[4] as string];
  }
  return rows;
}

/** The counts of a run summary: source records and the records written per stream. */
function runCounts(stdout: string): Record<string, number> {
  const source = /(\d+) source records/.exec(stdout);
  assert.ok(source, stdout);
  const written = stdout.slice(stdout.indexOf('records written by this instance:'));
  return { source: Number(source[1]), ...Object.fromEntries([...written.matchAll(/^ {4}(\S+)\s+(\d+)$/gm)].map((m) => [m[1], Number(m[2])])) };
}

async function groupOffsets(group: string, topic: string): Promise<string[]> {
  const admin = await testAdapter().admin();
  try {
    return (await admin.fetchOffsets(group, topic)).map((o) => o.offset);
  } finally {
    await admin.disconnect();
  }
}

async function existing(names: string[]): Promise<string[]> {
  const admin = await testAdapter().admin();
  try {
    return (await admin.describeTopics(names)).map((d) => d.name).sort();
  } finally {
    await admin.disconnect();
  }
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('every tool: --help with an example; bad arguments exit 2 with one line', () => {
  for (const command of ['topics', 'produce', 'consume', 'reset']) {
    const r = tributary([command, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: tributary ${command} `));
    assert.match(r.stdout, new RegExp(`\\nExample:\\n(  tributary .*\\n)*  tributary ${command} `));
  }
  const bad: Array<[string[], RegExp]> = [
    [['consume', 't', '--max', 'ten'], /^error: option '-n, --max <n>' argument 'ten' is invalid\. --max must be a whole number of at least 1, got "ten"\n/],
    [['reset', 'examples/cart-abandonment/pipeline.yaml', '--to-datetime', 'yesterday'], /--to-datetime must be an ISO date-time such as 2024-05-01T12:00:00Z, got "yesterday"\n/],
    [['topics', 'examples/cart-abandonment/pipeline.yaml', '--create', '--delete-internal'], /^error: --create and --delete-internal do not go together: choose one\n$/],
    [['produce', 't', '--input', 'x.ndjson', '--rate', '0'], /--rate must be a positive number of events per second, got "0"\n/],
    [['produce', 't'], /^error: required option '-i, --input <file\|->' not specified\n/],
  ];
  for (const [args, message] of bad) {
    const r = tributary(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('an unreachable broker: one line, exit 1, within 10 s, for every tool', () => {
  const dir = tempDir();
  const input = join(dir, 'one.ndjson');
  writeFileSync(input, '{"a":1}\n');
  for (const args of [
    ['topics', 'examples/cart-abandonment/pipeline.yaml'],
    ['produce', 'behavior-events', '--input', input],
    ['consume', 'behavior-events'],
    ['reset', 'examples/cart-abandonment/pipeline.yaml', '--dry-run'],
  ]) {
    const started = Date.now();
    const r = tributary([...args, '--brokers', '127.0.0.1:9']);
    const took = Date.now() - started;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: cannot reach Kafka at 127\.0\.0\.1:9 \([^\n]*ECONNREFUSED[^\n]*\); is the broker running\?\n$/);
    assert.equal(r.stdout, '');
    assert.ok(took < 10_000, `${args[0]} took ${took} ms`);
  }
});

test('produce NDJSON keyed by the pipeline\'s source key, consume it back: the same records, each key in the partition murmur2 gives it',
  { skip, timeout: 120_000 }, async (t) => {
    const dir = tempDir();
    const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir);
    await createTopic(p.source, { partitions: 3 });
    t.after(() => deleteTopics(p.source));
    const lines = ok(['generate', '--events', '300', '--seed', '5']).split('\n').filter(Boolean);
    const input = join(dir, 'events.ndjson');
    writeFileSync(input, lines.join('\n') + '\n');
    const events = lines.map((l) => JSON.parse(l) as TributaryEvent);
    const expected = [0, 0, 0];
    for (const e of events) expected[partitionForKey(Buffer.from(resolveKey(e, ['anonymousId', 'userId']) as string), 3)]! += 1;

    const produced = ok(['produce', p.source, '--input', input, '--pipeline', p.file, ...brokers()]);
    assert.match(produced, new RegExp(`^produced 300 records to ${p.source}: 3 of 3 partitions \\(p0: ${expected[0]}, p1: ${expected[1]}, p2: ${expected[2]}\\), keyed by anonymousId\\|userId in [\\d.]+ s\\n$`));

    const started = Date.now();
    const r = tributary(['consume', p.source, '--from-beginning', '--max', '300', '--meta', ...brokers()]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - started < 15_000, `consume --max took ${Date.now() - started} ms`);
    assert.equal(r.stderr, `300 records from ${p.source}\n`);
    const records = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { partition: number; key: string; value: TributaryEvent });
    assert.equal(records.length, 300);
    assert.deepEqual(records.map((x) => canonical(x.value)).sort(), lines.map((l) => canonical(JSON.parse(l))).sort());
    for (const x of records) {
      assert.equal(x.key, resolveKey(x.value, ['anonymousId', 'userId']));
      assert.equal(x.partition, partitionForKey(Buffer.from(x.key), 3));
    }
    assert.deepEqual([0, 1, 2].map((n) => records.filter((x) => x.partition === n).length), expected);

    // --max stops early; without --meta each line is the value; --timeout ends a read of an idle topic.
    const five = ok(['consume', p.source, '--from-beginning', '--max', '5', ...brokers()]).split('\n').filter(Boolean);
    assert.equal(five.length, 5);
    for (const l of five) assert.ok(lines.map((x) => canonical(JSON.parse(x))).includes(canonical(JSON.parse(l))));
    const idle = tributary(['consume', p.source, '--timeout', '1500', ...brokers()]);
    assert.equal(idle.code, 0, idle.stderr);
    assert.equal(idle.stdout, '');
    assert.equal(idle.stderr, `0 records from ${p.source}\n`);
  });

test('a CSV source through the pipeline\'s mapping: topics --create, produce keyed by user_id, a bounded run, a refused reset while it runs, reset, and a second run with the same counts',
  { skip, timeout: 240_000 }, async (t) => {
    const dir = tempDir();
    const p = uniquePipeline('examples/rees46-dedupe/pipeline.yaml', dir);
    const app = p.topology.name;
    const plan = planTopics(p.topology, 3);
    t.after(() => deleteTopics(p.source, ...plan.topics.map((x) => x.name)));
    const csv = readFileSync('examples/data/rees46-2019-10-01-head.csv', 'utf8').split('\n').slice(0, 1501).join('\n') + '\n';
    const input = join(dir, 'head.csv');
    writeFileSync(input, csv);

    const before = topicRows(ok(['topics', p.file, ...brokers()]));
    assert.deepEqual(Object.keys(before), [p.source, ...plan.topics.filter((x) => x.role === 'output').map((x) => x.name), ...plan.topics.filter((x) => x.role === 'repartition').map((x) => x.name), ...plan.topics.filter((x) => x.role === 'changelog').map((x) => x.name)]);
    for (const [role, partitions, records] of Object.values(before)) assert.deepEqual([partitions, records], ['missing', '-'], role);

    const created = ok(['topics', p.file, '--create', ...brokers()]);
    assert.match(created, new RegExp(`^created source topic ${p.source} \\(3 partitions\\)\\ncreated ${plan.topics.length} topics: `));
    const produced = ok(['produce', p.source, '--input', input, '--pipeline', p.file, ...brokers()]);
    assert.match(produced, new RegExp(`^produced 1500 records to ${p.source}: 3 of 3 partitions \\(p0: \\d+, p1: \\d+, p2: \\d+\\), keyed by userId\\|anonymousId in`));

    const after = topicRows(ok(['topics', p.file, ...brokers()]));
    assert.deepEqual(after[p.source], ['source', '3', '1500']);
    for (const x of plan.topics) assert.deepEqual(after[x.name], [x.role, String(x.partitions), '0'], x.name);

    // Each row went as a JSON object of its columns, keyed by user_id (userId after the mapping).
    const consumed = ok(['consume', p.source, '--from-beginning', '--max', '1500', '--meta', ...brokers()]).split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { partition: number; key: string; value: Record<string, string> });
    assert.equal(consumed.length, 1500);
    for (const x of consumed) {
      assert.equal(x.key, x.value.user_id);
      assert.equal(x.partition, partitionForKey(Buffer.from(x.key), 3));
    }

    const stateDir = join(dir, 'state');
    const first = runCounts(ok(['run', p.file, ...brokers(), '--bounded', '--state-dir', stateDir, '-q']));
    assert.equal(first.source, 1500);
    assert.ok(existsSync(join(stateDir, app)));
    const sizes = topicRows(ok(['topics', p.file, ...brokers()]));
    assert.deepEqual(sizes[p.topics.events as string], ['output', '3', String(first.events)]);
    assert.deepEqual(sizes[p.topics.duplicates as string], ['output', '3', String(first.duplicates)]);
    assert.deepEqual(await groupOffsets(app, p.source), consumed.reduce((n, x) => { n[x.partition]! += 1; return n; }, [0, 0, 0]).map(String));

    // While the pipeline runs, reset and --delete-internal refuse.
    const running = tributaryAsync(['run', p.file, ...brokers(), '--state-dir', join(dir, 'state-running'), '-q']);
    const exited = new Promise((resolve) => running.on('exit', resolve));
    try {
      const admin = kafkaClient().admin();
      await admin.connect();
      try {
        await until('the running pipeline to join its group', async () => (await admin.describeGroups([app])).groups[0]?.members.length === 1);
      } finally {
        await admin.disconnect();
      }
      const refused = tributary(['reset', p.file, ...brokers(), '--state-dir', stateDir]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr, `error: consumer group ${app} has 1 active member: stop the pipeline before resetting it\n`);
      const refusedDelete = tributary(['topics', p.file, '--delete-internal', ...brokers()]);
      assert.equal(refusedDelete.code, 1);
      assert.equal(refusedDelete.stderr, `error: consumer group ${app} has 1 active member: stop the pipeline before deleting its internal topics\n`);
    } finally {
      running.kill('SIGTERM');
      await exited;
    }

    const internal = plan.topics.filter((x) => x.role !== 'output').map((x) => x.name).sort();
    const dry = ok(['reset', p.file, ...brokers(), '--state-dir', stateDir, '--dry-run']);
    assert.match(dry, /^dry run: reset pipeline/);
    assert.match(dry, new RegExp(`would delete ${internal.length} internal topics`));
    assert.deepEqual(await existing(internal), internal);
    const reset = ok(['reset', p.file, ...brokers(), '--state-dir', stateDir]);
    assert.match(reset, new RegExp(`^reset pipeline ${app} \\(consumer group ${app}\\)\\n  set the group's offsets of ${p.source} to the earliest offsets: p0: 0, p1: 0, p2: 0 \\(committed: `));
    assert.match(reset, new RegExp(`\\n  deleted ${internal.length} internal topics: `));
    assert.match(reset, new RegExp(`\\n  removed the local state ${stateDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${app}\\n`));
    assert.deepEqual(await groupOffsets(app, p.source), ['0', '0', '0']);
    assert.equal(existsSync(join(stateDir, app)), false);
    await until('the internal topics to be gone', async () => (await existing(internal)).length === 0);

    const second = runCounts(ok(['run', p.file, ...brokers(), '--bounded', '--state-dir', stateDir, '-q']));
    assert.deepEqual(second, first);
  });

test('the new user\'s path: topics --create, produce generated events, run the cart-abandonment example bounded, consume its Avro campaign-triggers, reset',
  { skip, timeout: 240_000 }, async (t) => {
    const dir = tempDir();
    const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir);
    const plan = planTopics(p.topology, 3);
    t.after(() => deleteTopics(p.source, ...plan.topics.map((x) => x.name)));
    const events = join(dir, 'events.ndjson');
    const stateDir = join(dir, 'state');

    ok(['topics', p.file, '--create', ...brokers()]);
    ok(['generate', '--events', '2000', '--seed', '3', '--out', events]);
    assert.match(ok(['produce', p.source, '--input', events, '--pipeline', p.file, ...brokers()]), /^produced 2000 records to .*: 3 of 3 partitions/);
    const counts = runCounts(ok(['run', p.file, ...brokers(), '--bounded', '--state-dir', stateDir, '-q']));
    assert.equal(counts.source, 2000);
    const triggers = counts['campaign-triggers'] as number;
    assert.ok(triggers > 0);
    const topic = p.topics['campaign-triggers'] as string;
    assert.deepEqual(topicRows(ok(['topics', p.file, ...brokers()]))[topic], ['output', '3', String(triggers)]);

    // Avro output: decoded with the pipeline's stream schema, or with a schema file; raw otherwise.
    const decoded = ok(['consume', topic, '--from-beginning', '--max', String(triggers), '--pipeline', p.file, ...brokers()]).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(decoded.length, triggers);
    for (const r of decoded) {
      assert.equal(r.rule, 'cart-abandoned');
      assert.match(String(r.triggerId), /^t-[0-9a-f]{32}$/);
      assert.equal(typeof r.firedAt, 'number');
    }
    const stream = p.topology.streams.find((s) => s.name === 'campaign-triggers');
    const avsc = join(dir, 'triggers.avsc');
    writeFileSync(avsc, JSON.stringify(streamAvroSchema(stream?.kind as string)));
    const withSchema = ok(['consume', topic, '--from-beginning', '--max', String(triggers), '--avro-schema', avsc, ...brokers()]).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(withSchema.map((r) => r.triggerId).sort(), decoded.map((r) => r.triggerId).sort());
    const raw = ok(['consume', topic, '--from-beginning', '--max', '1', ...brokers()]);
    assert.match(raw, /^\{"base64":"[A-Za-z0-9+/=]+"\}\n$/);

    // Offsets for a time (dry runs): before every record, the first offsets; after every record, the end offsets.
    const ends = await testAdapter().admin().then(async (admin) => {
      try {
        return (await admin.endOffsets(p.source)).map((w) => `p${w.partition}: ${w.high}`).join(', ');
      } finally {
        await admin.disconnect();
      }
    });
    assert.match(ok(['reset', p.file, ...brokers(), '--to-datetime', '2000-01-01T00:00:00Z', '--dry-run']), /would set the group's offsets of .* to the offsets at 2000-01-01T00:00:00\.000Z: p0: 0, p1: 0, p2: 0 \(/);
    assert.match(ok(['reset', p.file, ...brokers(), '--to-datetime', '2999-01-01T00:00:00Z', '--dry-run']), new RegExp(`to the offsets at 2999-01-01T00:00:00\\.000Z: ${ends} \\(committed: ${ends}\\)`));

    const reset = ok(['reset', p.file, ...brokers(), '--state-dir', stateDir]);
    assert.match(reset, /set the group's offsets of .* to the earliest offsets: p0: 0, p1: 0, p2: 0/);
    assert.deepEqual(await groupOffsets(p.topology.name, p.source), ['0', '0', '0']);
    assert.equal(existsSync(join(stateDir, p.topology.name)), false);
  });

/** `tributary …` without blocking this process (an in-test server must answer it). */
function tributaryLater(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('consume --schema-registry: Confluent-framed Avro events come out as the events produced', { skip, timeout: 60_000 }, async (t) => {
  const server = createServer((req, res) => {
    const ok = req.method === 'GET' && req.url === '/schemas/ids/7';
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify(ok ? { schema: JSON.stringify(avroEventSchema()) } : { error_code: 40403, message: 'Schema not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const topic = await createTopic(uniqueName('cli-avro'), { partitions: 2 });
  t.after(() => deleteTopics(topic));
  const events = ok(['generate', '--events', '20', '--seed', '9']).split('\n').filter(Boolean).map((l) => JSON.parse(l) as TributaryEvent);
  const producer = await testAdapter().producer();
  await producer.send(events.map((e) => ({ topic, key: null, value: frameConfluent(7, encodeAvroEvent(e)) })));
  await producer.disconnect();

  const r = await tributaryLater(['consume', topic, '--from-beginning', '--max', '20', '--schema-registry', registry, ...brokers()]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter(Boolean).map((l) => canonical(JSON.parse(l))).sort(), events.map((e) => canonical(e)).sort());
  const without = tributary(['consume', topic, '--from-beginning', '--max', '1', ...brokers()]);
  assert.equal(without.code, 1);
  assert.equal(without.stderr, `error: ${topic}: the values are Avro in the Confluent wire format (schema id 7): give --schema-registry <url> or --avro-schema <file.avsc>\n`);
});
