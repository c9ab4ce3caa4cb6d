// The one line a runtime failure becomes: what happened and what to do, from the error's chain.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { describeFailure } from '../../lib/cli/errors.js';

// kafkajs is CommonJS; its error classes are not named exports Node can see.
const { KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

test('dropped from the consumer group: says the instance was too slow, not that the broker is down', () => {
  // As kafkajs reports it after its retries: the protocol error as the cause.
  const protocol = new KafkaJSProtocolError(Object.assign(new Error('The coordinator is not aware of this member'), { type: 'UNKNOWN_MEMBER_ID', code: 25, retriable: false }));
  const error = new KafkaJSNumberOfRetriesExceeded(protocol, { retryCount: 5, retryTime: 3000 });
  assert.equal(
    describeFailure(error, { brokers: '127.0.0.1:9092' }),
    'Kafka at 127.0.0.1:9092 dropped this instance from its consumer group (The coordinator is not aware of this member): it sent no heartbeat within the session timeout (a busy machine or a slow batch); run it again (it resumes from its last commit), with a longer --session-timeout if this recurs',
  );
});

test('a refused connection: the broker is not running', () => {
  const error = new KafkaJSNumberOfRetriesExceeded(Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9'), { name: 'KafkaJSConnectionError' }), { retryCount: 3, retryTime: 1000 });
  assert.equal(
    describeFailure(error, { brokers: '127.0.0.1:9' }),
    'cannot reach Kafka at 127.0.0.1:9 (Connection error: connect ECONNREFUSED 127.0.0.1:9): is the broker running? (npm run kafka:start starts a local one)',
  );
});
