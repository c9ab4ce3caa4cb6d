// Our connection settings as kafkajs's Kafka options (pure), and the description of the
// security that log lines show: never a password.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeSecurity, kafkajsConfig, kafkajsSecurity, saslMechanismOf } from '../../lib/runtime/kafka/connection.js';

test('kafkajsSecurity: TLS with and without files, SASL in kafkajs\'s mechanism names, nothing for PLAINTEXT', () => {
  assert.deepEqual(kafkajsSecurity(undefined), {});
  assert.deepEqual(kafkajsSecurity({}), {});
  assert.deepEqual(kafkajsSecurity({ tls: {} }), { ssl: true });
  assert.deepEqual(kafkajsSecurity({ tls: { ca: 'CA', cert: 'CERT', key: 'KEY' } }), { ssl: { ca: ['CA'], cert: 'CERT', key: 'KEY' } });
  assert.deepEqual(kafkajsSecurity({ tls: { rejectUnauthorized: false } }), { ssl: { rejectUnauthorized: false } });
  assert.deepEqual(kafkajsSecurity({ tls: { rejectUnauthorized: true } }), { ssl: true });
  for (const [mechanism, kafkajsName] of [['PLAIN', 'plain'], ['SCRAM-SHA-256', 'scram-sha-256'], ['SCRAM-SHA-512', 'scram-sha-512']] as const) {
    assert.deepEqual(kafkajsSecurity({ sasl: { mechanism, username: 'u', password: 'p' } }), { sasl: { mechanism: kafkajsName, username: 'u', password: 'p' } });
  }
});

test('kafkajsConfig: brokers, client id, fail-fast connection and security in one options object', () => {
  const config = kafkajsConfig({ brokers: ['b1:9094'], clientId: 'shop', logLevel: 'nothing', connection: { timeoutMs: 2000, retries: 3 }, security: { tls: { ca: 'CA' }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' } } });
  assert.deepEqual(config, {
    clientId: 'shop', brokers: ['b1:9094'], logLevel: 0, connectionTimeout: 2000, retry: { retries: 3 },
    ssl: { ca: ['CA'] }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
  });
  assert.deepEqual(kafkajsConfig({ brokers: ['b:1'] }), { clientId: 'tributary', brokers: ['b:1'], logLevel: 2 });
});

test('describeSecurity and saslMechanismOf', () => {
  assert.equal(describeSecurity(undefined), 'PLAINTEXT');
  assert.equal(describeSecurity({ tls: {} }), 'TLS');
  const described = describeSecurity({ tls: { ca: 'CA', cert: 'C', key: 'K', rejectUnauthorized: false }, sasl: { mechanism: 'PLAIN', username: 'app', password: 'p4ss-never-shown' } });
  assert.equal(described, 'TLS (CA file, client certificate, certificates NOT verified), SASL PLAIN as "app"');
  assert.equal(saslMechanismOf(' scram-sha-512 '), 'SCRAM-SHA-512');
  assert.equal(saslMechanismOf('gssapi'), undefined);
});
