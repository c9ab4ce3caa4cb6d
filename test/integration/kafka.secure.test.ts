// Every Kafka command over SASL_SSL, run as a user runs it, against a broker of the test's own:
// the Maven broker of scripts/kafka-broker.mjs started with `secure: true` (a self-signed
// certificate made with keytool, SCRAM-SHA-512/256 and PLAIN user `tributary` created at format
// time, a random password in a file), so the shared broker of the other tests is never touched.
// The settings come from each source in turn: the definition (kafka.tls.ca, kafka.sasl with
// passwordFile, paths relative to it), flags, and the environment; `consume` also decodes
// Confluent-framed Avro through an in-process registry that wants basic auth. Then what an
// operator gets wrong: a wrong password, TLS without the CA, no TLS at all, no or a wrong
// registry login; each is one line with the fix and exit 1, and no output of any command ever
// shows a password.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { createKafkaJsAdapter } from '../../lib/runtime/kafka/client.js';
import { avroEventSchema, encodeAvroEvent, frameConfluent } from '../../lib/serde/avro.js';
import { BIN, ROOT, tributary, type CliResult } from '../support/cli.js';
import { canonical } from '../support/kafka-pipeline.js';
import { kafkaBrokers, skipReason, uniqueName } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

interface SecureBroker {
  brokers: string;
  stop(): Promise<void>;
  secure: { ca: string; username: string; passwordFile: string };
}
interface BrokerScript {
  startBroker(options: { secure: boolean; log?: (line: string) => void }): Promise<SecureBroker>;
}

// Only where integration tests run (scripts/test.mjs found a way to run a broker).
const skip = kafkaBrokers() ? false : skipReason();

