import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { createStateServer } from '../../lib/runtime/state-server.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { windowAggregateOperator, windowAggregateQuery, type WindowAggregateOptions } from '../../operators/window-aggregate.js';
import { ev, HOUR, MIN } from '../support/events.js';

const options: WindowAggregateOptions = {
  key: 'userId',
  window: { sliding: '1h' },
  aggregates: { views: { count: {} }, spent: { sum: 'properties.price' } },
  name: 'features',
};
const yaml = `
name: features
source:
  key: [userId]
steps:
  - windowAggregate: ${JSON.stringify(options)}
`;

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('state server: GET /state/<step>/<key> serves a running pipeline’s current windowAggregate values over real HTTP', async () => {
  const driver = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  const config = windowAggregateOperator.resolve(options);
  const stores = { windows: driver.store<never, never>('features', 'windows'), entries: driver.store<never, never>('features', 'entries'), chunks: driver.store<never, never>('features', 'chunks') };
  const states = createStateServer({ read: (step, key) => (step === 'features' ? windowAggregateQuery(config, stores, key) : undefined) });
  const port = await states.listen(0);
  try {
    driver.pipe([ev('m1', 0, { userId: 'u/1', properties: { price: 5 } }), ev('m2', 10 * MIN, { userId: 'u/1', properties: { price: 7 } })]);
    assert.deepEqual(await get(port, '/state/features/u%2F1'), { status: 200, body: { windowStart: 10 * MIN - HOUR, windowEnd: 10 * MIN, values: { views: 2, spent: 12 } } });
    // The pipeline keeps running: the next request sees the new event.
    driver.pipe(ev('m3', HOUR + 5 * MIN, { userId: 'u/1', properties: { price: 1 } }));
    assert.deepEqual(await get(port, '/state/features/u%2F1'), { status: 200, body: { windowStart: 5 * MIN, windowEnd: HOUR + 5 * MIN, values: { views: 2, spent: 8 } } });
    assert.deepEqual(await get(port, '/state/features/nobody'), { status: 404, body: { error: 'no state for key "nobody" in step "features"' } });
    assert.equal((await get(port, '/state/other/u%2F1')).status, 404);
    assert.equal((await get(port, '/state/features')).status, 404);
    assert.equal((await get(port, '/state/features/%E0%A4%A')).status, 400);
    assert.equal((await get(port, '/state/features/u%2F1', 'POST')).status, 405);
    driver.end();
    assert.equal((await get(port, '/state/features/u%2F1')).status, 404, 'end of input: every entry expired');
  } finally {
    await states.close();
    await driver.close();
  }
});

test('state server: an error in read is a 500 whose body names no internal detail (the error goes to the log), and the server keeps serving', async () => {
  let fail = true;
  const logged: string[] = [];
  const states = createStateServer({
    read: () => {
      if (fail) throw new Error('store closed at /var/lib/tributary/state/features');
      return { ok: true };
    },
    log: (line) => logged.push(line),
  });
  const port = await states.listen(0);
  try {
    assert.deepEqual(await get(port, '/state/s/k'), { status: 500, body: { error: 'reading the state failed; the error is in the run\'s log' } });
    assert.deepEqual(logged, ['state endpoint: reading key "k" in step "s" failed: store closed at /var/lib/tributary/state/features']);
    fail = false;
    assert.deepEqual(await get(port, '/state/s/k'), { status: 200, body: { ok: true } });
  } finally {
    await states.close();
  }
});

test('state server: 400 for a key no state can have (%00, other control characters, malformed percent-encoding, over 512 bytes), before reading', async () => {
  const asked: string[] = [];
  const states = createStateServer({ read: (_step, key) => (asked.push(key), undefined) });
  const port = await states.listen(0);
  try {
    const control = { status: 400, body: { error: 'the key contains a control character (such as %00); state keys are printable text' } };
    const encoding = { status: 400, body: { error: 'malformed percent-encoding in the step or key (encode them with encodeURIComponent)' } };
    assert.deepEqual(await get(port, '/state/s/a%00b'), control);
    assert.deepEqual(await get(port, '/state/s/%0A'), control);
    assert.deepEqual(await get(port, '/state/s%7F/k'), control);
    assert.deepEqual(await get(port, '/state/s/%E0%A4%A'), encoding);
    assert.deepEqual(await get(port, '/state/s/%'), encoding);
    assert.deepEqual(await get(port, '/state/s/%C0%AF'), encoding, 'an overlong UTF-8 form');
    assert.deepEqual(await get(port, `/state/s/${'é'.repeat(257)}`.replace(/é/g, '%C3%A9')), { status: 400, body: { error: 'the key is 514 bytes, longer than any state key (at most 512)' } });
    assert.deepEqual(asked, [], 'nothing was read for a refused key');
    assert.deepEqual(await get(port, `/state/s/${'k'.repeat(512)}`), { status: 404, body: { error: `no state for key "${'k'.repeat(512)}" in step "s"` } });
    assert.deepEqual(asked, ['k'.repeat(512)]);
  } finally {
    await states.close();
  }
});
