// Where a Kafka command's TLS, SASL and schema registry login come from (flags, then the
// environment, then the definition), what bad settings say (exit 2, no secret shown), and the
// one line a refused login or an untrusted certificate becomes. No broker needed: the settings
// are read from real files, the CLI is run as a user runs it, the failures are kafkajs's own
// error classes as the secure-broker integration test meets them.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { isSecurityLogNoise, securityFailure } from '../../lib/cli/connection-errors.js';
import { ConnectionSettingsError, loadRegistry, loadSecurity, planRegistry, planSecurity } from '../../lib/cli/kafka-connection.js';
import type { PipelineDefinition } from '../../lib/pipeline/definition.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

type Kafka = PipelineDefinition['kafka'];

function files() {
  const dir = tempDir();
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  return {
    dir,
    ca: write('ca.pem', 'CA-PEM'),
    flagCa: write('flag-ca.pem', 'FLAG-CA-PEM'),
    cert: write('client.pem', 'CERT-PEM'),
    key: write('client.key', 'KEY-PEM'),
    password: write('password', 'from-file-s3cret\n'),
    empty: write('empty', '\n'),
  };
}

const settingsError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConnectionSettingsError, String(e));
    return e.message;
  }
  assert.fail('no ConnectionSettingsError');
};

test('security from the definition alone: kafka.tls paths relative to its directory, the SASL password from passwordEnv or passwordFile', () => {
  const f = files();
  const kafka: Kafka = { tls: { ca: 'ca.pem', cert: 'client.pem', key: 'client.key' }, sasl: { mechanism: 'SCRAM-SHA-256', username: 'app', passwordEnv: 'APP_KAFKA_PASSWORD' } };
  const env = { APP_KAFKA_PASSWORD: 'env-s3cret' };
  const plan = planSecurity({}, env, kafka, f.dir);
  assert.deepEqual(plan.warnings, []);
  assert.deepEqual(loadSecurity(plan, env), {
    tls: { ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM' },
    sasl: { mechanism: 'SCRAM-SHA-256', username: 'app', password: 'env-s3cret' },
  });
  const fromFile = planSecurity({}, {}, { tls: true, sasl: { mechanism: 'PLAIN', username: 'app', passwordFile: 'password' } }, f.dir);
  assert.deepEqual(loadSecurity(fromFile, {}), { tls: {}, sasl: { mechanism: 'PLAIN', username: 'app', password: 'from-file-s3cret' } }, 'one trailing newline is not part of the password');
  assert.deepEqual(loadSecurity(planSecurity({}, {}, undefined, f.dir), {}), {}, 'nothing set: PLAINTEXT');
});

test('precedence: flags over the environment over the definition, setting by setting', () => {
  const f = files();
  const kafka: Kafka = { tls: { ca: 'ca.pem' }, sasl: { mechanism: 'PLAIN', username: 'def-user', passwordEnv: 'DEF_PASSWORD' } };
  const env = { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'env-user', KAFKA_SASL_PASSWORD: 'env-s3cret', DEF_PASSWORD: 'def-s3cret' };
  assert.deepEqual(loadSecurity(planSecurity({}, env, kafka, f.dir), env), {
    tls: { ca: 'CA-PEM' },
    sasl: { mechanism: 'SCRAM-SHA-256', username: 'env-user', password: 'env-s3cret' },
  });
  const flags = { tlsCa: f.flagCa, saslMechanism: 'SCRAM-SHA-512', saslUsername: 'flag-user', saslPasswordFile: f.password };
  assert.deepEqual(loadSecurity(planSecurity(flags, env, kafka, f.dir), env), {
    tls: { ca: 'FLAG-CA-PEM' },
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'flag-user', password: 'from-file-s3cret' },
  });
  // KAFKA_TLS=0 turns the definition's TLS off; a --tls-* flag turns it on whatever the environment says.
  assert.equal(planSecurity({}, { KAFKA_TLS: '0' }, kafka, f.dir).tls, undefined);
  assert.deepEqual(planSecurity({ tlsSkipVerify: true }, { KAFKA_TLS: '0' }, undefined, f.dir).tls, { rejectUnauthorized: false });
  assert.deepEqual(loadSecurity(planSecurity({}, { KAFKA_TLS: 'true', KAFKA_TLS_CA: f.ca }, undefined, f.dir), {}), { tls: { ca: 'CA-PEM' } });
  // KAFKA_SASL_PASSWORD alone (no mechanism, no user) does not start a SASL login.
  assert.deepEqual(loadSecurity(planSecurity({}, { KAFKA_SASL_PASSWORD: 'x' }, undefined, f.dir), {}), {});
});

