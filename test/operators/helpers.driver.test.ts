import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { recordingContext } from '../../lib/testing/context.js';
import { defaultRegistry, filterEvents, mapEvents, maskEvents, maskValue, routeEvents, validateEvents, MapLogic, RouteLogic, routeOperator } from '../../operators/index.js';
import { ev } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const yaml = `
name: helpers
source: { key: [anonymousId, userId] }
steps:
  - validate:
      jsonSchema: { type: object, required: [context], properties: { context: { type: object, required: [channel] } } }
  - filter: { where: { 'context.channel': { $in: [web, app] } }, output: other-channels }
  - map:
      rename: { properties.product_id: properties.productId }
      set: { context.source: import }
      drop: [properties.debug]
  - mask: { hash: [traits.email], drop: [context.ip], salt: none }
  - route:
      routes:
        - { when: { event: purchase }, output: purchases }
        - { when: { 'properties.price': { $gte: 100 } }, output: big-tickets }
`;

test('helpers through the driver: validate → filter → map → mask → route, exact records', async () => {
  const d = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  d.pipe([
    ev('m1', 1, { event: 'purchase', context: { channel: 'web', ip: '10.0.0.1' }, traits: { email: 'a@example.com' }, properties: { product_id: 'p1', price: 120, debug: true } }),
    ev('m2', 2, { context: { channel: 'email' } }),
    ev('m3', 3, { properties: { price: 5 } }), // no context: invalid
    ev('m4', 4, { context: { channel: 'app' }, properties: { product_id: 'p2', price: 5 } }),
  ]);
  const email = maskValue('a@example.com', '');
  const m1 = { ...ev('m1', 1, { event: 'purchase' }), context: { channel: 'web', source: 'import' }, traits: { email }, properties: { price: 120, productId: 'p1' } };
  const m4 = { ...ev('m4', 4), context: { channel: 'app', source: 'import' }, properties: { price: 5, productId: 'p2' } };
  assert.deepEqual(d.read('events'), [m1, m4]);
  assert.deepEqual(d.read('purchases'), [m1]);
  assert.deepEqual(d.read('big-tickets'), [m1]);
  assert.deepEqual(d.read('other-channels').map((r) => r.messageId), ['m2']);
  const dead = d.read('dead-letter');
  assert.deepEqual(dead.map((r) => [r.reason, r.detail, r.source]), [['invalid-schema', "/ must have required property 'context'", 'step validate']]);
  assert.equal(JSON.parse(String(dead[0]?.raw)).messageId, 'm3');
  const text = await d.metrics.registry.metrics();
  assert.match(text, /tributary_dead_letter_records_total\{pipeline="helpers",reason="invalid-schema"\} 1/);
  assert.match(text, /tributary_step_records_dropped_total\{pipeline="helpers",step="filter",reason="filtered"\} 1/);
  await d.close();
});

test('validate against the Avro event schema; jsonSchemaFile; exactly one schema option', async () => {
  const d = TestDriver.fromYaml('name: v\nsource: {}\nsteps:\n  - validate: { schema: avro }\n', { registry: defaultRegistry });
  d.pipe([ev('ok', 1), ev('bad', 2, { type: 'shout' as never })]);
  assert.deepEqual(d.read('events').map((r) => r.messageId), ['ok']);
  assert.deepEqual(d.read('dead-letter').map((r) => r.reason), ['invalid-schema']);
  await d.close();

  const dir = tempDir();
  const file = join(dir, 'purchase.schema.json');
  writeFileSync(file, JSON.stringify({ type: 'object', properties: { event: { const: 'purchase' } } }));
  // The path is relative to the working directory (and must stay inside it).
  const cwd = process.cwd();
  process.chdir(dir);
  const f = TestDriver.fromYaml('name: v\nsource: {}\nsteps:\n  - validate: { jsonSchemaFile: purchase.schema.json }\n', { registry: defaultRegistry });
  process.chdir(cwd);
  f.pipe([ev('a', 1, { event: 'purchase' }), ev('b', 2)]);
  assert.deepEqual(f.read('events').map((r) => r.messageId), ['a']);
  await f.close();
  assert.throws(() => TestDriver.fromYaml('name: v\nsource: {}\nsteps:\n  - validate: {}\n', { registry: defaultRegistry }), /<test>:4:15 steps\[0\]\.validate: give exactly one of schema: avro, jsonSchema or jsonSchemaFile/);
  assert.throws(() => TestDriver.fromYaml('name: v\nsource: {}\nsteps:\n  - filter: { where: { $where: "1" } }\n', { registry: defaultRegistry }), /steps\[0\]\.filter: where: \$where: unknown operator/);
});

