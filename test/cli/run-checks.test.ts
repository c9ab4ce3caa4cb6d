// The run command's own checks: flags the mode would ignore are refused (exit 2), a run whose
// records were all dead letters warns, --max-dead-letter-ratio fails it (exit 1).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { conflictingFlag, deadLetterVerdict } from '../../lib/cli/run-checks.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const given = (...flags: string[]) => (f: string) => (flags.includes(f) ? 'cli' as const : 'default' as const);

test('conflictingFlag: what each mode would ignore, --input with --brokers, --checkpoint-every 0', () => {
  assert.equal(conflictingFlag(given('input', 'outDir', 'format'), { checkpointEvery: 10 }), undefined);
  assert.equal(conflictingFlag(given('input', 'brokers'), {}), '--input and --brokers: choose one (--input runs embedded over a file, --brokers against Kafka)');
  assert.equal(conflictingFlag(given('input', 'commitInterval'), {}), '--commit-interval is for Kafka runs; with --input the run is embedded and would ignore it');
  assert.equal(conflictingFlag(given('brokers', 'bounded', 'sessionTimeout'), {}), undefined);
  assert.equal(conflictingFlag(given('format'), {}), '--format is for embedded runs (with --input); against Kafka it would be ignored');
  assert.equal(conflictingFlag(given('input'), { checkpointEvery: 0 }), '--checkpoint-every must be at least 1 (records between checkpoints)');
  assert.equal(conflictingFlag(given('brokers', 'final'), {}), '--final against Kafka needs --bounded (a live run has no end of input to close at)');
  assert.equal(conflictingFlag(given('brokers', 'bounded', 'final'), {}), undefined);
  assert.equal(conflictingFlag(given('input', 'final'), {}), undefined);
});

test('deadLetterVerdict: nothing, a warning when all were dead letters, a failure over the ratio', () => {
  assert.equal(deadLetterVerdict(10, {}, undefined), undefined);
  assert.equal(deadLetterVerdict(10, { 'malformed-json': 3 }, undefined), undefined);
  assert.equal(deadLetterVerdict(10, { 'malformed-json': 3 }, 0.3), undefined, 'a ratio equal to the bound passes');
  assert.deepEqual(deadLetterVerdict(10, { 'malformed-json': 3, 'missing-key': 1 }, 0.3), { level: 'failure', message: '4 of 10 records were dead letters (malformed-json 3, missing-key 1): 40.0% is over --max-dead-letter-ratio 0.3' });
  assert.deepEqual(deadLetterVerdict(5, { 'invalid-type': 5 }, undefined), { level: 'warning', message: 'all 5 records were dead letters (invalid-type 5): check --format and the source mapping' });
});

test('the CLI: a CSV without a mapping warns and exits 0; with --max-dead-letter-ratio it exits 1; a Kafka flag with --input exits 2', () => {
  const dir = tempDir();
  const args = ['run', 'examples/cart-abandonment/pipeline.yaml', '--input', 'examples/data/rees46-2019-10-01-head.csv', '-q'];
  const warned = tributary([...args, '--out-dir', join(dir, 'a')]);
  assert.deepEqual([warned.code, warned.stderr], [0, 'warning: all 17434 records were dead letters (invalid-type 17434): check --format and the source mapping\n']);
  const failed = tributary([...args, '--out-dir', join(dir, 'b'), '--max-dead-letter-ratio', '0.01']);
  assert.deepEqual([failed.code, failed.stderr], [1, 'error: 17434 of 17434 records were dead letters (invalid-type 17434): 100.0% is over --max-dead-letter-ratio 0.01\n']);
  const refused = tributary([...args, '--out-dir', join(dir, 'c'), '--bounded']);
  assert.deepEqual([refused.code, refused.stderr], [2, 'error: --bounded is for Kafka runs; with --input the run is embedded and would ignore it\n']);
  const badRatio = tributary([...args, '--out-dir', join(dir, 'd'), '--max-dead-letter-ratio', '2']);
  assert.equal(badRatio.code, 2);
  assert.match(badRatio.stderr, /--max-dead-letter-ratio must be a number from 0 to 1, got "2"/);
});

test('--commit-interval longer than the longest timer Node.js keeps (24d) is refused, exit 2, before connecting', () => {
  const r = tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--brokers', '127.0.0.1:1', '--commit-interval', '30d']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--commit-interval must be at most 24d \(the longest timer Node\.js keeps\), got "30d"/);
  assert.equal(tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--brokers', '127.0.0.1:1', '--commit-interval', '24d', '--bounded']).code, 1); // accepted; no broker there
});
