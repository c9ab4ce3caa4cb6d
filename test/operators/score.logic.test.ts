import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { recordingContext } from '../../lib/testing/context.js';
import { resolveScoreOptions, ScoreLogic, scoreOperator, type ScoreOptions } from '../../operators/score.js';
import { ev } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const logicOf = (options: ScoreOptions, cwd?: string) => {
  const ctx = recordingContext('score');
  return { ctx, logic: new ScoreLogic(resolveScoreOptions(options, cwd), ctx) };
};
const features = (recency: unknown, frequency: unknown) => ({ features: { rfm: { recencyDays: recency, frequency } } });
const CHURN: ScoreOptions = { field: 'scores.churnRisk', logistic: { intercept: -1.5, coefficients: { 'features.rfm.recencyDays': 0.08, 'features.rfm.frequency': -0.6 } } };

test('score logistic: 1 / (1 + e^-(b + Σ w·x)) at a nested field; the input event and its objects are not changed', () => {
  const { ctx, logic } = logicOf(CHURN);
  const input = ev('m1', 0, { ...features(20, 2), scores: { ltv: 7 } });
  const out = logic.process(input);
  const z = -1.5 + 0.08 * 20 + -0.6 * 2;
  assert.deepEqual(out, { ...input, scores: { ltv: 7, churnRisk: 1 / (1 + Math.exp(-z)) } });
  assert.deepEqual(input.scores, { ltv: 7 }, 'the input is not changed');
  assert.equal(((out?.scores as { churnRisk: number }).churnRisk).toFixed(6), '0.249740'); // σ(−1.1)
  assert.deepEqual([ctx.emitted, ctx.drops], [[], []]);
});

test('score linear: b + Σ w·x summed in the coefficients\' order; the intercept defaults to 0', () => {
  const { logic } = logicOf({ field: 'clv', linear: { coefficients: { 'properties.a': 0.1, 'properties.b': 0.2 } } });
  assert.equal(logic.process(ev('m1', 0, { properties: { a: 1, b: 2 } }))?.clv, 0.1 * 1 + 0.2 * 2);
  assert.equal(logic.process(ev('m2', 0, { properties: { a: 0, b: 0 } }))?.clv, 0);
});

test('score: a missing feature is a dead letter score-missing-feature naming the path (default), or counts as 0 with missing: zero', () => {
  const { ctx, logic } = logicOf(CHURN);
  const noFrequency = ev('m1', 0, { features: { rfm: { recencyDays: 3 } } });
  const nullRecency = ev('m2', 0, features(null, 1));
  assert.equal(logic.process(noFrequency), null);
  assert.equal(logic.process(nullRecency), null);
  assert.deepEqual(ctx.drops, ['score-missing-feature', 'score-missing-feature']);
  assert.deepEqual(ctx.emitted, [
    { stream: 'dead-letter', record: { reason: 'score-missing-feature', detail: 'feature features.rfm.frequency is missing', raw: JSON.stringify(noFrequency), source: 'step score' } },
    { stream: 'dead-letter', record: { reason: 'score-missing-feature', detail: 'feature features.rfm.recencyDays is missing', raw: JSON.stringify(nullRecency), source: 'step score' } },
  ]);
  const zero = logicOf({ ...CHURN, missing: 'zero' });
  assert.equal((zero.logic.process(noFrequency)?.scores as { churnRisk: number }).churnRisk, 1 / (1 + Math.exp(-(-1.5 + 0.08 * 3))));
  assert.deepEqual(zero.ctx.emitted, []);
});

test('score: a feature that is not a finite number is a dead letter score-invalid-feature, with missing: zero too', () => {
  for (const bad of ['12', true, { n: 1 }, [1], Number.NaN, Infinity]) {
    const { ctx, logic } = logicOf({ ...CHURN, missing: 'zero' });
    assert.equal(logic.process(ev('m1', 0, features(bad, 1))), null, String(bad));
    assert.deepEqual(ctx.drops, ['score-invalid-feature']);
    assert.match((ctx.emitted[0]?.record as { detail: string }).detail, /^feature features\.rfm\.recencyDays is .+, not a finite number$/);
  }
});