test('map logic: copy, rename, set, drop, project in that order; messageId/type/timestamp always kept', () => {
  const e = ev('m1', 9, { properties: { a: 1, b: { c: 2 } }, context: { channel: 'web' } });
  assert.deepEqual(new MapLogic({ copy: { 'properties.x': 'properties.b.c' }, rename: { 'properties.a': 'properties.z' }, set: { 'context.channel': 'app' }, drop: ['properties.b'] }).process(e), {
    ...ev('m1', 9), properties: { z: 1, x: 2 }, context: { channel: 'app' },
  });
  assert.deepEqual(new MapLogic({ project: ['properties.a'] }).process(e), { messageId: 'm1', type: 'track', timestamp: 9, properties: { a: 1 } });
  assert.deepEqual(e.properties, { a: 1, b: { c: 2 } }, 'the input event is not modified');
});

test('route logic: all vs first, stop', () => {
  const ctx = recordingContext('route');
  const routes = [{ when: { event: 'purchase' }, output: 'a' }, { when: { type: 'track' }, output: 'b' }];
  const first = new RouteLogic(routeOperator.resolve({ routes, mode: 'first', stop: true }), ctx);
  assert.equal(first.process(ev('m1', 1, { event: 'purchase' })), null);
  assert.deepEqual(ctx.emitted.map((x) => x.stream), ['a']);
  assert.deepEqual(ctx.drops, ['routed']);
  const all = new RouteLogic(routeOperator.resolve({ routes }), ctx);
  assert.equal(all.process(ev('m2', 1, { event: 'purchase' }))?.messageId, 'm2');
  assert.deepEqual(ctx.emitted.map((x) => x.stream), ['a', 'a', 'b']);
});

test('helpers as RxJS operators', async () => {
  const dead: DerivedRecord[] = [];
  const purchases: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([ev('m1', 1, { event: 'purchase', traits: { email: 'x' }, context: { channel: 'web' } }), ev('m2', 2, { context: { channel: 'store' } }), ev('m3', 3)]).pipe(
      validateEvents({ jsonSchema: { type: 'object', required: ['context'] }, outputs: { 'dead-letter': (d) => dead.push(d) } }),
      filterEvents({ where: { 'context.channel': 'web' } }),
      mapEvents({ set: { 'context.source': 'rx' } }),
      maskEvents({ hash: ['traits.email'], salt: 'none' }),
      routeEvents({ routes: [{ when: { event: 'purchase' }, output: 'purchases' }], outputs: { purchases: (p) => purchases.push(p) } }),
      toArray(),
    ),
  );
  assert.deepEqual(out.map((e) => [e.messageId, (e.context as { source: string }).source, (e.traits as { email: string }).email]), [['m1', 'rx', maskValue('x', '')]]);
  assert.deepEqual(purchases.map((p) => p.messageId), ['m1']);
  assert.deepEqual(dead.map((d) => [d.reason, JSON.parse(String(d.raw)).messageId]), [['invalid-schema', 'm3']]);
});

test('mask: salted hashes differ from unsalted', () => {
  assert.notEqual(maskValue('a@example.com', 's1'), maskValue('a@example.com', ''));
  assert.match(maskValue('a@example.com', 's1'), /^sha256:[0-9a-f]{64}$/);
  assert.equal(maskValue(42, ''), maskValue('42', ''), 'non-strings hash their JSON text');
});

/** Runs `f` with the environment variables set (undefined: unset), then puts them back. */
function withEnv(vars: Record<string, string | undefined>, f: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const put = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  put(vars);
  try {
    f();
  } finally {
    put(saved);
  }
}