test('warnings: PLAIN without TLS, certificates not verified', () => {
  const f = files();
  assert.deepEqual(planSecurity({ saslMechanism: 'plain', saslUsername: 'u', saslPasswordFile: f.password }, {}, undefined, f.dir).warnings,
    ['SASL PLAIN without TLS sends the password in clear text: add --tls (or KAFKA_TLS=1, kafka.tls)']);
  assert.deepEqual(planSecurity({}, {}, { tls: { rejectUnauthorized: false } }, f.dir).warnings,
    ['TLS certificates are not verified (--tls-skip-verify): anyone on the path can pose as the broker']);
});

test('settings that cannot work: each one line naming the setting, never the password', () => {
  const f = files();
  assert.equal(settingsError(() => planSecurity({ saslUsername: 'u' }, {}, undefined, f.dir)),
    'SASL needs a mechanism: --sasl-mechanism PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (or KAFKA_SASL_MECHANISM, kafka.sasl.mechanism)');
  assert.equal(settingsError(() => planSecurity({}, { KAFKA_SASL_MECHANISM: 'GSSAPI', KAFKA_SASL_USERNAME: 'u' }, undefined, f.dir)),
    'the SASL mechanism must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got "GSSAPI" (--sasl-mechanism, KAFKA_SASL_MECHANISM, kafka.sasl.mechanism)');
  assert.equal(settingsError(() => planSecurity({ saslMechanism: 'PLAIN' }, {}, undefined, f.dir)),
    'SASL needs a username: --sasl-username <name> (or KAFKA_SASL_USERNAME, kafka.sasl.username)');
  assert.equal(settingsError(() => planSecurity({ saslMechanism: 'PLAIN', saslUsername: 'app' }, {}, undefined, f.dir)),
    'SASL needs the password of user "app": --sasl-password-file <file>, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE (or kafka.sasl.passwordEnv / passwordFile)');
  assert.equal(settingsError(() => planSecurity({}, {}, { sasl: { mechanism: 'PLAIN', username: 'u', passwordEnv: 'A', passwordFile: 'b' } }, f.dir)),
    'kafka.sasl: give passwordEnv or passwordFile, not both');
  assert.equal(settingsError(() => planSecurity({ tlsCert: f.cert }, {}, undefined, f.dir)),
    '--tls-cert needs the certificate\'s key too: --tls-key <file> (or KAFKA_TLS_KEY, kafka.tls.key)');
  assert.equal(settingsError(() => planSecurity({}, { KAFKA_TLS: 'maybe' }, undefined, f.dir)), 'KAFKA_TLS must be true or false (1 or 0), got "maybe"');
  const unset = planSecurity({}, {}, { sasl: { mechanism: 'PLAIN', username: 'u', passwordEnv: 'NOT_SET_HERE' } }, f.dir);
  assert.equal(settingsError(() => loadSecurity(unset, {})), 'kafka.sasl.passwordEnv names NOT_SET_HERE, which is not set: export it (or give the password in a file)');
  assert.equal(settingsError(() => loadSecurity(planSecurity({ saslMechanism: 'PLAIN', saslUsername: 'u', saslPasswordFile: f.empty }, {}, undefined, f.dir), {})),
    `the password from --sasl-password-file ${f.empty} is empty`);
  assert.equal(settingsError(() => loadSecurity(planSecurity({ tlsCa: join(f.dir, 'missing.pem') }, {}, undefined, f.dir), {})),
    `cannot read --tls-ca ${join(f.dir, 'missing.pem')}: no such file (check the path)`);
});