/** The environment without the shared broker's or any other Kafka / registry settings. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KAFKA_|SCHEMA_REGISTRY_)/.test(k)));
  return { ...env, ...extra };
}

/** `tributary <args>` without blocking this process (the test's registry answers meanwhile). */
function tributaryLater(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** The counts of a summary's `records written` (Kafka run) or `outputs in` (embedded, replay) lines. */
function counts(stdout: string): Record<string, number> {
  return Object.fromEntries([...stdout.matchAll(/^ {4}(\S+?)(?:\.ndjson)?\s+(\d+)(?: records)?$/gm)].map((m) => [m[1], Number(m[2])]));
}

test('TLS + SASL (SCRAM-SHA-512/256, PLAIN): topics, produce, a bounded run, consume (also through a registry with basic auth), replay and reset over SASL_SSL; a wrong password, a missing CA and no TLS are one line each', { skip, timeout: 300_000 }, async (t) => {
  const script = new URL('../../../scripts/kafka-broker.mjs', import.meta.url).href;
  const { startBroker } = (await import(script)) as BrokerScript;
  let broker: SecureBroker;
  try {
    broker = await startBroker({ secure: true, log: (line) => t.diagnostic(line) });
  } catch (e) {
    if (process.env.REQUIRE_KAFKA === '1') throw e;
    t.skip(`no secure broker: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  t.after(() => broker.stop());
  const { brokers, secure } = broker;
  const password = readFileSync(secure.passwordFile, 'utf8').trim();
  const outputs: CliResult[] = [];
  const cli = (args: string[], env: Record<string, string> = {}) => {
    const r = tributary(args, undefined, cleanEnv(env));
    outputs.push(r);
    return r;
  };
  const cliLater = async (args: string[], env: Record<string, string> = {}) => {
    const r = await tributaryLater(args, cleanEnv(env));
    outputs.push(r);
    return r;
  };
  const ok = (args: string[], env: Record<string, string> = {}) => {
    const r = cli(args, env);
    assert.equal(r.code, 0, `tributary ${args.join(' ')}\n${r.stderr}`);
    return r;
  };

  // The definition names the broker, the CA and the password file (relative to itself).
  const dir = tempDir();
  copyFileSync(secure.ca, join(dir, 'ca.pem'));
  copyFileSync(secure.passwordFile, join(dir, 'kafka-password'));
  const name = uniqueName('secure');
  const source = `${name}-in`;
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(file, [
    `name: ${name}`,
    'source:',
    `  topic: ${source}`,
    '  format: json',
    '  key: [userId, anonymousId]',
    'steps:',
    '  - dedupe: { key: messageId, ttl: 24h, output: duplicates }',
    'kafka:',
    `  brokers: [${brokers}]`,
    '  tls: { ca: ca.pem }',
    `  sasl: { mechanism: SCRAM-SHA-512, username: ${secure.username}, passwordFile: kafka-password }`,
    '',
  ].join('\n'));
  const events = join(dir, 'events.ndjson');
  ok(['generate', '--events', '600', '--seed', '3', '--out', events]);
  const embedded = counts(ok(['run', file, '--input', events, '--out-dir', join(dir, 'embedded'), '-q']).stdout);
  assert.deepEqual(embedded, { events: 557, 'dead-letter': 0, late: 40, duplicates: 3, forgotten: 0 });

  // From the definition alone.
  const created = ok(['topics', file, '--create', '--partitions', '2']).stdout;
  assert.match(created, new RegExp(`^created source topic ${source} \\(2 partitions\\)\\ncreated 7 topics: `));
  // Flags win over the definition: SCRAM-SHA-256 with the flag's password file.
  const produced = ok(['produce', source, '--input', events, '--pipeline', file, '--brokers', brokers, '--tls-ca', secure.ca,
    '--sasl-mechanism', 'scram-sha-256', '--sasl-username', secure.username, '--sasl-password-file', secure.passwordFile]).stdout;
  assert.match(produced, new RegExp(`^produced 600 records to ${source}: 2 of 2 partitions \\(p0: \\d+, p1: \\d+\\), keyed by userId\\|anonymousId in`));
  const run = ok(['run', file, '--bounded', '--state-dir', join(dir, 'state')]);
  assert.match(run.stdout, /^done: pipeline .*, 600 source records in/);
  assert.deepEqual(counts(run.stdout), embedded);
  assert.match(run.stderr, new RegExp(`^kafka: ${brokers} over TLS \\(CA file\\), SASL SCRAM-SHA-512 as "tributary"\\n`));
  // The environment wins over the definition: PLAIN with KAFKA_SASL_PASSWORD.
  const consumed = ok(['consume', `${name}-events`, '--from-beginning', '--max', '557', '--timeout', '5000', '--pipeline', file],
    { KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_PASSWORD: password });
  assert.equal(consumed.stdout.split('\n').filter(Boolean).length, 557);
  assert.equal(consumed.stderr, `557 records from ${name}-events\n`);
  const replay = ok(['replay', file, '--from', '2000-01-01T00:00:00Z', '--out-dir', join(dir, 'replay'), '-q']);
  assert.deepEqual(counts(replay.stdout), embedded);
  const reset = ok(['reset', file, '--state-dir', join(dir, 'state')]);
  assert.match(reset.stdout, /^reset pipeline /);

  // The schema registry's basic auth: Confluent-framed Avro decoded through a registry that wants a login.
  const registryPassword = 'registry-password-never-shown';
  const server = createServer((req, res) => {
    const authorized = req.headers.authorization === `Basic ${Buffer.from(`app:${registryPassword}`).toString('base64')}`;
    const found = req.method === 'GET' && req.url === '/schemas/ids/7';
    const [status, body] = !authorized ? [401, { error_code: 401, message: 'Unauthorized' }]
      : found ? [200, { schema: JSON.stringify(avroEventSchema()) }] : [404, { error_code: 40403, message: 'Schema not found' }];
    res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const avroTopic = `${name}-avro`;
  const adapter = createKafkaJsAdapter({ brokers: [brokers], logLevel: 'nothing', security: { tls: { ca: readFileSync(secure.ca, 'utf8') }, sasl: { mechanism: 'SCRAM-SHA-512', username: secure.username, password } } });
  const admin = await adapter.admin();
  await admin.createTopics([{ name: avroTopic, partitions: 1 }]);
  await admin.disconnect();
  const sample = readFileSync(events, 'utf8').split('\n').filter(Boolean).slice(0, 10).map((l) => JSON.parse(l) as TributaryEvent);
  const producer = await adapter.producer();
  await producer.send(sample.map((e) => ({ topic: avroTopic, key: null, value: frameConfluent(7, encodeAvroEvent(e)) })));
  await producer.disconnect();
  const registryPasswordFile = join(dir, 'registry-password');
  writeFileSync(registryPasswordFile, `${registryPassword}\n`);
  const avro = ['consume', avroTopic, '--from-beginning', '--pipeline', file, '--schema-registry', registry];
  const decoded = await cliLater([...avro, '--max', '10', '--schema-registry-username', 'app', '--schema-registry-password-file', registryPasswordFile]);
  assert.equal(decoded.code, 0, decoded.stderr);
  assert.deepEqual(decoded.stdout.split('\n').filter(Boolean).map((l) => canonical(JSON.parse(l))).sort(), sample.map((e) => canonical(e)).sort());
  const noLogin = await cliLater([...avro, '--max', '1']);
  assert.deepEqual([noLogin.code, noLogin.stdout, noLogin.stderr], [1, '',
    `error: schema registry GET ${registry}/schemas/ids/7: HTTP 401 Unauthorized (error_code 401: Unauthorized): the registry wants a login (--schema-registry-username, SCHEMA_REGISTRY_USERNAME)\n`]);
  const wrongLogin = await cliLater([...avro, '--max', '1'], { SCHEMA_REGISTRY_USERNAME: 'app', SCHEMA_REGISTRY_PASSWORD: 'not-the-registry-password' });
  assert.deepEqual([wrongLogin.code, wrongLogin.stdout, wrongLogin.stderr], [1, '',
    `error: schema registry GET ${registry}/schemas/ids/7: HTTP 401 Unauthorized (error_code 401: Unauthorized): check the registry username and password\n`]);

  // A wrong password: one line, exit 1, from a tool and from a run (also with --verbose).
  const refused = `error: Kafka at ${brokers} refused the SASL login for user "tributary" (SCRAM-SHA-512): check the username/password\n`;
  const wrong = { KAFKA_SASL_PASSWORD: 'wrong-password-for-sure' };
  const consumeWrong = cli(['consume', `${name}-events`, '--from-beginning', '--max', '1', '--pipeline', file], wrong);
  assert.deepEqual([consumeWrong.code, consumeWrong.stdout, consumeWrong.stderr], [1, '', refused]);
  const runWrong = cli(['--verbose', 'run', file, '--bounded', '--state-dir', join(dir, 'state-wrong')], wrong);
  assert.deepEqual([runWrong.code, runWrong.stdout, runWrong.stderr], [1, '', `kafka: ${brokers} over TLS (CA file), SASL SCRAM-SHA-512 as "tributary"\n${refused}`]);
  assert.ok(!`${consumeWrong.stderr}${runWrong.stderr}`.includes('wrong-password-for-sure'));

  // TLS without the CA: the self-signed certificate is not trusted.
  const sasl = ['--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', secure.username, '--sasl-password-file', secure.passwordFile];
  const noCa = cli(['consume', `${name}-events`, '--brokers', brokers, '--tls', ...sasl]);
  assert.deepEqual([noCa.code, noCa.stdout, noCa.stderr], [1, '',
    `error: the TLS certificate of Kafka at ${brokers} is not trusted (self-signed certificate): give the CA that signed it with --tls-ca <file> (or KAFKA_TLS_CA, kafka.tls.ca)\n`]);
  // No TLS at all: the SASL_SSL listener drops the connection.
  const flagOverEnv = cli(['topics', '--brokers', brokers, file, '--tls-ca', secure.ca, '--sasl-mechanism', 'PLAIN'], { KAFKA_TLS: '0' });
  assert.equal(flagOverEnv.code, 0, 'a --tls-* flag turns TLS on whatever KAFKA_TLS says');
  const noTls = cli(['consume', `${name}-events`, '--brokers', brokers, ...sasl]);
  assert.deepEqual([noTls.code, noTls.stdout, noTls.stderr], [1, '',
    `error: Kafka at ${brokers} closed the connection (Closed connection): if its listener wants TLS (--tls), give it\n`]);

  for (const r of outputs) {
    for (const secret of [password, registryPassword, 'not-the-registry-password']) assert.ok(!`${r.stdout}${r.stderr}`.includes(secret), `a password shows in:\n${r.stdout}${r.stderr}`);
  }
});