test('score linear: a sum that overflows to ±Infinity is a dead letter score-error, never a stop', () => {
  const { ctx, logic } = logicOf({ field: 's', linear: { coefficients: { x: 1e300 } } });
  assert.equal(logic.process(ev('m1', 0, { x: 1e300 })), null);
  assert.deepEqual(ctx.emitted.map((e) => [e.record.reason, e.record.detail]), [['score-error', 'the linear score is Infinity (a feature times its weight overflows)']]);
  // The logistic model saturates instead: a huge z is 1, a hugely negative one 0.
  const l = logicOf({ field: 's', logistic: { coefficients: { x: 1 } } });
  assert.deepEqual([l.logic.process(ev('a', 0, { x: 1e308 }))?.s, l.logic.process(ev('b', 0, { x: -1e308 }))?.s], [1, 0]);
});

test('score coefficientsFile: read once when the options resolve, relative to the working directory; bad files are definition errors', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'models'));
  writeFileSync(join(dir, 'models/churn.json'), JSON.stringify({ intercept: 0.5, coefficients: { x: 2 } }));
  const { logic } = logicOf({ field: 's', linear: { coefficientsFile: 'models/churn.json' } }, dir);
  assert.equal(logic.process(ev('m1', 0, { x: 3 }))?.s, 6.5);

  const refused = (o: Partial<ScoreOptions>, pattern: RegExp) => assert.throws(() => resolveScoreOptions({ field: 's', ...o }, dir), pattern);
  writeFileSync(join(dir, 'bad.json'), '{ not json');
  writeFileSync(join(dir, 'list.json'), '[1]');
  writeFileSync(join(dir, 'weights.json'), JSON.stringify({ coefficients: { x: 'heavy' } }));
  writeFileSync(join(dir, 'empty.json'), JSON.stringify({ intercept: 1 }));
  writeFileSync(join(dir, 'big.json'), `{"intercept": 1, "pad": "${'x'.repeat(1 << 20)}"}`);
  symlinkSync('/etc/hostname', join(dir, 'link.json'));
  refused({ linear: { coefficientsFile: '/etc/passwd' } }, /^Error: linear\.coefficientsFile "\/etc\/passwd" is an absolute path; give a path relative to the working directory/);
  refused({ linear: { coefficientsFile: '../x.json' } }, /leaves the working directory/);
  refused({ linear: { coefficientsFile: 'link.json' } }, /is a link out of the working directory/);
  refused({ linear: { coefficientsFile: 'none.json' } }, /cannot be read \(no such file\)/);
  refused({ linear: { coefficientsFile: 'models' } }, /is not a regular file/);
  refused({ linear: { coefficientsFile: 'big.json' } }, /is larger than 1024 KiB/);
  refused({ linear: { coefficientsFile: 'bad.json' } }, /is not valid JSON; fix the file$/);
  refused({ linear: { coefficientsFile: 'list.json' } }, /does not hold a JSON object/);
  refused({ logistic: { coefficientsFile: 'weights.json' } }, /^Error: logistic\.coefficientsFile "weights\.json": the weight of x must be a finite number$/);
  refused({ logistic: { coefficientsFile: 'empty.json' } }, /coefficients must be an object of at least one feature path/);
  refused({ logistic: { coefficientsFile: 'models/churn.json', intercept: 1 } }, /inline or in coefficientsFile, not both/);
});

test('score options: exactly one model, valid paths; errors name the option and the fix', () => {
  assert.throws(() => scoreOperator.resolve({ field: 's' }), /give exactly one of logistic, linear or module \(got none\)/);
  assert.throws(() => scoreOperator.resolve({ field: 's', linear: { coefficients: { x: 1 } }, logistic: { coefficients: { x: 1 } } }), /\(got logistic, linear\)/);
  assert.throws(() => scoreOperator.resolve({ field: 'a..b', linear: { coefficients: { x: 1 } } }), /^Error: field: "a\.\.b" is not a field path \(empty segment\)$/);
  assert.throws(() => scoreOperator.resolve({ field: 's', linear: { coefficients: { '__proto__.x': 1 } } }), /coefficient "__proto__\.x" is not a field path/);
  assert.throws(() => scoreOperator.resolve({ field: 's', linear: { coefficients: {} } }), /coefficients must be an object of at least one/);
});

