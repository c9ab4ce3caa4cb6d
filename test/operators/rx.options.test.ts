/**
 * The RxJS operators check their options when they are made, against the schema a definition
 * file's steps are checked against: a misspelt, misplaced or wrongly typed option is an error
 * naming the operator and the option, not records silently counted wrong (found by an audit of
 * the operator library: `count: { where }` counted every event; `key: 5` made every record a
 * `missing-key` dead letter; `allowedLateness: 'banana'` failed only at subscription).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dedupe, sessionize, trigger, windowAggregate } from '../../operators/index.js';

test('rx options: unknown, misplaced and wrongly typed options throw when the operator is made, naming each', () => {
  assert.throws(() => dedupe({ tll: '1h' } as never), { name: 'TypeError', message: 'dedupe: invalid options: (options): must NOT have additional properties (tll)' });
  assert.throws(() => dedupe({ key: 5 } as never), /^TypeError: dedupe: invalid options: key: must be (string|array)/);
  assert.throws(
    () => windowAggregate({ key: 'userId', window: { tumbling: '1h' }, aggregates: { m: { count: { where: { event: 'purchase' } } } } } as never),
    /^TypeError: windowAggregate: invalid options: aggregates\.m\.count: must NOT have additional properties \(where\)/,
  );
  assert.throws(() => sessionize({ gap: '30m', emmit: 'x' } as never), /\(options\): must NOT have additional properties \(emmit\)/);
});

test('rx options: the wiring options are checked too (onBadRecord, checkpointEvery, durations, outputs)', () => {
  assert.throws(() => dedupe({ onBadRecord: 'crash' } as never), { message: 'dedupe: invalid options: onBadRecord: must be "dead-letter" or "fail", got "crash"' });
  assert.throws(() => dedupe({ checkpointEvery: 0 }), { message: 'dedupe: invalid options: checkpointEvery: must be a whole number ≥ 1, got 0' });
  assert.throws(() => dedupe({ allowedLateness: 'banana' as never }), /^TypeError: dedupe: invalid options: allowedLateness: /);
  assert.throws(() => dedupe({ outputs: { late: 5 as never } }), { message: 'dedupe: invalid options: outputs.late: must be a function or an observer, got 5' });
  assert.throws(() => trigger(null as never), { message: 'trigger: options must be an object, got null' });
});

test('rx options: valid options with the wiring ones and undefined values pass', () => {
  assert.equal(typeof dedupe({ ttl: '1h', output: undefined, outputs: { duplicates: () => undefined }, allowedLateness: '1m', checkpointEvery: 10, onBadRecord: 'fail', name: 'd' }), 'function');
  assert.equal(typeof windowAggregate({ key: 'userId', window: { sliding: '1h' }, aggregates: { n: { count: {}, where: { event: 'purchase' } } } }), 'function');
});
