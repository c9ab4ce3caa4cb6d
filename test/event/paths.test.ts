import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deletePath, getPath, hasPath, parsePath, pathProblem, setPath, UnsafePathError } from '../../lib/event/paths.js';

test('getPath reads own nested properties', () => {
  const obj = { properties: { productId: '44600062', price: 0, empty: null }, list: [1, 2] };
  const cases: Array<[string, unknown]> = [
    ['properties.productId', '44600062'],
    ['properties.price', 0],
    ['properties.empty', null],
    ['properties', obj.properties],
    ['properties.missing', undefined],
    ['properties.productId.length', undefined], // never descends into strings
    ['list.0', undefined], // nor arrays
    ['toString', undefined], // nor inherited properties
    ['constructor', undefined],
    ['__proto__', undefined],
    ['a..b', undefined],
  ];
  for (const [path, expected] of cases) assert.equal(getPath(obj, path), expected, path);
  assert.equal(getPath(null, 'a'), undefined);
  assert.equal(getPath('text', 'length'), undefined);
});

test('hasPath distinguishes present-but-null from absent', () => {
  const obj = { context: { channel: null, n: undefined } };
  assert.equal(hasPath(obj, 'context.channel'), true);
  assert.equal(hasPath(obj, 'context.n'), true);
  assert.equal(hasPath(obj, 'context.other'), false);
  assert.equal(hasPath(obj, 'context.channel.x'), false);
  assert.equal(hasPath(obj, 'hasOwnProperty'), false);
  assert.equal(hasPath(obj, 'prototype'), false);
});

test('setPath creates and replaces intermediate objects', () => {
  const e: Record<string, unknown> = { context: 'not-an-object' };
  setPath(e, 'properties.productId', 'p1');
  setPath(e, 'properties.price', 1.5);
  setPath(e, 'context.channel', 'web');
  setPath(e, 'top', true);
  assert.deepEqual(e, { context: { channel: 'web' }, properties: { productId: 'p1', price: 1.5 }, top: true });
});

test('setPath and deletePath refuse prototype pollution', () => {
  for (const path of ['__proto__.polluted', 'a.__proto__.polluted', 'constructor.prototype.polluted', 'prototype', 'a..b', '', 'a.']) {
    assert.throws(() => setPath({}, path, 1), UnsafePathError, path);
    assert.throws(() => deletePath({}, path), UnsafePathError, path);
    assert.throws(() => parsePath(path), UnsafePathError, path);
    assert.notEqual(pathProblem(path), undefined, path);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
});

test('setPath does not follow an own __proto__ data property of JSON input', () => {
  const raw = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
  assert.equal(getPath(raw, '__proto__.x'), undefined);
  setPath(raw, 'a.b', 2);
  assert.deepEqual(raw.a, { b: 2 });
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('deletePath removes a leaf and reports whether it did', () => {
  const r: Record<string, unknown> = { a: { b: 1, c: 2 }, d: 3 };
  assert.equal(deletePath(r, 'a.b'), true);
  assert.equal(deletePath(r, 'a.b'), false);
  assert.equal(deletePath(r, 'x.y'), false);
  assert.equal(deletePath(r, 'd'), true);
  assert.deepEqual(r, { a: { c: 2 } });
});

test('parsePath splits and caches', () => {
  assert.deepEqual(parsePath('properties.productId'), ['properties', 'productId']);
  assert.equal(parsePath('a.b'), parsePath('a.b'));
  assert.equal(pathProblem('properties.price'), undefined);
  assert.equal(pathProblem('a..b'), 'empty segment');
  assert.equal(pathProblem('x.__proto__'), 'segment "__proto__" is not allowed');
});
