// The README's Kafka blocks, run as a reader runs them (bash, a fresh directory, `tributary` on
// PATH) against the suite's broker: the new user's path from "Kafka from the command line" first
// (it creates the source topic the others read), then the others in README order. The lines that
// cannot run inside the suite (starting or stopping a broker) are listed with their reason in
// test/support/readme.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/cli.js';
import { isKafkaBlock, readmeWorkdir, runBlock, runElsewhere, shellBlocks } from '../support/readme.js';
import { kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();
const kafkaBlocks = shellBlocks().filter(isKafkaBlock);
const blocks = kafkaBlocks.filter((b) => !runElsewhere(b));
const newUser = blocks.find((b) => b.lines.some((l) => /tributary topics .*--create/.test(l)));

test('the README\'s Kafka blocks run elsewhere name a test file that exists', () => {
  for (const b of kafkaBlocks.filter(runElsewhere)) assert.ok(existsSync(join(ROOT, runElsewhere(b) as string)), `block at line ${b.line}`);
});

test('the README\'s Kafka blocks run against the broker, the new user\'s path first', { skip, timeout: 600_000 }, () => {
  assert.ok(newUser, 'a block creates the topics (tributary topics … --create)');
  assert.ok(blocks.length >= 3, `Kafka blocks at lines ${blocks.map((b) => b.line).join(', ')}`);
  const brokers = (kafkaBrokers() ?? []).join(',');
  const dir = readmeWorkdir(tempDir('tributary-readme-kafka-'));
  for (const block of [newUser, ...blocks.filter((b) => b !== newUser)]) {
    const r = runBlock(block, dir, { KAFKA_BROKERS: brokers }, brokers);
    const where = `README block at line ${block.line}:\n${r.script}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    assert.equal(r.code, 0, where);
    if (block === newUser) {
      const triggers = r.stdout.split('\n').filter((l) => l.includes('"rule":"cart-abandoned"'));
      assert.equal(triggers.length, 5, where); // consume … --max 5
      assert.match(r.stdout, /^campaign-triggers\s+output\s/m, where); // tributary topics lists it
      assert.match(r.stdout, /^done: the next run of \S+ reprocesses behavior-events from there with empty state$/m, where); // tributary reset
    }
    if (block.lines.some((l) => /^tributary run .*--brokers/.test(l))) assert.match(r.stderr, /: ready on /, where);
  }
});
