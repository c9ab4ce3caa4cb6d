// What a failed Kafka call says, as kafkajs reports it (its own error classes, wrapped as its
// retries wrap them) and as the in-memory broker does: the runtime rejoins on a lost membership
// and tries again on a transient failure, and stops on anything else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { lostMembership, transient } from '../../lib/runtime/kafka/kafka-errors.js';
import { MemoryKafkaError } from '../../lib/runtime/kafka/memory/index.js';

// kafkajs is CommonJS; its error classes are not named exports Node can see.
const { KafkaJSAggregateError, KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

const protocol = (type: string, message: string, retriable: boolean) => new KafkaJSProtocolError(Object.assign(new Error(message), { type, code: 0, retriable }));
const refused = () => new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');

const cases: Array<[string, unknown, { lost: boolean; transient: boolean }]> = [
  ['dropped: a rejoin that kept failing (kafkajs crash)', new KafkaJSNonRetriableError(new KafkaJSNumberOfRetriesExceeded(protocol('UNKNOWN_MEMBER_ID', 'The coordinator is not aware of this member', false), { retryCount: 5, retryTime: 3000 })), { lost: true, transient: false }],
  ['an offset commit of an old generation', protocol('ILLEGAL_GENERATION', 'Specified group generation id is not valid', false), { lost: true, transient: false }],
  ['an offset commit during a rebalance', protocol('REBALANCE_IN_PROGRESS', 'The group is rebalancing, so a rejoin is needed', false), { lost: true, transient: false }],
  ['the memory broker dropped the member', new MemoryKafkaError('UNKNOWN_MEMBER_ID', 'memory kafka: the coordinator is not aware of this member'), { lost: true, transient: false }],
  ['the broker is down (kafkajs gave up retrying)', new KafkaJSNumberOfRetriesExceeded(refused(), { retryCount: 5, retryTime: 4800 }), { lost: false, transient: true }],
  ['a send while the broker is down (kafkajs\'s retrier wraps it with its cause)', Object.assign(new KafkaJSNonRetriableError(refused()), { cause: refused() }), { lost: false, transient: true }],
  ['a task failure around a refused connection', new Error('task 0_1: Connection error', { cause: new KafkaJSNumberOfRetriesExceeded(refused(), { retryCount: 5, retryTime: 4800 }) }), { lost: false, transient: true }],
  ['right after a broker restart', protocol('NOT_LEADER_OR_FOLLOWER', 'This server is not the leader for that topic-partition', true), { lost: false, transient: true }],
  ['topic creation while the broker comes back', new KafkaJSAggregateError('Topic creation errors', [protocol('NOT_CONTROLLER', 'This is not the correct controller for this cluster', true)]), { lost: false, transient: true }],
  ['an injected memory fault', new MemoryKafkaError('INJECTED', 'memory kafka: injected commit failure', true), { lost: false, transient: true }],
  ['not authorized', protocol('TOPIC_AUTHORIZATION_FAILED', 'Not authorized to access topics: [Topic authorization failed]', false), { lost: false, transient: false }],
  ['a damaged state file', new Error('LMDB environment state/app/0_0: MDB_CORRUPTED'), { lost: false, transient: false }],
  ['a missing changelog partition', new Error('changelog app-dedupe.seen-changelog has no partition 3'), { lost: false, transient: false }],
];

for (const [what, error, want] of cases) {
  test(`${what}: ${want.lost ? 'membership lost' : want.transient ? 'transient' : 'stops the run'}`, () => {
    assert.deepEqual({ lost: lostMembership(error), transient: transient(error) }, want);
  });
}