test('score module: a CommonJS module\'s score(event), loaded once; a throw or a non-finite result is a dead letter score-error with a one-line message', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'loads.txt'), '');
  writeFileSync(join(dir, 'churn.cjs'), `
require('node:fs').appendFileSync(__dirname + '/loads.txt', 'x');
module.exports.score = (e) => {
  if (e.kind === 'throw') throw new Error('no model for ' + e.messageId + '\\nsecond line');
  if (e.kind === 'nan') return NaN;
  if (e.kind === 'string') return '0.5';
  if (e.kind === 'async') return Promise.resolve(1);
  if (e.kind === 'mutate') { e.properties.x = 99; return 1; }
  return e.properties.x * 2;
};`);
  const options: ScoreOptions = { field: 'scores.custom', module: 'churn.cjs' };
  const { ctx, logic } = logicOf(options, dir);
  resolveScoreOptions(options, dir); // a second resolve (validation, then compilation) loads it once
  assert.equal((logic.process(ev('m1', 0, { properties: { x: 4 } }))?.scores as { custom: number }).custom, 8);
  const mutating = ev('m2', 0, { kind: 'mutate', properties: { x: 4 } });
  assert.deepEqual(logic.process(mutating), { ...mutating, scores: { custom: 1 } }, 'the module gets a copy: the event flows on unchanged');
  for (const kind of ['throw', 'nan', 'string', 'async']) assert.equal(logic.process(ev(kind, 0, { kind })), null);
  assert.deepEqual(ctx.drops, ['score-error', 'score-error', 'score-error', 'score-error']);
  assert.deepEqual(ctx.emitted.map((e) => e.record.detail), [
    'module churn.cjs threw: no model for throw',
    'module churn.cjs returned NaN, not a finite number',
    'module churn.cjs returned "0.5", not a finite number',
    'module churn.cjs returned a Promise (score must be synchronous), not a finite number',
  ]);
  assert.equal(readFileSync(join(dir, 'loads.txt'), 'utf8'), 'x', 'loaded once');
});

test('score module: a module that is missing, outside the working directory, without score or failing to load is a definition error', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'none.cjs'), 'module.exports.predict = () => 1;');
  writeFileSync(join(dir, 'broken.cjs'), 'throw new Error("cannot start\\nmore");');
  writeFileSync(join(dir, 'esm.mjs'), 'export const score = () => 1;');
  const refused = (module: string, pattern: RegExp) => assert.throws(() => resolveScoreOptions({ field: 's', module }, dir), pattern);
  refused('none.cjs', /^Error: module "none\.cjs" does not export a function score; export one: module\.exports\.score = \(event\) => number$/);
  refused('broken.cjs', /^Error: module "broken\.cjs" failed to load: cannot start$/);
  refused('/tmp/x.cjs', /is an absolute path/);
  refused('../x.cjs', /leaves the working directory/);
  refused('missing.cjs', /cannot be read \(no such file\)/);
  if ((process.features as { require_module?: boolean }).require_module) {
    const esm = logicOf({ field: 's', module: 'esm.mjs' }, dir);
    assert.equal(esm.logic.process(ev('m1', 0))?.s, 1, 'an ES module loads where require loads ES modules');
    writeFileSync(join(dir, 'tla.mjs'), 'await Promise.resolve(); export const score = () => 1;');
    refused('tla.mjs', /^Error: module "tla\.mjs" uses top-level await, so it cannot be loaded synchronously/);
  } else refused('esm.mjs', /is an ES module, which this Node\.js \(v\d+\.\d+\.\d+\) cannot load synchronously; write it as CommonJS/);
});