const maskYaml = (options: string) => `name: m\nsource: {}\nsteps:\n  - mask: ${options}\n`;
const hashedEmail = (options: string): unknown => {
  const d = TestDriver.fromYaml(maskYaml(options), { registry: defaultRegistry });
  d.pipe([ev('m1', 1, { traits: { email: 'a@example.com' } })]);
  return (d.read('events')[0]?.traits as { email: unknown }).email;
};

test('mask: hashing without a salt is a definition error at the step (file:line:column) unless the definition says salt: none', () => {
  withEnv({ TRIBUTARY_MASK_SALT: undefined, TEST_MASK_SALT: undefined }, () => {
    assert.throws(
      () => TestDriver.fromYaml(maskYaml('{ hash: [traits.email] }'), { registry: defaultRegistry }),
      /<test>:4:11 steps\[0\]\.mask: hash needs a salt, and the environment variable TRIBUTARY_MASK_SALT \(the default\) is not set: set it \(or name another with salt: \{ env: NAME \}\), or write salt: none to hash unsalted on purpose/,
    );
    assert.throws(
      () => TestDriver.fromYaml(maskYaml('{ hash: [traits.email], salt: { env: TEST_MASK_SALT } }'), { registry: defaultRegistry }),
      /<test>:4:11 steps\[0\]\.mask: hash needs a salt, and the environment variable TEST_MASK_SALT is not set/,
    );
    assert.throws(() => TestDriver.fromYaml(maskYaml('{ hash: [traits.email], saltEnv: TEST_MASK_SALT }'), { registry: defaultRegistry }), /TEST_MASK_SALT is not set/);
    assert.throws(() => TestDriver.fromYaml(maskYaml('{ hash: [a], salt: none, saltEnv: X }'), { registry: defaultRegistry }), /steps\[0\]\.mask: give salt or saltEnv, not both/);
    assert.throws(() => TestDriver.fromYaml(maskYaml('{ hash: [a], salt: secret }'), { registry: defaultRegistry }), /<test>:4:11 steps\[0\]\.mask: salt: "secret" must be none or \{ env: NAME \}/);
    assert.throws(() => TestDriver.fromYaml(maskYaml('{ hash: [a], salt: { name: X } }'), { registry: defaultRegistry }), /<test>:4:32 steps\[0\]\.mask\.salt\.name: unknown key; allowed: env/);
    assert.throws(() => maskEvents({ hash: ['traits.email'] }), /hash needs a salt/, 'the RxJS operator refuses it too');
    assert.equal(hashedEmail('{ hash: [traits.email], salt: none }'), maskValue('a@example.com', ''), 'salt: none: unsalted on purpose');
    const d = TestDriver.fromYaml(maskYaml('{ drop: [traits.email] }'), { registry: defaultRegistry });
    d.pipe([ev('m1', 1, { traits: { email: 'a@example.com' } })]);
    assert.deepEqual(d.read('events')[0]?.traits, {}, 'a step that only drops needs no salt');
  });
  withEnv({ TRIBUTARY_MASK_SALT: '', TEST_MASK_SALT: undefined }, () => {
    assert.throws(() => TestDriver.fromYaml(maskYaml('{ hash: [traits.email] }'), { registry: defaultRegistry }), /TRIBUTARY_MASK_SALT \(the default\) is empty/);
  });
});

test('mask: the salt comes from the environment variable the definition names (or TRIBUTARY_MASK_SALT), never from the file', () => {
  withEnv({ TRIBUTARY_MASK_SALT: 'default-salt', TEST_MASK_SALT: 'named-salt' }, () => {
    assert.equal(hashedEmail('{ hash: [traits.email] }'), maskValue('a@example.com', 'default-salt'));
    assert.equal(hashedEmail('{ hash: [traits.email], salt: { env: TEST_MASK_SALT } }'), maskValue('a@example.com', 'named-salt'));
    assert.equal(hashedEmail('{ hash: [traits.email], saltEnv: TEST_MASK_SALT }'), maskValue('a@example.com', 'named-salt'));
    assert.equal(hashedEmail('{ hash: [traits.email], salt: none }'), maskValue('a@example.com', ''), 'none wins over a set variable');
  });
});
