// kafkajs's log as the run's own lines: one plain line per entry, repeats within 30 s dropped,
// the CreateTopics per-topic error noise dropped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { kafkajsLine, kafkajsLogCreator } from '../../lib/runtime/kafka/kafkajs-log.js';

const { logLevel } = kafkajs;

test('kafkajs log lines: plain text, repeats within 30 s once, topic-creation noise dropped', () => {
  assert.equal(kafkajsLine(logLevel.ERROR, { message: '[BrokerPool] Failed to connect to seed broker', error: 'Connection error: connect ECONNREFUSED 127.0.0.1:9' }),
    'kafkajs error: [BrokerPool] Failed to connect to seed broker: Connection error: connect ECONNREFUSED 127.0.0.1:9');
  assert.equal(kafkajsLine(logLevel.WARN, { message: 'KafkaJS v2.0.0 switched default partitioner' }), 'kafkajs warn: KafkaJS v2.0.0 switched default partitioner');
  assert.equal(kafkajsLine(logLevel.ERROR, { message: '[Connection] Response CreateTopics(key: 19, version: 3)', error: 'Topic creation errors' }), undefined);

  const lines: string[] = [];
  let now = 0;
  const log = kafkajsLogCreator((l) => lines.push(l), () => now)(logLevel.INFO);
  const entry = (message: string) => ({ namespace: 'x', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: '', message } });
  log(entry('down'));
  now = 10_000;
  log(entry('down'));
  log(entry('other'));
  now = 40_001;
  log(entry('down'));
  assert.deepEqual(lines, ['kafkajs error: down', 'kafkajs error: other', 'kafkajs error: down']);
});
