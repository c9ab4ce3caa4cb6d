import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyPathList, resolveKey } from '../../lib/event/key.js';

test('resolveKey takes the first usable value, as a string', () => {
  const cases: Array<[unknown, string | string[], string | undefined]> = [
    [{ anonymousId: null, userId: 'u1' }, ['anonymousId', 'userId'], 'u1'],
    [{ anonymousId: 'a1', userId: 'u1' }, ['anonymousId', 'userId'], 'a1'],
    [{ anonymousId: '', userId: 'u1' }, ['anonymousId', 'userId'], 'u1'],
    [{ userId: null, anonymousId: null }, ['anonymousId', 'userId'], undefined],
    [{}, ['userId'], undefined],
    [{ properties: { sku: 42 } }, 'properties.sku', '42'],
    [{ properties: { sku: 0 } }, 'properties.sku', '0'],
    [{ flag: false }, 'flag', 'false'],
    [{ n: Number.NaN, m: 'x' }, ['n', 'm'], 'x'],
    [{ obj: { a: 1 }, arr: [1], s: 's' }, ['obj', 'arr', 's'], 's'],
    [{ toString: 'own' }, 'toString', 'own'],
    [{}, 'toString', undefined],
    [null, ['userId'], undefined],
  ];
  for (const [event, paths, expected] of cases) assert.equal(resolveKey(event, paths), expected, JSON.stringify([event, paths]));
});

test('keyPathList accepts a path or a list', () => {
  assert.deepEqual(keyPathList('userId'), ['userId']);
  assert.deepEqual(keyPathList(['anonymousId', 'userId']), ['anonymousId', 'userId']);
});