test('the schema registry login: flags, SCHEMA_REGISTRY_*, kafka.schemaRegistryAuth; none without a registry URL', () => {
  const f = files();
  const kafka: Kafka = { schemaRegistry: 'https://registry.example:8081', schemaRegistryAuth: { username: 'def-user', passwordFile: 'password' } };
  assert.deepEqual(loadRegistry(planRegistry({}, {}, kafka, f.dir) as NonNullable<ReturnType<typeof planRegistry>>, {}),
    { url: 'https://registry.example:8081', basicAuth: { username: 'def-user', password: 'from-file-s3cret' } });
  const env = { SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1', SCHEMA_REGISTRY_USERNAME: 'env-user', SCHEMA_REGISTRY_PASSWORD: 'env-s3cret' };
  assert.deepEqual(loadRegistry(planRegistry({}, env, kafka, f.dir) as NonNullable<ReturnType<typeof planRegistry>>, env),
    { url: 'http://127.0.0.1:1', basicAuth: { username: 'env-user', password: 'env-s3cret' } });
  assert.deepEqual(planRegistry({ schemaRegistry: 'http://r:1' }, {}, undefined, f.dir), { url: 'http://r:1' });
  assert.equal(planRegistry({ schemaRegistryUsername: 'u' }, {}, undefined, f.dir), undefined);
  assert.equal(settingsError(() => planRegistry({ schemaRegistry: 'http://r:1', schemaRegistryUsername: 'u' }, {}, undefined, f.dir)),
    'the schema registry login needs the password of user "u": --schema-registry-password-file <file>, SCHEMA_REGISTRY_PASSWORD or SCHEMA_REGISTRY_PASSWORD_FILE (or kafka.schemaRegistryAuth.passwordEnv / passwordFile)');
});

test('securityFailure: kafkajs\'s SASL and TLS failures as one line with the fix; other errors are not its business', () => {
  // kafkajs's runtime exports; its typings lack KafkaJSConnectionClosedError and the constructors' options.
  type ErrorClass = new (message: unknown, options?: object) => Error;
  const errors = kafkajs as unknown as Record<string, ErrorClass>;
  const [KafkaJSSASLAuthenticationError, KafkaJSConnectionError, KafkaJSConnectionClosedError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError] = ['KafkaJSSASLAuthenticationError', 'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSNumberOfRetriesExceeded', 'KafkaJSProtocolError']
    .map((name) => errors[name] as ErrorClass) as [ErrorClass, ErrorClass, ErrorClass, ErrorClass, ErrorClass];
  const sasl = { mechanism: 'SCRAM-SHA-512' as const, username: 'app', password: 'p4ss-never-shown' };
  const context = { brokers: ['b1:9094', 'b2:9094'], security: { tls: {}, sasl } };
  const refused = new KafkaJSSASLAuthenticationError('SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512');
  assert.equal(securityFailure(refused, context), 'Kafka at b1:9094,b2:9094 refused the SASL login for user "app" (SCRAM-SHA-512): check the username/password');
  assert.equal(securityFailure(new KafkaJSSASLAuthenticationError('SASL SCRAM-SHA-256 mechanism is not supported by the server'), context),
    'Kafka at b1:9094,b2:9094 does not offer SASL SCRAM-SHA-256: choose a mechanism its listener enables (--sasl-mechanism, KAFKA_SASL_MECHANISM or kafka.sasl.mechanism)');
  const selfSigned = new KafkaJSConnectionError('Connection error: self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  const retried = new KafkaJSNumberOfRetriesExceeded(selfSigned, { retryCount: 3, retryTime: 100 });
  assert.equal(securityFailure(retried, { brokers: ['b1:9094'], security: { tls: {} } }),
    'the TLS certificate of Kafka at b1:9094 is not trusted (self-signed certificate): give the CA that signed it with --tls-ca <file> (or KAFKA_TLS_CA, kafka.tls.ca)');
  const handshake = new KafkaJSConnectionError('Connection error: Client network socket disconnected before secure TLS connection was established', { code: 'ECONNRESET' });
  assert.equal(securityFailure(handshake, { brokers: ['b1:9092'], security: { tls: {} } }),
    'Kafka at b1:9092 broke off the TLS handshake (Client network socket disconnected before secure TLS connection was established): is it a TLS listener? Without TLS, leave out the TLS settings (--tls*, KAFKA_TLS*, kafka.tls)');
  assert.equal(securityFailure(handshake, { brokers: ['b1:9092'], security: {} }), undefined, 'without TLS a reset connection is not a TLS failure');
  assert.equal(securityFailure(new KafkaJSConnectionClosedError('Closed connection'), { brokers: ['b1:9094'], security: {} }),
    'Kafka at b1:9094 closed the connection (Closed connection): if its listener wants TLS (--tls) or a SASL login (--sasl-mechanism, --sasl-username, a password), give them');
  assert.equal(securityFailure(new KafkaJSProtocolError({ message: 'Request is not valid given the current SASL state', type: 'ILLEGAL_SASL_STATE', code: 34 }), context),
    'Kafka at b1:9094,b2:9094 takes no SASL login on this listener: leave out the SASL settings, or connect to the broker\'s SASL listener');
  assert.equal(securityFailure(new Error('source topic x does not exist'), context), undefined);
  for (const e of [refused, retried]) assert.ok(!String(securityFailure(e, context)).includes(sasl.password));
  assert.equal(isSecurityLogNoise('kafkajs error: SASL SCRAM SHA512 authentication failed: Authentication failed'), true);
  assert.equal(isSecurityLogNoise('kafkajs error: Connection error: self-signed certificate'), true);
  assert.equal(isSecurityLogNoise('kafkajs warn: The group is rebalancing, re-joining'), false);
});

test('the CLI: bad security settings exit 2 with one line; a literal password in the definition is a definition error; every Kafka command has the flags', () => {
  const dir = tempDir();
  const noPassword = tributary(['topics', 'examples/cart-abandonment/pipeline.yaml', '--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', 'app'], undefined, { PATH: process.env.PATH });
  assert.deepEqual([noPassword.code, noPassword.stdout, noPassword.stderr], [2, '',
    'error: SASL needs the password of user "app": --sasl-password-file <file>, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE (or kafka.sasl.passwordEnv / passwordFile)\n']);
  const missingCa = tributary(['consume', 'some-topic', '--tls-ca', join(dir, 'nope.pem')], undefined, { PATH: process.env.PATH });
  assert.deepEqual([missingCa.code, missingCa.stderr], [2, `error: cannot read --tls-ca ${join(dir, 'nope.pem')}: no such file (check the path)\n`]);
  const embedded = tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--input', 'x.ndjson', '--out-dir', dir, '--sasl-username', 'app']);
  assert.deepEqual([embedded.code, embedded.stderr], [2, 'error: --sasl-username is for Kafka runs; with --input the run is embedded and would ignore it\n']);

  const file = join(dir, 'literal.yaml');
  writeFileSync(file, 'name: literal\nsource: { topic: events }\nkafka:\n  sasl:\n    mechanism: SCRAM-SHA-512\n    username: app\n    password: hunter2-literal\nsteps: []\n');
  const literal = tributary(['validate', file]);
  assert.equal(literal.code, 2);
  assert.equal(literal.stderr.split('\n')[0], `${file}:7:5 kafka.sasl.password: unknown key; allowed: mechanism, username, passwordEnv, passwordFile`);
  assert.ok(!literal.stderr.includes('hunter2-literal'), literal.stderr);

  for (const command of ['run', 'topics', 'produce', 'consume', 'reset', 'replay']) {
    const help = tributary([command, '--help']).stdout;
    for (const flag of ['--tls', '--tls-ca <file>', '--tls-cert <file>', '--tls-key <file>', '--tls-skip-verify', '--sasl-mechanism <mechanism>', '--sasl-username <name>', '--sasl-password-file <file>']) {
      assert.ok(help.includes(flag), `${command} --help lacks ${flag}`);
    }
    assert.equal(help.includes('--schema-registry-password-file <file>'), command === 'run' || command === 'consume', command);
    assert.ok(!/--sasl-password </.test(help), 'no flag takes a password on the command line');
  }
});
